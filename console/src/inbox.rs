//! The partner's inbox: the referrals addressed to its organization that are still in play
//! (`Engine::inbox`), each with what the partner may see of it, and the clients on their way
//! to it (`Engine::arrivals`). Its forms answer a referral — acknowledge, accept, waitlist,
//! decline with a reason — and confirm an arrival or report a no-show, each the engine
//! command the API runs.

use crate::action::{self, bad};
use crate::error::PageError;
use crate::page::{Chrome, html};
use crate::session::Signed;
use crate::words::{self, Names, cap, moment};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use carepath_engine::domain::{Command, DeclineReason, ReferralAnswer, ReferralStatus};
use carepath_engine::ids::{ClientId, ReferralId};
use carepath_engine::{Engine, ReferralRead};
use serde::Deserialize;
use uuid::Uuid;

/// Referrals read per status.
const PER_STATUS: u64 = 200;
/// The statuses the inbox lists, in the order it lists them.
const IN_PLAY: [ReferralStatus; 5] = [
    ReferralStatus::Pending,
    ReferralStatus::Acknowledged,
    ReferralStatus::Accepted,
    ReferralStatus::Waitlisted,
    ReferralStatus::Scheduled,
];

/// A link to a client, by name.
pub struct ClientLink {
    pub href: String,
    pub label: String,
}

pub struct ReferralRow {
    pub id: String,
    /// `None`: withheld (no consent names the partner any more).
    pub client: Option<ClientLink>,
    pub level: Option<String>,
    pub status: &'static str,
    pub sent: String,
    pub deadline: Option<String>,
    pub overdue: bool,
    pub waitlist_position: Option<u64>,
    pub can_acknowledge: bool,
    pub can_accept: bool,
    pub can_waitlist: bool,
    pub can_decline: bool,
    /// Who the referral is for, as the questions before accepting or declining say it.
    pub who: String,
    pub keys: Keys,
}

/// A fresh idempotency key for each form of a row.
pub struct Keys {
    pub acknowledge: String,
    pub accept: String,
    pub waitlist: String,
    pub decline: String,
}

impl Keys {
    fn new() -> Self {
        Keys {
            acknowledge: action::new_key(),
            accept: action::new_key(),
            waitlist: action::new_key(),
            decline: action::new_key(),
        }
    }
}

pub struct ArrivalRow {
    pub id: String,
    pub client: ClientLink,
    pub what: String,
    pub departed: String,
    pub arrive_by: String,
    pub missed: bool,
    pub version: i64,
    pub arrive_key: String,
    pub no_show_key: String,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    chrome: Chrome,
    done: Option<&'static str>,
    referrals: Vec<ReferralRow>,
    arrivals: Vec<ArrivalRow>,
    /// Each decline reason: its form value and its words.
    reasons: Vec<(&'static str, String)>,
}

#[derive(Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

/// `GET /inbox`.
pub async fn page(
    State(engine): State<Engine>,
    signed: Signed,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let actor = &signed.actor;
    let mut reads: Vec<ReferralRead> = Vec::new();
    for status in IN_PLAY {
        reads.extend(
            engine
                .inbox(actor, None, Some(status), None, PER_STATUS)
                .await?,
        );
    }
    let arriving = engine.arrivals(actor, None, PER_STATUS).await?;
    let orgs: Vec<_> = arriving
        .iter()
        .flat_map(|s| {
            s.transit
                .iter()
                .map(|t| t.from_provider)
                .chain([s.home_org])
        })
        .collect();
    let names = Names::of(&engine, orgs).await?;
    let now = engine.clock().now();

    let mut referrals = Vec::with_capacity(reads.len());
    for read in &reads {
        let r = &read.referral;
        let client = match read.client {
            Some(id) => Some(link(&engine, &signed, id).await?),
            None => None,
        };
        let waiting = r.status.awaits_answer();
        let who = match (&client, read.to_level.as_ref()) {
            (Some(c), Some(l)) => format!("{} for {}", c.label, names.level(l)),
            (Some(c), None) => c.label.clone(),
            (None, _) => "this client".to_owned(),
        };
        referrals.push(ReferralRow {
            who,
            id: r.id.to_string(),
            client,
            level: read.to_level.as_ref().map(|l| names.level(l)),
            status: words::referral_status_to_provider(r.status),
            sent: moment(r.sent_at),
            deadline: waiting.then(|| {
                format!(
                    "answer by {} ({})",
                    moment(r.answer_by),
                    words::from_now(r.answer_by, now)
                )
            }),
            overdue: waiting && r.answer_by < now,
            waitlist_position: match r.status {
                ReferralStatus::Waitlisted => engine.waitlist_position(r.id).await?,
                _ => None,
            },
            can_acknowledge: r.status.allows(ReferralAnswer::Acknowledge),
            can_accept: r.status.allows(ReferralAnswer::Accept),
            can_waitlist: r.status.allows(ReferralAnswer::Waitlist),
            can_decline: r.status.allows(ReferralAnswer::Decline),
            keys: Keys::new(),
        });
    }

    let mut arrivals = Vec::with_capacity(arriving.len());
    for state in &arriving {
        let label = words::label_of(state);
        let (what, departed, arrive_by, missed) = match (&state.transit, &state.transfer) {
            (Some(t), _) => (
                format!(
                    "{}, from {} at {}",
                    names.level(&t.to_level),
                    names.level(&t.from_level),
                    names.org(&t.from_provider)
                ),
                t.departed_at,
                t.arrive_by,
                t.missed,
            ),
            (None, Some(t)) => (
                format!(
                    "a transfer out; the record is held by {}",
                    names.org(&state.home_org)
                ),
                t.departed_at,
                t.arrive_by,
                t.missed,
            ),
            (None, None) => continue,
        };
        arrivals.push(ArrivalRow {
            id: state.id.to_string(),
            client: ClientLink {
                href: format!("/clients/{}", state.id),
                label,
            },
            what,
            departed: moment(departed),
            arrive_by: format!(
                "{} ({})",
                moment(arrive_by),
                words::from_now(arrive_by, now)
            ),
            missed,
            version: state.version,
            arrive_key: action::new_key(),
            no_show_key: action::new_key(),
        });
    }

    let chrome = Chrome::new(&engine, &signed, "/inbox", "Inbox").await?;
    html(&InboxPage {
        chrome,
        done: action::done_words(q.done.as_deref()),
        referrals,
        arrivals,
        reasons: words::DECLINE_REASONS
            .iter()
            .map(|(code, value)| (*value, cap(words::decline(*code))))
            .collect(),
    })
}

/// A client the partner's referral names, by name where the engine shows it (reading the
/// client is a disclosure the engine records).
async fn link(engine: &Engine, signed: &Signed, id: ClientId) -> Result<ClientLink, PageError> {
    let label = match engine.read_client(&signed.actor, id).await {
        Ok(client) => words::label_of(&client),
        Err(
            carepath_engine::Error::NotFound(_)
            | carepath_engine::Error::Forbidden(_)
            | carepath_engine::Error::Rejected(_),
        ) => words::client_label(id, None),
        Err(e) => return Err(e.into()),
    };
    Ok(ClientLink {
        href: format!("/clients/{id}"),
        label,
    })
}

form_route!(
    /// `POST /referrals/{id}/acknowledge`.
    acknowledge(id, Uuid) => None, "acknowledged", |_| {
        Ok(Command::AcknowledgeReferral {
            referral: ReferralId(id),
        })
    }
);

form_route!(
    /// `POST /referrals/{id}/accept`.
    accept(id, Uuid) => None, "accepted", |_| {
        Ok(Command::AcceptReferral {
            referral: ReferralId(id),
        })
    }
);

form_route!(
    /// `POST /referrals/{id}/waitlist`.
    waitlist(id, Uuid) => None, "waitlisted", |_| {
        Ok(Command::WaitlistReferral {
            referral: ReferralId(id),
        })
    }
);

form_route!(
    /// `POST /referrals/{id}/decline`: `reason` (a decline code), `note` (optional, kept in
    /// the denial log only).
    decline(id, Uuid) => None, "declined", |f| {
        let code = f
            .get("reason")
            .and_then(words::decline_code)
            .ok_or_else(|| bad("a reason for declining is needed".into()))?;
        Ok(Command::DeclineReferral {
            referral: ReferralId(id),
            reason: DeclineReason {
                code,
                note: f.get("note").map(str::to_owned),
            },
        })
    }
);

form_route!(
    /// `POST /clients/{id}/arrival`: the receiving provider confirms the client arrived.
    arrival(id, Uuid) => Some(ClientId(id)), "arrived", |f| Ok(Command::ConfirmArrival { relayed_by: f.relayed_by() })
);

form_route!(
    /// `POST /clients/{id}/no-show`: the receiving provider reports the client did not come.
    no_show(id, Uuid) => Some(ClientId(id)), "no-show", |f| Ok(Command::ReportNoShow { relayed_by: f.relayed_by() })
);
