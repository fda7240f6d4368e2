//! What reaches whom on RabbitMQ: events nobody is bound for, narrow bindings, and each
//! organization's copies (42 CFR Part 2 at the broker). Each test in a vhost of its own.

use crate::api::Net;
use crate::broker::{self, TestVhost};
use crate::on_both_backends;
use crate::relay::{event_count, walk};
use crate::server::{TestServer, next_message};
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

/// No copy (event, routing key) twice.
fn assert_copies_once(messages: &[broker::Received]) {
    let mut copies = HashSet::new();
    for m in messages {
        assert!(
            copies.insert((m.header("ce-id").unwrap(), m.routing_key.clone())),
            "a copy published twice: {}",
            m.routing_key
        );
    }
}

/// Wait until the outbox is empty.
async fn outbox_drains(n: &Net) {
    for _ in 0..300 {
        if n.s.engine.outbox_lag().await.unwrap().0 == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the outbox did not drain: {:?}",
        n.s.engine.outbox_lag().await.unwrap()
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
    assert_eq!(
        wanted.len(),
        12,
        "planned, ready and started, four times: {events:?}"
    );
    outbox_drains(&n).await;
    // Anything that would come twice comes within the relay's backoff; wait past it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = broker::drain(&vh.url(), &queue, Duration::from_secs(5), |_| false).await;
    let ids: Vec<String> = got.iter().map(|m| m.header("ce-id").unwrap()).collect();
    assert_eq!(
        ids, wanted,
        "each handoff event once, in order, nothing else"
    );

    // What no binding matched — the copies to other organizations (the record holder's
    // copies go to the server's own live feed) — is kept, each copy once.
    let kept = broker::drain(&vh.url(), UNROUTED_QUEUE, Duration::from_secs(5), |_| false).await;
    assert_copies_once(&kept);
    assert!(
        kept.iter()
            .any(|m| m.routing_key.contains(".to.referral.sent.")),
        "the partners' copies are kept"
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
    let s = TestServer::start_process(
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
    let kept = broker::drain(&vh.url(), UNROUTED_QUEUE, Duration::from_secs(5), |_| false).await;
    assert_copies_once(&kept);
    assert!(!kept.is_empty(), "what nobody reads is kept");
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

/// `carepath orgs link-amqp-user` for the test's database and vhost.
fn link_amqp_user(n: &Net, vh: &TestVhost, org: carepath_engine::ids::OrgId, user: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_carepath"))
        .args([
            "orgs",
            "link-amqp-user",
            "--org",
            &org.to_string(),
            "--user",
            user,
        ])
        .env("CAREPATH_DATABASE_URL", &n.s.db_url)
        .env("CAREPATH_AMQP_URL", vh.url())
        .output()
        .expect("run carepath");
    assert!(
        out.status.success(),
        "link-amqp-user failed: {}{}\n(the RabbitMQ management plugin must be on: \
         `rabbitmq-plugins enable rabbitmq_management`, as scripts/test does)",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the broker answers a user trying `what` on a channel of its own: Ok, or the error.
async fn try_on_broker(
    url: &str,
    what: impl AsyncFnOnce(&lapin::Channel) -> lapin::Result<()>,
) -> lapin::Result<()> {
    let conn = broker::connect(url).await;
    let ch = conn.create_channel().await.unwrap();
    let r = what(&ch).await;
    let _ = conn.close(200, "done".into()).await;
    r
}

fn refused(r: lapin::Result<()>, what: &str) {
    let e = r.expect_err(&format!("{what}: allowed"));
    assert!(e.to_string().contains("ACCESS_REFUSED"), "{what}: {e}");
}

async fn declare_and_bind(ch: &lapin::Channel, queue: &str, key: &str) -> lapin::Result<()> {
    use lapin::options::{QueueBindOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    ch.queue_bind(
        queue.into(),
        carepath_relay::topology::EVENTS_EXCHANGE.into(),
        key.into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
}

/// A partner's linked broker user receives the copies addressed to its organization, and the
/// broker refuses it every binding, queue and consumer that could reach another's.
async fn an_organization_reads_only_its_own_copies(b: Backend) {
    let mut vh = TestVhost::new();
    let n = Net::with_env(b, &[("CAREPATH_AMQP_URL", &vh.url())]).await;
    let partner = n.provider("residential");
    let (user, url) = vh.add_user("residential");
    link_amqp_user(&n, &vh, partner, &user);
    // The home organization's queue, declared by an internal (unrestricted) user.
    let home_queue = format!("carepath.org.{}.all", n.home);
    try_on_broker(&vh.url(), async |ch| {
        carepath_relay::topology::declare_events(ch).await?;
        declare_and_bind(ch, &home_queue, &format!("{}.#", n.home)).await
    })
    .await
    .expect("the admin binds anything");

    let inbox = format!("carepath.org.{partner}.inbox");
    try_on_broker(&url, async |ch| {
        declare_and_bind(ch, &inbox, &format!("{partner}.#")).await
    })
    .await
    .expect("its own queue, its own copies");
    for key in ["#", "*.own.#", &format!("{}.#", n.home), "*.to.#"] {
        refused(
            try_on_broker(&url, async |ch| declare_and_bind(ch, &inbox, key).await).await,
            &format!("binding {key}"),
        );
    }
    refused(
        try_on_broker(&url, async |ch| {
            declare_and_bind(ch, "mine", &format!("{partner}.#")).await
        })
        .await,
        "a queue outside its prefix",
    );
    for queue in [home_queue.as_str(), UNROUTED_QUEUE] {
        refused(
            try_on_broker(&url, async |ch| {
                ch.basic_get(queue.into(), Default::default())
                    .await
                    .map(|_| ())
            })
            .await,
            &format!("reading {queue}"),
        );
    }

    let c = n.register().await;
    walk(&n, &c, async |_| {}).await;
    outbox_drains(&n).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = broker::drain(&url, &inbox, Duration::from_secs(3), |_| false).await;
    let keys: Vec<&str> = got.iter().map(|m| m.routing_key.as_str()).collect();
    for k in [
        "referral.sent.residential",
        "referral.accepted.residential",
        "handoff.planned.residential",
        "transition.completed.residential",
        // The step down out of residential: it is the sending provider.
        "transition.completed.php",
    ] {
        assert!(
            keys.contains(&format!("{partner}.to.{k}").as_str()),
            "no {k} in {keys:?}"
        );
    }
    // Minimum necessary: once the client has moved on, the provider left behind hears no
    // more, though the consent still names it.
    assert!(
        !keys
            .iter()
            .any(|k| k.contains(".discharge.") || k.contains(".transition.completed.iop")),
        "{keys:?}"
    );
    for m in &got {
        assert!(
            m.routing_key.starts_with(&format!("{partner}.to.")),
            "{}",
            m.routing_key
        );
        assert_eq!(m.body["recipientOrg"], json!(partner.to_string()));
        assert!(
            m.body["redisclosureNotice"]
                .as_str()
                .unwrap()
                .contains("42 CFR")
        );
    }
    assert!(
        !keys.iter().any(|k| k.contains(".referral.sent.php")),
        "another provider's referral: {keys:?}"
    );
    // Each copy that left is in the accounting.
    let d = n
        .cm(
            "query($c: UUID!) { disclosures(clientId: $c) { recipient { id } what } }",
            json!({ "c": c }),
        )
        .await;
    let broker_disclosures = d["disclosures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["recipient"]["id"] == json!(partner.to_string()))
        .count();
    assert!(broker_disclosures >= got.len() - 3, "{d}");
}

/// A consent revoked while its events wait in the outbox (the broker unreachable): the
/// copies addressed to the organization it named never leave; the record holder's do.
async fn a_consent_revoked_before_relay_stops_the_copies(b: Backend) {
    let vh = TestVhost::new();
    // No relay on this server: events wait.
    let n = Net::with_env(b, &[]).await;
    let partner = n.provider("residential");
    let c = n.register().await;
    let consent = n.consent(&c).await;
    n.admit(&c, "detox", 40.0).await;
    n.refer(&c, "residential").await;
    n.cm(
        "mutation($c: UUID!, $k: UUID!) { revokeConsent(clientId: $c, consentId: $k) { version } }",
        json!({ "c": c, "k": consent }),
    )
    .await;
    let total = event_count(&n, &c).await;
    let own = broker::bind_queue(&vh.url(), carepath_relay::topology::EVERY_EVENT_ONCE).await;
    let theirs = broker::bind_queue(&vh.url(), &format!("{partner}.#")).await;
    // Now a relay.
    let _relay = TestServer::attach(&n.s, &[("CAREPATH_AMQP_URL", &vh.url())]).await;
    let all = broker::drain(&vh.url(), &own, Duration::from_secs(30), |m| {
        m.len() >= total
    })
    .await;
    assert_eq!(all.len(), total, "the record holder gets every event");
    outbox_drains(&n).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let leaked = broker::drain(&vh.url(), &theirs, Duration::from_secs(2), |_| false).await;
    let keys: Vec<&str> = leaked.iter().map(|m| m.routing_key.as_str()).collect();
    assert!(keys.is_empty(), "sent after the revocation: {keys:?}");
}

/// Two replicas on one database and broker, a subscriber on each: both receive the commits
/// made through either replica, per client in order, once.
async fn every_replica_serves_every_subscriber(b: Backend) {
    let vh = TestVhost::new();
    let n = Net::with_env(b, &[("CAREPATH_AMQP_URL", &vh.url())]).await;
    let second = TestServer::attach(&n.s, &[("CAREPATH_AMQP_URL", &vh.url())]).await;
    let query = "subscription { careEvents { id clientId seq type } }";
    let mut subscribers = [
        n.s.subscribe(&n.cm, query).await,
        second.subscribe(&n.cm, query).await,
    ];
    // Both feeds are up once a probe client's registration reaches both subscribers.
    let mut live = [false, false];
    for _ in 0..30 {
        n.register().await;
        for (i, ws) in subscribers.iter_mut().enumerate() {
            while let Some(m) = next_message(ws, 1).await {
                live[i] |= m["payload"]["data"]["careEvents"]["type"] == json!("client.registered");
            }
        }
        if live == [true, true] {
            break;
        }
    }
    assert_eq!(live, [true, true], "a feed never came up");

    // One client, its commands alternating between the replicas.
    let c = n.register().await;
    n.consent(&c).await;
    let assess = "mutation($c: UUID!) { recordAssessment(input: { clientId: $c, recommendedLevel: \"iop\", dimensions: [1,1,1,1,1,1] }) { version } }";
    for i in 0..6 {
        let s = if i % 2 == 0 { &second } else { &n.s };
        s.ok(&n.cm, assess, json!({ "c": c })).await;
    }
    second
        .ok(
            &n.cm,
            "mutation($c: UUID!, $p: UUID!) { admit(input: { clientId: $c, level: \"iop\", providerId: $p, plannedHoursPerWeek: 12 }) { version } }",
            json!({ "c": c, "p": n.provider("iop") }),
        )
        .await;
    let total = event_count(&n, &c).await;
    assert_eq!(total, 9);
    for (i, ws) in subscribers.iter_mut().enumerate() {
        let mut seqs = Vec::new();
        while let Some(m) = next_message(ws, if seqs.len() < total { 10 } else { 2 }).await {
            let e = &m["payload"]["data"]["careEvents"];
            if e["clientId"] == json!(c) {
                seqs.push(e["seq"].as_i64().unwrap());
            }
        }
        assert_eq!(
            seqs,
            (1..=total as i64).collect::<Vec<_>>(),
            "subscriber on replica {i}: in order, once"
        );
    }
}

on_both_backends!(
    every_replica_serves_every_subscriber,
    an_organization_reads_only_its_own_copies,
    a_consent_revoked_before_relay_stops_the_copies,
);
