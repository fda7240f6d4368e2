//! FHIR bulk exports: the jobs and the NDJSON files they write. A job's worker reports on it
//! (its heartbeat) at every step and writes only while the job is `running`, under the job
//! row's lock, so a cancelled job gets no file after its files were deleted.

use super::entities::*;
use super::{Store, StoreError};
use carepath_domain::ids::{OrgId, StaffId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use uuid::Uuid;

/// A job's status as stored.
pub const EXPORT_QUEUED: &str = "queued";
pub const EXPORT_RUNNING: &str = "running";
pub const EXPORT_COMPLETE: &str = "complete";
pub const EXPORT_FAILED: &str = "failed";
pub const EXPORT_CANCELLED: &str = "cancelled";

/// An export job as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportJobRow {
    pub id: Uuid,
    pub org: OrgId,
    pub role: String,
    pub staff: Option<StaffId>,
    pub group: Option<OrgId>,
    pub request: String,
    /// Comma-separated; empty: every type.
    pub types: String,
    pub since: Option<DateTime<Utc>>,
    pub status: String,
    pub clients_done: i64,
    pub created_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// One file of an export, without its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportFileRow {
    pub resource_type: String,
    pub part: i32,
    pub lines: i32,
}

fn job_row(m: fhir_export_job::Model) -> ExportJobRow {
    ExportJobRow {
        id: m.id,
        org: OrgId(m.org_id),
        role: m.role,
        staff: m.staff_id.map(StaffId),
        group: m.group_org.map(OrgId),
        request: m.request,
        types: m.types,
        since: m.since,
        status: m.status,
        clients_done: m.clients_done,
        created_at: m.created_at,
        heartbeat_at: m.heartbeat_at,
        finished_at: m.finished_at,
        error: m.error,
    }
}

impl Store {
    /// Store a new job (its status as given, `queued`).
    pub async fn create_export(&self, job: &ExportJobRow) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        fhir_export_job::Entity::insert(fhir_export_job::ActiveModel {
            id: Set(job.id),
            org_id: Set(job.org.0),
            role: Set(job.role.clone()),
            staff_id: Set(job.staff.map(|s| s.0)),
            group_org: Set(job.group.map(|g| g.0)),
            request: Set(job.request.clone()),
            types: Set(job.types.clone()),
            since: Set(job.since),
            status: Set(job.status.clone()),
            clients_done: Set(job.clients_done),
            created_at: Set(job.created_at),
            heartbeat_at: Set(job.heartbeat_at),
            finished_at: Set(job.finished_at),
            error: Set(job.error.clone()),
        })
        .exec(&self.db)
        .await?;
        Ok(())
    }

    pub async fn export_job(&self, id: Uuid) -> Result<Option<ExportJobRow>, StoreError> {
        Ok(fhir_export_job::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(job_row))
    }

    /// The files a job wrote, by type and part.
    pub async fn export_files(&self, id: Uuid) -> Result<Vec<ExportFileRow>, StoreError> {
        let rows: Vec<(String, i32, i32)> = fhir_export_file::Entity::find()
            .select_only()
            .column(fhir_export_file::Column::ResourceType)
            .column(fhir_export_file::Column::Part)
            .column(fhir_export_file::Column::Lines)
            .filter(fhir_export_file::Column::JobId.eq(id))
            .order_by_asc(fhir_export_file::Column::ResourceType)
            .order_by_asc(fhir_export_file::Column::Part)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(resource_type, part, lines)| ExportFileRow {
                resource_type,
                part,
                lines,
            })
            .collect())
    }

    /// One file's NDJSON.
    pub async fn export_file(
        &self,
        id: Uuid,
        resource_type: &str,
        part: i32,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            fhir_export_file::Entity::find_by_id((id, resource_type.to_owned(), part))
                .one(&self.db)
                .await?
                .map(|f| f.body),
        )
    }

    /// Move a `queued` job to `running`; `false` when it is not queued (cancelled, or taken).
    pub async fn claim_export(
        &self,
        id: Uuid,
        wall_now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        Ok(fhir_export_job::Entity::update_many()
            .col_expr(fhir_export_job::Column::Status, Expr::value(EXPORT_RUNNING))
            .col_expr(fhir_export_job::Column::HeartbeatAt, Expr::value(wall_now))
            .filter(fhir_export_job::Column::Id.eq(id))
            .filter(fhir_export_job::Column::Status.eq(EXPORT_QUEUED))
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }

    /// A running job read `clients` more clients; `false` when it is no longer running.
    pub async fn export_progress(
        &self,
        id: Uuid,
        clients: i64,
        wall_now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        Ok(fhir_export_job::Entity::update_many()
            .col_expr(
                fhir_export_job::Column::ClientsDone,
                Expr::col(fhir_export_job::Column::ClientsDone).add(clients),
            )
            .col_expr(fhir_export_job::Column::HeartbeatAt, Expr::value(wall_now))
            .filter(fhir_export_job::Column::Id.eq(id))
            .filter(fhir_export_job::Column::Status.eq(EXPORT_RUNNING))
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }

    /// Write one file of a running job, in the transaction that finds it running (and holds
    /// its row); `false`, writing nothing, when it is no longer running.
    pub async fn put_export_file(
        &self,
        id: Uuid,
        resource_type: &str,
        part: i32,
        body: String,
        lines: i32,
        wall_now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let tx = self.db.begin().await?;
        if !still_running(&tx, id, wall_now).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        fhir_export_file::Entity::insert(fhir_export_file::ActiveModel {
            job_id: Set(id),
            resource_type: Set(resource_type.to_owned()),
            part: Set(part),
            body: Set(body),
            lines: Set(lines),
        })
        .exec(&tx)
        .await
        .map_err(|e| StoreError::from_write(e, "export file"))?;
        tx.commit().await?;
        Ok(true)
    }

    /// A running job ends `complete`, or `failed` with `error`; `false` when it was no longer
    /// running (cancelled meanwhile, or failed as stale).
    pub async fn finish_export(
        &self,
        id: Uuid,
        error: Option<&str>,
        now: DateTime<Utc>,
        wall_now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let status = if error.is_some() {
            EXPORT_FAILED
        } else {
            EXPORT_COMPLETE
        };
        Ok(fhir_export_job::Entity::update_many()
            .col_expr(fhir_export_job::Column::Status, Expr::value(status))
            .col_expr(fhir_export_job::Column::Error, Expr::value(error))
            .col_expr(fhir_export_job::Column::FinishedAt, Expr::value(Some(now)))
            .col_expr(fhir_export_job::Column::HeartbeatAt, Expr::value(wall_now))
            .filter(fhir_export_job::Column::Id.eq(id))
            .filter(fhir_export_job::Column::Status.eq(EXPORT_RUNNING))
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }

    /// Cancel `org`'s job `id` (whatever its status but cancelled) and delete its files, in one
    /// transaction; `false` when there is no such job of `org`'s, or it was cancelled before.
    pub async fn cancel_export(
        &self,
        id: Uuid,
        org: OrgId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let tx = self.db.begin().await?;
        let cancelled = fhir_export_job::Entity::update_many()
            .col_expr(
                fhir_export_job::Column::Status,
                Expr::value(EXPORT_CANCELLED),
            )
            .col_expr(fhir_export_job::Column::FinishedAt, Expr::value(Some(now)))
            .filter(fhir_export_job::Column::Id.eq(id))
            .filter(fhir_export_job::Column::OrgId.eq(org.0))
            .filter(fhir_export_job::Column::Status.ne(EXPORT_CANCELLED))
            .exec(&tx)
            .await?
            .rows_affected
            == 1;
        if cancelled {
            fhir_export_file::Entity::delete_many()
                .filter(fhir_export_file::Column::JobId.eq(id))
                .exec(&tx)
                .await?;
        }
        tx.commit().await?;
        Ok(cancelled)
    }

    /// Jobs queued or running whose worker last reported before `stale_before` (wall clock):
    /// their worker is gone (the server stopped, or crashed). Each is marked `failed` with
    /// `error`; how many were.
    pub async fn fail_stale_exports(
        &self,
        stale_before: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let _writer = self.writer().await;
        Ok(fhir_export_job::Entity::update_many()
            .col_expr(fhir_export_job::Column::Status, Expr::value(EXPORT_FAILED))
            .col_expr(fhir_export_job::Column::Error, Expr::value(Some(error)))
            .col_expr(fhir_export_job::Column::FinishedAt, Expr::value(Some(now)))
            .filter(fhir_export_job::Column::Status.is_in([EXPORT_QUEUED, EXPORT_RUNNING]))
            .filter(fhir_export_job::Column::HeartbeatAt.lt(stale_before))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}

/// Beat a running job's heart inside `tx` (taking its row's lock on PostgreSQL): is it still
/// running?
async fn still_running(
    tx: &impl ConnectionTrait,
    id: Uuid,
    wall_now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(fhir_export_job::Entity::update_many()
        .col_expr(fhir_export_job::Column::HeartbeatAt, Expr::value(wall_now))
        .filter(fhir_export_job::Column::Id.eq(id))
        .filter(fhir_export_job::Column::Status.eq(EXPORT_RUNNING))
        .exec(tx)
        .await?
        .rows_affected
        == 1)
}
