//! The timer table for those who check the engine's promises about it (a simulation, an
//! operator): every timer with what became of it.

use crate::dom::{Actor, policy};
use crate::engine::Engine;
use crate::error::Error;
use crate::ids::TimerId;
use crate::store::TimerRow;

impl Engine {
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
