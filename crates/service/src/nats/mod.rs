//! Agents on other machines through NATS JetStream (DESIGN.md "The service and its agents").
//! The service publishes each work item on a work-queue stream (file storage, deduplicated by
//! a deterministic message id); `awcopy agent` processes pull them from one durable consumer
//! (explicit acks, `ack_wait`, `max_deliver`, back-off), run them with their own limits and
//! credentials, and answer on the results subject the item names. Delivery is at least once;
//! effects are exactly once: block ids are deterministic, a commit is idempotent, and an
//! outcome arriving twice is taken once.

mod agent;
mod queue;
mod seal;

pub use agent::{run_agent, AgentOptions};
pub use queue::{NatsDispatcher, NatsQueue, OUTSTANDING_PER_RUN};
pub use seal::SealKey;

use async_nats::jetstream;
use awcopy_engine::spec::JobSpec;
use awcopy_engine::work::{WorkDone, WorkError, WorkItem};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;

use crate::setting::{Setting, SettingError};

/// The stream work items go on.
pub const STREAM: &str = "AWCOPY_WORK";
/// Where a run's items go: `awcopy.work.RUN`.
const WORK_PREFIX: &str = "awcopy.work";
/// The stream's subjects.
const WORK_SUBJECTS: &str = "awcopy.work.>";
/// The one durable pull consumer every agent shares.
const CONSUMER: &str = "agents";
/// The stream outcomes go on (kept an hour: a service that was away reads what it missed
/// only for runs it still waits on).
pub const RESULTS_STREAM: &str = "AWCOPY_RESULTS";
/// Where outcomes go: `awcopy.results.RUN.ITEM`.
const RESULTS_PREFIX: &str = "awcopy.results";
/// Where agents say they are alive.
pub const HEARTBEAT_SUBJECT: &str = "awcopy.agents";
/// Where the service says a run stops: `awcopy.stop.RUN`.
const STOP_PREFIX: &str = "awcopy.stop";
/// How long an agent may hold an item without a sign of progress before it is redelivered.
pub const ACK_WAIT: Duration = Duration::from_secs(30);
/// Deliveries of one item before it becomes a dead letter.
pub const MAX_DELIVER: i64 = 4;
/// How long a failed item waits before its next delivery: 1 s, 2 s, 4 s...
pub fn redelivery_delay(delivered: i64) -> Duration {
    Duration::from_secs(1 << delivered.clamp(1, 6).saturating_sub(1))
}

/// How long the stream remembers a message id, to drop a duplicate publish.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// Items an agent runs at once unless told.
pub const DEFAULT_ITEMS: usize = 64;

/// This machine's name, for agents' default names and heartbeats.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// How often an agent heartbeats; three missed make it "lost".
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);

/// How to reach NATS: its URL and, if given, a `.creds` file, a token or a user and
/// password; and the key messages are sealed with. None of it is ever logged.
#[derive(Clone)]
pub struct NatsOptions {
    /// `nats://host:4222` or `tls://host:4222`, without credentials.
    pub url: String,
    /// A `.creds` file (JWT and NKey seed).
    pub creds: Option<PathBuf>,
    /// A token.
    pub token: Option<String>,
    /// A user and password.
    pub user: Option<(String, String)>,
    /// A CA certificate (PEM) to trust for TLS, besides the system's.
    pub ca: Option<PathBuf>,
    /// The key the service and its agents seal their messages with.
    pub key: SealKey,
}

impl NatsOptions {
    /// Refuses a URL that carries a user, password or token: it would show in `ps`, shell
    /// histories and process listings. Credentials come from a creds file or the environment.
    pub fn check_url(url: &str) -> Result<(), SettingError> {
        let userinfo = url
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
            .is_some_and(|authority| authority.contains('@'));
        if userinfo {
            return Err(SettingError::new(Setting::Nats, Some(shown_url(url)))
                .words(
                    "credentials do not go in the URL (they would show in process listings); use ",
                )
                .name(Setting::NatsCreds)
                .words(", AWCOPY_NATS_TOKEN, or AWCOPY_NATS_USER and AWCOPY_NATS_PASSWORD"));
        }
        Ok(())
    }
}

impl std::fmt::Debug for NatsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsOptions")
            .field("url", &shown_url(&self.url))
            .finish_non_exhaustive()
    }
}

/// The URL without a user or password, for messages.
pub fn shown_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Why NATS could not be used; says where, never with a secret.
#[derive(Debug, thiserror::Error)]
#[error("NATS {url}: {message}")]
pub struct NatsError {
    url: String,
    message: String,
}

impl NatsError {
    fn new(options: &NatsOptions, message: impl std::fmt::Display) -> Self {
        Self {
            url: shown_url(&options.url),
            message: awcopy_store::redact::redact(&message.to_string()),
        }
    }
}

/// Connects to NATS as `name`. A server that refuses the credentials or the TLS handshake
/// is an error at once; one that cannot be reached yet is waited for (an agent may start
/// before its server). Once connected, the client reconnects for ever.
pub async fn connect(options: &NatsOptions, name: &str) -> Result<async_nats::Client, NatsError> {
    let mut said = false;
    loop {
        let attempt = tokio::time::timeout(
            Duration::from_secs(20),
            connect_options(options, name).await?.connect(&options.url),
        )
        .await
        .map_err(|_| NatsError::new(options, "no answer within 20 s"))?;
        match attempt {
            Ok(client) => return Ok(client),
            Err(e) if not_up_yet(&e) => {
                if !said {
                    let url = shown_url(&options.url);
                    tracing::warn!("NATS {url} cannot be reached yet ({e}); waiting for it");
                    said = true;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(NatsError::new(options, e)),
        }
    }
}

/// Whether connecting failed because nothing answers (yet) — not for credentials, TLS or an
/// address that cannot be read, which waiting does not mend.
fn not_up_yet(error: &async_nats::ConnectError) -> bool {
    use async_nats::ConnectErrorKind;
    use std::io::ErrorKind;
    match error.kind() {
        ConnectErrorKind::TimedOut => true,
        ConnectErrorKind::Io => std::error::Error::source(error)
            .and_then(|source| source.downcast_ref::<std::io::Error>())
            .is_some_and(|io| {
                matches!(
                    io.kind(),
                    ErrorKind::ConnectionRefused
                        | ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::NotConnected
                        | ErrorKind::TimedOut
                        | ErrorKind::HostUnreachable
                        | ErrorKind::NetworkUnreachable
                        | ErrorKind::AddrNotAvailable
                )
            }),
        _ => false,
    }
}

/// The connection's options: name, credentials, CA; reconnecting for ever once connected.
async fn connect_options(
    options: &NatsOptions,
    name: &str,
) -> Result<async_nats::ConnectOptions, NatsError> {
    let mut connect = async_nats::ConnectOptions::new()
        .name(name)
        .max_reconnects(None);
    if let Some(creds) = &options.creds {
        connect = connect
            .credentials_file(creds)
            .await
            .map_err(|e| NatsError::new(options, format!("{}: {e}", creds.display())))?;
    }
    if let Some(ca) = &options.ca {
        connect = connect.add_root_certificates(ca.clone());
    }
    if let Some(token) = &options.token {
        connect = connect.token(token.clone());
    }
    if let Some((user, password)) = &options.user {
        connect = connect.user_and_password(user.clone(), password.clone());
    }
    Ok(connect)
}

/// The work stream and the agents' consumer, made if missing.
pub async fn work_consumer(
    js: &jetstream::Context,
    options: &NatsOptions,
) -> Result<jetstream::consumer::PullConsumer, NatsError> {
    let stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: STREAM.to_owned(),
            subjects: vec![WORK_SUBJECTS.to_owned()],
            retention: jetstream::stream::RetentionPolicy::WorkQueue,
            storage: jetstream::stream::StorageType::File,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        })
        .await
        .map_err(|e| NatsError::new(options, format!("stream {STREAM}: {e}")))?;
    stream
        .get_or_create_consumer(
            CONSUMER,
            jetstream::consumer::pull::Config {
                durable_name: Some(CONSUMER.to_owned()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                max_deliver: MAX_DELIVER,
                // No consumer back-off: JetStream would take its first step as the ack wait
                // of every first delivery. An agent hands a failed item back with its own
                // delay instead (`redelivery_delay`).
                max_ack_pending: 10_000,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| NatsError::new(options, format!("consumer {CONSUMER}: {e}")))
}

/// The outcomes stream, made if missing. Outcomes go through JetStream, not core NATS, so
/// that one published while the service was cut off from the server is still read.
pub async fn results_stream(
    js: &jetstream::Context,
    options: &NatsOptions,
) -> Result<jetstream::stream::Stream, NatsError> {
    js.get_or_create_stream(jetstream::stream::Config {
        name: RESULTS_STREAM.to_owned(),
        subjects: vec![format!("{RESULTS_PREFIX}.>")],
        storage: jetstream::stream::StorageType::File,
        max_age: Duration::from_secs(3600),
        // Agents look up an item's outcome before running it.
        allow_direct: true,
        ..Default::default()
    })
    .await
    .map_err(|e| NatsError::new(options, format!("stream {RESULTS_STREAM}: {e}")))
}

/// One work item on the stream, published (sealed) on `awcopy.work.RUN`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkMessage {
    /// The run it belongs to (a job's run; each resume is another): the subject names it too.
    pub run: String,
    /// Its id within the run (deterministic: the same item has the same id).
    pub id: String,
    /// What the job is (secret-free).
    pub spec: JobSpec,
    /// What to do.
    pub item: WorkItem,
}

impl WorkMessage {
    /// The stream's message id: the same item of the same run is published once.
    pub fn message_id(&self) -> String {
        format!("{}.{}", self.run, self.id)
    }

    /// Where its outcome is stored: `awcopy.results.RUN.ITEM`, made from the run and the id
    /// (never taken from the message).
    pub fn outcome_subject(&self) -> String {
        format!("{RESULTS_PREFIX}.{}.{}", self.run, self.id)
    }
}

/// The subject a run's work items go on.
pub fn work_subject(run: &str) -> String {
    format!("{WORK_PREFIX}.{run}")
}

/// The subject that says a run stops.
pub fn stop_subject(run: &str) -> String {
    format!("{STOP_PREFIX}.{run}")
}

/// Whether `text` may be a run's id or an item's: a run is a UUID, an item a hex digest, so
/// neither holds a subject's `.`, `*` or `>`.
pub fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// What an agent answers for one item, published (sealed) on its outcome subject.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    /// The item's message id.
    pub id: String,
    /// The agent that ran it.
    pub agent: String,
    /// What it gave, or why it failed for good (after `MAX_DELIVER` deliveries).
    pub result: Result<WorkDone, WorkError>,
    /// Bytes it moved or had copied.
    pub bytes: u64,
}

/// An agent's heartbeat, published (sealed) on [`HEARTBEAT_SUBJECT`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Heartbeat {
    /// When it was sent (Unix seconds): a heartbeat replayed later is stale.
    pub sent_at: i64,
    /// Messages this agent dropped because their seal was missing or wrong.
    #[serde(default)]
    pub rejected: u64,
    /// Its name.
    pub name: String,
    /// Its host.
    pub host: String,
    /// Its awcopy version.
    pub version: String,
    /// Items given to it and not yet answered.
    #[serde(alias = "in_flight")]
    pub items_held: u64,
    /// Requests it has sent and not yet had answered.
    #[serde(default)]
    pub requests_in_flight: u64,
    /// Items it finished.
    pub items_done: u64,
    /// Items that failed on it.
    pub items_failed: u64,
    /// Bytes it moved or had copied.
    pub bytes: u64,
    /// Bytes per second over the last heartbeat period.
    pub bytes_per_sec: u64,
}

/// A deterministic id for `item`: the same item gets the same id.
pub fn item_id(item: &WorkItem) -> String {
    let json = serde_json::to_vec(item).expect("a work item serializes");
    Sha256::digest(json)
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}
