//! A large population for the query figures: active clients spread over the levels and the
//! providers, written in bulk. Each client's state, and its pending timers (the continued-stay
//! review every admission arms), are what the engine itself decides for a registration and
//! an admission; its event log is not written (it would only slow the seed).

use anyhow::Context as _;
use carepath_engine::domain::{
    self, Actor, Command, Context, Envelope, OrgDirectory, Role, TimerOp,
};
use carepath_engine::ids::{ClientId, OrgId, TimerId};
use carepath_engine::pathway::{self, LevelId};
use carepath_engine::store::Store;
use sea_orm::{ConnectionTrait, Statement, Value};
use std::collections::BTreeMap;

const LEVELS: [(&str, f32); 5] = [
    ("detox", 40.0),
    ("residential", 30.0),
    ("php", 25.0),
    ("iop", 12.0),
    ("outpatient", 2.0),
];
const PROVIDERS_PER_LEVEL: usize = 20;

pub async fn population(store: &Store, clients: usize) -> anyhow::Result<()> {
    let db = store.db();
    let backend = db.get_database_backend();
    let now = chrono::Utc::now();
    let pathway = pathway::default_pathway();
    let home = OrgId::new();
    store
        .upsert_org(home, "Seeded case management", now)
        .await?;
    let mut orgs = OrgDirectory::default();
    orgs.add(home, vec![]);
    let mut providers = Vec::new();
    for (level, _) in LEVELS {
        for i in 0..PROVIDERS_PER_LEVEL {
            let id = OrgId::new();
            store
                .upsert_org(id, &format!("Seeded {level} {i}"), now)
                .await?;
            store
                .set_capacity(id, &LevelId::new(level), 1_000_000)
                .await?;
            orgs.add(id, vec![LevelId::new(level)]);
            providers.push((id, level));
        }
    }
    let ctx = Context {
        pathway: &pathway,
        now,
        orgs: &orgs,
    };
    let actor = Actor {
        org: home,
        role: Role::CaseManager,
    };
    let mut occupied: BTreeMap<(OrgId, &str), i64> = BTreeMap::new();
    let p = |i: usize| {
        if backend == sea_orm::DbBackend::Postgres {
            format!("${i}")
        } else {
            "?".into()
        }
    };
    // One row of `n` placeholders, numbered on from what `values` already holds.
    let row = |values: &[Value], n: usize| {
        let b = values.len();
        let marks: Vec<String> = (1..=n).map(|i| p(b + i)).collect();
        format!("({})", marks.join(","))
    };
    for chunk_start in (0..clients).step_by(500) {
        let n = (clients - chunk_start).min(500);
        let mut sql = String::from(
            "INSERT INTO clients (id, home_org, status, level, provider_id, version, last_seq, state, created_at, updated_at) VALUES ",
        );
        let mut values: Vec<Value> = Vec::with_capacity(n * 10);
        let mut timer_sql = String::from(
            "INSERT INTO timers (id, client_id, key, kind, due_at, status, payload) VALUES ",
        );
        let mut timer_values: Vec<Value> = Vec::with_capacity(n * 7);
        for k in 0..n {
            let i = chunk_start + k;
            let (provider, level) = providers[i % providers.len()];
            let hours = LEVELS.iter().find(|l| l.0 == level).map_or(10.0, |l| l.1);
            let id = ClientId::new();
            let env = |command| Envelope {
                client: id,
                actor,
                expected_version: None,
                command,
            };
            let s = domain::decide(
                None,
                &env(Command::RegisterClient {
                    home_org: home,
                    birth_year: None,
                }),
                &ctx,
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .state;
            // Admission at another organization needs a consent naming it.
            let s = domain::decide(
                Some(&s),
                &env(Command::RecordConsent {
                    recipients: vec![provider],
                    purpose: "treatment".into(),
                    information: "level of care".into(),
                    expiry: domain::ConsentExpiry::EndOfTreatment,
                    signed_on: now.date_naive(),
                }),
                &ctx,
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .state;
            let admitted = domain::decide(
                Some(&s),
                &env(Command::Admit {
                    level: LevelId::new(level),
                    provider,
                    planned_hours_per_week: hours,
                    track: None,
                    overrides: vec![],
                    emergency: None,
                }),
                &ctx,
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let s = admitted.state;
            *occupied.entry((provider, level)).or_insert(0) += 1;
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&row(&values, 10));
            values.extend([
                id.0.into(),
                home.0.into(),
                "active".into(),
                level.into(),
                provider.0.into(),
                s.version.into(),
                s.last_seq.into(),
                serde_json::to_value(&s)?.into(),
                now.into(),
                now.into(),
            ]);
            for op in &admitted.timers {
                if let TimerOp::Schedule { key, due_at, kind } = op {
                    if !timer_values.is_empty() {
                        timer_sql.push(',');
                    }
                    timer_sql.push_str(&row(&timer_values, 7));
                    timer_values.extend([
                        TimerId::for_key(id, key).0.into(),
                        id.0.into(),
                        key.clone().into(),
                        kind.name().into(),
                        (*due_at).into(),
                        "pending".into(),
                        serde_json::to_value(kind)?.into(),
                    ]);
                }
            }
        }
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await
            .context("inserting seeded clients")?;
        if !timer_values.is_empty() {
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                timer_sql,
                timer_values,
            ))
            .await
            .context("inserting seeded timers")?;
        }
        if chunk_start % 100_000 == 0 && chunk_start > 0 {
            eprintln!("  {chunk_start} clients seeded");
        }
    }
    for ((provider, level), n) in occupied {
        let sql = format!(
            "UPDATE provider_levels SET occupied = occupied + {n} WHERE org_id = {} AND level = {}",
            p(1),
            p(2)
        );
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [provider.0.into(), level.into()],
        ))
        .await?;
    }
    if backend == sea_orm::DbBackend::Postgres {
        db.execute_unprepared("ANALYZE").await?;
    }
    Ok(())
}
