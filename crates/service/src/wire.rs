//! What the API sends and receives (JSON), shared by the service and its client.

pub use awcopy_jobs::{RunRecord, Status, Timestamp};
pub use awcopy_store::ErrorKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An error answer: a kind a program can act on and one line for people. Never a stack
/// trace, never a secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// `unauthorized`, `forbidden`, `not-found`, `bad-request`, `conflict`, ...
    pub kind: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    /// Its id.
    pub id: String,
    /// Its owner.
    pub user: String,
    /// Its optional name.
    pub name: Option<String>,
    /// `cp`, `sync` or `mv`.
    pub command: String,
    /// Where it copies from (no secret).
    pub source: String,
    /// Where it copies to.
    pub dest: String,
    /// The endpoint the source is reached at, when it is not the cloud's own (an
    /// S3-compatible store, an emulator, a private endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_endpoint: Option<String>,
    /// The endpoint the destination is reached at, when it is not the cloud's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest_endpoint: Option<String>,
    /// `running`, `paused`, `completed`, ... (its JSON form).
    pub status: Status,
    /// The schedule it is a run of, if any.
    pub schedule: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its current or last run started.
    pub started_at: Option<Timestamp>,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
    /// Why its last run failed, if it did.
    pub error: Option<String>,
    /// The class of that error (`not-found`, `auth`, ...): what a client's exit code follows.
    #[serde(default)]
    pub error_kind: Option<ErrorKind>,
    /// Its runs, first to last (in `GET /jobs/{id}` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<RunRecord>,
    /// Counters: the catalogue's, or live ones while the service runs it.
    pub counters: Counters,
    /// The spec it runs.
    #[schema(value_type = awcopy_engine::spec::JobSpec)]
    pub spec: serde_json::Value,
}

pub use awcopy_engine::progress::Counters;

/// One object a job could not copy: an entry of its dead-letter list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FailureView {
    /// The source key.
    pub key: String,
    /// How many times it was tried.
    pub attempts: i64,
    /// The error's class (`not-found`, `auth`, `network`, ...).
    pub error_class: String,
    /// What went wrong.
    pub message: String,
    /// When it last failed.
    pub updated_at: Timestamp,
}

/// Live progress of one running job, sent every second on the event stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProgressView {
    /// The job.
    pub id: String,
    /// Its counters now.
    pub counters: Counters,
    /// Bytes each agent has done for it, by agent name.
    pub agents: Vec<(String, u64)>,
    /// Requests its agents have sent for it and not yet had answered, when the service can
    /// know (agents in its own process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_in_flight: Option<u64>,
}

/// A schedule as the API takes it (`POST`) and changes it (`PATCH`: every field optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "nightly-raw", "cron": "0 2 * * *", "overlap": "10m",
    "template": {"version": 1, "mode": "sync", "source": "s3://example-raw/2026/",
                 "dest": "az://examplestore/archive/2026/"}
}))]
pub struct ScheduleInput {
    /// An optional name.
    #[serde(default)]
    pub name: Option<String>,
    /// The job each run starts from (a JobSpec).
    #[serde(default)]
    #[schema(value_type = Option<awcopy_engine::spec::JobSpec>)]
    pub template: Option<serde_json::Value>,
    /// A period: `30s`, `15m`, `6h`, `1d`.
    #[serde(default)]
    pub every: Option<String>,
    /// Or a cron expression (`0 2 * * *`; seconds allowed as a sixth field first).
    #[serde(default)]
    pub cron: Option<String>,
    /// On or off (on unless said).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The first run copies what was modified since then (RFC 3339).
    #[serde(default)]
    pub modified_since: Option<String>,
    /// How far before the previous run's start the next one looks (default `5m`).
    #[serde(default)]
    pub overlap: Option<String>,
    /// Failed runs in a row that turn it off (default 3).
    #[serde(default)]
    pub max_failures: Option<u32>,
}

/// A schedule as the API shows it: as stored, with its last run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScheduleView {
    /// The schedule.
    #[serde(flatten)]
    pub schedule: awcopy_jobs::Schedule,
    /// Its newest run, if it ran.
    #[serde(default)]
    pub last_run: Option<LastRun>,
}

/// A schedule's newest run: the job and how it ended (its page has the rest).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LastRun {
    /// The job.
    pub job: String,
    /// Its state.
    pub status: Status,
    /// When its current or last run started.
    pub started_at: Option<Timestamp>,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// An agent as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AgentView {
    /// Its name.
    pub name: String,
    /// Requests it has sent to the stores and not yet had answered: what is really in flight.
    pub in_flight: u64,
    /// Work items given to it and not yet answered (running, or waiting for a request slot
    /// or for the job's request rate).
    #[serde(default)]
    pub items_held: u64,
    /// Items done.
    pub items_done: u64,
    /// Items that failed.
    pub items_failed: u64,
    /// Bytes it moved or had copied.
    pub bytes: u64,
    /// Its host (agents over NATS).
    pub host: Option<String>,
    /// Its awcopy version (agents over NATS).
    pub version: Option<String>,
    /// Bytes per second lately (agents over NATS).
    pub bytes_per_sec: Option<u64>,
    /// Messages it dropped for a missing or wrong seal (agents over NATS).
    #[serde(default)]
    pub rejected: Option<u64>,
    /// No heartbeat for three periods: its items are redelivered to others.
    pub lost: bool,
}

/// A service replica as `GET /api/v1/replicas` shows it: who it is and what it runs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReplicaView {
    /// It, and the running jobs whose lease it holds (`jobs`).
    #[serde(flatten)]
    pub replica: awcopy_jobs::ReplicaRecord,
    /// Seen within a lease's term: its jobs are its own. Past that, another replica takes
    /// them over as their leases expire.
    pub alive: bool,
    /// The replica that answered.
    pub this: bool,
}

/// The optional body of `POST /api/v1/jobs/{id}/retry`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name_policy": "map"}))]
pub struct ActionOptions {
    /// Retry under another name policy (`map`, `skip`, `fail`).
    #[serde(default)]
    pub name_policy: Option<awcopy_engine::copy::NamePolicy>,
}

/// The `POST /api/v1/estimate` body: a job spec as `POST /api/v1/jobs` takes it, and the
/// regions of its ends when the locations do not say.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "spec": {"version": 1, "mode": "cp", "source": "s3://example-raw/2026/",
             "dest": "az://examplestore/archive/2026/", "recursive": true},
    "source_region": "us-east-1", "dest_region": "eastus"
}))]
pub struct EstimateInput {
    /// The job (a JobSpec).
    #[schema(value_type = awcopy_engine::spec::JobSpec)]
    pub spec: serde_json::Value,
    /// The source's region (`us-east-1`, `westeurope`), for its prices.
    #[serde(default)]
    pub source_region: Option<String>,
    /// The destination's region.
    #[serde(default)]
    pub dest_region: Option<String>,
}

pub use awcopy_engine::preview::Preview;

/// The `POST /api/v1/session` body: sign in with a token (the dashboard).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "the API token an admin gave you"}))]
pub struct SignIn {
    /// The API token.
    pub token: String,
}

/// Who is signed in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// The user's name.
    pub user: String,
    /// Whether they are an admin.
    pub admin: bool,
}

/// A replication to make.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "raw to the archive",
    "spec": {"version": 1, "mode": "sync", "source": "s3://example-raw/2026/",
             "dest": "az://examplestore/archive/2026/"},
    "queue": "example-raw-events",
    "deletions": true,
    "reconcile": "1d"
}))]
pub struct ReplicationInput {
    /// An optional name.
    #[serde(default)]
    pub name: Option<String>,
    /// The copy it keeps true (a JobSpec: source, destination, filters, tuning); it runs as
    /// a recursive `sync`.
    #[serde(default)]
    #[schema(value_type = Option<awcopy_engine::spec::JobSpec>)]
    pub spec: Option<serde_json::Value>,
    /// Where the source's change events arrive: for an S3 bucket the SQS queue (its name, or
    /// its URL on the service's SQS endpoint); for an Azure container the Storage Queue (its
    /// name, in the container's account) Event Grid delivers to.
    #[serde(default)]
    pub queue: Option<String>,
    /// Whether a deletion at the source deletes the destination's copy (only while that copy
    /// is the one the replication wrote). Off unless said.
    #[serde(default)]
    pub deletions: Option<bool>,
    /// How often a reconcile run (a scheduled `sync`) catches what events missed: `6h`, `1d`
    /// (the default).
    #[serde(default)]
    pub reconcile: Option<String>,
    /// On (reading its queue) or paused.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// What to change in a replication (what is not given stays; its spec, queue and reconcile
/// period cannot change: make a new replication).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"enabled": false}))]
pub struct ReplicationPatch {
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// On (reading its queue) or paused (its reconcile run too).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Whether deletions propagate (its reconcile run deletes too).
    #[serde(default)]
    pub deletions: Option<bool>,
}

/// How many events a replication took, and what became of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventCounts {
    /// Taken from the queue (each one also counts as applied, ignored or failed).
    pub received: i64,
    /// Done: the object copied, deleted, or found as it should be.
    pub applied: i64,
    /// Nothing to do here: test events, keys outside the source or its filters, deletions
    /// while deletions are off, a destination object the replication did not write.
    pub ignored: i64,
    /// Given up on: unreadable, or failing each time the queue delivered it.
    pub failed: i64,
}

/// A replication as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReplicationView {
    /// Its id.
    pub id: String,
    /// Its owner.
    pub user: String,
    /// Its optional name.
    pub name: Option<String>,
    /// Where it copies from.
    pub source: String,
    /// Where it copies to.
    pub dest: String,
    /// The queue it reads.
    pub queue: String,
    /// Whether deletions propagate.
    pub deletions: bool,
    /// On or paused.
    pub enabled: bool,
    /// `running` (its queue is read), `waiting` (on, no replica reads it yet), `failing` (its
    /// queue cannot be read: see `error`), `paused`.
    pub state: String,
    /// Events taken and what became of them.
    pub events: EventCounts,
    /// Objects copied.
    pub objects_copied: i64,
    /// Their bytes.
    pub bytes_copied: i64,
    /// Destination objects deleted.
    pub objects_deleted: i64,
    /// Seconds since the oldest event taken and not yet applied happened (0: none waits).
    pub lag_seconds: f64,
    /// About how many messages wait in its queue.
    pub queue_depth: Option<i64>,
    /// When an event was last applied.
    pub last_applied_at: Option<Timestamp>,
    /// Why its queue cannot be read, if it cannot.
    pub error: Option<String>,
    /// How often its reconcile run goes, in seconds.
    pub reconcile_seconds: i64,
    /// The schedule of its reconcile run.
    pub schedule: Option<String>,
    /// When it was made.
    pub created_at: Timestamp,
}

/// A change a replication gave up on.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReplicationFailure {
    /// The source key (or `message ID` for a message that could not be read).
    pub key: String,
    /// Why.
    pub error: String,
    /// When.
    pub at: Timestamp,
}
