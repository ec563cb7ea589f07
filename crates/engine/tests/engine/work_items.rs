//! Work items against the emulators: the blocks of one large object staged by two executors
//! (two agents, each with limits of its own), every item sent through JSON first as it would
//! travel through a queue, one block run twice, the commit run by either executor (and run
//! again), and a batch of small objects copied whole, then delivered again. Every copy is
//! checked byte by byte.

use awcopy_engine::batching::{BatchLimits, Batching};
use awcopy_engine::copy::{copy, ConcurrencyLimit, CopyOptions, CopyPlan, Progress};
use awcopy_engine::estimate::Route;
use awcopy_engine::execute::ItemExecutor;
use awcopy_engine::filter::Filter;
use awcopy_engine::journal::{Journal, ListRange, UploadRecord};
use awcopy_engine::work::{
    block_ranges, BlockItem, CommitItem, ObjectItem, WorkDone, WorkItem, WorkQueue,
};
use awcopy_store::PartReceipt;
use awcopy_testkit::{self as kit, Kind};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// `item` as it arrives from a queue: serialized and read back.
fn through_the_wire(item: &WorkItem) -> WorkItem {
    let json = serde_json::to_string(item).unwrap();
    let back: WorkItem = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, item);
    back
}

/// An agent's limits: 1 MiB blocks, 4 requests in flight.
fn agent_options() -> CopyOptions {
    CopyOptions {
        block_size: 1 << 20,
        concurrency: ConcurrencyLimit::Fixed(4),
        ..CopyOptions::default()
    }
}

async fn staged(executor: &ItemExecutor, item: &WorkItem) -> PartReceipt {
    match executor.run(&through_the_wire(item)).await.unwrap() {
        WorkDone::Staged { part, .. } => part,
        other => panic!("a block item gave {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_executors_stage_the_blocks_of_one_object_and_either_commits_or_copies_a_batch() {
    for (from, to, route) in [
        (Kind::S3, Kind::Azure, Route::Streamed),
        (Kind::Azure, Kind::S3, Route::Streamed),
        (Kind::Local, Kind::Azure, Route::Streamed),
        (Kind::Azure, Kind::Local, Route::Streamed),
        (Kind::S3, Kind::S3, Route::Native),
    ] {
        let (source_location, _source_dir) = kit::fresh(from, "items-src").await;
        let (dest_location, _dest_dir) = kit::fresh(to, "items-dst").await;
        let (source, dest) = (
            kit::open(&source_location).await,
            kit::open(&dest_location).await,
        );
        let key = "dir/large ünï.bin";
        let data = kit::pattern((11 << 20) + 5, 9);
        source
            .put(key, data.clone().into(), &Default::default(), None)
            .await
            .unwrap();
        let options = agent_options();
        let agents = [
            ItemExecutor::new(source.clone(), dest.clone(), options.executor_options()),
            ItemExecutor::new(source.clone(), dest.clone(), options.executor_options()),
        ];

        // The planner's part: the object looked up, its upload opened, one item per block.
        let head = source.head(key).await.unwrap();
        let part = dest.capabilities().part_size_for(head.size, 1 << 20);
        let upload = dest.create_upload(key, &head.attributes).await.unwrap();
        let blocks: Vec<WorkItem> = block_ranges(head.size, part)
            .into_iter()
            .enumerate()
            .map(|(i, range)| {
                WorkItem::Block(BlockItem {
                    source_key: key.to_owned(),
                    dest_key: key.to_owned(),
                    upload: upload.clone(),
                    number: i as u32 + 1,
                    range,
                    route,
                })
            })
            .collect();
        assert!(blocks.len() >= 3, "{to:?}: {} blocks", blocks.len());

        // Odd blocks to one agent, even to the other, at once; then block 1 again, elsewhere.
        let runs = blocks.iter().enumerate().map(|(i, item)| {
            let agent = &agents[i % 2];
            async move { (i % 2, staged(agent, item).await) }
        });
        let results = futures::future::join_all(runs).await;
        let mut by_agent = [0usize; 2];
        let mut parts = BTreeMap::new();
        for (agent, receipt) in results {
            by_agent[agent] += 1;
            parts.insert(receipt.number, receipt);
        }
        assert!(by_agent.iter().all(|&n| n >= 1), "{by_agent:?}");
        let again = staged(&agents[1], &blocks[0]).await;
        assert_eq!(
            again.handle, parts[&1].handle,
            "a block staged twice is the same block"
        );
        if route == Route::Streamed {
            for agent in &agents {
                assert!(agent.progress().bytes_done.load(Ordering::Relaxed) > 0);
            }
        }

        let commit = WorkItem::Commit(CommitItem {
            source_key: key.to_owned(),
            dest_key: key.to_owned(),
            upload,
            parts: parts.into_values().collect(),
            attributes: head.attributes.clone(),
            source_crc: head.checksums.crc64nvme,
            route,
        });
        let done = agents[0].run(&through_the_wire(&commit)).await.unwrap();
        assert_eq!(done, WorkDone::Committed);
        // Run again (its agent died before saying so): where the upload is gone (a local
        // destination), the object is there, and that is a commit.
        let again = agents[1].run(&through_the_wire(&commit)).await;
        assert_eq!(
            again.unwrap(),
            WorkDone::Committed,
            "{to:?}: commit run twice"
        );

        let expected = BTreeMap::from([(key.to_owned(), data)]);
        small_objects_go_whole_in_a_batch_and_are_not_copied_twice(
            &agents, &source, &dest, route, to, expected,
        )
        .await;
    }
}

/// Small objects go whole, in one batch, to whichever agent; delivered again, objects written
/// since the item was queued are not copied again (their times stay), and those written
/// before it was queued are. `expected` is what the destination holds already.
async fn small_objects_go_whole_in_a_batch_and_are_not_copied_twice(
    agents: &[ItemExecutor; 2],
    source: &Arc<dyn awcopy_store::Store>,
    dest: &Arc<dyn awcopy_store::Store>,
    route: Route,
    to: Kind,
    expected: BTreeMap<String, Vec<u8>>,
) {
    let mut expected = expected;
    let mut objects = Vec::new();
    for (i, small) in ["s/one", "s/two ü", "s/three"].into_iter().enumerate() {
        let bytes = kit::pattern(1000 * (i + 1), i as u64);
        source
            .put(small, bytes.clone().into(), &Default::default(), None)
            .await
            .unwrap();
        objects.push(ObjectItem {
            source: source.head(small).await.unwrap(),
            dest_key: small.to_owned(),
            route,
        });
        expected.insert(small.to_owned(), bytes);
    }
    let batch = WorkItem::Objects { objects };
    let WorkDone::Objects { outcomes } = agents[1].run(&through_the_wire(&batch)).await.unwrap()
    else {
        panic!("a batch gives outcomes")
    };
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes.iter().all(|o| o.error.is_none()), "{outcomes:?}");
    kit::assert_holds(dest, "", &expected).await;

    // Delivered again: objects written since the item was queued are not copied again
    // (their times stay); written before it was queued, they are.
    let times = || async {
        let mut times = Vec::new();
        for key in ["s/one", "s/two ü", "s/three"] {
            times.push(dest.head(key).await.unwrap().last_modified);
        }
        times
    };
    let written = times().await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let queued_before = time::OffsetDateTime::now_utc() - std::time::Duration::from_secs(60);
    let done = agents[0].run_again(&batch, queued_before).await.unwrap();
    assert!(
        matches!(&done, WorkDone::Objects { outcomes } if outcomes.iter().all(|o| o.error.is_none())),
        "{done:?}"
    );
    assert_eq!(times().await, written, "{to:?}: copied again");
    let queued_after = time::OffsetDateTime::now_utc();
    agents[0].run_again(&batch, queued_after).await.unwrap();
    let rewritten = times().await;
    assert!(
        rewritten.iter().zip(&written).all(|(new, old)| new > old),
        "{to:?}: a copy older than the item is copied again: {written:?} -> {rewritten:?}"
    );
    kit::assert_holds(dest, "", &expected).await;
}

/// Two agents behind one queue, taking items in turn; each item crosses the wire.
#[derive(Debug)]
struct TwoAgents {
    agents: [ItemExecutor; 2],
    next: AtomicUsize,
    /// Streamed blocks each agent staged.
    blocks: [AtomicUsize; 2],
    /// Server-side blocks sent (Azurite cannot read from moto: the probe fails).
    server_side: AtomicUsize,
    /// Whole objects sent.
    whole: AtomicUsize,
}

#[async_trait::async_trait]
impl WorkQueue for TwoAgents {
    async fn run(&self, item: WorkItem) -> Result<WorkDone, awcopy_store::StoreError> {
        let agent = self.next.fetch_add(1, Ordering::Relaxed) % 2;
        match &item {
            WorkItem::Block(block) if block.route == Route::Streamed => {
                self.blocks[agent].fetch_add(1, Ordering::Relaxed);
            }
            WorkItem::Block(_) => {
                self.server_side.fetch_add(1, Ordering::Relaxed);
            }
            WorkItem::Objects { objects } => {
                self.whole.fetch_add(objects.len(), Ordering::Relaxed);
            }
            WorkItem::Commit(_) => {}
        }
        self.agents[agent].run(&through_the_wire(&item)).await
    }
}

/// The whole pipeline with its work items sent through a queue to two agents: each large
/// object's blocks are staged by both, the journal records every block, the small object goes
/// whole, and the copy is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_sends_its_work_items_through_the_queue_to_either_agent() {
    let (source_location, _source_dir) = kit::fresh(Kind::S3, "queue-src").await;
    let (dest_location, _dest_dir) = kit::fresh(Kind::Azure, "queue-dst").await;
    let (source, dest) = (
        kit::open(&source_location).await,
        kit::open(&dest_location).await,
    );
    let files = BTreeMap::from([
        ("a/large one".to_owned(), kit::pattern((5 << 20) + 3, 1)),
        ("b/large two".to_owned(), kit::pattern(4 << 20, 2)),
        ("small".to_owned(), b"small".to_vec()),
    ]);
    kit::put_all(&source, &files).await;
    let options = agent_options();
    let queue = Arc::new(TwoAgents {
        agents: [
            ItemExecutor::new(source.clone(), dest.clone(), options.executor_options()),
            ItemExecutor::new(source.clone(), dest.clone(), options.executor_options()),
        ],
        next: AtomicUsize::new(0),
        blocks: [AtomicUsize::new(0), AtomicUsize::new(0)],
        server_side: AtomicUsize::new(0),
        whole: AtomicUsize::new(0),
    });
    let journal = Arc::new(Staged::default());
    let options = CopyOptions {
        queue: Some(queue.clone()),
        journal: Some(journal.clone()),
        ..options
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
    assert_eq!(report.objects_copied, 3);
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    kit::assert_holds(&dest, "", &files).await;
    let by_agent = queue.blocks.each_ref().map(|n| n.load(Ordering::Relaxed));
    assert_eq!(by_agent.iter().sum::<usize>(), 6 + 4, "one item per block");
    assert!(by_agent.iter().all(|&n| n >= 2), "{by_agent:?}");
    let probes = queue.server_side.load(Ordering::Relaxed);
    assert!(
        probes <= 1,
        "{probes} server-side blocks sent: one probe at most"
    );
    let staged = journal.0.lock().unwrap().clone();
    assert_eq!(staged.len(), 10, "every block journaled where the job runs");
}

/// A journal that keeps the blocks staged, by (key, number).
#[derive(Debug, Default)]
struct Staged(std::sync::Mutex<Vec<(String, u32)>>);

impl Journal for Staged {
    fn range_opened(&self, _: &ListRange) {}
    fn page_listed(&self, _: u64, _: &[awcopy_store::ObjectMeta]) {}
    fn range_split(&self, _: u64, _: &str, _: &ListRange) {}
    fn range_done(&self, _: u64) {}
    fn upload_started(&self, _: &str, _: &UploadRecord) {}
    fn part_staged(&self, key: &str, part: &PartReceipt, _: Option<&str>) {
        self.0.lock().unwrap().push((key.to_owned(), part.number));
    }
    fn server_side_unreachable(&self, _: &str) {}
}

/// A queue that runs every item on one executor and keeps the size of each batch it gets.
#[derive(Debug)]
struct Counting {
    agent: ItemExecutor,
    batches: std::sync::Mutex<Vec<usize>>,
}

#[async_trait::async_trait]
impl WorkQueue for Counting {
    async fn run(&self, item: WorkItem) -> Result<WorkDone, awcopy_store::StoreError> {
        if let WorkItem::Objects { objects } = &item {
            self.batches.lock().unwrap().push(objects.len());
        }
        self.agent.run(&through_the_wire(&item)).await
    }
}

/// Small objects sent one at a time through [`Batching`] reach the queue in batches, and each
/// sender gets its own object's outcome: one object that cannot be read fails alone. A whole
/// copy through it sends far fewer items than objects, and copies every byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batching_gathers_small_objects_and_answers_each_its_own() {
    let (source_location, _source_dir) = kit::fresh(Kind::S3, "batch-src").await;
    let (dest_location, _dest_dir) = kit::fresh(Kind::Azure, "batch-dst").await;
    let (source, dest) = (
        kit::open(&source_location).await,
        kit::open(&dest_location).await,
    );
    let files: BTreeMap<String, Vec<u8>> = (0..100)
        .map(|i| (format!("s/{i:03} ü"), kit::pattern(10 + i * 37, i as u64)))
        .collect();
    kit::put_all(&source, &files).await;
    let counting = Arc::new(Counting {
        agent: ItemExecutor::new(
            source.clone(),
            dest.clone(),
            agent_options().executor_options(),
        ),
        batches: Default::default(),
    });
    // Each batch waits long enough for what a busy machine sends it (the default's 5 ms is a
    // round trip's worth; here the count of batches is what is asserted, not their speed).
    let limits = BatchLimits {
        linger: Duration::from_millis(250),
        ..BatchLimits::default()
    };
    let batching = Batching::new(counting.clone(), limits);

    let mut objects = Vec::new();
    for key in files.keys().take(39) {
        objects.push(source.head(key).await.unwrap());
    }
    objects.insert(17, awcopy_store::ObjectMeta::new("s/missing", 5));
    let sends = objects.iter().map(|meta| {
        let item = WorkItem::Objects {
            objects: vec![ObjectItem {
                source: meta.clone(),
                dest_key: meta.key.clone(),
                route: Route::Streamed,
            }],
        };
        let batching = &batching;
        async move { (meta.key.clone(), batching.run(item).await.unwrap()) }
    });
    for (key, done) in futures::future::join_all(sends).await {
        let WorkDone::Objects { outcomes } = done else {
            panic!("{key}: {done:?}")
        };
        assert_eq!(outcomes.len(), 1, "{key}");
        assert_eq!(outcomes[0].key, key, "each sender gets its own outcome");
        assert_eq!(
            outcomes[0].error.is_some(),
            key == "s/missing",
            "{key}: {outcomes:?}"
        );
    }
    let batches = counting.batches.lock().unwrap().clone();
    assert_eq!(batches.iter().sum::<usize>(), 40, "{batches:?}");
    assert!((2..=4).contains(&batches.len()), "{batches:?}");

    counting.batches.lock().unwrap().clear();
    let options = CopyOptions {
        queue: Some(Arc::new(batching)),
        ..agent_options()
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
    assert_eq!(report.objects_copied, 100);
    kit::assert_holds(&dest, "", &files).await;
    let batches = counting.batches.lock().unwrap().clone();
    // One more than the objects: the first went server-side, which Azurite cannot do from
    // moto, and went again streamed.
    assert_eq!(batches.iter().sum::<usize>(), 101, "{batches:?}");
    assert!(
        batches.len() <= 25,
        "{} items for 100 objects: {batches:?}",
        batches.len()
    );
}
