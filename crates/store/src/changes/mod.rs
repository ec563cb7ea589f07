//! Change events: what the clouds announce when an object is written or deleted, read from
//! the queue they deliver to. S3 sends event notifications to an SQS queue
//! ([`s3_events`], [`sqs`]); Azure Blob Storage sends `Microsoft.Storage.Blob*` events
//! through Event Grid to a Storage Queue ([`event_grid`], [`storage_queue`]).
//!
//! Nothing in a message is trusted: a message decodes into [`Change`]s (or says why it is not
//! one), and the caller decides which lie inside what it may touch. A change says only that a
//! key changed; the replicator reads the object's current state before it acts, so an old or
//! repeated event never copies a stale object.

pub mod event_grid;
pub mod s3_events;
pub mod sqs;
pub mod storage_queue;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

use crate::error::{Result, StoreError};
use crate::{Location, Reach};
use url::Url;

/// What happened to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// Written (created or overwritten).
    Created,
    /// Deleted.
    Removed,
}

/// One change to one object, as its event told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The bucket (S3) or `account/container` (Azure) the event names.
    pub container: String,
    /// The object's key, decoded.
    pub key: String,
    /// Written or deleted.
    pub kind: ChangeKind,
    /// The object's ETag after the change, as the event gives it (quotes removed).
    pub etag: Option<String>,
    /// The cloud's order of changes to one key (S3 `sequencer`, Azure `data.sequencer`):
    /// hexadecimal, compared as numbers.
    pub sequencer: Option<String>,
    /// When the cloud made the change.
    pub time: Option<OffsetDateTime>,
}

impl Change {
    /// Whether this change happened after `other` (to the same key): by sequencer when both
    /// have one, else by event time; `None` when neither tells.
    pub fn later_than(&self, other: &Change) -> Option<bool> {
        if let (Some(a), Some(b)) = (&self.sequencer, &other.sequencer) {
            return match compare_sequencers(a, b) {
                Ordering::Equal => None,
                order => Some(order == Ordering::Greater),
            };
        }
        match (self.time, other.time) {
            (Some(a), Some(b)) if a != b => Some(a > b),
            _ => None,
        }
    }
}

/// Compares two sequencers as the clouds document them: hexadecimal strings of possibly
/// different lengths, the shorter padded with zeros on the left.
pub fn compare_sequencers(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len()
        .cmp(&b.len())
        .then_with(|| a.to_ascii_uppercase().cmp(&b.to_ascii_uppercase()))
}

/// An event's time: RFC 3339, or an ISO 8601 time without an offset taken as UTC (moto
/// writes those); `None` when it is neither (the time only orders and measures lag: an event
/// is not refused for it).
pub fn event_time(text: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    OffsetDateTime::parse(text, &Rfc3339).ok().or_else(|| {
        time::PrimitiveDateTime::parse(text, &Iso8601::DEFAULT)
            .ok()
            .map(time::PrimitiveDateTime::assume_utc)
    })
}

/// What one queue message held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoded {
    /// The changes it announces.
    pub changes: Vec<Change>,
    /// Events it holds that change no object's content (a test event, a tier change, a
    /// block staged but not committed).
    pub ignored: u32,
}

/// Why a message is not an event the replicator understands: it is counted as failed and
/// removed from the queue, never retried (it would fail the same way forever).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

/// The newest change of each key among `changes`, in the order keys first appear. Two
/// changes that do not tell which came later (no sequencer, same time) keep the one that
/// arrived last.
pub fn coalesce(changes: impl IntoIterator<Item = Change>) -> Vec<Change> {
    let mut newest: Vec<Change> = Vec::new();
    let mut at: HashMap<(String, String), usize> = HashMap::new();
    for change in changes {
        let slot = (change.container.clone(), change.key.clone());
        match at.get(&slot) {
            Some(&i) => {
                if change.later_than(&newest[i]) != Some(false) {
                    newest[i] = change;
                }
            }
            None => {
                at.insert(slot, newest.len());
                newest.push(change);
            }
        }
    }
    newest
}

/// One message taken from a queue: invisible to other readers until its visibility timeout
/// ends, deleted with [`ChangeQueue::delete`] once its effect is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// The queue's id of the message.
    pub id: String,
    /// What deletes it (SQS receipt handle, Azure pop receipt); valid for this receipt only.
    pub receipt: String,
    /// Its text.
    pub body: String,
    /// How many times it has been received, this time included.
    pub receive_count: u32,
    /// When it entered the queue.
    pub sent: Option<OffsetDateTime>,
}

/// A queue of change events.
#[async_trait::async_trait]
pub trait ChangeQueue: Send + Sync + std::fmt::Debug {
    /// Up to `max` messages, waiting up to `wait` for the first (a long poll where the queue
    /// has one). Each is hidden from other readers for `visibility`.
    async fn receive(
        &self,
        max: u32,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<QueueMessage>>;

    /// Deletes the messages received with these receipts.
    async fn delete(&self, messages: &[QueueMessage]) -> Result<()>;

    /// About how many messages wait in the queue (visible or being processed).
    async fn depth(&self) -> Result<u64>;

    /// Decodes one message's body in the event schema this queue carries.
    fn decode(&self, body: &str) -> std::result::Result<Decoded, Malformed>;
}

/// The events of one source: the queue they arrive on, and the bucket (`account/container`
/// for Azure) its events name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSource {
    /// What a grant names the queue by: an SQS queue's name, an Azure queue's
    /// `ACCOUNT/QUEUE`.
    pub queue_id: String,
    /// The container the source's events name.
    pub container: String,
}

impl EventSource {
    /// The events of `source` arriving on `queue` (an SQS queue's name or URL for an S3
    /// bucket; a Storage Queue's name, in the container's account, for Azure), checked
    /// without a request. Local directories announce no changes.
    pub fn of(source: &Location, queue: &str) -> Result<Self> {
        match source {
            Location::S3 { bucket, .. } => {
                let name = match Url::parse(queue) {
                    Ok(url) => url
                        .path_segments()
                        .and_then(|mut s| s.next_back())
                        .unwrap_or_default()
                        .to_owned(),
                    Err(_) => queue.to_owned(),
                };
                Ok(Self {
                    queue_id: name,
                    container: bucket.clone(),
                })
            }
            Location::Azure {
                account, container, ..
            } => {
                if !storage_queue::valid_name(queue) {
                    return Err(StoreError::usage(format!(
                        "queue '{queue}': a Storage Queue name is 3 to 63 lowercase letters, digits and single hyphens"
                    )));
                }
                Ok(Self {
                    queue_id: format!("{account}/{queue}"),
                    container: format!("{account}/{container}"),
                })
            }
            Location::Local { .. } => Err(no_events()),
        }
    }
}

/// Why a local source cannot be replicated.
fn no_events() -> StoreError {
    StoreError::usage(
        "source: a local directory announces no changes; replicate an S3 bucket or an Azure container",
    )
}

/// Opens the queue `queue` of `source`'s events where `reach` says its cloud's queues are.
pub async fn open_queue(
    source: &Location,
    queue: &str,
    reach: &Reach,
) -> Result<Arc<dyn ChangeQueue>> {
    match source {
        Location::S3 { region, .. } => Ok(Arc::new(
            sqs::SqsQueue::open(queue, reach.sqs_endpoint(), region.as_deref()).await?,
        )),
        Location::Azure { account, .. } => {
            let endpoint = reach.azure_queue_endpoint(account)?;
            Ok(Arc::new(storage_queue::StorageQueue::open(
                account, queue, endpoint,
            )?))
        }
        Location::Local { .. } => Err(no_events()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(key: &str, sequencer: Option<&str>, etag: &str) -> Change {
        Change {
            container: "b".into(),
            key: key.into(),
            kind: ChangeKind::Created,
            etag: Some(etag.into()),
            sequencer: sequencer.map(str::to_owned),
            time: None,
        }
    }

    #[test]
    fn event_times_read_with_or_without_an_offset() {
        let z = event_time("2026-12-07T06:09:37.017Z").unwrap();
        let naive = event_time("2026-12-07T06:09:37.017").unwrap();
        assert_eq!(z, naive);
        assert_eq!(event_time("2026-12-07T07:09:37.017+01:00"), Some(z));
        assert_eq!(event_time("yesterday"), None);
    }

    #[test]
    fn sequencers_compare_as_hexadecimal_numbers_of_any_length() {
        assert_eq!(compare_sequencers("0A", "9"), Ordering::Greater);
        assert_eq!(compare_sequencers("00ff", "FF"), Ordering::Equal);
        assert_eq!(
            compare_sequencers("0055AED6DCD90281E5", "0055AED6DCD90281E6"),
            Ordering::Less
        );
        assert_eq!(compare_sequencers("100", "0FFF"), Ordering::Less);
    }

    #[test]
    fn coalescing_keeps_the_newest_change_of_each_key_whatever_the_arrival_order() {
        let changes = vec![
            change("a", Some("0003"), "third"),
            change("b", Some("01"), "b"),
            change("a", Some("0001"), "first"),
            change("a", Some("02"), "second"),
        ];
        let newest = coalesce(changes);
        assert_eq!(newest.len(), 2);
        assert_eq!(newest[0].etag.as_deref(), Some("third"));
        assert_eq!(newest[1].key, "b");
    }

    #[test]
    fn without_sequencer_or_time_the_last_to_arrive_wins() {
        let newest = coalesce(vec![change("a", None, "old"), change("a", None, "new")]);
        assert_eq!(newest[0].etag.as_deref(), Some("new"));
        let later = OffsetDateTime::from_unix_timestamp(10).unwrap();
        let mut a = change("a", None, "later");
        a.time = Some(later);
        let mut b = change("a", None, "earlier");
        b.time = Some(later - time::Duration::seconds(1));
        assert_eq!(coalesce(vec![a, b])[0].etag.as_deref(), Some("later"));
    }

    #[test]
    fn the_same_key_in_two_containers_is_two_objects() {
        let mut other = change("a", Some("09"), "other");
        other.container = "c".into();
        assert_eq!(coalesce(vec![change("a", Some("01"), "b"), other]).len(), 2);
    }
}
