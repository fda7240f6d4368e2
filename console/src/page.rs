//! What every page shares: the frame around it (who is signed in, the way to each page their
//! role has, the CSRF token for its forms, the time-skipping notice, the count of unread
//! notices) and the problem page.

use crate::error::PageError;
use crate::session::Signed;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use carepath_engine::domain::Role;
use carepath_engine::{Engine, OrgListing};

/// An organization or a level to choose in a form.
pub struct Choice {
    pub value: String,
    pub label: String,
}

impl Choice {
    pub fn org(o: &OrgListing) -> Self {
        Choice {
            value: o.id.to_string(),
            label: o.name.clone(),
        }
    }

    /// The kinds of aftercare appointment, said by `say` (`words::aftercare`, as it is or
    /// capitalised).
    pub fn aftercare_kinds(say: impl Fn(&str) -> String) -> Vec<Self> {
        crate::words::AFTERCARE_KINDS
            .iter()
            .map(|(k, v)| Choice {
                value: (*v).to_owned(),
                label: say(crate::words::aftercare(*k)),
            })
            .collect()
    }

    /// The kinds of MAT booking, in words.
    pub fn mat_kinds() -> Vec<Self> {
        crate::words::MAT_KINDS
            .iter()
            .map(|k| Choice {
                value: k.as_str().to_owned(),
                label: crate::words::mat_booking(*k).to_owned(),
            })
            .collect()
    }

    /// The pathway's levels, in its order.
    pub fn levels(engine: &Engine) -> Vec<Self> {
        engine
            .pathway()
            .levels
            .iter()
            .map(|l| Choice {
                value: l.id.0.clone(),
                label: l.name.clone(),
            })
            .collect()
    }
}

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
    /// When the session ends if the person does nothing more, in words and as a moment (the
    /// page's script warns before it).
    pub idle_ends: String,
    pub idle_ends_at: String,
    /// The time zone the page shows and reads times in (an IANA name): the person's
    /// organization's.
    pub zone: String,
    /// How many of the person's notices they have not read (the header's notification
    /// center; its script keeps it current from `/notifications/unread`).
    pub unread: u64,
}

impl Chrome {
    /// The notification link's accessible name: its visible words first.
    pub fn unread_label(&self) -> String {
        crate::notifications::unread_label(self.unread)
    }
}

/// The pages a role works in, in the order of the navigation bar.
pub fn pages_for(role: Role) -> &'static [(&'static str, &'static str)] {
    match role {
        Role::CaseManager | Role::Supervisor => &[
            ("/census", "Census"),
            ("/clients", "Clients"),
            ("/worklist", "Worklist"),
            ("/measures", "Measures"),
        ],
        Role::Admin => &[
            ("/census", "Census"),
            ("/clients", "Clients"),
            ("/worklist", "Worklist"),
            ("/measures", "Measures"),
            ("/staff", "Staff"),
        ],
        Role::Partner => &[
            ("/inbox", "Inbox"),
            ("/clients", "Clients"),
            ("/census", "Census"),
        ],
        Role::AftercareCoordinator => &[
            ("/worklist", "Worklist"),
            ("/clients", "Clients"),
            ("/census", "Census"),
        ],
        Role::Payer => &[("/clients", "Clients")],
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
        Role::Payer => "Payer",
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
        let person = Some(signed.person.clone());
        // The one read of the person's notices every page makes: a person always has a staff
        // id; an actor without one (never signed in here) has no notices.
        let unread = match actor.staff {
            Some(_) => engine.unread_notifications(actor).await?,
            None => 0,
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
            idle_ends: crate::words::time_of_day(signed.idle_ends_at),
            zone: crate::words::zone().name().to_owned(),
            idle_ends_at: signed.idle_ends_at.to_rfc3339(),
            unread,
        })
    }
}

pub fn skipped_clock(engine: &Engine) -> Option<String> {
    engine.time_skipping().map(crate::words::moment)
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
