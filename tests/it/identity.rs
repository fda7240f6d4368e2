//! People need to recognise a client: the organization records a display name and its own
//! record number, finds clients by either — and neither ever leaves with an event, lands in
//! the client's record, an error message or another organization's view without a consent.

use crate::api::{Net, RESULT};
use crate::on_both_backends;
use crate::support::Backend;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const NAME: &str = "Ana Quintero-Reyes";
const MRN: &str = "MRN-004217";

async fn rows_mentioning(db_url: &str, text: &str) -> i64 {
    let db = sea_orm::Database::connect(db_url).await.unwrap();
    let backend = db.get_database_backend();
    let mut total = 0;
    for (table, column) in [
        ("care_events", "payload"),
        ("clients", "state"),
        ("idempotency", "response"),
        ("timers", "payload"),
    ] {
        let sql =
            format!("SELECT COUNT(*) FROM {table} WHERE CAST({column} AS TEXT) LIKE '%{text}%'");
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(backend, sql))
            .await
            .unwrap()
            .unwrap();
        total += row.try_get_by_index::<i64>(0).unwrap();
    }
    total
}

async fn search(n: &Net, token: &str, text: &str) -> Vec<String> {
    let d = n
        .s
        .ok(
            token,
            "query($q: String!) { clients(search: $q) { edges { node { id identity { displayName recordNumber } } } } }",
            json!({ "q": text }),
        )
        .await;
    d["clients"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_client_is_recognised_by_name_and_record_number_and_neither_leaves(b: Backend) {
    let n = Net::new(b).await;
    let d = n
        .cm(
            &format!("mutation($n: String!, $m: String!) {{ registerClient(input: {{ birthYear: 1990, displayName: $n, recordNumber: $m }}, idempotencyKey: \"reg-1\") {RESULT} }}"),
            json!({ "n": NAME, "m": MRN }),
        )
        .await;
    let c = d["registerClient"]["clientId"].as_str().unwrap().to_owned();
    let other = n.register().await;

    let seen = n
        .cm(
            "query($c: UUID!) { client(id: $c) { identity { displayName recordNumber } } }",
            json!({ "c": c }),
        )
        .await;
    assert_eq!(seen["client"]["identity"]["displayName"], NAME);
    assert_eq!(seen["client"]["identity"]["recordNumber"], MRN);
    for q in ["quintero", "ANA reyes", MRN] {
        assert_eq!(search(&n, &n.cm, q).await, std::slice::from_ref(&c), "{q}");
    }
    assert!(
        search(&n, &n.cm, "MRN-0042").await.is_empty(),
        "a record number matches whole"
    );
    assert!(
        search(&n, &n.cm, "100%").await.is_empty(),
        "LIKE wildcards are text"
    );

    // A record number is one client's; the refusal names neither it nor anyone.
    let (code, e) = n
        .s
        .code(
            Some(&n.cm),
            "mutation($c: UUID!, $n: String!, $m: String!) { recordIdentity(clientId: $c, displayName: $n, recordNumber: $m) { version } }",
            json!({ "c": other, "n": "Someone Else", "m": MRN }),
        )
        .await;
    assert_eq!(code, "BAD_INPUT");
    let message = e.to_string();
    assert!(
        !message.contains(MRN) && !message.contains("Someone"),
        "{message}"
    );
    let (code, e) = n
        .s
        .code(
            Some(&n.cm),
            "mutation($c: UUID!, $n: String!) { recordIdentity(clientId: $c, displayName: $n) { version } }",
            json!({ "c": other, "n": "Bad\u{7}Name" }),
        )
        .await;
    assert_eq!(code, "BAD_INPUT");
    assert!(!e.to_string().contains("Bad"), "{e}");
    let unchanged = n
        .cm(
            "query($c: UUID!) { client(id: $c) { version identity { displayName } } }",
            json!({ "c": other }),
        )
        .await;
    assert_eq!(
        unchanged["client"]["identity"],
        Value::Null,
        "nothing changed"
    );

    // A correction is an event that says only that it happened.
    let d = n
        .cm(
            &format!("mutation($c: UUID!) {{ recordIdentity(clientId: $c, displayName: \"Ana Quintero\", recordNumber: \"{MRN}\") {RESULT} }}"),
            json!({ "c": c }),
        )
        .await;
    assert_eq!(
        d["recordIdentity"]["events"][0]["type"],
        "client.identity_recorded"
    );
    assert_eq!(
        search(&n, &n.cm, "quintero").await,
        std::slice::from_ref(&c)
    );
    assert!(search(&n, &n.cm, "reyes").await.is_empty());

    // Never in an event, the record, an idempotency record or a timer.
    for text in [NAME, "Ana Quintero", MRN] {
        assert_eq!(rows_mentioning(&n.s.db_url, text).await, 0, "{text}");
    }

    // Another organization sees the name only under a consent naming it, and its read is
    // accounted; without one the client does not exist for it.
    let (code, _) =
        n.s.code(
            Some(n.partner("detox")),
            "query($c: UUID!) { client(id: $c) { identity { displayName } } }",
            json!({ "c": c }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    n.consent(&c).await;
    n.admit(&c, "detox", 40.0).await;
    let partner =
        n.s.ok(
            n.partner("detox"),
            "query($c: UUID!) { client(id: $c) { identity { displayName } } }",
            json!({ "c": c }),
        )
        .await;
    assert_eq!(partner["client"]["identity"]["displayName"], "Ana Quintero");
    let disclosures = n
        .cm(
            "query($c: UUID!) { disclosures(clientId: $c) { recipient { id } what } }",
            json!({ "c": c }),
        )
        .await;
    let partner_org = n.provider("detox").to_string();
    assert!(
        disclosures["disclosures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["recipient"]["id"] == partner_org.as_str()
                && d["what"].as_str().unwrap().contains("read")),
        "{disclosures:#}"
    );
}

on_both_backends!(a_client_is_recognised_by_name_and_record_number_and_neither_leaves);
