//! The census board: for each level of care, each provider's capacity, clients in care,
//! clients on their way, slots held, open slots, referrals waiting for an answer and the
//! waitlist — organizations' figures, no client in them (`Engine::census`). It redraws itself
//! when anything is committed (`/live`).

use crate::error::PageError;
use crate::page::{Chrome, html};
use crate::session::Signed;
use crate::words::level_name;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum::response::sse::{Event, KeepAlive, Sse};
use carepath_engine::Engine;
use carepath_engine::domain::Role;
use futures::Stream;
use std::convert::Infallible;
use std::time::Duration;

/// One provider's row at a level.
pub struct ProviderRow {
    pub provider: String,
    /// The clients list behind the "in care" figure (those of them the reader may see), for a
    /// reader who lists clients by provider.
    pub clients: Option<String>,
    pub capacity: i32,
    pub occupied: i32,
    pub in_transit: i64,
    pub held: i32,
    pub open: i32,
    pub pending: i64,
    pub waitlisted: i64,
}

/// One level with its providers.
pub struct LevelBlock {
    pub level: String,
    pub providers: Vec<ProviderRow>,
    pub open: i32,
    pub capacity: i32,
}

#[derive(Template)]
#[template(path = "census.html")]
struct CensusPage {
    chrome: Chrome,
    board: Board,
}

#[derive(Template)]
#[template(path = "census_board.html")]
struct Board {
    levels: Vec<LevelBlock>,
}

async fn board_of(engine: &Engine, signed: &Signed) -> Result<Board, PageError> {
    let rows = engine.census(&signed.actor).await?;
    let pathway = engine.pathway();
    // Case managers, supervisors and admins list clients by provider and level.
    let lists = matches!(
        signed.actor.role,
        Role::CaseManager | Role::Supervisor | Role::Admin
    );
    let mut levels: Vec<LevelBlock> = Vec::new();
    // In the pathway's order of levels; providers by name.
    for level in &pathway.levels {
        let mut providers: Vec<ProviderRow> = rows
            .iter()
            .filter(|r| r.level == level.id)
            .map(|r| ProviderRow {
                provider: r.provider_name.clone(),
                clients: (lists && r.occupied > 0)
                    .then(|| format!("/clients?level={}&provider={}", r.level.0, r.provider)),
                capacity: r.capacity,
                occupied: r.occupied,
                in_transit: r.in_transit,
                held: r.held,
                open: r.open_slots(),
                pending: r.pending_referrals,
                waitlisted: r.waitlisted,
            })
            .collect();
        if providers.is_empty() {
            continue;
        }
        providers.sort_by(|a, b| a.provider.cmp(&b.provider));
        levels.push(LevelBlock {
            level: level_name(pathway, &level.id),
            open: providers.iter().map(|p| p.open).sum(),
            capacity: providers.iter().map(|p| p.capacity).sum(),
            providers,
        });
    }
    Ok(Board { levels })
}

/// `GET /census`.
pub async fn page(State(engine): State<Engine>, signed: Signed) -> Result<Response, PageError> {
    let board = board_of(&engine, &signed).await?;
    let chrome = Chrome::new(&engine, &signed, "/census", "Census").await?;
    html(&CensusPage { chrome, board })
}

/// `GET /census/board`: the board alone, for the page to redraw.
pub async fn board(State(engine): State<Engine>, signed: Signed) -> Result<Response, PageError> {
    html(&board_of(&engine, &signed).await?)
}

/// How often an open `/live` stream with nothing to say asks whether its session is still
/// open.
const SESSION_RECHECK: Duration = Duration::from_secs(5);

/// `GET /live`: a server-sent `changed` event (its data the word `changed`, nothing of what
/// changed) after commits, at most one a second, for the signed-in person's page to redraw
/// what it shows through its own reads. The stream lasts only as long as its session: before
/// each event, and every [`SESSION_RECHECK`] when quiet, it asks whether the session is still
/// open, and ends when it is not (signed out, lapsed, or its token revoked).
pub async fn live(
    State(engine): State<Engine>,
    signed: Signed,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = engine.changes();
    let stream = futures::stream::unfold(
        (engine, signed, changes),
        |(engine, signed, mut changes)| async move {
            loop {
                let changed = tokio::select! {
                    c = changes.changed() => {
                        c.ok()?;
                        true
                    }
                    () = tokio::time::sleep(SESSION_RECHECK) => false,
                };
                if changed {
                    // Let a burst of commits settle into one redraw.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    changes.borrow_and_update();
                }
                if !signed.still_open(&engine).await {
                    return None;
                }
                if changed {
                    break;
                }
            }
            // A browser drops an event without a data line (the EventSource rules), and axum
            // writes none for empty data: the data is a word, so the event reaches the page.
            Some((
                Ok(Event::default().event("changed").data("changed")),
                (engine, signed, changes),
            ))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}
