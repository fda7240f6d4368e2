//! Signing in and out, and who a request comes from. A person signs in as themselves — an
//! e-mail address and password, then a TOTP code (enrolling TOTP the first time), or their
//! organization's identity provider (`sso.rs`) — and the engine opens a session whose secret
//! the browser keeps in an HttpOnly, SameSite=Strict cookie (never readable by the page's
//! script, never sent by another site); a sign-in half done is a short-lived cookie of its own.
//! An invitation or reset link (`/welcome/<secret>`) chooses a password. Every form carries a
//! CSRF token derived from the session's secret, and a POST from another origin is refused.
//! API tokens never open the console: they are for systems.

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
use carepath_engine::{Engine, Error, PendingStep, Session, SignedIn};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};

/// The cookie holding the session secret.
pub const SESSION_COOKIE: &str = "carepath_session";
/// The cookie holding a sign-in half done (between the password and the second factor).
pub const PENDING_COOKIE: &str = "carepath_sign_in";

/// A signed-in request: who, and the CSRF token its forms carry.
#[derive(Clone)]
pub struct Signed {
    pub actor: Actor,
    pub csrf: String,
    /// The person's name.
    pub person: String,
    /// When the session ends if left idle from now, and at the latest.
    pub idle_ends_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
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
        // Found once for the request, by the zone's middleware.
        if let Some(signed) = parts.extensions.get::<Signed>() {
            return Ok(signed.clone());
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let secret = jar
            .get(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .ok_or(PageError::SignIn)?;
        let (actor, person, info) = match engine.session_person(&secret).await {
            Ok(found) => found,
            Err(Error::Unauthenticated) => return Err(PageError::SignIn),
            Err(e) => return Err(e.into()),
        };
        Ok(Signed {
            actor,
            csrf: csrf_of(&secret),
            person: person.name,
            idle_ends_at: info.idle_ends_at,
            expires_at: info.expires_at,
            secret,
        })
    }
}

/// Every console request runs in its reader's time zone (their organization's,
/// `Engine::org_time_zone`; UTC for a visitor not signed in): the pages show times in it and
/// forms read times in it (`words::zone`). The session it looks up is kept for the request's
/// [`Signed`], so it is read once.
pub async fn in_the_readers_zone(
    axum::extract::State(engine): axum::extract::State<Engine>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (mut parts, body) = req.into_parts();
    let mut zone = chrono_tz::Tz::UTC;
    // The stylesheet and the script show no time: no session read for them.
    if !parts.uri.path().starts_with("/console/assets/")
        && CookieJar::from_headers(&parts.headers)
            .get(SESSION_COOKIE)
            .is_some()
        && let Ok(signed) = Signed::from_request_parts(&mut parts, &engine).await
    {
        if let Ok(z) = engine.org_time_zone(signed.actor.org).await {
            zone = z;
        }
        parts.extensions.insert(signed);
    }
    let req = axum::extract::Request::from_parts(parts, body);
    crate::words::in_zone(zone, next.run(req)).await
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

    /// The session's secret (to end every other session of the person's).
    pub fn secret(&self) -> &str {
        &self.secret
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
pub(crate) fn same_origin(headers: &HeaderMap) -> Result<(), PageError> {
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
        Ok(s) => Redirect::to(first_page(&s.actor)),
        Err(_) => Redirect::to("/sign-in"),
    }
}

/// The address a request came from (the peer of its connection), for the sign-in audit and
/// the per-address limit.
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// Whether the browser reached the server over HTTPS (a TLS proxy in front says so): the
/// cookies are `Secure` then.
fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// The cookie of an open session.
pub fn session_cookie(session: &Session, headers: &HeaderMap) -> Cookie<'static> {
    let lifetime = (session.expires_at - Utc::now()).num_seconds().max(0);
    Cookie::build((SESSION_COOKIE, session.secret.clone()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(over_https(headers))
        .path("/")
        .max_age(cookie::time::Duration::seconds(lifetime))
        .build()
}

fn pending_cookie(secret: &str, headers: &HeaderMap) -> Cookie<'static> {
    Cookie::build((PENDING_COOKIE, secret.to_owned()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(over_https(headers))
        .path("/sign-in")
        .max_age(cookie::time::Duration::minutes(10))
        .build()
}

fn pending_gone() -> Cookie<'static> {
    Cookie::build((PENDING_COOKIE, "")).path("/sign-in").build()
}

/// The cookie holding where a person was going when sign-in stopped them (a notice's link
/// from an e-mail): a local path, kept 15 minutes.
const NEXT_COOKIE: &str = "carepath_next";

/// Remember `path` for after sign-in. `SameSite=Lax`, so it survives the identity provider's
/// redirects back; only a notice's path is ever followed ([`landing`]).
pub fn remember_next(path: &str, headers: &HeaderMap) -> Cookie<'static> {
    Cookie::build((NEXT_COOKIE, path.to_owned()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(over_https(headers))
        .path("/")
        .max_age(cookie::time::Duration::minutes(15))
        .build()
}

fn next_gone() -> Cookie<'static> {
    Cookie::build((NEXT_COOKIE, "")).path("/").build()
}

/// Where a sign-in lands: the notice the person was opening when it stopped them, else the
/// first page of their role; and the jar without the remembered path.
pub fn landing(jar: CookieJar, actor: &Actor) -> (CookieJar, String) {
    let remembered = jar
        .get(NEXT_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|p| {
            p.strip_prefix("/notifications/")
                .is_some_and(|id| id.parse::<uuid::Uuid>().is_ok())
        });
    let to = remembered.unwrap_or_else(|| first_page(actor).to_owned());
    (jar.remove(next_gone()), to)
}

/// The first page of a role, where a sign-in lands.
pub fn first_page(actor: &Actor) -> &'static str {
    page::pages_for(actor.role)
        .first()
        .map_or("/account", |(href, _)| href)
}

/// Where a sign-in step led: the session opened (with recovery codes to show once, after an
/// enrolment), or the next step.
fn answer(
    signed_in: SignedIn,
    engine: &Engine,
    headers: &HeaderMap,
    jar: CookieJar,
) -> Result<Response, PageError> {
    match signed_in {
        SignedIn::Open {
            session,
            actor,
            recovery_codes,
        } => {
            tracing::info!(org = %actor.org, role = actor.role.as_str(), "console sign-in");
            // A password's session: its sign-out does not go on to an identity provider.
            let jar = jar
                .add(session_cookie(&session, headers))
                .remove(pending_gone())
                .add(crate::sso::signed_in_gone());
            let (jar, next) = landing(jar, &actor);
            if recovery_codes.is_empty() {
                return Ok((jar, Redirect::to(&next)).into_response());
            }
            let page = RecoveryCodesPage {
                codes: recovery_codes,
                next,
                skipped_clock: skipped_clock(engine),
            };
            Ok((jar, html(&page)?).into_response())
        }
        SignedIn::Pending(p) => {
            let to = match p.step {
                PendingStep::Code => "/sign-in/code",
                PendingStep::Enrol => "/sign-in/enrol",
            };
            Ok((
                jar.add(pending_cookie(&p.secret, headers)),
                Redirect::to(to),
            )
                .into_response())
        }
    }
}

/// What every sign-in refusal says: nothing about which part failed or whether the account
/// exists.
const REFUSED: &str = "That did not sign you in. Check your e-mail address, password and code \
     and try again; after several failed tries the account locks for a while, and your \
     administrator can send you a link to choose a new password.";

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    problem: Option<&'static str>,
    email: String,
    sso: Vec<(String, String)>,
    skipped_clock: Option<String>,
}

async fn sign_in_form(
    engine: &Engine,
    status: StatusCode,
    problem: Option<&'static str>,
    email: String,
) -> Result<Response, PageError> {
    let sso = engine
        .sso_organizations()
        .await?
        .into_iter()
        .map(|(id, name)| (format!("/sign-in/sso/{id}"), name))
        .collect();
    let body = SignInPage {
        problem,
        email,
        sso,
        skipped_clock: skipped_clock(engine),
    }
    .render()?;
    Ok((status, axum::response::Html(body)).into_response())
}

/// The sign-in page — or, for someone signed in already (another tab kept the session
/// alive), their first page.
pub async fn sign_in_page(
    State(engine): State<Engine>,
    signed: Result<Signed, PageError>,
) -> Result<Response, PageError> {
    if let Ok(s) = signed {
        return Ok(Redirect::to(first_page(&s.actor)).into_response());
    }
    sign_in_form(&engine, StatusCode::OK, None, String::new()).await
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
}

/// The password step.
pub async fn sign_in(
    State(engine): State<Engine>,
    ClientAddress(from): ClientAddress,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<SignInForm>,
) -> Result<Response, PageError> {
    same_origin(&headers)?;
    match engine
        .sign_in_password(&form.email, &form.password, from)
        .await
    {
        Ok(step) => answer(step, &engine, &headers, jar),
        Err(Error::Unauthenticated) => {
            sign_in_form(&engine, StatusCode::UNAUTHORIZED, Some(REFUSED), form.email).await
        }
        Err(e) => Err(e.into()),
    }
}

fn pending_of(jar: &CookieJar) -> Option<String> {
    jar.get(PENDING_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// A second step with no sign-in half done (lapsed, or the cookie gone): back to the start.
fn start_again(jar: CookieJar) -> Response {
    (jar.remove(pending_gone()), Redirect::to("/sign-in")).into_response()
}

#[derive(Template)]
#[template(path = "sign_in_code.html")]
struct CodePage {
    problem: Option<&'static str>,
    skipped_clock: Option<String>,
}

pub async fn code_page(
    State(engine): State<Engine>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let Some(pending) = pending_of(&jar) else {
        return Ok(start_again(jar));
    };
    match engine.pending_step(&pending).await {
        Ok(PendingStep::Code) => html(&CodePage {
            problem: None,
            skipped_clock: skipped_clock(&engine),
        }),
        Ok(PendingStep::Enrol) => Ok(Redirect::to("/sign-in/enrol").into_response()),
        Err(Error::Unauthenticated) => Ok(start_again(jar)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

/// The second factor: a TOTP code or a recovery code.
pub async fn code(
    State(engine): State<Engine>,
    ClientAddress(from): ClientAddress,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<CodeForm>,
) -> Result<Response, PageError> {
    same_origin(&headers)?;
    let Some(pending) = pending_of(&jar) else {
        return Ok(start_again(jar));
    };
    match engine.second_factor(&pending, &form.code, from).await {
        Ok(step) => answer(step, &engine, &headers, jar),
        Err(Error::Unauthenticated) => {
            // Still half signed in (a mistyped code): try again; else from the start.
            if engine.pending_step(&pending).await.is_ok() {
                let body = CodePage {
                    problem: Some(REFUSED),
                    skipped_clock: skipped_clock(&engine),
                }
                .render()?;
                Ok((StatusCode::UNAUTHORIZED, axum::response::Html(body)).into_response())
            } else {
                sign_in_form(
                    &engine,
                    StatusCode::UNAUTHORIZED,
                    Some(REFUSED),
                    String::new(),
                )
                .await
                .map(|r| (jar.remove(pending_gone()), r).into_response())
            }
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "sign_in_enrol.html")]
struct EnrolPage {
    problem: Option<&'static str>,
    /// The QR code of the `otpauth://` URI, as SVG.
    qr: String,
    /// The secret, in groups of four, to type instead.
    secret: String,
    skipped_clock: Option<String>,
}

/// The `otpauth://` URI as an SVG QR code (attributes only: the CSP allows no inline style).
fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .build();
            match svg.find("<svg") {
                Some(at) => svg[at..].to_owned(),
                None => svg,
            }
        }
        Err(_) => String::new(),
    }
}

async fn enrol_form(
    engine: &Engine,
    pending: &str,
    status: StatusCode,
    problem: Option<&'static str>,
) -> Result<Response, PageError> {
    let e = engine.enrolment(pending).await?;
    let grouped: Vec<String> = e
        .secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let body = EnrolPage {
        problem,
        qr: qr_svg(&e.otpauth_uri),
        secret: grouped.join(" "),
        skipped_clock: skipped_clock(engine),
    }
    .render()?;
    Ok((status, axum::response::Html(body)).into_response())
}

pub async fn enrol_page(
    State(engine): State<Engine>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let Some(pending) = pending_of(&jar) else {
        return Ok(start_again(jar));
    };
    match engine.pending_step(&pending).await {
        Ok(PendingStep::Enrol) => enrol_form(&engine, &pending, StatusCode::OK, None).await,
        Ok(PendingStep::Code) => Ok(Redirect::to("/sign-in/code").into_response()),
        Err(Error::Unauthenticated) => Ok(start_again(jar)),
        Err(e) => Err(e.into()),
    }
}

/// Enrolment confirmed with a first code: the session opens and the recovery codes are shown.
pub async fn enrol(
    State(engine): State<Engine>,
    ClientAddress(from): ClientAddress,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<CodeForm>,
) -> Result<Response, PageError> {
    same_origin(&headers)?;
    let Some(pending) = pending_of(&jar) else {
        return Ok(start_again(jar));
    };
    match engine.confirm_enrolment(&pending, &form.code, from).await {
        Ok(step) => answer(step, &engine, &headers, jar),
        Err(Error::Unauthenticated) => {
            if engine.pending_step(&pending).await.is_ok() {
                enrol_form(
                    &engine,
                    &pending,
                    StatusCode::UNAUTHORIZED,
                    Some("That code did not match: check the time on your phone and enter the code the app shows now."),
                )
                .await
            } else {
                Ok(start_again(jar))
            }
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage {
    codes: Vec<String>,
    next: String,
    skipped_clock: Option<String>,
}

#[derive(Template)]
#[template(path = "welcome.html")]
struct WelcomePage {
    invite: bool,
    name: String,
    email: String,
    org: String,
    expires: String,
    problem: Option<String>,
    min_chars: usize,
    skipped_clock: Option<String>,
}

async fn welcome_form(
    engine: &Engine,
    link: &str,
    status: StatusCode,
    problem: Option<String>,
) -> Result<Response, PageError> {
    let info = match engine.link(link).await {
        Ok(i) => i,
        Err(Error::NotFound(_)) => {
            return Ok(page::Problem::with_back(
                StatusCode::NOT_FOUND,
                "This link no longer works",
                "The link is used, expired or unknown: each link works once, for a few days. \
                 Ask your organization's administrator for a new one."
                    .into(),
                "/sign-in".into(),
                "Sign in",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let body = WelcomePage {
        invite: info.purpose == carepath_engine::LinkPurpose::Invite,
        name: info.name,
        email: info.email,
        org: info.org_name,
        expires: crate::words::moment(info.expires_at),
        problem,
        min_chars: carepath_engine::domain::MIN_PASSWORD_CHARS,
        skipped_clock: skipped_clock(engine),
    }
    .render()?;
    Ok((status, axum::response::Html(body)).into_response())
}

/// An invitation or reset link: choose a password.
pub async fn welcome_page(
    State(engine): State<Engine>,
    axum::extract::Path(link): axum::extract::Path<String>,
) -> Result<Response, PageError> {
    welcome_form(&engine, &link, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    password: String,
    again: String,
}

pub async fn welcome(
    State(engine): State<Engine>,
    axum::extract::Path(link): axum::extract::Path<String>,
    ClientAddress(from): ClientAddress,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<PasswordForm>,
) -> Result<Response, PageError> {
    same_origin(&headers)?;
    if form.password != form.again {
        return welcome_form(
            &engine,
            &link,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("The two passwords differ: type the same one twice.".into()),
        )
        .await;
    }
    match engine.use_link(&link, &form.password, from).await {
        Ok(step) => answer(step, &engine, &headers, jar),
        Err(Error::BadInput(why)) => {
            welcome_form(&engine, &link, StatusCode::UNPROCESSABLE_ENTITY, Some(why)).await
        }
        Err(Error::NotFound(_)) => welcome_form(&engine, &link, StatusCode::NOT_FOUND, None).await,
        Err(Error::Unauthenticated) => {
            sign_in_form(
                &engine,
                StatusCode::UNAUTHORIZED,
                Some(REFUSED),
                String::new(),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct SignOutForm {
    csrf: String,
}

/// Sign out: the session ends on the server, the cookie is cleared — and, for a session opened
/// through an identity provider, the browser goes on to the provider's sign-out.
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
    // Signed in through an identity provider: on to its own sign-out, then back to sign-in.
    let next = crate::sso::after_sign_out(&jar);
    let gone = Cookie::build((SESSION_COOKIE, "")).path("/").build();
    Ok((
        jar.remove(gone),
        [(header::CACHE_CONTROL, "no-store")],
        Redirect::to(next),
    )
        .into_response())
}
