//! One error type for every backend, classified so the CLI can pick an exit code and the engine
//! can decide whether a retry makes sense. Messages are redacted before they are stored.

use crate::redact::redact;
use std::time::Duration;

/// What went wrong, in terms a caller can act on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The request itself is wrong (bad argument, invalid key, unsupported option).
    Usage,
    /// Credentials are missing, wrong or lack permission.
    Auth,
    /// The bucket, container or object does not exist.
    NotFound,
    /// The endpoint could not be reached, the connection broke or timed out.
    Network,
    /// The service asked us to slow down (503 SlowDown, 429, ServerBusy).
    Throttled,
    /// The service failed (5xx other than throttling).
    Server,
    /// A precondition or concurrent change stopped the operation.
    Conflict,
    /// The backend cannot do this operation.
    Unsupported,
    /// Local I/O failed (disk full, permission denied on a local path).
    Io,
    /// Bytes did not match their checksum or expected length.
    Integrity,
    /// The destination service could not read a server-side copy source (a URL it cannot reach).
    CopySourceUnreachable,
    /// The job was asked to stop (Ctrl-C) before this finished; it resumes later.
    Interrupted,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Whether trying the same request again may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::Network | Self::Throttled | Self::Server | Self::Integrity
        )
    }

    /// Every kind.
    pub const ALL: [Self; 13] = [
        Self::Usage,
        Self::Auth,
        Self::NotFound,
        Self::Network,
        Self::Throttled,
        Self::Server,
        Self::Conflict,
        Self::Unsupported,
        Self::Io,
        Self::Integrity,
        Self::CopySourceUnreachable,
        Self::Interrupted,
        Self::Other,
    ];

    /// A short lowercase name, as used in journals and `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Usage => "usage",
            Self::Auth => "auth",
            Self::NotFound => "not-found",
            Self::Network => "network",
            Self::Throttled => "throttled",
            Self::Server => "server",
            Self::Conflict => "conflict",
            Self::Unsupported => "unsupported",
            Self::Io => "io",
            Self::Integrity => "integrity",
            Self::CopySourceUnreachable => "copy-source-unreachable",
            Self::Interrupted => "interrupted",
            Self::Other => "other",
        }
    }
}

impl std::str::FromStr for ErrorKind {
    type Err = String;

    /// The kind named as [`ErrorKind::as_str`] names it.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| format!("'{name}' is not a kind of error"))
    }
}

/// An error from a store operation. The message never holds a secret: it is redacted on creation.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    kind: ErrorKind,
    message: String,
    retry_after: Option<Duration>,
    /// The store as a whole cannot take the operation (it is full, over its quota, or
    /// read-only): every other object would fail alike.
    whole_store: bool,
}

impl StoreError {
    /// A new error of `kind`; `message` is redacted.
    pub fn new(kind: ErrorKind, message: impl AsRef<str>) -> Self {
        Self {
            kind,
            message: redact(message.as_ref()),
            retry_after: None,
            whole_store: false,
        }
    }

    /// Marks it as concerning the whole store, or not (see [`Self::concerns_whole_store`]).
    pub fn of_whole_store(mut self, whole_store: bool) -> Self {
        self.whole_store = whole_store;
        self
    }

    /// Whether the store as a whole cannot take the operation (full, over quota, read-only),
    /// so that every other object would fail alike: a copy stops on it once.
    pub fn concerns_whole_store(&self) -> bool {
        self.whole_store
    }

    /// Shorthand for a [`ErrorKind::Usage`] error.
    pub fn usage(message: impl AsRef<str>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// Attach the delay the service asked for before a retry.
    pub fn with_retry_after(mut self, delay: Option<Duration>) -> Self {
        self.retry_after = delay;
        self
    }

    /// Prefix the message with context, e.g. the operation and object.
    pub fn context(mut self, context: impl AsRef<str>) -> Self {
        self.message = format!("{}: {}", redact(context.as_ref()), self.message);
        self
    }

    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The service's requested back-off, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The delay a `Retry-After` (seconds) or `x-ms-retry-after-ms` header value asks for.
    pub fn parse_retry_after(seconds: Option<&str>, millis: Option<&str>) -> Option<Duration> {
        millis
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
            .or_else(|| {
                seconds
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs)
            })
    }

    /// The classification implied by an HTTP status code, for backends that see one.
    pub fn kind_for_status(status: u16) -> ErrorKind {
        match status {
            400 | 405 | 411 | 413 | 414 | 416 => ErrorKind::Usage,
            401 | 403 => ErrorKind::Auth,
            404 => ErrorKind::NotFound,
            408 => ErrorKind::Network,
            409 | 412 => ErrorKind::Conflict,
            429 | 503 => ErrorKind::Throttled,
            501 => ErrorKind::Unsupported,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::Other,
        }
    }
}

impl From<std::io::Error> for StoreError {
    fn from(err: std::io::Error) -> Self {
        use std::io::ErrorKind as Io;
        let kind = match err.kind() {
            Io::NotFound => ErrorKind::NotFound,
            Io::PermissionDenied => ErrorKind::Auth,
            Io::InvalidInput | Io::InvalidFilename => ErrorKind::Usage,
            _ => ErrorKind::Io,
        };
        let whole_store = matches!(
            err.kind(),
            Io::StorageFull | Io::QuotaExceeded | Io::ReadOnlyFilesystem
        );
        Self::new(kind, err.to_string()).of_whole_store(whole_store)
    }
}

/// The result type of every store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A full, over-quota or read-only file system concerns the whole store; other I/O errors
    /// concern their object.
    #[test]
    fn a_full_or_read_only_disk_concerns_the_whole_store() {
        use std::io::{Error, ErrorKind as Io};
        for kind in [Io::StorageFull, Io::QuotaExceeded, Io::ReadOnlyFilesystem] {
            let err = StoreError::from(Error::from(kind)).context("write /mnt/x");
            assert!(
                err.concerns_whole_store() && err.kind() == ErrorKind::Io,
                "{kind:?}"
            );
        }
        for kind in [Io::NotFound, Io::Other, Io::BrokenPipe] {
            assert!(
                !StoreError::from(Error::from(kind)).concerns_whole_store(),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn every_kind_reads_back_from_its_name_and_json() {
        for kind in ErrorKind::ALL {
            assert_eq!(kind.as_str().parse::<ErrorKind>(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert!("exploded".parse::<ErrorKind>().is_err());
    }

    #[test]
    fn retry_after_prefers_milliseconds() {
        assert_eq!(
            StoreError::parse_retry_after(Some("3"), None),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            StoreError::parse_retry_after(Some("3"), Some("250")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            StoreError::parse_retry_after(Some("Wed, 21 Oct 2026 07:28:00 GMT"), None),
            None
        );
        assert!(ErrorKind::Throttled.is_retryable() && !ErrorKind::Auth.is_retryable());
    }
}
