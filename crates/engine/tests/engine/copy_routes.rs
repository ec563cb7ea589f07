//! Every route, {S3, Azure, local} x {S3, Azure, local}, against the real emulators: objects
//! of 0 B, 1 B, block-1, block, block+1 and several blocks with an odd tail, attributes (with
//! a metadata name Azure must rename), and every naughty key, blank keys at the bucket's root
//! included. Then the S3 routes again against s3rver, a second S3 implementation. Every key and
//! every byte is checked at the destination.

use awcopy_engine::copy::{copy, ConcurrencyLimit, CopyOptions, CopyPlan, CopyReport, Progress};
use awcopy_engine::estimate::{Cutoffs, Route};
use awcopy_engine::filter::Filter;
use awcopy_store::{ErrorKind, ListRequest, ObjectAttributes, Store};
use awcopy_testkit::{self as kit, Kind};
use futures::{StreamExt, TryStreamExt};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// S3's smallest part, so multi-part paths run on every destination.
const BLOCK: u64 = 5 << 20;

fn attributes() -> ObjectAttributes {
    ObjectAttributes {
        content_type: Some("text/csv".into()),
        content_encoding: Some("identity".into()),
        content_language: Some("de".into()),
        content_disposition: Some("inline".into()),
        cache_control: Some("no-cache".into()),
        // `run-id` is no C# identifier: Azure keeps it renamed, and gives it back on reading.
        user_metadata: BTreeMap::from([
            ("origin".into(), "route test".into()),
            ("run-id".into(), "42".into()),
        ]),
        tags: BTreeMap::from([("project".into(), "awcopy".into())]),
    }
}

/// The keys that carry attributes: one small, one multi-block.
fn with_attributes(key: &str) -> bool {
    key == "sizes/1.bin" || key == format!("sizes/{}.bin", 3 * BLOCK + 17)
}

/// Source contents: key and bytes. The copy takes the whole store, so blank keys stay blank.
fn contents() -> Vec<(String, Vec<u8>)> {
    let sizes = [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 17];
    let mut objects: Vec<(String, Vec<u8>)> = sizes
        .iter()
        .enumerate()
        .map(|(i, size)| {
            (
                format!("sizes/{size}.bin"),
                kit::pattern(*size as usize, i as u64),
            )
        })
        .collect();
    for (i, key) in kit::naughty_keys().into_iter().enumerate() {
        objects.push((
            format!("naughty/{key}"),
            kit::pattern(i % 7 + 1, 100 + i as u64),
        ));
    }
    for (i, key) in kit::blank_keys().into_iter().enumerate() {
        objects.push((key, kit::pattern(i % 5 + 1, 300 + i as u64)));
    }
    objects
}

/// Puts `objects`; returns the keys the source could hold.
async fn fill(store: &Arc<dyn Store>, objects: &[(String, Vec<u8>)]) -> Vec<String> {
    let results: Vec<Option<String>> = futures::stream::iter(objects)
        .map(|(key, data)| async move {
            let attrs = if with_attributes(key) {
                attributes()
            } else {
                ObjectAttributes::default()
            };
            match store.put(key, data.clone().into(), &attrs, None).await {
                Ok(_) => Some(key.clone()),
                // Names the source itself cannot hold are not part of this route.
                Err(e) if matches!(e.kind(), ErrorKind::Usage | ErrorKind::Conflict) => None,
                Err(e) => panic!("fill {key:?}: {e}"),
            }
        })
        .buffered(16)
        .collect()
        .await;
    results.into_iter().flatten().collect()
}

async fn read(store: &dyn Store, key: &str) -> Vec<u8> {
    let got = store
        .get(key, None)
        .await
        .unwrap_or_else(|e| panic!("get {key:?}: {e}"));
    got.body.try_collect::<Vec<_>>().await.unwrap().concat()
}

async fn keys_under(store: &dyn Store, prefix: &str) -> Vec<String> {
    let mut keys: Vec<String> = store
        .list(ListRequest {
            prefix: prefix.into(),
            ..Default::default()
        })
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .flat_map(|p| {
            p.objects
                .into_iter()
                .map(|o| o.key[prefix.len()..].to_owned())
        })
        .collect();
    keys.sort();
    keys
}

/// Blocks of [`BLOCK`]. Copies within one service, and reads into local files, go by blocks
/// above one block too, so every route splits the big objects and takes the whole ones whole.
fn route_options() -> CopyOptions {
    CopyOptions {
        block_size: BLOCK,
        cutoffs: Cutoffs {
            copy: BLOCK,
            get: BLOCK,
        },
        concurrency: ConcurrencyLimit::Fixed(8),
        ..Default::default()
    }
}

/// Copies all of `source` into `dest` with [`route_options`].
async fn copy_whole_store(
    source: &Arc<dyn Store>,
    dest: &Arc<dyn Store>,
    case: &str,
) -> CopyReport {
    let plan = CopyPlan::under(source.clone(), dest.clone(), "", "");
    copy(
        plan,
        route_options(),
        Filter::default(),
        Arc::new(Progress::default()),
    )
    .await
    .unwrap_or_else(|e| panic!("{case}: {e}"))
}

async fn route(from: Kind, to: Kind) {
    let (source_location, _source_dir) = kit::fresh(from, "src").await;
    let (dest_location, _dest_dir) = kit::fresh(to, "dst").await;
    let source = kit::open(&source_location).await;
    let dest = kit::open(&dest_location).await;
    let objects = contents();
    let held = fill(&source, &objects).await;

    let case = format!("{from:?} -> {to:?}");
    let report = copy_whole_store(&source, &dest, &case).await;

    // Names the destination cannot hold as written arrive under its mapped name, recorded.
    let final_key = |key: &str| dest.mapped_name(key).unwrap_or_else(|| key.to_owned());
    for pair in &report.names_mapped {
        assert_eq!(pair.dest, final_key(&pair.source), "{case}: {pair:?}");
    }
    let mapped_count = held
        .iter()
        .filter(|k| dest.mapped_name(k).is_some())
        .count();
    assert_eq!(report.names_mapped.len(), mapped_count, "{case}");
    // The naughty keys include names only one side of each pair of kinds can hold.
    if from != to && to != Kind::S3 {
        assert!(mapped_count > 0, "{case}: some names needed mapping");
    }

    // Failures: only local clashes of a file with a directory of the same name (`pre` and
    // `pre/fix`), one of each pair, whichever arrives second.
    let mut failed: Vec<String> = report.failures.iter().map(|f| f.key.clone()).collect();
    failed.sort();
    for failure in &report.failures {
        assert_eq!(failure.kind, ErrorKind::Conflict, "{case}: {failure:?}");
    }
    if to == Kind::Local {
        // Whatever the arrival order: no stored key is a directory of another, and each
        // refused key clashes with a stored one.
        let stored: Vec<String> = held
            .iter()
            .filter(|k| !failed.contains(k))
            .map(|k| final_key(k))
            .collect();
        let clash =
            |a: &str, b: &str| b.starts_with(&format!("{a}/")) || a.starts_with(&format!("{b}/"));
        for (i, a) in stored.iter().enumerate() {
            assert!(
                !stored[i + 1..].iter().any(|b| clash(a, b)),
                "{case}: {a:?} stored beside a clashing key"
            );
        }
        for refused in &failed {
            let r = final_key(refused);
            assert!(
                stored.iter().any(|s| clash(&r, s)),
                "{case}: {refused:?} refused without a clash"
            );
        }
    } else {
        assert!(failed.is_empty(), "{case}: {:?}", report.failures);
    }

    // Every other object is at the destination, under its final name, with every byte.
    let by_key: HashMap<&str, &Vec<u8>> = objects.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let copied: Vec<&String> = held.iter().filter(|k| !failed.contains(k)).collect();
    assert_eq!(report.objects_copied as usize, copied.len(), "{case}");
    let mut expected: Vec<String> = copied.iter().map(|k| final_key(k)).collect();
    expected.sort();
    assert_eq!(
        keys_under(dest.as_ref(), "").await,
        expected,
        "{case}: keys at the destination"
    );
    for key in &copied {
        let data = read(dest.as_ref(), &final_key(key)).await;
        assert!(
            data == *by_key[key.as_str()],
            "{case}: bytes of {key:?} differ"
        );
    }

    // Attributes travel between the clouds (local disk keeps none).
    if from != Kind::Local && to != Kind::Local {
        for key in copied.iter().filter(|k| with_attributes(k)) {
            let head = dest.head(key).await.unwrap();
            assert_eq!(head.attributes, attributes(), "{case}: attributes of {key}");
        }
    }

    let total: u64 = copied.iter().map(|k| by_key[k.as_str()].len() as u64).sum();
    the_route_bytes_and_renamed_names_are_reported(&report, from, to, total, &case);
}

/// The report says the route (server-side within a service, pulled by Azure where it can
/// reach the source), the bytes that went each way, a fallback, and the metadata names the
/// destination renamed.
fn the_route_bytes_and_renamed_names_are_reported(
    report: &CopyReport,
    from: Kind,
    to: Kind,
    total: u64,
    case: &str,
) {
    let expected_route = match (from, to) {
        (Kind::S3, Kind::S3) | (Kind::Local, Kind::Local) => Route::Native,
        (Kind::Azure, Kind::Azure) => Route::FromUrl,
        _ => Route::Streamed,
    };
    assert_eq!(report.route, expected_route, "{case}");
    assert_eq!(report.bytes_copied, total, "{case}");
    if expected_route == Route::Streamed {
        assert_eq!(
            (report.bytes_streamed, report.bytes_server_side),
            (total, 0),
            "{case}"
        );
    } else {
        assert_eq!(
            (report.bytes_streamed, report.bytes_server_side),
            (0, total),
            "{case}: no bytes through us"
        );
    }
    if (from, to) == (Kind::S3, Kind::Azure) {
        assert!(
            report.notes.iter().any(|n| n.contains("cannot read from")),
            "{:?}",
            report.notes
        );
    }
    // The destination renames a metadata name it cannot hold, and says so.
    let renamed = report
        .metadata_names_mapped
        .iter()
        .map(|m| m.source.as_str())
        .collect::<Vec<_>>();
    let expect_renamed: &[&str] = match (from, to) {
        (Kind::Local, _) | (_, Kind::Local) => &[],
        (_, Kind::Azure) => &["run-id"],
        _ => &[],
    };
    assert_eq!(renamed, expect_renamed, "{case}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_to_s3() {
    route(Kind::S3, Kind::S3).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_to_azure() {
    route(Kind::S3, Kind::Azure).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_to_local() {
    route(Kind::S3, Kind::Local).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_to_s3() {
    route(Kind::Azure, Kind::S3).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_to_azure() {
    route(Kind::Azure, Kind::Azure).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_to_local() {
    route(Kind::Azure, Kind::Local).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_to_s3() {
    route(Kind::Local, Kind::S3).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_to_azure() {
    route(Kind::Local, Kind::Azure).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_to_local() {
    route(Kind::Local, Kind::Local).await;
}

/// Copies the one object `key` of `from` into a fresh store of kind `to`; returns that store.
async fn copy_one(from: &Arc<dyn Store>, to: Kind, key: &str) -> Arc<dyn Store> {
    let (location, dir) = kit::fresh(to, "trip").await;
    assert!(dir.is_none(), "round trips are between clouds");
    let dest = kit::open(&location).await;
    let plan = CopyPlan::under(from.clone(), dest.clone(), "", "");
    let report = copy(
        plan,
        CopyOptions::default(),
        Filter::default(),
        Arc::new(Progress::default()),
    )
    .await
    .unwrap();
    assert_eq!(report.objects_copied, 1, "{key}: {:?}", report.failures);
    dest
}

/// A -> B -> A gives the object back with the attributes it had, metadata names included,
/// for every pair of clouds (Azure renames `run-id`, and must give it back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_survive_a_round_trip_between_every_pair_of_clouds() {
    let clouds = [Kind::S3, Kind::Azure];
    for a in clouds {
        for b in clouds.into_iter().filter(|b| *b != a) {
            let (location, _) = kit::fresh(a, "trip").await;
            let start = kit::open(&location).await;
            let data = kit::pattern(1000, 5);
            start
                .put("t/obj.csv", data.clone().into(), &attributes(), None)
                .await
                .unwrap();
            let there = copy_one(&start, b, "t/obj.csv").await;
            let back = copy_one(&there, a, "t/obj.csv").await;
            let head = back.head("t/obj.csv").await.unwrap();
            assert_eq!(head.attributes, attributes(), "{a:?} -> {b:?} -> {a:?}");
            assert_eq!(read(back.as_ref(), "t/obj.csv").await, data);
        }
    }
}

/// The S3 routes on s3rver, an S3 implementation no one here wrote: the keys that awcopy's
/// copy source once failed there (`/` and other characters escaped), one object in parts,
/// every byte checked; s3rver -> s3rver server-side, its one large object streamed (s3rver
/// has no UploadPartCopy). s3rver keeps no tags and no checksums, has no ListParts, and its
/// file store cannot hold every naughty key, so this set is its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_routes_on_a_second_s3_implementation() {
    let objects: Vec<(String, Vec<u8>)> = [
        ("a.txt", 10),
        ("big.bin", 3 * BLOCK as usize + 17),
        ("dir/b.bin", 1000),
        ("dir/sub/c 1.txt", 5),
        ("ünï/çødé.txt", 7),
        // Not `+`, `=`, `&` and the like: s3rver decodes the copy source with JavaScript's
        // decodeURI, which leaves those escaped (boto3's copies of them fail there too).
        ("a-b_c.d~e (1).txt", 3),
        (" ", 2),
        ("\u{3000}", 2),
    ]
    .iter()
    .enumerate()
    .map(|(i, (key, size))| (key.to_string(), kit::pattern(*size, 500 + i as u64)))
    .collect();
    let pairs = [
        (Kind::S3rver, Kind::S3rver),
        (Kind::S3rver, Kind::S3),
        (Kind::S3, Kind::S3rver),
        (Kind::S3rver, Kind::Azure),
        (Kind::Azure, Kind::S3rver),
        (Kind::S3rver, Kind::Local),
        (Kind::Local, Kind::S3rver),
    ];
    for (from, to) in pairs {
        let case = format!("{from:?} -> {to:?}");
        let (source_location, _source_dir) = kit::fresh(from, "src").await;
        let (dest_location, _dest_dir) = kit::fresh(to, "dst").await;
        let (source, dest) = (
            kit::open(&source_location).await,
            kit::open(&dest_location).await,
        );
        // Azure keeps no name made only of white space, so it holds all but those.
        let held = fill(&source, &objects).await;
        let blank = objects.iter().filter(|(k, _)| k.trim().is_empty()).count();
        let expect_held = objects.len() - if from == Kind::Azure { blank } else { 0 };
        assert_eq!(held.len(), expect_held, "{case}");
        let report = copy_whole_store(&source, &dest, &case).await;
        assert!(report.failures.is_empty(), "{case}: {:?}", report.failures);
        let final_key = |key: &str| dest.mapped_name(key).unwrap_or_else(|| key.to_owned());
        let mut expected: Vec<String> = held.iter().map(|k| final_key(k)).collect();
        expected.sort();
        assert_eq!(keys_under(dest.as_ref(), "").await, expected, "{case}");
        for (key, data) in objects.iter().filter(|(k, _)| held.contains(k)) {
            let got = read(dest.as_ref(), &final_key(key)).await;
            assert!(got == *data, "{case}: bytes of {key:?} differ");
        }
        if (from, to) == (Kind::S3rver, Kind::S3rver) {
            assert_eq!(report.route, Route::Native, "{case}");
            assert_eq!(
                report.bytes_streamed,
                3 * BLOCK + 17,
                "{case}: only the object in parts through us"
            );
        }
    }
}
