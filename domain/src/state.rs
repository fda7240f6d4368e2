//! The client aggregate: everything the decision core needs to know about one client.
//! Stored as one JSON document beside its version; the columns the queries filter on are
//! projected from it in the same transaction.

use crate::ids::*;
use crate::pathway::{DischargeKind, LevelId, TransitionKind};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientState {
    pub id: ClientId,
    /// The organization whose case managers hold the client's record.
    pub home_org: OrgId,
    pub birth_year: Option<i32>,
    /// Bumped by one for every accepted command.
    pub version: i64,
    /// Sequence number of the client's last care event.
    pub last_seq: i64,
    pub status: ClientStatus,
    pub episode: Option<Episode>,
    pub placement: Option<Placement>,
    pub consents: Vec<Consent>,
    pub referrals: Vec<Referral>,
    pub assessments: Vec<Assessment>,
    pub mat_plan: Option<MatPlan>,
    pub mat_bookings: Vec<MatBooking>,
    pub aftercare: Vec<AftercareAppointment>,
    pub handoff: Option<PlannedHandoff>,
    pub last_discharge: Option<DischargeRecord>,
    /// A move under way: the client left the sending placement and has not yet arrived.
    #[serde(default)]
    pub transit: Option<Transit>,
    /// Open while the client is out of reach of care (a missed arrival, a missed appointment
    /// with nothing booked since, a MAT supply run out); closed by re-engagement.
    #[serde(default)]
    pub lost_to_care: Option<LostToCare>,
    /// A transfer out under way: discharged to an organization that has yet to confirm the
    /// client arrived.
    #[serde(default)]
    pub transfer: Option<PendingTransfer>,
    /// Every placement the client started, in order (the levels of each episode over time).
    #[serde(default)]
    pub placements: Vec<PlacementRecord>,
    /// A referral group that ran out (every provider declined, let it expire or let its hold
    /// lapse) with nothing sent since: the episode's case manager must act.
    #[serde(default)]
    pub escalation: Option<Escalation>,
    /// Reports the sender relayed (an arrival, a no-show, a booking's outcome the receiving
    /// side gave by phone), with who reported them: kept here, never in an event.
    #[serde(default)]
    pub relayed_reports: Vec<RelayedReport>,
    /// The follow-up checks (HEDIS FUI) armed by exits from high-intensity care.
    #[serde(default)]
    pub followups: Vec<FollowupCheck>,
}

/// A report recorded by someone other than the side that saw it: the event that recorded
/// it, who recorded it, and their note of who reported it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayedReport {
    pub event: EventId,
    pub at: DateTime<Utc>,
    pub org: OrgId,
    #[serde(default)]
    pub staff: Option<StaffId>,
    pub note: String,
}

impl std::fmt::Debug for RelayedReport {
    /// The note is free text: never in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayedReport")
            .field("event", &self.event)
            .field("at", &self.at)
            .field("org", &self.org)
            .field("staff", &self.staff)
            .finish_non_exhaustive()
    }
}

/// A follow-up check (HEDIS FUI) of one exit from high-intensity care: a visit on a date
/// after `exit_on`, through day `days`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FollowupCheck {
    pub episode: EpisodeId,
    /// The event of the exit (a discharge, a departure to a lower level, a missed handoff).
    pub exit: EventId,
    /// The day the client left high-intensity care.
    pub exit_on: NaiveDate,
    pub days: u32,
    /// Its timer's key.
    pub timer: String,
    /// `Some(met)` once judged (at its due time, again when a late report meets it).
    pub met: Option<bool>,
    /// The client went back to high-intensity care within the window: only the later exit
    /// counts.
    #[serde(default)]
    pub superseded: bool,
}

/// A referral group that ran out, waiting for its case manager to send it on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    pub group: ReferralGroupId,
    pub to_level: LevelId,
    pub since: DateTime<Utc>,
    /// Whom it went to: the episode's case manager at the time (`None`: the organization's
    /// case managers, none being named).
    pub case_manager: Option<StaffId>,
}

/// A placement as it started: where, and when the client arrived.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlacementRecord {
    pub episode: EpisodeId,
    pub level: LevelId,
    pub provider: OrgId,
    pub since: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientStatus {
    /// Known, not yet admitted.
    Registered,
    /// In care at a level with a provider.
    Active,
    /// Between levels: left the sending placement, not yet arrived at the receiving one.
    InTransit,
    /// Discharged; may be readmitted.
    Discharged,
}

impl ClientStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientStatus::Registered => "registered",
            ClientStatus::Active => "active",
            ClientStatus::InTransit => "in_transit",
            ClientStatus::Discharged => "discharged",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub id: EpisodeId,
    pub number: u32,
    pub admitted_at: DateTime<Utc>,
    /// The case manager responsible for the episode: who admitted it, or whom the
    /// organization assigned (`AssignCaseManager`). An expired referral group escalates to them.
    #[serde(default)]
    pub case_manager: Option<StaffId>,
}

/// A client at a level with a provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    pub level: LevelId,
    pub provider: OrgId,
    pub planned_hours_per_week: f32,
    /// E.g. "evening" or "virtual".
    pub track: Option<String>,
    pub since: DateTime<Utc>,
    /// The key of the pending continued-stay review timer.
    pub review_timer: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "date", rename_all = "snake_case")]
pub enum ConsentExpiry {
    /// Expires at the start of this day (UTC).
    On(NaiveDate),
    /// Covers one episode of care — the one open when it was signed, or for a consent signed
    /// between episodes the next admitted — and ends when that episode's aftercare window
    /// closes: the discharge and the follow-up after it (the pathway's last follow-up check or
    /// a transfer out's arrival deadline, whichever is later, and a day's margin). So the
    /// discharge itself, the receiving provider's arrival check and the 7- and 30-day
    /// follow-ups go out under it; nothing after.
    EndOfTreatment,
    /// No expiry: only for a consent whose purpose is treatment, payment or health care
    /// operations ([`is_tpo_purpose`]; 42 CFR 2.31(a)(6), 2024 rule).
    Never,
}

/// Whether a consent's stated purpose is treatment, payment or health care operations (TPO)
/// and nothing else — the only purposes for which 42 CFR 2.31(a)(6) lets a consent say "none"
/// for its expiry. The purpose is the person's words: each of its parts (split at commas,
/// semicolons, slashes, "and", "or", "&") must name one of them — treatment (care
/// coordination, the coordination of care, is treatment), payment, or (health care)
/// operations; any other part (research, a court, an employer) makes it not TPO.
pub fn is_tpo_purpose(purpose: &str) -> bool {
    const TPO: [&str; 9] = [
        "treatment",
        "payment",
        "operations",
        "health care operations",
        "healthcare operations",
        "health-care operations",
        "care coordination",
        "coordination of care",
        "tpo",
    ];
    let words = purpose.to_lowercase();
    let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut parts = vec![words.as_str()];
    for sep in [",", ";", "/", "&", " and ", " or "] {
        parts = parts.into_iter().flat_map(|p| p.split(sep)).collect();
    }
    let parts: Vec<&str> = parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    !parts.is_empty() && parts.iter().all(|p| TPO.contains(p))
}

/// A 42 CFR Part 2 consent to disclose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    pub id: ConsentId,
    /// The organizations that may receive the record.
    pub recipients: Vec<OrgId>,
    pub purpose: String,
    /// What information may be disclosed.
    pub information: String,
    pub expiry: ConsentExpiry,
    pub signed_on: NaiveDate,
    pub recorded_at: DateTime<Utc>,
    /// The episode it covers (for end-of-treatment expiry): the one open when it was signed,
    /// or, signed between episodes, the next admitted (bound at admission).
    pub episode: Option<EpisodeId>,
    /// When an end-of-treatment consent ends: set at the discharge that ends its episode.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Where a referral stands, as HL7 BSeR / Gravity SDOHCC track the loop (docs/domain.md gives
/// the mapping to FHIR Task status and BSeR business status).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    /// Sent, awaiting an answer (Task `requested`).
    Pending,
    /// The provider has seen it and not yet answered (Task `received`).
    Acknowledged,
    /// The provider will take the client when a slot frees (EpisodeOfCare `waitlist`).
    Waitlisted,
    /// Accepted: a slot is held for the client (Task `accepted`, BSeR 3.0).
    Accepted,
    /// The client is on the way: the handoff started with this referral (BSeR 5.1.1).
    Scheduled,
    /// Task `rejected` with a reason (BSeR 4.0).
    Declined,
    /// Task `cancelled` (BSeR 6.0).
    Withdrawn,
    /// No answer before the deadline, or a hold that was never used (Task `failed`).
    Expired,
    /// The client arrived (Task `completed`, BSeR 7.0 "event completed").
    Completed,
    /// The client did not arrive (BSeR 5.1.2, unattended).
    NoShow,
}

impl ReferralStatus {
    pub const ALL: [ReferralStatus; 10] = [
        ReferralStatus::Pending,
        ReferralStatus::Acknowledged,
        ReferralStatus::Waitlisted,
        ReferralStatus::Accepted,
        ReferralStatus::Scheduled,
        ReferralStatus::Declined,
        ReferralStatus::Withdrawn,
        ReferralStatus::Expired,
        ReferralStatus::Completed,
        ReferralStatus::NoShow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReferralStatus::Pending => "pending",
            ReferralStatus::Acknowledged => "acknowledged",
            ReferralStatus::Waitlisted => "waitlisted",
            ReferralStatus::Accepted => "accepted",
            ReferralStatus::Scheduled => "scheduled",
            ReferralStatus::Declined => "declined",
            ReferralStatus::Withdrawn => "withdrawn",
            ReferralStatus::Expired => "expired",
            ReferralStatus::Completed => "completed",
            ReferralStatus::NoShow => "no_show",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The answers the provider may still give a referral in this status: the one table of
    /// them, which `decide` checks each answer against and the pages ask before offering a
    /// form. Every other status takes no answer.
    pub fn answers(self) -> &'static [ReferralAnswer] {
        use ReferralAnswer::*;
        match self {
            ReferralStatus::Pending => &[Acknowledge, Accept, Waitlist, Decline],
            ReferralStatus::Acknowledged => &[Accept, Waitlist, Decline],
            ReferralStatus::Waitlisted => &[Decline],
            ReferralStatus::Accepted
            | ReferralStatus::Scheduled
            | ReferralStatus::Declined
            | ReferralStatus::Withdrawn
            | ReferralStatus::Expired
            | ReferralStatus::Completed
            | ReferralStatus::NoShow => &[],
        }
    }

    /// Whether the provider may still give `answer` (the table of [`ReferralStatus::answers`]).
    pub fn allows(self, answer: ReferralAnswer) -> bool {
        self.answers().contains(&answer)
    }

    /// How the referral has gone for the client so far.
    pub fn course(self) -> ReferralCourse {
        match self {
            ReferralStatus::Pending | ReferralStatus::Acknowledged | ReferralStatus::Waitlisted => {
                ReferralCourse::Waiting
            }
            ReferralStatus::Accepted | ReferralStatus::Scheduled | ReferralStatus::Completed => {
                ReferralCourse::Taken
            }
            ReferralStatus::Declined | ReferralStatus::Expired | ReferralStatus::NoShow => {
                ReferralCourse::Failed
            }
            ReferralStatus::Withdrawn => ReferralCourse::Withdrawn,
        }
    }

    /// Sent and not yet answered: the provider may acknowledge, accept, decline or waitlist.
    pub fn awaits_answer(self) -> bool {
        matches!(self, ReferralStatus::Pending | ReferralStatus::Acknowledged)
    }

    /// Whether the record holder may still withdraw it: in play, and the client not yet on the
    /// way with it.
    pub fn withdrawable(self) -> bool {
        self.is_open() && self != ReferralStatus::Scheduled
    }

    /// Still in play: not answered, waitlisted, accepted or under way.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ReferralStatus::Pending
                | ReferralStatus::Acknowledged
                | ReferralStatus::Waitlisted
                | ReferralStatus::Accepted
                | ReferralStatus::Scheduled
        )
    }
}

/// How a referral has gone for the client ([`ReferralStatus::course`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReferralCourse {
    /// No answer yet, or on the provider's waitlist.
    Waiting,
    /// A slot held for the client, the client on the way there, or arrived.
    Taken,
    /// Declined, never answered, or the client never arrived.
    Failed,
    /// The case manager withdrew it, or another provider's acceptance did.
    Withdrawn,
}

/// What a provider may answer a referral addressed to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReferralAnswer {
    /// Seen, the answer still due.
    Acknowledge,
    /// Accepted, a slot held.
    Accept,
    /// On the provider's waitlist until a slot frees.
    Waitlist,
    /// Declined with a reason.
    Decline,
}

impl ReferralAnswer {
    pub const ALL: [ReferralAnswer; 4] = [
        ReferralAnswer::Acknowledge,
        ReferralAnswer::Accept,
        ReferralAnswer::Waitlist,
        ReferralAnswer::Decline,
    ];
}

/// Why a provider declined: kept as the denial log of 105 CMR 164.070.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineCode {
    NoCapacity,
    ClinicalCriteriaNotMet,
    InsuranceNotAccepted,
    ClientDeclined,
    MedicalNeedsExceedProgram,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclineReason {
    pub code: DeclineCode,
    /// The provider's own words; kept in the denial log, never put in events.
    pub note: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawReason {
    CaseManager,
    AnotherProviderAccepted,
    ConsentRevoked,
    ClientDischarged,
    ClientMoved,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Referral {
    pub id: ReferralId,
    pub group: ReferralGroupId,
    pub provider: OrgId,
    pub to_level: LevelId,
    pub status: ReferralStatus,
    pub sent_at: DateTime<Utc>,
    pub answer_by: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub decline: Option<DeclineReason>,
    pub withdraw_reason: Option<WithdrawReason>,
    /// When the provider acknowledged it (time to acknowledge is a measure).
    #[serde(default)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Who reported the arrival or the no-show that ended it (`None`: not ended so, or
    /// recorded before the capacity was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<crate::event::ReportedBy>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub id: AssessmentId,
    pub recommended_level: LevelId,
    /// Risk rating 0-4 in each of the six ASAM dimensions.
    pub dimensions: [u8; 6],
    pub assessed_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Medication {
    Buprenorphine,
    Methadone,
    NaltrexoneOral,
    NaltrexoneXr,
}

impl Medication {
    /// The name it is written under in events and pathways (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            Medication::Buprenorphine => "buprenorphine",
            Medication::Methadone => "methadone",
            Medication::NaltrexoneOral => "naltrexone_oral",
            Medication::NaltrexoneXr => "naltrexone_xr",
        }
    }

    /// Which bookings continue this medication.
    pub fn continued_by(self, kind: MatBookingKind) -> bool {
        match self {
            Medication::Buprenorphine | Medication::NaltrexoneOral => {
                matches!(
                    kind,
                    MatBookingKind::Refill | MatBookingKind::PrescriberVisit
                )
            }
            Medication::Methadone => kind == MatBookingKind::OtpDosing,
            Medication::NaltrexoneXr => kind == MatBookingKind::Injection,
        }
    }
}

/// An active medication-for-addiction-treatment plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatPlan {
    pub medication: Medication,
    /// Last day covered by the supply in hand (buprenorphine, oral naltrexone; methadone
    /// including take-home doses).
    pub supply_through: Option<NaiveDate>,
    /// Extended-release naltrexone: day of the last injection.
    pub last_injection_on: Option<NaiveDate>,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatBookingKind {
    Refill,
    PrescriberVisit,
    OtpDosing,
    Injection,
}

impl MatBookingKind {
    /// The name it is written under in events (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            MatBookingKind::Refill => "refill",
            MatBookingKind::PrescriberVisit => "prescriber_visit",
            MatBookingKind::OtpDosing => "otp_dosing",
            MatBookingKind::Injection => "injection",
        }
    }

    /// The MAT services an organization must provide (any one of them) to take this
    /// booking: methadone for opioid use disorder is dispensed only by an opioid treatment
    /// program (42 CFR Part 8); a buprenorphine or oral naltrexone refill is filled by a
    /// pharmacy or renewed by the prescriber; a prescriber visit is a prescriber's; an
    /// extended-release naltrexone injection is given by a clinic that gives injections.
    pub fn delivered_by(self) -> &'static [MatService] {
        match self {
            MatBookingKind::Refill => &[MatService::Pharmacy, MatService::Prescriber],
            MatBookingKind::PrescriberVisit => &[MatService::Prescriber],
            MatBookingKind::OtpDosing => &[MatService::Otp],
            MatBookingKind::Injection => &[MatService::Injection],
        }
    }
}

/// A medication-for-OUD service an organization provides (it may provide several, or none):
/// what decides which MAT bookings it can take ([`MatBookingKind::delivered_by`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatService {
    /// An opioid treatment program: the only place methadone for OUD is dispensed (dosing,
    /// guest dosing, take-homes).
    Otp,
    /// A practitioner who prescribes buprenorphine or naltrexone: prescriber visits, and
    /// refills renewed (or dispensed) at the office.
    Prescriber,
    /// A pharmacy: fills buprenorphine and oral naltrexone prescriptions.
    Pharmacy,
    /// A prescriber or clinic that gives extended-release naltrexone injections.
    Injection,
}

impl MatService {
    pub const ALL: [MatService; 4] = [
        MatService::Otp,
        MatService::Prescriber,
        MatService::Pharmacy,
        MatService::Injection,
    ];

    /// Its name in storage, on the command line and in messages (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            MatService::Otp => "otp",
            MatService::Prescriber => "prescriber",
            MatService::Pharmacy => "pharmacy",
            MatService::Injection => "injection",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for MatService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatBooking {
    pub id: BookingId,
    pub provider: OrgId,
    pub kind: MatBookingKind,
    pub on: NaiveDate,
    pub booked_at: DateTime<Utc>,
    /// What happened, once the provider or the coordinator said so.
    #[serde(default)]
    pub outcome: Option<BookingOutcome>,
}

/// What became of a booked appointment, MAT dose, refill or injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attendance {
    /// Kept: the visit took place, the dose or refill was dispensed.
    Attended,
    NoShow,
    Cancelled,
}

impl Attendance {
    pub fn as_str(self) -> &'static str {
        match self {
            Attendance::Attended => "attended",
            Attendance::NoShow => "no_show",
            Attendance::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingOutcome {
    pub attendance: Attendance,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who reported a visit kept or missed (`None` for a cancellation, or recorded before
    /// the capacity was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_by: Option<crate::event::ReportedBy>,
}

/// A booking still to happen or kept: what a gate may count on.
pub fn counts(outcome: &Option<BookingOutcome>) -> bool {
    outcome.is_none_or(|o| o.attendance == Attendance::Attended)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AftercareKind {
    Outpatient,
    Prescriber,
    Counseling,
    PeerRecovery,
    PrimaryCare,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AftercareAppointment {
    pub id: BookingId,
    pub provider: OrgId,
    pub kind: AftercareKind,
    pub at: DateTime<Utc>,
    pub booked_at: DateTime<Utc>,
    /// What happened, once the provider or the coordinator said so.
    #[serde(default)]
    pub outcome: Option<BookingOutcome>,
}

/// Where a handoff takes the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "move", rename_all = "snake_case")]
pub enum HandoffTarget {
    Transition {
        kind: TransitionKind,
        to_level: LevelId,
        provider: Option<OrgId>,
    },
    Discharge {
        kind: DischargeKind,
        provider: Option<OrgId>,
    },
}

impl HandoffTarget {
    pub fn provider(&self) -> Option<OrgId> {
        match self {
            HandoffTarget::Transition { provider, .. }
            | HandoffTarget::Discharge { provider, .. } => *provider,
        }
    }
}

/// A handoff announced ahead of time, so coordinators can book what it needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedHandoff {
    pub target: HandoffTarget,
    pub on: NaiveDate,
    /// Whether `handoff.ready` was raised for the current set of met gates.
    pub ready: bool,
}

/// A move under way: the client left `from_level` at `from_provider` and is expected at
/// `to_level` with `provider` by `arrive_by`. A slot is held for the client there until
/// arrival (when it becomes occupancy) or a miss (when it is released).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transit {
    pub kind: TransitionKind,
    pub from_level: LevelId,
    pub from_provider: OrgId,
    pub to_level: LevelId,
    pub provider: OrgId,
    pub planned_hours_per_week: f32,
    pub track: Option<String>,
    /// The accepted referral the move uses, now `scheduled`.
    pub referral: Option<ReferralId>,
    pub overridden: Vec<crate::command::GateOverride>,
    pub departed_at: DateTime<Utc>,
    pub arrive_by: DateTime<Utc>,
    /// The key of the arrival-deadline timer.
    pub timer: String,
    /// Whether the slot at the receiving provider is still held for the client.
    pub holds_slot: bool,
    /// The deadline passed, or the provider reported a no-show.
    pub missed: bool,
}

/// A transfer out to `provider` (outside the pathway's placements), to be confirmed by it
/// before `arrive_by`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingTransfer {
    pub provider: OrgId,
    pub episode: EpisodeId,
    pub departed_at: DateTime<Utc>,
    pub arrive_by: DateTime<Utc>,
    /// The key of the arrival-deadline timer.
    pub timer: String,
    pub missed: bool,
}

/// Why a client is counted lost to care.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LostReason {
    /// Never arrived at the provider a handoff went to.
    MissedArrival,
    /// Missed an appointment and nothing was booked since.
    MissedAppointment,
    /// The MAT supply ran out with nothing dispensed.
    MatSupplyLapsed,
}

impl LostReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LostReason::MissedArrival => "missed_arrival",
            LostReason::MissedAppointment => "missed_appointment",
            LostReason::MatSupplyLapsed => "mat_supply_lapsed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LostToCare {
    pub reason: LostReason,
    pub since: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DischargeRecord {
    pub kind: DischargeKind,
    pub at: DateTime<Utc>,
    pub episode: EpisodeId,
    pub from_level: LevelId,
}

impl ClientState {
    /// A client just registered: no episode, no record of care yet, version 0.
    pub fn new(id: ClientId, home_org: OrgId, birth_year: Option<i32>) -> Self {
        ClientState {
            id,
            home_org,
            birth_year,
            version: 0,
            last_seq: 0,
            status: ClientStatus::Registered,
            episode: None,
            placement: None,
            consents: Vec::new(),
            referrals: Vec::new(),
            assessments: Vec::new(),
            mat_plan: None,
            mat_bookings: Vec::new(),
            aftercare: Vec::new(),
            handoff: None,
            last_discharge: None,
            transit: None,
            lost_to_care: None,
            transfer: None,
            placements: Vec::new(),
            escalation: None,
            relayed_reports: Vec::new(),
            followups: Vec::new(),
        }
    }

    pub fn level(&self) -> Option<&LevelId> {
        self.placement.as_ref().map(|p| &p.level)
    }

    /// Where the client is expected: the placement's level and provider, or while in
    /// transit the receiving ones (the columns the census and lists filter on).
    pub fn whereabouts(&self) -> Option<(&LevelId, OrgId)> {
        match (&self.placement, &self.transit) {
            (Some(p), _) => Some((&p.level, p.provider)),
            (None, Some(t)) => Some((&t.to_level, t.provider)),
            (None, None) => None,
        }
    }

    pub fn referral(&self, id: ReferralId) -> Option<&Referral> {
        self.referrals.iter().find(|r| r.id == id)
    }

    /// Whether a consent is in force at `now` for disclosing to `org`.
    pub fn active_consent_for(&self, org: OrgId, now: DateTime<Utc>) -> Option<&Consent> {
        self.consents
            .iter()
            .filter(|c| c.recipients.contains(&org))
            .find(|c| self.consent_active(c, now))
    }

    /// The level the newest assessment recommends, if the client was assessed.
    pub fn recommended_level(&self) -> Option<&LevelId> {
        self.assessments
            .iter()
            .max_by_key(|a| a.assessed_at)
            .map(|a| &a.recommended_level)
    }

    pub fn consent_active(&self, c: &Consent, now: DateTime<Utc>) -> bool {
        if c.revoked_at.is_some() {
            return false;
        }
        match c.expiry {
            ConsentExpiry::On(day) => now.date_naive() < day,
            ConsentExpiry::Never => true,
            ConsentExpiry::EndOfTreatment => c.ends_at.is_none_or(|end| now < end),
        }
    }

    /// Whether disclosing to `org` needs a consent at all: not for the organization that
    /// holds the record, nor for the provider already treating the client.
    pub fn is_inside(&self, org: OrgId) -> bool {
        org == self.home_org || self.placement.as_ref().is_some_and(|p| p.provider == org)
    }
}
