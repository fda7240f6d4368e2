//! Single sign-on: an organization that has its own identity provider (OpenID Connect: Entra
//! ID, Okta, Keycloak, Google Workspace) signs its people in through it.
//!
//! - `GET /sign-in/sso/{org}` — the sign-in page's "Sign in with <Org>" link (a link, not a
//!   form: the console's CSP allows forms only to itself, and Chromium holds a form's
//!   redirects to that too) — sends the person to the organization's provider (discovered
//!   from its settings, [`oidc::begin`]), keeping `state`, `nonce` and the PKCE verifier in a
//!   short-lived HttpOnly, SameSite=Lax cookie on `/sign-in/sso` ([`FLOW_COOKIE`]).
//! - `GET /sign-in/sso/callback` checks `state` against that cookie, exchanges the code and
//!   verifies the ID token ([`oidc::finish`]), and hands its claims to `Engine::sign_in_sso`,
//!   which decides who it is and with which role; the session cookie is then set as the
//!   token sign-in sets it, and a page goes on to the role's first page (a page, not a
//!   redirect: a SameSite=Strict cookie set at the end of a redirect chain that began at
//!   another site is not sent on that chain's next hop).
//! - `GET /sign-out/sso`, where `POST /sign-out` sends a person who signed in this way
//!   ([`after_sign_out`]), goes on to the provider's `end_session_endpoint` when it has one
//!   (RP-initiated logout, with the ID token as hint), which sends them back to `/sign-in`.
//!
//! Every refusal is a page in words, status 401, that does not say whether an account exists;
//! the log names the kind of failure only, never a token, code, secret or claim value.

pub mod oidc;

use crate::error::PageError;
use crate::page::Problem;
use crate::session::{ClientAddress, landing, session_cookie};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use carepath_engine::domain::SsoSettings;
use carepath_engine::ids::OrgId;
use carepath_engine::{Engine, Error};
use oidc::{Flow, SsoError};
use serde::Deserialize;

pub use oidc::{SsoError as Failure, verify_id_token};

/// The cookie holding a sign-in under way (organization, state, nonce, PKCE verifier).
pub const FLOW_COOKIE: &str = "carepath_sso_flow";
/// Where the flow cookie is sent: the sign-in routes only.
const FLOW_PATH: &str = "/sign-in/sso";
/// How long a person may take at their provider.
const FLOW_MINUTES: i64 = 10;
/// The cookie saying a session was opened through an organization's provider (its id and the
/// ID token, the hint for signing out there), sent only to `/sign-out`.
pub const SIGNED_IN_COOKIE: &str = "carepath_sso";
const SIGNED_IN_PATH: &str = "/sign-out";
/// An ID token longer than this is not kept as a hint (a cookie holds about 4 KB).
const MAX_HINT_BYTES: usize = 3000;

/// The single sign-on routes, merged into the console's router.
pub fn routes() -> Router<Engine> {
    Router::new()
        .route("/sign-in/sso/callback", get(callback))
        .route("/sign-in/sso/{org}", get(begin))
        .route("/sign-out/sso", get(sign_out_at_provider))
}

/// Where `POST /sign-out` sends the browser once the session has ended: on to the
/// provider's sign-out when the session was opened through it, else the sign-in page.
pub fn after_sign_out(jar: &CookieJar) -> &'static str {
    if jar.get(SIGNED_IN_COOKIE).is_some() {
        "/sign-out/sso"
    } else {
        "/sign-in"
    }
}

/// A page that goes on by itself to `next` (and says where, for a browser that does not).
/// The removal of the cookie saying a session was opened through a provider, to *add* to a
/// jar (that cookie is sent only to `/sign-out`, so a jar elsewhere does not hold it to
/// remove): for a sign-in of another kind (a password), so that its sign-out does not go on
/// to a provider.
pub fn signed_in_gone() -> Cookie<'static> {
    let mut gone = Cookie::build((SIGNED_IN_COOKIE, ""))
        .path(SIGNED_IN_PATH)
        .build();
    gone.make_removal();
    gone
}

#[derive(Template)]
#[template(path = "sso_continue.html")]
struct ContinuePage<'a> {
    title: &'static str,
    message: &'static str,
    next: &'a str,
    next_label: &'static str,
}

/// The console's address as the browser sees it: `Host`, and `X-Forwarded-Proto` from the
/// proxy in front (plain HTTP otherwise).
fn public_base(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if !ok {
        return None;
    }
    let scheme = if is_https(headers) { "https" } else { "http" };
    Some(format!("{scheme}://{host}"))
}

fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

fn callback_url(base: &str) -> String {
    format!("{base}/sign-in/sso/callback")
}

/// A flow as its cookie holds it: organization, state, nonce and verifier, dot-separated
/// (each is base64url or a UUID, none has a dot).
fn flow_cookie(org: OrgId, flow: &Flow, secure: bool) -> Cookie<'static> {
    let value = format!("{org}.{}.{}.{}", flow.state, flow.nonce, flow.verifier);
    Cookie::build((FLOW_COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path(FLOW_PATH)
        .max_age(cookie::time::Duration::minutes(FLOW_MINUTES))
        .build()
}

fn read_flow(jar: &CookieJar) -> Option<(OrgId, Flow)> {
    let value = jar.get(FLOW_COOKIE)?.value().to_owned();
    let mut parts = value.split('.');
    let org = parts.next()?.parse().ok()?;
    let flow = Flow {
        state: parts.next()?.to_owned(),
        nonce: parts.next()?.to_owned(),
        verifier: parts.next()?.to_owned(),
    };
    (parts.next().is_none()).then_some((org, flow))
}

fn flow_gone() -> Cookie<'static> {
    Cookie::build((FLOW_COOKIE, "")).path(FLOW_PATH).build()
}

/// The settings of the organization named in a path, or the page saying it has none.
async fn settings_of(engine: &Engine, org: &str) -> Result<(OrgId, SsoSettings), Response> {
    let not_here = || {
        Problem::with_back(
            StatusCode::NOT_FOUND,
            "No single sign-on",
            "That organization does not sign in through an identity provider here.".into(),
            "/sign-in".into(),
            "Back to sign-in",
        )
    };
    let Ok(org) = org.parse::<OrgId>() else {
        return Err(not_here());
    };
    match engine.sso_settings(org).await {
        Ok(Some(s)) => Ok((org, s)),
        Ok(None) => Err(not_here()),
        Err(e) => Err(PageError::from(e).into_response()),
    }
}

/// `GET /sign-in/sso/{org}`: off to the organization's provider.
async fn begin(
    State(engine): State<Engine>,
    Path(org): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let (org, settings) = match settings_of(&engine, &org).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Some(base) = public_base(&headers) else {
        return Problem::with_back(
            StatusCode::BAD_REQUEST,
            "Sign-in not started",
            "The request did not say which address it was sent to (its Host header).".into(),
            "/sign-in".into(),
            "Back to sign-in",
        );
    };
    match oidc::begin(&settings, &callback_url(&base)).await {
        Ok((url, flow)) => {
            let cookie = flow_cookie(org, &flow, is_https(&headers));
            (jar.add(cookie), Redirect::to(&url)).into_response()
        }
        Err(e) => {
            tracing::warn!(org = %org, kind = e.kind(), "single sign-on not started");
            Problem::with_back(
                StatusCode::BAD_GATEWAY,
                "Identity provider unavailable",
                "Your organization's identity provider could not be reached. Try again in a \
                 few minutes, or sign in with a token."
                    .into(),
                "/sign-in".into(),
                "Back to sign-in",
            )
        }
    }
}

/// What the provider sends back to the callback.
#[derive(Deserialize)]
struct Answer {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

/// Why a callback signed nobody in, in the words the person reads (none says whether an
/// account exists).
enum Refusal {
    /// The protocol failed: the flow, the state, the exchange or the ID token.
    Protocol(SsoError),
    /// The provider said no (the person cancelled, or it refused them).
    Provider,
    /// The engine refused the person the token names.
    Engine,
}

impl Refusal {
    fn page(self, jar: CookieJar) -> Response {
        let message = match self {
            Refusal::Protocol(e) => {
                tracing::warn!(kind = e.kind(), "single sign-on refused");
                "The sign-in through your organization's identity provider did not go through, \
                 so nobody was signed in. Start again from the sign-in page."
            }
            Refusal::Provider => {
                tracing::warn!(kind = "provider_error", "single sign-on refused");
                "Your organization's identity provider did not sign you in, so nobody was \
                 signed in here. Start again from the sign-in page."
            }
            Refusal::Engine => {
                tracing::warn!(kind = "not_admitted", "single sign-on refused");
                "Your organization's identity provider signed you in, but that does not open \
                 Carepath for you. Ask your organization's Carepath administrator."
            }
        };
        let page = Problem::with_back(
            StatusCode::UNAUTHORIZED,
            "Sign-in refused",
            message.into(),
            "/sign-in".into(),
            "Back to sign-in",
        );
        (jar.remove(flow_gone()), page).into_response()
    }
}

/// `GET /sign-in/sso/callback`: the person back from their provider.
async fn callback(
    State(engine): State<Engine>,
    ClientAddress(from): ClientAddress,
    Query(answer): Query<Answer>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let Some((org, flow)) = read_flow(&jar) else {
        return Refusal::Protocol(SsoError::NoFlow).page(jar);
    };
    let state_ok = answer
        .state
        .as_deref()
        .is_some_and(|s| oidc::same_secret(s, &flow.state));
    if !state_ok {
        return Refusal::Protocol(SsoError::StateMismatch).page(jar);
    }
    if answer.error.is_some() {
        return Refusal::Provider.page(jar);
    }
    let Some(code) = answer.code.as_deref() else {
        return Refusal::Protocol(SsoError::NoCode).page(jar);
    };
    let settings = match engine.sso_settings(org).await {
        Ok(Some(s)) => s,
        Ok(None) => return Refusal::Protocol(SsoError::Settings).page(jar),
        Err(e) => return PageError::from(e).into_response(),
    };
    let Some(base) = public_base(&headers) else {
        return Refusal::Protocol(SsoError::Settings).page(jar);
    };
    let finished = oidc::finish(
        &settings,
        &callback_url(&base),
        &flow,
        code,
        answer.iss.as_deref(),
    )
    .await;
    let finished = match finished {
        Ok(f) => f,
        Err(e) => return Refusal::Protocol(e).page(jar),
    };
    let (session, actor) = match engine.sign_in_sso(org, finished.claims, from).await {
        Ok(opened) => opened,
        Err(Error::Unauthenticated) => return Refusal::Engine.page(jar),
        Err(e) => return PageError::from(e).into_response(),
    };
    tracing::info!(org = %actor.org, role = actor.role.as_str(), "console sign-in through the organization's identity provider");
    let secure = is_https(&headers);
    let hint = if finished.id_token.len() <= MAX_HINT_BYTES {
        format!("{org}.{}", finished.id_token)
    } else {
        org.to_string()
    };
    let signed_in = Cookie::build((SIGNED_IN_COOKIE, hint))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path(SIGNED_IN_PATH)
        .max_age(cookie::time::Duration::seconds(
            (session.expires_at - chrono::Utc::now())
                .num_seconds()
                .max(0),
        ))
        .build();
    // The notice the person was opening, else their first page.
    let (jar, first) = landing(jar, &actor);
    // The session's cookie as the password sign-in sets it.
    let jar = jar
        .remove(flow_gone())
        .add(session_cookie(&session, &headers))
        .add(signed_in);
    let page = ContinuePage {
        title: "Signed in",
        message: "You are signed in through your organization's identity provider.",
        next: &first,
        next_label: "Continue",
    };
    match page.render() {
        Ok(body) => (jar, Html(body)).into_response(),
        Err(e) => (jar, PageError::from(e)).into_response(),
    }
}

/// `GET /sign-out/sso`: after `POST /sign-out` ended the session, on to the provider's own
/// sign-out (which comes back to `/sign-in`), when it has one.
async fn sign_out_at_provider(
    State(engine): State<Engine>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let kept = jar.get(SIGNED_IN_COOKIE).map(|c| c.value().to_owned());
    let jar = jar.add(signed_in_gone());
    let to_sign_in = |jar: CookieJar| (jar, Redirect::to("/sign-in")).into_response();
    let Some(kept) = kept else {
        return to_sign_in(jar);
    };
    let (org, id_token) = match kept.split_once('.') {
        Some((org, token)) => (org, Some(token)),
        None => (kept.as_str(), None),
    };
    let (Ok(org), Some(base)) = (org.parse::<OrgId>(), public_base(&headers)) else {
        return to_sign_in(jar);
    };
    let settings = match engine.sso_settings(org).await {
        Ok(Some(s)) => s,
        _ => return to_sign_in(jar),
    };
    let back = format!("{base}/sign-in");
    match oidc::end_session_url(&settings, id_token, &back).await {
        Ok(Some(url)) => {
            let page = ContinuePage {
                title: "Signed out",
                message: "You are signed out of Carepath. Signing you out of your \
                          organization's identity provider too…",
                next: &url,
                next_label: "Sign out of the identity provider",
            };
            match page.render() {
                Ok(body) => (jar, Html(body)).into_response(),
                Err(e) => (jar, PageError::from(e)).into_response(),
            }
        }
        Ok(None) => to_sign_in(jar),
        Err(e) => {
            tracing::warn!(org = %org, kind = e.kind(), "single sign-out at the provider skipped");
            to_sign_in(jar)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_base_is_the_hosts_with_the_proxys_scheme() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "console.example.org".parse().unwrap());
        assert_eq!(
            public_base(&h).as_deref(),
            Some("http://console.example.org")
        );
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(
            public_base(&h).as_deref(),
            Some("https://console.example.org")
        );
        h.insert(header::HOST, "evil.example/x?".parse().unwrap());
        assert_eq!(public_base(&h), None);
    }

    #[test]
    fn sign_out_goes_on_to_the_provider_only_after_a_single_sign_on() {
        assert_eq!(after_sign_out(&CookieJar::new()), "/sign-in");
        let jar = CookieJar::new().add(Cookie::new(SIGNED_IN_COOKIE, "org.token"));
        assert_eq!(after_sign_out(&jar), "/sign-out/sso");
        let gone = signed_in_gone();
        assert_eq!(
            (gone.name(), gone.value(), gone.path()),
            (SIGNED_IN_COOKIE, "", Some("/sign-out"))
        );
        assert_eq!(gone.max_age(), Some(cookie::time::Duration::ZERO));
    }

    #[test]
    fn a_flow_cookie_reads_back() {
        let org = OrgId::new();
        let flow = Flow {
            state: "s-_1".into(),
            nonce: "n".into(),
            verifier: "v".into(),
        };
        let jar = CookieJar::new().add(flow_cookie(org, &flow, false));
        assert_eq!(read_flow(&jar), Some((org, flow)));
        let tampered = CookieJar::new().add(Cookie::new(FLOW_COOKIE, "x.y.z"));
        assert_eq!(read_flow(&tampered), None);
    }
}
