//! The engine's error: what a caller of [`crate::Engine`] can branch on.

use crate::dom::DecisionError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The decision core refused the command; nothing changed.
    #[error(transparent)]
    Rejected(#[from] DecisionError),
    /// Someone else changed the client first; nothing changed. Reload and retry.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("organization {provider} has no open slot at level {level}")]
    NoCapacity { provider: String, level: String },
    #[error("the idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    #[error("bad input: {0}")]
    BadInput(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("missing, unknown or revoked API token")]
    Unauthenticated,
    /// The clock can be moved only on a server started with `--time-skipping`; this one
    /// keeps the wall clock. Nothing changed.
    #[error(
        "this server keeps the wall clock: only a server started with `carepath serve --time-skipping` moves its clock"
    )]
    NotTimeSkipping,
    /// The database is marked for the other way of telling the time (a time-skipping
    /// database opened by a normal `serve`, or the reverse); it was not opened.
    #[error("{0}")]
    TimeMode(String),
    /// The database failed or answered nonsense. Details are logged, not shown.
    #[error("storage error")]
    Storage(#[source] StoreError),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Error::Conflict(m),
            StoreError::NoCapacity { provider, level } => Error::NoCapacity { provider, level },
            StoreError::NotOffered { provider, level } => Error::BadInput(format!(
                "organization {provider} does not offer level {level}"
            )),
            other => Error::Storage(other),
        }
    }
}
