//! What the families' unit tests share: the default ASAM pathway, a directory of providers,
//! the actors, a client registered, consented and admitted, and the two ways of deciding a
//! command in a test: accepted ([`Fixture::run`]) or refused ([`Fixture::refuse`], which also
//! checks that the refusal left nothing behind).

use super::draft::Draft;
use super::{Context, Decision, OrgDirectory, StaffDirectory, StaffMember, decide};
use crate::command::*;
use crate::error::DecisionError;
use crate::ids::*;
use crate::pathway::*;
use crate::state::*;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

/// The default pathway, `carepath_workflows::default_pathway()`, rebuilt as this crate's
/// `Pathway`: carepath-workflows depends on carepath-domain, so in this crate's own unit tests
/// the pathway it returns is of the other build of carepath-domain (the one without
/// `cfg(test)`): a distinct type with the same fields, copied here field by field.
pub(super) fn default_pathway() -> Pathway {
    let p = carepath_workflows::default_pathway();
    let level_ids = |ids: Vec<String>| ids.into_iter().map(LevelId).collect::<Vec<_>>();
    let gates = |names: Vec<&str>| {
        names
            .into_iter()
            .map(|g| Gate::parse(g).expect("gate"))
            .collect::<Vec<_>>()
    };
    Pathway::new(
        p.id.clone(),
        p.name.clone(),
        p.version,
        Settings {
            referral_answer_hours: p.settings.referral_answer_hours,
            hold_hours: p.settings.hold_hours,
            arrival_days: p.settings.arrival_days,
            transfer_arrival_days: p.settings.transfer_arrival_days,
            lost_to_care_days: p.settings.lost_to_care_days,
            aftercare_window_days: p.settings.aftercare_window_days,
            reassessment_max_age_days: p.settings.reassessment_max_age_days,
            xr_naltrexone_interval_days: p.settings.xr_naltrexone_interval_days,
            followup_days: p.settings.followup_days.clone(),
        },
        p.levels
            .iter()
            .map(|l| Level {
                id: LevelId::new(l.id.as_str()),
                name: l.name.clone(),
                asam3: l.asam3.clone(),
                asam4: l.asam4.clone(),
                weekly_hours: HoursBand {
                    min: l.weekly_hours.min,
                    max: l.weekly_hours.max,
                },
                review_interval_days: l.review_interval_days,
                aliases: l.aliases.clone(),
                referral_answer_hours: l.referral_answer_hours,
                hold_hours: l.hold_hours,
                arrival_days: l.arrival_days,
                followup_on_exit: l.followup_on_exit,
                medical_personnel: l.medical_personnel,
            })
            .collect(),
        level_ids(p.admission_levels.iter().map(|l| l.0.clone()).collect()),
        gates(p.admission_gates.iter().map(|g| g.as_str()).collect()),
        p.transitions
            .iter()
            .map(|t| TransitionRule {
                kind: TransitionKind::parse(t.kind.as_str()).expect("transition kind"),
                from: t.from.as_ref().map(|l| LevelId::new(l.as_str())),
                to: level_ids(t.to.iter().map(|l| l.0.clone()).collect()),
                gates: gates(t.gates.iter().map(|g| g.as_str()).collect()),
            })
            .collect(),
        p.discharges
            .iter()
            .map(|d| DischargeRule {
                kind: DischargeKind::parse(d.kind.as_str()).expect("discharge kind"),
                from: level_ids(d.from.iter().map(|l| l.0.clone()).collect()),
                gates: gates(d.gates.iter().map(|g| g.as_str()).collect()),
            })
            .collect(),
    )
}

fn org(n: u128) -> OrgId {
    OrgId(uuid::Uuid::from_u128(n))
}

pub(super) fn level(id: &str) -> LevelId {
    LevelId::new(id)
}

/// The pathway, the organizations and the moment every test decides at (unless it moves the
/// clock with [`Fixture::run_at`]).
pub(super) struct Fixture {
    pub(super) pathway: Pathway,
    pub(super) orgs: OrgDirectory,
    pub(super) now: DateTime<Utc>,
    pub(super) client: ClientId,
    /// The case-management program holding the record.
    pub(super) home: OrgId,
    pub(super) detox: OrgId,
    pub(super) residential: OrgId,
    pub(super) residential2: OrgId,
    pub(super) iop: OrgId,
    /// Fills prescriptions (MAT service `pharmacy`).
    pub(super) pharmacy: OrgId,
    /// An opioid treatment program (`otp`).
    pub(super) otp: OrgId,
    /// An office-based prescriber that also gives injections (`prescriber`, `injection`).
    pub(super) prescriber: OrgId,
    /// A detox and residential provider no consent names.
    pub(super) stranger: OrgId,
    /// Staff with live tokens: two case managers of `home`, one of `detox`.
    pub(super) staff: StaffDirectory,
}

impl Fixture {
    pub(super) fn new() -> Self {
        let f = Fixture {
            pathway: default_pathway(),
            orgs: OrgDirectory::default(),
            now: Utc.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).unwrap(),
            client: ClientId(uuid::Uuid::from_u128(7)),
            home: org(1),
            detox: org(10),
            residential: org(20),
            residential2: org(21),
            iop: org(40),
            pharmacy: org(30),
            otp: org(31),
            prescriber: org(32),
            stranger: org(99),
            staff: StaffDirectory::default(),
        };
        let mut orgs = OrgDirectory::default();
        orgs.add(f.home, vec![]);
        orgs.add_with_mat(f.pharmacy, vec![], &[MatService::Pharmacy]);
        orgs.add_with_mat(f.otp, vec![], &[MatService::Otp]);
        orgs.add_with_mat(
            f.prescriber,
            vec![],
            &[MatService::Prescriber, MatService::Injection],
        );
        orgs.add(f.detox, vec![level("detox")]);
        orgs.add(f.residential, vec![level("residential")]);
        orgs.add(f.residential2, vec![level("residential")]);
        orgs.add(f.iop, vec![level("iop")]);
        orgs.add(f.stranger, vec![level("detox"), level("residential")]);
        let mut staff = StaffDirectory::default();
        for (id, org) in [
            (f.dana(), f.home),
            (f.sam(), f.home),
            (f.outsider(), f.detox),
        ] {
            staff.0.insert(
                id,
                StaffMember {
                    org,
                    role: Role::CaseManager,
                },
            );
        }
        Fixture { orgs, staff, ..f }
    }

    pub(super) fn today(&self) -> NaiveDate {
        self.now.date_naive()
    }

    pub(super) fn days(&self, n: i64) -> NaiveDate {
        self.today() + Duration::days(n)
    }

    pub(super) fn ctx_at(&self, now: DateTime<Utc>) -> Context<'_> {
        Context {
            pathway: &self.pathway,
            now,
            orgs: &self.orgs,
            staff: &self.staff,
        }
    }

    // ---- actors -------------------------------------------------------------------------

    /// Dana, a case manager of the organization holding the record.
    pub(super) fn cm(&self) -> Actor {
        Actor::person(self.home, Role::CaseManager, self.dana())
    }

    pub(super) fn dana(&self) -> StaffId {
        StaffId(uuid::Uuid::from_u128(501))
    }

    /// Sam, another case manager of the record holder.
    pub(super) fn sam(&self) -> StaffId {
        StaffId(uuid::Uuid::from_u128(502))
    }

    /// A case manager of the detox provider.
    pub(super) fn outsider(&self) -> StaffId {
        StaffId(uuid::Uuid::from_u128(503))
    }

    pub(super) fn supervisor(&self) -> Actor {
        Actor::new(self.home, Role::Supervisor)
    }

    pub(super) fn partner(&self, org: OrgId) -> Actor {
        Actor::new(org, Role::Partner)
    }

    pub(super) fn system(&self) -> Actor {
        Actor::new(self.home, Role::System)
    }

    pub(super) fn env(&self, actor: Actor, command: Command) -> Envelope {
        Envelope {
            client: self.client,
            actor,
            expected_version: None,
            command,
        }
    }

    // ---- deciding -----------------------------------------------------------------------

    /// Decide an accepted command at `now`; panics with the refusal otherwise.
    pub(super) fn run_at(
        &self,
        now: DateTime<Utc>,
        state: &ClientState,
        actor: Actor,
        command: Command,
    ) -> Decision {
        let name = command.name();
        let d = decide(Some(state), &self.env(actor, command), &self.ctx_at(now))
            .unwrap_or_else(|e| panic!("{name} refused: {e}"));
        // The referral rows the decision hands the store are exactly the referrals it
        // created or changed.
        let changed: Vec<&Referral> = d
            .state
            .referrals
            .iter()
            .filter(|r| state.referral(r.id) != Some(*r))
            .collect();
        assert_eq!(
            d.referrals.iter().collect::<Vec<_>>(),
            changed,
            "{name}: the referrals to write"
        );
        d
    }

    pub(super) fn run(&self, state: &ClientState, actor: Actor, command: Command) -> Decision {
        self.run_at(self.now, state, actor, command)
    }

    /// Decide a command that must be refused at `now`, and return why. Also decides it on a
    /// draft of its own and checks that the family refused it before staging anything: no
    /// event, timer, disclosure or occupancy change, the state as it was.
    pub(super) fn refuse_at(
        &self,
        now: DateTime<Utc>,
        state: &ClientState,
        actor: Actor,
        command: Command,
    ) -> DecisionError {
        let env = self.env(actor, command);
        let ctx = self.ctx_at(now);
        let err = match decide(Some(state), &env, &ctx) {
            Ok(d) => panic!(
                "{} was accepted: {:?}",
                env.command.name(),
                d.events.iter().map(|e| e.event_type()).collect::<Vec<_>>()
            ),
            Err(e) => e,
        };
        if matches!(env.command, Command::RegisterClient { .. }) {
            return err;
        }
        // Bad input is refused before a draft is opened.
        if let Err(e) = crate::input::check_command(&env.command, ctx.pathway) {
            assert_eq!(e, err, "refused differently when checking the input");
            return err;
        }
        match Draft::open(Some(state), &env, &ctx) {
            Err(e) => assert_eq!(e, err, "refused differently when opening the draft"),
            Ok(mut d) => {
                assert_eq!(d.apply(&env.command), Err(err.clone()));
                assert!(d.events.is_empty(), "refusal staged events: {:?}", d.events);
                assert!(d.timers.is_empty(), "refusal staged timers: {:?}", d.timers);
                assert!(d.disclosures.is_empty(), "refusal staged disclosures");
                assert!(d.occupancy.is_empty(), "refusal staged occupancy");
                assert_eq!(&d.s, state, "refusal changed the state");
            }
        }
        err
    }

    pub(super) fn refuse(
        &self,
        state: &ClientState,
        actor: Actor,
        command: Command,
    ) -> DecisionError {
        self.refuse_at(self.now, state, actor, command)
    }

    // ---- clients ------------------------------------------------------------------------

    pub(super) fn registered(&self) -> ClientState {
        let env = self.env(
            self.cm(),
            Command::RegisterClient {
                home_org: self.home,
                birth_year: Some(1990),
                identity: None,
            },
        );
        decide(None, &env, &self.ctx_at(self.now))
            .expect("register")
            .state
    }

    /// Registered, with a consent naming every provider but the stranger, and the pharmacy.
    pub(super) fn consented(&self) -> ClientState {
        let s = self.registered();
        let command = Command::RecordConsent {
            recipients: vec![
                self.detox,
                self.residential,
                self.residential2,
                self.iop,
                self.pharmacy,
            ],
            purpose: "treatment".into(),
            information: "placement and referrals".into(),
            expiry: ConsentExpiry::EndOfTreatment,
            signed_on: self.today(),
        };
        self.run(&s, self.cm(), command).state
    }

    /// Consented and admitted to withdrawal management at the detox provider.
    pub(super) fn in_detox(&self) -> ClientState {
        let s = self.consented();
        self.run(&s, self.cm(), admit(level("detox"), self.detox, 40.0))
            .state
    }

    /// In detox, with a referral to the residential program, pending.
    pub(super) fn referred(&self) -> ClientState {
        let s = self.in_detox();
        let command = Command::SendReferral {
            to_level: level("residential"),
            providers: vec![self.residential],
        };
        self.run(&s, self.cm(), command).state
    }

    /// In detox, with the residential program's acceptance of the referral.
    /// `s` stepped down to residential care by its case manager: on the way there.
    pub(super) fn step_down(&self, s: &ClientState) -> ClientState {
        self.run(
            s,
            self.cm(),
            transition(TransitionKind::StepDown, level("residential"), None, 30.0),
        )
        .state
    }

    pub(super) fn accepted(&self) -> ClientState {
        let s = self.referred();
        let referral = s.referrals[0].id;
        self.run(
            &s,
            self.partner(self.residential),
            Command::AcceptReferral { referral },
        )
        .state
    }
}

pub(super) fn admit(level: LevelId, provider: OrgId, hours: f32) -> Command {
    Command::Admit {
        level,
        provider,
        planned_hours_per_week: hours,
        track: None,
        overrides: vec![],
        emergency: None,
    }
}

pub(super) fn discharge(kind: DischargeKind) -> Command {
    Command::Discharge {
        kind,
        provider: None,
        overrides: vec![],
    }
}

pub(super) fn transition(
    kind: TransitionKind,
    to_level: LevelId,
    provider: Option<OrgId>,
    hours: f32,
) -> Command {
    Command::Transition {
        kind,
        to_level,
        provider,
        planned_hours_per_week: hours,
        track: None,
        overrides: vec![],
        emergency: None,
    }
}

/// The types of the events a decision emits, in order.
pub(super) fn types(d: &Decision) -> Vec<&'static str> {
    d.events.iter().map(|e| e.event_type()).collect()
}

#[test]
fn the_fixture_pathway_is_the_default_pathway() {
    // Same fields, same values: the two builds' Debug output cannot tell them apart.
    assert_eq!(
        format!("{:?}", default_pathway()),
        format!("{:?}", carepath_workflows::default_pathway())
    );
}
