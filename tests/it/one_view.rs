//! One view of a client at every door: for each reader — the record holder, a partner named in
//! a consent, a partner without one, an aftercare coordinator, a payer, another organization's
//! case manager, an administrator — GraphQL, the console's client page and FHIR show the same
//! parts of the record, and those are the parts the table below says (written here, not read
//! from the domain, so a door or a view that shows one part more fails). A reader without
//! standing is told, at each door, exactly what a random id gets.

use crate::api::Net;
use crate::console::Console;
use crate::fhir::{a_care_record, get as fhir_get};
use crate::on_both_backends;
use crate::support::Backend;
use carepath_engine::domain::Role;
use serde_json::{Value, json};

/// The parts of a record a door can show, as the table names them.
const PARTS: [&str; 7] = [
    "consents",
    "referrals",
    "identity",
    "mat",
    "aftercare",
    "handoff",
    "history",
];

/// What each reader may see: `None` for no standing at all.
fn expected(reader: &str) -> Option<&'static [&'static str]> {
    match reader {
        "holder" | "admin" => Some(&PARTS),
        "partner" => Some(&["referrals", "identity"]),
        "coordinator" => Some(&["identity", "mat", "aftercare", "handoff"]),
        "payer" => Some(&["mat", "aftercare"]),
        "partner without consent" | "other case manager" => None,
        other => panic!("no row for {other}"),
    }
}

/// The parts GraphQL shows `token`: each part's field asked on its own, shown when it answers
/// without an error (a part outside the view is `FORBIDDEN`).
async fn graphql_parts(n: &Net, token: &str, client: &str) -> Option<Vec<&'static str>> {
    let fields = [
        ("consents", "consents { id }"),
        ("referrals", "referrals { id }"),
        ("identity", "identity { displayName }"),
        ("mat", "matPlan { medication }"),
        ("aftercare", "aftercare { id }"),
        ("handoff", "lostToCare { since }"),
        ("history", "caseManager { id }"),
    ];
    let mut shown = Vec::new();
    for (part, field) in fields {
        let r =
            n.s.gql(
                Some(token),
                &format!("query($c: UUID!) {{ client(id: $c) {{ id {field} }} }}"),
                json!({ "c": client }),
            )
            .await;
        let codes: Vec<&str> = r["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["extensions"]["code"].as_str())
            .collect();
        match codes.as_slice() {
            [] => shown.push(part),
            ["FORBIDDEN"] => {}
            ["NOT_FOUND"] => return None,
            other => panic!("{part}: {other:?} {r:#}"),
        }
    }
    Some(shown)
}

/// The parts FHIR shows: the resources of the client of each type, and the Patient's name and
/// an episode's status history.
async fn fhir_parts(n: &Net, token: &str, client: &str) -> Option<Vec<&'static str>> {
    let patient = fhir_get(n, Some(token), &format!("Patient/{client}")).await;
    if patient.status == 404 {
        return None;
    }
    assert_eq!(patient.status, 200, "{:#}", patient.body);
    let mut shown = Vec::new();
    let count = |b: &Value| b["entry"].as_array().map_or(0, Vec::len);
    let search = |kind: &'static str| {
        let path = format!("{kind}?patient={client}&_count=500");
        async move { fhir_get(n, Some(token), &path).await.body }
    };
    if count(&search("Consent").await) > 0 {
        shown.push("consents");
    }
    if count(&search("ServiceRequest").await) > 0 {
        shown.push("referrals");
    }
    if patient.body.get("name").is_some() {
        shown.push("identity");
    }
    if count(&search("MedicationStatement").await) > 0 {
        shown.push("mat");
    }
    // Appointments: the aftercare visit and the MAT refill.
    if count(&search("Appointment").await) > 0 {
        shown.push("aftercare");
    }
    // A move's Task (the handoff), beside the referrals' Tasks.
    let tasks = search("Task").await;
    let referral_tasks = count(&search("ServiceRequest").await);
    if count(&tasks) > referral_tasks {
        shown.push("handoff");
    }
    let episodes = search("EpisodeOfCare").await;
    if episodes["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["resource"]["statusHistory"].is_array())
    {
        shown.push("history");
    }
    Some(shown)
}

/// The parts the console's client page shows: its sections.
async fn console_parts(n: &Net, token: &str, client: &str) -> Option<Vec<&'static str>> {
    let console = Console::like_token(&n.s, token).await;
    let a = console.get(&format!("/clients/{client}")).await;
    if a.status == 404 {
        return None;
    }
    assert_eq!(a.status, 200, "{}", a.body);
    let page = a.body;
    let mut shown = Vec::new();
    for (part, mark) in [
        ("consents", "id=\"con-h\""),
        ("referrals", "id=\"ref-h\""),
        ("identity", "Rosa Quintero"),
        ("mat", "id=\"cov-h\""),
        ("aftercare", "id=\"book-h\""),
        ("handoff", "id=\"ready-h\""),
        ("history", "id=\"tl-h\""),
    ] {
        if page.contains(mark) {
            shown.push(part);
        }
    }
    Some(shown)
}

async fn every_door_shows_each_reader_the_parts_of_its_view(b: Backend) {
    let n = Net::new(b).await;
    let c = a_care_record(&n).await;
    let payer_org = n.s.org("MassHealth", &[]).await;
    n.consent_to(&c, &[payer_org]).await;
    let stranger_org = n.s.org("Elsewhere Recovery", &["iop"]).await;
    let admin_org = n.s.org("Platform operations", &[]).await;
    let readers = [
        ("holder", n.cm.clone()),
        ("partner", n.partner("residential").to_owned()),
        ("coordinator", n.coordinator.clone()),
        ("payer", n.s.token(payer_org, Role::Payer).await),
        (
            "partner without consent",
            n.s.token(stranger_org, Role::Partner).await,
        ),
        (
            "other case manager",
            n.s.token(stranger_org, Role::CaseManager).await,
        ),
        ("admin", n.s.token(admin_org, Role::Admin).await),
    ];
    for (reader, token) in &readers {
        let want = expected(reader).map(|p| p.to_vec());
        // GraphQL has no consent, referral or MAT field for a payer's console page to
        // differ on: every door is held to the same row.
        let graphql = graphql_parts(&n, token, &c).await;
        let fhir = fhir_parts(&n, token, &c).await;
        assert_eq!(graphql, want, "GraphQL shows {reader}");
        assert_eq!(fhir, want, "FHIR shows {reader}");
        if *reader != "payer" {
            // A payer has no console pages: it reads the services it pays for over the API.
            let console = console_parts(&n, token, &c).await;
            assert_eq!(console, want, "the console shows {reader}");
        }
    }
}

/// What one door answers an unrelated case manager for a client id: status or code, and the
/// message with the id taken out.
async fn answers_for(n: &Net, token: &str, id: &str) -> Vec<String> {
    let strip = |s: &str| s.replace(id, "<id>");
    let gql =
        n.s.gql(
            Some(token),
            "query($c: UUID!) { client(id: $c) { id } }",
            json!({ "c": id }),
        )
        .await;
    let e = &gql["errors"][0];
    let mutation = n
        .s
        .gql(
            Some(token),
            "mutation($c: UUID!) { recordAssessment(input: { clientId: $c, recommendedLevel: \"iop\", dimensions: [1, 1, 1, 1, 1, 1] }) { version } }",
            json!({ "c": id }),
        )
        .await;
    let m = &mutation["errors"][0];
    let fhir = fhir_get(n, Some(token), &format!("Patient/{id}")).await;
    let console = Console::like_token(&n.s, token).await;
    let page = console.get(&format!("/clients/{id}")).await;
    vec![
        format!(
            "graphql {} {}",
            e["extensions"]["code"],
            strip(&e["message"].to_string())
        ),
        format!(
            "mutation {} {}",
            m["extensions"]["code"],
            strip(&m["message"].to_string())
        ),
        format!(
            "fhir {} {}",
            fhir.status,
            strip(&fhir.body["issue"][0].to_string())
        ),
        format!("console {} {}", page.status, strip(&words_of(&page.body))),
    ]
}

/// What a problem page says: its heading and paragraphs (not its forms' secrets).
fn words_of(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("main h1, main p").unwrap();
    doc.select(&sel)
        .map(|e| e.text().collect::<String>())
        .collect::<Vec<_>>()
        .join(" | ")
}

async fn another_organizations_case_manager_gets_what_a_random_id_gets(b: Backend) {
    let n = Net::new(b).await;
    let c = a_care_record(&n).await;
    let elsewhere = n.s.org("Elsewhere Case Management", &[]).await;
    let stranger = n.s.token(elsewhere, Role::CaseManager).await;
    let random = uuid::Uuid::new_v4().to_string();
    let real = answers_for(&n, &stranger, &c).await;
    let unknown = answers_for(&n, &stranger, &random).await;
    assert_eq!(real, unknown);
    assert!(real[0].contains("NOT_FOUND"), "{real:?}");
    assert!(real[2].starts_with("fhir 404"), "{real:?}");
    assert!(real[3].starts_with("console 404"), "{real:?}");
}

on_both_backends!(
    every_door_shows_each_reader_the_parts_of_its_view,
    another_organizations_case_manager_gets_what_a_random_id_gets,
);
