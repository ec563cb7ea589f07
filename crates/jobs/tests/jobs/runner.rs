//! The job runner with no CLI involved: jobs started from a `JobSpec` on every kind of route,
//! then paused, resumed, cancelled and retried through the runner's API, against the
//! emulators. Every copy is checked key by key and byte by byte.

use awcopy_engine::copy::{ConcurrencyLimit, NamePolicy};
use awcopy_engine::events::{Action, EventSink, ObjectEvent};
use awcopy_engine::spec::{JobSpec, Mode};
use awcopy_jobs::runner::{
    Access, JobEvent, JobHandle, JobRunner, Prepared, Refusal, RunError, RunHooks,
};
use awcopy_jobs::{Catalog, CatalogAddress, JobCatalog, Status};
use awcopy_store::Location;
use awcopy_testkit::catalogue::CatalogPlace;
use awcopy_testkit::{self as kit, each_catalogue, Kind};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A recursive copy job from `source` to `dest` (as typed), in small blocks.
fn spec(source: String, dest: String) -> JobSpec {
    let mut spec = JobSpec::new(Mode::Copy, source, dest);
    spec.recursive = true;
    spec.user = "runner-test".into();
    spec.s3_endpoint = Some(kit::s3_endpoint());
    spec.sizes.block_size = 256 << 10;
    spec.sizes.get_cutoff = 256 << 10;
    spec
}

/// Starts `spec` on `runner`; returns the handle and the job's id.
async fn start(runner: &JobRunner, spec: JobSpec, allow_duplicate: bool) -> (JobHandle, String) {
    let prepared = Prepared::new(spec, &Access::default()).await.unwrap();
    let handle = runner
        .start(prepared, RunHooks::default(), allow_duplicate, None)
        .await
        .unwrap();
    let id = handle.job().unwrap().id.clone();
    (handle, id)
}

/// A runner over the catalogue at `place`.
async fn runner(place: &CatalogPlace) -> JobRunner {
    let address: CatalogAddress = place.address().parse().unwrap();
    JobRunner::new(Arc::new(Catalog::open(address).await.unwrap()))
}

/// Counts the objects copied, as object events say.
#[derive(Debug, Default)]
struct CountCopied(AtomicUsize);

impl EventSink for CountCopied {
    fn record(&self, event: &ObjectEvent<'_>) {
        if event.action == Action::Copied {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Waits until the job has an upload in progress with a staged block on record; returns it.
async fn first_upload(
    catalog: &Arc<dyn JobCatalog>,
    id: &str,
) -> awcopy_engine::journal::UploadRecord {
    for _ in 0..300 {
        let from = catalog
            .resume_point(id, false, &Default::default())
            .await
            .unwrap();
        if let Some(staged) = from.uploads.into_values().find(|u| !u.parts.is_empty()) {
            return staged.record;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no upload began");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_on_every_kind_of_route_with_no_cli() {
    let files = BTreeMap::from([
        ("a.txt".to_owned(), b"alpha".to_vec()),
        ("dir/ünï çødé.bin".to_owned(), kit::pattern(300 << 10, 1)),
        ("dir/big.bin".to_owned(), kit::pattern((11 << 20) + 7, 2)),
        ("empty".to_owned(), Vec::new()),
    ]);
    for (from, to) in [
        (Kind::Local, Kind::Local),
        (Kind::S3, Kind::Azure),
        (Kind::Azure, Kind::S3),
    ] {
        let (source, _source_dir) = kit::fresh(from, "runner-src").await;
        let (dest, _dest_dir) = kit::fresh(to, "runner-dst").await;
        kit::put_all(&kit::open(&source).await, &files).await;
        let place = CatalogPlace::sqlite();
        let runner = runner(&place).await;
        let spec = spec(kit::location_text(&source), kit::location_text(&dest));
        let prepared = Prepared::new(spec.clone(), &Access::default())
            .await
            .unwrap();
        // Object events counted as they happen (a subscriber to the handle's broadcast joins
        // after the start, when the first objects of a fast route may be done already).
        let copied_events = Arc::new(CountCopied::default());
        let hooks = RunHooks {
            events: Some(copied_events.clone()),
            ..RunHooks::default()
        };
        let handle = runner.start(prepared, hooks, false, None).await.unwrap();
        let mut events = handle.subscribe();
        let id = handle.job().unwrap().id.clone();
        let outcome = handle.wait().await.unwrap();
        let report = outcome.result.unwrap();
        assert_eq!(
            outcome.status,
            Some(Status::Completed),
            "{from:?} -> {to:?}"
        );
        assert_eq!(report.objects_copied, files.len() as u64);
        kit::assert_holds(&kit::open(&dest).await, "", &files).await;

        let mut last_status = None;
        while let Ok(event) = events.try_recv() {
            if let JobEvent::Status { status, .. } = event {
                last_status = Some(status);
            }
        }
        assert_eq!(
            copied_events.0.load(Ordering::Relaxed),
            files.len(),
            "one copied event per object"
        );
        assert_eq!(last_status, Some(Status::Completed));
        let record = runner.catalog().find(&id).await.unwrap();
        assert_eq!(
            record.job_spec().unwrap(),
            spec,
            "the catalogue keeps the spec"
        );
        assert_eq!(record.objects_copied, files.len() as i64);
    }
}

each_catalogue!(
    pause_resume_cancel_and_retry_through_the_runner,
    flavor = "multi_thread",
    worker_threads = 2
);
async fn pause_resume_cancel_and_retry_through_the_runner(place: CatalogPlace) {
    let files = BTreeMap::from([
        // 25 blocks at 2 in flight through 150 ms: ~2 s of staging, well over the 500 ms in
        // which a running job notices a pause or cancel asked through the catalogue.
        ("big.bin".to_owned(), kit::pattern((6 << 20) + 5, 3)),
        ("small".to_owned(), b"small".to_vec()),
    ]);
    let source = kit::new_s3_bucket("runner-pause").await;
    kit::put_all(&kit::open(&source).await, &files).await;
    let proxy = kit::fault_proxy::slow_azure(150).await;
    let runner = runner(&place).await;
    let catalog = runner.catalog().clone();
    // Another runner over the same catalogue: pause and cancel reach the job through it.
    let elsewhere = JobRunner::new(catalog.clone());
    let slow_spec = |container: &Location| {
        let mut spec = spec(
            kit::location_text(&source),
            kit::fault_proxy::through(&proxy, container),
        );
        spec.tuning.concurrency = ConcurrencyLimit::Fixed(2);
        spec
    };

    // Paused while it runs, then resumed: the blocks staged before the pause are used again.
    let container = kit::new_azure_container("runner-pause").await;
    let (handle, id) = start(&runner, slow_spec(&container), false).await;
    first_upload(&catalog, &id).await;
    let paused = elsewhere.pause(&id).await.unwrap();
    assert_eq!(paused.status, Status::Paused);
    let outcome = handle.wait().await.unwrap();
    assert!(outcome.interrupted);
    assert_eq!(outcome.status, Some(Status::Paused));
    let refused = runner
        .retry(&id, &Access::default(), RunHooks::default(), None)
        .await
        .unwrap_err();
    assert!(matches!(refused, RunError::Refused(Refusal::Unfinished(_))));
    let resumed = runner
        .resume(&id, &Access::default(), RunHooks::default())
        .await
        .unwrap();
    assert!(resumed.resumed().unwrap().uploads >= 1);
    let outcome = resumed.wait().await.unwrap();
    assert_eq!(outcome.status, Some(Status::Completed));
    assert!(outcome.result.unwrap().blocks_reused >= 1);
    kit::assert_holds(&kit::open(&container).await, "", &files).await;
    let refused = runner
        .resume(&id, &Access::default(), RunHooks::default())
        .await
        .unwrap_err();
    assert!(matches!(refused, RunError::Refused(Refusal::Completed(_))));

    // Cancelled while it runs: it stops, its upload and staged blocks are gone, nothing is
    // half-written.
    let container = kit::new_azure_container("runner-cancel").await;
    let (handle, id) = start(&runner, slow_spec(&container), true).await;
    let upload = first_upload(&catalog, &id).await;
    let (cancelled, aborted) = elsewhere.cancel(&id, &Access::default()).await.unwrap();
    assert_eq!((cancelled.status, aborted), (Status::Cancelled, 1));
    assert!(handle.wait().await.unwrap().interrupted);
    let dest = kit::open(&container).await;
    assert!(dest
        .list_parts("big.bin", &upload.upload)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        dest.head("big.bin").await.unwrap_err().kind(),
        awcopy_store::ErrorKind::NotFound
    );
    let refused = runner.cancel(&id, &Access::default()).await.unwrap_err();
    assert!(matches!(
        refused,
        RunError::Refused(Refusal::NothingToStop(_))
    ));

    a_refused_name_fails_then_a_retry_under_map_copies_only_it(&runner, &catalog).await;
}

/// A name Azure cannot hold fails under the `fail` policy; a retry under `map` copies it,
/// and only it.
async fn a_refused_name_fails_then_a_retry_under_map_copies_only_it(
    runner: &JobRunner,
    catalog: &Arc<dyn JobCatalog>,
) {
    let source = kit::new_s3_bucket("runner-retry").await;
    let named = BTreeMap::from([
        ("ok".to_owned(), b"ok".to_vec()),
        ("back\\slash".to_owned(), b"refused".to_vec()),
    ]);
    kit::put_all(&kit::open(&source).await, &named).await;
    let container = kit::new_azure_container("runner-retry").await;
    let mut strict = spec(kit::location_text(&source), kit::location_text(&container));
    strict.name_policy = NamePolicy::Fail;
    let (first, id) = start(runner, strict, false).await;
    let outcome = first.wait().await.unwrap();
    assert_eq!(outcome.status, Some(Status::CompletedWithFailures));
    let failures = catalog.failures(&id, &Default::default()).await.unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].key, "back\\slash");
    let retried = runner
        .retry(
            &id,
            &Access::default(),
            RunHooks::default(),
            Some(NamePolicy::Map),
        )
        .await
        .unwrap();
    assert_eq!(retried.resumed().unwrap().pending, 1);
    let outcome = retried.wait().await.unwrap();
    assert_eq!(outcome.status, Some(Status::Completed));
    assert_eq!(
        outcome.result.unwrap().objects_copied,
        1,
        "only the failure"
    );
    assert!(catalog
        .failures(&id, &Default::default())
        .await
        .unwrap()
        .is_empty());
    let dest = kit::open(&container).await;
    let mapped = dest.mapped_name("back\\slash").unwrap();
    let held = BTreeMap::from([
        ("ok".to_owned(), b"ok".to_vec()),
        (mapped, b"refused".to_vec()),
    ]);
    kit::assert_holds(&dest, "", &held).await;
}
