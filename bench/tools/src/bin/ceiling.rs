//! The emulators' ceiling for one copy: the same requests a copy needs, sent by a bare loop
//! with no listing pipeline, checksums, journal or progress; a request that fails is retried
//! (the engine's policy), so the loop also runs through the fault proxy. `stream` GETs each
//! source object whole and PUTs it to the destination; `native` asks the destination to copy
//! each object itself (S3 CopyObject, as awcopy's store sends it: without the SDK's
//! orchestrator); `native-sdk` sends the same CopyObject requests through aws-sdk-s3's client.
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
    /// `stream` (GET + PUT), `native` (server-side copy) or `native-sdk` (the same copies
    /// through aws-sdk-s3's client; S3 only).
    #[arg(value_parser = ["stream", "native", "native-sdk"])]
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
        ..OpenOptions::default()
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
    let sdk = match args.op.as_str() {
        "native-sdk" => Some(sdk_copier(&args.source, &args.dest, &options).await),
        _ => None,
    };
    let started = Instant::now();
    futures::stream::iter(objects)
        .map(|object| {
            let (source, dest, retry, stats) = (&source, &dest, &retry, &stats);
            let key = format!("{dest_prefix}{}", &object.key[source_prefix.len()..]);
            let native = args.op == "native";
            let sdk = sdk.as_ref();
            async move {
                let attributes = ObjectAttributes::default();
                if let Some((client, source_bucket, dest_bucket)) = sdk {
                    retry
                        .run(stats, || async {
                            client
                                .copy_object()
                                .bucket(dest_bucket)
                                .key(&key)
                                .copy_source(format!("{source_bucket}/{}", object.key))
                                .send()
                                .await
                                .map(drop)
                                .map_err(|e| StoreError::new(ErrorKind::Other, e.to_string()))
                        })
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
                        .run(stats, || dest.copy_object_as_is(&key, &from))
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

/// aws-sdk-s3's client as awcopy's store configures it, and the source and destination
/// buckets (`native-sdk`: keys of URL-safe characters only, as bench/s3mem seeds).
async fn sdk_copier(
    source: &str,
    dest: &str,
    options: &OpenOptions,
) -> (aws_sdk_s3::Client, String, String) {
    let bucket = |text: &str| match Location::parse(text).expect("a location") {
        Location::S3 { bucket, .. } => bucket,
        other => panic!("native-sdk copies within S3, not to or from {other}"),
    };
    let location = Location::parse(dest).expect("a location");
    let store = awcopy_store::s3::S3Store::open(&location, options)
        .await
        .expect("open");
    (store.client().clone(), bucket(source), bucket(dest))
}
