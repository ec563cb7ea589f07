//! Azure's answers as [`StoreError`]s: the class from the error code (else the status), the
//! delay a throttling answer asks for, and what to check.

use crate::error::{ErrorKind, StoreError};

/// Classifies an SDK error; `what` names the operation and object.
pub(crate) fn map_error(err: azure_core::Error, what: &str) -> StoreError {
    use azure_core::error::ErrorKind as Azure;
    let status = err.http_status().map(u16::from);
    let (code, retry_after) = match err.kind() {
        Azure::HttpResponse {
            error_code,
            raw_response,
            ..
        } => {
            let header = |name: &'static str| {
                raw_response.as_ref().and_then(|r| {
                    r.headers()
                        .get_optional_str(&azure_core::http::headers::HeaderName::from_static(name))
                })
            };
            let retry_after =
                StoreError::parse_retry_after(header("retry-after"), header("x-ms-retry-after-ms"));
            (error_code.clone(), retry_after)
        }
        _ => (None, None),
    };
    let kind = match (code.as_deref(), status, err.kind()) {
        (Some("ContainerNotFound" | "BlobNotFound" | "ResourceNotFound"), _, _) => {
            ErrorKind::NotFound
        }
        (
            Some(
                "AuthenticationFailed"
                | "AuthorizationFailure"
                | "AuthorizationPermissionMismatch"
                | "InvalidAuthenticationInfo"
                | "NoAuthenticationInformation",
            ),
            _,
            _,
        ) => ErrorKind::Auth,
        (Some("ServerBusy" | "OperationTimedOut"), _, _) => ErrorKind::Throttled,
        (Some("CannotVerifyCopySource"), _, _) => ErrorKind::CopySourceUnreachable,
        (_, Some(status), _) => StoreError::kind_for_status(status),
        (_, None, Azure::Io) => ErrorKind::Network,
        (_, None, Azure::Credential) => ErrorKind::Auth,
        (_, None, Azure::Connection) => ErrorKind::Network,
        _ => ErrorKind::Other,
    };
    let detail = match (&code, status) {
        (Some(code), _) => format!("{code} (HTTP {})", status.unwrap_or_default()),
        (None, Some(404)) => "not found".to_owned(),
        (None, Some(status)) => format!("HTTP {status}"),
        (None, None) => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    };
    let hint = match kind {
        ErrorKind::Auth => "; check the account key, SAS token or AZURE_STORAGE_CONNECTION_STRING",
        ErrorKind::Network => "; check the endpoint URL and that the service is running",
        _ => "",
    };
    StoreError::new(kind, format!("Azure {what}: {detail}{hint}")).with_retry_after(retry_after)
}
