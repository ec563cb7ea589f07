//! A copy: the planner's side of DESIGN.md's lister -> filter -> planner -> executor. The
//! steps of one copy (`run`: open, decide each object, run it, drain, delete extras,
//! report), the planner's per-object choices (`planner`: destination name, overwrite, route,
//! chosen in one place), large objects by blocks (`blocks`), and the job's state (`job`).
//! Every object, block and commit is a work item sent to one [`WorkQueue`]: the
//! [`ItemExecutor`](crate::execute::ItemExecutor) in this process by default, agents through
//! a queue otherwise; the planner journals and counts each from what it gave. Objects go
//! server-side within a service, pulled from a URL by the destination, or streamed through
//! an executor; what is worth retrying is retried, checksums are verified, and what happened
//! to every object is reported.
//!
//! Memory stays bounded: every streamed block or small object reserves its bytes from the memory
//! budget (and holds a slot of the concurrency) while they are in memory, so at most the budget
//! and at most `concurrency x block size` bytes are in flight, and nothing is written to local
//! disk. A destination that writes streams (local disk) reserves only its write buffer.

use awcopy_store::{ErrorKind, ObjectMeta, Store, StoreError};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;

mod blocks;
mod job;
mod planner;
mod run;

pub use crate::concurrency::ConcurrencyLimit;
use crate::estimate::{Cutoffs, Route};
use crate::events::EventSink;
use crate::execute::ExecutorOptions;
use crate::index::IndexOptions;
use crate::journal::{Journal, ResumeFrom, Stop};
use crate::lister::ListerConfig;
pub use crate::names::{MappedName, NamePolicy};
use crate::overwrite::{Confirm, Overwrite};
pub use crate::progress::Progress;
use crate::retry::RetryPolicy;
use crate::work::{KeyBounds, WorkQueue};
pub use run::copy;

/// How to copy.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Preferred block size; grown per object to fit the destination's part limits.
    pub block_size: u64,
    /// Requests (blocks and small objects) in flight at once: a fixed ceiling, or adaptive.
    /// Either way throttling lowers it for a while.
    pub concurrency: ConcurrencyLimit,
    /// Bytes of streamed objects and blocks held in memory at once.
    pub memory: u64,
    /// Sizes up to which objects go whole rather than by blocks.
    pub cutoffs: Cutoffs,
    /// Listing settings.
    pub lister: ListerConfig,
    /// Retry settings for every request.
    pub retry: RetryPolicy,
    /// Lifetime of each presigned / SAS source URL (minted afresh per request).
    pub url_lifetime: Duration,
    /// Plan only: list and filter, write nothing.
    pub dry_run: bool,
    /// What to do with objects that already exist at the destination.
    pub overwrite: Overwrite,
    /// Asked per existing object under [`Overwrite::Prompt`].
    pub confirm: Option<Arc<dyn Confirm>>,
    /// Delete each source object once its copy is verified (`mv`).
    pub delete_source: bool,
    /// Delete destination objects the source does not have (`sync --delete`); skipped when
    /// any object failed.
    pub delete_extras: bool,
    /// Where each object's outcome is recorded (`--log`, `--json`).
    pub events: Option<Arc<dyn EventSink>>,
    /// What to do with names the destination cannot hold as written.
    pub name_policy: NamePolicy,
    /// At most this many requests per second (`--max-rps`).
    pub max_rps: Option<u32>,
    /// At most this many bytes per second through this machine (`--bandwidth`).
    pub bandwidth: Option<u64>,
    /// A read that brings no byte for this long is a stalled stream, retried as a network error.
    pub stall_timeout: Duration,
    /// Where listing progress and staged blocks are recorded, for resume.
    pub journal: Option<Arc<dyn Journal>>,
    /// For a resumed job, when it began: an object already at the destination, the same as
    /// the source and written since then, counts as copied, not kept. An earlier run copied
    /// it and its record was lost (the service replica running it was killed while agents
    /// finished its last items).
    pub copied_since: Option<time::OffsetDateTime>,
    /// Where the blocks of large objects and their commits go: executors elsewhere (agents)
    /// instead of this process's own.
    pub queue: Option<Arc<dyn WorkQueue>>,
    /// Cancelled to stop: no new object or block starts, those in flight finish (for at most
    /// `drain_timeout`), staged uploads are kept for resume.
    pub stop: Option<Stop>,
    /// How long a stop waits for work in flight.
    pub drain_timeout: Duration,
    /// How much of the destination's listing (for overwrite policies and `--delete`) is held
    /// in memory; the rest goes to a temporary file.
    pub index: IndexOptions,
}

/// The default memory budget: 12 blocks of 8 MiB, which keeps the peak RSS of a large copy
/// under 200 MiB (allocator and runtime come on top; 128 MiB measured 207 MiB).
pub const DEFAULT_MEMORY: u64 = 96 << 20;

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            block_size: 8 << 20,
            concurrency: ConcurrencyLimit::Auto,
            memory: DEFAULT_MEMORY,
            cutoffs: Cutoffs::default(),
            lister: ListerConfig::default(),
            retry: RetryPolicy::default(),
            url_lifetime: Duration::from_secs(3600),
            dry_run: false,
            overwrite: Overwrite::Always,
            confirm: None,
            delete_source: false,
            delete_extras: false,
            events: None,
            name_policy: NamePolicy::Map,
            max_rps: None,
            bandwidth: None,
            stall_timeout: Duration::from_secs(60),
            journal: None,
            copied_since: None,
            queue: None,
            stop: None,
            drain_timeout: Duration::from_secs(30),
            index: IndexOptions::default(),
        }
    }
}

impl CopyOptions {
    /// What an executor of this copy's items needs: its limits and how requests behave.
    pub fn executor_options(&self) -> ExecutorOptions {
        ExecutorOptions {
            concurrency: self.concurrency,
            memory: self.memory,
            retry: self.retry.clone(),
            url_lifetime: self.url_lifetime,
            max_rps: self.max_rps,
            bandwidth: self.bandwidth,
            stall_timeout: self.stall_timeout,
            stop: self.stop.clone(),
        }
    }
}

/// What to copy: objects under `list_prefix` (or the one object `single_key`), each to
/// `dest_prefix` + its key with the first `strip` bytes removed.
#[derive(Debug)]
pub struct CopyPlan {
    /// Where objects come from.
    pub source: Arc<dyn Store>,
    /// Where they go.
    pub dest: Arc<dyn Store>,
    /// The prefix listed in the source.
    pub list_prefix: String,
    /// Copy this one key instead of listing.
    pub single_key: Option<String>,
    /// Bytes of each source key replaced by `dest_prefix`.
    pub strip: usize,
    /// Prefix of every destination key.
    pub dest_prefix: String,
    /// What a previous run of the job left to do; `None` for a new job.
    pub resume: Option<ResumeFrom>,
    /// The objects to copy, named by the caller instead of listed (a replication's changed
    /// objects, each as the source has it now).
    pub given: Option<Receiver<Result<ObjectMeta, StoreError>>>,
}

impl CopyPlan {
    /// Everything under `list_prefix` in `source`, each to `dest_prefix` + the rest of its key.
    pub fn under(
        source: Arc<dyn Store>,
        dest: Arc<dyn Store>,
        list_prefix: impl Into<String>,
        dest_prefix: impl Into<String>,
    ) -> Self {
        let list_prefix = list_prefix.into();
        Self {
            source,
            dest,
            strip: list_prefix.len(),
            list_prefix,
            single_key: None,
            dest_prefix: dest_prefix.into(),
            resume: None,
            given: None,
        }
    }

    /// A plan between the same places that copies `objects` (each must lie under
    /// `list_prefix`) rather than a listing.
    pub fn of_objects(&self, objects: Receiver<Result<ObjectMeta, StoreError>>) -> Self {
        Self {
            source: self.source.clone(),
            dest: self.dest.clone(),
            list_prefix: self.list_prefix.clone(),
            single_key: self.single_key.clone(),
            strip: self.strip,
            dest_prefix: self.dest_prefix.clone(),
            resume: None,
            given: Some(objects),
        }
    }

    /// The keys this plan's work items may name: an executor fed by a queue that other
    /// processes write to runs nothing outside them.
    pub fn key_bounds(&self) -> KeyBounds {
        KeyBounds::new(
            self.list_prefix.clone(),
            self.single_key.clone(),
            self.dest_prefix.clone(),
            self.single_key
                .as_ref()
                .and_then(|_| self.dest.mapped_name(&self.dest_prefix)),
        )
    }

    /// The destination key of a source key.
    pub fn dest_key(&self, source_key: &str) -> String {
        format!(
            "{}{}",
            self.dest_prefix,
            &source_key[self.strip.min(source_key.len())..]
        )
    }

    /// The name a source key is stored under at the destination: its destination key, as
    /// the destination maps names it cannot hold.
    pub fn dest_name(&self, source_key: &str) -> String {
        let wanted = self.dest_key(source_key);
        self.dest.mapped_name(&wanted).unwrap_or(wanted)
    }
}

/// An object that could not be copied.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectFailure {
    /// Its source key.
    pub key: String,
    /// The class of the error.
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
}

/// The outcome of a copy.
#[derive(Debug, Clone, Serialize)]
pub struct CopyReport {
    /// The route taken (`streamed` when a server-side route fell back).
    pub route: Route,
    /// Objects copied (or planned, in a dry run).
    pub objects_copied: u64,
    /// Their bytes.
    pub bytes_copied: u64,
    /// Objects left out by filters.
    pub objects_skipped: u64,
    /// Objects left alone because they exist at the destination (overwrite policy).
    pub objects_kept: u64,
    /// Objects deleted: sources after their copy (`mv`), or destination extras (`sync --delete`).
    pub objects_deleted: u64,
    /// Keys stored under another name (`--name-policy map`): the mapping manifest.
    pub names_mapped: Vec<MappedName>,
    /// Keys left out because the destination cannot hold their names (`--name-policy skip`).
    pub names_skipped: u64,
    /// User metadata names the destination cannot keep as written, and what they became.
    pub metadata_names_mapped: Vec<MappedName>,
    /// Objects that failed, with why.
    pub failures: Vec<ObjectFailure>,
    /// Bytes that passed through this machine.
    pub bytes_streamed: u64,
    /// Bytes the services copied without this machine.
    pub bytes_server_side: u64,
    /// Blocks a previous run of the job staged, used again rather than sent again.
    pub blocks_reused: u64,
    /// Requests retried.
    pub retries: u64,
    /// Of which throttled.
    pub throttled: u64,
    /// Wall time.
    pub seconds: f64,
    /// Things the user should know (e.g. a fallback from server-side copy).
    pub notes: Vec<String>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Whether a stop ended it before everything was done (the job can resume).
    pub interrupted: bool,
    /// The most destination objects held in memory at once to compare with (the rest were
    /// in a temporary file; see [`IndexOptions`]).
    pub in_memory_peak: u64,
}

#[cfg(test)]
mod tests;
