//! One client through the whole continuum, on the engine, on both databases.

use crate::on_both_backends;
use crate::support::*;
use carepath_engine::domain::*;
use carepath_engine::ids::ClientId;
use carepath_engine::pathway::TransitionKind::StepDown;
use chrono::Duration;

/// A buprenorphine plan with `days` of supply and a refill booked the day before it runs out.
async fn bridge_mat(w: &World, c: ClientId, days: i64) {
    w.cm(
        c,
        Command::RecordMatPlan {
            medication: Medication::Buprenorphine,
            supply_through: Some(w.today() + Duration::days(days)),
            last_injection_on: None,
        },
    )
    .await;
    w.run(
        w.coordinator(),
        Some(c),
        Command::ScheduleMatRefill {
            provider: w.pharmacy,
            kind: MatBookingKind::Refill,
            on: w.today() + Duration::days(days - 1),
        },
    )
    .await
    .expect("refill");
}

async fn detox_to_planned_discharge(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("detox", 40.0).await;
    bridge_mat(&w, c, 5).await;

    // Two residential programs at once; the first to accept wins.
    let refs = w
        .refer(c, "residential", &[w.residential, w.residential2])
        .await;
    w.accept(c, w.residential, refs[0]).await.unwrap();
    w.move_to(c, w.transition(StepDown, "residential", 30.0))
        .await;

    w.clock.advance(Duration::days(10));
    bridge_mat(&w, c, 7).await;
    w.refer_accepted(c, "php").await;
    w.move_to(c, w.transition(StepDown, "php", 25.0)).await;

    w.clock.advance(Duration::days(14));
    bridge_mat(&w, c, 7).await;
    w.refer_accepted(c, "iop").await;
    w.move_to(c, w.transition(StepDown, "iop", 12.0)).await;

    w.clock.advance(Duration::days(42));
    bridge_mat(&w, c, 7).await;
    w.refer_accepted(c, "outpatient").await;
    w.book_aftercare(c, 3).await;
    w.move_to(c, w.transition(StepDown, "outpatient", 2.0))
        .await;

    w.clock.advance(Duration::days(60));
    bridge_mat(&w, c, 7).await;
    w.book_aftercare(c, 5).await;
    let out = w.cm(c, w.planned_discharge()).await;
    assert_eq!(out.events.last().unwrap().event_type, "discharge.completed");

    let s = w.state(c).await;
    assert_eq!(s.status, ClientStatus::Discharged);
    assert!(s.placement.is_none());

    // The log: consecutive sequence numbers from 1, one outbox row per event.
    let events = w.events(c).await;
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>());
    assert_eq!(s.last_seq, events.len() as i64);
    let outbox = w
        .count_with("SELECT COUNT(*) FROM outbox WHERE client_id = $1", [c.0])
        .await;
    assert_eq!(outbox, events.len() as i64);
    let types: Vec<&str> = events.iter().map(|e| e.event_type()).collect();
    for expected in [
        "client.registered",
        "client.admitted",
        "consent.recorded",
        "referral.sent",
        "referral.accepted",
        "referral.withdrawn",
        "handoff.planned",
        "handoff.ready",
        "mat.plan.recorded",
        "mat.refill.scheduled",
        "aftercare.scheduled",
        "handoff.started",
        "transition.completed",
        "discharge.completed",
    ] {
        assert!(types.contains(&expected), "no {expected} in {types:?}");
    }
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "transition.completed")
            .count(),
        4
    );

    // Everyone's bed is free again, no slot is still held; the losing residential referral
    // was withdrawn.
    assert_eq!(
        w.count("SELECT COALESCE(SUM(occupied), 0) FROM provider_levels")
            .await,
        0
    );
    assert_eq!(
        w.count("SELECT COALESCE(SUM(held), 0) FROM provider_levels")
            .await,
        0
    );
    assert_eq!(
        w.count_with(
            "SELECT COUNT(*) FROM referrals WHERE client_id = $1 AND status = 'completed'",
            [c.0]
        )
        .await,
        4
    );
    assert_eq!(
        w.count_with(
            "SELECT COUNT(*) FROM referrals WHERE provider_id = $1 AND status = 'withdrawn'",
            [w.residential2.0]
        )
        .await,
        1
    );
    // Part 2 accounting: the admission, five referrals sent out, four handoffs.
    assert_eq!(
        w.count_with(
            "SELECT COUNT(*) FROM disclosures WHERE client_id = $1",
            [c.0]
        )
        .await,
        10
    );
    // Waiting: the follow-up checks at 7 and 30 days after the exit from residential care
    // (the step down to PHP; an outpatient discharge starts none), and the watch on the MAT
    // supply.
    let pending = w
        .count_with(
            "SELECT COUNT(*) FROM timers WHERE client_id = $1 AND status = 'pending'",
            [c.0],
        )
        .await;
    assert_eq!(pending, 3);
}

async fn unplanned_discharge_is_never_blocked(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("residential", 30.0).await;
    // A MAT plan with nothing booked would block a planned discharge...
    w.cm(
        c,
        Command::RecordMatPlan {
            medication: Medication::Methadone,
            supply_through: Some(w.today()),
            last_injection_on: None,
        },
    )
    .await;
    assert!(w.run(w.cm, Some(c), w.planned_discharge()).await.is_err());
    // ...but a client leaving against advice leaves, and outreach is told.
    let out = w
        .cm(
            c,
            Command::Discharge {
                kind: carepath_engine::pathway::DischargeKind::AgainstMedicalAdvice,
                provider: None,
                overrides: vec![],
            },
        )
        .await;
    let last = w.events(c).await.pop().unwrap();
    assert_eq!(last.id, out.events[0].id);
    match last.data {
        EventData::DischargeUnplanned { at_risk, .. } => assert!(at_risk),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(w.state(c).await.status, ClientStatus::Discharged);
}

on_both_backends!(
    detox_to_planned_discharge,
    unplanned_discharge_is_never_blocked
);
