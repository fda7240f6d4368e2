//! The one write path: a decision and everything that goes with it, in one transaction.
//! What each table gets is [`Rows`] (`rows.rs`, shared with PostgreSQL's one statement in
//! `commit_pg.rs`); here is the transaction around it, and the sea-orm writer used on SQLite
//! and for a timer's firing.

use super::entities::*;
use super::rows::{Commit, DisclosureRow, NoticeRow, Rows, SettledRow};
use super::{Store, StoreError};
use carepath_domain::OccupancyChange;
use carepath_domain::ids::TimerId;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, ExprTrait, QueryFilter,
    QuerySelect, TransactionTrait,
};

impl Store {
    /// Write the decision (one transaction), then tell relays in other processes that
    /// events wait (PostgreSQL; after the commit, never inside it).
    pub async fn commit(&self, c: Commit<'_>) -> Result<(), StoreError> {
        let rows = Rows::of(c)?;
        let has_events = rows.has_events();
        self.write_decision(rows).await?;
        if has_events {
            self.announce_commit();
        }
        Ok(())
    }

    async fn write_decision(&self, rows: Rows) -> Result<(), StoreError> {
        // PostgreSQL writes a command's decision in one statement. With no occupancy to
        // change after it, that statement is the whole transaction (autocommit: no BEGIN
        // and COMMIT round trips); otherwise the occupancy rows follow it in a transaction,
        // after the client row (the one lock order). A timer's firing (which must mark the
        // timer fired once) goes statement by statement; SQLite too, in a savepoint of a
        // transaction shared with the other decisions waiting for its one writer.
        if let Some(group) = &self.sqlite_group {
            return group.commit(&self.db, rows).await;
        }
        // PostgreSQL from here.
        let one_statement = rows.fired_timer.is_none();
        if one_statement && rows.occupancy.is_empty() {
            return match super::commit_pg::write(&self.db, &rows).await? {
                1 => Ok(()),
                _ => Err(rows.client_conflict()),
            };
        }
        let tx = self.db.begin().await?;
        let written = if one_statement {
            match super::commit_pg::write(&tx, &rows).await {
                Ok(1) => apply_occupancy(&tx, &rows.occupancy).await,
                Ok(_) => Err(rows.client_conflict()),
                Err(e) => Err(e),
            }
        } else {
            write(&tx, rows).await
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

/// Write a decision's rows statement by statement through sea-orm, inside `tx` (SQLite: a
/// savepoint; PostgreSQL: a timer's firing): the client row under its version check, the
/// fired timer, occupancy, events and their outbox rows, referrals, timers, disclosures and
/// the idempotency record.
pub(super) async fn write(tx: &DatabaseTransaction, rows: Rows) -> Result<(), StoreError> {
    let conflict = rows.client_conflict();
    let Rows {
        client: c,
        prev_version,
        fired_timer,
        occupancy,
        events,
        outbox,
        referrals,
        timers,
        timer_cancels,
        disclosures,
        identity,
        idempotency,
        notices,
        settled,
    } = rows;
    let (client_id, now) = (c.id, c.at);

    // 1. The client row, under the version check.
    match prev_version {
        None => {
            client::Entity::insert(client::ActiveModel {
                id: Set(c.id),
                home_org: Set(c.home_org),
                status: Set(c.status.to_owned()),
                level: Set(c.level),
                provider_id: Set(c.provider_id),
                version: Set(c.version),
                last_seq: Set(c.last_seq),
                state: Set(c.state),
                lost_to_care: Set(c.lost_to_care.map(str::to_owned)),
                case_manager: Set(c.case_manager),
                escalated_at: Set(c.escalated_at),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .exec_without_returning(tx)
            .await
            .map_err(|e| match StoreError::from_write(e, "") {
                StoreError::Conflict(_) => conflict,
                other => other,
            })?;
        }
        Some(prev) => {
            let res = client::Entity::update_many()
                .col_expr(client::Column::Status, Expr::value(c.status))
                .col_expr(client::Column::Level, Expr::value(c.level))
                .col_expr(client::Column::ProviderId, Expr::value(c.provider_id))
                .col_expr(client::Column::Version, Expr::value(c.version))
                .col_expr(client::Column::LastSeq, Expr::value(c.last_seq))
                .col_expr(client::Column::State, Expr::value(c.state))
                .col_expr(
                    client::Column::LostToCare,
                    Expr::value(c.lost_to_care.map(str::to_owned)),
                )
                .col_expr(client::Column::CaseManager, Expr::value(c.case_manager))
                .col_expr(client::Column::EscalatedAt, Expr::value(c.escalated_at))
                .col_expr(client::Column::UpdatedAt, Expr::value(now))
                .filter(client::Column::Id.eq(client_id))
                .filter(client::Column::Version.eq(prev))
                .exec(tx)
                .await?;
            if res.rows_affected != 1 {
                return Err(conflict);
            }
        }
    }

    // 2. A fired timer fires once.
    if let Some(t) = fired_timer {
        let res = timer::Entity::update_many()
            .col_expr(timer::Column::Status, Expr::value("fired"))
            .col_expr(timer::Column::FiredAt, Expr::value(Some(now)))
            .filter(timer::Column::Id.eq(t))
            .filter(timer::Column::Status.eq("pending"))
            .exec(tx)
            .await?;
        if res.rows_affected != 1 {
            return Err(StoreError::Conflict(format!(
                "timer {} already fired or cancelled",
                TimerId(t)
            )));
        }
    }

    // 3. Occupancy.
    apply_occupancy(tx, &occupancy).await?;

    // 4. Events and their outbox rows.
    if !events.is_empty() {
        let events = events.into_iter().map(|e| care_event::ActiveModel {
            id: Set(e.id),
            client_id: Set(client_id),
            seq: Set(e.seq),
            event_type: Set(e.event_type.to_owned()),
            level: Set(e.level),
            actor_org: Set(e.actor_org),
            recipient_org: Set(e.recipient_org),
            occurred_at: Set(e.occurred_at),
            payload: Set(e.payload),
        });
        care_event::Entity::insert_many(events)
            .exec_without_returning(tx)
            .await
            .map_err(|e| StoreError::from_write(e, "event sequence taken"))?;
    }
    if !outbox.is_empty() {
        let outbox = outbox.into_iter().map(|o| outbox::ActiveModel {
            event_id: Set(o.event_id),
            client_id: Set(client_id),
            created_at: Set(o.created_at),
            ..Default::default()
        });
        outbox::Entity::insert_many(outbox)
            .exec_without_returning(tx)
            .await?;
    }

    // 5. The referral projection (inbox, denial log).
    if !referrals.is_empty() {
        let referrals = referrals.into_iter().map(|r| referral::ActiveModel {
            id: Set(r.id),
            client_id: Set(client_id),
            group_id: Set(r.group_id),
            provider_id: Set(r.provider_id),
            to_level: Set(r.to_level),
            status: Set(r.status.to_owned()),
            decline_code: Set(r.decline_code),
            decline_note: Set(r.decline_note),
            sent_at: Set(r.sent_at),
            answer_by: Set(r.answer_by),
            answered_at: Set(r.answered_at),
        });
        referral::Entity::insert_many(referrals)
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

    // 6. Timers, one row each as the decision's operations leave them.
    if !timers.is_empty() {
        let timers = timers.into_iter().map(|t| timer::ActiveModel {
            id: Set(t.id),
            client_id: Set(client_id),
            key: Set(t.key),
            kind: Set(t.kind.to_owned()),
            due_at: Set(t.due_at),
            status: Set(t.status.to_owned()),
            payload: Set(t.payload),
            fired_at: Set(None),
        });
        timer::Entity::insert_many(timers)
            .on_conflict(
                OnConflict::column(timer::Column::Id)
                    .update_columns([timer::Column::DueAt, timer::Column::Status])
                    .to_owned(),
            )
            .exec_without_returning(tx)
            .await?;
    }
    if !timer_cancels.is_empty() {
        timer::Entity::update_many()
            .col_expr(timer::Column::Status, Expr::value("cancelled"))
            .filter(timer::Column::Id.is_in(timer_cancels))
            // `IS TRUE` so no index serves it: the planner would otherwise AND in every
            // client's pending timers (`timers_due`) for a handful of ids.
            .filter(Expr::expr(timer::Column::Status.eq("pending")).is(true))
            .exec(tx)
            .await?;
    }

    // 7. Disclosures (42 CFR 2.24 accounting), skipping any (event, recipient) recorded.
    insert_disclosures(
        tx,
        disclosures.into_iter().map(|x| (client_id, x)).collect(),
    )
    .await?;

    // 8. The display name and record number, beside the record (a record number another
    //    client of the organization has is refused by its unique index).
    if let Some(i) = identity {
        client_identity::Entity::insert(client_identity::ActiveModel {
            client_id: Set(client_id),
            home_org: Set(i.home_org),
            display_name: Set(i.display_name),
            name_key: Set(i.name_key),
            record_number: Set(i.record_number),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(client_identity::Column::ClientId)
                .update_columns([
                    client_identity::Column::DisplayName,
                    client_identity::Column::NameKey,
                    client_identity::Column::RecordNumber,
                    client_identity::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(tx)
        .await
        .map_err(|e| StoreError::from_write(e, "record number taken concurrently"))?;
    }

    // 9. Notices raised and settled.
    write_notices(tx, client_id, now, notices, settled).await?;

    // 10. The idempotency record: a concurrent twin with the same key loses here.
    if let Some(idem) = idempotency {
        idempotency::Entity::insert(idempotency::ActiveModel {
            actor_org: Set(idem.actor_org),
            key: Set(idem.key),
            request_hash: Set(idem.request_hash),
            client_id: Set(Some(client_id)),
            response: Set(idem.response),
            created_at: Set(now),
        })
        .exec_without_returning(tx)
        .await
        .map_err(|e| StoreError::from_write(e, "idempotency key used concurrently"))?;
    }
    Ok(())
}

/// Insert the notices a decision raised (an id already there is the same notice: left
/// alone), and resolve the client's notices it settled, with their escalations.
async fn write_notices(
    tx: &DatabaseTransaction,
    client_id: uuid::Uuid,
    now: chrono::DateTime<chrono::Utc>,
    notices: Vec<NoticeRow>,
    settled: Vec<SettledRow>,
) -> Result<(), StoreError> {
    if !notices.is_empty() {
        let rows = notices.into_iter().map(|n| notification::ActiveModel {
            id: Set(n.id),
            kind: Set(n.kind.to_owned()),
            org_id: Set(n.org_id),
            role: Set(n.role.map(str::to_owned)),
            staff_id: Set(n.staff_id),
            client_id: Set(Some(client_id)),
            referral_id: Set(n.referral_id),
            due_at: Set(n.due_at),
            show_at: Set(n.show_at),
            status: Set(n.status.to_owned()),
            escalate_at: Set(n.escalate_at),
            escalates: Set(None),
            escalated_at: Set(None),
            resolved_at: Set(None),
            first_read_at: Set(None),
            expanded: Set(false),
            created_at: Set(now),
        });
        notification::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(notification::Column::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(tx)
            .await?;
    }
    for x in settled {
        let mut q = notification::Entity::find()
            .select_only()
            .column(notification::Column::Id)
            .filter(notification::Column::ClientId.eq(client_id))
            .filter(notification::Column::Kind.eq(x.kind))
            .filter(notification::Column::Escalates.is_null())
            .filter(notification::Column::ResolvedAt.is_null());
        if let Some(r) = x.referral_id {
            q = q.filter(notification::Column::ReferralId.eq(r));
        }
        let ids: Vec<uuid::Uuid> = q.into_tuple().all(tx).await?;
        if ids.is_empty() {
            continue;
        }
        notification::Entity::update_many()
            .col_expr(notification::Column::ResolvedAt, Expr::value(Some(now)))
            .filter(
                notification::Column::Id
                    .is_in(ids.clone())
                    .or(notification::Column::Escalates.is_in(ids)),
            )
            .filter(notification::Column::ResolvedAt.is_null())
            .exec(tx)
            .await?;
    }
    Ok(())
}

/// Occupancy changes as [`Rows::occupancy`] has them (one per provider and level, in one
/// global order), applied after the client row, so that two commands moving clients across
/// the same providers in opposite directions cannot deadlock. A change that takes slots
/// (occupied plus held grows) needs them free within the capacity; a held slot becoming an
/// occupied one needs none; no count goes below zero (a release of what is not there is left
/// alone).
pub(super) async fn apply_occupancy(
    tx: &DatabaseTransaction,
    changes: &[OccupancyChange],
) -> Result<(), StoreError> {
    for ch in changes {
        let (occupied, held) = (
            Expr::col(provider_level::Column::Occupied),
            Expr::col(provider_level::Column::Held),
        );
        let taken = ch.occupied + ch.held;
        let mut q = provider_level::Entity::update_many()
            .col_expr(
                provider_level::Column::Occupied,
                occupied.clone().add(ch.occupied),
            )
            .col_expr(provider_level::Column::Held, held.clone().add(ch.held))
            .filter(provider_level::Column::OrgId.eq(ch.provider.0))
            .filter(provider_level::Column::Level.eq(ch.level.as_str()))
            .filter(occupied.clone().add(ch.occupied).gte(0))
            .filter(held.clone().add(ch.held).gte(0));
        if taken > 0 {
            q = q.filter(
                occupied
                    .add(held)
                    .add(taken)
                    .lte(Expr::col(provider_level::Column::Capacity)),
            );
        }
        let res = q.exec(tx).await?;
        if res.rows_affected != 1 && (taken > 0 || ch.occupied > 0) {
            return Err(slot_not_taken(tx, ch).await);
        }
    }
    Ok(())
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

/// Insert disclosures (each with its client), skipping any (event, recipient) already
/// recorded: the one writer of disclosure rows, for a decision's and for the relay's.
pub(crate) async fn insert_disclosures(
    conn: &impl sea_orm::ConnectionTrait,
    disclosures: Vec<(uuid::Uuid, DisclosureRow)>,
) -> Result<(), StoreError> {
    if disclosures.is_empty() {
        return Ok(());
    }
    let rows = disclosures
        .into_iter()
        .map(|(client_id, x)| disclosure::ActiveModel {
            id: Set(x.id),
            client_id: Set(client_id),
            recipient_org: Set(x.recipient_org),
            consent_id: Set(x.consent_id),
            event_id: Set(Some(x.event_id)),
            what: Set(x.what),
            disclosed_at: Set(x.disclosed_at),
            legal_basis: Set(x.legal_basis),
        });
    disclosure::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                disclosure::Column::EventId,
                disclosure::Column::RecipientOrg,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}
