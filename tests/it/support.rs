//! Test support: a fresh database per test (SQLite file or PostgreSQL database), a world of
//! organizations and actors, and helpers that speak the engine's commands.

use carepath_engine::clock::{Clock, ManualClock};
use carepath_engine::domain::*;
use carepath_engine::ids::*;
use carepath_engine::pathway::{self, DischargeKind, LevelId, TransitionKind};
use carepath_engine::{Engine, Error, Outcome, Request};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use sea_orm::{ConnectionTrait, Database};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body once per backend, each in its own test.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::support::Backend::Postgres).await
                }
            }
        )*
    };
}

pub fn postgres_admin_url() -> String {
    std::env::var("CAREPATH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of the test's own, removed when the test ends.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("carepath.db").display()
                );
                TestDb {
                    url,
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is not reachable at {admin_url}: {e}\n\
                         Start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
                         (scripts/test does), or point CAREPATH_TEST_POSTGRES_URL at one."
                    )
                });
                let name = format!("carepath_test_{}", uuid::Uuid::new_v4().simple());
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create test database");
                let _ = admin.close().await;
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(b, _)| b);
                TestDb {
                    url: format!("{base}/{name}"),
                    pg_name: Some(name),
                    _dir: None,
                }
            }
        }
    }

    /// The engine on this database, migrated, on `clock`.
    pub async fn engine(&self, clock: Arc<dyn Clock>) -> Engine {
        Engine::open(&self.url, 10, Arc::new(pathway::default_pathway()), clock)
            .await
            .expect("open the test database")
    }

    /// A plain connection of the test's own, for what a test checks underneath the engine
    /// (row counts, the schema) — never for what the product does.
    pub async fn sql(&self) -> sea_orm::DatabaseConnection {
        sea_orm::Database::connect(&self.url)
            .await
            .expect("connect test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop the database from a thread of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("rt");
            rt.block_on(async move {
                if let Ok(admin) = Database::connect(postgres_admin_url()).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    let _ = admin.close().await;
                }
            })
        })
        .join();
    }
}

pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 14, 0, 0).unwrap()
}

pub fn lvl(s: &str) -> LevelId {
    LevelId::new(s)
}

/// Organizations, actors and a clock around one engine.
pub struct World {
    pub engine: Engine,
    pub clock: ManualClock,
    /// The test's own connection underneath the engine (row counts only).
    pub sql: sea_orm::DatabaseConnection,
    /// Kept so the database lives as long as the world.
    pub _db: TestDb,
    pub home: OrgId,
    pub detox: OrgId,
    pub residential: OrgId,
    pub residential2: OrgId,
    pub php: OrgId,
    pub iop: OrgId,
    pub iop2: OrgId,
    pub outpatient: OrgId,
    /// MAT service `pharmacy` (refills).
    pub pharmacy: OrgId,
    /// An opioid treatment program (MAT service `otp`: methadone dosing).
    pub otp: OrgId,
    /// MAT services `prescriber` and `injection` (prescriber visits, refills, injections).
    pub prescriber: OrgId,
    pub coordination: OrgId,
    pub admin: Actor,
    pub cm: Actor,
    pub supervisor: Actor,
}

impl World {
    pub async fn new(backend: Backend) -> Self {
        let db = TestDb::new(backend).await;
        let clock = ManualClock::new(start_time());
        let engine = db.engine(Arc::new(clock.clone())).await;
        let sql = db.sql().await;
        let home = OrgId::new();
        let admin = Actor::new(home, Role::Admin);
        let mut orgs = Vec::new();
        for (name, level, capacity) in [
            ("detox", Some("detox"), 10),
            ("residential", Some("residential"), 10),
            ("residential2", Some("residential"), 10),
            ("php", Some("php"), 10),
            ("iop", Some("iop"), 10),
            ("iop2", Some("iop"), 10),
            ("outpatient", Some("outpatient"), 10),
            ("pharmacy", None, 0),
            ("coordination", None, 0),
        ] {
            let id = OrgId::new();
            engine.register_org(&admin, id, name).await.expect("org");
            if let Some(level) = level {
                engine
                    .set_capacity(&admin, id, &lvl(level), capacity)
                    .await
                    .expect("capacity");
            }
            orgs.push(id);
        }
        engine
            .set_mat_services(&admin, orgs[7], &[MatService::Pharmacy])
            .await
            .expect("pharmacy");
        let mat_org = async |name: &str, services: &[MatService]| {
            let id = OrgId::new();
            engine
                .register_provider(&admin, id, name, &[], services)
                .await
                .expect("MAT provider");
            id
        };
        let otp = mat_org("otp", &[MatService::Otp]).await;
        let prescriber = mat_org(
            "prescriber",
            &[MatService::Prescriber, MatService::Injection],
        )
        .await;
        engine
            .register_org(&admin, home, "home")
            .await
            .expect("home org");
        World {
            engine,
            clock,
            sql,
            _db: db,
            home,
            detox: orgs[0],
            residential: orgs[1],
            residential2: orgs[2],
            php: orgs[3],
            iop: orgs[4],
            iop2: orgs[5],
            outpatient: orgs[6],
            pharmacy: orgs[7],
            otp,
            prescriber,
            coordination: orgs[8],
            admin,
            cm: Actor::new(home, Role::CaseManager),
            supervisor: Actor::new(home, Role::Supervisor),
        }
    }

    pub fn partner(&self, org: OrgId) -> Actor {
        Actor::new(org, Role::Partner)
    }

    pub fn coordinator(&self) -> Actor {
        Actor::new(self.coordination, Role::AftercareCoordinator)
    }

    pub fn now(&self) -> DateTime<Utc> {
        use carepath_engine::clock::Clock;
        self.clock.now()
    }

    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    pub fn provider_for(&self, level: &str) -> OrgId {
        match level {
            "detox" => self.detox,
            "residential" => self.residential,
            "php" => self.php,
            "iop" => self.iop,
            "outpatient" => self.outpatient,
            other => panic!("no provider for {other}"),
        }
    }

    pub async fn run(
        &self,
        actor: Actor,
        client: Option<ClientId>,
        command: Command,
    ) -> Result<Outcome, Error> {
        self.engine
            .execute(Request {
                client,
                actor,
                expected_version: None,
                idempotency_key: None,
                command,
            })
            .await
    }

    /// A case manager's command that must succeed.
    pub async fn cm(&self, client: ClientId, command: Command) -> Outcome {
        let name = command.name();
        self.run(self.cm, Some(client), command)
            .await
            .unwrap_or_else(|e| panic!("{name} failed: {e}"))
    }

    /// The client as the case manager holding its record sees it (every part).
    pub async fn state(&self, client: ClientId) -> VisibleClient {
        self.engine
            .read_client(&self.cm, client)
            .await
            .expect("client")
    }

    pub async fn register(&self) -> ClientId {
        self.run(
            self.cm,
            None,
            Command::RegisterClient {
                home_org: self.home,
                birth_year: Some(1990),
                identity: None,
            },
        )
        .await
        .expect("register")
        .client
    }

    /// Consent naming every partner organization.
    pub async fn consent_all(&self, client: ClientId) -> ConsentId {
        self.consent_to(
            client,
            vec![
                self.detox,
                self.residential,
                self.residential2,
                self.php,
                self.iop,
                self.iop2,
                self.outpatient,
                self.pharmacy,
                self.coordination,
            ],
        )
        .await
    }

    /// A consent naming only `recipients`.
    pub async fn consent_to(&self, client: ClientId, recipients: Vec<OrgId>) -> ConsentId {
        let out = self
            .cm(
                client,
                Command::RecordConsent {
                    recipients,
                    purpose: "treatment".into(),
                    information: "level of care and referrals".into(),
                    expiry: ConsentExpiry::On(self.today() + Duration::days(365)),
                    signed_on: self.today(),
                },
            )
            .await;
        ConsentId(out.events[0].id.0)
    }

    pub async fn admit(&self, client: ClientId, level: &str, hours: f32) {
        self.cm(
            client,
            Command::Admit {
                level: lvl(level),
                provider: self.provider_for(level),
                planned_hours_per_week: hours,
                track: None,
                overrides: vec![],
                emergency: None,
            },
        )
        .await;
    }

    /// Registered, consented, admitted.
    pub async fn client_at(&self, level: &str, hours: f32) -> ClientId {
        let c = self.register().await;
        self.consent_all(c).await;
        self.admit(c, level, hours).await;
        c
    }

    pub async fn refer(
        &self,
        client: ClientId,
        level: &str,
        providers: &[OrgId],
    ) -> Vec<ReferralId> {
        let out = self
            .cm(
                client,
                Command::SendReferral {
                    to_level: lvl(level),
                    providers: providers.to_vec(),
                },
            )
            .await;
        out.events
            .iter()
            .filter(|e| e.event_type == "referral.sent")
            .map(|e| ReferralId(e.id.0))
            .collect()
    }

    pub async fn accept(
        &self,
        client: ClientId,
        provider: OrgId,
        referral: ReferralId,
    ) -> Result<Outcome, Error> {
        self.run(
            self.partner(provider),
            Some(client),
            Command::AcceptReferral { referral },
        )
        .await
    }

    /// Refer to the level's provider and have it accept.
    pub async fn refer_accepted(&self, client: ClientId, level: &str) -> ReferralId {
        let p = self.provider_for(level);
        let r = self.refer(client, level, &[p]).await[0];
        self.accept(client, p, r).await.expect("accept");
        r
    }

    pub fn transition(&self, kind: TransitionKind, level: &str, hours: f32) -> Command {
        Command::Transition {
            kind,
            to_level: lvl(level),
            provider: None,
            planned_hours_per_week: hours,
            track: None,
            overrides: vec![],
            emergency: None,
        }
    }

    /// The provider the client is on the way to confirms the arrival.
    pub async fn arrive(&self, client: ClientId) -> Outcome {
        let to = self
            .state(client)
            .await
            .transit
            .expect("the client is in transit")
            .provider;
        self.run(
            self.partner(to),
            Some(client),
            Command::ConfirmArrival { relayed_by: None },
        )
        .await
        .expect("arrival confirmed")
    }

    /// A move started by the case manager, and the arrival confirmed by the receiving
    /// provider (a move within one organization completes at once).
    pub async fn move_to(&self, client: ClientId, command: Command) -> Outcome {
        let started = self.cm(client, command).await;
        if self.state(client).await.transit.is_some() {
            self.arrive(client).await;
        }
        started
    }

    pub fn planned_discharge(&self) -> Command {
        Command::Discharge {
            kind: DischargeKind::Planned,
            provider: None,
            overrides: vec![],
        }
    }

    pub async fn book_aftercare(&self, client: ClientId, days: i64) -> Outcome {
        self.run(
            self.coordinator(),
            Some(client),
            Command::ScheduleAftercare {
                provider: self.outpatient,
                kind: AftercareKind::Outpatient,
                at: self.now() + Duration::days(days),
            },
        )
        .await
        .expect("book aftercare")
    }

    pub async fn events(&self, client: ClientId) -> Vec<CareEvent> {
        self.engine
            .read_events(&self.admin, client, 0, 10_000)
            .await
            .expect("events")
    }

    pub async fn event_types(&self, client: ClientId) -> Vec<String> {
        self.events(client)
            .await
            .iter()
            .map(|e| e.event_type().to_owned())
            .collect()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.count_with(sql, []).await
    }

    /// A `COUNT(*)` query with `$1`, `$2`… bound to ids (stored as UUID on PostgreSQL and
    /// as a blob on SQLite, so never compare them as text).
    pub async fn count_with<const N: usize>(&self, sql: &str, ids: [uuid::Uuid; N]) -> i64 {
        let db = &self.sql;
        let backend = db.get_database_backend();
        let mut sql = sql.to_owned();
        if backend == sea_orm::DbBackend::Sqlite {
            for i in (1..=N).rev() {
                sql = sql.replace(&format!("${i}"), "?");
            }
        }
        let values: Vec<sea_orm::Value> = ids.into_iter().map(Into::into).collect();
        let row = db
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                backend, sql, values,
            ))
            .await
            .expect("query")
            .expect("row");
        row.try_get_by_index::<i64>(0).expect("count")
    }
}

/// The unmet gates of a GateUnmet error.
pub fn unmet(e: &Error) -> Vec<carepath_engine::pathway::Gate> {
    match e {
        Error::Rejected(DecisionError::GateUnmet { unmet }) => {
            unmet.iter().map(|g| g.gate).collect()
        }
        other => panic!("expected GateUnmet, got {other:?}"),
    }
}
