//! `awcopy agent`: the [`Agent`] on JetStream. Pulls work items from the stream, runs each
//! with the agent's executor for the item's run (its own adaptive limits; stores opened with
//! this machine's credentials), keeps the item's lease alive while it runs (in-progress
//! acks), and answers on the item's results subject. A failed item is handed back for redelivery (with back-off)
//! until its last delivery, when its failure is the answer: a dead letter, recorded in the
//! job's failures and taken off the stream.

use async_nats::jetstream::{self, AckKind};
use awcopy_engine::prepare::Access;
use awcopy_engine::work::{WorkDone, WorkError};
use awcopy_store::ErrorKind;
use futures::StreamExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Semaphore;

use crate::agent::Agent;

use super::{
    connect, is_token, redelivery_delay, results_stream, work_consumer, work_subject, Heartbeat,
    NatsError, NatsOptions, Outcome, SealKey, WorkMessage, ACK_WAIT, HEARTBEAT_EVERY,
    HEARTBEAT_SUBJECT, MAX_DELIVER, STOP_PREFIX,
};

/// How an agent runs.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// Where NATS is.
    pub nats: NatsOptions,
    /// Its name (shown by the service).
    pub name: String,
    /// Items it runs at once.
    pub items: usize,
    /// The stores it reaches and the keys it reads: its operator's, never a job's.
    pub access: Access,
}

/// An agent on JetStream.
struct JetStreamAgent {
    agent: Agent,
    /// Messages dropped for a missing or wrong seal, or a subject that does not match.
    rejected: AtomicU64,
    /// What messages are sealed with.
    key: SealKey,
    client: async_nats::Client,
    js: jetstream::Context,
    /// Where outcomes are stored: an item whose outcome is there already is not run again.
    results: jetstream::stream::Stream,
}

/// Runs an agent until the process is stopped.
pub async fn run_agent(options: AgentOptions) -> Result<(), NatsError> {
    let client = connect(&options.nats, &format!("awcopy-agent {}", options.name)).await?;
    let js = jetstream::new(client.clone());
    let consumer = work_consumer(&js, &options.nats).await?;
    let results = results_stream(&js, &options.nats).await?;
    let agent = Arc::new(JetStreamAgent {
        agent: Agent::new(options.name.clone(), options.access.clone()),
        rejected: AtomicU64::new(0),
        key: options.nats.key.clone(),
        client: client.clone(),
        js: js.clone(),
        results,
    });
    let mut stops = client
        .subscribe(format!("{STOP_PREFIX}.*"))
        .await
        .map_err(|e| NatsError::new(&options.nats, e))?;
    let listener = agent.clone();
    tokio::spawn(async move {
        while let Some(message) = stops.next().await {
            let subject = message.subject.as_str();
            let run = subject.strip_prefix(&format!("{STOP_PREFIX}."));
            match (run, listener.key.open(subject, &message.payload)) {
                (Some(run), Some(_)) => listener.agent.stop_run(run),
                _ => listener.reject(subject, "a stop"),
            }
        }
    });
    tokio::spawn(heartbeat(agent.clone()));
    let slots = Arc::new(Semaphore::new(options.items.max(1)));
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(options.items.max(1))
        .messages()
        .await
        .map_err(|e| NatsError::new(&options.nats, e))?;
    tracing::info!(agent = %options.name, "pulling work items");
    while let Some(message) = messages.next().await {
        let message = match message {
            Ok(message) => message,
            Err(e) => {
                tracing::warn!("pull: {e}");
                continue;
            }
        };
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .expect("slots stay open");
        let agent = agent.clone();
        tokio::spawn(async move {
            agent.handle(message).await;
            drop(slot);
        });
    }
    Ok(())
}

impl JetStreamAgent {
    /// Runs one delivered item and settles it: answered and acked, or handed back.
    async fn handle(&self, message: jetstream::Message) {
        let (delivered, queued) = match message.info() {
            Ok(info) => (info.delivered, Some(info.published)),
            Err(_) => (1, None),
        };
        let Some(work) = self.open_work(&message) else {
            self.reject(&message.subject, "a work item");
            let _ = message.ack_with(AckKind::Term).await;
            return;
        };
        if self.answered(&work).await {
            // Published twice past the stream's duplicate window, or acked too late: its
            // outcome is stored, so it ran; the copy is not run again.
            tracing::info!(agent = %self.agent.name(), item = %describe(&work), "answered before; dropped");
            let _ = message.ack().await;
            return;
        }
        // A first delivery may still be a second run (a duplicate publish), but is far more
        // often the only one: only redeliveries look at the destination first.
        let again = queued.filter(|_| delivered > 1);
        let counters = &self.agent.counters;
        counters.items_held.fetch_add(1, Ordering::Relaxed);
        // While the item runs, tell the stream it is being worked on.
        let keeper = {
            let message = message.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(ACK_WAIT / 3).await;
                    let _ = message.ack_with(AckKind::Progress).await;
                }
            })
        };
        let result = self
            .agent
            .execute(&work.run, &work.spec, &work.item, again)
            .await;
        keeper.abort();
        counters.items_held.fetch_sub(1, Ordering::Relaxed);
        // Failed: some error that another delivery may mend. A stop, or an answer the
        // planner acts on (copy this another way), is not a failure of the item.
        let failed = match &result {
            Ok(WorkDone::Objects { outcomes }) => outcomes
                .iter()
                .filter_map(|o| o.error.as_ref())
                .any(|e| worth_another_delivery(e.kind)),
            Ok(_) => false,
            Err(e) => worth_another_delivery(e.kind()),
        };
        if failed && delivered < MAX_DELIVER {
            tracing::debug!(agent = %self.agent.name(), item = %describe(&work), delivered, "failed; handed back");
            let _ = message
                .ack_with(AckKind::Nak(Some(redelivery_delay(delivered))))
                .await;
            return;
        }
        let bytes = self.agent.settled(&work.item, &result, failed);
        tracing::info!(agent = %self.agent.name(), item = %describe(&work), delivered, failed, "done");
        let outcome = Outcome {
            id: work.message_id(),
            agent: self.agent.name().to_owned(),
            result: result.map_err(|e| WorkError::from(&e)),
            bytes,
        };
        let payload = self.key.seal(
            &work.outcome_subject(),
            &serde_json::to_vec(&outcome).expect("an outcome serializes"),
        );
        // The item is settled only once its outcome is stored: otherwise it is redelivered.
        // Stored under the item's own subject (see `answered`), once per id in the window.
        let publish = jetstream::message::PublishMessage::build()
            .payload(payload.into())
            .message_id(work.message_id());
        let stored = match self.js.send_publish(work.outcome_subject(), publish).await {
            Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = stored {
            tracing::warn!(agent = %self.agent.name(), "the outcome of {} was not stored ({e}); the item will run again", work.id);
            return;
        }
        let ack = if failed { AckKind::Term } else { AckKind::Ack };
        let _ = message.ack_with(ack).await;
    }

    /// Whether the item's outcome is stored already (it ran to its answer before), under a
    /// valid seal (a forged outcome must not make an agent skip an item). A lookup that fails
    /// says no: running an item twice is harmless, losing one is not.
    async fn answered(&self, work: &WorkMessage) -> bool {
        let subject = work.outcome_subject();
        match self.results.direct_get_last_for_subject(&subject).await {
            Ok(stored) => self.key.open(&subject, &stored.payload).is_some(),
            Err(_) => false,
        }
    }

    /// The work item a delivered message carries, if it is sealed with the service's key for
    /// its subject, and its subject is its run's.
    fn open_work(&self, message: &jetstream::Message) -> Option<WorkMessage> {
        let body = self.key.open(&message.subject, &message.payload)?;
        let work: WorkMessage = serde_json::from_slice(body).ok()?;
        let named = is_token(&work.run) && is_token(&work.id);
        (named && message.subject.as_str() == work_subject(&work.run)).then_some(work)
    }

    /// Drops a message that is not the service's, counting it (a metric and a log line,
    /// never its content).
    fn reject(&self, subject: &str, what: &str) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        // Debug: a subject is anyone's text, its control characters are escaped.
        tracing::warn!(agent = %self.agent.name(), ?subject, "{what} without a valid seal, dropped");
    }
}

/// Whether an item that failed so may succeed when delivered again (here or on another agent).
/// A stop, and the answers the planner acts on (the destination cannot read the source, or
/// cannot do this at all), go back at once.
fn worth_another_delivery(kind: ErrorKind) -> bool {
    !matches!(
        kind,
        ErrorKind::Interrupted | ErrorKind::CopySourceUnreachable | ErrorKind::Unsupported
    )
}

/// An item in a log line: what it acts on, never a secret.
fn describe(work: &WorkMessage) -> String {
    use awcopy_engine::work::WorkItem;
    match &work.item {
        WorkItem::Objects { objects } if objects.len() == 1 => {
            format!("object '{}'", objects[0].source.key)
        }
        WorkItem::Objects { objects } => format!("{} objects", objects.len()),
        WorkItem::Block(block) => format!("block {} of '{}'", block.number, block.source_key),
        WorkItem::Commit(commit) => format!("commit of '{}'", commit.source_key),
    }
}

/// Says every [`HEARTBEAT_EVERY`] that the agent is alive, and how it goes.
async fn heartbeat(agent: Arc<JetStreamAgent>) {
    let host = super::host_name();
    let mut last = 0;
    let counters = &agent.agent.counters;
    loop {
        let bytes = counters.bytes.load(Ordering::Relaxed);
        let beat = Heartbeat {
            sent_at: time::OffsetDateTime::now_utc().unix_timestamp(),
            rejected: agent.rejected.load(Ordering::Relaxed),
            name: agent.agent.name().to_owned(),
            host: host.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            items_held: counters.items_held.load(Ordering::Relaxed),
            requests_in_flight: agent.agent.requests_in_flight(),
            items_done: counters.items_done.load(Ordering::Relaxed),
            items_failed: counters.items_failed.load(Ordering::Relaxed),
            bytes,
            bytes_per_sec: (bytes - last) / HEARTBEAT_EVERY.as_secs().max(1),
        };
        last = bytes;
        let payload = agent.key.seal(
            HEARTBEAT_SUBJECT,
            &serde_json::to_vec(&beat).expect("a heartbeat serializes"),
        );
        let _ = agent
            .client
            .publish(HEARTBEAT_SUBJECT, payload.into())
            .await;
        tokio::time::sleep(HEARTBEAT_EVERY).await;
    }
}
