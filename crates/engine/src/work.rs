//! Work items: what the planner hands to executors, as plain serde data, so the same item
//! runs in this process or travels through a queue to an agent on another machine. Small
//! objects go whole, in [`WorkItem::Objects`] batches; a large object is split into [`BlockItem`]s (one per block, each runnable by any executor:
//! block ids are deterministic, so where a block is staged does not matter) and, once every
//! block is staged, one [`CommitItem`]. The executor that runs them is in
//! [`crate::execute`]; the planner that makes them in [`crate::copy`].

use awcopy_store::{
    ByteRange, ErrorKind, ObjectAttributes, ObjectMeta, PartReceipt, StoreError, UploadId,
};
use serde::{Deserialize, Serialize};

use crate::estimate::Route;
pub use crate::names::MappedName;

/// One whole object, copied in one go: one server-side request, or one GET and one PUT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectItem {
    /// The source object as listed.
    pub source: ObjectMeta,
    /// Where it goes.
    pub dest_key: String,
    /// Copied by the destination itself, or streamed through the executor.
    pub route: Route,
}

/// The byte ranges of the blocks of an object of `size` bytes cut at `part` bytes: every block
/// `part` long but the last.
pub fn block_ranges(size: u64, part: u64) -> Vec<ByteRange> {
    (0..size.div_ceil(part))
        .map(|i| ByteRange {
            start: i * part,
            end: ((i + 1) * part).min(size),
        })
        .collect()
}

/// One block of a large object, staged into an upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockItem {
    /// The source object.
    pub source_key: String,
    /// The destination object.
    pub dest_key: String,
    /// The upload the block is staged in.
    pub upload: UploadId,
    /// The block's number, from 1.
    pub number: u32,
    /// Its bytes in the source object.
    pub range: ByteRange,
    /// Streamed through the executor, or copied by the destination itself.
    pub route: Route,
}

/// The commit of a large object's upload once every block is staged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitItem {
    /// The source object.
    pub source_key: String,
    /// The destination object.
    pub dest_key: String,
    /// The upload to commit.
    pub upload: UploadId,
    /// Every block, in order, with its size (and, streamed, its CRC-64/NVME).
    pub parts: Vec<PartReceipt>,
    /// The object's attributes, as the source gave them.
    pub attributes: ObjectAttributes,
    /// The source's CRC-64/NVME, which the streamed blocks' combined CRC must equal.
    pub source_crc: Option<u64>,
    /// The route its blocks took.
    pub route: Route,
}

/// A unit of work for an executor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum WorkItem {
    /// Copy a batch of whole (small) objects.
    Objects {
        /// The objects, each copied on its own.
        objects: Vec<ObjectItem>,
    },
    /// Stage one block.
    Block(BlockItem),
    /// Commit an upload.
    Commit(CommitItem),
}

/// What running a work item gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum WorkDone {
    /// What became of each object of a batch, in order.
    Objects {
        /// One outcome per object.
        outcomes: Vec<ObjectDone>,
    },
    /// A block is staged.
    Staged {
        /// What the destination gave for it.
        part: PartReceipt,
        /// The agent that staged it, when an agent did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
    /// An upload is committed.
    Committed,
}

impl WorkItem {
    /// Whether running it asks the destination to read from the source (a server-side copy
    /// of objects or a block); a commit reads nothing from the source.
    pub fn is_server_side(&self) -> bool {
        match self {
            WorkItem::Objects { objects } => objects.iter().any(|o| o.route != Route::Streamed),
            WorkItem::Block(block) => block.route != Route::Streamed,
            WorkItem::Commit(_) => false,
        }
    }

    /// Bytes this item moved, or had the stores copy, once `done`: a block's length, or the
    /// sizes of a batch's objects that were copied.
    pub fn bytes_moved(&self, done: &WorkDone) -> u64 {
        match (self, done) {
            (WorkItem::Objects { objects }, WorkDone::Objects { outcomes }) => objects
                .iter()
                .filter(|o| {
                    outcomes
                        .iter()
                        .any(|d| d.key == o.source.key && d.error.is_none())
                })
                .map(|o| o.source.size)
                .sum(),
            (WorkItem::Block(block), _) => block.range.end - block.range.start,
            _ => 0,
        }
    }
}

impl WorkDone {
    /// This outcome, as agent `name` gives it: a staged block names who staged it.
    pub fn from_agent(self, name: &str) -> Self {
        match self {
            WorkDone::Staged { part, .. } => WorkDone::Staged {
                part,
                agent: Some(name.to_owned()),
            },
            other => other,
        }
    }

    /// The error of an executor that answered an item with this, not what the item asks for.
    pub fn unexpected(&self) -> StoreError {
        StoreError::new(
            ErrorKind::Other,
            format!("an executor answered a work item with {self:?}"),
        )
    }
}

/// What became of one object of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectDone {
    /// The source key.
    pub key: String,
    /// Why it was not copied, if it was not.
    pub error: Option<WorkError>,
    /// Its user metadata names that the destination stores under other names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata_mapped: Vec<MappedName>,
}

/// An error as it travels back from an executor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkError {
    /// Its class.
    pub kind: ErrorKind,
    /// What went wrong (free of secrets).
    pub message: String,
    /// The store as a whole cannot take more (full, over quota, read-only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub whole_store: bool,
}

impl From<&StoreError> for WorkError {
    fn from(err: &StoreError) -> Self {
        Self {
            kind: err.kind(),
            message: err.to_string(),
            whole_store: err.concerns_whole_store(),
        }
    }
}

impl WorkError {
    /// The error as the planner acts on it, `context` before its message.
    pub fn to_store_error(&self, context: Option<&str>) -> StoreError {
        let message = match context {
            Some(context) => format!("{} ({context})", self.message),
            None => self.message.clone(),
        };
        StoreError::new(self.kind, message).of_whole_store(self.whole_store)
    }
}

/// Where work items go: the seam between the planner and executors. The in-process pipeline
/// runs them itself; a queue sends them to executors elsewhere and hands back what they gave.
#[async_trait::async_trait]
pub trait WorkQueue: Send + Sync + std::fmt::Debug {
    /// Runs `item` on some executor.
    async fn run(&self, item: WorkItem) -> Result<WorkDone, StoreError>;
}

/// The keys one job's work items may name: sources under the prefix it lists (or its one
/// key), destinations under its destination prefix. An executor fed by a queue that other
/// processes write to runs nothing outside them.
#[derive(Debug, Clone)]
pub struct KeyBounds {
    source_prefix: String,
    single_key: Option<String>,
    dest_prefix: String,
    /// A single object's destination key as the destination may rename it (`--name-policy
    /// map`): a prefix keeps its own name, a whole key may not.
    dest_mapped: Option<String>,
}

impl KeyBounds {
    /// Sources under `source_prefix` (or only `single_key`), destinations under
    /// `dest_prefix` (or exactly `dest_mapped`, a single object's destination key as the
    /// destination renamed it).
    pub fn new(
        source_prefix: String,
        single_key: Option<String>,
        dest_prefix: String,
        dest_mapped: Option<String>,
    ) -> Self {
        Self {
            source_prefix,
            single_key,
            dest_prefix,
            dest_mapped,
        }
    }

    /// Refuses an item naming a key outside the bounds.
    pub fn check(&self, item: &WorkItem) -> Result<(), StoreError> {
        let pairs: Vec<(&str, &str)> = match item {
            WorkItem::Objects { objects } => objects
                .iter()
                .map(|o| (o.source.key.as_str(), o.dest_key.as_str()))
                .collect(),
            WorkItem::Block(block) => vec![(&block.source_key, &block.dest_key)],
            WorkItem::Commit(commit) => vec![(&commit.source_key, &commit.dest_key)],
        };
        for (source, dest) in pairs {
            let source_inside = match &self.single_key {
                Some(key) => source == key,
                None => source.starts_with(&self.source_prefix),
            };
            let dest_inside =
                dest.starts_with(&self.dest_prefix) || self.dest_mapped.as_deref() == Some(dest);
            if !source_inside || !dest_inside {
                return Err(StoreError::usage(format!(
                    "a work item names '{source}' -> '{dest}', outside its job's prefixes ('{}' -> '{}'); it is not run",
                    self.single_key.as_deref().unwrap_or(&self.source_prefix),
                    self.dest_prefix
                )));
            }
        }
        Ok(())
    }
}
