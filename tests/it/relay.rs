//! Events on RabbitMQ, against the real broker: each test in a vhost of its own.

use crate::api::{DISCHARGE, Net, RESULT};
use crate::broker::{self, TestVhost};
use crate::on_both_backends;
use crate::support::Backend;
use carepath_relay::topology::EVERY_EVENT_ONCE;
use chrono::{Duration, Utc};
use lapin::BasicProperties;
use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable, LongString};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration as StdDuration;

pub(crate) async fn event_count(n: &Net, client: &str) -> usize {
    let d = n
        .cm(
            "query($c: UUID!) { careEvents(clientId: $c, first: 100) { edges { node { seq } } } }",
            json!({ "c": client }),
        )
        .await;
    d["careEvents"]["edges"].as_array().unwrap().len()
}

/// Every message is a CloudEvent 1.0 in binary mode; per client, `ce-sequence` runs 1, 2, 3…
fn check_cloudevents(msgs: &[broker::Received], client: &str) {
    let mut seq = 0;
    for m in msgs
        .iter()
        .filter(|m| m.header("ce-subject").as_deref() == Some(client))
    {
        assert_eq!(m.header("ce-specversion").as_deref(), Some("1.0"));
        let id = m.header("ce-id").unwrap();
        assert_eq!(
            m.properties
                .message_id()
                .as_ref()
                .map(|s| s.as_str().to_owned()),
            Some(id.clone())
        );
        assert_eq!(m.header("ce-source").as_deref(), Some("/carepath"));
        let ce_type = m.header("ce-type").unwrap();
        let event_type = ce_type
            .strip_prefix("org.carepath.")
            .expect("ce-type prefix");
        assert!(
            m.routing_key.contains(&format!(".own.{event_type}.")),
            "{} vs {ce_type}",
            m.routing_key
        );
        chrono::DateTime::parse_from_rfc3339(&m.header("ce-time").unwrap())
            .expect("ce-time is RFC 3339");
        assert_eq!(
            m.properties.content_type().as_ref().map(|c| c.as_str()),
            Some("application/json")
        );
        assert_eq!(*m.properties.delivery_mode(), Some(2), "persistent");
        seq += 1;
        assert_eq!(
            m.header("ce-sequence").unwrap(),
            seq.to_string(),
            "in order, no gap"
        );
        assert_eq!(m.body["seq"], json!(seq));
        assert!(m.body.get("name").is_none() && m.body["data"].get("name").is_none());
        if m.body.get("recipientOrg").is_some() {
            assert!(
                m.body["redisclosureNotice"]
                    .as_str()
                    .unwrap()
                    .contains("42 CFR part 2")
            );
        }
    }
}

pub(crate) async fn walk(n: &Net, c: &str, during: impl AsyncFn(&str)) {
    n.consent(c).await;
    n.admit(c, "detox", 40.0).await;
    for (i, (level, hours)) in [
        ("residential", 30.0),
        ("php", 25.0),
        ("iop", 12.0),
        ("outpatient", 2.0),
    ]
    .into_iter()
    .enumerate()
    {
        let r = n.refer(c, level).await;
        n.accept(level, &r).await;
        if level == "outpatient" {
            n.book_aftercare(c, 3).await;
        }
        n.step_down(c, level, hours).await;
        if i == 1 {
            during(level).await;
        }
    }
    n.cm(DISCHARGE, json!({ "c": c })).await;
}

async fn journey_events_arrive_in_order(b: Backend) {
    let vh = TestVhost::new();
    let queue = broker::bind_queue(&vh.url(), EVERY_EVENT_ONCE).await;
    let n = Net::with_env(b, &[("CAREPATH_AMQP_URL", &vh.url())]).await;
    let c = n.register().await;
    walk(&n, &c, async |_| {}).await;
    let total = event_count(&n, &c).await;
    let msgs = broker::drain(&vh.url(), &queue, StdDuration::from_secs(30), |m| {
        m.len() >= total
    })
    .await;
    assert_eq!(msgs.len(), total, "every event, once");
    assert_eq!(broker::unique(&msgs).len(), total, "no ce-id twice");
    check_cloudevents(&msgs, &c);
    let keys: Vec<&str> = msgs.iter().map(|m| m.routing_key.as_str()).collect();
    for k in [
        "client.admitted.detox",
        "referral.sent.residential",
        "handoff.ready.php",
        "transition.completed.outpatient",
        "discharge.completed.outpatient",
    ] {
        let k = format!("{}.own.{k}", n.home);
        assert!(keys.contains(&k.as_str()), "no {k} in {keys:?}");
    }
    // The outbox empties (the relay deletes an event once every copy is acked) and the
    // relay is healthy.
    let (status, _) = n.s.get("/readyz").await;
    assert_eq!(status, 200);
    for _ in 0..100 {
        if n.s.engine.outbox_lag().await.unwrap().0 == 0 {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert_eq!(n.s.engine.outbox_lag().await.unwrap().0, 0);
}

async fn broker_outage_loses_nothing(b: Backend) {
    let vh = TestVhost::new();
    let queue = broker::bind_queue(&vh.url(), EVERY_EVENT_ONCE).await;
    let n = Net::with_env(b, &[("CAREPATH_AMQP_URL", &vh.url())]).await;
    let c = n.register().await;
    walk(&n, &c, async |_| {
        // Mid-journey, the broker drops every connection; the API keeps answering.
        vh.close_connections();
        let census = n.cm("{ census { level } }", json!({})).await;
        assert_eq!(census["census"].as_array().unwrap().len(), 5);
    })
    .await;
    vh.close_connections();
    let total = event_count(&n, &c).await;
    let msgs = broker::drain(&vh.url(), &queue, StdDuration::from_secs(60), |m| {
        broker::unique(m).len() >= total
    })
    .await;
    let unique = broker::unique(&msgs);
    assert_eq!(unique.len(), total, "every event arrived");
    check_cloudevents(&unique, &c);
}

/// Publish a CloudEvent on `carepath.inbound` as `url`'s user.
pub(crate) async fn send(url: &str, user: &str, ce_type: &str, id: &str, body: Vec<u8>) {
    let conn = broker::connect(url).await;
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(Default::default()).await.unwrap();
    let mut h = FieldTable::default();
    for (k, v) in [
        ("ce-specversion", "1.0"),
        ("ce-id", id),
        ("ce-source", "/scheduler"),
        ("ce-type", ce_type),
    ] {
        h.insert(
            k.into(),
            AMQPValue::LongString(LongString::from(v.to_owned())),
        );
    }
    let props = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_user_id(user.into())
        .with_delivery_mode(2)
        .with_headers(h);
    // The consumer declares the topology; wait for it.
    for _ in 0..100 {
        let confirm = ch
            .basic_publish(
                "carepath.inbound".into(),
                ce_type.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &body,
                props.clone(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        if confirm.take_message().is_none() {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    let _ = conn.close(200, "sent".into()).await;
}

async fn inbound_booking_satisfies_the_gate(b: Backend) {
    let mut vh = TestVhost::new();
    let n = Net::with_env(b, &[("CAREPATH_AMQP_URL", &vh.url())]).await;
    let clinic = n.provider("outpatient");
    let (user, url) = vh.add_user("scheduler");
    n.s.engine
        .link_sender(
            &carepath_engine::domain::Actor::new(clinic, carepath_engine::domain::Role::Admin),
            &user,
            clinic,
        )
        .await
        .unwrap();
    let c = n.register().await;
    n.consent(&c).await;
    n.admit(&c, "outpatient", 2.0).await;
    let (code, _) = n.s.code(Some(&n.cm), DISCHARGE, json!({ "c": c })).await;
    assert_eq!(code, "GATE_UNMET");

    let booking = |provider: uuid::Uuid| {
        serde_json::to_vec(&json!({ "clientId": c, "providerId": provider, "kind": "outpatient", "at": Utc::now() + Duration::days(3) })).unwrap()
    };
    // Acting for another organization: refused, dead-lettered with the reason.
    let other = n.provider("iop").0;
    send(
        &url,
        &user,
        "org.carepath.aftercare.appointment.scheduled",
        "ce-1",
        booking(other),
    )
    .await;
    // Not JSON at all.
    send(
        &url,
        &user,
        "aftercare.appointment.scheduled",
        "ce-2",
        b"{not json".to_vec(),
    )
    .await;
    // The good one, twice (deduplicated by ce-id).
    send(
        &url,
        &user,
        "aftercare.appointment.scheduled",
        "ce-3",
        booking(clinic.0),
    )
    .await;
    send(
        &url,
        &user,
        "aftercare.appointment.scheduled",
        "ce-3",
        booking(clinic.0),
    )
    .await;

    for _ in 0..100 {
        let booked = n
            .cm(
                "query($c: UUID!) { client(id: $c) { aftercare { id provider { id } } } }",
                json!({ "c": c }),
            )
            .await;
        if !booked["client"]["aftercare"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    let booked = n
        .cm(
            "query($c: UUID!) { client(id: $c) { aftercare { id provider { id } } } }",
            json!({ "c": c }),
        )
        .await;
    let aftercare = booked["client"]["aftercare"].as_array().unwrap();
    assert_eq!(aftercare.len(), 1, "booked once: {booked}");
    assert_eq!(aftercare[0]["provider"]["id"], json!(clinic.to_string()));
    // The planned discharge now goes through.
    n.cm(DISCHARGE, json!({ "c": c })).await;

    let dead = broker::drain(
        &vh.url(),
        "carepath.dead",
        StdDuration::from_secs(20),
        |m| m.len() >= 2,
    )
    .await;
    let reasons: HashMap<String, String> = dead
        .iter()
        .map(|m| {
            (
                m.header("ce-id").unwrap(),
                m.header("x-carepath-reason").expect("a reason header"),
            )
        })
        .collect();
    assert!(
        reasons["ce-1"].contains("may not act for organization"),
        "{reasons:?}"
    );
    assert!(reasons["ce-2"].contains("bad data"), "{reasons:?}");
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    let _ = RESULT;
}

async fn two_processes_share_the_stream(b: Backend) {
    let vh = TestVhost::new();
    let queue = broker::bind_queue(&vh.url(), EVERY_EVENT_ONCE).await;
    let n = Net::with_env(b, &[("CAREPATH_AMQP_URL", &vh.url())]).await;
    // A second server on the same database and broker.
    let second = crate::server::TestServer::attach(&n.s, &[("CAREPATH_AMQP_URL", &vh.url())]).await;
    let clients = 12;
    let mut tasks = Vec::new();
    let n = std::sync::Arc::new(n);
    for i in 0..clients {
        let n = n.clone();
        let url = if i % 2 == 0 {
            n.s.url.clone()
        } else {
            second.url.clone()
        };
        tasks.push(tokio::spawn(async move {
            let c = n.register().await;
            n.consent(&c).await;
            // Half the traffic through the second process.
            let q = "mutation($c: UUID!) { recordAssessment(input: { clientId: $c, recommendedLevel: \"iop\", dimensions: [1,1,1,1,1,1] }) { version } }";
            for _ in 0..5 {
                let r = reqwest::Client::new()
                    .post(format!("{url}/graphql"))
                    .bearer_auth(&n.cm)
                    .json(&json!({ "query": q, "variables": { "c": c } }))
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap();
                assert!(r.get("errors").is_none(), "{r}");
            }
            n.admit(&c, "iop", 12.0).await;
            c
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    let per_client = 1 + 1 + 5 + 1;
    let total = clients * per_client;
    let msgs = broker::drain(&vh.url(), &queue, StdDuration::from_secs(60), |m| {
        m.len() >= total
    })
    .await;
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    assert_eq!(msgs.len(), total, "none lost, none twice");
    assert_eq!(broker::unique(&msgs).len(), total, "no ce-id twice");
    for c in &ids {
        check_cloudevents(&msgs, c);
    }
}

/// PostgreSQL: a commit in a process that does not relay wakes the relay of another at once
/// (the engine's NOTIFY after the commit), long before that relay would poll.
#[tokio::test]
async fn a_commit_elsewhere_wakes_the_relay() {
    let vh = TestVhost::new();
    let queue = broker::bind_queue(&vh.url(), EVERY_EVENT_ONCE).await;
    let n = Net::with_env(
        Backend::Postgres,
        &[
            ("CAREPATH_AMQP_URL", &vh.url()),
            ("CAREPATH_RELAY_POLL_MS", "600000"),
        ],
    )
    .await;
    // The relay is up and has drained the outbox: this process's own commit reached the broker.
    n.register().await;
    let first = broker::drain(&vh.url(), &queue, StdDuration::from_secs(30), |m| {
        !m.is_empty()
    })
    .await;
    assert_eq!(first.len(), 1);
    // A second process on the same database with no relay of its own.
    let quiet = crate::server::TestServer::attach(&n.s, &[]).await;
    let d = quiet
        .ok(
            &n.cm,
            &format!("mutation {{ registerClient(input: {{ birthYear: 1990 }}) {RESULT} }}"),
            json!({}),
        )
        .await;
    let c = d["registerClient"]["clientId"].as_str().unwrap().to_owned();
    let msgs = broker::drain(&vh.url(), &queue, StdDuration::from_secs(30), |m| {
        !m.is_empty()
    })
    .await;
    assert_eq!(msgs.len(), 1, "woken by the other process's commit");
    assert_eq!(msgs[0].header("ce-subject"), Some(c));
}

/// No broker at all: the API keeps serving, events wait in the outbox, `/metrics` shows the
/// backlog and `/readyz` says the relay is stuck once the oldest event is older than allowed.
async fn broker_down_events_wait_and_readyz_says_so(b: Backend) {
    // Nothing listens on this port.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "amqp://guest:guest@127.0.0.1:{}/%2f",
        dead.local_addr().unwrap().port()
    );
    drop(dead);
    // A process of its own: `/metrics` gauges are per process, and in-process servers of
    // other tests would write the same ones.
    let n = Net::on(
        crate::server::TestServer::start_process(
            b,
            &[
                ("CAREPATH_AMQP_URL", &url),
                ("CAREPATH_RELAY_STUCK_SECS", "1"),
            ],
            None,
        )
        .await,
    )
    .await;
    let c = n.register().await;
    n.consent(&c).await;
    assert_eq!(n.s.engine.outbox_lag().await.unwrap().0, 2);
    let mut last = (0, String::new());
    for _ in 0..100 {
        last = n.s.get("/readyz").await;
        if last.0 == 503 {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert_eq!(last.0, 503, "{last:?}");
    assert!(
        last.1.contains("relay stuck") && last.1.contains("unreachable"),
        "{last:?}"
    );
    let (_, metrics) = n.s.get("/metrics").await;
    assert!(
        metrics.lines().any(|l| l == "carepath_outbox_backlog 2"),
        "{metrics}"
    );
    assert!(
        metrics.lines().any(|l| l == "carepath_relay_connected 0"),
        "{metrics}"
    );
    // The API still answers, and the events are still there.
    n.admit(&c, "iop", 12.0).await;
    assert_eq!(n.s.engine.outbox_lag().await.unwrap().0, 3);
}

/// A queue that refuses messages (at its length limit, `reject-publish`): the broker nacks
/// the copies it refuses; the relay keeps each refused event and the client's later ones in the
/// outbox and sends them again, in order, until taken. Every other queue receives each event
/// first in commit order (the events sent again it drops by `ce-id`), the refusing one every
/// event once it is read, and nothing is lost.
async fn a_refusing_queue_loses_nothing_and_keeps_order_elsewhere(b: Backend) {
    let vh = TestVhost::new();
    let all = broker::bind_queue(&vh.url(), EVERY_EVENT_ONCE).await;
    let mut args = FieldTable::default();
    args.insert("x-max-length".into(), AMQPValue::LongLongInt(4));
    args.insert(
        "x-overflow".into(),
        AMQPValue::LongString(LongString::from("reject-publish")),
    );
    let small = broker::bind_queue_with(&vh.url(), EVERY_EVENT_ONCE, args).await;
    let n = Net::with_env(b, &[("CAREPATH_AMQP_URL", &vh.url())]).await;
    let c = n.register().await;
    walk(&n, &c, async |_| {}).await;
    let total = event_count(&n, &c).await;
    assert!(
        total > 20,
        "a journey fills the small queue many times over"
    );
    let refused = broker::drain(&vh.url(), &small, StdDuration::from_secs(120), |m| {
        broker::unique(m).len() >= total
    })
    .await;
    assert_eq!(
        broker::unique(&refused).len(),
        total,
        "every event, once read"
    );
    let msgs = broker::drain(&vh.url(), &all, StdDuration::from_secs(30), |m| {
        broker::unique(m).len() >= total
    })
    .await;
    assert!(
        msgs.len() > total,
        "refused events and their followers came again"
    );
    let unique = broker::unique(&msgs);
    assert_eq!(unique.len(), total, "every event arrived");
    check_cloudevents(&unique, &c);
    for _ in 0..100 {
        if n.s.engine.outbox_lag().await.unwrap().0 == 0 {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert_eq!(n.s.engine.outbox_lag().await.unwrap().0, 0);
}

/// A metric's value on the server's `/metrics`, 0 when it is not there yet.
async fn metric(n: &Net, name: &str) -> f64 {
    let (_, text) = n.s.get("/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// The relay behind with the broker up (here: another process holds the relay lease and
/// publishes nothing): once the oldest waiting event is older than `relay_lag_limit_ms`,
/// `/healthz` and `/metrics` say so and each command waits for the relay first; once it
/// catches up, commands run unpaced again and the events all arrive.
async fn events_behind_pace_commands_and_healthz_says_so(b: Backend) {
    let vh = TestVhost::new();
    let queue = broker::bind_queue(&vh.url(), EVERY_EVENT_ONCE).await;
    // A process of its own: `/metrics` is per process.
    let n = Net::on(
        crate::server::TestServer::start_process(
            b,
            &[
                ("CAREPATH_AMQP_URL", &vh.url()),
                ("CAREPATH_RELAY_LAG_LIMIT_MS", "300"),
            ],
            None,
        )
        .await,
    )
    .await;
    let first = n.register().await;
    let mut arrived = broker::drain(&vh.url(), &queue, StdDuration::from_secs(30), |m| {
        !m.is_empty()
    })
    .await;
    // Another holder takes the lease; this server's relay gives up at its next renewal.
    let db = sea_orm::Database::connect(&n.s.db_url).await.unwrap();
    loop {
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("DELETE FROM relay_leases")
            .await
            .unwrap();
        if n.s
            .engine
            .hold_relay_lease("elsewhere", Duration::hours(1))
            .await
            .unwrap()
        {
            break;
        }
    }
    let mut clients = vec![first];
    let mut health = String::new();
    for _ in 0..300 {
        clients.push(n.register().await);
        health = n.s.get("/healthz").await.1;
        if health.contains("events behind") {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert!(health.starts_with("ok"), "{health}");
    assert!(
        health.contains("events behind") && health.contains("over the limit of 300 ms"),
        "{health}"
    );
    assert_eq!(metric(&n, "carepath_relay_behind").await, 1.0);
    let paced = metric(&n, "carepath_commands_paced_total").await;
    let started = std::time::Instant::now();
    clients.push(n.register().await);
    assert!(
        started.elapsed() >= StdDuration::from_millis(250),
        "a command while behind waits for the relay (at most the limit)"
    );
    assert!(metric(&n, "carepath_commands_paced_total").await > paced);

    // The lease free again: the relay catches up and commands run unpaced.
    n.s.engine.release_relay_lease("elsewhere").await.unwrap();
    for _ in 0..300 {
        health = n.s.get("/healthz").await.1;
        if !health.contains("events behind") {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert_eq!(health.trim(), "ok");
    assert_eq!(metric(&n, "carepath_relay_behind").await, 0.0);
    let paced = metric(&n, "carepath_commands_paced_total").await;
    clients.push(n.register().await);
    assert_eq!(metric(&n, "carepath_commands_paced_total").await, paced);
    // Every client's registration, the first one's read before the lease was taken.
    let before = arrived.len();
    arrived.extend(
        broker::drain(&vh.url(), &queue, StdDuration::from_secs(30), |m| {
            broker::unique(m).len() + before >= clients.len()
        })
        .await,
    );
    assert_eq!(
        broker::unique(&arrived).len(),
        clients.len(),
        "every event arrived"
    );
}

on_both_backends!(
    events_behind_pace_commands_and_healthz_says_so,
    a_refusing_queue_loses_nothing_and_keeps_order_elsewhere,
    broker_down_events_wait_and_readyz_says_so,
    journey_events_arrive_in_order,
    broker_outage_loses_nothing,
    inbound_booking_satisfies_the_gate,
    two_processes_share_the_stream,
);
