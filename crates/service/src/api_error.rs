//! API errors: an HTTP status, a kind and one line, as JSON; secrets redacted. The service's
//! own errors ([`ServiceError`]) become statuses here, at the edge.

use awcopy_jobs::runner::{Refusal, RunError};
use awcopy_jobs::CatalogError;
use awcopy_store::{ErrorKind, StoreError};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::ServiceError;
use crate::wire::ErrorBody;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: String,
    message: String,
}

impl ApiError {
    /// An error of `status` and `kind` saying `message`.
    pub fn new(status: StatusCode, kind: &str, message: impl AsRef<str>) -> Self {
        Self {
            status,
            kind: kind.to_owned(),
            message: awcopy_store::redact::redact(message.as_ref()),
        }
    }

    /// 400: the request is wrong; the message says how.
    pub fn bad_request(message: impl AsRef<str>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", message)
    }

    /// 401: no valid token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send 'Authorization: Bearer TOKEN' with a token the service's config knows (or sign in)",
        )
    }

    /// 403: a location outside the caller's grants.
    pub fn forbidden(message: impl AsRef<str>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: nothing the caller may see goes by that id.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no {what} with id '{id}'"),
        )
    }

    /// The one line it says.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            kind: self.kind,
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<CatalogError> for ApiError {
    fn from(err: CatalogError) -> Self {
        match err {
            CatalogError::NotFound(id) => Self::not_found("job", &id),
            taken @ CatalogError::RunTaken(_) => {
                Self::new(StatusCode::CONFLICT, "conflict", taken.to_string())
            }
            gone @ CatalogError::Unreachable { .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "catalogue-unavailable",
                gone.to_string(),
            ),
            other => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "catalogue",
                other.to_string(),
            ),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        let status = match err.kind() {
            ErrorKind::Usage | ErrorKind::Unsupported => StatusCode::BAD_REQUEST,
            ErrorKind::Io | ErrorKind::Other => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Self::new(status, err.kind().as_str(), err.to_string())
    }
}

impl From<RunError> for ApiError {
    fn from(err: RunError) -> Self {
        match err {
            RunError::Catalog(e) => e.into(),
            RunError::Store(e) => e.into(),
            RunError::Refused(refusal) => {
                let kind = match &refusal {
                    Refusal::Running(..) => "running",
                    Refusal::Duplicate(_) => "duplicate",
                    Refusal::Completed(_) => "completed",
                    Refusal::HasFailures(_) => "has-failures",
                    Refusal::Unfinished(_) => "unfinished",
                    Refusal::Cancelled(_) => "cancelled",
                    Refusal::NothingToStop(_) => "nothing-to-stop",
                    Refusal::StillRunning(_) => "still-running",
                };
                Self::new(StatusCode::CONFLICT, kind, refusal.to_string())
            }
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Invalid(message) => Self::bad_request(message),
            ServiceError::Forbidden(message) => Self::forbidden(message),
            ServiceError::NotFound { what, id } => Self::not_found(what, &id),
            ServiceError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            ServiceError::Busy(message) => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "busy", message)
            }
            ServiceError::Run(e) => e.into(),
            ServiceError::Catalog(e) => e.into(),
            ServiceError::Store(e) => e.into(),
        }
    }
}
