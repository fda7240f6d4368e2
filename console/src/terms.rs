//! The words the inbox, worklist and measures pages use for the engine's codes (statuses,
//! reasons, kinds of booking), for durations against now, and for a client as a person reads
//! them: by name where the engine shows it, never by id.

use crate::words::Names;
use carepath_engine::domain::{
    AftercareKind, Attendance, DeclineCode, HandoffTarget, LostReason, MatBookingKind,
    ReferralStatus, VisibleClient,
};
use carepath_engine::ids::ClientId;
use chrono::{DateTime, Utc};

pub fn referral_status(s: ReferralStatus) -> &'static str {
    match s {
        ReferralStatus::Pending => "New: waiting for your answer",
        ReferralStatus::Acknowledged => "Seen: waiting for your answer",
        ReferralStatus::Waitlisted => "On your waitlist",
        ReferralStatus::Accepted => "Accepted: a slot is held",
        ReferralStatus::Scheduled => "On the way to you",
        ReferralStatus::Declined => "Declined",
        ReferralStatus::Withdrawn => "Withdrawn",
        ReferralStatus::Expired => "Expired",
        ReferralStatus::Completed => "Arrived",
        ReferralStatus::NoShow => "Did not arrive",
    }
}

/// Each decline reason: its form value and its words (the denial log of 105 CMR 164.070).
pub const DECLINE_REASONS: [(DeclineCode, &str, &str); 6] = [
    (DeclineCode::NoCapacity, "no_capacity", "No open slot"),
    (
        DeclineCode::ClinicalCriteriaNotMet,
        "clinical_criteria_not_met",
        "Clinical criteria not met",
    ),
    (
        DeclineCode::InsuranceNotAccepted,
        "insurance_not_accepted",
        "Insurance not accepted",
    ),
    (
        DeclineCode::ClientDeclined,
        "client_declined",
        "The client declined",
    ),
    (
        DeclineCode::MedicalNeedsExceedProgram,
        "medical_needs_exceed_program",
        "Medical needs beyond the program",
    ),
    (DeclineCode::Other, "other", "Another reason"),
];

/// A decline reason by its form value.
pub fn decline_code(value: &str) -> Option<DeclineCode> {
    DECLINE_REASONS
        .iter()
        .find(|(_, v, _)| *v == value)
        .map(|(c, _, _)| *c)
}

/// A decline reason's words by the value the report writes for it (its snake-case name).
pub fn decline_words(value: &str) -> &'static str {
    DECLINE_REASONS
        .iter()
        .find(|(_, v, _)| *v == value)
        .map_or("Another reason", |(_, _, w)| w)
}

/// Each kind of aftercare appointment with its form value (its words: `words::aftercare`).
pub const AFTERCARE_KINDS: [(AftercareKind, &str); 5] = [
    (AftercareKind::Outpatient, "outpatient"),
    (AftercareKind::Prescriber, "prescriber"),
    (AftercareKind::Counseling, "counseling"),
    (AftercareKind::PeerRecovery, "peer_recovery"),
    (AftercareKind::PrimaryCare, "primary_care"),
];

pub fn aftercare_kind(value: &str) -> Option<AftercareKind> {
    AFTERCARE_KINDS
        .iter()
        .find(|(_, v)| *v == value)
        .map(|(k, _)| *k)
}

pub const MAT_KINDS: [MatBookingKind; 4] = [
    MatBookingKind::Refill,
    MatBookingKind::PrescriberVisit,
    MatBookingKind::OtpDosing,
    MatBookingKind::Injection,
];

pub fn mat_kind(value: &str) -> Option<MatBookingKind> {
    MAT_KINDS.into_iter().find(|k| k.as_str() == value)
}

pub fn mat_words(kind: MatBookingKind) -> &'static str {
    match kind {
        MatBookingKind::Refill => "Refill",
        MatBookingKind::PrescriberVisit => "Prescriber visit",
        MatBookingKind::OtpDosing => "OTP dosing",
        MatBookingKind::Injection => "Injection",
    }
}

pub fn lost_reason(r: LostReason) -> &'static str {
    match r {
        LostReason::MissedArrival => "never arrived where a handoff took them",
        LostReason::MissedAppointment => "missed an appointment, nothing booked since",
        LostReason::MatSupplyLapsed => "MAT supply ran out with nothing dispensed",
    }
}

pub fn attendance(a: Attendance) -> &'static str {
    match a {
        Attendance::Attended => "kept",
        Attendance::NoShow => "missed",
        Attendance::Cancelled => "cancelled",
    }
}

/// "a step down to Intensive outpatient at Riverside" / "a planned discharge".
pub fn handoff(names: &Names<'_>, target: &HandoffTarget) -> String {
    match target {
        HandoffTarget::Transition {
            kind,
            to_level,
            provider,
        } => {
            let kind = match kind.as_str() {
                "step_down" => "a step down",
                "step_up" => "a step up",
                "lateral" => "a move",
                _ => "a readmission",
            };
            let at = provider.map_or_else(String::new, |p| format!(" at {}", names.org(&p)));
            format!("{kind} to {}{at}", names.level(to_level))
        }
        HandoffTarget::Discharge { kind, provider } => {
            let kind = match kind.as_str() {
                "planned" => "a planned discharge",
                "against_medical_advice" => "a discharge against medical advice",
                "administrative" => "an administrative discharge",
                _ => "a transfer out",
            };
            let to = provider.map_or_else(String::new, |p| format!(" to {}", names.org(&p)));
            format!("{kind}{to}")
        }
    }
}

/// "in 3 hours", "2 days ago", "now".
pub fn from_now(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let d = t - now;
    let (ahead, d) = if d >= chrono::Duration::zero() {
        (true, d)
    } else {
        (false, -d)
    };
    let span = if d.num_days() >= 2 {
        format!("{} days", d.num_days())
    } else if d.num_hours() >= 2 {
        format!("{} hours", d.num_hours())
    } else if d.num_minutes() >= 2 {
        format!("{} minutes", d.num_minutes())
    } else {
        return "now".into();
    };
    if ahead {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// How a person reads a client: the name the organization recorded (and its record number),
/// or, with none recorded or shown, a short reference to tell clients apart.
pub fn client_label(
    id: ClientId,
    identity: Option<&carepath_engine::domain::ClientIdentity>,
) -> String {
    match identity {
        Some(i) => match &i.record_number {
            Some(n) => format!("{} ({n})", i.display_name),
            None => i.display_name.clone(),
        },
        None => format!("Unnamed client, ref. {}", short_ref(id)),
    }
}

/// The first eight hex digits of a client's id: what a person can say on the phone.
pub fn short_ref(id: ClientId) -> String {
    id.0.simple().to_string()[..8].to_owned()
}

/// Where a client is now, in words.
pub fn whereabouts(names: &Names<'_>, s: &VisibleClient) -> String {
    match (&s.placement, &s.transit) {
        (Some(p), _) => format!("{} at {}", names.level(&p.level), names.org(&p.provider)),
        (None, Some(t)) => format!(
            "on the way to {} at {}",
            names.level(&t.to_level),
            names.org(&t.provider)
        ),
        (None, None) => match s.status.as_str() {
            "discharged" => "discharged".into(),
            _ => "not admitted".into(),
        },
    }
}

/// `client_label` of a client as its reader sees it: its name where the view shows it.
pub fn label_of(client: &VisibleClient) -> String {
    client_label(client.id, client.identity.shown().and_then(Option::as_ref))
}
