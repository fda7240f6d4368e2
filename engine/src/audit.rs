//! The timer table for those who check the engine's promises about it (a simulation, an
//! operator): when the next timer falls due, and every timer with what became of it.

use crate::domain::{Actor, policy};
use crate::engine::Engine;
use crate::error::Error;
use crate::ids::TimerId;
use crate::store::TimerRow;
use chrono::{DateTime, Utc};

impl Engine {
    /// The earliest due time of a pending timer at or before `until`: where a caller driving
    /// a skipped clock stops next, so each timer fires at its due time.
    pub async fn next_timer_due(
        &self,
        until: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, Error> {
        Ok(self.store().next_due_after(None, until).await?)
    }

    /// Up to `limit` timers after `after` (id order): what was scheduled, when it was due,
    /// and whether and when it fired. Admins only; timers name clients by id only.
    pub async fn timer_audit(
        &self,
        actor: &Actor,
        after: Option<TimerId>,
        limit: u64,
    ) -> Result<Vec<TimerRow>, Error> {
        policy::administer(actor, "reads the timer table")?;
        Ok(self.store().timer_rows(after, limit).await?)
    }
}
