//! Shared output helpers: human sizes and the progress line on a terminal.

use awcopy_engine::copy::Progress;
use bytesize::ByteSize;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Arc;

use crate::failure::Failure;

use crate::commands::cp::{progress_message, PROGRESS_TICK};

/// A size in binary units, e.g. `4.8 MiB`.
pub fn human(bytes: u64) -> String {
    ByteSize::b(bytes).display().iec().to_string()
}

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
            ticker.set_length(
                progress
                    .bytes_listed
                    .load(std::sync::atomic::Ordering::Relaxed),
            );
            ticker.set_position(
                progress
                    .bytes_done
                    .load(std::sync::atomic::Ordering::Relaxed),
            );
            ticker.set_message(progress_message(&progress));
        }
    });
    bar
}

/// A failure to write to stdout, as a command failure.
pub fn write_failed(err: std::io::Error) -> Failure {
    Failure {
        message: format!("cannot write the listing: {err}"),
        code: crate::failure::code::SERVICE,
    }
}
