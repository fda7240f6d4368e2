//! Reads: the client aggregate, organizations, events, timers, and the read models the API
//! serves.

use super::entities::*;
use super::{Store, StoreError, corrupt};
use carepath_domain::ids::*;
use carepath_domain::pathway::LevelId;
use carepath_domain::{
    CareEvent, ClientState, EventData, MatService, OrgDirectory, OrgInfo, TimerKind,
};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use std::collections::BTreeMap;

/// An organization as `orgs list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgListing {
    pub id: OrgId,
    pub name: String,
    /// The levels it offers, each with its capacity.
    pub levels: Vec<(LevelId, i32)>,
    pub mat_services: Vec<MatService>,
    /// Its time zone, an IANA name (`None`: UTC).
    pub time_zone: Option<String>,
}

/// A stored idempotency record.
#[derive(Clone, Debug)]
pub struct StoredResponse {
    pub request_hash: String,
    pub response: serde_json::Value,
}

/// A timer that came due.
#[derive(Clone, Debug)]
pub struct DueTimer {
    pub id: TimerId,
    pub client: ClientId,
    pub kind: TimerKind,
    pub due_at: DateTime<Utc>,
}

/// One row of the census: a provider's level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CensusRow {
    pub provider: OrgId,
    pub provider_name: String,
    pub level: LevelId,
    pub capacity: i32,
    /// Clients in care there.
    pub occupied: i32,
    /// Slots held for clients on their way: accepted referrals and handoffs under way.
    pub held: i32,
    /// Clients on their way there now (a handoff started, the arrival not yet confirmed).
    pub in_transit: i64,
    /// Referrals sent and not yet answered (acknowledged ones included).
    pub pending_referrals: i64,
    /// Referrals waiting for a slot to free.
    pub waitlisted: i64,
}

impl CensusRow {
    /// Slots neither occupied nor held.
    pub fn open_slots(&self) -> i32 {
        Ord::max(self.capacity - self.occupied - self.held, 0)
    }
}

/// A waitlisted referral at the head of its provider's waitlist for a level with a free slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitlistHead {
    pub referral: ReferralId,
    pub client: ClientId,
}

fn due_timer(t: timer::Model) -> Result<DueTimer, StoreError> {
    Ok(DueTimer {
        id: TimerId(t.id),
        client: ClientId(t.client_id),
        kind: serde_json::from_value(t.payload).map_err(corrupt)?,
        due_at: t.due_at,
    })
}

pub(crate) fn event_from_row(m: care_event::Model) -> Result<CareEvent, StoreError> {
    let data: EventData = serde_json::from_value(m.payload).map_err(corrupt)?;
    Ok(CareEvent {
        id: EventId(m.id),
        client: ClientId(m.client_id),
        seq: m.seq,
        at: m.occurred_at,
        level: m.level.map(LevelId),
        actor_org: m.actor_org.map(OrgId),
        recipient_org: m.recipient_org.map(OrgId),
        data,
    })
}

impl Store {
    pub async fn load_client(&self, id: ClientId) -> Result<Option<ClientState>, StoreError> {
        let Some(row) = client::Entity::find_by_id(id.0).one(&self.db).await? else {
            return Ok(None);
        };
        let state: ClientState = serde_json::from_value(row.state).map_err(corrupt)?;
        Ok(Some(state))
    }

    /// The clients among `ids` that exist, in one query.
    pub async fn load_clients(
        &self,
        ids: &[ClientId],
    ) -> Result<std::collections::HashMap<ClientId, ClientState>, StoreError> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let rows = client::Entity::find()
            .filter(client::Column::Id.is_in(ids.iter().map(|c| c.0)))
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|row| {
                let state: ClientState = serde_json::from_value(row.state).map_err(corrupt)?;
                Ok((state.id, state))
            })
            .collect()
    }

    /// The organizations among `ids` that exist, with the levels they offer and the MAT
    /// services they provide.
    /// Every organization by name: what it offers (level and capacity) and its MAT services.
    pub async fn organizations(&self) -> Result<Vec<OrgListing>, StoreError> {
        let orgs = organization::Entity::find()
            .order_by_asc(organization::Column::Name)
            .order_by_asc(organization::Column::Id)
            .all(&self.db)
            .await?;
        let ids: Vec<OrgId> = orgs.iter().map(|o| OrgId(o.id)).collect();
        let dir = self.load_orgs(&ids).await?;
        let capacities: BTreeMap<(uuid::Uuid, String), i32> = provider_level::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|l| ((l.org_id, l.level), l.capacity))
            .collect();
        Ok(orgs
            .into_iter()
            .map(|o| {
                let info = dir.get(OrgId(o.id));
                let mut levels: Vec<(LevelId, i32)> = info
                    .map(|i| {
                        i.levels
                            .iter()
                            .map(|l| {
                                let cap = capacities.get(&(o.id, l.0.clone())).copied();
                                (l.clone(), cap.unwrap_or(0))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                levels.sort();
                OrgListing {
                    id: OrgId(o.id),
                    name: o.name,
                    time_zone: o.time_zone,
                    levels,
                    mat_services: info
                        .map(|i| i.mat_services.iter().copied().collect())
                        .unwrap_or_default(),
                }
            })
            .collect())
    }

    pub async fn load_orgs(&self, ids: &[OrgId]) -> Result<OrgDirectory, StoreError> {
        if ids.is_empty() {
            return Ok(OrgDirectory::default());
        }
        let keys: Vec<uuid::Uuid> = ids.iter().map(|o| o.0).collect();
        let orgs = organization::Entity::find()
            .filter(organization::Column::Id.is_in(keys.clone()))
            .all(&self.db)
            .await?;
        let mut dir: BTreeMap<OrgId, OrgInfo> = orgs
            .into_iter()
            .map(|o| {
                (
                    OrgId(o.id),
                    OrgInfo {
                        id: OrgId(o.id),
                        levels: Vec::new(),
                        mat_services: Default::default(),
                    },
                )
            })
            .collect();
        let levels = provider_level::Entity::find()
            .filter(provider_level::Column::OrgId.is_in(keys.clone()))
            .all(&self.db)
            .await?;
        for l in levels {
            if let Some(info) = dir.get_mut(&OrgId(l.org_id)) {
                info.levels.push(LevelId(l.level));
            }
        }
        let services = organization_mat_service::Entity::find()
            .filter(organization_mat_service::Column::OrgId.is_in(keys))
            .all(&self.db)
            .await?;
        for row in services {
            let service = MatService::parse(&row.service).ok_or_else(|| {
                StoreError::Corrupt(format!("unknown MAT service {:?}", row.service))
            })?;
            if let Some(info) = dir.get_mut(&OrgId(row.org_id)) {
                info.mat_services.insert(service);
            }
        }
        Ok(OrgDirectory(dir))
    }

    pub async fn find_idempotent(
        &self,
        actor_org: OrgId,
        key: &str,
    ) -> Result<Option<StoredResponse>, StoreError> {
        Ok(
            idempotency::Entity::find_by_id((actor_org.0, key.to_owned()))
                .one(&self.db)
                .await?
                .map(|m| StoredResponse {
                    request_hash: m.request_hash,
                    response: m.response,
                }),
        )
    }

    /// Forget idempotency records older than `before`.
    pub async fn prune_idempotency(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(idempotency::Entity::delete_many()
            .filter(idempotency::Column::CreatedAt.lt(before))
            .exec(&self.db)
            .await?
            .rows_affected)
    }

    /// A client's events with a sequence number above `after`, in order.
    pub async fn events(
        &self,
        client: ClientId,
        after: i64,
        limit: u64,
    ) -> Result<Vec<CareEvent>, StoreError> {
        care_event::Entity::find()
            .filter(care_event::Column::ClientId.eq(client.0))
            .filter(care_event::Column::Seq.gt(after))
            .order_by_asc(care_event::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(event_from_row)
            .collect()
    }

    /// Up to `limit` clients after `after` (by id), of `home_org` when given, each with all
    /// its events in order: what the measures are counted from.
    pub async fn client_histories(
        &self,
        home_org: Option<OrgId>,
        after: Option<ClientId>,
        limit: u64,
    ) -> Result<Vec<(ClientId, Vec<CareEvent>)>, StoreError> {
        let mut q = client::Entity::find()
            .select_only()
            .column(client::Column::Id);
        if let Some(h) = home_org {
            q = q.filter(client::Column::HomeOrg.eq(h.0));
        }
        if let Some(a) = after {
            q = q.filter(client::Column::Id.gt(a.0));
        }
        let ids: Vec<uuid::Uuid> = q
            .order_by_asc(client::Column::Id)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut out: Vec<(ClientId, Vec<CareEvent>)> =
            ids.iter().map(|id| (ClientId(*id), Vec::new())).collect();
        let rows = care_event::Entity::find()
            .filter(care_event::Column::ClientId.is_in(ids))
            .order_by_asc(care_event::Column::ClientId)
            .order_by_asc(care_event::Column::Seq)
            .all(&self.db)
            .await?;
        let index: BTreeMap<ClientId, usize> =
            out.iter().enumerate().map(|(i, (c, _))| (*c, i)).collect();
        for row in rows {
            let event = event_from_row(row)?;
            if let Some(&i) = index.get(&event.client) {
                out[i].1.push(event);
            }
        }
        Ok(out)
    }

    /// The events among `ids` that exist (in no particular order).
    pub async fn events_by_ids(&self, ids: &[EventId]) -> Result<Vec<CareEvent>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        care_event::Entity::find()
            .filter(care_event::Column::Id.is_in(ids.iter().map(|e| e.0)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(event_from_row)
            .collect()
    }

    /// Pending timers due at `now`, oldest first.
    pub async fn due_timers(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<DueTimer>, StoreError> {
        timer::Entity::find()
            .filter(timer::Column::Status.eq("pending"))
            .filter(timer::Column::DueAt.lte(now))
            .order_by_asc(timer::Column::DueAt)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(due_timer)
            .collect()
    }

    /// Pending timers of one client.
    pub async fn pending_timers(&self, client: ClientId) -> Result<Vec<DueTimer>, StoreError> {
        timer::Entity::find()
            .filter(timer::Column::ClientId.eq(client.0))
            .filter(timer::Column::Status.eq("pending"))
            .order_by_asc(timer::Column::DueAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(due_timer)
            .collect()
    }

    /// Register an organization, or rename one. Returns whether it was new.
    pub async fn upsert_org(
        &self,
        id: OrgId,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        organization::Entity::insert(organization::ActiveModel {
            id: Set(id.0),
            name: Set(name.to_owned()),
            created_at: Set(now),
            time_zone: Set(None),
        })
        .on_conflict(
            OnConflict::column(organization::Column::Id)
                .update_column(organization::Column::Name)
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// Set an organization's time zone (an IANA name; `None`: UTC). Whether it existed.
    pub async fn set_org_time_zone(
        &self,
        id: OrgId,
        zone: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = organization::Entity::update_many()
            .col_expr(
                organization::Column::TimeZone,
                sea_orm::sea_query::Expr::value(zone.map(str::to_owned)),
            )
            .filter(organization::Column::Id.eq(id.0))
            .exec(&self.db)
            .await?;
        Ok(done.rows_affected == 1)
    }

    /// An organization's time zone (an IANA name), if it has one.
    pub async fn org_time_zone(&self, id: OrgId) -> Result<Option<String>, StoreError> {
        Ok(organization::Entity::find_by_id(id.0)
            .one(&self.db)
            .await?
            .and_then(|o| o.time_zone))
    }

    /// Replace the MAT services an organization provides with `services`, in one
    /// transaction.
    pub async fn set_mat_services(
        &self,
        org: OrgId,
        services: &[MatService],
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        let tx = self.db.begin().await?;
        organization_mat_service::Entity::delete_many()
            .filter(organization_mat_service::Column::OrgId.eq(org.0))
            .exec(&tx)
            .await?;
        let mut rows: Vec<&str> = services.iter().map(|s| s.as_str()).collect();
        rows.sort_unstable();
        rows.dedup();
        if !rows.is_empty() {
            organization_mat_service::Entity::insert_many(rows.into_iter().map(|service| {
                organization_mat_service::ActiveModel {
                    org_id: Set(org.0),
                    service: Set(service.to_owned()),
                }
            }))
            .exec_without_returning(&tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Set how many clients a provider can hold at a level (which it thereby offers).
    /// Capacity below the current occupancy is refused.
    pub async fn set_capacity(
        &self,
        org: OrgId,
        level: &LevelId,
        capacity: i32,
    ) -> Result<(), StoreError> {
        let inserted = provider_level::Entity::insert(provider_level::ActiveModel {
            org_id: Set(org.0),
            level: Set(level.0.clone()),
            capacity: Set(capacity),
            occupied: Set(0),
            held: Set(0),
        })
        .on_conflict(
            OnConflict::columns([provider_level::Column::OrgId, provider_level::Column::Level])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        if inserted == 1 {
            return Ok(());
        }
        let res = provider_level::Entity::update_many()
            .col_expr(provider_level::Column::Capacity, Expr::value(capacity))
            .filter(provider_level::Column::OrgId.eq(org.0))
            .filter(provider_level::Column::Level.eq(level.as_str()))
            .filter(
                Expr::col(provider_level::Column::Occupied)
                    .add(Expr::col(provider_level::Column::Held))
                    .lte(capacity),
            )
            .exec(&self.db)
            .await?;
        if res.rows_affected != 1 {
            return Err(StoreError::Conflict(format!(
                "capacity {capacity} is below the clients already at {level} and the slots \
                 held for clients on their way"
            )));
        }
        Ok(())
    }

    pub async fn org_exists(&self, id: OrgId) -> Result<bool, StoreError> {
        Ok(organization::Entity::find_by_id(id.0)
            .count(&self.db)
            .await?
            > 0)
    }

    /// Occupancy and capacity per provider and level.
    pub async fn census(&self) -> Result<Vec<CensusRow>, StoreError> {
        let levels = provider_level::Entity::find()
            .order_by_asc(provider_level::Column::OrgId)
            .order_by_asc(provider_level::Column::Level)
            .all(&self.db)
            .await?;
        let names: BTreeMap<uuid::Uuid, String> = organization::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
        let referrals_by = |statuses: &'static [&'static str]| {
            referral::Entity::find()
                .select_only()
                .column(referral::Column::ProviderId)
                .column(referral::Column::ToLevel)
                .column_as(Expr::col(referral::Column::Id).count(), "n")
                .filter(referral::Column::Status.is_in(statuses.iter().copied()))
                .group_by(referral::Column::ProviderId)
                .group_by(referral::Column::ToLevel)
                .into_tuple::<(uuid::Uuid, String, i64)>()
                .all(&self.db)
        };
        let counts = |rows: Vec<(uuid::Uuid, String, i64)>| -> BTreeMap<(uuid::Uuid, String), i64> {
            rows.into_iter().map(|(p, l, n)| ((p, l), n)).collect()
        };
        let pending = counts(referrals_by(&["pending", "acknowledged"]).await?);
        let waitlisted = counts(referrals_by(&["waitlisted"]).await?);
        let in_transit = counts(
            client::Entity::find()
                .select_only()
                .column(client::Column::ProviderId)
                .column(client::Column::Level)
                .column_as(Expr::col(client::Column::Id).count(), "n")
                .filter(client::Column::Status.eq("in_transit"))
                .group_by(client::Column::ProviderId)
                .group_by(client::Column::Level)
                .into_tuple::<(Option<uuid::Uuid>, Option<String>, i64)>()
                .all(&self.db)
                .await?
                .into_iter()
                .filter_map(|(p, l, n)| Some((p?, l?, n)))
                .collect(),
        );
        Ok(levels
            .into_iter()
            .map(|l| {
                let key = (l.org_id, l.level.clone());
                CensusRow {
                    provider: OrgId(l.org_id),
                    provider_name: names.get(&l.org_id).cloned().unwrap_or_default(),
                    pending_referrals: pending.get(&key).copied().unwrap_or(0),
                    waitlisted: waitlisted.get(&key).copied().unwrap_or(0),
                    in_transit: in_transit.get(&key).copied().unwrap_or(0),
                    level: LevelId(l.level),
                    capacity: l.capacity,
                    occupied: l.occupied,
                    held: l.held,
                }
            })
            .collect())
    }

    /// The referrals a freed slot goes to: for each provider and level with slots neither
    /// occupied nor held, that many from the head of its waitlist (in the order they were
    /// waitlisted).
    pub async fn waitlist_heads(&self) -> Result<Vec<WaitlistHead>, StoreError> {
        let open: Vec<provider_level::Model> = provider_level::Entity::find()
            .filter(
                Expr::col(provider_level::Column::Occupied)
                    .add(Expr::col(provider_level::Column::Held))
                    .lt(Expr::col(provider_level::Column::Capacity)),
            )
            .all(&self.db)
            .await?;
        let mut heads = Vec::new();
        for l in open {
            let free = u64::try_from(l.capacity - l.occupied - l.held).unwrap_or(0);
            let rows = referral::Entity::find()
                .filter(referral::Column::ProviderId.eq(l.org_id))
                .filter(referral::Column::ToLevel.eq(l.level.as_str()))
                .filter(referral::Column::Status.eq("waitlisted"))
                .order_by_asc(referral::Column::AnsweredAt)
                .order_by_asc(referral::Column::Id)
                .limit(free)
                .all(&self.db)
                .await?;
            heads.extend(rows.into_iter().map(|r| WaitlistHead {
                referral: ReferralId(r.id),
                client: ClientId(r.client_id),
            }));
        }
        Ok(heads)
    }

    /// A waitlisted referral's place on its provider's waitlist for its level (1 = next).
    pub async fn waitlist_position(&self, referral: ReferralId) -> Result<Option<u64>, StoreError> {
        let Some(r) = referral::Entity::find_by_id(referral.0)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        if r.status != "waitlisted" {
            return Ok(None);
        }
        let answered = r.answered_at;
        let ahead = referral::Entity::find()
            .filter(referral::Column::ProviderId.eq(r.provider_id))
            .filter(referral::Column::ToLevel.eq(r.to_level.as_str()))
            .filter(referral::Column::Status.eq("waitlisted"))
            .filter(
                sea_orm::Condition::any()
                    .add(referral::Column::AnsweredAt.lt(answered))
                    .add(
                        sea_orm::Condition::all()
                            .add(referral::Column::AnsweredAt.eq(answered))
                            .add(referral::Column::Id.lt(r.id)),
                    ),
            )
            .count(&self.db)
            .await?;
        Ok(Some(ahead + 1))
    }
}
