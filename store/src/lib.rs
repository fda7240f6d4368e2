//! Persistence on SQLite or PostgreSQL through sea-orm: the only module that knows SQL.
//!
//! [`Store::commit`] writes one decision in one transaction: the client row under a version
//! check (a stale version writes nothing), the care events, one outbox row per event, the
//! referral projection, timers, disclosures, occupancy, and the idempotency record — the rows
//! `rows.rs` maps the decision to, one mapping for both backends.

mod announce;
mod api;
mod audit;
mod commit;
mod commit_pg;
pub mod entities;
mod exports;
mod group_commit;
mod notices;
mod outbox;
mod queries;
mod rows;
mod staff;
mod time_mark;
mod worklists;

pub use api::*;
pub use audit::TimerRow;
pub use exports::*;
pub use notices::*;
pub use outbox::*;
pub use queries::*;
pub use rows::{Commit, IdempotencyRecord};
pub use staff::*;
pub use time_mark::TimeMark;
pub use worklists::{COORDINATION_TIMERS, Holders};

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr, SqlErr};
use std::time::Duration;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Someone else changed the client (or fired the timer, or used the idempotency key)
    /// first. Nothing was written.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("organization {provider} has no open slot at level {level}")]
    NoCapacity { provider: String, level: String },
    #[error("organization {provider} does not offer level {level}")]
    NotOffered { provider: String, level: String },
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// Stored data that does not read back as what was written.
pub(crate) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl StoreError {
    fn from_write(e: DbErr, what: &str) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict(what.to_owned()),
            _ => StoreError::Db(e),
        }
    }
}

/// How a SQLite database's commits reach the disk (a PostgreSQL server's are its own
/// configuration's to decide).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// A commit is on disk before it returns and survives a power loss (`synchronous =
    /// FULL`): every database that holds care.
    #[default]
    Full,
    /// A scratch file made for one run and deleted after it (`carepath simulate`'s own): a
    /// commit survives the process crashing, perhaps not a power loss (`synchronous =
    /// NORMAL` in WAL mode: the log is flushed at checkpoints, not at every commit).
    Scratch,
}

/// A handle on the database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite has one writer at a time: writers of this process queue here instead of
    /// spinning in SQLite's busy handler.
    sqlite_writer: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
    /// SQLite: decisions waiting for the one writer are committed together.
    sqlite_group: Option<std::sync::Arc<group_commit::GroupCommit>>,
    /// PostgreSQL: wakes relays in other processes after a commit.
    announcer: Option<std::sync::Arc<announce::Announcer>>,
    /// PostgreSQL: where a [`CommitListener`] connects to hear other processes' commits.
    listen_url: Option<String>,
}

impl Store {
    /// Connect to `url` (`sqlite://path?mode=rwc` or `postgres://…`).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::connect_with(url, max_connections, Durability::Full).await
    }

    /// [`Self::connect`], a SQLite database's commits as durable as `durability` says.
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.max_connections(max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        // SQLite reads through its own page cache (the default 2 MB a connection), not a
        // memory map: every pooled connection would map the file for itself, and each page it
        // touches cost it a page fault and counted again in the process's RSS. Against a 64 MB
        // map and an 8 MB cache, a 300-journey run: 358-363 against 305-323 mutations/s, peak
        // RSS 71 against 116-131 MB.
        if url.starts_with("sqlite:") {
            let synchronous = match durability {
                // Durable on power loss, not only on a process crash.
                Durability::Full => SqliteSynchronous::Full,
                Durability::Scratch => SqliteSynchronous::Normal,
            };
            opts.map_sqlx_sqlite_opts(move |o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(synchronous)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        }
        let db = Database::connect(opts).await?;
        let mut store = Self::from_connection(db);
        if store.backend() == DbBackend::Postgres {
            store.listen_url = Some(url.to_owned());
        }
        Ok(store)
    }

    /// Bring the schema up to date (every migration not yet applied).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        use carepath_migrations::MigratorTrait;
        Ok(carepath_migrations::Migrator::up(&self.db, None).await?)
    }

    /// PostgreSQL: a connection that hears every process's commits; `None` on SQLite, where
    /// only this process writes.
    pub async fn commit_listener(&self) -> Option<Result<CommitListener, StoreError>> {
        match &self.listen_url {
            Some(url) => Some(CommitListener::connect(url).await),
            None => None,
        }
    }

    fn from_connection(db: DatabaseConnection) -> Self {
        let backend = db.get_database_backend();
        let sqlite_writer = (backend == DbBackend::Sqlite)
            .then(|| std::sync::Arc::new(tokio::sync::Mutex::new(())));
        let sqlite_group = sqlite_writer
            .clone()
            .map(|w| std::sync::Arc::new(group_commit::GroupCommit::new(w)));
        let announcer = (backend == DbBackend::Postgres)
            .then(|| std::sync::Arc::new(announce::Announcer::default()));
        Self {
            db,
            sqlite_writer,
            sqlite_group,
            announcer,
            listen_url: None,
        }
    }

    /// Events were committed: tell relays in other processes (PostgreSQL NOTIFY, sent after
    /// the commit by a task of its own, at most one per [`announce::EVERY`]). A relay in this
    /// process hears of commits from the engine directly.
    pub(crate) fn announce_commit(&self) {
        if let Some(a) = &self.announcer {
            a.announce(&self.db);
        }
    }

    /// Held for the length of a write transaction on SQLite; nothing on PostgreSQL.
    pub(crate) async fn writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.sqlite_writer {
            Some(m) => Some(m.lock().await),
            None => None,
        }
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Is the database answering?
    pub async fn ping(&self) -> Result<(), StoreError> {
        Ok(self.db.ping().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, Statement};

    /// SQLite's `PRAGMA synchronous` on a new file opened with `durability`: 2 FULL, 1 NORMAL.
    async fn synchronous(durability: Durability) -> i64 {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::connect_with(&url, 2, durability)
            .await
            .expect("connect");
        let row = store
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA synchronous",
            ))
            .await
            .expect("pragma")
            .expect("a row");
        row.try_get_by_index::<i64>(0).expect("a number")
    }

    #[tokio::test]
    async fn only_a_scratch_file_gives_up_power_loss_durability() {
        assert_eq!(synchronous(Durability::default()).await, 2, "FULL");
        assert_eq!(synchronous(Durability::Full).await, 2, "FULL");
        assert_eq!(synchronous(Durability::Scratch).await, 1, "NORMAL");
    }
}
