//! The one write path: a decision and everything that goes with it, in one transaction.

use super::entities::*;
use super::outbox::NewDisclosure;
use super::{Store, StoreError};
use carepath_domain::ids::{ClientId, OrgId, TimerId};
use carepath_domain::{
    Decision, DeclineCode, EventData, OccupancyChange, Referral, TimerKind, TimerOp,
};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, ExprTrait, QueryFilter,
    TransactionTrait,
};
use std::collections::BTreeMap;
use uuid::Uuid;

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
}

impl Store {
    /// Write the decision (one transaction), then tell relays in other processes that
    /// events wait (PostgreSQL; after the commit, never inside it).
    pub async fn commit(&self, c: Commit<'_>) -> Result<(), StoreError> {
        let has_events = !c.decision.events.is_empty();
        self.write_decision(c).await?;
        if has_events {
            self.announce_commit();
        }
        Ok(())
    }

    async fn write_decision(&self, c: Commit<'_>) -> Result<(), StoreError> {
        // PostgreSQL writes a command's decision in one statement. With no occupancy to
        // change after it, that statement is the whole transaction (autocommit: no BEGIN
        // and COMMIT round trips); otherwise the occupancy rows follow it in a transaction,
        // after the client row (the one lock order). A timer's firing (which must mark the
        // timer fired once) goes statement by statement; SQLite too, in a savepoint of a
        // transaction shared with the other decisions waiting for its one writer.
        if let Some(group) = &self.sqlite_group {
            return group.commit(&self.db, c).await;
        }
        // PostgreSQL from here.
        let one_statement = c.fired_timer.is_none();
        let occupancy = net_occupancy(&c.decision.occupancy);
        if one_statement && occupancy.is_empty() {
            return match super::commit_pg::write(&self.db, &c).await? {
                1 => Ok(()),
                _ => Err(client_conflict(&c)),
            };
        }
        let tx = self.db.begin().await?;
        let written = if one_statement {
            match super::commit_pg::write(&tx, &c).await {
                Ok(1) => apply_occupancy(&tx, &occupancy).await,
                Ok(_) => Err(client_conflict(&c)),
                Err(e) => Err(e),
            }
        } else {
            write(&tx, &c, &occupancy).await
        };
        match written {
            Ok(()) => {
                tx.commit()
                    .await
                    .map_err(|e| StoreError::from_write(e, "commit"))?;
                Ok(())
            }
            Err(e) => {
                // Dropping the transaction rolls it back too; say so explicitly.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Mark a timer that no longer applies, so the sweeper stops offering it.
    pub async fn mark_timer_stale(&self, id: TimerId) -> Result<(), StoreError> {
        timer::Entity::update_many()
            .col_expr(timer::Column::Status, Expr::value("stale"))
            .filter(timer::Column::Id.eq(id.0))
            .filter(timer::Column::Status.eq("pending"))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

pub(super) async fn write(
    tx: &DatabaseTransaction,
    c: &Commit<'_>,
    occupancy: &[OccupancyChange],
) -> Result<(), StoreError> {
    let d = c.decision;
    let s = &d.state;
    let client_id = s.id.0;
    let state_json = serde_json::to_value(s).map_err(|e| StoreError::Corrupt(e.to_string()))?;

    // 1. The client row, under the version check.
    match c.prev_version {
        None => {
            client::Entity::insert(client::ActiveModel {
                id: Set(client_id),
                home_org: Set(s.home_org.0),
                status: Set(s.status.as_str().to_owned()),
                level: Set(s.level().map(|l| l.0.clone())),
                provider_id: Set(s.placement.as_ref().map(|p| p.provider.0)),
                version: Set(s.version),
                last_seq: Set(s.last_seq),
                state: Set(state_json),
                created_at: Set(c.now),
                updated_at: Set(c.now),
            })
            .exec_without_returning(tx)
            .await
            .map_err(|e| match StoreError::from_write(e, "") {
                StoreError::Conflict(_) => client_conflict(c),
                other => other,
            })?;
        }
        Some(prev) => {
            let res = client::Entity::update_many()
                .col_expr(client::Column::Status, Expr::value(s.status.as_str()))
                .col_expr(
                    client::Column::Level,
                    Expr::value(s.level().map(|l| l.0.clone())),
                )
                .col_expr(
                    client::Column::ProviderId,
                    Expr::value(s.placement.as_ref().map(|p| p.provider.0)),
                )
                .col_expr(client::Column::Version, Expr::value(s.version))
                .col_expr(client::Column::LastSeq, Expr::value(s.last_seq))
                .col_expr(client::Column::State, Expr::value(state_json))
                .col_expr(client::Column::UpdatedAt, Expr::value(c.now))
                .filter(client::Column::Id.eq(client_id))
                .filter(client::Column::Version.eq(prev))
                .exec(tx)
                .await?;
            if res.rows_affected != 1 {
                return Err(client_conflict(c));
            }
        }
    }

    // 2. A fired timer fires once.
    if let Some(t) = c.fired_timer {
        let res = timer::Entity::update_many()
            .col_expr(timer::Column::Status, Expr::value("fired"))
            .col_expr(timer::Column::FiredAt, Expr::value(Some(c.now)))
            .filter(timer::Column::Id.eq(t.0))
            .filter(timer::Column::Status.eq("pending"))
            .exec(tx)
            .await?;
        if res.rows_affected != 1 {
            return Err(StoreError::Conflict(format!(
                "timer {t} already fired or cancelled"
            )));
        }
    }

    // 3. Occupancy.
    apply_occupancy(tx, occupancy).await?;

    // 4. Events and their outbox rows.
    if !d.events.is_empty() {
        let mut events = Vec::with_capacity(d.events.len());
        let mut outbox_rows = Vec::with_capacity(d.events.len());
        for e in &d.events {
            events.push(care_event::ActiveModel {
                id: Set(e.id.0),
                client_id: Set(client_id),
                seq: Set(e.seq),
                event_type: Set(e.event_type().to_owned()),
                level: Set(e.level.as_ref().map(|l| l.0.clone())),
                actor_org: Set(e.actor_org.map(|o| o.0)),
                recipient_org: Set(e.recipient_org.map(|o| o.0)),
                occurred_at: Set(e.at),
                payload: Set(payload(e)?),
            });
            outbox_rows.push(outbox::ActiveModel {
                event_id: Set(e.id.0),
                client_id: Set(client_id),
                created_at: Set(c.now),
                ..Default::default()
            });
        }
        care_event::Entity::insert_many(events)
            .exec_without_returning(tx)
            .await
            .map_err(|e| StoreError::from_write(e, "event sequence taken"))?;
        outbox::Entity::insert_many(outbox_rows)
            .exec_without_returning(tx)
            .await?;
    }

    // 5. The referral projection (inbox, denial log).
    let mut rows = Vec::new();
    for r in touched_referrals(d) {
        rows.push(referral::ActiveModel {
            id: Set(r.id.0),
            client_id: Set(client_id),
            group_id: Set(r.group.0),
            provider_id: Set(r.provider.0),
            to_level: Set(r.to_level.0.clone()),
            status: Set(r.status.as_str().to_owned()),
            decline_code: Set(r.decline.as_ref().map(|d| decline_code(d.code))),
            decline_note: Set(r.decline.as_ref().and_then(|d| d.note.clone())),
            sent_at: Set(r.sent_at),
            answer_by: Set(r.answer_by),
            answered_at: Set(r.answered_at),
        });
    }
    if !rows.is_empty() {
        referral::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(referral::Column::Id)
                    .update_columns([
                        referral::Column::Status,
                        referral::Column::DeclineCode,
                        referral::Column::DeclineNote,
                        referral::Column::AnsweredAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(tx)
            .await?;
    }

    // 6. Timers, one row each as the decision's operations leave it.
    let timers = net_timers(s.id, &d.timers);
    if !timers.schedules.is_empty() {
        let rows = timers
            .schedules
            .iter()
            .map(|t| {
                Ok(timer::ActiveModel {
                    id: Set(t.id),
                    client_id: Set(client_id),
                    key: Set(t.key.to_owned()),
                    kind: Set(t.kind.name().to_owned()),
                    due_at: Set(t.due_at),
                    status: Set(t.status().to_owned()),
                    payload: Set(t.payload()?),
                    fired_at: Set(None),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        timer::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(timer::Column::Id)
                    .update_columns([timer::Column::DueAt, timer::Column::Status])
                    .to_owned(),
            )
            .exec_without_returning(tx)
            .await?;
    }
    if !timers.cancels.is_empty() {
        timer::Entity::update_many()
            .col_expr(timer::Column::Status, Expr::value("cancelled"))
            .filter(timer::Column::Id.is_in(timers.cancels))
            // `IS TRUE` so no index serves it: the planner would otherwise AND in every
            // client's pending timers (`timers_due`) for a handful of ids.
            .filter(Expr::expr(timer::Column::Status.eq("pending")).is(true))
            .exec(tx)
            .await?;
    }

    // 7. Disclosures (42 CFR 2.24 accounting).
    if !d.disclosures.is_empty() {
        let rows: Vec<NewDisclosure> = d
            .disclosures
            .iter()
            .map(|x| NewDisclosure {
                client: d.state.id,
                event: x.event,
                recipient: x.recipient,
                consent: x.consent,
                legal_basis: x.legal_basis.clone(),
                what: x.what.clone(),
                at: x.at,
            })
            .collect();
        super::outbox::insert_disclosures(tx, &rows).await?;
    }

    // 8. The idempotency record: a concurrent twin with the same key loses here.
    if let Some(idem) = &c.idempotency {
        idempotency::Entity::insert(idempotency::ActiveModel {
            actor_org: Set(idem.actor_org.0),
            key: Set(idem.key.clone()),
            request_hash: Set(idem.request_hash.clone()),
            client_id: Set(Some(client_id)),
            response: Set(idem.response.clone()),
            created_at: Set(c.now),
        })
        .exec_without_returning(tx)
        .await
        .map_err(|e| StoreError::from_write(e, "idempotency key used concurrently"))?;
    }
    Ok(())
}

pub(super) fn payload(e: &carepath_domain::CareEvent) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(&e.data).map_err(|err| StoreError::Corrupt(err.to_string()))
}

/// The referrals whose rows the decision's events change (the inbox and denial log).
pub(super) fn touched_referrals(d: &Decision) -> impl Iterator<Item = &Referral> {
    let touched: Vec<Uuid> = d
        .events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::ReferralSent { referral, .. }
            | EventData::ReferralAccepted { referral, .. }
            | EventData::ReferralDeclined { referral, .. }
            | EventData::ReferralWithdrawn { referral, .. }
            | EventData::ReferralExpired { referral, .. } => Some(referral.0),
            EventData::TransitionCompleted { referral, .. }
            | EventData::ClientAdmitted { referral, .. } => referral.map(|r| r.0),
            _ => None,
        })
        .collect();
    d.state
        .referrals
        .iter()
        .filter(move |r| touched.contains(&r.id.0))
}

/// A decline code as stored (its serialized name).
pub(super) fn decline_code(code: DeclineCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The client row was not written: someone changed it first (or registered the id).
fn client_conflict(c: &Commit<'_>) -> StoreError {
    let id = c.decision.state.id;
    StoreError::Conflict(match c.prev_version {
        Some(prev) => format!("client {id} changed since version {prev}"),
        None => format!("client {id} already exists"),
    })
}

/// A timer as the decision leaves it: scheduled (pending), or scheduled and then cancelled.
pub(super) struct TimerRow<'a> {
    pub id: Uuid,
    pub key: &'a str,
    pub kind: &'a TimerKind,
    pub due_at: DateTime<Utc>,
    pub cancelled: bool,
}

impl TimerRow<'_> {
    pub fn status(&self) -> &'static str {
        if self.cancelled {
            "cancelled"
        } else {
            "pending"
        }
    }

    pub fn payload(&self) -> Result<serde_json::Value, StoreError> {
        serde_json::to_value(self.kind).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

/// A decision's timer operations, one per timer.
pub(super) struct NetTimers<'a> {
    /// Upserted with their status.
    pub schedules: Vec<TimerRow<'a>>,
    /// Only cancelled: cancelled if pending.
    pub cancels: Vec<Uuid>,
}

/// Timer operations reduced to one per timer, as applying them in order would leave it:
/// the last schedule wins and is written cancelled when a cancel follows it; a timer only
/// cancelled is cancelled if pending. (One statement may not write a row twice.)
pub(super) fn net_timers(client: ClientId, ops: &[TimerOp]) -> NetTimers<'_> {
    let mut net: BTreeMap<Uuid, Option<TimerRow<'_>>> = BTreeMap::new();
    for op in ops {
        match op {
            TimerOp::Schedule { key, due_at, kind } => {
                let id = TimerId::for_key(client, key).0;
                let row = TimerRow {
                    id,
                    key,
                    kind,
                    due_at: *due_at,
                    cancelled: false,
                };
                net.insert(id, Some(row));
            }
            TimerOp::Cancel { key } => {
                let id = TimerId::for_key(client, key).0;
                match net.get_mut(&id) {
                    Some(Some(row)) => row.cancelled = true,
                    _ => {
                        net.insert(id, None);
                    }
                }
            }
        }
    }
    let mut out = NetTimers {
        schedules: Vec::new(),
        cancels: Vec::new(),
    };
    for (id, row) in net {
        match row {
            Some(row) => out.schedules.push(row),
            None => out.cancels.push(id),
        }
    }
    out
}

/// Occupancy changes as `net_occupancy` leaves them (one per provider and level, in one
/// global order), applied after the client row, so that two commands moving clients across
/// the same providers in opposite directions cannot deadlock. A slot taken must be free; a
/// slot released never takes the count below zero.
pub(super) async fn apply_occupancy(
    tx: &DatabaseTransaction,
    changes: &[OccupancyChange],
) -> Result<(), StoreError> {
    for ch in changes {
        let guard = if ch.delta > 0 {
            Expr::col(provider_level::Column::Occupied)
                .add(ch.delta)
                .lte(Expr::col(provider_level::Column::Capacity))
        } else {
            Expr::col(provider_level::Column::Occupied)
                .add(ch.delta)
                .gte(0)
        };
        let res = provider_level::Entity::update_many()
            .col_expr(
                provider_level::Column::Occupied,
                Expr::col(provider_level::Column::Occupied).add(ch.delta),
            )
            .filter(provider_level::Column::OrgId.eq(ch.provider.0))
            .filter(provider_level::Column::Level.eq(ch.level.as_str()))
            .filter(guard)
            .exec(tx)
            .await?;
        if res.rows_affected != 1 && ch.delta > 0 {
            return Err(slot_not_taken(tx, ch).await);
        }
    }
    Ok(())
}

/// Changes summed per (provider, level), in that order (a move within one provider and level
/// keeps its slot); rows whose changes cancel out are left alone. Computed once per commit.
pub(super) fn net_occupancy(changes: &[OccupancyChange]) -> Vec<OccupancyChange> {
    let mut net: BTreeMap<(Uuid, &str), OccupancyChange> = BTreeMap::new();
    for ch in changes {
        net.entry((ch.provider.0, ch.level.as_str()))
            .and_modify(|n| n.delta += ch.delta)
            .or_insert_with(|| ch.clone());
    }
    net.into_values().filter(|n| n.delta != 0).collect()
}

/// Why a slot the decision takes was not taken: the level is full, or not offered.
async fn slot_not_taken(tx: &DatabaseTransaction, ch: &OccupancyChange) -> StoreError {
    let exists = provider_level::Entity::find()
        .filter(provider_level::Column::OrgId.eq(ch.provider.0))
        .filter(provider_level::Column::Level.eq(ch.level.as_str()))
        .one(tx)
        .await;
    let (provider, level) = (ch.provider.to_string(), ch.level.to_string());
    match exists {
        Ok(Some(_)) => StoreError::NoCapacity { provider, level },
        Ok(None) => StoreError::NotOffered { provider, level },
        Err(e) => StoreError::Db(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use carepath_domain::ids::OrgId;
    use carepath_domain::pathway::LevelId;

    fn change(provider: OrgId, level: &str, delta: i32) -> OccupancyChange {
        OccupancyChange {
            provider,
            level: LevelId::new(level),
            delta,
        }
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
    }

    #[test]
    fn timers_reduce_to_what_applying_them_in_order_leaves() {
        let client = ClientId::new();
        let due = chrono::Utc::now();
        let kind = TimerKind::ReferralDeadline {
            referral: carepath_domain::ids::ReferralId(Uuid::nil()),
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
        let net = net_timers(client, &ops);
        let status = |key: &str| {
            net.schedules
                .iter()
                .find(|r| r.key == key)
                .map(|r| r.status())
        };
        assert_eq!(status("a"), Some("cancelled"));
        assert_eq!(status("c"), Some("pending"));
        assert_eq!(status("d"), Some("pending"));
        assert_eq!(status("b"), None);
        assert_eq!(net.cancels, vec![TimerId::for_key(client, "b").0]);
    }
}
