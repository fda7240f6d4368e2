//! FHIR Bulk Data `$export` (Bulk Data Access IG v2): the system-level kick-off
//! (`GET /fhir/R4/$export`, every client its reader may export) and the group-level one
//! (`GET /fhir/R4/Group/{org}/$export`: a Group is an organization's clients, those whose
//! records it holds), the status (`$export-status/{job}`: 202 while it runs, the manifest when
//! complete, an OperationOutcome when it failed; `DELETE` cancels) and the NDJSON files
//! (`$export-file/{job}/{type}/{part}`).
//!
//! An adapter: who may export what, the job, its files and who may read them are the
//! engine's ([`Engine::start_export`] and the rest). The worker this module spawns for a job
//! reads the records through the engine a page at a time (each read by another organization a
//! disclosure), maps each client's resources as every read does ([`client_resources`]), and
//! writes them grouped by type, at most [`MAX_LINES`] lines or [`MAX_BYTES`] bytes a part.

use crate::error::FhirError;
use crate::http::{actor, base_url, client_resources, fhir_json, organizations, query_pairs};
use crate::map::common::instant_text;
use crate::map::{Kind, Mapped};
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use carepath_engine::ids::OrgId;
use carepath_engine::{Engine, ExportJob, ExportRequest, ExportRun, ExportStatus};
use chrono::{DateTime, Utc};
use fhir::r4::codes::IssueType;
use fhir::r4::resources::Resource;
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The most lines (resources) a file part holds.
pub const MAX_LINES: u32 = 10_000;
/// The most bytes a file part holds (a part is closed before a line would take it past).
pub const MAX_BYTES: usize = 8 * 1024 * 1024;
/// Clients read per step of an export.
const CLIENT_PAGE: u64 = 100;
/// What a client polling a running export is asked to wait, in seconds.
const RETRY_AFTER_SECS: &str = "2";
pub const NDJSON: &str = "application/fhir+ndjson";
/// The `_outputFormat` values this server takes (all meaning FHIR NDJSON).
const OUTPUT_FORMATS: [&str; 3] = ["application/fhir+ndjson", "application/ndjson", "ndjson"];
/// Parameters of the IG this server does not support: refused, or ignored under
/// `Prefer: handling=lenient`.
const UNSUPPORTED: [&str; 7] = [
    "_elements",
    "patient",
    "includeAssociatedData",
    "_typeFilter",
    "organizeOutputBy",
    "allowPartialManifests",
    "_format",
];

pub fn routes() -> Router<Engine> {
    use crate::http::BASE_PATH as B;
    Router::new()
        .route(&format!("{B}/$export"), get(kick_off_system))
        .route(&format!("{B}/Group/{{id}}/$export"), get(kick_off_group))
        .route(
            &format!("{B}/$export-status/{{job}}"),
            get(status).delete(cancel),
        )
        .route(
            &format!("{B}/$export-file/{{job}}/{{kind}}/{{part}}"),
            get(file),
        )
}

async fn kick_off_system(
    State(engine): State<Engine>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, FhirError> {
    kick_off(engine, None, raw, headers).await
}

async fn kick_off_group(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, FhirError> {
    let org = id
        .parse::<Uuid>()
        .map_err(|_| FhirError::NotFound(format!("Group/{id}")))?;
    kick_off(engine, Some(OrgId(org)), raw, headers).await
}

async fn kick_off(
    engine: Engine,
    group: Option<OrgId>,
    raw: Option<String>,
    headers: HeaderMap,
) -> Result<Response, FhirError> {
    let actor = actor(&engine, &headers).await?;
    let prefer = Prefer::of(&headers);
    if !prefer.respond_async {
        return Err(FhirError::BadRequest(
            "a bulk export runs asynchronously: send Prefer: respond-async".into(),
        ));
    }
    accepts_fhir_json(&headers)?;
    let query = query_pairs(raw.as_deref())?;
    let (types, since) = parameters(&query, prefer.lenient)?;
    let base = base_url(&headers);
    let path = match group {
        Some(g) => format!("{base}/Group/{g}/$export"),
        None => format!("{base}/$export"),
    };
    let request = match raw.as_deref().filter(|q| !q.is_empty()) {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let job = engine
        .start_export(
            &actor,
            ExportRequest {
                group,
                types: types.iter().map(|k| k.as_str().to_owned()).collect(),
                since,
                request,
            },
        )
        .await?;
    tokio::spawn(work(engine, job.id));
    let location = HeaderValue::from_str(&format!("{base}/$export-status/{}", job.id))
        .map_err(|_| FhirError::Internal)?;
    Ok((StatusCode::ACCEPTED, [(header::CONTENT_LOCATION, location)]).into_response())
}

/// What the `Prefer` headers ask.
struct Prefer {
    respond_async: bool,
    lenient: bool,
}

impl Prefer {
    fn of(headers: &HeaderMap) -> Prefer {
        let tokens: Vec<String> = headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split([',', ';']))
            .map(|t| t.trim().to_ascii_lowercase())
            .collect();
        Prefer {
            respond_async: tokens.iter().any(|t| t == "respond-async"),
            lenient: tokens.iter().any(|t| t == "handling=lenient"),
        }
    }
}

/// The kick-off answers in FHIR JSON only (an OperationOutcome when refused).
fn accepts_fhir_json(headers: &HeaderMap) -> Result<(), FhirError> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Ok(());
    };
    let ok = accept.to_str().ok().is_some_and(|a| {
        a.split(',').any(|m| {
            let m = m.split(';').next().unwrap_or("").trim();
            matches!(
                m,
                "application/fhir+json" | "application/json" | "*/*" | "application/*"
            )
        })
    });
    if ok {
        Ok(())
    } else {
        Err(FhirError::NotAcceptable(
            "a bulk export's kick-off answers in application/fhir+json".into(),
        ))
    }
}

/// `_type` (the types asked for, in this server's order; empty: every type) and `_since`.
fn parameters(
    query: &[(String, String)],
    lenient: bool,
) -> Result<(Vec<Kind>, Option<DateTime<Utc>>), FhirError> {
    let mut types: Vec<Kind> = Vec::new();
    let mut since = None;
    let mut format_seen = false;
    for (name, value) in query {
        match name.as_str() {
            "_type" => {
                for t in value.split(',').map(str::trim) {
                    let kind = Kind::parse(t).ok_or_else(|| {
                        FhirError::BadRequest(format!(
                            "_type: this server exports no resource type \"{}\" (it exports {})",
                            t.escape_default(),
                            Kind::ALL.map(Kind::as_str).join(", ")
                        ))
                    })?;
                    types.push(kind);
                }
            }
            "_since" => {
                if since.is_some() {
                    return Err(FhirError::BadRequest("_since is given once".into()));
                }
                let t = DateTime::parse_from_rfc3339(value).map_err(|_| {
                    FhirError::BadRequest(
                        "_since is an instant with its time zone, e.g. 2026-01-31T09:00:00Z".into(),
                    )
                })?;
                since = Some(t.with_timezone(&Utc));
            }
            "_outputFormat" => {
                if format_seen {
                    return Err(FhirError::BadRequest("_outputFormat is given once".into()));
                }
                format_seen = true;
                if !OUTPUT_FORMATS.contains(&value.as_str()) {
                    return Err(FhirError::BadRequest(format!(
                        "_outputFormat: this server writes {} only",
                        OUTPUT_FORMATS.join(", ")
                    )));
                }
            }
            n if UNSUPPORTED.contains(&n) && lenient => {}
            n => {
                return Err(FhirError::BadRequest(format!(
                    "$export takes _type, _since and _outputFormat; not \"{}\"",
                    n.escape_default()
                )));
            }
        }
    }
    types.sort();
    types.dedup();
    Ok((types, since))
}

async fn status(
    State(engine): State<Engine>,
    Path(job): Path<String>,
    headers: HeaderMap,
) -> Result<Response, FhirError> {
    let actor = actor(&engine, &headers).await?;
    let id = job_id(&job)?;
    let job = engine.export_status(&actor, id).await?;
    Ok(match job.status {
        ExportStatus::Queued | ExportStatus::Running => {
            let progress = format!(
                "{}: {} clients read",
                if job.status == ExportStatus::Queued {
                    "queued"
                } else {
                    "running"
                },
                job.clients_done
            );
            (
                StatusCode::ACCEPTED,
                [
                    (
                        header::HeaderName::from_static("x-progress"),
                        HeaderValue::from_str(&progress).map_err(|_| FhirError::Internal)?,
                    ),
                    (
                        header::RETRY_AFTER,
                        HeaderValue::from_static(RETRY_AFTER_SECS),
                    ),
                ],
            )
                .into_response()
        }
        ExportStatus::Complete => {
            let mut r = axum::Json(manifest(&base_url(&headers), &job)).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        ExportStatus::Failed => {
            let said = job
                .error
                .as_deref()
                .unwrap_or("the export failed")
                .to_owned();
            fhir_json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &Resource::OperationOutcome(Box::new(crate::error::outcome(
                    IssueType::Exception,
                    said,
                ))),
            )
        }
    })
}

/// The manifest of a complete export.
fn manifest(base: &str, job: &ExportJob) -> serde_json::Value {
    let output: Vec<serde_json::Value> = job
        .files
        .iter()
        .map(|f| {
            json!({
                "type": f.resource_type,
                "url": format!("{base}/$export-file/{}/{}/{}", job.id, f.resource_type, f.part),
                "count": f.count,
            })
        })
        .collect();
    json!({
        "transactionTime": instant_text(job.transaction_time),
        "request": job.request.request,
        "requiresAccessToken": true,
        "output": output,
        "error": [],
    })
}

async fn cancel(
    State(engine): State<Engine>,
    Path(job): Path<String>,
    headers: HeaderMap,
) -> Result<Response, FhirError> {
    let actor = actor(&engine, &headers).await?;
    engine.cancel_export(&actor, job_id(&job)?).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn file(
    State(engine): State<Engine>,
    Path((job, kind, part)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, FhirError> {
    let actor = actor(&engine, &headers).await?;
    let not_found = || FhirError::NotFound(format!("$export-file/{job}/{kind}/{part}"));
    let id = job.parse::<Uuid>().map_err(|_| not_found())?;
    let part: u32 = part.parse().map_err(|_| not_found())?;
    let kind = Kind::parse(&kind).ok_or_else(not_found)?;
    let body = engine.export_file(&actor, id, kind.as_str(), part).await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(NDJSON)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}

fn job_id(job: &str) -> Result<Uuid, FhirError> {
    job.parse()
        .map_err(|_| FhirError::NotFound(format!("export {job}")))
}

/// The worker of job `id`: runs it to its end, or stops when it is cancelled.
async fn work(engine: Engine, id: Uuid) {
    let run = match engine.run_export(id).await {
        Ok(Some(run)) => run,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(export = %id, error = %e, "export could not start");
            return;
        }
    };
    let ended = match export(&engine, &run).await {
        Ok(Ended::Written) => engine.finish_export(&run, None).await,
        Ok(Ended::Stopped) => return,
        Err(e) => {
            // What the reader is told: the error as the API says it (no client's data).
            engine.finish_export(&run, Some(&e.to_string())).await
        }
    };
    if let Err(e) = ended {
        tracing::error!(export = %id, error = %e, "export could not be finished");
    }
}

enum Ended {
    Written,
    /// The job is no longer running (cancelled): nothing more is written.
    Stopped,
}

/// Every resource of the run, written in parts.
async fn export(engine: &Engine, run: &ExportRun) -> Result<Ended, FhirError> {
    let wanted: Vec<Kind> = if run.request.types.is_empty() {
        Kind::ALL.to_vec()
    } else {
        run.request
            .types
            .iter()
            .filter_map(|t| Kind::parse(t))
            .collect()
    };
    let since = run.request.since;
    let keep = |m: &Mapped| wanted.contains(&m.kind) && since.is_none_or(|s| m.last_updated > s);
    let mut parts = Parts::default();
    if wanted.iter().any(|k| k.of_a_client()) {
        let mut after = None;
        loop {
            let Some(page) = engine.export_records(run, after, CLIENT_PAGE).await? else {
                return Ok(Ended::Stopped);
            };
            // An exporter (admin, or the holder of the records) has standing for every client
            // it lists: a short page is the last.
            let Some(last) = page.last().map(|r| r.client.id) else {
                break;
            };
            for record in &page {
                for m in client_resources(engine, &run.actor, record, &wanted).await? {
                    if keep(&m) && !parts.push(engine, run, &m).await? {
                        return Ok(Ended::Stopped);
                    }
                }
            }
            after = Some(last);
        }
    }
    if wanted.contains(&Kind::Organization) {
        for m in organizations(engine, &run.actor).await? {
            if keep(&m) && !parts.push(engine, run, &m).await? {
                return Ok(Ended::Stopped);
            }
        }
    }
    Ok(if parts.flush_all(engine, run).await? {
        Ended::Written
    } else {
        Ended::Stopped
    })
}

/// The part being filled of each type.
#[derive(Default)]
struct Parts {
    open: BTreeMap<Kind, Part>,
}

#[derive(Default)]
struct Part {
    /// The part's number (from 1).
    number: u32,
    body: String,
    lines: u32,
}

impl Part {
    /// Does a line of `len` bytes still go in (an empty part takes any line)?
    fn takes(&self, len: usize) -> bool {
        self.lines == 0 || (self.lines < MAX_LINES && self.body.len() + len < MAX_BYTES)
    }
}

impl Parts {
    /// Add a resource's line; `false` when the job stopped running.
    async fn push(
        &mut self,
        engine: &Engine,
        run: &ExportRun,
        m: &Mapped,
    ) -> Result<bool, FhirError> {
        let line = serde_json::to_string(&m.resource).map_err(|_| FhirError::Internal)?;
        let part = self.open.entry(m.kind).or_insert_with(|| Part {
            number: 1,
            ..Part::default()
        });
        if !part.takes(line.len()) && !write(engine, run, m.kind, part).await? {
            return Ok(false);
        }
        part.body.push_str(&line);
        part.body.push('\n');
        part.lines += 1;
        Ok(true)
    }

    /// Write every part not yet written; `false` when the job stopped running.
    async fn flush_all(&mut self, engine: &Engine, run: &ExportRun) -> Result<bool, FhirError> {
        for (kind, part) in &mut self.open {
            if part.lines > 0 && !write(engine, run, *kind, part).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Write `part` and open the next one in its place.
async fn write(
    engine: &Engine,
    run: &ExportRun,
    kind: Kind,
    part: &mut Part,
) -> Result<bool, FhirError> {
    let body = std::mem::take(&mut part.body);
    let written = engine
        .export_write(run, kind.as_str(), part.number, body, part.lines)
        .await?;
    part.number += 1;
    part.lines = 0;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parameters_are_checked_strictly() {
        let (types, since) = parameters(
            &q(&[
                ("_type", "Task,Patient"),
                ("_type", "Patient"),
                ("_since", "2026-01-31T09:00:00+01:00"),
                ("_outputFormat", "application/fhir+ndjson"),
            ]),
            false,
        )
        .unwrap();
        assert_eq!(types, vec![Kind::Patient, Kind::Task]);
        assert_eq!(since.unwrap().to_rfc3339(), "2026-01-31T08:00:00+00:00");
        for bad in [
            ("_type", "Nope"),
            ("_type", "Patient,"),
            ("_since", "2026-01-31"),
            ("_outputFormat", "text/csv"),
            ("_typeFilter", "Patient?active=true"),
            ("count", "3"),
        ] {
            assert!(
                matches!(parameters(&q(&[bad]), false), Err(FhirError::BadRequest(_))),
                "{bad:?}"
            );
        }
        assert!(parameters(&q(&[("_typeFilter", "x")]), true).is_ok());
        assert!(parameters(&q(&[("count", "3")]), true).is_err());
    }

    #[test]
    fn a_part_closes_at_its_line_or_byte_limit() {
        let part = |lines, bytes| Part {
            number: 1,
            body: "x".repeat(bytes),
            lines,
        };
        assert!(part(0, 0).takes(MAX_BYTES * 2));
        assert!(part(MAX_LINES - 1, 100).takes(100));
        assert!(!part(MAX_LINES, 100).takes(1));
        assert!(part(1, MAX_BYTES - 11).takes(10));
        assert!(!part(1, MAX_BYTES - 10).takes(10));
    }

    #[test]
    fn prefer_and_accept() {
        let mut h = HeaderMap::new();
        assert!(!Prefer::of(&h).respond_async);
        h.insert(
            "prefer",
            HeaderValue::from_static("handling=lenient, respond-async"),
        );
        let p = Prefer::of(&h);
        assert!(p.respond_async && p.lenient);
        assert!(accepts_fhir_json(&h).is_ok());
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/fhir+json"),
        );
        assert!(accepts_fhir_json(&h).is_ok());
        h.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        assert!(accepts_fhir_json(&h).is_err());
    }
}
