//! The progress line on a terminal while a job runs: objects and bytes done of what is listed
//! so far (`+` while the listing goes on), the share done, the rate, and the time left from
//! objects and bytes both. It fits 80 columns, and its last frame has the final numbers.

use awcopy_engine::check::CheckProgress;
use awcopy_engine::copy::Progress;
use awcopy_engine::progress::Counters;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the progress line refreshes.
const PROGRESS_TICK: Duration = Duration::from_millis(200);

/// How far back the rates look: long enough to smooth bursts, short enough to follow a change.
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// A line on stderr, drawn only on a terminal: a spinner, the clock and a text refreshed every
/// tick; [`ProgressLine::finish`] draws its last text, told how long the line ran.
pub struct ProgressLine {
    bar: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
    last: Box<dyn Fn(Duration) -> String + Send>,
}

impl ProgressLine {
    /// Starts a line showing `text` at every tick, and `last` when it finishes.
    fn start(
        mut text: impl FnMut() -> String + Send + 'static,
        last: impl Fn(Duration) -> String + Send + 'static,
    ) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .expect("valid template"),
        );
        let line = bar.clone();
        let ticker = tokio::spawn(async move {
            let mut interval = tokio::time::interval(PROGRESS_TICK);
            loop {
                interval.tick().await;
                line.set_message(text());
                line.tick();
            }
        });
        Self {
            bar,
            ticker,
            last: Box::new(last),
        }
    }

    /// Draws the final numbers and leaves the line.
    pub fn finish(self) {
        self.ticker.abort();
        self.bar.set_message((self.last)(self.bar.elapsed()));
        self.bar.finish();
    }
}

/// The progress line of a copy counting into `progress`; its last frame has the final
/// numbers, with the rates over the whole run. Once `stopping` says a pause was asked, it says
/// what the pause waits for.
pub fn progress_bar(
    progress: Arc<Progress>,
    stopping: impl Fn() -> bool + Send + 'static,
) -> ProgressLine {
    let (live, end) = (progress.clone(), progress);
    let mut rates = RateWindow::default();
    let text = move || {
        let now = live.snapshot();
        rates.add(Instant::now(), &now);
        match stopping() {
            true => pausing_text(live.requests_in_flight.load(Ordering::Relaxed)),
            false => progress_text(&now, rates.rates()),
        }
    };
    let last = move |ran: Duration| {
        let end = end.snapshot();
        let seconds = ran.as_secs_f64().max(1e-3);
        let rates = Rates {
            objects: end.objects_done as f64 / seconds,
            bytes: end.bytes_done as f64 / seconds,
        };
        progress_text(&end, Some(rates))
    };
    ProgressLine::start(text, last)
}

/// What a pause waits for: the requests in flight (the objects and blocks they belong to then
/// stand as done or staged, and the rest resumes).
pub fn pausing_text(requests: u64) -> String {
    match requests {
        0 => "pausing: recording where the job stands (Ctrl-C again: stop now)".to_owned(),
        1 => "pausing: 1 request in flight to finish (Ctrl-C again: stop now)".to_owned(),
        n => format!("pausing: {n} requests in flight to finish (Ctrl-C again: stop now)"),
    }
}

/// A check's progress line: the destination's listing, then the source's walk by it, and the
/// differences so far.
pub fn check_line(progress: Arc<CheckProgress>) -> ProgressLine {
    let live = progress.clone();
    ProgressLine::start(move || check_text(&live), move |_| check_text(&progress))
}

/// What a check's line says: `listing DEST: 12000 objects`, then `SOURCE: 5000 compared with
/// DEST's 12000, 3 differences`.
pub fn check_text(progress: &CheckProgress) -> String {
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let (dest, source) = (load(&progress.dest_listed), load(&progress.source_listed));
    match source {
        0 => format!("listing DEST: {dest} objects"),
        _ => format!(
            "SOURCE: {source} objects compared with DEST's {dest}, {} differences",
            load(&progress.differences)
        ),
    }
}

/// Objects and bytes per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// Objects done per second.
    pub objects: f64,
    /// Bytes done per second.
    pub bytes: f64,
}

/// The counters seen over the last [`RATE_WINDOW`], for rates that follow the copy.
#[derive(Default)]
struct RateWindow {
    samples: VecDeque<(Instant, u64, u64)>,
}

impl RateWindow {
    fn add(&mut self, at: Instant, counters: &Counters) {
        self.samples
            .push_back((at, counters.objects_done, counters.bytes_done));
        while self
            .samples
            .front()
            .is_some_and(|(t, ..)| at.duration_since(*t) > RATE_WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// The rates over the window, once it spans some time.
    fn rates(&self) -> Option<Rates> {
        let (first, last) = (self.samples.front()?, self.samples.back()?);
        let seconds = last.0.duration_since(first.0).as_secs_f64();
        (seconds >= 0.5).then(|| Rates {
            objects: last.1.saturating_sub(first.1) as f64 / seconds,
            bytes: last.2.saturating_sub(first.2) as f64 / seconds,
        })
    }
}

/// The time left: the longer of what the objects left and the bytes left need at their rates
/// (the objects' alone unknown while none finished in the window: large objects in progress,
/// their bytes tell); unknown while the listing goes on (the totals still grow) or while
/// nothing moves. Never zero while objects are left.
pub fn time_left(counters: &Counters, rates: Option<Rates>) -> Option<Duration> {
    let objects_left = counters
        .objects_listed
        .saturating_sub(counters.objects_done + counters.objects_failed);
    let bytes_left = counters.bytes_listed.saturating_sub(counters.bytes_done);
    if objects_left == 0 && bytes_left == 0 {
        return counters.listing_done.then_some(Duration::ZERO);
    }
    if !counters.listing_done {
        return None;
    }
    let rates = rates?;
    let need = |left: u64, rate: f64| match left {
        0 => Some(0.0),
        _ if rate > 0.0 => Some(left as f64 / rate),
        _ => None,
    };
    let seconds = match (
        need(objects_left, rates.objects),
        need(bytes_left, rates.bytes),
    ) {
        (Some(objects), Some(bytes)) => objects.max(bytes),
        (None, Some(bytes)) if bytes_left > 0 => bytes,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds.max(1.0)))
}

/// The progress line's text after the clock, e.g. `840/2001 obj 42% 1.2 GiB/2.9 GiB
/// 9.5 MiB/s ETA 2m3s`; `+` after the totals and `listing` while the listing goes on, and the
/// failed objects when there are any. With the clock it fits 80 columns up to ten million
/// objects and a thousand failed.
pub fn progress_text(counters: &Counters, rates: Option<Rates>) -> String {
    let more = if counters.listing_done { "" } else { "+" };
    let share = |done: u64, of: u64| (of > 0).then(|| done as f64 / of as f64);
    // The lesser of the two shares: neither many small objects nor one large one overstates it.
    let percent = match (
        share(counters.objects_done, counters.objects_listed),
        share(counters.bytes_done, counters.bytes_listed),
    ) {
        (Some(a), Some(b)) => format!(" {:.0}%", a.min(b) * 100.0),
        (Some(a), None) | (None, Some(a)) => format!(" {:.0}%", a * 100.0),
        (None, None) => String::new(),
    };
    let rate = rates.map_or(String::new(), |r| format!(" {}/s", compact(r.bytes as u64)));
    let eta = match time_left(counters, rates) {
        Some(left) => format!(" ETA {}", short_duration(left)),
        None if !counters.listing_done => " listing".to_owned(),
        None => " ETA ?".to_owned(),
    };
    let failed = match counters.objects_failed {
        0 => String::new(),
        n => format!(" {n} failed"),
    };
    format!(
        "{}/{}{more} obj{percent} {}{rate}{eta}{failed}",
        counters.objects_done,
        counters.objects_listed,
        compact_pair(counters.bytes_done, counters.bytes_listed),
    )
}

/// `done` of `of` bytes, the unit said once when both have it: `654/987 GiB`, `512 MiB/1.2 GiB`.
fn compact_pair(done: u64, of: u64) -> String {
    let (done, of) = (compact(done), compact(of));
    match (done.split_once(' '), of.split_once(' ')) {
        (Some((a, unit)), Some((b, same))) if unit == same => format!("{a}/{b} {unit}"),
        _ => format!("{done}/{of}"),
    }
}

/// `2h5m`, `3m7s`, `12s`.
fn short_duration(left: Duration) -> String {
    let secs = left.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{}s", secs / 60, secs % 60),
        _ => format!("{}h{}m", secs / 3600, secs % 3600 / 60),
    }
}

/// A size in binary units, in at most three digits: `9.5 MiB`, `654 GiB`.
fn compact(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let (mut value, mut unit) = (bytes as f64, 0);
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match (unit, value) {
        (0, _) => format!("{bytes} B"),
        (_, v) if v >= 99.95 => format!("{v:.0} {}", UNITS[unit]),
        (_, v) => format!("{v:.1} {}", UNITS[unit]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(listed: u64, done: u64, bytes_listed: u64, bytes_done: u64) -> Counters {
        Counters {
            objects_listed: listed,
            objects_done: done,
            bytes_listed,
            bytes_done,
            listing_done: true,
            ..Counters::default()
        }
    }

    #[test]
    fn a_check_says_what_it_is_doing() {
        let progress = CheckProgress::default();
        progress
            .dest_listed
            .store(12_000, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(check_text(&progress), "listing DEST: 12000 objects");
        progress
            .source_listed
            .store(5_000, std::sync::atomic::Ordering::Relaxed);
        progress
            .differences
            .store(3, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(
            check_text(&progress),
            "SOURCE: 5000 objects compared with DEST's 12000, 3 differences"
        );
    }

    #[test]
    fn the_time_left_counts_objects_as_well_as_bytes() {
        // The bytes are all but done; 1,505 small objects are left at 100 a second.
        let now = counters(2005, 500, 10 << 30, (10 << 30) - 1000);
        let rates = Rates {
            objects: 100.0,
            bytes: 50e6,
        };
        assert_eq!(
            time_left(&now, Some(rates)),
            Some(Duration::from_secs_f64(15.05))
        );
        // Never 0 s with objects left, however fast.
        let fast = Rates {
            objects: 1e9,
            bytes: 1e12,
        };
        assert_eq!(time_left(&now, Some(fast)), Some(Duration::from_secs(1)));
        // Unknown while listing or standing still; zero once all is done.
        let listing = Counters {
            listing_done: false,
            ..now
        };
        assert_eq!(time_left(&listing, Some(rates)), None);
        let still = Rates {
            objects: 0.0,
            bytes: 0.0,
        };
        assert_eq!(time_left(&now, Some(still)), None);
        // One large object in progress: no object finished in the window, the bytes tell.
        let large = counters(1, 0, 1 << 30, 1 << 29);
        let blocks = Rates {
            objects: 0.0,
            bytes: (1 << 20) as f64,
        };
        assert_eq!(
            time_left(&large, Some(blocks)),
            Some(Duration::from_secs(512))
        );
        let done = counters(2005, 2005, 10 << 30, 10 << 30);
        assert_eq!(time_left(&done, None), Some(Duration::ZERO));
    }

    #[test]
    fn the_line_fits_80_columns_and_says_when_the_listing_goes_on() {
        let large = Counters {
            objects_listed: 12_345_678,
            objects_done: 9_876_543,
            bytes_listed: 987 << 30,
            bytes_done: 654 << 30,
            objects_failed: 999,
            listing_done: false,
            ..Counters::default()
        };
        let slow = Some(Rates {
            objects: 50.0,
            bytes: 1.5e9,
        });
        let settled = Counters {
            listing_done: true,
            ..large
        };
        for counters in [large, settled] {
            let text = progress_text(&counters, slow);
            // The spinner, the clock (`00:12:34`) and two spaces come before it.
            let columns = text.chars().count() + 11;
            assert!(columns <= 80, "{columns} columns: {text}");
        }
        let listing = progress_text(&large, slow);
        assert!(
            listing
                .starts_with("9876543/12345678+ obj 66% 654/987 GiB 1.4 GiB/s listing 999 failed"),
            "{listing}"
        );
        let ends = progress_text(&settled, slow);
        assert!(ends.contains(" ETA 13h42m "), "{ends}");
        let small = progress_text(&counters(2001, 840, 3 << 20, 1 << 20), slow);
        assert!(
            small.starts_with("840/2001 obj 33% 1.0/3.0 MiB "),
            "{small}"
        );
        assert_eq!(compact_pair(512 << 20, 3 << 29), "512 MiB/1.5 GiB");
        assert_eq!(compact(1023), "1023 B");
        assert_eq!(compact(1536), "1.5 KiB");
    }
}
