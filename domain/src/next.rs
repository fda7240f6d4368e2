//! What to do next for a client, and what else may be done: the steps the record calls for
//! from where the client stands,
//! drawn from the pathway's allowed moves and the readiness of the next move (each unmet gate
//! becomes the step that meets it), kept to the steps the reader may take ([`policy::authorize`]
//! on the command each step runs). A door shows these in order, the first the most pressing;
//! it does not keep a list of its own. [`actions`] are every kind of change the reader may make
//! to the client from where it stands (the door's other forms), decided the same way.

use crate::command::{Actor, Command, GateOverride};
use crate::event::GateReport;
use crate::gates::GateReason;
use crate::ids::OrgId;
use crate::pathway::Gate;
use crate::pathway::{AllowedMove, DischargeKind, LevelId, Pathway, TransitionKind};
use crate::policy;
use crate::state::{
    ClientState, ClientStatus, ConsentExpiry, HandoffTarget, MatBookingKind, Medication,
};
use crate::view::Checklist;
use chrono::{DateTime, NaiveDate, Utc};

/// One thing to do for a client, with what the record already knows to fill its form in.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Record a 42 CFR Part 2 consent: naming `org` (the organization a move needs it for),
    /// or, for a client with no consent in force, before anything about them can go to
    /// another organization.
    RecordConsent { org: Option<OrgId> },
    /// Record an ASAM assessment: none yet, or none recent enough recommending `level`.
    RecordAssessment { level: Option<LevelId> },
    /// Date the MAT plan (the supply's last day or the last injection), so its continuity
    /// can be counted.
    DateMatPlan,
    /// Admit (or readmit) at `level`, the one the newest assessment recommends when the
    /// pathway admits there.
    Admit { level: Option<LevelId> },
    /// Send a referral to `to_level`. `elsewhere`: after the client did not arrive where the
    /// last one went.
    SendReferral { to_level: LevelId, elsewhere: bool },
    /// Book an aftercare appointment in the window the move needs.
    BookAftercare { from: NaiveDate, through: NaiveDate },
    /// Book the MAT refill or dose on or before `by`.
    BookMat { by: NaiveDate },
    /// Announce the move for a day, so coordinators book for it.
    PlanHandoff { target: HandoffTarget },
    /// Make the move: every gate it needs is met.
    Move {
        kind: TransitionKind,
        to_level: LevelId,
    },
    /// Discharge (`kind` when the record says which: a planned discharge whose gates are met).
    Discharge { kind: Option<DischargeKind> },
    /// Confirm the arrival where the client was going (`late`: after the deadline passed or a
    /// no-show was reported).
    ConfirmArrival { late: bool },
    /// Report that the client did not arrive.
    ReportNoShow,
}

impl Step {
    /// The command the step runs, with placeholder values: what [`policy::authorize`] is asked
    /// about (it looks at the command's kind and the records it names, never at the values).
    fn command(&self) -> Command {
        let level = || LevelId::new("");
        let org = OrgId(uuid::Uuid::nil());
        match self {
            Step::RecordConsent { .. } => Command::RecordConsent {
                recipients: Vec::new(),
                purpose: String::new(),
                information: String::new(),
                expiry: ConsentExpiry::Never,
                signed_on: NaiveDate::MIN,
            },
            Step::RecordAssessment { .. } => Command::RecordAssessment {
                recommended_level: level(),
                dimensions: [0; 6],
                assessed_at: None,
            },
            Step::DateMatPlan => Command::RecordMatPlan {
                medication: Medication::Buprenorphine,
                supply_through: None,
                last_injection_on: None,
            },
            Step::Admit { .. } => Command::Admit {
                level: level(),
                provider: org,
                planned_hours_per_week: 0.0,
                track: None,
                overrides: Vec::<GateOverride>::new(),
                emergency: None,
            },
            Step::SendReferral { .. } => Command::SendReferral {
                to_level: level(),
                providers: Vec::new(),
            },
            Step::BookAftercare { .. } => Command::ScheduleAftercare {
                provider: org,
                kind: crate::state::AftercareKind::Outpatient,
                at: DateTime::<Utc>::MIN_UTC,
            },
            Step::BookMat { .. } => Command::ScheduleMatRefill {
                provider: org,
                kind: MatBookingKind::Refill,
                on: NaiveDate::MIN,
            },
            Step::PlanHandoff { target } => Command::PlanHandoff {
                target: target.clone(),
                on: NaiveDate::MIN,
            },
            Step::Move { kind, to_level } => Command::Transition {
                kind: *kind,
                to_level: to_level.clone(),
                provider: None,
                planned_hours_per_week: 0.0,
                track: None,
                overrides: Vec::new(),
                emergency: None,
            },
            Step::Discharge { kind } => Command::Discharge {
                kind: kind.unwrap_or(DischargeKind::Planned),
                provider: None,
                overrides: Vec::new(),
            },
            Step::ConfirmArrival { .. } => Command::ConfirmArrival { relayed_by: None },
            Step::ReportNoShow => Command::ReportNoShow { relayed_by: None },
        }
    }
}

/// The steps for `state`, most pressing first, that `actor` may take. `checklists` are the
/// readiness of the next move and of a planned discharge ([`crate::view::next_asks`]), the
/// first the move the client is headed for.
pub fn next_steps(
    actor: &Actor,
    state: &ClientState,
    pathway: &Pathway,
    checklists: &[Checklist],
    now: DateTime<Utc>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let recommended = state.recommended_level().cloned();
    let moves = crate::gates::allowed_moves(state, pathway);
    let consent_in_force = state.consents.iter().any(|c| state.consent_active(c, now));
    match (state.status, &state.transit) {
        (ClientStatus::Registered | ClientStatus::Discharged, _) => {
            if !consent_in_force {
                steps.push(Step::RecordConsent { org: None });
            }
            // An assessment to admit on: none yet, or none since the last discharge.
            let since = state.last_discharge.as_ref().map(|d| d.at);
            if !state
                .assessments
                .iter()
                .any(|a| since.is_none_or(|at| a.assessed_at > at))
            {
                steps.push(Step::RecordAssessment { level: None });
            }
            let admits = |l: &LevelId| {
                moves
                    .iter()
                    .any(|m| matches!(m, AllowedMove::Admission { to } if to == l))
            };
            if moves
                .iter()
                .any(|m| matches!(m, AllowedMove::Admission { .. }))
            {
                steps.push(Step::Admit {
                    level: recommended.filter(|l| admits(l)),
                });
            }
        }
        (ClientStatus::InTransit, Some(t)) if t.missed => {
            steps.push(Step::SendReferral {
                to_level: t.to_level.clone(),
                elsewhere: true,
            });
            steps.push(Step::ConfirmArrival { late: true });
            steps.push(Step::Discharge { kind: None });
        }
        (ClientStatus::InTransit, _) => {
            steps.push(Step::ConfirmArrival { late: false });
            steps.push(Step::ReportNoShow);
        }
        (ClientStatus::Active, _) => {
            if let Some(e) = &state.escalation {
                steps.push(Step::SendReferral {
                    to_level: e.to_level.clone(),
                    elsewhere: false,
                });
            }
            if let Some(next) = checklists.first() {
                active_steps(state, next, &mut steps);
            }
        }
    }
    let mut seen = Vec::new();
    steps.retain(|s| {
        let new = !seen.contains(s);
        seen.push(s.clone());
        new
    });
    steps
        .into_iter()
        .filter(|s| policy::authorize(actor, &s.command(), Some(state), now).is_ok())
        .collect()
}

/// In care: each unmet gate of the next move as the step that meets it; then planning the
/// move for a day, and making it once every gate is met.
fn active_steps(state: &ClientState, next: &Checklist, steps: &mut Vec<Step>) {
    for g in next.gates.iter().filter(|g| !g.met) {
        if let Some(step) = meets(g) {
            steps.push(step);
        }
    }
    let ready = next.gates.iter().all(|g| g.met);
    let planned = state
        .handoff
        .as_ref()
        .is_some_and(|h| same_move(&h.target, &next.target));
    if !planned {
        steps.push(Step::PlanHandoff {
            target: next.target.clone(),
        });
    }
    if ready {
        steps.push(match &next.target {
            HandoffTarget::Transition { kind, to_level, .. } => Step::Move {
                kind: *kind,
                to_level: to_level.clone(),
            },
            HandoffTarget::Discharge { kind, .. } => Step::Discharge { kind: Some(*kind) },
        });
    }
}

/// Whether two targets are the same move (the receiving provider aside, which a plan may leave
/// for the accepted referral to name).
fn same_move(a: &HandoffTarget, b: &HandoffTarget) -> bool {
    match (a, b) {
        (
            HandoffTarget::Transition { kind, to_level, .. },
            HandoffTarget::Transition {
                kind: k,
                to_level: l,
                ..
            },
        ) => kind == k && to_level == l,
        (HandoffTarget::Discharge { kind, .. }, HandoffTarget::Discharge { kind: k, .. }) => {
            kind == k
        }
        _ => false,
    }
}

/// The step that meets an unmet gate (none while the referrals sent still await answers:
/// the providers act next).
fn meets(g: &GateReport) -> Option<Step> {
    Some(match &g.reason {
        GateReason::NoReferralAccepted {
            to_level, pending, ..
        } => {
            if *pending > 0 {
                return None;
            }
            Step::SendReferral {
                to_level: to_level.clone(),
                elsewhere: false,
            }
        }
        GateReason::NoConsentNames { org } => Step::RecordConsent { org: Some(*org) },
        GateReason::NoAftercareBetween { from, through } => Step::BookAftercare {
            from: *from,
            through: *through,
        },
        GateReason::MatPlanUndated => Step::DateMatPlan,
        GateReason::MatNoMargin { book_by, .. } | GateReason::MatNothingBooked { book_by, .. } => {
            Step::BookMat { by: *book_by }
        }
        GateReason::MatGap { through, .. } => Step::BookMat { by: *through },
        GateReason::NoRecentAssessment { level, .. } => Step::RecordAssessment {
            level: Some(level.clone()),
        },
        _ => return None,
    })
}

/// A kind of change a reader may make to a client: a door's form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    RecordConsent,
    RecordAssessment,
    RecordMatPlan,
    RecordIdentity,
    Admit,
    SendReferral,
    PlanHandoff,
    Move,
    Discharge,
    BookAftercare,
    BookMat,
    ConfirmArrival,
    ReportNoShow,
    /// Let a move through without a gate, with a reason (a supervisor).
    OverrideGates,
}

/// Every change `actor` may make to `state` from where it stands: those the client's status
/// and the pathway's allowed moves leave open, kept to those [`policy::authorize`] allows this
/// reader.
pub fn actions(
    actor: &Actor,
    state: &ClientState,
    pathway: &Pathway,
    now: DateTime<Utc>,
) -> Vec<Action> {
    let moves = crate::gates::allowed_moves(state, pathway);
    let has = |f: fn(&AllowedMove) -> bool| moves.iter().any(f);
    let transitions = has(|m| matches!(m, AllowedMove::Transition { .. }));
    let discharges = has(|m| matches!(m, AllowedMove::Discharge { .. }));
    let admissions = has(|m| matches!(m, AllowedMove::Admission { .. }));
    let missed = state.transit.as_ref().is_some_and(|t| t.missed);
    let (active, in_transit) = (
        state.status == ClientStatus::Active,
        state.status == ClientStatus::InTransit,
    );
    let open = [
        (Action::RecordConsent, true),
        (Action::RecordAssessment, true),
        (Action::RecordMatPlan, true),
        (Action::RecordIdentity, true),
        (
            Action::Admit,
            matches!(
                state.status,
                ClientStatus::Registered | ClientStatus::Discharged
            ) && admissions,
        ),
        (Action::SendReferral, active || missed),
        (Action::PlanHandoff, active && (transitions || discharges)),
        (Action::Move, transitions && (active || missed)),
        (Action::Discharge, discharges),
        (Action::BookAftercare, true),
        (Action::BookMat, true),
        (Action::ConfirmArrival, in_transit),
        (Action::ReportNoShow, in_transit && !missed),
        (
            Action::OverrideGates,
            transitions || discharges || admissions,
        ),
    ];
    open.into_iter()
        .filter(|(_, open)| *open)
        .map(|(a, _)| a)
        .filter(|a| policy::authorize(actor, &a.command(), Some(state), now).is_ok())
        .collect()
}

impl Action {
    /// The command the action runs, with placeholder values, for [`policy::authorize`].
    fn command(self) -> Command {
        match self {
            Action::RecordConsent => Step::RecordConsent { org: None }.command(),
            Action::RecordAssessment => Step::RecordAssessment { level: None }.command(),
            Action::RecordMatPlan => Step::DateMatPlan.command(),
            Action::RecordIdentity => Command::RecordIdentity {
                identity: crate::ClientIdentity {
                    display_name: String::new(),
                    record_number: None,
                },
            },
            Action::Admit => Step::Admit { level: None }.command(),
            Action::SendReferral => Step::SendReferral {
                to_level: LevelId::new(""),
                elsewhere: false,
            }
            .command(),
            Action::PlanHandoff => Step::PlanHandoff {
                target: HandoffTarget::Discharge {
                    kind: DischargeKind::Planned,
                    provider: None,
                },
            }
            .command(),
            Action::Move => Step::Move {
                kind: TransitionKind::StepDown,
                to_level: LevelId::new(""),
            }
            .command(),
            Action::Discharge => Step::Discharge { kind: None }.command(),
            Action::BookAftercare => Step::BookAftercare {
                from: NaiveDate::MIN,
                through: NaiveDate::MIN,
            }
            .command(),
            Action::BookMat => Step::BookMat { by: NaiveDate::MIN }.command(),
            Action::ConfirmArrival => Step::ConfirmArrival { late: false }.command(),
            Action::ReportNoShow => Step::ReportNoShow.command(),
            Action::OverrideGates => Command::Discharge {
                kind: DischargeKind::Planned,
                provider: None,
                overrides: vec![GateOverride {
                    gate: Gate::AftercareAppointment,
                    reason: String::new(),
                }],
            },
        }
    }
}
