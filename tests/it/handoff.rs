//! The closed loop of a handoff: a slot held from acceptance to arrival, the arrival
//! confirmed by the receiving provider (GraphQL and AMQP), a missed arrival at the deadline,
//! a full provider's waitlist. Timers run on the engine's manual clock.

use crate::api::{Net, RESULT};
use crate::broker::TestVhost;
use crate::on_both_backends;
use crate::relay::send;
use crate::support::*;
use carepath_engine::domain::*;
use carepath_engine::ids::ReferralId;
use carepath_engine::pathway::{DischargeKind, TransitionKind};
use carepath_engine::{CensusRow, Error};
use chrono::Duration;
use serde_json::json;
use std::time::Duration as StdDuration;

async fn census_of(w: &World, provider: carepath_engine::ids::OrgId) -> CensusRow {
    w.engine
        .census(&w.admin)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.provider == provider)
        .expect("a census row")
}

/// Accepted, a slot is held; the client leaves detox and never arrives: at the deadline the
/// handoff is missed, the slot freed and the client counted lost to care, on the sending
/// case manager's outreach list; a late arrival brings them back.
async fn a_step_down_never_arrived_is_missed_at_the_deadline_and_frees_the_hold(b: Backend) {
    let w = World::new(b).await;
    let c = w.client_at("detox", 40.0).await;
    w.refer_accepted(c, "residential").await;
    let row = census_of(&w, w.residential).await;
    assert_eq!((row.occupied, row.held, row.open_slots()), (0, 1, 9));
    w.cm(
        c,
        w.transition(TransitionKind::StepDown, "residential", 30.0),
    )
    .await;
    let row = census_of(&w, w.residential).await;
    assert_eq!((row.occupied, row.held, row.in_transit), (0, 1, 1));
    assert_eq!(
        census_of(&w, w.detox).await.occupied,
        0,
        "the detox bed is free"
    );

    // Residential care gives two days; nothing fires a minute early.
    w.clock.advance(Duration::days(2) - Duration::minutes(1));
    w.engine.fire_due_timers(100).await.unwrap();
    assert_eq!(w.state(c).await.status, ClientStatus::InTransit);
    assert!(!w.state(c).await.transit.unwrap().missed);
    w.clock.advance(Duration::minutes(2));
    assert_eq!(w.engine.fire_due_timers(100).await.unwrap(), 1);
    let types = w.event_types(c).await;
    assert_eq!(
        types[types.len() - 2..],
        ["handoff.missed", "client.lost_to_care"]
    );
    let s = w.state(c).await;
    assert!(s.transit.as_ref().unwrap().missed);
    assert_eq!(
        s.lost_to_care().as_ref().map(|l| l.reason),
        Some(LostReason::MissedArrival)
    );
    let row = census_of(&w, w.residential).await;
    assert_eq!((row.occupied, row.held, row.open_slots()), (0, 0, 10));
    // The timer fires once.
    w.clock.advance(Duration::days(1));
    assert_eq!(w.engine.fire_due_timers(100).await.unwrap(), 0);

    // The client turns up late; the program confirms, and the client is back in care.
    w.arrive(c).await;
    let s = w.state(c).await;
    assert_eq!(s.status, ClientStatus::Active);
    assert_eq!(s.level().unwrap().as_str(), "residential");
    assert_eq!(s.lost_to_care(), None);
    assert_eq!(w.event_types(c).await.last().unwrap(), "client.reengaged");
    let row = census_of(&w, w.residential).await;
    assert_eq!((row.occupied, row.held, row.in_transit), (1, 0, 0));
}

/// A transfer out to an organization outside the pathway's placements is followed until it
/// confirms the arrival; unconfirmed at the deadline, the client is on the outreach list.
async fn a_transfer_out_nobody_confirms_is_missed_and_listed_for_outreach(b: Backend) {
    let w = World::new(b).await;
    let kept = w.client_at("outpatient", 2.0).await;
    let lost = w.client_at("outpatient", 2.0).await;
    for c in [kept, lost] {
        w.cm(
            c,
            Command::Discharge {
                kind: DischargeKind::TransferOut,
                provider: Some(w.coordination),
                overrides: vec![],
            },
        )
        .await;
    }
    w.run(
        w.partner(w.coordination),
        Some(kept),
        Command::ConfirmArrival { relayed_by: None },
    )
    .await
    .unwrap();
    w.clock.advance(Duration::days(7) + Duration::minutes(1));
    assert_eq!(w.engine.fire_due_timers(100).await.unwrap(), 1);
    let types = w.event_types(lost).await;
    assert_eq!(
        types[types.len() - 2..],
        ["handoff.missed", "client.lost_to_care"]
    );
    let outreach: Vec<_> = w
        .engine
        .outreach(&w.cm, None, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(outreach, [lost]);
    assert!(
        w.engine
            .outreach(&w.partner(w.coordination), None, 50)
            .await
            .is_err()
    );
}

/// A full provider cannot accept (its slots are occupied or held) but can waitlist; the
/// slot that frees goes to the head of the list, in the order the referrals were waitlisted.
async fn a_full_provider_waitlists_and_the_freed_slot_goes_to_the_head(b: Backend) {
    let w = World::new(b).await;
    w.engine
        .set_capacity(&w.admin, w.php, &lvl("php"), 1)
        .await
        .unwrap();
    let first = w.client_at("php", 25.0).await;
    let mut waiting = Vec::new();
    for _ in 0..2 {
        let c = w.client_at("residential", 30.0).await;
        let r = w.refer(c, "php", &[w.php]).await[0];
        waiting.push((c, r));
    }
    let (b_client, b_ref) = waiting[0];
    let (c_client, c_ref) = waiting[1];
    let e = w.accept(b_client, w.php, b_ref).await;
    assert!(matches!(e, Err(Error::NoCapacity { .. })), "{e:?}");
    assert_eq!(
        w.state(b_client).await.referral(b_ref).unwrap().status,
        ReferralStatus::Pending,
        "a refused acceptance changes nothing"
    );
    let waitlist = |c, r: ReferralId| {
        w.run(
            w.partner(w.php),
            Some(c),
            Command::WaitlistReferral { referral: r },
        )
    };
    waitlist(b_client, b_ref).await.unwrap();
    w.clock.advance(Duration::minutes(5));
    waitlist(c_client, c_ref).await.unwrap();
    assert_eq!(w.engine.waitlist_position(b_ref).await.unwrap(), Some(1));
    assert_eq!(w.engine.waitlist_position(c_ref).await.unwrap(), Some(2));
    assert_eq!(census_of(&w, w.php).await.waitlisted, 2);
    // Nothing is free yet.
    assert_eq!(w.engine.offer_freed_slots().await.unwrap(), 0);

    // The client in PHP leaves: the freed slot is held for the head of the list.
    w.cm(
        first,
        Command::Discharge {
            kind: DischargeKind::AgainstMedicalAdvice,
            provider: None,
            overrides: vec![],
        },
    )
    .await;
    assert_eq!(w.engine.offer_freed_slots().await.unwrap(), 1);
    let s = w.state(b_client).await;
    assert_eq!(s.referral(b_ref).unwrap().status, ReferralStatus::Accepted);
    assert!(w.events(b_client).await.iter().any(|e| matches!(
        e.data,
        EventData::ReferralAccepted {
            from_waitlist: true,
            ..
        }
    )));
    assert_eq!(w.engine.waitlist_position(c_ref).await.unwrap(), Some(1));
    let row = census_of(&w, w.php).await;
    assert_eq!(
        (row.occupied, row.held, row.waitlisted, row.open_slots()),
        (0, 1, 1, 0)
    );
    // Offered once: the next sweep finds no free slot.
    assert_eq!(w.engine.offer_freed_slots().await.unwrap(), 0);
    // The handoff uses the held slot.
    w.move_to(
        b_client,
        w.transition(TransitionKind::StepDown, "php", 25.0),
    )
    .await;
    let row = census_of(&w, w.php).await;
    assert_eq!((row.occupied, row.held), (1, 0));
}

/// Over the API a partner sees: acknowledged over AMQP, accepted and confirmed over GraphQL
/// for one client; for another, the arrival confirmed over AMQP; a no-show reported over
/// GraphQL. The census shows the client in transit.
async fn the_receiving_provider_closes_the_loop_over_graphql_and_amqp(b: Backend) {
    let mut vh = TestVhost::new();
    let n = Net::with_env(b, &[("CAREPATH_AMQP_URL", &vh.url())]).await;
    let residential = n.provider("residential");
    let (user, url) = vh.add_user("residential-intake");
    n.s.engine
        .link_sender(&Actor::new(residential, Role::Admin), &user, residential)
        .await
        .unwrap();
    let waiting = |q: &'static str, c: String| {
        let n = &n;
        async move {
            for _ in 0..100 {
                let v = n.cm(q, json!({ "c": c })).await;
                if !v.to_string().contains("null") && !v.to_string().contains("PENDING") {
                    return v;
                }
                tokio::time::sleep(StdDuration::from_millis(100)).await;
            }
            n.cm(q, json!({ "c": c })).await
        }
    };

    // One client: acknowledged over AMQP, accepted over GraphQL, arrival over AMQP.
    let c = n.register().await;
    n.consent(&c).await;
    n.admit(&c, "detox", 40.0).await;
    let r = n.refer(&c, "residential").await;
    let body = |v: serde_json::Value| serde_json::to_vec(&v).unwrap();
    send(
        &url,
        &user,
        "referral.acknowledged",
        "ack-1",
        body(json!({ "referralId": r })),
    )
    .await;
    let seen = waiting(
        "query($c: UUID!) { client(id: $c) { referrals { status acknowledgedAt } } }",
        c.clone(),
    )
    .await;
    assert_eq!(
        seen["client"]["referrals"][0]["status"],
        json!("ACKNOWLEDGED"),
        "{seen}"
    );
    n.accept("residential", &r).await;
    let started = n
        .cm(
            &Net::transition_query(),
            json!({ "c": c, "k": "STEP_DOWN", "l": "residential", "h": 30.0 }),
        )
        .await;
    assert_eq!(
        started["transition"]["events"][0]["type"],
        json!("handoff.started")
    );
    let census = n
        .cm(
            "{ census { level provider { id } inTransit heldSlots openSlots } }",
            json!({}),
        )
        .await;
    let row = census["census"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["provider"]["id"] == json!(residential.to_string()))
        .unwrap()
        .clone();
    assert_eq!(
        (row["inTransit"].clone(), row["heldSlots"].clone()),
        (json!(1), json!(1)),
        "{row}"
    );
    send(
        &url,
        &user,
        "handoff.arrived",
        "arrived-1",
        body(json!({ "clientId": c })),
    )
    .await;
    let arrived = waiting(
        "query($c: UUID!) { client(id: $c) { status level } }",
        c.clone(),
    )
    .await;
    // (`waiting` returns once `level` is set: the placement, i.e. the arrival.)
    let now = n
        .cm(
            "query($c: UUID!) { client(id: $c) { status level transit { toLevel } } }",
            json!({ "c": c }),
        )
        .await;
    assert_eq!(now["client"]["status"], json!("ACTIVE"), "{now} {arrived}");
    assert_eq!(now["client"]["level"], json!("residential"), "{now}");

    // Another: the program reports a no-show over GraphQL; the case manager sees why.
    let d = n.register().await;
    n.consent(&d).await;
    n.admit(&d, "detox", 40.0).await;
    let r = n.refer(&d, "residential").await;
    n.accept("residential", &r).await;
    n.cm(
        &Net::transition_query(),
        json!({ "c": d, "k": "STEP_DOWN", "l": "residential", "h": 30.0 }),
    )
    .await;
    let missed =
        n.s.ok(
            n.partner("residential"),
            &format!("mutation($c: UUID!) {{ reportNoShow(clientId: $c) {RESULT} }}"),
            json!({ "c": d }),
        )
        .await;
    let types: Vec<&str> = missed["reportNoShow"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["handoff.missed", "client.lost_to_care"]);
    let seen = n
        .cm(
            "query($c: UUID!) { client(id: $c) { status transit { missed } lostToCare { reason } referrals { status } } }",
            json!({ "c": d }),
        )
        .await;
    assert_eq!(seen["client"]["transit"]["missed"], json!(true), "{seen}");
    assert_eq!(
        seen["client"]["lostToCare"]["reason"],
        json!("MISSED_ARRIVAL"),
        "{seen}"
    );
    assert_eq!(
        seen["client"]["referrals"][0]["status"],
        json!("NO_SHOW"),
        "{seen}"
    );
    // On the sending case manager's outreach list (and only that organization's).
    let outreach = n
        .cm(
            "{ outreach { edges { node { id lostToCare { reason } } } } }",
            json!({}),
        )
        .await;
    let listed: Vec<&str> = outreach["outreach"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [d.as_str()], "{outreach}");
    let (code, _) =
        n.s.code(
            Some(n.partner("residential")),
            "{ outreach { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
    // Nothing went to the dead letters.
    let dead = crate::broker::drain(
        &vh.url(),
        "carepath.dead",
        StdDuration::from_secs(1),
        |_| false,
    )
    .await;
    assert!(
        dead.is_empty(),
        "dead-lettered: {:?}",
        dead.iter()
            .map(|m| m.header("x-carepath-reason"))
            .collect::<Vec<_>>()
    );
}

/// What became of bookings, told by their providers: an aftercare visit kept (GraphQL, the
/// clinic's partner token), a refill picked up (AMQP, the pharmacy's broker user) that
/// extends the supply in hand; a stranger is told the booking does not exist.
async fn booking_outcomes_arrive_over_graphql_and_amqp(b: Backend) {
    let mut vh = TestVhost::new();
    let n = Net::with_env(b, &[("CAREPATH_AMQP_URL", &vh.url())]).await;
    let (user, url) = vh.add_user("pharmacy-system");
    n.s.engine
        .link_sender(&Actor::new(n.pharmacy, Role::Admin), &user, n.pharmacy)
        .await
        .unwrap();
    let c = n.admitted("outpatient", 2.0).await;
    let today = chrono::Utc::now().date_naive();
    n.cm(
        &format!("mutation($c: UUID!, $s: NaiveDate!) {{ recordMatPlan(input: {{ clientId: $c, medication: BUPRENORPHINE, supplyThrough: $s }}) {RESULT} }}"),
        json!({ "c": c, "s": today + Duration::days(1) }),
    )
    .await;
    let refill = n.s.ok(
        &n.coordinator,
        &format!("mutation($c: UUID!, $p: UUID!, $on: NaiveDate!) {{ scheduleMatRefill(input: {{ clientId: $c, providerId: $p, kind: REFILL, on: $on }}) {RESULT} }}"),
        json!({ "c": c, "p": n.pharmacy, "on": today }),
    )
    .await;
    let refill = refill["scheduleMatRefill"]["events"][0]["id"].clone();
    let visit = n.s.ok(
        &n.coordinator,
        &format!("mutation($c: UUID!, $p: UUID!, $at: DateTime!) {{ scheduleAftercare(input: {{ clientId: $c, providerId: $p, kind: COUNSELING, at: $at }}) {RESULT} }}"),
        json!({ "c": c, "p": n.provider("outpatient"), "at": chrono::Utc::now() }),
    )
    .await;
    let visit = visit["scheduleAftercare"]["events"][0]["id"].clone();

    let record = "mutation($c: UUID!, $b: UUID!) { recordBookingOutcome(input: { clientId: $c, bookingId: $b, outcome: ATTENDED }) { events { type } } }";
    let (code, _) =
        n.s.code(
            Some(n.partner("iop")),
            record,
            json!({ "c": c, "b": visit }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    let kept =
        n.s.ok(
            n.partner("outpatient"),
            record,
            json!({ "c": c, "b": visit }),
        )
        .await;
    assert_eq!(
        kept["recordBookingOutcome"]["events"][0]["type"],
        json!("aftercare.appointment.attended")
    );

    let through = today + Duration::days(28);
    send(
        &url,
        &user,
        "mat.refill.picked_up",
        "picked-1",
        serde_json::to_vec(
            &json!({ "clientId": c, "bookingId": refill, "supplyThrough": through }),
        )
        .unwrap(),
    )
    .await;
    let q = "query($c: UUID!) { client(id: $c) { matPlan { supplyThrough } matBookings { outcome } aftercare { outcome } } }";
    let mut seen = json!(null);
    for _ in 0..100 {
        seen = n.cm(q, json!({ "c": c })).await;
        if seen["client"]["matBookings"][0]["outcome"] == json!("ATTENDED") {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert_eq!(
        seen["client"]["matBookings"][0]["outcome"],
        json!("ATTENDED"),
        "{seen}"
    );
    assert_eq!(
        seen["client"]["matPlan"]["supplyThrough"],
        json!(through.to_string()),
        "{seen}"
    );
    assert_eq!(
        seen["client"]["aftercare"][0]["outcome"],
        json!("ATTENDED"),
        "{seen}"
    );
}

on_both_backends!(
    a_step_down_never_arrived_is_missed_at_the_deadline_and_frees_the_hold,
    a_transfer_out_nobody_confirms_is_missed_and_listed_for_outreach,
    a_full_provider_waitlists_and_the_freed_slot_goes_to_the_head,
    the_receiving_provider_closes_the_loop_over_graphql_and_amqp,
    booking_outcomes_arrive_over_graphql_and_amqp,
);
