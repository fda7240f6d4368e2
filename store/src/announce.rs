//! PostgreSQL: the NOTIFY that wakes relays in other processes once events are committed.
//!
//! It is sent after the commit, by a task of its own, never inside the committing
//! transaction: a transaction that notifies holds PostgreSQL's one notification-queue lock
//! from its commit until the end of its WAL flush, so notifying commits cannot share a flush
//! (group commit) and queue one behind the other's fsync. `pgbench` on `transition.sql` with a
//! notifying trigger on its outbox insert ran at 1,390-1,580 tps against 1,900-2,210 without
//! (three interleaved pairs, concurrency 8). The statement sent here has no transaction id,
//! so its commit flushes nothing.

use super::outbox::OUTBOX_CHANNEL;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::mpsc;

/// At most one NOTIFY per this long: commits in between ride on the next one. The relay
/// lingers as long after a wake-up before it reads.
pub const EVERY: Duration = Duration::from_millis(5);

#[derive(Debug, Default)]
pub(crate) struct Announcer {
    /// The task's doorbell, started on the first commit. A full channel means a NOTIFY is
    /// already due. When the last handle on the store goes, the task ends.
    bell: OnceLock<mpsc::Sender<()>>,
}

impl Announcer {
    pub(crate) fn announce(&self, db: &DatabaseConnection) {
        let bell = self.bell.get_or_init(|| {
            let (tx, rx) = mpsc::channel(1);
            tokio::spawn(ring(db.clone(), rx));
            tx
        });
        let _ = bell.try_send(());
    }
}

async fn ring(db: DatabaseConnection, mut bell: mpsc::Receiver<()>) {
    let notify = Statement::from_sql_and_values(
        db.get_database_backend(),
        "SELECT pg_notify($1, '')",
        [OUTBOX_CHANNEL.into()],
    );
    while bell.recv().await.is_some() {
        if let Err(e) = db.execute_raw(notify.clone()).await {
            // Relays elsewhere poll; this process's relay was told directly.
            tracing::warn!(error = %e, "could not notify relays of a commit");
        }
        tokio::time::sleep(EVERY).await;
    }
}
