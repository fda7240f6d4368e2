//! Gate evaluation: is what the client needs on the other side of a move in place?

use super::error::DecisionError;
use super::event::GateReport;
use super::state::*;
use crate::ids::{AssessmentId, BookingId, ConsentId, OrgId, ReferralId};
use crate::pathway::{AllowedMove, DischargeKind, Gate, LevelId, Pathway, TransitionKind};
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Why a gate stands as it does, as data: what its sentence is built from (the organizations,
/// levels and dates), for an adapter to say in its own words. Its `Display` is the sentence
/// the API's `why` and the refusal give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GateReason {
    /// Met: a discharge has no target level.
    NoTargetLevel,
    /// Met: the client stays with the same provider at the same level.
    SameProviderSameLevel,
    /// Met: `provider` accepted `referral`.
    ReferralAccepted {
        referral: ReferralId,
        provider: OrgId,
    },
    /// Unmet: no referral to `to_level` accepted (by `provider`, when the move names one);
    /// `pending` of them still unanswered.
    NoReferralAccepted {
        to_level: LevelId,
        provider: Option<OrgId>,
        pending: usize,
    },
    /// Met: no other organization receives the client in this move.
    NoReceivingOrganization,
    /// Met: the receiving organization already holds the record: no disclosure.
    HoldsTheRecord { org: OrgId },
    /// Met: `consent` names the receiving organization.
    ConsentNames { consent: ConsentId, org: OrgId },
    /// Unmet: no 42 CFR Part 2 consent in force names the receiving organization.
    NoConsentNames { org: OrgId },
    /// Met: an aftercare appointment is booked on `on`.
    AftercareBooked {
        appointment: BookingId,
        on: NaiveDate,
    },
    /// Unmet: no aftercare appointment booked in the window `from` through `through`.
    NoAftercareBetween { from: NaiveDate, through: NaiveDate },
    /// Met: no MAT plan to continue.
    NoMatPlan,
    /// Unmet: the MAT plan has no supply or injection date to count from.
    MatPlanUndated,
    /// Met: the supply lasts `through`, and the next booking (`next` on `on`) comes in time.
    MatCovered {
        medication: Medication,
        through: NaiveDate,
        next: MatBookingKind,
        on: NaiveDate,
    },
    /// Unmet: the next booking, on `next_on`, leaves no day in hand to spare: it should be on
    /// or before `book_by`.
    MatNoMargin {
        medication: Medication,
        through: NaiveDate,
        next_on: NaiveDate,
        book_by: NaiveDate,
    },
    /// Unmet: the next booking, on `next_on`, leaves `gap_days` days with no dose in hand.
    MatGap {
        medication: Medication,
        through: NaiveDate,
        next_on: NaiveDate,
        gap_days: i64,
    },
    /// Unmet: nothing booked on or before `book_by`.
    MatNothingBooked {
        medication: Medication,
        through: NaiveDate,
        book_by: NaiveDate,
    },
    /// Met: `assessment`, on `on`, recommends `level`.
    Assessed {
        assessment: AssessmentId,
        on: NaiveDate,
        level: LevelId,
    },
    /// Unmet: no assessment in the last `max_age_days` days recommends `level`.
    NoRecentAssessment { max_age_days: u32, level: LevelId },
}

impl GateReason {
    /// The organization the reason names, if any.
    pub fn org(&self) -> Option<OrgId> {
        match self {
            GateReason::ReferralAccepted { provider, .. } => Some(*provider),
            GateReason::NoReferralAccepted { provider, .. } => *provider,
            GateReason::HoldsTheRecord { org }
            | GateReason::ConsentNames { org, .. }
            | GateReason::NoConsentNames { org } => Some(*org),
            GateReason::NoTargetLevel
            | GateReason::SameProviderSameLevel
            | GateReason::NoReceivingOrganization
            | GateReason::AftercareBooked { .. }
            | GateReason::NoAftercareBetween { .. }
            | GateReason::NoMatPlan
            | GateReason::MatPlanUndated
            | GateReason::MatCovered { .. }
            | GateReason::MatNoMargin { .. }
            | GateReason::MatGap { .. }
            | GateReason::MatNothingBooked { .. }
            | GateReason::Assessed { .. }
            | GateReason::NoRecentAssessment { .. } => None,
        }
    }
}

impl std::fmt::Display for GateReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use GateReason as R;
        match self {
            R::NoTargetLevel => write!(f, "no target level"),
            R::SameProviderSameLevel => {
                write!(f, "same provider, same level: no referral needed")
            }
            R::ReferralAccepted { referral, provider } => {
                write!(f, "referral {referral} accepted by organization {provider}")
            }
            R::NoReferralAccepted {
                to_level,
                provider,
                pending,
            } => {
                write!(f, "no referral to {to_level} accepted")?;
                if let Some(p) = provider {
                    write!(f, " by organization {p}")?;
                }
                write!(f, " ({pending} pending)")
            }
            R::NoReceivingOrganization => write!(f, "no receiving organization"),
            R::HoldsTheRecord { .. } => write!(
                f,
                "no disclosure: the organization already holds the record"
            ),
            R::ConsentNames { consent, org } => {
                write!(f, "consent {consent} names organization {org}")
            }
            R::NoConsentNames { org } => write!(
                f,
                "no active 42 CFR Part 2 consent names organization {org}"
            ),
            R::AftercareBooked { appointment, on } => {
                write!(f, "appointment {appointment} booked on {on}")
            }
            R::NoAftercareBetween { from, through } => write!(
                f,
                "no aftercare appointment booked between {from} and {through}"
            ),
            R::NoMatPlan => write!(f, "no active MAT plan"),
            R::MatPlanUndated => write!(f, "the MAT plan has no supply or injection date"),
            R::MatCovered {
                medication,
                through,
                next,
                on,
            } => write!(
                f,
                "{} covered through {through}; next {next:?} booked on {on}",
                medication.as_str()
            ),
            R::MatNoMargin {
                medication,
                through,
                next_on,
                book_by,
            } => write!(
                f,
                "{} covered through {through}; next booking on {next_on} leaves no margin: book it on or before {book_by}",
                medication.as_str()
            ),
            R::MatGap {
                medication,
                through,
                next_on,
                gap_days,
            } => write!(
                f,
                "{} covered through {through}; next booking on {next_on} leaves {gap_days} gap day{}",
                medication.as_str(),
                if *gap_days == 1 { "" } else { "s" }
            ),
            R::MatNothingBooked {
                medication,
                through,
                book_by,
            } => write!(
                f,
                "{} covered through {through}; nothing booked on or before {book_by}",
                medication.as_str()
            ),
            R::Assessed {
                assessment,
                on,
                level,
            } => write!(f, "assessment {assessment} on {on} recommends {level}"),
            R::NoRecentAssessment {
                max_age_days,
                level,
            } => write!(
                f,
                "no assessment in the last {max_age_days} days recommends {level}"
            ),
        }
    }
}

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
            let (met, reason) = match gate {
                Gate::AcceptedReferral => accepted_referral(state, mv),
                Gate::Consent => consent(state, mv, now),
                Gate::AftercareAppointment => aftercare(state, pathway, mv),
                Gate::MatContinuity => mat_continuity(state, pathway, now),
                Gate::Reassessment => reassessment(state, pathway, mv, now),
            };
            GateReport::new(gate, met, reason)
        })
        .collect()
}

fn accepted_referral(state: &ClientState, mv: &MoveCheck<'_>) -> (bool, GateReason) {
    let Some(level) = mv.to_level else {
        return (true, GateReason::NoTargetLevel);
    };
    if let (Some(p), Some(placement)) = (mv.provider, &state.placement)
        && p == placement.provider
        && &placement.level == level
    {
        return (true, GateReason::SameProviderSameLevel);
    }
    let accepted = state.referrals.iter().find(|r| {
        r.status == ReferralStatus::Accepted
            && &r.to_level == level
            && mv.provider.is_none_or(|p| p == r.provider)
    });
    match accepted {
        Some(r) => (
            true,
            GateReason::ReferralAccepted {
                referral: r.id,
                provider: r.provider,
            },
        ),
        None => {
            let pending = state
                .referrals
                .iter()
                .filter(|r| r.status == ReferralStatus::Pending && &r.to_level == level)
                .count();
            (
                false,
                GateReason::NoReferralAccepted {
                    to_level: level.clone(),
                    provider: mv.provider,
                    pending,
                },
            )
        }
    }
}

fn consent(state: &ClientState, mv: &MoveCheck<'_>, now: DateTime<Utc>) -> (bool, GateReason) {
    let Some(org) = mv.provider else {
        return (true, GateReason::NoReceivingOrganization);
    };
    if state.is_inside(org) {
        return (true, GateReason::HoldsTheRecord { org });
    }
    match state.active_consent_for(org, now) {
        Some(c) => (true, GateReason::ConsentNames { consent: c.id, org }),
        None => (false, GateReason::NoConsentNames { org }),
    }
}

/// The days an aftercare appointment meets the gate for a move on `on`: that day through the
/// pathway's window after it.
pub fn aftercare_window(pathway: &Pathway, on: NaiveDate) -> (NaiveDate, NaiveDate) {
    let window = pathway.settings.aftercare_window_days;
    (on, on + Duration::days(i64::from(window)))
}

/// The aftercare window of the planned handoff, when its move needs an aftercare appointment.
pub fn planned_aftercare_window(
    state: &ClientState,
    pathway: &Pathway,
) -> Option<(NaiveDate, NaiveDate)> {
    let h = state.handoff.as_ref()?;
    required_gates(state, pathway, &h.target)
        .ok()?
        .contains(&Gate::AftercareAppointment)
        .then(|| aftercare_window(pathway, h.on))
}

fn aftercare(state: &ClientState, pathway: &Pathway, mv: &MoveCheck<'_>) -> (bool, GateReason) {
    let (_, last) = aftercare_window(pathway, mv.on);
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
            GateReason::AftercareBooked {
                appointment: a.id,
                on: a.at.date_naive(),
            },
        ),
        None => (
            false,
            GateReason::NoAftercareBetween {
                from: mv.on,
                through: last,
            },
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

fn mat_continuity(
    state: &ClientState,
    pathway: &Pathway,
    now: DateTime<Utc>,
) -> (bool, GateReason) {
    let Some(plan) = &state.mat_plan else {
        return (true, GateReason::NoMatPlan);
    };
    let today = now.date_naive();
    let Some(through) = mat_covered_through(state, pathway) else {
        return (false, GateReason::MatPlanUndated);
    };
    let deadline = through.max(today);
    let next = state
        .mat_bookings
        .iter()
        .filter(|b| b.outcome.is_none() && plan.medication.continued_by(b.kind) && b.on >= today)
        .min_by_key(|b| b.on);
    let medication = plan.medication;
    match next {
        Some(b) if b.on <= deadline => (
            true,
            GateReason::MatCovered {
                medication,
                through,
                next: b.kind,
                on: b.on,
            },
        ),
        // A gap day is a day with no dose in hand: a booking on `through + 1` leaves none,
        // but no margin either (one late pickup would be a missed dose).
        Some(b) => match (b.on - through).num_days() - 1 {
            gap if gap <= 0 => (
                false,
                GateReason::MatNoMargin {
                    medication,
                    through,
                    next_on: b.on,
                    book_by: deadline,
                },
            ),
            gap => (
                false,
                GateReason::MatGap {
                    medication,
                    through,
                    next_on: b.on,
                    gap_days: gap,
                },
            ),
        },
        None => (
            false,
            GateReason::MatNothingBooked {
                medication,
                through,
                book_by: deadline,
            },
        ),
    }
}

fn reassessment(
    state: &ClientState,
    pathway: &Pathway,
    mv: &MoveCheck<'_>,
    now: DateTime<Utc>,
) -> (bool, GateReason) {
    let Some(level) = mv.to_level else {
        return (true, GateReason::NoTargetLevel);
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
            GateReason::Assessed {
                assessment: a.id,
                on: a.assessed_at.date_naive(),
                level: level.clone(),
            },
        ),
        None => (
            false,
            GateReason::NoRecentAssessment {
                max_age_days: max_age,
                level: level.clone(),
            },
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A reason said as the API's `why` and the refusal say it: ids and dates as the engine
    /// writes them, unchanged by its being data now.
    #[test]
    fn a_reason_says_the_sentence_the_api_gives() {
        let org = OrgId(uuid::Uuid::from_u128(7));
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).expect("a day");
        let said = [
            (
                GateReason::NoReferralAccepted {
                    to_level: LevelId::new("residential"),
                    provider: Some(org),
                    pending: 2,
                },
                format!("no referral to residential accepted by organization {org} (2 pending)"),
            ),
            (
                GateReason::NoConsentNames { org },
                format!("no active 42 CFR Part 2 consent names organization {org}"),
            ),
            (
                GateReason::MatCovered {
                    medication: Medication::Buprenorphine,
                    through: day(3),
                    next: MatBookingKind::PrescriberVisit,
                    on: day(2),
                },
                "buprenorphine covered through 2026-12-03; next PrescriberVisit booked on \
                 2026-12-02"
                    .into(),
            ),
            (
                GateReason::MatGap {
                    medication: Medication::Buprenorphine,
                    through: day(3),
                    next_on: day(5),
                    gap_days: 1,
                },
                "buprenorphine covered through 2026-12-03; next booking on 2026-12-05 leaves 1 \
                 gap day"
                    .into(),
            ),
            (
                GateReason::NoRecentAssessment {
                    max_age_days: 30,
                    level: LevelId::new("iop"),
                },
                "no assessment in the last 30 days recommends iop".into(),
            ),
        ];
        for (reason, sentence) in said {
            assert_eq!(reason.to_string(), sentence);
            assert_eq!(GateReport::new(Gate::Consent, false, reason).why, sentence);
        }
    }
}
