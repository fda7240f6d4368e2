//! Notifications after the decision that raised them: the scheduled ones told or dropped at
//! their time, silence escalated (once), people's reads, the deliveries each notice makes (an
//! e-mail per person, a webhook call per organization webhook — unique, so never two), their
//! claims, attempts and results; organizations' own rules and webhooks, people's e-mail
//! choices. What is told and to whom is decided in the domain (`notify`); here it is only
//! kept.

use super::entities::*;
use super::{Store, StoreError};
use carepath_domain::ids::{ClientId, NoticeId, OrgId, ReferralId, StaffId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, ExprTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use uuid::Uuid;

/// A stored notification.
#[derive(Clone, Debug, PartialEq)]
pub struct NoticeRecord {
    pub id: NoticeId,
    pub kind: String,
    pub org: OrgId,
    pub role: Option<String>,
    pub staff: Option<StaffId>,
    pub client: Option<ClientId>,
    pub referral: Option<ReferralId>,
    pub due_at: Option<DateTime<Utc>>,
    pub show_at: DateTime<Utc>,
    pub status: String,
    pub escalate_at: Option<DateTime<Utc>>,
    pub escalates: Option<NoticeId>,
    pub escalated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub first_read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn record(m: notification::Model) -> NoticeRecord {
    NoticeRecord {
        id: NoticeId(m.id),
        kind: m.kind,
        org: OrgId(m.org_id),
        role: m.role,
        staff: m.staff_id.map(StaffId),
        client: m.client_id.map(ClientId),
        referral: m.referral_id.map(ReferralId),
        due_at: m.due_at,
        show_at: m.show_at,
        status: m.status,
        escalate_at: m.escalate_at,
        escalates: m.escalates.map(NoticeId),
        escalated_at: m.escalated_at,
        resolved_at: m.resolved_at,
        first_read_at: m.first_read_at,
        created_at: m.created_at,
    }
}

/// A notice written outside a decision (an escalation, a disabled webhook).
#[derive(Clone, Debug, PartialEq)]
pub struct NewNotice {
    pub id: NoticeId,
    pub kind: &'static str,
    pub org: OrgId,
    pub role: Option<&'static str>,
    pub staff: Option<StaffId>,
    pub client: Option<ClientId>,
    pub referral: Option<ReferralId>,
    pub due_at: Option<DateTime<Utc>>,
    pub escalates: Option<NoticeId>,
}

/// One notice as a person sees it in their list: read by them or not.
#[derive(Clone, Debug, PartialEq)]
pub struct NoticeForPerson {
    pub notice: NoticeRecord,
    pub read_at: Option<DateTime<Utc>>,
}

/// A delivery to make.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDelivery {
    pub channel: &'static str,
    pub target: Uuid,
    pub send_at: DateTime<Utc>,
}

/// A delivery claimed for sending.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryRecord {
    pub id: Uuid,
    pub notice: NoticeRecord,
    pub channel: String,
    pub target: Uuid,
    pub attempts: i32,
    pub send_at: DateTime<Utc>,
}

/// A delivery as the record of what was sent (for the organization's admins and tests).
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryState {
    pub id: Uuid,
    pub notification: NoticeId,
    pub channel: String,
    pub target: Uuid,
    pub status: String,
    pub attempts: i32,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// An organization's webhook.
#[derive(Clone, PartialEq)]
pub struct WebhookRecord {
    pub id: Uuid,
    pub org: OrgId,
    pub url: String,
    pub secret: String,
    pub enabled: bool,
    pub failures: i32,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for WebhookRecord {
    /// The secret signs the organization's messages: never in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRecord")
            .field("id", &self.id)
            .field("org", &self.org)
            .field("enabled", &self.enabled)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

fn webhook(m: org_webhook::Model) -> WebhookRecord {
    WebhookRecord {
        id: m.id,
        org: OrgId(m.org_id),
        url: m.url,
        secret: m.secret,
        enabled: m.enabled,
        failures: m.failures,
        disabled_at: m.disabled_at,
        created_at: m.created_at,
    }
}

/// A person a notice may go to.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipient {
    pub staff: StaffId,
    pub email: String,
    pub quiet: Option<(i32, i32)>,
    /// Their e-mail choice per kind (kinds not named: immediate).
    pub prefs: Vec<(String, String)>,
}

/// The open notices whose deliveries are not made yet, as SQL both databases read: the
/// condition of the partial index `notifications_to_expand` (migration 23), written literally.
/// A planner uses a partial index only for a query whose condition implies the index's, and
/// `expanded = $1` implies nothing whatever `$1` is bound to; so the notifier's query says
/// exactly this (test `notify::the_notifier_reads_only_the_notices_it_expands`).
pub const NOTICES_TO_EXPAND: &str = "status = 'open' AND NOT expanded";

/// The open notices nobody has read, acted on or escalated, as SQL both databases read: the
/// condition of the partial index `notifications_silent` on `escalate_at` (migration 23), for
/// the sweep's silent notices and a skipped clock's next stop (test
/// `notify::the_sweep_reads_only_the_notices_still_silent`).
pub const NOTICES_SILENT: &str = "status = 'open' AND escalated_at IS NULL \
    AND resolved_at IS NULL AND first_read_at IS NULL";

/// Whose notices: a person of an organization in a role.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reader<'a> {
    pub org: OrgId,
    pub role: &'a str,
    pub staff: StaffId,
}

fn addressed_to(r: Reader<'_>) -> Condition {
    Condition::all()
        .add(notification::Column::OrgId.eq(r.org.0))
        .add(notification::Column::Status.eq("open"))
        .add(
            Condition::any()
                .add(notification::Column::StaffId.eq(r.staff.0))
                .add(
                    Condition::all()
                        .add(notification::Column::StaffId.is_null())
                        .add(notification::Column::Role.eq(r.role)),
                ),
        )
}

impl Store {
    // ---- rules ---------------------------------------------------------------------------

    /// Every organization's own rules: (organization, kind, off, minutes of silence before
    /// escalation — `Some(0)` never, `None` the default).
    pub async fn notice_rules(
        &self,
    ) -> Result<Vec<(OrgId, String, bool, Option<i32>)>, StoreError> {
        Ok(notice_rule::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| (OrgId(r.org_id), r.kind, r.off, r.escalate_minutes))
            .collect())
    }

    /// Set an organization's own rule for a kind (`None` with `off` false: back to the
    /// default).
    pub async fn set_notice_rule(
        &self,
        org: OrgId,
        kind: &str,
        off: bool,
        escalate_minutes: Option<i32>,
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        if !off && escalate_minutes.is_none() {
            notice_rule::Entity::delete_many()
                .filter(notice_rule::Column::OrgId.eq(org.0))
                .filter(notice_rule::Column::Kind.eq(kind))
                .exec(&self.db)
                .await?;
            return Ok(());
        }
        notice_rule::Entity::insert(notice_rule::ActiveModel {
            org_id: Set(org.0),
            kind: Set(kind.to_owned()),
            off: Set(off),
            escalate_minutes: Set(escalate_minutes),
        })
        .on_conflict(
            OnConflict::columns([notice_rule::Column::OrgId, notice_rule::Column::Kind])
                .update_columns([
                    notice_rule::Column::Off,
                    notice_rule::Column::EscalateMinutes,
                ])
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    // ---- the notices' own course -----------------------------------------------------------

    pub async fn notice(&self, id: NoticeId) -> Result<Option<NoticeRecord>, StoreError> {
        Ok(notification::Entity::find_by_id(id.0)
            .one(&self.db)
            .await?
            .map(record))
    }

    /// Scheduled notices whose time has come (`show_at <= now`), oldest first.
    pub async fn scheduled_notices_due(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<NoticeRecord>, StoreError> {
        Ok(notification::Entity::find()
            .filter(notification::Column::Status.eq("scheduled"))
            .filter(notification::Column::ShowAt.lte(now))
            .order_by_asc(notification::Column::ShowAt)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(record)
            .collect())
    }

    /// Tell a scheduled notice now (`open`, from `now`), or drop it; `false` when it was no
    /// longer scheduled (another process did it first).
    pub async fn tell_scheduled(
        &self,
        id: NoticeId,
        tell: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let mut q = notification::Entity::update_many()
            .col_expr(
                notification::Column::Status,
                Expr::value(if tell { "open" } else { "dropped" }),
            )
            .filter(notification::Column::Id.eq(id.0))
            .filter(notification::Column::Status.eq("scheduled"));
        if tell {
            q = q.col_expr(notification::Column::ShowAt, Expr::value(now));
        }
        Ok(q.exec(&self.db).await?.rows_affected == 1)
    }

    /// Open notices nobody opened or acted on whose silence deadline passed, not yet
    /// escalated, oldest deadline first.
    pub async fn silent_notices(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<NoticeRecord>, StoreError> {
        Ok(notification::Entity::find()
            .filter(Expr::cust(NOTICES_SILENT))
            .filter(notification::Column::EscalateAt.lte(now))
            .order_by_asc(notification::Column::EscalateAt)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(record)
            .collect())
    }

    /// Escalate a silent notice: mark it escalated and write its escalation, in one
    /// transaction; `false` when it was escalated, read or resolved meanwhile (nothing
    /// written).
    pub async fn escalate_notice(
        &self,
        of: NoticeId,
        escalation: &NewNotice,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let tx = self.db.begin().await?;
        let marked = notification::Entity::update_many()
            .col_expr(notification::Column::EscalatedAt, Expr::value(Some(now)))
            .filter(notification::Column::Id.eq(of.0))
            .filter(notification::Column::EscalatedAt.is_null())
            .filter(notification::Column::ResolvedAt.is_null())
            .filter(notification::Column::FirstReadAt.is_null())
            .exec(&tx)
            .await?;
        if marked.rows_affected != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_notice(&tx, escalation, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Write a notice raised outside a decision (told at once); an id already there is left.
    pub async fn insert_notice(&self, n: &NewNotice, now: DateTime<Utc>) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        insert_notice(&self.db, n, now).await
    }

    /// The next moment after `after`, up to `until`, when a scheduled notice is due or an
    /// open one's silence ends: a step of a skipped clock.
    pub async fn next_notice_after(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let scheduled: Option<DateTime<Utc>> = notification::Entity::find()
            .select_only()
            .column(notification::Column::ShowAt)
            .filter(notification::Column::Status.eq("scheduled"))
            .filter(notification::Column::ShowAt.gt(after))
            .filter(notification::Column::ShowAt.lte(until))
            .order_by_asc(notification::Column::ShowAt)
            .into_tuple()
            .one(&self.db)
            .await?;
        let silent: Option<Option<DateTime<Utc>>> = notification::Entity::find()
            .select_only()
            .column(notification::Column::EscalateAt)
            .filter(Expr::cust(NOTICES_SILENT))
            .filter(notification::Column::EscalateAt.gt(after))
            .filter(notification::Column::EscalateAt.lte(until))
            .order_by_asc(notification::Column::EscalateAt)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok([scheduled, silent.flatten()].into_iter().flatten().min())
    }

    // ---- a person's notification center --------------------------------------------------

    /// A person's notices, newest first, with whether they read each.
    pub async fn notices_for(
        &self,
        reader: Reader<'_>,
        limit: u64,
    ) -> Result<Vec<NoticeForPerson>, StoreError> {
        let notices: Vec<NoticeRecord> = notification::Entity::find()
            .filter(addressed_to(reader))
            .order_by_desc(notification::Column::ShowAt)
            .order_by_desc(notification::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(record)
            .collect();
        let reads: Vec<(Uuid, DateTime<Utc>)> = notification_read::Entity::find()
            .select_only()
            .column(notification_read::Column::NotificationId)
            .column(notification_read::Column::ReadAt)
            .filter(notification_read::Column::StaffId.eq(reader.staff.0))
            .filter(notification_read::Column::NotificationId.is_in(notices.iter().map(|n| n.id.0)))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(notices
            .into_iter()
            .map(|notice| {
                let read_at = reads
                    .iter()
                    .find(|(id, _)| *id == notice.id.0)
                    .map(|(_, at)| *at);
                NoticeForPerson { notice, read_at }
            })
            .collect())
    }

    /// How many of a person's notices they have not read (of the newest `cap`).
    pub async fn unread_notices(&self, reader: Reader<'_>, cap: u64) -> Result<u64, StoreError> {
        let ids: Vec<Uuid> = notification::Entity::find()
            .select_only()
            .column(notification::Column::Id)
            .filter(addressed_to(reader))
            .order_by_desc(notification::Column::ShowAt)
            .limit(cap)
            .into_tuple()
            .all(&self.db)
            .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let read = notification_read::Entity::find()
            .filter(notification_read::Column::StaffId.eq(reader.staff.0))
            .filter(notification_read::Column::NotificationId.is_in(ids.clone()))
            .count(&self.db)
            .await?;
        Ok(ids.len() as u64 - read)
    }

    /// A person read a notice (once: the first read stands), and it was first read then
    /// unless someone read it before.
    pub async fn mark_notice_read(
        &self,
        id: NoticeId,
        staff: StaffId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        let tx = self.db.begin().await?;
        notification_read::Entity::insert(notification_read::ActiveModel {
            notification_id: Set(id.0),
            staff_id: Set(staff.0),
            read_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                notification_read::Column::NotificationId,
                notification_read::Column::StaffId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&tx)
        .await?;
        notification::Entity::update_many()
            .col_expr(notification::Column::FirstReadAt, Expr::value(Some(now)))
            .filter(notification::Column::Id.eq(id.0))
            .filter(notification::Column::FirstReadAt.is_null())
            .exec(&tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Notices of `kind` about referrals, told in `[from, to)` (for the measures): of the
    /// clients `home_org` holds (every client: `None`), to `provider` and for referrals to
    /// `level` when given, oldest first.
    pub async fn referral_notices(
        &self,
        kind: &str,
        home_org: Option<OrgId>,
        provider: Option<OrgId>,
        level: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<NoticeRecord>, StoreError> {
        use sea_orm::sea_query::Query;
        let mut q = notification::Entity::find()
            .filter(notification::Column::Kind.eq(kind))
            .filter(notification::Column::Status.eq("open"))
            .filter(notification::Column::ShowAt.gte(from))
            .filter(notification::Column::ShowAt.lt(to));
        if let Some(org) = provider {
            q = q.filter(notification::Column::OrgId.eq(org.0));
        }
        if let Some(home) = home_org {
            q = q.filter(
                notification::Column::ClientId.in_subquery(
                    Query::select()
                        .column(client::Column::Id)
                        .from(client::Entity)
                        .and_where(client::Column::HomeOrg.eq(home.0))
                        .to_owned(),
                ),
            );
        }
        if let Some(level) = level {
            q = q.filter(
                notification::Column::ReferralId.in_subquery(
                    Query::select()
                        .column(referral::Column::Id)
                        .from(referral::Entity)
                        .and_where(referral::Column::ToLevel.eq(level))
                        .to_owned(),
                ),
            );
        }
        Ok(q.order_by_asc(notification::Column::ShowAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(record)
            .collect())
    }

    // ---- deliveries ------------------------------------------------------------------------

    /// Open notices whose deliveries are not made yet, oldest first: read through the index of
    /// only those (migration 23), whose condition [`NOTICES_TO_EXPAND`] is.
    pub async fn notices_to_expand(&self, limit: u64) -> Result<Vec<NoticeRecord>, StoreError> {
        Ok(notification::Entity::find()
            .filter(Expr::cust(NOTICES_TO_EXPAND))
            .order_by_asc(notification::Column::ShowAt)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(record)
            .collect())
    }

    /// The active people of an organization in a role (or the one person), with their
    /// e-mail choices.
    pub async fn notice_recipients(
        &self,
        org: OrgId,
        role: Option<&str>,
        staff: Option<StaffId>,
    ) -> Result<Vec<Recipient>, StoreError> {
        let mut q = staff_account::Entity::find()
            .filter(staff_account::Column::OrgId.eq(org.0))
            .filter(staff_account::Column::Status.eq("active"));
        if let Some(s) = staff {
            q = q.filter(staff_account::Column::Id.eq(s.0));
        } else if let Some(r) = role {
            q = q.filter(staff_account::Column::Role.eq(r));
        }
        let people = q
            .order_by_asc(staff_account::Column::Id)
            .all(&self.db)
            .await?;
        let prefs = notification_pref::Entity::find()
            .filter(notification_pref::Column::StaffId.is_in(people.iter().map(|p| p.id)))
            .all(&self.db)
            .await?;
        Ok(people
            .into_iter()
            .map(|p| Recipient {
                staff: StaffId(p.id),
                email: p.email,
                quiet: p.quiet_from.zip(p.quiet_to),
                prefs: prefs
                    .iter()
                    .filter(|x| x.staff_id == p.id)
                    .map(|x| (x.kind.clone(), x.mode.clone()))
                    .collect(),
            })
            .collect())
    }

    /// Make notices' deliveries and mark the notices expanded, all in one transaction (a
    /// delivery already there is left alone: never two).
    pub async fn expand_notices(
        &self,
        expanded: &[(NoticeId, Vec<NewDelivery>)],
    ) -> Result<(), StoreError> {
        if expanded.is_empty() {
            return Ok(());
        }
        let _writer = self.writer().await;
        let tx = self.db.begin().await?;
        let rows: Vec<notification_delivery::ActiveModel> = expanded
            .iter()
            .flat_map(|(id, deliveries)| {
                deliveries
                    .iter()
                    .map(move |d| notification_delivery::ActiveModel {
                        id: Set(Uuid::now_v7()),
                        notification_id: Set(id.0),
                        channel: Set(d.channel.to_owned()),
                        target: Set(d.target),
                        status: Set("waiting".to_owned()),
                        send_at: Set(d.send_at),
                        retry_at: Set(None),
                        leased_until: Set(None),
                        attempts: Set(0),
                        sent_at: Set(None),
                        last_error: Set(None),
                    })
            })
            .collect();
        if !rows.is_empty() {
            notification_delivery::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::columns([
                        notification_delivery::Column::NotificationId,
                        notification_delivery::Column::Channel,
                        notification_delivery::Column::Target,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&tx)
                .await?;
        }
        if self.is_postgres() {
            // A commit settling some of these notices locks their rows too, in its own order:
            // this transaction never waits for one (SKIP LOCKED), so the two cannot deadlock. A
            // notice skipped stays unexpanded and is expanded on the next pass (its deliveries
            // already there are left alone).
            let ids: Vec<serde_json::Value> = expanded
                .iter()
                .map(|(id, _)| serde_json::Value::String(id.0.to_string()))
                .collect();
            tx.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE notifications SET expanded = TRUE WHERE id IN (SELECT id FROM notifications \
                 WHERE id = ANY (ARRAY(SELECT x::uuid FROM jsonb_array_elements_text($1) AS x)) \
                 FOR NO KEY UPDATE SKIP LOCKED)",
                [serde_json::Value::Array(ids).into()],
            ))
            .await?;
        } else {
            notification::Entity::update_many()
                .col_expr(notification::Column::Expanded, Expr::value(true))
                .filter(notification::Column::Id.is_in(expanded.iter().map(|(id, _)| id.0)))
                .exec(&tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Claim up to `limit` deliveries that may go (`send_at` passed on the engine's clock, a
    /// retry's time passed on the wall clock, no live lease), leasing each until
    /// `wall + lease`, so no two senders send one.
    pub async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        wall: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u64,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let free = || {
            Condition::all()
                .add(notification_delivery::Column::Status.eq("waiting"))
                .add(
                    Condition::any()
                        .add(notification_delivery::Column::RetryAt.is_null())
                        .add(notification_delivery::Column::RetryAt.lte(wall)),
                )
                .add(
                    Condition::any()
                        .add(notification_delivery::Column::LeasedUntil.is_null())
                        .add(notification_delivery::Column::LeasedUntil.lt(wall)),
                )
        };
        let candidates = notification_delivery::Entity::find()
            .filter(free())
            .filter(notification_delivery::Column::SendAt.lte(now))
            .order_by_asc(notification_delivery::Column::SendAt)
            .limit(limit)
            .all(&self.db)
            .await?;
        let mut out = Vec::new();
        for d in candidates {
            let claimed = {
                let _writer = self.writer().await;
                notification_delivery::Entity::update_many()
                    .col_expr(
                        notification_delivery::Column::LeasedUntil,
                        Expr::value(Some(wall + lease)),
                    )
                    .filter(notification_delivery::Column::Id.eq(d.id))
                    .filter(free())
                    .exec(&self.db)
                    .await?
                    .rows_affected
                    == 1
            };
            if !claimed {
                continue;
            }
            let Some(notice) = self.notice(NoticeId(d.notification_id)).await? else {
                continue;
            };
            out.push(DeliveryRecord {
                id: d.id,
                notice,
                channel: d.channel,
                target: d.target,
                attempts: d.attempts,
                send_at: d.send_at,
            });
        }
        Ok(out)
    }

    /// Record an attempt and its result: sent, given up (`dropped`), or to be tried again
    /// at `retry_at`; the lease ends.
    pub async fn delivery_attempted(
        &self,
        id: Uuid,
        outcome: DeliveryOutcome<'_>,
        wall: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        let tx = self.db.begin().await?;
        let (ok, detail) = match outcome {
            DeliveryOutcome::Sent => (true, "sent"),
            DeliveryOutcome::Dropped(why) | DeliveryOutcome::Retry { why, .. } => (false, why),
        };
        notification_attempt::Entity::insert(notification_attempt::ActiveModel {
            id: Set(Uuid::now_v7()),
            delivery_id: Set(id),
            at: Set(wall),
            ok: Set(ok),
            detail: Set(detail.chars().take(500).collect()),
        })
        .exec_without_returning(&tx)
        .await?;
        let mut q = notification_delivery::Entity::update_many()
            .col_expr(
                notification_delivery::Column::Attempts,
                Expr::col(notification_delivery::Column::Attempts).add(1),
            )
            .col_expr(
                notification_delivery::Column::LeasedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(notification_delivery::Column::Id.eq(id));
        q = match outcome {
            DeliveryOutcome::Sent => q
                .col_expr(notification_delivery::Column::Status, Expr::value("sent"))
                .col_expr(
                    notification_delivery::Column::SentAt,
                    Expr::value(Some(wall)),
                ),
            DeliveryOutcome::Dropped(why) => q
                .col_expr(
                    notification_delivery::Column::Status,
                    Expr::value("dropped"),
                )
                .col_expr(
                    notification_delivery::Column::LastError,
                    Expr::value(Some(why.to_owned())),
                ),
            DeliveryOutcome::Retry { why, at } => q
                .col_expr(
                    notification_delivery::Column::RetryAt,
                    Expr::value(Some(at)),
                )
                .col_expr(
                    notification_delivery::Column::LastError,
                    Expr::value(Some(why.to_owned())),
                ),
        };
        q.exec(&tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The deliveries of notices (every channel), for the record of what was sent.
    pub async fn deliveries_of(
        &self,
        notices: &[NoticeId],
    ) -> Result<Vec<DeliveryState>, StoreError> {
        Ok(notification_delivery::Entity::find()
            .filter(
                notification_delivery::Column::NotificationId.is_in(notices.iter().map(|n| n.0)),
            )
            .order_by_asc(notification_delivery::Column::SendAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|d| DeliveryState {
                id: d.id,
                notification: NoticeId(d.notification_id),
                channel: d.channel,
                target: d.target,
                status: d.status,
                attempts: d.attempts,
                sent_at: d.sent_at,
                last_error: d.last_error,
            })
            .collect())
    }

    // ---- people's choices ------------------------------------------------------------------

    pub async fn set_email_pref(
        &self,
        staff: StaffId,
        kind: &str,
        mode: &str,
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        notification_pref::Entity::insert(notification_pref::ActiveModel {
            staff_id: Set(staff.0),
            kind: Set(kind.to_owned()),
            mode: Set(mode.to_owned()),
        })
        .on_conflict(
            OnConflict::columns([
                notification_pref::Column::StaffId,
                notification_pref::Column::Kind,
            ])
            .update_column(notification_pref::Column::Mode)
            .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    pub async fn set_quiet_hours(
        &self,
        staff: StaffId,
        quiet: Option<(i32, i32)>,
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        staff_account::Entity::update_many()
            .col_expr(
                staff_account::Column::QuietFrom,
                Expr::value(quiet.map(|q| q.0)),
            )
            .col_expr(
                staff_account::Column::QuietTo,
                Expr::value(quiet.map(|q| q.1)),
            )
            .filter(staff_account::Column::Id.eq(staff.0))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    // ---- webhooks --------------------------------------------------------------------------

    pub async fn add_webhook(&self, w: &WebhookRecord) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        org_webhook::Entity::insert(org_webhook::ActiveModel {
            id: Set(w.id),
            org_id: Set(w.org.0),
            url: Set(w.url.clone()),
            secret: Set(w.secret.clone()),
            enabled: Set(w.enabled),
            failures: Set(0),
            disabled_at: Set(None),
            created_at: Set(w.created_at),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    pub async fn webhooks(&self, org: OrgId) -> Result<Vec<WebhookRecord>, StoreError> {
        Ok(org_webhook::Entity::find()
            .filter(org_webhook::Column::OrgId.eq(org.0))
            .order_by_asc(org_webhook::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(webhook)
            .collect())
    }

    pub async fn webhook(&self, id: Uuid) -> Result<Option<WebhookRecord>, StoreError> {
        Ok(org_webhook::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(webhook))
    }

    /// Remove an organization's webhook; `false` when it has none by that id.
    pub async fn remove_webhook(&self, org: OrgId, id: Uuid) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        Ok(org_webhook::Entity::delete_many()
            .filter(org_webhook::Column::OrgId.eq(org.0))
            .filter(org_webhook::Column::Id.eq(id))
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }

    /// Turn an organization's webhook on again (its failures forgotten).
    pub async fn enable_webhook(&self, org: OrgId, id: Uuid) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        Ok(org_webhook::Entity::update_many()
            .col_expr(org_webhook::Column::Enabled, Expr::value(true))
            .col_expr(org_webhook::Column::Failures, Expr::value(0))
            .col_expr(
                org_webhook::Column::DisabledAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(org_webhook::Column::OrgId.eq(org.0))
            .filter(org_webhook::Column::Id.eq(id))
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }

    /// A webhook call succeeded: its failures in a row are forgotten.
    pub async fn webhook_succeeded(&self, id: Uuid) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        org_webhook::Entity::update_many()
            .col_expr(org_webhook::Column::Failures, Expr::value(0))
            .filter(org_webhook::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// A webhook call failed: one more failure in a row; at `limit` the webhook is turned
    /// off. `true` when this failure turned it off (once).
    pub async fn webhook_failed(
        &self,
        id: Uuid,
        limit: i32,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        org_webhook::Entity::update_many()
            .col_expr(
                org_webhook::Column::Failures,
                Expr::col(org_webhook::Column::Failures).add(1),
            )
            .filter(org_webhook::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(org_webhook::Entity::update_many()
            .col_expr(org_webhook::Column::Enabled, Expr::value(false))
            .col_expr(org_webhook::Column::DisabledAt, Expr::value(Some(now)))
            .filter(org_webhook::Column::Id.eq(id))
            .filter(org_webhook::Column::Enabled.eq(true))
            .filter(org_webhook::Column::Failures.gte(limit))
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }
}

/// What came of one attempt to deliver.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DeliveryOutcome<'a> {
    Sent,
    /// Given up: the person or webhook is gone, or the address is refused for good.
    Dropped(&'a str),
    Retry {
        why: &'a str,
        at: DateTime<Utc>,
    },
}

async fn insert_notice(
    conn: &impl sea_orm::ConnectionTrait,
    n: &NewNotice,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    notification::Entity::insert(notification::ActiveModel {
        id: Set(n.id.0),
        kind: Set(n.kind.to_owned()),
        org_id: Set(n.org.0),
        role: Set(n.role.map(str::to_owned)),
        staff_id: Set(n.staff.map(|s| s.0)),
        client_id: Set(n.client.map(|c| c.0)),
        referral_id: Set(n.referral.map(|r| r.0)),
        due_at: Set(n.due_at),
        show_at: Set(now),
        status: Set("open".to_owned()),
        escalate_at: Set(None),
        escalates: Set(n.escalates.map(|e| e.0)),
        escalated_at: Set(None),
        resolved_at: Set(None),
        first_read_at: Set(None),
        expanded: Set(false),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(notification::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}
