//! A client's page, built around what to do now: where the client stands in one sentence,
//! then the next steps the engine gives this reader (`VisibleClient::next_steps`, from the
//! pathway's allowed moves and the readiness of the next move), each opening its form in
//! place, filled in with what the record knows; every other form behind "More actions". Below:
//! the facts, the levels over time and the MAT coverage as pictures, the readiness checklists,
//! the referrals, bookings and consents, and the timeline in words. A refused form comes back on
//! this page, open, with what was typed kept and the reason next to the field it concerns
//! (`crate::refusal`). What each role sees is what the engine's read gives it.

mod forms;
mod steps;

pub use forms::*;

use crate::error::PageError;
use crate::page::Choice;
use crate::page::{Chrome, html};
use crate::pictures::{self, Coverage, Strip};
use crate::refusal::{Note, Refusal};
use crate::session::Signed;
use crate::timeline::{self, Line};
use crate::words::{self, Names, cap, day, day_of, moment};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use carepath_engine::domain::Asked;
use carepath_engine::domain::ReadinessAsk;
use carepath_engine::domain::{
    Action, ClientView, ConsentExpiry, GateReason, GateReport, HandoffTarget, ReferralCourse, Step,
    VisibleClient,
};
use carepath_engine::ids::{ClientId, OrgId, StaffId};
use carepath_engine::pathway::{AllowedMove, DischargeKind, LevelId};
use carepath_engine::{CensusRow, Engine, OrgListing};
use serde::Deserialize;
use std::borrow::Borrow;
use std::collections::HashMap;
use steps::Panel;

/// One gate of a checklist.
pub struct GateLine {
    pub met: bool,
    /// Met only because the move does not need it (no MAT plan to continue, nobody outside
    /// receiving the client).
    pub not_needed: bool,
    pub what: &'static str,
    pub why: String,
    /// The form on this page that meets it, and what to click.
    pub action: Option<(&'static str, &'static str)>,
}

/// A checklist for one move.
pub struct Checklist {
    pub title: String,
    pub gates: Vec<GateLine>,
    pub ready: bool,
}

/// A row of a table of referrals, bookings or consents.
pub struct Row {
    pub cells: Vec<String>,
    pub status: String,
    pub tone: &'static str,
    /// What the record holder may do to it from here.
    pub act: Option<RowAct>,
}

/// A one-button form on a row (withdraw a referral, revoke a consent), asking first.
pub struct RowAct {
    /// The form's id (its `form` field) and where it posts.
    pub form: &'static str,
    pub action: String,
    pub label: &'static str,
    pub confirm: String,
}

/// A provider to choose, with what it has open.
pub struct Offer {
    pub value: String,
    pub label: String,
    /// Chosen when the page opens.
    pub chosen: bool,
}

#[derive(Template)]
#[template(path = "client.html")]
struct ClientPage {
    chrome: Chrome,
    done: Option<&'static str>,
    version: i64,
    path: String,
    name: Option<String>,
    record_number: Option<String>,
    /// Where the client stands, in one sentence.
    situation: String,
    /// What the page waits for when there is no step to take.
    waiting: Option<String>,
    /// The next steps, in the engine's order, each a form in place.
    steps: Vec<Panel>,
    /// Every other form this reader has.
    more: Vec<Panel>,
    facts: Vec<(&'static str, String)>,
    strip: Option<Strip>,
    coverage: Option<Coverage>,
    checklists: Vec<Checklist>,
    /// The moves to check readiness for (value, label, selected).
    moves: Vec<(String, String, bool)>,
    transitions: Vec<Choice>,
    /// The move the plan and move forms open on (`step_down:residential`,
    /// `discharge:planned`): the next step's, else the readiness checklist's.
    next_move: Option<String>,
    discharges: Vec<Choice>,
    /// The discharge kind the discharge form opens on.
    discharge_kind: Option<String>,
    levels: Vec<Choice>,
    /// Admission: the levels, the one the assessment recommends chosen; the providers.
    admissions: Vec<Choice>,
    admit_level: Option<String>,
    admit_providers: Vec<Offer>,
    admit_hours: String,
    move_hours: String,
    /// The referral form: the level it opens on, the providers a consent lets the record go
    /// to that offer a level, and those of that level no consent names.
    referral_level: Option<String>,
    referral_level_name: Option<String>,
    referral_providers: Vec<Offer>,
    /// Providers a consent lets the record go to, of other levels than the referral's.
    referral_others: Vec<Offer>,
    unconsented: Vec<String>,
    /// The consent form: the organizations, the one a move needs named chosen.
    consent_orgs: Vec<Offer>,
    aftercare_orgs: Vec<Choice>,
    aftercare_at: String,
    mat_orgs: Vec<Choice>,
    refill_on: String,
    aftercare_kinds: Vec<Choice>,
    mat_kinds: Vec<Choice>,
    referrals: Vec<Row>,
    bookings: Vec<Row>,
    consents: Vec<Row>,
    timeline: Vec<Line>,
    today: String,
    csrf: String,
    refusal: Option<Refusal>,
    /// The reader may override a gate (a supervisor).
    overrides: bool,
}

impl ClientPage {
    /// The hidden fields every form of this page carries: the form's id, a fresh idempotency
    /// key, the version the page shows and the way back.
    fn hidden(&self, form: &str) -> String {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <input type=\"hidden\" name=\"idem\" value=\"{}\">\
             <input type=\"hidden\" name=\"version\" value=\"{}\">\
             <input type=\"hidden\" name=\"back\" value=\"{}\">\
             <input type=\"hidden\" name=\"form\" value=\"{}\">",
            self.csrf,
            crate::action::new_key(),
            self.version,
            self.path,
            form
        )
    }

    /// A text field's value: what was typed, on the form just refused; else `default`.
    fn val(&self, form: &str, name: &str, default: &str) -> String {
        self.refusal
            .as_ref()
            .and_then(|r| r.value(form, name))
            .unwrap_or(default)
            .to_owned()
    }

    /// Whether a choice is chosen: as it was sent, on the form just refused; else `default`.
    fn on(&self, form: &str, name: &str, value: &str, default: impl Borrow<bool>) -> bool {
        match &self.refusal {
            Some(r) if r.form == form => r.sent(name, value),
            _ => *default.borrow(),
        }
    }

    fn refused(&self, form: &str) -> Option<&Refusal> {
        self.refusal.as_ref().filter(|r| r.form == form)
    }

    /// Whether `field` of `form` is the one the refusal concerns.
    fn invalid(&self, form: &str, field: &str) -> bool {
        self.refused(form)
            .is_some_and(|r| r.field.as_deref() == Some(field))
    }

    /// The refusal said next to `field` of `form`, when it concerns that field.
    fn note(&self, form: &str, field: &str) -> String {
        match self.refused(form) {
            Some(r) if r.field.as_deref() == Some(field) => Note {
                id: format!("{form}-refused"),
                r,
            }
            .render()
            .unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// The refusal said at the top of `form`, when it concerns no one field the form says a
    /// refusal next to.
    fn top(&self, form: &str) -> String {
        match self.refused(form) {
            Some(r) if r.field.as_deref().is_none_or(|f| !noted(form, f)) => Note {
                id: format!("{form}-refused"),
                r,
            }
            .render()
            .unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// The refusal of a form that is not one of the panels (a row's button), said at the top.
    fn loose(&self) -> String {
        match &self.refusal {
            Some(r) if !self.steps.iter().chain(&self.more).any(|p| p.id == r.form) => Note {
                id: format!("{}-refused", r.form),
                r,
            }
            .render()
            .unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// The heading of column `i` of a table of this page, which a phone shows above each cell.
    fn head(&self, table: &str, i: &usize) -> &'static str {
        let heads: &[&'static str] = match table {
            "referrals" => &["Provider", "Level", "Sent", "Answer due"],
            "bookings" => &["What", "When"],
            "consents" => &["May receive", "Purpose", "Signed", "Ends"],
            _ => &[],
        };
        heads.get(*i).copied().unwrap_or("")
    }

    /// Whether "More actions" opens: a form in it was just refused.
    fn more_open(&self) -> bool {
        self.refusal
            .as_ref()
            .is_some_and(|r| self.more.iter().any(|p| p.id == r.form))
    }

    fn admit_level_is(&self, level: &str) -> bool {
        self.admit_level.as_deref() == Some(level)
    }

    fn referral_level_is(&self, level: &str) -> bool {
        self.referral_level.as_deref() == Some(level)
    }

    fn discharge_kind_is(&self, kind: &str) -> bool {
        self.discharge_kind.as_deref() == Some(kind)
    }

    /// The gates a supervisor may override on `form`, just refused for them.
    fn overridable(&self, form: &str) -> &[(&'static str, &'static str)] {
        match self.refused(form) {
            Some(r) if self.overrides => &r.gates,
            _ => &[],
        }
    }

    /// Whether the move or handoff option `value` is the one the form opens on.
    fn preselected(&self, value: &str) -> bool {
        self.next_move.as_deref() == Some(value)
    }
}

#[derive(Deserialize)]
pub struct PageQuery {
    done: Option<String>,
    /// The move to check readiness for: `<kind>:<level>` or `discharge:<kind>`.
    check: Option<String>,
}

pub(crate) fn parse_id(id: &str) -> Result<ClientId, PageError> {
    uuid::Uuid::parse_str(id)
        .map(ClientId)
        .map_err(|_| PageError::Engine(carepath_engine::Error::NotFound("client".into())))
}

/// `GET /clients/{id}`.
pub async fn page(
    State(engine): State<Engine>,
    signed: Signed,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    let page = draw(
        &engine,
        &signed,
        id,
        q.check.as_deref(),
        q.done.as_deref(),
        None,
    )
    .await?;
    html(&page)
}

/// The client's page again, with `refusal`'s form open and what was typed kept, answered with
/// `status`. `None` when the page cannot be drawn (then the problem page says it).
pub async fn redraw(
    engine: &Engine,
    signed: &Signed,
    id: ClientId,
    refusal: Refusal,
    status: StatusCode,
) -> Option<Response> {
    let page = draw(engine, signed, id, None, None, Some(refusal))
        .await
        .ok()?;
    let body = page.render().ok()?;
    Some((status, axum::response::Html(body)).into_response())
}

async fn draw(
    engine: &Engine,
    signed: &Signed,
    id: ClientId,
    check: Option<&str>,
    done: Option<&str>,
    refusal: Option<Refusal>,
) -> Result<ClientPage, PageError> {
    let actor = &signed.actor;
    // One read: the client as this reader may see it, with the readiness of the move asked
    // and the next steps.
    let asked = Asked {
        readiness: true,
        readiness_of: check.and_then(parse_check),
    };
    let client = engine.read_client_asking(actor, id, &asked).await?;
    let directory = engine.directory(actor).await?;
    let names = Names::from(engine, &directory);
    let now = engine.clock().now();
    let today = words::local_date(now);
    let identity = client.identity.shown().cloned().flatten();
    let full = client.view == ClientView::Full;
    let books =
        client.aftercare.is_shown() && client.mat_bookings.is_shown() && client.movement.is_shown();
    let census = if full {
        engine.census(actor).await?
    } else {
        Vec::new()
    };
    let open = open_slots(&census);

    let facts = facts(engine, actor, &client, &names).await?;

    // Readiness, as the domain chose and checked it.
    let moves: &[AllowedMove] = client.allowed_moves.items();
    let checklists: Vec<Checklist> = client
        .readiness
        .items()
        .iter()
        .map(|c| checklist(&names, &c.target, c.gates.clone()))
        .collect();
    let next = client.readiness.items().first().map(|c| c.ask.clone());
    let mut move_choices = Vec::new();
    for m in moves {
        if let Some((value, label)) = move_value(&names, m) {
            let selected = next.as_ref().is_some_and(|a| value == check_value(a));
            move_choices.push((value, label, selected));
        }
    }
    if let Some(ask @ ReadinessAsk::Discharge { kind, .. }) = &next {
        move_choices.push((check_value(ask), cap(words::discharge(*kind)), true));
    }

    // The forms this reader has, and the next steps among them.
    let transitions: Vec<Choice> = moves
        .iter()
        .filter_map(|m| match m {
            AllowedMove::Transition { kind, to } => Some(Choice {
                value: steps::move_option(*kind, to),
                label: format!("{} to {}", cap(words::transition(*kind)), names.level(to)),
            }),
            _ => None,
        })
        .collect();
    let discharges: Vec<Choice> = moves
        .iter()
        .filter_map(|m| match m {
            AllowedMove::Discharge { kind } => Some(Choice {
                value: kind.as_str().into(),
                label: cap(words::discharge(*kind)),
            }),
            _ => None,
        })
        .collect();
    let admissions: Vec<Choice> = moves
        .iter()
        .filter_map(|m| match m {
            AllowedMove::Admission { to } => Some(Choice {
                value: to.0.clone(),
                label: names.level(to),
            }),
            _ => None,
        })
        .collect();
    // The forms this reader has: the engine's actions for them on this client now.
    let available: Vec<&'static str> = client
        .actions
        .iter()
        .filter_map(|a| form_of_action(*a, full, books))
        .collect();
    let steps: &[Step] = &client.next_steps;
    let mut step_panels: Vec<Panel> = Vec::new();
    for step in steps {
        let id = steps::form_of(step);
        if !step_panels.iter().any(|p| p.id == id) {
            step_panels.push(steps::panel(&names, &client, step));
        }
    }
    let mut more: Vec<Panel> = available
        .iter()
        .filter(|id| !step_panels.iter().any(|p| p.id == **id))
        .map(|id| steps::other(id))
        .collect();
    // Open: the form just refused, else the first step.
    let refused = refusal.as_ref().map(|r| r.form.clone());
    match &refused {
        Some(form) => {
            for p in step_panels.iter_mut().chain(more.iter_mut()) {
                p.open = p.id == form;
            }
        }
        None => {
            if let Some(first) = step_panels.first_mut() {
                first.open = true;
            }
        }
    }

    // What the forms open on, from the steps and the record.
    let recommended = client
        .assessments
        .items()
        .iter()
        .max_by_key(|a| a.assessed_at)
        .map(|a| a.recommended_level.clone());
    let next_move = steps
        .iter()
        .find_map(steps::move_value)
        .or_else(|| next.as_ref().and_then(|a| form_value(moves, a)));
    let admit_level = steps
        .iter()
        .find_map(|s| match s {
            Step::Admit { level } => level.clone(),
            _ => None,
        })
        .map(|l| l.0);
    let referral_level: Option<LevelId> = steps
        .iter()
        .find_map(|s| match s {
            Step::SendReferral { to_level, .. } => Some(to_level.clone()),
            _ => None,
        })
        .or_else(|| match &next {
            Some(ReadinessAsk::MoveTo { level, .. }) => Some(level.clone()),
            _ => None,
        })
        .or(recommended);
    let not_reached = client
        .transit
        .as_ref()
        .filter(|t| t.missed)
        .map(|t| t.provider);
    // A move refused for want of an accepted referral: the referral form opens on its level.
    let referral_level = refusal
        .as_ref()
        .filter(|r| r.form == "move")
        .and_then(|r| r.value("move", "move"))
        .and_then(|m| m.split_once(':'))
        .map(|(_, l)| LevelId::new(l))
        .or(referral_level);
    let (referral_providers, referral_others, unconsented) = referral_offers(
        &client,
        &names,
        &directory,
        &open,
        referral_level.as_ref(),
        not_reached,
    );
    let consent_for: Option<OrgId> = steps.iter().find_map(|s| match s {
        Step::RecordConsent { org } => *org,
        _ => None,
    });
    let aftercare_at = steps
        .iter()
        .find_map(|s| match s {
            Step::BookAftercare { from, .. } => Some(format!("{}T10:00", from.format("%Y-%m-%d"))),
            _ => None,
        })
        .unwrap_or_default();
    let refill_on = steps
        .iter()
        .find_map(|s| match s {
            Step::BookMat { by } => Some(by.format("%Y-%m-%d").to_string()),
            _ => None,
        })
        .unwrap_or_default();
    let discharge_kind = steps.iter().find_map(|s| match s {
        Step::Discharge { kind: Some(k) } => Some(k.as_str().to_owned()),
        _ => None,
    });
    // Planned hours open on the middle of the level's band.
    let hours_of = |level: Option<&str>| {
        level
            .and_then(|l| engine.pathway().level(&LevelId::new(l)))
            .map_or_else(
                || "20".to_owned(),
                |l| {
                    ((l.weekly_hours.min + l.weekly_hours.max) / 2.0)
                        .round()
                        .to_string()
                },
            )
    };
    let admit_hours = hours_of(
        admit_level
            .as_deref()
            .or(admissions.first().map(|c| c.value.as_str())),
    );
    let move_hours = hours_of(
        next_move
            .as_deref()
            .and_then(|m| m.split_once(':'))
            .map(|(_, l)| l),
    );
    let admit_providers = admit_offers(
        &names,
        &directory,
        &open,
        &admissions,
        admit_level.as_deref(),
    );

    let referrals = client
        .referrals
        .items()
        .iter()
        .map(|r| Row {
            cells: vec![
                names.org(&r.provider),
                names.level(&r.to_level),
                moment(r.sent_at),
                moment(r.answer_by),
            ],
            status: words::referral_status(r.status).to_owned(),
            tone: match r.status.course() {
                ReferralCourse::Taken => "ok",
                ReferralCourse::Failed => "bad",
                ReferralCourse::Waiting | ReferralCourse::Withdrawn => "warn",
            },
            act: (full && r.status.withdrawable()).then(|| RowAct {
                form: "withdraw-referral",
                action: format!("/clients/{id}/referrals/{}/withdraw", r.id),
                label: "Withdraw",
                confirm: format!(
                    "Withdraw the referral to {} for {}? The provider is told.",
                    names.org(&r.provider),
                    names.level(&r.to_level)
                ),
            }),
        })
        .collect();
    let mut bookings = Vec::new();
    let window = client.movement.shown().and_then(|m| m.aftercare_window);
    for a in client.aftercare.items() {
        let what = format!("{} at {}", words::aftercare(a.kind), names.org(&a.provider));
        let mut row = booking_row(
            what,
            moment(a.at),
            a.outcome.is_some(),
            words::local_date(a.at) < today,
            not_reached == Some(a.provider),
        );
        // The window is the gate's, counted in the days it counts them in.
        if let Some((from, through)) = window
            && a.outcome.is_none()
            && !(from..=through).contains(&a.at.date_naive())
        {
            row.status = format!(
                "outside the aftercare window ({} to {}): it does not count for the move",
                day(from),
                day(through)
            );
            row.tone = "warn";
        }
        bookings.push(row);
    }
    for b in client.mat_bookings.items() {
        let what = format!(
            "MAT {} at {}",
            words::mat_booking(b.kind),
            names.org(&b.provider)
        );
        bookings.push(booking_row(
            what,
            day(b.on),
            b.outcome.is_some(),
            b.on < today,
            not_reached == Some(b.provider),
        ));
    }
    let consents = consent_rows(&client, &names, full);
    let timeline = if client.history.is_shown() {
        let events = engine.read_events(actor, id, 0, 1000).await?;
        timeline::lines(&names, &events)
    } else {
        Vec::new()
    };

    let path = format!("/clients/{id}");
    let title = identity.as_ref().map_or_else(
        || format!("Client {}", short(id)),
        |i| i.display_name.clone(),
    );
    let chrome = Chrome::new(engine, signed, "/clients", title).await?;
    let csrf = chrome.csrf.clone();
    let orgs: Vec<&OrgListing> = directory
        .iter()
        .filter(|o| o.id != client.home_org)
        .collect();
    Ok(ClientPage {
        chrome,
        done: crate::action::done_words(done),
        version: client.version,
        path,
        name: identity.as_ref().map(|i| i.display_name.clone()),
        record_number: identity.and_then(|i| i.record_number),
        situation: steps::situation(&names, &client),
        waiting: if step_panels.is_empty() {
            steps::waiting(&names, &client)
        } else {
            None
        },
        steps: step_panels,
        more,
        facts,
        strip: pictures::strip(&client, &names, now),
        coverage: pictures::coverage(&client, &names, today),
        checklists,
        moves: move_choices,
        next_move,
        transitions,
        discharges,
        discharge_kind,
        levels: Choice::levels(engine),
        admissions,
        admit_level,
        admit_providers,
        admit_hours,
        move_hours,
        referral_level: referral_level.clone().map(|l| l.0),
        referral_level_name: referral_level.as_ref().map(|l| names.level(l)),
        referral_providers,
        referral_others,
        unconsented,
        consent_orgs: orgs
            .iter()
            .map(|o| Offer {
                value: o.id.to_string(),
                label: o.name.clone(),
                chosen: consent_for == Some(o.id),
            })
            .collect(),
        aftercare_orgs: orgs
            .iter()
            .filter(|o| client.may_go_to(o.id) || !client.may_receive.is_shown())
            .map(|o| Choice::org(o))
            .collect(),
        aftercare_at,
        mat_orgs: directory
            .iter()
            .filter(|o| !o.mat_services.is_empty())
            .map(Choice::org)
            .collect(),
        refill_on,
        aftercare_kinds: Choice::aftercare_kinds(str::to_owned),
        mat_kinds: Choice::mat_kinds(),
        referrals,
        bookings,
        consents,
        timeline,
        today: today.format("%Y-%m-%d").to_string(),
        csrf,
        refusal,
        overrides: client.actions.contains(&Action::OverrideGates),
    })
}

/// The facts of the record this reader sees.
async fn facts(
    engine: &Engine,
    actor: &carepath_engine::domain::Actor,
    client: &VisibleClient,
    names: &Names<'_>,
) -> Result<Vec<(&'static str, String)>, PageError> {
    let mut facts = Vec::new();
    if let Some(p) = &client.placement {
        facts.push((
            "In care at",
            format!(
                "{} at {}, since {}",
                names.level(&p.level),
                names.org(&p.provider),
                day_of(p.since)
            ),
        ));
    }
    if let Some(t) = &client.transit {
        facts.push(if t.missed {
            (
                "Did not arrive at",
                format!(
                    "{} at {}, expected by {}",
                    names.level(&t.to_level),
                    names.org(&t.provider),
                    moment(t.arrive_by)
                ),
            )
        } else {
            (
                "On the way to",
                format!(
                    "{} at {}, expected by {}",
                    names.level(&t.to_level),
                    names.org(&t.provider),
                    moment(t.arrive_by)
                ),
            )
        });
    }
    if let Some(e) = &client.episode {
        facts.push((
            "Episode",
            format!("{}, admitted {}", e.number, day_of(e.admitted_at)),
        ));
    }
    if let Some(cm) = client.case_management.shown()
        && client.episode.is_some()
    {
        let name = match cm.case_manager {
            Some(s) => staff_name(engine, actor, s).await?,
            None => "not named".into(),
        };
        facts.push(("Case manager", name));
    }
    if let Some(Some(y)) = client.birth_year.shown() {
        facts.push(("Born", y.to_string()));
    }
    Ok(facts)
}

fn short(id: ClientId) -> String {
    id.to_string().chars().take(8).collect()
}

async fn staff_name(
    engine: &Engine,
    actor: &carepath_engine::domain::Actor,
    staff: StaffId,
) -> Result<String, PageError> {
    Ok(engine
        .staff_members(actor, &[staff])
        .await?
        .into_iter()
        .next()
        .and_then(|s| s.name)
        .unwrap_or_else(|| "a colleague".into()))
}

fn booking_row(what: String, when: String, done: bool, past: bool, not_reached: bool) -> Row {
    let (status, tone) = if done {
        ("outcome recorded", "ok")
    } else if not_reached {
        ("the client did not arrive at this provider", "bad")
    } else if past {
        ("outcome not yet recorded", "warn")
    } else {
        ("booked", "ok")
    };
    Row {
        cells: vec![what, when],
        status: status.into(),
        tone,
        act: None,
    }
}

fn consent_rows(client: &VisibleClient, names: &Names<'_>, full: bool) -> Vec<Row> {
    client
        .consents
        .items()
        .iter()
        .map(|seen| {
            let (c, active) = (&seen.consent, seen.in_force);
            Row {
                cells: vec![
                    c.recipients
                        .iter()
                        .map(|o| names.org(o))
                        .collect::<Vec<_>>()
                        .join(", "),
                    c.purpose.clone(),
                    day(c.signed_on),
                    match (c.expiry, c.ends_at) {
                        (ConsentExpiry::On(d), _) => format!("until {}", day(d)),
                        (ConsentExpiry::EndOfTreatment, None) => "until treatment ends".into(),
                        (ConsentExpiry::EndOfTreatment, Some(end)) => {
                            format!("until treatment ends: {}", moment(end))
                        }
                        (ConsentExpiry::Never, _) => "no expiry".into(),
                    },
                ],
                status: if c.revoked_at.is_some() {
                    "revoked"
                } else if active {
                    "active"
                } else {
                    "ended"
                }
                .into(),
                tone: if active { "ok" } else { "bad" },
                act: (full && active).then(|| RowAct {
                    form: "revoke-consent",
                    action: format!("/clients/{}/consents/{}/revoke", client.id, c.id),
                    label: "Revoke",
                    confirm: "Revoke this consent? Nothing more goes to the organizations it \
                              names, and their open referrals are withdrawn."
                        .to_owned(),
                }),
            }
        })
        .collect()
}

/// Open places per provider and level (capacity less those in care and those held).
fn open_slots(census: &[CensusRow]) -> HashMap<(OrgId, LevelId), i32> {
    census
        .iter()
        .map(|r| ((r.provider, r.level.clone()), r.open_slots()))
        .collect()
}

fn places(open: &HashMap<(OrgId, LevelId), i32>, org: OrgId, level: &LevelId) -> String {
    match open.get(&(org, level.clone())) {
        Some(0) => "no place open".into(),
        Some(1) => "1 place open".into(),
        Some(n) => format!("{n} places open"),
        None => "places unknown".into(),
    }
}

/// The providers a referral may go to: those offering a level that a consent in force (or the
/// record holder's own standing) lets the record go to, with their open places — those of the
/// referral's level, and those of other levels —; the one the client did not reach left out.
/// And the providers of the referral's level no consent names, by name.
fn referral_offers(
    client: &VisibleClient,
    names: &Names<'_>,
    directory: &[OrgListing],
    open: &HashMap<(OrgId, LevelId), i32>,
    level: Option<&LevelId>,
    not_reached: Option<OrgId>,
) -> (Vec<Offer>, Vec<Offer>, Vec<String>) {
    let mut offers: Vec<(bool, Offer)> = Vec::new();
    let mut unconsented = Vec::new();
    for o in directory {
        if Some(o.id) == not_reached {
            continue;
        }
        let mut offered: Vec<&LevelId> = o.levels.iter().map(|(l, _)| l).collect();
        if offered.is_empty() {
            continue;
        }
        let of_level = level.is_some_and(|l| offered.contains(&l));
        if !client.may_go_to(o.id) {
            if of_level {
                unconsented.push(o.name.clone());
            }
            continue;
        }
        if let Some(l) = level.filter(|_| of_level) {
            offered.retain(|x| *x == l);
        }
        let label = offered
            .iter()
            .map(|l| format!("{}, {}", names.level(l), places(open, o.id, l)))
            .collect::<Vec<_>>()
            .join("; ");
        offers.push((
            of_level,
            Offer {
                value: o.id.to_string(),
                label: format!("{} — {label}", o.name),
                chosen: false,
            },
        ));
    }
    let (of_level, others): (Vec<_>, Vec<_>) = offers.into_iter().partition(|(l, _)| *l);
    (
        of_level.into_iter().map(|(_, o)| o).collect(),
        others.into_iter().map(|(_, o)| o).collect(),
        unconsented,
    )
}

/// The providers to admit at: each provider and level the pathway admits to, with its open
/// places; the first offering the level chosen, chosen.
fn admit_offers(
    names: &Names<'_>,
    directory: &[OrgListing],
    open: &HashMap<(OrgId, LevelId), i32>,
    admissions: &[Choice],
    level: Option<&str>,
) -> Vec<Offer> {
    let mut offers = Vec::new();
    let mut chosen = false;
    for o in directory {
        for (l, _) in &o.levels {
            if !admissions.iter().any(|a| a.value == l.0) {
                continue;
            }
            let pick = !chosen && level == Some(l.0.as_str());
            chosen |= pick;
            offers.push(Offer {
                value: o.id.to_string(),
                label: format!("{} — {}, {}", o.name, names.level(l), places(open, o.id, l)),
                chosen: pick,
            });
        }
    }
    offers
}

/// Whether `form`'s template says a refusal next to `field` (`self.note(form, field)`); any
/// other is said at the top of the form.
fn noted(form: &str, field: &str) -> bool {
    let fields: &[&str] = match form {
        "admit" => &["level", "provider", "hours"],
        "send-referral" => &["to_level", "provider"],
        "record-consent" => &[
            "recipient",
            "purpose",
            "information",
            "expiry",
            "expires_on",
            "signed_on",
        ],
        "plan" => &["move", "on"],
        "move" => &["move", "hours", "override", "override_reason"],
        "discharge" => &["kind", "override", "override_reason"],
        "record-assessment" => &["recommended_level", "d1", "d2", "d3", "d4", "d5", "d6"],
        "mat-plan" => &["medication", "supply_through", "last_injection_on"],
        "identity" => &["display_name"],
        "book-aftercare" => &["provider", "kind", "at"],
        "book-refill" => &["provider", "kind", "on"],
        _ => &[],
    };
    fields.contains(&field)
}

/// The form of the page an action is done with, where this reader's view has it: the record
/// holder's forms need the full view, the booking forms the parts booking needs.
fn form_of_action(a: Action, full: bool, books: bool) -> Option<&'static str> {
    let (form, shown) = match a {
        Action::RecordConsent => ("record-consent", full),
        Action::RecordAssessment => ("record-assessment", full),
        Action::RecordMatPlan => ("mat-plan", full),
        Action::RecordIdentity => ("identity", full),
        Action::Admit => ("admit", full),
        Action::SendReferral => ("send-referral", full),
        Action::PlanHandoff => ("plan", full),
        Action::Move => ("move", full),
        Action::Discharge => ("discharge", full),
        Action::BookAftercare => ("book-aftercare", books),
        Action::BookMat => ("book-refill", books),
        Action::ConfirmArrival => ("arrival", true),
        Action::ReportNoShow => ("no-show", true),
        Action::OverrideGates => return None,
    };
    shown.then_some(form)
}

fn check_value(a: &ReadinessAsk) -> String {
    match a {
        ReadinessAsk::MoveTo { level, .. } => format!("move:{}", level.0),
        ReadinessAsk::Discharge { kind, .. } => format!("discharge:{}", kind.as_str()),
    }
}

fn parse_check(v: &str) -> Option<ReadinessAsk> {
    let (what, rest) = v.split_once(':')?;
    match what {
        "move" => Some(ReadinessAsk::MoveTo {
            level: LevelId::new(rest),
            provider: None,
        }),
        "discharge" => Some(ReadinessAsk::Discharge {
            kind: DischargeKind::parse(rest)?,
            provider: None,
        }),
        _ => None,
    }
}

/// The move or handoff forms' option for `ask` (`<kind>:<level>`, `discharge:<kind>`), if the
/// pathway allows it from here.
fn form_value(moves: &[AllowedMove], ask: &ReadinessAsk) -> Option<String> {
    match ask {
        ReadinessAsk::MoveTo { level, .. } => moves.iter().find_map(|m| match m {
            AllowedMove::Transition { kind, to } if to == level => {
                Some(steps::move_option(*kind, to))
            }
            _ => None,
        }),
        ReadinessAsk::Discharge { kind, .. } => Some(format!("discharge:{}", kind.as_str())),
    }
}

fn move_value(names: &Names<'_>, m: &AllowedMove) -> Option<(String, String)> {
    match m {
        AllowedMove::Transition { kind, to } => Some((
            format!("move:{}", to.0),
            format!("{} to {}", cap(words::transition(*kind)), names.level(to)),
        )),
        _ => None,
    }
}

fn checklist(names: &Names<'_>, target: &HandoffTarget, gates: Vec<GateReport>) -> Checklist {
    let gates: Vec<GateLine> = gates
        .into_iter()
        .map(|g| GateLine {
            met: g.met,
            not_needed: matches!(
                g.reason,
                GateReason::NoMatPlan
                    | GateReason::NoTargetLevel
                    | GateReason::NoReceivingOrganization
                    | GateReason::SameProviderSameLevel
                    | GateReason::HoldsTheRecord { .. }
            ),
            what: words::gate(g.gate),
            why: cap(&names.gate_reason(&g.reason)),
            action: (!g.met).then(|| crate::refusal::gate_fix(g.gate)).flatten(),
        })
        .collect();
    Checklist {
        title: format!("Ready for the {}?", names.target(target)),
        ready: gates.iter().all(|g| g.met),
        gates,
    }
}
