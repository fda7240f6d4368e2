//! What reaches whom on RabbitMQ: events nobody is bound for, narrow bindings, and each
//! organization's copies (42 CFR Part 2 at the broker). Each test in a vhost of its own.

use crate::api::Net;
use crate::broker::{self, TestVhost};
use crate::on_both_backends;
use crate::relay::{event_count, walk};
use crate::server::TestServer;
use crate::support::Backend;
use carepath_relay::topology::UNROUTED_QUEUE;
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

/// The client's events, in order: (id, type).
async fn events_of(n: &Net, client: &str) -> Vec<(String, String)> {
    let d = n
        .cm(
            "query($c: UUID!) { careEvents(clientId: $c, first: 100) { edges { node { id type } } } }",
            json!({ "c": client }),
        )
        .await;
    d["careEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["id"].as_str().unwrap().to_owned(),
                e["node"]["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Wait until the outbox is empty.
async fn outbox_drains(n: &Net) {
    for _ in 0..300 {
        if n.s.engine.store().outbox_lag().await.unwrap().0 == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the outbox did not drain: {:?}",
        n.s.engine.store().outbox_lag().await.unwrap()
    );
}

/// A coordinator bound to handoffs only: exactly one copy of each handoff event, in
/// order, and nothing else; every other event is kept in `carepath.unrouted`, once; the
/// outbox drains and `/readyz` stays ready.
async fn a_narrow_binding_gets_each_match_once(b: Backend) {
    let vh = TestVhost::new();
    let n = Net::with_env(b, &[("CAREPATH_AMQP_URL", &vh.url())]).await;
    let queue = broker::bind_queue(&vh.url(), &format!("{}.own.handoff.#", n.home)).await;
    let c = n.register().await;
    walk(&n, &c, async |_| {}).await;
    let events = events_of(&n, &c).await;
    let wanted: Vec<&str> = events
        .iter()
        .filter(|(_, t)| t.starts_with("handoff."))
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(wanted.len(), 8, "planned and ready, four times: {events:?}");
    outbox_drains(&n).await;
    // Anything that would come twice comes within the relay's backoff; wait past it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = broker::drain(&vh.url(), &queue, Duration::from_secs(5), |_| false).await;
    let ids: Vec<String> = got.iter().map(|m| m.header("ce-id").unwrap()).collect();
    assert_eq!(
        ids, wanted,
        "each handoff event once, in order, nothing else"
    );

    let total = events.len();
    let kept = broker::drain(&vh.url(), UNROUTED_QUEUE, Duration::from_secs(5), |_| false).await;
    let mut copies = HashSet::new();
    for m in &kept {
        assert!(
            copies.insert((m.header("ce-id").unwrap(), m.routing_key.clone())),
            "a copy published twice: {}",
            m.routing_key
        );
    }
    let own: Vec<&broker::Received> = kept
        .iter()
        .filter(|m| m.routing_key.starts_with(&format!("{}.own.", n.home)))
        .collect();
    assert_eq!(
        own.len(),
        total - wanted.len(),
        "every other event kept, once"
    );
    let (status, body) = n.s.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
}

/// Nobody bound at all: the outbox drains into the alternate exchange; the log at info level
/// (lapin at trace) stays small and names no event.
async fn nobody_bound_the_outbox_drains_and_the_log_stays_quiet(b: Backend) {
    let vh = TestVhost::new();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let s = TestServer::start_logged(
        b,
        &[
            ("CAREPATH_AMQP_URL", &vh.url()),
            ("CAREPATH_LOG", "info,lapin=trace"),
        ],
        Some(&log),
    )
    .await;
    let n = Net::on(s).await;
    let c = n.register().await;
    walk(&n, &c, async |_| {}).await;
    outbox_drains(&n).await;
    let total = event_count(&n, &c).await;
    let kept = broker::drain(&vh.url(), UNROUTED_QUEUE, Duration::from_secs(20), |m| {
        broker::unique(m).len() >= total
    })
    .await;
    assert_eq!(broker::unique(&kept).len(), total, "every event kept");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, body) = n.s.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.len() < 8 * 1024,
        "{} bytes of log:\n{text}",
        text.len()
    );
    for (id, _) in events_of(&n, &c).await {
        assert!(!text.contains(&id), "event {id} in the log:\n{text}");
    }
    assert!(
        !text.contains("clientId"),
        "an event body in the log:\n{text}"
    );
}

on_both_backends!(
    a_narrow_binding_gets_each_match_once,
    nobody_bound_the_outbox_drains_and_the_log_stays_quiet,
);
