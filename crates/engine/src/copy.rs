//! The copy executor: takes listed objects, routes each (server-side within a service, pulled
//! from a URL by the destination, or streamed through this machine), splits large objects into
//! blocks that transfer in parallel, retries what is worth retrying, verifies checksums, and
//! reports what happened to every object.
//!
//! Memory stays bounded: every streamed block or small object reserves its bytes from the memory
//! budget (and holds a slot of the concurrency) while they are in memory, so at most the budget
//! and at most `concurrency x block size` bytes are in flight, and nothing is written to local
//! disk. A destination that writes streams (local disk) reserves only its write buffer.

use awcopy_store::{
    ByteRange, ByteStream, Checksums, CopySourceKind, ErrorKind, ListRequest, ObjectAttributes,
    ObjectMeta, PartReceipt, Store, StoreError, UploadId,
};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::body::BodyReader;
use crate::checksum::combine_all;
use crate::concurrency::{spawn_controller, Concurrency};
use crate::estimate::{Cutoffs, Route};
use crate::events::{Action, EventSink, ObjectEvent};
use crate::filter::Filter;
use crate::journal::{Journal, ListRange, ResumeFrom, StagedUpload, Stop, UploadRecord};
use crate::limits::Limits;
use crate::lister::{list_parallel, list_ranges, ListJournal, ListerConfig};
use crate::memory::MemoryBudget;
use crate::overwrite::{decide, Confirm, Overwrite};
use crate::retry::{RetryPolicy, RetryStats};
use crate::server_side::{ServerSide, ServerSideGate};

/// How to copy.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Preferred block size; grown per object to fit the destination's part limits.
    pub block_size: u64,
    /// Requests (blocks and small objects) in flight at once: a fixed ceiling, or adaptive.
    /// Either way throttling lowers it for a while.
    pub concurrency: ConcurrencyLimit,
    /// Bytes of streamed objects and blocks held in memory at once.
    pub memory: u64,
    /// Sizes up to which objects go whole rather than by blocks.
    pub cutoffs: Cutoffs,
    /// Listing settings.
    pub lister: ListerConfig,
    /// Retry settings for every request.
    pub retry: RetryPolicy,
    /// Lifetime of each presigned / SAS source URL (minted afresh per request).
    pub url_lifetime: Duration,
    /// Plan only: list and filter, write nothing.
    pub dry_run: bool,
    /// What to do with objects that already exist at the destination.
    pub overwrite: Overwrite,
    /// Asked per existing object under [`Overwrite::Prompt`].
    pub confirm: Option<Arc<dyn Confirm>>,
    /// Delete each source object once its copy is verified (`mv`).
    pub delete_source: bool,
    /// Delete destination objects the source does not have (`sync --delete`); skipped when
    /// any object failed.
    pub delete_extras: bool,
    /// Where each object's outcome is recorded (`--log`, `--json`).
    pub events: Option<Arc<dyn EventSink>>,
    /// What to do with names the destination cannot hold as written.
    pub name_policy: NamePolicy,
    /// At most this many requests per second (`--max-rps`).
    pub max_rps: Option<u32>,
    /// At most this many bytes per second through this machine (`--bandwidth`).
    pub bandwidth: Option<u64>,
    /// A read that brings no byte for this long is a stalled stream, retried as a network error.
    pub stall_timeout: Duration,
    /// Where listing progress and staged blocks are recorded, for resume.
    pub journal: Option<Arc<dyn Journal>>,
    /// Cancelled to stop: no new object or block starts, those in flight finish (for at most
    /// `drain_timeout`), staged uploads are kept for resume.
    pub stop: Option<Stop>,
    /// How long a stop waits for work in flight.
    pub drain_timeout: Duration,
}

/// How many blocks and small objects may be in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcurrencyLimit {
    /// Up to this many (halved while the service throttles).
    Fixed(usize),
    /// Search for the limit past which throughput stops growing.
    Auto,
}

/// What to do with a key the destination cannot hold as written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NamePolicy {
    /// Store it under the destination's replacement name, and record the pair.
    #[default]
    Map,
    /// Leave it out, counted and journaled.
    Skip,
    /// Count it as failed.
    Fail,
}

impl std::str::FromStr for NamePolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "map" => Ok(Self::Map),
            "skip" => Ok(Self::Skip),
            "fail" => Ok(Self::Fail),
            other => Err(format!(
                "'{other}' is not a name policy; use map, skip or fail"
            )),
        }
    }
}

/// A source key stored under another name at the destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappedName {
    /// The source key.
    pub source: String,
    /// The destination key it was stored under.
    pub dest: String,
}

/// The default memory budget: 12 blocks of 8 MiB, which keeps the peak RSS of a large copy
/// under 200 MiB (allocator and runtime come on top; 128 MiB measured 207 MiB).
pub const DEFAULT_MEMORY: u64 = 96 << 20;

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            block_size: 8 << 20,
            concurrency: ConcurrencyLimit::Auto,
            memory: DEFAULT_MEMORY,
            cutoffs: Cutoffs::default(),
            lister: ListerConfig::default(),
            retry: RetryPolicy::default(),
            url_lifetime: Duration::from_secs(3600),
            dry_run: false,
            overwrite: Overwrite::Always,
            confirm: None,
            delete_source: false,
            delete_extras: false,
            events: None,
            name_policy: NamePolicy::Map,
            max_rps: None,
            bandwidth: None,
            stall_timeout: Duration::from_secs(60),
            journal: None,
            stop: None,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// What to copy: objects under `list_prefix` (or the one object `single_key`), each to
/// `dest_prefix` + its key with the first `strip` bytes removed.
#[derive(Debug, Clone)]
pub struct CopyPlan {
    /// Where objects come from.
    pub source: Arc<dyn Store>,
    /// Where they go.
    pub dest: Arc<dyn Store>,
    /// The prefix listed in the source.
    pub list_prefix: String,
    /// Copy this one key instead of listing.
    pub single_key: Option<String>,
    /// Bytes of each source key replaced by `dest_prefix`.
    pub strip: usize,
    /// Prefix of every destination key.
    pub dest_prefix: String,
    /// What a previous run of the job left to do; `None` for a new job.
    pub resume: Option<ResumeFrom>,
}

impl CopyPlan {
    /// Everything under `list_prefix` in `source`, each to `dest_prefix` + the rest of its key.
    pub fn under(
        source: Arc<dyn Store>,
        dest: Arc<dyn Store>,
        list_prefix: impl Into<String>,
        dest_prefix: impl Into<String>,
    ) -> Self {
        let list_prefix = list_prefix.into();
        Self {
            source,
            dest,
            strip: list_prefix.len(),
            list_prefix,
            single_key: None,
            dest_prefix: dest_prefix.into(),
            resume: None,
        }
    }

    /// The destination key of a source key.
    pub fn dest_key(&self, source_key: &str) -> String {
        format!(
            "{}{}",
            self.dest_prefix,
            &source_key[self.strip.min(source_key.len())..]
        )
    }
}

/// Live counters, read by the progress display while a copy runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Objects listed (after filtering).
    pub objects_listed: AtomicU64,
    /// Their bytes.
    pub bytes_listed: AtomicU64,
    /// Objects copied.
    pub objects_done: AtomicU64,
    /// Bytes of objects copied, or blocks of objects in progress.
    pub bytes_done: AtomicU64,
    /// Objects left out by the filter.
    pub objects_skipped: AtomicU64,
    /// Objects that failed.
    pub objects_failed: AtomicU64,
    /// Source objects deleted after their copy (`mv`).
    pub objects_deleted: AtomicU64,
    /// Blocks a previous run staged, used instead of sent again.
    pub blocks_reused: AtomicU64,
    /// Bytes that passed through this machine.
    pub bytes_streamed: AtomicU64,
    /// Bytes copied by the services themselves.
    pub bytes_server_side: AtomicU64,
    /// Retries and throttling.
    pub retry: Arc<RetryStats>,
    /// The limit on requests in flight now.
    pub concurrency: AtomicU64,
}

/// An object that could not be copied.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectFailure {
    /// Its source key.
    pub key: String,
    /// The class of the error.
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
}

/// The outcome of a copy.
#[derive(Debug, Clone, Serialize)]
pub struct CopyReport {
    /// The route taken (`streamed` when a server-side route fell back).
    pub route: Route,
    /// Objects copied (or planned, in a dry run).
    pub objects_copied: u64,
    /// Their bytes.
    pub bytes_copied: u64,
    /// Objects left out by filters.
    pub objects_skipped: u64,
    /// Objects left alone because they exist at the destination (overwrite policy).
    pub objects_kept: u64,
    /// Objects deleted: sources after their copy (`mv`), or destination extras (`sync --delete`).
    pub objects_deleted: u64,
    /// Keys stored under another name (`--name-policy map`): the mapping manifest.
    pub names_mapped: Vec<MappedName>,
    /// Keys left out because the destination cannot hold their names (`--name-policy skip`).
    pub names_skipped: u64,
    /// User metadata names the destination cannot keep as written, and what they became.
    pub metadata_names_mapped: Vec<MappedName>,
    /// Objects that failed, with why.
    pub failures: Vec<ObjectFailure>,
    /// Bytes that passed through this machine.
    pub bytes_streamed: u64,
    /// Bytes the services copied without this machine.
    pub bytes_server_side: u64,
    /// Blocks a previous run of the job staged, used again rather than sent again.
    pub blocks_reused: u64,
    /// Requests retried.
    pub retries: u64,
    /// Of which throttled.
    pub throttled: u64,
    /// Wall time.
    pub seconds: f64,
    /// Things the user should know (e.g. a fallback from server-side copy).
    pub notes: Vec<String>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Whether a stop ended it before everything was done (the job can resume).
    pub interrupted: bool,
}

/// A staged part and, for streamed parts, its CRC-64/NVME and length (combined into the
/// object's CRC at commit).
type StagedPart = (PartReceipt, Option<(u64, u64)>);

struct Executor {
    plan: CopyPlan,
    options: CopyOptions,
    route: Route,
    /// Whether the destination can copy from the source server-side: once it is found that
    /// it cannot, the job streams from then on.
    server_side: ServerSideGate,
    /// Requests in flight: a streamed block holds one slot for its GET and PUT.
    concurrency: Arc<Concurrency>,
    /// Bytes of streamed data in memory.
    memory: MemoryBudget,
    limits: Limits,
    progress: Arc<Progress>,
    notes: Mutex<Vec<String>>,
    /// Keys stored under another name, in the order they were met.
    mapped: Mutex<Vec<MappedName>>,
    /// Metadata names stored under another name, each once.
    metadata_mapped: Mutex<Vec<MappedName>>,
    /// Set once the destination root is known to exist (created, if need be, just before the
    /// first write, so a job that finds nothing to copy creates nothing).
    dest_ready: tokio::sync::OnceCell<()>,
    /// Uploads a previous run began, by source key, taken as their objects come up.
    staged: Mutex<HashMap<String, StagedUpload>>,
}

/// Copies what `plan` names. Errors that stop the whole job (listing failed, the source
/// object is missing) are returned; per-object failures are in the report.
pub async fn copy(
    plan: CopyPlan,
    options: CopyOptions,
    filter: Filter,
    progress: Arc<Progress>,
) -> Result<CopyReport, StoreError> {
    let mut plan = plan;
    let resume = plan.resume.take();
    let started = Instant::now();
    let route = Route::between(plan.source.capabilities(), plan.dest.capabilities());
    let executor = Arc::new(Executor {
        limits: Limits::new(options.max_rps, options.bandwidth),
        concurrency: Arc::new(match options.concurrency {
            ConcurrencyLimit::Fixed(n) => Concurrency::fixed(n),
            ConcurrencyLimit::Auto => Concurrency::auto(),
        }),
        memory: MemoryBudget::new(options.memory),
        server_side: ServerSideGate::new(
            match resume
                .as_ref()
                .and_then(|r| r.server_side_unreachable.clone())
            {
                Some(why) => ServerSide::Unreachable(why),
                None => ServerSide::Unknown,
            },
        ),
        route,
        plan,
        options,
        progress,
        notes: Mutex::new(Vec::new()),
        dest_ready: tokio::sync::OnceCell::new(),
        mapped: Mutex::new(Vec::new()),
        metadata_mapped: Mutex::new(Vec::new()),
        staged: Mutex::new(
            resume
                .as_ref()
                .map(|r| r.uploads.clone())
                .unwrap_or_default(),
        ),
    });

    if route != Route::Streamed && executor.server_side.unreachable() {
        executor.note_once(format!(
            "{} cannot read from {} server-side (found by an earlier run of this job); streaming through this machine",
            executor.plan.dest.display_root(),
            executor.plan.source.display_root()
        ));
    }
    let mut existing = executor.existing_dest_objects().await?;
    if let (Some(existing), Some(resume)) = (&mut existing, &resume) {
        // Objects a previous run finished are not listed again; their copies are no extras.
        let pending: HashSet<&str> = resume.pending.iter().map(|m| m.key.as_str()).collect();
        for key in resume
            .known
            .iter()
            .filter(|k| !pending.contains(k.as_str()))
        {
            existing.remove(&executor.dest_name(key));
        }
    }
    let (mut kept, mut names_skipped) = (0u64, 0u64);
    let mut objects = match &executor.plan.single_key {
        Some(key) => {
            let meta = executor.plan.source.head(key).await?;
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            tx.send(Ok(meta)).await.expect("receiver alive");
            rx
        }
        None => executor.objects_to_copy(resume),
    };

    let controller = {
        let counters = executor.clone();
        let shown = executor.progress.clone();
        spawn_controller(
            executor.concurrency.clone(),
            move || {
                let progress = &counters.progress;
                let done = progress.bytes_done.load(Ordering::Relaxed)
                    + progress.objects_done.load(Ordering::Relaxed);
                (progress.retry.throttled.load(Ordering::Relaxed), done)
            },
            move |limit| shown.concurrency.store(limit as u64, Ordering::Relaxed),
        )
    };
    // Objects in progress at once: enough to keep every slot busy with small objects.
    let slots = Arc::new(Semaphore::new(executor.concurrency.ceiling() * 2));
    let mut tasks = tokio::task::JoinSet::new();
    let mut failures = Vec::new();
    let (mut copied, mut copied_bytes) = (0u64, 0u64);
    // Set when the stop left something undone: objects cut short, or not started.
    let (mut cut_short, mut left_early) = (false, false);
    let mut record =
        |result: Result<Result<u64, ObjectFailure>, tokio::task::JoinError>| match result {
            Ok(Ok(size)) => {
                copied += 1;
                copied_bytes += size;
            }
            // Stopped objects stay unfinished in the journal: a resume copies them.
            Ok(Err(failure)) if failure.kind == ErrorKind::Interrupted => cut_short = true,
            Err(e) if e.is_cancelled() => cut_short = true,
            Ok(Err(failure)) => failures.push(failure),
            Err(e) => failures.push(ObjectFailure {
                key: String::new(),
                kind: ErrorKind::Other,
                message: format!("copy task failed: {e}"),
            }),
        };
    let stop = executor.options.stop.clone();
    loop {
        let item = tokio::select! {
            biased;
            () = stopped(&stop) => {
                left_early = true;
                break;
            }
            item = objects.recv() => match item {
                Some(item) => item,
                None => break,
            },
        };
        let meta = item?;
        // A source object, even one the filter leaves out, keeps its destination copy from
        // counting as an extra.
        let dest_key = match executor.resolve_name(&meta.key) {
            Ok(Some(dest_key)) => dest_key,
            Ok(None) => {
                names_skipped += 1;
                continue;
            }
            Err(failure) => {
                record(Ok(Err(failure)));
                continue;
            }
        };
        let current = existing.as_mut().and_then(|e| e.remove(&dest_key));
        let relative = &meta.key[executor.plan.strip.min(meta.key.len())..];
        if executor.plan.single_key.is_none() && !filter.accepts(relative, &meta) {
            executor
                .progress
                .objects_skipped
                .fetch_add(1, Ordering::Relaxed);
            executor.emit(ObjectEvent::now(Action::Skipped, &meta.key));
            continue;
        }
        if let Some(current) = current {
            if !executor.should_replace(&meta, &current).await {
                kept += 1;
                executor.emit(ObjectEvent {
                    dest_key: Some(&dest_key),
                    ..ObjectEvent::now(Action::Kept, &meta.key)
                });
                continue;
            }
        }
        executor
            .progress
            .objects_listed
            .fetch_add(1, Ordering::Relaxed);
        executor
            .progress
            .bytes_listed
            .fetch_add(meta.size, Ordering::Relaxed);
        let slot = slots.clone().acquire_owned().await.expect("semaphore open");
        if executor.check_stop().is_err() {
            left_early = true;
            break;
        }
        let executor = executor.clone();
        tasks.spawn(async move {
            let _slot = slot;
            executor.copy_object(meta, dest_key).await
        });
        while let Some(done) = tasks.try_join_next() {
            record(done);
        }
    }
    drop(objects);
    // Work in flight finishes; once a stop comes (before or during this wait), for at most
    // the drain timeout.
    let drained = {
        let drain = async {
            while let Some(done) = tasks.join_next().await {
                record(done);
            }
        };
        tokio::pin!(drain);
        tokio::select! {
            () = &mut drain => true,
            () = stopped(&stop) => {
                tokio::time::timeout(executor.options.drain_timeout, &mut drain)
                    .await
                    .is_ok()
            }
        }
    };
    if !drained {
        tasks.abort_all();
        while let Some(done) = tasks.join_next().await {
            record(done);
        }
    }
    let interrupted = left_early || cut_short;

    // What is left of the destination listing has no source object: the extras.
    let deleted_extras = match existing.filter(|_| executor.options.delete_extras) {
        Some(_) if interrupted => 0,
        Some(extras) if failures.is_empty() => {
            // Like the source side, only objects the filter takes are candidates.
            let prefix_len = executor.plan.dest_prefix.len();
            let doomed = extras
                .into_values()
                .filter(|meta| filter.accepts(&meta.key[prefix_len.min(meta.key.len())..], meta))
                .map(|meta| meta.key)
                .collect();
            executor.delete_extras(doomed).await?
        }
        Some(extras) => {
            executor.note_once(format!(
                "{} objects failed, so the {} destination objects without a source were not deleted",
                failures.len(),
                extras.len()
            ));
            0
        }
        None => 0,
    };
    controller.abort();
    let _ = controller.await;
    let executor = Arc::into_inner(executor).expect("all tasks finished");
    let retry = &executor.progress.retry;
    Ok(CopyReport {
        route: if executor.server_side.unreachable() {
            Route::Streamed
        } else {
            executor.route
        },
        objects_copied: copied,
        bytes_copied: copied_bytes,
        objects_skipped: executor.progress.objects_skipped.load(Ordering::Relaxed),
        objects_kept: kept,
        names_mapped: executor.mapped.into_inner().unwrap_or_default(),
        names_skipped,
        metadata_names_mapped: executor.metadata_mapped.into_inner().unwrap_or_default(),
        objects_deleted: executor.progress.objects_deleted.load(Ordering::Relaxed) + deleted_extras,
        failures,
        bytes_streamed: executor.progress.bytes_streamed.load(Ordering::Relaxed),
        bytes_server_side: executor.progress.bytes_server_side.load(Ordering::Relaxed),
        blocks_reused: executor.progress.blocks_reused.load(Ordering::Relaxed),
        retries: retry.retries.load(Ordering::Relaxed),
        throttled: retry.throttled.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        notes: executor.notes.into_inner().unwrap_or_default(),
        dry_run: executor.options.dry_run,
        interrupted,
    })
}

/// Resolves when `stop` is cancelled; never without one.
async fn stopped(stop: &Option<Stop>) {
    match stop {
        Some(stop) => stop.cancelled().await,
        None => std::future::pending().await,
    }
}

/// The error of work refused or cut short because the job is stopping.
fn interrupted() -> StoreError {
    StoreError::new(ErrorKind::Interrupted, "stopped before it finished")
}

impl Executor {
    /// `Err(Interrupted)` once the job is stopping: nothing new starts.
    fn check_stop(&self) -> Result<(), StoreError> {
        match &self.options.stop {
            Some(stop) if stop.is_cancelled() => Err(interrupted()),
            _ => Ok(()),
        }
    }

    /// The destination key `source_key` is stored under, mapped if the destination needs it.
    fn dest_name(&self, source_key: &str) -> String {
        let wanted = self.plan.dest_key(source_key);
        self.plan.dest.mapped_name(&wanted).unwrap_or(wanted)
    }

    /// The source objects to copy: for a resumed job, those listed before and not finished,
    /// then the ranges it had not listed to their end (passing over keys it met already);
    /// else everything under the prefix. Listing progress goes to the journal.
    fn objects_to_copy(
        &self,
        resume: Option<ResumeFrom>,
    ) -> tokio::sync::mpsc::Receiver<Result<ObjectMeta, StoreError>> {
        let journal = self.options.journal.clone();
        let resume = resume.unwrap_or_else(|| {
            let whole = ListRange::whole(0);
            if let Some(journal) = &journal {
                journal.range_opened(&whole);
            }
            ResumeFrom {
                ranges: vec![whole],
                next_range_id: 1,
                ..ResumeFrom::default()
            }
        });
        let mut listed = list_ranges(
            self.plan.source.clone(),
            &self.plan.list_prefix,
            self.options.lister.clone(),
            self.progress.retry.clone(),
            resume.ranges,
            journal.map(|journal| ListJournal {
                journal,
                next_id: resume.next_range_id,
            }),
        );
        let (pending, known) = (resume.pending, resume.known);
        if pending.is_empty() && known.is_empty() {
            // A new job: nothing to put first or to pass over.
            return listed;
        }
        let (tx, rx) = tokio::sync::mpsc::channel(self.options.lister.channel_capacity.max(1));
        tokio::spawn(async move {
            for meta in pending {
                if tx.send(Ok(meta)).await.is_err() {
                    return;
                }
            }
            while let Some(item) = listed.recv().await {
                if matches!(&item, Ok(meta) if known.contains(&meta.key)) {
                    continue;
                }
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        });
        rx
    }

    /// The upload to stage `head`'s parts in, and the parts already staged by number: the
    /// upload a previous run (or a server-side attempt of this one) began, when its source
    /// is unchanged and the destination still has it, else a new one (journaled).
    async fn open_upload(
        &self,
        head: &ObjectMeta,
        dest_key: &str,
        attributes: &ObjectAttributes,
        need_crc: bool,
    ) -> Result<(UploadRecord, HashMap<u32, PartReceipt>), StoreError> {
        let dest = &self.plan.dest;
        let part_size = self.part_size(head.size);
        let staged = self.staged.lock().expect("staged lock").remove(&head.key);
        if let Some(staged) = staged {
            let record = &staged.record;
            let usable = record.dest_key == dest_key
                && record.part_size == part_size
                && record.source_size == head.size
                && record.source_etag == head.etag;
            let present = match usable {
                true => {
                    self.retry(|| dest.list_parts(dest_key, &record.upload))
                        .await
                }
                false => Err(StoreError::new(ErrorKind::NotFound, "the source changed")),
            };
            match present {
                Ok(present) => {
                    let present: HashMap<u32, String> =
                        present.into_iter().map(|p| (p.number, p.handle)).collect();
                    let parts: HashMap<u32, PartReceipt> = staged
                        .parts
                        .into_iter()
                        .filter(|p| present.get(&p.number) == Some(&p.handle))
                        .filter(|p| !need_crc || p.crc64nvme.is_some())
                        .map(|p| (p.number, p))
                        .collect();
                    return Ok((staged.record, parts));
                }
                Err(err) if err.kind() == ErrorKind::NotFound => {
                    // Gone, or of another source: start over, leaving nothing behind.
                    let _ = dest.abort_upload(&record.dest_key, &record.upload).await;
                }
                Err(err) => return Err(err),
            }
        }
        let upload = self
            .retry(|| dest.create_upload(dest_key, attributes))
            .await?;
        let record = UploadRecord {
            dest_key: dest_key.to_owned(),
            upload,
            part_size,
            source_size: head.size,
            source_etag: head.etag.clone(),
        };
        if let Some(journal) = &self.options.journal {
            journal.upload_started(&head.key, &record);
        }
        Ok((record, HashMap::new()))
    }

    /// Keeps an upload whose server-side attempt found the source unreachable for the
    /// streamed copy that follows, with the parts it may use again.
    fn hand_over_upload(&self, key: &str, record: UploadRecord, parts: HashMap<u32, PartReceipt>) {
        let upload = StagedUpload {
            record,
            parts: parts.into_values().collect(),
        };
        self.staged
            .lock()
            .expect("staged lock")
            .insert(key.to_owned(), upload);
    }

    /// Counts the parts an upload used again, once it is committed.
    fn reused(&self, parts: &HashMap<u32, PartReceipt>) {
        self.progress
            .blocks_reused
            .fetch_add(parts.len() as u64, Ordering::Relaxed);
    }

    /// Sends a server-side request through the job's gate (see [`ServerSideGate`]).
    async fn server_side_request<T, Fut>(&self, request: Fut) -> Result<T, StoreError>
    where
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        self.server_side
            .send(request, |why| {
                self.note_once(format!(
                    "{} cannot read from {} server-side ({why}); streaming through this machine instead",
                    self.plan.dest.display_root(),
                    self.plan.source.display_root()
                ));
                if let Some(journal) = &self.options.journal {
                    journal.server_side_unreachable(why);
                }
            })
            .await
    }

    /// Journals a part just staged for source object `key`.
    fn part_staged(&self, key: &str, part: &PartReceipt) {
        if let Some(journal) = &self.options.journal {
            journal.part_staged(key, part);
        }
    }

    /// Holds `bytes` of the memory budget, then a slot, for one streamed object or block.
    async fn streaming_room(&self, bytes: u64) -> (OwnedSemaphorePermit, OwnedSemaphorePermit) {
        let memory = self.memory.reserve(bytes).await;
        (memory, self.concurrency.acquire().await)
    }

    /// Records, once each, the metadata names of `attributes` that the destination stores
    /// under another name (it renames them itself, and gives the originals back on reading).
    fn note_renamed_metadata(&self, attributes: &ObjectAttributes) {
        for name in attributes.user_metadata.keys() {
            if let Some(mapped) = self.plan.dest.mapped_metadata_name(name) {
                let pair = MappedName {
                    source: name.clone(),
                    dest: mapped,
                };
                let mut recorded = self.metadata_mapped.lock().expect("mapping lock");
                if !recorded.contains(&pair) {
                    recorded.push(pair);
                }
            }
        }
    }

    /// The destination key of `source_key` under the name policy: `Ok(None)` to skip it.
    fn resolve_name(&self, source_key: &str) -> Result<Option<String>, ObjectFailure> {
        let wanted = self.plan.dest_key(source_key);
        let Some(mapped) = self.plan.dest.mapped_name(&wanted) else {
            return Ok(Some(wanted));
        };
        let why = format!(
            "{} cannot hold the name '{wanted}' as written",
            self.plan.dest.display_root()
        );
        match self.options.name_policy {
            NamePolicy::Map => {
                let pair = MappedName {
                    source: source_key.to_owned(),
                    dest: mapped.clone(),
                };
                self.mapped.lock().expect("mapping lock").push(pair);
                Ok(Some(mapped))
            }
            NamePolicy::Skip => {
                self.emit(ObjectEvent {
                    error: Some(why),
                    ..ObjectEvent::now(Action::Skipped, source_key)
                });
                Ok(None)
            }
            NamePolicy::Fail => {
                let message = format!("{why}; --name-policy map would store it as '{mapped}'");
                self.emit(ObjectEvent {
                    error: Some(format!("usage: {message}")),
                    ..ObjectEvent::now(Action::Failed, source_key)
                });
                self.progress.objects_failed.fetch_add(1, Ordering::Relaxed);
                Err(ObjectFailure {
                    key: source_key.to_owned(),
                    kind: ErrorKind::Usage,
                    message,
                })
            }
        }
    }

    /// Records an event, if anyone listens.
    fn emit(&self, event: ObjectEvent<'_>) {
        if let Some(sink) = &self.options.events {
            sink.record(&event);
        }
    }

    /// The destination's objects under the destination prefix, by key, when the overwrite
    /// policy or `--delete` needs them.
    async fn existing_dest_objects(
        &self,
    ) -> Result<Option<HashMap<String, ObjectMeta>>, StoreError> {
        if self.options.overwrite == Overwrite::Always && !self.options.delete_extras {
            return Ok(None);
        }
        let mut rx = list_parallel(
            self.plan.dest.clone(),
            &self.plan.dest_prefix,
            self.options.lister.clone(),
            self.progress.retry.clone(),
        );
        let mut objects = HashMap::new();
        while let Some(item) = rx.recv().await {
            match item {
                Ok(meta) => {
                    objects.insert(meta.key.clone(), meta);
                }
                // A destination that does not exist yet holds nothing.
                Err(e) if e.kind() == ErrorKind::NotFound => break,
                Err(e) => return Err(e),
            }
        }
        Ok(Some(objects))
    }

    /// Whether to copy `source` over `existing`, asking the user under `prompt`.
    async fn should_replace(&self, source: &ObjectMeta, existing: &ObjectMeta) -> bool {
        if let Some(decision) = decide(self.options.overwrite, source, existing) {
            return decision;
        }
        let Some(confirm) = self.options.confirm.clone() else {
            return false;
        };
        let key = existing.key.clone();
        tokio::task::spawn_blocking(move || confirm.overwrite(&key))
            .await
            .unwrap_or(false)
    }

    /// Deletes destination objects the source does not have; returns how many.
    async fn delete_extras(&self, mut keys: Vec<String>) -> Result<u64, StoreError> {
        keys.sort();
        if self.options.dry_run {
            for key in &keys {
                self.note_once(format!("would delete {key}"));
            }
            return Ok(0);
        }
        let dest = &self.plan.dest;
        // Owned keys: a stream of borrowed ones makes this future not provably `Send`.
        futures::stream::iter(keys.clone())
            .map(|key| async move {
                self.retry(|| dest.delete(&key)).await?;
                self.emit(ObjectEvent::now(Action::Deleted, &key));
                Ok::<(), StoreError>(())
            })
            .buffer_unordered(self.concurrency.ceiling())
            .try_collect::<Vec<()>>()
            .await?;
        Ok(keys.len() as u64)
    }

    /// Creates the destination bucket, container or directory when it does not exist yet.
    async fn create_dest_root_if_missing(&self) -> Result<(), StoreError> {
        let dest = &self.plan.dest;
        let probe = ListRequest {
            page_size: Some(1),
            ..ListRequest::default()
        };
        let probed = self
            .retry(|| {
                let probe = probe.clone();
                async move { dest.list(probe).try_next().await }
            })
            .await;
        match probed {
            Err(err) if err.kind() == ErrorKind::NotFound => {
                self.retry(|| dest.create_root()).await?;
                self.note_once(format!("created {}", dest.display_root()));
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    fn note_once(&self, note: String) {
        let mut notes = self.notes.lock().expect("notes lock");
        if !notes.contains(&note) {
            tracing::info!("{note}");
            notes.push(note);
        }
    }

    async fn retry<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let mut op = op;
        let limits = &self.limits;
        // A backstop for a request that never answers: ten idle periods per attempt.
        let deadline = self.options.stall_timeout * 10;
        self.options
            .retry
            .run(&self.progress.retry, || {
                let attempt = op();
                async move {
                    limits.request().await;
                    tokio::time::timeout(deadline, attempt)
                        .await
                        .unwrap_or_else(|_| {
                            Err(StoreError::new(
                                ErrorKind::Network,
                                format!("no answer within {} s", deadline.as_secs()),
                            ))
                        })
                }
            })
            .await
    }

    /// Copies one object; `Ok` carries its size.
    async fn copy_object(&self, meta: ObjectMeta, dest_key: String) -> Result<u64, ObjectFailure> {
        let result = if self.options.dry_run {
            Ok(())
        } else if let Err(stopping) = self.check_stop() {
            Err(stopping)
        } else {
            match self
                .dest_ready
                .get_or_try_init(|| self.create_dest_root_if_missing())
                .await
            {
                Ok(()) => self.route_object(&meta, &dest_key).await,
                Err(e) => Err(e),
            }
        };
        let result = match result {
            Ok(()) if self.options.delete_source && !self.options.dry_run => {
                let source = &self.plan.source;
                self.retry(|| source.delete(&meta.key))
                    .await
                    .map(|()| {
                        self.progress
                            .objects_deleted
                            .fetch_add(1, Ordering::Relaxed);
                        self.emit(ObjectEvent::now(Action::Deleted, &meta.key));
                    })
                    .map_err(|e| e.context("copied and verified, but not deleted from the source"))
            }
            other => other,
        };
        if let (Err(err), Err(_)) = (&result, self.check_stop()) {
            // Cut short by the stop: unfinished, not failed; a resume copies it.
            return Err(ObjectFailure {
                key: meta.key,
                kind: ErrorKind::Interrupted,
                message: err.to_string(),
            });
        }
        let action = match (&result, self.options.dry_run) {
            (Err(_), _) => Action::Failed,
            (Ok(()), true) => Action::Planned,
            (Ok(()), false) => Action::Copied,
        };
        self.emit(ObjectEvent {
            dest_key: Some(&dest_key),
            size: Some(meta.size),
            error: result
                .as_ref()
                .err()
                .map(|e| format!("{}: {e}", e.kind().as_str())),
            ..ObjectEvent::now(action, &meta.key)
        });
        match result {
            Ok(()) => {
                self.progress.objects_done.fetch_add(1, Ordering::Relaxed);
                Ok(meta.size)
            }
            Err(err) => {
                self.progress.objects_failed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(key = %meta.key, error = %err, "copy failed");
                Err(ObjectFailure {
                    key: meta.key,
                    kind: err.kind(),
                    message: err.to_string(),
                })
            }
        }
    }

    async fn route_object(&self, meta: &ObjectMeta, dest_key: &str) -> Result<(), StoreError> {
        let route = if self.server_side.unreachable() {
            Route::Streamed
        } else {
            self.route
        };
        let result = match route {
            Route::Streamed => return self.copy_streamed(meta, dest_key).await,
            Route::Native => {
                self.copy_server_side(meta, dest_key, CopySourceKind::Native)
                    .await
            }
            Route::FromUrl => {
                self.copy_server_side(meta, dest_key, CopySourceKind::Url)
                    .await
            }
        };
        match result {
            // Said once, by the request that found it (see `server_side_request`).
            Err(err) if err.kind() == ErrorKind::CopySourceUnreachable => {
                self.copy_streamed(meta, dest_key).await
            }
            // A service that copies whole objects but not parts (UploadPartCopy) streams
            // those it cannot copy whole.
            Err(err) if err.kind() == ErrorKind::Unsupported => {
                tracing::debug!(key = %meta.key, error = %err, "server-side copy unsupported");
                self.note_once(format!(
                    "{} cannot copy some objects server-side (by parts, say); those stream through this machine",
                    self.plan.dest.display_root()
                ));
                self.copy_streamed(meta, dest_key).await
            }
            other => other,
        }
    }

    /// The part size for `size` bytes at the destination.
    fn part_size(&self, size: u64) -> u64 {
        self.plan
            .dest
            .capabilities()
            .part_size_for(size, self.options.block_size)
    }

    fn blocks(&self, size: u64) -> Vec<ByteRange> {
        let part = self.part_size(size);
        (0..size.div_ceil(part))
            .map(|i| ByteRange {
                start: i * part,
                end: ((i + 1) * part).min(size),
            })
            .collect()
    }

    /// Copies server-side: whole when the destination allows it in one request, else by
    /// blocks. Source URLs are minted per request, so none expires mid-job.
    async fn copy_server_side(
        &self,
        meta: &ObjectMeta,
        dest_key: &str,
        kind: CopySourceKind,
    ) -> Result<(), StoreError> {
        let (source, dest) = (&self.plan.source, &self.plan.dest);
        let lifetime = self.options.url_lifetime;
        if kind == CopySourceKind::Native && self.copy_as_is(meta, dest_key).await? {
            return Ok(());
        }
        let single = self.route.single_request_limit(
            dest.capabilities(),
            self.options.block_size,
            self.options.cutoffs,
        );
        // A whole-object copy holds one slot for all its requests (look-up, copy, check), so
        // the limit bounds every request in flight; a copy by parts holds one per part.
        let mut slot = None;
        if meta.size <= single {
            slot = Some(self.concurrency.acquire().await);
            self.check_stop()?;
        }
        if self.server_side.unreachable() {
            // The job fell back to streaming while this object waited for its slot.
            return Err(StoreError::new(
                ErrorKind::CopySourceUnreachable,
                "streaming instead",
            ));
        }
        let head = self.retry(|| source.head(&meta.key)).await?;
        self.note_renamed_metadata(&head.attributes);
        let attributes = &head.attributes;
        if head.size <= single && slot.is_some() {
            self.server_side_request(self.retry(|| async {
                let from = source.copy_source(&meta.key, kind, lifetime).await?;
                dest.copy_object(dest_key, &from, attributes).await
            }))
            .await?;
        } else {
            // Parts take slots of their own.
            drop(slot.take());
            let (record, staged) = self.open_upload(&head, dest_key, attributes, false).await?;
            let (upload, staged_ref) = (&record.upload, &staged);
            let parts = futures::stream::iter(self.blocks(head.size).into_iter().enumerate())
                .map(|(i, range)| async move {
                    let number = i as u32 + 1;
                    if let Some(part) = staged_ref.get(&number) {
                        return Ok(part.clone());
                    }
                    let _permit = self.concurrency.acquire().await;
                    self.check_stop()?;
                    let part = self
                        .server_side_request(self.retry(|| async {
                            let from = source.copy_source(&meta.key, kind, lifetime).await?;
                            let part =
                                dest.upload_part_copy(dest_key, upload, number, &from, range);
                            part.await
                        }))
                        .await?;
                    self.part_staged(&meta.key, &part);
                    Ok(part)
                })
                .buffered(self.concurrency.ceiling())
                .try_collect::<Vec<PartReceipt>>()
                .await;
            let parts = parts.map(|p| p.into_iter().map(|receipt| (receipt, None)).collect());
            match self
                .finish_upload(upload, dest_key, parts, attributes)
                .await
            {
                Ok(_) => self.reused(&staged),
                Err(err) if err.kind() == ErrorKind::CopySourceUnreachable => {
                    self.hand_over_upload(&meta.key, record, staged);
                    return Err(err);
                }
                Err(err) => return Err(err),
            }
        }
        self.verify_dest(&head, dest_key).await?;
        self.copied_server_side(head.size);
        Ok(())
    }

    /// Counts `size` bytes the service copied itself.
    fn copied_server_side(&self, size: u64) {
        self.progress
            .bytes_server_side
            .fetch_add(size, Ordering::Relaxed);
        self.progress.bytes_done.fetch_add(size, Ordering::Relaxed);
    }

    /// Copies a whole object within one service that keeps its attributes itself: one
    /// request, no lookup first, verified by the ETag it answers (an MD5 equal to the
    /// source's), else by a look at the copy. `Ok(false)`: too big, or the store cannot.
    async fn copy_as_is(&self, meta: &ObjectMeta, dest_key: &str) -> Result<bool, StoreError> {
        let (source, dest) = (&self.plan.source, &self.plan.dest);
        let single = self.route.single_request_limit(
            dest.capabilities(),
            self.options.block_size,
            self.options.cutoffs,
        );
        if meta.size > single {
            return Ok(false);
        }
        let _permit = self.concurrency.acquire().await;
        self.check_stop()?;
        let lifetime = self.options.url_lifetime;
        let copied = self
            .server_side_request(self.retry(|| async {
                let from = source
                    .copy_source(&meta.key, CopySourceKind::Native, lifetime)
                    .await?;
                dest.copy_object_as_is(dest_key, &from).await
            }))
            .await;
        let copied = match copied {
            Err(e) if e.kind() == ErrorKind::Unsupported => return Ok(false),
            other => other?,
        };
        let plain_md5 = meta.etag.as_deref().filter(|e| !e.contains('-'));
        if plain_md5.is_none() || copied.etag.as_deref() != plain_md5 {
            self.verify_dest(meta, dest_key).await?;
        }
        self.copied_server_side(meta.size);
        Ok(true)
    }

    /// After a server-side copy: the destination holds an object of the right size (and
    /// CRC, where both sides report one).
    async fn verify_dest(&self, source: &ObjectMeta, dest_key: &str) -> Result<(), StoreError> {
        let written = self.retry(|| self.plan.dest.head(dest_key)).await?;
        let crc_differs = matches!(
            (source.checksums.crc64nvme, written.checksums.crc64nvme),
            (Some(a), Some(b)) if a != b
        );
        if written.size != source.size || crc_differs {
            return Err(StoreError::new(
                ErrorKind::Integrity,
                format!(
                    "'{dest_key}': the copy does not match its source (size {} vs {})",
                    written.size, source.size
                ),
            ));
        }
        Ok(())
    }

    /// Commits an upload whose parts all arrived, or aborts it (keeping it when the job is
    /// stopping or goes on by streaming, which use its parts again).
    async fn finish_upload(
        &self,
        upload: &UploadId,
        dest_key: &str,
        parts: Result<Vec<StagedPart>, StoreError>,
        attributes: &ObjectAttributes,
    ) -> Result<Option<u64>, StoreError> {
        let dest = &self.plan.dest;
        let parts = match parts {
            Ok(parts) => parts,
            // Kept for the resume, or the streamed copy, to finish.
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::Interrupted | ErrorKind::CopySourceUnreachable
                ) =>
            {
                return Err(err)
            }
            Err(err) => {
                if let Err(abort) = dest.abort_upload(dest_key, upload).await {
                    tracing::warn!(key = dest_key, error = %abort, "could not abort the upload");
                }
                return Err(err);
            }
        };
        let crcs: Option<Vec<(u64, u64)>> = parts.iter().map(|(_, crc)| *crc).collect();
        let whole = crcs.map(combine_all);
        let receipts: Vec<PartReceipt> = parts.into_iter().map(|(p, _)| p).collect();
        let committed = self
            .retry(|| dest.complete_upload(dest_key, upload, &receipts, attributes, whole))
            .await;
        if let Err(err) = committed {
            let _ = dest.abort_upload(dest_key, upload).await;
            return Err(err);
        }
        Ok(whole)
    }

    /// Streams through this machine: one GET into a destination that writes streams (local
    /// disk) up to the get cutoff; else one GET and one PUT up to the block size; larger
    /// objects by ranged GETs feeding block uploads in parallel, committed when all are staged.
    async fn copy_streamed(&self, meta: &ObjectMeta, dest_key: &str) -> Result<(), StoreError> {
        let caps = self.plan.dest.capabilities();
        let single = Route::Streamed.single_request_limit(
            caps,
            self.options.block_size,
            self.options.cutoffs,
        );
        match caps.put_stream_memory {
            Some(memory) if meta.size <= single => {
                self.copy_in_one_stream(meta, dest_key, memory).await?
            }
            None if meta.size <= single => self.copy_in_one_request(meta, dest_key).await?,
            _ => self.copy_by_blocks(meta, dest_key).await?,
        }
        self.progress
            .bytes_streamed
            .fetch_add(meta.size, Ordering::Relaxed);
        self.progress
            .bytes_done
            .fetch_add(meta.size, Ordering::Relaxed);
        Ok(())
    }

    /// A reader of a source body that must hold `expected` bytes (and match `verify`).
    fn body_reader(
        &self,
        body: ByteStream,
        expected: u64,
        what: String,
        verify: Option<Checksums>,
    ) -> BodyReader<'_> {
        let timeout = self.options.stall_timeout;
        BodyReader::new(body, expected, what, verify, timeout, &self.limits)
    }

    /// One GET written as it arrives: memory holds only the destination's write buffer
    /// (`buffer` bytes), however large the object. Progress counts bytes as they arrive.
    async fn copy_in_one_stream(
        &self,
        meta: &ObjectMeta,
        dest_key: &str,
        buffer: u64,
    ) -> Result<(), StoreError> {
        let (source, dest) = (&self.plan.source, &self.plan.dest);
        let _room = self.streaming_room(meta.size.min(buffer)).await;
        self.check_stop()?;
        let arrived = AtomicU64::new(0);
        let copied = self
            .retry(|| async {
                let got = source.get(&meta.key, None).await?;
                self.note_renamed_metadata(&got.meta.attributes);
                let attributes = &got.meta.attributes;
                let what = format!("'{}'", meta.key);
                let verify = Some(got.meta.checksums);
                let body = self
                    .body_reader(got.body, meta.size, what, verify)
                    .into_stream()
                    .inspect_ok(|chunk| {
                        let len = chunk.len() as u64;
                        arrived.fetch_add(len, Ordering::Relaxed);
                        self.progress.bytes_done.fetch_add(len, Ordering::Relaxed);
                    });
                dest.put_stream(dest_key, body.boxed(), attributes).await
            })
            .await;
        // The caller counts the object once it is there; failed attempts count nothing.
        self.progress
            .bytes_done
            .fetch_sub(arrived.into_inner(), Ordering::Relaxed);
        copied.map(drop)
    }

    /// One GET read into memory, then one PUT.
    async fn copy_in_one_request(
        &self,
        meta: &ObjectMeta,
        dest_key: &str,
    ) -> Result<(), StoreError> {
        let (source, dest) = (&self.plan.source, &self.plan.dest);
        let _room = self.streaming_room(meta.size).await;
        self.check_stop()?;
        self.retry(|| async {
            let got = source.get(&meta.key, None).await?;
            let what = format!("'{}'", meta.key);
            let verify = Some(got.meta.checksums);
            let (bytes, crc) = self
                .body_reader(got.body, meta.size, what, verify)
                .read_all()
                .await?;
            // The PUT is this attempt's second request.
            self.limits.request().await;
            self.note_renamed_metadata(&got.meta.attributes);
            let attributes = &got.meta.attributes;
            dest.put(dest_key, bytes, attributes, Some(crc)).await
        })
        .await
        .map(drop)
    }

    /// Ranged GETs feeding block uploads in parallel, committed when all are staged and their
    /// combined CRC matches the source's.
    async fn copy_by_blocks(&self, meta: &ObjectMeta, dest_key: &str) -> Result<(), StoreError> {
        let (source, dest) = (&self.plan.source, &self.plan.dest);
        let head = self.retry(|| source.head(&meta.key)).await?;
        self.note_renamed_metadata(&head.attributes);
        let attributes = &head.attributes;
        let (record, staged) = self.open_upload(&head, dest_key, attributes, true).await?;
        let upload = &record.upload;
        let parts = futures::stream::iter(self.blocks(head.size).into_iter().enumerate())
            .map(|(i, range)| {
                let staged = &staged;
                async move {
                    let number = i as u32 + 1;
                    if let Some(receipt) = staged.get(&number).cloned() {
                        self.progress
                            .bytes_done
                            .fetch_add(range.len(), Ordering::Relaxed);
                        let crc = receipt.crc64nvme.expect("reused only with a CRC");
                        return Ok((receipt, Some((crc, range.len()))));
                    }
                    let _room = self.streaming_room(range.len()).await;
                    self.check_stop()?;
                    let receipt = self
                        .retry(|| async {
                            let got = source.get(&meta.key, Some(range)).await?;
                            let what = format!("'{}' block {number}", meta.key);
                            let (bytes, crc) = self
                                .body_reader(got.body, range.len(), what, None)
                                .read_all()
                                .await?;
                            // The upload is this attempt's second request.
                            self.limits.request().await;
                            dest.upload_part(dest_key, upload, number, bytes, Some(crc))
                                .await
                        })
                        .await?;
                    self.part_staged(&meta.key, &receipt);
                    self.progress
                        .bytes_done
                        .fetch_add(range.len(), Ordering::Relaxed);
                    let crc = receipt.crc64nvme.expect("sent with a CRC");
                    Ok::<_, StoreError>((receipt, Some((crc, range.len()))))
                }
            })
            .buffered(self.concurrency.ceiling())
            .try_collect::<Vec<_>>()
            .await;
        let parts = parts.and_then(|parts| {
            let whole = combine_all(parts.iter().filter_map(|(_, crc)| *crc));
            match head.checksums.crc64nvme {
                Some(expected) if expected != whole => Err(StoreError::new(
                    ErrorKind::Integrity,
                    format!(
                        "'{}': CRC-64/NVME of the bytes read differs from the source's",
                        meta.key
                    ),
                )),
                _ => Ok(parts),
            }
        });
        self.finish_upload(upload, dest_key, parts, attributes)
            .await?;
        self.reused(&staged);
        // The caller counts the whole object.
        self.progress
            .bytes_done
            .fetch_sub(head.size, Ordering::Relaxed);
        Ok(())
    }
}
