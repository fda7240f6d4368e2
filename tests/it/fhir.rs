//! The FHIR R4 read API over HTTP (`/fhir/R4`): every resource type read and searched by the
//! organization holding the record, a partner's minimum necessary, a partner without consent
//! told nothing exists (`OperationOutcome` 404), strict search parameters, paging, the Part 2
//! labels on every client resource — and everything the server returned parsed by a FHIR
//! library we did not write (Python's `fhir.resources`, R4 4.0.1).

use crate::api::{Net, RESULT};
use crate::on_both_backends;
use crate::support::Backend;
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// A FHIR answer: status, content type, body.
pub(crate) struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
}

pub(crate) async fn get(n: &Net, token: Option<&str>, path: &str) -> Answer {
    let url = if path.starts_with("http") {
        path.to_owned()
    } else {
        format!("{}/fhir/R4/{path}", n.s.url)
    };
    let mut req = reqwest::Client::new()
        .get(url)
        .header("accept", "application/fhir+json");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("FHIR request");
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = r.text().await.expect("body");
    let body =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"));
    Answer {
        status,
        content_type,
        body,
    }
}

/// `GET` that must answer 200 with FHIR JSON; its body, which the model crate parses (as R4)
/// and validates.
async fn ok(n: &Net, token: &str, path: &str) -> Value {
    let a = get(n, Some(token), path).await;
    assert_eq!(a.status, 200, "{path}: {:#}", a.body);
    assert!(
        a.content_type.starts_with("application/fhir+json"),
        "{path}: {}",
        a.content_type
    );
    valid(&a.body, path);
    a.body
}

/// The `fhir` model crate reads `body` back as an R4 resource equal to it, and finds nothing
/// to say against it (primitive formats, every element down the tree; a Bundle's entries
/// included).
pub(crate) fn valid(body: &Value, what: &str) {
    use fhir::r4::validate::Validate;
    let r: fhir::r4::resources::Resource = serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("{what}: not an R4 resource ({e}): {body:#}"));
    let issues = r.validate();
    assert!(issues.is_empty(), "{what}: {issues:?}");
    assert_eq!(
        &serde_json::to_value(&r).unwrap(),
        body,
        "{what}: lost in the round trip"
    );
    if let fhir::r4::resources::Resource::Bundle(b) = &r {
        for (i, e) in b.entry.iter().enumerate() {
            if let Some(inner) = &e.resource {
                valid(inner, &format!("{what} entry {i}"));
            }
        }
    }
}

/// A request that must fail with `status` and an `OperationOutcome` saying `code`.
async fn outcome(n: &Net, token: Option<&str>, path: &str, status: u16, code: &str) -> Value {
    let a = get(n, token, path).await;
    assert_eq!(a.status, status, "{path}: {:#}", a.body);
    valid(&a.body, path);
    assert_eq!(
        a.body["resourceType"], "OperationOutcome",
        "{path}: {:#}",
        a.body
    );
    assert_eq!(a.body["issue"][0]["code"], code, "{path}: {:#}", a.body);
    a.body
}

/// The resources of a searchset, following its `next` links.
async fn all(n: &Net, token: &str, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut url = path.to_owned();
    loop {
        let b = ok(n, token, &url).await;
        assert_eq!(b["resourceType"], "Bundle");
        assert_eq!(b["type"], "searchset");
        for e in b["entry"].as_array().into_iter().flatten() {
            assert_eq!(e["search"]["mode"], "match");
            let r = e["resource"].clone();
            assert!(
                e["fullUrl"].as_str().unwrap().ends_with(&format!(
                    "/fhir/R4/{}/{}",
                    r["resourceType"].as_str().unwrap(),
                    r["id"].as_str().unwrap()
                )),
                "{e:#}"
            );
            out.push(r);
        }
        let next = b["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap().to_owned());
        match next {
            Some(u) => url = u,
            None => return out,
        }
    }
}

/// How many disclosures of `client` to `org` its accounting lists.
pub(crate) async fn disclosures_to(n: &Net, client: &str, org: &str) -> usize {
    n.cm(
        "query($c: UUID!) { disclosures(clientId: $c) { recipient { id } } }",
        json!({ "c": client }),
    )
    .await["disclosures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["recipient"]["id"] == org)
        .count()
}

/// Marked as 42 CFR Part 2 data, with the §2.32 notice.
fn labelled(r: &Value) {
    let codes: Vec<&str> = r["meta"]["security"]
        .as_array()
        .unwrap_or_else(|| panic!("no meta.security: {r:#}"))
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    for want in ["R", "42CFRPart2", "NORDSCLCD"] {
        assert!(codes.contains(&want), "{want} missing: {r:#}");
    }
    assert!(
        r["text"]["div"]
            .as_str()
            .unwrap()
            .contains("42 CFR part 2 prohibits unauthorized use or disclosure"),
        "{r:#}"
    );
    assert!(r["meta"]["lastUpdated"].is_string(), "{r:#}");
}

/// A client with a care record worth reading: named, consented to the whole network, in
/// detox, referred to residential care (accepted) and moved there, on buprenorphine with a
/// refill booked, an aftercare appointment booked.
pub(crate) async fn a_care_record(n: &Net) -> String {
    let c = n.admitted("detox", 40.0).await;
    n.cm(
        &format!("mutation($c: UUID!) {{ recordIdentity(clientId: $c, displayName: \"Rosa Quintero\", recordNumber: \"HCM-2001\") {RESULT} }}"),
        json!({ "c": c }),
    )
    .await;
    let r = n.refer(&c, "residential").await;
    n.accept("residential", &r).await;
    n.step_down(&c, "residential", 30.0).await;
    let today = Utc::now().date_naive();
    n.cm(
        &format!("mutation($c: UUID!, $t: NaiveDate!) {{ recordMatPlan(input: {{ clientId: $c, medication: BUPRENORPHINE, supplyThrough: $t }}) {RESULT} }}"),
        json!({ "c": c, "t": today + Duration::days(10) }),
    )
    .await;
    n.s.ok(
        &n.coordinator,
        &format!("mutation($c: UUID!, $p: UUID!, $on: NaiveDate!) {{ scheduleMatRefill(input: {{ clientId: $c, providerId: $p, kind: REFILL, on: $on }}) {RESULT} }}"),
        json!({ "c": c, "p": n.pharmacy, "on": today + Duration::days(5) }),
    )
    .await;
    n.book_aftercare(&c, 5).await;
    c
}

/// Writes each resource to `dir` and has `fhir.resources` parse them all.
pub(crate) fn python_parses(dir: &Path, files: &[(String, String)]) {
    let mut paths = Vec::new();
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        paths.push(p);
    }
    let python = std::env::var("CAREPATH_FHIR_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fhir/validate.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .args(&paths)
        .output()
        .unwrap_or_else(|e| panic!("{python} could not run ({e}): scripts/test installs it"));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "fhir.resources refused:\n{said}");
}

async fn every_resource_type_reads_and_searches_for_the_record_holder(b: Backend) {
    let n = Net::new(b).await;
    let c = a_care_record(&n).await;
    let mut seen: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut files: Vec<(String, String)> = Vec::new();

    let meta = ok(&n, &n.cm, "metadata").await;
    assert_eq!(meta["resourceType"], "CapabilityStatement");
    assert_eq!(meta["fhirVersion"], "4.0.1");
    files.push(("metadata.json".into(), meta.to_string()));

    for kind in [
        "Patient",
        "EpisodeOfCare",
        "ServiceRequest",
        "Task",
        "Consent",
        "Appointment",
        "MedicationStatement",
    ] {
        let path = if kind == "Patient" {
            format!("Patient?_id={c}")
        } else {
            format!("{kind}?patient=Patient/{c}")
        };
        let bundle = ok(&n, &n.cm, &path).await;
        files.push((format!("{kind}-search.json"), bundle.to_string()));
        let found = all(&n, &n.cm, &path).await;
        assert!(!found.is_empty(), "no {kind} for the client");
        for r in &found {
            assert_eq!(r["resourceType"], kind);
            labelled(r);
            // Read by id: the same resource.
            let id = r["id"].as_str().unwrap();
            let read = ok(&n, &n.cm, &format!("{kind}/{id}")).await;
            assert_eq!(&read, r, "{kind}/{id} read differs from its search entry");
        }
        seen.insert(kind.to_owned(), found);
    }

    let patient = &seen["Patient"][0];
    assert_eq!(patient["id"], c.as_str());
    assert_eq!(patient["name"][0]["text"], "Rosa Quintero");
    assert_eq!(patient["identifier"][0]["value"], "HCM-2001");
    assert_eq!(
        patient["managingOrganization"]["reference"],
        format!("Organization/{}", n.home)
    );

    let residential = n.provider("residential").to_string();
    let sr = &seen["ServiceRequest"];
    assert_eq!(sr.len(), 1, "{sr:#?}");
    assert_eq!(
        sr[0]["performer"][0]["reference"],
        format!("Organization/{residential}")
    );
    let by_performer = all(
        &n,
        &n.cm,
        &format!("ServiceRequest?patient={c}&performer=Organization/{residential}"),
    )
    .await;
    assert_eq!(by_performer.len(), 1);
    let elsewhere = all(
        &n,
        &n.cm,
        &format!("ServiceRequest?patient={c}&performer={}", n.provider("iop")),
    )
    .await;
    assert!(elsewhere.is_empty());

    let referral_task = seen["Task"]
        .iter()
        .find(|t| t["id"] == sr[0]["id"])
        .unwrap_or_else(|| panic!("no Task for the referral: {:#?}", seen["Task"]));
    assert_eq!(
        referral_task["focus"]["reference"],
        format!("ServiceRequest/{}", sr[0]["id"].as_str().unwrap())
    );
    assert!(
        seen["Task"].len() >= 2,
        "a Task for the referral and one for the move: {:#?}",
        seen["Task"]
    );
    assert_eq!(seen["Consent"][0]["status"], "active");
    assert_eq!(
        seen["Appointment"].len(),
        2,
        "the aftercare visit and the refill"
    );
    assert_eq!(seen["EpisodeOfCare"][0]["status"], "active");
    assert_eq!(seen["MedicationStatement"].len(), 1);

    // `status` and `_lastUpdated` narrow a search.
    let active = all(
        &n,
        &n.cm,
        &format!("EpisodeOfCare?patient={c}&status=active"),
    )
    .await;
    assert_eq!(active.len(), 1);
    let finished = all(
        &n,
        &n.cm,
        &format!("EpisodeOfCare?patient={c}&status=finished"),
    )
    .await;
    assert!(finished.is_empty());
    let tomorrow = (Utc::now() + Duration::days(1)).date_naive();
    assert!(
        all(
            &n,
            &n.cm,
            &format!("Task?patient={c}&_lastUpdated=ge{tomorrow}")
        )
        .await
        .is_empty()
    );
    assert_eq!(
        all(
            &n,
            &n.cm,
            &format!("Task?patient={c}&_lastUpdated=lt{tomorrow}")
        )
        .await
        .len(),
        seen["Task"].len()
    );

    // Paging: one per page, every one reached once through the `next` links.
    let paged = all(&n, &n.cm, &format!("Task?patient={c}&_count=1")).await;
    assert_eq!(paged, seen["Task"]);
    // Across clients (no `patient`): a second client's resources come on later pages.
    let other = n.admitted("detox", 40.0).await;
    let patients = all(&n, &n.cm, "Patient?_count=1").await;
    let ids: Vec<&str> = patients.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&c.as_str()) && ids.contains(&other.as_str()));

    let org = ok(&n, &n.cm, &format!("Organization/{residential}")).await;
    assert_eq!(org["name"], "residential provider");
    files.push(("organization.json".into(), org.to_string()));
    for (kind, rs) in &seen {
        for (i, r) in rs.iter().enumerate() {
            files.push((format!("{kind}-{i}.json"), r.to_string()));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    python_parses(dir.path(), &files);
}

async fn a_partner_reads_its_minimum_and_without_consent_nothing(b: Backend) {
    let n = Net::new(b).await;
    let c = a_care_record(&n).await;
    let residential = n.partner("residential");
    // Under the consent naming it: the client with the name it recognises the person by
    // (the partner's view, as on every other door) — not the birth year.
    let p = ok(&n, residential, &format!("Patient/{c}")).await;
    labelled(&p);
    assert_eq!(p["name"][0]["text"], "Rosa Quintero", "{p:#}");
    assert!(p.get("birthDate").is_none(), "{p:#}");
    let sr = all(&n, residential, &format!("ServiceRequest?patient={c}")).await;
    assert_eq!(sr.len(), 1, "its own referral");
    assert!(
        all(&n, residential, &format!("Consent?patient={c}"))
            .await
            .is_empty()
    );
    // Its incoming referrals, across clients: one for a client not (yet) placed with it too.
    let waiting = n.admitted("detox", 40.0).await;
    let incoming = n.refer(&waiting, "residential").await;
    let residential_org = n.provider("residential").to_string();
    let mine = all(
        &n,
        residential,
        &format!("ServiceRequest?performer=Organization/{residential_org}&status=active"),
    )
    .await;
    let ids: Vec<&str> = mine.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&incoming.as_str()), "{ids:?}");
    assert!(
        disclosures_to(&n, &c, &residential_org).await > 0,
        "the partner's reads are accounted"
    );

    // A client whose consent names only the detox provider: the residential provider is told
    // it does not exist, by id, by search, and through one of its records.
    let hidden = n.register().await;
    n.consent_to(&hidden, &[n.provider("detox")]).await;
    n.admit(&hidden, "detox", 40.0).await;
    let theirs = all(&n, &n.cm, &format!("EpisodeOfCare?patient={hidden}")).await;
    let episode = theirs[0]["id"].as_str().unwrap().to_owned();
    let nothing = outcome(
        &n,
        Some(residential),
        &format!("Patient/{hidden}"),
        404,
        "not-found",
    )
    .await;
    let unknown = outcome(
        &n,
        Some(residential),
        &format!("Patient/{}", uuid::Uuid::new_v4()),
        404,
        "not-found",
    )
    .await;
    assert_eq!(
        nothing["issue"][0]["code"], unknown["issue"][0]["code"],
        "no different from an id that does not exist"
    );
    outcome(
        &n,
        Some(residential),
        &format!("EpisodeOfCare/{episode}"),
        404,
        "not-found",
    )
    .await;
    outcome(
        &n,
        Some(residential),
        &format!("EpisodeOfCare?patient={hidden}"),
        404,
        "not-found",
    )
    .await;
    let bodies: Vec<(String, String)> = vec![("outcome.json".into(), nothing.to_string())];
    let dir = tempfile::tempdir().unwrap();
    python_parses(dir.path(), &bodies);
}

async fn bad_requests_get_an_operation_outcome(b: Backend) {
    let n = Net::new(b).await;
    let c = n.admitted("detox", 40.0).await;
    outcome(&n, None, &format!("Patient/{c}"), 401, "login").await;
    outcome(
        &n,
        Some("not-a-token"),
        &format!("Patient/{c}"),
        401,
        "login",
    )
    .await;
    outcome(&n, Some(&n.cm), "Observation", 404, "not-supported").await;
    outcome(&n, Some(&n.cm), "Patient?performer=x", 400, "invalid").await;
    outcome(&n, Some(&n.cm), "Task?_count=0", 400, "invalid").await;
    outcome(&n, Some(&n.cm), "Task?patient=nobody", 400, "invalid").await;
    outcome(
        &n,
        Some(&n.cm),
        "Task?_lastUpdated=yesterday",
        400,
        "invalid",
    )
    .await;
    outcome(&n, Some(&n.cm), "Patient/not-a-uuid", 404, "not-found").await;
    // The aftercare coordinator follows events, not lists: a search by patient or by id is its
    // way in, and reads only the clients named.
    outcome(&n, Some(&n.coordinator), "Patient", 403, "forbidden").await;
    let mine = all(&n, &n.coordinator, &format!("EpisodeOfCare?patient={c}")).await;
    assert_eq!(mine.len(), 1);
    let episode = mine[0]["id"].as_str().unwrap();
    let other = n.admitted("detox", 40.0).await;
    let before = disclosures_to(&n, &other, &n.hub.to_string()).await;
    let by_id = all(
        &n,
        &n.coordinator,
        &format!("Patient?_id={c},{}", uuid::Uuid::new_v4()),
    )
    .await;
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0]["id"], c.as_str());
    let by_id = all(&n, &n.coordinator, &format!("EpisodeOfCare?_id={episode}")).await;
    assert_eq!(by_id.len(), 1);
    assert_eq!(
        disclosures_to(&n, &other, &n.hub.to_string()).await,
        before,
        "a client not named was not read"
    );
}

/// A payer reads the services of the clients whose consent names it — the level of care,
/// appointments, MAT — and nothing else: no referral, no consent, no name; a client whose
/// consent does not name it does not exist for it; it changes nothing.
async fn a_payer_reads_the_services_a_consent_names_it_for(b: Backend) {
    let n = Net::new(b).await;
    let payer_org = n.s.org("MassHealth", &[]).await;
    let payer =
        n.s.token(payer_org, carepath_engine::domain::Role::Payer)
            .await;
    let c = a_care_record(&n).await;
    let mut named: Vec<_> = n.providers.iter().map(|(_, id)| *id).collect();
    named.push(payer_org);
    n.consent_to(&c, &named).await;
    let hidden = n.admitted("detox", 40.0).await;

    let patients = all(&n, &payer, "Patient").await;
    let ids: Vec<&str> = patients.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [c.as_str()], "only the client whose consent names it");
    assert!(patients[0].get("name").is_none(), "{:#}", patients[0]);
    assert_eq!(
        all(&n, &payer, &format!("Appointment?patient={c}"))
            .await
            .len(),
        2
    );
    assert_eq!(
        all(&n, &payer, &format!("MedicationStatement?patient={c}"))
            .await
            .len(),
        1
    );
    assert!(
        all(&n, &payer, &format!("ServiceRequest?patient={c}"))
            .await
            .is_empty()
    );
    assert!(
        all(&n, &payer, &format!("Consent?patient={c}"))
            .await
            .is_empty()
    );
    outcome(
        &n,
        Some(&payer),
        &format!("Patient/{hidden}"),
        404,
        "not-found",
    )
    .await;
    let (code, _) = n
        .s
        .code(
            Some(&payer),
            &format!("mutation($c: UUID!) {{ discharge(input: {{ clientId: $c, kind: PLANNED }}) {RESULT} }}"),
            json!({ "c": c }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
}

on_both_backends!(
    a_payer_reads_the_services_a_consent_names_it_for,
    every_resource_type_reads_and_searches_for_the_record_holder,
    a_partner_reads_its_minimum_and_without_consent_nothing,
    bad_requests_get_an_operation_outcome,
);
