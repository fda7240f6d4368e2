//! Durable timers: fired once by the sweeper, each producing its events.

use crate::on_both_backends;
use crate::support::*;
use carepath_engine::domain::*;
use carepath_engine::ids::{ClientId, OrgId};
use carepath_engine::pathway::TransitionKind;
use chrono::Duration;

async fn referral_deadline_expires_and_escalates(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("detox", 40.0).await;
    let refs = w
        .refer(c, "residential", &[w.residential, w.residential2])
        .await;
    w.run(
        w.partner(w.residential),
        Some(c),
        Command::DeclineReferral {
            referral: refs[0],
            reason: DeclineReason {
                code: DeclineCode::NoCapacity,
                note: None,
            },
        },
    )
    .await
    .unwrap();
    w.clock.advance(Duration::hours(23));
    assert_eq!(w.engine.fire_due_timers(100).await.unwrap(), 0);
    w.clock.advance(Duration::hours(2));
    // The review timer of detox (3 days) is not due; only the pending referral's deadline is.
    assert_eq!(w.engine.fire_due_timers(100).await.unwrap(), 1);
    assert_eq!(
        w.engine.fire_due_timers(100).await.unwrap(),
        0,
        "fired once"
    );
    let s = w.state(c).await;
    assert_eq!(s.referral(refs[1]).unwrap().status, ReferralStatus::Expired);
    let mut events = w.events(c).await;
    // Nothing left of the group: the case manager named on the episode (none here: the
    // engine-level test's actor is no person) is told.
    assert!(matches!(
        events.pop().unwrap().data,
        EventData::ReferralEscalated {
            case_manager: None,
            ..
        }
    ));
    match events.pop().unwrap().data {
        EventData::ReferralExpired {
            escalate, referral, ..
        } => {
            assert!(escalate, "nothing else is pending: escalate");
            assert_eq!(referral, refs[1]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        w.count_with(
            "SELECT COUNT(*) FROM referrals WHERE id = $1 AND status = 'expired'",
            [refs[1].0]
        )
        .await,
        1
    );
}

async fn continued_stay_review_recurs(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("iop", 12.0).await;
    w.clock.advance(Duration::days(14));
    assert_eq!(w.engine.fire_due_timers(100).await.unwrap(), 1);
    w.clock.advance(Duration::days(13));
    assert_eq!(w.engine.fire_due_timers(100).await.unwrap(), 0);
    w.clock.advance(Duration::days(1));
    assert_eq!(w.engine.fire_due_timers(100).await.unwrap(), 1);
    let reviews = w
        .event_types(c)
        .await
        .iter()
        .filter(|t| *t == "review.due")
        .count();
    assert_eq!(reviews, 2);
}

/// HEDIS FUI: after an exit from residential care, the 7- and 30-day checks count a visit
/// that took place, not a booking; a missed visit with nothing booked since is lost to care;
/// an outpatient discharge starts no checks.
async fn followups_count_visits_that_took_place(b: Backend) {
    let w = World::new(b).await;
    let kept = w.client_at("residential", 30.0).await;
    w.book_aftercare(kept, 5).await;
    w.cm(kept, w.planned_discharge()).await;
    let missed = w.client_at("residential", 30.0).await;
    w.book_aftercare(missed, 3).await;
    w.cm(missed, w.planned_discharge()).await;
    let out = w.client_at("outpatient", 2.0).await;
    w.book_aftercare(out, 5).await;
    w.cm(out, w.planned_discharge()).await;

    let report = |c: ClientId, outcome: OutcomeReport| {
        let w = &w;
        async move {
            let booking = w.state(c).await.aftercare.items()[0].id;
            w.run(
                w.partner(w.outpatient),
                Some(c),
                Command::RecordBookingOutcome {
                    booking,
                    outcome,
                    relayed_by: None,
                },
            )
            .await
            .expect("outcome recorded")
        }
    };
    w.clock.advance(Duration::days(3) + Duration::hours(1));
    report(missed, OutcomeReport::NoShow).await;
    w.clock.advance(Duration::days(2));
    report(
        kept,
        OutcomeReport::Attended {
            supply_through: None,
        },
    )
    .await;
    // Day 8: the 7-day checks are due once day 7 (a calendar day, as HEDIS counts it) ends.
    w.clock.advance(Duration::days(3));
    assert_eq!(w.engine.fire_due_timers(100).await.unwrap(), 2);
    // Fourteen days after the no-show with nothing booked: lost to care.
    w.clock.advance(Duration::days(10) + Duration::hours(1));
    assert_eq!(w.engine.fire_due_timers(100).await.unwrap(), 1);
    w.clock.advance(Duration::days(13));
    assert_eq!(w.engine.fire_due_timers(100).await.unwrap(), 2);
    let kinds = |events: Vec<CareEvent>| -> Vec<(String, u32)> {
        events
            .into_iter()
            .filter_map(|e| match e.data {
                EventData::FollowupMet { days, .. } => Some(("met".into(), days)),
                EventData::FollowupMissed { days, .. } => Some(("missed".into(), days)),
                EventData::ClientLostToCare { .. } => Some(("lost".into(), 0)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        kinds(w.events(kept).await),
        vec![("met".into(), 7), ("met".into(), 30)]
    );
    assert_eq!(
        kinds(w.events(missed).await),
        vec![
            ("missed".into(), 7),
            ("lost".into(), 0),
            ("missed".into(), 30)
        ]
    );
    assert_eq!(kinds(w.events(out).await), vec![]);
    assert_eq!(
        w.state(missed).await.lost_to_care().map(|l| l.reason),
        Some(LostReason::MissedAppointment)
    );
}

/// A step down from residential care is an exit too: the arrival at the lower level is the
/// visit both checks count.
async fn a_step_down_is_followed_up_by_the_arrival(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("residential", 30.0).await;
    w.refer_accepted(c, "iop").await;
    w.cm(c, w.transition(TransitionKind::StepDown, "iop", 12.0))
        .await;
    w.clock.advance(Duration::days(2));
    w.arrive(c).await;
    w.clock.advance(Duration::days(29));
    w.engine.fire_due_timers(100).await.unwrap();
    let met: Vec<(u32, OrgId)> = w
        .events(c)
        .await
        .into_iter()
        .filter_map(|e| match e.data {
            EventData::FollowupMet { days, provider, .. } => Some((days, provider)),
            _ => None,
        })
        .collect();
    assert_eq!(met, vec![(7, w.iop), (30, w.iop)]);
}

on_both_backends!(
    referral_deadline_expires_and_escalates,
    continued_stay_review_recurs,
    followups_count_visits_that_took_place,
    a_step_down_is_followed_up_by_the_arrival,
);
