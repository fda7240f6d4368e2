//! The skipped clock: time moves only here, and every timer falling due on the way fires at
//! its due time, in due order, as the sweeper would have fired it (then freed slots go to
//! the heads of waitlists, as the sweeper does). Kept to this one function so that
//! `Engine::advance_clock` (branch `time-skipping`) can replace it.

use crate::Error;
use carepath_engine::Engine;
use carepath_engine::clock::{Clock, ManualClock};
use chrono::{DateTime, Utc};

/// Timers fired at one due time per call of the engine.
const BATCH: u64 = 500;

/// What moving the clock did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Skipped {
    pub timers_fired: u64,
    pub slots_offered: u64,
}

/// Move `clock` forward to `to`, firing every timer due on the way at its due time.
pub async fn advance_to(
    engine: &Engine,
    clock: &ManualClock,
    to: DateTime<Utc>,
) -> Result<Skipped, Error> {
    let mut done = Skipped::default();
    let mut last: Option<DateTime<Utc>> = None;
    let mut idle_rounds = 0;
    while let Some(due) = engine.next_timer_due(to).await? {
        let at = due.max(clock.now());
        clock.set(at);
        let fired = engine.fire_due_timers(BATCH).await?;
        done.timers_fired += fired as u64;
        // A timer that failed stays pending (one that no longer applied is marked stale and
        // not met again): round after round at the same time with nothing fired, it never
        // would.
        if fired == 0 && last == Some(due) {
            idle_rounds += 1;
            if idle_rounds > 20 {
                return Err(Error::TimersStuck(due));
            }
        } else {
            idle_rounds = 0;
        }
        last = Some(due);
        done.slots_offered += engine.offer_freed_slots().await? as u64;
    }
    if clock.now() < to {
        clock.set(to);
    }
    Ok(done)
}
