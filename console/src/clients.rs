//! The clients a person may see (`Engine::list_clients`: a case manager their organization's,
//! a partner those placed with it under a consent), found by name or record number and
//! filtered by level and provider; and registering a new one.

use crate::action::{self, Fields};
use crate::error::PageError;
use crate::page::Choice;
use crate::page::{Chrome, html};
use crate::session::Signed;
use crate::words::{self, Names};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use carepath_engine::Engine;
use carepath_engine::domain::{ClientIdentity, Command, Role};
use carepath_engine::ids::{ClientId, OrgId};
use carepath_engine::pathway::LevelId;
use serde::Deserialize;

/// How many clients a page lists.
const PAGE: u64 = 50;

pub struct Listed {
    pub href: String,
    pub name: String,
    pub record_number: String,
    pub status: &'static str,
    pub whereabouts: String,
}

#[derive(Template)]
#[template(path = "clients.html")]
struct ClientsPage {
    chrome: Chrome,
    done: Option<&'static str>,
    q: String,
    level: String,
    provider: String,
    levels: Vec<Choice>,
    providers: Vec<Choice>,
    clients: Vec<Listed>,
    next: Option<String>,
    registers: bool,
    /// The reader finds clients by name or record number, and lists none.
    finds_only: bool,
    /// Only the person's caseload is listed; the order asked; whether the person has one.
    mine: bool,
    sort: String,
    caseload: bool,
    idem: String,
    /// A registration held back: clients already registered under the name typed, and what
    /// was typed (name, record number, year of birth), kept.
    same_name: Vec<Listed>,
    typed: (String, String, String),
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    level: Option<String>,
    provider: Option<String>,
    after: Option<String>,
    done: Option<String>,
    /// `1`: only the person's own caseload.
    mine: Option<String>,
    /// `name`, `record` or `status`: the order of the rows (within the page).
    sort: Option<String>,
}

fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `GET /clients`.
pub async fn page(
    State(engine): State<Engine>,
    signed: Signed,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    html(&draw(&engine, &signed, &q, Vec::new(), Default::default()).await?)
}

/// The clients `actor` may see, as the list shows them.
fn listed(names: &Names<'_>, clients: &[carepath_engine::domain::VisibleClient]) -> Vec<Listed> {
    clients
        .iter()
        .map(|s| {
            let identity: Option<&ClientIdentity> = s.identity.shown().and_then(Option::as_ref);
            Listed {
                href: format!("/clients/{}", s.id),
                name: identity.map_or_else(
                    || format!("Client {}", &s.id.to_string()[..8]),
                    |i| i.display_name.clone(),
                ),
                record_number: identity
                    .and_then(|i| i.record_number.clone())
                    .unwrap_or_default(),
                status: words::status(s.status),
                whereabouts: s.whereabouts().map_or_else(String::new, |(l, p)| {
                    format!("{} at {}", names.level(l), names.org(&p))
                }),
            }
        })
        .collect()
}

async fn draw(
    engine: &Engine,
    signed: &Signed,
    q: &ListQuery,
    same_name: Vec<Listed>,
    typed: (String, String, String),
) -> Result<ClientsPage, PageError> {
    let actor = &signed.actor;
    let level = blank(&q.level).map(LevelId::new);
    let provider = match blank(&q.provider) {
        Some(p) => Some(
            uuid::Uuid::parse_str(p)
                .map(OrgId)
                .map_err(|_| action::bad("choose a provider from the list".into()))?,
        ),
        None => None,
    };
    let after = blank(&q.after)
        .and_then(|a| uuid::Uuid::parse_str(a).ok())
        .map(ClientId);
    let search = blank(&q.q).map(str::to_owned);
    let searched = search.is_some();
    // A reader who may only find clients (an aftercare coordinator) is asked for a name or a
    // record number rather than shown a list: the engine says who may list.
    let mine = blank(&q.mine).is_some();
    let found = if mine {
        engine.list_caseload(actor, after, PAGE).await
    } else {
        engine
            .list_clients(actor, level, provider, search, after, PAGE)
            .await
    };
    let (listed_now, finds_only) = match found {
        Ok(listed) => (listed, false),
        Err(carepath_engine::Error::Forbidden(_)) if !searched => (Vec::new(), true),
        Err(e) => return Err(e.into()),
    };
    let directory = engine.directory(actor).await?;
    let names = Names::from(engine, &directory);
    let mut clients = listed(&names, &listed_now);
    let sort = blank(&q.sort).unwrap_or("").to_owned();
    match sort.as_str() {
        "name" => clients.sort_by_key(|c| c.name.to_lowercase()),
        "record" => clients.sort_by(|a, b| a.record_number.cmp(&b.record_number)),
        "status" => clients.sort_by_key(|c| c.status),
        _ => {}
    }
    let next = (clients.len() as u64 == PAGE)
        .then(|| listed_now.last().map(|s| s.id.to_string()))
        .flatten();
    let chrome = Chrome::new(engine, signed, "/clients", "Clients").await?;
    Ok(ClientsPage {
        done: action::done_words(q.done.as_deref()),
        q: blank(&q.q).unwrap_or_default().to_owned(),
        level: blank(&q.level).unwrap_or_default().to_owned(),
        provider: blank(&q.provider).unwrap_or_default().to_owned(),
        levels: Choice::levels(engine),
        providers: directory
            .iter()
            .filter(|o| !o.levels.is_empty())
            .map(Choice::org)
            .collect(),
        clients,
        next,
        registers: matches!(actor.role, Role::CaseManager | Role::Supervisor),
        finds_only,
        mine,
        sort,
        caseload: matches!(actor.role, Role::CaseManager | Role::Supervisor),
        idem: action::new_key(),
        chrome,
        same_name,
        typed,
    })
}

/// `POST /clients`: register a client of the person's organization, then go to their page.
pub async fn register(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    axum::Form(fields): axum::Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields::new(fields);
    let home_org = signed.actor.org;
    // A name already registered is said first, with the clients' record numbers: a second
    // registration of the same person splits their record. Registered only when asked again.
    if fields.get("anyway").is_none()
        && let Some(name) = fields.get("display_name")
        && signed
            .check_form(&headers, fields.get("csrf").unwrap_or(""))
            .is_ok()
    {
        match same_name(&engine, &signed, name).await {
            Ok(found) if !found.is_empty() => {
                let typed = (
                    name.to_owned(),
                    fields.get("record_number").unwrap_or_default().to_owned(),
                    fields.get("birth_year").unwrap_or_default().to_owned(),
                );
                return match draw(&engine, &signed, &ListQuery::default(), found, typed).await {
                    Ok(page) => match page.render() {
                        Ok(body) => (axum::http::StatusCode::CONFLICT, axum::response::Html(body))
                            .into_response(),
                        Err(e) => PageError::from(e).into_response(),
                    },
                    Err(e) => e.into_response(),
                };
            }
            Ok(_) => {}
            Err(e) => return e.into_response(),
        }
    }
    action::run_to(
        &engine,
        &signed,
        &headers,
        &fields,
        None,
        |o| format!("/clients/{}", o.client),
        "client-registered",
        |f| {
            let birth_year = match f.get("birth_year") {
                Some(y) => Some(
                    y.parse::<i32>()
                        .map_err(|_| action::bad("the year of birth is a year".into()))?,
                ),
                None => None,
            };
            Ok(Command::RegisterClient {
                home_org,
                birth_year,
                identity: Some(ClientIdentity {
                    display_name: f.required("display_name", "the name")?.to_owned(),
                    record_number: f.get("record_number").map(str::to_owned),
                }),
            })
        },
    )
    .await
}

/// The clients the person may see already registered under `name` (letter case and spaces
/// aside).
async fn same_name(engine: &Engine, signed: &Signed, name: &str) -> Result<Vec<Listed>, PageError> {
    let key = |n: &str| {
        n.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let found = engine
        .list_clients(&signed.actor, None, None, Some(name.to_owned()), None, PAGE)
        .await?;
    let found: Vec<_> = found
        .into_iter()
        .filter(|c| c.display_name().is_some_and(|n| key(n) == key(name)))
        .collect();
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let directory = engine.directory(&signed.actor).await?;
    Ok(listed(&Names::from(engine, &directory), &found))
}
