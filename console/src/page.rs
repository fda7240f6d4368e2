//! What every page shares: the frame around it (who is signed in, the way to each page their
//! role has, the CSRF token for its forms, the time-skipping notice) and the problem page.

use crate::error::PageError;
use crate::session::Signed;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use carepath_engine::Engine;
use carepath_engine::domain::Role;

/// A link in the navigation bar.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The frame of a signed-in page.
pub struct Chrome {
    pub title: String,
    pub org: String,
    pub role: &'static str,
    pub person: Option<String>,
    pub nav: Vec<NavItem>,
    pub csrf: String,
    /// On a time-skipping server: where its clock stands.
    pub skipped_clock: Option<String>,
}

/// The pages a role works in, in the order of the navigation bar.
pub fn pages_for(role: Role) -> &'static [(&'static str, &'static str)] {
    match role {
        Role::CaseManager | Role::Supervisor | Role::Admin => &[
            ("/census", "Census"),
            ("/clients", "Clients"),
            ("/worklist", "Worklist"),
            ("/measures", "Measures"),
        ],
        Role::Partner => &[
            ("/inbox", "Inbox"),
            ("/clients", "Clients"),
            ("/census", "Census"),
        ],
        Role::AftercareCoordinator => &[("/worklist", "Worklist"), ("/census", "Census")],
        Role::System => &[],
    }
}

pub fn role_words(role: Role) -> &'static str {
    match role {
        Role::Admin => "Administrator",
        Role::CaseManager => "Case manager",
        Role::Supervisor => "Supervisor",
        Role::Partner => "Partner provider",
        Role::AftercareCoordinator => "Aftercare coordinator",
        Role::System => "Engine",
    }
}

impl Chrome {
    /// The frame for `signed`'s page at `here`, titled `title`.
    pub async fn new(
        engine: &Engine,
        signed: &Signed,
        here: &str,
        title: impl Into<String>,
    ) -> Result<Self, PageError> {
        let actor = &signed.actor;
        let org = engine
            .org_names(&[actor.org])
            .await?
            .remove(&actor.org)
            .unwrap_or_else(|| "your organization".into());
        let person = match actor.staff {
            Some(staff) => engine
                .staff_members(actor, &[staff])
                .await?
                .into_iter()
                .next()
                .and_then(|s| s.name),
            None => None,
        };
        Ok(Chrome {
            title: title.into(),
            org,
            role: role_words(actor.role),
            person,
            nav: pages_for(actor.role)
                .iter()
                .map(|(href, label)| NavItem {
                    href,
                    label,
                    current: here.starts_with(href),
                })
                .collect(),
            csrf: signed.csrf.clone(),
            skipped_clock: skipped_clock(engine),
        })
    }
}

pub fn skipped_clock(engine: &Engine) -> Option<String> {
    engine
        .time_skipping()
        .map(|now| now.format("%A %-d %B %Y, %H:%M UTC").to_string())
}

/// A rendered page.
pub fn html(t: &impl Template) -> Result<Response, PageError> {
    Ok(Html(t.render()?).into_response())
}

/// The page a refusal or a failure shows: a heading, a sentence, and the way back.
#[derive(Template)]
#[template(path = "problem.html")]
pub struct Problem {
    pub title: &'static str,
    pub message: String,
    /// Where "back" goes: the page the form was on (reloaded), or the console's start.
    pub back: String,
    pub back_label: &'static str,
}

impl Problem {
    pub fn page(status: StatusCode, title: &'static str, message: String) -> Response {
        Self::with_back(status, title, message, "/".into(), "Back to the console")
    }

    pub fn with_back(
        status: StatusCode,
        title: &'static str,
        message: String,
        back: String,
        back_label: &'static str,
    ) -> Response {
        let page = Problem {
            title,
            message,
            back,
            back_label,
        };
        match page.render() {
            Ok(body) => (status, Html(body)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "the problem page failed to render");
                (status, title).into_response()
            }
        }
    }
}
