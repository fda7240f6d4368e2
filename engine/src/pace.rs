//! Commands paced by the events' lag: when the relay publishes events later than the limit
//! after their commit (and it is relaying — the broker answers), each command waits for it to
//! catch up before it runs, at most the limit. The lag stays near the limit instead of growing
//! without bound, and `/healthz` and `/metrics` say while it is over. With the broker down
//! nothing is paced: the API keeps serving, events wait in the outbox and `/readyz` fails once
//! they wait longer than `relay_stuck_secs`.

use crate::engine::Engine;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// The pacing state of one process.
#[derive(Default)]
pub(crate) struct Pace {
    /// The limit in milliseconds; 0: never pace.
    limit_ms: AtomicU64,
    /// The events' lag last observed, in milliseconds.
    lag_ms: AtomicU64,
    behind: AtomicBool,
    /// When the lag last went over the limit (for the log: once per episode).
    since: Mutex<Option<std::time::Instant>>,
    eased: Notify,
}

/// How far behind the events are, as `/healthz` and `/metrics` tell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventLag {
    /// The age of the oldest event waiting to be published.
    pub lag: Duration,
    /// The configured limit (`relay_lag_limit_ms`), if any.
    pub limit: Option<Duration>,
    /// Over the limit while relaying: commands are paced.
    pub behind: bool,
}

impl Pace {
    fn limit(&self) -> Option<Duration> {
        match self.limit_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    fn set_limit(&self, limit: Option<Duration>) {
        let ms = limit.map_or(0, |l| l.as_millis().clamp(1, u64::MAX as u128) as u64);
        self.limit_ms.store(ms, Ordering::Relaxed);
    }

    fn observe(&self, lag: Duration, relaying: bool) {
        self.lag_ms.store(
            lag.as_millis().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
        let behind = relaying && self.limit().is_some_and(|limit| lag > limit);
        let was = self.behind.swap(behind, Ordering::Relaxed);
        metrics::gauge!("carepath_relay_behind").set(if behind { 1.0 } else { 0.0 });
        let mut since = self.since.lock().expect("pace");
        match (was, behind) {
            (false, true) => {
                *since = Some(std::time::Instant::now());
                tracing::warn!(
                    lag_ms = lag.as_millis() as u64,
                    "events are published later than relay_lag_limit_ms after their commit: \
                     commands are paced until the relay catches up"
                );
            }
            (true, false) => {
                let lasted = since.take().map_or(0, |s| s.elapsed().as_millis() as u64);
                tracing::info!(
                    paced_ms = lasted,
                    "the relay caught up: commands run unpaced"
                );
                self.eased.notify_waiters();
            }
            _ => {}
        }
    }

    fn lag(&self) -> EventLag {
        EventLag {
            lag: Duration::from_millis(self.lag_ms.load(Ordering::Relaxed)),
            limit: self.limit(),
            behind: self.behind.load(Ordering::Relaxed),
        }
    }

    async fn wait(&self) {
        if !self.behind.load(Ordering::Relaxed) {
            return;
        }
        let Some(limit) = self.limit() else { return };
        metrics::counter!("carepath_commands_paced_total").increment(1);
        let eased = self.eased.notified();
        // Eased between the check and the registration: go on.
        if !self.behind.load(Ordering::Relaxed) {
            return;
        }
        let _ = tokio::time::timeout(limit, eased).await;
    }
}

impl Engine {
    /// Pace commands when events wait longer than `limit` to be published (`None`: never).
    pub fn set_event_lag_limit(&self, limit: Option<Duration>) {
        self.pace().set_limit(limit)
    }

    /// What the relay saw: the oldest waiting event's age, and whether it is relaying (the
    /// broker answers). Over the limit while relaying, commands are paced until it is not.
    pub fn observe_event_lag(&self, lag: Duration, relaying: bool) {
        self.pace().observe(lag, relaying)
    }

    /// The events' lag as last observed.
    pub fn event_lag(&self) -> EventLag {
        self.pace().lag()
    }

    /// Before a command: while the events are behind, wait for the relay to catch up, at most
    /// the limit (so a command is slowed, never stopped).
    pub(crate) async fn paced(&self) {
        self.pace().wait().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_command_waits_while_behind_at_most_the_limit() {
        let p = Arc::new(Pace::default());
        p.set_limit(Some(Duration::from_millis(200)));
        // Under the limit, or over it with the broker down: no wait.
        p.observe(Duration::from_millis(150), true);
        assert!(!p.lag().behind);
        p.observe(Duration::from_secs(30), false);
        assert!(!p.lag().behind);
        let t = std::time::Instant::now();
        p.wait().await;
        assert!(t.elapsed() < Duration::from_millis(100));
        // Over it while relaying: a command waits the limit when nothing eases it...
        p.observe(Duration::from_millis(900), true);
        assert!(p.lag().behind);
        let t = std::time::Instant::now();
        p.wait().await;
        assert!(t.elapsed() >= Duration::from_millis(200));
        // ...and goes on as soon as the relay catches up.
        let waiting = {
            let p = p.clone();
            tokio::spawn(async move {
                let t = std::time::Instant::now();
                p.wait().await;
                t.elapsed()
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        p.observe(Duration::from_millis(10), true);
        assert!(waiting.await.unwrap() < Duration::from_millis(190));
        assert!(!p.lag().behind);
    }

    #[test]
    fn no_limit_never_paces() {
        let p = Pace::default();
        p.set_limit(None);
        p.observe(Duration::from_secs(3600), true);
        assert!(!p.lag().behind);
        assert_eq!(p.lag().lag, Duration::from_secs(3600));
    }
}
