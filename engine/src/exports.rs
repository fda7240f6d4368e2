//! Bulk exports of care records (FHIR `$export`): a job asked for by an admin (every
//! organization's clients, or one organization's) or by a case manager or supervisor (their
//! organization's), `policy::export_records`. The job is durable: it is stored `queued`, a
//! worker the adapter starts claims it (`running`), reads the records a page at a time
//! through the engine's reads — each read by another organization a disclosure, as any other
//! — writes its files, and finishes it `complete` or `failed`. Only the organization that
//! asked reads the job and its files; to anyone else it does not exist.
//!
//! A worker reports at every page and every file (its heartbeat, on the wall clock). A job
//! queued or running whose worker has been silent for [`EXPORT_STALE_AFTER`] — its server
//! stopped or crashed — is marked failed, with the reason, when any job is started or looked
//! at: it is not resumed (its files would be written twice, or its disclosures recorded
//! twice); the reader starts a new export.

use crate::CareRecord;
use crate::dom::{self as domain, Actor, Role};
use crate::engine::Engine;
use crate::error::Error;
use crate::ids::{ClientId, OrgId};
use crate::store::{
    EXPORT_CANCELLED, EXPORT_COMPLETE, EXPORT_FAILED, EXPORT_QUEUED, EXPORT_RUNNING, ExportJobRow,
    StoreError,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// How long a job's worker may be silent before the job is taken for abandoned.
pub const EXPORT_STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(120);
/// The longest request URL a job keeps.
pub const MAX_EXPORT_REQUEST: usize = 4096;
/// The most resource types a job names.
const MAX_TYPES: usize = 64;
/// The error a job abandoned by its worker ends with.
const ABANDONED: &str = "the export stopped when the server running it stopped; start a new export";

/// What a bulk export asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRequest {
    /// A group-level export: the organization whose clients the group is.
    pub group: Option<OrgId>,
    /// The resource types asked for (the adapter's names); empty: every type.
    pub types: Vec<String>,
    /// Only what changed after this moment.
    pub since: Option<DateTime<Utc>>,
    /// The request as it was made (the manifest's `request`).
    pub request: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportStatus {
    Queued,
    Running,
    Complete,
    Failed,
}

/// One file an export wrote: part `part` (from 1) of a resource type's lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportFile {
    pub resource_type: String,
    pub part: u32,
    pub count: u32,
}

/// An export job as its reader sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportJob {
    pub id: Uuid,
    pub request: ExportRequest,
    pub status: ExportStatus,
    /// When it was asked for, on the engine's clock: the export's `transactionTime`.
    pub transaction_time: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed.
    pub error: Option<String>,
    /// The clients read so far.
    pub clients_done: u64,
    /// Its files, by type and part (once complete).
    pub files: Vec<ExportFile>,
}

/// A job a worker claimed: what it reads, and as whom. Made only by [`Engine::run_export`].
#[derive(Clone, Debug)]
pub struct ExportRun {
    pub id: Uuid,
    /// Who asked (as whom the records are read).
    pub actor: Actor,
    pub request: ExportRequest,
    /// Whose clients: the organization holding their records, or everyone's.
    holder: Option<OrgId>,
}

fn request_of(row: &ExportJobRow) -> ExportRequest {
    ExportRequest {
        group: row.group,
        types: row
            .types
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        since: row.since,
        request: row.request.clone(),
    }
}

fn status_of(row: &ExportJobRow) -> Result<ExportStatus, Error> {
    Ok(match row.status.as_str() {
        EXPORT_QUEUED => ExportStatus::Queued,
        EXPORT_RUNNING => ExportStatus::Running,
        EXPORT_COMPLETE => ExportStatus::Complete,
        EXPORT_FAILED => ExportStatus::Failed,
        other => {
            return Err(Error::Storage(StoreError::Corrupt(format!(
                "export {} has status {other}",
                row.id
            ))));
        }
    })
}

fn check_request(req: &ExportRequest) -> Result<(), Error> {
    domain::input::check_text("request", &req.request)?;
    if req.request.len() > MAX_EXPORT_REQUEST {
        return Err(Error::BadInput(format!(
            "an export's request is at most {MAX_EXPORT_REQUEST} bytes"
        )));
    }
    if req.types.len() > MAX_TYPES {
        return Err(Error::BadInput(format!(
            "an export names at most {MAX_TYPES} types"
        )));
    }
    if let Some(bad) = req
        .types
        .iter()
        .find(|t| t.is_empty() || t.len() > 64 || !t.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return Err(Error::BadInput(format!(
            "\"{}\" is not a resource type",
            bad.escape_default()
        )));
    }
    Ok(())
}

impl Engine {
    /// Ask for an export as `actor` (`policy::export_records`): the job, stored `queued`, for
    /// a worker to run ([`Engine::run_export`]). Refused, nothing is stored.
    pub async fn start_export(
        &self,
        actor: &Actor,
        request: ExportRequest,
    ) -> Result<ExportJob, Error> {
        domain::policy::export_records(actor, request.group)?;
        check_request(&request)?;
        if let Some(group) = request.group
            && !self.store().org_exists(group).await?
        {
            return Err(Error::NotFound(format!("group {group}")));
        }
        self.fail_abandoned_exports().await?;
        let now = self.clock().now();
        let row = ExportJobRow {
            id: Uuid::new_v4(),
            org: actor.org,
            role: actor.role.as_str().to_owned(),
            staff: actor.staff,
            group: request.group,
            request: request.request.clone(),
            types: request.types.join(","),
            since: request.since,
            status: EXPORT_QUEUED.to_owned(),
            clients_done: 0,
            created_at: now,
            heartbeat_at: Utc::now(),
            finished_at: None,
            error: None,
        };
        self.store().create_export(&row).await?;
        tracing::info!(export = %row.id, org = %actor.org, "export queued");
        Ok(ExportJob {
            id: row.id,
            request,
            status: ExportStatus::Queued,
            transaction_time: now,
            finished_at: None,
            error: None,
            clients_done: 0,
            files: Vec::new(),
        })
    }

    /// The job `id` as `actor`'s organization asked for it; another organization's, or one
    /// cancelled, is not found.
    pub async fn export_status(&self, actor: &Actor, id: Uuid) -> Result<ExportJob, Error> {
        self.fail_abandoned_exports().await?;
        let row = self.own_export(actor, id).await?;
        let status = status_of(&row)?;
        let files = if status == ExportStatus::Complete {
            self.store()
                .export_files(id)
                .await?
                .into_iter()
                .map(|f| ExportFile {
                    resource_type: f.resource_type,
                    part: u32::try_from(f.part).unwrap_or(0),
                    count: u32::try_from(f.lines).unwrap_or(0),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(ExportJob {
            id,
            request: request_of(&row),
            status,
            transaction_time: row.created_at,
            finished_at: row.finished_at,
            error: row.error,
            clients_done: u64::try_from(row.clients_done).unwrap_or(0),
            files,
        })
    }

    /// Part `part` of a complete job's `resource_type` lines, for the organization that
    /// asked for it (NDJSON).
    pub async fn export_file(
        &self,
        actor: &Actor,
        id: Uuid,
        resource_type: &str,
        part: u32,
    ) -> Result<String, Error> {
        let not_found = || Error::NotFound(format!("export file {id}/{resource_type}/{part}"));
        let row = self.own_export(actor, id).await?;
        if row.status != EXPORT_COMPLETE {
            return Err(not_found());
        }
        let part = i32::try_from(part).map_err(|_| not_found())?;
        self.store()
            .export_file(id, resource_type, part)
            .await?
            .ok_or_else(not_found)
    }

    /// Cancel the job `id` of `actor`'s organization and delete its files: a running job's
    /// worker stops at its next step. After, the job is not found.
    pub async fn cancel_export(&self, actor: &Actor, id: Uuid) -> Result<(), Error> {
        if self
            .store()
            .cancel_export(id, actor.org, self.clock().now())
            .await?
        {
            tracing::info!(export = %id, org = %actor.org, "export cancelled");
            Ok(())
        } else {
            Err(Error::NotFound(format!("export {id}")))
        }
    }

    /// Claim the queued job `id` for this worker: `None` when it is no longer queued
    /// (cancelled meanwhile).
    pub async fn run_export(&self, id: Uuid) -> Result<Option<ExportRun>, Error> {
        let Some(row) = self.store().export_job(id).await? else {
            return Ok(None);
        };
        if !self.store().claim_export(id, Utc::now()).await? {
            return Ok(None);
        }
        let role = Role::parse(&row.role).ok_or_else(|| {
            Error::Storage(StoreError::Corrupt(format!(
                "export {id} has role {}",
                row.role
            )))
        })?;
        let actor = Actor {
            org: row.org,
            role,
            staff: row.staff,
        };
        let request = request_of(&row);
        // Asked again: the rule is the same as when the job was started.
        let holder = domain::policy::export_records(&actor, request.group)?;
        Ok(Some(ExportRun {
            id,
            actor,
            request,
            holder,
        }))
    }

    /// The next page of the run's care records after `after` (by client id), each read by
    /// another organization a disclosure; `None` when the job is no longer running
    /// (cancelled, or failed as abandoned): the worker stops.
    pub async fn export_records(
        &self,
        run: &ExportRun,
        after: Option<ClientId>,
        limit: u64,
    ) -> Result<Option<Vec<CareRecord>>, Error> {
        if !self.store().export_progress(run.id, 0, Utc::now()).await? {
            return Ok(None);
        }
        let page = self
            .care_records_held(&run.actor, run.holder, after, limit)
            .await?;
        let read = i64::try_from(page.len()).unwrap_or(i64::MAX);
        if !self
            .store()
            .export_progress(run.id, read, Utc::now())
            .await?
        {
            return Ok(None);
        }
        Ok(Some(page))
    }

    /// Write part `part` of the run's `resource_type` lines; `false` when the job is no
    /// longer running (nothing written: the worker stops).
    pub async fn export_write(
        &self,
        run: &ExportRun,
        resource_type: &str,
        part: u32,
        ndjson: String,
        count: u32,
    ) -> Result<bool, Error> {
        let too_big = || Error::BadInput("an export file part numbered beyond 2^31".into());
        Ok(self
            .store()
            .put_export_file(
                run.id,
                resource_type,
                i32::try_from(part).map_err(|_| too_big())?,
                ndjson,
                i32::try_from(count).map_err(|_| too_big())?,
                Utc::now(),
            )
            .await?)
    }

    /// The run ends: complete, or failed with `error` (said to the reader: no client's data
    /// in it).
    pub async fn finish_export(&self, run: &ExportRun, error: Option<&str>) -> Result<(), Error> {
        let finished = self
            .store()
            .finish_export(run.id, error, self.clock().now(), Utc::now())
            .await?;
        match (finished, error) {
            (false, _) => tracing::info!(export = %run.id, "export ended after it was cancelled"),
            (true, None) => tracing::info!(export = %run.id, "export complete"),
            (true, Some(e)) => tracing::warn!(export = %run.id, error = e, "export failed"),
        }
        Ok(())
    }

    async fn own_export(&self, actor: &Actor, id: Uuid) -> Result<ExportJobRow, Error> {
        self.store()
            .export_job(id)
            .await?
            .filter(|row| row.org == actor.org && row.status != EXPORT_CANCELLED)
            .ok_or_else(|| Error::NotFound(format!("export {id}")))
    }

    /// Jobs whose worker went silent (its server stopped) are failed, saying so.
    async fn fail_abandoned_exports(&self) -> Result<(), Error> {
        let before =
            Utc::now() - chrono::Duration::from_std(EXPORT_STALE_AFTER).expect("a short duration");
        let failed = self
            .store()
            .fail_stale_exports(before, ABANDONED, self.clock().now())
            .await?;
        if failed > 0 {
            tracing::warn!(
                jobs = failed,
                "exports abandoned by a stopped server failed"
            );
        }
        Ok(())
    }
}
