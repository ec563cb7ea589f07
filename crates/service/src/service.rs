//! The service's state and what its API does: jobs submitted, listed, paused, resumed,
//! retried and cancelled through the one [`JobRunner`], each run's work going to the agents;
//! a bus of notices (job changes, failures) for the event stream; totals for `/metrics`.

use awcopy_engine::copy::{NamePolicy, Progress};
use awcopy_engine::events::Action;
use awcopy_engine::spec::{EncryptionRef, JobSpec, KeySource, Mode};
use awcopy_jobs::runner::{Access, JobEvent, JobHandle, JobRunner, Prepared, RunHooks};
use awcopy_jobs::{
    CatalogError, FailurePage, Holder, JobCatalog, JobRecord, ListFilter, RunEnd, ScheduleRun,
    Status, LEASE_TERM,
};
use awcopy_store::{Location, Reach};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

use crate::agents::AgentPool;
use crate::config::{place, Config, Scope, Use, User};
use crate::dispatch::{Dispatch, RunQueue};
use crate::error::ServiceError;
use crate::live::{LiveFeed, LiveJob};
use crate::nats::NatsDispatcher;
use crate::wire::{AgentView, Counters, FailureView, JobView, ProgressView, ReplicaView};

/// How many notices a slow event-stream reader may fall behind.
const NOTICE_BACKLOG: usize = 4096;
/// The most memory one job may ask for on the service (`tuning.max_memory`).
const MOST_JOB_MEMORY: u64 = 2 << 30;
/// The most jobs one user may have running on the service at once.
pub const MOST_RUNNING_PER_USER: usize = 64;

/// What a user may do to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobAction {
    /// Stop it, to resume later.
    Pause,
    /// Go on where it stopped.
    Resume,
    /// Copy its failed objects again, the names a destination refused under `name_policy`
    /// if given (else the job's own).
    Retry {
        /// The name policy for this retry.
        name_policy: Option<NamePolicy>,
    },
    /// Stop it for good.
    Cancel,
}

/// Something the event stream tells the users it concerns.
#[derive(Debug, Clone)]
pub enum Notice {
    /// A job was created or changed state.
    Job(Box<JobView>),
    /// An object of a job failed.
    Failure {
        /// Owner of the job.
        user: String,
        /// The job.
        job: String,
        /// The source key.
        key: String,
        /// Why.
        error: String,
    },
}

impl Notice {
    /// Whose it is.
    pub fn user(&self) -> &str {
        match self {
            Notice::Job(view) => &view.user,
            Notice::Failure { user, .. } => user,
        }
    }
}

/// A run this service holds.
struct Running {
    user: String,
    progress: Arc<Progress>,
    queue: Arc<dyn RunQueue>,
}

/// The job service.
pub struct Service {
    config: Config,
    catalog: Arc<dyn JobCatalog>,
    runner: JobRunner,
    dispatch: Box<dyn Dispatch>,
    running: Mutex<HashMap<String, Running>>,
    bus: broadcast::Sender<Notice>,
    /// Counters of the runs that ended, for `/metrics` (live runs are added when read).
    totals: Mutex<Counters>,
    /// The stores the service reaches, and the keys jobs may name: what every run opens
    /// its locations and reads its keys through.
    access: Access,
    /// Room for the estimates being worked out.
    pub(crate) estimates: crate::estimate::Estimates,
    /// The running jobs' progress as last taken, for the event streams.
    live: tokio::sync::watch::Sender<Arc<Vec<LiveJob>>>,
    /// The replications whose queues this process reads.
    pub(crate) replicating: crate::replication::Registry,
}

impl Service {
    /// A service over `catalog` whose work items go to `agents` in-process agents, or over
    /// `nats` to agents anywhere; its runs reach stores and read keys through `access`
    /// (see [`service_access`]).
    pub fn new(
        config: Config,
        access: Access,
        catalog: Arc<dyn JobCatalog>,
        agents: usize,
        nats: Option<NatsDispatcher>,
    ) -> Arc<Self> {
        let runner = JobRunner::new(catalog.clone());
        let dispatch: Box<dyn Dispatch> = match nats {
            Some(nats) => Box::new(nats),
            None => Box::new(AgentPool::start(agents, access.clone())),
        };
        Arc::new(Self {
            catalog,
            runner,
            dispatch,
            running: Mutex::new(HashMap::new()),
            bus: broadcast::channel(NOTICE_BACKLOG).0,
            totals: Mutex::default(),
            access,
            config,
            estimates: Default::default(),
            live: tokio::sync::watch::Sender::new(Arc::default()),
            replicating: Default::default(),
        })
    }

    /// The stores the service reaches.
    pub fn reach(&self) -> &Reach {
        self.access.reach.as_deref().expect("a service has a reach")
    }

    /// What its runs open stores and read keys through.
    pub(crate) fn access(&self) -> &Access {
        &self.access
    }

    /// The configuration (users and grants).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The catalogue.
    pub fn catalog(&self) -> &Arc<dyn JobCatalog> {
        &self.catalog
    }

    /// The agents and what they say of themselves.
    pub fn agent_views(&self) -> Vec<AgentView> {
        self.dispatch.views()
    }

    /// NATS messages (outcomes, heartbeats) the service dropped for their seal, subject or
    /// age.
    pub fn rejected_messages(&self) -> u64 {
        self.dispatch.rejected()
    }

    /// Work items waiting for an agent (in-process), or for their outcome (NATS).
    pub fn queue_depth(&self) -> u64 {
        self.dispatch.queue_depth()
    }

    /// A queue for one run of `spec`.
    pub(crate) fn queue_for(&self, spec: &JobSpec) -> Arc<dyn RunQueue> {
        self.dispatch.queue_for(spec)
    }

    /// Counters of runs that ended.
    pub fn totals(&self) -> Counters {
        *self.totals.lock().expect("totals lock")
    }

    /// Notices from now on.
    pub fn notices(&self) -> broadcast::Receiver<Notice> {
        self.bus.subscribe()
    }

    /// Reads a submitted spec: its fields checked, made the caller's, its locations resolved
    /// to the stores the service reaches and kept in their canonical form, and refused if it
    /// carries a secret, names a place the service does not reach (400) or one outside the
    /// caller's grants (403), or a key the caller may not use — before anything is listed.
    pub fn admit(&self, caller: &User, body: serde_json::Value) -> Result<JobSpec, ServiceError> {
        let mut spec: JobSpec = serde_json::from_value(body)
            .map_err(|e| ServiceError::invalid(format!("the job spec: {e}")))?;
        spec.check()
            .map_err(|e| ServiceError::invalid(format!("the job spec: {e}")))?;
        if spec.tuning.max_memory > MOST_JOB_MEMORY {
            return Err(ServiceError::invalid(format!(
                "the job spec: tuning.max_memory: {} bytes is more than a job may hold on this service ({MOST_JOB_MEMORY} bytes, 2GiB)",
                spec.tuning.max_memory
            )));
        }
        spec.user = caller.name.clone();
        let reach = self.reach();
        reach.check_s3_endpoint(spec.s3_endpoint.as_deref())?;
        spec.s3_endpoint = reach.s3_endpoint().map(|u| u.to_string());
        let source = self.admit_location(caller, &spec, End::Source)?;
        let dest = self.admit_location(caller, &spec, End::Dest)?;
        (spec.source, spec.dest) = (source, dest);
        self.admit_key(caller, &spec)?;
        Ok(spec)
    }

    /// One end of `spec`, in the canonical form the service keeps it in, if it is a place
    /// the service reaches (400 otherwise, naming the field and the host) and the caller's
    /// grants cover what the job touches there (403 otherwise).
    fn admit_location(
        &self,
        caller: &User,
        spec: &JobSpec,
        end: End,
    ) -> Result<String, ServiceError> {
        let (field, text, uses) = match end {
            End::Source => ("source", &spec.source, source_uses(spec)),
            End::Dest => ("dest", &spec.dest, &[Use::Write][..]),
        };
        refuse_secrets(field, text)?;
        let location = Location::parse(text).map_err(|e| e.context(field))?;
        let reached = self.reach().resolve(field, &location)?;
        // A recursive job works under its locations; a single object's destination that
        // ends in '/' takes the source's name under it.
        let directory = location.prefix().is_empty() || location.prefix().ends_with('/');
        let scope = match spec.is_recursive() || (end == End::Dest && directory) {
            true => Scope::Under,
            false => Scope::Object,
        };
        let place = place(&reached.location, scope);
        for &what in uses {
            if !caller.may(what, &place, self.reach()) {
                let verb = match what {
                    Use::Read => "read from",
                    Use::Write => "write to",
                };
                return Err(ServiceError::forbidden(format!(
                    "{field}: user '{}' may not {verb} {place}; ask an admin for a grant",
                    caller.name
                )));
            }
        }
        Ok(reached.canonical())
    }

    /// Refuses a key file (the service reads no file a job names) and a key the caller was
    /// not granted (or that does not exist: the same answer).
    fn admit_key(&self, caller: &User, spec: &JobSpec) -> Result<(), ServiceError> {
        match spec.encryption.as_ref().and_then(EncryptionRef::key_source) {
            Some(KeySource::File(_)) => Err(ServiceError::invalid(
                "encryption.key_file: the service reads no file a job names; give key_name, one of the keys its operator configured for you",
            )),
            Some(KeySource::Named(name)) if !self.config.may_use_key(caller, name) => {
                Err(ServiceError::forbidden(format!(
                    "encryption.key_name: user '{}' may not use a key named '{name}'; ask an admin for one",
                    caller.name
                )))
            }
            _ => Ok(()),
        }
    }

    /// Starts a job for `spec` (admitted); refuses one that an unfinished job of the same
    /// user already does.
    pub async fn submit(self: &Arc<Self>, spec: JobSpec) -> Result<JobView, ServiceError> {
        self.start(spec, None).await
    }

    /// Starts `run`, a run of a schedule, and sets when the schedule runs next.
    pub(crate) async fn submit_linked(
        self: &Arc<Self>,
        spec: JobSpec,
        run: ScheduleRun,
    ) -> Result<JobView, ServiceError> {
        self.start(spec, Some(run)).await
    }

    async fn start(
        self: &Arc<Self>,
        spec: JobSpec,
        run: Option<ScheduleRun>,
    ) -> Result<JobView, ServiceError> {
        self.room_for(&spec.user)?;
        let queue = self.queue_for(&spec);
        let prepared = Prepared::new(spec, &self.access).await?;
        // A schedule's run may start beside an earlier run that failed and waits for a resume.
        let handle = self
            .runner
            .start(prepared, self.hooks(&queue), run.is_some(), run)
            .await?;
        self.track(handle, queue).await
    }

    /// Refuses another run for `user` when they have [`MOST_RUNNING_PER_USER`] running.
    fn room_for(&self, user: &str) -> Result<(), ServiceError> {
        let running = self.running.lock().expect("running lock");
        if running.values().filter(|run| run.user == user).count() >= MOST_RUNNING_PER_USER {
            return Err(ServiceError::invalid(format!(
                "jobs: user '{user}' has {MOST_RUNNING_PER_USER} jobs running, the most one user may; wait for one to end or pause one"
            )));
        }
        Ok(())
    }

    /// The stored spec of `job`, checked again as its owner submitting it afresh (see
    /// [`Service::readmit`]).
    fn authorize(&self, job: &JobRecord) -> Result<JobSpec, ServiceError> {
        let spec = job.job_spec()?;
        self.readmit(
            &job.user,
            serde_json::to_value(&spec).expect("a spec serializes"),
        )?;
        Ok(spec)
    }

    /// A stored spec (a job's, a schedule's template, a replication's) checked again against
    /// the configuration as it is now, as its owner `owner` submitting it afresh: a resume,
    /// retry, restart, scheduled run or replication round never outlives a removed user, a
    /// revoked grant or a store the service no longer reaches.
    pub(crate) fn readmit(
        &self,
        owner: &str,
        spec: serde_json::Value,
    ) -> Result<JobSpec, ServiceError> {
        let user = self.config.user(owner).ok_or_else(|| {
            ServiceError::forbidden(format!(
                "user '{owner}' is no longer in the service's config; an admin must restore the user"
            ))
        })?;
        self.admit(user, spec)
    }

    /// The job `id`, or the one job whose id starts with it, if the caller may see it: its
    /// owner or an admin. Anyone else is told there is no such job, so ids do not leak.
    pub async fn visible(&self, caller: &User, id: &str) -> Result<JobRecord, ServiceError> {
        // A prefix is resolved over the caller's own jobs (an admin's: everyone's), so that
        // nobody learns of another's job by an ambiguity.
        match self.catalog.find_of(id, caller.listed_owner()).await {
            Ok(job) => Ok(job),
            Err(CatalogError::Ambiguous { prefix, matches }) => Err(ServiceError::invalid(
                format!("job id '{prefix}' is ambiguous: {matches}; give more of it"),
            )),
            Err(_) => Err(ServiceError::not_found("job", id)),
        }
    }

    /// The caller's jobs (every user's for an admin) that `filter` takes, newest first (its
    /// `user` is the caller's to set).
    pub async fn jobs(
        &self,
        caller: &User,
        filter: ListFilter,
    ) -> Result<Vec<JobView>, ServiceError> {
        let filter = ListFilter {
            user: caller.listed_owner().map(str::to_owned),
            ..filter
        };
        let mut views = Vec::new();
        for job in self.catalog.list(&filter).await? {
            views.push(self.view(&job).await?);
        }
        Ok(views)
    }

    /// A page of the failures of a job: its dead-letter list.
    pub async fn failures(
        &self,
        job: &JobRecord,
        page: &FailurePage,
    ) -> Result<Vec<FailureView>, ServiceError> {
        Ok(self
            .catalog
            .failures(&job.id, page)
            .await?
            .into_iter()
            .map(|f| {
                let (class, message) = match f.error.split_once(": ") {
                    Some((class, message)) if !class.contains(' ') => {
                        (class.to_owned(), message.to_owned())
                    }
                    _ => ("other".to_owned(), f.error.clone()),
                };
                FailureView {
                    key: f.key,
                    attempts: f.attempts,
                    error_class: class,
                    message,
                    updated_at: f.updated_at,
                }
            })
            .collect())
    }

    /// Pauses, resumes, retries or cancels `job`; answers the job as it is after.
    pub async fn act(
        self: &Arc<Self>,
        job: &JobRecord,
        action: JobAction,
    ) -> Result<JobView, ServiceError> {
        match action {
            JobAction::Pause => {
                self.runner.pause(&job.id).await?;
            }
            JobAction::Cancel => {
                self.runner.cancel(&job.id, &self.access).await?;
            }
            JobAction::Resume | JobAction::Retry { .. } => {
                let spec = self.authorize(job)?;
                self.room_for(&job.user)?;
                let queue = self.queue_for(&spec);
                let hooks = self.hooks(&queue);
                let handle = match action {
                    JobAction::Retry { name_policy } => {
                        self.runner
                            .retry(&job.id, &self.access, hooks, name_policy)
                            .await?
                    }
                    _ => self.runner.resume(&job.id, &self.access, hooks).await?,
                };
                return self.track(handle, queue).await;
            }
        }
        let job = self.catalog.find(&job.id).await?;
        let view = self.view(&job).await?;
        let _ = self.bus.send(Notice::Job(Box::new(view.clone())));
        Ok(view)
    }

    /// Continues the jobs whose runner stopped (a previous run of this service killed, or its
    /// host restarted; another replica killed or cut off): their leases are void, so they
    /// resume here. Each is claimed in the catalogue: of replicas looking at once, one takes it.
    pub async fn recover(self: &Arc<Self>) -> Result<usize, ServiceError> {
        let filter = ListFilter {
            user: None,
            status: Some(Status::Running),
            ..ListFilter::default()
        };
        let mut resumed = 0;
        for job in self.catalog.list(&filter).await? {
            // Its runner lives, or is this process (whose renewal may merely be late: it
            // would otherwise be run twice here).
            let mine = job.lease_holder.as_deref() == Some(Holder::this_process().id.as_str());
            if mine || job.live_owner().is_some() {
                continue;
            }
            if let Err(refusal) = self.authorize(&job) {
                // Its owner or grant went since it started: it waits, saying why.
                let why = format!("not resumed: {refusal}");
                tracing::warn!(job = %job.id, "{why}");
                let why = awcopy_store::StoreError::new(awcopy_store::ErrorKind::Auth, why);
                self.catalog
                    .finish_job(&job.id, Status::Paused, 0, Some(&why))
                    .await?;
                continue;
            }
            match self.act(&job, JobAction::Resume).await {
                Ok(_) => resumed += 1,
                Err(e) => tracing::warn!(job = %job.id, "could not resume: {:?}", e),
            }
        }
        Ok(resumed)
    }

    /// The replicas sharing the catalogue, whether each lives, and what each runs.
    pub async fn replica_views(&self) -> Result<Vec<ReplicaView>, ServiceError> {
        let me = &Holder::this_process().id;
        let now = time::OffsetDateTime::now_utc();
        Ok(self
            .catalog
            .replicas()
            .await?
            .into_iter()
            .map(|replica| ReplicaView {
                alive: replica.last_seen.time() + LEASE_TERM > now,
                this: replica.id == *me,
                replica,
            })
            .collect())
    }

    /// A job as the API shows it: live counters while this service runs it.
    pub async fn view(&self, job: &JobRecord) -> Result<JobView, ServiceError> {
        let stored = job.counters();
        let counters = match self.live(&job.id) {
            Some(live) => stored.with_live(&live.counters),
            None => stored,
        };
        let schedule = self
            .catalog
            .schedule_of_job(&job.id)
            .await?
            .map(|(id, _)| id);
        Ok(JobView {
            id: job.id.clone(),
            user: job.user.clone(),
            name: job.name.clone(),
            command: job.command.clone(),
            source: job.source.clone(),
            dest: job.dest.clone(),
            source_endpoint: self.shown_endpoint(&job.source),
            dest_endpoint: self.shown_endpoint(&job.dest),
            status: job.status,
            schedule,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            error: job.error.clone(),
            error_kind: job.error_kind.map(|class| class.0),
            runs: Vec::new(),
            counters,
            spec: job.spec.clone(),
        })
    }

    /// A job as `GET /jobs/{id}` shows it: its view and its runs.
    pub async fn view_in_full(&self, job: &JobRecord) -> Result<JobView, ServiceError> {
        let mut view = self.view(job).await?;
        view.runs = self.catalog.runs(&job.id).await?;
        Ok(view)
    }

    /// The endpoint the service reaches `location` at, when it is not the cloud's own.
    fn shown_endpoint(&self, location: &str) -> Option<String> {
        let location = Location::parse(location).ok()?;
        self.reach().shown_endpoint(&location)
    }

    /// Live progress of job `id`, if this service runs it.
    pub fn live(&self, id: &str) -> Option<ProgressView> {
        let running = self.running.lock().expect("running lock");
        running.get(id).map(|run| progress_view(id, run))
    }

    /// Live progress of every running job, whichever replica runs it: each job's counters as
    /// `GET /jobs/{id}` has them (the catalogue's, with the live run's where this replica runs
    /// it), never the run's alone (a resumed run counts from zero).
    pub async fn live_jobs(&self) -> Vec<LiveJob> {
        let running = ListFilter {
            status: Some(Status::Running),
            ..ListFilter::default()
        };
        let stored = match self.catalog.list(&running).await {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!("live progress: {e}");
                Vec::new()
            }
        };
        let runs = self.running.lock().expect("running lock");
        stored
            .into_iter()
            .map(|job| {
                let counters = job.counters();
                let view = match runs.get(&job.id) {
                    Some(run) => {
                        let mut view = progress_view(&job.id, run);
                        view.counters = counters.with_live(&view.counters);
                        view
                    }
                    None => ProgressView {
                        id: job.id.clone(),
                        counters,
                        agents: Vec::new(),
                        requests_in_flight: None,
                    },
                };
                LiveJob {
                    user: job.user,
                    view,
                }
            })
            .collect()
    }

    /// The running jobs' progress as last taken (see [`crate::live`]), and each new snapshot.
    pub fn live_feed(&self) -> LiveFeed {
        self.live.subscribe()
    }

    /// How many event streams watch the live progress.
    pub(crate) fn live_watchers(&self) -> usize {
        self.live.receiver_count()
    }

    /// Hands a new snapshot of the running jobs' progress to every stream.
    pub(crate) fn publish_live(&self, snapshot: Vec<LiveJob>) {
        self.live.send_replace(Arc::new(snapshot));
    }

    /// How many runs this service holds now.
    pub fn live_count(&self) -> usize {
        self.running.lock().expect("running lock").len()
    }

    /// Counters of every live run, summed.
    pub fn live_totals(&self) -> Counters {
        let running = self.running.lock().expect("running lock");
        running.values().map(|run| run.progress.snapshot()).sum()
    }

    fn hooks(&self, queue: &Arc<dyn RunQueue>) -> RunHooks {
        RunHooks {
            queue: Some(queue.clone().work()),
            ..RunHooks::default()
        }
    }

    /// Keeps a run in view until it ends: its progress, its notices, and at its end the
    /// totals and its schedule's record.
    async fn track(
        self: &Arc<Self>,
        handle: JobHandle,
        queue: Arc<dyn RunQueue>,
    ) -> Result<JobView, ServiceError> {
        let job = handle
            .job()
            .cloned()
            .expect("the service records every job");
        let progress = handle.progress();
        queue.stop_with(handle.stopping());
        self.running.lock().expect("running lock").insert(
            job.id.clone(),
            Running {
                user: job.user.clone(),
                progress: progress.clone(),
                queue,
            },
        );
        let mut events = handle.subscribe();
        let service = self.clone();
        let (id, user) = (job.id.clone(), job.user.clone());
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(JobEvent::Object { record, .. }) if record.action == Action::Failed => {
                        let _ = service.bus.send(Notice::Failure {
                            user: user.clone(),
                            job: id.clone(),
                            key: record.key,
                            error: record.error.unwrap_or_default(),
                        });
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        let service = self.clone();
        let id = job.id.clone();
        tokio::spawn(async move {
            let outcome = handle.wait().await;
            service.running.lock().expect("running lock").remove(&id);
            service.add_totals(&progress);
            let end = match &outcome {
                Ok(o) if o.interrupted => None,
                Ok(o) => match (&o.result, o.status) {
                    (Ok(_), Some(Status::Completed)) => Some(RunEnd::Succeeded),
                    (Ok(report), _) => Some(RunEnd::Failed(format!(
                        "{} objects failed",
                        report.failures.len()
                    ))),
                    (Err(e), _) => Some(RunEnd::Failed(e.to_string())),
                },
                Err(e) => Some(RunEnd::Failed(e.to_string())),
            };
            if let Some(end) = end {
                service.schedule_run_ended(&id, &end).await;
            }
            service.announce(&id).await;
        });
        let view = self.view(&job).await?;
        let _ = self.bus.send(Notice::Job(Box::new(view.clone())));
        Ok(view)
    }

    /// Records the end of a run on its schedule, if it has one.
    async fn schedule_run_ended(&self, id: &str, end: &RunEnd) {
        let recorded = async {
            if let Some((schedule, started)) = self.catalog.schedule_of_job(id).await? {
                self.catalog
                    .schedule_run_ended(&schedule, started, end)
                    .await?;
            }
            Ok::<_, awcopy_jobs::CatalogError>(())
        };
        if let Err(e) = recorded.await {
            tracing::warn!(job = %id, "could not record the end of a scheduled run: {e}");
        }
    }

    /// Tells the event stream job `id` changed.
    pub(crate) async fn announce(&self, id: &str) {
        if let Ok(job) = self.catalog.find(id).await {
            if let Ok(view) = self.view(&job).await {
                let _ = self.bus.send(Notice::Job(Box::new(view)));
            }
        }
    }

    fn add_totals(&self, progress: &Progress) {
        let mut totals = self.totals.lock().expect("totals lock");
        *totals = *totals + progress.snapshot();
    }
}

/// What the service's runs open their stores and read their keys through: the stores of
/// `reach`, the keys of `config`.
pub fn service_access(config: &Config, reach: Reach) -> Access {
    Access {
        reach: Some(Arc::new(reach)),
        keys: Arc::new(config.key_files()),
        ..Access::default()
    }
}

/// Which end of a job a location is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Source,
    Dest,
}

/// What a user must be allowed to do with a job's source: read it, and for `mv` (which
/// deletes each object copied) write it too.
fn source_uses(spec: &JobSpec) -> &'static [Use] {
    match spec.mode {
        Mode::Move => &[Use::Read, Use::Write],
        _ => &[Use::Read],
    }
}

/// Refuses a location that carries a SAS token or a presigned signature: the service uses its
/// own credentials, and a secret must not be stored with the job.
fn refuse_secrets(field: &str, location: &str) -> Result<(), ServiceError> {
    if Location::carries_secret(location).map_err(|e| e.context(field))? {
        return Err(ServiceError::invalid(format!(
            "{field}: the location carries a SAS token or signature; the service uses its own credentials and never stores a secret with a job: give the location without its query"
        )));
    }
    Ok(())
}

fn progress_view(id: &str, run: &Running) -> ProgressView {
    ProgressView {
        id: id.to_owned(),
        counters: run.progress.snapshot(),
        agents: run.queue.bytes_by_agent(),
        requests_in_flight: run.queue.requests_in_flight(),
    }
}
