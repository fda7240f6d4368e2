//! The one mapping from a decision to rows: [`Rows::of`] turns a [`Commit`] into the plain
//! values each table gets, and both backends write exactly these — SQLite through sea-orm
//! (`commit.rs` builds its ActiveModels from them), PostgreSQL in one statement
//! (`commit_pg.rs` builds its JSON parameters from them). Nothing here interprets the domain:
//! the decision says which rows change (the referrals it created or changed are
//! [`Decision::referrals`]); this module only says how a value is stored (a status as its
//! name, a decline code as its serialized name, a timer's id from its key) and reduces a
//! decision's timer operations and occupancy changes to one per row (one statement may not
//! write a row twice; one lock order).
//!
//! **Writes that are decisions** (this path, one transaction each, [`crate::Store::commit`]):
//! the client row under the version check, the care events, one outbox row per event, the
//! referral projection, timers scheduled and cancelled, the disclosures a decision makes, the
//! slot occupancy, the idempotency record, and marking the timer whose firing produced the
//! decision as fired.
//!
//! **Writes that are not decisions** (elsewhere, each its own statement or transaction): a
//! timer marked stale when its firing no longer applies (`Store::mark_timer_stale`,
//! `commit.rs`); the relay's outbox deletes with the disclosures of the event copies it
//! delivered, the disclosures of live deliveries, the relay lease and the linked senders
//! (`outbox.rs`); the disclosure a read by another organization leaves, and API tokens
//! (`api.rs`); organizations, their levels and capacity and MAT services, and pruning old idempotency records
//! (`queries.rs`).

use carepath_domain::ids::{ClientId, OrgId, TimerId};
use carepath_domain::notify::{Notice, Settled, Who};
use carepath_domain::{
    CareEvent, Decision, DeclineCode, Disclosure, OccupancyChange, Referral, TimerKind, TimerOp,
};
use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use uuid::Uuid;

use super::StoreError;

/// The idempotency record written with a command's effects.
#[derive(Clone, Debug)]
pub struct IdempotencyRecord {
    pub actor_org: OrgId,
    pub key: String,
    pub request_hash: String,
    pub response: serde_json::Value,
}

/// One decision to persist.
#[derive(Debug)]
pub struct Commit<'a> {
    /// The version the decision was made on; `None` for a client being registered.
    pub prev_version: Option<i64>,
    pub decision: &'a Decision,
    /// The timer whose firing produced the decision: marked fired, exactly once.
    pub fired_timer: Option<TimerId>,
    pub idempotency: Option<IdempotencyRecord>,
    pub now: DateTime<Utc>,
    /// The wall clock at the commit, which stamps the outbox rows: how long an event waits
    /// for the relay is the process's matter, measured on the wall clock even when the
    /// engine's clock is a skipped one.
    pub wall: DateTime<Utc>,
    /// The notices the decision's events raise (`domain::notify::notices`): inserted, an id
    /// already there left alone (the same cause notifies once).
    pub notices: &'a [Notice],
    /// The client's notices the decision settled (`domain::notify::settled`): resolved, with
    /// their escalations.
    pub settled: &'a [Settled],
}

/// Everything one decision writes, table by table. Every row but the client's belongs to
/// the client: its `client_id` is [`ClientRow::id`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Rows {
    /// The client row: inserted when `prev_version` is `None` (an id already taken is a
    /// conflict), otherwise updated `WHERE version = prev_version` (no row is a conflict).
    pub client: ClientRow,
    pub prev_version: Option<i64>,
    /// The timer whose firing produced the decision: `pending` → `fired` at
    /// [`ClientRow::at`], exactly once (not pending is a conflict).
    pub fired_timer: Option<Uuid>,
    /// Slot occupancy, one change per (provider, level) in that order, none that nets to 0.
    pub occupancy: Vec<OccupancyChange>,
    /// Care events, in sequence order.
    pub events: Vec<EventRow>,
    /// One per event, in sequence order (the outbox keeps commit order per client).
    pub outbox: Vec<OutboxRow>,
    /// The referral projection (inbox, denial log): inserted, or on an id already there its
    /// status, decline and answer updated.
    pub referrals: Vec<ReferralRow>,
    /// Timers as the decision's operations leave them, one per id: inserted, or on an id
    /// already there its due time and status updated.
    pub timers: Vec<TimerRow>,
    /// Timers the decision only cancels: `pending` → `cancelled`, others left alone.
    pub timer_cancels: Vec<Uuid>,
    /// The disclosures the decision makes (42 CFR 2.24 accounting).
    pub disclosures: Vec<DisclosureRow>,
    /// The client's display name and record number: inserted, or replaced.
    pub identity: Option<IdentityRow>,
    pub idempotency: Option<IdempotencyRow>,
    /// Notices raised: inserted unless their id is there.
    pub notices: Vec<NoticeRow>,
    /// The client's unresolved notices of these kinds (about the referral, when one is
    /// named) resolved at [`ClientRow::at`], and the escalations of them.
    pub settled: Vec<SettledRow>,
}

/// A `notifications` row as raised (`created_at` is [`ClientRow::at`]).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NoticeRow {
    pub id: Uuid,
    pub kind: &'static str,
    pub org_id: Uuid,
    pub role: Option<&'static str>,
    pub staff_id: Option<Uuid>,
    pub referral_id: Option<Uuid>,
    pub due_at: Option<DateTime<Utc>>,
    pub show_at: DateTime<Utc>,
    /// `open` when told at once, `scheduled` when told later.
    pub status: &'static str,
    pub escalate_at: Option<DateTime<Utc>>,
}

/// A kind of notice settled (and the referral it is about).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SettledRow {
    pub kind: &'static str,
    pub referral_id: Option<Uuid>,
}

/// The row of a notice raised at `now`.
pub(crate) fn notice_row(n: &Notice, now: DateTime<Utc>) -> NoticeRow {
    let (role, staff_id) = match n.to.who {
        Who::Role(r) => (Some(r.as_str()), None),
        Who::Person(p) => (None, Some(p.0)),
    };
    NoticeRow {
        id: n.id.0,
        kind: n.kind.as_str(),
        org_id: n.to.org.0,
        role,
        staff_id,
        referral_id: n.referral.map(|r| r.0),
        due_at: n.due,
        show_at: n.show_at,
        status: if n.show_at > now { "scheduled" } else { "open" },
        escalate_at: n.escalate_at,
    }
}

/// The `clients` row.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ClientRow {
    pub id: Uuid,
    pub home_org: Uuid,
    pub status: &'static str,
    pub level: Option<String>,
    pub provider_id: Option<Uuid>,
    pub version: i64,
    pub last_seq: i64,
    /// The whole aggregate.
    pub state: Json,
    /// Why the client is lost to care, while it is (the outreach list).
    pub lost_to_care: Option<&'static str>,
    /// The episode's case manager, and when a referral group ran out (escalations).
    pub case_manager: Option<Uuid>,
    pub escalated_at: Option<DateTime<Utc>>,
    /// `updated_at`, and `created_at` of a client being registered; also the moment of every
    /// other row the commit stamps (idempotency, the fired timer; the outbox's is the wall
    /// clock, [`Commit::wall`]).
    pub at: DateTime<Utc>,
}

/// A `care_events` row.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct EventRow {
    pub id: Uuid,
    pub seq: i64,
    pub event_type: &'static str,
    pub level: Option<String>,
    pub actor_org: Option<Uuid>,
    pub recipient_org: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
    pub payload: Json,
}

/// An `outbox` row (its id is the database's: the order of publication).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct OutboxRow {
    pub event_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// A `referrals` row.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ReferralRow {
    pub id: Uuid,
    pub group_id: Uuid,
    pub provider_id: Uuid,
    pub to_level: String,
    pub status: &'static str,
    pub decline_code: Option<String>,
    pub decline_note: Option<String>,
    pub sent_at: DateTime<Utc>,
    pub answer_by: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// A `timers` row as the decision leaves it: scheduled (`pending`), or scheduled and then
/// cancelled in the same decision (`cancelled`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TimerRow {
    pub id: Uuid,
    pub key: String,
    pub kind: &'static str,
    pub due_at: DateTime<Utc>,
    pub status: &'static str,
    pub payload: Json,
}

/// A `disclosures` row.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DisclosureRow {
    pub id: Uuid,
    pub recipient_org: Uuid,
    pub consent_id: Option<Uuid>,
    pub event_id: Uuid,
    pub what: String,
    pub disclosed_at: DateTime<Utc>,
    pub legal_basis: Option<String>,
}

/// A `client_identities` row (`updated_at` is [`ClientRow::at`]).
#[derive(Clone, PartialEq)]
pub(crate) struct IdentityRow {
    pub home_org: Uuid,
    pub display_name: String,
    pub name_key: String,
    pub record_number: Option<String>,
}

impl std::fmt::Debug for IdentityRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityRow { .. }")
    }
}

/// A name folded for search: lower case, words separated by one space.
pub fn name_key(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `idempotency` row (`created_at` is [`ClientRow::at`]).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct IdempotencyRow {
    pub actor_org: Uuid,
    pub key: String,
    pub request_hash: String,
    pub response: Json,
}

impl Rows {
    /// The rows of one decision.
    pub(crate) fn of(c: Commit<'_>) -> Result<Self, StoreError> {
        let d = c.decision;
        let s = &d.state;
        let (timers, timer_cancels) = net_timers(s.id, &d.timers)?;
        Ok(Self {
            client: ClientRow {
                id: s.id.0,
                home_org: s.home_org.0,
                status: s.status.as_str(),
                // Where the client is, or is on the way to.
                level: s.whereabouts().map(|(l, _)| l.0.clone()),
                provider_id: s.whereabouts().map(|(_, p)| p.0),
                version: s.version,
                last_seq: s.last_seq,
                state: json(s)?,
                lost_to_care: s.lost_to_care.as_ref().map(|l| l.reason.as_str()),
                case_manager: s.episode.as_ref().and_then(|e| e.case_manager).map(|m| m.0),
                escalated_at: s.escalation.as_ref().map(|e| e.since),
                at: c.now,
            },
            prev_version: c.prev_version,
            fired_timer: c.fired_timer.map(|t| t.0),
            occupancy: net_occupancy(&d.occupancy),
            events: d.events.iter().map(event_row).collect::<Result<_, _>>()?,
            outbox: d
                .events
                .iter()
                .map(|e| OutboxRow {
                    event_id: e.id.0,
                    created_at: c.wall,
                })
                .collect(),
            referrals: d.referrals.iter().map(referral_row).collect(),
            timers,
            timer_cancels,
            disclosures: d.disclosures.iter().map(disclosure_row).collect(),
            identity: d.identity.as_ref().map(|i| IdentityRow {
                home_org: s.home_org.0,
                display_name: i.display_name.trim().to_owned(),
                name_key: name_key(&i.display_name),
                record_number: i.record_number.as_ref().map(|n| n.trim().to_owned()),
            }),
            idempotency: c.idempotency.map(|i| IdempotencyRow {
                actor_org: i.actor_org.0,
                key: i.key,
                request_hash: i.request_hash,
                response: i.response,
            }),
            notices: c.notices.iter().map(|n| notice_row(n, c.now)).collect(),
            settled: c
                .settled
                .iter()
                .map(|x| SettledRow {
                    kind: x.kind.as_str(),
                    referral_id: x.referral.map(|r| r.0),
                })
                .collect(),
        })
    }

    /// The client row was not written: someone changed it first (or registered the id).
    pub(crate) fn client_conflict(&self) -> StoreError {
        let id = ClientId(self.client.id);
        StoreError::Conflict(match self.prev_version {
            Some(prev) => format!("client {id} changed since version {prev}"),
            None => format!("client {id} already exists"),
        })
    }

    /// Were events written (so relays in other processes are to be told)?
    pub(crate) fn has_events(&self) -> bool {
        !self.events.is_empty()
    }
}

fn json(value: &impl serde::Serialize) -> Result<Json, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn event_row(e: &CareEvent) -> Result<EventRow, StoreError> {
    Ok(EventRow {
        id: e.id.0,
        seq: e.seq,
        event_type: e.event_type(),
        level: e.level.as_ref().map(|l| l.0.clone()),
        actor_org: e.actor_org.map(|o| o.0),
        recipient_org: e.recipient_org.map(|o| o.0),
        occurred_at: e.at,
        payload: json(&e.data)?,
    })
}

fn referral_row(r: &Referral) -> ReferralRow {
    ReferralRow {
        id: r.id.0,
        group_id: r.group.0,
        provider_id: r.provider.0,
        to_level: r.to_level.0.clone(),
        status: r.status.as_str(),
        decline_code: r.decline.as_ref().map(|d| decline_code(d.code)),
        decline_note: r.decline.as_ref().and_then(|d| d.note.clone()),
        sent_at: r.sent_at,
        answer_by: r.answer_by,
        answered_at: r.answered_at,
    }
}

fn disclosure_row(x: &Disclosure) -> DisclosureRow {
    DisclosureRow {
        id: Uuid::now_v7(),
        recipient_org: x.recipient.0,
        consent_id: x.consent.map(|c| c.0),
        event_id: x.event.0,
        what: x.what.clone(),
        disclosed_at: x.at,
        legal_basis: x.legal_basis.clone(),
    }
}

/// A decline code as stored (its serialized name).
fn decline_code(code: DeclineCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Timer operations reduced to one per timer, as applying them in order would leave it:
/// the last schedule wins and is written cancelled when a cancel follows it; a timer only
/// cancelled is cancelled if pending. (One statement may not write a row twice.) The rows
/// to upsert and the ids only cancelled, each in id order.
fn net_timers(client: ClientId, ops: &[TimerOp]) -> Result<(Vec<TimerRow>, Vec<Uuid>), StoreError> {
    /// The last schedule of a timer, and whether a cancel followed it.
    struct Last<'a> {
        key: &'a str,
        kind: &'a TimerKind,
        due_at: DateTime<Utc>,
        cancelled: bool,
    }
    let mut net: BTreeMap<Uuid, Option<Last<'_>>> = BTreeMap::new();
    for op in ops {
        match op {
            TimerOp::Schedule { key, due_at, kind } => {
                let last = Last {
                    key,
                    kind,
                    due_at: *due_at,
                    cancelled: false,
                };
                net.insert(TimerId::for_key(client, key).0, Some(last));
            }
            TimerOp::Cancel { key } => {
                let id = TimerId::for_key(client, key).0;
                match net.get_mut(&id) {
                    Some(Some(last)) => last.cancelled = true,
                    _ => {
                        net.insert(id, None);
                    }
                }
            }
        }
    }
    let (mut rows, mut cancels) = (Vec::new(), Vec::new());
    for (id, last) in net {
        match last {
            Some(t) => rows.push(TimerRow {
                id,
                key: t.key.to_owned(),
                kind: t.kind.name(),
                due_at: t.due_at,
                status: if t.cancelled { "cancelled" } else { "pending" },
                payload: json(t.kind)?,
            }),
            None => cancels.push(id),
        }
    }
    Ok((rows, cancels))
}

/// Changes summed per (provider, level), in that order (a move within one provider and level
/// keeps its slot; an arrival turns a held slot into an occupied one); rows whose changes
/// cancel out are left alone.
fn net_occupancy(changes: &[OccupancyChange]) -> Vec<OccupancyChange> {
    let mut net: BTreeMap<(Uuid, &str), OccupancyChange> = BTreeMap::new();
    for ch in changes {
        net.entry((ch.provider.0, ch.level.as_str()))
            .and_modify(|n| {
                n.occupied += ch.occupied;
                n.held += ch.held;
            })
            .or_insert_with(|| ch.clone());
    }
    net.into_values()
        .filter(|n| n.occupied != 0 || n.held != 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use carepath_domain::ids::{ConsentId, EpisodeId, EventId, ReferralGroupId, ReferralId};
    use carepath_domain::pathway::LevelId;
    use carepath_domain::{
        ClientState, ClientStatus, DeclineReason, EventData, Placement, ReferralStatus,
        WithdrawReason,
    };
    use chrono::TimeZone;

    fn change(provider: OrgId, level: &str, delta: i32) -> OccupancyChange {
        OccupancyChange::occupy(provider, LevelId::new(level), delta)
    }

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, hour, 0, 0).unwrap()
    }

    #[test]
    fn occupancy_nets_per_provider_and_level_in_one_order() {
        let (a, b) = (OrgId::new(), OrgId::new());
        let net = net_occupancy(&[
            change(b, "outpatient", 1),
            change(a, "iop", -1),
            change(b, "iop", -1),
            change(a, "iop", 1),
        ]);
        // a < b: ids are time-ordered.
        assert_eq!(net, vec![change(b, "iop", -1), change(b, "outpatient", 1)]);
        let reversed = net_occupancy(&[change(b, "outpatient", 1), change(b, "iop", -1)]);
        assert_eq!(reversed, net);
        // An arrival: the held slot becomes an occupied one, in one row change.
        let arrival = net_occupancy(&[
            OccupancyChange::hold(a, LevelId::new("iop"), -1),
            change(a, "iop", 1),
        ]);
        assert_eq!(
            arrival,
            [OccupancyChange {
                provider: a,
                level: LevelId::new("iop"),
                occupied: 1,
                held: -1
            }]
        );
    }

    #[test]
    fn timers_reduce_to_what_applying_them_in_order_leaves() {
        let client = ClientId::new();
        let due = at(10);
        let kind = TimerKind::ReferralDeadline {
            referral: ReferralId(Uuid::nil()),
        };
        let schedule = |key: &str| TimerOp::Schedule {
            key: key.into(),
            due_at: due,
            kind: kind.clone(),
        };
        let cancel = |key: &str| TimerOp::Cancel { key: key.into() };
        let ops = [
            schedule("a"),
            cancel("a"),
            cancel("b"),
            schedule("c"),
            cancel("d"),
            schedule("d"),
        ];
        let (rows, cancels) = net_timers(client, &ops).unwrap();
        let status = |key: &str| rows.iter().find(|r| r.key == key).map(|r| r.status);
        assert_eq!(status("a"), Some("cancelled"));
        assert_eq!(status("c"), Some("pending"));
        assert_eq!(status("d"), Some("pending"));
        assert_eq!(status("b"), None);
        assert_eq!(cancels, vec![TimerId::for_key(client, "b").0]);
        // One row per id, in id order; the payload is the timer's kind.
        let mut ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        ids.sort();
        assert_eq!(ids, rows.iter().map(|r| r.id).collect::<Vec<_>>());
        assert_eq!(rows.len(), 3);
        for r in &rows {
            assert_eq!(r.id, TimerId::for_key(client, &r.key).0);
            assert_eq!(r.kind, kind.name());
            assert_eq!(r.payload, serde_json::to_value(&kind).unwrap());
        }
    }

    /// A client in residential care at `home`'s partner, with two referrals: one declined
    /// and one withdrawn by this decision.
    fn sample() -> (Decision, OrgId, OrgId) {
        let (home, provider) = (OrgId::new(), OrgId::new());
        let client = ClientId::new();
        let level = LevelId::new("residential");
        let (declined, withdrawn) = (
            ReferralId(EventId::for_seq(client, 3).0),
            ReferralId(EventId::for_seq(client, 4).0),
        );
        let group = ReferralGroupId(declined.0);
        let referral = |id, status, decline, withdraw_reason| Referral {
            id,
            group,
            provider,
            to_level: level.clone(),
            status,
            sent_at: at(8),
            answer_by: at(20),
            answered_at: Some(at(10)),
            decline,
            withdraw_reason,
            acknowledged_at: None,
            closed_by: None,
        };
        let referrals = vec![
            referral(
                declined,
                ReferralStatus::Declined,
                Some(DeclineReason {
                    code: DeclineCode::NoCapacity,
                    note: Some("full until June".into()),
                }),
                None,
            ),
            referral(
                withdrawn,
                ReferralStatus::Withdrawn,
                None,
                Some(WithdrawReason::CaseManager),
            ),
        ];
        let state = ClientState {
            id: client,
            home_org: home,
            birth_year: None,
            version: 7,
            last_seq: 6,
            status: ClientStatus::Active,
            episode: None,
            placement: Some(Placement {
                level: level.clone(),
                provider,
                planned_hours_per_week: 30.0,
                track: None,
                since: at(9),
                review_timer: "review".into(),
            }),
            consents: Vec::new(),
            referrals: referrals.clone(),
            assessments: Vec::new(),
            mat_plan: None,
            mat_bookings: Vec::new(),
            aftercare: Vec::new(),
            handoff: None,
            last_discharge: None,
            transit: None,
            lost_to_care: None,
            placements: Vec::new(),
            escalation: None,
            transfer: None,
            relayed_reports: Vec::new(),
            followups: Vec::new(),
        };
        let event = |seq: i64, data| CareEvent {
            id: EventId::for_seq(client, seq),
            client,
            seq,
            at: at(10),
            level: Some(level.clone()),
            actor_org: Some(home),
            recipient_org: Some(provider),
            data,
        };
        let decision = Decision {
            events: vec![
                event(
                    5,
                    EventData::ReferralDeclined {
                        referral: declined,
                        provider,
                        to_level: level.clone(),
                        reason: DeclineCode::NoCapacity,
                    },
                ),
                event(
                    6,
                    EventData::ReferralWithdrawn {
                        referral: withdrawn,
                        provider,
                        to_level: level.clone(),
                        reason: WithdrawReason::CaseManager,
                    },
                ),
            ],
            timers: vec![
                TimerOp::Cancel {
                    key: format!("referral:{declined}"),
                },
                TimerOp::Schedule {
                    key: "review".into(),
                    due_at: at(20),
                    kind: TimerKind::ReviewDue {
                        episode: EpisodeId(Uuid::nil()),
                        level: level.clone(),
                    },
                },
            ],
            disclosures: vec![Disclosure {
                recipient: provider,
                consent: Some(ConsentId(Uuid::nil())),
                legal_basis: None,
                what: "referral for level residential".into(),
                event: EventId::for_seq(client, 5),
                at: at(10),
            }],
            occupancy: vec![change(provider, "residential", 1)],
            // The decision names the referrals it changed; the store writes those.
            referrals: referrals[..1].to_vec(),
            identity: None,
            state,
        };
        (decision, home, provider)
    }

    #[test]
    fn a_decision_maps_to_the_rows_it_writes() {
        let (d, home, provider) = sample();
        let client = d.state.id;
        let rows = Rows::of(Commit {
            prev_version: Some(6),
            decision: &d,
            fired_timer: None,
            idempotency: Some(IdempotencyRecord {
                actor_org: home,
                key: "k1".into(),
                request_hash: "h".into(),
                response: serde_json::json!({"version": 7}),
            }),
            now: at(11),
            wall: at(11),
            notices: &[],
            settled: &[],
        })
        .unwrap();
        assert_eq!(
            rows.client,
            ClientRow {
                id: client.0,
                home_org: home.0,
                status: "active",
                level: Some("residential".into()),
                provider_id: Some(provider.0),
                version: 7,
                last_seq: 6,
                state: serde_json::to_value(&d.state).unwrap(),
                lost_to_care: None,
                case_manager: None,
                escalated_at: None,
                at: at(11),
            }
        );
        assert_eq!(rows.prev_version, Some(6));
        assert_eq!(rows.fired_timer, None);
        assert_eq!(rows.occupancy, d.occupancy);
        assert_eq!(
            rows.events
                .iter()
                .map(|e| (e.seq, e.event_type, e.recipient_org))
                .collect::<Vec<_>>(),
            [
                (5, "referral.declined", Some(provider.0)),
                (6, "referral.withdrawn", Some(provider.0))
            ]
        );
        assert_eq!(
            rows.events[0].payload,
            serde_json::to_value(&d.events[0].data).unwrap()
        );
        assert_eq!(
            rows.outbox,
            d.events
                .iter()
                .map(|e| OutboxRow {
                    event_id: e.id.0,
                    created_at: at(11)
                })
                .collect::<Vec<_>>()
        );
        // Only the referral the decision names, whatever its events say.
        let r = &d.referrals[0];
        assert_eq!(
            rows.referrals,
            [ReferralRow {
                id: r.id.0,
                group_id: r.group.0,
                provider_id: provider.0,
                to_level: "residential".into(),
                status: "declined",
                decline_code: Some("no_capacity".into()),
                decline_note: Some("full until June".into()),
                sent_at: at(8),
                answer_by: at(20),
                answered_at: Some(at(10)),
            }]
        );
        assert_eq!(
            rows.timers
                .iter()
                .map(|t| (t.key.as_str(), t.kind, t.status, t.due_at))
                .collect::<Vec<_>>(),
            [("review", "review_due", "pending", at(20))]
        );
        assert_eq!(
            rows.timer_cancels,
            [TimerId::for_key(client, &format!("referral:{}", r.id)).0]
        );
        assert_eq!(rows.disclosures.len(), 1);
        let x = &rows.disclosures[0];
        assert_eq!(
            (x.recipient_org, x.consent_id, x.event_id, x.disclosed_at),
            (provider.0, Some(Uuid::nil()), d.events[0].id.0, at(10))
        );
        assert_eq!(x.what, "referral for level residential");
        assert_eq!(
            rows.idempotency,
            Some(IdempotencyRow {
                actor_org: home.0,
                key: "k1".into(),
                request_hash: "h".into(),
                response: serde_json::json!({"version": 7}),
            })
        );
        assert!(rows.has_events());
    }

    #[test]
    fn a_registration_inserts_the_client_and_a_conflict_names_it() {
        let (d, _, _) = sample();
        let fired = TimerId::for_key(d.state.id, "review");
        let rows = Rows::of(Commit {
            prev_version: None,
            decision: &d,
            fired_timer: Some(fired),
            idempotency: None,
            now: at(11),
            wall: at(11),
            notices: &[],
            settled: &[],
        })
        .unwrap();
        assert_eq!(rows.fired_timer, Some(fired.0));
        assert_eq!(rows.idempotency, None);
        assert!(matches!(
            rows.client_conflict(),
            StoreError::Conflict(m) if m.ends_with("already exists")
        ));
        let rows = Rows {
            prev_version: Some(6),
            ..rows
        };
        assert!(matches!(
            rows.client_conflict(),
            StoreError::Conflict(m) if m.ends_with("changed since version 6")
        ));
    }
}
