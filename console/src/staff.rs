//! An organization's people and systems, for its admins (`/staff`): the people with their
//! role, status and how they sign in, invitations, role changes, deactivation, new sign-in
//! links; the service accounts systems hold (API tokens); the sign-in activity, on the page
//! and as CSV; whether single sign-on is set up; the webhooks its notices are sent to. Every
//! read and change is the engine's
//! (`Engine::staff_accounts`, `invite_staff`, …), which refuses anyone but an admin of the
//! organization: no rule lives here. A link or token is shown once, in the answer to the form
//! that made it (never stored by the browser: every page is `no-store`).

use crate::action::{Fields, bad};
use crate::error::PageError;
use crate::page::{Chrome, Problem, html, role_words};
use crate::session::Signed;
use crate::words::moment;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use carepath_engine::domain::{DecisionError, PERSON_ROLES, Role, StaffStatus};
use carepath_engine::ids::StaffId;
use carepath_engine::{AuditEntry, Engine, Error, Link, LinkPurpose, Person, ServiceAccount};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::HashMap;

/// Lines of sign-in activity the page shows (the CSV has them all).
const AUDIT_ON_PAGE: u64 = 50;
/// Lines read at a time for the CSV.
const AUDIT_PAGE: u64 = 5_000;
/// Days a new service account's token is valid unless the form says otherwise.
const DEFAULT_DAYS: u32 = 90;

/// A role to choose in a form.
pub struct RoleChoice {
    pub value: &'static str,
    pub label: &'static str,
}

fn role_choices() -> Vec<RoleChoice> {
    PERSON_ROLES
        .iter()
        .map(|r| RoleChoice {
            value: r.as_str(),
            label: role_words(*r),
        })
        .collect()
}

/// A person on the list, in words, with what may be done to them.
pub struct PersonRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub role_value: &'static str,
    pub status: String,
    pub locked: bool,
    pub authenticator: &'static str,
    pub has_authenticator: bool,
    pub sso: &'static str,
    pub last_sign_in: String,
    pub deactivated: bool,
}

/// A service account on the list.
pub struct SystemRow {
    pub id: String,
    pub name: String,
    pub role: &'static str,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    pub revoked: Option<String>,
}

/// A line of sign-in activity in words.
pub struct AuditRow {
    pub at: String,
    pub who: String,
    pub email: String,
    pub by: String,
    pub what: &'static str,
    pub detail: String,
    pub address: String,
}

/// A secret shown once, in the answer to the form that made it.
pub enum Once {
    /// A single-use link to send a person.
    Link {
        heading: &'static str,
        name: String,
        url: String,
        purpose: &'static str,
        expires: String,
    },
    /// A service account's token.
    Token {
        name: String,
        token: String,
        expires: String,
    },
    /// A webhook's signing secret.
    Webhook { url: String, secret: String },
}

/// A webhook on the list.
pub struct WebhookRow {
    pub id: String,
    pub url: String,
    pub enabled: bool,
    pub failures: i32,
    pub turned_off: Option<String>,
    pub added: String,
}

fn webhook_row(w: &carepath_engine::Webhook) -> WebhookRow {
    WebhookRow {
        id: w.id.to_string(),
        url: w.url.clone(),
        enabled: w.enabled,
        failures: w.failures,
        turned_off: w.disabled_at.map(moment),
        added: moment(w.created_at),
    }
}

#[derive(Template)]
#[template(path = "staff.html")]
struct StaffPage {
    chrome: Chrome,
    done: Option<&'static str>,
    once: Option<Once>,
    people: Vec<PersonRow>,
    roles: Vec<RoleChoice>,
    systems: Vec<SystemRow>,
    default_days: u32,
    audit: Vec<AuditRow>,
    /// The identity provider's issuer, when single sign-on is set up.
    sso_issuer: Option<String>,
    webhooks: Vec<WebhookRow>,
    /// Failed calls in a row that turn a webhook off.
    failure_limit: i32,
    /// Who is told what: the organization's rule for each kind of notice.
    rules: Vec<RuleRow>,
}

/// One kind of notice as the organization has it, for its row of the rules table.
struct RuleRow {
    kind: &'static str,
    label: &'static str,
    told: bool,
    /// The organization's own deadline in minutes ("" for the default, "0" for never).
    minutes: String,
    /// The default deadline, in words.
    default: String,
}

fn rule_row(r: &carepath_engine::NoticeRuleView) -> RuleRow {
    use carepath_engine::domain::DefaultEscalation;
    RuleRow {
        kind: r.kind.as_str(),
        label: crate::words::notice(r.kind),
        told: !r.off,
        minutes: match r.own_escalation {
            None => String::new(),
            Some(None) => "0".into(),
            Some(Some(d)) => d.num_minutes().to_string(),
        },
        default: match r.default_escalation {
            DefaultEscalation::Never => "never".into(),
            DefaultEscalation::After(d) if d.num_minutes() % 60 == 0 => {
                format!("after {} hours", d.num_hours())
            }
            DefaultEscalation::After(d) => format!("after {} minutes", d.num_minutes()),
            DefaultEscalation::EighthOfAnswerWindow => {
                "after an eighth of the time to answer (30 minutes for withdrawal management)"
                    .into()
            }
        },
    }
}

#[derive(Deserialize, Default)]
pub struct StaffQuery {
    done: Option<String>,
}

/// What the page says after a form of its own was done (`?done=…`).
fn done_words(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "role-changed" => "The role was changed. They sign in again to work in it.",
        "deactivated" => "The person was deactivated: they were signed out everywhere at once.",
        "authenticator" => {
            "Their authenticator was reset and they were signed out: after their password, \
             their next sign-in sets up an authenticator app again."
        }
        "reactivated" => "The person was reactivated and can sign in again.",
        "revoked" => "The system's access was revoked: its token no longer works.",
        "webhook-removed" => "The webhook was removed: nothing more is sent to it.",
        "rule-set" => "The rule was saved: it holds for the next notices.",
        "webhook-enabled" => "The webhook was turned on again: the next notices are sent to it.",
        _ => return None,
    })
}

fn when(t: Option<DateTime<Utc>>, none: &str) -> String {
    t.map_or_else(|| none.to_owned(), moment)
}

fn person_row(p: &Person, now: DateTime<Utc>) -> PersonRow {
    let locked = p.locked_until.filter(|t| *t > now);
    let status = match (p.status, locked) {
        (StaffStatus::Deactivated, _) => "Deactivated".to_owned(),
        (_, Some(until)) => format!("Locked until {}", crate::words::time_of_day(until)),
        (StaffStatus::Invited, None) => "Invited".to_owned(),
        (StaffStatus::Active, None) => "Active".to_owned(),
    };
    PersonRow {
        id: p.id.to_string(),
        name: p.name.clone(),
        email: p.email.clone(),
        role: role_words(p.role),
        role_value: p.role.as_str(),
        status,
        locked: locked.is_some(),
        authenticator: if p.totp { "Yes" } else { "No" },
        has_authenticator: p.totp,
        sso: if p.sso_linked { "Yes" } else { "No" },
        last_sign_in: when(p.last_sign_in_at, "Never"),
        deactivated: p.status == StaffStatus::Deactivated,
    }
}

fn system_row(s: &ServiceAccount) -> SystemRow {
    SystemRow {
        id: s.id.to_string(),
        name: s.name.clone(),
        role: role_words(s.role),
        created: moment(s.created_at),
        expires: when(s.expires_at, "Never"),
        last_used: when(s.last_used_at, "Never"),
        revoked: s.revoked_at.map(moment),
    }
}

/// What each kind of audit line means, in words.
fn audit_kind(kind: &str) -> &'static str {
    match kind {
        "signed_in" => "Signed in",
        "sign_in_failed" => "Sign-in failed",
        "locked" => "Locked after failed sign-ins",
        "totp_enrolled" => "Set up the authenticator app",
        "recovery_code_used" => "Signed in with a recovery code",
        "password_set" => "Chose a password",
        "invited" => "Invited",
        "link_issued" => "Given a new sign-in link",
        "role_changed" => "Role changed",
        "deactivated" => "Deactivated",
        "reactivated" => "Reactivated",
        "signed_out" => "Signed out",
        "signed_out_everywhere" => "Signed out everywhere else",
        "sso_linked" => "Linked to single sign-on",
        "sso_provisioned" => "Account made at a first single sign-on",
        "sso_settings_changed" => "Single sign-on settings changed",
        "service_account_created" => "System access created",
        "service_account_revoked" => "System access revoked",
        _ => "Other",
    }
}

fn role_in_words(value: &str) -> String {
    Role::parse(value).map_or_else(|| value.replace('_', " "), |r| role_words(r).to_owned())
}

/// An audit line's detail in words (the engine's detail is a role, a purpose, a method or a
/// count — never a secret).
fn audit_detail(kind: &str, detail: Option<&str>) -> String {
    let Some(d) = detail else {
        return String::new();
    };
    match kind {
        "role_changed" => match d.split_once(" to ") {
            Some((from, to)) => format!("{} to {}", role_in_words(from), role_in_words(to)),
            None => d.to_owned(),
        },
        "invited" | "service_account_created" | "service_account_revoked" => role_in_words(d),
        "sso_settings_changed" => match d {
            "set" => "Turned on or changed".to_owned(),
            "cleared" => "Turned off".to_owned(),
            other => other.to_owned(),
        },
        "link_issued" | "password_set" => match d {
            "invite" => "Invitation".to_owned(),
            "reset" => "Password reset".to_owned(),
            other => other.to_owned(),
        },
        "sign_in_failed" => match d {
            "password" => "Wrong password".to_owned(),
            "totp code" => "Wrong authenticator code".to_owned(),
            "totp code reused" => "An authenticator code used twice".to_owned(),
            "totp enrolment" => "Wrong code while setting up the authenticator".to_owned(),
            other => other.replace('_', " "),
        },
        "signed_in" => match d {
            "password" => "Password".to_owned(),
            "password+totp" => "Password and authenticator code".to_owned(),
            "password+recovery" => "Password and a recovery code".to_owned(),
            "sso" => "Single sign-on".to_owned(),
            other => other.replace('_', " "),
        },
        _ => d.replace('_', " "),
    }
}

/// Who an audit line names: a person of the organization, a system, or nobody known.
struct Who {
    names: HashMap<StaffId, (String, String)>,
}

impl Who {
    fn new(people: &[Person], systems: &[ServiceAccount]) -> Self {
        let mut names = HashMap::new();
        for p in people {
            names.insert(p.id, (p.name.clone(), p.email.clone()));
        }
        for s in systems {
            names
                .entry(s.staff)
                .or_insert_with(|| (format!("System: {}", s.name), String::new()));
        }
        Who { names }
    }

    fn row(&self, e: &AuditEntry) -> AuditRow {
        let (who, email) = match e.staff {
            // The organization's own settings, or a sign-in under no account of it.
            None if e.kind == "sso_settings_changed" => {
                ("The organization".to_owned(), String::new())
            }
            None => ("unknown address".to_owned(), String::new()),
            Some(id) => self
                .names
                .get(&id)
                .cloned()
                .unwrap_or_else(|| ("an account no longer listed".to_owned(), String::new())),
        };
        let by =
            e.by.filter(|b| Some(*b) != e.staff)
                .map(|b| {
                    self.names.get(&b).map_or_else(
                        || "an account no longer listed".to_owned(),
                        |(n, _)| n.clone(),
                    )
                })
                .unwrap_or_default();
        AuditRow {
            at: moment(e.at),
            who,
            email,
            by,
            what: audit_kind(&e.kind),
            detail: audit_detail(&e.kind, e.detail.as_deref()),
            address: e.address.clone().unwrap_or_default(),
        }
    }
}

/// The console's own address as the browser reached it (a link to send someone must be
/// whole): the `Host` it asked for, over https when a TLS proxy in front says so.
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && !h.contains(['/', '\\', '@', ' ']))
        .unwrap_or("localhost");
    let https = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

fn link_once(heading: &'static str, name: String, link: &Link, headers: &HeaderMap) -> Once {
    Once::Link {
        heading,
        name,
        url: format!("{}{}", origin(headers), link.path()),
        purpose: match link.purpose {
            LinkPurpose::Invite => {
                "accept the invitation: choose a password and set up the authenticator app"
            }
            LinkPurpose::Reset => "choose a new password",
        },
        expires: moment(link.expires_at),
    }
}

/// The page, with `once` shown at its top (the answer to the form that made it) or `done`.
async fn render(
    engine: &Engine,
    signed: &Signed,
    done: Option<&'static str>,
    once: Option<Once>,
) -> Result<Response, PageError> {
    let actor = &signed.actor;
    let people = engine.staff_accounts(actor, actor.org).await?;
    let systems = engine.service_accounts(actor, actor.org).await?;
    let audit = engine
        .sign_in_audit(actor, Some(actor.org), None, AUDIT_ON_PAGE)
        .await?;
    let sso_issuer = engine.sso_settings(actor.org).await?.map(|s| s.issuer);
    let webhooks = engine.webhooks(actor).await?;
    let rules = engine.notice_rules_of(actor).await?;
    let who = Who::new(&people, &systems);
    let now = Utc::now();
    let chrome = Chrome::new(engine, signed, "/staff", "Staff").await?;
    html(&StaffPage {
        chrome,
        done,
        once,
        people: people.iter().map(|p| person_row(p, now)).collect(),
        roles: role_choices(),
        systems: systems.iter().rev().map(system_row).collect(),
        default_days: DEFAULT_DAYS,
        audit: audit.iter().map(|e| who.row(e)).collect(),
        sso_issuer,
        webhooks: webhooks.iter().map(webhook_row).collect(),
        failure_limit: carepath_engine::WEBHOOK_FAILURE_LIMIT,
        rules: rules.iter().map(rule_row).collect(),
    })
}

/// `GET /staff`.
pub async fn page(
    State(engine): State<Engine>,
    signed: Signed,
    Query(q): Query<StaffQuery>,
) -> Result<Response, PageError> {
    render(&engine, &signed, done_words(q.done.as_deref()), None).await
}

/// A message as a sentence: capitalised, with a full stop.
fn sentence(m: &str) -> String {
    let m = m.trim();
    let mut out = crate::words::cap(m);
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// A refused or failed staff form, in words, with the way back to `back`.
pub(crate) async fn refused(engine: &Engine, e: PageError, back: &str) -> Response {
    let (title, message) = match &e {
        PageError::SignIn | PageError::Engine(Error::Unauthenticated) => return e.into_response(),
        // The engine's conflicts here are about people, not a client's record: an address
        // with an account already, a person not deactivated, the last admin.
        PageError::Engine(Error::Conflict(m) | Error::Rejected(DecisionError::Conflict(m))) => {
            ("Not done", format!("{} Nothing was changed.", sentence(m)))
        }
        _ => e.words(),
    };
    let message = crate::words::name_orgs(engine, &message).await;
    Problem::with_back(
        e.status(),
        title,
        message,
        back.to_owned(),
        "Back to the page",
    )
}

/// Answer a staff form: the page with `once` (status 200, not stored), or back to the page
/// with `done` said, or the refusal in words.
async fn answer(
    engine: &Engine,
    signed: &Signed,
    outcome: Result<Result<Once, &'static str>, PageError>,
) -> Response {
    let shown = match outcome {
        Ok(Err(done)) => return Redirect::to(&format!("/staff?done={done}")).into_response(),
        Ok(Ok(once)) => render(engine, signed, None, Some(once)).await,
        Err(e) => Err(e),
    };
    match shown {
        Ok(mut resp) => {
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => refused(engine, e, "/staff").await,
    }
}

fn staff_id(id: &str) -> Result<StaffId, PageError> {
    uuid::Uuid::parse_str(id)
        .map(StaffId)
        .map_err(|_| PageError::Engine(Error::NotFound(format!("staff member {id}"))))
}

fn role_of(fields: &Fields) -> Result<Role, PageError> {
    let v = fields.required("role", "a role")?;
    Role::parse(v).ok_or_else(|| bad("choose a role from the list".into()))
}

type Form = axum::Form<Vec<(String, String)>>;

/// The form's CSRF token and origin checked.
fn checked(signed: &Signed, headers: &HeaderMap, fields: &Fields) -> Result<(), PageError> {
    signed.check_form(headers, fields.get("csrf").unwrap_or(""))
}

/// A staff form, run: its CSRF token and origin checked, then `run` with its fields (the
/// engine's call, which says what the page shows once or which change it says was done), and
/// the answer (`answer`).
async fn act(
    engine: &Engine,
    signed: &Signed,
    headers: &HeaderMap,
    pairs: Vec<(String, String)>,
    run: impl AsyncFnOnce(&Fields) -> Result<Result<Once, &'static str>, PageError>,
) -> Response {
    let f = Fields::new(pairs);
    let outcome = match checked(signed, headers, &f) {
        Ok(()) => run(&f).await,
        Err(e) => Err(e),
    };
    answer(engine, signed, outcome).await
}

/// `POST /staff/invite`: the person's account and the link to send them, shown once.
pub async fn invite(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    axum::Form(pairs): Form,
) -> Response {
    act(&engine, &signed, &headers, pairs, async |f| {
        let name = f.required("name", "the name")?;
        let email = f.required("email", "the e-mail address")?;
        let role = role_of(f)?;
        let (person, link) = engine
            .invite_staff(&signed.actor, signed.actor.org, email, name, role)
            .await?;
        Ok(Ok(link_once(
            "Invitation made",
            person.name,
            &link,
            &headers,
        )))
    })
    .await
}

/// `POST /staff/{id}/role`.
pub async fn change_role(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(pairs): Form,
) -> Response {
    act(&engine, &signed, &headers, pairs, async |f| {
        let id = staff_id(&id)?;
        engine
            .change_staff_role(&signed.actor, id, role_of(f)?)
            .await?;
        Ok(Err("role-changed"))
    })
    .await
}

/// `POST /staff/{id}/deactivate`: their sessions and tokens end at once.
pub async fn deactivate(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(pairs): Form,
) -> Response {
    act(&engine, &signed, &headers, pairs, async |_| {
        engine
            .deactivate_staff(&signed.actor, staff_id(&id)?)
            .await?;
        Ok(Err("deactivated"))
    })
    .await
}

/// `POST /staff/{id}/authenticator`: a lost phone — the person sets up their authenticator
/// again at their next sign-in.
pub async fn reset_authenticator(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(pairs): Form,
) -> Response {
    act(&engine, &signed, &headers, pairs, async |_| {
        engine
            .reset_authenticator(&signed.actor, staff_id(&id)?)
            .await?;
        Ok(Err("authenticator"))
    })
    .await
}

/// `POST /staff/{id}/reactivate`: with a new invitation to send when they never accepted
/// theirs.
pub async fn reactivate(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(pairs): Form,
) -> Response {
    act(&engine, &signed, &headers, pairs, async |_| {
        let (person, link) = engine
            .reactivate_staff(&signed.actor, staff_id(&id)?)
            .await?;
        Ok(match link {
            Some(link) => Ok(link_once(
                "Reactivated: a new invitation",
                person.name,
                &link,
                &headers,
            )),
            None => Err("reactivated"),
        })
    })
    .await
}

/// `POST /staff/{id}/link`: a new sign-in link (the invitation again, or a password reset),
/// shown once.
pub async fn new_link(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(pairs): Form,
) -> Response {
    act(&engine, &signed, &headers, pairs, async |_| {
        let id = staff_id(&id)?;
        let link = engine.staff_link(&signed.actor, id).await?;
        let person = engine.staff_member(&signed.actor, id).await?;
        Ok(Ok(link_once(
            "New sign-in link",
            person.name,
            &link,
            &headers,
        )))
    })
    .await
}

/// `POST /staff/systems`: a service account and its token, shown once.
pub async fn create_system(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    axum::Form(pairs): Form,
) -> Response {
    act(&engine, &signed, &headers, pairs, async |f| {
        let name = f.required("name", "the system's name")?;
        let role = role_of(f)?;
        let days = match f.get("days") {
            None => DEFAULT_DAYS,
            Some(d) => d
                .parse::<u32>()
                .map_err(|_| bad("the days it works are a whole number".into()))?,
        };
        let (account, token) = engine
            .create_service_account(&signed.actor, signed.actor.org, name, role, days)
            .await?;
        Ok(Ok(Once::Token {
            name: account.name,
            token,
            expires: when(account.expires_at, "never"),
        }))
    })
    .await
}

/// `POST /staff/systems/{id}/revoke`.
pub async fn revoke_system(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(pairs): Form,
) -> Response {
    act(&engine, &signed, &headers, pairs, async |_| {
        let id = uuid::Uuid::parse_str(&id)
            .map_err(|_| PageError::Engine(Error::NotFound(format!("service account {id}"))))?;
        engine
            .revoke_service_account(&signed.actor, signed.actor.org, id)
            .await?;
        Ok(Err("revoked"))
    })
    .await
}

/// `POST /staff/webhooks`: a webhook for the organization's notices, its secret shown once.
pub async fn add_webhook(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    axum::Form(pairs): Form,
) -> Response {
    act(&engine, &signed, &headers, pairs, async |f| {
        let url = f.required("url", "the webhook's address")?;
        let (hook, secret) = engine.add_webhook(&signed.actor, url).await?;
        Ok(Ok(Once::Webhook {
            url: hook.url,
            secret,
        }))
    })
    .await
}

/// `POST /staff/notice-rules`: the organization's rule for one kind of notice — told or not,
/// and minutes of silence before it goes on to the supervisors (blank: the default; 0: never).
pub async fn set_notice_rule(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    axum::Form(pairs): Form,
) -> Response {
    use carepath_engine::domain::{NoticeKind, Rule};
    act(&engine, &signed, &headers, pairs, async |f| {
        let kind = f.required("kind", "the kind of notice")?;
        let kind = NoticeKind::parse(kind).ok_or_else(|| {
            PageError::Engine(Error::BadInput(format!("no kind of notice {kind:?}")))
        })?;
        let off = f.get("told") != Some("yes");
        let escalate_after = match f.get("minutes").map(str::trim).unwrap_or("") {
            "" => None,
            "0" => Some(None),
            m => {
                let m: i64 = m.parse().map_err(|_| {
                    PageError::Engine(Error::BadInput(
                        "the minutes before it goes on are a whole number (0: never)".into(),
                    ))
                })?;
                Some(Some(chrono::Duration::minutes(m)))
            }
        };
        engine
            .set_notice_rule(
                &signed.actor,
                kind,
                Rule {
                    off,
                    escalate_after,
                },
            )
            .await?;
        Ok(Err("rule-set"))
    })
    .await
}

fn webhook_id(id: &str) -> Result<uuid::Uuid, PageError> {
    uuid::Uuid::parse_str(id)
        .map_err(|_| PageError::Engine(Error::NotFound(format!("webhook {id}"))))
}

/// `POST /staff/webhooks/{id}/remove`.
pub async fn remove_webhook(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(pairs): Form,
) -> Response {
    act(&engine, &signed, &headers, pairs, async |_| {
        engine
            .remove_webhook(&signed.actor, webhook_id(&id)?)
            .await?;
        Ok(Err("webhook-removed"))
    })
    .await
}

/// `POST /staff/webhooks/{id}/enable`: a webhook turned off after failing, on again.
pub async fn enable_webhook(
    State(engine): State<Engine>,
    signed: Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(pairs): Form,
) -> Response {
    act(&engine, &signed, &headers, pairs, async |_| {
        engine
            .enable_webhook(&signed.actor, webhook_id(&id)?)
            .await?;
        Ok(Err("webhook-enabled"))
    })
    .await
}

/// A cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, a tab) is kept as text.
fn cell(v: &str) -> String {
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_owned()
    }
}

/// `GET /staff/audit.csv`: the organization's whole sign-in activity, newest first.
pub async fn audit_csv(
    State(engine): State<Engine>,
    signed: Signed,
) -> Result<Response, PageError> {
    let actor = &signed.actor;
    let people = engine.staff_accounts(actor, actor.org).await?;
    let systems = engine.service_accounts(actor, actor.org).await?;
    let who = Who::new(&people, &systems);
    let mut out = csv::Writer::from_writer(Vec::new());
    // Writing to memory fails only on a bug: said as a page that failed to render.
    let csv_failed = |e: csv::Error| PageError::Render(askama::Error::Custom(Box::new(e)));
    out.write_record(["at", "person", "e-mail", "by", "what", "detail", "address"])
        .map_err(csv_failed)?;
    let mut before = None;
    loop {
        let lines = engine
            .sign_in_audit(actor, Some(actor.org), before, AUDIT_PAGE)
            .await?;
        for e in &lines {
            let r = who.row(e);
            out.write_record([
                e.at.to_rfc3339(),
                cell(&r.who),
                cell(&r.email),
                cell(&r.by),
                r.what.to_owned(),
                cell(&r.detail),
                cell(&r.address),
            ])
            .map_err(csv_failed)?;
        }
        match lines.last() {
            Some(last) if lines.len() as u64 == AUDIT_PAGE => before = Some(last.id),
            _ => break,
        }
    }
    let body = out
        .into_inner()
        .map_err(|e| PageError::Render(askama::Error::Custom(Box::new(e.into_error()))))?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"sign-in-activity.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}
