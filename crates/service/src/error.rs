//! Why the service refused or could not do what was asked, in its own terms. The HTTP layer
//! alone turns these into statuses ([`crate::api_error`]).

use awcopy_jobs::runner::RunError;
use awcopy_jobs::CatalogError;
use awcopy_store::redact::redact;
use awcopy_store::StoreError;

/// A request the service refused, or could not carry out.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is wrong; the message names the field and says what would do.
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this (outside their grants, or no longer a user).
    #[error("{0}")]
    Forbidden(String),
    /// Nothing the caller may see goes by that id.
    #[error("no {what} with id '{id}'")]
    NotFound {
        /// What was looked for: "job", "schedule".
        what: &'static str,
        /// The id given.
        id: String,
    },
    /// What is asked clashes with what goes on (a schedule's run already going).
    #[error("{0}")]
    Conflict(String),
    /// The service has no room for this now; the message says when to try again.
    #[error("{0}")]
    Busy(String),
    /// The runner refused or failed (a job already running, nothing to stop...).
    #[error(transparent)]
    Run(#[from] RunError),
    /// The catalogue failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A store, a location or a key failed or was refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    /// Whether another replica started the schedule run this would have started.
    pub fn is_run_taken(&self) -> bool {
        matches!(
            self,
            Self::Catalog(CatalogError::RunTaken(_))
                | Self::Run(RunError::Catalog(CatalogError::RunTaken(_)))
        )
    }

    /// A refusal of a wrong request (`message` redacted: it may quote what was sent).
    pub fn invalid(message: impl AsRef<str>) -> Self {
        Self::Invalid(redact(message.as_ref()))
    }

    /// A refusal of what the caller may not do (`message` redacted).
    pub fn forbidden(message: impl AsRef<str>) -> Self {
        Self::Forbidden(redact(message.as_ref()))
    }

    /// Nothing the caller may see is the `what` with `id`.
    pub fn not_found(what: &'static str, id: &str) -> Self {
        Self::NotFound {
            what,
            id: id.to_owned(),
        }
    }
}
