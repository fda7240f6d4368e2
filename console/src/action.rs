//! A form sent from a page, run as the engine command the API would run: the same actor
//! (the signed-in person), the form's own idempotency key (sending it twice has one effect),
//! and the version of the record the page showed (a form from a page that went stale is
//! refused, in words, with the way to reload). What the form says is read here into the
//! command; every rule about it is the engine's.

use crate::error::PageError;
use crate::page::Problem;
use crate::session::Signed;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use carepath_engine::domain::{Command, DecisionError, GateReport};
use carepath_engine::ids::{ClientId, OrgId};
use carepath_engine::pathway::LevelId;
use carepath_engine::{Engine, Error, Outcome, Request};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// A form's POST handler: the path's ids (`$path` of type `$ty`) say which client the command
/// is for (`$client`: `Some` for a client, `None` for a referral, whose client the engine
/// finds), `$body` reads the form into the command, and the answer goes back to the form's
/// page with `$done` said ([`run`]).
macro_rules! form_route {
    ($(#[$doc:meta])* $name:ident($path:pat, $ty:ty) => $client:expr, $done:literal,
     |$f:pat_param| $body:expr) => {
        $(#[$doc])*
        pub async fn $name(
            axum::extract::State(engine): axum::extract::State<carepath_engine::Engine>,
            signed: $crate::session::Signed,
            headers: axum::http::HeaderMap,
            axum::extract::Path($path): axum::extract::Path<$ty>,
            axum::Form(pairs): axum::Form<Vec<(String, String)>>,
        ) -> axum::response::Response {
            let fields = $crate::action::Fields::new(pairs);
            $crate::action::run(&engine, &signed, &headers, &fields, $client, $done, |$f| $body)
                .await
        }
    };
}

/// A form's fields as sent (`application/x-www-form-urlencoded`), names repeated for
/// several choices.
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Fields(pairs)
    }

    /// Who gave a report the signed-in person relays (`relayed_by`): for an arrival, a
    /// no-show or a booking's outcome recorded by someone other than the side that saw it.
    pub fn relayed_by(&self) -> Option<carepath_engine::domain::RelayedBy> {
        self.get("relayed_by")
            .map(|note| carepath_engine::domain::RelayedBy { note: note.into() })
    }

    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str, what: &str) -> Result<&str, PageError> {
        self.get(name)
            .ok_or_else(|| bad_field(name, format!("{what} is needed")))
    }

    /// Every pair as sent, in order (what a refused form is drawn again with).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// Every value of `name` (checkboxes), blanks left out.
    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn org(&self, name: &str, what: &str) -> Result<OrgId, PageError> {
        parse_org(self.required(name, what)?, what).map_err(|m| bad_field(name, m))
    }

    pub fn orgs(&self, name: &str, what: &str) -> Result<Vec<OrgId>, PageError> {
        self.all(name)
            .map(|v| parse_org(v, what).map_err(|m| bad_field(name, m)))
            .collect()
    }

    pub fn level(&self, name: &str) -> Result<LevelId, PageError> {
        Ok(LevelId::new(self.required(name, "a level of care")?))
    }

    pub fn date(&self, name: &str, what: &str) -> Result<NaiveDate, PageError> {
        let v = self.required(name, what)?;
        NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map_err(|_| bad_field(name, format!("{what} is a date (year-month-day)")))
    }

    /// A `datetime-local` field, read in the person's time zone (`words::zone`).
    pub fn moment(&self, name: &str, what: &str) -> Result<DateTime<Utc>, PageError> {
        let v = self.required(name, what)?;
        let local = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S"))
            .map_err(|_| bad_field(name, format!("{what} is a date and time")))?;
        crate::words::from_local(local).ok_or_else(|| {
            bad_field(
                name,
                format!(
                    "{what}: {} does not exist in {} (the clocks move forward then)",
                    local.format("%H:%M on %-d %b %Y"),
                    crate::words::zone().name()
                ),
            )
        })
    }

    pub fn number(&self, name: &str, what: &str) -> Result<f32, PageError> {
        self.required(name, what)?
            .parse::<f32>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| bad_field(name, format!("{what} is a number")))
    }

    /// The page the form was on (a path of this console), where the answer goes back to;
    /// anything else goes back to `/`.
    pub fn back(&self) -> String {
        self.get("back")
            .map(|b| b.split('?').next().unwrap_or(""))
            .filter(|b| is_own_path(b))
            .unwrap_or("/")
            .to_owned()
    }
}

/// A path of this site and nothing else: one `/` and a path after it. Not `//host` nor `/\host`
/// (a browser reads a backslash as a slash, so both name another site), no backslash at all,
/// no control character (a browser drops tabs and newlines, so `/\t/host` is `//host`).
fn is_own_path(b: &str) -> bool {
    b.starts_with('/')
        && !b[1..].starts_with('/')
        && !b.contains('\\')
        && !b.chars().any(char::is_control)
}

fn parse_org(v: &str, what: &str) -> Result<OrgId, String> {
    uuid::Uuid::parse_str(v)
        .map(OrgId)
        .map_err(|_| format!("{what}: choose an organization from the list"))
}

pub fn bad(message: String) -> PageError {
    PageError::Engine(Error::BadInput(message))
}

/// The form's field `field` could not be read: `message` says why, next to it.
pub fn bad_field(field: &str, message: String) -> PageError {
    PageError::Field {
        field: field.to_owned(),
        message,
    }
}

/// Run the command a form asks for on `client` (`None`: the engine finds it, as for a
/// referral) and go back to the page with `done` said; a refusal is shown in words with the
/// way back.
pub async fn run(
    engine: &Engine,
    signed: &Signed,
    headers: &HeaderMap,
    fields: &Fields,
    client: Option<ClientId>,
    done: &'static str,
    command: impl FnOnce(&Fields) -> Result<Command, PageError>,
) -> Response {
    let back = fields.back();
    run_to(
        engine,
        signed,
        headers,
        fields,
        client,
        |_| back.clone(),
        done,
        command,
    )
    .await
}

/// A move refused for the gates it still needs, each said from its typed reason with the
/// organizations by name (`None` when their names cannot be read).
async fn unmet_in_words(engine: &Engine, unmet: &[GateReport]) -> Option<String> {
    let orgs = unmet.iter().filter_map(|g| g.reason.org());
    let names = crate::words::Names::of(engine, orgs).await.ok()?;
    let gates: Vec<String> = unmet
        .iter()
        .map(|g| {
            format!(
                "{}: {}",
                crate::words::gate_name(g.gate),
                names.gate_reason(&g.reason).trim_end_matches('.')
            )
        })
        .collect();
    Some(format!(
        "Not every gate of this move is met — {}. Nothing was changed.",
        gates.join("; ")
    ))
}

/// As [`run`], going on to the page `next` names for the outcome (a client just registered:
/// its own page).
#[allow(clippy::too_many_arguments)]
pub async fn run_to(
    engine: &Engine,
    signed: &Signed,
    headers: &HeaderMap,
    fields: &Fields,
    client: Option<ClientId>,
    next: impl FnOnce(&Outcome) -> String,
    done: &'static str,
    command: impl FnOnce(&Fields) -> Result<Command, PageError>,
) -> Response {
    let back = fields.back();
    let outcome = async {
        signed.check_form(headers, fields.get("csrf").unwrap_or(""))?;
        let key = fields
            .get("idem")
            .and_then(|k| uuid::Uuid::parse_str(k).ok())
            .ok_or(PageError::ForeignForm)?;
        let expected_version = match fields.get("version") {
            None => None,
            Some(v) => Some(v.parse::<i64>().map_err(|_| PageError::ForeignForm)?),
        };
        let command = command(fields)?;
        engine
            .execute(Request {
                client,
                actor: signed.actor,
                expected_version,
                idempotency_key: Some(format!("console:{key}")),
                command,
            })
            .await
            .map_err(PageError::from)
    }
    .await;
    match outcome {
        Ok(outcome) => Redirect::to(&format!("{}?done={done}", next(&outcome))).into_response(),
        Err(e @ (PageError::SignIn | PageError::Engine(Error::Unauthenticated))) => {
            e.into_response()
        }
        // A refused form of a client's page comes back on that page, open, what was typed
        // kept, the reason next to the field it concerns.
        Err(e) if crate::refusal::redraws(&e) => {
            // Only on the page of the client the command was for: a form whose `back` names
            // another client's page gets the problem page.
            if let (Some(id), Some(form)) = (client_page(&back), fields.get("form"))
                && client == Some(id)
            {
                let refusal = crate::refusal::Refusal::of(engine, &e, form, fields.pairs()).await;
                if let Some(page) =
                    crate::client::redraw(engine, signed, id, refusal, e.status()).await
                {
                    return page;
                }
            }
            problem(engine, e, back).await
        }
        Err(e) => problem(engine, e, back).await,
    }
}

/// The client whose page `back` is (`/clients/{id}`), if it is one.
fn client_page(back: &str) -> Option<ClientId> {
    let id = back.strip_prefix("/clients/")?;
    uuid::Uuid::parse_str(id).ok().map(ClientId)
}

/// A refusal on a page of its own, in words, with the way back.
async fn problem(engine: &Engine, e: PageError, back: String) -> Response {
    let (title, message) = e.words();
    let message = match &e {
        PageError::Engine(Error::Rejected(DecisionError::GateUnmet { unmet })) => {
            match unmet_in_words(engine, unmet).await {
                Some(words) => words,
                None => crate::words::name_orgs(engine, &message).await,
            }
        }
        _ => crate::words::name_orgs(engine, &message).await,
    };
    let reload = matches!(
        e,
        PageError::Engine(
            Error::Conflict(_)
                | Error::IdempotencyKeyReused
                | Error::Rejected(carepath_engine::domain::DecisionError::Conflict(_))
        ) | PageError::ForeignForm
    );
    Problem::with_back(
        e.status(),
        title,
        message,
        back,
        if reload {
            "Reload the page"
        } else {
            "Back to the page"
        },
    )
}

/// What a page says after a form of its own was done (`?done=…`).
pub fn done_words(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "referral-sent" => "The referral was sent.",
        "consent-recorded" => "The consent was recorded.",
        "aftercare-booked" => "The aftercare appointment was booked.",
        "refill-booked" => "The MAT refill or dose was booked.",
        "handoff-planned" => "The handoff was planned; coordinators were told.",
        "moved" => "The client was moved.",
        "discharged" => "The client was discharged.",
        "identity-recorded" => "The name and record number were saved.",
        "acknowledged" => "The referral was acknowledged.",
        "accepted" => "The referral was accepted; a slot is held for the client.",
        "waitlisted" => "The referral was put on the waitlist.",
        "declined" => "The referral was declined.",
        "arrived" => "The client's arrival was confirmed.",
        "no-show" => "The no-show was recorded.",
        "outcome-recorded" => "What became of the booking was recorded.",
        "client-registered" => "The client was registered.",
        "admitted" => "The client was admitted.",
        "assessment-recorded" => "The assessment was recorded.",
        "mat-plan-recorded" => "The MAT plan was recorded.",
        "referral-withdrawn" => "The referral was withdrawn; the provider was told.",
        "consent-revoked" => {
            "The consent was revoked: nothing more goes to the organizations it named, and \
             their open referrals were withdrawn."
        }
        _ => return None,
    })
}

/// A fresh idempotency key for a form on a page being drawn.
pub fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}
