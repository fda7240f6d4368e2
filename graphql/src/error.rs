//! Engine errors as GraphQL errors with a stable `extensions.code`. Internal details (SQL,
//! causes) go to the log, never to the client.

use async_graphql::{ErrorExtensions, Value};
use carepath_engine::Error;
use carepath_engine::domain::DecisionError;

pub const BAD_INPUT: &str = "BAD_INPUT";
pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
pub const FORBIDDEN: &str = "FORBIDDEN";
pub const NOT_FOUND: &str = "NOT_FOUND";
pub const CONFLICT: &str = "CONFLICT";
pub const INVALID_TRANSITION: &str = "INVALID_TRANSITION";
pub const GATE_UNMET: &str = "GATE_UNMET";
pub const CONSENT_REQUIRED: &str = "CONSENT_REQUIRED";
/// The provider has no open slot at the level (an acceptance, an admission): nothing changed.
pub const NO_CAPACITY: &str = "NO_CAPACITY";
pub const INTERNAL: &str = "INTERNAL";
/// What became of an appointment or booking reported before it took place (with `at`).
pub const NOT_YET_HAPPENED: &str = "NOT_YET_HAPPENED";
/// `advanceClock` on a server that keeps the wall clock.
pub const NOT_TIME_SKIPPING: &str = "NOT_TIME_SKIPPING";

pub fn coded(code: &'static str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}

pub fn bad_input(message: impl Into<String>) -> async_graphql::Error {
    coded(BAD_INPUT, message)
}

pub const UNAUTHENTICATED_MESSAGE: &str = "a valid API token is required (Authorization: Bearer …)";

pub fn unauthenticated() -> async_graphql::Error {
    coded(UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)
}

fn json(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| Value::from_json(v).ok())
        .unwrap_or(Value::Null)
}

/// The GraphQL face of an engine error.
pub fn to_graphql(e: Error) -> async_graphql::Error {
    match e {
        Error::Rejected(d) => match d {
            DecisionError::BadInput(m) => bad_input(m),
            DecisionError::NotFound { what, id } => {
                coded(NOT_FOUND, format!("{what} {id} not found"))
            }
            DecisionError::Forbidden(m) => coded(FORBIDDEN, m),
            DecisionError::Conflict(m) => coded(CONFLICT, m),
            ref err @ DecisionError::InvalidTransition {
                ref from,
                ref allowed,
                ..
            } => {
                let allowed_v = json(allowed);
                let from = from.clone();
                async_graphql::Error::new(err.to_string()).extend_with(|_, ext| {
                    ext.set("code", INVALID_TRANSITION);
                    ext.set("from", from.clone());
                    ext.set("allowed", allowed_v.clone());
                })
            }
            ref err @ DecisionError::GateUnmet { ref unmet } => {
                let unmet_v = json(unmet);
                async_graphql::Error::new(err.to_string()).extend_with(|_, ext| {
                    ext.set("code", GATE_UNMET);
                    ext.set("unmet", unmet_v.clone());
                })
            }
            ref err @ DecisionError::ConsentRequired { ref orgs } => {
                let orgs_v = json(orgs);
                async_graphql::Error::new(err.to_string()).extend_with(|_, ext| {
                    ext.set("code", CONSENT_REQUIRED);
                    ext.set("organizations", orgs_v.clone());
                })
            }
            ref err @ DecisionError::NotYetHappened { ref at, .. } => {
                let at = at.clone();
                async_graphql::Error::new(err.to_string()).extend_with(|_, ext| {
                    ext.set("code", NOT_YET_HAPPENED);
                    ext.set("at", at.clone());
                })
            }
            DecisionError::StaleTimer(m) => {
                tracing::error!(error = %m, "a timer error reached the API");
                coded(INTERNAL, "internal error")
            }
        },
        Error::Conflict(m) => coded(CONFLICT, m),
        e @ Error::NoCapacity { .. } => coded(NO_CAPACITY, e.to_string()),
        e @ Error::IdempotencyKeyReused => coded(BAD_INPUT, e.to_string()),
        Error::BadInput(m) => bad_input(m),
        Error::NotFound(m) => coded(NOT_FOUND, format!("{m} not found")),
        Error::Forbidden(m) => coded(FORBIDDEN, m),
        Error::Unauthenticated => unauthenticated(),
        e @ Error::NotTimeSkipping => coded(NOT_TIME_SKIPPING, e.to_string()),
        Error::TimeMode(m) => {
            tracing::error!(error = %m, "a time-mode error reached the API");
            coded(INTERNAL, "internal error")
        }
        Error::Storage(inner) => {
            tracing::error!(error = %inner, "storage error");
            coded(INTERNAL, "internal error")
        }
    }
}

/// `?` on engine results inside resolvers.
pub trait OrGraphql<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> OrGraphql<T> for Result<T, Error> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(to_graphql)
    }
}
