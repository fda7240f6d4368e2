//! The worklists' candidate clients: those with something a coordinator or a receiving
//! provider may have to do, found by what their stored state says (a planned handoff, a
//! transfer under way, a consent naming an organization) and their pending timers. A superset:
//! who may see which of them is decided by the engine (`policy`), never here.

use super::entities::*;
use super::{Store, StoreError, corrupt};
use carepath_domain::ClientState;
use carepath_domain::ids::*;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, DbBackend, EntityTrait, QueryFilter, QueryOrder};

/// Whose clients a coordination page covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holders {
    Everyone,
    /// The clients `OrgId` holds the records of.
    Org(OrgId),
    /// The clients `OrgId` holds the records of, and those a consent names it in (revoked or
    /// expired ones too: whether one is in force is the engine's to judge).
    OrgOrNamed(OrgId),
}

/// Timer kinds that put a client on a coordination worklist while pending: a follow-up check
/// after an exit from high-intensity care, and the check after a missed booking.
pub const COORDINATION_TIMERS: [&str; 2] = ["followup", "no_show_check"];

impl Store {
    /// A page of clients (after `after`, by id) of `holders` that may need a coordinator: a
    /// handoff planned, lost to care, or a follow-up or no-show check pending.
    pub async fn coordination_candidates(
        &self,
        holders: Holders,
        after: Option<ClientId>,
        limit: u64,
    ) -> Result<Vec<ClientState>, StoreError> {
        let backend = self.backend();
        let pending = Query::select()
            .column(timer::Column::ClientId)
            .from(timer::Entity)
            .and_where(timer::Column::Status.eq("pending"))
            .and_where(timer::Column::Kind.is_in(COORDINATION_TIMERS))
            .to_owned();
        let work = Condition::any()
            .add(handoff_planned(backend))
            .add(client::Column::LostToCare.is_not_null())
            .add(client::Column::Id.in_subquery(pending));
        let mut q = client::Entity::find().filter(work);
        match holders {
            Holders::Everyone => {}
            Holders::Org(org) => q = q.filter(client::Column::HomeOrg.eq(org.0)),
            Holders::OrgOrNamed(org) => {
                q = q.filter(
                    Condition::any()
                        .add(client::Column::HomeOrg.eq(org.0))
                        .add(consent_names(backend, org)),
                )
            }
        }
        self.client_page(q, after, limit).await
    }

    /// A page of clients on their way to `org`: in transit to it, or discharged on a transfer
    /// out to it not yet confirmed.
    pub async fn arriving(
        &self,
        org: OrgId,
        after: Option<ClientId>,
        limit: u64,
    ) -> Result<Vec<ClientState>, StoreError> {
        let transit = Condition::all()
            .add(client::Column::Status.eq("in_transit"))
            .add(client::Column::ProviderId.eq(org.0));
        let transfer = Condition::all()
            .add(client::Column::Status.eq("discharged"))
            .add(transfer_to(self.backend(), org));
        let q = client::Entity::find().filter(Condition::any().add(transit).add(transfer));
        self.client_page(q, after, limit).await
    }

    /// The pending timers of `clients` of the kinds in [`COORDINATION_TIMERS`], by due time.
    pub async fn coordination_timers(
        &self,
        clients: &[ClientId],
    ) -> Result<Vec<super::DueTimer>, StoreError> {
        if clients.is_empty() {
            return Ok(Vec::new());
        }
        timer::Entity::find()
            .filter(timer::Column::ClientId.is_in(clients.iter().map(|c| c.0)))
            .filter(timer::Column::Status.eq("pending"))
            .filter(timer::Column::Kind.is_in(COORDINATION_TIMERS))
            .order_by_asc(timer::Column::DueAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| {
                Ok(super::DueTimer {
                    id: TimerId(t.id),
                    client: ClientId(t.client_id),
                    kind: serde_json::from_value(t.payload).map_err(corrupt)?,
                    due_at: t.due_at,
                })
            })
            .collect()
    }
}

/// The stored state has a planned handoff (`handoff` is an object, not null).
fn handoff_planned(backend: DbBackend) -> Expr {
    match backend {
        DbBackend::Postgres => {
            Expr::cust(r#"jsonb_typeof("clients"."state" -> 'handoff') = 'object'"#)
        }
        _ => Expr::cust(r#"json_type("clients"."state", '$.handoff') = 'object'"#),
    }
}

/// One of the stored consents lists `org` among its recipients.
pub(crate) fn consent_names(backend: DbBackend, org: OrgId) -> Expr {
    match backend {
        DbBackend::Postgres => Expr::cust_with_values(
            r#"("clients"."state" -> 'consents') @> CAST($1 AS jsonb)"#,
            [serde_json::json!([{ "recipients": [org.0.to_string()] }]).to_string()],
        ),
        _ => Expr::cust_with_values(
            r#"EXISTS (SELECT 1 FROM json_each("clients"."state", '$.consents') AS c,
                json_each(c.value, '$.recipients') AS r WHERE r.value = ?)"#,
            [org.0.to_string()],
        ),
    }
}

/// The stored transfer out goes to `org`.
fn transfer_to(backend: DbBackend, org: OrgId) -> Expr {
    match backend {
        DbBackend::Postgres => Expr::cust_with_values(
            r#"("clients"."state" -> 'transfer' ->> 'provider') = $1"#,
            [org.0.to_string()],
        ),
        _ => Expr::cust_with_values(
            r#"json_extract("clients"."state", '$.transfer.provider') = ?"#,
            [org.0.to_string()],
        ),
    }
}
