//! A job's counters: [`Progress`], the live ones a copy (or an executor) counts into while it
//! runs, read by progress displays and the concurrency controller; and [`Counters`], their
//! value at one moment — what the catalogue keeps, the API sends and the CLI shows.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Requests sent to remote stores and not yet answered, as the concurrency controller
    /// last saw them (what a pause waits for).
    pub requests_in_flight: AtomicU64,
    /// Whether the listing has ended: until then the totals still grow.
    pub listing_done: AtomicBool,
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

impl Progress {
    /// The counters now.
    pub fn snapshot(&self) -> Counters {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counters {
            objects_listed: load(&self.objects_listed),
            bytes_listed: load(&self.bytes_listed),
            objects_done: load(&self.objects_done),
            bytes_done: load(&self.bytes_done),
            objects_skipped: load(&self.objects_skipped),
            objects_failed: load(&self.objects_failed),
            retries: load(&self.retry.retries),
            throttled: load(&self.retry.throttled),
            concurrency: load(&self.concurrency),
            listing_done: self.listing_done.load(Ordering::Relaxed),
        }
    }

    /// Sets the counters to `counters` (a job followed from elsewhere, shown as if it ran
    /// here).
    pub fn show(&self, counters: &Counters) {
        let pairs = [
            (&self.objects_listed, counters.objects_listed),
            (&self.bytes_listed, counters.bytes_listed),
            (&self.objects_done, counters.objects_done),
            (&self.bytes_done, counters.bytes_done),
            (&self.objects_skipped, counters.objects_skipped),
            (&self.objects_failed, counters.objects_failed),
            (&self.retry.retries, counters.retries),
            (&self.retry.throttled, counters.throttled),
            (&self.concurrency, counters.concurrency),
        ];
        for (counter, value) in pairs {
            counter.store(value, Ordering::Relaxed);
        }
        self.listing_done
            .store(counters.listing_done, Ordering::Relaxed);
    }
}

/// A job's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Counters {
    /// Objects listed (after filtering).
    pub objects_listed: u64,
    /// Their bytes.
    pub bytes_listed: u64,
    /// Objects copied.
    pub objects_done: u64,
    /// Bytes copied (live: including blocks of objects in progress).
    pub bytes_done: u64,
    /// Objects skipped (filtered out, or kept by the overwrite policy).
    pub objects_skipped: u64,
    /// Objects failed.
    pub objects_failed: u64,
    /// Requests retried (live runs only).
    pub retries: u64,
    /// Of which throttled (live runs only).
    pub throttled: u64,
    /// The limit on requests in flight (live runs only).
    pub concurrency: u64,
    /// Whether the listing has ended (the totals are final); a job that is not running has
    /// ended its listing.
    #[serde(default)]
    pub listing_done: bool,
}

impl Counters {
    /// A job's stored counters with a run of it live now: each counter of the job's objects
    /// the larger (a resumed run's live counters start at zero while the stored ones hold
    /// the runs before it); the request counters are the run's.
    pub fn with_live(self, live: &Counters) -> Counters {
        Counters {
            objects_listed: self.objects_listed.max(live.objects_listed),
            bytes_listed: self.bytes_listed.max(live.bytes_listed),
            objects_done: self.objects_done.max(live.objects_done),
            bytes_done: self.bytes_done.max(live.bytes_done),
            objects_skipped: self.objects_skipped.max(live.objects_skipped),
            objects_failed: self.objects_failed.max(live.objects_failed),
            retries: live.retries,
            throttled: live.throttled,
            concurrency: live.concurrency,
            listing_done: live.listing_done,
        }
    }
}

impl std::ops::Add for Counters {
    type Output = Counters;

    /// Each counter summed (the counters of several jobs or runs together).
    fn add(self, other: Counters) -> Counters {
        Counters {
            objects_listed: self.objects_listed + other.objects_listed,
            bytes_listed: self.bytes_listed + other.bytes_listed,
            objects_done: self.objects_done + other.objects_done,
            bytes_done: self.bytes_done + other.bytes_done,
            objects_skipped: self.objects_skipped + other.objects_skipped,
            objects_failed: self.objects_failed + other.objects_failed,
            retries: self.retries + other.retries,
            throttled: self.throttled + other.throttled,
            concurrency: self.concurrency + other.concurrency,
            listing_done: self.listing_done && other.listing_done,
        }
    }
}

impl std::iter::Sum for Counters {
    fn sum<I: Iterator<Item = Counters>>(iter: I) -> Counters {
        iter.fold(Counters::default(), |sum, c| sum + c)
    }
}
