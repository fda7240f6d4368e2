//! The worklist: for an aftercare coordinator, the clients a consent names its organization
//! in whose planned handoff still needs a booking, whose follow-up is due, who missed a
//! booking or are lost to care (`Engine::coordination`); for case managers and supervisors,
//! their escalations (`Engine::escalations`) and outreach (`Engine::outreach`) and the same
//! lists for their own clients. Its forms book aftercare and MAT refills and record what
//! became of a booking (`bookings.rs`).

use crate::action;
use crate::error::PageError;
use crate::inbox::ClientLink;
use crate::page::{Choice, Chrome, html};
use crate::session::Signed;
use crate::words::{self, Names, cap, day, day_of, moment};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use carepath_engine::domain::{Role, VisibleClient};
use carepath_engine::{Engine, WorkItem};
use serde::Deserialize;

/// Clients per list.
const LIMIT: u64 = 200;

/// An option of a `<select>`.
/// A booking still to happen (or whose outcome was not yet said), with its outcome form.
pub struct BookingRow {
    pub id: String,
    pub what: String,
    /// A MAT dose or refill: a kept one says the last day it supplies.
    pub mat: bool,
    pub key: String,
}

/// One client on a list, with the forms to act on it.
pub struct Row {
    pub id: String,
    pub client: ClientLink,
    pub whereabouts: String,
    /// What waits on the client, in words.
    pub waits: Vec<String>,
    pub version: i64,
    /// The booking forms (the reader's view shows appointments, MAT plan and bookings).
    pub forms: Option<Forms>,
    pub bookings: Vec<BookingRow>,
}

pub struct Forms {
    /// The planned handoff's day (the forms' first guess), as the inputs write it.
    pub suggested_day: String,
    pub aftercare_key: String,
    /// The MAT plan in words and the bookings that continue it, when there is one.
    pub mat: Option<(String, Vec<Choice>)>,
    pub refill_key: String,
}

/// A list of clients that wait for the same kind of work.
pub struct Section {
    /// Its anchor, and the `data-section` of its rows.
    pub id: &'static str,
    pub title: &'static str,
    pub intro: &'static str,
    pub empty: &'static str,
    pub rows: Vec<Row>,
}

/// A client on the case managers' escalation or outreach list.
pub struct Escalated {
    pub client: ClientLink,
    pub what: String,
}

#[derive(Template)]
#[template(path = "worklist.html")]
struct WorklistPage {
    chrome: Chrome,
    done: Option<&'static str>,
    holder: bool,
    escalations: Vec<Escalated>,
    outreach: Vec<Escalated>,
    sections: Vec<Section>,
    aftercare_providers: Vec<Choice>,
    mat_providers: Vec<Choice>,
    aftercare_kinds: Vec<Choice>,
    today: String,
}

#[derive(Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

/// `GET /worklist`.
pub async fn page(
    State(engine): State<Engine>,
    signed: Signed,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let actor = &signed.actor;
    let items = engine.coordination(actor, None, LIMIT).await?;
    let holder = matches!(
        actor.role,
        Role::CaseManager | Role::Supervisor | Role::Admin
    );
    let (escalated, lost_clients) = if holder {
        let mine = actor.role == Role::CaseManager && actor.staff.is_some();
        (
            engine.escalations(actor, mine, None, LIMIT).await?,
            engine.outreach(actor, None, LIMIT).await?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let directory = engine.directory(actor).await?;
    let names = Names::from(&engine, &directory);
    let now = engine.clock().now();

    let mut escalations = Vec::new();
    for s in &escalated {
        let Some(e) = s
            .case_management
            .shown()
            .and_then(|c| c.escalation.as_ref())
        else {
            continue;
        };
        escalations.push(Escalated {
            client: link(s),
            what: format!(
                "No provider took the referral to {} — send it on (since {})",
                names.level(&e.to_level),
                moment(e.since)
            ),
        });
    }
    let mut outreach = Vec::new();
    for s in &lost_clients {
        let Some(l) = s.movement.shown().and_then(|m| m.lost_to_care.as_ref()) else {
            continue;
        };
        outreach.push(Escalated {
            client: link(s),
            what: format!(
                "Lost to care: {} (since {})",
                words::lost(l.reason),
                moment(l.since)
            ),
        });
    }

    let (mut needs_booking, mut followups, mut no_shows, mut lost) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for item in &items {
        let s = &item.client;
        if !item.bookings_needed.is_empty() {
            let mut waits = Vec::new();
            if let Some(h) = s.movement.shown().and_then(|m| m.handoff.as_ref()) {
                waits.push(format!(
                    "{} on {}",
                    cap(&names.target(&h.target)),
                    day(h.on)
                ));
            }
            waits.extend(item.bookings_needed.iter().map(|g| {
                format!(
                    "{}: {}",
                    words::gate_name(g.gate),
                    names.gate_reason(&g.reason)
                )
            }));
            needs_booking.push(row(&engine, &names, item, waits));
        }
        if !item.followups.is_empty() {
            let waits = item
                .followups
                .iter()
                .map(|f| {
                    format!(
                        "{}-day follow-up after the exit on {}: a visit kept by {} ({}) counts",
                        f.days,
                        day_of(f.since),
                        moment(f.due_at),
                        words::from_now(f.due_at, now)
                    )
                })
                .collect();
            followups.push(row(&engine, &names, item, waits));
        }
        if !item.no_shows.is_empty() {
            let waits = item
                .no_shows
                .iter()
                .map(|n| {
                    format!(
                        "Missed {} — counted lost to care {} unless something is booked or kept",
                        booking_words(&names, s, n.booking),
                        words::from_now(n.check_at, now)
                    )
                })
                .collect();
            no_shows.push(row(&engine, &names, item, waits));
        }
        // The record holder reaches its lost clients from the outreach list.
        if !holder && let Some(l) = s.movement.shown().and_then(|m| m.lost_to_care.as_ref()) {
            let waits = vec![format!(
                "Lost to care: {} (since {})",
                words::lost(l.reason),
                moment(l.since)
            )];
            lost.push(row(&engine, &names, item, waits));
        }
    }

    let mut aftercare_providers: Vec<Choice> = directory
        .iter()
        .map(|o| Choice {
            value: o.id.to_string(),
            label: o.name.clone(),
        })
        .collect();
    aftercare_providers.sort_by_key(|c| c.label.to_lowercase());
    let mut mat_providers: Vec<Choice> = directory
        .iter()
        .filter(|o| !o.mat_services.is_empty())
        .map(|o| Choice {
            value: o.id.to_string(),
            label: format!(
                "{} ({})",
                o.name,
                o.mat_services
                    .iter()
                    .map(|s| words::mat_service(*s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
        .collect();
    mat_providers.sort_by_key(|c| c.label.to_lowercase());

    let chrome = Chrome::new(&engine, &signed, "/worklist", "Worklist").await?;
    html(&WorklistPage {
        chrome,
        done: action::done_words(q.done.as_deref()),
        holder,
        escalations,
        outreach,
        sections: sections(holder, needs_booking, followups, no_shows, lost),
        aftercare_providers,
        mat_providers,
        aftercare_kinds: Choice::aftercare_kinds(cap),
        today: crate::words::local_date(now).format("%Y-%m-%d").to_string(),
    })
}

fn sections(
    holder: bool,
    needs_booking: Vec<Row>,
    followups: Vec<Row>,
    no_shows: Vec<Row>,
    lost: Vec<Row>,
) -> Vec<Section> {
    let mut out = vec![
        Section {
            id: "needs-booking",
            title: "Needs a booking",
            intro: "Planned discharges and handoffs whose aftercare appointment or next MAT dose \
                    is not booked yet.",
            empty: "Every planned handoff has what it needs booked.",
            rows: needs_booking,
        },
        Section {
            id: "followups",
            title: "Follow-ups due",
            intro: "Exits from withdrawal management or residential care waiting for a kept \
                    visit (HEDIS FUI, 7 and 30 days).",
            empty: "No follow-up is waiting for a visit.",
            rows: followups,
        },
        Section {
            id: "no-shows",
            title: "Missed bookings",
            intro: "Appointments and MAT bookings missed with nothing booked since: reach the \
                    client and book again.",
            empty: "No missed booking is waiting.",
            rows: no_shows,
        },
    ];
    if !holder {
        out.push(Section {
            id: "lost",
            title: "Lost to care",
            intro: "Clients out of reach of care: a missed arrival, a missed appointment, a MAT \
                    supply run out.",
            empty: "No client is lost to care.",
            rows: lost,
        });
    }
    out
}

fn link(s: &VisibleClient) -> ClientLink {
    ClientLink {
        href: format!("/clients/{}", s.id),
        label: words::label_of(s),
    }
}

fn row(engine: &Engine, names: &Names<'_>, item: &WorkItem, waits: Vec<String>) -> Row {
    let s = &item.client;
    let forms = (s.aftercare.is_shown() && s.mat_bookings.is_shown()).then(|| Forms {
        suggested_day: s
            .movement
            .shown()
            .and_then(|m| m.handoff.as_ref())
            .map(|h| h.on)
            .unwrap_or(crate::words::local_date(engine.clock().now()))
            .max(crate::words::local_date(engine.clock().now()))
            .format("%Y-%m-%d")
            .to_string(),
        aftercare_key: action::new_key(),
        mat: s.mat_plan.shown().and_then(Option::as_ref).map(|seen| {
            let (plan, through) = (&seen.plan, seen.covered_through);
            (
                match through {
                    Some(d) => format!(
                        "{}, covered through {}",
                        words::medication(plan.medication),
                        day(d)
                    ),
                    None => words::medication(plan.medication).to_owned(),
                },
                words::MAT_KINDS
                    .into_iter()
                    .filter(|k| plan.medication.continued_by(*k))
                    .map(|k| Choice {
                        value: k.as_str().to_owned(),
                        label: cap(words::mat_booking(k)),
                    })
                    .collect(),
            )
        }),
        refill_key: action::new_key(),
    });
    let mut bookings: Vec<(chrono::NaiveDate, BookingRow)> = Vec::new();
    {
        for a in s.aftercare.items().iter().filter(|a| a.outcome.is_none()) {
            bookings.push((
                crate::words::local_date(a.at),
                BookingRow {
                    id: a.id.to_string(),
                    what: format!(
                        "{} at {}, {}",
                        cap(words::aftercare(a.kind)),
                        names.org(&a.provider),
                        moment(a.at)
                    ),
                    mat: false,
                    key: action::new_key(),
                },
            ));
        }
    }
    {
        for b in s
            .mat_bookings
            .items()
            .iter()
            .filter(|b| b.outcome.is_none())
        {
            bookings.push((
                b.on,
                BookingRow {
                    id: b.id.to_string(),
                    what: format!(
                        "{} at {}, {}",
                        cap(words::mat_booking(b.kind)),
                        names.org(&b.provider),
                        day(b.on)
                    ),
                    mat: true,
                    key: action::new_key(),
                },
            ));
        }
    }
    bookings.sort_by_key(|(d, _)| *d);
    Row {
        id: s.id.to_string(),
        client: link(s),
        whereabouts: words::whereabouts(names, s),
        waits,
        version: s.version,
        forms,
        bookings: bookings.into_iter().map(|(_, b)| b).collect(),
    }
}

/// A booking of the client's in words ("Outpatient visit at Riverside, Tue 1 Dec 2026").
fn booking_words(
    names: &Names<'_>,
    s: &VisibleClient,
    id: carepath_engine::ids::BookingId,
) -> String {
    if let Some(a) = s.aftercare.items().iter().find(|a| a.id == id) {
        let kept = a
            .outcome
            .map(|o| format!(" ({})", words::attendance(o.attendance)))
            .unwrap_or_default();
        return format!(
            "{} at {}, {}{kept}",
            words::aftercare(a.kind).to_owned(),
            names.org(&a.provider),
            moment(a.at)
        );
    }
    if let Some(b) = s.mat_bookings.items().iter().find(|b| b.id == id) {
        return format!(
            "{} at {}, {}",
            words::mat_booking(b.kind),
            names.org(&b.provider),
            day(b.on)
        );
    }
    "a booking".into()
}
