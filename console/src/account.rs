//! A person's own account (`/account`): who they are, when this session ends, their open
//! sessions (the one in use marked) with the way to sign out of every other, and how many
//! recovery codes they have left. Everyone signed in has one; the reads are the engine's
//! (`Engine::person`, `my_sessions`, `sign_out_elsewhere`).

use crate::action::Fields;
use crate::error::PageError;
use crate::page::{Chrome, html, role_words};
use crate::session::Signed;
use crate::words::moment;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use carepath_engine::{Engine, SessionInfo, token_hash};
use serde::Deserialize;

/// An open session in words.
pub struct SessionRow {
    pub started: String,
    pub last_seen: String,
    pub from: String,
    pub method: &'static str,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    done: Option<String>,
    name: String,
    email: String,
    role: &'static str,
    idle_ends: String,
    ends: String,
    sessions: Vec<SessionRow>,
    others: usize,
    /// Recovery codes left, when the person has an authenticator set up.
    recovery_codes_left: Option<usize>,
}

#[derive(Deserialize, Default)]
pub struct AccountQuery {
    ended: Option<u64>,
}

fn method_words(method: &str) -> &'static str {
    match method {
        "password+totp" => "Password and authenticator code",
        "password+recovery" => "Password and a recovery code",
        "password" => "Password",
        "sso" => "Your organization's single sign-on",
        _ => "Other",
    }
}

fn session_row(s: &SessionInfo, current: &str) -> SessionRow {
    SessionRow {
        started: moment(s.created_at),
        last_seen: moment(s.last_seen_at),
        from: s.address.clone().unwrap_or_else(|| "Unknown".into()),
        method: method_words(&s.method),
        current: s.id == current,
    }
}

/// `GET /account`.
pub async fn page(
    State(engine): State<Engine>,
    signed: Signed,
    Query(q): Query<AccountQuery>,
) -> Result<Response, PageError> {
    let actor = &signed.actor;
    let person = engine.person(actor).await?.ok_or(PageError::SignIn)?;
    // A session is listed under the first characters of its secret's hash.
    let current = token_hash(signed.secret());
    let current = current.get(..16).unwrap_or_default();
    let sessions: Vec<SessionRow> = engine
        .my_sessions(actor)
        .await?
        .iter()
        .map(|s| session_row(s, current))
        .collect();
    let chrome = Chrome::new(&engine, &signed, "/account", "Your account").await?;
    html(&AccountPage {
        chrome,
        done: q.ended.map(|n| match n {
            0 => "You had no other session open.".to_owned(),
            1 => "Your other session was signed out.".to_owned(),
            n => format!("Your {n} other sessions were signed out."),
        }),
        name: person.name,
        email: person.email,
        role: role_words(person.role),
        idle_ends: signed.idle_ends_at.format("%H:%M UTC").to_string(),
        ends: moment(signed.expires_at),
        others: sessions.iter().filter(|s| !s.current).count(),
        sessions,
        recovery_codes_left: person.totp.then_some(person.recovery_codes_left),
    })
}

/// `POST /account/sign-out-elsewhere`: every other session of the person's ends.
pub async fn sign_out_elsewhere(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let f = Fields::new(pairs);
    let outcome = async {
        signed.check_form(&headers, f.get("csrf").unwrap_or(""))?;
        Ok::<_, PageError>(
            engine
                .sign_out_elsewhere(&signed.actor, signed.secret())
                .await?,
        )
    }
    .await;
    match outcome {
        Ok(n) => Redirect::to(&format!("/account?ended={n}")).into_response(),
        Err(e) => crate::staff::refused(&engine, e, "/account").await,
    }
}
