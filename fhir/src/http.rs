//! The FHIR R4 read API under `/fhir/R4`: `metadata`, read by id and search per type, each
//! behind the API's bearer tokens and the engine's read policy.

use crate::capability;
use crate::error::FhirError;
use crate::map::{self, Kind, Mapped, Source};
use crate::search::Search;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use carepath_engine::domain::Actor;
use carepath_engine::ids::ClientId;
use carepath_engine::{CareRecord, Engine};
use fhir::r4::coded::Coded;
use fhir::r4::codes::{BundleType, SearchEntryMode};
use fhir::r4::resources::bundle::{BundleEntry, BundleEntrySearch, BundleLink};
use fhir::r4::resources::{Bundle, Resource};
use fhir::r4::types::{self, UnsignedInt, Uri};
use serde::Serialize;

pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";
/// Where the API lives, below the server's root.
pub const BASE_PATH: &str = "/fhir/R4";
/// Clients read per step of a search that names no patient.
const CLIENT_BATCH: u64 = 100;

pub fn router(engine: Engine) -> Router {
    Router::new()
        .route(&format!("{BASE_PATH}/metadata"), get(metadata))
        .route(&format!("{BASE_PATH}/{{kind}}"), get(search))
        .route(&format!("{BASE_PATH}/{{kind}}/{{id}}"), get(read))
        .merge(crate::export::routes())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        .layer(axum::middleware::map_response(too_large))
        .with_state(engine)
}

/// Largest request body accepted (the API reads none: its requests are GETs and DELETEs).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A body over [`MAX_BODY_BYTES`] answered as every refusal is: an `OperationOutcome`
/// (`too-long`), with 413.
async fn too_large(resp: Response) -> Response {
    if resp.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return resp;
    }
    let outcome = crate::error::outcome(
        fhir::r4::codes::IssueType::TooLong,
        format!("the request body is over {MAX_BODY_BYTES} bytes"),
    );
    fhir_json(
        StatusCode::PAYLOAD_TOO_LARGE,
        &fhir::r4::resources::Resource::OperationOutcome(Box::new(outcome)),
    )
}

/// A FHIR JSON response.
pub fn fhir_json(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON))],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The server's base URL as the caller reached it (for `fullUrl` and page links).
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}{BASE_PATH}")
}

pub async fn actor(engine: &Engine, headers: &HeaderMap) -> Result<Actor, FhirError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(FhirError::Unauthenticated)?;
    Ok(engine.authenticate(token).await?)
}

fn kind(name: &str) -> Result<Kind, FhirError> {
    Kind::parse(name).ok_or_else(|| FhirError::UnknownType(name.to_owned()))
}

pub(crate) fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, FhirError> {
    let raw = raw.unwrap_or("");
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
        .map_err(|_| FhirError::BadRequest("the query string is not well formed".into()))
}

async fn metadata(State(engine): State<Engine>) -> Response {
    let cs = capability::statement(engine.clock().now());
    fhir_json(StatusCode::OK, &Resource::CapabilityStatement(Box::new(cs)))
}

/// A client's resources of the `kinds` asked for, as `actor` may see them.
pub async fn client_resources(
    engine: &Engine,
    actor: &Actor,
    record: &CareRecord,
    kinds: &[Kind],
) -> Result<Vec<Mapped>, FhirError> {
    let orgs = engine.org_names(&map::orgs_of(record)).await?;
    Ok(map::client_resources(
        &Source {
            record,
            actor,
            orgs: &orgs,
            pathway: engine.pathway(),
            now: engine.clock().now(),
        },
        kinds,
    ))
}

pub(crate) async fn organizations(
    engine: &Engine,
    actor: &Actor,
) -> Result<Vec<Mapped>, FhirError> {
    let now = engine.clock().now();
    let pathway = engine.pathway();
    Ok(engine
        .directory(actor)
        .await?
        .into_iter()
        .map(|o| {
            let levels: Vec<(String, String)> = o
                .levels
                .iter()
                .map(|(l, _)| {
                    let name = pathway
                        .level(l)
                        .map_or_else(|| l.to_string(), |x| x.name.clone());
                    (l.to_string(), name)
                })
                .collect();
            map::organization(o.id, &o.name, &levels, now)
        })
        .collect())
}

async fn read(
    State(engine): State<Engine>,
    Path((kind_name, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, FhirError> {
    let kind = kind(&kind_name)?;
    let actor = actor(&engine, &headers).await?;
    let not_found = || FhirError::NotFound(format!("{kind_name}/{id}"));
    let uuid: uuid::Uuid = id.parse().map_err(|_| not_found())?;
    let found = match kind {
        Kind::Organization => organizations(&engine, &actor)
            .await?
            .into_iter()
            .find(|m| m.id == id),
        _ => {
            let client = owner(&engine, kind, uuid).await?.ok_or_else(not_found)?;
            let record = engine.care_record(&actor, client).await?;
            client_resources(&engine, &actor, &record, &[kind])
                .await?
                .into_iter()
                .find(|m| m.id == id)
        }
    };
    let m = found.ok_or_else(not_found)?;
    Ok(fhir_json(StatusCode::OK, &m.resource))
}

async fn search(
    State(engine): State<Engine>,
    Path(kind_name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, FhirError> {
    let kind = kind(&kind_name)?;
    let query = query_pairs(raw.as_deref())?;
    let search = Search::parse(kind, &query)?;
    let actor = actor(&engine, &headers).await?;
    let base = base_url(&headers);
    let (page, next) = matches(&engine, &actor, kind, &search).await?;
    let keep = Search::query_without_cursor(&query);
    let link = |cursor: Option<String>| {
        let mut q = keep.clone();
        q.extend(cursor.map(|c| ("_cursor".to_owned(), c)));
        let qs = serde_urlencoded::to_string(&q).unwrap_or_default();
        if qs.is_empty() {
            format!("{base}/{kind_name}")
        } else {
            format!("{base}/{kind_name}?{qs}")
        }
    };
    let mut links = vec![BundleLink {
        relation: types::String("self".into()),
        url: Uri(link(search.cursor.map(|(c, n)| format!("{}.{n}", c.0)))),
        ..Default::default()
    }];
    if let Some((c, n)) = next {
        links.push(BundleLink {
            relation: types::String("next".into()),
            url: Uri(link(Some(format!("{}.{n}", c.0)))),
            ..Default::default()
        });
    }
    let bundle = Bundle {
        r#type: Coded::Known(BundleType::Searchset),
        timestamp: Some(types::Instant(crate::map::common::instant_text(
            engine.clock().now(),
        ))),
        total: (search.patient.is_some() || kind == Kind::Organization)
            .then_some(UnsignedInt(page.len() as u32))
            .filter(|_| next.is_none() && search.cursor.is_none()),
        link: links,
        entry: page
            .into_iter()
            .map(|m| entry(&base, m))
            .collect::<Result<_, _>>()?,
        ..Default::default()
    };
    Ok(fhir_json(
        StatusCode::OK,
        &Resource::Bundle(Box::new(bundle)),
    ))
}

fn entry(base: &str, m: Mapped) -> Result<BundleEntry, FhirError> {
    Ok(BundleEntry {
        full_url: Some(Uri(format!("{base}/{}/{}", m.kind.as_str(), m.id))),
        resource: Some(serde_json::to_value(&m.resource).map_err(|_| FhirError::Internal)?),
        search: Some(BundleEntrySearch {
            mode: Some(Coded::Known(SearchEntryMode::Match)),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// A page of the resources of `kind` matching `search`, and where the next page starts.
async fn matches(
    engine: &Engine,
    actor: &Actor,
    kind: Kind,
    search: &Search,
) -> Result<(Vec<Mapped>, Option<(ClientId, usize)>), FhirError> {
    let want = search.count;
    if kind == Kind::Organization {
        let all: Vec<Mapped> = organizations(engine, actor)
            .await?
            .into_iter()
            .filter(|m| search.matches(m))
            .collect();
        return Ok(page_of_one(all, search, ClientId(uuid::Uuid::nil())));
    }
    let of_client = async |record: &CareRecord| -> Result<Vec<Mapped>, FhirError> {
        Ok(client_resources(engine, actor, record, &[kind])
            .await?
            .into_iter()
            .filter(|m| search.matches(m))
            .collect())
    };
    if let Some(client) = search.patient {
        let record = engine.care_record(actor, client).await?;
        let all = of_client(&record).await?;
        return Ok(page_of_one(all, search, client));
    }
    if let Some(ids) = &search.ids {
        // Only the clients the ids belong to are read (and, for another organization,
        // accounted); an id the reader has no standing for is left out, as one that does not
        // exist.
        let mut clients: Vec<ClientId> = Vec::new();
        for id in ids {
            let Ok(uuid) = id.parse::<uuid::Uuid>() else {
                continue;
            };
            clients.extend(owner(engine, kind, uuid).await?);
        }
        clients.sort();
        clients.dedup();
        let mut all = Vec::new();
        for client in clients {
            match engine.care_record(actor, client).await {
                Ok(record) => all.extend(of_client(&record).await?),
                Err(carepath_engine::Error::NotFound(_))
                | Err(carepath_engine::Error::Forbidden(_))
                | Err(carepath_engine::Error::Rejected(
                    carepath_engine::domain::DecisionError::NotFound { .. }
                    | carepath_engine::domain::DecisionError::Forbidden(_),
                )) => {}
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(page_of_one(all, search, ClientId(uuid::Uuid::nil())));
    }
    // Across the clients the reader may list, in client id order.
    let mut out: Vec<Mapped> = Vec::new();
    let mut first = search.cursor;
    let mut after: Option<ClientId> = None;
    if let Some((client, _)) = first {
        let record = engine.care_record(actor, client).await;
        after = Some(client);
        if let Ok(record) = record {
            let skip = first.take().map_or(0, |(_, n)| n);
            let found = of_client(&record).await?;
            if let Some(next) = take(&mut out, found, skip, want, client) {
                return Ok((out, Some(next)));
            }
        }
    }
    loop {
        let batch = engine.care_records(actor, after, CLIENT_BATCH).await?;
        let Some(last) = batch.last().map(|r| r.client.id) else {
            return Ok((out, None));
        };
        for record in &batch {
            let found = of_client(record).await?;
            if let Some(next) = take(&mut out, found, 0, want, record.client.id) {
                return Ok((out, Some(next)));
            }
        }
        after = Some(last);
    }
}

/// The client a resource of `kind` named `id` belongs to: the client itself for a `Patient`,
/// else the client whose event created the record (`Engine::record_owner`).
async fn owner(engine: &Engine, kind: Kind, id: uuid::Uuid) -> Result<Option<ClientId>, FhirError> {
    Ok(match kind {
        Kind::Patient => Some(ClientId(id)),
        _ => engine.record_owner(id).await?,
    })
}

/// Moves `found` (after skipping `skip`) into `out` up to `want`; where the next page starts
/// when `out` filled before `found` ran out.
fn take(
    out: &mut Vec<Mapped>,
    found: Vec<Mapped>,
    skip: usize,
    want: usize,
    client: ClientId,
) -> Option<(ClientId, usize)> {
    for (i, m) in found.into_iter().enumerate().skip(skip) {
        if out.len() == want {
            return Some((client, i));
        }
        out.push(m);
    }
    None
}

fn page_of_one(
    all: Vec<Mapped>,
    search: &Search,
    client: ClientId,
) -> (Vec<Mapped>, Option<(ClientId, usize)>) {
    let mut out = Vec::new();
    let skip = search.cursor.map_or(0, |(_, n)| n);
    let next = take(&mut out, all, skip, search.count, client);
    (out, next)
}
