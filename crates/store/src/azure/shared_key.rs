//! Shared Key authorization for Azure Blob requests, added to the official SDK's pipeline as a
//! per-try policy (the SDK leaves Shared Key out by design; Azurite and many users rely on it).
//!
//! Written by hand: the SDK has no Shared Key signer and no maintained crate provides one for
//! `azure_core` 1.x pipelines. The algorithm follows "Authorize with Shared Key" (Blob service,
//! version 2009-09-19 and later).

use async_trait::async_trait;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{Context, Request};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::sync::Arc;
use url::Url;

use crate::secret::Secret;

/// The headers of a request that the string-to-sign reads, by lowercase name.
pub type SignedHeaders = BTreeMap<String, String>;

/// HMAC-SHA256 of `message` under the base64 account key, base64-encoded.
pub fn hmac_sha256_b64(key_b64: &str, message: &str) -> Result<String, String> {
    let key = B64
        .decode(key_b64)
        .map_err(|_| "the account key is not valid base64".to_owned())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(message.as_bytes());
    Ok(B64.encode(mac.finalize().into_bytes()))
}

/// The Shared Key string-to-sign for a request.
///
/// `headers` holds every header by lowercase name; `content_length` is the body length.
pub fn string_to_sign(
    method: &str,
    url: &Url,
    headers: &SignedHeaders,
    content_length: u64,
    account: &str,
) -> String {
    let header = |name: &str| headers.get(name).map(String::as_str).unwrap_or("");
    let length = if content_length == 0 {
        String::new()
    } else {
        content_length.to_string()
    };
    let mut out = [
        method,
        header("content-encoding"),
        header("content-language"),
        &length,
        header("content-md5"),
        header("content-type"),
        header("date"),
        header("if-modified-since"),
        header("if-match"),
        header("if-none-match"),
        header("if-unmodified-since"),
        header("range"),
    ]
    .join("\n");
    out.push('\n');
    for (name, value) in headers.range("x-ms-".to_owned().."x-ms.".to_owned()) {
        out.push_str(name);
        out.push(':');
        out.push_str(&value.split_whitespace().collect::<Vec<_>>().join(" "));
        out.push('\n');
    }
    out.push_str(&canonicalized_resource(url, account));
    out
}

/// `/account/encoded-path` followed by the sorted, decoded query parameters.
fn canonicalized_resource(url: &Url, account: &str) -> String {
    let mut out = format!("/{account}{}", url.path());
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in url.query_pairs() {
        params
            .entry(name.to_lowercase())
            .or_default()
            .push(value.into_owned());
    }
    for (name, mut values) in params {
        values.sort();
        out.push('\n');
        out.push_str(&name);
        out.push(':');
        out.push_str(&values.join(","));
    }
    out
}

/// A pipeline policy that dates and signs each try of a request with the account key.
#[derive(Clone)]
pub struct SharedKeyPolicy {
    account: String,
    key: Secret,
}

impl std::fmt::Debug for SharedKeyPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedKeyPolicy({})", self.account)
    }
}

impl SharedKeyPolicy {
    /// A policy signing as `account` with its base64 `key`.
    pub fn new(account: impl Into<String>, key: Secret) -> Self {
        Self {
            account: account.into(),
            key,
        }
    }
}

#[async_trait]
impl Policy for SharedKeyPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let now = time::OffsetDateTime::now_utc();
        let date = azure_core::time::to_rfc7231(&now);
        request.insert_header("x-ms-date", date);
        let headers: SignedHeaders = request
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    value.as_str().to_owned(),
                )
            })
            .collect();
        let length = request.body().len().unwrap_or(0);
        let method = request.method().to_string().to_ascii_uppercase();
        let to_sign = string_to_sign(&method, request.url(), &headers, length, &self.account);
        let signature = hmac_sha256_b64(self.key.expose(), &to_sign).map_err(|message| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, message)
        })?;
        request.insert_header(
            "authorization",
            format!("SharedKey {}:{signature}", self.account),
        );
        next[0].send(ctx, request, &next[1..]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from "Authorize with Shared Key" (Blob, version 2009-09-19 and later):
    /// `GET https://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=metadata&timeout=20`
    /// whose canonicalized resource the page spells out.
    #[test]
    fn documented_get_container_metadata_example() {
        let url = Url::parse(
            "https://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=metadata&timeout=20",
        )
        .unwrap();
        let headers = SignedHeaders::from([
            ("x-ms-date".into(), "Fri, 26 Jun 2015 23:39:12 GMT".into()),
            ("x-ms-version".into(), "2015-02-21".into()),
        ]);
        let expected = "GET\n\n\n\n\n\n\n\n\n\n\n\n\
             x-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\n\
             x-ms-version:2015-02-21\n\
             /myaccount/mycontainer\ncomp:metadata\nrestype:container\ntimeout:20";
        assert_eq!(
            string_to_sign("GET", &url, &headers, 0, "myaccount"),
            expected
        );
    }

    /// The documented Put Blob example: content headers and length take their slots, and
    /// x-ms-* headers are sorted with whitespace folded.
    #[test]
    fn put_with_content_headers_and_length() {
        let url =
            Url::parse("http://127.0.0.1:10000/devstoreaccount1/c/a%20b?comp=block&blockid=QUJD")
                .unwrap();
        let headers = SignedHeaders::from([
            ("content-type".into(), "text/plain".into()),
            ("x-ms-version".into(), "2025-01-05".into()),
            ("x-ms-meta-b".into(), "  two   words ".into()),
            ("x-ms-blob-type".into(), "BlockBlob".into()),
            ("x-ms-date".into(), "Sun, 22 Nov 2026 10:00:00 GMT".into()),
            ("user-agent".into(), "ignored".into()),
        ]);
        let expected = "PUT\n\n\n11\n\ntext/plain\n\n\n\n\n\n\n\
             x-ms-blob-type:BlockBlob\n\
             x-ms-date:Sun, 22 Nov 2026 10:00:00 GMT\n\
             x-ms-meta-b:two words\n\
             x-ms-version:2025-01-05\n\
             /devstoreaccount1/devstoreaccount1/c/a%20b\nblockid:QUJD\ncomp:block";
        assert_eq!(
            string_to_sign("PUT", &url, &headers, 11, "devstoreaccount1"),
            expected
        );
    }

    /// Checked against Python: `base64.b64encode(hmac.new(base64.b64decode(KEY),
    /// b"hello", hashlib.sha256).digest())` with Azurite's published development key.
    #[test]
    fn hmac_matches_an_independent_implementation() {
        let key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
        assert_eq!(
            hmac_sha256_b64(key, "hello").unwrap(),
            "RZNkcjdiqwLn8Mmp35VHt1V5CCIG/zvduk6oPMOEU+s="
        );
        assert!(hmac_sha256_b64("not base64!", "x").is_err());
    }
}
