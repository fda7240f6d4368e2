//! The next steps a client page leads with ([`crate::next::next_steps`]), as the view cuts
//! them for each reader: from registration to admission, in care towards the next move, on the
//! way, and after a missed arrival.

use super::fixture::*;
use crate::command::*;
use crate::next::{Action, Step};
use crate::pathway::{DischargeKind, TransitionKind};
use crate::policy::ClientView;
use crate::state::*;
use crate::view::{Asked, cut};

/// The client as a client page reads it: with the readiness, the next steps and the actions.
fn page(f: &Fixture, actor: Actor, view: ClientView, s: &ClientState) -> crate::VisibleClient {
    let asked = Asked {
        readiness: true,
        readiness_of: None,
    };
    cut(&actor, view, s, &f.pathway, f.now, &asked)
}

fn steps(f: &Fixture, actor: Actor, view: ClientView, s: &ClientState) -> Vec<Step> {
    page(f, actor, view, s).next_steps
}

#[test]
fn a_client_just_registered_is_consented_assessed_and_admitted() {
    let f = Fixture::new();
    let s = f.registered();
    assert_eq!(
        steps(&f, f.cm(), ClientView::Full, &s),
        vec![
            Step::RecordConsent { org: None },
            Step::RecordAssessment { level: None },
            Step::Admit { level: None },
        ]
    );
    // With a consent in force and an assessment recommending an admission level, admitting
    // there is what is left.
    let s = f.consented();
    let s = f
        .run(
            &s,
            f.cm(),
            Command::RecordAssessment {
                recommended_level: level("detox"),
                dimensions: [2, 1, 1, 1, 1, 1],
                assessed_at: None,
            },
        )
        .state;
    assert_eq!(
        steps(&f, f.cm(), ClientView::Full, &s),
        vec![Step::Admit {
            level: Some(level("detox"))
        }]
    );
}

#[test]
fn in_care_the_steps_meet_the_next_moves_gates_then_plan_and_make_it() {
    let f = Fixture::new();
    let s = f.in_detox();
    // The next move is the one the newest assessment recommends.
    let s = f
        .run(
            &s,
            f.cm(),
            Command::RecordAssessment {
                recommended_level: level("residential"),
                dimensions: [1, 1, 1, 1, 1, 1],
                assessed_at: None,
            },
        )
        .state;
    let got = steps(&f, f.cm(), ClientView::Full, &s);
    assert_eq!(
        got.first(),
        Some(&Step::SendReferral {
            to_level: level("residential"),
            elsewhere: false
        }),
        "{got:?}"
    );
    assert!(
        !got.iter().any(|s| matches!(s, Step::Move { .. })),
        "no move before its gates are met: {got:?}"
    );
    // A referral sent and unanswered: the provider acts next, so sending another is no
    // longer the step.
    let s = f.referred();
    let got = steps(&f, f.cm(), ClientView::Full, &s);
    assert!(
        !got.iter().any(|s| matches!(s, Step::SendReferral { .. })),
        "{got:?}"
    );
    // Accepted (which plans the handoff for the day the slot is held): the move is what is
    // left.
    let s = f.accepted();
    assert_eq!(
        steps(&f, f.cm(), ClientView::Full, &s),
        vec![Step::Move {
            kind: TransitionKind::StepDown,
            to_level: level("residential")
        }]
    );
}

#[test]
fn on_the_way_the_arrival_is_confirmed_or_missed_and_after_a_no_show_three_ways_on() {
    let f = Fixture::new();
    let s = f.step_down(&f.accepted());
    assert_eq!(
        steps(&f, f.cm(), ClientView::Full, &s),
        vec![Step::ConfirmArrival { late: false }, Step::ReportNoShow]
    );
    // The receiving provider has the same two; a provider the client is not going to, none.
    assert_eq!(
        steps(&f, f.partner(f.residential), ClientView::Partner, &s),
        vec![Step::ConfirmArrival { late: false }, Step::ReportNoShow]
    );
    assert_eq!(steps(&f, f.partner(f.iop), ClientView::Partner, &s), vec![]);
    let missed = f
        .run(
            &s,
            f.partner(f.residential),
            Command::ReportNoShow { relayed_by: None },
        )
        .state;
    assert_eq!(
        steps(&f, f.cm(), ClientView::Full, &missed),
        vec![
            Step::SendReferral {
                to_level: level("residential"),
                elsewhere: true
            },
            Step::ConfirmArrival { late: true },
            Step::Discharge { kind: None },
        ]
    );
}

#[test]
fn a_coordinator_is_led_only_to_the_bookings_a_planned_discharge_needs() {
    let f = Fixture::new();
    let s = f.in_detox();
    let s = f
        .run(
            &s,
            f.cm(),
            Command::PlanHandoff {
                target: HandoffTarget::Discharge {
                    kind: DischargeKind::Planned,
                    provider: None,
                },
                on: f.days(3),
            },
        )
        .state;
    let coordinator = Actor::new(f.home, Role::AftercareCoordinator);
    let got = steps(&f, coordinator, ClientView::Coordinator, &s);
    assert!(!got.is_empty(), "the discharge needs aftercare booked");
    assert!(
        got.iter()
            .all(|s| matches!(s, Step::BookAftercare { .. } | Step::BookMat { .. })),
        "{got:?}"
    );
    // The case manager is led to the same booking, and not to a move.
    let cm = steps(&f, f.cm(), ClientView::Full, &s);
    assert!(
        cm.iter().any(|s| matches!(s, Step::BookAftercare { .. })),
        "{cm:?}"
    );
    assert!(
        !cm.iter().any(|s| matches!(s, Step::Discharge { .. })),
        "{cm:?}"
    );
}

fn actions(f: &Fixture, actor: Actor, view: ClientView, s: &ClientState) -> Vec<Action> {
    page(f, actor, view, s).actions
}

#[test]
fn each_reader_is_given_only_the_changes_it_may_make() {
    let f = Fixture::new();
    let s = f.in_detox();
    let cm = actions(&f, f.cm(), ClientView::Full, &s);
    for a in [
        Action::RecordConsent,
        Action::SendReferral,
        Action::PlanHandoff,
        Action::Move,
        Action::Discharge,
        Action::BookAftercare,
    ] {
        assert!(cm.contains(&a), "{a:?} not in {cm:?}");
    }
    assert!(
        !cm.iter().any(|a| matches!(
            a,
            Action::Admit | Action::ConfirmArrival | Action::OverrideGates
        )),
        "{cm:?}"
    );
    assert!(actions(&f, f.supervisor(), ClientView::Full, &s).contains(&Action::OverrideGates));
    let coordinator = Actor::new(f.home, Role::AftercareCoordinator);
    assert_eq!(
        actions(&f, coordinator, ClientView::Coordinator, &s),
        vec![Action::BookAftercare, Action::BookMat]
    );
    let payer = Actor::new(f.home, Role::Payer);
    assert_eq!(actions(&f, payer, ClientView::Payer, &s), vec![]);
    // On the way: the receiving provider confirms or reports; nobody else of its kind.
    let going = f.step_down(&f.accepted());
    assert_eq!(
        actions(&f, f.partner(f.residential), ClientView::Partner, &going),
        vec![Action::ConfirmArrival, Action::ReportNoShow]
    );
    assert_eq!(
        actions(&f, f.partner(f.iop), ClientView::Partner, &going),
        vec![]
    );
}

#[test]
fn a_checklist_is_chosen_only_from_what_its_reader_may_see() {
    let f = Fixture::new();
    // A referral to residential pending: the record holder's checklist is for that move.
    let s = f.referred();
    let full = page(&f, f.cm(), ClientView::Full, &s);
    assert!(
        matches!(&full.readiness.items()[0].ask, crate::gates::ReadinessAsk::MoveTo { level, .. } if *level == level_of("residential")),
        "{:?}",
        full.readiness
    );
    // A coordinator sees no referral: its checklist is not chosen from one.
    let coordinator = Actor::new(f.home, Role::AftercareCoordinator);
    let seen = page(&f, coordinator, ClientView::Coordinator, &s);
    assert!(
        !matches!(&seen.readiness.items()[0].ask, crate::gates::ReadinessAsk::MoveTo { level, .. } if *level == level_of("residential")),
        "{:?}",
        seen.readiness
    );
}

fn level_of(id: &str) -> crate::pathway::LevelId {
    level(id)
}
