//! Turns AWS SDK errors into [`StoreError`]s with a class and a message a user can act on.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::error::{ErrorKind, StoreError};

/// Classifies an SDK error; `what` names the operation and object, e.g. "head 'a/b'".
pub(crate) fn map_sdk_error<E, R>(err: SdkError<E, R>, what: &str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HasStatus,
{
    let status = err.raw_response().map(HasStatus::status);
    let retry_after = err
        .raw_response()
        .and_then(|r| StoreError::parse_retry_after(r.header("retry-after"), None));
    let code = err.code().map(str::to_owned);
    let message = err.message().filter(|m| !m.is_empty()).map(str::to_owned);
    let (kind, text) = match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => unsent(source_chain(&err)),
        SdkError::ResponseError(_) => (
            ErrorKind::Network,
            format!(
                "the response was cut off or malformed: {}",
                source_chain(&err)
            ),
        ),
        SdkError::ConstructionFailure(_) => (ErrorKind::Usage, source_chain(&err)),
        _ => service_error(status, code.as_deref(), message.as_deref(), || {
            source_chain(&err)
        }),
    };
    with_hint(kind, &text, what).with_retry_after(retry_after)
}

/// A request that got no answer: no credentials, or the endpoint out of reach (`chain`: the
/// error and its sources).
pub(crate) fn unsent(chain: String) -> (ErrorKind, String) {
    if chain.contains("credential") {
        (
            ErrorKind::Auth,
            format!("no usable AWS credentials ({chain}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"),
        )
    } else {
        (
            ErrorKind::Network,
            format!("cannot reach the S3 endpoint ({chain}); check the S3 endpoint's address (AWS_ENDPOINT_URL, or the endpoint given) and the network"),
        )
    }
}

/// An error S3 answered with: its class from the error `code` (else the `status`), and a
/// description (`cause` describes an answer with neither code nor message).
pub(crate) fn service_error(
    status: Option<u16>,
    code: Option<&str>,
    message: Option<&str>,
    cause: impl FnOnce() -> String,
) -> (ErrorKind, String) {
    let kind = match code {
        Some("NoSuchBucket" | "NoSuchKey" | "NoSuchUpload" | "NotFound") => ErrorKind::NotFound,
        Some(
            "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "AccessDenied"
            | "ExpiredToken"
            | "InvalidToken"
            | "AllAccessDisabled",
        ) => ErrorKind::Auth,
        Some("SlowDown" | "Throttling" | "ThrottlingException" | "RequestLimitExceeded") => {
            ErrorKind::Throttled
        }
        Some("RequestTimeout") => ErrorKind::Network,
        _ => status.map_or(ErrorKind::Other, StoreError::kind_for_status),
    };
    let detail = match (code, message) {
        (Some("NoSuchBucket"), None) => "the bucket does not exist (NoSuchBucket)".to_owned(),
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_owned(),
        (None, Some(m)) => m.to_owned(),
        (None, None) => match status {
            Some(404) => "not found".to_owned(),
            Some(403) => "access denied".to_owned(),
            Some(s) => format!("HTTP {s}: {}", cause()),
            None => cause(),
        },
    };
    (kind, detail)
}

/// The error of `what` (the operation and object, e.g. "head 'a/b'"), with what to check
/// when it is about credentials.
pub(crate) fn with_hint(kind: ErrorKind, text: &str, what: &str) -> StoreError {
    let hint = match kind {
        ErrorKind::Auth if !text.contains("set AWS_") => {
            "; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket policy"
        }
        _ => "",
    };
    StoreError::new(kind, format!("S3 {what}: {text}{hint}"))
}

/// An error and its sources, each once, joined by ": ".
pub(crate) fn source_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// What error classification reads of a raw response.
pub(crate) trait HasStatus {
    /// The status code.
    fn status(&self) -> u16;
    /// A header's value.
    fn header(&self, name: &str) -> Option<&str>;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers().get(name)
    }
}
