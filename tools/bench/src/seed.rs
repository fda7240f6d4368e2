//! A large population for the query figures: active clients spread over the levels and the
//! providers, each registered, consented and admitted through the engine's own commands (so
//! its state, event log, timers and occupancy are exactly what the product writes).

use carepath_engine::domain::{Actor, Command, ConsentExpiry, Role};
use carepath_engine::ids::OrgId;
use carepath_engine::pathway::LevelId;
use carepath_engine::{Engine, Request};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const LEVELS: [(&str, f32); 5] = [
    ("detox", 40.0),
    ("residential", 30.0),
    ("php", 25.0),
    ("iop", 12.0),
    ("outpatient", 2.0),
];
const PROVIDERS_PER_LEVEL: usize = 20;
/// Commands in flight at once.
const WORKERS: usize = 32;

pub async fn population(engine: &Engine, clients: usize) -> anyhow::Result<()> {
    let admin = Actor::new(OrgId(uuid::Uuid::nil()), Role::Admin);
    let home = OrgId::new();
    engine
        .register_org(&admin, home, "Seeded case management")
        .await?;
    let mut providers = Vec::new();
    for (level, hours) in LEVELS {
        for i in 0..PROVIDERS_PER_LEVEL {
            let id = OrgId::new();
            engine
                .register_provider(
                    &admin,
                    id,
                    &format!("Seeded {level} {i}"),
                    &[(LevelId::new(level), 100_000)],
                    &[],
                )
                .await?;
            providers.push((id, level, hours));
        }
    }
    let providers = Arc::new(providers);
    let actor = Actor::new(home, Role::CaseManager);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (engine, providers, next) = (engine.clone(), providers.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= clients {
                    return Ok::<_, anyhow::Error>(());
                }
                let (provider, level, hours) = providers[i % providers.len()];
                let run = |client, command| {
                    engine.execute(Request {
                        client,
                        actor,
                        expected_version: None,
                        idempotency_key: None,
                        command,
                    })
                };
                let id = run(
                    None,
                    Command::RegisterClient {
                        home_org: home,
                        birth_year: None,
                        identity: None,
                    },
                )
                .await?
                .client;
                // Admission at another organization needs a consent naming it.
                run(
                    Some(id),
                    Command::RecordConsent {
                        recipients: vec![provider],
                        purpose: "treatment".into(),
                        information: "level of care".into(),
                        expiry: ConsentExpiry::EndOfTreatment,
                        signed_on: chrono::Utc::now().date_naive(),
                    },
                )
                .await?;
                run(
                    Some(id),
                    Command::Admit {
                        level: LevelId::new(level),
                        provider,
                        planned_hours_per_week: hours,
                        track: None,
                        overrides: vec![],
                        emergency: None,
                    },
                )
                .await?;
                if i % 100_000 == 0 && i > 0 {
                    eprintln!("  {i} clients seeded");
                }
            }
        }));
    }
    for w in workers {
        w.await??;
    }
    Ok(())
}
