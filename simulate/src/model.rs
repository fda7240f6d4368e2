//! The behaviour model: what case managers, partners, coordinators and clients do, each
//! change through `Engine::execute` with a real command as a real actor. A client's turn reads
//! its record as the case manager would (`read_client`) and acts on what is there, so what the
//! engine did on its own (a referral expired and escalated, a slot offered from a waitlist, an
//! arrival missed) is what the people see.

use crate::Error;
use crate::network::{LEVELS, Network, shape};
use crate::rates::Rates;
use crate::rng::Rng;
use carepath_engine::domain::{
    Actor, AftercareKind, ClientStatus, Command, ConsentExpiry, DecisionError, DeclineCode,
    DeclineReason, MatBookingKind, Medication, OutcomeReport, ReferralStatus, VisibleClient,
};
use carepath_engine::ids::{BookingId, ClientId, OrgId, ReferralId};
use carepath_engine::pathway::{DischargeKind, LevelId, TransitionKind};
use carepath_engine::{Engine, Error as EngineError, Outcome, Request};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// What the simulation counts as it goes (all of it deterministic for a seed).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Accepted commands by name.
    pub commands: BTreeMap<&'static str, u64>,
    /// Refusals the model expects (a full provider, an answer after the deadline, a
    /// referral already withdrawn), by command and reason.
    pub expected_refusals: BTreeMap<String, u64>,
    /// Refusals the model did not expect, by command and reason: a wrong model or engine.
    pub unexpected_refusals: BTreeMap<String, u64>,
    pub admissions: u64,
    pub readmissions: u64,
    /// Times an admission found every provider of its level full and waited a day.
    pub bed_waits: u64,
    pub timers_fired: u64,
    pub slots_offered: u64,
}

impl Stats {
    /// Count what a move of the clock did: the timers fired and slots offered on the way.
    pub fn advanced(&mut self, moved: &carepath_engine::Advanced) {
        self.timers_fired += moved.timers_fired as u64;
        self.slots_offered += moved.slots_offered as u64;
    }
}

/// The shared, read-only parts of a run, and its counters.
pub struct World<'a> {
    pub engine: &'a Engine,
    pub net: &'a Network,
    pub rates: &'a Rates,
    pub stats: Mutex<Stats>,
    pub end: DateTime<Utc>,
}

/// Something a client, or someone about a client, does at a moment.
#[derive(Clone, Debug)]
pub enum Action {
    /// Registered, consent, assessment, admission.
    Intake,
    /// An admission (or readmission) at `level`.
    Admit { level: LevelId, readmission: bool },
    /// The planned end of a stay: step down or discharge.
    StayEnd,
    /// Leaves care unplanned: against advice, or discharged by the program.
    Leave(DischargeKind),
    /// Relapse at a lower level: reassessed and referred up.
    Relapse,
    /// The case manager looks at the record and does the next thing.
    Check,
    /// The receiving provider confirms the client arrived.
    Arrive,
    /// The receiving provider reports the client did not come.
    NoShow,
    /// A planned discharge: aftercare booked, MAT covered, discharged.
    Discharge,
    /// The provider a referral was sent to answers it.
    Answer {
        referral: ReferralId,
        provider: OrgId,
    },
    /// The day of an aftercare appointment: its provider says what happened.
    Visit { booking: BookingId, provider: OrgId },
    /// The MAT cycle: doses and refills picked up or missed, the next one booked.
    Mat,
}

impl Action {
    /// Whether the action may take a slot (an admission, an acceptance): such actions run
    /// one after another in client order, so who gets a slot does not depend on timing.
    pub fn takes_capacity(&self) -> bool {
        matches!(
            self,
            Action::Intake | Action::Admit { .. } | Action::Answer { .. }
        )
    }
}

/// One entry of the agenda: an action, and for the journey's chain of actions the
/// generation it belongs to (a later plan makes earlier ones moot).
#[derive(Clone, Debug)]
pub struct Item {
    pub action: Action,
    pub generation: Option<u32>,
}

#[derive(Clone, Debug, PartialEq)]
enum Target {
    Move(TransitionKind, LevelId),
    Discharge,
}

/// One client as the model knows them: their random stream and the plan being worked on.
/// Everything else is read from the engine.
pub struct Agent {
    pub idx: u32,
    pub id: ClientId,
    rng: Rng,
    pub case_manager: Actor,
    medication: Option<Medication>,
    mat_stopped: bool,
    generation: u32,
    mat_generation: u32,
    mat_wake: Option<DateTime<Utc>>,
    target: Option<Target>,
    tried: Vec<OrgId>,
    waiting_since: Option<DateTime<Utc>>,
    readmitted: bool,
}

/// The agenda entries an action adds.
pub type Next = Vec<(DateTime<Utc>, Item)>;

/// `days` after `now`'s day, at `hour`:00.
pub fn at_hour(now: DateTime<Utc>, days: i64, hour: u32) -> DateTime<Utc> {
    (now.date_naive() + Duration::days(days))
        .and_hms_opt(hour, 0, 0)
        .expect("an hour of the day")
        .and_utc()
}

/// `t`, or the next whole hour after it.
pub fn ceil_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp();
    let up = (secs + 3599).div_euclid(3600) * 3600;
    DateTime::from_timestamp(up, 0).expect("a time")
}

fn refusal_kind(e: &EngineError) -> String {
    match e {
        EngineError::Rejected(d) => match d {
            DecisionError::BadInput(_) => "bad input".into(),
            DecisionError::NotFound { what, .. } => format!("{what} not found"),
            DecisionError::Forbidden(_) => "forbidden".into(),
            DecisionError::Conflict(_) => "conflict".into(),
            DecisionError::InvalidTransition { .. } => "invalid transition".into(),
            DecisionError::GateUnmet { unmet } => format!(
                "gate unmet: {}",
                unmet
                    .iter()
                    .filter(|g| !g.met)
                    .map(|g| g.gate.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            DecisionError::ConsentRequired { .. } => "consent required".into(),
            DecisionError::NotYetHappened { .. } => "not yet happened".into(),
            DecisionError::StaleTimer(_) => "stale".into(),
        },
        EngineError::NoCapacity { .. } => "no capacity".into(),
        EngineError::Conflict(_) => "version conflict".into(),
        EngineError::BadInput(_) => "bad input".into(),
        EngineError::NotFound(_) => "not found".into(),
        EngineError::Forbidden(_) => "forbidden".into(),
        other => other.to_string(),
    }
}

impl World<'_> {
    fn stats(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.stats.lock().expect("stats")
    }

    /// Run a command; a storage failure ends the run, a refusal is the caller's to judge.
    async fn exec(
        &self,
        actor: Actor,
        client: ClientId,
        command: Command,
    ) -> Result<Result<Outcome, EngineError>, Error> {
        let name = command.name();
        match self
            .engine
            .execute(Request {
                client: Some(client),
                actor,
                expected_version: None,
                idempotency_key: None,
                command,
            })
            .await
        {
            Ok(o) => {
                *self.stats().commands.entry(name).or_default() += 1;
                Ok(Ok(o))
            }
            Err(e @ EngineError::Storage(_)) => Err(Error::Engine(e)),
            Err(e) => Ok(Err(e)),
        }
    }

    /// A command the model expects to be accepted: a refusal is counted as unexpected
    /// (and logged with its reason), and the model carries on.
    async fn must(
        &self,
        actor: Actor,
        client: ClientId,
        command: Command,
    ) -> Result<Option<Outcome>, Error> {
        let name = command.name();
        match self.exec(actor, client, command).await? {
            Ok(o) => Ok(Some(o)),
            Err(e) => {
                tracing::warn!(client = %client, command = name, error = %e, "simulated command refused");
                self.refused(name, &e, false);
                Ok(None)
            }
        }
    }

    fn refused(&self, command: &str, e: &EngineError, expected: bool) {
        let key = format!("{command}: {}", refusal_kind(e));
        let mut s = self.stats();
        let map = if expected {
            &mut s.expected_refusals
        } else {
            &mut s.unexpected_refusals
        };
        *map.entry(key).or_default() += 1;
    }

    /// The client as its case manager sees it (the record holder's view: every part).
    async fn read(&self, agent: &Agent) -> Result<VisibleClient, Error> {
        Ok(self
            .engine
            .read_client(&agent.case_manager, agent.id)
            .await?)
    }
}

impl Agent {
    pub fn new(idx: u32, seed: u64, net: &Network) -> Self {
        let mut rng = Rng::new(seed, 1 + u64::from(idx));
        let id = ClientId(rng.uuid());
        let case_manager = net.case_managers[idx as usize % net.case_managers.len()];
        Self {
            idx,
            id,
            rng,
            case_manager,
            medication: None,
            mat_stopped: false,
            generation: 0,
            mat_generation: 0,
            mat_wake: None,
            target: None,
            tried: Vec::new(),
            waiting_since: None,
            readmitted: false,
        }
    }

    fn journey(&mut self, at: DateTime<Utc>, action: Action) -> (DateTime<Utc>, Item) {
        self.generation += 1;
        (
            at,
            Item {
                action,
                generation: Some(self.generation),
            },
        )
    }

    fn once(at: DateTime<Utc>, action: Action) -> (DateTime<Utc>, Item) {
        (
            at,
            Item {
                action,
                generation: None,
            },
        )
    }

    /// Whether `item` still belongs to the plan.
    pub fn current(&self, item: &Item) -> bool {
        match (&item.action, item.generation) {
            (Action::Mat, Some(g)) => g == self.mat_generation,
            (_, Some(g)) => g == self.generation,
            (_, None) => true,
        }
    }

    /// Do `item` at `now`.
    pub async fn act(
        &mut self,
        w: &World<'_>,
        item: Item,
        now: DateTime<Utc>,
    ) -> Result<Next, Error> {
        match item.action {
            Action::Intake => self.intake(w, now).await,
            Action::Admit { level, readmission } => self.admit(w, now, level, readmission).await,
            Action::StayEnd => self.stay_end(w, now).await,
            Action::Leave(kind) => self.leave(w, now, kind).await,
            Action::Relapse => self.relapse(w, now).await,
            Action::Check => self.check(w, now).await,
            Action::Arrive => self.arrive(w, now).await,
            Action::NoShow => self.no_show(w, now).await,
            Action::Discharge => self.discharge(w, now).await,
            Action::Answer { referral, provider } => self.answer(w, now, referral, provider).await,
            Action::Visit { booking, provider } => self.visit(w, booking, provider).await,
            Action::Mat => self.mat(w, now).await,
        }
    }

    fn entry_level(&mut self) -> LevelId {
        // The mix of first admissions (assumption, after TEDS-A's shares of outpatient,
        // intensive outpatient, residential and detoxification admissions).
        LevelId::new(self.rng.weighted(&[
            ("detox", 0.25),
            ("ambulatory_detox", 0.05),
            ("residential", 0.15),
            ("php", 0.05),
            ("iop", 0.15),
            ("outpatient", 0.35),
        ]))
    }

    fn dimensions(&mut self, level: &LevelId) -> [u8; 6] {
        let high = match level.as_str() {
            "detox" => 4,
            "residential" => 3,
            "ambulatory_detox" | "php" => 2,
            _ => 1,
        };
        let mut d = [0u8; 6];
        for x in &mut d {
            *x = self.rng.between(0, high) as u8;
        }
        d[0] = high as u8;
        d
    }

    async fn intake(&mut self, w: &World<'_>, now: DateTime<Utc>) -> Result<Next, Error> {
        let cm = self.case_manager;
        let registered = w
            .exec(
                cm,
                self.id,
                Command::RegisterClient {
                    home_org: w.net.home,
                    birth_year: Some(self.rng.between(1950, 2005) as i32),
                    identity: None,
                },
            )
            .await?;
        if let Err(e) = registered {
            w.refused("register_client", &e, false);
            return Ok(Vec::new());
        }
        w.must(
            cm,
            self.id,
            Command::RecordConsent {
                recipients: w.net.all.clone(),
                purpose: "treatment and care coordination".into(),
                information: "level of care, referrals, MAT plan, appointments".into(),
                expiry: ConsentExpiry::On(now.date_naive() + Duration::days(400)),
                signed_on: now.date_naive(),
            },
        )
        .await?;
        if self.rng.chance(w.rates.oud) && self.rng.chance(w.rates.moud) {
            self.medication = Some(self.rng.weighted(&[
                (Medication::Buprenorphine, w.rates.buprenorphine),
                (Medication::Methadone, w.rates.methadone),
                (
                    Medication::NaltrexoneXr,
                    (1.0 - w.rates.buprenorphine - w.rates.methadone).max(0.0),
                ),
            ]));
        }
        let level = self.entry_level();
        self.admit(w, now, level, false).await
    }

    async fn assess(
        &mut self,
        w: &World<'_>,
        now: DateTime<Utc>,
        level: &LevelId,
    ) -> Result<(), Error> {
        let dimensions = self.dimensions(level);
        w.must(
            self.case_manager,
            self.id,
            Command::RecordAssessment {
                recommended_level: level.clone(),
                dimensions,
                assessed_at: Some(now),
            },
        )
        .await?;
        Ok(())
    }

    async fn admit(
        &mut self,
        w: &World<'_>,
        now: DateTime<Utc>,
        level: LevelId,
        readmission: bool,
    ) -> Result<Next, Error> {
        self.assess(w, now, &level).await?;
        let mut providers = w.net.providers(&level).to_vec();
        self.rng.shuffle(&mut providers);
        for provider in providers {
            let admitted = w
                .exec(
                    self.case_manager,
                    self.id,
                    Command::Admit {
                        level: level.clone(),
                        provider,
                        planned_hours_per_week: shape(&level).hours,
                        track: None,
                        overrides: vec![],
                        emergency: None,
                    },
                )
                .await?;
            match admitted {
                Ok(_) => {
                    {
                        let mut s = w.stats();
                        s.admissions += 1;
                        if readmission {
                            s.readmissions += 1;
                        }
                    }
                    return self.placed(w, now, &level).await;
                }
                Err(e @ EngineError::NoCapacity { .. }) => w.refused("admit", &e, true),
                Err(e) => {
                    w.refused("admit", &e, false);
                    return Ok(Vec::new());
                }
            }
        }
        // Every provider of the level is full: try again tomorrow.
        w.stats().bed_waits += 1;
        let hour = self.rng.between(8, 17) as u32;
        Ok(vec![self.journey(
            at_hour(now, 1, hour),
            Action::Admit { level, readmission },
        )])
    }

    /// In care at `level` from `now`: MAT started if it is not running, and the stay planned
    /// — its planned end, or an unplanned exit or a relapse before it.
    async fn placed(
        &mut self,
        w: &World<'_>,
        now: DateTime<Utc>,
        level: &LevelId,
    ) -> Result<Next, Error> {
        let mut next = Vec::new();
        if let Some(m) = self.medication
            && !self.mat_stopped
            && self.mat_wake.is_none()
        {
            let today = now.date_naive();
            let (supply_through, last_injection_on) = match m {
                Medication::NaltrexoneXr => {
                    (None, Some(today - Duration::days(self.rng.between(0, 20))))
                }
                _ => (Some(today + Duration::days(self.rng.between(0, 2))), None),
            };
            w.must(
                self.case_manager,
                self.id,
                Command::RecordMatPlan {
                    medication: m,
                    supply_through,
                    last_injection_on,
                },
            )
            .await?;
            next.extend(self.mat_next(w, now).await?);
        }
        self.target = None;
        self.tried.clear();
        self.waiting_since = None;
        let shape = shape(level);
        let stay = self.rng.between(shape.stay_days.0, shape.stay_days.1);
        let (ama, admin) = match level.as_str() {
            "detox" | "ambulatory_detox" => (w.rates.ama_detox, w.rates.admin_detox),
            "residential" => (w.rates.ama_residential, w.rates.admin_residential),
            "php" | "iop" => (w.rates.ama_intensive, w.rates.admin_intensive),
            _ => (w.rates.ama_outpatient, w.rates.admin_outpatient),
        };
        let hour = self.rng.between(8, 17) as u32;
        let x = self.rng.unit();
        let early = self.rng.between(1, (stay - 1).max(1));
        let relapse = !matches!(level.as_str(), "detox" | "residential")
            && self.rng.chance(w.rates.relapse_step_up);
        let plan = if x < ama {
            self.journey(
                at_hour(now, early, hour),
                Action::Leave(DischargeKind::AgainstMedicalAdvice),
            )
        } else if x < ama + admin {
            self.journey(
                at_hour(now, early, hour),
                Action::Leave(DischargeKind::Administrative),
            )
        } else if relapse {
            self.journey(at_hour(now, early, hour), Action::Relapse)
        } else {
            self.journey(at_hour(now, stay, hour), Action::StayEnd)
        };
        next.push(plan);
        Ok(next)
    }

    /// Where a completed stay leads (the step-down shares are flags; the split among lower
    /// levels is an assumption).
    fn next_after(&mut self, level: &str, rates: &Rates) -> Option<LevelId> {
        let (p, choices): (f64, &[(&str, f64)]) = match level {
            "detox" => (
                rates.step_down_detox,
                &[
                    ("residential", 0.5),
                    ("iop", 0.2),
                    ("php", 0.1),
                    ("outpatient", 0.1),
                    ("ambulatory_detox", 0.1),
                ],
            ),
            "ambulatory_detox" => (
                rates.step_down_detox,
                &[("iop", 0.5), ("php", 0.2), ("outpatient", 0.3)],
            ),
            "residential" => (
                rates.step_down_residential,
                &[("php", 0.3), ("iop", 0.4), ("outpatient", 0.3)],
            ),
            "php" => (
                rates.step_down_intensive,
                &[("iop", 0.7), ("outpatient", 0.3)],
            ),
            "iop" => (rates.step_down_intensive, &[("outpatient", 1.0)]),
            _ => (0.0, &[("outpatient", 1.0)]),
        };
        if self.rng.chance(p) {
            Some(LevelId::new(self.rng.weighted(choices)))
        } else {
            None
        }
    }

    async fn stay_end(&mut self, w: &World<'_>, now: DateTime<Utc>) -> Result<Next, Error> {
        let s = w.read(self).await?;
        let Some(level) = s.level().cloned() else {
            return Ok(Vec::new());
        };
        match self.next_after(level.as_str(), w.rates) {
            Some(to) => {
                self.target = Some(Target::Move(TransitionKind::StepDown, to.clone()));
                self.refer(w, now, &s, &to).await
            }
            None => {
                self.target = Some(Target::Discharge);
                Ok(vec![self.journey(now, Action::Discharge)])
            }
        }
    }

    async fn relapse(&mut self, w: &World<'_>, now: DateTime<Utc>) -> Result<Next, Error> {
        let s = w.read(self).await?;
        let Some(level) = s.level().cloned() else {
            return Ok(Vec::new());
        };
        let up: &[(&str, f64)] = match level.as_str() {
            "outpatient" => &[
                ("detox", 0.3),
                ("residential", 0.3),
                ("php", 0.2),
                ("iop", 0.2),
            ],
            "iop" => &[("detox", 0.4), ("residential", 0.4), ("php", 0.2)],
            "php" | "ambulatory_detox" => &[("detox", 0.5), ("residential", 0.5)],
            _ => return Ok(Vec::new()),
        };
        let to = LevelId::new(self.rng.weighted(up));
        self.assess(w, now, &to).await?;
        self.target = Some(Target::Move(TransitionKind::StepUp, to.clone()));
        self.refer(w, now, &s, &to).await
    }

    /// Send the level to the next providers not yet tried (a new group, or the group that
    /// ran out sent on), their answers scheduled, and a look at the record tomorrow.
    async fn refer(
        &mut self,
        w: &World<'_>,
        now: DateTime<Utc>,
        s: &VisibleClient,
        to: &LevelId,
    ) -> Result<Next, Error> {
        let current = s.placement.as_ref().map(|p| p.provider);
        let mut fresh: Vec<OrgId> = w
            .net
            .providers(to)
            .iter()
            .copied()
            .filter(|p| Some(*p) != current && !self.tried.contains(p))
            .collect();
        if fresh.is_empty() {
            // Nobody left to ask: a planned discharge with aftercare instead.
            self.target = Some(Target::Discharge);
            return Ok(vec![self.journey(at_hour(now, 1, 10), Action::Discharge)]);
        }
        self.rng.shuffle(&mut fresh);
        fresh.truncate(w.rates.fanout);
        self.tried.extend(fresh.iter().copied());
        let command = match s
            .case_management
            .shown()
            .and_then(|c| c.escalation.as_ref())
        {
            Some(e) if &e.to_level == to => Command::ResendReferral {
                group: e.group,
                providers: fresh.clone(),
            },
            _ => Command::SendReferral {
                to_level: to.clone(),
                providers: fresh.clone(),
            },
        };
        let Some(sent) = w.must(self.case_manager, self.id, command).await? else {
            self.target = Some(Target::Discharge);
            return Ok(vec![self.journey(at_hour(now, 1, 10), Action::Discharge)]);
        };
        self.waiting_since.get_or_insert(now);
        let answer_hours = w
            .engine
            .pathway()
            .level(to)
            .map(|l| i64::from(l.referral_answer_hours))
            .unwrap_or(24);
        let referrals: Vec<ReferralId> = sent
            .events
            .iter()
            .filter(|e| e.event_type == "referral.sent")
            .map(|e| ReferralId(e.id.0))
            .collect();
        let mut next = Vec::new();
        for (referral, provider) in referrals.into_iter().zip(fresh) {
            let r = w.rates;
            let answers = r.accept + r.decline + r.waitlist;
            // The intake acts on the notice that the referral expires within the hour: an
            // answer on the first whole hour after it, which is before the deadline (drawn
            // only when someone may act, so a run without it draws as before).
            let acts_on_notice = |rng: &mut crate::rng::Rng| {
                (r.act_on_notice > 0.0 && rng.chance(r.act_on_notice))
                    .then_some(answer_hours * 60 - 60)
            };
            let minutes = if !self.rng.chance(answers) {
                match acts_on_notice(&mut self.rng) {
                    Some(m) => m,
                    None => continue, // never answered: the deadline expires it
                }
            } else if self.rng.chance(r.late_answer) {
                match acts_on_notice(&mut self.rng) {
                    Some(m) => m,
                    None => answer_hours * 60 + self.rng.between(30, 24 * 60),
                }
            } else {
                self.rng.between(20, answer_hours * 60 - 60)
            };
            // Answers come in on the hour (the model acts on whole hours).
            let at = ceil_hour(now + Duration::minutes(minutes));
            next.push(Self::once(at, Action::Answer { referral, provider }));
        }
        next.push(self.journey(at_hour(now, 1, 9), Action::Check));
        Ok(next)
    }

    async fn answer(
        &mut self,
        w: &World<'_>,
        _now: DateTime<Utc>,
        referral: ReferralId,
        provider: OrgId,
    ) -> Result<Next, Error> {
        let partner = w.net.partner(provider);
        let r = w.rates;
        let answered = |e: &EngineError| {
            // Too late (expired), or moot (withdrawn when another provider accepted).
            matches!(e, EngineError::Rejected(DecisionError::Conflict(_)))
        };
        if self.rng.chance(r.acknowledge) {
            match w
                .exec(partner, self.id, Command::AcknowledgeReferral { referral })
                .await?
            {
                Ok(_) => {}
                Err(e) if answered(&e) => {
                    w.refused("acknowledge_referral", &e, true);
                    return Ok(Vec::new());
                }
                Err(e) => w.refused("acknowledge_referral", &e, false),
            }
        }
        let choice = self
            .rng
            .weighted(&[(0u8, r.accept), (1, r.decline), (2, r.waitlist)]);
        let full = |this: &mut Self| {
            if this.rng.chance(0.5) {
                Command::WaitlistReferral { referral }
            } else {
                Command::DeclineReferral {
                    referral,
                    reason: DeclineReason {
                        code: DeclineCode::NoCapacity,
                        note: None,
                    },
                }
            }
        };
        let command = match choice {
            0 => Command::AcceptReferral { referral },
            1 => Command::DeclineReferral {
                referral,
                reason: DeclineReason {
                    code: self.rng.weighted(&[
                        (DeclineCode::ClinicalCriteriaNotMet, 0.3),
                        (DeclineCode::InsuranceNotAccepted, 0.2),
                        (DeclineCode::ClientDeclined, 0.2),
                        (DeclineCode::MedicalNeedsExceedProgram, 0.1),
                        (DeclineCode::NoCapacity, 0.15),
                        (DeclineCode::Other, 0.05),
                    ]),
                    note: None,
                },
            },
            _ => Command::WaitlistReferral { referral },
        };
        let name = command.name();
        match w.exec(partner, self.id, command).await? {
            Ok(_) => {}
            Err(e @ EngineError::NoCapacity { .. }) => {
                w.refused(name, &e, true);
                let command = full(self);
                let name = command.name();
                if let Err(e) = w.exec(partner, self.id, command).await? {
                    w.refused(name, &e, answered(&e));
                }
            }
            Err(e) => w.refused(name, &e, answered(&e)),
        }
        Ok(Vec::new())
    }

    /// The case manager looks at the record and does what comes next.
    async fn check(&mut self, w: &World<'_>, now: DateTime<Utc>) -> Result<Next, Error> {
        let s = w.read(self).await?;
        match s.status {
            ClientStatus::Registered | ClientStatus::Discharged => Ok(Vec::new()),
            ClientStatus::InTransit => match &s.transit {
                Some(t) if t.missed => {
                    // Lost on the way: sent on from the level left, or discharged.
                    if self.rng.chance(w.rates.reroute) {
                        let to = t.to_level.clone();
                        let kind = t.kind;
                        self.tried.push(t.provider);
                        self.target = Some(Target::Move(kind, to.clone()));
                        self.waiting_since = None;
                        self.refer(w, now, &s, &to).await
                    } else {
                        Ok(vec![self.journey(
                            now,
                            Action::Leave(DischargeKind::Administrative),
                        )])
                    }
                }
                // Still on the way: look again after the deadline.
                Some(t) => {
                    Ok(vec![self.journey(
                        ceil_hour(t.arrive_by) + Duration::hours(1),
                        Action::Check,
                    )])
                }
                None => Ok(Vec::new()),
            },
            ClientStatus::Active => {
                let Some(Target::Move(kind, to)) = self.target.clone() else {
                    return Ok(Vec::new());
                };
                let accepted = s
                    .referrals
                    .items()
                    .iter()
                    .find(|r| r.to_level == to && r.status == ReferralStatus::Accepted)
                    .map(|r| r.provider);
                if let Some(provider) = accepted {
                    return self.transition(w, now, &s, kind, &to, provider).await;
                }
                if s.case_management
                    .shown()
                    .and_then(|c| c.escalation.as_ref())
                    .is_some_and(|e| e.to_level == to)
                {
                    return self.refer(w, now, &s, &to).await;
                }
                let open = s
                    .referrals
                    .items()
                    .iter()
                    .any(|r| r.to_level == to && r.status.is_open());
                let waited = now - self.waiting_since.unwrap_or(now);
                if !open || waited > Duration::days(14) {
                    // Nothing came of it: withdraw what is open and discharge with aftercare.
                    for r in s.referrals.items().iter().filter(|r| r.status.is_open()) {
                        w.must(
                            self.case_manager,
                            self.id,
                            Command::WithdrawReferral { referral: r.id },
                        )
                        .await?;
                    }
                    self.target = Some(Target::Discharge);
                    return Ok(vec![self.journey(now, Action::Discharge)]);
                }
                Ok(vec![self.journey(at_hour(now, 1, 9), Action::Check)])
            }
        }
    }

    /// The gates of a move made good: the next MAT dose booked before the supply runs out,
    /// and for a step-down to outpatient care the first visit booked.
    async fn prepare(
        &mut self,
        w: &World<'_>,
        now: DateTime<Utc>,
        s: &VisibleClient,
        aftercare_at: Option<OrgId>,
    ) -> Result<Next, Error> {
        let mut next = Vec::new();
        if let Some(provider) = aftercare_at {
            let window = i64::from(w.engine.pathway().settings.aftercare_window_days);
            let at = at_hour(
                now,
                self.rng.between(1, window.max(1)),
                self.rng.between(9, 16) as u32,
            );
            let kind = self.rng.weighted(&[
                (AftercareKind::Outpatient, 0.5),
                (AftercareKind::Counseling, 0.3),
                (AftercareKind::PeerRecovery, 0.1),
                (AftercareKind::PrimaryCare, 0.1),
            ]);
            if let Some(o) = w
                .must(
                    w.net.coordinator,
                    self.id,
                    Command::ScheduleAftercare { provider, kind, at },
                )
                .await?
            {
                let booking = BookingId(o.events[0].id.0);
                next.push(Self::once(at, Action::Visit { booking, provider }));
            }
        }
        if matches!(s.mat_plan.shown(), Some(Some(_))) {
            next.extend(self.book_mat(w, s, now.date_naive()).await?);
        }
        Ok(next)
    }

    async fn transition(
        &mut self,
        w: &World<'_>,
        now: DateTime<Utc>,
        s: &VisibleClient,
        kind: TransitionKind,
        to: &LevelId,
        provider: OrgId,
    ) -> Result<Next, Error> {
        let mut next = self
            .prepare(w, now, s, (to.as_str() == "outpatient").then_some(provider))
            .await?;
        let moved = w
            .must(
                self.case_manager,
                self.id,
                Command::Transition {
                    kind,
                    to_level: to.clone(),
                    provider: None,
                    planned_hours_per_week: shape(to).hours,
                    track: None,
                    overrides: vec![],
                    emergency: None,
                },
            )
            .await?;
        if moved.is_none() {
            self.target = Some(Target::Discharge);
            next.push(self.journey(at_hour(now, 1, 10), Action::Discharge));
            return Ok(next);
        }
        let days = w
            .engine
            .pathway()
            .level(to)
            .map(|l| i64::from(l.arrival_days))
            .unwrap_or(1);
        // Arrivals and no-shows come in on the hour, before the deadline.
        let hours = self.rng.between(1, days * 24 - 1);
        let at = now + Duration::hours(hours);
        if self.rng.chance(w.rates.arrival) {
            next.push(self.journey(at, Action::Arrive));
        } else if self.rng.chance(w.rates.no_show_reported) {
            next.push(self.journey(at, Action::NoShow));
        } else {
            // Nobody says anything: the deadline passes; the case manager looks after it.
            next.push(self.journey(
                now + Duration::days(days) + Duration::hours(1),
                Action::Check,
            ));
        }
        Ok(next)
    }

    async fn arrive(&mut self, w: &World<'_>, now: DateTime<Utc>) -> Result<Next, Error> {
        let s = w.read(self).await?;
        let Some(t) = s.transit.as_ref().filter(|t| !t.missed) else {
            return Ok(Vec::new());
        };
        let to = t.to_level.clone();
        let partner = w.net.partner(t.provider);
        if w.must(
            partner,
            self.id,
            Command::ConfirmArrival { relayed_by: None },
        )
        .await?
        .is_none()
        {
            return Ok(Vec::new());
        }
        self.placed(w, now, &to).await
    }

    async fn no_show(&mut self, w: &World<'_>, now: DateTime<Utc>) -> Result<Next, Error> {
        let s = w.read(self).await?;
        let Some(t) = s.transit.as_ref().filter(|t| !t.missed) else {
            return Ok(Vec::new());
        };
        let partner = w.net.partner(t.provider);
        w.must(partner, self.id, Command::ReportNoShow { relayed_by: None })
            .await?;
        Ok(vec![self.journey(at_hour(now, 1, 9), Action::Check)])
    }

    async fn discharge(&mut self, w: &World<'_>, now: DateTime<Utc>) -> Result<Next, Error> {
        let s = w.read(self).await?;
        if !matches!(s.status, ClientStatus::Active | ClientStatus::InTransit) {
            return Ok(Vec::new());
        }
        let clinics = w.net.providers(&LevelId::new("outpatient"));
        let clinic = clinics[self.rng.between(0, clinics.len() as i64 - 1) as usize];
        let mut next = self.prepare(w, now, &s, Some(clinic)).await?;
        if w.must(
            self.case_manager,
            self.id,
            Command::Discharge {
                kind: DischargeKind::Planned,
                provider: None,
                overrides: vec![],
            },
        )
        .await?
        .is_some()
        {
            next.extend(self.after_discharge(w, now, 0.5));
        }
        Ok(next)
    }

    async fn leave(
        &mut self,
        w: &World<'_>,
        now: DateTime<Utc>,
        kind: DischargeKind,
    ) -> Result<Next, Error> {
        let s = w.read(self).await?;
        if !matches!(s.status, ClientStatus::Active | ClientStatus::InTransit) {
            return Ok(Vec::new());
        }
        let left = w
            .must(
                self.case_manager,
                self.id,
                Command::Discharge {
                    kind,
                    provider: None,
                    overrides: vec![],
                },
            )
            .await?;
        Ok(if left.is_some() {
            self.after_discharge(w, now, 1.0)
        } else {
            Vec::new()
        })
    }

    /// Out of care: perhaps back later (`weight` scales the readmission rate), once.
    fn after_discharge(&mut self, w: &World<'_>, now: DateTime<Utc>, weight: f64) -> Next {
        self.target = None;
        self.tried.clear();
        self.waiting_since = None;
        if self.readmitted || !self.rng.chance(w.rates.readmission * weight * 2.0) {
            self.generation += 1;
            return Vec::new();
        }
        self.readmitted = true;
        let level =
            LevelId::new(
                self.rng
                    .weighted(&[("detox", 0.5), ("residential", 0.3), ("iop", 0.2)]),
            );
        let at = at_hour(
            now,
            self.rng.between(14, 90),
            self.rng.between(8, 17) as u32,
        );
        vec![self.journey(
            at,
            Action::Admit {
                level,
                readmission: true,
            },
        )]
    }

    async fn visit(
        &mut self,
        w: &World<'_>,
        booking: BookingId,
        provider: OrgId,
    ) -> Result<Next, Error> {
        let outcome = if self.rng.chance(w.rates.aftercare_attendance) {
            OutcomeReport::Attended {
                supply_through: None,
            }
        } else {
            OutcomeReport::NoShow
        };
        w.must(
            w.net.partner(provider),
            self.id,
            Command::RecordBookingOutcome {
                booking,
                outcome,
                relayed_by: None,
            },
        )
        .await?;
        Ok(Vec::new())
    }

    // ---- MAT ---------------------------------------------------------------------------

    fn mat_kind(m: Medication) -> (MatBookingKind, i64) {
        match m {
            // A 14-day prescription filled at a pharmacy.
            Medication::Buprenorphine | Medication::NaltrexoneOral => (MatBookingKind::Refill, 14),
            // OTP dosing with a week of take-homes.
            Medication::Methadone => (MatBookingKind::OtpDosing, 7),
            // An injection every 4 weeks.
            Medication::NaltrexoneXr => (MatBookingKind::Injection, 28),
        }
    }

    fn mat_provider(&mut self, w: &World<'_>, kind: MatBookingKind) -> OrgId {
        let list = match kind {
            MatBookingKind::OtpDosing => &w.net.otps,
            MatBookingKind::Injection => &w.net.injectors,
            _ => &w.net.pharmacies,
        };
        list[self.rng.between(0, list.len() as i64 - 1) as usize]
    }

    /// The last day the plan covers (as the engine counts it).
    fn covered_through(s: &VisibleClient) -> Option<NaiveDate> {
        s.mat_plan.shown()?.as_ref()?.covered_through
    }

    /// Book the next dose, refill or injection on the last covered day (a day of margin),
    /// or today when the supply has run out, unless one is booked in time already.
    async fn book_mat(
        &mut self,
        w: &World<'_>,
        s: &VisibleClient,
        earliest: NaiveDate,
    ) -> Result<Next, Error> {
        let Some(plan) = s.mat_plan.shown().and_then(Option::as_ref).map(|p| &p.plan) else {
            return Ok(Vec::new());
        };
        let today = earliest;
        let through = Self::covered_through(s).unwrap_or(today);
        let on = through.max(today);
        let booked = s.mat_bookings.items().iter().any(|b| {
            b.outcome.is_none()
                && plan.medication.continued_by(b.kind)
                && b.on >= today
                && b.on <= on
        });
        if !booked {
            let (kind, _) = Self::mat_kind(plan.medication);
            let provider = self.mat_provider(w, kind);
            w.must(
                w.net.coordinator,
                self.id,
                Command::ScheduleMatRefill { provider, kind, on },
            )
            .await?;
        }
        Ok(self.mat_wake_on(on))
    }

    fn mat_wake_on(&mut self, on: NaiveDate) -> Next {
        let at = on.and_hms_opt(10, 0, 0).expect("10:00").and_utc();
        if self.mat_wake.is_some_and(|w| w <= at) {
            return Vec::new();
        }
        self.mat_wake = Some(at);
        self.mat_generation += 1;
        vec![(
            at,
            Item {
                action: Action::Mat,
                generation: Some(self.mat_generation),
            },
        )]
    }

    async fn mat_next(&mut self, w: &World<'_>, now: DateTime<Utc>) -> Result<Next, Error> {
        let s = w.read(self).await?;
        self.book_mat(w, &s, now.date_naive()).await
    }

    /// The MAT day: what was booked for today picked up or missed, the client perhaps
    /// stopping (the 24-week retention spread over the cycles), the next one booked.
    async fn mat(&mut self, w: &World<'_>, now: DateTime<Utc>) -> Result<Next, Error> {
        self.mat_wake = None;
        let s = w.read(self).await?;
        let Some(plan) = s
            .mat_plan
            .shown()
            .and_then(Option::as_ref)
            .map(|p| p.plan.clone())
        else {
            return Ok(Vec::new());
        };
        let today = now.date_naive();
        let (_, days) = Self::mat_kind(plan.medication);
        let due: Vec<_> = s
            .mat_bookings
            .items()
            .iter()
            .filter(|b| b.outcome.is_none() && b.on <= today)
            .cloned()
            .collect();
        let mut missed = false;
        for b in due {
            let outcome = if self.rng.chance(w.rates.mat_pickup) {
                OutcomeReport::Attended {
                    supply_through: (b.kind != MatBookingKind::Injection)
                        .then(|| today + Duration::days(days - 1)),
                }
            } else {
                missed = true;
                OutcomeReport::NoShow
            };
            w.must(
                w.net.partner(b.provider),
                self.id,
                Command::RecordBookingOutcome {
                    booking: b.id,
                    outcome,
                    relayed_by: None,
                },
            )
            .await?;
        }
        let retention = match plan.medication {
            Medication::Methadone => w.rates.retention_methadone,
            Medication::NaltrexoneXr => w.rates.retention_xr_naltrexone,
            _ => w.rates.retention_buprenorphine,
        };
        // Retained for 168 days with probability `retention`: per cycle of `days`.
        let stay_on = retention.powf(days as f64 / 168.0);
        if !self.rng.chance(stay_on) {
            self.mat_stopped = true;
            w.must(self.case_manager, self.id, Command::EndMatPlan)
                .await?;
            return Ok(Vec::new());
        }
        let s = w.read(self).await?;
        // Missed today: the next try is tomorrow.
        let earliest = today + Duration::days(i64::from(missed));
        self.book_mat(w, &s, earliest).await
    }
}

/// The levels of the model, for reports.
pub fn level_ids() -> impl Iterator<Item = &'static str> {
    LEVELS.iter().map(|l| l.id)
}
