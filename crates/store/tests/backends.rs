//! Every Store operation against the real emulators (moto for S3, Azurite for Azure Blob) and
//! a local directory. Run through scripts/test.sh, which starts the emulators.

use awcopy_store::{
    ByteRange, CopySourceKind, ErrorKind, ListRequest, Location, ObjectAttributes, Provider, Store,
};
use awcopy_testkit as kit;
use bytes::Bytes;
use futures::TryStreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const MIB: usize = 1 << 20;

async fn read_all(store: &dyn Store, key: &str, range: Option<ByteRange>) -> Vec<u8> {
    let got = store
        .get(key, range)
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e}"));
    let chunks: Vec<Bytes> = got.body.try_collect().await.expect("read body");
    chunks.concat()
}

async fn list_keys(store: &dyn Store, request: ListRequest) -> (Vec<String>, Vec<String>, usize) {
    let pages: Vec<_> = store.list(request).try_collect().await.expect("list");
    let keys = pages
        .iter()
        .flat_map(|p| p.objects.iter().map(|o| o.key.clone()))
        .collect();
    let prefixes = pages.iter().flat_map(|p| p.prefixes.clone()).collect();
    (keys, prefixes, pages.len())
}

fn attributes() -> ObjectAttributes {
    ObjectAttributes {
        content_type: Some("application/x-awcopy-test".into()),
        content_encoding: Some("identity".into()),
        content_language: Some("en-GB".into()),
        content_disposition: Some("attachment; filename=\"r.bin\"".into()),
        cache_control: Some("max-age=60".into()),
        // Names valid on both clouds: Azure wants C# identifiers (no '-'), and moto's HTTP
        // server drops headers with '_' (real S3 keeps them).
        user_metadata: BTreeMap::from([
            ("origin".into(), "unit test".into()),
            ("runid".into(), "42".into()),
        ]),
        tags: BTreeMap::from([
            ("team".into(), "data".into()),
            ("tier".into(), "hot".into()),
        ]),
    }
}

/// Runs every operation of the trait on `store`; `keeps_attributes` is false for local disk.
async fn exercise(store: Arc<dyn Store>, keeps_attributes: bool) {
    let store = store.as_ref();
    store
        .create_root()
        .await
        .expect("creating an existing root is a no-op");
    puts_heads_and_gets(store, keeps_attributes).await;
    lists_by_prefix_bounds_and_delimiter(store).await;
    let whole = uploads_by_parts(store, keeps_attributes).await;
    aborted_uploads_leave_nothing(store).await;
    copies_within_the_store(store, keeps_attributes, &whole).await;
    deletes_even_a_missing_key(store).await;
}

/// Put + head + get, whole and ranged.
async fn puts_heads_and_gets(store: &dyn Store, keeps_attributes: bool) {
    let small = kit::pattern(1000, 1);
    store
        .put(
            "dir/small.bin",
            small.clone().into(),
            &attributes(),
            Some(kit::crc64nvme(&small)),
        )
        .await
        .expect("put");
    let head = store.head("dir/small.bin").await.expect("head");
    assert_eq!(head.size, 1000);
    assert!(head.last_modified.is_some());
    if keeps_attributes {
        assert_eq!(
            head.attributes,
            attributes(),
            "attributes survive put -> head"
        );
        assert_eq!(
            head.checksums.crc64nvme,
            Some(kit::crc64nvme(&small)),
            "the CRC is kept"
        );
    }
    assert_eq!(read_all(store, "dir/small.bin", None).await, small);
    assert_eq!(
        read_all(
            store,
            "dir/small.bin",
            Some(ByteRange { start: 10, end: 20 })
        )
        .await,
        small[10..20]
    );
    store
        .put("empty", Bytes::new(), &ObjectAttributes::default(), None)
        .await
        .expect("put empty");
    assert_eq!(store.head("empty").await.unwrap().size, 0);
    assert!(read_all(store, "empty", None).await.is_empty());
}

/// Listing: prefix, bounds, delimiter, pages.
async fn lists_by_prefix_bounds_and_delimiter(store: &dyn Store) {
    for key in ["dir/a", "dir/b", "dir/sub/c", "dir/sub/d", "other"] {
        store
            .put(
                key,
                Bytes::from_static(b"x"),
                &ObjectAttributes::default(),
                None,
            )
            .await
            .unwrap();
    }
    let (keys, _, _) = list_keys(
        store,
        ListRequest {
            prefix: "dir/".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        keys,
        ["dir/a", "dir/b", "dir/small.bin", "dir/sub/c", "dir/sub/d"]
    );
    let (keys, _, pages) = list_keys(
        store,
        ListRequest {
            prefix: "dir/".into(),
            start_after: Some("dir/a".into()),
            end_before: Some("dir/sub/d".into()),
            page_size: Some(2),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(keys, ["dir/b", "dir/small.bin", "dir/sub/c"]);
    assert!(
        pages >= 2,
        "page size 2 over 3 keys gives at least 2 pages, got {pages}"
    );
    let (keys, prefixes, _) = list_keys(
        store,
        ListRequest {
            prefix: "dir/".into(),
            delimiter: Some("/".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(keys, ["dir/a", "dir/b", "dir/small.bin"]);
    assert_eq!(prefixes, ["dir/sub/"]);
}

/// Block / multipart upload: 5 MiB parts (S3's minimum) with an odd tail.
async fn uploads_by_parts(store: &dyn Store, keeps_attributes: bool) -> Vec<u8> {
    let part1 = kit::pattern(5 * MIB, 2);
    let part2 = kit::pattern(5 * MIB, 3);
    let tail = kit::pattern(1234, 4);
    let upload = store
        .create_upload("big/object", &attributes())
        .await
        .expect("create upload");
    let r2 = store
        .upload_part(
            "big/object",
            &upload,
            2,
            5 * MIB as u64,
            part2.clone().into(),
            None,
        )
        .await
        .expect("part 2");
    let r1 = store
        .upload_part("big/object", &upload, 1, 0, part1.clone().into(), None)
        .await
        .expect("part 1");
    let staged = store
        .list_parts("big/object", &upload)
        .await
        .expect("list parts");
    assert_eq!(staged.iter().map(|p| p.number).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(staged[0].size, Some(5 * MIB as u64));
    let r3 = store
        .upload_part(
            "big/object",
            &upload,
            3,
            10 * MIB as u64,
            tail.clone().into(),
            None,
        )
        .await
        .expect("part 3");
    assert!(
        matches!(store.head("big/object").await, Err(e) if e.kind() == ErrorKind::NotFound),
        "nothing is visible before commit"
    );
    store
        .complete_upload("big/object", &upload, &[r1, r2, r3], &attributes(), None)
        .await
        .expect("complete");
    let whole = [part1.as_slice(), &part2, &tail].concat();
    assert_eq!(read_all(store, "big/object", None).await, whole);
    let head = store.head("big/object").await.unwrap();
    assert_eq!(head.size, whole.len() as u64);
    if keeps_attributes {
        assert_eq!(
            head.attributes,
            attributes(),
            "attributes survive a multipart commit"
        );
    }
    let ranged = read_all(
        store,
        "big/object",
        Some(ByteRange {
            start: 5 * MIB as u64 - 3,
            end: 5 * MIB as u64 + 3,
        }),
    )
    .await;
    assert_eq!(ranged, whole[5 * MIB - 3..5 * MIB + 3]);
    whole
}

/// Abort leaves nothing behind.
async fn aborted_uploads_leave_nothing(store: &dyn Store) {
    let aborted = store
        .create_upload("big/aborted", &ObjectAttributes::default())
        .await
        .unwrap();
    store
        .upload_part(
            "big/aborted",
            &aborted,
            1,
            0,
            Bytes::from_static(b"abc"),
            None,
        )
        .await
        .unwrap();
    store
        .abort_upload("big/aborted", &aborted)
        .await
        .expect("abort");
    assert!(store
        .list_parts("big/aborted", &aborted)
        .await
        .map_or(true, |p| p.is_empty()));
    assert_eq!(
        store.head("big/aborted").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

/// Server-side copy within the store, whole and by part.
async fn copies_within_the_store(store: &dyn Store, keeps_attributes: bool, whole: &[u8]) {
    let kind = store
        .capabilities()
        .server_side_route(store.capabilities())
        .expect("a store can copy within itself");
    let source = store
        .copy_source("big/object", kind, Duration::from_secs(600))
        .await
        .expect("copy source");
    store
        .copy_object("copies/whole", &source, &attributes())
        .await
        .expect("copy object");
    assert_eq!(read_all(store, "copies/whole", None).await, whole);
    if keeps_attributes {
        assert_eq!(
            store.head("copies/whole").await.unwrap().attributes,
            attributes()
        );
    }
    let upload = store
        .create_upload("copies/parts", &ObjectAttributes::default())
        .await
        .unwrap();
    let split = 5 * MIB as u64;
    let p1 = store
        .upload_part_copy(
            "copies/parts",
            &upload,
            1,
            &source,
            ByteRange {
                start: 0,
                end: split,
            },
        )
        .await
        .expect("part copy 1");
    let p2 = store
        .upload_part_copy(
            "copies/parts",
            &upload,
            2,
            &source,
            ByteRange {
                start: split,
                end: whole.len() as u64,
            },
        )
        .await
        .expect("part copy 2");
    store
        .complete_upload(
            "copies/parts",
            &upload,
            &[p1, p2],
            &ObjectAttributes::default(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(read_all(store, "copies/parts", None).await, whole);
}

/// Delete, including a missing key.
async fn deletes_even_a_missing_key(store: &dyn Store) {
    for key in ["dir/small.bin", "copies/whole", "missing/key"] {
        store
            .delete(key)
            .await
            .unwrap_or_else(|e| panic!("delete {key}: {e}"));
    }
    assert_eq!(
        store.head("dir/small.bin").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let err = store
        .get("dir/small.bin", None)
        .await
        .err()
        .expect("get of a deleted object fails");
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// Every naughty key: put -> list -> get -> delete, or a clear refusal (naming the key) where
/// the store cannot hold the name as written. Returns the keys refused, in order.
async fn naughty_round_trip(store: Arc<dyn Store>) -> Vec<String> {
    let store = store.as_ref();
    let keys = kit::naughty_keys();
    let mut stored = Vec::new();
    let mut refused = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let body = kit::pattern(i + 1, i as u64);
        match store
            .put(key, body.into(), &ObjectAttributes::default(), None)
            .await
        {
            Ok(_) => stored.push(key.clone()),
            Err(e) if matches!(e.kind(), ErrorKind::Usage | ErrorKind::Conflict) => {
                assert!(
                    e.to_string().contains(key.as_str()),
                    "the refusal names the key: {e}"
                );
                refused.push(key.clone());
            }
            Err(e) => panic!("put {key:?}: {e}"),
        }
    }
    let (mut listed, _, _) = list_keys(
        store,
        ListRequest {
            page_size: Some(7),
            ..Default::default()
        },
    )
    .await;
    let mut expected = stored.clone();
    expected.sort();
    listed.sort();
    let missing: Vec<_> = expected.iter().filter(|k| !listed.contains(k)).collect();
    let extra: Vec<_> = listed.iter().filter(|k| !expected.contains(k)).collect();
    assert_eq!(
        listed, expected,
        "listing returns every stored key exactly once: missing {missing:?}, extra {extra:?}"
    );
    for (i, key) in keys.iter().enumerate().filter(|(_, k)| stored.contains(k)) {
        assert_eq!(
            read_all(store, key, None).await,
            kit::pattern(i + 1, i as u64),
            "bytes of {key:?}"
        );
        assert_eq!(store.head(key).await.unwrap().size, i as u64 + 1);
    }
    for key in &stored {
        store
            .delete(key)
            .await
            .unwrap_or_else(|e| panic!("delete {key:?}: {e}"));
    }
    let (left, _, _) = list_keys(store, ListRequest::default()).await;
    assert!(left.is_empty(), "left after delete: {left:?}");
    refused
}

#[tokio::test]
async fn s3_every_operation() {
    let location = kit::new_s3_bucket("ops").await;
    exercise(kit::open(&location).await, true).await;
}

#[tokio::test]
async fn azure_keeps_metadata_names_it_cannot_hold_and_gives_them_back() {
    let location = kit::new_azure_container("metanames").await;
    let store = kit::open(&location).await;
    let mut attrs = attributes();
    for (name, value) in [("run-id", "1"), ("1st", "2"), ("look_x2d_alike", "3")] {
        attrs.user_metadata.insert(name.into(), value.into());
    }
    for name in ["run-id", "1st"] {
        assert!(store.mapped_metadata_name(name).is_some(), "{name}");
    }
    store
        .put("one.bin", "x".into(), &attrs, None)
        .await
        .unwrap();
    let upload = store.create_upload("parts.bin", &attrs).await.unwrap();
    let part = store
        .upload_part("parts.bin", &upload, 1, 0, "y".into(), None)
        .await
        .unwrap();
    store
        .complete_upload("parts.bin", &upload, &[part], &attrs, None)
        .await
        .unwrap();
    for key in ["one.bin", "parts.bin"] {
        let head = store.head(key).await.unwrap();
        assert_eq!(head.attributes, attrs, "head of {key}");
        let got = store.get(key, None).await.unwrap();
        assert_eq!(
            got.meta.attributes.user_metadata, attrs.user_metadata,
            "get of {key}"
        );
    }
}

#[tokio::test]
async fn azure_every_operation() {
    let location = kit::new_azure_container("ops").await;
    exercise(kit::open(&location).await, true).await;
}

#[tokio::test]
async fn local_every_operation() {
    let dir = tempfile::tempdir().unwrap();
    let location = Location::parse(dir.path().to_str().unwrap()).unwrap();
    exercise(kit::open(&location).await, false).await;
    let staging = dir.path().join(awcopy_store::local::STAGING_DIR);
    let leftovers: Vec<_> = walk_files(&staging);
    assert!(
        leftovers.is_empty(),
        "staging files left behind: {leftovers:?}"
    );
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            if e.path().is_dir() {
                walk_files(&e.path())
            } else {
                vec![e.path()]
            }
        })
        .collect()
}

#[tokio::test]
async fn s3_naughty_keys_round_trip() {
    let location = kit::new_s3_bucket("naughty").await;
    let refused = naughty_round_trip(kit::open(&location).await).await;
    assert!(refused.is_empty(), "S3 refused {refused:?}");
}

#[tokio::test]
async fn azure_naughty_keys_round_trip() {
    let location = kit::new_azure_container("naughty").await;
    let refused = naughty_round_trip(kit::open(&location).await).await;
    // Azure reads '\\' as '/', so such names are refused rather than silently changed.
    let altered = kit::refused_by_azure(&kit::naughty_keys());
    assert!(!altered.is_empty());
    assert_eq!(refused, altered);
}

#[tokio::test]
async fn local_naughty_keys_round_trip_or_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let location = Location::parse(dir.path().to_str().unwrap()).unwrap();
    let store = kit::open(&location).await;
    assert_eq!(location.provider(), Provider::Local);
    let refused = naughty_round_trip(store).await;
    // Exactly the names a POSIX file system cannot hold as written.
    let cannot_be_files = kit::refused_by_local_disk(&kit::naughty_keys());
    assert_eq!(refused, cannot_be_files);
}

#[tokio::test]
async fn azure_to_azure_copy_uses_a_minted_sas() {
    let source = kit::open(&kit::new_azure_container("src").await).await;
    let dest = kit::open(&kit::new_azure_container("dst").await).await;
    let data = kit::pattern(3 * MIB + 17, 9);
    source
        .put("in/data.bin", data.clone().into(), &attributes(), None)
        .await
        .unwrap();
    let kind = dest.capabilities().server_side_route(source.capabilities());
    assert_eq!(kind, Some(CopySourceKind::Url));
    let url = source
        .copy_source("in/data.bin", CopySourceKind::Url, Duration::from_secs(300))
        .await
        .unwrap();
    let shown = format!("{url:?}");
    assert!(shown.contains("sig=REDACTED"), "{shown}");
    kit::assert_no_secrets(&shown);
    dest.copy_object("out/data.bin", &url, &attributes())
        .await
        .expect("Put Blob From URL with SAS");
    assert_eq!(read_all(dest.as_ref(), "out/data.bin", None).await, data);
}

/// A copy as it is (S3 CopyObject with the COPY directives: awcopy's own request, not the
/// SDK's) of every naughty key keeps bytes, headers, metadata and tags; a missing source, a
/// missing bucket and an unreachable endpoint are classified.
#[tokio::test]
async fn s3_copies_every_key_as_it_is_and_classifies_failures() {
    let source_location = kit::new_s3_bucket("asis-src").await;
    let dest_location = kit::new_s3_bucket("asis-dst").await;
    let (source, dest) = (
        kit::open(&source_location).await,
        kit::open(&dest_location).await,
    );
    let keys = kit::naughty_keys();
    for (i, key) in keys.iter().enumerate() {
        source
            .put(
                key,
                kit::pattern(i + 1, i as u64).into(),
                &attributes(),
                None,
            )
            .await
            .unwrap_or_else(|e| panic!("put {key:?}: {e}"));
        let from = source
            .copy_source(key, CopySourceKind::Native, Duration::from_secs(600))
            .await
            .unwrap();
        let put = dest
            .copy_object_as_is(key, &from)
            .await
            .unwrap_or_else(|e| panic!("copy {key:?}: {e}"));
        let copied = dest.head(key).await.unwrap();
        assert_eq!(put.etag, copied.etag, "{key:?}: the answer's ETag");
        assert_eq!(copied.attributes, attributes(), "{key:?}: attributes kept");
        assert_eq!(
            read_all(dest.as_ref(), key, None).await,
            kit::pattern(i + 1, i as u64),
            "bytes of {key:?}"
        );
    }
    let (mut listed, _, _) = list_keys(dest.as_ref(), ListRequest::default()).await;
    let mut expected = keys.clone();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected, "every key copied under its own name");

    let missing_key = source
        .copy_source(
            "not/there",
            CopySourceKind::Native,
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    let err = dest
        .copy_object_as_is("copy-of-nothing", &missing_key)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("copy-of-nothing"), "{err}");

    let missing_bucket =
        Location::parse(&format!("s3://{}/", kit::unique_name("missing"))).unwrap();
    let nowhere = kit::open(&missing_bucket).await;
    let some_key = source
        .copy_source(&keys[0], CopySourceKind::Native, Duration::from_secs(600))
        .await
        .unwrap();
    let err = nowhere.copy_object_as_is("k", &some_key).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("NoSuchBucket"), "{err}");

    let unreachable = awcopy_store::OpenOptions {
        s3_endpoint: Some("http://127.0.0.1:9".into()),
        ..Default::default()
    };
    let offline = awcopy_store::open(&dest_location, &unreachable)
        .await
        .unwrap();
    let err = offline.copy_object_as_is("k", &some_key).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
}

#[tokio::test]
async fn s3_missing_bucket_and_bad_endpoint_are_classified() {
    let missing = Location::parse(&format!("s3://{}/", kit::unique_name("missing"))).unwrap();
    let store = kit::open(&missing).await;
    let err = store.head("x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let err = store
        .list(ListRequest::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("NoSuchBucket"), "{err}");

    let unreachable = awcopy_store::OpenOptions {
        s3_endpoint: Some("http://127.0.0.1:9".into()),
        ..Default::default()
    };
    let store = awcopy_store::open(&missing, &unreachable).await.unwrap();
    let err = store.head("x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
}

#[tokio::test]
async fn azure_wrong_key_is_an_auth_error_without_the_key() {
    let location = kit::new_azure_container("auth").await;
    let wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";
    // Sign with a wrong key through a SAS minted from it: Azurite must refuse it.
    let Location::Azure {
        account, container, ..
    } = &location
    else {
        unreachable!()
    };
    let grant = awcopy_store::azure::sas::SasGrant {
        permissions: "rl".into(),
        start: None,
        expiry: time::OffsetDateTime::now_utc() + Duration::from_secs(600),
        protocol: None,
    };
    let sas = awcopy_store::azure::sas::blob_sas(
        account,
        &awcopy_store::Secret::new(wrong_key),
        container,
        "x",
        &grant,
    )
    .unwrap();
    let with_sas = Location::parse(&format!(
        "{}/{container}/?{}",
        kit::azure_endpoint(),
        sas.expose()
    ))
    .unwrap();
    let store = kit::open(&with_sas).await;
    let err = store.head("x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    kit::assert_no_secrets(&format!("{err} {err:?}"));
    assert!(!format!("{err:?}").contains(wrong_key));
}

/// SSE-S3 and SSE-KMS headers reach the server on put, multipart and copy (moto records them;
/// it does not implement SSE-C, and Azurite implements neither customer keys nor scopes).
#[tokio::test]
async fn s3_writes_are_encrypted_as_asked() {
    use awcopy_store::{s3::S3Store, Encryption, OpenOptions};
    use aws_sdk_s3::types::ServerSideEncryption;
    let location = kit::new_s3_bucket("enc").await;
    let Location::S3 { bucket, .. } = &location else {
        unreachable!()
    };
    for (encryption, expected, kms_key) in [
        (Encryption::S3Managed, ServerSideEncryption::Aes256, None),
        (
            Encryption::S3Kms(Some("alias/awcopy-test".into())),
            ServerSideEncryption::AwsKms,
            Some("alias/awcopy-test"),
        ),
    ] {
        let options = OpenOptions {
            encryption: Some(encryption),
            ..kit::open_options()
        };
        let store = S3Store::open(&location, &options).await.unwrap();
        store
            .put(
                "put",
                Bytes::from_static(b"abc"),
                &ObjectAttributes::default(),
                None,
            )
            .await
            .unwrap();
        let upload = store
            .create_upload("multi", &ObjectAttributes::default())
            .await
            .unwrap();
        let part = store
            .upload_part("multi", &upload, 1, 0, Bytes::from_static(b"abc"), None)
            .await
            .unwrap();
        store
            .complete_upload(
                "multi",
                &upload,
                &[part],
                &ObjectAttributes::default(),
                None,
            )
            .await
            .unwrap();
        let source = store
            .copy_source("put", CopySourceKind::Native, Duration::from_secs(60))
            .await
            .unwrap();
        store
            .copy_object("copy", &source, &ObjectAttributes::default())
            .await
            .unwrap();
        for key in ["put", "multi", "copy"] {
            let head = store
                .client()
                .head_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap();
            assert_eq!(head.server_side_encryption(), Some(&expected), "{key}");
            assert_eq!(head.ssekms_key_id(), kms_key, "{key}");
        }
    }
    let wrong = OpenOptions {
        encryption: Some(Encryption::AzureScope("s".into())),
        ..kit::open_options()
    };
    let err = S3Store::open(&location, &wrong).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage);
    assert!(err.to_string().contains("for S3 use sse-s3"), "{err}");
}
