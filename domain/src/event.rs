//! Care events: what happened, appended to the client's log and (through the outbox)
//! published. Payloads carry the minimum necessary: ids, levels, dates and codes; never names,
//! never free text.

use super::command::{GateOverride, TimerKind};
use super::gates::GateReason;
use super::state::*;
use crate::ids::*;
use crate::pathway::{DischargeKind, Gate, LevelId, TransitionKind};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One entry in a client's event log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CareEvent {
    pub id: EventId,
    pub client: ClientId,
    /// 1, 2, 3… per client, with no gap.
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// The level the event concerns (routing: `<aggregate>.<event>.<level>`).
    pub level: Option<LevelId>,
    /// The organization that caused it; `None` for the engine's own timers.
    pub actor_org: Option<OrgId>,
    /// The organization the event is addressed to, when it is not the record holder: its
    /// publication is a disclosure and carries the 42 CFR 2.32 notice.
    pub recipient_org: Option<OrgId>,
    pub data: EventData,
}

impl CareEvent {
    pub fn event_type(&self) -> &'static str {
        self.data.event_type()
    }
}

/// A gate's standing, as reported in readiness queries and refusals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GateReport {
    pub gate: Gate,
    pub met: bool,
    /// Why, in the engine's words (the API's `unmet[].why`, the refusal's message): `reason`
    /// said.
    pub why: String,
    /// Why, as data: what `why` is built from, for an adapter to say in its own words.
    #[serde(skip)]
    pub reason: GateReason,
}

impl GateReport {
    pub fn new(gate: Gate, met: bool, reason: GateReason) -> Self {
        GateReport {
            gate,
            met,
            why: reason.to_string(),
            reason,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventData {
    #[serde(rename = "client.registered")]
    ClientRegistered { home_org: OrgId },
    #[serde(rename = "client.admitted")]
    ClientAdmitted {
        episode: EpisodeId,
        level: LevelId,
        provider: OrgId,
        readmission: bool,
        /// The accepted referral this admission used.
        referral: Option<ReferralId>,
        overridden: Vec<GateOverride>,
    },
    #[serde(rename = "consent.recorded")]
    ConsentRecorded {
        consent: ConsentId,
        recipients: Vec<OrgId>,
        expiry: ConsentExpiry,
    },
    #[serde(rename = "consent.revoked")]
    ConsentRevoked { consent: ConsentId },
    #[serde(rename = "referral.sent")]
    ReferralSent {
        referral: ReferralId,
        group: ReferralGroupId,
        provider: OrgId,
        to_level: LevelId,
        answer_by: DateTime<Utc>,
        consent: Option<ConsentId>,
    },
    #[serde(rename = "referral.acknowledged")]
    ReferralAcknowledged {
        referral: ReferralId,
        provider: OrgId,
        to_level: LevelId,
    },
    /// A slot is held for the client at the provider until the handoff or the hold's end.
    #[serde(rename = "referral.accepted")]
    ReferralAccepted {
        referral: ReferralId,
        provider: OrgId,
        to_level: LevelId,
        /// Until when the slot is held if no handoff starts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hold_until: Option<DateTime<Utc>>,
        /// The engine gave the referral a freed slot from the provider's waitlist.
        #[serde(default)]
        from_waitlist: bool,
    },
    #[serde(rename = "referral.waitlisted")]
    ReferralWaitlisted {
        referral: ReferralId,
        provider: OrgId,
        to_level: LevelId,
    },
    #[serde(rename = "referral.declined")]
    ReferralDeclined {
        referral: ReferralId,
        provider: OrgId,
        to_level: LevelId,
        reason: DeclineCode,
    },
    #[serde(rename = "referral.withdrawn")]
    ReferralWithdrawn {
        referral: ReferralId,
        provider: OrgId,
        to_level: LevelId,
        reason: WithdrawReason,
    },
    #[serde(rename = "referral.expired")]
    ReferralExpired {
        referral: ReferralId,
        provider: OrgId,
        to_level: LevelId,
        /// No referral of its group is still open or used: a person must act.
        escalate: bool,
        /// An accepted referral whose hold ran out unused (not an unanswered one): its slot
        /// was released.
        #[serde(default)]
        hold_released: bool,
    },
    /// A referral group ran out (every provider declined, let it expire or let its hold
    /// lapse): for the case manager named on the episode (`None`: the organization's case
    /// managers, none being named). The record holder's only.
    #[serde(rename = "referral.escalated")]
    ReferralEscalated {
        group: ReferralGroupId,
        to_level: LevelId,
        case_manager: Option<StaffId>,
    },
    #[serde(rename = "assessment.recorded")]
    AssessmentRecorded {
        assessment: AssessmentId,
        recommended_level: LevelId,
    },
    #[serde(rename = "mat.plan.recorded")]
    MatPlanRecorded {
        medication: Medication,
        /// The last day without a gap if nothing more is booked.
        covered_through: NaiveDate,
    },
    #[serde(rename = "mat.plan.ended")]
    MatPlanEnded,
    /// The client's display name or record number was recorded or corrected — which, and
    /// to what, is not said (it never leaves the organization's own store).
    #[serde(rename = "client.identity_recorded")]
    IdentityRecorded,
    #[serde(rename = "aftercare.scheduled")]
    AftercareScheduled {
        booking: BookingId,
        provider: OrgId,
        kind: AftercareKind,
        at: DateTime<Utc>,
    },
    #[serde(rename = "aftercare.appointment.attended")]
    AftercareAttended {
        booking: BookingId,
        provider: OrgId,
        kind: AftercareKind,
        /// Who reported it (`None`: before the capacity was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reported_by: Option<ReportedBy>,
    },
    #[serde(rename = "aftercare.appointment.missed")]
    AftercareMissed {
        booking: BookingId,
        provider: OrgId,
        kind: AftercareKind,
        /// Who reported it (`None`: before the capacity was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reported_by: Option<ReportedBy>,
    },
    #[serde(rename = "aftercare.appointment.cancelled")]
    AftercareCancelled { booking: BookingId, provider: OrgId },
    #[serde(rename = "aftercare.appointment.rescheduled")]
    AftercareRescheduled {
        booking: BookingId,
        provider: OrgId,
        at: DateTime<Utc>,
    },
    /// An OTP dose (take-home doses included) or an injection was given.
    #[serde(rename = "mat.dose.dispensed")]
    MatDoseDispensed {
        booking: BookingId,
        provider: OrgId,
        kind: MatBookingKind,
        /// The last day covered now.
        covered_through: Option<NaiveDate>,
        /// Who reported it (`None`: before the capacity was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reported_by: Option<ReportedBy>,
    },
    #[serde(rename = "mat.refill.picked_up")]
    MatRefillPickedUp {
        booking: BookingId,
        provider: OrgId,
        covered_through: Option<NaiveDate>,
        /// Who reported it (`None`: before the capacity was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reported_by: Option<ReportedBy>,
    },
    #[serde(rename = "mat.visit.attended")]
    MatVisitAttended {
        booking: BookingId,
        provider: OrgId,
        /// Who reported it (`None`: before the capacity was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reported_by: Option<ReportedBy>,
    },
    #[serde(rename = "mat.booking.missed")]
    MatBookingMissed {
        booking: BookingId,
        provider: OrgId,
        kind: MatBookingKind,
        /// Who reported it (`None`: before the capacity was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reported_by: Option<ReportedBy>,
    },
    #[serde(rename = "mat.booking.cancelled")]
    MatBookingCancelled { booking: BookingId, provider: OrgId },
    #[serde(rename = "mat.booking.rescheduled")]
    MatBookingRescheduled {
        booking: BookingId,
        provider: OrgId,
        on: NaiveDate,
    },
    #[serde(rename = "mat.refill.scheduled")]
    MatRefillScheduled {
        booking: BookingId,
        provider: OrgId,
        kind: MatBookingKind,
        on: NaiveDate,
    },
    #[serde(rename = "handoff.planned")]
    HandoffPlanned {
        target: HandoffTarget,
        on: NaiveDate,
        /// What still has to be booked or recorded.
        unmet: Vec<Gate>,
        /// The MAT supply's last covered day, so refills can be booked in time.
        mat_covered_through: Option<NaiveDate>,
    },
    #[serde(rename = "handoff.ready")]
    HandoffReady {
        target: HandoffTarget,
        on: NaiveDate,
    },
    /// The client left the sending placement for the receiving provider, which holds a
    /// slot until arrival.
    #[serde(rename = "handoff.started")]
    HandoffStarted {
        kind: TransitionKind,
        from_level: LevelId,
        to_level: LevelId,
        from_provider: OrgId,
        to_provider: OrgId,
        referral: Option<ReferralId>,
        arrive_by: DateTime<Utc>,
        overridden: Vec<GateOverride>,
    },
    /// The client did not arrive: by the deadline, or the provider reported a no-show. The
    /// slot held for the client is released.
    #[serde(rename = "handoff.missed")]
    HandoffMissed {
        /// `None` for a transfer out (to an organization outside the pathway's levels).
        to_level: Option<LevelId>,
        provider: OrgId,
        referral: Option<ReferralId>,
        arrive_by: DateTime<Utc>,
        reason: MissReason,
        /// Who reported it (`None`: before the capacity was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reported_by: Option<ReportedBy>,
    },
    /// A client transferred out arrived: confirmed by the receiving organization.
    #[serde(rename = "transfer.arrived")]
    TransferArrived {
        provider: OrgId,
        episode: EpisodeId,
        /// Who reported it (`None`: before the capacity was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reported_by: Option<ReportedBy>,
    },
    /// The client is at the new level: on arrival confirmed by the receiving provider, or at
    /// once for a move within one organization.
    #[serde(rename = "transition.completed")]
    TransitionCompleted {
        kind: TransitionKind,
        from_level: LevelId,
        to_level: LevelId,
        from_provider: OrgId,
        to_provider: OrgId,
        referral: Option<ReferralId>,
        overridden: Vec<GateOverride>,
        /// Who reported it (`None`: before the capacity was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reported_by: Option<ReportedBy>,
    },
    #[serde(rename = "discharge.planned")]
    DischargePlanned {
        kind: DischargeKind,
        on: NaiveDate,
        from_level: LevelId,
    },
    #[serde(rename = "discharge.completed")]
    DischargeCompleted {
        kind: DischargeKind,
        episode: EpisodeId,
        from_level: LevelId,
        from_provider: OrgId,
        to_provider: Option<OrgId>,
        overridden: Vec<GateOverride>,
    },
    /// Against advice or administrative: never blocked, always a reason for outreach.
    #[serde(rename = "discharge.unplanned")]
    DischargeUnplanned {
        kind: DischargeKind,
        episode: EpisodeId,
        from_level: LevelId,
        from_provider: OrgId,
        at_risk: bool,
    },
    #[serde(rename = "review.due")]
    ReviewDue { level: LevelId, episode: EpisodeId },
    /// An attended visit (aftercare, a MAT visit or dose, an arrival at a lower level) on a
    /// date after the exit from withdrawal management or residential care, through day
    /// `days` (HEDIS FUI): at the check's due time, or later when a visit in the window is
    /// reported after a miss (the check re-judged; `report_delay_days` after the visit).
    #[serde(rename = "followup.met")]
    FollowupMet {
        days: u32,
        episode: EpisodeId,
        provider: OrgId,
        /// The exit the check follows (`None`: a check armed before exits were named).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit: Option<EventId>,
        /// A re-judged check: days from the visit to its report.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        report_delay_days: Option<u32>,
    },
    #[serde(rename = "followup.missed")]
    FollowupMissed {
        days: u32,
        episode: EpisodeId,
        /// The exit the check follows (`None`: a check armed before exits were named).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit: Option<EventId>,
    },
    /// The client went back to high-intensity care within the longest follow-up window of
    /// an exit: as HEDIS counts it, only the last exit counts, so this check of the earlier
    /// one no longer does (met, missed or still pending).
    #[serde(rename = "followup.superseded")]
    FollowupSuperseded {
        days: u32,
        episode: EpisodeId,
        exit: EventId,
    },
    /// Out of reach of care: a missed arrival, a no-show with nothing booked since, a MAT
    /// supply run out with nothing dispensed.
    #[serde(rename = "client.lost_to_care")]
    ClientLostToCare { reason: LostReason },
    /// Back in reach of care after being lost to it.
    #[serde(rename = "client.reengaged")]
    ClientReengaged { reason: LostReason },
    /// The staff member responsible for the episode changed (escalations go to them).
    #[serde(rename = "episode.case_manager_assigned")]
    CaseManagerAssigned {
        episode: EpisodeId,
        staff: StaffId,
        previous: Option<StaffId>,
    },
    /// A move disclosed the record without consent on a declared medical emergency
    /// (42 CFR 2.51): for the record holder's review. The reason is in the disclosure
    /// accounting, not here.
    #[serde(rename = "disclosure.emergency")]
    DisclosureEmergency {
        provider: OrgId,
        level: LevelId,
        /// The admission or transition event that made the disclosure.
        event: EventId,
    },
}

impl EventData {
    /// Every event type the engine emits.
    pub const TYPES: [&'static str; 45] = [
        "client.registered",
        "client.admitted",
        "client.identity_recorded",
        "consent.recorded",
        "consent.revoked",
        "referral.sent",
        "referral.acknowledged",
        "referral.accepted",
        "referral.waitlisted",
        "referral.declined",
        "referral.withdrawn",
        "referral.expired",
        "referral.escalated",
        "assessment.recorded",
        "mat.plan.recorded",
        "mat.plan.ended",
        "aftercare.scheduled",
        "aftercare.appointment.attended",
        "aftercare.appointment.missed",
        "aftercare.appointment.cancelled",
        "aftercare.appointment.rescheduled",
        "mat.dose.dispensed",
        "mat.refill.picked_up",
        "mat.visit.attended",
        "mat.booking.missed",
        "mat.booking.cancelled",
        "mat.booking.rescheduled",
        "mat.refill.scheduled",
        "handoff.planned",
        "handoff.ready",
        "handoff.started",
        "handoff.missed",
        "transfer.arrived",
        "transition.completed",
        "discharge.planned",
        "discharge.completed",
        "discharge.unplanned",
        "review.due",
        "followup.met",
        "followup.missed",
        "followup.superseded",
        "client.lost_to_care",
        "client.reengaged",
        "episode.case_manager_assigned",
        "disclosure.emergency",
    ];

    pub fn event_type(&self) -> &'static str {
        match self {
            EventData::ClientRegistered { .. } => "client.registered",
            EventData::ClientAdmitted { .. } => "client.admitted",
            EventData::ConsentRecorded { .. } => "consent.recorded",
            EventData::ConsentRevoked { .. } => "consent.revoked",
            EventData::ReferralSent { .. } => "referral.sent",
            EventData::ReferralAcknowledged { .. } => "referral.acknowledged",
            EventData::ReferralAccepted { .. } => "referral.accepted",
            EventData::ReferralWaitlisted { .. } => "referral.waitlisted",
            EventData::ReferralDeclined { .. } => "referral.declined",
            EventData::ReferralWithdrawn { .. } => "referral.withdrawn",
            EventData::ReferralExpired { .. } => "referral.expired",
            EventData::ReferralEscalated { .. } => "referral.escalated",
            EventData::AssessmentRecorded { .. } => "assessment.recorded",
            EventData::MatPlanRecorded { .. } => "mat.plan.recorded",
            EventData::MatPlanEnded => "mat.plan.ended",
            EventData::IdentityRecorded => "client.identity_recorded",
            EventData::AftercareScheduled { .. } => "aftercare.scheduled",
            EventData::AftercareAttended { .. } => "aftercare.appointment.attended",
            EventData::AftercareMissed { .. } => "aftercare.appointment.missed",
            EventData::AftercareCancelled { .. } => "aftercare.appointment.cancelled",
            EventData::AftercareRescheduled { .. } => "aftercare.appointment.rescheduled",
            EventData::MatDoseDispensed { .. } => "mat.dose.dispensed",
            EventData::MatRefillPickedUp { .. } => "mat.refill.picked_up",
            EventData::MatVisitAttended { .. } => "mat.visit.attended",
            EventData::MatBookingMissed { .. } => "mat.booking.missed",
            EventData::MatBookingCancelled { .. } => "mat.booking.cancelled",
            EventData::MatBookingRescheduled { .. } => "mat.booking.rescheduled",
            EventData::MatRefillScheduled { .. } => "mat.refill.scheduled",
            EventData::HandoffPlanned { .. } => "handoff.planned",
            EventData::HandoffReady { .. } => "handoff.ready",
            EventData::HandoffStarted { .. } => "handoff.started",
            EventData::HandoffMissed { .. } => "handoff.missed",
            EventData::TransferArrived { .. } => "transfer.arrived",
            EventData::TransitionCompleted { .. } => "transition.completed",
            EventData::DischargePlanned { .. } => "discharge.planned",
            EventData::DischargeCompleted { .. } => "discharge.completed",
            EventData::DischargeUnplanned { .. } => "discharge.unplanned",
            EventData::ReviewDue { .. } => "review.due",
            EventData::FollowupMet { .. } => "followup.met",
            EventData::FollowupMissed { .. } => "followup.missed",
            EventData::FollowupSuperseded { .. } => "followup.superseded",
            EventData::ClientLostToCare { .. } => "client.lost_to_care",
            EventData::CaseManagerAssigned { .. } => "episode.case_manager_assigned",
            EventData::ClientReengaged { .. } => "client.reengaged",
            EventData::DisclosureEmergency { .. } => "disclosure.emergency",
        }
    }
}

/// A timer to (re)arm or disarm, persisted with the decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TimerOp {
    Schedule {
        key: String,
        due_at: DateTime<Utc>,
        kind: TimerKind,
    },
    Cancel {
        key: String,
    },
}

/// A record of client information going to another organization (42 CFR 2.24 accounting).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Disclosure {
    pub recipient: OrgId,
    pub consent: Option<ConsentId>,
    /// The legal basis when no consent covers it (e.g. a medical emergency, 42 CFR 2.51).
    #[serde(default)]
    pub legal_basis: Option<String>,
    pub what: String,
    pub event: EventId,
    pub at: DateTime<Utc>,
}

/// In what capacity an arrival, a no-show or what became of a booking was reported: by the
/// side that saw it, or relayed by the sender (who relayed it, in words, stays in the
/// client's record: `ClientState::relayed_reports`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportedBy {
    /// The receiving side: the provider the client went to, the clinic, prescriber,
    /// pharmacy or OTP of the booking.
    Receiver,
    /// The sender (the record holder's case manager, a coordinator) recording a report the
    /// receiving side gave by other means.
    Relayed,
}

impl ReportedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportedBy::Receiver => "receiver",
            ReportedBy::Relayed => "relayed",
        }
    }
}

/// Why a handoff was missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissReason {
    /// The arrival deadline passed.
    Deadline,
    /// The receiving provider reported that the client did not come.
    NoShow,
}

/// A change in a provider's slots at a level: those occupied by clients in care and those
/// held for clients on their way (an accepted referral, a handoff under way). Both count
/// against capacity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OccupancyChange {
    pub provider: OrgId,
    pub level: LevelId,
    pub occupied: i32,
    pub held: i32,
}

impl OccupancyChange {
    pub fn occupy(provider: OrgId, level: LevelId, delta: i32) -> Self {
        Self {
            provider,
            level,
            occupied: delta,
            held: 0,
        }
    }

    pub fn hold(provider: OrgId, level: LevelId, delta: i32) -> Self {
        Self {
            provider,
            level,
            occupied: 0,
            held: delta,
        }
    }
}
