//! A copy, in process: the pipeline (`copy`: listing -> filter and overwrite decisions ->
//! objects in flight -> report), the planner (`planner`: each object's destination name and
//! route, chosen in one place), and the executor that runs work items (`executor`, with
//! `whole` for whole objects and `blocks` for large objects: every block a work item of its
//! own, committed once all are staged, here or through a [`WorkQueue`] on executors
//! elsewhere). Objects go server-side within a service, pulled from a URL by the destination,
//! or streamed through this machine; what is worth retrying is retried, checksums are
//! verified, and what happened to every object is reported.
//!
//! Memory stays bounded: every streamed block or small object reserves its bytes from the memory
//! budget (and holds a slot of the concurrency) while they are in memory, so at most the budget
//! and at most `concurrency x block size` bytes are in flight, and nothing is written to local
//! disk. A destination that writes streams (local disk) reserves only its write buffer.

use awcopy_store::{ErrorKind, Store, StoreError};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

mod blocks;
mod executor;
mod planner;
mod whole;

use crate::concurrency::spawn_controller;
use crate::estimate::{Cutoffs, Route};
use crate::events::{Action, EventSink, ObjectEvent};
use crate::filter::Filter;
use crate::index::IndexOptions;
use crate::journal::{Journal, ResumeFrom, Stop};
use crate::lister::ListerConfig;
use crate::overwrite::{Confirm, Overwrite};
use crate::retry::{RetryPolicy, RetryStats};
use crate::work::WorkQueue;
pub(crate) use executor::Executor;

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
    /// Where the blocks of large objects and their commits go: executors elsewhere (agents)
    /// instead of this process's own.
    pub queue: Option<Arc<dyn WorkQueue>>,
    /// Cancelled to stop: no new object or block starts, those in flight finish (for at most
    /// `drain_timeout`), staged uploads are kept for resume.
    pub stop: Option<Stop>,
    /// How long a stop waits for work in flight.
    pub drain_timeout: Duration,
    /// How much of the destination's listing (for overwrite policies and `--delete`) is held
    /// in memory; the rest goes to a temporary file.
    pub index: IndexOptions,
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
            queue: None,
            stop: None,
            drain_timeout: Duration::from_secs(30),
            index: IndexOptions::default(),
        }
    }
}

/// What to copy: objects under `list_prefix` (or the one object `single_key`), each to
/// `dest_prefix` + its key with the first `strip` bytes removed.
#[derive(Debug)]
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
    /// The most destination objects held in memory at once to compare with (the rest were
    /// in a temporary file; see [`IndexOptions`]).
    pub in_memory_peak: u64,
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
    let executor = Arc::new(Executor::new(plan, options, progress, resume.as_ref()));

    if executor.route != Route::Streamed && executor.server_side.unreachable() {
        executor.note_once(format!(
            "{} cannot read from {} server-side (found by an earlier run of this job); streaming through this machine",
            executor.plan.dest.display_root(),
            executor.plan.source.display_root()
        ));
    }
    if !executor.options.dry_run {
        // Asked beside the first listing page, not after it.
        let early = executor.clone();
        tokio::spawn(async move { early.dest_exists().await });
    }
    let existing = executor.existing_dest_objects().await?;
    if let (Some(existing), Some(resume)) = (&existing, &resume) {
        executor.forget_finished(existing, resume).await?;
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
        let current = match &existing {
            Some(existing) => existing.take(&dest_key)?,
            None => None,
        };
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
    let in_memory_peak = existing.as_ref().map_or(0, |e| e.peak_in_memory() as u64);
    let deleted_extras = match existing.filter(|_| executor.options.delete_extras) {
        Some(_) if interrupted => 0,
        Some(extras) if failures.is_empty() => {
            // Like the source side, only objects the filter takes are candidates; a page
            // of the index at a time.
            let prefix_len = executor.plan.dest_prefix.len();
            let deleted = AtomicU64::new(0);
            extras
                .walk_left(|page| {
                    let doomed: Vec<String> = page
                        .into_iter()
                        .filter(|(key, meta)| {
                            filter.accepts(&key[prefix_len.min(key.len())..], meta)
                        })
                        .map(|(key, _)| key)
                        .collect();
                    let (executor, deleted) = (&executor, &deleted);
                    async move {
                        let count = executor.delete_extras(doomed).await?;
                        deleted.fetch_add(count, Ordering::Relaxed);
                        Ok(())
                    }
                })
                .await?;
            deleted.into_inner()
        }
        Some(extras) => {
            executor.note_once(format!(
                "{} objects failed, so the {} destination objects without a source were not deleted",
                failures.len(),
                extras.left()?
            ));
            0
        }
        None => 0,
    };
    controller.abort();
    let _ = controller.await;
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
        names_mapped: taken(&executor.mapped),
        names_skipped,
        metadata_names_mapped: taken(&executor.metadata_mapped),
        objects_deleted: executor.progress.objects_deleted.load(Ordering::Relaxed) + deleted_extras,
        failures,
        bytes_streamed: executor.progress.bytes_streamed.load(Ordering::Relaxed),
        bytes_server_side: executor.progress.bytes_server_side.load(Ordering::Relaxed),
        blocks_reused: executor.progress.blocks_reused.load(Ordering::Relaxed),
        retries: retry.retries.load(Ordering::Relaxed),
        throttled: retry.throttled.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        notes: taken(&executor.notes),
        dry_run: executor.options.dry_run,
        interrupted,
        in_memory_peak,
    })
}

/// The contents of a list the executor kept, taken rather than moved out: a task cut short
/// may still hold the executor for a moment.
fn taken<T>(list: &Mutex<Vec<T>>) -> Vec<T> {
    std::mem::take(&mut *list.lock().expect("list lock"))
}

/// Resolves when `stop` is cancelled; never without one.
async fn stopped(stop: &Option<Stop>) {
    match stop {
        Some(stop) => stop.cancelled().await,
        None => std::future::pending().await,
    }
}
