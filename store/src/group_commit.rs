//! SQLite: group commit. SQLite has one writer, and a durable commit waits for its WAL to
//! reach the disk (`synchronous = FULL`); one transaction per command queued every command
//! behind the one before it and its flush, with the cores half idle. Decisions from any
//! number of callers are queued to one task that writes the waiting ones in one transaction,
//! each inside a savepoint of its own: a decision that fails (a stale version, no open slot,
//! an idempotency key used twice) is rolled back to its savepoint and answered with its
//! error, the others commit together, and one flush serves them all.

use super::StoreError;
use super::commit::write;
use super::rows::Rows;
use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use std::sync::{Arc, OnceLock};
use tokio::sync::{Mutex, mpsc, oneshot};

/// The most decisions one transaction writes.
const MAX_BATCH: usize = 64;

#[derive(Debug)]
pub(crate) struct GroupCommit {
    /// The store's writer lock, held by the task for each batch: other writes of this
    /// process (the relay's deletes, leases, administration) take turns with it.
    writer: Arc<Mutex<()>>,
    /// The writing task's queue, started on the first commit. When the last handle on the
    /// store goes, the task ends.
    queue: OnceLock<mpsc::Sender<Queued>>,
}

/// A decision's rows waiting to be written (mapped by the caller, not the writing task).
struct Queued {
    rows: Rows,
    answer: oneshot::Sender<Result<(), StoreError>>,
}

impl GroupCommit {
    pub(crate) fn new(writer: Arc<Mutex<()>>) -> Self {
        Self {
            writer,
            queue: OnceLock::new(),
        }
    }

    /// Write `rows` with whatever else is waiting; answers once the transaction that holds
    /// them has committed (or they failed on their own).
    pub(crate) async fn commit(
        &self,
        db: &DatabaseConnection,
        rows: Rows,
    ) -> Result<(), StoreError> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
            tokio::spawn(write_batches(db.clone(), self.writer.clone(), rx));
            tx
        });
        let (answer, answered) = oneshot::channel();
        queue
            .send(Queued { rows, answer })
            .await
            .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Db(DbErr::Custom("the SQLite writer has stopped".into()))
}

/// The writing task: takes what waits (at least one, at most [`MAX_BATCH`]) and writes it.
async fn write_batches(
    db: DatabaseConnection,
    writer: Arc<Mutex<()>>,
    mut queue: mpsc::Receiver<Queued>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let _writer = writer.lock().await;
        for (answer, result) in write_batch(&db, batch.drain(..)).await {
            // A caller that has gone away is not told.
            let _ = answer.send(result);
        }
    }
}

type Answer = (
    oneshot::Sender<Result<(), StoreError>>,
    Result<(), StoreError>,
);

/// One transaction; each decision in a savepoint of its own. The answers, in order.
async fn write_batch(
    db: &DatabaseConnection,
    batch: impl ExactSizeIterator<Item = Queued>,
) -> Vec<Answer> {
    let tx = match db.begin().await {
        Ok(tx) => tx,
        Err(e) => return batch.map(|q| (q.answer, Err(shared(&e)))).collect(),
    };
    let mut answers = Vec::with_capacity(batch.len());
    for q in batch {
        let result = match tx.begin().await {
            Ok(savepoint) => match write(&savepoint, q.rows).await {
                Ok(()) => savepoint.commit().await.map_err(StoreError::from),
                Err(e) => {
                    let _ = savepoint.rollback().await;
                    Err(e)
                }
            },
            Err(e) => Err(e.into()),
        };
        answers.push((q.answer, result));
    }
    if let Err(e) = tx.commit().await {
        for (_, a) in answers.iter_mut().filter(|(_, a)| a.is_ok()) {
            *a = Err(shared(&e));
        }
    }
    answers
}

/// One failure answered to every decision it took down.
fn shared(e: &DbErr) -> StoreError {
    StoreError::Db(DbErr::Custom(e.to_string()))
}
