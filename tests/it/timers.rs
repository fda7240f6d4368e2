//! Durable timers: fired once by the sweeper, each producing its events.

use crate::on_both_backends;
use crate::support::*;
use carepath_engine::domain::*;
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
    match w.events(c).await.pop().unwrap().data {
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

async fn post_discharge_followups(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("outpatient", 2.0).await;
    w.book_aftercare(c, 5).await;
    w.cm(c, w.planned_discharge()).await;
    let gone = w.client_at("residential", 30.0).await;
    w.cm(
        gone,
        Command::Discharge {
            kind: carepath_engine::pathway::DischargeKind::AgainstMedicalAdvice,
            provider: None,
            overrides: vec![],
        },
    )
    .await;
    w.clock.advance(Duration::days(7) + Duration::minutes(1));
    assert_eq!(w.engine.fire_due_timers(100).await.unwrap(), 2);
    w.clock.advance(Duration::days(23));
    assert_eq!(w.engine.fire_due_timers(100).await.unwrap(), 2);
    let kinds = |events: Vec<CareEvent>| -> Vec<(String, u32)> {
        events
            .into_iter()
            .filter_map(|e| match e.data {
                EventData::FollowupDue { days, .. } => Some(("due".into(), days)),
                EventData::FollowupMissed { days, .. } => Some(("missed".into(), days)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        kinds(w.events(c).await),
        vec![("due".into(), 7), ("due".into(), 30)]
    );
    assert_eq!(
        kinds(w.events(gone).await),
        vec![("missed".into(), 7), ("missed".into(), 30)]
    );
}

async fn readmission_makes_followup_stale(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("outpatient", 2.0).await;
    w.book_aftercare(c, 2).await;
    w.cm(c, w.planned_discharge()).await;
    w.clock.advance(Duration::days(3));
    w.cm(
        c,
        Command::RecordAssessment {
            recommended_level: lvl("iop"),
            dimensions: [2; 6],
            assessed_at: None,
        },
    )
    .await;
    w.cm(
        c,
        Command::Admit {
            level: lvl("iop"),
            provider: w.iop,
            planned_hours_per_week: 12.0,
            track: None,
            overrides: vec![],
            emergency: None,
        },
    )
    .await;
    assert_eq!(w.state(c).await.episode.as_ref().unwrap().number, 2);
    let v = w.state(c).await.version;
    w.clock.advance(Duration::days(5));
    assert_eq!(w.engine.fire_due_timers(100).await.unwrap(), 0);
    assert_eq!(w.state(c).await.version, v, "a stale timer changes nothing");
    assert_eq!(
        w.count("SELECT COUNT(*) FROM timers WHERE status = 'stale'")
            .await,
        1
    );
}

on_both_backends!(
    referral_deadline_expires_and_escalates,
    continued_stay_review_recurs,
    post_discharge_followups,
    readmission_makes_followup_stale,
);
