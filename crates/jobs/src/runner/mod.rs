//! The job runner: one lifecycle for every front door (the CLI, the service, its agents).
//! [`JobRunner::start`] records a job and runs it; [`JobRunner::resume`], [`JobRunner::retry`],
//! [`JobRunner::pause`] and [`JobRunner::cancel`] act on a recorded one. A running job is a
//! [`JobHandle`]: live progress, a stop, a broadcast of [`JobEvent`]s and, at the end, a
//! [`RunOutcome`]. Another process pauses or cancels a job through a request in the catalogue
//! that the runner holding the job's lease polls — never by a signal.

mod control;

pub use awcopy_engine::prepare::{Access, Prepared};

use awcopy_engine::copy::{copy, CopyOptions, CopyReport, NamePolicy, Progress};
use awcopy_engine::events::{EventSink, ObjectEvent, ObjectRecord, Tee};
use awcopy_engine::index::IndexOptions;
use awcopy_engine::journal::{ResumeFrom, Stop};
use awcopy_engine::overwrite::Confirm;
use awcopy_engine::work::WorkQueue;
use awcopy_store::{ErrorKind, StoreError};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

use crate::job_catalog::JobCatalog;
use crate::lease::Lease;
use crate::records::{CatalogError, JobRecord, NewJob, Request, ScheduleRun, Status, Trigger};

/// How long [`JobRunner::pause`] and [`JobRunner::cancel`] wait for a running job to stop.
pub const STOP_WAIT: Duration = Duration::from_secs(60);

/// How many events a slow subscriber may fall behind before it misses some.
const EVENT_BACKLOG: usize = 1024;

/// What the caller plugs into a run: where object events go besides the catalogue, and who
/// answers overwrite questions (`prompt` policy).
#[derive(Debug, Clone, Default)]
pub struct RunHooks {
    /// Receives every object event (the CLI's `--log` and `--json`, a dry run's pricing).
    pub events: Option<Arc<dyn EventSink>>,
    /// Answers "overwrite this object?" when the spec's policy is `prompt`.
    pub confirm: Option<Arc<dyn Confirm>>,
    /// Where large objects' blocks and commits go, if not to this process's executor.
    pub queue: Option<Arc<dyn WorkQueue>>,
}

/// What a running job tells its subscribers.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum JobEvent {
    /// Something happened to one object.
    Object {
        /// The job (none for a run not recorded).
        job: Option<String>,
        /// What happened.
        #[serde(flatten)]
        record: ObjectRecord,
    },
    /// The job changed state.
    Status {
        /// The job.
        job: String,
        /// Its new state.
        status: Status,
    },
}

/// Why a runner will not do what was asked, given the job's state. Each is a kind the caller
/// turns into advice.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// Another live runner holds the job.
    Running(Box<JobRecord>, Lease),
    /// An unfinished job already copies the same source to the same destination.
    Duplicate(Box<JobRecord>),
    /// Completed: nothing to resume, no failures to retry.
    Completed(Box<JobRecord>),
    /// Finished with failures: resume has nothing to continue; retry copies the failures.
    HasFailures(Box<JobRecord>),
    /// Not finished: retry waits until a resume finishes it.
    Unfinished(Box<JobRecord>),
    /// Cancelled: it never runs again.
    Cancelled(Box<JobRecord>),
    /// Finished, or not running: there is nothing to pause or cancel.
    NothingToStop(Box<JobRecord>),
    /// Asked to stop, it still ran after [`STOP_WAIT`].
    StillRunning(Box<JobRecord>),
}

impl Refusal {
    /// The job refused.
    pub fn job(&self) -> &JobRecord {
        match self {
            Refusal::Running(job, _)
            | Refusal::Duplicate(job)
            | Refusal::Completed(job)
            | Refusal::HasFailures(job)
            | Refusal::Unfinished(job)
            | Refusal::Cancelled(job)
            | Refusal::NothingToStop(job)
            | Refusal::StillRunning(job) => job,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = &self.job().id;
        match self {
            Refusal::Running(_, lease) => write!(f, "job {id} is running ({})", lease.describe()),
            Refusal::Duplicate(other) => write!(
                f,
                "job {id} already copies {} to {}",
                other.source, other.dest
            ),
            Refusal::Completed(_) => write!(f, "job {id} is completed"),
            Refusal::HasFailures(_) => write!(f, "job {id} is finished (with failures)"),
            Refusal::Unfinished(job) => write!(f, "job {id} did not finish ({})", job.status),
            Refusal::Cancelled(_) => write!(f, "job {id} was cancelled"),
            Refusal::NothingToStop(job) => write!(f, "job {id} is {}", job.status),
            Refusal::StillRunning(_) => write!(
                f,
                "job {id} is still running after {} s",
                STOP_WAIT.as_secs()
            ),
        }
    }
}

/// Why a runner could not act.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The catalogue failed, or has no such job.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A location, a key file or a store refused (the message names the field).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The job's state does not allow it.
    #[error("{0}")]
    Refused(Refusal),
}

/// How a run ended.
#[derive(Debug)]
pub struct RunOutcome {
    /// The job, if the run was recorded.
    pub job_id: Option<String>,
    /// Its state now, if recorded.
    pub status: Option<Status>,
    /// What the copy did, or the error that stopped it before it could finish.
    pub result: Result<CopyReport, StoreError>,
    /// Whether a stop ended it early (the job is paused and can resume).
    pub interrupted: bool,
}

/// What a resumed or retried job starts from, counted.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResumeCounts {
    /// Objects listed and not finished (for a retry: the failed objects queued again).
    pub pending: usize,
    /// Key ranges left to list.
    pub ranges: usize,
    /// Uploads in progress.
    pub uploads: usize,
}

/// A job running in this process.
#[derive(Debug)]
pub struct JobHandle {
    job: Option<JobRecord>,
    resumed: Option<ResumeCounts>,
    progress: Arc<Progress>,
    stop: Stop,
    stop_now: Stop,
    events: broadcast::Sender<JobEvent>,
    task: tokio::task::JoinHandle<Result<RunOutcome, RunError>>,
}

impl JobHandle {
    /// The job's record as it started (none for a run not recorded).
    pub fn job(&self) -> Option<&JobRecord> {
        self.job.as_ref()
    }

    /// What a resume or retry starts from.
    pub fn resumed(&self) -> Option<ResumeCounts> {
        self.resumed
    }

    /// Live counters.
    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }

    /// What stops the run, to keep while the handle is waited on.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            stop: self.stop.clone(),
            stop_now: self.stop_now.clone(),
        }
    }

    /// The token cancelled when the run is asked to stop: executors elsewhere (agents) hold
    /// it so that items not yet started are not started.
    pub fn stopping(&self) -> Stop {
        self.stop.clone()
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.events.subscribe()
    }

    /// Waits for the run to end.
    pub async fn wait(self) -> Result<RunOutcome, RunError> {
        self.task.await.unwrap_or_else(|e| {
            Err(RunError::Store(StoreError::new(
                ErrorKind::Other,
                format!("the job's task failed: {e}"),
            )))
        })
    }
}

/// Stops a running job from this process.
#[derive(Debug, Clone)]
pub struct Stopper {
    stop: Stop,
    stop_now: Stop,
}

impl Stopper {
    /// Pauses: nothing new starts, work in flight finishes, the job can resume.
    pub fn pause(&self) {
        self.stop.cancel();
    }

    /// Stops at once, cutting short the work in flight (a resume redoes it).
    pub fn stop_now(&self) {
        self.stop.cancel();
        self.stop_now.cancel();
    }

    /// Whether a pause or a stop was asked (the run may still be finishing what is in flight).
    pub fn stopping(&self) -> bool {
        self.stop.is_cancelled()
    }
}

/// Starts and acts on recorded jobs.
#[derive(Debug, Clone)]
pub struct JobRunner {
    catalog: Arc<dyn JobCatalog>,
}

impl JobRunner {
    /// A runner recording into `catalog`.
    pub fn new(catalog: Arc<dyn JobCatalog>) -> Self {
        Self { catalog }
    }

    /// The catalogue it records into.
    pub fn catalog(&self) -> &Arc<dyn JobCatalog> {
        &self.catalog
    }

    /// Records a new job for `prepared` (owned by `prepared.spec.user`) and runs it; refuses
    /// when an unfinished job does the same, unless `allow_duplicate`.
    pub async fn start(
        &self,
        prepared: Prepared,
        hooks: RunHooks,
        allow_duplicate: bool,
        schedule_run: Option<ScheduleRun>,
    ) -> Result<JobHandle, RunError> {
        let spec = &prepared.spec;
        let (source, dest) = (prepared.source.to_string(), prepared.dest.to_string());
        let command = spec.mode.command();
        if !allow_duplicate {
            let other = self
                .catalog
                .unfinished(&spec.user, command, &source, &dest)
                .await?;
            if let Some(other) = other {
                return Err(RunError::Refused(Refusal::Duplicate(Box::new(other))));
            }
        }
        let record = self
            .catalog
            .create_job(NewJob {
                user: spec.user.clone(),
                name: spec.name.clone(),
                command: command.to_owned(),
                source,
                dest,
                spec: serde_json::to_value(spec).map_err(|e| CatalogError::Other(e.to_string()))?,
                schedule_run,
            })
            .await?;
        Ok(spawn(
            Some((self.catalog.clone(), record)),
            prepared,
            hooks,
            None,
            None,
        ))
    }

    /// Continues job `id` from where it stopped: it lists only what it had not listed, skips
    /// what it copied and uses staged blocks again.
    pub async fn resume(
        &self,
        id: &str,
        access: &Access,
        hooks: RunHooks,
    ) -> Result<JobHandle, RunError> {
        let job = self.catalog.find(id).await?;
        match job.status {
            Status::Completed => return Err(refused(&job, Refusal::Completed)),
            Status::CompletedWithFailures => return Err(refused(&job, Refusal::HasFailures)),
            Status::Cancelled => return Err(refused(&job, Refusal::Cancelled)),
            _ => refuse_live(&job)?,
        }
        let prepared = Prepared::new(job.job_spec()?, access).await?;
        self.catalog.claim(&job, Trigger::Resume).await?;
        let from = self
            .catalog
            .resume_point(&job.id, true, &IndexOptions::default())
            .await?;
        self.run_again(&job.id, prepared, hooks, from).await
    }

    /// Copies the failed objects of finished job `id` again, and only those, under another
    /// name policy if given.
    pub async fn retry(
        &self,
        id: &str,
        access: &Access,
        hooks: RunHooks,
        name_policy: Option<NamePolicy>,
    ) -> Result<JobHandle, RunError> {
        let job = self.catalog.find(id).await?;
        match job.status {
            Status::CompletedWithFailures => {}
            Status::Completed => return Err(refused(&job, Refusal::Completed)),
            Status::Cancelled => return Err(refused(&job, Refusal::Cancelled)),
            _ => {
                refuse_live(&job)?;
                return Err(refused(&job, Refusal::Unfinished));
            }
        }
        let mut spec = job.job_spec()?;
        if let Some(policy) = name_policy {
            spec.name_policy = policy;
        }
        let prepared = Prepared::new(spec, access).await?;
        self.catalog.claim(&job, Trigger::Retry).await?;
        self.catalog.requeue_failed(&job.id).await?;
        let from = self
            .catalog
            .resume_point(&job.id, false, &IndexOptions::default())
            .await?;
        self.run_again(&job.id, prepared, hooks, from).await
    }

    async fn run_again(
        &self,
        id: &str,
        prepared: Prepared,
        hooks: RunHooks,
        from: ResumeFrom,
    ) -> Result<JobHandle, RunError> {
        let counts = ResumeCounts {
            pending: from.pending.left()? as usize,
            ranges: from.ranges.len(),
            uploads: from.uploads.len(),
        };
        let job = self.catalog.find(id).await?;
        let mut handle = spawn(
            Some((self.catalog.clone(), job)),
            prepared,
            hooks,
            Some(from),
            None,
        );
        handle.resumed = Some(counts);
        Ok(handle)
    }

    /// Asks the runner of job `id` to pause it, wherever it runs, and waits until it has.
    pub async fn pause(&self, id: &str) -> Result<JobRecord, RunError> {
        let job = self.catalog.find(id).await?;
        if job.live_owner().is_none() {
            return Err(RunError::Refused(Refusal::NothingToStop(Box::new(job))));
        }
        self.catalog.request(&job.id, Request::Pause).await?;
        self.wait_stopped(&job).await
    }

    /// Cancels job `id`: stops it if it runs (wherever it runs), aborts its uploads in
    /// progress (their staged blocks go with them) and marks it cancelled. What it copied
    /// stays. Returns the job and how many uploads were aborted.
    pub async fn cancel(&self, id: &str, access: &Access) -> Result<(JobRecord, usize), RunError> {
        let mut job = self.catalog.find(id).await?;
        if job.status.is_final() {
            return Err(RunError::Refused(Refusal::NothingToStop(Box::new(job))));
        }
        if job.live_owner().is_some() {
            self.catalog.request(&job.id, Request::Cancel).await?;
            job = self.wait_stopped(&job).await?;
        }
        let uploads = self.catalog.uploads(&job.id).await?;
        if !uploads.is_empty() {
            let dest = awcopy_engine::prepare::open_dest(&job.job_spec()?, access).await?;
            for (key, upload) in &uploads {
                dest.abort_upload(&upload.dest_key, &upload.upload)
                    .await
                    .map_err(|e| {
                        let id = &job.id;
                        e.context("DEST")
                            .context(format!("job {id} is not cancelled, try again"))
                    })?;
                self.catalog.forget_upload(&job.id, key).await?;
            }
        }
        self.catalog
            .finish_job(&job.id, Status::Cancelled, 0, None)
            .await?;
        Ok((self.catalog.find(&job.id).await?, uploads.len()))
    }

    /// Waits until the run of `job` that was asked to stop has stopped: no live runner holds
    /// the job, or a later run of it began.
    async fn wait_stopped(&self, job: &JobRecord) -> Result<JobRecord, RunError> {
        let deadline = tokio::time::Instant::now() + STOP_WAIT;
        // The run asked to stop is the last one now: a later run (a resume that came as soon
        // as it stopped) is not waited for.
        let runs = self.catalog.runs(&job.id).await?.len();
        loop {
            let now = self.catalog.find(&job.id).await?;
            if now.live_owner().is_none() || self.catalog.runs(&job.id).await?.len() > runs {
                return Ok(now);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(RunError::Refused(Refusal::StillRunning(Box::new(now))));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Runs `prepared` without recording a job: a dry run, or a copy the caller keeps out of the
/// catalogue.
pub fn run_unrecorded(prepared: Prepared, hooks: RunHooks, dry_run: bool) -> JobHandle {
    spawn(None, prepared, hooks, None, Some(dry_run))
}

/// The refusal of `kind` for `job`.
fn refused(job: &JobRecord, kind: fn(Box<JobRecord>) -> Refusal) -> RunError {
    RunError::Refused(kind(Box::new(job.clone())))
}

/// Refuses a job that a live runner holds.
fn refuse_live(job: &JobRecord) -> Result<(), RunError> {
    match job.live_owner() {
        Some(lease) => Err(RunError::Refused(Refusal::Running(
            Box::new(job.clone()),
            lease,
        ))),
        None => Ok(()),
    }
}

/// Starts the run's task. `dry_run` is set only for runs not recorded.
fn spawn(
    job: Option<(Arc<dyn JobCatalog>, JobRecord)>,
    prepared: Prepared,
    hooks: RunHooks,
    resume: Option<ResumeFrom>,
    dry_run: Option<bool>,
) -> JobHandle {
    let (events, _) = broadcast::channel(EVENT_BACKLOG);
    let (stop, stop_now) = (Stop::new(), Stop::new());
    let progress = Arc::new(Progress::default());
    let record = job.as_ref().map(|(_, record)| record.clone());
    let run = Run {
        job,
        stop: stop.clone(),
        stop_now: stop_now.clone(),
        progress: progress.clone(),
        events: events.clone(),
    };
    let task = tokio::spawn(run.go(prepared, hooks, resume, dry_run.unwrap_or(false)));
    JobHandle {
        job: record,
        resumed: None,
        progress,
        stop,
        stop_now,
        events,
        task,
    }
}

/// One run of a job, inside its task.
struct Run {
    job: Option<(Arc<dyn JobCatalog>, JobRecord)>,
    stop: Stop,
    stop_now: Stop,
    progress: Arc<Progress>,
    events: broadcast::Sender<JobEvent>,
}

impl Run {
    async fn go(
        self,
        prepared: Prepared,
        hooks: RunHooks,
        resume: Option<ResumeFrom>,
        dry_run: bool,
    ) -> Result<RunOutcome, RunError> {
        let job_id = self.job.as_ref().map(|(_, record)| record.id.clone());
        let mut options = prepared.options(dry_run);
        options.confirm = hooks.confirm;
        options.events = hooks.events;
        options.queue = hooks.queue;
        add_sink(
            &mut options,
            Arc::new(Broadcast {
                job: job_id.clone(),
                events: self.events.clone(),
            }),
        );
        // A job's objects' outcomes, listing and staged blocks are recorded as they happen;
        // its lease is renewed and requests to stop are heard while it runs.
        let recorded = self.job.as_ref().map(|(catalog, record)| {
            let recorder = catalog.recorder(&record.id);
            add_sink(&mut options, recorder.clone());
            options.journal = Some(recorder.clone());
            let control = control::spawn(catalog.clone(), record.id.clone(), self.stop.clone());
            (catalog, recorder, control)
        });
        if let Some(id) = &job_id {
            self.status(id, Status::Running);
        }
        options.stop = Some(self.stop.clone());
        if let (Some(_), Some((_, record))) = (&resume, &self.job) {
            options.copied_since = Some(record.created_at.time());
        }
        let (mut plan, filter) = prepared.into_plan();
        plan.resume = resume;
        let result = tokio::select! {
            result = copy(plan, options, filter, self.progress.clone()) => result,
            () = self.stop_now.cancelled() => Err(StoreError::new(ErrorKind::Interrupted, "stopped at once")),
        };
        let interrupted = match &result {
            Ok(report) => report.interrupted,
            Err(e) => e.kind() == ErrorKind::Interrupted,
        };
        let mut status = None;
        if let (Some((catalog, recorder, control)), Some(id)) = (recorded, &job_id) {
            control.abort();
            recorder.finish().await?;
            let ended = match &result {
                _ if interrupted => Status::Paused,
                Ok(r) if r.failures.is_empty() => Status::Completed,
                Ok(_) => Status::CompletedWithFailures,
                Err(_) => Status::Failed,
            };
            let mapped = result.as_ref().map_or(0, |r| r.names_mapped.len() as u64);
            let error = result.as_ref().err().filter(|_| !interrupted);
            catalog.finish_job(id, ended, mapped, error).await?;
            self.status(id, ended);
            status = Some(ended);
        }
        Ok(RunOutcome {
            job_id,
            status,
            result,
            interrupted,
        })
    }

    fn status(&self, job: &str, status: Status) {
        let _ = self.events.send(JobEvent::Status {
            job: job.to_owned(),
            status,
        });
    }
}

/// Adds an event sink beside those already set.
fn add_sink(options: &mut CopyOptions, sink: Arc<dyn EventSink>) {
    options.events = Some(match options.events.take() {
        Some(other) => Arc::new(Tee(vec![other, sink])),
        None => sink,
    });
}

/// Sends object events to a job's subscribers (none costs nothing).
#[derive(Debug)]
struct Broadcast {
    job: Option<String>,
    events: broadcast::Sender<JobEvent>,
}

impl EventSink for Broadcast {
    fn record(&self, event: &ObjectEvent<'_>) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(JobEvent::Object {
                job: self.job.clone(),
                record: event.into(),
            });
        }
    }
}
