//! One round of a replication: take a batch of messages from its queue, read their events,
//! keep those about its source (the newest change of each key), make the destination match
//! the source's *current* state for each key, record what was done in one transaction, and
//! only then delete the messages.
//!
//! Effects happen once however often a message is delivered: a key is made to match what the
//! source holds now (an old or repeated event copies the current object, never a stale one;
//! an object already at the destination, the same by size and checksum, is not copied again;
//! a deletion of an object already gone is done). A deletion reaches the destination only if
//! deletions are on and the destination object is still the one this replication wrote (by
//! ETag). Copies go through the same pipeline as jobs' (routes, blocks, agents, retries); a
//! change that keeps failing stays in the queue until it has been delivered
//! [`MOST_DELIVERIES`] times, then becomes a failure of the replication (its dead letter).

use awcopy_engine::copy::{copy, CopyOptions, CopyPlan};
use awcopy_engine::filter::Filter;
use awcopy_engine::overwrite::{decide, Overwrite};
use awcopy_engine::prepare::Prepared;
use awcopy_engine::progress::Progress;
use awcopy_engine::retry::RetryStats;
use awcopy_engine::spec::JobSpec;
use awcopy_jobs::{CatalogError, Replication, ReplicationRound, Timestamp, WrittenObject};
use awcopy_store::changes::{coalesce, open_queue, Change, ChangeQueue, EventSource};
use awcopy_store::{ErrorKind, Location, ObjectMeta, StoreError};
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

use crate::service::Service;

/// The most messages one round takes,
const ROUND_MESSAGES: usize = 500;
/// and the longest it spends taking them once the first came: a round's last message waits
/// for its first to be applied no longer than this.
const TAKE_FOR: Duration = Duration::from_secs(1);
/// How long the first receive of a round waits for a message (a long poll on SQS).
const FIRST_WAIT: Duration = Duration::from_secs(2);
/// How long a message taken stays hidden from other readers: longer than a round.
const VISIBILITY: Duration = Duration::from_secs(60);
/// Deliveries of a message whose change keeps failing before it becomes a failure.
pub const MOST_DELIVERIES: u32 = 5;
/// Heads (source and destination) in flight at once.
const HEADS_IN_FLIGHT: usize = 64;
/// How often the queue's depth is read.
const DEPTH_EVERY: Duration = Duration::from_secs(5);

/// What a replication being read here shows while a round goes on.
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// When the oldest change taken and not yet applied happened.
    oldest_pending: std::sync::Mutex<Option<OffsetDateTime>>,
}

impl Live {
    /// Sets when the oldest change waiting happened (`None`: none waits).
    fn set_oldest_pending(&self, at: Option<OffsetDateTime>) {
        *self.oldest_pending.lock().expect("not poisoned") = at;
    }

    /// When the oldest change waiting happened (`None`: none waits).
    pub(crate) fn oldest_pending(&self) -> Option<OffsetDateTime> {
        *self.oldest_pending.lock().expect("not poisoned")
    }
}

/// Why a round did not go through.
#[derive(Debug)]
pub(crate) enum RoundError {
    /// Another process holds the replication now.
    LeaseLost,
    /// The queue, a store, the catalogue or the grants refused (why, for the replication's
    /// record).
    Failed(String),
}

impl From<CatalogError> for RoundError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Changed(_) | CatalogError::NotFound(_) => RoundError::LeaseLost,
            other => RoundError::Failed(format!("catalogue: {other}")),
        }
    }
}

/// What became of one key.
#[derive(Debug, Clone)]
enum Effect {
    /// The destination holds the source's object: the source's ETag and the destination's
    /// (if known); `copied`: its size, when this round copied it.
    Written {
        source_etag: Option<String>,
        etag: Option<String>,
        copied: Option<u64>,
    },
    /// The destination object is gone (deleted now, or already).
    Removed {
        /// Deleted by this round.
        deleted: bool,
    },
    /// Nothing to do (why, for the log).
    Ignored(&'static str),
    /// To copy: the source object as it is now.
    Copy(Box<ObjectMeta>),
    /// It failed; the message comes back.
    Failed(String),
}

/// One message taken, read.
struct Taken {
    message: awcopy_store::changes::QueueMessage,
    /// The changes about this replication's source.
    changes: Vec<Change>,
    /// Events that change nothing here.
    ignored: i64,
    /// Why the message cannot be read, if it cannot.
    malformed: Option<String>,
}

impl Taken {
    /// When its changes happened (their event times) and when it entered the queue.
    fn times(&self) -> impl Iterator<Item = OffsetDateTime> + '_ {
        self.changes
            .iter()
            .filter_map(|c| c.time)
            .chain(self.message.sent)
    }
}

/// A replication's queue and stores, opened for its rounds.
pub(crate) struct Replicator {
    id: String,
    service: Arc<Service>,
    queue: Arc<dyn ChangeQueue>,
    events: EventSource,
    plan: CopyPlan,
    filter: Filter,
    /// The copy's options, its work items going to the service's agents: one run for the
    /// replicator's life, so that each agent opens its stores (and learns their routes) once.
    options: CopyOptions,
    live: Arc<Live>,
    /// When the queue's depth was last read, and what it was.
    depth: std::sync::Mutex<(Option<Instant>, Option<i64>)>,
    /// Heads and deletes retried as the copy's requests are (network errors, throttling).
    retried: RetryStats,
}

impl Replicator {
    /// Opens `replication`'s queue and stores, its owner's grants checked.
    pub(crate) async fn open(
        service: &Arc<Service>,
        replication: &Replication,
        live: Arc<Live>,
    ) -> Result<Self, RoundError> {
        let spec = admitted(service, replication)?;
        let source = Location::parse(&spec.source).map_err(failed("source"))?;
        let events = EventSource::of(&source, &replication.queue).map_err(failed("queue"))?;
        let queue = open_queue(&source, &replication.queue, service.reach())
            .await
            .map_err(failed("queue"))?;
        let prepared = Prepared::new(spec.clone(), service.access())
            .await
            .map_err(failed("stores"))?;
        let mut options = prepared.options(false);
        // Each round decides itself what to copy, by a head of each object at both ends.
        options.overwrite = Overwrite::Always;
        options.delete_extras = false;
        options.queue = Some(service.queue_for(&spec).work());
        let (plan, filter) = prepared.into_plan();
        Ok(Self {
            id: replication.id.clone(),
            service: service.clone(),
            queue,
            events,
            plan,
            filter,
            options,
            live,
            depth: std::sync::Mutex::new((None, None)),
            retried: RetryStats::default(),
        })
    }

    /// One round: take messages, apply their changes, record, delete the messages. The
    /// replication's settings (and its owner's grants) are read once the messages are taken:
    /// a change made while the round waited for them counts.
    pub(crate) async fn round(&self) -> Result<(), RoundError> {
        let taken = self.take().await?;
        let started = Instant::now();
        let replication = self.service.catalog().replication(&self.id).await?;
        if !replication.enabled {
            // Paused meanwhile: the messages come back when their visibility ends.
            return Ok(());
        }
        admitted(&self.service, &replication)?;
        let (queue_depth, known_depth) = self.depth_if_due().await;
        if taken.is_empty() {
            self.live.set_oldest_pending(None);
            let round = ReplicationRound {
                queue_depth,
                ..ReplicationRound::default()
            };
            return Ok(self
                .service
                .catalog()
                .record_round(&self.id, &round)
                .await?);
        }
        let all = taken.iter().flat_map(|t| t.changes.iter().cloned());
        let effects = self.apply(coalesce(all), replication.deletions).await?;
        // More waiting than this round took (the depth counts the messages it holds): the
        // oldest of them came about when the newest taken did (queues hand out the oldest
        // first, roughly), and the lag counts from there, not from nothing.
        let backlog = known_depth.is_some_and(|d| d > taken.len() as i64);
        let newest = taken.iter().flat_map(Taken::times).max();
        let (mut round, settled) = tally(&taken, &effects, queue_depth);
        if let Some(newest) = newest.filter(|_| backlog) {
            let since = round.pending_since.map_or(newest, |p| p.time().min(newest));
            round.pending_since = Some(Timestamp::from(since));
        }
        self.service
            .catalog()
            .record_round(&self.id, &round)
            .await?;
        self.live
            .set_oldest_pending(round.pending_since.map(Timestamp::time));
        if let Err(e) = self.queue.delete(&settled).await {
            // They come back, and their effects are found done.
            tracing::warn!(replication = %self.id, "messages applied but not deleted: {e}");
        }
        tracing::debug!(
            replication = %self.id,
            messages = taken.len(),
            settled = settled.len(),
            copied = round.copied,
            deleted = round.deleted,
            failed = round.failed,
            millis = started.elapsed().as_millis() as u64,
            "round applied"
        );
        Ok(())
    }

    /// Up to [`ROUND_MESSAGES`] messages, for up to [`TAKE_FOR`]: the first receive waits a
    /// little, the others take what is there. The lag counts from the first message taken.
    async fn take(&self) -> Result<Vec<Taken>, RoundError> {
        let mut taken: Vec<Taken> = Vec::new();
        let mut wait = FIRST_WAIT;
        let mut since: Option<Instant> = None;
        while taken.len() < ROUND_MESSAGES && since.is_none_or(|at| at.elapsed() < TAKE_FOR) {
            let got = self
                .queue
                .receive(32, wait, VISIBILITY)
                .await
                .map_err(failed("queue"))?;
            wait = Duration::ZERO;
            if got.is_empty() {
                break;
            }
            since.get_or_insert_with(Instant::now);
            taken.extend(got.into_iter().map(|m| self.read(m)));
            self.live
                .set_oldest_pending(taken.iter().flat_map(Taken::times).min());
        }
        Ok(taken)
    }

    /// A message's changes about this replication's source.
    fn read(&self, message: awcopy_store::changes::QueueMessage) -> Taken {
        let decoded = match self.queue.decode(&message.body) {
            Ok(decoded) => decoded,
            Err(why) => {
                return Taken {
                    message,
                    changes: Vec::new(),
                    ignored: 0,
                    malformed: Some(why.0),
                }
            }
        };
        let mut ignored = i64::from(decoded.ignored);
        let mut changes = Vec::new();
        for change in decoded.changes {
            // Another bucket's, or outside the source: never acted on.
            if change.container == self.events.container
                && change.key.starts_with(&self.plan.list_prefix)
            {
                changes.push(change);
            } else {
                ignored += 1;
            }
        }
        Taken {
            message,
            changes,
            ignored,
            malformed: None,
        }
    }

    /// The queue's depth if it was read now (at most every [`DEPTH_EVERY`]), and the last
    /// depth known.
    async fn depth_if_due(&self) -> (Option<i64>, Option<i64>) {
        let due = {
            let mut depth = self.depth.lock().expect("not poisoned");
            let due = depth.0.is_none_or(|at| at.elapsed() >= DEPTH_EVERY);
            if due {
                depth.0 = Some(Instant::now());
            }
            due
        };
        let read = match due {
            true => self
                .queue
                .depth()
                .await
                .ok()
                .map(|d| d.min(i64::MAX as u64) as i64),
            false => None,
        };
        let mut depth = self.depth.lock().expect("not poisoned");
        if read.is_some() {
            depth.1 = read;
        }
        (read, depth.1)
    }

    /// Makes the destination match the source for each changed key.
    async fn apply(
        &self,
        changes: Vec<Change>,
        deletions: bool,
    ) -> Result<HashMap<String, Effect>, RoundError> {
        let keys: Vec<String> = changes.iter().map(|c| c.key.clone()).collect();
        let written = self
            .service
            .catalog()
            .written_objects(&self.id, &keys)
            .await?;
        let mut effects: HashMap<String, Effect> = futures::stream::iter(keys)
            .map(|key| async {
                let effect = self.decide(&key, deletions, written.get(&key)).await;
                (key, effect)
            })
            .buffer_unordered(HEADS_IN_FLIGHT)
            .collect()
            .await;
        let to_copy: Vec<ObjectMeta> = effects
            .values()
            .filter_map(|e| match e {
                Effect::Copy(meta) => Some(ObjectMeta::clone(meta)),
                _ => None,
            })
            .collect();
        if !to_copy.is_empty() {
            for (key, effect) in self.copy(to_copy).await {
                effects.insert(key, effect);
            }
        }
        Ok(effects)
    }

    /// What to do about `key`, from the heads of the source and the destination.
    async fn decide(&self, key: &str, deletions: bool, ours: Option<&WrittenObject>) -> Effect {
        let dest_key = self.plan.dest_name(key);
        let source = match self.retry(|| self.plan.source.head(key)).await {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Effect::Failed(format!("head of the source: {e}")),
        };
        let dest = match self.retry(|| self.plan.dest.head(&dest_key)).await {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Effect::Failed(format!("head of the destination: {e}")),
        };
        match (source, dest) {
            (Some(source), dest) => {
                let relative = &key[self.plan.strip.min(key.len())..];
                if !self.filter.accepts(relative, &source) {
                    return Effect::Ignored("left out by the filters");
                }
                match dest {
                    Some(dest) if holds(&source, &dest, ours) => Effect::Written {
                        source_etag: source.etag,
                        etag: dest.etag,
                        copied: None,
                    },
                    _ => Effect::Copy(Box::new(source)),
                }
            }
            (None, None) => Effect::Removed { deleted: false },
            (None, Some(_)) if !deletions => Effect::Ignored("deletions are off"),
            (None, Some(dest)) if !is_ours(&dest, ours) => {
                Effect::Ignored("the destination object is not the one this replication wrote")
            }
            (None, Some(_)) => match self.retry(|| self.plan.dest.delete(&dest_key)).await {
                Ok(()) => Effect::Removed { deleted: true },
                Err(e) => Effect::Failed(format!("delete at the destination: {e}")),
            },
        }
    }

    /// `request`, tried again as the copy's requests are after an error worth retrying.
    async fn retry<T, Fut>(&self, request: impl FnMut() -> Fut) -> Result<T, StoreError>
    where
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        self.options.retry.run(&self.retried, request).await
    }

    /// Copies `objects` through the jobs' pipeline; each one's effect.
    async fn copy(&self, objects: Vec<ObjectMeta>) -> Vec<(String, Effect)> {
        let copied: Vec<(String, u64, Option<String>)> = objects
            .iter()
            .map(|o| (o.key.clone(), o.size, o.etag.clone()))
            .collect();
        let (tx, rx) = tokio::sync::mpsc::channel(objects.len());
        for meta in objects {
            tx.send(Ok(meta)).await.expect("room for each object");
        }
        drop(tx);
        let progress = Arc::new(Progress::default());
        let report = copy(
            self.plan.of_objects(rx),
            self.options.clone(),
            self.filter.clone(),
            progress,
        )
        .await;
        let failures: HashMap<String, String> = match report {
            Ok(report) => report
                .failures
                .into_iter()
                .map(|f| (f.key, format!("copy: {}", f.message)))
                .collect(),
            Err(e) => copied
                .iter()
                .map(|(k, _, _)| (k.clone(), format!("copy: {e}")))
                .collect(),
        };
        let failures = &failures;
        futures::stream::iter(copied)
            .map(|(key, size, source_etag)| async move {
                if let Some(why) = failures.get(&key) {
                    return (key, Effect::Failed(why.clone()));
                }
                let dest_key = self.plan.dest_name(&key);
                let etag = self
                    .retry(|| self.plan.dest.head(&dest_key))
                    .await
                    .ok()
                    .and_then(|m| m.etag);
                let copied = Some(size);
                let written = Effect::Written {
                    source_etag,
                    etag,
                    copied,
                };
                (key, written)
            })
            .buffer_unordered(HEADS_IN_FLIGHT)
            .collect()
            .await
    }
}

/// Whether `dest` is the copy this replication wrote (by ETag).
fn is_ours(dest: &ObjectMeta, ours: Option<&WrittenObject>) -> bool {
    ours.is_some_and(|w| dest.etag.as_deref() == Some(w.dest_etag.as_str()))
}

/// Whether `dest` holds what `source` holds now: while it is the copy this replication wrote,
/// exactly when the source is still the object copied (by ETag: a source rewritten within
/// the second of its copy, same size, is still seen); otherwise when size and checksum agree.
fn holds(source: &ObjectMeta, dest: &ObjectMeta, ours: Option<&WrittenObject>) -> bool {
    match ours {
        Some(w) if w.source_etag.is_some() && is_ours(dest, ours) => source.etag == w.source_etag,
        _ => decide(Overwrite::IfDifferent, source, dest) == Some(false),
    }
}

/// The replication's spec, its owner's grants checked again.
fn admitted(service: &Service, replication: &Replication) -> Result<JobSpec, RoundError> {
    service
        .readmit(&replication.user, replication.spec.clone())
        .map_err(|e| RoundError::Failed(e.to_string()))
}

/// A store error as a round's failure, `what` failing.
fn failed(what: &'static str) -> impl Fn(StoreError) -> RoundError {
    move |e| RoundError::Failed(format!("{what}: {e}"))
}

/// The round's record, and the messages it settled (to delete).
fn tally(
    taken: &[Taken],
    effects: &HashMap<String, Effect>,
    queue_depth: Option<i64>,
) -> (ReplicationRound, Vec<awcopy_store::changes::QueueMessage>) {
    let mut round = ReplicationRound {
        queue_depth,
        ..ReplicationRound::default()
    };
    let mut settled = Vec::new();
    let mut pending: Vec<OffsetDateTime> = Vec::new();
    let mut given_up: HashSet<&str> = HashSet::new();
    for t in taken {
        if let Some(why) = &t.malformed {
            round.received += 1;
            round.failed += 1;
            round
                .failures
                .push((format!("message {}", t.message.id), why.clone()));
            settled.push(t.message.clone());
            continue;
        }
        let failing: Vec<(&Change, &String)> = t
            .changes
            .iter()
            .filter_map(|c| match effects.get(&c.key) {
                Some(Effect::Failed(why)) => Some((c, why)),
                _ => None,
            })
            .collect();
        let last_delivery = t.message.receive_count >= MOST_DELIVERIES;
        if !failing.is_empty() && !last_delivery {
            // Back to the queue when its visibility ends: counted when it settles.
            pending.extend(t.times().min());
            continue;
        }
        round.received += t.ignored + t.changes.len() as i64;
        round.ignored += t.ignored;
        for change in &t.changes {
            match effects.get(&change.key) {
                Some(Effect::Failed(why)) => {
                    round.failed += 1;
                    if given_up.insert(&change.key) {
                        round.failures.push((change.key.clone(), why.clone()));
                    }
                }
                Some(Effect::Ignored(why)) => {
                    tracing::debug!(key = %change.key, "change ignored: {why}");
                    round.ignored += 1;
                }
                _ => round.applied += 1,
            }
        }
        settled.push(t.message.clone());
    }
    for (key, effect) in effects {
        match effect {
            Effect::Written {
                source_etag,
                etag,
                copied,
            } => {
                if let Some(size) = copied {
                    round.copied += 1;
                    round.bytes += *size as i64;
                }
                if let Some(etag) = etag {
                    round.written.push(WrittenObject {
                        key: key.clone(),
                        source_etag: source_etag.clone(),
                        dest_etag: etag.clone(),
                    });
                }
            }
            Effect::Removed { deleted } => {
                round.removed.push(key.clone());
                round.deleted += i64::from(*deleted);
            }
            _ => {}
        }
    }
    round.pending_since = pending.into_iter().min().map(Timestamp::from);
    (round, settled)
}
