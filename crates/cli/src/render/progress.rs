//! The progress line on a terminal while a job runs.

use awcopy_engine::copy::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::human;

/// A progress line on stderr, refreshed from `progress` until finished; drawn only on a
/// terminal.
pub fn progress_bar(progress: Arc<Progress>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} {msg} ({bytes_per_sec}, ETA {eta})",
        )
        .expect("valid template"),
    );
    let ticker = bar.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(PROGRESS_TICK);
        while !ticker.is_finished() {
            interval.tick().await;
            // The total grows as the listing goes on, so the ETA firms up once it is done.
            ticker.set_length(progress.bytes_listed.load(Ordering::Relaxed));
            ticker.set_position(progress.bytes_done.load(Ordering::Relaxed));
            ticker.set_message(progress_message(&progress));
        }
    });
    bar
}

/// How often the progress line refreshes.
pub const PROGRESS_TICK: Duration = Duration::from_millis(200);

/// Objects done so far, for the progress line.
pub fn progress_message(progress: &Progress) -> String {
    let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    format!(
        "{}/{} objects, {}/{}, {} failed, {} retries ({} throttled), {} in flight",
        load(&progress.objects_done),
        load(&progress.objects_listed),
        human(load(&progress.bytes_done)),
        human(load(&progress.bytes_listed)),
        load(&progress.objects_failed),
        load(&progress.retry.retries),
        load(&progress.retry.throttled),
        load(&progress.concurrency),
    )
}
