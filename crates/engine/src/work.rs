//! Work items: what the planner hands to executors, as plain serde data, so the same item
//! runs in this process or travels through a queue to an agent on another machine. Small
//! objects go whole, in [`WorkItem::Objects`] batches; a large object is split into [`BlockItem`]s (one per block, each runnable by any executor:
//! block ids are deterministic, so where a block is staged does not matter) and, once every
//! block is staged, one [`CommitItem`].

use awcopy_store::{
    ByteRange, ErrorKind, ObjectAttributes, ObjectMeta, PartReceipt, Store, StoreError, UploadId,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;

use crate::copy::{CopyOptions, CopyPlan, Progress};
use crate::estimate::Route;

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
}

/// An error as it travels back from an executor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkError {
    /// Its class.
    pub kind: ErrorKind,
    /// What went wrong (free of secrets).
    pub message: String,
}

impl From<&StoreError> for WorkError {
    fn from(err: &StoreError) -> Self {
        Self {
            kind: err.kind(),
            message: err.to_string(),
        }
    }
}

/// Where work items go: the seam between the planner and executors. The in-process pipeline
/// runs them itself; a queue sends them to executors elsewhere and hands back what they gave.
#[async_trait::async_trait]
pub trait WorkQueue: Send + Sync + std::fmt::Debug {
    /// Runs `item` on some executor.
    async fn run(&self, item: WorkItem) -> Result<WorkDone, StoreError>;
}

/// Runs work items between one source and one destination, with limits of its own
/// (concurrency, memory, request rate): what one agent holds. It keeps no state of the job
/// beyond what each item carries.
pub struct ItemExecutor(Arc<crate::copy::Executor>);

impl std::fmt::Debug for ItemExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemExecutor").finish_non_exhaustive()
    }
}

impl ItemExecutor {
    /// An executor reading from `source` and writing to `dest` under `options`' limits.
    pub fn new(source: Arc<dyn Store>, dest: Arc<dyn Store>, options: CopyOptions) -> Self {
        let plan = CopyPlan::under(source, dest, "", "");
        let progress = Arc::new(Progress::default());
        Self(Arc::new(crate::copy::Executor::new(
            plan, options, progress, None,
        )))
    }

    /// Its counters (bytes streamed, retries...).
    pub fn progress(&self) -> &Arc<Progress> {
        &self.0.progress
    }

    /// Runs one item.
    pub async fn run(&self, item: &WorkItem) -> Result<WorkDone, StoreError> {
        self.run_since(item, None).await
    }

    /// Runs an item that may have run before (delivered again after its agent died or it
    /// failed, or published twice), first queued at `queued`: whole objects an earlier run
    /// copied since then are not copied again. Blocks and commits are idempotent as they are.
    pub async fn run_again(
        &self,
        item: &WorkItem,
        queued: OffsetDateTime,
    ) -> Result<WorkDone, StoreError> {
        self.run_since(item, Some(queued)).await
    }

    async fn run_since(
        &self,
        item: &WorkItem,
        queued: Option<OffsetDateTime>,
    ) -> Result<WorkDone, StoreError> {
        match item {
            WorkItem::Objects { objects } => {
                let runs = objects.iter().map(|object| async move {
                    let done_before = match queued {
                        Some(queued) => self.0.copied_since(object, queued).await,
                        None => false,
                    };
                    let result = match done_before {
                        true => Ok(()),
                        false => self.0.run_whole(object).await,
                    };
                    ObjectDone {
                        key: object.source.key.clone(),
                        error: result.as_ref().err().map(WorkError::from),
                    }
                });
                let outcomes = futures::future::join_all(runs).await;
                Ok(WorkDone::Objects { outcomes })
            }
            WorkItem::Block(block) => self
                .0
                .run_block(block)
                .await
                .map(|part| WorkDone::Staged { part, agent: None }),
            WorkItem::Commit(commit) => self
                .0
                .run_commit(commit)
                .await
                .map(|()| WorkDone::Committed),
        }
    }
}

#[async_trait::async_trait]
impl WorkQueue for ItemExecutor {
    async fn run(&self, item: WorkItem) -> Result<WorkDone, StoreError> {
        ItemExecutor::run(self, &item).await
    }
}
