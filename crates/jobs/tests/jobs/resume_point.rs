//! What the catalogue keeps of a listing cut short, and what a resumed listing then finds:
//! every key exactly once across the two runs, and nothing from ranges already listed. Against
//! S3 (moto), whose listings are cut in ranges (a local tree is listed in one).

use awcopy_engine::journal::Journal;
use awcopy_engine::lister::{list_ranges, ListJournal, ListerConfig};
use awcopy_jobs::{Catalog, CatalogAddress, JobCatalog, JobRecorder, NewJob, Recorder};
use awcopy_testkit::catalogue::CatalogPlace;
use awcopy_testkit::{self as kit, each_catalogue, Kind};
use std::collections::HashSet;
use std::sync::Arc;

each_catalogue!(
    a_listing_cut_short_resumes_with_only_the_unlisted_ranges,
    flavor = "multi_thread",
    worker_threads = 2
);
async fn a_listing_cut_short_resumes_with_only_the_unlisted_ranges(place: CatalogPlace) {
    let (location, _dir) = kit::fresh(Kind::S3, "resume-point").await;
    let store = kit::open(&location).await;
    let all: HashSet<String> = (0..3000)
        .map(|i| match i % 3 {
            0 => format!("a/{i:05}"),
            1 => format!("m/日本/{i:05}"),
            _ => format!("z/{i:05}"),
        })
        .collect();
    kit::put_tiny(&store, all.iter().cloned()).await;
    let address: CatalogAddress = place.address().parse().unwrap();
    let catalog = Catalog::open(address).await.unwrap();
    let job = catalog
        .create_job(NewJob {
            user: "u".into(),
            name: None,
            command: "cp".into(),
            source: "s".into(),
            dest: "d".into(),
            spec: serde_json::json!({}),
            schedule_run: None,
        })
        .await
        .unwrap();
    let config = ListerConfig {
        parallelism: 4,
        page_size: 100,
        channel_capacity: 1,
        ..ListerConfig::default()
    };

    // First run: the consumer stops after 700 objects.
    let recorder = Arc::new(Recorder::new(catalog.clone(), job.id.clone()));
    let whole = awcopy_engine::journal::ListRange::whole(0);
    recorder.range_opened(&whole);
    let mut first = list_ranges(
        store.clone(),
        "",
        config.clone(),
        Default::default(),
        vec![whole],
        Some(ListJournal {
            journal: recorder.clone(),
            next_id: 1,
        }),
    );
    let mut consumed = HashSet::new();
    while consumed.len() < 700 {
        consumed.insert(first.recv().await.unwrap().unwrap().key);
    }
    drop(first);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    recorder.finish().await.unwrap();

    let resume = catalog
        .resume_point(&job.id, true, &Default::default())
        .await
        .unwrap();
    assert!(!resume.ranges.is_empty(), "the listing was cut short");
    assert!(
        resume
            .ranges
            .iter()
            .any(|r| r.id != 0 || r.before.is_some()),
        "the listing was cut in ranges: {:?}",
        resume.ranges
    );
    let pending: HashSet<String> = resume
        .pending
        .keys_left()
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert!(
        consumed.is_subset(&pending),
        "every object handed out is pending (none finished)"
    );
    assert!(resume.finished.is_empty(), "none finished");
    assert!(pending.len() < all.len());

    // Second run: only the unfinished ranges.
    let mut second = list_ranges(
        store,
        "",
        config,
        Default::default(),
        resume.ranges.clone(),
        None,
    );
    let mut relisted = Vec::new();
    while let Some(item) = second.recv().await {
        relisted.push(item.unwrap().key);
    }
    let fresh: Vec<&String> = relisted.iter().filter(|k| !pending.contains(*k)).collect();
    // Ranges resume after their last recorded key, cut where they were cut.
    assert_eq!(relisted.len(), fresh.len(), "no listed key is listed again");
    let union: HashSet<String> = pending
        .iter()
        .cloned()
        .chain(fresh.into_iter().cloned())
        .collect();
    assert_eq!(union, all, "every key found once across the two runs");
    assert_eq!(
        relisted.len(),
        relisted.iter().collect::<HashSet<_>>().len(),
        "no key twice in one run"
    );
}
