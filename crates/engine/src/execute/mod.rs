//! The executor: runs [`WorkItem`]s between one source and one destination under limits of
//! its own (concurrency, memory, request rate, retries) — what one agent holds, and what a
//! copy in this process runs its items on. It keeps no state of a job beyond what each item
//! carries: names, the journal, the job's counters and the server-side verdict are the
//! planner's ([`crate::copy`]), which reads them from the [`WorkDone`] it gets back.
//! `whole` copies whole objects, `blocks` stages and commits the blocks of large ones.

use awcopy_store::{ErrorKind, ObjectAttributes, Store, StoreError};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::OwnedSemaphorePermit;

mod blocks;
mod requests;
mod whole;

pub(crate) use blocks::abort_quietly;
pub(crate) use requests::Requests;
pub(crate) use whole::verify_copy;

use crate::concurrency::{spawn_following, Concurrency, ConcurrencyLimit, Lane};
use crate::journal::Stop;
use crate::limits::Limits;
use crate::memory::MemoryBudget;
use crate::progress::Progress;
use crate::retry::RetryPolicy;
use crate::timed::Timed;
use crate::work::{
    KeyBounds, MappedName, ObjectDone, ObjectItem, WorkDone, WorkError, WorkItem, WorkQueue,
};

/// An executor's limits and how its requests behave.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// Requests in flight at once: a fixed ceiling, or adaptive.
    pub concurrency: ConcurrencyLimit,
    /// Bytes of streamed objects and blocks held in memory at once.
    pub memory: u64,
    /// Retry settings for every request.
    pub retry: RetryPolicy,
    /// Lifetime of each presigned / SAS source URL (minted afresh per request).
    pub url_lifetime: Duration,
    /// At most this many requests per second.
    pub max_rps: Option<u32>,
    /// At most this many bytes per second through this machine.
    pub bandwidth: Option<u64>,
    /// A read that brings no byte for this long is a stalled stream, retried.
    pub stall_timeout: Duration,
    /// Once cancelled, no new item or request starts.
    pub stop: Option<Stop>,
}

/// What an executor shares with the planner of a copy in this process: the request limits,
/// the concurrency they adapt, and the counters.
pub(crate) struct Shared {
    pub(crate) requests: Arc<Requests>,
    pub(crate) concurrency: Arc<Concurrency>,
    pub(crate) progress: Arc<Progress>,
}

impl Shared {
    /// Limits of their own under `options`, counting into `progress`.
    pub(crate) fn new(options: &ExecutorOptions, progress: Arc<Progress>) -> Self {
        let limits = Limits::new(options.max_rps, options.bandwidth);
        Self {
            requests: Arc::new(Requests::new(
                limits,
                options.retry.clone(),
                progress.retry.clone(),
                options.stall_timeout,
            )),
            concurrency: Arc::new(Concurrency::of(options.concurrency)),
            progress,
        }
    }

    /// `store`, every answer of it timed on `lane` for the concurrency to follow.
    pub(crate) fn timed(&self, store: Arc<dyn Store>, lane: Lane) -> Arc<dyn Store> {
        Timed::wrap(store, lane, &self.concurrency)
    }
}

/// Runs work items between one source and one destination.
pub struct ItemExecutor {
    source: Arc<dyn Store>,
    dest: Arc<dyn Store>,
    requests: Arc<Requests>,
    /// Requests in flight: a streamed block holds one slot for its GET and PUT.
    concurrency: Arc<Concurrency>,
    /// Bytes of streamed data in memory.
    memory: MemoryBudget,
    url_lifetime: Duration,
    stop: Option<Stop>,
    /// What this executor moved, and its retries.
    progress: Arc<Progress>,
    bounds: Option<KeyBounds>,
    /// The task that moves the limit, for an executor with limits of its own (an agent's):
    /// stopped with the executor.
    _controller: Option<Controller>,
}

/// A limit's controller task, stopped when dropped.
struct Controller(tokio::task::JoinHandle<()>);

impl Drop for Controller {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for ItemExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemExecutor").finish_non_exhaustive()
    }
}

/// `Err(Interrupted)` once `stop` is cancelled: nothing new starts. The one stop check of
/// the planner and the executor.
pub(crate) fn unless_stopped(stop: &Option<Stop>) -> Result<(), StoreError> {
    match stop {
        Some(stop) if stop.is_cancelled() => Err(StoreError::new(
            ErrorKind::Interrupted,
            "stopped before it finished",
        )),
        _ => Ok(()),
    }
}

impl ItemExecutor {
    /// An executor reading from `source` and writing to `dest` under `options`' limits.
    /// Its limit follows its own throughput and throttling (see [`crate::concurrency`]).
    pub fn new(source: Arc<dyn Store>, dest: Arc<dyn Store>, options: ExecutorOptions) -> Self {
        let shared = Shared::new(&options, Arc::new(Progress::default()));
        let (source, dest) = (
            shared.timed(source, Lane::Source),
            shared.timed(dest, Lane::Dest),
        );
        let controller = spawn_following(shared.concurrency.clone(), shared.progress.clone());
        Self {
            _controller: Some(Controller(controller)),
            ..Self::sharing(source, dest, &options, shared)
        }
    }

    /// Requests it has sent to remote stores and not yet had answered.
    pub fn requests_in_flight(&self) -> usize {
        self.concurrency.requests_in_flight()
    }

    /// An executor of stores already timed, with the limits and counters of `shared`.
    pub(crate) fn sharing(
        source: Arc<dyn Store>,
        dest: Arc<dyn Store>,
        options: &ExecutorOptions,
        shared: Shared,
    ) -> Self {
        Self {
            source,
            dest,
            requests: shared.requests,
            concurrency: shared.concurrency,
            memory: MemoryBudget::new(options.memory),
            url_lifetime: options.url_lifetime,
            stop: options.stop.clone(),
            progress: shared.progress,
            bounds: None,
            _controller: None,
        }
    }

    /// This executor, running only items within `bounds`.
    pub fn within(self, bounds: KeyBounds) -> Self {
        Self {
            bounds: Some(bounds),
            ..self
        }
    }

    /// Its counters (bytes moved, retries...).
    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }

    /// Runs one item.
    pub async fn run(&self, item: &WorkItem) -> Result<WorkDone, StoreError> {
        self.run_since(item, None).await
    }

    /// Runs an item that may have run before (delivered again after its agent died or it
    /// failed, or published twice), first queued at `queued`: whole objects an earlier run
    /// copied since then are not copied again. Blocks and commits are idempotent as they are.
    pub async fn run_again(
        &self,
        item: &WorkItem,
        queued: OffsetDateTime,
    ) -> Result<WorkDone, StoreError> {
        self.run_since(item, Some(queued)).await
    }

    async fn run_since(
        &self,
        item: &WorkItem,
        queued: Option<OffsetDateTime>,
    ) -> Result<WorkDone, StoreError> {
        if let Some(bounds) = &self.bounds {
            bounds.check(item)?;
        }
        match item {
            WorkItem::Objects { objects } => {
                let outcomes = match objects.as_slice() {
                    // One object (every in-process item): no join to set up.
                    [object] => vec![self.run_object(object, queued).await],
                    objects => {
                        let runs = objects.iter().map(|o| self.run_object(o, queued));
                        futures::future::join_all(runs).await
                    }
                };
                Ok(WorkDone::Objects { outcomes })
            }
            WorkItem::Block(block) => self
                .run_block(block)
                .await
                .map(|part| WorkDone::Staged { part, agent: None }),
            WorkItem::Commit(commit) => self.run_commit(commit).await.map(|()| WorkDone::Committed),
        }
    }

    /// Copies one whole object of a batch, unless it was `queued` at a time since which an
    /// earlier run copied it; says what became of it.
    async fn run_object(&self, object: &ObjectItem, queued: Option<OffsetDateTime>) -> ObjectDone {
        let done_before = match queued {
            Some(queued) => self.copied_since(object, queued).await,
            None => false,
        };
        let result = match done_before {
            true => Ok(Vec::new()),
            false => self.run_whole(object).await,
        };
        let (metadata_mapped, error) = match result {
            Ok(mapped) => {
                self.progress.objects_done.fetch_add(1, Ordering::Relaxed);
                (mapped, None)
            }
            Err(err) => (Vec::new(), Some(WorkError::from(&err))),
        };
        ObjectDone {
            key: object.source.key.clone(),
            error,
            metadata_mapped,
        }
    }

    /// `Err(Interrupted)` once the executor is stopping: nothing new starts.
    fn check_stop(&self) -> Result<(), StoreError> {
        unless_stopped(&self.stop)
    }

    /// Holds `bytes` of the memory budget, then a slot, for one streamed object or block.
    async fn streaming_room(&self, bytes: u64) -> (OwnedSemaphorePermit, OwnedSemaphorePermit) {
        let memory = self.memory.reserve(bytes).await;
        (memory, self.concurrency.acquire().await)
    }

    /// The user metadata names of `attributes` the destination stores under other names.
    fn renamed_metadata(&self, attributes: &ObjectAttributes) -> Vec<MappedName> {
        renamed_metadata(self.dest.as_ref(), attributes)
    }

    /// Whether an earlier run of `item`, queued at `queued`, copied it already: the
    /// destination holds an object of its size written since then (to the second: stores
    /// keep whole seconds), with its checksums where both sides tell them. Anything else,
    /// including a destination that cannot be read, means copying it (again).
    async fn copied_since(&self, item: &ObjectItem, queued: OffsetDateTime) -> bool {
        let Ok(written) = self.requests.retry(|| self.dest.head(&item.dest_key)).await else {
            return false;
        };
        let queued_second = queued.replace_nanosecond(0).unwrap_or(queued);
        written.size == item.source.size
            && written.last_modified.is_some_and(|t| t >= queued_second)
            && !item.source.checksums.contradicts(&written.checksums)
    }
}

#[async_trait::async_trait]
impl WorkQueue for ItemExecutor {
    async fn run(&self, item: WorkItem) -> Result<WorkDone, StoreError> {
        ItemExecutor::run(self, &item).await
    }
}

/// The user metadata names of `attributes` that `dest` stores under other names (it renames
/// them itself, and gives the originals back on reading).
pub(crate) fn renamed_metadata(dest: &dyn Store, attributes: &ObjectAttributes) -> Vec<MappedName> {
    attributes
        .user_metadata
        .keys()
        .filter_map(|name| {
            dest.mapped_metadata_name(name).map(|mapped| MappedName {
                source: name.clone(),
                dest: mapped,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::concurrency::AUTO_START;
    use crate::copy::CopyOptions;
    use awcopy_store::{local::LocalStore, Location, OpenOptions};

    #[tokio::test]
    async fn an_executor_with_limits_of_its_own_has_them_moved_and_stops_that_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::Local {
            root: dir.path().to_path_buf(),
            prefix: String::new(),
        };
        let store: Arc<dyn Store> =
            Arc::new(LocalStore::open(&location, &OpenOptions::default()).unwrap());
        let executor = ItemExecutor::new(
            store.clone(),
            store,
            CopyOptions::default().executor_options(),
        );
        let progress = executor.progress().clone();
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The controller publishes the limit it moves: an agent's `auto` is not stuck at its
        // start unseen.
        assert_eq!(
            progress.concurrency.load(Ordering::Relaxed),
            AUTO_START as u64
        );
        drop(executor);
        progress.concurrency.store(0, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            progress.concurrency.load(Ordering::Relaxed),
            0,
            "the controller stopped with its executor"
        );
    }
}
