//! The outbox as the relay sees it: unpublished rows in order, taking published ones out, the
//! lag, the relay lease, and the linked senders (broker users that speak for an organization).

use super::entities::*;
use super::queries::event_from_row;
use super::rows::DisclosureRow;
use super::{Store, StoreError};
use carepath_domain::CareEvent;
use carepath_domain::ids::{ClientId, ConsentId, EventId, OrgId};
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    ExprTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, Statement,
    TransactionTrait,
};

/// The channel the engine notifies on commit (PostgreSQL LISTEN/NOTIFY).
pub const OUTBOX_CHANNEL: &str = "carepath_outbox";

/// An event waiting to be published.
#[derive(Clone, Debug)]
pub struct OutboxItem {
    pub outbox_id: i64,
    pub event: CareEvent,
    /// The organization holding the client's record.
    pub home_org: OrgId,
}

/// A disclosure to record (42 CFR 2.24 accounting): made by a decision, or by delivering an
/// event to another organization.
#[derive(Clone, Debug)]
pub struct NewDisclosure {
    pub client: ClientId,
    pub event: EventId,
    pub recipient: OrgId,
    pub consent: Option<ConsentId>,
    /// The basis when no consent covers it.
    pub legal_basis: Option<String>,
    pub what: String,
    pub at: DateTime<Utc>,
}

impl Store {
    /// Up to `limit` unpublished events, in outbox order (per client, commit order), leaving
    /// out the outbox rows `skip` (events already published whose removal is under way): one
    /// query, the outbox joined to its events.
    pub async fn unpublished(
        &self,
        limit: u64,
        skip: &[i64],
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let backend = self.db.get_database_backend();
        let skip_json = serde_json::Value::from(skip.to_vec());
        let (not_skipped, values): (&str, [sea_orm::Value; 2]) = if backend == DbBackend::Postgres {
            (
                "o.id NOT IN (SELECT x::bigint FROM jsonb_array_elements_text($2) AS x) \
                 ORDER BY o.id LIMIT $1",
                [(limit as i64).into(), skip_json.into()],
            )
        } else {
            (
                "o.id NOT IN (SELECT value FROM json_each(?2)) ORDER BY o.id LIMIT ?1",
                [(limit as i64).into(), skip_json.to_string().into()],
            )
        };
        let sql = format!(
            "SELECT o.id AS outbox_id, c.home_org AS home_org, e.id, e.client_id, e.seq, \
             e.event_type, e.level, e.actor_org, e.recipient_org, e.occurred_at, e.payload \
             FROM outbox o JOIN care_events e ON e.id = o.event_id \
             JOIN clients c ON c.id = e.client_id \
             WHERE {not_skipped}"
        );
        let tx = self.outbox_reader().await?;
        let rows = tx
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                let outbox_id: i64 = row.try_get("", "outbox_id")?;
                let home_org: uuid::Uuid = row.try_get("", "home_org")?;
                let model = care_event::Model::from_query_result(row, "")?;
                Ok(OutboxItem {
                    outbox_id,
                    event: event_from_row(model)?,
                    home_org: OrgId(home_org),
                })
            })
            .collect()
    }

    /// Take published events out of the outbox (the broker acked every copy with nothing
    /// returned) and record the copies that went to other organizations as disclosures, in
    /// one transaction. A delete, not an update: it writes no new row version and no index
    /// entries, and the outbox holds only what waits. `care_events` is the durable record of
    /// every event. A disclosure already recorded for the same event and recipient (by the
    /// decision, a subscription, or an earlier publication) is not recorded again.
    pub async fn remove_published(
        &self,
        ids: &[i64],
        disclosures: &[NewDisclosure],
    ) -> Result<(), StoreError> {
        if ids.is_empty() && disclosures.is_empty() {
            return Ok(());
        }
        if self.is_postgres() {
            return remove_published_pg(&self.db, ids, disclosures).await;
        }
        let _writer = self.writer().await;
        let tx = self.db.begin().await?;
        if !ids.is_empty() {
            outbox::Entity::delete_many()
                .filter(outbox::Column::Id.is_in(ids.iter().copied()))
                .exec(&tx)
                .await?;
        }
        insert_disclosures(&tx, disclosures).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Record disclosures made by delivering events (a live subscription), skipping any
    /// (event, recipient) already recorded.
    pub async fn record_disclosures(
        &self,
        disclosures: &[NewDisclosure],
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        insert_disclosures(&self.db, disclosures).await
    }

    /// How many events wait, and since when the oldest.
    pub async fn outbox_lag(&self) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        let tx = self.outbox_reader().await?;
        let oldest = outbox::Entity::find()
            .order_by_asc(outbox::Column::Id)
            .one(&tx)
            .await?
            .map(|r| r.created_at);
        let n = match oldest {
            None => 0,
            Some(_) => outbox::Entity::find().count(&tx).await?,
        };
        tx.commit().await?;
        Ok((n, oldest))
    }

    /// A read-only transaction for reading the outbox. On PostgreSQL it reads by plain index
    /// scans of the primary key: until the table is vacuumed, the index keeps an entry for
    /// every row published (deleted) since; a plain index scan marks those entries dead as it
    /// passes them (later scans skip them, and PostgreSQL drops them when the page fills),
    /// where a bitmap scan or a sequential scan — which the planner picks for a table it
    /// believes small — visits every dead row's page on every read.
    async fn outbox_reader(&self) -> Result<DatabaseTransaction, StoreError> {
        let tx = self.db.begin().await?;
        if self.is_postgres() {
            tx.execute_unprepared(
                "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off",
            )
            .await?;
        }
        Ok(tx)
    }

    /// Take or renew the lease `name` for `holder` until `now + ttl`. True if held.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        relay_lease::Entity::insert(relay_lease::ActiveModel {
            name: Set(name.to_owned()),
            holder: Set(holder.to_owned()),
            expires_at: Set(now + ttl),
        })
        .on_conflict(
            OnConflict::column(relay_lease::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        let res = relay_lease::Entity::update_many()
            .col_expr(relay_lease::Column::Holder, Expr::value(holder))
            .col_expr(relay_lease::Column::ExpiresAt, Expr::value(now + ttl))
            .filter(relay_lease::Column::Name.eq(name))
            .filter(
                relay_lease::Column::Holder
                    .eq(holder)
                    .or(relay_lease::Column::ExpiresAt.lt(now)),
            )
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Give the lease up (on shutdown), so another process takes over at once.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        relay_lease::Entity::delete_many()
            .filter(relay_lease::Column::Name.eq(name))
            .filter(relay_lease::Column::Holder.eq(holder))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Which organization an inbound sender (a broker user) speaks for.
    pub async fn sender_org(&self, user_id: &str) -> Result<Option<OrgId>, StoreError> {
        Ok(linked_sender::Entity::find_by_id(user_id.to_owned())
            .one(&self.db)
            .await?
            .map(|s| OrgId(s.org_id)))
    }

    pub async fn link_sender(
        &self,
        user_id: &str,
        org: OrgId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        linked_sender::Entity::insert(linked_sender::ActiveModel {
            user_id: Set(user_id.to_owned()),
            org_id: Set(org.0),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(linked_sender::Column::UserId)
                .update_column(linked_sender::Column::OrgId)
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    pub fn is_postgres(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Postgres
    }
}

/// PostgreSQL: the published events out of the outbox and their copies' disclosures in, as
/// one statement (its own transaction: one round trip) whose rows are two JSON parameters, so
/// its text never changes and each connection prepares it once. The ids as one array, read
/// by the primary key (`= ANY (ARRAY(…))`, as the timer cancels are).
const REMOVE_PUBLISHED_PG: &str = "WITH gone AS (DELETE FROM outbox \
    WHERE id = ANY (ARRAY(SELECT x::bigint FROM jsonb_array_elements_text($1) AS x))) \
    INSERT INTO disclosures (id, client_id, recipient_org, consent_id, event_id, what, disclosed_at, legal_basis) \
    SELECT x.id, x.client_id, x.recipient_org, x.consent_id, x.event_id, x.what, x.disclosed_at, x.legal_basis \
    FROM jsonb_to_recordset($2) AS x(id uuid, client_id uuid, recipient_org uuid, consent_id uuid, \
    event_id uuid, what text, disclosed_at timestamptz, legal_basis text) \
    ON CONFLICT (event_id, recipient_org) DO NOTHING";

async fn remove_published_pg(
    db: &impl ConnectionTrait,
    ids: &[i64],
    disclosures: &[NewDisclosure],
) -> Result<(), StoreError> {
    let rows: Vec<serde_json::Value> = disclosures
        .iter()
        .map(|d| {
            serde_json::json!({
                "id": uuid::Uuid::now_v7(),
                "client_id": d.client.0,
                "recipient_org": d.recipient.0,
                "consent_id": d.consent.map(|c| c.0),
                "event_id": d.event.0,
                "what": d.what,
                "disclosed_at": super::commit_pg::ts(&d.at),
                "legal_basis": d.legal_basis,
            })
        })
        .collect();
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        REMOVE_PUBLISHED_PG,
        [
            serde_json::Value::from(ids.to_vec()).into(),
            serde_json::Value::Array(rows).into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The relay's disclosures as rows, written by the one disclosure writer.
async fn insert_disclosures(
    conn: &impl ConnectionTrait,
    disclosures: &[NewDisclosure],
) -> Result<(), StoreError> {
    let rows = disclosures
        .iter()
        .map(|d| {
            (
                d.client.0,
                DisclosureRow {
                    id: uuid::Uuid::now_v7(),
                    recipient_org: d.recipient.0,
                    consent_id: d.consent.map(|c| c.0),
                    event_id: d.event.0,
                    what: d.what.clone(),
                    disclosed_at: d.at,
                    legal_basis: d.legal_basis.clone(),
                },
            )
        })
        .collect();
    super::commit::insert_disclosures(conn, rows).await
}

/// PostgreSQL: a connection LISTENing for commits that wrote outbox rows, from any process.
pub struct CommitListener(sea_orm::sqlx::postgres::PgListener);

impl CommitListener {
    pub async fn connect(postgres_url: &str) -> Result<Self, StoreError> {
        let mut l = sea_orm::sqlx::postgres::PgListener::connect(postgres_url)
            .await
            .map_err(|e| {
                StoreError::Db(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::Internal(
                    e.to_string(),
                )))
            })?;
        l.listen(OUTBOX_CHANNEL).await.map_err(|e| {
            StoreError::Db(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::Internal(
                e.to_string(),
            )))
        })?;
        Ok(Self(l))
    }

    /// The next commit notification.
    pub async fn next(&mut self) -> Result<(), StoreError> {
        self.0.recv().await.map(|_| ()).map_err(|e| {
            StoreError::Db(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::Internal(
                e.to_string(),
            )))
        })
    }
}
