//! Reads for an audit of the timers: the timer table as it stands (what was scheduled, what
//! fired and when). When the next one falls due is `Store::next_due_after`.

use super::entities::timer;
use super::{Store, StoreError};
use carepath_domain::TimerKind;
use carepath_domain::ids::{ClientId, TimerId};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// One row of the timer table.
#[derive(Clone, Debug, PartialEq)]
pub struct TimerRow {
    pub id: TimerId,
    pub client: ClientId,
    pub kind: TimerKind,
    pub due_at: DateTime<Utc>,
    /// `pending`, `fired`, `cancelled` or `stale`.
    pub status: String,
    pub fired_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Up to `limit` timers after `after`, in id order.
    pub async fn timer_rows(
        &self,
        after: Option<TimerId>,
        limit: u64,
    ) -> Result<Vec<TimerRow>, StoreError> {
        let mut q = timer::Entity::find().order_by_asc(timer::Column::Id);
        if let Some(a) = after {
            q = q.filter(timer::Column::Id.gt(a.0));
        }
        q.limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| {
                Ok(TimerRow {
                    id: TimerId(t.id),
                    client: ClientId(t.client_id),
                    kind: serde_json::from_value(t.payload)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    due_at: t.due_at,
                    status: t.status,
                    fired_at: t.fired_at,
                })
            })
            .collect()
    }
}
