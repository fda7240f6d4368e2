//! `carepath seed-demo`: a small demo network so a newcomer sees data at once. Every change
//! goes through the engine's commands, exactly as the API would make it.

use anyhow::Context as _;
use carepath_engine::domain::*;
use carepath_engine::ids::{ClientId, OrgId};
use carepath_engine::pathway::{DischargeKind, LevelId, TransitionKind};
use carepath_engine::{Engine, Outcome, Request};
use chrono::Duration;
use std::fmt::Write as _;
use uuid::Uuid;

const NAMESPACE: Uuid = Uuid::from_u128(0x6361_7265_7061_7468_2d64_656d_6f2d_6f72);

/// Fixed ids, so seeding twice does not double the network.
fn org_id(name: &str) -> OrgId {
    OrgId(Uuid::new_v5(&NAMESPACE, name.as_bytes()))
}

pub const HOME: &str = "Harbor Case Management";
/// The demo network's time zone (a Massachusetts network).
const DEMO_TIME_ZONE: &str = "America/New_York";
const PROVIDERS: [(&str, &str, i32); 7] = [
    ("Bayview Withdrawal Management", "detox", 20),
    ("Harborlight Residential", "residential", 30),
    ("Cedar House Residential", "residential", 16),
    ("Riverside Partial Hospital", "php", 25),
    ("Northside IOP", "iop", 40),
    ("Eastside Evening IOP", "iop", 24),
    ("Community Outpatient Clinic", "outpatient", 200),
];
/// Fills buprenorphine refills (MAT service `pharmacy`).
const PHARMACY: &str = "Main Street Pharmacy";

struct Seeder<'a> {
    engine: &'a Engine,
    admin: Actor,
    /// Demo clients registered so far (each gets the next of `DEMO_NAMES`).
    registered: std::sync::atomic::AtomicUsize,
}

/// Made-up names for the demo clients, as a case manager's list shows them.
const DEMO_NAMES: [&str; 10] = [
    "Alex Rivera",
    "Jordan Lee",
    "Sam Okafor",
    "Taylor Nguyen",
    "Morgan Diaz",
    "Casey Brooks",
    "Riley Chen",
    "Jamie Walsh",
    "Avery Patel",
    "Quinn Harper",
];

impl Seeder<'_> {
    /// The next demo client's name and record number.
    fn next_identity(&self) -> carepath_engine::domain::ClientIdentity {
        let n = self
            .registered
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        carepath_engine::domain::ClientIdentity {
            display_name: DEMO_NAMES[n % DEMO_NAMES.len()].to_owned(),
            record_number: Some(format!("HCM-{}", 1001 + n)),
        }
    }
}

impl Seeder<'_> {
    async fn run(&self, client: Option<ClientId>, command: Command) -> anyhow::Result<Outcome> {
        self.run_as(self.admin, client, command).await
    }

    /// As another actor: what only the side that saw it reports (an arrival).
    async fn run_as(
        &self,
        actor: Actor,
        client: Option<ClientId>,
        command: Command,
    ) -> anyhow::Result<Outcome> {
        let name = command.name();
        self.engine
            .execute(Request {
                client,
                actor,
                expected_version: None,
                idempotency_key: None,
                command,
            })
            .await
            .with_context(|| format!("seeding: {name}"))
    }

    async fn client_at(
        &self,
        level: &str,
        hours: f32,
        bup_days: Option<i64>,
    ) -> anyhow::Result<ClientId> {
        let home = org_id(HOME);
        let c = self
            .run(
                None,
                Command::RegisterClient {
                    home_org: home,
                    birth_year: Some(1988),
                    identity: Some(self.next_identity()),
                },
            )
            .await?
            .client;
        let providers: Vec<OrgId> = PROVIDERS
            .iter()
            .map(|p| org_id(p.0))
            .chain([org_id(PHARMACY)])
            .collect();
        self.run(
            Some(c),
            Command::RecordConsent {
                recipients: providers,
                purpose: "treatment and care coordination".into(),
                information: "level of care, referrals, MAT plan, appointments".into(),
                expiry: ConsentExpiry::EndOfTreatment,
                signed_on: self.engine.clock().now().date_naive(),
            },
        )
        .await?;
        let provider = PROVIDERS
            .iter()
            .find(|p| p.1 == level)
            .map(|p| org_id(p.0))
            .expect("level");
        self.run(
            Some(c),
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
        if let Some(days) = bup_days {
            self.run(
                Some(c),
                Command::RecordMatPlan {
                    medication: Medication::Buprenorphine,
                    supply_through: Some(
                        self.engine.clock().now().date_naive() + Duration::days(days),
                    ),
                    last_injection_on: None,
                },
            )
            .await?;
        }
        Ok(c)
    }

    async fn refer(&self, c: ClientId, level: &str, providers: &[&str]) -> anyhow::Result<Outcome> {
        self.run(
            Some(c),
            Command::SendReferral {
                to_level: LevelId::new(level),
                providers: providers.iter().map(|p| org_id(p)).collect(),
            },
        )
        .await
    }
}

/// The demo's clients, all registered by its case-management organization.
const CLIENTS: usize = 9;

/// Seeds the demo network once: on a database that has it already, changes nothing and says
/// so; on one where a run stopped half-way, refuses (a record number is one client's).
pub async fn demo(engine: &Engine) -> anyhow::Result<()> {
    let admin = Actor::new(org_id(HOME), Role::Admin);
    if !engine.org_names(&[org_id(HOME)]).await?.is_empty() {
        let reader = Actor::new(org_id(HOME), Role::CaseManager);
        let held = engine
            .list_clients(&reader, None, None, None, None, CLIENTS as u64 + 1)
            .await?
            .len();
        if held == CLIENTS {
            let mut text = String::new();
            writeln!(
                text,
                "the demo network is already seeded; nothing changed (\"{HOME}\": {})",
                org_id(HOME)
            )?;
            census(engine, &admin, &mut text).await?;
            crate::cli::say(text.trim_end())?;
            return Ok(());
        }
        anyhow::ensure!(
            held == 0,
            "\"{HOME}\" ({}) holds {held} clients, not the demo's {CLIENTS}: seed a new database",
            org_id(HOME)
        );
    }
    engine.register_org(&admin, org_id(HOME), HOME).await?;
    engine
        .register_provider(
            &admin,
            org_id(PHARMACY),
            PHARMACY,
            &[],
            &[MatService::Pharmacy],
        )
        .await?;
    for (name, level, capacity) in PROVIDERS {
        engine.register_org(&admin, org_id(name), name).await?;
        engine
            .set_capacity(&admin, org_id(name), &LevelId::new(level), capacity)
            .await?;
    }
    // A Massachusetts network: its people see and type times in Boston's.
    for org in std::iter::once(HOME)
        .chain(std::iter::once(PHARMACY))
        .chain(PROVIDERS.iter().map(|(name, _, _)| *name))
    {
        engine
            .set_org_time_zone(&admin, org_id(org), DEMO_TIME_ZONE)
            .await?;
    }
    let s = Seeder {
        engine,
        admin,
        registered: Default::default(),
    };
    // The engine's clock: a time-skipping database's is not the wall clock.
    let today = engine.clock().now().date_naive();

    // In detox, on buprenorphine, referred to two residential programs at once.
    let a = s.client_at("detox", 40.0, Some(3)).await?;
    s.refer(a, "residential", &[PROVIDERS[1].0, PROVIDERS[2].0])
        .await?;

    // In residential; PHP accepted the referral: a handoff is planned, waiting on a refill.
    let b = s.client_at("residential", 30.0, Some(2)).await?;
    let sent = s.refer(b, "php", &[PROVIDERS[3].0]).await?;
    s.run(
        Some(b),
        Command::AcceptReferral {
            referral: carepath_engine::ids::ReferralId(sent.events[0].id.0),
        },
    )
    .await?;

    // In PHP and IOP.
    let c = s.client_at("php", 25.0, None).await?;
    let d = s.client_at("iop", 12.0, None).await?;
    s.run(
        Some(d),
        Command::ScheduleAftercare {
            provider: org_id(PROVIDERS[6].0),
            kind: AftercareKind::Outpatient,
            at: (today + Duration::days(10))
                .and_hms_opt(15, 0, 0)
                .expect("time")
                .and_utc(),
        },
    )
    .await?;

    // Stepped down from IOP to outpatient through the whole gate set.
    let e = s.client_at("iop", 10.0, None).await?;
    let sent = s.refer(e, "outpatient", &[PROVIDERS[6].0]).await?;
    s.run(
        Some(e),
        Command::AcceptReferral {
            referral: carepath_engine::ids::ReferralId(sent.events[0].id.0),
        },
    )
    .await?;
    s.run(
        Some(e),
        Command::ScheduleAftercare {
            provider: org_id(PROVIDERS[6].0),
            kind: AftercareKind::Counseling,
            at: (today + Duration::days(3))
                .and_hms_opt(10, 0, 0)
                .expect("time")
                .and_utc(),
        },
    )
    .await?;
    s.run(
        Some(e),
        Command::Transition {
            kind: TransitionKind::StepDown,
            to_level: LevelId::new("outpatient"),
            provider: None,
            planned_hours_per_week: 2.0,
            track: None,
            overrides: vec![],
            emergency: None,
        },
    )
    .await?;
    // The outpatient clinic confirms the arrival: the handoff is complete.
    let clinic = Actor::new(org_id(PROVIDERS[6].0), Role::Partner);
    s.run_as(
        clinic,
        Some(e),
        Command::ConfirmArrival { relayed_by: None },
    )
    .await?;

    // Discharged as planned, with a follow-up appointment; and one who left against advice.
    let f = s.client_at("outpatient", 2.0, None).await?;
    s.run(
        Some(f),
        Command::ScheduleAftercare {
            provider: org_id(PROVIDERS[6].0),
            kind: AftercareKind::PeerRecovery,
            at: (today + Duration::days(5))
                .and_hms_opt(17, 0, 0)
                .expect("time")
                .and_utc(),
        },
    )
    .await?;
    s.run(
        Some(f),
        Command::Discharge {
            kind: DischargeKind::Planned,
            provider: None,
            overrides: vec![],
        },
    )
    .await?;
    let g = s.client_at("residential", 30.0, None).await?;
    s.run(
        Some(g),
        Command::Discharge {
            kind: DischargeKind::AgainstMedicalAdvice,
            provider: None,
            overrides: vec![],
        },
    )
    .await?;

    // Left detox for residential care: on the way, the program holds the bed until tomorrow.
    let i = s.client_at("detox", 40.0, None).await?;
    let sent = s.refer(i, "residential", &[PROVIDERS[2].0]).await?;
    s.run(
        Some(i),
        Command::AcceptReferral {
            referral: carepath_engine::ids::ReferralId(sent.events[0].id.0),
        },
    )
    .await?;
    s.run(
        Some(i),
        Command::Transition {
            kind: TransitionKind::StepDown,
            to_level: LevelId::new("residential"),
            provider: None,
            planned_hours_per_week: 30.0,
            track: None,
            overrides: vec![],
            emergency: None,
        },
    )
    .await?;

    // Registered, waiting for a detox bed.
    let h = s
        .run(
            None,
            Command::RegisterClient {
                home_org: org_id(HOME),
                birth_year: Some(1995),
                identity: Some(s.next_identity()),
            },
        )
        .await?
        .client;

    let mut text = String::from("demo network seeded:\n");
    census(engine, &s.admin, &mut text).await?;
    writeln!(text, "home organization \"{HOME}\": {}", org_id(HOME))?;
    writeln!(text, "clients:")?;
    for (id, what) in [
        (a, "detox, referred to two residential programs"),
        (b, "residential, PHP accepted, handoff planned"),
        (c, "PHP"),
        (d, "IOP, outpatient appointment booked"),
        (e, "outpatient, stepped down from IOP"),
        (f, "discharged as planned"),
        (g, "left residential against medical advice"),
        (h, "registered, waiting for a detox bed"),
        (
            i,
            "left detox, on the way to residential care (arrival not yet confirmed)",
        ),
    ] {
        writeln!(text, "  {id}  {what}")?;
    }
    crate::cli::say(text.trim_end())?;
    Ok(())
}

/// Each provider's census line, with its id, and the pharmacy's.
async fn census(engine: &Engine, admin: &Actor, text: &mut String) -> anyhow::Result<()> {
    for row in engine.census(admin).await? {
        writeln!(
            text,
            "  {:<32} {} {:<12} {:>3}/{:<3} occupied, {} held ({} in transit), {} pending referrals",
            row.provider_name,
            row.provider,
            row.level.as_str(),
            row.occupied,
            row.capacity,
            row.held,
            row.in_transit,
            row.pending_referrals
        )?;
    }
    writeln!(
        text,
        "  {:<32} {} pharmacy (MAT refills)",
        PHARMACY,
        org_id(PHARMACY)
    )?;
    Ok(())
}
