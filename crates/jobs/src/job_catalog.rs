//! The catalogue as the runner and the front doors see it: a trait, so that the SQLite
//! catalogue ([`crate::Catalog`]) of one machine can give way to one several service replicas
//! share (PostgreSQL) without the runner changing.

use awcopy_engine::events::EventSink;
use awcopy_engine::index::IndexOptions;
use awcopy_engine::journal::{Journal, ResumeFrom, UploadRecord};
use awcopy_store::StoreError;
use std::sync::Arc;

use crate::timestamp::Timestamp;

use crate::records::{
    CatalogError, FailurePage, FailureRecord, JobRecord, ListFilter, NewJob, NewReplication,
    NewSchedule, ReplicaRecord, Replication, ReplicationRound, Request, RunEnd, RunRecord,
    Schedule, Status, Trigger, WrittenObject,
};

/// Writes one run's progress into the catalogue: each object's outcome (as an
/// [`EventSink`]) and what resume needs (as a [`Journal`]).
#[async_trait::async_trait]
pub trait JobRecorder: EventSink + Journal {
    /// Waits until everything recorded so far is in the catalogue.
    async fn finish(&self) -> Result<(), CatalogError>;
}

/// The durable catalogue of jobs.
#[async_trait::async_trait]
pub trait JobCatalog:
    ScheduleCatalog + ReplicaCatalog + ReplicationCatalog + Send + Sync + std::fmt::Debug
{
    /// Records a new job, running in this process (which takes its lease).
    async fn create_job(&self, job: NewJob) -> Result<JobRecord, CatalogError>;

    /// Ends a run of a job: its status (finished, or paused / failed to resume later), when
    /// it ended, plus the names this run mapped. Its other counters are kept by the catalogue
    /// as objects are written (migration 0003). `error` says why a run failed, and of which
    /// class (both cleared otherwise).
    async fn finish_job(
        &self,
        id: &str,
        status: Status,
        mapped: u64,
        error: Option<&StoreError>,
    ) -> Result<(), CatalogError>;

    /// Gives this process the lease of `job` and marks it running, provided nobody changed
    /// it since it was read; records the run `trigger` starts (the job's first start stays),
    /// and ends, as failed, a run whose runner died before it could end it.
    async fn claim(&self, job: &JobRecord, trigger: Trigger) -> Result<(), CatalogError>;

    /// Renews this process's lease of job `id`; returns what another process asks of it, if
    /// anything. `Changed` if the lease is no longer this process's.
    async fn renew(&self, id: &str) -> Result<Option<Request>, CatalogError>;

    /// What another process asks of the runner of job `id`, if anything (a read; see
    /// [`JobCatalog::renew`]). `Changed` if another process took the job over (its lease
    /// expired while this one could not renew it): the runner hears it within a poll.
    async fn requested(&self, id: &str) -> Result<Option<Request>, CatalogError>;

    /// Asks the runner of job `id` to stop (it polls for this).
    async fn request(&self, id: &str, request: Request) -> Result<(), CatalogError>;

    /// Where job `id` continues: its unfinished ranges, objects listed and not finished,
    /// the keys it has met (held under `index`: bounded memory at any job size), and its
    /// uploads in progress. With `relist` false the listing counts as over (a retry copies
    /// only what is queued).
    async fn resume_point(
        &self,
        id: &str,
        relist: bool,
        index: &IndexOptions,
    ) -> Result<ResumeFrom, CatalogError>;

    /// Queues a job's failed objects to be copied again; returns how many.
    async fn requeue_failed(&self, id: &str) -> Result<u64, CatalogError>;

    /// The uploads in progress of job `id`, by source key.
    async fn uploads(&self, id: &str) -> Result<Vec<(String, UploadRecord)>, CatalogError>;

    /// Forgets the upload of source object `key` of job `id` (aborted).
    async fn forget_upload(&self, id: &str, key: &str) -> Result<(), CatalogError>;

    /// An unfinished job of `user` running `command` from `source` to `dest`, if any.
    async fn unfinished(
        &self,
        user: &str,
        command: &str,
        source: &str,
        dest: &str,
    ) -> Result<Option<JobRecord>, CatalogError>;

    /// Deletes finished jobs (completed, with failures, or cancelled) that ended before
    /// `cutoff`, with all they recorded; returns their ids.
    async fn clean(
        &self,
        user: Option<&str>,
        cutoff: Timestamp,
    ) -> Result<Vec<String>, CatalogError>;

    /// Jobs, newest first.
    async fn list(&self, filter: &ListFilter) -> Result<Vec<JobRecord>, CatalogError>;

    /// The job whose id is `id`, or the one job whose id starts with it.
    async fn find(&self, id: &str) -> Result<JobRecord, CatalogError> {
        self.find_of(id, None).await
    }

    /// As [`JobCatalog::find`], among `user`'s jobs only when given (a prefix is resolved,
    /// and said ambiguous, over that user's jobs alone).
    async fn find_of(&self, id: &str, user: Option<&str>) -> Result<JobRecord, CatalogError>;

    /// Every run of job `id`, first to last.
    async fn runs(&self, id: &str) -> Result<Vec<RunRecord>, CatalogError>;

    /// The objects of a job that failed, by key: a page of them.
    async fn failures(
        &self,
        id: &str,
        page: &FailurePage,
    ) -> Result<Vec<FailureRecord>, CatalogError>;

    /// A recorder of job `id`'s progress, for one run.
    fn recorder(&self, id: &str) -> Arc<dyn JobRecorder>;
}

/// Schedules in the catalogue: a job template run every so often, on or off, with the
/// watermark its next run copies from. Each run is a normal job linked to its schedule
/// ([`NewJob::schedule_run`](crate::NewJob::schedule_run)).
#[async_trait::async_trait]
pub trait ScheduleCatalog: Send + Sync {
    /// Records a new schedule.
    async fn create_schedule(&self, new: NewSchedule) -> Result<Schedule, CatalogError>;

    /// The schedule whose id is `id`.
    async fn schedule(&self, id: &str) -> Result<Schedule, CatalogError>;

    /// Schedules of `user` (all users' if none), oldest first.
    async fn schedules(&self, user: Option<&str>) -> Result<Vec<Schedule>, CatalogError>;

    /// Replaces the settings of schedule `schedule.id` (name, template, timing, on/off,
    /// next run); switching it on clears why it turned off and its failure count.
    async fn update_schedule(&self, schedule: &Schedule) -> Result<Schedule, CatalogError>;

    /// Deletes schedule `id` (its runs stay as jobs).
    async fn delete_schedule(&self, id: &str) -> Result<(), CatalogError>;

    /// Schedules that are on and due at `at`.
    async fn due_schedules(&self, at: Timestamp) -> Result<Vec<Schedule>, CatalogError>;

    /// The job of schedule `id` that has not ended (running or paused), if any: a schedule
    /// runs one at a time.
    async fn schedule_run_in_progress(&self, id: &str) -> Result<Option<String>, CatalogError>;

    /// Turns schedule `id` off, saying `why` (a schedule that cannot go on).
    async fn disable_schedule(&self, id: &str, why: &str) -> Result<(), CatalogError>;

    /// Sets when schedule `id` runs next (a run skipped because the previous one goes on).
    async fn set_next_run(&self, id: &str, next_run: Option<Timestamp>)
        -> Result<(), CatalogError>;

    /// The schedule job `job_id` is a run of, with the run's start, if any.
    async fn schedule_of_job(
        &self,
        job_id: &str,
    ) -> Result<Option<(String, Timestamp)>, CatalogError>;

    /// Records how a run of schedule `id` that started at `started_at` ended: success moves
    /// the watermark to its start and clears the failure count; a failure adds one, and the
    /// schedule turns itself off (saying why) at its limit. Returns the schedule as it is now.
    async fn schedule_run_ended(
        &self,
        id: &str,
        started_at: Timestamp,
        end: &RunEnd,
    ) -> Result<Schedule, CatalogError>;
}

/// The service processes (replicas) sharing the catalogue: each records that it lives, and the
/// jobs it runs are those whose lease it holds (its id is its lease holder's,
/// [`Holder::this_process`](crate::Holder::this_process)).
#[async_trait::async_trait]
pub trait ReplicaCatalog: Send + Sync {
    /// Records that this process, a replica of awcopy `version`, lives now (and forgets
    /// replicas not seen for a day).
    async fn replica_alive(&self, version: &str) -> Result<(), CatalogError>;

    /// Forgets this process as a replica (it stops).
    async fn replica_stopped(&self) -> Result<(), CatalogError>;

    /// Every replica on record, first started first, each with the running jobs whose lease
    /// it holds.
    async fn replicas(&self) -> Result<Vec<ReplicaRecord>, CatalogError>;
}

/// Replications in the catalogue: continuous copies driven by change events. One service
/// replica at a time reads a replication's queue (the holder of its lease); each round's
/// effects are recorded in one transaction before its messages leave the queue.
#[async_trait::async_trait]
pub trait ReplicationCatalog: Send + Sync {
    /// Records a new replication.
    async fn create_replication(&self, new: NewReplication) -> Result<Replication, CatalogError>;

    /// The replication whose id is `id`.
    async fn replication(&self, id: &str) -> Result<Replication, CatalogError>;

    /// Replications of `user` (all users' if none), oldest first.
    async fn replications(&self, user: Option<&str>) -> Result<Vec<Replication>, CatalogError>;

    /// Replaces the settings of replication `replication.id`: name, on/off, deletions.
    async fn update_replication(
        &self,
        replication: &Replication,
    ) -> Result<Replication, CatalogError>;

    /// Deletes replication `id` with what it recorded of its objects and failures.
    async fn delete_replication(&self, id: &str) -> Result<(), CatalogError>;

    /// Takes or renews this process's lease of replication `id`: `true` if this process now
    /// reads its queue, `false` if another live process does.
    async fn claim_replication(&self, id: &str) -> Result<bool, CatalogError>;

    /// Gives up this process's lease of replication `id`.
    async fn release_replication(&self, id: &str) -> Result<(), CatalogError>;

    /// Records one round of replication `id` (renewing the lease); `Changed` if this process
    /// no longer holds its lease (nothing is recorded: another reads the queue now).
    async fn record_round(&self, id: &str, round: &ReplicationRound) -> Result<(), CatalogError>;

    /// What replication `id` wrote at its destination for these source keys, by key.
    async fn written_objects(
        &self,
        id: &str,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, WrittenObject>, CatalogError>;

    /// Replication `id`'s failures after key `after`, at most `limit`, in key order:
    /// (key, error, when).
    async fn replication_failures(
        &self,
        id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, String, Timestamp)>, CatalogError>;
}
