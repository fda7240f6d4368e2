//! A client's care events in words, newest first, as the record holder reads them.

use crate::words::{self, Names, day, moment};
use carepath_engine::domain::{CareEvent, EventData, MissReason};

/// One line of the timeline.
pub struct Line {
    pub at: String,
    pub text: String,
    /// Who did it: the organization, or Carepath itself (a deadline, a timer).
    pub by: String,
}

/// What an event says, in a sentence.
pub fn sentence(names: &Names<'_>, e: &CareEvent) -> String {
    use EventData as E;
    let org = |o| names.org(o);
    let level = |l| names.level(l);
    match &e.data {
        E::ClientRegistered { .. } => "Registered.".into(),
        E::ClientAdmitted {
            level: l,
            provider,
            readmission,
            overridden,
            ..
        } => format!(
            "{} to {} at {}{}.",
            if *readmission {
                "Readmitted"
            } else {
                "Admitted"
            },
            level(l),
            org(provider),
            overrides(overridden.len())
        ),
        E::ConsentRecorded { recipients, .. } => format!(
            "Consent recorded naming {}.",
            recipients.iter().map(org).collect::<Vec<_>>().join(", ")
        ),
        E::ConsentRevoked { .. } => "A consent was revoked.".into(),
        E::ReferralSent {
            provider,
            to_level,
            answer_by,
            ..
        } => format!(
            "Referral to {} sent to {}; answer due by {}.",
            level(to_level),
            org(provider),
            moment(*answer_by)
        ),
        E::ReferralAcknowledged { provider, .. } => {
            format!("{} acknowledged the referral.", org(provider))
        }
        E::ReferralAccepted {
            provider,
            to_level,
            hold_until,
            from_waitlist,
            ..
        } => format!(
            "{} accepted the referral to {}{}{}.",
            org(provider),
            level(to_level),
            if *from_waitlist {
                " from its waitlist"
            } else {
                ""
            },
            hold_until.map_or_else(String::new, |h| format!(
                "; the slot is held until {}",
                moment(h)
            ))
        ),
        E::ReferralWaitlisted { provider, .. } => {
            format!("{} put the referral on its waitlist.", org(provider))
        }
        E::ReferralDeclined {
            provider, reason, ..
        } => format!(
            "{} declined the referral: {}.",
            org(provider),
            words::decline(*reason)
        ),
        E::ReferralWithdrawn { provider, .. } => {
            format!("The referral to {} was withdrawn.", org(provider))
        }
        E::ReferralExpired { provider, .. } => {
            format!("The referral to {} expired unanswered.", org(provider))
        }
        E::ReferralEscalated { to_level, .. } => format!(
            "Every referral to {} ran out: escalated to the case manager.",
            level(to_level)
        ),
        E::AssessmentRecorded {
            recommended_level, ..
        } => format!(
            "Assessment recorded, recommending {}.",
            level(recommended_level)
        ),
        E::MatPlanRecorded {
            medication,
            covered_through,
        } => format!(
            "MAT plan: {}, covered through {}.",
            words::medication(*medication),
            day(*covered_through)
        ),
        E::MatPlanEnded => "The MAT plan ended.".into(),
        E::IdentityRecorded => "Name or record number updated.".into(),
        E::AftercareScheduled {
            provider, kind, at, ..
        } => format!(
            "Aftercare booked: {} at {} on {}.",
            words::aftercare(*kind),
            org(provider),
            moment(*at)
        ),
        E::AftercareAttended {
            provider,
            kind,
            reported_by,
            ..
        } => format!(
            "Attended the {} at {}{}.",
            words::aftercare(*kind),
            org(provider),
            reported(*reported_by)
        ),
        E::AftercareMissed {
            provider,
            kind,
            reported_by,
            ..
        } => format!(
            "Missed the {} at {}{}.",
            words::aftercare(*kind),
            org(provider),
            reported(*reported_by)
        ),
        E::AftercareCancelled { provider, .. } => {
            format!(
                "The aftercare appointment at {} was cancelled.",
                org(provider)
            )
        }
        E::AftercareRescheduled { provider, at, .. } => format!(
            "The aftercare appointment at {} moved to {}.",
            org(provider),
            moment(*at)
        ),
        E::MatDoseDispensed {
            provider,
            kind,
            covered_through,
            ..
        } => format!(
            "MAT {} given at {}{}.",
            words::mat_booking(*kind),
            org(provider),
            covered(*covered_through)
        ),
        E::MatRefillPickedUp {
            provider,
            covered_through,
            ..
        } => format!(
            "MAT refill picked up at {}{}.",
            org(provider),
            covered(*covered_through)
        ),
        E::MatVisitAttended { provider, .. } => {
            format!("Attended the prescriber visit at {}.", org(provider))
        }
        E::MatBookingMissed { provider, kind, .. } => format!(
            "Missed the MAT {} at {}.",
            words::mat_booking(*kind),
            org(provider)
        ),
        E::MatBookingCancelled { provider, .. } => {
            format!("The MAT booking at {} was cancelled.", org(provider))
        }
        E::MatBookingRescheduled { provider, on, .. } => format!(
            "The MAT booking at {} moved to {}.",
            org(provider),
            day(*on)
        ),
        E::MatRefillScheduled {
            provider, kind, on, ..
        } => format!(
            "MAT {} booked at {} on {}.",
            words::mat_booking(*kind),
            org(provider),
            day(*on)
        ),
        E::HandoffPlanned {
            target: t,
            on,
            unmet,
            ..
        } => format!(
            "Planned: {} on {}{}.",
            names.target(t),
            day(*on),
            if unmet.is_empty() {
                "; everything it needs is in place".to_owned()
            } else {
                format!("; {} still to do", count(unmet.len(), "thing"))
            }
        ),
        E::HandoffReady { target: t, on } => format!(
            "Ready: {} on {} — every gate is met.",
            names.target(t),
            day(*on)
        ),
        E::HandoffStarted {
            kind,
            from_level,
            to_level,
            to_provider,
            arrive_by,
            overridden,
            ..
        } => format!(
            "Left {} for a {} to {} at {}; expected by {}{}.",
            level(from_level),
            words::transition(*kind),
            level(to_level),
            org(to_provider),
            moment(*arrive_by),
            overrides(overridden.len())
        ),
        E::HandoffMissed {
            provider,
            reason,
            reported_by,
            ..
        } => format!(
            "Did not arrive at {}{}{}.",
            org(provider),
            match reason {
                MissReason::Deadline => " by the deadline",
                MissReason::NoShow => ": reported as a no-show",
            },
            reported(*reported_by)
        ),
        E::TransferArrived {
            provider,
            reported_by,
            ..
        } => {
            format!(
                "Arrived at {} after the transfer{}.",
                org(provider),
                reported(*reported_by)
            )
        }
        E::TransitionCompleted {
            kind,
            to_level,
            to_provider,
            reported_by,
            ..
        } => format!(
            "Arrived at {} at {} ({}){}.",
            level(to_level),
            org(to_provider),
            words::transition(*kind),
            reported(*reported_by)
        ),
        E::DischargePlanned { kind, on, .. } => {
            format!(
                "Discharge set for {}: {}.",
                day(*on),
                words::discharge(*kind)
            )
        }
        E::DischargeCompleted {
            kind, from_level, ..
        } => format!(
            "Discharged from {}: {}.",
            level(from_level),
            words::discharge(*kind)
        ),
        E::DischargeUnplanned {
            kind,
            from_level,
            at_risk,
            ..
        } => format!(
            "Left {}: {}{}.",
            level(from_level),
            words::discharge(*kind),
            if *at_risk {
                " — at risk, reach out"
            } else {
                ""
            }
        ),
        E::ReviewDue { level: l, .. } => format!("Continued-stay review due at {}.", level(l)),
        E::FollowupMet {
            days,
            provider,
            report_delay_days,
            ..
        } => match report_delay_days {
            Some(late) => format!(
                "Follow-up within {days} days kept after all, at {} (reported {late} days after the visit).",
                org(provider)
            ),
            None => format!("Follow-up within {days} days kept, at {}.", org(provider)),
        },
        E::FollowupSuperseded { days, .. } => format!(
            "The {days}-day follow-up no longer counts: back in high-intensity care within 30 days of that exit."
        ),
        E::FollowupMissed { days, .. } => format!("No follow-up within {days} days."),
        E::ClientLostToCare { reason } => format!("Lost to care: {}.", words::lost(*reason)),
        E::ClientReengaged { .. } => "Back in touch with care.".into(),
        E::CaseManagerAssigned { .. } => "A case manager was named for the episode.".into(),
        E::DisclosureEmergency {
            provider, level: l, ..
        } => format!(
            "Disclosed to {} for {} on a medical emergency (42 CFR 2.51).",
            org(provider),
            level(l)
        ),
        #[allow(unreachable_patterns)]
        _ => format!("{}.", e.event_type()),
    }
}

/// Who reported it: the receiving side, or the sender relaying its report.
fn reported(by: Option<carepath_engine::domain::ReportedBy>) -> &'static str {
    match by {
        Some(carepath_engine::domain::ReportedBy::Receiver) => " — reported by the provider",
        Some(carepath_engine::domain::ReportedBy::Relayed) => {
            " — relayed by the referring side, not by the provider"
        }
        None => "",
    }
}

fn covered(through: Option<chrono::NaiveDate>) -> String {
    through.map_or_else(String::new, |d| format!("; covered through {}", day(d)))
}

fn overrides(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({} overridden)", count(n, "gate"))
    }
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The timeline, newest first.
pub fn lines(names: &Names<'_>, events: &[CareEvent]) -> Vec<Line> {
    events
        .iter()
        .rev()
        .map(|e| Line {
            at: moment(e.at),
            text: sentence(names, e),
            by: match &e.actor_org {
                Some(o) => format!("by {}", names.org(o)),
                None => "by Carepath (a deadline or a timer)".to_owned(),
            },
        })
        .collect()
}
