//! Signing in and out, and who a request comes from. A person gives their API token once; the
//! engine opens a session and the browser keeps its secret in an HttpOnly, SameSite=Strict
//! cookie (never readable by the page's script, never sent by another site). Every form
//! carries a CSRF token derived from that secret, and a POST from another origin is refused.

use crate::error::PageError;
use crate::page::{self, html, skipped_clock};
use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use carepath_engine::domain::Actor;
use carepath_engine::{Engine, Error};
use serde::Deserialize;

/// The cookie holding the session secret.
pub const SESSION_COOKIE: &str = "carepath_session";

/// A signed-in request: who, and the CSRF token its forms carry.
pub struct Signed {
    pub actor: Actor,
    pub csrf: String,
    /// The session's secret, to ask again whether the session is still open ([`Self::still_open`]).
    secret: String,
}

/// The CSRF token of a session: derived from its secret (which the page's script cannot
/// read), so another site can neither read nor forge it.
fn csrf_of(secret: &str) -> String {
    carepath_engine::token_hash(&format!("csrf:{secret}"))
}

impl FromRequestParts<Engine> for Signed {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, engine: &Engine) -> Result<Self, PageError> {
        let jar = CookieJar::from_headers(&parts.headers);
        let secret = jar
            .get(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .ok_or(PageError::SignIn)?;
        let actor = match engine.session(&secret).await {
            Ok(a) => a,
            Err(Error::Unauthenticated) => return Err(PageError::SignIn),
            Err(e) => return Err(e.into()),
        };
        Ok(Signed {
            actor,
            csrf: csrf_of(&secret),
            secret,
        })
    }
}

impl Signed {
    /// Whether the session is still open — not signed out, lapsed, or ended with its token
    /// — as the person it was opened for. A request that lasts (`/live`) asks again.
    pub async fn still_open(&self, engine: &Engine) -> bool {
        engine
            .session(&self.secret)
            .await
            .is_ok_and(|a| a == self.actor)
    }

    /// A form's CSRF token and origin checked: `ForeignForm` unless both are this console's.
    pub fn check_form(&self, headers: &HeaderMap, csrf: &str) -> Result<(), PageError> {
        same_origin(headers)?;
        if csrf.is_empty() || csrf != self.csrf {
            return Err(PageError::ForeignForm);
        }
        Ok(())
    }
}

/// A POST sent by a page of another origin is refused: the browser says where it came from
/// (`Sec-Fetch-Site`, `Origin`); a client that says nothing (curl) is judged by the CSRF token.
fn same_origin(headers: &HeaderMap) -> Result<(), PageError> {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = value("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return Err(PageError::ForeignForm);
    }
    if let (Some(origin), Some(host)) = (value("origin"), value("host")) {
        let bare = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .unwrap_or("");
        if bare != host {
            return Err(PageError::ForeignForm);
        }
    }
    Ok(())
}

/// `/`: the first page of the signed-in person's role, or sign-in.
pub async fn home(signed: Result<Signed, PageError>) -> Redirect {
    match signed {
        Ok(s) => Redirect::to(
            page::pages_for(s.actor.role)
                .first()
                .map_or("/sign-in", |(href, _)| href),
        ),
        Err(_) => Redirect::to("/sign-in"),
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    problem: Option<&'static str>,
    skipped_clock: Option<String>,
}

pub async fn sign_in_page(State(engine): State<Engine>) -> Result<Response, PageError> {
    html(&SignInPage {
        problem: None,
        skipped_clock: skipped_clock(&engine),
    })
}

#[derive(Deserialize)]
pub struct SignInForm {
    token: String,
}

pub async fn sign_in(
    State(engine): State<Engine>,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<SignInForm>,
) -> Result<Response, PageError> {
    same_origin(&headers)?;
    let refused = |problem| -> Result<Response, PageError> {
        let body = SignInPage {
            problem: Some(problem),
            skipped_clock: skipped_clock(&engine),
        }
        .render()?;
        Ok((StatusCode::UNAUTHORIZED, axum::response::Html(body)).into_response())
    };
    let token = form.token.trim();
    if token.is_empty() {
        return refused("Paste your token to sign in.");
    }
    match engine.sign_in(token).await {
        Ok((session, actor)) => {
            let secure = headers
                .get("x-forwarded-proto")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
            let cookie = Cookie::build((SESSION_COOKIE, session.secret))
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(secure)
                .path("/")
                .max_age(time_of(carepath_engine::SESSION_HOURS))
                .build();
            tracing::info!(org = %actor.org, role = actor.role.as_str(), "console sign-in");
            let first = page::pages_for(actor.role)
                .first()
                .map_or("/", |(href, _)| href);
            Ok((jar.add(cookie), Redirect::to(first)).into_response())
        }
        Err(Error::Unauthenticated) => {
            refused("That token is not valid: it is unknown, revoked or expired.")
        }
        Err(e) => Err(e.into()),
    }
}

fn time_of(hours: i64) -> cookie::time::Duration {
    cookie::time::Duration::hours(hours)
}

#[derive(Deserialize)]
pub struct SignOutForm {
    csrf: String,
}

/// Sign out: the session ends on the server, the cookie is cleared.
pub async fn sign_out(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<SignOutForm>,
) -> Result<Response, PageError> {
    signed.check_form(&headers, &form.csrf)?;
    if let Some(c) = jar.get(SESSION_COOKIE) {
        engine.sign_out(c.value()).await?;
    }
    let gone = Cookie::build((SESSION_COOKIE, "")).path("/").build();
    Ok((
        jar.remove(gone),
        [(header::CACHE_CONTROL, "no-store")],
        Redirect::to("/sign-in"),
    )
        .into_response())
}
