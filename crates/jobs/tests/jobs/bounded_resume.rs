//! Resuming in bounded memory: a job stopped part way (some objects copied, some listed and
//! not copied, some never listed) resumes with what its earlier run met held in indexes far
//! smaller than the job — at most the budget in memory, the rest in a temporary file — and
//! still copies each object exactly once, passes over what it finished, and (as `sync
//! --delete`) deletes only the destination's real extras. Keys include the shared naughty list
//! and characters that S3 (UTF-8 byte order) and Azure (UTF-16 order) list in different orders.

use awcopy_engine::copy::{copy, ConcurrencyLimit, CopyOptions, CopyPlan, CopyReport, Progress};
use awcopy_engine::events::{Action, EventSink, ObjectEvent};
use awcopy_engine::filter::Filter;
use awcopy_engine::index::IndexOptions;
use awcopy_engine::journal::Stop;
use awcopy_engine::lister::ListerConfig;
use awcopy_engine::overwrite::Overwrite;
use awcopy_jobs::{Catalog, CatalogAddress, JobCatalog, JobRecorder, NewJob, Recorder};
use awcopy_store::Store;
use awcopy_testkit::catalogue::CatalogPlace;
use awcopy_testkit::{self as kit, each_catalogue, Kind};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Objects of what earlier runs met held in memory at most, per index.
const BUDGET: usize = 40;

/// Forwards events to the job's recorder and stops the copy once `after` objects are copied.
#[derive(Debug)]
struct StopAfter {
    recorder: Arc<Recorder>,
    copied: AtomicUsize,
    after: usize,
    stop: Stop,
}

impl EventSink for StopAfter {
    fn record(&self, event: &ObjectEvent<'_>) {
        self.recorder.record(event);
        if event.action == Action::Copied
            && self.copied.fetch_add(1, Ordering::Relaxed) + 1 >= self.after
        {
            self.stop.cancel();
        }
    }
}

/// A run of job `job` over `source` -> `dest` as `sync --delete` (if-different), recording
/// into the catalogue, from `resume` if given; `events` sees every event.
async fn run(
    source: &Arc<dyn Store>,
    dest: &Arc<dyn Store>,
    recorder: Arc<Recorder>,
    events: Arc<dyn EventSink>,
    stop: Stop,
    resume: Option<awcopy_engine::journal::ResumeFrom>,
) -> CopyReport {
    let options = CopyOptions {
        overwrite: Overwrite::IfDifferent,
        delete_extras: true,
        concurrency: ConcurrencyLimit::Fixed(4),
        lister: ListerConfig {
            page_size: 25,
            ..ListerConfig::default()
        },
        journal: Some(recorder),
        events: Some(events),
        stop: Some(stop),
        index: IndexOptions {
            in_memory: BUDGET,
            spill_dir: None,
        },
        ..CopyOptions::default()
    };
    let mut plan = CopyPlan::under(source.clone(), dest.clone(), "", "");
    plan.resume = resume;
    copy(
        plan,
        options,
        Filter::default(),
        Arc::new(Progress::default()),
    )
    .await
    .unwrap()
}

each_catalogue!(
    a_stopped_job_resumes_holding_a_bounded_number_of_keys,
    flavor = "multi_thread",
    worker_threads = 2
);
async fn a_stopped_job_resumes_holding_a_bounded_number_of_keys(place: CatalogPlace) {
    for (from, to) in [(Kind::Local, Kind::Local), (Kind::S3, Kind::Azure)] {
        let (source_location, _source_dir) = kit::fresh(from, "resume-src").await;
        let (dest_location, _dest_dir) = kit::fresh(to, "resume-dst").await;
        let (source, dest) = (
            kit::open(&source_location).await,
            kit::open(&dest_location).await,
        );
        let wanted: BTreeMap<String, Vec<u8>> = kit::order_sensitive_keys(240)
            .into_iter()
            .enumerate()
            .map(|(i, key)| (key, kit::pattern(10 + i % 50, i as u64)))
            .collect();
        let files = kit::put_what_fits(&source, &dest, wanted).await;
        assert!(files.len() > 6 * BUDGET, "{to:?}: {} objects", files.len());
        // A database of its own for each route.
        let place = match place.is_postgres() {
            true => CatalogPlace::postgres().await,
            false => CatalogPlace::sqlite(),
        };
        let address: CatalogAddress = place.address().parse().unwrap();
        let catalog = Catalog::open(address).await.unwrap();
        let job = catalog
            .create_job(NewJob {
                user: "u".into(),
                name: None,
                command: "sync".into(),
                source: source_location.to_string(),
                dest: dest_location.to_string(),
                spec: serde_json::json!({}),
                schedule_run: None,
            })
            .await
            .unwrap();

        // First run: stopped once 2 x BUDGET objects are copied.
        let recorder = Arc::new(Recorder::new(catalog.clone(), job.id.clone()));
        let stop = Stop::new();
        let first = run(
            &source,
            &dest,
            recorder.clone(),
            Arc::new(StopAfter {
                recorder: recorder.clone(),
                copied: AtomicUsize::new(0),
                after: 2 * BUDGET,
                stop: stop.clone(),
            }),
            stop,
            None,
        )
        .await;
        recorder.finish().await.unwrap();
        let copied_first = first.objects_copied as usize;
        assert!(
            (2 * BUDGET..files.len()).contains(&copied_first),
            "{to:?}: the first run copied {copied_first} of {}",
            files.len()
        );
        let versions_first = kit::versions(&dest).await;
        // An extra the second run's --delete must remove (and only it).
        kit::put_all(
            &dest,
            &BTreeMap::from([("zz-extra".to_owned(), b"x".to_vec())]),
        )
        .await;

        // What the first run met, held in indexes of BUDGET objects.
        let index = IndexOptions {
            in_memory: BUDGET,
            spill_dir: None,
        };
        let resume = catalog.resume_point(&job.id, true, &index).await.unwrap();
        assert!(
            resume.finished.spilled(),
            "{to:?}: finished objects spilled"
        );
        for (what, held) in [("pending", &resume.pending), ("finished", &resume.finished)] {
            assert!(
                held.peak_in_memory() <= BUDGET,
                "{to:?}: {} {what} objects held in memory",
                held.peak_in_memory()
            );
        }
        assert_eq!(
            resume.finished.left().unwrap() as usize,
            copied_first,
            "{to:?}"
        );

        // Second run: the rest, each object once; nothing the first run copied is touched.
        let recorder = Arc::new(Recorder::new(catalog.clone(), job.id.clone()));
        let second = run(
            &source,
            &dest,
            recorder.clone(),
            recorder.clone(),
            Stop::new(),
            Some(resume),
        )
        .await;
        recorder.finish().await.unwrap();
        assert!(second.failures.is_empty(), "{to:?}: {:?}", second.failures);
        assert_eq!(
            copied_first + second.objects_copied as usize,
            files.len(),
            "{to:?}: every object copied once across the two runs"
        );
        assert_eq!(
            second.objects_deleted, 1,
            "{to:?}: only the real extra deleted"
        );
        kit::assert_holds(&dest, "", &files).await;
        let versions = kit::versions(&dest).await;
        for (key, version) in &versions_first {
            assert_eq!(
                versions.get(key),
                Some(version),
                "{to:?}: {key:?} copied again"
            );
        }
    }
}
