//! Why the decision core refused a command. A refused command changes nothing.

use super::event::GateReport;
use crate::ids::OrgId;
use crate::pathway::AllowedMove;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DecisionError {
    #[error("bad input: {0}")]
    BadInput(String),
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("{attempted} is not allowed from {from}; allowed: {}", list(allowed))]
    InvalidTransition {
        from: String,
        attempted: String,
        allowed: Vec<AllowedMove>,
    },
    #[error("gates unmet: {}", unmet.iter().map(|g| format!("{} ({})", g.gate, g.why)).collect::<Vec<_>>().join("; "))]
    GateUnmet { unmet: Vec<GateReport> },
    #[error("no active 42 CFR Part 2 consent names organization(s) {}", orgs.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", "))]
    ConsentRequired { orgs: Vec<OrgId> },
    /// What became of an appointment or a MAT booking was reported before it took place:
    /// nothing can have been kept or missed yet.
    #[error("{what} is not until {at}: what became of it can be recorded once it has happened")]
    NotYetHappened { what: &'static str, at: String },
    /// A timer came due for something that no longer applies (the sweeper drops it).
    #[error("stale timer: {0}")]
    StaleTimer(String),
}

/// How a stale pinned version is said (a `Conflict`, as the API codes it).
const STALE_VERSION: &str = "expected version ";

impl DecisionError {
    /// The command pinned `expected`, and the record is at `current`.
    pub fn stale_version(expected: i64, current: i64) -> Self {
        DecisionError::Conflict(format!(
            "{STALE_VERSION}{expected}, current version is {current}"
        ))
    }

    /// Refused because the version the caller pinned is no longer the record's.
    pub fn is_stale_version(&self) -> bool {
        matches!(self, DecisionError::Conflict(m) if m.starts_with(STALE_VERSION))
    }
}

fn list(allowed: &[AllowedMove]) -> String {
    if allowed.is_empty() {
        return "none".into();
    }
    allowed
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl DecisionError {
    pub fn bad(msg: impl Into<String>) -> Self {
        DecisionError::BadInput(msg.into())
    }
    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        DecisionError::NotFound {
            what,
            id: id.to_string(),
        }
    }
}
