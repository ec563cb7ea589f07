//! The planner's state for one job: the plan and options, the names it mapped, its notes,
//! the uploads an earlier run staged, the server-side verdict, and the queue every work item
//! goes through (the in-process executor unless agents run them).

use awcopy_store::{ErrorKind, ListRequest, ObjectAttributes, PartReceipt, StoreError};
use futures::TryStreamExt;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use super::{CopyOptions, CopyPlan};
use crate::concurrency::{Concurrency, Lane};
use crate::estimate::Route;
use crate::events::ObjectEvent;
use crate::execute::{renamed_metadata, unless_stopped, ItemExecutor, Requests, Shared};
use crate::journal::{ResumeFrom, StagedUpload, Stop};
use crate::progress::Progress;
use crate::server_side::{ServerSide, ServerSideGate};
use crate::work::{MappedName, WorkDone, WorkItem, WorkQueue};

pub(crate) struct Planner {
    pub(super) plan: CopyPlan,
    pub(super) options: CopyOptions,
    pub(super) route: Route,
    /// Whether the destination can copy from the source server-side: once it is found that
    /// it cannot, the job streams from then on.
    pub(super) server_side: ServerSideGate,
    /// Where every work item runs.
    queue: Arc<dyn WorkQueue>,
    /// The planner's own requests (look-ups, uploads opened, deletions), under the same caps
    /// as the in-process executor's.
    pub(super) requests: Arc<Requests>,
    /// Requests in flight (shared with the in-process executor).
    pub(super) concurrency: Arc<Concurrency>,
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
    /// The first error that concerns the whole job rather than one object (see
    /// [`Planner::whole_job_failed`]): once it is set, no object starts, the ones in flight
    /// end unfinished (a resume copies them), and the copy returns it.
    pub(super) whole_job_error: std::sync::OnceLock<StoreError>,
    /// Cancelled when [`Self::whole_job_error`] is set, to wake the listing loop.
    pub(super) halted: Stop,
}

impl Planner {
    /// The planner of `plan` under `options`, counting into `progress`; a resumed job's
    /// staged uploads and server-side verdict come from `resume`. Its items go to
    /// `options.queue`, else to an executor in this process that shares its limits.
    pub(crate) fn new(
        plan: CopyPlan,
        options: CopyOptions,
        progress: Arc<Progress>,
        resume: Option<&ResumeFrom>,
    ) -> Self {
        let unreachable = resume.and_then(|r| r.server_side_unreachable.clone());
        let executor_options = options.executor_options();
        let shared = Shared::new(&executor_options, progress.clone());
        // Every request's answer is timed: what `auto` follows.
        let mut plan = plan;
        plan.source = shared.timed(plan.source, Lane::Source);
        plan.dest = shared.timed(plan.dest, Lane::Dest);
        let (requests, concurrency) = (shared.requests.clone(), shared.concurrency.clone());
        let queue = match &options.queue {
            Some(queue) => queue.clone(),
            None => {
                // The executor's own counters; the job's come from what each item gave.
                let counters = Arc::new(Progress {
                    retry: progress.retry.clone(),
                    ..Progress::default()
                });
                let shared = Shared {
                    progress: counters,
                    ..shared
                };
                let (source, dest) = (plan.source.clone(), plan.dest.clone());
                Arc::new(ItemExecutor::sharing(
                    source,
                    dest,
                    &executor_options,
                    shared,
                )) as Arc<dyn WorkQueue>
            }
        };
        Self {
            server_side: ServerSideGate::new(match unreachable {
                Some(why) => ServerSide::Unreachable(why),
                None => ServerSide::Unknown,
            }),
            route: Route::between(plan.source.capabilities(), plan.dest.capabilities()),
            queue,
            requests,
            concurrency,
            plan,
            options,
            progress,
            notes: Mutex::new(Vec::new()),
            dest_ready: tokio::sync::OnceCell::new(),
            dest_probe: tokio::sync::OnceCell::new(),
            mapped: Mutex::new(Vec::new()),
            metadata_mapped: Mutex::new(Vec::new()),
            staged: Mutex::new(resume.map(|r| r.uploads.clone()).unwrap_or_default()),
            whole_job_error: std::sync::OnceLock::new(),
            halted: Stop::new(),
        }
    }

    /// Whether `err`, met copying one object, concerns the whole job — the destination root
    /// could not be made ready (`dest_root`), credentials were refused before any object of
    /// this run was copied (a wrong key, no permission on the container), or the store as a
    /// whole cannot take more (full, over quota, read-only) — and if so, stops the job with
    /// it: one error, instead of the same failure for every object. An object refused after
    /// others were copied stays that object's failure (a policy may deny some keys).
    pub(super) fn whole_job_failed(&self, err: &StoreError, dest_root: bool) -> bool {
        let refused_at_once = err.kind() == ErrorKind::Auth
            && self.progress.objects_done.load(Ordering::Relaxed) == 0;
        if !(dest_root || refused_at_once || err.concerns_whole_store()) {
            return false;
        }
        let mut err = err.clone();
        if err.concerns_whole_store() {
            // A full or read-only store says so without naming itself.
            err = err.context(format!("writing to {}", self.plan.dest.display_root()));
        }
        if self.whole_job_error.set(err).is_ok() {
            self.halted.cancel();
        }
        true
    }

    /// Says, as a note, that an earlier run of the job found the destination unable to read
    /// the source server-side, so this one streams.
    pub(super) fn say_earlier_fallback(&self) {
        if self.route != Route::Streamed && self.server_side.unreachable() {
            self.note_once(format!(
                "{} cannot read from {} server-side (found by an earlier run of this job); streaming through this machine",
                self.plan.dest.display_root(),
                self.plan.source.display_root()
            ));
        }
    }

    /// `Err(Interrupted)` once the job is stopping: nothing new starts.
    pub(super) fn check_stop(&self) -> Result<(), StoreError> {
        unless_stopped(&self.options.stop)?;
        match self.whole_job_error.get() {
            Some(err) => Err(StoreError::new(
                ErrorKind::Interrupted,
                format!("stopped by an error of the whole job: {err}"),
            )),
            None => Ok(()),
        }
    }

    /// Runs `item` on the job's queue and reads what it gave — the one way from the planner
    /// to an executor. An item copied server-side goes through the job's gate (see
    /// [`ServerSideGate`]), so that while it is not known whether the destination can read
    /// the source, one item at a time asks.
    pub(super) async fn send<T>(
        &self,
        item: WorkItem,
        read: impl FnOnce(WorkDone) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.check_stop()?;
        let server_side = item.is_server_side();
        let sent = async { read(self.queue.run(item).await?) };
        match server_side {
            false => sent.await,
            true => self.server_side_request(sent).await,
        }
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

    /// Journals a part just staged for source object `key` (by `agent`, if one staged it).
    pub(super) fn part_staged(&self, key: &str, part: &PartReceipt, agent: Option<&str>) {
        if let Some(journal) = &self.options.journal {
            journal.part_staged(key, part, agent);
        }
    }

    /// Records, once each, the metadata names of `attributes` that the destination stores
    /// under another name.
    pub(super) fn note_renamed_metadata(&self, attributes: &ObjectAttributes) {
        self.note_metadata_mapped(renamed_metadata(self.plan.dest.as_ref(), attributes));
    }

    /// Records, once each, metadata names an executor found stored under another name.
    pub(super) fn note_metadata_mapped(&self, pairs: Vec<MappedName>) {
        if pairs.is_empty() {
            return;
        }
        let mut recorded = self.metadata_mapped.lock().expect("mapping lock");
        for pair in pairs {
            if !recorded.contains(&pair) {
                recorded.push(pair);
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
            self.requests.retry(|| dest.create_root()).await?;
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
                    .requests
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
}
