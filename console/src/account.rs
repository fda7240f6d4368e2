//! A person's own account (`/account`): who they are, when this session ends, their open
//! sessions (the one in use marked) with the way to sign out of every other, and how many
//! recovery codes they have left, and how they take e-mail of their notices (per kind: at once,
//! in an hourly digest, or none; quiet hours). Everyone signed in has one; the reads and
//! changes are the engine's (`Engine::person`, `my_sessions`, `sign_out_elsewhere`,
//! `email_preferences`, `set_email_preference`, `set_quiet_hours`).

use crate::action::{Fields, bad};
use crate::error::PageError;
use crate::page::{Chrome, html, role_words};
use crate::session::Signed;
use crate::words;
use crate::words::moment;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use carepath_engine::domain::{EmailMode, NoticeKind, QuietHours};
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
    /// How the person takes e-mail of each kind that may be silenced.
    email_modes: Vec<EmailRow>,
    /// The choices of a quiet hour, the person's own marked.
    hours: Vec<HourChoice>,
    /// The person's quiet hours in words, if they have some.
    quiet: Option<String>,
}

/// An hour of the day to choose (UTC), and whether the quiet hours start or end at it.
pub struct HourChoice {
    pub value: u32,
    pub label: String,
    pub from: bool,
    pub to: bool,
}

/// A kind of notice and how the person takes its e-mail, with the choices.
pub struct EmailRow {
    pub kind: &'static str,
    pub label: &'static str,
    pub modes: Vec<ModeChoice>,
}

pub struct ModeChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub chosen: bool,
}

fn email_rows(modes: &[(NoticeKind, EmailMode)]) -> Vec<EmailRow> {
    modes
        .iter()
        .map(|(kind, mode)| EmailRow {
            kind: kind.as_str(),
            label: words::notice(*kind),
            modes: EmailMode::ALL
                .into_iter()
                .map(|m| ModeChoice {
                    value: m.as_str(),
                    label: words::email_mode(m),
                    chosen: m == *mode,
                })
                .collect(),
        })
        .collect()
}

fn hours(quiet: Option<QuietHours>) -> Vec<HourChoice> {
    (0..24)
        .map(|h| HourChoice {
            value: h,
            label: format!("{h:02}:00 UTC"),
            from: quiet.is_some_and(|q| q.from_hour == h),
            to: quiet.is_some_and(|q| q.to_hour == h),
        })
        .collect()
}

#[derive(Deserialize, Default)]
pub struct AccountQuery {
    ended: Option<u64>,
    saved: Option<String>,
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
    let prefs = engine.email_preferences(actor).await?;
    let chrome = Chrome::new(&engine, &signed, "/account", "Your account").await?;
    let saved = match q.saved.as_deref() {
        Some("email") => Some("Your e-mail choices were saved.".to_owned()),
        Some("quiet") => Some("Your quiet hours were saved.".to_owned()),
        _ => None,
    };
    html(&AccountPage {
        chrome,
        done: q
            .ended
            .map(|n| match n {
                0 => "You had no other session open.".to_owned(),
                1 => "Your other session was signed out.".to_owned(),
                n => format!("Your {n} other sessions were signed out."),
            })
            .or(saved),
        name: person.name,
        email: person.email,
        role: role_words(person.role),
        idle_ends: crate::words::time_of_day(signed.idle_ends_at),
        ends: moment(signed.expires_at),
        others: sessions.iter().filter(|s| !s.current).count(),
        sessions,
        recovery_codes_left: person.totp.then_some(person.recovery_codes_left),
        email_modes: email_rows(&prefs.modes),
        hours: hours(prefs.quiet),
        quiet: prefs
            .quiet
            .map(|q| format!("{:02}:00 to {:02}:00 UTC", q.from_hour, q.to_hour)),
    })
}

type Form = axum::Form<Vec<(String, String)>>;

/// `POST /account/email`: how the person takes e-mail of each kind (`mode-<kind>`), each
/// choice that changed saved through the engine.
pub async fn email_modes(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    axum::Form(pairs): Form,
) -> Response {
    let f = Fields::new(pairs);
    let outcome = async {
        signed.check_form(&headers, f.get("csrf").unwrap_or(""))?;
        let now = engine.email_preferences(&signed.actor).await?;
        for (kind, mode) in now.modes {
            let Some(value) = f.get(&format!("mode-{}", kind.as_str())) else {
                continue;
            };
            let chosen = EmailMode::parse(value)
                .ok_or_else(|| bad("choose how you take e-mail from the list".into()))?;
            if chosen != mode {
                engine
                    .set_email_preference(&signed.actor, kind, chosen)
                    .await?;
            }
        }
        Ok::<_, PageError>(())
    }
    .await;
    match outcome {
        Ok(()) => Redirect::to("/account?saved=email#email-h").into_response(),
        Err(e) => crate::staff::refused(&engine, e, "/account").await,
    }
}

/// `POST /account/quiet-hours`: from one hour to another (UTC), or none when both are blank.
pub async fn quiet_hours(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    axum::Form(pairs): Form,
) -> Response {
    let f = Fields::new(pairs);
    let outcome = async {
        signed.check_form(&headers, f.get("csrf").unwrap_or(""))?;
        let hour = |name: &str| {
            f.get(name)
                .map(|v| {
                    v.parse::<u32>()
                        .map_err(|_| bad("choose an hour from the list".into()))
                })
                .transpose()
        };
        let quiet = match (hour("from")?, hour("to")?) {
            (None, None) => None,
            (Some(from_hour), Some(to_hour)) => Some(QuietHours { from_hour, to_hour }),
            _ => {
                return Err(bad(
                    "quiet hours need both the hour they start and the hour they end, or \
                     neither"
                        .into(),
                ));
            }
        };
        engine.set_quiet_hours(&signed.actor, quiet).await?;
        Ok::<_, PageError>(())
    }
    .await;
    match outcome {
        Ok(()) => Redirect::to("/account?saved=quiet#email-h").into_response(),
        Err(e) => crate::staff::refused(&engine, e, "/account").await,
    }
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
