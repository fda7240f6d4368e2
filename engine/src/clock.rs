//! Time is an input. The engine asks a [`Clock`]; tests give it a [`ManualClock`].

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

/// Where the engine reads "now".
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to, by the caller: for tests.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().expect("clock lock");
        *now += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

/// The clock of a time-skipping engine (`carepath serve --time-skipping`, `carepath
/// simulate`): it starts at the wall clock (or a given moment), stands still, and moves only
/// forward, when [`crate::Engine::advance_clock`] or [`crate::Engine::advance_clock_to`]
/// moves it — to each due time on the way, then to the end. The engine keeps it in the
/// database (the `engine_clock` row) before it moves here, so a restart resumes where it
/// stood and never before.
#[derive(Debug)]
pub struct SkippedClock(Mutex<Skipped>);

#[derive(Clone, Copy, Debug)]
struct Skipped {
    now: DateTime<Utc>,
    /// How many moves the stored clock has had: the compare-and-set of the next one.
    version: i64,
}

impl SkippedClock {
    pub(crate) fn new(now: DateTime<Utc>, version: i64) -> Self {
        Self(Mutex::new(Skipped { now, version }))
    }

    /// The time and the stored version it was read at.
    pub(crate) fn read(&self) -> (DateTime<Utc>, i64) {
        let s = *self.0.lock().expect("clock lock");
        (s.now, s.version)
    }

    /// The stored clock moved to `to` as `version`: follow it, never backwards.
    pub(crate) fn moved(&self, to: DateTime<Utc>, version: i64) {
        let mut s = self.0.lock().expect("clock lock");
        if version > s.version {
            s.version = version;
            s.now = s.now.max(to);
        }
    }
}

impl Clock for SkippedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().expect("clock lock").now
    }
}

/// A moment as both databases keep it: whole microseconds (PostgreSQL's `timestamptz`), so a
/// skipped clock read back after a restart is the one that was stored, not a nanosecond
/// earlier.
pub(crate) fn stored(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(6)
}
