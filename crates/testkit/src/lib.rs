//! Test helpers shared by the workspace's integration tests: where the emulators are (started
//! by `scripts/test.sh`), fresh buckets and containers, the shared naughty-key list, a check
//! that no secret leaked into some output, a fault-injecting proxy, a recording listener, a
//! job service with its test users ([`service`]) and a real nats-server ([`nats`]).

#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod browser;
pub mod catalogue;
pub mod change_events;
pub mod fault_proxy;
pub mod nats;
pub mod process;
pub mod recorder;
pub mod service;

use awcopy_store::{ErrorKind, Location, OpenOptions, Store};
use std::path::PathBuf;

/// A loopback port nothing listens on now (bound, then let go).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Reads an environment variable `scripts/test.sh` sets, or fails the test saying so.
fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with scripts/test.sh, which starts the emulators")
    })
}

/// The S3 emulator's endpoint, e.g. `http://127.0.0.1:PORT`.
pub fn s3_endpoint() -> String {
    required_env("AWCOPY_TEST_S3_ENDPOINT")
}

/// The second S3 implementation's endpoint (s3rver), e.g. `http://127.0.0.1:PORT`.
pub fn s3rver_endpoint() -> String {
    required_env("AWCOPY_TEST_S3RVER_ENDPOINT")
}

/// The Azure emulator's account endpoint, e.g. `http://127.0.0.1:PORT/devstoreaccount1`.
pub fn azure_endpoint() -> String {
    required_env("AWCOPY_TEST_AZURE_ENDPOINT")
}

/// Open options that point S3 at the emulator.
pub fn open_options() -> OpenOptions {
    OpenOptions {
        s3_endpoint: Some(s3_endpoint()),
        ..OpenOptions::default()
    }
}

/// A name no other test uses: lowercase letters, digits and '-', valid for buckets and containers.
pub fn unique_name(hint: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{hint}-{}", &id[..12])
}

/// Creates a fresh, empty S3 bucket on the emulator and returns its location.
pub async fn new_s3_bucket(hint: &str) -> Location {
    let location =
        Location::parse(&format!("s3://{}/", unique_name(hint))).expect("valid location");
    open(&location)
        .await
        .create_root()
        .await
        .expect("create bucket on the S3 emulator");
    location
}

/// Creates a fresh, empty bucket on s3rver, the S3 implementation no one here wrote, and
/// returns its location (the endpoint travels in the location).
pub async fn new_s3rver_bucket(hint: &str) -> Location {
    let location = Location::S3 {
        bucket: unique_name(hint),
        prefix: String::new(),
        endpoint: Some(s3rver_endpoint().parse().expect("s3rver endpoint is a URL")),
        region: None,
    };
    open(&location)
        .await
        .create_root()
        .await
        .expect("create bucket on s3rver");
    location
}

/// Creates a fresh, empty Azure container on the emulator and returns its location.
pub async fn new_azure_container(hint: &str) -> Location {
    let location = Location::parse(&format!("{}/{}/", azure_endpoint(), unique_name(hint)))
        .expect("valid location");
    open(&location)
        .await
        .create_root()
        .await
        .expect("create container on the Azure emulator");
    location
}

/// Opens a location with the emulator options (an S3 location naming its own endpoint keeps it).
pub async fn open(location: &Location) -> std::sync::Arc<dyn Store> {
    let options = match location {
        Location::S3 {
            endpoint: Some(_), ..
        } => OpenOptions::default(),
        _ => open_options(),
    };
    awcopy_store::open(location, &options)
        .await
        .expect("open store")
}

/// Puts `data` at `key` in `store`, again after an error worth retrying (an emulator under
/// load resets a connection now and then): a test's set-up, not what it tests.
async fn put_one(
    store: &std::sync::Arc<dyn Store>,
    key: &str,
    data: &[u8],
) -> Result<awcopy_store::PutResult, awcopy_store::StoreError> {
    let attributes = awcopy_store::ObjectAttributes::default();
    let mut attempt = 1;
    loop {
        match store
            .put(key, data.to_vec().into(), &attributes, None)
            .await
        {
            Err(e) if e.kind().is_retryable() && attempt < 5 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
            }
            done => return done,
        }
    }
}

/// Puts a one-byte object at each of `keys`, 32 at a time: a bucket of many keys, quickly.
pub async fn put_tiny(store: &std::sync::Arc<dyn Store>, keys: impl IntoIterator<Item = String>) {
    use futures::{StreamExt, TryStreamExt};
    futures::stream::iter(keys)
        .map(|key| async move { put_one(store, &key, b"x").await })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await
        .expect("put the keys");
}

/// Every key under `prefix` in `store` holds exactly the expected bytes, and nothing else is
/// there.
pub async fn assert_holds(
    store: &std::sync::Arc<dyn Store>,
    prefix: &str,
    expected: &std::collections::BTreeMap<String, Vec<u8>>,
) {
    use futures::{StreamExt, TryStreamExt};
    let listed: Vec<_> = store
        .list(awcopy_store::ListRequest {
            prefix: prefix.into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    let keys: std::collections::HashSet<String> = listed
        .into_iter()
        .flat_map(|p| p.objects)
        .map(|o| o.key[prefix.len()..].to_owned())
        .collect();
    assert_eq!(
        keys,
        expected
            .keys()
            .cloned()
            .collect::<std::collections::HashSet<_>>(),
        "the keys at the destination"
    );
    futures::stream::iter(expected)
        .map(|(key, data)| async move {
            let got = store.get(&format!("{prefix}{key}"), None).await.unwrap();
            let bytes = got.body.try_collect::<Vec<_>>().await.unwrap().concat();
            assert_eq!(crc64nvme(&bytes), crc64nvme(data), "the bytes of {key}");
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
}

/// A location as a user would type it, endpoint included (an Azure location's `Display`
/// leaves the emulator's endpoint out).
pub fn location_text(location: &Location) -> String {
    match location {
        Location::Azure {
            container, prefix, ..
        } => format!("{}/{container}/{prefix}", azure_endpoint()),
        Location::Local { root, prefix } => format!("{}/{prefix}", root.display()),
        other => other.to_string(),
    }
}

/// The bucket's or container's name of a cloud location.
pub fn bucket_name(location: &Location) -> String {
    match location {
        Location::S3 { bucket, .. } => bucket.clone(),
        Location::Azure { container, .. } => container.clone(),
        other => panic!("not a bucket or a container: {other:?}"),
    }
}

/// Puts each of `files` (key, bytes) into `store`, 16 at a time.
pub async fn put_all(
    store: &std::sync::Arc<dyn Store>,
    files: &std::collections::BTreeMap<String, Vec<u8>>,
) {
    use futures::{StreamExt, TryStreamExt};
    futures::stream::iter(files)
        .map(|(key, data)| put_one(store, key, data))
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .expect("put a test object");
}

/// Puts into `store` those of `files` that both `store` and `other` hold as named (no name
/// mapping on either side) and `store` accepts (a local tree refuses a file where a directory
/// is, say); returns those it holds.
pub async fn put_what_fits(
    store: &std::sync::Arc<dyn Store>,
    other: &std::sync::Arc<dyn Store>,
    files: std::collections::BTreeMap<String, Vec<u8>>,
) -> std::collections::BTreeMap<String, Vec<u8>> {
    use futures::StreamExt;
    let held: Vec<Option<(String, Vec<u8>)>> = futures::stream::iter(files)
        .filter(|(key, _)| {
            let fits = store.mapped_name(key).is_none() && other.mapped_name(key).is_none();
            async move { fits }
        })
        .map(|(key, data)| async move {
            match store
                .put(&key, data.clone().into(), &Default::default(), None)
                .await
            {
                Ok(_) => Some((key, data)),
                Err(e) if matches!(e.kind(), ErrorKind::Usage | ErrorKind::Conflict) => None,
                Err(e) => panic!("put {key:?}: {e}"),
            }
        })
        .buffered(16)
        .collect()
        .await;
    held.into_iter().flatten().collect()
}

/// Each object in `store` with its version as listed (entity tag and time of last change):
/// an object written again shows another.
pub async fn versions(
    store: &std::sync::Arc<dyn Store>,
) -> std::collections::BTreeMap<String, String> {
    use futures::TryStreamExt;
    let pages: Vec<_> = store
        .list(awcopy_store::ListRequest::default())
        .try_collect()
        .await
        .expect("list the store");
    pages
        .into_iter()
        .flat_map(|p| p.objects)
        .map(|o| (o.key, format!("{:?} {:?}", o.etag, o.last_modified)))
        .collect()
}

/// `count` keys, plain ones and ones whose orders differ between UTF-8 and UTF-16 (U+FF21
/// sorts after an emoji in UTF-16, before it in UTF-8), then the naughty list, each under a
/// prefix of its kind.
pub fn order_sensitive_keys(count: usize) -> Vec<String> {
    let mut keys: Vec<String> = (0..count)
        .map(|i| match i % 3 {
            0 => format!("plain/{i:04}"),
            1 => format!("wide/\u{ff21}{i:04}"),
            _ => format!("wide/\u{1f600}{i:04}"),
        })
        .collect();
    keys.extend(naughty_keys().into_iter().map(|k| format!("naughty/{k}")));
    keys
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// The keys in `../shared/data/naughty-keys.json`, which every listing and copy must
/// round-trip, and the [`blank_keys`].
pub fn naughty_keys() -> Vec<String> {
    let mut keys = shared_naughty_keys();
    keys.extend(blank_keys());
    keys
}

/// Keys made only of characters of the Unicode `White_Space` property (the SDK's `trim`
/// removes them all): one of each, and a few runs. The C0 and C1 controls among them (TAB to
/// CR, NEL) are left out: S3 sends keys in XML 1.0, which cannot carry most of them.
pub fn blank_keys() -> Vec<String> {
    let singles = [
        '\u{20}', '\u{a0}', '\u{1680}', '\u{2000}', '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}',
        '\u{2005}', '\u{2006}', '\u{2007}', '\u{2008}', '\u{2009}', '\u{200a}', '\u{2028}',
        '\u{2029}', '\u{202f}', '\u{205f}', '\u{3000}',
    ];
    let mut keys: Vec<String> = singles.iter().map(char::to_string).collect();
    keys.extend(["  ".into(), " \u{3000} ".into(), "\u{a0}\u{2003}".into()]);
    keys
}

fn shared_naughty_keys() -> Vec<String> {
    let path = workspace_root().join("../shared/data/naughty-keys.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "read {}: {e} (shared/ must sit beside the repo)",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("naughty-keys.json is a JSON array of strings")
}

/// The secret values the tests run with: none may appear in any output.
pub fn secrets_in_use() -> Vec<String> {
    let mut secrets = vec![awcopy_store::azure::credentials::DEV_KEY.to_owned()];
    if let Ok(key) = std::env::var("AWS_SECRET_ACCESS_KEY") {
        secrets.push(key);
    }
    secrets
}

/// Fails if `text` contains a secret in use, or a SAS / presigned signature.
pub fn assert_no_secrets(text: &str) {
    for secret in secrets_in_use() {
        assert!(
            !text.contains(&secret),
            "a secret leaked into output:\n{text}"
        );
    }
    for marker in ["sig=", "X-Amz-Signature=", "AccountKey="] {
        for (at, _) in text.match_indices(marker) {
            let value = &text[at + marker.len()..];
            assert!(
                value.starts_with("REDACTED"),
                "an unredacted {marker} leaked into output:\n{text}"
            );
        }
    }
}

/// `len` deterministic pseudo-random bytes for `seed` (xorshift), so tests can regenerate and
/// compare data without storing it.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// CRC-64/NVME of `data`, computed independently of the engine, to check what stores report.
pub fn crc64nvme(data: &[u8]) -> u64 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, data)
}

/// The keys of `keys` a local directory cannot hold, in order: names with empty, `.`, `..` or
/// over-255-byte segments, and keys that need an earlier key's file to be a directory (or the
/// reverse). Every other key round-trips.
pub fn refused_by_local_disk(keys: &[String]) -> Vec<String> {
    let mut files = std::collections::HashSet::new();
    let mut dirs = std::collections::HashSet::new();
    let mut refused = Vec::new();
    for key in keys {
        let bad_segment = key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == ".." || s.len() > 255);
        let parents: Vec<String> = key
            .match_indices('/')
            .map(|(at, _)| key[..at].to_owned())
            .collect();
        if bad_segment || dirs.contains(key) || parents.iter().any(|p| files.contains(p)) {
            refused.push(key.clone());
        } else {
            dirs.extend(parents);
            files.insert(key.clone());
        }
    }
    refused
}

/// The keys of `keys` Azure Blob would store under another name (it reads `\` as `/`, drops
/// a trailing `.`, and keeps no name made only of white space).
pub fn refused_by_azure(keys: &[String]) -> Vec<String> {
    keys.iter()
        .filter(|k| k.contains('\\') || k.ends_with('.') || k.trim().is_empty())
        .cloned()
        .collect()
}

/// A store of each kind, fresh and empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A new bucket on the S3 emulator.
    S3,
    /// A new container on the Azure emulator.
    Azure,
    /// A new temporary directory.
    Local,
    /// A new bucket on s3rver, a second S3 implementation.
    S3rver,
}

/// A fresh store of `kind`; the directory guard (for `Local`) must live as long as the store.
pub async fn fresh(kind: Kind, hint: &str) -> (Location, Option<tempfile::TempDir>) {
    match kind {
        Kind::S3 => (new_s3_bucket(hint).await, None),
        Kind::Azure => (new_azure_container(hint).await, None),
        Kind::S3rver => (new_s3rver_bucket(hint).await, None),
        Kind::Local => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let location = Location::Local {
                root: dir.path().to_path_buf(),
                prefix: String::new(),
            };
            (location, Some(dir))
        }
    }
}

/// An account SAS for the emulator's account, valid ten minutes, with `permissions` (e.g. `rl`).
pub fn account_sas(account: &str, permissions: &str) -> awcopy_store::Secret {
    use awcopy_store::azure::{credentials::DEV_KEY, sas};
    let grant = sas::SasGrant {
        permissions: permissions.to_owned(),
        start: None,
        expiry: time::OffsetDateTime::now_utc() + std::time::Duration::from_secs(600),
        protocol: None,
    };
    sas::account_sas(account, &awcopy_store::Secret::new(DEV_KEY), &grant).expect("minting a SAS")
}

/// The multipart uploads in progress in the S3 bucket of `location`, as `key upload-id`.
pub async fn s3_uploads_in_progress(location: &Location) -> Vec<String> {
    let Location::S3 { bucket, .. } = location else {
        panic!("{location} is not an S3 location")
    };
    let s3 = awcopy_store::s3::S3Store::open(location, &open_options())
        .await
        .expect("open S3");
    let listed = s3
        .client()
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .expect("ListMultipartUploads");
    listed
        .uploads()
        .iter()
        .map(|u| {
            format!(
                "{} {}",
                u.key().unwrap_or_default(),
                u.upload_id().unwrap_or_default()
            )
        })
        .collect()
}
