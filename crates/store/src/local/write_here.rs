//! Which small writes run on the task's own thread rather than the blocking pool. Each trip
//! to the pool is two thread hand-offs, which for a file of a few bytes cost more than the
//! write (200,000 objects of 4 bytes S3 -> local at 10 ms: 38 s and 47 s of CPU through the
//! pool, 32 s and 41 s on the task's thread), so small writes run where they are, like a Go
//! program's system calls, for as long as they do not hold the thread: once they sleep in the
//! kernel for longer than [`BUDGET`] on average (a slow or network file system), every later
//! one goes to the pool.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The largest write run on the task's own thread.
pub(super) const MOST: usize = 64 << 10;
/// How long writes on the task's own thread may sleep in the kernel on average (over the last
/// few dozen) before they go to the blocking pool: a runtime thread should not be held much
/// longer than this. Only the time of writes that slept counts (the thread's voluntary context
/// switches grew): a thread on a busy machine is now and then descheduled in the middle of a
/// fast write for milliseconds, which is no slow disk (200,000 small files at 1,024 in flight
/// averaged 0.7 ms by the clock alone, and went to the pool).
const BUDGET: Duration = Duration::from_micros(500);
/// The weight of each write in that average: 1/32.
const WEIGHT: u64 = 32;

/// One store's choice, shared by its writes.
#[derive(Debug)]
pub(super) struct WriteHere {
    /// Whether small writes still run on the task's own thread.
    on: AtomicBool,
    /// The moving average of the time they slept, in nanoseconds. Concurrent writes may lose
    /// one another's update: the average is a guide, not a ledger.
    mean_nanos: AtomicU64,
}

/// A write running on the task's own thread, timed from its start.
pub(super) struct HereWrite {
    started: Instant,
    switches: Option<i64>,
}

impl WriteHere {
    /// Small writes on the task's thread, until they prove slow.
    pub(super) fn new() -> Self {
        Self {
            on: AtomicBool::new(true),
            mean_nanos: AtomicU64::new(0),
        }
    }

    /// Whether a write of `size` bytes runs on the task's own thread: if so, its timing, to
    /// give back to [`Self::finish`] once it is over.
    pub(super) fn start(&self, size: usize) -> Option<HereWrite> {
        (size <= MOST && self.on.load(Ordering::Relaxed)).then(|| HereWrite {
            started: Instant::now(),
            switches: voluntary_switches(),
        })
    }

    /// Counts a write on the task's own thread that is over.
    pub(super) fn finish(&self, write: HereWrite) {
        let slept = match (write.switches, voluntary_switches()) {
            (Some(before), Some(after)) => after > before,
            _ => true,
        };
        self.count(match slept {
            true => write.started.elapsed(),
            false => Duration::ZERO,
        });
    }

    /// Counts a write that slept `slept` into the average; past [`BUDGET`], turns off.
    pub(super) fn count(&self, slept: Duration) {
        let slept = u64::try_from(slept.as_nanos()).unwrap_or(u64::MAX);
        let mean = self.mean_nanos.load(Ordering::Relaxed);
        let mean = mean - mean / WEIGHT + slept / WEIGHT;
        self.mean_nanos.store(mean, Ordering::Relaxed);
        if u128::from(mean) > BUDGET.as_nanos() {
            tracing::debug!(
                average = ?Duration::from_nanos(mean),
                "small writes are slow here: writing on the blocking pool from now on"
            );
            self.on.store(false, Ordering::Relaxed);
        }
    }

    /// Whether small writes still run on the task's own thread.
    #[cfg(test)]
    pub(super) fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }
}

/// How many times this thread has slept in the kernel (its voluntary context switches), where
/// the system tells; `None` elsewhere, where every write's time counts.
#[cfg(target_os = "linux")]
fn voluntary_switches() -> Option<i64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the one rusage the pointer points to, a valid, writable one.
    let filled = unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) } == 0;
    // SAFETY: zeroed is a valid rusage, and getrusage filled it when it says so.
    filled.then(|| unsafe { usage.assume_init() }.ru_nvcsw)
}

/// See the Linux version: no per-thread count here.
#[cfg(not(target_os = "linux"))]
fn voluntary_switches() -> Option<i64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fast write now and then held up for milliseconds keeps small writes on the task's
    /// thread; writes that are slow again and again do not.
    #[test]
    fn only_writes_slow_on_average_leave_the_task_thread() {
        let policy = WriteHere::new();
        for round in 0..1_000 {
            let spike = round % 50 == 0;
            policy.count(Duration::from_micros(if spike { 8_000 } else { 30 }));
        }
        assert!(policy.is_on(), "spikes alone keep writes here");
        let mut slow_writes = 0;
        while policy.is_on() {
            policy.count(2 * BUDGET);
            slow_writes += 1;
            assert!(slow_writes < 100, "slow writes never sent to the pool");
        }
        assert!(slow_writes > 1, "one slow write is not an average");
        assert!(policy.start(1).is_none(), "off for good");
    }

    /// Only writes up to the size limit run here.
    #[test]
    fn large_writes_go_to_the_pool() {
        let policy = WriteHere::new();
        assert!(policy.start(MOST).is_some());
        assert!(policy.start(MOST + 1).is_none());
    }

    /// A thread that sleeps is seen to: what tells a write that waited on a disk from one
    /// whose thread was only descheduled.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_sleeping_thread_counts_a_voluntary_switch() {
        let before = voluntary_switches().expect("Linux counts them");
        std::thread::sleep(Duration::from_millis(2));
        assert!(voluntary_switches().unwrap() > before);
    }
}
