//! Carepath on RabbitMQ: the transactional-outbox relay and the inbound consumer.
//! **Architecture invariant:** the only crate that knows AMQP; the engine knows only its
//! outbox rows.

pub mod access;
pub mod cloudevents;
mod feed;
mod inbound;
mod publisher;
pub mod topology;

pub use feed::run_feed;
pub use inbound::run_inbound;
pub use publisher::run_relay;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How the relay and the consumer run.
#[derive(Clone, Debug)]
pub struct Options {
    pub amqp_url: String,
    /// The CloudEvents `source`.
    pub source: String,
    /// Events read and published per round, all in flight at once.
    pub batch: u64,
    /// Polling fallback when no commit signal arrives.
    pub poll: Duration,
    /// `/readyz` reports the relay stuck when the oldest waiting event is older than this.
    pub stuck_after: Duration,
    /// This process's name in the relay lease.
    pub holder: String,
    /// Timeout of each publish and each confirm wait.
    pub publish_timeout: Duration,
}

impl Options {
    pub fn new(amqp_url: impl Into<String>) -> Self {
        Self {
            amqp_url: amqp_url.into(),
            source: "/carepath".into(),
            batch: 500,
            poll: Duration::from_millis(500),
            stuck_after: Duration::from_secs(60),
            holder: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            publish_timeout: Duration::from_secs(5),
        }
    }
}

/// What the relay reports: on `/metrics`, and to `/readyz`.
#[derive(Debug, Default)]
pub struct Status {
    pub connected: AtomicBool,
    /// This process holds the relay lease.
    pub leader: AtomicBool,
    pub backlog: AtomicU64,
    /// Age of the oldest unpublished event, in milliseconds (0: none).
    pub oldest_age_ms: AtomicU64,
    pub published: AtomicU64,
}

impl Status {
    /// Why the relay is not healthy, if it is not: events waiting longer than `stuck_after`.
    pub fn problem(&self, stuck_after: Duration) -> Option<String> {
        let age = self.oldest_age_ms.load(Ordering::Relaxed);
        if age > stuck_after.as_millis() as u64 {
            Some(format!(
                "relay stuck: {} events waiting, the oldest for {} s (broker {})",
                self.backlog.load(Ordering::Relaxed),
                age / 1000,
                if self.connected.load(Ordering::Relaxed) {
                    "connected"
                } else {
                    "unreachable"
                }
            ))
        } else {
            None
        }
    }
}

/// Close a task's channels on shutdown, before its caller closes the connection: a channel
/// left to close itself when dropped races the connection's close, which lapin logs as an
/// error.
pub(crate) async fn close_channels(channels: &[&lapin::Channel]) {
    for ch in channels {
        let _ = ch.close(200, "shutting down".into()).await;
    }
}

/// Connect to the broker.
pub(crate) async fn connect(url: &str, name: &str) -> lapin::Result<lapin::Connection> {
    let props = lapin::ConnectionProperties::default().with_connection_name(name.into());
    lapin::Connection::connect(url, props).await
}
