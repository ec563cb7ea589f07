//! What the catalogue holds and answers: jobs, their states, failures, and its errors.

use awcopy_engine::progress::Counters;
use awcopy_engine::spec::JobSpec;
use awcopy_store::ErrorKind;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

use crate::lease::Lease;
use crate::text_column::{text_column, Flag, JsonText};
use crate::timestamp::Timestamp;

/// Why the catalogue could not do what was asked. Each variant is a kind the caller turns into
/// advice of its own (the CLI names flags and commands; the service, HTTP statuses).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file is not a catalogue (or is damaged).
    #[error("job catalogue {path}: not a readable awcopy catalogue ({reason})")]
    Corrupt {
        /// The file.
        path: String,
        /// What the database said.
        reason: String,
    },
    /// Another process holds the catalogue locked for too long.
    #[error("job catalogue {0}: locked by another process for too long")]
    Locked(String),
    /// The database server cannot be reached (refused, timed out, shutting down).
    #[error("job catalogue {at}: cannot be reached ({reason})")]
    Unreachable {
        /// The database, without its password.
        at: String,
        /// What the connection met.
        reason: String,
    },
    /// Written by a newer awcopy.
    #[error("job catalogue {0}: written by a newer awcopy")]
    NewerSchema(String),
    /// No job has that id or id prefix.
    #[error("no job with id '{0}'")]
    NotFound(String),
    /// Several jobs start with that prefix.
    #[error("job id '{prefix}' is ambiguous: {matches}")]
    Ambiguous {
        /// The prefix given.
        prefix: String,
        /// Some of the ids it matches.
        matches: String,
    },
    /// The job changed (another runner took it) between reading and writing it.
    #[error("job {0} changed meanwhile (another runner took it)")]
    Changed(String),
    /// A run of a schedule was started first by another replica (or the schedule went).
    #[error("schedule {0}: this run was started elsewhere (another replica claimed it)")]
    RunTaken(String),
    /// The job's stored spec cannot be read as a [`JobSpec`].
    #[error("job {id}: its stored spec cannot be read ({reason})")]
    Spec {
        /// The job.
        id: String,
        /// Why.
        reason: String,
    },
    /// Anything else from the database or the file system.
    #[error("job catalogue: {0}")]
    Other(String),
}

/// What another process asks of a job's runner, through the catalogue (stored as its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Request {
    /// Stop as a pause does: in-flight work finishes, the job can resume.
    Pause,
    /// Stop so the job can be cancelled.
    Cancel,
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Self::Pause => "pause",
            Self::Cancel => "cancel",
        })
    }
}

impl FromStr for Request {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "pause" => Ok(Self::Pause),
            "cancel" => Ok(Self::Cancel),
            other => Err(format!("'{other}' is not a request to a job's runner")),
        }
    }
}

text_column!(Request);

/// A job's state (stored as its name: a row with any other name is an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Running now (or its process died: see `owner_pid`).
    Running,
    /// Stopped on request; can be resumed.
    Paused,
    /// Every object done.
    Completed,
    /// Done, but some objects failed.
    CompletedWithFailures,
    /// Stopped by an error before it could finish.
    Failed,
    /// Cancelled by the user.
    Cancelled,
}

impl Status {
    /// Whether a job in this state is over: resume has nothing to continue.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::CompletedWithFailures | Self::Cancelled
        )
    }

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::CompletedWithFailures => "completed-with-failures",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for Status {
    /// Its name, padded to the width asked (`{:<24}`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

text_column!(Status);

impl FromStr for Status {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [
            Self::Running,
            Self::Paused,
            Self::Completed,
            Self::CompletedWithFailures,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| {
            format!("'{text}' is not a status; use running, paused, completed, completed-with-failures, failed or cancelled")
        })
    }
}

/// What a new job is.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Who runs it.
    pub user: String,
    /// Its optional name (`--job-name`).
    pub name: Option<String>,
    /// `cp`, `sync` or `mv`.
    pub command: String,
    /// The source location, as shown (no secrets).
    pub source: String,
    /// The destination location, as shown (no secrets).
    pub dest: String,
    /// The job's settings as JSON (no secrets).
    pub spec: serde_json::Value,
    /// The schedule it is a run of, if any: linked, and the schedule advanced, in the same
    /// transaction that creates the job (a crash between them would leave a run without its
    /// schedule, which would start it again).
    pub schedule_run: Option<ScheduleRun>,
}

/// A job that is a run of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRun {
    /// The schedule.
    pub schedule_id: String,
    /// When the run began (the watermark it moves to if it succeeds).
    pub started_at: Timestamp,
    /// The schedule's next run as its starter read it: the run is claimed by moving it to
    /// `next_run` only if it is still this, so that of two replicas starting the same due
    /// run one does ([`CatalogError::RunTaken`] for the other).
    pub due_at: Option<Timestamp>,
    /// When the schedule runs next.
    pub next_run: Option<Timestamp>,
}

/// A job as the catalogue holds it (a row of `jobs`).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct JobRecord {
    /// The job id (a UUID).
    pub id: String,
    /// Who ran it.
    #[sqlx(rename = "user_name")]
    pub user: String,
    /// Its name, if any.
    pub name: Option<String>,
    /// `cp`, `sync` or `mv`.
    pub command: String,
    /// Source location.
    pub source: String,
    /// Destination location.
    pub dest: String,
    /// Settings (JSON text in the row: a row whose text is not JSON is an error, not null).
    #[sqlx(try_from = "JsonText")]
    pub spec: serde_json::Value,
    /// State.
    pub status: Status,
    /// The process that runs (or ran) it.
    pub owner_pid: Option<i64>,
    /// When that process started (to tell it from a later one with the same id).
    pub owner_started: Option<String>,
    /// The holder of its lease while it runs.
    pub lease_holder: Option<String>,
    /// The host the holder runs on.
    pub lease_host: Option<String>,
    /// When the lease ends unless renewed.
    pub lease_expires: Option<Timestamp>,
    /// A pause or cancel asked of its runner and not yet acted on.
    pub requested: Option<Request>,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it started.
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub finished_at: Option<Timestamp>,
    /// Objects listed (the filter's leavings included).
    pub objects_listed: i64,
    /// Their bytes.
    pub bytes_listed: i64,
    /// Objects copied.
    pub objects_copied: i64,
    /// Bytes copied.
    pub bytes_copied: i64,
    /// Bytes of blocks staged for objects not yet copied.
    pub bytes_staged: i64,
    /// Objects left out by filters or policies.
    pub objects_skipped: i64,
    /// Objects that failed.
    pub objects_failed: i64,
    /// Objects stored under another name.
    pub objects_mapped: i64,
    /// Why its last run failed, if it did.
    pub error: Option<String>,
    /// The class of that error.
    pub error_kind: Option<ErrorClass>,
}

/// The class of the error that stopped a job's last run, stored as its name. The store's
/// [`ErrorKind`] in a type of this crate's own, so that it can be a column (sqlx's traits cannot
/// be given to another crate's type here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ErrorClass(pub ErrorKind);

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.0.as_str())
    }
}

impl FromStr for ErrorClass {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        name.parse().map(Self)
    }
}

text_column!(ErrorClass);

impl JobRecord {
    /// The lease of the runner that runs or ran it, if recorded.
    pub fn owner(&self) -> Option<Lease> {
        self.owner_pid.map(|pid| Lease {
            holder: self.lease_holder.clone(),
            host: self.lease_host.clone(),
            pid,
            started: self.owner_started.clone(),
            expires: self.lease_expires.map(Timestamp::time),
        })
    }

    /// Its counters as stored (the request counters are a live run's only: zero here).
    /// Listed objects are those the filters and policies took, and bytes done include the
    /// blocks staged for objects not yet copied, as a running copy counts them (the
    /// catalogue's own columns hold the objects left out, and the staged bytes apart).
    pub fn counters(&self) -> Counters {
        let count = |n: i64| n.max(0) as u64;
        Counters {
            objects_listed: count(self.objects_listed - self.objects_skipped),
            listing_done: self.status != Status::Running,
            bytes_listed: count(self.bytes_listed),
            objects_done: count(self.objects_copied),
            bytes_done: count(self.bytes_copied + self.bytes_staged),
            objects_skipped: count(self.objects_skipped),
            objects_failed: count(self.objects_failed),
            ..Counters::default()
        }
    }

    /// The live lease of the runner running it now, if one does.
    pub fn live_owner(&self) -> Option<Lease> {
        self.owner()
            .filter(|lease| self.status == Status::Running && lease.is_alive())
    }

    /// What the job is, as stored.
    pub fn job_spec(&self) -> Result<JobSpec, CatalogError> {
        let unreadable = |reason: String| CatalogError::Spec {
            id: self.id.clone(),
            reason,
        };
        let spec: JobSpec =
            serde_json::from_value(self.spec.clone()).map_err(|e| unreadable(e.to_string()))?;
        spec.check().map_err(|e| unreadable(e.to_string()))?;
        Ok(spec)
    }
}

/// What started a run of a job (stored as its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// The job was submitted (`cp`, `sync`, `mv`, the API).
    Submit,
    /// A schedule's run.
    Schedule,
    /// `jobs resume`, or a service taking up a job left running.
    Resume,
    /// `jobs retry`.
    Retry,
}

impl Trigger {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::Schedule => "schedule",
            Self::Resume => "resume",
            Self::Retry => "retry",
        }
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Trigger {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [Self::Submit, Self::Schedule, Self::Resume, Self::Retry]
            .into_iter()
            .find(|t| t.as_str() == name)
            .ok_or_else(|| format!("'{name}' is not a run's trigger"))
    }
}

text_column!(Trigger);

/// One run of a job: what started it, when, how it ended, and what it copied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RunRecord {
    /// 1 for the first run, then 2, 3...
    pub number: i64,
    /// What started it.
    #[sqlx(rename = "started_by")]
    pub trigger: Trigger,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended (none while it runs).
    pub finished_at: Option<Timestamp>,
    /// How it ended (none while it runs).
    pub status: Option<Status>,
    /// Why it failed or stopped, if it did.
    pub error: Option<String>,
    /// Objects it copied (so far, while it runs).
    pub objects_copied: i64,
    /// Their bytes.
    pub bytes_copied: i64,
}

impl RunRecord {
    /// How long it ran: to its end, or to `now` while it runs.
    pub fn seconds(&self, now: Timestamp) -> f64 {
        let end = self.finished_at.unwrap_or(now);
        (end.time() - self.started_at.time())
            .as_seconds_f64()
            .max(0.0)
    }
}

/// How long a job ran over all its runs, at `now` (pauses between runs left out).
pub fn run_seconds(runs: &[RunRecord], now: Timestamp) -> f64 {
    runs.iter().map(|run| run.seconds(now)).sum()
}

/// One failed object of a job (the dead-letter list).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FailureRecord {
    /// The source key.
    pub key: String,
    /// Error class and message.
    pub error: String,
    /// How many runs failed on it.
    pub attempts: i64,
    /// When it last failed.
    pub updated_at: Timestamp,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this user's jobs (`None`: everyone's).
    pub user: Option<String>,
    /// Only jobs in this state.
    pub status: Option<Status>,
    /// Only the runs of this schedule.
    pub schedule: Option<String>,
    /// At most this many (`None`: all).
    pub limit: Option<u32>,
    /// After skipping this many, newest first.
    pub offset: u32,
}

/// Which of a job's failures to read: in key order, after a key, at most so many.
#[derive(Debug, Clone, Default)]
pub struct FailurePage {
    /// Only keys after this one.
    pub after: Option<String>,
    /// At most this many (`None`: all).
    pub limit: Option<u32>,
}

/// A schedule as stored (a row of `schedules`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Schedule {
    /// Its id.
    pub id: String,
    /// Who owns it (its runs are this user's jobs).
    #[sqlx(rename = "user_name")]
    pub user: String,
    /// An optional name.
    pub name: Option<String>,
    /// The job spec each run starts from (JSON).
    #[sqlx(try_from = "JsonText")]
    #[schema(value_type = awcopy_engine::spec::JobSpec)]
    pub template: serde_json::Value,
    /// Runs every this many seconds, or
    pub every_secs: Option<i64>,
    /// by this cron expression.
    pub cron: Option<String>,
    /// On or off.
    #[sqlx(try_from = "Flag")]
    pub enabled: bool,
    /// The first run copies objects modified since then, if set.
    pub modified_since: Option<Timestamp>,
    /// How far before the previous successful run's start the next one looks (seconds).
    pub overlap_secs: i64,
    /// Failed runs in a row after which the schedule turns itself off.
    pub max_failures: i64,
    /// Failed runs in a row so far.
    pub failures_in_a_row: i64,
    /// When the last successful run started: the next run copies from there.
    pub watermark: Option<Timestamp>,
    /// When it runs next, if on.
    pub next_run: Option<Timestamp>,
    /// Why it turned itself off, if it did.
    pub disabled_reason: Option<String>,
    /// When it was made.
    pub created_at: Timestamp,
}

/// A service replica as the catalogue holds it (a row of `replicas`), with what it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ReplicaRecord {
    /// Its id: the holder of the leases of the jobs it runs.
    pub id: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id there.
    pub pid: i64,
    /// Its awcopy version.
    pub version: String,
    /// When it started.
    pub started_at: Timestamp,
    /// When it last said it lives (every few seconds while it does).
    pub last_seen: Timestamp,
    /// The running jobs whose lease it holds, by id.
    #[sqlx(skip)]
    pub jobs: Vec<String>,
}

/// What a new schedule is made of (`id`, counters and watermark are the catalogue's).
#[derive(Debug, Clone)]
pub struct NewSchedule {
    /// Owner.
    pub user: String,
    /// Optional name.
    pub name: Option<String>,
    /// Job template.
    pub template: serde_json::Value,
    /// Period in seconds, or
    pub every_secs: Option<i64>,
    /// a cron expression.
    pub cron: Option<String>,
    /// On or off.
    pub enabled: bool,
    /// The first run's watermark.
    pub modified_since: Option<Timestamp>,
    /// Overlap in seconds.
    pub overlap_secs: i64,
    /// Failed runs in a row that turn it off.
    pub max_failures: i64,
    /// The first run's time.
    pub next_run: Option<Timestamp>,
}

/// How a schedule's run ended, for its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// Every object copied: the watermark moves to the run's start.
    Succeeded,
    /// Some objects failed, or the run did: counts towards turning the schedule off.
    Failed(String),
}

/// A replication as stored (a row of `replications`): a continuous copy from a source to a
/// destination, driven by the change events its queue carries.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Replication {
    /// Its id.
    pub id: String,
    /// Who owns it (its grants are checked on every round).
    #[sqlx(rename = "user_name")]
    pub user: String,
    /// An optional name.
    pub name: Option<String>,
    /// The `sync` it keeps true: source, destination, filters, tuning (JSON of a job spec).
    #[sqlx(try_from = "JsonText")]
    pub spec: serde_json::Value,
    /// The queue its source's events arrive on, as its user named it.
    pub queue: String,
    /// Whether a deletion at the source deletes the destination's copy.
    #[sqlx(try_from = "Flag")]
    pub deletions: bool,
    /// On (reading its queue) or paused.
    #[sqlx(try_from = "Flag")]
    pub enabled: bool,
    /// How often its reconcile run (a scheduled `sync`) catches what events missed.
    pub reconcile_secs: i64,
    /// The schedule of its reconcile run.
    pub schedule_id: Option<String>,
    /// When it was made.
    pub created_at: Timestamp,
    /// Events taken from its queue.
    pub events_received: i64,
    /// Events whose effect is recorded (copied, deleted, or found already done).
    pub events_applied: i64,
    /// Events that change nothing here (test events, keys outside its source or filters,
    /// deletions while deletions are off).
    pub events_ignored: i64,
    /// Events given up on (unreadable, or failing each time the queue delivered them).
    pub events_failed: i64,
    /// Objects copied.
    pub objects_copied: i64,
    /// Their bytes.
    pub bytes_copied: i64,
    /// Destination objects deleted.
    pub objects_deleted: i64,
    /// When the oldest event received and not yet applied happened (`None`: none waits).
    pub pending_since: Option<Timestamp>,
    /// When an event was last applied.
    pub last_applied_at: Option<Timestamp>,
    /// About how many messages its queue held at the last round.
    pub queue_depth: Option<i64>,
    /// Why its queue cannot be read now (`None`: it can).
    pub error: Option<String>,
    /// The lease holder reading its queue.
    pub lease_holder: Option<String>,
    /// Where the holder runs.
    pub lease_host: Option<String>,
    /// The holder's process id.
    pub lease_pid: Option<i64>,
    /// The holder process's start time.
    pub lease_started: Option<String>,
    /// When the lease ends unless renewed.
    pub lease_expires: Option<Timestamp>,
}

impl Replication {
    /// Who reads its queue, if anyone does.
    pub fn lease(&self) -> Option<Lease> {
        Some(Lease {
            holder: Some(self.lease_holder.clone()?),
            host: self.lease_host.clone(),
            pid: self.lease_pid.unwrap_or_default(),
            started: self.lease_started.clone(),
            expires: self.lease_expires.map(Timestamp::time),
        })
    }
}

/// A replication to record.
#[derive(Debug, Clone)]
pub struct NewReplication {
    /// Owner.
    pub user: String,
    /// Optional name.
    pub name: Option<String>,
    /// The `sync` it keeps true (a job spec).
    pub spec: serde_json::Value,
    /// Its queue.
    pub queue: String,
    /// Whether deletions propagate.
    pub deletions: bool,
    /// On, or made paused.
    pub enabled: bool,
    /// Reconcile period in seconds.
    pub reconcile_secs: i64,
    /// The schedule of its reconcile run.
    pub schedule_id: Option<String>,
}

/// A destination object a replication wrote, by its source key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenObject {
    /// The source key.
    pub key: String,
    /// The ETag the source object had when it was copied.
    pub source_etag: Option<String>,
    /// The ETag of the destination object.
    pub dest_etag: String,
}

/// What one round of a replication did: recorded in one transaction, before the round's
/// messages leave the queue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicationRound {
    /// Events taken from the queue.
    pub received: i64,
    /// Events whose effect is done.
    pub applied: i64,
    /// Events that change nothing here.
    pub ignored: i64,
    /// Events given up on.
    pub failed: i64,
    /// Objects copied, with their bytes.
    pub copied: i64,
    /// Bytes copied.
    pub bytes: i64,
    /// Destination objects deleted.
    pub deleted: i64,
    /// The destination objects the replication wrote (or found equal to their source).
    pub written: Vec<WrittenObject>,
    /// Source keys whose destination object is gone.
    pub removed: Vec<String>,
    /// Source key (or message id) -> why it was given up on.
    pub failures: Vec<(String, String)>,
    /// When the oldest event still waiting happened.
    pub pending_since: Option<Timestamp>,
    /// The queue's depth, if read.
    pub queue_depth: Option<i64>,
    /// Why the queue cannot be read (`None`: it was read).
    pub error: Option<String>,
}
