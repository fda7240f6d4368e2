//! FHIR Bulk Data `$export` over HTTP, on both databases: the kick-off's refusals change
//! nothing, a case manager's export holds exactly their organization's clients and an admin's
//! everyone's, only the organization that asked reads the job and its files, a cancelled job
//! is gone, and a job its server abandoned is failed, saying so.

use crate::api::{Net, RESULT};
use crate::on_both_backends;
use crate::support::Backend;
use carepath_engine::domain::{Actor, Role};
use carepath_engine::{ExportRequest, ExportStatus};
use chrono::{Duration, Utc};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const FHIR_JSON: &str = "application/fhir+json";

struct Fhir {
    http: reqwest::Client,
    base: String,
}

/// An answer: status, headers and body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// An OperationOutcome with this status.
    fn outcome(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        let v = self.json();
        assert_eq!(v["resourceType"], "OperationOutcome", "{v}");
        v
    }
}

impl Fhir {
    fn new(n: &Net) -> Self {
        Fhir {
            http: reqwest::Client::new(),
            base: format!("{}/fhir/R4", n.s.url),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let resp = req.send().await.expect("request");
        Answer {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.text().await.expect("body"),
        }
    }

    /// A kick-off at `path` (below the base) as the holder of `token`, with `Prefer:
    /// respond-async` unless `prefer` is false.
    async fn kick_off(&self, token: &str, path: &str, prefer: bool) -> Answer {
        let mut req = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("accept", FHIR_JSON);
        if prefer {
            req = req.header("prefer", "respond-async");
        }
        self.send(req).await
    }

    /// A kick-off that must be accepted: its status URL.
    async fn started(&self, token: &str, path: &str) -> String {
        let a = self.kick_off(token, path, true).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
        let url = a.headers["content-location"].to_str().unwrap().to_owned();
        assert!(
            url.starts_with(&format!("{}/$export-status/", self.base)),
            "{url}"
        );
        url
    }

    async fn get(&self, token: &str, url: &str) -> Answer {
        self.send(self.http.get(url).bearer_auth(token)).await
    }

    /// Poll a status URL until the export is done: the manifest.
    async fn manifest(&self, token: &str, url: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let a = self.get(token, url).await;
            match a.status {
                StatusCode::OK => return a.json(),
                StatusCode::ACCEPTED => {
                    assert!(a.headers.contains_key("x-progress"), "{:?}", a.headers);
                    assert!(a.headers.contains_key("retry-after"), "{:?}", a.headers);
                }
                other => panic!("status {other}: {}", a.body),
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the export did not finish within 60 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Every file of a manifest, each line checked — JSON of the file's type, parsed and
    /// validated by the model crate, and every file parsed by Python's `fhir.resources` —:
    /// the resources by type.
    async fn resources(&self, token: &str, manifest: &Value) -> BTreeMap<String, Vec<Value>> {
        assert_eq!(manifest["requiresAccessToken"], true, "{manifest}");
        assert_eq!(manifest["error"], json!([]), "{manifest}");
        assert!(manifest["transactionTime"].is_string(), "{manifest}");
        assert!(
            manifest["request"].as_str().unwrap().contains("$export"),
            "{manifest}"
        );
        let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut files = Vec::new();
        for (i, f) in manifest["output"]
            .as_array()
            .expect("output")
            .iter()
            .enumerate()
        {
            let kind = f["type"].as_str().unwrap();
            let a = self.get(token, f["url"].as_str().unwrap()).await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.body);
            assert_eq!(a.headers["content-type"], "application/fhir+ndjson");
            let lines: Vec<&str> = a.body.lines().collect();
            assert_eq!(lines.len() as u64, f["count"].as_u64().unwrap(), "{f}");
            for line in lines {
                let r: Value = serde_json::from_str(line).expect("each line is JSON");
                assert_eq!(r["resourceType"], kind, "{line}");
                crate::fhir::valid(&r, kind);
                out.entry(kind.to_owned()).or_default().push(r);
            }
            files.push((format!("{i}-{kind}.ndjson"), a.body.clone()));
        }
        let dir = tempfile::tempdir().unwrap();
        crate::fhir::python_parses(dir.path(), &files);
        out
    }
}

fn ids(resources: &BTreeMap<String, Vec<Value>>, kind: &str) -> BTreeSet<String> {
    resources
        .get(kind)
        .map(|rs| {
            rs.iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

async fn an_export_holds_what_its_reader_may_read_and_only_its_organization_reads_it(b: Backend) {
    let n = Net::new(b).await;
    let f = Fhir::new(&n);
    let admin_org = n.s.org("Administration", &[]).await;
    let admin = n.s.token(admin_org, Role::Admin).await;
    let other_org = n.s.org("Other Case Management", &[]).await;
    let other_cm = n.s.token(other_org, Role::CaseManager).await;
    let admitted = n.admitted("residential", 20.0).await;
    let registered = n.register().await;
    let elsewhere =
        n.s.ok(
            &other_cm,
            &format!("mutation {{ registerClient(input: {{ birthYear: 1990 }}) {RESULT} }}"),
            json!({}),
        )
        .await["registerClient"]["clientId"]
            .as_str()
            .unwrap()
            .to_owned();

    // Refused: nothing is started.
    f.kick_off(&n.cm, "/$export", false).await.outcome(400);
    f.kick_off(&n.cm, "/$export?_type=Nope", true)
        .await
        .outcome(400);
    f.kick_off(&n.cm, "/$export?_since=yesterday", true)
        .await
        .outcome(400);
    f.kick_off(&n.cm, "/$export?_outputFormat=text/csv", true)
        .await
        .outcome(400);
    f.kick_off(n.partner("residential"), "/$export", true)
        .await
        .outcome(403);
    f.kick_off(&n.coordinator, "/$export", true)
        .await
        .outcome(403);
    f.kick_off(&n.cm, &format!("/Group/{other_org}/$export"), true)
        .await
        .outcome(404);
    let a = f
        .send(
            f.http
                .get(format!("{}/$export", f.base))
                .header("prefer", "respond-async"),
        )
        .await;
    a.outcome(401);

    // The case manager's export: exactly their organization's clients.
    let status = f.started(&n.cm, "/$export").await;
    let manifest = f.manifest(&n.cm, &status).await;
    let got = f.resources(&n.cm, &manifest).await;
    assert_eq!(ids(&got, "Patient"), set(&[&admitted, &registered]));
    for kind in ["EpisodeOfCare", "Consent"] {
        assert_eq!(
            got[kind].len(),
            1,
            "{kind} of the admitted client: {got:#?}"
        );
    }

    // Another organization: no such job, no such file.
    f.get(&other_cm, &status).await.outcome(404);
    f.get(n.partner("residential"), &status).await.outcome(404);
    for file in manifest["output"].as_array().unwrap() {
        f.get(&other_cm, file["url"].as_str().unwrap())
            .await
            .outcome(404);
    }
    // The supervisor, of the same organization, reads it.
    assert_eq!(f.get(&n.supervisor, &status).await.status, StatusCode::OK);

    // The admin's: every client, the directory with them; `_type` narrows.
    let status = f.started(&admin, "/$export").await;
    let got = f
        .resources(&admin, &f.manifest(&admin, &status).await)
        .await;
    assert_eq!(
        ids(&got, "Patient"),
        set(&[&admitted, &registered, &elsewhere])
    );
    assert!(ids(&got, "Organization").contains(&n.home.to_string()));
    f.get(&n.cm, &status).await.outcome(404);

    let status = f
        .started(&admin, &format!("/Group/{}/$export?_type=Patient", n.home))
        .await;
    let manifest = f.manifest(&admin, &status).await;
    let got = f.resources(&admin, &manifest).await;
    assert_eq!(got.keys().collect::<Vec<_>>(), vec!["Patient"]);
    assert_eq!(ids(&got, "Patient"), set(&[&admitted, &registered]));

    // The case manager's own group is their clients; `_since` after every change: nothing.
    let status = f
        .started(&n.cm, &format!("/Group/{}/$export?_type=Patient", n.home))
        .await;
    let got = f.resources(&n.cm, &f.manifest(&n.cm, &status).await).await;
    assert_eq!(ids(&got, "Patient"), set(&[&admitted, &registered]));
    let later =
        (Utc::now() + Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let status = f
        .started(
            &n.cm,
            &format!(
                "/$export?_type=Patient&_since={}",
                later.replace('+', "%2B")
            ),
        )
        .await;
    let manifest = f.manifest(&n.cm, &status).await;
    assert_eq!(manifest["output"], json!([]), "{manifest}");

    // Cancelled (by its organization only): gone, its files with it.
    let status = f.started(&n.cm, "/$export").await;
    let file = {
        let m = f.manifest(&n.cm, &status).await;
        m["output"][0]["url"].as_str().unwrap().to_owned()
    };
    let del = |token: &str| f.send(f.http.delete(&status).bearer_auth(token.to_owned()));
    del(&other_cm).await.outcome(404);
    assert_eq!(del(&n.cm).await.status, StatusCode::ACCEPTED);
    f.get(&n.cm, &status).await.outcome(404);
    f.get(&n.cm, &file).await.outcome(404);
    del(&n.cm).await.outcome(404);

    // The capability statement names the operations.
    let cs = f.get(&n.cm, &format!("{}/metadata", f.base)).await.json();
    let ops = cs["rest"][0]["operation"].to_string();
    assert!(
        ops.contains("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"),
        "{ops}"
    );
}

async fn a_job_its_server_abandoned_is_failed_saying_so(b: Backend) {
    let n = Net::new(b).await;
    let f = Fhir::new(&n);
    // A job started and never run, as when the server stopped before its worker began.
    let actor = Actor::new(n.home, Role::CaseManager);
    let job =
        n.s.engine
            .start_export(
                &actor,
                ExportRequest {
                    group: None,
                    types: vec![],
                    since: None,
                    request: format!("{}/$export", f.base),
                },
            )
            .await
            .expect("started");
    let status = format!("{}/$export-status/{}", f.base, job.id);
    // Still within its worker's time: running as far as anyone knows.
    let a = f.get(&n.cm, &status).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    // Its worker silent for longer than the engine waits.
    let db = sea_orm::Database::connect(&n.s.db_url).await.expect("db");
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "UPDATE fhir_export_jobs SET heartbeat_at = $1 WHERE id = $2",
        _ => "UPDATE fhir_export_jobs SET heartbeat_at = ? WHERE id = ?",
    };
    let silent_since = Utc::now() - Duration::hours(1);
    let done = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [silent_since.into(), job.id.into()],
        ))
        .await
        .expect("age the job");
    assert_eq!(done.rows_affected(), 1);
    let said = f.get(&n.cm, &status).await.outcome(500);
    assert!(said.to_string().contains("start a new export"), "{said}");
    let job = n.s.engine.export_status(&actor, job.id).await.unwrap();
    assert_eq!(job.status, ExportStatus::Failed);
}

/// A payer's export: the clients a consent in force names it in, in the payer's view — their
/// levels of care, appointments and MAT; no referral, no consent —, each read a disclosure.
async fn a_payers_export_holds_the_services_its_consents_name_it_for(b: Backend) {
    let n = Net::new(b).await;
    let f = Fhir::new(&n);
    let payer_org = n.s.org("MassHealth", &[]).await;
    let payer = n.s.token(payer_org, Role::Payer).await;
    let covered = n.admitted("residential", 20.0).await;
    n.consent_to(&covered, &[payer_org]).await;
    n.book_aftercare(&covered, 3).await;
    let other = n.admitted("residential", 20.0).await;

    let status = f.started(&payer, "/$export").await;
    let got = f
        .resources(&payer, &f.manifest(&payer, &status).await)
        .await;
    assert_eq!(ids(&got, "Patient"), set(&[&covered]));
    assert_eq!(got["Appointment"].len(), 1, "{got:#?}");
    assert_eq!(got["EpisodeOfCare"].len(), 1, "{got:#?}");
    for kind in ["ServiceRequest", "Consent", "Task"] {
        assert!(
            !got.contains_key(kind),
            "{kind} went to the payer: {got:#?}"
        );
    }
    assert!(!ids(&got, "Patient").contains(&other));
    assert!(
        crate::fhir::disclosures_to(&n, &covered, &payer_org.to_string()).await > 0,
        "the payer's reads are accounted"
    );
}

on_both_backends!(
    a_payers_export_holds_the_services_its_consents_name_it_for,
    an_export_holds_what_its_reader_may_read_and_only_its_organization_reads_it,
    a_job_its_server_abandoned_is_failed_saying_so,
);
