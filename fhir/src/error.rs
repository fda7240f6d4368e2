//! Errors as FHIR says them: an `OperationOutcome` with the HTTP status that goes with it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fhir::r4::coded::Coded;
use fhir::r4::codes::{IssueSeverity, IssueType};
use fhir::r4::resources::operation_outcome::OperationOutcomeIssue;
use fhir::r4::resources::{OperationOutcome, Resource};
use fhir::r4::types;

#[derive(Debug, thiserror::Error)]
pub enum FhirError {
    #[error("a valid API token is required (Authorization: Bearer …)")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    /// Unknown, or not the reader's to know of: the same answer (42 CFR Part 2: an outsider's
    /// lookup must not confirm that a client exists).
    #[error("{0} not found")]
    NotFound(String),
    #[error("this server reads no resource type {0}")]
    UnknownType(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("internal error")]
    Internal,
}

impl From<carepath_engine::Error> for FhirError {
    fn from(e: carepath_engine::Error) -> Self {
        use carepath_engine::Error as E;
        use carepath_engine::domain::DecisionError as D;
        match e {
            E::Unauthenticated => FhirError::Unauthenticated,
            E::Forbidden(m) | E::Rejected(D::Forbidden(m)) => FhirError::Forbidden(m),
            E::NotFound(m) => FhirError::NotFound(m),
            E::Rejected(D::NotFound { what, id }) => FhirError::NotFound(format!("{what} {id}")),
            E::BadInput(m) | E::Rejected(D::BadInput(m)) => FhirError::BadRequest(m),
            other => {
                tracing::error!(error = %other, "fhir read failed");
                FhirError::Internal
            }
        }
    }
}

impl FhirError {
    fn status(&self) -> StatusCode {
        match self {
            FhirError::Unauthenticated => StatusCode::UNAUTHORIZED,
            FhirError::Forbidden(_) => StatusCode::FORBIDDEN,
            FhirError::NotFound(_) | FhirError::UnknownType(_) => StatusCode::NOT_FOUND,
            FhirError::BadRequest(_) => StatusCode::BAD_REQUEST,
            FhirError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            FhirError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn issue_type(&self) -> IssueType {
        match self {
            FhirError::Unauthenticated => IssueType::Login,
            FhirError::Forbidden(_) => IssueType::Forbidden,
            FhirError::NotFound(_) => IssueType::NotFound,
            FhirError::UnknownType(_) => IssueType::NotSupported,
            FhirError::BadRequest(_) => IssueType::Invalid,
            FhirError::NotAcceptable(_) => IssueType::NotSupported,
            FhirError::Internal => IssueType::Exception,
        }
    }

    pub fn outcome(&self) -> OperationOutcome {
        outcome(self.issue_type(), self.to_string())
    }
}

/// An `OperationOutcome` of one error of `code`, saying `diagnostics`.
pub(crate) fn outcome(code: IssueType, diagnostics: String) -> OperationOutcome {
    OperationOutcome::builder()
        .issue(vec1::vec1![OperationOutcomeIssue {
            severity: Coded::Known(IssueSeverity::Error),
            code: Coded::Known(code),
            diagnostics: Some(types::String(diagnostics)),
            ..Default::default()
        }])
        .build()
        .expect("an outcome has its one required element")
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let body = Resource::OperationOutcome(Box::new(self.outcome()));
        let mut r = crate::http::fhir_json(self.status(), &body);
        if let FhirError::Unauthenticated = self {
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}
