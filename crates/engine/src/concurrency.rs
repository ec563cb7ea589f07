//! How many requests are in flight at once.
//!
//! Each throttling answer (503 SlowDown, 429, ServerBusy) halves the limit, at most once per
//! cool-down. A fixed limit then climbs back by one per second while no throttling is seen.
//! `auto` looks for the limit past which throughput stops growing: while every slot is busy it
//! raises the limit (doubling at first, by a quarter once a raise has not paid), lets one
//! window pass for the new requests to get going, then keeps the raise if throughput grew with
//! it (by a quarter of the step, at least `MIN_GAIN`) and takes it back if not, trying again
//! after a pause. A link with a long round trip thus gets many requests in flight, a server that
//! is already saturated (or a client short of CPU) few. The first window is not judged: it
//! holds the start (connections, the first listing pages).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// After a decrease, how long before another decrease or any increase.
const COOL_DOWN: Duration = Duration::from_secs(2);
/// How often a fixed limit may grow by one.
const GROWTH_INTERVAL: Duration = Duration::from_secs(1);
/// How often the controller looks at the counters.
pub const TICK: Duration = Duration::from_millis(100);
/// How long `auto` measures throughput before judging a limit.
const WINDOW: Duration = Duration::from_millis(500);
/// How long `auto` keeps a limit after a raise did not pay, before trying again.
const PROBE_PAUSE: Duration = Duration::from_secs(10);
/// The least a raise must add to throughput to be kept: 12% (noise between windows on a busy
/// machine is about 10%).
const MIN_GAIN: f64 = 0.12;
/// Where `auto` starts.
pub const AUTO_START: usize = 16;
/// The ceiling of `auto`.
pub const AUTO_CEILING: usize = 256;

/// The adaptive limit on work in flight.
#[derive(Debug)]
pub struct Concurrency {
    semaphore: Arc<Semaphore>,
    /// The limit now (permits in the semaphore, counting those lent out).
    limit: AtomicUsize,
    ceiling: usize,
    /// Whether the limit searches for the best throughput, or only recovers from throttling.
    auto: bool,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    throttles_seen: u64,
    last_throttle: Option<Instant>,
    last_decrease: Option<Instant>,
    last_growth: Instant,
    /// `auto`: the window being measured.
    window: Window,
    /// `auto`: a raise being judged.
    probe: Option<Probe>,
    /// `auto`: no raise before this.
    next_probe: Instant,
    /// `auto`: raises double the limit until one does not pay.
    doubling: bool,
    /// `auto`: the rate of the window before, if any.
    last_rate: Option<f64>,
}

/// Throughput and busyness over one measuring window.
#[derive(Debug)]
struct Window {
    started: Instant,
    throughput_at_start: u64,
    ticks: u32,
    busy_ticks: u32,
}

impl Window {
    fn new(now: Instant, throughput: u64) -> Self {
        Self {
            started: now,
            throughput_at_start: throughput,
            ticks: 0,
            busy_ticks: 0,
        }
    }
}

/// A raise from `from`, kept if the rate beats `rate_before` by `gain`.
#[derive(Debug)]
struct Probe {
    from: usize,
    rate_before: f64,
    gain: f64,
    /// Whether the window after the raise, left to settle, is over.
    settled: bool,
}

impl Concurrency {
    /// A limit starting at `ceiling`, lowered by throttling and climbing back to it.
    pub fn fixed(ceiling: usize) -> Self {
        Self::new(ceiling.max(1), ceiling.max(1), false)
    }

    /// A limit starting at [`AUTO_START`] that follows throughput, up to [`AUTO_CEILING`].
    pub fn auto() -> Self {
        Self::new(AUTO_START, AUTO_CEILING, true)
    }

    fn new(start: usize, ceiling: usize, auto: bool) -> Self {
        let now = Instant::now();
        Self {
            semaphore: Arc::new(Semaphore::new(start)),
            limit: AtomicUsize::new(start),
            ceiling,
            auto,
            state: Mutex::new(State {
                throttles_seen: 0,
                last_throttle: None,
                last_decrease: None,
                last_growth: now,
                window: Window::new(now, 0),
                probe: None,
                next_probe: now,
                doubling: true,
                last_rate: None,
            }),
        }
    }

    /// Waits for a slot.
    pub async fn acquire(&self) -> OwnedSemaphorePermit {
        self.semaphore
            .clone()
            .acquire_owned()
            .await
            .expect("never closed")
    }

    /// The limit now.
    pub fn current(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// The most the limit can reach.
    pub fn ceiling(&self) -> usize {
        self.ceiling
    }

    /// Looks at the counters: `throttles` (all throttling answers so far) and `throughput`
    /// (bytes plus objects done so far); lowers or raises the limit. Call it every [`TICK`].
    pub fn adjust(&self, throttles: u64, throughput: u64) {
        let mut state = self.state.lock().expect("concurrency lock");
        let now = Instant::now();
        let since = |t: Option<Instant>| t.is_none_or(|t| now.duration_since(t) >= COOL_DOWN);
        if throttles > state.throttles_seen {
            state.throttles_seen = throttles;
            state.last_throttle = Some(now);
            if since(state.last_decrease) {
                self.shrink_to((self.current() / 2).max(1));
                state.last_decrease = Some(now);
            }
            state.probe = None;
            state.doubling = false;
            state.window = Window::new(now, throughput);
            return;
        }
        let calm = since(state.last_throttle);
        if self.auto {
            self.search(&mut state, now, calm, throughput);
        } else if calm
            && now.duration_since(state.last_growth) >= GROWTH_INTERVAL
            && self.current() < self.ceiling
        {
            self.grow_to(self.current() + 1);
            state.last_growth = now;
        }
    }

    /// `auto`: counts this tick into the window and, once the window is over, judges the
    /// pending raise or starts one.
    fn search(&self, state: &mut State, now: Instant, calm: bool, throughput: u64) {
        state.window.ticks += 1;
        if self.semaphore.available_permits() == 0 {
            state.window.busy_ticks += 1;
        }
        let elapsed = now.duration_since(state.window.started);
        if elapsed < WINDOW {
            return;
        }
        let window = std::mem::replace(&mut state.window, Window::new(now, throughput));
        let rate =
            throughput.saturating_sub(window.throughput_at_start) as f64 / elapsed.as_secs_f64();
        let Some(last_rate) = state.last_rate.replace(rate) else {
            return;
        };
        let busy = window.busy_ticks * 2 >= window.ticks;
        tracing::trace!(limit = self.current(), rate, busy, "throughput window");
        match state.probe.as_mut() {
            Some(probe) if !probe.settled => {
                probe.settled = true;
                return;
            }
            Some(probe) if rate < probe.rate_before * probe.gain => {
                self.shrink_to(probe.from);
                state.probe = None;
                state.doubling = false;
                state.next_probe = now + PROBE_PAUSE;
                return;
            }
            _ => state.probe = None,
        }
        // A raise is judged against the better of the last two windows at this limit, both
        // with work done: a window that ends a slow start or a stall is no basis.
        let measured = rate > 0.0 && last_rate > 0.0;
        if busy && measured && calm && now >= state.next_probe && self.current() < self.ceiling {
            let from = self.current();
            let step = if state.doubling {
                from
            } else {
                (from / 4).max(1)
            };
            let to = (from + step).min(self.ceiling);
            self.grow_to(to);
            let added = (to - from) as f64 / from as f64;
            state.probe = Some(Probe {
                from,
                rate_before: rate.max(last_rate),
                gain: 1.0 + (added / 4.0).max(MIN_GAIN),
                settled: false,
            });
        }
    }

    /// Raises the limit to `target`.
    fn grow_to(&self, target: usize) {
        let current = self.current();
        if target > current {
            tracing::debug!(
                from = current,
                to = target,
                "raising the limit on requests in flight"
            );
            self.limit.store(target, Ordering::Relaxed);
            self.semaphore.add_permits(target - current);
        }
    }

    /// Lowers the limit: the permits taken away are acquired and forgotten in the background,
    /// as work in flight finishes.
    fn shrink_to(&self, target: usize) {
        let current = self.current();
        if target >= current {
            return;
        }
        tracing::debug!(
            from = current,
            to = target,
            "lowering the limit on requests in flight"
        );
        self.limit.store(target, Ordering::Relaxed);
        let semaphore = self.semaphore.clone();
        let remove = (current - target) as u32;
        tokio::spawn(async move {
            if let Ok(permits) = semaphore.acquire_many(remove).await {
                permits.forget();
            }
        });
    }
}

/// Runs [`Concurrency::adjust`] every [`TICK`] from `counters` (throttling answers so far,
/// throughput so far), publishing the limit to `shown`, until the task is aborted.
pub fn spawn_controller(
    concurrency: Arc<Concurrency>,
    counters: impl Fn() -> (u64, u64) + Send + 'static,
    shown: impl Fn(usize) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(TICK);
        loop {
            interval.tick().await;
            let (throttles, throughput) = counters();
            concurrency.adjust(throttles, throughput);
            shown(concurrency.current());
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn halves_on_throttling_and_climbs_back() {
        let c = Concurrency::fixed(16);
        c.adjust(1, 0);
        assert_eq!(c.current(), 8, "halved");
        c.adjust(2, 0);
        assert_eq!(c.current(), 8, "one decrease per cool-down");
        tokio::time::advance(COOL_DOWN + GROWTH_INTERVAL).await;
        c.adjust(2, 10);
        assert_eq!(c.current(), 9, "climbs by one when calm");
        for step in 0..20 {
            tokio::time::advance(GROWTH_INTERVAL).await;
            c.adjust(2, 20 + step);
        }
        assert_eq!(c.current(), 16, "up to the ceiling, not beyond");
        tokio::task::yield_now().await;
        assert_eq!(
            c.semaphore.available_permits(),
            16,
            "permits follow the limit"
        );
    }

    /// Runs one measuring window in which every slot is busy (`busy`) or none is, and
    /// `rate` units per second are done; returns the limit after it.
    async fn window(c: &Concurrency, throughput: &mut u64, rate: u64, busy: bool) -> usize {
        let held = busy.then(|| {
            c.semaphore
                .clone()
                .try_acquire_many_owned(c.current() as u32)
        });
        for _ in 0..(WINDOW.as_millis() / TICK.as_millis()) {
            tokio::time::advance(TICK).await;
            *throughput += rate * TICK.as_millis() as u64 / 1000;
            c.adjust(0, *throughput);
        }
        drop(held);
        tokio::task::yield_now().await;
        c.current()
    }

    /// A raise, the window left to settle, and the window that judges it.
    async fn probe(c: &Concurrency, done: &mut u64, rate: u64) -> usize {
        window(c, done, rate, true).await;
        window(c, done, rate, true).await
    }

    #[tokio::test(start_paused = true)]
    async fn auto_doubles_while_throughput_follows_then_steps_back() {
        let c = Concurrency::auto();
        let mut done = 0;
        assert_eq!(
            window(&c, &mut done, 10, true).await,
            AUTO_START,
            "start: not judged"
        );
        assert_eq!(window(&c, &mut done, 100, true).await, 2 * AUTO_START);
        // Throughput grows with the limit (a long round trip): keep doubling.
        assert_eq!(probe(&c, &mut done, 200).await, 4 * AUTO_START);
        assert_eq!(probe(&c, &mut done, 400).await, 8 * AUTO_START);
        // The server is saturated: the raise did not pay and is taken back.
        assert_eq!(probe(&c, &mut done, 410).await, 4 * AUTO_START);
        // No raise during the pause, however busy.
        assert_eq!(window(&c, &mut done, 400, true).await, 4 * AUTO_START);
        tokio::time::advance(PROBE_PAUSE).await;
        // After it, a smaller step.
        assert_eq!(window(&c, &mut done, 400, true).await, 5 * AUTO_START);
    }

    #[tokio::test(start_paused = true)]
    async fn auto_does_not_raise_while_slots_are_idle() {
        let c = Concurrency::auto();
        let mut done = 0;
        for _ in 0..5 {
            assert_eq!(
                window(&c, &mut done, 100, false).await,
                AUTO_START,
                "work arrives slower than the limit allows: a raise would prove nothing"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn auto_halves_on_throttling_and_stops_doubling() {
        let c = Concurrency::auto();
        let mut done = 0;
        window(&c, &mut done, 10, true).await;
        assert_eq!(window(&c, &mut done, 100, true).await, 2 * AUTO_START);
        c.adjust(1, done);
        assert_eq!(c.current(), AUTO_START);
        tokio::time::advance(COOL_DOWN).await;
        assert_eq!(
            window(&c, &mut done, 100, true).await,
            AUTO_START + AUTO_START / 4,
            "after throttling, raises are small"
        );
    }
}
