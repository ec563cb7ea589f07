//! The service's side of NATS: one [`NatsDispatcher`] per service (the connection, the
//! outcomes router, the agents' heartbeats) and a [`NatsQueue`] per run, the runner's
//! [`WorkQueue`] over the stream, with a bounded number of items outstanding.

use async_nats::jetstream;
use awcopy_engine::batching::{BatchLimits, Batching};
use awcopy_engine::journal::Stop;
use awcopy_engine::spec::JobSpec;
use awcopy_engine::work::{WorkDone, WorkItem, WorkQueue};
use awcopy_store::{ErrorKind, StoreError};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{oneshot, Semaphore};

use super::{
    connect, item_id, results_stream, stop_subject, work_consumer, work_subject, Heartbeat,
    NatsError, NatsOptions, Outcome, SealKey, WorkMessage, HEARTBEAT_EVERY, HEARTBEAT_SUBJECT,
    RESULTS_PREFIX,
};
use crate::dispatch::{Dispatch, RunQueue};
use crate::wire::AgentView;

/// Items one run may have on the stream at once: listing a huge bucket does not fill it.
pub const OUTSTANDING_PER_RUN: usize = 256;
/// Items on the stream no agent has taken yet, over every run, past which runs wait to
/// publish more: with no agent pulling (or too few), the stream stays this short.
const WAITING_ON_STREAM: u64 = 1024;
/// How often the dispatcher reads the agents' consumer's pending count.
const PENDING_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

type Waiting = Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>;

/// The service's NATS connection, its outcomes router and what agents said of themselves.
#[derive(Clone)]
pub struct NatsDispatcher {
    client: async_nats::Client,
    js: jetstream::Context,
    waiting: Waiting,
    agents: Arc<Mutex<HashMap<String, (Heartbeat, Instant)>>>,
    /// Items on the stream no agent has taken yet, as the consumer last told.
    pending: tokio::sync::watch::Receiver<u64>,
    /// What messages are sealed with.
    key: SealKey,
    /// Outcomes and heartbeats dropped for a missing or wrong seal, a subject that does not
    /// match, or (heartbeats) their age.
    rejected: Arc<AtomicU64>,
}

/// How far a heartbeat's time may be from the service's before it is taken as a replay.
const HEARTBEAT_FRESH: i64 = 60;
/// The most agents the service keeps heartbeats of.
const MOST_AGENTS: usize = 4096;

impl std::fmt::Debug for NatsDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsDispatcher").finish_non_exhaustive()
    }
}

impl NatsDispatcher {
    /// Connects, makes the stream and consumer if missing, and starts listening to outcomes
    /// and heartbeats.
    pub async fn start(options: &NatsOptions) -> Result<Self, NatsError> {
        let client = connect(options, "awcopy-serve").await?;
        let js = jetstream::new(client.clone());
        let consumer = work_consumer(&js, options).await?;
        let pending = watch_pending(consumer);
        let waiting: Waiting = Arc::default();
        // An ordered consumer from now on: it follows the stream across reconnections.
        let mut outcomes = results_stream(&js, options)
            .await?
            .create_consumer(jetstream::consumer::pull::OrderedConfig {
                filter_subject: format!("{RESULTS_PREFIX}.>"),
                deliver_policy: jetstream::consumer::DeliverPolicy::New,
                ..Default::default()
            })
            .await
            .map_err(|e| NatsError::new(options, e))?
            .messages()
            .await
            .map_err(|e| NatsError::new(options, e))?;
        let rejected = Arc::new(AtomicU64::new(0));
        let (router, key, refused) = (waiting.clone(), options.key.clone(), rejected.clone());
        tokio::spawn(async move {
            while let Some(message) = outcomes.next().await {
                let Ok(message) = message else { continue };
                let Some(outcome) = open_outcome(&key, &message.subject, &message.payload) else {
                    refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(subject = ?message.subject.as_str(), "an outcome without a valid seal, dropped");
                    continue;
                };
                // A second outcome of the same item finds nobody waiting: recorded once.
                let waiter = router.lock().expect("waiting lock").remove(&outcome.id);
                if let Some(waiter) = waiter {
                    let _ = waiter.send(outcome);
                }
            }
        });
        let agents: Arc<Mutex<HashMap<String, (Heartbeat, Instant)>>> = Arc::default();
        let mut beats = client
            .subscribe(HEARTBEAT_SUBJECT)
            .await
            .map_err(|e| NatsError::new(options, e))?;
        let (seen, key, refused) = (agents.clone(), options.key.clone(), rejected.clone());
        tokio::spawn(async move {
            while let Some(message) = beats.next().await {
                let Some(beat) = open_heartbeat(&key, &message.payload) else {
                    refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("a heartbeat without a valid seal, or stale, dropped");
                    continue;
                };
                let mut seen = seen.lock().expect("agents lock");
                if seen.len() < MOST_AGENTS || seen.contains_key(&beat.name) {
                    seen.insert(beat.name.clone(), (beat, Instant::now()));
                }
            }
        });
        Ok(Self {
            client,
            js,
            waiting,
            agents,
            pending,
            key: options.key.clone(),
            rejected,
        })
    }
}

impl Dispatch for NatsDispatcher {
    /// A queue for one run of the job `spec`.
    fn queue_for(&self, spec: &JobSpec) -> Arc<dyn RunQueue> {
        Arc::new(NatsQueue {
            nats: self.clone(),
            run: uuid::Uuid::new_v4().to_string(),
            ended: Stop::new(),
            spec: spec.clone(),
            room: Arc::new(Semaphore::new(OUTSTANDING_PER_RUN)),
            bytes: Mutex::new(HashMap::new()),
        })
    }

    /// The agents that heartbeat, each marked lost after three missed beats.
    fn views(&self) -> Vec<AgentView> {
        let agents = self.agents.lock().expect("agents lock");
        let mut views: Vec<_> = agents
            .values()
            .map(|(beat, at)| AgentView {
                name: beat.name.clone(),
                in_flight: beat.requests_in_flight,
                items_held: beat.items_held,
                items_done: beat.items_done,
                items_failed: beat.items_failed,
                bytes: beat.bytes,
                host: Some(beat.host.clone()),
                version: Some(beat.version.clone()),
                bytes_per_sec: Some(beat.bytes_per_sec),
                rejected: Some(beat.rejected),
                lost: at.elapsed() > HEARTBEAT_EVERY * 3,
            })
            .collect();
        views.sort_by(|a, b| a.name.cmp(&b.name));
        views
    }

    /// Items waiting for an outcome.
    fn queue_depth(&self) -> u64 {
        self.waiting.lock().expect("waiting lock").len() as u64
    }

    /// Outcomes and heartbeats dropped for their seal, subject or age.
    fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}

/// The outcome sealed in `payload` on `subject` (`awcopy.results.RUN.ITEM`), if its seal is
/// the service's and its id is the one its subject names.
fn open_outcome(key: &SealKey, subject: &str, payload: &[u8]) -> Option<Outcome> {
    let body = key.open(subject, payload)?;
    let outcome: Outcome = serde_json::from_slice(body).ok()?;
    let named = subject.strip_prefix(RESULTS_PREFIX)?.strip_prefix('.')?;
    (named == outcome.id).then_some(outcome)
}

/// The heartbeat sealed in `payload`, if its seal is the service's, it was sent within
/// [`HEARTBEAT_FRESH`] seconds of now, and its name is one a person can read.
fn open_heartbeat(key: &SealKey, payload: &[u8]) -> Option<Heartbeat> {
    let body = key.open(HEARTBEAT_SUBJECT, payload)?;
    let beat: Heartbeat = serde_json::from_slice(body).ok()?;
    let age = time::OffsetDateTime::now_utc().unix_timestamp() - beat.sent_at;
    let readable = |text: &str| text.len() <= 256 && !text.chars().any(char::is_control);
    let fresh = age.abs() <= HEARTBEAT_FRESH;
    (fresh && readable(&beat.name) && readable(&beat.host) && readable(&beat.version))
        .then_some(beat)
}

/// One run's work queue over the stream.
pub struct NatsQueue {
    nats: NatsDispatcher,
    run: String,
    ended: Stop,
    spec: JobSpec,
    room: Arc<Semaphore>,
    bytes: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for NatsQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NatsQueue(run {})", self.run)
    }
}

impl RunQueue for NatsQueue {
    /// Small objects travel in batches: one message for many.
    fn work(self: Arc<Self>) -> Arc<dyn WorkQueue> {
        Arc::new(Batching::new(self, BatchLimits::default()))
    }

    /// Bytes each agent has done for this run, by agent name.
    fn bytes_by_agent(&self) -> Vec<(String, u64)> {
        let bytes = self.bytes.lock().expect("bytes lock");
        let mut all: Vec<_> = bytes.iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort();
        all
    }

    /// Tells the agents once `stopping` is cancelled (or the run ends) that this run's items
    /// still on the stream are not to be started.
    fn stop_with(&self, stopping: Stop) {
        let client = self.nats.client.clone();
        let subject = stop_subject(&self.run);
        let payload = self.nats.key.seal(&subject, b"stop");
        let ended = self.ended.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = stopping.cancelled() => {
                    let _ = client.publish(subject, payload.into()).await;
                    let _ = client.flush().await;
                }
                () = ended.cancelled() => {}
            }
        });
    }
}

impl Drop for NatsQueue {
    /// The run is over: agents drop their executors for it.
    fn drop(&mut self) {
        self.ended.cancel();
        let client = self.nats.client.clone();
        let subject = stop_subject(&self.run);
        let payload = self.nats.key.seal(&subject, b"end");
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = client.publish(subject, payload.into()).await;
            });
        }
    }
}

/// Follows the consumer's count of items no agent has taken; a count that cannot be read
/// (the server away) keeps the last one.
fn watch_pending(
    mut consumer: jetstream::consumer::PullConsumer,
) -> tokio::sync::watch::Receiver<u64> {
    let (tell, pending) = tokio::sync::watch::channel(0);
    tokio::spawn(async move {
        loop {
            if let Ok(info) = consumer.info().await {
                if tell.send(info.num_pending).is_err() {
                    return;
                }
            }
            tokio::time::sleep(PENDING_EVERY).await;
        }
    });
    pending
}

fn lost(message: impl std::fmt::Display) -> StoreError {
    StoreError::new(ErrorKind::Network, format!("NATS: {message}"))
}

#[async_trait::async_trait]
impl WorkQueue for NatsQueue {
    async fn run(&self, item: WorkItem) -> Result<WorkDone, StoreError> {
        let _room = self.room.acquire().await.map_err(lost)?;
        self.nats
            .pending
            .clone()
            .wait_for(|pending| *pending < WAITING_ON_STREAM)
            .await
            .map_err(lost)?;
        let message = WorkMessage {
            run: self.run.clone(),
            id: item_id(&item),
            spec: self.spec.clone(),
            item,
        };
        let id = message.message_id();
        let (tell, answer) = oneshot::channel();
        self.nats
            .waiting
            .lock()
            .expect("waiting lock")
            .insert(id.clone(), tell);
        let subject = work_subject(&self.run);
        let payload = self.nats.key.seal(
            &subject,
            &serde_json::to_vec(&message).expect("a work message serializes"),
        );
        let published = async {
            self.nats
                .js
                .send_publish(
                    subject,
                    jetstream::message::PublishMessage::build()
                        .payload(payload.into())
                        .message_id(&id),
                )
                .await
                .map_err(lost)?
                .await
                .map_err(lost)
        };
        if let Err(e) = published.await {
            self.nats.waiting.lock().expect("waiting lock").remove(&id);
            return Err(e);
        }
        let outcome = answer
            .await
            .map_err(|_| lost("the outcome router stopped"))?;
        *self
            .bytes
            .lock()
            .expect("bytes lock")
            .entry(outcome.agent.clone())
            .or_default() += outcome.bytes;
        outcome
            .result
            .map_err(|e| e.to_store_error(Some(&format!("on {}", outcome.agent))))
    }
}
