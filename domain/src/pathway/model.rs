//! The validated pathway: what the decision core reads.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A level of care's id in a pathway, e.g. `iop`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LevelId(pub String);

impl LevelId {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LevelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What must exist before a move may complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// A partner provider accepted a referral for the target level.
    AcceptedReferral,
    /// An active 42 CFR Part 2 consent names the receiving organization.
    Consent,
    /// A booked aftercare appointment within the pathway's window after discharge.
    AftercareAppointment,
    /// The next MAT dose, refill or injection is booked before the current supply runs out.
    MatContinuity,
    /// A recent assessment recommends the target level.
    Reassessment,
}

impl Gate {
    pub const ALL: [Gate; 5] = [
        Gate::AcceptedReferral,
        Gate::Consent,
        Gate::AftercareAppointment,
        Gate::MatContinuity,
        Gate::Reassessment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Gate::AcceptedReferral => "accepted_referral",
            Gate::Consent => "consent",
            Gate::AftercareAppointment => "aftercare_appointment",
            Gate::MatContinuity => "mat_continuity",
            Gate::Reassessment => "reassessment",
        }
    }

    pub fn parse(s: &str) -> Option<Gate> {
        Gate::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A move between levels while the client stays in care.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    StepDown,
    StepUp,
    /// Same level, another provider or another track (evening, virtual).
    Lateral,
    /// Back into care after a discharge.
    Readmission,
}

impl TransitionKind {
    pub const ALL: [TransitionKind; 4] = [
        TransitionKind::StepDown,
        TransitionKind::StepUp,
        TransitionKind::Lateral,
        TransitionKind::Readmission,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::StepDown => "step_down",
            TransitionKind::StepUp => "step_up",
            TransitionKind::Lateral => "lateral",
            TransitionKind::Readmission => "readmission",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for TransitionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an episode of care ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DischargeKind {
    Planned,
    AgainstMedicalAdvice,
    Administrative,
    TransferOut,
}

impl DischargeKind {
    pub const ALL: [DischargeKind; 4] = [
        DischargeKind::Planned,
        DischargeKind::AgainstMedicalAdvice,
        DischargeKind::Administrative,
        DischargeKind::TransferOut,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            DischargeKind::Planned => "planned",
            DischargeKind::AgainstMedicalAdvice => "against_medical_advice",
            DischargeKind::Administrative => "administrative",
            DischargeKind::TransferOut => "transfer_out",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// Unplanned discharges are never blocked by gates; they raise an at-risk event instead.
    pub fn is_unplanned(self) -> bool {
        matches!(
            self,
            DischargeKind::AgainstMedicalAdvice | DischargeKind::Administrative
        )
    }
}

impl fmt::Display for DischargeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Weekly clinical hours a level plans for, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HoursBand {
    pub min: f32,
    pub max: f32,
}

impl HoursBand {
    pub fn contains(&self, hours: f32) -> bool {
        hours >= self.min && hours <= self.max
    }
}

impl fmt::Display for HoursBand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{} h/week", self.min, self.max)
    }
}

/// One level of care.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Level {
    pub id: LevelId,
    pub name: String,
    /// ASAM Criteria 3rd-edition codes, e.g. `["2.1"]`.
    pub asam3: Vec<String>,
    /// ASAM Criteria 4th-edition codes, kept as data.
    pub asam4: Vec<String>,
    pub weekly_hours: HoursBand,
    /// Days between continued-stay reviews.
    pub review_interval_days: u32,
    /// Other names this level is known by (a state's license names: the crosswalk).
    pub aliases: Vec<String>,
    /// Hours a provider has to answer a referral to this level before it expires and is
    /// escalated (hours for withdrawal management, days for outpatient).
    pub referral_answer_hours: u32,
    /// Hours an accepted referral holds a slot at this level before the handoff starts; the
    /// hold is released (and the referral expires) when it passes unused.
    pub hold_hours: u32,
    /// Days a client moving to this level has to arrive before the handoff is missed.
    pub arrival_days: u32,
    /// Whether leaving this level (a discharge or a step down) starts the follow-up checks
    /// (HEDIS FUI: withdrawal management and residential care).
    pub followup_on_exit: bool,
    /// Whether the level's programs have medical personnel on hand (the pathway file's
    /// `medical_personnel`, which the loader allows only on withdrawal management and ASAM
    /// 3.7 and 4): where a clinician may move a client on a declared medical emergency.
    pub medical_personnel: bool,
}

impl Level {
    /// Where a clinician may move a client on a declared medical emergency (42 CFR 2.51:
    /// the record goes to medical personnel): a level the pathway says has them. Clinically
    /// managed care (ASAM 3.1 and 3.5 residential, outpatient) has none.
    pub fn admits_in_emergency(&self) -> bool {
        self.medical_personnel
    }
}

/// A move the pathway allows: of `kind`, from one level to any of `to`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TransitionRule {
    pub kind: TransitionKind,
    /// `None` for readmission: from a discharged client.
    pub from: Option<LevelId>,
    pub to: Vec<LevelId>,
    pub gates: Vec<Gate>,
}

/// A discharge the pathway allows from some levels.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DischargeRule {
    pub kind: DischargeKind,
    pub from: Vec<LevelId>,
    pub gates: Vec<Gate>,
}

/// Pathway-wide numbers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    /// Hours a provider has to answer a referral, for levels that set none of their own.
    pub referral_answer_hours: u32,
    /// Hours an accepted referral holds a slot, for levels that set none of their own.
    pub hold_hours: u32,
    /// Days to arrive at a level that sets none of its own.
    pub arrival_days: u32,
    /// Days a client transferred out has to arrive at the receiving organization.
    pub transfer_arrival_days: u32,
    /// A missed appointment with no new booking within this many days is lost to care.
    pub lost_to_care_days: u32,
    /// A planned discharge needs an aftercare appointment at most this many days after it.
    pub aftercare_window_days: u32,
    /// An assessment counts for the reassessment gate for this many days.
    pub reassessment_max_age_days: u32,
    /// Extended-release naltrexone: the next injection is due within this many days.
    pub xr_naltrexone_interval_days: u32,
    /// Post-discharge follow-up checks, in days after discharge (HEDIS FUI: 7 and 30).
    pub followup_days: Vec<u32>,
}

/// A validated care pathway.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pathway {
    pub id: String,
    pub name: String,
    pub version: u32,
    pub settings: Settings,
    pub levels: Vec<Level>,
    /// Levels a first admission may go to.
    pub admission_levels: Vec<LevelId>,
    pub admission_gates: Vec<Gate>,
    pub transitions: Vec<TransitionRule>,
    pub discharges: Vec<DischargeRule>,
    #[serde(skip)]
    index: BTreeMap<LevelId, usize>,
}

impl Pathway {
    /// The loader's constructor: `carepath_workflows::parse` checks every rule (levels exist,
    /// hours bands, ASAM codes, gates) before it calls this. Anything else building a
    /// pathway by hand takes that responsibility on itself.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        name: String,
        version: u32,
        settings: Settings,
        levels: Vec<Level>,
        admission_levels: Vec<LevelId>,
        admission_gates: Vec<Gate>,
        transitions: Vec<TransitionRule>,
        discharges: Vec<DischargeRule>,
    ) -> Self {
        let index = levels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id.clone(), i))
            .collect();
        Self {
            id,
            name,
            version,
            settings,
            levels,
            admission_levels,
            admission_gates,
            transitions,
            discharges,
            index,
        }
    }

    pub fn level(&self, id: &LevelId) -> Option<&Level> {
        self.index.get(id).map(|&i| &self.levels[i])
    }

    pub fn level_by_str(&self, id: &str) -> Option<&Level> {
        self.levels.iter().find(|l| l.id.as_str() == id)
    }

    /// The rule that allows `kind` from `from` (None: a discharged client) to `to`.
    pub fn transition_rule(
        &self,
        kind: TransitionKind,
        from: Option<&LevelId>,
        to: &LevelId,
    ) -> Option<&TransitionRule> {
        self.transitions
            .iter()
            .find(|r| r.kind == kind && r.from.as_ref() == from && r.to.contains(to))
    }

    /// Every (kind, target) the pathway allows from `from`.
    pub fn allowed_from(&self, from: Option<&LevelId>) -> Vec<AllowedMove> {
        let mut moves: Vec<AllowedMove> = self
            .transitions
            .iter()
            .filter(|r| r.from.as_ref() == from)
            .flat_map(|r| {
                r.to.iter().map(|to| AllowedMove::Transition {
                    kind: r.kind,
                    to: to.clone(),
                })
            })
            .collect();
        if let Some(level) = from {
            moves.extend(
                self.discharges
                    .iter()
                    .filter(|d| d.from.contains(level))
                    .map(|d| AllowedMove::Discharge { kind: d.kind }),
            );
        }
        moves
    }

    pub fn discharge_rule(&self, kind: DischargeKind, from: &LevelId) -> Option<&DischargeRule> {
        self.discharges
            .iter()
            .find(|d| d.kind == kind && d.from.contains(from))
    }
}

/// A move that is allowed from some state: reported with an illegal-transition error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "move", rename_all = "snake_case")]
pub enum AllowedMove {
    Admission { to: LevelId },
    Transition { kind: TransitionKind, to: LevelId },
    Discharge { kind: DischargeKind },
}

impl fmt::Display for AllowedMove {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowedMove::Admission { to } => write!(f, "admission to {to}"),
            AllowedMove::Transition { kind, to } => write!(f, "{kind} to {to}"),
            AllowedMove::Discharge { kind } => write!(f, "discharge ({kind})"),
        }
    }
}
