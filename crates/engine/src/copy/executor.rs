//! The executor: what every copy route shares — the limits (concurrency, memory, request
//! rate), retries, the stop, the journal, and the counters.

use awcopy_store::{ErrorKind, ListRequest, ObjectAttributes, PartReceipt, StoreError};
use futures::TryStreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OwnedSemaphorePermit;

use super::{ConcurrencyLimit, CopyOptions, CopyPlan, MappedName, Progress};
use crate::concurrency::{Concurrency, Lane};
use crate::estimate::Route;
use crate::events::ObjectEvent;
use crate::journal::{ResumeFrom, StagedUpload};
use crate::limits::Limits;
use crate::memory::MemoryBudget;
use crate::server_side::{ServerSide, ServerSideGate};
use crate::timed::Timed;
use crate::work::{WorkDone, WorkItem, WorkQueue};

pub(crate) struct Executor {
    pub(super) plan: CopyPlan,
    pub(super) options: CopyOptions,
    pub(super) route: Route,
    /// Whether the destination can copy from the source server-side: once it is found that
    /// it cannot, the job streams from then on.
    pub(super) server_side: ServerSideGate,
    /// Requests in flight: a streamed block holds one slot for its GET and PUT.
    pub(super) concurrency: Arc<Concurrency>,
    /// Bytes of streamed data in memory.
    pub(super) memory: MemoryBudget,
    pub(super) limits: Limits,
    pub(crate) progress: Arc<Progress>,
    pub(super) notes: Mutex<Vec<String>>,
    /// Keys stored under another name, in the order they were met.
    pub(super) mapped: Mutex<Vec<MappedName>>,
    /// Metadata names stored under another name, each once.
    pub(super) metadata_mapped: Mutex<Vec<MappedName>>,
    /// Set once the destination root is known to exist (created, if need be, just before the
    /// first write, so a job that finds nothing to copy creates nothing).
    pub(super) dest_ready: tokio::sync::OnceCell<()>,
    /// Whether the destination's root exists, once asked.
    dest_probe: tokio::sync::OnceCell<Result<bool, StoreError>>,
    /// Uploads a previous run began, by source key, taken as their objects come up.
    pub(super) staged: Mutex<HashMap<String, StagedUpload>>,
}

/// The error of work refused or cut short because the job is stopping.
pub(super) fn interrupted() -> StoreError {
    StoreError::new(ErrorKind::Interrupted, "stopped before it finished")
}

impl Executor {
    /// An executor of `plan` under `options`, counting into `progress`; a resumed job's
    /// staged uploads and server-side verdict come from `resume`.
    pub(crate) fn new(
        plan: CopyPlan,
        options: CopyOptions,
        progress: Arc<Progress>,
        resume: Option<&ResumeFrom>,
    ) -> Self {
        let unreachable = resume.and_then(|r| r.server_side_unreachable.clone());
        let concurrency = Arc::new(match options.concurrency {
            ConcurrencyLimit::Fixed(n) => Concurrency::fixed(n),
            ConcurrencyLimit::Auto => Concurrency::auto(),
        });
        // Every request's answer is timed: what `auto` follows.
        let mut plan = plan;
        plan.source = Timed::wrap(plan.source, Lane::Source, &concurrency);
        plan.dest = Timed::wrap(plan.dest, Lane::Dest, &concurrency);
        Self {
            limits: Limits::new(options.max_rps, options.bandwidth),
            concurrency,
            memory: MemoryBudget::new(options.memory),
            server_side: ServerSideGate::new(match unreachable {
                Some(why) => ServerSide::Unreachable(why),
                None => ServerSide::Unknown,
            }),
            route: Route::between(plan.source.capabilities(), plan.dest.capabilities()),
            plan,
            options,
            progress,
            notes: Mutex::new(Vec::new()),
            dest_ready: tokio::sync::OnceCell::new(),
            dest_probe: tokio::sync::OnceCell::new(),
            mapped: Mutex::new(Vec::new()),
            metadata_mapped: Mutex::new(Vec::new()),
            staged: Mutex::new(resume.map(|r| r.uploads.clone()).unwrap_or_default()),
        }
    }

    /// `Err(Interrupted)` once the job is stopping: nothing new starts.
    pub(super) fn check_stop(&self) -> Result<(), StoreError> {
        match &self.options.stop {
            Some(stop) if stop.is_cancelled() => Err(interrupted()),
            _ => Ok(()),
        }
    }

    /// Sends `item` through `queue` and reads what it gave; an item copied server-side goes
    /// through the job's gate (see [`ServerSideGate`]), so that while it is not known whether
    /// the destination can read the source, one item at a time asks.
    pub(super) async fn send<T>(
        &self,
        queue: &dyn WorkQueue,
        route: Route,
        item: WorkItem,
        read: impl FnOnce(WorkDone) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.check_stop()?;
        let sent = async { read(queue.run(item).await?) };
        match route {
            Route::Streamed => sent.await,
            _ => self.server_side_request(sent).await,
        }
    }

    /// Sends a server-side request through the job's gate (see [`ServerSideGate`]).
    pub(super) async fn server_side_request<T, Fut>(&self, request: Fut) -> Result<T, StoreError>
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

    /// Journals a part just staged for source object `key` (by `agent`, if one staged it).
    pub(super) fn part_staged(&self, key: &str, part: &PartReceipt, agent: Option<&str>) {
        if let Some(journal) = &self.options.journal {
            journal.part_staged(key, part, agent);
        }
    }

    /// Holds `bytes` of the memory budget, then a slot, for one streamed object or block.
    pub(super) async fn streaming_room(
        &self,
        bytes: u64,
    ) -> (OwnedSemaphorePermit, OwnedSemaphorePermit) {
        let memory = self.memory.reserve(bytes).await;
        (memory, self.concurrency.acquire().await)
    }

    /// Records, once each, the metadata names of `attributes` that the destination stores
    /// under another name (it renames them itself, and gives the originals back on reading).
    pub(super) fn note_renamed_metadata(&self, attributes: &ObjectAttributes) {
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

    /// Records an event, if anyone listens.
    pub(super) fn emit(&self, event: ObjectEvent<'_>) {
        if let Some(sink) = &self.options.events {
            sink.record(&event);
        }
    }

    /// Creates the destination bucket, container or directory when it does not exist yet.
    pub(super) async fn create_dest_root_if_missing(&self) -> Result<(), StoreError> {
        let dest = &self.plan.dest;
        if !self.dest_exists().await? {
            self.retry(|| dest.create_root()).await?;
            self.note_once(format!("created {}", dest.display_root()));
        }
        Ok(())
    }

    /// Whether the destination's bucket, container or directory exists: asked once (a
    /// one-key listing), which the job asks early, beside its first listing page, so the
    /// first copy does not wait a round trip for it.
    pub(super) async fn dest_exists(&self) -> Result<bool, StoreError> {
        self.dest_probe
            .get_or_init(|| async {
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
                    Err(err) if err.kind() == ErrorKind::NotFound => Ok(false),
                    other => other.map(|_| true),
                }
            })
            .await
            .clone()
    }

    pub(super) fn note_once(&self, note: String) {
        let mut notes = self.notes.lock().expect("notes lock");
        if !notes.contains(&note) {
            tracing::info!("{note}");
            notes.push(note);
        }
    }

    pub(super) async fn retry<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
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
}
