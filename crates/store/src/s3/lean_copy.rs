//! CopyObject without the SDK's orchestrator: the request a server-side copy of an object
//! sends when nothing about it changes (COPY directives, no encryption headers) — at scale, one
//! per object and nearly all of this machine's work.
//!
//! Hand-written because no setting of aws-sdk-s3 removes its per-request machinery
//! (interceptors, endpoint and auth-scheme resolution, config-bag merges, the user agent):
//! ~190 us of CPU per copy against ~63 us for the same request signed and sent by the
//! pieces the SDK is made of (`bench/sdk-cost.sh`). It uses those pieces: the endpoint comes
//! from the SDK's own rules, resolved once for the bucket; `aws-sigv4` signs; the SDK's
//! default connector (TLS, connect and read timeouts) sends; `aws-smithy-xml` reads the
//! answer. Anything the rules send elsewhere than plain SigV4 (S3 Express, multi-region
//! access points) keeps the SDK.

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sdk_s3::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::Document;
use aws_smithy_xml::decode::{try_data, Document as Xml};
use http_body_util::BodyExt;
use percent_encoding::utf8_percent_encode;
use std::time::{Duration, SystemTime};

use super::errors::{service_error, source_chain, unsent, with_hint};
use super::headers::KEY_ESCAPED;
use crate::error::{ErrorKind, Result, StoreError};
use crate::object::PutResult;

/// Temporary credentials are renewed this long before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// Sends CopyObject into one bucket.
#[derive(Debug)]
pub(super) struct LeanCopy {
    connector: SharedHttpConnector,
    /// The bucket's address, without a trailing `/`: `https://b.s3.eu-west-1.amazonaws.com`,
    /// or `http://127.0.0.1:9000/b` for a path-style endpoint.
    bucket_url: String,
    signing_region: String,
    signing_name: String,
    credentials: CachedCredentials,
}

/// Where and how the SDK would send a request for the bucket.
#[derive(Debug, Clone)]
pub(super) struct Addressing<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// The region the client is configured for.
    pub region: &'a str,
    /// A custom endpoint, if any.
    pub endpoint: Option<&'a str>,
    /// Whether the bucket goes in the path rather than the host name.
    pub force_path_style: bool,
    /// The FIPS and dual-stack settings of the shared configuration.
    pub use_fips: bool,
    /// See `use_fips`.
    pub use_dual_stack: bool,
}

impl LeanCopy {
    /// The lean path for a bucket, if the SDK's endpoint rules send its requests to one
    /// address signed by plain SigV4; `None` (logged with why) leaves every copy to the SDK.
    pub(super) async fn resolve(
        addressing: Addressing<'_>,
        credentials: Option<SharedCredentialsProvider>,
        timeouts: (Duration, Duration),
    ) -> Option<Self> {
        let bucket = addressing.bucket;
        match Self::try_resolve(addressing, credentials, timeouts).await {
            Ok(lean) => Some(lean),
            Err(why) => {
                tracing::debug!(bucket, why, "CopyObject goes through the SDK");
                None
            }
        }
    }

    async fn try_resolve(
        addressing: Addressing<'_>,
        credentials: Option<SharedCredentialsProvider>,
        timeouts: (Duration, Duration),
    ) -> std::result::Result<Self, String> {
        let params = Params::builder()
            .bucket(addressing.bucket)
            .region(addressing.region)
            .set_endpoint(addressing.endpoint.map(str::to_owned))
            .force_path_style(addressing.force_path_style)
            .use_fips(addressing.use_fips)
            .use_dual_stack(addressing.use_dual_stack)
            .build()
            .map_err(|e| format!("endpoint parameters: {e}"))?;
        let endpoint = DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .map_err(|e| format!("endpoint: {e}"))?;
        if endpoint.headers().next().is_some() {
            return Err("the endpoint asks for headers of its own".into());
        }
        let (signing_name, signing_region) = sigv4_scheme(endpoint.properties().get("authSchemes"))
            .ok_or_else(|| format!("not plain SigV4: {:?}", endpoint.properties()))?;
        let settings = HttpConnectorSettings::builder()
            .connect_timeout(timeouts.0)
            .read_timeout(timeouts.1)
            .build();
        let sleep = SharedAsyncSleep::new(TokioSleep::new());
        let connector = aws_smithy_http_client::default_connector(&settings, Some(sleep))
            .ok_or("no default HTTP connector")?;
        Ok(Self {
            connector,
            bucket_url: endpoint.url().trim_end_matches('/').to_owned(),
            signing_region: signing_region.unwrap_or(addressing.region).to_owned(),
            signing_name: signing_name.to_owned(),
            credentials: CachedCredentials {
                provider: credentials.ok_or("no credentials provider")?,
                current: tokio::sync::Mutex::new(None),
            },
        })
    }

    /// Copies `copy_source` (the `x-amz-copy-source` value, `bucket/encoded-key`) to `key`,
    /// keeping the source's headers, metadata and tags.
    pub(super) async fn copy(&self, key: &str, copy_source: &str) -> Result<PutResult> {
        // Named only when something fails: formatting it for every copy is work on the hot path.
        let what = || format!("copy to '{key}'");
        let uri = format!(
            "{}/{}",
            self.bucket_url,
            utf8_percent_encode(key, KEY_ESCAPED)
        );
        let mut request = http::Request::put(&uri)
            .header("x-amz-copy-source", copy_source)
            .header("x-amz-metadata-directive", "COPY")
            .header("x-amz-tagging-directive", "COPY")
            .body(SdkBody::empty())
            .map_err(|e| StoreError::new(ErrorKind::Usage, format!("S3 {}: {e}", what())))?;
        self.sign(&mut request, &uri)
            .await
            .map_err(|(kind, text)| with_hint(kind, &text, &what()))?;
        let request = HttpRequest::try_from(request)
            .map_err(|e| StoreError::new(ErrorKind::Usage, format!("S3 {}: {e}", what())))?;
        let response = self.connector.call(request).await.map_err(|e| {
            let (kind, text) = unsent(source_chain(&e));
            with_hint(kind, &text, &what())
        })?;
        let status = response.status().as_u16();
        let retry_after =
            StoreError::parse_retry_after(response.headers().get("retry-after"), None);
        let body = response.into_body().collect().await.map_err(|e| {
            StoreError::new(
                ErrorKind::Network,
                format!(
                    "S3 {}: the response was cut off: {}",
                    what(),
                    source_chain(&*e)
                ),
            )
        })?;
        let body = body.to_bytes();
        match read_answer(status, &body) {
            Answer::Copied { etag } => Ok(PutResult { etag }),
            Answer::Error { code, message } => {
                // A 200 carrying an error is a failure S3 met after it began answering.
                let status = if status == 200 { 500 } else { status };
                let (kind, text) =
                    service_error(Some(status), code.as_deref(), message.as_deref(), || {
                        String::from_utf8_lossy(&body).chars().take(200).collect()
                    });
                Err(with_hint(kind, &text, &what()).with_retry_after(retry_after))
            }
        }
    }

    /// Adds the SigV4 headers (and the session token, if any) to `request`.
    async fn sign(
        &self,
        request: &mut http::Request<SdkBody>,
        uri: &str,
    ) -> std::result::Result<(), (ErrorKind, String)> {
        let identity = self.credentials.get().await?.into();
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.signing_region)
            .name(&self.signing_name)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(cannot_sign)?
            .into();
        let headers = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
        let signable = SignableRequest::new("PUT", uri, headers, SignableBody::Bytes(&[]))
            .map_err(cannot_sign)?;
        let (instructions, _) = sign(signable, &params).map_err(cannot_sign)?.into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}

/// A request the signer refused: a usage error (nothing was sent).
fn cannot_sign(error: impl std::fmt::Display) -> (ErrorKind, String) {
    (ErrorKind::Usage, format!("cannot sign: {error}"))
}

/// The signing name and region of the endpoint's first auth scheme, if it is plain SigV4;
/// an endpoint that names none (a custom one) is signed as the SDK does: SigV4 for `s3` in
/// the client's region.
fn sigv4_scheme(schemes: Option<&Document>) -> Option<(&str, Option<&str>)> {
    let Some(schemes) = schemes else {
        return Some(("s3", None));
    };
    let Document::Array(schemes) = schemes else {
        return None;
    };
    let Document::Object(scheme) = schemes.first()? else {
        return None;
    };
    let text = |name: &str| match scheme.get(name) {
        Some(Document::String(s)) => Some(s.as_str()),
        _ => None,
    };
    (text("name")? == "sigv4").then_some(())?;
    Some((text("signingName").unwrap_or("s3"), text("signingRegion")))
}

/// What a CopyObject answer says.
#[derive(Debug, PartialEq)]
enum Answer {
    /// The copy is made.
    Copied { etag: Option<String> },
    /// An `<Error>` document (S3 may send one with a 200), or an answer without one.
    Error {
        code: Option<String>,
        message: Option<String>,
    },
}

/// Reads a CopyObject answer: a `CopyObjectResult` with a 200, anything else an error.
fn read_answer(status: u16, body: &[u8]) -> Answer {
    let mut code = None;
    let mut message = None;
    let mut etag = None;
    let mut root_name = None;
    if let Ok(mut doc) = Xml::try_from(body) {
        if let Ok(mut root) = doc.root_element() {
            root_name = Some(root.start_el().local().to_owned());
            while let Some(mut tag) = root.next_tag() {
                let name = tag.start_el().local().to_owned();
                let Ok(data) = try_data(&mut tag) else {
                    continue;
                };
                match name.as_str() {
                    "ETag" => etag = Some(data.trim_matches('"').to_owned()),
                    "Code" => code = Some(data.into_owned()),
                    "Message" => message = Some(data.into_owned()).filter(|m| !m.is_empty()),
                    _ => {}
                }
            }
        }
    }
    match (status, root_name.as_deref()) {
        (200, Some("CopyObjectResult")) => Answer::Copied { etag },
        _ => Answer::Error { code, message },
    }
}

/// The credentials provider's answer, kept until shortly before it expires.
#[derive(Debug)]
struct CachedCredentials {
    provider: SharedCredentialsProvider,
    current: tokio::sync::Mutex<Option<Credentials>>,
}

impl CachedCredentials {
    async fn get(&self) -> std::result::Result<Credentials, (ErrorKind, String)> {
        let mut current = self.current.lock().await;
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|expiry| expiry > SystemTime::now() + RENEW_BEFORE)
        };
        if let Some(credentials) = current.as_ref().filter(|c| fresh(c)) {
            return Ok(credentials.clone());
        }
        let credentials = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| unsent(format!("credentials: {}", source_chain(&e))))?;
        *current = Some(credentials.clone());
        Ok(credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_copy_result_and_errors() {
        let copied = br#"<?xml version="1.0" encoding="UTF-8"?>
<CopyObjectResult><LastModified>2026-12-02T10:00:00.000Z</LastModified><ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag></CopyObjectResult>"#;
        assert_eq!(
            read_answer(200, copied),
            Answer::Copied {
                etag: Some("9b2cf535f27731c974343645a3985328".into())
            }
        );
        let error = br#"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>1</RequestId></Error>"#;
        let expected = Answer::Error {
            code: Some("SlowDown".into()),
            message: Some("Please reduce your request rate.".into()),
        };
        assert_eq!(read_answer(503, error), expected);
        assert_eq!(
            read_answer(200, error),
            expected,
            "an error sent with a 200"
        );
        assert_eq!(
            read_answer(502, b"<html>bad gateway</html>"),
            Answer::Error {
                code: None,
                message: None
            }
        );
        assert_eq!(
            read_answer(200, b""),
            Answer::Error {
                code: None,
                message: None
            },
            "a 200 without a result is no copy"
        );
    }

    #[test]
    fn only_plain_sigv4_goes_the_lean_way() {
        let scheme = |name: &str| {
            Document::Array(vec![Document::Object(
                [
                    ("name".to_owned(), Document::String(name.into())),
                    ("signingName".to_owned(), Document::String("s3".into())),
                    (
                        "signingRegion".to_owned(),
                        Document::String("eu-west-1".into()),
                    ),
                ]
                .into(),
            )])
        };
        assert_eq!(
            sigv4_scheme(Some(&scheme("sigv4"))),
            Some(("s3", Some("eu-west-1")))
        );
        assert_eq!(sigv4_scheme(Some(&scheme("sigv4a"))), None);
        assert_eq!(sigv4_scheme(Some(&scheme("sigv4-s3express"))), None);
        assert_eq!(sigv4_scheme(None), Some(("s3", None)), "a custom endpoint");
    }
}
