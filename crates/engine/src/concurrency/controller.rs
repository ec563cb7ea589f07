//! The task that looks at a copy's counters every [`TICK`] and moves its limit, and the
//! measure of how busy this process is.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use super::{Concurrency, TICK};
use crate::progress::Progress;

/// Runs [`Concurrency::adjust`] every [`TICK`] from `counters` (throttling answers so far,
/// throughput so far), publishing the limit to `shown`, until the task is aborted.
pub fn spawn_controller(
    concurrency: Arc<Concurrency>,
    counters: impl Fn() -> (u64, u64) + Send + 'static,
    shown: impl Fn(usize) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(TICK);
        let mut load = ClientLoad::new();
        loop {
            interval.tick().await;
            concurrency.observe_client_load(load.since_last());
            let (throttles, throughput) = counters();
            concurrency.adjust(throttles, throughput);
            shown(concurrency.current());
        }
    })
}

/// [`spawn_controller`] following `progress`: its throttling answers, its throughput (bytes
/// and objects done), and the limit shown in it.
pub fn spawn_following(
    concurrency: Arc<Concurrency>,
    progress: Arc<Progress>,
) -> tokio::task::JoinHandle<()> {
    let (shown, sent) = (progress.clone(), concurrency.clone());
    spawn_controller(
        concurrency,
        move || {
            let done = progress.bytes_done.load(Ordering::Relaxed)
                + progress.objects_done.load(Ordering::Relaxed);
            (progress.retry.throttled.load(Ordering::Relaxed), done)
        },
        move |limit| {
            shown.concurrency.store(limit as u64, Ordering::Relaxed);
            let in_flight = sent.requests_in_flight() as u64;
            shown.requests_in_flight.store(in_flight, Ordering::Relaxed);
        },
    )
}

/// How busy this process's async workers have been: the share of their time not parked
/// waiting for work (as the runtime counts it; a worker preempted by the OS counts as busy).
struct ClientLoad {
    metrics: tokio::runtime::RuntimeMetrics,
    busy: Duration,
    at: Instant,
}

impl ClientLoad {
    fn new() -> Self {
        let metrics = tokio::runtime::Handle::current().metrics();
        let busy = Self::total_busy(&metrics);
        Self {
            metrics,
            busy,
            at: Instant::now(),
        }
    }

    fn total_busy(metrics: &tokio::runtime::RuntimeMetrics) -> Duration {
        (0..metrics.num_workers())
            .map(|worker| metrics.worker_total_busy_duration(worker))
            .sum()
    }

    /// The share (0 to 1) of the workers' time busy since the last call.
    fn since_last(&mut self) -> f64 {
        let (busy, at) = (Self::total_busy(&self.metrics), Instant::now());
        let elapsed = at.duration_since(self.at) * self.metrics.num_workers() as u32;
        let share = (busy.saturating_sub(self.busy)).as_secs_f64() / elapsed.as_secs_f64();
        (self.busy, self.at) = (busy, at);
        if share.is_finite() {
            share
        } else {
            0.0
        }
    }
}
