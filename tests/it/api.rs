//! The GraphQL API over HTTP against the real server process, on both databases.

use crate::on_both_backends;
use crate::server::TestServer;
use crate::support::Backend;
use carepath_engine::domain::{MatService, Role};
use carepath_engine::ids::OrgId;
use chrono::{Duration, Utc};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};

pub(crate) const RESULT: &str = "{ clientId version replayed createdIds events { id seq type } }";

/// A network: a case-management program, a provider at each level, a pharmacy (MAT service
/// `pharmacy`), a coordination hub; and a token for each role.
pub(crate) struct Net {
    pub s: TestServer,
    pub home: OrgId,
    pub providers: Vec<(&'static str, OrgId)>,
    pub pharmacy: OrgId,
    pub hub: OrgId,
    pub cm: String,
    pub supervisor: String,
    pub coordinator: String,
    pub partners: Vec<(OrgId, String)>,
}

impl Net {
    pub async fn new(b: Backend) -> Self {
        Self::with_env(b, &[]).await
    }

    pub async fn with_env(b: Backend, env: &[(&str, &str)]) -> Self {
        Self::on(TestServer::start_with(b, env).await).await
    }

    /// A network on a server already started.
    pub async fn on(s: TestServer) -> Self {
        let home = s.org("Harbor Case Management", &[]).await;
        let mut providers = Vec::new();
        let mut partners = Vec::new();
        for level in ["detox", "residential", "php", "iop", "outpatient"] {
            let id = s.org(&format!("{level} provider"), &[level]).await;
            providers.push((level, id));
            partners.push((id, s.token(id, Role::Partner).await));
        }
        let pharmacy = s.mat_provider("Pharmacy", &[MatService::Pharmacy]).await;
        let hub = s.org("Aftercare hub", &[]).await;
        Net {
            cm: s.token(home, Role::CaseManager).await,
            supervisor: s.token(home, Role::Supervisor).await,
            coordinator: s.token(hub, Role::AftercareCoordinator).await,
            s,
            home,
            providers,
            pharmacy,
            hub,
            partners,
        }
    }

    pub fn provider(&self, level: &str) -> OrgId {
        self.providers.iter().find(|(l, _)| *l == level).unwrap().1
    }

    pub fn partner(&self, level: &str) -> &str {
        let id = self.provider(level);
        &self.partners.iter().find(|(o, _)| *o == id).unwrap().1
    }

    pub async fn cm(&self, query: &str, vars: Value) -> Value {
        self.s.ok(&self.cm, query, vars).await
    }

    pub async fn register(&self) -> String {
        let d = self
            .cm(
                &format!("mutation {{ registerClient(input: {{ birthYear: 1987 }}) {RESULT} }}"),
                json!({}),
            )
            .await;
        d["registerClient"]["clientId"].as_str().unwrap().to_owned()
    }

    /// A client registered, consented (every organization of the network) and admitted.
    pub async fn admitted(&self, level: &str, hours: f64) -> String {
        let c = self.register().await;
        self.consent(&c).await;
        self.admit(&c, level, hours).await;
        c
    }

    pub async fn consent(&self, client: &str) -> String {
        let mut recipients: Vec<OrgId> = self.providers.iter().map(|(_, id)| *id).collect();
        recipients.push(self.pharmacy);
        recipients.push(self.hub);
        self.consent_to(client, &recipients).await
    }

    /// A consent naming only `recipients`; its id.
    pub async fn consent_to(&self, client: &str, recipients: &[OrgId]) -> String {
        let recipients: Vec<String> = recipients.iter().map(|o| o.to_string()).collect();
        let d = self
            .cm(
                &format!(
                    "mutation($c: UUID!, $r: [UUID!]!, $on: NaiveDate!) {{ recordConsent(input: {{ clientId: $c, recipientIds: $r,
                     purpose: \"treatment and care coordination\", information: \"level of care, referrals, MAT\",
                     expiry: END_OF_TREATMENT, signedOn: $on }}) {RESULT} }}"
                ),
                json!({ "c": client, "r": recipients, "on": Utc::now().date_naive() }),
            )
            .await;
        d["recordConsent"]["createdIds"][0]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn admit(&self, client: &str, level: &str, hours: f64) {
        self.cm(
            &format!("mutation($c: UUID!, $l: String!, $p: UUID!, $h: Float!) {{ admit(input: {{ clientId: $c, level: $l, providerId: $p, plannedHoursPerWeek: $h }}) {RESULT} }}"),
            json!({ "c": client, "l": level, "p": self.provider(level), "h": hours }),
        )
        .await;
    }

    pub async fn refer(&self, client: &str, level: &str) -> String {
        let d = self
            .cm(
                &format!("mutation($c: UUID!, $l: String!, $p: [UUID!]!) {{ sendReferral(input: {{ clientId: $c, toLevel: $l, providerIds: $p }}) {RESULT} }}"),
                json!({ "c": client, "l": level, "p": [self.provider(level)] }),
            )
            .await;
        d["sendReferral"]["createdIds"][0]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn accept(&self, level: &str, referral: &str) -> Value {
        self.s
            .ok(
                self.partner(level),
                &format!("mutation($r: UUID!) {{ acceptReferral(referralId: $r) {RESULT} }}"),
                json!({ "r": referral }),
            )
            .await
    }

    pub fn transition_query() -> String {
        format!(
            "mutation($c: UUID!, $k: TransitionKind!, $l: String!, $h: Float!, $v: Int) {{
               transition(input: {{ clientId: $c, kind: $k, toLevel: $l, plannedHoursPerWeek: $h }}, expectedVersion: $v) {RESULT} }}"
        )
    }

    /// Start the step down (its answer is returned) and confirm the arrival as the
    /// receiving provider.
    pub async fn step_down(&self, client: &str, level: &str, hours: f64) -> Value {
        let started = self
            .cm(
                &Self::transition_query(),
                json!({ "c": client, "k": "STEP_DOWN", "l": level, "h": hours }),
            )
            .await;
        self.arrive(client, level).await;
        started
    }

    /// The provider at `level` confirms that the client arrived.
    pub async fn arrive(&self, client: &str, level: &str) -> Value {
        self.s
            .ok(
                self.partner(level),
                &format!("mutation($c: UUID!) {{ confirmArrival(clientId: $c) {RESULT} }}"),
                json!({ "c": client }),
            )
            .await
    }

    pub async fn book_aftercare(&self, client: &str, days: i64) {
        self.s
            .ok(
                &self.coordinator,
                &format!("mutation($c: UUID!, $p: UUID!, $at: DateTime!) {{ scheduleAftercare(input: {{ clientId: $c, providerId: $p, kind: OUTPATIENT, at: $at }}) {RESULT} }}"),
                json!({ "c": client, "p": self.provider("outpatient"), "at": Utc::now() + Duration::days(days) }),
            )
            .await;
    }

    pub async fn version(&self, client: &str) -> i64 {
        self.cm(
            "query($c: UUID!) { client(id: $c) { version } }",
            json!({ "c": client }),
        )
        .await["client"]["version"]
            .as_i64()
            .unwrap()
    }
}

pub(crate) const DISCHARGE: &str = "mutation($c: UUID!, $v: Int) { discharge(input: { clientId: $c, kind: PLANNED }, expectedVersion: $v) { clientId version events { type } } }";

async fn journey_over_http(b: Backend) {
    let n = Net::new(b).await;
    let c = n.register().await;
    n.consent(&c).await;
    n.admit(&c, "detox", 40.0).await;
    let today = Utc::now().date_naive();
    n.cm(
        &format!("mutation($c: UUID!, $s: NaiveDate!) {{ recordMatPlan(input: {{ clientId: $c, medication: BUPRENORPHINE, supplyThrough: $s }}) {RESULT} }}"),
        json!({ "c": c, "s": today + Duration::days(5) }),
    )
    .await;
    // The coordinator books the refill before the supply runs out.
    n.s.ok(
        &n.coordinator,
        &format!("mutation($c: UUID!, $p: UUID!, $on: NaiveDate!) {{ scheduleMatRefill(input: {{ clientId: $c, providerId: $p, kind: REFILL, on: $on }}) {RESULT} }}"),
        json!({ "c": c, "p": n.pharmacy, "on": today + Duration::days(4) }),
    )
    .await;

    for (level, hours) in [
        ("residential", 30.0),
        ("php", 25.0),
        ("iop", 12.0),
        ("outpatient", 2.0),
    ] {
        let r = n.refer(&c, level).await;
        // The partner sees it in its inbox, accepts it with its own token.
        let inbox =
            n.s.ok(
                n.partner(level),
                "{ referralInbox(status: PENDING) { edges { node { id toLevel status } } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            inbox["referralInbox"]["edges"][0]["node"]["id"],
            json!(r),
            "{inbox}"
        );
        n.accept(level, &r).await;
        if level == "outpatient" {
            // Readiness lists the one gate left.
            let ready = n
                .cm(
                    "query($c: UUID!) { dischargeReadiness(clientId: $c, toLevel: \"outpatient\") { ready gates { gate met why } } }",
                    json!({ "c": c }),
                )
                .await;
            assert_eq!(
                ready["dischargeReadiness"]["ready"],
                json!(false),
                "{ready}"
            );
            // Asked without a provider, it checks the move the transition would make: to the
            // provider that accepted, so the consent gate is that organization's.
            let consent = ready["dischargeReadiness"]["gates"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["gate"] == json!("CONSENT"))
                .unwrap_or_else(|| panic!("no consent gate in {ready}"));
            assert!(
                consent["why"]
                    .as_str()
                    .unwrap()
                    .contains(&n.provider("outpatient").to_string()),
                "{ready}"
            );
            n.book_aftercare(&c, 3).await;
        }
        let d = n.step_down(&c, level, hours).await;
        let types: Vec<&str> = d["transition"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert!(types.contains(&"handoff.started"), "{types:?}");
        let placed = n
            .cm(
                "query($c: UUID!) { client(id: $c) { status level transit { toLevel } } }",
                json!({ "c": c }),
            )
            .await;
        assert_eq!(placed["client"]["status"], json!("ACTIVE"), "{placed}");
        assert_eq!(placed["client"]["level"], json!(level), "{placed}");
        assert_eq!(placed["client"]["transit"], Value::Null, "{placed}");
    }
    let ready = n
        .cm(
            "query($c: UUID!) { dischargeReadiness(clientId: $c) { ready gates { gate met } } }",
            json!({ "c": c }),
        )
        .await;
    assert_eq!(ready["dischargeReadiness"]["ready"], json!(true), "{ready}");
    let d = n.cm(DISCHARGE, json!({ "c": c })).await;
    assert_eq!(
        d["discharge"]["events"][0]["type"],
        json!("discharge.completed")
    );

    let client = n
        .cm("query($c: UUID!) { client(id: $c) { status level placement { level } referrals { status provider { name } } } }", json!({ "c": c }))
        .await;
    assert_eq!(client["client"]["status"], json!("DISCHARGED"));
    assert!(client["client"]["placement"].is_null());
    let referrals = client["client"]["referrals"].as_array().unwrap();
    assert_eq!(referrals.len(), 4);
    assert!(
        referrals.iter().all(|r| r["status"] == json!("COMPLETED")),
        "{referrals:?}"
    );
    assert_eq!(
        referrals[0]["provider"]["name"],
        json!("residential provider")
    );

    // The log pages in order with keyset cursors.
    let mut seqs = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = n
            .cm(
                "query($c: UUID!, $a: String) { careEvents(clientId: $c, first: 7, after: $a) { pageInfo { hasNextPage endCursor } edges { node { seq type } } } }",
                json!({ "c": c, "a": after }),
            )
            .await;
        let conn = &page["careEvents"];
        seqs.extend(
            conn["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["seq"].as_i64().unwrap()),
        );
        if conn["pageInfo"]["hasNextPage"] == json!(false) {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    assert!(seqs.len() > 20);

    // The Part 2 accounting shows each referral and handoff, under the consent.
    let disc = n
        .cm(
            "query($c: UUID!) { disclosures(clientId: $c) { recipient { id } consentId what } }",
            json!({ "c": c }),
        )
        .await;
    let disc = disc["disclosures"].as_array().unwrap();
    assert!(disc.len() >= 8, "{disc:?}");
    assert!(disc.iter().all(|d| !d["consentId"].is_null()));

    // Census and metrics.
    let census = n.cm("{ census { level provider { name } capacity activeClients openSlots pendingReferrals } }", json!({})).await;
    assert_eq!(census["census"].as_array().unwrap().len(), 5);
    assert!(
        census["census"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["activeClients"] == json!(0))
    );
    let (status, metrics) = n.s.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("carepath_commands_total"), "{metrics}");
    assert_eq!(n.s.get("/readyz").await, (200, "ready".into()));
    assert_eq!(n.s.get("/healthz").await.0, 200);
    let (status, page) = n.s.get("/graphql").await;
    assert_eq!(status, 200);
    assert!(page.to_lowercase().contains("graphiql"));
}

async fn subscription_receives_the_discharge(b: Backend) {
    // Subscriptions are fed from the broker, as on every replica.
    let vh = crate::broker::TestVhost::new();
    let n = Net::with_env(b, &[("CAREPATH_AMQP_URL", &vh.url())]).await;
    let c = n.register().await;
    n.consent(&c).await;
    n.admit(&c, "outpatient", 2.0).await;
    n.book_aftercare(&c, 2).await;

    // A coordinator and an unrelated partner subscribe.
    let ws_url = n.s.url.replacen("http://", "ws://", 1) + "/graphql/ws";
    let query = "subscription { careEvents(types: [\"discharge\", \"handoff\", \"aftercare\"]) { id clientId seq type level data } }";
    let mut coordinator = n.s.subscribe(&n.coordinator, query).await;
    let mut partner = n.s.subscribe(&n.partners[0].1, query).await;
    // The subscription is live once a probe event (a booking) comes through it.
    let next =
        async |ws: &mut crate::server::Ws, secs: u64| crate::server::next_message(ws, secs).await;
    let mut live = false;
    for _ in 0..20 {
        n.book_aftercare(&c, 2).await;
        if let Some(v) = next(&mut coordinator, 1).await {
            assert_eq!(
                v["payload"]["data"]["careEvents"]["type"],
                json!("aftercare.scheduled"),
                "{v}"
            );
            live = true;
            break;
        }
    }
    assert!(live, "the subscription never delivered the probe");

    n.cm(DISCHARGE, json!({ "c": c })).await;
    let mut v = Value::Null;
    for _ in 0..25 {
        v = next(&mut coordinator, 10)
            .await
            .expect("the discharge event within 10 s");
        if v["payload"]["data"]["careEvents"]["type"] != json!("aftercare.scheduled") {
            break;
        }
    }
    assert_eq!(v["type"], json!("next"), "{v}");
    let ev = &v["payload"]["data"]["careEvents"];
    assert_eq!(ev["type"], json!("discharge.completed"));
    assert_eq!(ev["clientId"], json!(c));
    assert_eq!(ev["level"], json!("outpatient"));
    // What reached the coordinator's organization is in the accounting.
    let d = n
        .cm(
            "query($c: UUID!) { disclosures(clientId: $c) { recipient { id } eventId } }",
            json!({ "c": c }),
        )
        .await;
    assert!(
        d["disclosures"].as_array().unwrap().iter().any(|x| {
            x["eventId"] == ev["id"] && x["recipient"]["id"] == json!(n.hub.to_string())
        }),
        "{d}"
    );
    // A partner gets nothing that is not about its own referrals.
    let nothing = tokio::time::timeout(std::time::Duration::from_millis(500), partner.next()).await;
    assert!(nothing.is_err(), "the partner received {nothing:?}");

    // No token, no subscription.
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let mut req = ws_url.into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text(
        json!({ "type": "connection_init", "payload": {} }).to_string(),
    ))
    .await
    .unwrap();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    assert!(
        !matches!(closed, Some(Ok(ref m)) if m.to_text().unwrap_or("").contains("connection_ack")),
        "{closed:?}"
    );
}

async fn every_error_code(b: Backend) {
    let n = Net::new(b).await;
    let c = n.register().await;
    n.consent_to(&c, &[n.provider("iop")]).await;
    n.admit(&c, "iop", 12.0).await;
    let v = n.version(&c).await;

    // UNAUTHENTICATED: no token, a wrong token.
    for token in [None, Some("cp_not_a_token")] {
        let (code, _) = n.s.code(token, "{ census { level } }", json!({})).await;
        assert_eq!(code, "UNAUTHENTICATED");
    }
    // NOT_FOUND.
    let (code, _) =
        n.s.code(
            Some(&n.cm),
            "query($c: UUID!) { client(id: $c) { id } }",
            json!({ "c": uuid::Uuid::new_v4() }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    // FORBIDDEN: a partner cannot move a client.
    let (code, _) =
        n.s.code(Some(n.partner("iop")), DISCHARGE, json!({ "c": c }))
            .await;
    assert_eq!(code, "FORBIDDEN");
    // INVALID_TRANSITION, with what is allowed.
    let (code, e) =
        n.s.code(
            Some(&n.cm),
            &Net::transition_query(),
            json!({ "c": c, "k": "STEP_DOWN", "l": "detox", "h": 40.0 }),
        )
        .await;
    assert_eq!(code, "INVALID_TRANSITION");
    let allowed = e["extensions"]["allowed"].as_array().unwrap();
    assert!(
        allowed
            .iter()
            .any(|m| m["kind"] == json!("step_down") && m["to"] == json!("outpatient")),
        "{e}"
    );
    // GATE_UNMET, with the unmet gates.
    let (code, e) =
        n.s.code(
            Some(&n.cm),
            &Net::transition_query(),
            json!({ "c": c, "k": "STEP_DOWN", "l": "outpatient", "h": 2.0 }),
        )
        .await;
    assert_eq!(code, "GATE_UNMET");
    assert_eq!(
        e["extensions"]["unmet"][0]["gate"],
        json!("accepted_referral"),
        "{e}"
    );
    // CONSENT_REQUIRED: a referral to an organization no consent names.
    let (code, e) = n
        .s
        .code(
            Some(&n.cm),
            "mutation($c: UUID!, $p: [UUID!]!) { sendReferral(input: { clientId: $c, toLevel: \"outpatient\", providerIds: $p }) { version } }",
            json!({ "c": c, "p": [n.provider("outpatient")] }),
        )
        .await;
    assert_eq!(code, "CONSENT_REQUIRED");
    assert_eq!(
        e["extensions"]["organizations"][0],
        json!(n.provider("outpatient").to_string())
    );
    // CONFLICT: a stale expected version.
    let (code, _) =
        n.s.code(Some(&n.cm), DISCHARGE, json!({ "c": c, "v": v - 1 }))
            .await;
    assert_eq!(code, "CONFLICT");
    // BAD_INPUT: hours outside the level's band.
    let (code, _) =
        n.s.code(
            Some(&n.cm),
            &Net::transition_query(),
            json!({ "c": c, "k": "STEP_UP", "l": "php", "h": 200.0 }),
        )
        .await;
    assert_eq!(code, "BAD_INPUT");
    // Nothing above changed the client.
    assert_eq!(n.version(&c).await, v);
    // The same idempotency key with another request is bad input; with the same, a replay.
    let q = "mutation($c: UUID!, $k: String) { recordAssessment(input: { clientId: $c, recommendedLevel: \"iop\", dimensions: [1,1,1,1,1,1] }, idempotencyKey: $k) { version replayed } }";
    let first = n.cm(q, json!({ "c": c, "k": "assess-1" })).await;
    let again = n.cm(q, json!({ "c": c, "k": "assess-1" })).await;
    assert_eq!(
        first["recordAssessment"]["version"],
        again["recordAssessment"]["version"]
    );
    assert_eq!(again["recordAssessment"]["replayed"], json!(true));
    let (code, _) =
        n.s.code(
            Some(&n.cm),
            DISCHARGE
                .replace(
                    "discharge(input",
                    "discharge(idempotencyKey: \"assess-1\", input",
                )
                .as_str(),
            json!({ "c": c }),
        )
        .await;
    assert_eq!(code, "BAD_INPUT");
}

async fn malformed_requests_are_bad_input_and_change_nothing(b: Backend) {
    let n = Net::new(b).await;
    let c = n.register().await;
    n.consent(&c).await;
    n.admit(&c, "iop", 12.0).await;
    let v = n.version(&c).await;
    let huge = "x".repeat(100_000);
    let cases: Vec<(&str, Value)> = vec![
        ("{ census { level ", json!({})), // syntax
        (
            "query($c: UUID!) { client(id: $c) { id } }",
            json!({ "c": 42 }),
        ), // wrong type
        (
            "query($c: UUID!) { client(id: $c) { id } }",
            json!({ "c": "not-a-uuid" }),
        ),
        ("{ nosuchfield }", json!({})),
        (DISCHARGE, json!({ "c": c, "v": "seven" })),
        (
            "mutation($c: UUID!) { discharge(input: { clientId: $c, kind: ELOPED }) { version } }", // unknown enum value
            json!({ "c": c }),
        ),
        (
            "mutation($c: UUID!, $t: String!) { transition(input: { clientId: $c, kind: LATERAL, toLevel: \"iop\", plannedHoursPerWeek: 12, track: $t }) { version } }",
            json!({ "c": c, "t": huge }),
        ),
        (
            "mutation($c: UUID!, $r: String!) { discharge(input: { clientId: $c, kind: PLANNED, overrides: [{ gate: AFTERCARE_APPOINTMENT, reason: $r }] }) { version } }",
            json!({ "c": c, "r": "y".repeat(10_000) }),
        ),
        ("{ clients(first: 1000) { edges { cursor } } }", json!({})),
        (
            "query($c: UUID!) { careEvents(clientId: $c, after: \"zzz\") { edges { cursor } } }",
            json!({ "c": c }),
        ),
        (
            "mutation($c: UUID!) { recordAssessment(input: { clientId: $c, recommendedLevel: \"iop\", dimensions: [1,2,3] }) { version } }",
            json!({ "c": c }),
        ),
        (
            "mutation($c: UUID!) { sendReferral(input: { clientId: $c, toLevel: \"iop\", providerIds: [] }) { version } }",
            json!({ "c": c }),
        ),
        (
            "mutation($c: UUID!, $p: [UUID!]!) { sendReferral(input: { clientId: $c, toLevel: \"moon\", providerIds: $p }) { version } }",
            json!({ "c": c, "p": [n.provider("iop")] }),
        ),
    ];
    for (query, vars) in cases {
        let (code, e) = n.s.code(Some(&n.cm), query, vars).await;
        assert_eq!(code, "BAD_INPUT", "{query}: {e}");
        let msg = e["message"].as_str().unwrap_or("").to_lowercase();
        assert!(
            !msg.contains("sql") && !msg.contains("sqlx") && !msg.contains("panicked"),
            "{e}"
        );
    }
    // Deep nesting is refused before it runs.
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(14),
        "}".repeat(14)
    );
    let r = n.s.gql(Some(&n.cm), &deep, json!({})).await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"],
        json!("BAD_INPUT"),
        "{r}"
    );
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{r}"
    );
    let shallow = "{ __schema { types { fields { type { ofType { name } } } } } }";
    assert!(
        n.s.gql(Some(&n.cm), shallow, json!({}))
            .await
            .get("errors")
            .is_none()
    );
    // A body over the limit is refused outright.
    let big =
        json!({ "query": "{ census { level } }", "variables": { "pad": "z".repeat(400 * 1024) } });
    let r = reqwest::Client::new()
        .post(format!("{}/graphql", n.s.url))
        .bearer_auth(&n.cm)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(n.version(&c).await, v, "nothing changed");
}

async fn partners_see_only_their_own(b: Backend) {
    let n = Net::new(b).await;
    let c = n.register().await;
    n.consent(&c).await;
    n.admit(&c, "detox", 40.0).await;
    let r = n.refer(&c, "residential").await;
    // Another partner can neither read nor answer it, nor learn it exists.
    let other = n.partner("php");
    let (code, _) =
        n.s.code(
            Some(other),
            "query($r: UUID!) { referral(id: $r) { id } }",
            json!({ "r": r }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    let (code, _) =
        n.s.code(
            Some(other),
            "mutation($r: UUID!) { acceptReferral(referralId: $r) { version } }",
            json!({ "r": r }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    let inbox =
        n.s.ok(
            other,
            "{ referralInbox { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(inbox["referralInbox"]["edges"], json!([]));
    // The addressee reads it.
    let mine =
        n.s.ok(
            n.partner("residential"),
            "query($r: UUID!) { referral(id: $r) { id toLevel status clientId } }",
            json!({ "r": r }),
        )
        .await;
    assert_eq!(mine["referral"]["status"], json!("PENDING"));

    // A partner reads client data only while a consent names it, and every read is a disclosure.
    let q = "query($c: UUID!) { client(id: $c) { id level referrals { id } } }";
    let read = n.s.ok(n.partner("residential"), q, json!({ "c": c })).await;
    assert_eq!(read["client"]["referrals"].as_array().unwrap().len(), 1);
    let (code, _) =
        n.s.code(
            Some(n.partner("residential")),
            "query($c: UUID!) { client(id: $c) { consents { id } } }",
            json!({ "c": c }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN", "consents are not a partner's to see");
    let before = n
        .cm(
            "query($c: UUID!) { disclosures(clientId: $c) { what } }",
            json!({ "c": c }),
        )
        .await["disclosures"]
        .as_array()
        .unwrap()
        .len();
    n.s.ok(n.partner("residential"), q, json!({ "c": c })).await;
    let after = n
        .cm(
            "query($c: UUID!) { disclosures(clientId: $c) { what recipient { id } } }",
            json!({ "c": c }),
        )
        .await;
    let after = after["disclosures"].as_array().unwrap();
    assert_eq!(after.len(), before + 1);
    assert_eq!(
        after.last().unwrap()["recipient"]["id"],
        json!(n.provider("residential").to_string())
    );

    // A client the partner has no standing with (moved there on a declared medical
    // emergency, no consent naming it): nothing, not even that the client exists — the
    // same answer as for an id that does not exist.
    let d = n.register().await;
    n.cm(
        "mutation($c: UUID!, $p: UUID!) { admit(input: { clientId: $c, level: \"detox\", providerId: $p, plannedHoursPerWeek: 40, medicalEmergency: \"overdose, no consent possible\" }) { version } }",
        json!({ "c": d, "p": n.provider("detox") }),
    )
    .await;
    let (code, _) =
        n.s.code(Some(n.partner("detox")), q, json!({ "c": d }))
            .await;
    assert_eq!(code, "NOT_FOUND");
    let (code_unknown, _) =
        n.s.code(
            Some(n.partner("detox")),
            q,
            json!({ "c": uuid::Uuid::new_v4() }),
        )
        .await;
    assert_eq!(
        code_unknown, code,
        "no standing and no such client look alike"
    );
    let listed =
        n.s.ok(
            n.partner("detox"),
            "{ clients { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(
        !listed["clients"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["node"]["id"] == json!(d)),
        "no consent, not listed: {listed}"
    );
    let (code, _) =
        n.s.code(
            Some(n.partner("residential")),
            "query($c: UUID!) { careEvents(clientId: $c) { edges { cursor } } }",
            json!({ "c": c }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
    // A supervisor can override a gate, a case manager cannot.
    let ov = "mutation($c: UUID!) { discharge(input: { clientId: $c, kind: PLANNED, overrides: [{ gate: AFTERCARE_APPOINTMENT, reason: \"moved out of state\" }] }) { version } }";
    let (code, _) = n.s.code(Some(&n.cm), ov, json!({ "c": d })).await;
    assert_eq!(code, "FORBIDDEN");
    n.s.ok(&n.supervisor, ov, json!({ "c": d })).await;
    let _ = n.home;
}

/// Once the consent naming it is revoked, the provider a referral was addressed to still sees
/// its referral (id, status, dates) but nothing about the client: no client id, no level.
/// While the consent stands, each read is a disclosure. The accounting can be asked for a
/// period, and a crisis step-up on a declared medical emergency is in it with its basis.
async fn revocation_withholds_the_client_from_referral_reads(b: Backend) {
    let n = Net::new(b).await;
    let c = n.register().await;
    let consent = n.consent(&c).await;
    n.admit(&c, "iop", 12.0).await;
    let r = n.refer(&c, "residential").await;
    let one = "query($r: UUID!) { referral(id: $r) { id clientId toLevel status } }";
    let inbox = "{ referralInbox { edges { node { id clientId toLevel status } } } }";
    let partner = n.partner("residential");
    let d = n.s.ok(partner, one, json!({ "r": r })).await;
    assert_eq!(d["referral"]["clientId"], json!(c));
    assert_eq!(d["referral"]["toLevel"], json!("residential"));
    let disclosures = "query($c: UUID!, $from: DateTime, $to: DateTime) { disclosures(clientId: $c, from: $from, to: $to) { what recipient { id } consentId legalBasis at } }";
    let all = n
        .cm(disclosures, json!({ "c": c, "from": null, "to": null }))
        .await;
    let reads = |d: &Value| {
        d["disclosures"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["what"] == json!("referral read by the receiving provider"))
            .count()
    };
    assert_eq!(reads(&all), 1, "the referral read is a disclosure: {all}");

    n.cm(
        "mutation($c: UUID!, $k: UUID!) { revokeConsent(clientId: $c, consentId: $k) { version } }",
        json!({ "c": c, "k": consent }),
    )
    .await;
    let d = n.s.ok(partner, one, json!({ "r": r })).await;
    assert_eq!(d["referral"]["id"], json!(r));
    assert_eq!(d["referral"]["status"], json!("WITHDRAWN"));
    assert_eq!(d["referral"]["clientId"], Value::Null);
    assert_eq!(d["referral"]["toLevel"], Value::Null);
    let d = n.s.ok(partner, inbox, json!({})).await;
    let node = &d["referralInbox"]["edges"][0]["node"];
    assert_eq!(node["id"], json!(r));
    assert_eq!(node["clientId"], Value::Null);
    assert_eq!(node["toLevel"], Value::Null);
    let after = n
        .cm(disclosures, json!({ "c": c, "from": null, "to": null }))
        .await;
    assert_eq!(reads(&after), 1, "withheld reads disclose nothing: {after}");

    // A crisis: step up to detox with no consent, on a declared medical emergency (the
    // clinician's assessment still recommends the level).
    n.cm(
        "mutation($c: UUID!) { recordAssessment(input: { clientId: $c, recommendedLevel: \"detox\", dimensions: [4,3,2,2,3,3] }) { version } }",
        json!({ "c": c }),
    )
    .await;
    let out = n
        .cm(
            &format!("mutation($c: UUID!, $p: UUID!) {{ transition(input: {{ clientId: $c, kind: STEP_UP, toLevel: \"detox\", providerId: $p, plannedHoursPerWeek: 40, medicalEmergency: \"acute withdrawal, seizure history\" }}) {RESULT} }}"),
            json!({ "c": c, "p": n.provider("detox") }),
        )
        .await;
    let types: Vec<&str> = out["transition"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"disclosure.emergency"), "{types:?}");
    let since = Utc::now() - Duration::seconds(30);
    let recent = n
        .cm(disclosures, json!({ "c": c, "from": since, "to": null }))
        .await;
    let emergency: Vec<&Value> = recent["disclosures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["legalBasis"].as_str().is_some())
        .collect();
    assert_eq!(emergency.len(), 1, "{recent}");
    assert_eq!(
        emergency[0]["recipient"]["id"],
        json!(n.provider("detox").to_string())
    );
    assert_eq!(emergency[0]["consentId"], Value::Null);
    assert!(
        emergency[0]["legalBasis"]
            .as_str()
            .unwrap()
            .contains("acute withdrawal")
    );
    let none = n
        .cm(
            disclosures,
            json!({ "c": c, "from": null, "to": since - Duration::days(1) }),
        )
        .await;
    assert_eq!(
        none["disclosures"],
        json!([]),
        "nothing before the client existed"
    );
    let (code, _) =
        n.s.code(
            Some(&n.cm),
            disclosures,
            json!({ "c": c, "from": since, "to": since - Duration::days(1) }),
        )
        .await;
    assert_eq!(code, "BAD_INPUT");
}

/// A MAT booking names an organization that can deliver it: methadone dosing booked at a
/// pharmacy is refused as `BAD_INPUT`, naming the pharmacy and the service it lacks, and
/// changes nothing; at an OTP — registered over GraphQL with its service — it is taken. Only
/// an admin sets an organization's services, and `Organization.matServices` shows them.
async fn methadone_dosing_goes_to_an_otp(b: Backend) {
    let n = Net::new(b).await;
    let admin = n.s.token(n.home, Role::Admin).await;
    let registered =
        n.s.ok(
            &admin,
            "mutation { registerOrganization(name: \"Harbor OTP\", matServices: [OTP]) { id name matServices } }",
            json!({}),
        )
        .await;
    let otp = &registered["registerOrganization"];
    assert_eq!(otp["name"], json!("Harbor OTP"), "{registered}");
    assert_eq!(otp["matServices"], json!(["OTP"]), "{registered}");
    let otp = otp["id"].as_str().unwrap().to_owned();

    let c = n.admitted("residential", 30.0).await;
    let today = Utc::now().date_naive();
    n.cm(
        &format!("mutation($c: UUID!, $s: NaiveDate!) {{ recordMatPlan(input: {{ clientId: $c, medication: METHADONE, supplyThrough: $s }}) {RESULT} }}"),
        json!({ "c": c, "s": today + Duration::days(2) }),
    )
    .await;
    let dosing = format!(
        "mutation($c: UUID!, $p: UUID!, $on: NaiveDate!) {{ scheduleMatRefill(input: {{ clientId: $c, providerId: $p, kind: OTP_DOSING, on: $on }}) {RESULT} }}"
    );
    let at = |provider: &str| json!({ "c": c, "p": provider, "on": today + Duration::days(1) });
    let bookings = async || {
        n.cm(
            "query($c: UUID!) { client(id: $c) { version matBookings { kind provider { id matServices } } } }",
            json!({ "c": c }),
        )
        .await["client"]
            .clone()
    };
    let before = bookings().await;

    // At the pharmacy: refused, naming it and what it lacks; nothing changed.
    let pharmacy = n.pharmacy.to_string();
    let (code, e) = n.s.code(Some(&n.coordinator), &dosing, at(&pharmacy)).await;
    assert_eq!(code, "BAD_INPUT", "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains(&pharmacy), "{message}");
    assert!(
        message.contains("does not provide otp (its MAT services: pharmacy)"),
        "{message}"
    );
    assert_eq!(bookings().await, before);
    assert_eq!(before["matBookings"], json!([]));

    // At the OTP: taken.
    let d = n.s.ok(&n.coordinator, &dosing, at(&otp)).await;
    assert_eq!(
        d["scheduleMatRefill"]["events"][0]["type"],
        json!("mat.refill.scheduled")
    );
    let after = bookings().await;
    assert_eq!(
        after["matBookings"],
        json!([{ "kind": "OTP_DOSING", "provider": { "id": otp, "matServices": ["OTP"] } }])
    );

    // Only an admin changes an organization's services.
    let set = "mutation($o: UUID!, $s: [MatService!]!) { setMatServices(organizationId: $o, services: $s) { id matServices } }";
    for token in [&n.cm, &n.coordinator, n.partner("residential")] {
        let (code, _) =
            n.s.code(Some(token), set, json!({ "o": pharmacy, "s": ["OTP"] }))
                .await;
        assert_eq!(code, "FORBIDDEN");
    }
    let (code, _) =
        n.s.code(
            Some(&admin),
            set,
            json!({ "o": uuid::Uuid::new_v4(), "s": ["OTP"] }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    let (code, _) =
        n.s.code(
            Some(&admin),
            set,
            json!({ "o": pharmacy, "s": ["METHADONE"] }),
        )
        .await;
    assert_eq!(code, "BAD_INPUT");
    // The pharmacy, made an OTP too, now takes the dosing.
    let changed =
        n.s.ok(
            &admin,
            set,
            json!({ "o": pharmacy, "s": ["PHARMACY", "OTP", "OTP"] }),
        )
        .await;
    assert_eq!(
        changed["setMatServices"]["matServices"],
        json!(["OTP", "PHARMACY"])
    );
    n.s.ok(&n.coordinator, &dosing, at(&pharmacy)).await;
}

/// A provider with no open slot at the level refuses an acceptance as `NO_CAPACITY` (what
/// the SDL and the README promise), not a `CONFLICT`, and nothing changes.
async fn a_full_provider_answers_no_capacity(b: Backend) {
    let n = Net::new(b).await;
    let admin = carepath_engine::domain::Actor::new(OrgId(uuid::Uuid::nil()), Role::Admin);
    n.s.engine
        .set_capacity(
            &admin,
            n.provider("outpatient"),
            &carepath_engine::pathway::LevelId::new("outpatient"),
            1,
        )
        .await
        .unwrap();
    // The one slot is held for a first client.
    let first = n.admitted("iop", 12.0).await;
    let r = n.refer(&first, "outpatient").await;
    n.accept("outpatient", &r).await;
    // The second is refused.
    let second = n.admitted("iop", 12.0).await;
    let r = n.refer(&second, "outpatient").await;
    let v = n.version(&second).await;
    let (code, e) =
        n.s.code(
            Some(n.partner("outpatient")),
            "mutation($r: UUID!) { acceptReferral(referralId: $r) { version } }",
            json!({ "r": r }),
        )
        .await;
    assert_eq!(code, "NO_CAPACITY", "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("no open slot"),
        "{e}"
    );
    assert_eq!(n.version(&second).await, v, "nothing changed");
}

/// Only a consent for treatment, payment or health care operations may say "none" for its
/// expiry (42 CFR 2.31(a)(6)): any other purpose without one is `BAD_INPUT` naming the rule,
/// and nothing changes.
async fn a_consent_without_expiry_is_only_for_treatment_payment_or_operations(b: Backend) {
    let n = Net::new(b).await;
    let c = n.register().await;
    let v = n.version(&c).await;
    let q = "mutation($c: UUID!, $r: [UUID!]!, $p: String!, $on: NaiveDate!) { recordConsent(input: { clientId: $c, recipientIds: $r, purpose: $p, information: \"level of care\", expiry: NEVER, signedOn: $on }) { version } }";
    let vars = |purpose: &str| json!({ "c": c, "r": [n.provider("iop")], "p": purpose, "on": Utc::now().date_naive() });
    let (code, e) = n.s.code(Some(&n.cm), q, vars("research study")).await;
    assert_eq!(code, "BAD_INPUT", "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("42 CFR 2.31"), "{e}");
    assert!(
        message.contains("treatment, payment or health care operations"),
        "{e}"
    );
    assert_eq!(n.version(&c).await, v, "nothing changed");
    // For treatment it may.
    n.cm(q, vars("treatment and care coordination")).await;
}

/// A body over an adapter's limit is refused in that adapter's own words, never as plain
/// text: on `/graphql` a JSON GraphQL error with a code, on `/fhir/R4` an `OperationOutcome`,
/// on the console a page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_refused_in_each_adapters_own_words() {
    let n = Net::new(Backend::Sqlite).await;
    let c = n.admitted("iop", 12.0).await;
    let v = n.version(&c).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let content_type = |r: &reqwest::Response| {
        r.headers()
            .get("content-type")
            .map(|h| h.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    // GraphQL.
    let big =
        json!({ "query": "{ census { level } }", "variables": { "pad": "z".repeat(400 * 1024) } });
    let r = http
        .post(format!("{}/graphql", n.s.url))
        .bearer_auth(&n.cm)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert!(content_type(&r).starts_with("application/json"), "{r:?}");
    let body: Value = r.json().await.expect("a JSON GraphQL error");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_INPUT",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("request body is over 262144 bytes"),
        "{body}"
    );
    // FHIR.
    let r = http
        .get(format!("{}/fhir/R4/Patient/{c}", n.s.url))
        .bearer_auth(&n.cm)
        .body("z".repeat(400 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert!(
        content_type(&r).starts_with("application/fhir+json"),
        "{r:?}"
    );
    let body: Value = r.json().await.expect("an OperationOutcome");
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    assert_eq!(body["issue"][0]["code"], "too-long", "{body}");
    assert_eq!(body["issue"][0]["severity"], "error", "{body}");
    // The console.
    let cm = crate::console::Console::like_token(&n.s, &n.cm).await;
    let page = cm.page(&format!("/clients/{c}")).await;
    let action = format!("/clients/{c}/consents");
    let pad = "z".repeat(100 * 1024);
    let fields = crate::console::form_fields(&page, &action, &[("purpose", &pad)]);
    let a = cm.post(&action, &fields).await;
    assert_eq!(a.status, 413, "{}", a.body);
    assert!(
        a.body.contains("<!DOCTYPE html>") || a.body.contains("<html"),
        "{}",
        a.body
    );
    assert!(a.body.contains("Form too large"), "{}", a.body);
    assert!(a.body.contains("Nothing was changed"), "{}", a.body);
    assert_eq!(n.version(&c).await, v, "nothing changed");
}

on_both_backends!(
    a_consent_without_expiry_is_only_for_treatment_payment_or_operations,
    a_full_provider_answers_no_capacity,
    methadone_dosing_goes_to_an_otp,
    revocation_withholds_the_client_from_referral_reads,
    journey_over_http,
    subscription_receives_the_discharge,
    every_error_code,
    malformed_requests_are_bad_input_and_change_nothing,
    partners_see_only_their_own,
);
