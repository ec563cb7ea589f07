//! Comparing listings in bounded memory: `sync` (an overwrite policy and `--delete`) and
//! `check`, with an index budget far below the bucket's size, hold at most that many
//! destination objects in memory (the rest go to a temporary file) and decide exactly what
//! the data says: what to copy, keep, replace and delete, what is missing, extra or
//! different. Keys include the shared naughty list and characters that S3 (UTF-8 byte order)
//! and Azure (UTF-16 order) list in different orders.

use awcopy_engine::check::{
    check, CheckOptions, CheckProgress, CheckReport, Finding, FindingSink, Side,
};
use awcopy_engine::copy::{copy, CopyOptions, CopyPlan, Progress};
use awcopy_engine::filter::Filter;
use awcopy_engine::index::IndexOptions;
use awcopy_engine::overwrite::Overwrite;
use awcopy_store::Store;
use awcopy_testkit::{self as kit, Kind};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Destination objects held in memory at most.
const BUDGET: usize = 40;

fn index() -> IndexOptions {
    IndexOptions {
        in_memory: BUDGET,
        spill_dir: None,
    }
}

async fn sync(source: &Arc<dyn Store>, dest: &Arc<dyn Store>) -> awcopy_engine::copy::CopyReport {
    let options = CopyOptions {
        overwrite: Overwrite::IfDifferent,
        delete_extras: true,
        index: index(),
        ..CopyOptions::default()
    };
    let plan = CopyPlan::under(source.clone(), dest.clone(), "", "");
    let report = copy(
        plan,
        options,
        Filter::default(),
        Arc::new(Progress::default()),
    )
    .await
    .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    report
}

/// The differences a check reports, as they come.
#[derive(Debug, Default)]
struct Collected(std::sync::Mutex<Vec<Finding>>);

impl FindingSink for Collected {
    fn found(&self, finding: Finding) {
        self.0.lock().unwrap().push(finding);
    }
}

/// What a check counts, and the keys it finds missing, extra and different (each sorted).
async fn compare(
    source: &Arc<dyn Store>,
    dest: &Arc<dyn Store>,
) -> (CheckReport, [Vec<String>; 3]) {
    let side = |store: &Arc<dyn Store>| Side {
        store: store.clone(),
        prefix: String::new(),
    };
    let collected = Arc::new(Collected::default());
    let progress = Arc::new(CheckProgress::default());
    let options = CheckOptions {
        index: index(),
        findings: Some(collected.clone()),
        progress: progress.clone(),
        ..CheckOptions::default()
    };
    let report = check(side(source), side(dest), options).await.unwrap();
    // The progress counted every object of each side and every difference.
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let both = report.matching + report.different;
    assert_eq!(load(&progress.source_listed), both + report.missing);
    assert_eq!(load(&progress.dest_listed), both + report.extra);
    assert_eq!(
        load(&progress.differences),
        report.missing + report.extra + report.different
    );
    let mut keys: [Vec<String>; 3] = Default::default();
    for finding in collected.0.lock().unwrap().drain(..) {
        let (kind, key) = match finding {
            Finding::Missing { key } => (0, key),
            Finding::Extra { key } => (1, key),
            Finding::Different { key, .. } => (2, key),
        };
        keys[kind].push(key);
    }
    keys.iter_mut().for_each(|k| k.sort());
    assert_eq!(
        [report.missing, report.extra, report.different],
        keys.clone().map(|k| k.len() as u64),
        "counted as found"
    );
    (report, keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_and_check_hold_a_bounded_number_of_destination_objects() {
    for (from, to) in [
        (Kind::Local, Kind::Local),
        (Kind::S3, Kind::Azure),
        (Kind::Azure, Kind::S3),
    ] {
        let (source_location, _source_dir) = kit::fresh(from, "bounded-src").await;
        let (dest_location, _dest_dir) = kit::fresh(to, "bounded-dst").await;
        let (source, dest) = (
            kit::open(&source_location).await,
            kit::open(&dest_location).await,
        );
        let wanted: BTreeMap<String, Vec<u8>> = kit::order_sensitive_keys(150)
            .into_iter()
            .enumerate()
            .map(|(i, key)| (key, kit::pattern(10 + i % 50, i as u64)))
            .collect();
        let files = kit::put_what_fits(&source, &dest, wanted).await;
        assert!(files.len() > 4 * BUDGET, "{to:?}: {} objects", files.len());

        // The destination before: every fourth object as it is, every fourth of another
        // size, the rest missing; and extras, some of them under the source's names' prefixes.
        let (mut same, mut resized) = (BTreeMap::new(), BTreeMap::new());
        for (i, (key, data)) in files.iter().enumerate() {
            match i % 4 {
                0 => same.insert(key.clone(), data.clone()),
                1 => resized.insert(key.clone(), kit::pattern(data.len() + 3, 7)),
                _ => None,
            };
        }
        let extras: BTreeMap<String, Vec<u8>> = (0..90)
            .map(|i| {
                let key = match i % 2 {
                    0 => format!("plain/{i:04}-extra"),
                    _ => format!("zz/\u{ff21}extra {i}"),
                };
                (key, kit::pattern(5, i))
            })
            .collect();
        kit::put_all(&dest, &same).await;
        kit::put_all(&dest, &resized).await;
        kit::put_all(&dest, &extras).await;

        let report = sync(&source, &dest).await;
        let what = format!("{from:?} -> {to:?}");
        assert_eq!(report.objects_kept, same.len() as u64, "{what}: kept");
        assert_eq!(
            report.objects_copied,
            (files.len() - same.len()) as u64,
            "{what}: copied (replaced and missing)"
        );
        assert_eq!(
            report.objects_deleted,
            extras.len() as u64,
            "{what}: deleted"
        );
        assert!(
            report.in_memory_peak <= BUDGET as u64,
            "{what}: {} destination objects in memory",
            report.in_memory_peak
        );
        kit::assert_holds(&dest, "", &files).await;

        // Again: nothing to do.
        let again = sync(&source, &dest).await;
        assert_eq!(
            (
                again.objects_copied,
                again.objects_kept,
                again.objects_deleted
            ),
            (0, files.len() as u64, 0),
            "{what}: a second sync"
        );

        check_finds_what_differs(&source, &dest, &files, &what).await;
    }
}

/// `check` of what `sync` made finds it equal; then, with 3 objects missing, 2 extra and 2
/// different (one by size, one by content), names each.
async fn check_finds_what_differs(
    source: &Arc<dyn Store>,
    dest: &Arc<dyn Store>,
    files: &BTreeMap<String, Vec<u8>>,
    what: &str,
) {
    let (equal, _) = compare(source, dest).await;
    assert!(equal.is_equal(), "{what}: {equal:?}");
    assert_eq!(equal.matching, files.len() as u64);
    assert!(equal.in_memory_peak <= BUDGET as u64, "{what}");
    let keys: Vec<&String> = files.keys().collect();
    let (gone, resized, rewritten) = (&keys[..3], keys[10], keys[20]);
    for key in gone {
        dest.delete(key).await.unwrap();
    }
    let size = files[resized].len();
    dest.put(
        resized,
        kit::pattern(size + 1, 1).into(),
        &Default::default(),
        None,
    )
    .await
    .unwrap();
    let size = files[rewritten].len();
    dest.put(
        rewritten,
        kit::pattern(size, 999).into(),
        &Default::default(),
        None,
    )
    .await
    .unwrap();
    let added = ["zz/added one", "plain/\u{1f600} added"];
    for key in added {
        dest.put(key, b"x".to_vec().into(), &Default::default(), None)
            .await
            .unwrap();
    }
    let (found, [missing_found, extra_found, different_found]) = compare(source, dest).await;
    let mut missing: Vec<String> = gone.iter().map(|k| k.to_string()).collect();
    missing.sort();
    assert_eq!(missing_found, missing, "{what}");
    let mut extra: Vec<String> = added.iter().map(|k| k.to_string()).collect();
    extra.sort();
    assert_eq!(extra_found, extra, "{what}");
    let mut expected = vec![resized.to_string(), rewritten.to_string()];
    expected.sort();
    assert_eq!(different_found, expected, "{what}");
    assert_eq!(found.matching, (files.len() - 5) as u64, "{what}");
}
