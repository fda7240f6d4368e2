//! A client's page: who they are, where they are, the levels over time and the MAT coverage as
//! pictures, the readiness checklist for the next move and for discharge — each gate met or
//! not in words, with the form that meets it one click away — the referrals, bookings and
//! consents, and the timeline in words. The record holder's case managers get the forms that
//! move the client; what each role sees is what the engine's read gives it (a
//! `VisibleClient`: a part the reader may not see is not there to show).

use crate::action::{self, Fields, bad};
use crate::error::PageError;
use crate::page::Choice;
use crate::page::{Chrome, html};
use crate::pictures::{self, Coverage, Strip};
use crate::session::Signed;
use crate::timeline::{self, Line};
use crate::words::{self, Names, cap, day, moment};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use carepath_engine::domain::Asked;
use carepath_engine::domain::ReadinessAsk;
use carepath_engine::domain::{
    ClientStatus, ClientView, Command, ConsentExpiry, GateReport, HandoffTarget, Medication,
    ReferralCourse,
};
use carepath_engine::ids::{ClientId, StaffId};
use carepath_engine::pathway::{AllowedMove, DischargeKind, Gate, LevelId, TransitionKind};
use carepath_engine::{Engine, OrgListing};
use serde::Deserialize;

/// One gate of a checklist.
pub struct GateLine {
    pub met: bool,
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
    facts: Vec<(&'static str, String)>,
    full: bool,
    books: bool,
    registered_or_discharged: bool,
    in_transit: bool,
    /// In care: a handoff may be planned.
    active: bool,
    strip: Option<Strip>,
    coverage: Option<Coverage>,
    checklists: Vec<Checklist>,
    /// The moves to check readiness for (value, label, selected).
    moves: Vec<(String, String, bool)>,
    transitions: Vec<Choice>,
    /// The move the readiness checklist is for, as the move and handoff forms' options say it
    /// (`step_down:residential`, `discharge:planned`): chosen in them when the page opens.
    next_move: Option<String>,
    discharges: Vec<Choice>,
    levels: Vec<Choice>,
    providers: Vec<Choice>,
    orgs: Vec<Choice>,
    mat_orgs: Vec<Choice>,
    aftercare_kinds: Vec<Choice>,
    mat_kinds: Vec<Choice>,
    admissions: Vec<Choice>,
    referrals: Vec<Row>,
    bookings: Vec<Row>,
    consents: Vec<Row>,
    timeline: Vec<Line>,
    today: String,
    csrf: String,
}

impl ClientPage {
    /// The hidden fields every form of this page carries, with a fresh idempotency key.
    fn hidden(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <input type=\"hidden\" name=\"idem\" value=\"{}\">\
             <input type=\"hidden\" name=\"version\" value=\"{}\">\
             <input type=\"hidden\" name=\"back\" value=\"{}\">",
            self.csrf,
            action::new_key(),
            self.version,
            self.path
        )
    }

    /// Whether the move or handoff option `value` is the one the readiness checklist is for.
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

fn parse_id(id: &str) -> Result<ClientId, PageError> {
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
    let actor = &signed.actor;
    // One read: the client as this reader may see it, with the readiness of the move asked.
    let asked = Asked {
        readiness: true,
        readiness_of: q.check.as_deref().and_then(parse_check),
    };
    let client = engine.read_client_asking(actor, id, &asked).await?;
    let directory = engine.directory(actor).await?;
    let names = Names::from(&engine, &directory);
    let now = engine.clock().now();
    let today = now.date_naive();
    let identity = client.identity.shown().cloned().flatten();
    let full = client.view == ClientView::Full;
    let movement = client.movement.shown();

    let mut facts = vec![("Status", words::status(client.status).to_owned())];
    if let Some(p) = &client.placement {
        facts.push((
            "In care at",
            format!(
                "{} at {}, since {}",
                names.level(&p.level),
                names.org(&p.provider),
                day(p.since.date_naive())
            ),
        ));
    }
    if let Some(t) = &client.transit {
        facts.push((
            "On the way to",
            format!(
                "{} at {}, expected by {}{}",
                names.level(&t.to_level),
                names.org(&t.provider),
                moment(t.arrive_by),
                if t.missed { " — did not arrive" } else { "" }
            ),
        ));
    }
    if client.status == ClientStatus::Discharged
        && let Some(d) = client
            .history
            .shown()
            .and_then(|h| h.last_discharge.as_ref())
    {
        facts.push((
            "Discharged",
            format!(
                "{} from {}, {}",
                cap(words::discharge(d.kind)),
                names.level(&d.from_level),
                day(d.at.date_naive())
            ),
        ));
    }
    if let Some(l) = movement.and_then(|m| m.lost_to_care.as_ref()) {
        facts.push((
            "Lost to care",
            format!(
                "{} (since {})",
                words::lost(l.reason),
                day(l.since.date_naive())
            ),
        ));
    }
    if let Some(e) = &client.episode {
        facts.push((
            "Episode",
            format!("{}, admitted {}", e.number, day(e.admitted_at.date_naive())),
        ));
    }
    if let Some(cm) = client.case_management.shown() {
        if client.episode.is_some() {
            let name = match cm.case_manager {
                Some(s) => staff_name(&engine, actor, s).await?,
                None => "not named".into(),
            };
            facts.push(("Case manager", name));
        }
        if let Some(esc) = &cm.escalation {
            facts.push((
                "Escalated",
                format!(
                    "every referral to {} ran out on {}: send it on",
                    names.level(&esc.to_level),
                    day(esc.since.date_naive())
                ),
            ));
        }
    }
    if let Some(Some(y)) = client.birth_year.shown() {
        facts.push(("Born", y.to_string()));
    }
    if let Some(h) = movement.and_then(|m| m.handoff.as_ref()) {
        facts.push((
            "Planned",
            format!("{} on {}", names.target(&h.target), day(h.on)),
        ));
    }

    // Readiness, as the domain chose and checked it: the move asked, else the planned
    // handoff, the newest open referral or the first move the pathway allows; and a planned
    // discharge.
    let moves: &[AllowedMove] = client.allowed_moves.items();
    let checklists: Vec<Checklist> = client
        .readiness
        .items()
        .iter()
        .map(|c| checklist(&names, &c.target, c.gates.clone()))
        .collect();
    let next = client.readiness.items().first().map(|c| c.ask.clone());
    let next_move = next.as_ref().and_then(|a| form_value(moves, a));
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
        })
        .collect();
    let mut bookings = Vec::new();
    for a in client.aftercare.items() {
        let what = format!("{} at {}", words::aftercare(a.kind), names.org(&a.provider));
        bookings.push(booking_row(
            what,
            moment(a.at),
            a.outcome.is_some(),
            a.at.date_naive() < today,
        ));
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
        ));
    }
    let consents = client
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
            }
        })
        .collect();
    let timeline = if client.history.is_shown() {
        let events = engine.read_events(actor, id, 0, 1000).await?;
        timeline::lines(&names, &events)
    } else {
        Vec::new()
    };

    let (providers, levels) = choices(&engine, &names, &directory);
    let path = format!("/clients/{id}");
    let title = identity.as_ref().map_or_else(
        || format!("Client {}", short(id)),
        |i| i.display_name.clone(),
    );
    let chrome = Chrome::new(&engine, &signed, "/clients", title).await?;
    let csrf = chrome.csrf.clone();
    html(&ClientPage {
        chrome,
        done: action::done_words(q.done.as_deref()),
        version: client.version,
        path,
        name: identity.as_ref().map(|i| i.display_name.clone()),
        record_number: identity.and_then(|i| i.record_number),
        facts,
        full,
        books: client.aftercare.is_shown()
            && client.mat_bookings.is_shown()
            && client.movement.is_shown(),
        registered_or_discharged: matches!(
            client.status,
            ClientStatus::Registered | ClientStatus::Discharged
        ),
        in_transit: client.status == ClientStatus::InTransit,
        active: client.status == ClientStatus::Active,
        strip: pictures::strip(&client, &names, now),
        coverage: pictures::coverage(&client, &names, today),
        checklists,
        moves: move_choices,
        next_move,
        transitions: moves
            .iter()
            .filter_map(|m| match m {
                AllowedMove::Transition { kind, to } => Some(Choice {
                    value: format!("{}:{}", kind.as_str(), to.0),
                    label: format!("{} to {}", cap(words::transition(*kind)), names.level(to)),
                }),
                _ => None,
            })
            .collect(),
        discharges: moves
            .iter()
            .filter_map(|m| match m {
                AllowedMove::Discharge { kind } => Some(Choice {
                    value: kind.as_str().into(),
                    label: cap(words::discharge(*kind)),
                }),
                _ => None,
            })
            .collect(),
        admissions: moves
            .iter()
            .filter_map(|m| match m {
                AllowedMove::Admission { to } => Some(Choice {
                    value: to.0.clone(),
                    label: names.level(to),
                }),
                _ => None,
            })
            .collect(),
        levels,
        providers,
        orgs: directory
            .iter()
            .filter(|o| o.id != client.home_org)
            .map(Choice::org)
            .collect(),
        mat_orgs: directory
            .iter()
            .filter(|o| !o.mat_services.is_empty())
            .map(Choice::org)
            .collect(),
        aftercare_kinds: Choice::aftercare_kinds(str::to_owned),
        mat_kinds: Choice::mat_kinds(),
        referrals,
        bookings,
        consents,
        timeline,
        today: today.format("%Y-%m-%d").to_string(),
        csrf,
    })
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

fn booking_row(what: String, when: String, done: bool, past: bool) -> Row {
    Row {
        cells: vec![what, when],
        status: if done {
            "outcome recorded"
        } else if past {
            "outcome not yet recorded"
        } else {
            "booked"
        }
        .into(),
        tone: if done {
            "ok"
        } else if past {
            "warn"
        } else {
            "ok"
        },
    }
}

/// Providers (with the level each offers) and levels, to choose from.
fn choices(
    engine: &Engine,
    names: &Names<'_>,
    directory: &[OrgListing],
) -> (Vec<Choice>, Vec<Choice>) {
    let mut providers = Vec::new();
    for o in directory {
        for (level, _) in &o.levels {
            providers.push(Choice {
                value: o.id.to_string(),
                label: format!("{} — {}", o.name, names.level(level)),
            });
        }
    }
    (providers, Choice::levels(engine))
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
                Some(format!("{}:{}", kind.as_str(), to.0))
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
        AllowedMove::Discharge { kind } if *kind != DischargeKind::Planned => None,
        _ => None,
    }
}

fn checklist(names: &Names<'_>, target: &HandoffTarget, gates: Vec<GateReport>) -> Checklist {
    let gates: Vec<GateLine> = gates
        .into_iter()
        .map(|g| GateLine {
            met: g.met,
            what: words::gate(g.gate),
            why: cap(&names.gate_reason(&g.reason)),
            action: (!g.met).then(|| gate_action(g.gate)).flatten(),
        })
        .collect();
    Checklist {
        title: format!("Ready for the {}?", names.target(target)),
        ready: gates.iter().all(|g| g.met),
        gates,
    }
}

/// The form on the page that meets a gate.
fn gate_action(g: Gate) -> Option<(&'static str, &'static str)> {
    Some(match g {
        Gate::AcceptedReferral => ("#send-referral", "Send a referral"),
        Gate::Consent => ("#record-consent", "Record consent"),
        Gate::AftercareAppointment => ("#book-aftercare", "Book aftercare"),
        Gate::MatContinuity => ("#book-refill", "Book the refill"),
        Gate::Reassessment => ("#record-assessment", "Record an assessment"),
    })
}

// ---- the forms ------------------------------------------------------------------------------

form_route!(send_referral(id, uuid::Uuid) => Some(ClientId(id)), "referral-sent", |f| {
    let providers = f.orgs("provider", "a provider")?;
    if providers.is_empty() {
        return Err(bad("choose at least one provider".into()));
    }
    Ok(Command::SendReferral {
        to_level: f.level("to_level")?,
        providers,
    })
});

form_route!(record_consent(id, uuid::Uuid) => Some(ClientId(id)), "consent-recorded", |f| {
    let recipients = f.orgs("recipient", "a recipient")?;
    if recipients.is_empty() {
        return Err(bad(
            "name at least one organization the consent allows to receive the record".into(),
        ));
    }
    let expiry = match f.required("expiry", "when the consent ends")? {
        "end_of_treatment" => ConsentExpiry::EndOfTreatment,
        "never" => ConsentExpiry::Never,
        "on" => ConsentExpiry::On(f.date("expires_on", "the day the consent ends")?),
        _ => return Err(bad("choose when the consent ends".into())),
    };
    Ok(Command::RecordConsent {
        recipients,
        purpose: f.required("purpose", "the purpose")?.to_owned(),
        information: f
            .required("information", "what may be disclosed")?
            .to_owned(),
        expiry,
        signed_on: f.date("signed_on", "the day it was signed")?,
    })
});

form_route!(plan_handoff(id, uuid::Uuid) => Some(ClientId(id)), "handoff-planned", |f| {
    Ok(Command::PlanHandoff {
        target: target_field(f)?,
        on: f.date("on", "the day of the handoff")?,
    })
});

form_route!(move_client(id, uuid::Uuid) => Some(ClientId(id)), "moved", |f| {
    let (kind, to_level) = transition_field(f)?;
    Ok(Command::Transition {
        kind,
        to_level,
        provider: None,
        planned_hours_per_week: f.number("hours", "planned hours a week")?,
        track: f.get("track").map(str::to_owned),
        overrides: Vec::new(),
        emergency: None,
    })
});

form_route!(discharge(id, uuid::Uuid) => Some(ClientId(id)), "discharged", |f| {
    let kind = DischargeKind::parse(f.required("kind", "the kind of discharge")?)
        .ok_or_else(|| bad("choose the kind of discharge".into()))?;
    Ok(Command::Discharge {
        kind,
        provider: match f.get("provider") {
            Some(_) => Some(f.org("provider", "the receiving organization")?),
            None => None,
        },
        overrides: Vec::new(),
    })
});

form_route!(admit(id, uuid::Uuid) => Some(ClientId(id)), "admitted", |f| {
    Ok(Command::Admit {
        level: f.level("level")?,
        provider: f.org("provider", "the provider")?,
        planned_hours_per_week: f.number("hours", "planned hours a week")?,
        track: None,
        overrides: Vec::new(),
        emergency: None,
    })
});

form_route!(record_assessment(id, uuid::Uuid) => Some(ClientId(id)), "assessment-recorded", |f| {
    let mut dimensions = [0u8; 6];
    for (i, d) in dimensions.iter_mut().enumerate() {
        let name = format!("d{}", i + 1);
        *d = f
            .required(&name, "each of the six dimensions")?
            .parse()
            .map_err(|_| bad("rate each dimension 0 to 4".into()))?;
    }
    Ok(Command::RecordAssessment {
        recommended_level: f.level("recommended_level")?,
        dimensions,
        assessed_at: None,
    })
});

form_route!(record_mat_plan(id, uuid::Uuid) => Some(ClientId(id)), "mat-plan-recorded", |f| {
    let medication = match f.required("medication", "the medication")? {
        "buprenorphine" => Medication::Buprenorphine,
        "methadone" => Medication::Methadone,
        "naltrexone_oral" => Medication::NaltrexoneOral,
        "naltrexone_xr" => Medication::NaltrexoneXr,
        _ => return Err(bad("choose the medication".into())),
    };
    Ok(Command::RecordMatPlan {
        medication,
        supply_through: match f.get("supply_through") {
            Some(_) => Some(f.date("supply_through", "the last day the supply covers")?),
            None => None,
        },
        last_injection_on: match f.get("last_injection_on") {
            Some(_) => Some(f.date("last_injection_on", "the day of the last injection")?),
            None => None,
        },
    })
});

form_route!(record_identity(id, uuid::Uuid) => Some(ClientId(id)), "identity-recorded", |f| {
    Ok(Command::RecordIdentity {
        identity: carepath_engine::domain::ClientIdentity {
            display_name: f.required("display_name", "the name")?.to_owned(),
            record_number: f.get("record_number").map(str::to_owned),
        },
    })
});

fn transition_field(f: &Fields) -> Result<(TransitionKind, LevelId), PageError> {
    let v = f.required("move", "the move")?;
    let (kind, level) = v
        .split_once(':')
        .and_then(|(k, l)| Some((TransitionKind::parse(k)?, LevelId::new(l))))
        .ok_or_else(|| bad("choose the move".into()))?;
    Ok((kind, level))
}

fn target_field(f: &Fields) -> Result<HandoffTarget, PageError> {
    let v = f.required("move", "the move")?;
    if let Some(kind) = v.strip_prefix("discharge:") {
        return Ok(HandoffTarget::Discharge {
            kind: DischargeKind::parse(kind).ok_or_else(|| bad("choose the move".into()))?,
            provider: None,
        });
    }
    let (kind, to_level) = transition_field(f)?;
    Ok(HandoffTarget::Transition {
        kind,
        to_level,
        provider: None,
    })
}
