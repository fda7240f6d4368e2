//! What a page answers when it cannot show what was asked: the engine's refusals in words,
//! with the HTTP status the API would give.

use crate::page::Problem;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use carepath_engine::Error;

/// A page that could not be shown, or a form that changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No session, or it lapsed: back to sign-in.
    #[error("sign in first")]
    SignIn,
    /// The form did not come from one of our pages (no or wrong CSRF token, another origin).
    #[error("this form did not come from this console")]
    ForeignForm,
    /// A field of the form could not be read (`field` is its name): said next to it.
    #[error("{message}")]
    Field { field: String, message: String },
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(#[from] Error),
    /// A template failed to render (a bug).
    #[error("rendering: {0}")]
    Render(#[from] askama::Error),
}

impl PageError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            PageError::SignIn => StatusCode::UNAUTHORIZED,
            PageError::ForeignForm => StatusCode::FORBIDDEN,
            PageError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
            PageError::Field { .. } => StatusCode::BAD_REQUEST,
            PageError::Engine(e) => match e {
                Error::Rejected(d) => match d {
                    carepath_engine::domain::DecisionError::Forbidden(_) => StatusCode::FORBIDDEN,
                    carepath_engine::domain::DecisionError::NotFound { .. } => {
                        StatusCode::NOT_FOUND
                    }
                    carepath_engine::domain::DecisionError::Conflict(_) => StatusCode::CONFLICT,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                },
                Error::Conflict(_) | Error::IdempotencyKeyReused => StatusCode::CONFLICT,
                Error::NoCapacity { .. } => StatusCode::CONFLICT,
                Error::BadInput(_) | Error::NotTimeSkipping | Error::TimeMode(_) => {
                    StatusCode::BAD_REQUEST
                }
                Error::NotFound(_) => StatusCode::NOT_FOUND,
                Error::Forbidden(_) => StatusCode::FORBIDDEN,
                Error::Unauthenticated => StatusCode::UNAUTHORIZED,
                Error::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            },
        }
    }

    /// The heading and the sentence a person reads.
    pub(crate) fn words(&self) -> (&'static str, String) {
        match self {
            PageError::SignIn => ("Sign in", "Your session has ended. Sign in again.".into()),
            PageError::ForeignForm => (
                "Form refused",
                "This form did not come from this console (or your session changed since the \
                 page was opened). Nothing was changed. Reload the page and try again."
                    .into(),
            ),
            PageError::Field { message, .. } => (
                "Check the form",
                format!("{} Nothing was changed.", sentence(message)),
            ),
            PageError::Render(_) => (
                "Something went wrong",
                "The page could not be shown. Nothing was changed.".into(),
            ),
            PageError::Engine(e) => match e {
                Error::Conflict(_) => (
                    "The record changed",
                    "Someone changed this client's record after you opened the page, so your \
                     form was not applied and nothing was changed. Reload the page to see the \
                     latest and try again."
                        .into(),
                ),
                Error::IdempotencyKeyReused => (
                    "Form already used",
                    "This form was already sent with different answers. Nothing was changed. \
                     Reload the page for a fresh form."
                        .into(),
                ),
                Error::NoCapacity { .. } => (
                    "No open slot",
                    "The provider has no open slot at that level now. Nothing was changed.".into(),
                ),
                Error::Rejected(d) => match d {
                    carepath_engine::domain::DecisionError::Forbidden(m) => {
                        ("Not allowed", sentence(m))
                    }
                    carepath_engine::domain::DecisionError::NotFound { .. } => {
                        ("Not found", "There is nothing here you may see.".into())
                    }
                    // The form pinned the version its page showed, and the record moved on.
                    stale @ carepath_engine::domain::DecisionError::Conflict(m)
                        if stale.is_stale_version() =>
                    {
                        PageError::Engine(Error::Conflict(m.clone())).words()
                    }
                    carepath_engine::domain::DecisionError::Conflict(m) => (
                        "Already done",
                        format!(
                            "{} Nothing was changed. Reload the page to see the latest.",
                            sentence(m)
                        ),
                    ),
                    other => (
                        "Not done",
                        format!("{} Nothing was changed.", sentence(&other.to_string())),
                    ),
                },
                Error::BadInput(m) => (
                    "Check the form",
                    format!("{} Nothing was changed.", sentence(m)),
                ),
                Error::NotFound(_) => ("Not found", "There is nothing here you may see.".into()),
                Error::Forbidden(m) => ("Not allowed", sentence(m)),
                Error::Unauthenticated => {
                    ("Sign in", "Your session has ended. Sign in again.".into())
                }
                Error::NotTimeSkipping | Error::TimeMode(_) => {
                    ("Not done", sentence(&e.to_string()))
                }
                Error::Storage(_) => (
                    "Try again shortly",
                    "The database did not answer. Nothing was changed.".into(),
                ),
            },
        }
    }
}

/// A message as a sentence: capitalised, with a full stop.
pub(crate) fn sentence(m: &str) -> String {
    let m = m
        .trim()
        .trim_start_matches("forbidden: ")
        .trim_start_matches("bad input: ");
    let mut chars = m.chars();
    let mut out: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match &self {
            PageError::SignIn | PageError::Engine(Error::Unauthenticated) => {
                return Redirect::to("/sign-in").into_response();
            }
            PageError::Render(e) => tracing::error!(error = %e, "a console page failed to render"),
            PageError::Engine(e @ Error::Storage(_)) => {
                tracing::error!(error = %e, "a console page failed")
            }
            _ => {}
        }
        let (title, message) = self.words();
        Problem::page(self.status(), title, message)
    }
}
