//! Time a tester can skip: an engine on a skipped clock ([`crate::clock::SkippedClock`]),
//! the database's mark that says which clock it is served on, and [`Engine::advance_clock`],
//! the one place the clock moves — every timer that falls due on the way fires in due order,
//! each with the clock at its due time, so its events carry the time they would have had.

use crate::clock::{self, Clock, SkippedClock, SystemClock};
use crate::dom::{self as domain, Actor};
use crate::engine::Engine;
use crate::error::Error;
use crate::ids::TimerId;
use crate::pathway::Pathway;
use crate::store::{Durability, Store, TimeMark};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashSet;
use std::sync::Arc;

/// How an engine opened with [`Engine::open_in`] tells the time, and which databases it
/// accepts. A database is marked by the first `serve` that opens it (the `engine_clock`
/// row), and never changes its mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeMode {
    /// The wall clock (`carepath serve`). Refuses a database marked for time skipping; marks
    /// an unmarked one for the wall clock.
    Wall,
    /// A skipped clock (`carepath serve --time-skipping`, a simulation). Opens a database
    /// marked for it, at its stored clock; marks one never served that holds no client,
    /// its clock starting at `start` (the wall clock when `None`). Refuses a database
    /// marked for the wall clock, and an unmarked one holding clients (care recorded on the
    /// wall clock).
    Skipping { start: Option<DateTime<Utc>> },
    /// As the database is marked, marking nothing: the command line's other commands
    /// (tokens, organizations, the demo seed) — a time-skipping database's stored clock,
    /// the wall clock otherwise.
    AsMarked,
}

/// What one [`Engine::advance_clock`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advanced {
    /// The clock before.
    pub from: DateTime<Utc>,
    /// The clock after: `from + by`, or the moment advanced to.
    pub to: DateTime<Utc>,
    /// Timers fired (their events committed).
    pub timers_fired: usize,
    /// Timers that no longer applied when they came due (dropped, as the sweeper does).
    pub timers_dropped: usize,
    /// The distinct due times the clock stopped at on the way.
    pub due_times: usize,
    /// Freed slots given to the head of a waitlist on the way.
    pub slots_offered: usize,
    /// Notices nobody opened or acted on in time, escalated on the way.
    pub notices_escalated: usize,
}

/// How far [`Engine::advance`] goes.
#[derive(Clone, Copy, Debug)]
enum Until {
    /// By a duration (checked as the API's input).
    By(Duration),
    /// Up to a moment, at or after the clock.
    At(DateTime<Utc>),
}

/// The longest single advance by a duration.
pub const MAX_ADVANCE_DAYS: i64 = domain::input::MAX_CLOCK_ADVANCE_DAYS;

/// Timers read at once at one due time.
const BATCH: u64 = 1000;

impl Engine {
    /// Connect to `database_url`, bring its schema up to date, check (and on first serving
    /// write) the database's time mark against `mode`, and build the engine on the clock
    /// that follows. A database marked for the other mode is refused with
    /// [`Error::TimeMode`], untouched.
    pub async fn open_in(
        database_url: &str,
        max_connections: u32,
        pathway: Arc<Pathway>,
        mode: TimeMode,
    ) -> Result<Self, Error> {
        Self::open_in_with(
            database_url,
            max_connections,
            pathway,
            mode,
            Durability::Full,
        )
        .await
    }

    /// [`Self::open_in`], a SQLite database's commits as durable as `durability` says:
    /// [`Durability::Scratch`] only for a file made for this run and deleted after it (the
    /// simulation's own).
    pub async fn open_in_with(
        database_url: &str,
        max_connections: u32,
        pathway: Arc<Pathway>,
        mode: TimeMode,
        durability: Durability,
    ) -> Result<Self, Error> {
        let store = Store::connect_with(database_url, max_connections, durability).await?;
        store.migrate().await?;
        let wall = SystemClock.now();
        let mark = store.time_mark().await?;
        let skipped = match (mode, mark) {
            (TimeMode::Wall, Some(TimeMark::Skipping { now, .. })) => {
                return Err(refuse_skipping_database(now));
            }
            (TimeMode::Wall, _) => match store.claim_time_mark(TimeMark::Wall, wall).await? {
                TimeMark::Wall => None,
                TimeMark::Skipping { now, .. } => return Err(refuse_skipping_database(now)),
            },
            (TimeMode::Skipping { .. }, Some(TimeMark::Wall)) => {
                return Err(refuse_wall_database());
            }
            (_, Some(TimeMark::Skipping { now, version })) => Some((now, version)),
            (TimeMode::Skipping { start }, None) => {
                if store.holds_clients().await? {
                    return Err(Error::TimeMode(
                        "this database holds clients recorded on the wall clock: `carepath serve \
                         --time-skipping` opens only a database it marked itself, or one that holds \
                         no client yet; use a new database"
                            .into(),
                    ));
                }
                let start = clock::stored(start.unwrap_or(wall));
                let claimed = TimeMark::Skipping {
                    now: start,
                    version: 0,
                };
                match store.claim_time_mark(claimed, wall).await? {
                    TimeMark::Skipping { now, version } => {
                        tracing::warn!(clock = %now, "database marked for time skipping");
                        Some((now, version))
                    }
                    TimeMark::Wall => return Err(refuse_wall_database()),
                }
            }
            (TimeMode::AsMarked, _) => None,
        };
        let (clock, skipped): (Arc<dyn Clock>, _) = match skipped {
            Some((now, version)) => {
                let c = Arc::new(SkippedClock::new(now, version));
                (c.clone(), Some(c))
            }
            None => (Arc::new(SystemClock), None),
        };
        Ok(Engine::new(store, pathway, clock, skipped))
    }

    /// `Some(now)` when this engine runs on a skipped clock (`serve --time-skipping`): what
    /// a server says on every response and page, so nobody mistakes it for production.
    pub fn time_skipping(&self) -> Option<DateTime<Utc>> {
        self.skipped().map(|c| c.now())
    }

    /// [`Self::advance_clock`] as `actor` asked it (the API): admins only
    /// (`policy::advance_clock`), refused before anything moves.
    pub async fn advance_clock_as(&self, actor: &Actor, by: Duration) -> Result<Advanced, Error> {
        domain::policy::advance_clock(actor)?;
        self.advance_clock(by).await
    }

    /// Move the skipped clock forward by `by` (more than nothing, at most
    /// [`MAX_ADVANCE_DAYS`]): every timer that falls due on the way fires, in due order,
    /// each with the clock at its due time — all timers of one due time together, then the
    /// freed slots offered to waitlists as the sweeper does — and the clock is left at
    /// `from + by`. Each step is stored before anything fires at it, so the clock never goes
    /// back, across a restart too. Advances take turns (with each other and the sweeper):
    /// no timer fires twice. A timer that fails (logged) stays pending and is tried again by
    /// the sweeper (or the next advance); a failure of the database stops the advance at the
    /// due time reached.
    ///
    /// For callers in the process with no HTTP in between; the API's `advanceClock` is
    /// [`Self::advance_clock_as`].
    pub async fn advance_clock(&self, by: Duration) -> Result<Advanced, Error> {
        self.advance(Until::By(by)).await
    }

    /// [`Self::advance_clock`] up to the moment `to` rather than by a duration: a caller
    /// stepping from one moment of its own to the next (a simulation), any distance ahead.
    /// At the clock's own time it moves nothing but still fires what is due and offers freed
    /// slots; before it, it is refused ([`Error::BadInput`]): the clock never goes back.
    pub async fn advance_clock_to(&self, to: DateTime<Utc>) -> Result<Advanced, Error> {
        self.advance(Until::At(to)).await
    }

    /// The one way a skipped clock moves (both advances above).
    async fn advance(&self, until: Until) -> Result<Advanced, Error> {
        let Some(skipped) = self.skipped() else {
            return Err(Error::NotTimeSkipping);
        };
        if let Until::By(by) = until {
            domain::input::check_clock_advance(by)?;
        }
        let _turn = self.advancing().lock().await;
        let (from, _) = skipped.read();
        let to = match until {
            Until::By(by) => clock::stored(from + by),
            Until::At(to) => clock::stored(to),
        };
        if to < from {
            return Err(Error::BadInput(format!(
                "the clock moves only forward: it stands at {from}, after {to}"
            )));
        }
        let mut done = Advanced {
            from,
            to,
            timers_fired: 0,
            timers_dropped: 0,
            due_times: 0,
            slots_offered: 0,
            notices_escalated: 0,
        };
        let mut at = from;
        loop {
            self.fire_all_due(at, &mut done).await?;
            done.slots_offered += self.offer_freed_slots().await?;
            let told = self.tell_due_notices().await?;
            done.notices_escalated += told.escalated;
            let timer = self.store().next_due_after(at, to).await?;
            let notice = self.next_notice_after(at, to).await?;
            match [timer, notice].into_iter().flatten().min() {
                Some(next) => {
                    self.move_clock(skipped, next).await?;
                    at = next;
                    done.due_times += 1;
                }
                None => break,
            }
        }
        if at < to {
            self.move_clock(skipped, to).await?;
        }
        tracing::info!(
            from = %done.from,
            to = %done.to,
            fired = done.timers_fired,
            due_times = done.due_times,
            offered = done.slots_offered,
            "clock advanced"
        );
        Ok(done)
    }

    /// Fire every timer due at or before `at` (the clock stands there), in due order, in
    /// batches; a timer that lost a race is tried again (a few rounds), one that failed
    /// otherwise is left for the sweeper.
    async fn fire_all_due(&self, at: DateTime<Utc>, done: &mut Advanced) -> Result<(), Error> {
        let mut left_pending: HashSet<TimerId> = HashSet::new();
        let mut idle_rounds = 0;
        loop {
            let due: Vec<_> = self
                .store()
                .due_timers(at, BATCH)
                .await?
                .into_iter()
                .filter(|t| !left_pending.contains(&t.id))
                .collect();
            if due.is_empty() {
                return Ok(());
            }
            let firing = self.fire(due).await?;
            done.timers_fired += firing.fired;
            done.timers_dropped += firing.dropped;
            left_pending.extend(firing.failed);
            if firing.fired + firing.dropped == 0 {
                idle_rounds += 1;
                if idle_rounds > crate::engine::MAX_RACE_RETRIES {
                    tracing::warn!(
                        raced = firing.raced,
                        "timers kept racing; left for the sweeper"
                    );
                    return Ok(());
                }
                tokio::time::sleep(crate::engine::race_pause(idle_rounds)).await;
            }
        }
    }

    /// Store the clock at `to`, then follow it here. Another process that moved the stored
    /// clock meanwhile (one time-skipping server per database is the rule) is a conflict: the
    /// clock is reloaded, nothing more fires.
    async fn move_clock(&self, skipped: &SkippedClock, to: DateTime<Utc>) -> Result<(), Error> {
        let (_, version) = skipped.read();
        if self.store().move_skipped_clock(version, to).await? {
            skipped.moved(to, version + 1);
            return Ok(());
        }
        if let Some(TimeMark::Skipping { now, version }) = self.store().time_mark().await? {
            skipped.moved(now, version);
        }
        Err(Error::Conflict(
            "the clock was moved by another process; it was reloaded: advance again".into(),
        ))
    }
}

fn refuse_skipping_database(clock: DateTime<Utc>) -> Error {
    Error::TimeMode(format!(
        "this database was served with time skipping (its clock stands at {}): a normal \
         `carepath serve` does not open it, so a training or test database never becomes a \
         production one; serve it with --time-skipping (CAREPATH_TIME_SKIPPING=true), or use \
         another database",
        clock.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    ))
}

fn refuse_wall_database() -> Error {
    Error::TimeMode(
        "this database was served on the wall clock: `carepath serve --time-skipping` does not \
         open it (its timers would fire early, for real clients); use a new database"
            .into(),
    )
}
