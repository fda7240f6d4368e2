//! Time a tester can skip: `serve --time-skipping` over HTTP — timers fire on the way of
//! `advanceClock`, in due order, each at its due time; the clock is kept in the database and
//! never goes back; a database is served on one clock only.

use crate::api::{Net, RESULT};
use crate::on_both_backends;
use crate::server::TestServer;
use crate::support::{Backend, TestDb, World};
use carepath_engine::domain::Role;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

const SKIPPING: (&str, &str) = ("CAREPATH_TIME_SKIPPING", "true");

const ADVANCE: &str =
    "mutation($by: String!) { advanceClock(by: $by) { from to timersFired dueTimes } }";

/// Tokens outlive the days skipped (the test server's last one day, on the skipped clock).
const TOKEN_DAYS: u32 = 400;

/// A network on a time-skipping server, its tokens valid for [`TOKEN_DAYS`], and an admin's.
pub(crate) async fn skipping_net(b: Backend) -> (Net, String) {
    skipping_net_with(b, &[]).await
}

/// [`skipping_net`] with more settings.
pub(crate) async fn skipping_net_with(b: Backend, env: &[(&str, &str)]) -> (Net, String) {
    let mut vars = vec![SKIPPING];
    vars.extend_from_slice(env);
    let mut n = Net::on(TestServer::start_with(b, &vars).await).await;
    let token = |org, role| {
        let engine = n.s.engine.clone();
        async move {
            engine
                .create_token(org, role, Some("test"), TOKEN_DAYS, None)
                .await
                .expect("token")
        }
    };
    n.cm = token(n.home, Role::CaseManager).await;
    n.coordinator = token(n.hub, Role::AftercareCoordinator).await;
    let mut partners = Vec::new();
    for (org, _) in &n.partners {
        partners.push((*org, token(*org, Role::Partner).await));
    }
    n.partners = partners;
    let admin = token(n.home, Role::Admin).await;
    (n, admin)
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("a time: {v}")))
        .unwrap_or_else(|e| panic!("{v}: {e}"))
        .with_timezone(&Utc)
}

/// The server's clock, as it says on every response.
pub(crate) fn clock(s: &TestServer) -> DateTime<Utc> {
    s.engine.time_skipping().expect("a time-skipping server")
}

pub(crate) async fn advance(s: &TestServer, admin: &str, by: &str) -> Value {
    s.ok(admin, ADVANCE, json!({ "by": by })).await["advanceClock"].clone()
}

/// A client's events as (type, occurredAt, data).
async fn events(n: &Net, client: &str) -> Vec<(String, DateTime<Utc>, Value)> {
    let page = n
        .cm(
            "query($c: UUID!) { careEvents(clientId: $c, first: 100) { edges { node { type occurredAt data } } } }",
            json!({ "c": client }),
        )
        .await;
    page["careEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let node = &e["node"];
            (
                node["type"].as_str().unwrap().to_owned(),
                time(&node["occurredAt"]),
                node["data"].clone(),
            )
        })
        .collect()
}

/// An outpatient appointment `days` from the skipped clock's now, booked by the coordinator;
/// its id.
pub(crate) async fn book_outpatient(n: &Net, client: &str, days: i64) -> String {
    let at = clock(&n.s) + Duration::days(days);
    n.s.ok(
        &n.coordinator,
        &format!("mutation($c: UUID!, $p: UUID!, $at: DateTime!) {{ scheduleAftercare(input: {{ clientId: $c, providerId: $p, kind: OUTPATIENT, at: $at }}) {RESULT} }}"),
        json!({ "c": client, "p": n.provider("outpatient"), "at": at }),
    )
    .await["scheduleAftercare"]["createdIds"][0]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The events of a client happened in the order they were recorded: timers fired in due
/// order, never at the advanced-to time ahead of one due earlier.
fn in_time_order(events: &[(String, DateTime<Utc>, Value)]) {
    for pair in events.windows(2) {
        assert!(
            pair[0].1 <= pair[1].1,
            "{} at {} before {} at {}",
            pair[0].0,
            pair[0].1,
            pair[1].0,
            pair[1].1
        );
    }
}

/// A referral nobody answers expires at its deadline (24 hours for residential care) and,
/// nothing else being open, escalates to the case manager — at the deadline, not at the
/// time the clock was advanced to.
async fn a_referral_expires_and_escalates_after_advance_clock(b: Backend) {
    let (n, admin) = skipping_net(b).await;
    let c = n.admitted("detox", 40.0).await;
    n.refer(&c, "residential").await;
    let sent = clock(&n.s);
    let advanced = advance(&n.s, &admin, "P2D").await;
    assert_eq!(time(&advanced["from"]), sent);
    assert_eq!(time(&advanced["to"]), sent + Duration::days(2));
    assert!(advanced["timersFired"].as_u64().unwrap() >= 1, "{advanced}");
    assert_eq!(clock(&n.s), sent + Duration::days(2));

    let seen = n
        .cm(
            "query($c: UUID!) { client(id: $c) { referrals { status } } }",
            json!({ "c": c }),
        )
        .await;
    assert_eq!(
        seen["client"]["referrals"][0]["status"],
        json!("EXPIRED"),
        "{seen}"
    );
    let all = events(&n, &c).await;
    in_time_order(&all);
    let expired: Vec<_> = all.iter().filter(|e| e.0 == "referral.expired").collect();
    assert_eq!(expired.len(), 1, "{all:?}");
    assert_eq!(expired[0].2["escalate"], json!(true), "{:?}", expired[0]);
    assert_eq!(expired[0].1, sent + Duration::hours(24), "at the deadline");
}

/// After residential care, the 7- and 30-day follow-up checks fire as their last day ends,
/// each event dated at its due time: met for a client whose visit took place, missed for one
/// whose booking was never kept.
async fn followups_fire_on_day_7_and_30_at_their_due_times(b: Backend) {
    let (n, admin) = skipping_net(b).await;
    let discharge = "mutation($c: UUID!) { discharge(input: { clientId: $c, kind: PLANNED }) { events { type } } }";
    let kept = n.admitted("residential", 30.0).await;
    let visit = book_outpatient(&n, &kept, 5).await;
    n.cm(discharge, json!({ "c": kept })).await;
    let missed = n.admitted("residential", 30.0).await;
    book_outpatient(&n, &missed, 3).await;
    n.cm(discharge, json!({ "c": missed })).await;
    let discharged = clock(&n.s);

    advance(&n.s, &admin, "P5DT1H").await;
    n.s.ok(
        n.partner("outpatient"),
        "mutation($c: UUID!, $b: UUID!) { recordBookingOutcome(input: { clientId: $c, bookingId: $b, outcome: ATTENDED }) { events { type } } }",
        json!({ "c": kept, "b": visit }),
    )
    .await;
    let advanced = advance(&n.s, &admin, "P30D").await;
    let to = time(&advanced["to"]);
    assert_eq!(to, discharged + Duration::days(35) + Duration::hours(1));

    for (client, outcome) in [(&kept, "followup.met"), (&missed, "followup.missed")] {
        let all = events(&n, client).await;
        in_time_order(&all);
        let checks: Vec<(u64, DateTime<Utc>)> = all
            .iter()
            .filter(|e| e.0.starts_with("followup."))
            .map(|e| {
                assert_eq!(e.0, outcome, "{all:?}");
                (e.2["days"].as_u64().unwrap(), e.1)
            })
            .collect();
        // As HEDIS counts the window, in calendar days: due as day 7 (30) after the
        // discharge's date ends.
        let day_ends = |days: i64| {
            (discharged.date_naive() + Duration::days(days + 1))
                .and_time(chrono::NaiveTime::MIN)
                .and_utc()
        };
        assert_eq!(
            checks,
            [(7, day_ends(7)), (30, day_ends(30))],
            "{outcome}: each as its last day ends, not at {to}"
        );
    }
}

/// A consent "until treatment ends" (42 CFR 2.31: expiry upon an event), signed before the
/// admission, covers that episode: the discharge and the 30-day follow-up after it go out
/// under it — the aftercare coordinator and the provider of the follow-up visit still read
/// the client on day 30 — and a day later it has ended: neither learns the client exists.
async fn an_end_of_treatment_consent_ends_after_the_discharges_follow_up(b: Backend) {
    let (n, admin) = skipping_net(b).await;
    let c = n.admitted("residential", 30.0).await;
    book_outpatient(&n, &c, 5).await;
    n.cm(
        "mutation($c: UUID!) { discharge(input: { clientId: $c, kind: PLANNED }) { events { type } } }",
        json!({ "c": c }),
    )
    .await;
    let discharged = clock(&n.s);
    let read = "query($c: UUID!) { client(id: $c) { id status } }";
    let consents = "query($c: UUID!) { client(id: $c) { consents { active endsAt } } }";
    let seen = n.cm(consents, json!({ "c": c })).await;
    let ends = discharged + Duration::days(31);
    let consent = &seen["client"]["consents"][0];
    assert_eq!(consent["active"], json!(true), "{seen}");
    assert_eq!(
        time(&consent["endsAt"]),
        ends,
        "30 days of follow-up and a day's margin"
    );
    advance(&n.s, &admin, "P30D").await;
    for token in [&n.coordinator, n.partner("outpatient")] {
        let seen = n.s.ok(token, read, json!({ "c": c })).await;
        assert_eq!(seen["client"]["status"], json!("DISCHARGED"), "{seen}");
    }
    advance(&n.s, &admin, "P1D").await;
    for token in [&n.coordinator, n.partner("outpatient")] {
        let (code, e) = n.s.code(Some(token), read, json!({ "c": c })).await;
        assert_eq!(code, "NOT_FOUND", "{e}");
    }
    let seen = n.cm(consents, json!({ "c": c })).await;
    assert_eq!(
        seen["client"]["consents"][0]["active"],
        json!(false),
        "{seen}"
    );
}

/// The clock is kept in the database: a server started again on it resumes where the clock
/// stood — not at the wall clock, never before — and moves on from there.
async fn the_clock_survives_a_restart_and_never_goes_back(b: Backend) {
    let db = TestDb::new(b).await;
    let first = TestServer::serve_on(&db.url, &[SKIPPING])
        .await
        .expect("a new database may be served with time skipping");
    let started = clock(&first);
    let home = first.org("Harbor", &[]).await;
    let admin = first
        .engine
        .create_token(home, Role::Admin, Some("test"), TOKEN_DAYS, None)
        .await
        .unwrap();
    let advanced = advance(&first, &admin, "P10D").await;
    assert_eq!(time(&advanced["to"]), started + Duration::days(10));
    first.stop().await;

    let again = TestServer::serve_on(&db.url, &[SKIPPING])
        .await
        .expect("a time-skipping database opens with time skipping");
    assert_eq!(clock(&again), started + Duration::days(10), "resumed");
    let (headers, body) = again
        .post_with_headers(Some(&admin), json!({ "query": "{ census { level } }" }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let said = headers
        .get("carepath-clock")
        .expect("every response says the clock")
        .to_str()
        .unwrap()
        .to_owned();
    let said = said.strip_prefix("skipped ").expect(&said);
    assert_eq!(
        DateTime::parse_from_rfc3339(said).unwrap(),
        started + Duration::days(10)
    );
    let (status, health) = again.get("/healthz").await;
    assert_eq!(status, 200);
    assert!(health.contains("time skipping"), "{health}");
    let advanced = advance(&again, &admin, "PT1H").await;
    assert_eq!(
        time(&advanced["from"]),
        started + Duration::days(10),
        "from where it stood"
    );
    let stands = started + Duration::days(10) + Duration::hours(1);
    assert_eq!(clock(&again), stands);
    // In the process (a simulation): up to a moment, never before the clock; at the clock
    // itself it fires what is due and moves nothing.
    assert!(matches!(
        again.engine.advance_clock_to(started).await,
        Err(carepath_engine::Error::BadInput(_))
    ));
    assert_eq!(clock(&again), stands, "not moved back");
    let still = again.engine.advance_clock_to(stands).await.unwrap();
    assert_eq!((still.from, still.to), (stands, stands));
    let later = stands + Duration::days(400);
    let moved = again.engine.advance_clock_to(later).await.unwrap();
    assert_eq!(
        (moved.from, moved.to),
        (stands, later),
        "any distance ahead"
    );
    assert_eq!(clock(&again), later);
    again.stop().await;
}

/// A database is served on one clock: a normal serve refuses a time-skipping database, and
/// time skipping refuses a database served normally or holding clients recorded without the
/// mark; a database holding only organizations and tokens may still become either.
async fn a_database_is_served_on_one_clock_only(b: Backend) {
    let skipped = TestDb::new(b).await;
    TestServer::serve_on(&skipped.url, &[SKIPPING])
        .await
        .unwrap()
        .stop()
        .await;
    let refused = TestServer::serve_on(&skipped.url, &[])
        .await
        .err()
        .expect("a normal serve refuses a time-skipping database");
    let message = format!("{refused:#}");
    assert!(
        message.contains("served with time skipping") && message.contains("--time-skipping"),
        "{message}"
    );
    // The binary exits with that message.
    let url = skipped.url.clone();
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_carepath"))
                .arg("serve")
                .env("CAREPATH_DATABASE_URL", url)
                .env("CAREPATH_LISTEN", "127.0.0.1:0")
                .env("CAREPATH_RELAY_ENABLED", "false")
                .output()
        }),
    )
    .await
    .expect("carepath serve exits at once")
    .unwrap()
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("served with time skipping"), "{stderr}");

    let wall = TestDb::new(b).await;
    TestServer::serve_on(&wall.url, &[])
        .await
        .unwrap()
        .stop()
        .await;
    let refused = TestServer::serve_on(&wall.url, &[SKIPPING])
        .await
        .err()
        .expect("time skipping refuses a database served normally");
    assert!(
        format!("{refused:#}").contains("served on the wall clock"),
        "{refused:#}"
    );

    // Never served (written by the engine alone, as `carepath` commands do before a first
    // serve): organizations only may become a time-skipping database, clients may not.
    let w = World::new(b).await;
    let with_client = World::new(b).await;
    with_client.register().await;
    let refused = TestServer::serve_on(&with_client._db.url, &[SKIPPING])
        .await
        .err()
        .expect("time skipping refuses clients recorded on the wall clock");
    assert!(
        format!("{refused:#}").contains("holds clients"),
        "{refused:#}"
    );
    TestServer::serve_on(&w._db.url, &[SKIPPING])
        .await
        .expect("organizations alone are set-up: the database may skip time")
        .stop()
        .await;
}

/// A `by` that is not forward, too long or no duration, and a caller who is no admin, are
/// refused with their codes and move nothing; a wall-clock server says it does not skip.
async fn bad_advances_are_refused_and_change_nothing(b: Backend) {
    let (n, admin) = skipping_net(b).await;
    let c = n.admitted("detox", 40.0).await;
    n.refer(&c, "residential").await;
    let before = clock(&n.s);
    for by in ["P0D", "P367D", "-P1D", "P1M", "1 day", "PT", ""] {
        let (code, e) = n.s.code(Some(&admin), ADVANCE, json!({ "by": by })).await;
        assert_eq!(code, "BAD_INPUT", "{by:?}: {e}");
    }
    let (code, _) = n.s.code(Some(&n.cm), ADVANCE, json!({ "by": "P2D" })).await;
    assert_eq!(code, "FORBIDDEN");
    let (code, _) = n.s.code(None, ADVANCE, json!({ "by": "P2D" })).await;
    assert_eq!(code, "UNAUTHENTICATED");
    assert_eq!(clock(&n.s), before, "the clock did not move");
    let seen = n
        .cm(
            "query($c: UUID!) { client(id: $c) { referrals { status } } }",
            json!({ "c": c }),
        )
        .await;
    assert_eq!(seen["client"]["referrals"][0]["status"], json!("PENDING"));
    // The longest advance is allowed.
    advance(&n.s, &admin, "P366D").await;
    assert_eq!(clock(&n.s), before + Duration::days(366));

    let wall = TestServer::start_with(b, &[]).await;
    let home = wall.org("Harbor", &[]).await;
    let admin = wall.token(home, Role::Admin).await;
    let (code, e) = wall
        .code(Some(&admin), ADVANCE, json!({ "by": "P1D" }))
        .await;
    assert_eq!(code, "NOT_TIME_SKIPPING", "{e}");
    assert!(wall.engine.time_skipping().is_none());
    let (headers, _) = wall
        .post_with_headers(Some(&admin), json!({ "query": "{ census { level } }" }))
        .await;
    assert!(headers.get("carepath-clock").is_none());
    assert_eq!(wall.get("/healthz").await.1, "ok");
}

/// Two advances at once take turns: each timer fires once, the clock ends at the sum of
/// both, and one starts where the other ended.
async fn concurrent_advances_fire_each_timer_once(b: Backend) {
    let (n, admin) = skipping_net(b).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        let c = n.admitted("detox", 40.0).await;
        n.refer(&c, "residential").await;
        clients.push(c);
    }
    let start = clock(&n.s);
    let (one, two) = tokio::join!(advance(&n.s, &admin, "P2D"), advance(&n.s, &admin, "P2D"));
    assert_eq!(clock(&n.s), start + Duration::days(4));
    let (first, second) = if time(&one["from"]) == start {
        (one, two)
    } else {
        (two, one)
    };
    assert_eq!(time(&first["from"]), start);
    assert_eq!(time(&second["from"]), time(&first["to"]), "serialised");
    for c in &clients {
        let all = events(&n, c).await;
        in_time_order(&all);
        let expired = all.iter().filter(|e| e.0 == "referral.expired").count();
        assert_eq!(expired, 1, "fired once: {all:?}");
    }
    assert_eq!(
        first["timersFired"].as_u64().unwrap() + second["timersFired"].as_u64().unwrap(),
        // Each client: the referral deadline (day 1) and detox's review (day 3).
        clients.len() as u64 * 2,
        "{first} {second}"
    );
}

on_both_backends!(
    a_referral_expires_and_escalates_after_advance_clock,
    followups_fire_on_day_7_and_30_at_their_due_times,
    an_end_of_treatment_consent_ends_after_the_discharges_follow_up,
    the_clock_survives_a_restart_and_never_goes_back,
    a_database_is_served_on_one_clock_only,
    bad_advances_are_refused_and_change_nothing,
    concurrent_advances_fire_each_timer_once,
);
