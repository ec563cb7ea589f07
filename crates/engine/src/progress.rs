//! [`Progress`]: the live counters of a copy (or of an executor), read by progress displays
//! and the concurrency controller while work runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::estimate::Route;
use crate::retry::RetryStats;

/// Live counters, read by the progress display while a copy runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Objects listed (after filtering).
    pub objects_listed: AtomicU64,
    /// Their bytes.
    pub bytes_listed: AtomicU64,
    /// Objects copied.
    pub objects_done: AtomicU64,
    /// Bytes of objects copied, or blocks of objects in progress.
    pub bytes_done: AtomicU64,
    /// Objects left out by the filter.
    pub objects_skipped: AtomicU64,
    /// Objects that failed.
    pub objects_failed: AtomicU64,
    /// Source objects deleted after their copy (`mv`).
    pub objects_deleted: AtomicU64,
    /// Blocks a previous run staged, used instead of sent again.
    pub blocks_reused: AtomicU64,
    /// Bytes that passed through this machine.
    pub bytes_streamed: AtomicU64,
    /// Bytes copied by the services themselves.
    pub bytes_server_side: AtomicU64,
    /// Retries and throttling.
    pub retry: Arc<RetryStats>,
    /// The limit on requests in flight now.
    pub concurrency: AtomicU64,
}

impl Progress {
    /// Counts an object (or the blocks of one) of `size` bytes copied along `route`:
    /// streamed through an executor, or copied by the services themselves.
    pub fn copied(&self, route: Route, size: u64) {
        let how = match route {
            Route::Streamed => &self.bytes_streamed,
            _ => &self.bytes_server_side,
        };
        how.fetch_add(size, Ordering::Relaxed);
        self.bytes_done.fetch_add(size, Ordering::Relaxed);
    }
}
