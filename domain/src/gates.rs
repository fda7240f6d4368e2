//! Gate evaluation: is what the client needs on the other side of a move in place?

use super::error::DecisionError;
use super::event::GateReport;
use super::state::*;
use crate::ids::OrgId;
use crate::pathway::{AllowedMove, DischargeKind, Gate, LevelId, Pathway, TransitionKind};
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// A move being checked: where to, with whom, on which day.
#[derive(Clone, Debug)]
pub struct MoveCheck<'a> {
    /// Target level; `None` for a discharge.
    pub to_level: Option<&'a LevelId>,
    /// Receiving organization, when known.
    pub provider: Option<OrgId>,
    /// Day of the move.
    pub on: NaiveDate,
}

/// Evaluate `gates` for a move of `state` at `now`.
pub fn evaluate(
    state: &ClientState,
    pathway: &Pathway,
    gates: &[Gate],
    mv: &MoveCheck<'_>,
    now: DateTime<Utc>,
) -> Vec<GateReport> {
    gates
        .iter()
        .map(|&gate| {
            let (met, why) = match gate {
                Gate::AcceptedReferral => accepted_referral(state, mv),
                Gate::Consent => consent(state, mv, now),
                Gate::AftercareAppointment => aftercare(state, pathway, mv),
                Gate::MatContinuity => mat_continuity(state, pathway, now),
                Gate::Reassessment => reassessment(state, pathway, mv, now),
            };
            GateReport { gate, met, why }
        })
        .collect()
}

fn accepted_referral(state: &ClientState, mv: &MoveCheck<'_>) -> (bool, String) {
    let Some(level) = mv.to_level else {
        return (true, "no target level".into());
    };
    if let (Some(p), Some(placement)) = (mv.provider, &state.placement)
        && p == placement.provider
        && &placement.level == level
    {
        return (true, "same provider, same level: no referral needed".into());
    }
    let accepted = state.referrals.iter().find(|r| {
        r.status == ReferralStatus::Accepted
            && &r.to_level == level
            && mv.provider.is_none_or(|p| p == r.provider)
    });
    match accepted {
        Some(r) => (
            true,
            format!("referral {} accepted by organization {}", r.id, r.provider),
        ),
        None => {
            let pending = state
                .referrals
                .iter()
                .filter(|r| r.status == ReferralStatus::Pending && &r.to_level == level)
                .count();
            let whom = mv
                .provider
                .map(|p| format!(" by organization {p}"))
                .unwrap_or_default();
            (
                false,
                format!("no referral to {level} accepted{whom} ({pending} pending)"),
            )
        }
    }
}

fn consent(state: &ClientState, mv: &MoveCheck<'_>, now: DateTime<Utc>) -> (bool, String) {
    let Some(org) = mv.provider else {
        return (true, "no receiving organization".into());
    };
    if state.is_inside(org) {
        return (
            true,
            "no disclosure: the organization already holds the record".into(),
        );
    }
    match state.active_consent_for(org, now) {
        Some(c) => (true, format!("consent {} names organization {org}", c.id)),
        None => (
            false,
            format!("no active 42 CFR Part 2 consent names organization {org}"),
        ),
    }
}

fn aftercare(state: &ClientState, pathway: &Pathway, mv: &MoveCheck<'_>) -> (bool, String) {
    let window = pathway.settings.aftercare_window_days;
    let last = mv.on + Duration::days(i64::from(window));
    let hit = state
        .aftercare
        .iter()
        .filter(|a| counts(&a.outcome))
        .filter(|a| {
            let day = a.at.date_naive();
            day >= mv.on && day <= last
        })
        .min_by_key(|a| a.at);
    match hit {
        Some(a) => (
            true,
            format!("appointment {} booked on {}", a.id, a.at.date_naive()),
        ),
        None => (
            false,
            format!(
                "no aftercare appointment booked between {} and {last}",
                mv.on
            ),
        ),
    }
}

/// The last day the current MAT plan covers without a new booking, if there is a plan.
pub fn mat_covered_through(state: &ClientState, pathway: &Pathway) -> Option<NaiveDate> {
    let plan = state.mat_plan.as_ref()?;
    match plan.medication {
        Medication::NaltrexoneXr => plan
            .last_injection_on
            .map(|d| d + Duration::days(i64::from(pathway.settings.xr_naltrexone_interval_days))),
        _ => plan.supply_through,
    }
}

fn mat_continuity(state: &ClientState, pathway: &Pathway, now: DateTime<Utc>) -> (bool, String) {
    let Some(plan) = &state.mat_plan else {
        return (true, "no active MAT plan".into());
    };
    let today = now.date_naive();
    let Some(through) = mat_covered_through(state, pathway) else {
        return (false, "the MAT plan has no supply or injection date".into());
    };
    let deadline = through.max(today);
    let next = state
        .mat_bookings
        .iter()
        .filter(|b| b.outcome.is_none() && plan.medication.continued_by(b.kind) && b.on >= today)
        .min_by_key(|b| b.on);
    let med = plan.medication.as_str();
    match next {
        Some(b) if b.on <= deadline => (
            true,
            format!(
                "{med} covered through {through}; next {:?} booked on {}",
                b.kind, b.on
            ),
        ),
        // A gap day is a day with no dose in hand: a booking on `through + 1` leaves none,
        // but no margin either (one late pickup would be a missed dose).
        Some(b) => match (b.on - through).num_days() - 1 {
            gap if gap <= 0 => (
                false,
                format!(
                    "{med} covered through {through}; next booking on {} leaves no margin: book it on or before {deadline}",
                    b.on
                ),
            ),
            gap => (
                false,
                format!(
                    "{med} covered through {through}; next booking on {} leaves {gap} gap day{}",
                    b.on,
                    if gap == 1 { "" } else { "s" }
                ),
            ),
        },
        None => (
            false,
            format!("{med} covered through {through}; nothing booked on or before {deadline}"),
        ),
    }
}

fn reassessment(
    state: &ClientState,
    pathway: &Pathway,
    mv: &MoveCheck<'_>,
    now: DateTime<Utc>,
) -> (bool, String) {
    let Some(level) = mv.to_level else {
        return (true, "no target level".into());
    };
    let max_age = pathway.settings.reassessment_max_age_days;
    let since = now - Duration::days(i64::from(max_age));
    let hit = state
        .assessments
        .iter()
        .filter(|a| &a.recommended_level == level && a.assessed_at >= since)
        .max_by_key(|a| a.assessed_at);
    match hit {
        Some(a) => (
            true,
            format!(
                "assessment {} on {} recommends {level}",
                a.id,
                a.assessed_at.date_naive()
            ),
        ),
        None => (
            false,
            format!("no assessment in the last {max_age} days recommends {level}"),
        ),
    }
}

/// A visit that meets a follow-up check: where, and on which day it took place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FollowupVisit {
    pub provider: OrgId,
    pub on: NaiveDate,
}

/// Whether a visit on `on` falls in the window of a `days`-day check of an exit on
/// `exit_on`, as HEDIS FUI counts it: calendar days, on a date after the exit's, through day
/// `days` — a visit on the exit's own date does not count, one late on day `days` does.
pub fn in_followup_window(exit_on: NaiveDate, days: u32, on: NaiveDate) -> bool {
    on > exit_on && on <= exit_on + Duration::days(i64::from(days))
}

/// When a `days`-day check of an exit on `exit_on` is judged: as its window's last day ends
/// (midnight, UTC).
pub fn followup_due(exit_on: NaiveDate, days: u32) -> DateTime<Utc> {
    (exit_on + Duration::days(i64::from(days) + 1))
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
}

/// The first visit that meets a `days`-day check of an exit on `exit_on` (from a level
/// followed up on exit) — an aftercare appointment or a MAT visit, dose or refill kept, or an
/// arrival at a level whose exit starts no follow-up of its own (a lower level of care) — on
/// a date in its window ([`in_followup_window`]). What was only booked does not count; a
/// visit counts on the day it took place, whenever it was reported. The follow-up timer's
/// answer, a late report's re-judgment, and the worklists' "follow-up due".
pub fn followup_visit(
    state: &ClientState,
    pathway: &Pathway,
    exit_on: NaiveDate,
    days: u32,
) -> Option<FollowupVisit> {
    let window = |on: NaiveDate| in_followup_window(exit_on, days, on);
    let kept = |o: &Option<BookingOutcome>| o.is_some_and(|o| o.attendance == Attendance::Attended);
    let appointments = state
        .aftercare
        .iter()
        .filter(|a| kept(&a.outcome))
        .map(|a| (a.at.date_naive(), a.provider));
    let mat = state
        .mat_bookings
        .iter()
        .filter(|b| kept(&b.outcome))
        .map(|b| (b.on, b.provider));
    let arrivals = state
        .placements
        .iter()
        .filter(|p| pathway.level(&p.level).is_some_and(|l| !l.followup_on_exit))
        .map(|p| (p.since.date_naive(), p.provider));
    appointments
        .chain(mat)
        .chain(arrivals)
        .filter(|(on, _)| window(*on))
        .min_by_key(|(on, _)| *on)
        .map(|(on, provider)| FollowupVisit { provider, on })
}

/// Whether a booking missed at `missed_at` was answered: something else booked since, or the
/// client back in care since (else the no-show check counts the client lost to care).
pub fn missed_booking_answered(
    state: &ClientState,
    booking: crate::ids::BookingId,
    missed_at: DateTime<Utc>,
) -> bool {
    let since_then = |at: DateTime<Utc>| at > missed_at;
    let rebooked = state
        .aftercare
        .iter()
        .any(|a| a.id != booking && since_then(a.booked_at))
        || state
            .mat_bookings
            .iter()
            .any(|b| b.id != booking && since_then(b.booked_at));
    let back_in_care = state.status == ClientStatus::Active
        && state
            .placement
            .as_ref()
            .is_some_and(|p| since_then(p.since));
    rebooked || back_in_care
}

/// The gates the pathway requires for `target` from the client's current level, or why the
/// move is not allowed at all.
pub fn required_gates(
    state: &ClientState,
    pathway: &Pathway,
    target: &HandoffTarget,
) -> Result<Vec<Gate>, DecisionError> {
    let from = state
        .level()
        .filter(|_| state.status == ClientStatus::Active);
    let rule = from.and(match target {
        HandoffTarget::Transition { kind, to_level, .. } => pathway
            .transition_rule(*kind, from, to_level)
            .map(|r| r.gates.clone()),
        HandoffTarget::Discharge { kind, .. } => from
            .and_then(|l| pathway.discharge_rule(*kind, l))
            .map(|r| r.gates.clone()),
    });
    rule.ok_or_else(|| DecisionError::InvalidTransition {
        from: from.map_or_else(|| state.status.as_str().to_owned(), |l| l.to_string()),
        attempted: match target {
            HandoffTarget::Transition { kind, to_level, .. } => format!("{kind} to {to_level}"),
            HandoffTarget::Discharge { kind, .. } => format!("discharge ({kind})"),
        },
        allowed: pathway.allowed_from(from),
    })
}

/// The move a handoff target describes, on a given day.
pub fn target_check(target: &HandoffTarget, on: NaiveDate) -> MoveCheck<'_> {
    match target {
        HandoffTarget::Transition {
            to_level, provider, ..
        } => MoveCheck {
            to_level: Some(to_level),
            provider: *provider,
            on,
        },
        HandoffTarget::Discharge { provider, .. } => MoveCheck {
            to_level: None,
            provider: *provider,
            on,
        },
    }
}

/// The organization a move to `to_level` goes to: the one named; else the provider that
/// accepted the referral for that level; else, for a lateral move, the current one.
pub fn receiving_provider(
    state: &ClientState,
    kind: TransitionKind,
    to_level: &LevelId,
    named: Option<OrgId>,
) -> Option<OrgId> {
    named
        .or_else(|| {
            state
                .referrals
                .iter()
                .find(|r| r.status == ReferralStatus::Accepted && &r.to_level == to_level)
                .map(|r| r.provider)
        })
        .or_else(|| {
            (kind == TransitionKind::Lateral)
                .then(|| state.placement.as_ref().map(|p| p.provider))
                .flatten()
        })
}

/// What a readiness check asks about: the move to a level (of whichever kind the pathway
/// allows from where the client is), or a discharge.
#[derive(Clone, Debug, PartialEq)]
pub enum ReadinessAsk {
    MoveTo {
        level: LevelId,
        provider: Option<OrgId>,
    },
    Discharge {
        kind: DischargeKind,
        provider: Option<OrgId>,
    },
}

/// The moves the pathway allows from where the client is: admissions for a client never
/// admitted, readmissions for a discharged one, the level's moves for one in care. On the way
/// to a provider only a discharge (leaving care in transit); after a missed arrival, the
/// moves from the level the client left (a re-route).
pub fn allowed_moves(state: &ClientState, pathway: &Pathway) -> Vec<AllowedMove> {
    match (state.status, &state.transit) {
        (ClientStatus::Registered, _) => pathway
            .admission_levels
            .iter()
            .map(|l| AllowedMove::Admission { to: l.clone() })
            .collect(),
        (ClientStatus::Discharged, _) => pathway.allowed_from(None),
        (ClientStatus::Active, _) => pathway.allowed_from(state.level()),
        (ClientStatus::InTransit, Some(t)) => {
            let moves = pathway.allowed_from(Some(&t.from_level));
            if t.missed {
                moves
            } else {
                moves
                    .into_iter()
                    .filter(|m| matches!(m, AllowedMove::Discharge { .. }))
                    .collect()
            }
        }
        (ClientStatus::InTransit, None) => Vec::new(),
    }
}

/// The move a readiness check is about, resolved as the move itself would be: the pathway's
/// transition from the client's level to the one asked, to the organization it would go to
/// ([`receiving_provider`]), so its consent gate is the one the move will meet.
pub fn readiness_target(
    state: &ClientState,
    pathway: &Pathway,
    ask: ReadinessAsk,
) -> Result<HandoffTarget, DecisionError> {
    match ask {
        ReadinessAsk::MoveTo { level, provider } => {
            let from = state.level();
            let kind = pathway
                .transitions
                .iter()
                .find(|t| t.from.as_ref() == from && t.to.contains(&level))
                .map(|t| t.kind)
                .ok_or_else(|| DecisionError::InvalidTransition {
                    from: from.map_or_else(|| state.status.as_str().to_owned(), |l| l.to_string()),
                    attempted: format!("a move to {level}"),
                    allowed: pathway.allowed_from(from),
                })?;
            let provider = receiving_provider(state, kind, &level, provider);
            Ok(HandoffTarget::Transition {
                kind,
                to_level: level,
                provider,
            })
        }
        ReadinessAsk::Discharge { kind, provider } => {
            Ok(HandoffTarget::Discharge { kind, provider })
        }
    }
}

/// Each gate a move would need, met or not, with why: the discharge-readiness answer.
pub fn readiness(
    state: &ClientState,
    pathway: &Pathway,
    target: &HandoffTarget,
    on: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<GateReport>, DecisionError> {
    let required = required_gates(state, pathway, target)?;
    Ok(evaluate(
        state,
        pathway,
        &required,
        &target_check(target, on),
        now,
    ))
}

/// What the planned handoff still needs booked: its aftercare-appointment and MAT-continuity
/// gates that are not met on the planned day (what a coordinator's booking meets). Nothing
/// with no handoff planned, or one the pathway no longer allows from where the client is.
pub fn bookings_needed(
    state: &ClientState,
    pathway: &Pathway,
    now: DateTime<Utc>,
) -> Vec<GateReport> {
    let Some(handoff) = &state.handoff else {
        return Vec::new();
    };
    readiness(state, pathway, &handoff.target, handoff.on, now)
        .unwrap_or_default()
        .into_iter()
        .filter(|g| !g.met && matches!(g.gate, Gate::AftercareAppointment | Gate::MatContinuity))
        .collect()
}
