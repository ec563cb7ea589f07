//! The emulators' ceiling for one copy: the same requests a copy needs, sent by a bare loop
//! with no listing pipeline, checksums, journal or progress; a request that fails is retried
//! (the engine's policy), so the loop also runs through the fault proxy. `stream` GETs each
//! source object whole and PUTs it to the destination; `native` asks the destination to copy
//! each object itself (S3 CopyObject); `native-lean` sends the same CopyObject requests signed
//! by `aws-sigv4` over a bare hyper client, without the SDK's orchestrator (interceptors,
//! endpoint and auth-scheme resolution per request): what a leaner request path would cost.
//! Prints one JSON line: objects, bytes, seconds, retries.

use awcopy_engine::retry::{RetryPolicy, RetryStats};
use awcopy_store::{
    CopySourceKind, ErrorKind, ListRequest, Location, ObjectAttributes, OpenOptions, StoreError,
};
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use std::time::{Duration, Instant};

/// Copy every object under SOURCE to DEST as fast as the servers allow.
#[derive(Debug, Parser)]
struct Args {
    /// `stream` (GET + PUT), `native` (server-side copy) or `native-lean` (the same copies
    /// without the SDK; plain-HTTP endpoints, credentials from the environment).
    #[arg(value_parser = ["stream", "native", "native-lean"])]
    op: String,
    /// Where the objects are.
    source: String,
    /// Where they go.
    dest: String,
    /// Requests in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// S3 endpoint.
    #[arg(long)]
    endpoint_url: Option<String>,
}

/// mimalloc, which serves awcopy's small allocations: the loop's requests cost what awcopy's do.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let options = OpenOptions {
        s3_endpoint: args.endpoint_url.clone(),
        encryption: None,
    };
    let open = |text: &str| {
        let location = Location::parse(text).expect("a location");
        let options = options.clone();
        async move {
            let store = awcopy_store::open(&location, &options).await.expect("open");
            (store, location.prefix().to_owned())
        }
    };
    let (source, source_prefix) = open(&args.source).await;
    let (dest, dest_prefix) = open(&args.dest).await;
    // Listing and creating the destination are retried too: through the fault proxy they
    // meet the same 503s and resets as the copies.
    let (retry, stats) = (RetryPolicy::default(), RetryStats::default());
    let objects = retry
        .run(&stats, || {
            let request = ListRequest {
                prefix: source_prefix.clone(),
                ..ListRequest::default()
            };
            source
                .list(request)
                .try_fold(Vec::new(), |mut objects, page| async move {
                    objects.extend(page.objects);
                    Ok(objects)
                })
        })
        .await
        .expect("list");
    retry
        .run(&stats, || dest.create_root())
        .await
        .expect("create the destination");
    // At most ~1 GiB of whole objects in memory at once.
    let biggest = objects.iter().map(|o| o.size).max().unwrap_or(1).max(1);
    let concurrency = args
        .concurrency
        .min(((1u64 << 30) / biggest).max(1) as usize);
    let bytes: u64 = objects.iter().map(|o| o.size).sum();
    let count = objects.len();
    let lean = (args.op == "native-lean").then(|| {
        lean::Copier::new(
            args.endpoint_url
                .as_deref()
                .expect("native-lean needs --endpoint-url"),
            &args.source,
            &args.dest,
        )
    });
    let started = Instant::now();
    futures::stream::iter(objects)
        .map(|object| {
            let (source, dest, retry, stats) = (&source, &dest, &retry, &stats);
            let key = format!("{dest_prefix}{}", &object.key[source_prefix.len()..]);
            let native = args.op == "native";
            let lean = lean.as_ref();
            async move {
                let attributes = ObjectAttributes::default();
                if let Some(lean) = lean {
                    retry
                        .run(stats, || lean.copy(&object.key, &key))
                        .await
                        .expect("copy");
                } else if native {
                    let from = source
                        .copy_source(
                            &object.key,
                            CopySourceKind::Native,
                            Duration::from_secs(3600),
                        )
                        .await
                        .expect("copy source");
                    retry
                        .run(stats, || dest.copy_object(&key, &from, &attributes))
                        .await
                        .expect("copy");
                } else {
                    let body = retry
                        .run(stats, || async {
                            let got = source.get(&object.key, None).await?;
                            let body: Vec<bytes::Bytes> = got.body.try_collect().await?;
                            let body = bytes::Bytes::from(body.concat());
                            if body.len() as u64 != object.size {
                                return Err(StoreError::new(ErrorKind::Network, "body cut short"));
                            }
                            Ok(body)
                        })
                        .await
                        .expect("get");
                    retry
                        .run(stats, || dest.put(&key, body.clone(), &attributes, None))
                        .await
                        .expect("put");
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "objects": count,
            "bytes": bytes,
            "seconds": seconds,
            "concurrency": concurrency,
            "retries": stats.retries.load(std::sync::atomic::Ordering::Relaxed),
        })
    );
}

/// CopyObject without the SDK: signed with `aws-sigv4`, sent over hyper's pooled client.
mod lean {
    use awcopy_store::{ErrorKind, Location, StoreError};
    use aws_sigv4::http_request::{
        sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
        SigningSettings, UriPathNormalizationMode,
    };
    use aws_sigv4::sign::v4;
    use aws_smithy_runtime_api::client::identity::Identity;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::{connect::HttpConnector, Client};
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    use std::time::SystemTime;

    /// What S3 leaves unencoded in a key: unreserved characters and `/`.
    const KEY: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'/');

    /// Copies objects from one bucket to another on one plain-HTTP endpoint.
    pub struct Copier {
        client: Client<HttpConnector, Empty<Bytes>>,
        endpoint: String,
        source_bucket: String,
        dest_bucket: String,
        identity: Identity,
        region: String,
    }

    fn bucket(location: &str) -> String {
        match Location::parse(location).expect("a location") {
            Location::S3 { bucket, .. } => bucket,
            other => panic!("native-lean copies within S3, not to or from {other}"),
        }
    }

    impl Copier {
        /// A copier from `source`'s bucket to `dest`'s, with keys from the environment.
        pub fn new(endpoint: &str, source: &str, dest: &str) -> Self {
            let env = |name: &str| std::env::var(name).unwrap_or_default();
            let credentials = aws_credential_types::Credentials::new(
                env("AWS_ACCESS_KEY_ID"),
                env("AWS_SECRET_ACCESS_KEY"),
                std::env::var("AWS_SESSION_TOKEN").ok(),
                None,
                "environment",
            );
            let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
            Self {
                client: Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build(HttpConnector::new()),
                endpoint: endpoint.trim_end_matches('/').to_owned(),
                source_bucket: bucket(source),
                dest_bucket: bucket(dest),
                identity: credentials.into(),
                region,
            }
        }

        /// Copies `source_key` to `dest_key`; a non-200 answer (or a 200 carrying an error)
        /// is classified the way the engine retries it.
        pub async fn copy(&self, source_key: &str, dest_key: &str) -> Result<(), StoreError> {
            let uri = format!(
                "{}/{}/{}",
                self.endpoint,
                self.dest_bucket,
                utf8_percent_encode(dest_key, KEY)
            );
            let copy_source = format!(
                "{}/{}",
                self.source_bucket,
                utf8_percent_encode(source_key, KEY)
            );
            let mut request = http::Request::put(&uri)
                .header("x-amz-copy-source", &copy_source)
                .header("x-amz-metadata-directive", "COPY")
                .body(Empty::<Bytes>::new())
                .expect("a request");
            let mut settings = SigningSettings::default();
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
            let params = v4::SigningParams::builder()
                .identity(&self.identity)
                .region(&self.region)
                .name("s3")
                .time(SystemTime::now())
                .settings(settings)
                .build()
                .expect("signing parameters")
                .into();
            let headers = request
                .headers()
                .iter()
                .map(|(name, value)| (name.as_str(), value.to_str().expect("ASCII")));
            let signable = SignableRequest::new("PUT", &uri, headers, SignableBody::Bytes(&[]))
                .expect("a signable request");
            let (instructions, _) = sign(signable, &params).expect("signed").into_parts();
            instructions.apply_to_request_http1x(&mut request);
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| StoreError::new(ErrorKind::Network, e.to_string()))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| StoreError::new(ErrorKind::Network, e.to_string()))?
                .to_bytes();
            let kind = match status.as_u16() {
                200 if !body.windows(7).any(|w| w == b"<Error>") => return Ok(()),
                503 | 429 => ErrorKind::Throttled,
                200 | 500.. => ErrorKind::Server,
                _ => ErrorKind::Other,
            };
            Err(StoreError::new(
                kind,
                format!("copy to '{dest_key}': HTTP {status}"),
            ))
        }
    }
}
