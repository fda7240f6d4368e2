//! The HTTP edge against the real server: requests refused before anything runs, anonymous
//! callers who learn nothing, the WebSocket's close code, the log format, the environment.

use crate::api::{Net, RESULT};
use crate::on_both_backends;
use crate::server::TestServer;
use crate::support::Backend;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};

/// `(status, extensions.code, message)` of a refused request.
fn refusal((status, body): (u16, String)) -> (u16, String, String) {
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    let e = &v["errors"][0];
    (
        status,
        e["extensions"]["code"].as_str().unwrap_or("").to_owned(),
        e["message"].as_str().unwrap_or("").to_owned(),
    )
}

/// Malformed JSON, a batch, non-object variables and a form post are answered as JSON
/// `BAD_INPUT`, plainly, and run nothing.
async fn bad_requests_are_json_bad_input_and_run_nothing(b: Backend) {
    let n = Net::new(b).await;
    let c = n.register().await;
    let register = format!("mutation {{ registerClient(input: {{ birthYear: 1990 }}) {RESULT} }}");
    let census = "{ clients(first: 50) { edges { node { id } } } }";
    let count = async || {
        n.cm(census, json!({})).await["clients"]["edges"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = count().await;
    let mutation = json!({ "query": register }).to_string();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "application/json",
            "{\"query\": \"{ census".into(),
            "not JSON",
        ),
        ("application/json", format!("[{mutation}]"), "batched"),
        (
            "application/json",
            json!({ "query": register, "variables": "x" }).to_string(),
            "`variables`",
        ),
        ("application/json", "42".into(), "a JSON object"),
        ("text/plain", mutation.clone(), "application/json"),
        (
            "application/x-www-form-urlencoded",
            format!("query={register}"),
            "application/json",
        ),
    ];
    for (content_type, body, says) in cases {
        let (status, code, message) = refusal(n.s.post_raw(Some(&n.cm), content_type, &body).await);
        assert!(
            (400..500).contains(&status),
            "{content_type} {body}: {status}"
        );
        assert_eq!(code, "BAD_INPUT", "{content_type} {body}");
        assert!(message.contains(says), "{message}");
        assert!(
            !message.contains("InvalidRequest") && !message.contains("untagged"),
            "{message}"
        );
    }
    assert_eq!(count().await, before, "nothing ran");
    // The JSON media type GraphQL over HTTP names is taken as well.
    let (status, body) =
        n.s.post_raw(
            Some(&n.cm),
            "application/graphql-response+json; charset=utf-8",
            &mutation,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // A negative expected version is bad input, not a conflict.
    let (code, _) = n
        .s
        .code(
            Some(&n.cm),
            "mutation($c: UUID!) { recordAssessment(input: { clientId: $c, recommendedLevel: \"iop\", dimensions: [1,1,1,1,1,1] }, expectedVersion: -1) { version } }",
            json!({ "c": c }),
        )
        .await;
    assert_eq!(code, "BAD_INPUT");
}

/// Without a valid token, answering a referral that exists and one that does not look the
/// same: nothing is looked up before the caller is known.
async fn anonymous_callers_learn_nothing(b: Backend) {
    let n = Net::new(b).await;
    let c = n.admitted("detox", 40.0).await;
    let real = n.refer(&c, "residential").await;
    let random = uuid::Uuid::new_v4().to_string();
    for token in [None, Some("cp_garbage")] {
        for q in [
            "mutation($r: UUID!) { acceptReferral(referralId: $r) { version } }",
            "mutation($r: UUID!) { declineReferral(input: { referralId: $r, reason: NO_CAPACITY }) { version } }",
            "mutation($r: UUID!) { withdrawReferral(referralId: $r) { version } }",
        ] {
            let (a, ea) = n.s.code(token, q, json!({ "r": real })).await;
            let (b, eb) = n.s.code(token, q, json!({ "r": random })).await;
            assert_eq!(a, "UNAUTHENTICATED", "{ea}");
            assert_eq!((a, ea["message"].clone()), (b, eb["message"].clone()));
        }
    }
}

/// A WebSocket whose connection_init carries no valid token is closed with 4403.
async fn a_bad_token_on_the_websocket_is_4403(b: Backend) {
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let s = TestServer::start_with(b, &[]).await;
    let ws_url = s.url.replacen("http://", "ws://", 1) + "/graphql/ws";
    let mut req = ws_url.into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text(
        json!({ "type": "connection_init", "payload": { "authorization": "Bearer cp_garbage" } })
            .to_string(),
    ))
    .await
    .unwrap();
    let msg = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
        .await
        .expect("closed within 5 s");
    match msg {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 4403),
        other => panic!("expected a 4403 close, got {other:?}"),
    }
}

/// With `log_format = "json"` every line the server writes, on either stream, is JSON; an
/// unrelated `CAREPATH_*` variable in the environment does not stop it.
async fn json_logs_and_a_foreign_environment(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let s = TestServer::start_process(
        b,
        &[
            ("CAREPATH_LOG_FORMAT", "json"),
            ("CAREPATH_LOG", "info"),
            ("CAREPATH_BIN", "/usr/local/bin/carepath"),
        ],
        Some(&log),
    )
    .await;
    let (status, _) = s.get("/healthz").await;
    assert_eq!(status, 200);
    drop(s);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.is_empty());
    for line in text.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
    }
}

on_both_backends!(
    bad_requests_are_json_bad_input_and_run_nothing,
    anonymous_callers_learn_nothing,
    a_bad_token_on_the_websocket_is_4403,
    json_logs_and_a_foreign_environment,
);

/// Tokens: listed without their secret, revoked from the command line and refused at once by
/// every process (no cache), and refused once expired.
async fn tokens_list_revoke_and_expire(b: Backend) {
    let n = Net::new(b).await;
    let other = TestServer::attach(&n.s, &[]).await;
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_carepath"))
            .args(args)
            .env("CAREPATH_DATABASE_URL", &n.s.db_url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let token = cli(&[
        "tokens",
        "create",
        "--org",
        &n.home.to_string(),
        "--role",
        "case_manager",
        "--label",
        "front desk",
        "--days",
        "30",
    ])
    .trim()
    .to_owned();
    let census = "{ census { level } }";
    for s in [&n.s, &other] {
        s.ok(&token, census, json!({})).await;
    }
    let list = cli(&["tokens", "list"]);
    assert!(!list.contains(&token), "the token itself is never listed");
    let row = list
        .lines()
        .find(|l| l.contains("front desk"))
        .unwrap_or_else(|| panic!("{list}"));
    let fields: Vec<&str> = row.split(',').collect();
    let expires = chrono::DateTime::parse_from_rfc3339(fields[6]).expect("an expiry");
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
    assert!((29..=30).contains(&days), "{row}");
    cli(&["tokens", "revoke", "--id", fields[0]]);
    for s in [&n.s, &other] {
        let (code, _) = s.code(Some(&token), census, json!({})).await;
        assert_eq!(code, "UNAUTHENTICATED", "refused at once on every process");
    }
    assert!(
        cli(&["tokens", "list"])
            .lines()
            .any(|l| l.starts_with(fields[0]) && !l.ends_with(','))
    );
}

/// A token past its expiry is refused.
async fn an_expired_token_is_refused(b: Backend) {
    let w = crate::support::World::new(b).await;
    let token = w
        .engine
        .create_token(
            w.home,
            carepath_engine::domain::Role::CaseManager,
            None,
            1,
            None,
        )
        .await
        .unwrap();
    assert!(w.engine.authenticate(&token).await.is_ok());
    w.clock.advance(chrono::Duration::days(2));
    assert!(matches!(
        w.engine.authenticate(&token).await,
        Err(carepath_engine::Error::Unauthenticated)
    ));
    assert!(matches!(
        w.engine
            .create_token(
                w.home,
                carepath_engine::domain::Role::CaseManager,
                None,
                0,
                None
            )
            .await,
        Err(carepath_engine::Error::BadInput(_))
    ));
}

on_both_backends!(tokens_list_revoke_and_expire, an_expired_token_is_refused);

/// What the schema fuzzer found answered `INTERNAL`: text with a NUL (no database stores it)
/// and moments outside any care plan (PostgreSQL's timestamps end). Each is `BAD_INPUT`.
async fn odd_values_are_bad_input_not_internal(b: Backend) {
    let n = Net::new(b).await;
    let c = n.admitted("iop", 12.0).await;
    let cases: Vec<(&str, Value)> = vec![
        (
            "mutation($c: UUID!, $r: [UUID!]!) { recordConsent(input: { clientId: $c, recipientIds: $r, purpose: \"a\\u0000b\", information: \"x\", expiry: NEVER, signedOn: \"2026-01-01\" }) { version } }",
            json!({ "c": c, "r": [n.hub] }),
        ),
        (
            "mutation($c: UUID!, $t: String!) { transition(input: { clientId: $c, kind: LATERAL, toLevel: \"iop\", plannedHoursPerWeek: 12, track: $t }) { version } }",
            json!({ "c": c, "t": "evening\u{0}" }),
        ),
        (
            "mutation($c: UUID!, $p: UUID!) { scheduleAftercare(input: { clientId: $c, providerId: $p, kind: OUTPATIENT, at: \"+200000-01-01T00:00:00Z\" }) { version } }",
            json!({ "c": c, "p": n.provider("outpatient") }),
        ),
        (
            "query($c: UUID!) { disclosures(clientId: $c, from: \"-200000-01-01T00:00:00Z\") { what } }",
            json!({ "c": c }),
        ),
        (
            "mutation($c: UUID!, $k: String!) { endMatPlan(clientId: $c, idempotencyKey: $k) { version } }",
            json!({ "c": c, "k": "key\u{0}" }),
        ),
    ];
    let v = n.version(&c).await;
    for (q, vars) in cases {
        let (code, e) = n.s.code(Some(&n.cm), q, vars).await;
        assert_eq!(code, "BAD_INPUT", "{q}: {e}");
    }
    assert_eq!(n.version(&c).await, v, "nothing changed");
}

on_both_backends!(odd_values_are_bad_input_not_internal);
