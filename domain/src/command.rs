//! What callers ask the engine to do to one client.

use super::state::*;
use crate::ids::*;
use crate::pathway::{DischargeKind, Gate, LevelId, TransitionKind};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Who is asking. Authorization is decided in the engine (see `policy`), never by a caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub org: OrgId,
    pub role: Role,
    /// The person, when the caller is one (a token names its staff member); `None` for the
    /// engine's timers and for a broker sender, which speaks for its organization.
    #[serde(default)]
    pub staff: Option<StaffId>,
}

impl Actor {
    /// An organization acting in a role, no person named (a broker sender, the engine).
    pub fn new(org: OrgId, role: Role) -> Self {
        Self {
            org,
            role,
            staff: None,
        }
    }

    /// A staff member of `org` acting in `role`.
    pub fn person(org: OrgId, role: Role, staff: StaffId) -> Self {
        Self {
            org,
            role,
            staff: Some(staff),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    CaseManager,
    Partner,
    AftercareCoordinator,
    Supervisor,
    /// A payer (a health plan, the state's SUD agency): reads — the FHIR API, bulk export —
    /// the services of the clients whose consent names it, for payment; changes nothing.
    Payer,
    /// The engine itself: timers.
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::CaseManager => "case_manager",
            Role::Partner => "partner",
            Role::AftercareCoordinator => "aftercare_coordinator",
            Role::Supervisor => "supervisor",
            Role::Payer => "payer",
            Role::System => "system",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        [
            Role::Admin,
            Role::CaseManager,
            Role::Partner,
            Role::AftercareCoordinator,
            Role::Supervisor,
            Role::Payer,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// How the organization holding the record recognises a client: a display name and its own
/// record number (MRN or external id). Kept beside the record, not in it: never in an event,
/// a log line, a metric or an AMQP message, never in an error message — its `Debug` shows
/// neither value — and shown to another organization only under a consent naming it (as a
/// disclosure).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientIdentity {
    pub display_name: String,
    pub record_number: Option<String>,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientIdentity { .. }")
    }
}

/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 200;
/// Longest record number, in characters.
pub const MAX_RECORD_NUMBER: usize = 64;

/// A supervisor's decision to let a move through without one gate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateOverride {
    pub gate: Gate,
    pub reason: String,
}

/// A clinician's declaration of a bona fide medical emergency (42 CFR 2.51): the client is
/// moved to withdrawal management or residential care at an organization no consent names.
/// The move is a disclosure on that basis, recorded with the reason, and raises
/// `disclosure.emergency` for review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicalEmergency {
    pub reason: String,
}

/// A command and what it comes with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub client: ClientId,
    pub actor: Actor,
    /// The client version the caller last saw; a different current version is a conflict.
    pub expected_version: Option<i64>,
    pub command: Command,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    RegisterClient {
        home_org: OrgId,
        birth_year: Option<i32>,
        /// How the organization recognises the client (kept apart from the record: never
        /// in an event).
        #[serde(default)]
        identity: Option<ClientIdentity>,
    },
    /// Record (or correct) the client's display name and record number.
    RecordIdentity {
        identity: ClientIdentity,
    },
    /// Admit a registered client, or readmit a discharged one.
    Admit {
        level: LevelId,
        provider: OrgId,
        planned_hours_per_week: f32,
        track: Option<String>,
        #[serde(default)]
        overrides: Vec<GateOverride>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        emergency: Option<MedicalEmergency>,
    },
    RecordConsent {
        recipients: Vec<OrgId>,
        purpose: String,
        information: String,
        expiry: ConsentExpiry,
        signed_on: NaiveDate,
    },
    RevokeConsent {
        consent: ConsentId,
    },
    SendReferral {
        to_level: LevelId,
        providers: Vec<OrgId>,
    },
    /// A referral group that ran out (every referral declined, expired or withdrawn) sent
    /// again for the same level to the next providers.
    ResendReferral {
        group: ReferralGroupId,
        providers: Vec<OrgId>,
    },
    /// Name the staff member responsible for the current episode (a case manager or a
    /// supervisor of the organization holding the record).
    AssignCaseManager {
        staff: StaffId,
    },
    /// The receiving provider has seen the referral (it still has to answer).
    AcknowledgeReferral {
        referral: ReferralId,
    },
    /// Accepting holds a slot at the receiving provider until the client arrives.
    AcceptReferral {
        referral: ReferralId,
    },
    /// A provider with no open slot puts the referral on its waitlist; a freed slot goes to
    /// the head of the list.
    WaitlistReferral {
        referral: ReferralId,
    },
    DeclineReferral {
        referral: ReferralId,
        reason: DeclineReason,
    },
    WithdrawReferral {
        referral: ReferralId,
    },
    RecordAssessment {
        recommended_level: LevelId,
        dimensions: [u8; 6],
        assessed_at: Option<DateTime<Utc>>,
    },
    RecordMatPlan {
        medication: Medication,
        supply_through: Option<NaiveDate>,
        last_injection_on: Option<NaiveDate>,
    },
    EndMatPlan,
    ScheduleAftercare {
        provider: OrgId,
        kind: AftercareKind,
        at: DateTime<Utc>,
    },
    ScheduleMatRefill {
        provider: OrgId,
        kind: MatBookingKind,
        on: NaiveDate,
    },
    /// What became of an aftercare appointment or a MAT booking: kept (a visit, a dose or
    /// refill dispensed), missed, cancelled, or moved to another time.
    RecordBookingOutcome {
        booking: BookingId,
        outcome: OutcomeReport,
        /// Who reported it, when the caller is not the booking's provider (see
        /// [`RelayedBy`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        relayed_by: Option<RelayedBy>,
    },
    /// Announce a handoff ahead of time so coordinators can book for it.
    PlanHandoff {
        target: HandoffTarget,
        on: NaiveDate,
    },
    Transition {
        kind: TransitionKind,
        to_level: LevelId,
        /// Defaults to the provider that accepted the referral for `to_level`.
        provider: Option<OrgId>,
        planned_hours_per_week: f32,
        track: Option<String>,
        #[serde(default)]
        overrides: Vec<GateOverride>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        emergency: Option<MedicalEmergency>,
    },
    Discharge {
        kind: DischargeKind,
        /// The receiving organization of a transfer out.
        provider: Option<OrgId>,
        #[serde(default)]
        overrides: Vec<GateOverride>,
    },
    /// The receiving provider confirms that the client in transit arrived: the new
    /// placement starts. The record holder may record it as relayed (see [`RelayedBy`]).
    ConfirmArrival {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        relayed_by: Option<RelayedBy>,
    },
    /// The receiving provider reports that the client in transit did not come.
    ReportNoShow {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        relayed_by: Option<RelayedBy>,
    },
    /// A durable timer came due (sent by the sweeper).
    FireTimer {
        timer: TimerKind,
    },
    /// A slot freed at the provider of a waitlisted referral: the engine offers it to the
    /// head of the waitlist (sent by the sweeper).
    OfferFreedSlot {
        referral: ReferralId,
    },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::RegisterClient { .. } => "register_client",
            Command::RecordIdentity { .. } => "record_identity",
            Command::Admit { .. } => "admit",
            Command::RecordConsent { .. } => "record_consent",
            Command::RevokeConsent { .. } => "revoke_consent",
            Command::SendReferral { .. } => "send_referral",
            Command::ResendReferral { .. } => "resend_referral",
            Command::AssignCaseManager { .. } => "assign_case_manager",
            Command::AcknowledgeReferral { .. } => "acknowledge_referral",
            Command::AcceptReferral { .. } => "accept_referral",
            Command::WaitlistReferral { .. } => "waitlist_referral",
            Command::DeclineReferral { .. } => "decline_referral",
            Command::WithdrawReferral { .. } => "withdraw_referral",
            Command::RecordAssessment { .. } => "record_assessment",
            Command::RecordMatPlan { .. } => "record_mat_plan",
            Command::EndMatPlan => "end_mat_plan",
            Command::ScheduleAftercare { .. } => "schedule_aftercare",
            Command::ScheduleMatRefill { .. } => "schedule_mat_refill",
            Command::RecordBookingOutcome { .. } => "record_booking_outcome",
            Command::PlanHandoff { .. } => "plan_handoff",
            Command::Transition { .. } => "transition",
            Command::Discharge { .. } => "discharge",
            Command::ConfirmArrival { .. } => "confirm_arrival",
            Command::ReportNoShow { .. } => "report_no_show",
            Command::FireTimer { .. } => "fire_timer",
            Command::OfferFreedSlot { .. } => "offer_freed_slot",
        }
    }

    /// Staff members the decision may look at, which the engine loads before deciding.
    pub fn staff(&self) -> Vec<StaffId> {
        match self {
            Command::AssignCaseManager { staff } => vec![*staff],
            _ => Vec::new(),
        }
    }

    /// Organizations the decision may look at, which the engine loads before deciding: those
    /// the command names, and the accepted referrals' providers a transition may default to.
    pub fn orgs(&self, state: Option<&ClientState>) -> Vec<OrgId> {
        match self {
            Command::Transition {
                provider: None,
                to_level,
                ..
            } => state
                .map(|s| {
                    s.referrals
                        .iter()
                        .filter(|r| r.status == ReferralStatus::Accepted && &r.to_level == to_level)
                        .map(|r| r.provider)
                        .chain(s.placement.as_ref().map(|p| p.provider))
                        .collect()
                })
                .unwrap_or_default(),
            Command::RegisterClient { home_org, .. } => vec![*home_org],
            Command::Admit { provider, .. }
            | Command::ScheduleAftercare { provider, .. }
            | Command::ScheduleMatRefill { provider, .. } => vec![*provider],
            Command::RecordConsent { recipients, .. } => recipients.clone(),
            Command::SendReferral { providers, .. } | Command::ResendReferral { providers, .. } => {
                providers.clone()
            }
            Command::PlanHandoff { target, .. } => target.provider().into_iter().collect(),
            Command::Transition { provider, .. } | Command::Discharge { provider, .. } => {
                provider.iter().copied().collect()
            }
            _ => Vec::new(),
        }
    }
}

/// Who reported what happened — an arrival, a no-show, what became of a booking — when the
/// one recording it is not the side that saw it: the sender (the record holder's case
/// manager, a coordinator) relaying the receiving side's report given by other means, e.g.
/// "phone call from intake nurse J. at Riverside". Free text: kept in the client's record
/// (`ClientState::relayed_reports`), never in an event; the event carries only the capacity
/// ([`crate::event::ReportedBy`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayedBy {
    pub note: String,
}

/// Longest note of who relayed a report, in characters.
pub const MAX_RELAYED_NOTE: usize = 500;

impl Command {
    /// The note of who reported it, on a command that reports what happened.
    pub fn relayed_by(&self) -> Option<&RelayedBy> {
        match self {
            Command::ConfirmArrival { relayed_by }
            | Command::ReportNoShow { relayed_by }
            | Command::RecordBookingOutcome { relayed_by, .. } => relayed_by.as_ref(),
            _ => None,
        }
    }
}

/// What a provider, pharmacy or coordinator reports about a booking.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum OutcomeReport {
    /// Kept. For a refill or an OTP dose (take-home doses included), the last day the
    /// supply dispensed covers; an injection covers its interval from the booking's day.
    Attended {
        #[serde(default)]
        supply_through: Option<NaiveDate>,
    },
    NoShow,
    Cancelled,
    /// Moved to another time (still to happen).
    Rescheduled {
        to: DateTime<Utc>,
    },
}

/// What a durable timer is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "timer", rename_all = "snake_case")]
pub enum TimerKind {
    /// The provider has not answered the referral in time.
    ReferralDeadline { referral: ReferralId },
    /// A continued-stay review is due at the client's level.
    ReviewDue { episode: EpisodeId, level: LevelId },
    /// A follow-up check `days` after an exit from high-intensity care (HEDIS FUI: 7 and
    /// 30 days), at `since` (older timers: the last discharge). `exit`: the exit's event,
    /// naming the check in `ClientState::followups` (older timers: none).
    Followup {
        episode: EpisodeId,
        days: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit: Option<EventId>,
    },
    /// A missed appointment or MAT booking: lost to care unless something was booked or kept
    /// since `missed_at`.
    NoShowCheck {
        booking: BookingId,
        missed_at: DateTime<Utc>,
    },
    /// The MAT supply ran out `through` this day and a day passed with nothing dispensed.
    MatLapse { through: NaiveDate },
    /// An accepted referral's hold on a slot runs out unless the handoff started.
    HoldExpiry { referral: ReferralId },
    /// A client in transit had to arrive by now.
    ArrivalDeadline {
        episode: EpisodeId,
        departed_seq: i64,
    },
    /// A client transferred out had to arrive at the receiving organization by now.
    TransferDeadline { episode: EpisodeId },
}

impl TimerKind {
    pub fn name(&self) -> &'static str {
        match self {
            TimerKind::ReferralDeadline { .. } => "referral_deadline",
            TimerKind::ReviewDue { .. } => "review_due",
            TimerKind::Followup { .. } => "followup",
            TimerKind::HoldExpiry { .. } => "hold_expiry",
            TimerKind::NoShowCheck { .. } => "no_show_check",
            TimerKind::MatLapse { .. } => "mat_lapse",
            TimerKind::ArrivalDeadline { .. } => "arrival_deadline",
            TimerKind::TransferDeadline { .. } => "transfer_deadline",
        }
    }
}
