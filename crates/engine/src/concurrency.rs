//! How many requests are in flight at once.
//!
//! Each throttling answer (503 SlowDown, 429, ServerBusy) halves the limit, at most once per
//! cool-down. A fixed limit then climbs back by a quarter a second while no throttling is
//! seen, so `--concurrency N` holds N whenever there is work, but for what throttling takes.
//!
//! `auto` starts at [`AUTO_START`] and first opens up as fast as the link allows (a slow
//! start): while every slot is busy and the fastest answer of each tick is no slower than
//! twice the fastest seen so far, it raises the limit sixteenfold once every two round trips
//! (a raise's requests answer one round trip later, and show the queue they met in the next),
//! so a long round trip gets its requests in flight within its first second (16, 256, then
//! the ceiling).
//! A server or client that is saturated shows it at once: when even the fastest answers slow
//! down, requests are queueing, and the limit is scaled down by as much as they slowed (Little's
//! law: the same rate with fewer in flight and no wait), never below where it was before.
//! The two stores of a copy are timed apart ([`Lane`]), and what counts is the round trip of
//! both together: a near destination whose answers go from 1 to 10 ms behind a source 150 ms
//! away slows each object by 6%, not tenfold; from 1 to 80 ms, by half (queueing: that store
//! is saturated). From then on `auto` looks for the limit past which throughput
//! stops growing: while every slot is busy it raises the limit (doubling at first, by a
//! quarter once a raise has not paid), lets one window pass for the new requests to get going,
//! then keeps the raise if throughput grew with it (by a quarter of the step, at least
//! `MIN_GAIN`) and takes it back if not, trying again after a pause.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// After a decrease, how long before another decrease or any increase.
const COOL_DOWN: Duration = Duration::from_secs(2);
/// How often a fixed limit lowered by throttling may grow back (by a quarter).
const GROWTH_INTERVAL: Duration = Duration::from_secs(1);
/// How much slower than the fastest answer seen the fastest answer of a tick may be before
/// `auto`'s slow start takes it for queueing.
const QUEUEING: u64 = 2;
/// How much `auto`'s slow start multiplies the limit by, once every two round trips: from 16
/// to the ceiling in two steps (at 150 ms, doubling took four round trips: 600 ms a
/// 2,000-object job never got back). An overshoot lasts two round trips: the answers then show
/// how much requests queue, and the limit is scaled down by as much.
const SLOW_START_STEP: usize = 16;
/// How often the controller looks at the counters: often enough for a slow start to step
/// every two round trips of a near region (tens of milliseconds).
pub const TICK: Duration = Duration::from_millis(25);
/// How long `auto` measures throughput before judging a limit.
const WINDOW: Duration = Duration::from_millis(500);
/// How long `auto` keeps a limit after a raise did not pay, before trying again.
const PROBE_PAUSE: Duration = Duration::from_secs(10);
/// The least a raise must add to throughput to be kept: 12% (noise between windows on a busy
/// machine is about 10%).
const MIN_GAIN: f64 = 0.12;
/// Where `auto` starts.
pub const AUTO_START: usize = 16;
/// The ceiling of `auto`: a far bucket (150 ms) at 1,024 in flight answers ~6,800 requests a
/// second, a fraction of one core here; slow start and the search keep a near or saturated
/// server far below it.
pub const AUTO_CEILING: usize = 1024;

/// Which store of a copy an answer came from: each has a round trip of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// The store read from.
    Source,
    /// The store written to.
    Dest,
}

/// The adaptive limit on work in flight.
#[derive(Debug)]
pub struct Concurrency {
    semaphore: Arc<Semaphore>,
    /// The limit now (permits in the semaphore, counting those lent out).
    limit: AtomicUsize,
    ceiling: usize,
    /// Whether the limit searches for the best throughput, or only recovers from throttling.
    auto: bool,
    /// Per [`Lane`], the fastest answer since the last tick, in microseconds (`u64::MAX`: none).
    fastest: [AtomicU64; 2],
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
    /// `auto`: still opening up (see the module's comment).
    slow_start: bool,
    /// `auto`, per [`Lane`]: the fastest answer of any tick so far, in microseconds.
    base_latency: [Option<u64>; 2],
    /// `auto`, per [`Lane`]: the fastest answer of the last tick that had one.
    latest_latency: [Option<u64>; 2],
    /// `auto`, in slow start: the limit before the last raise, and no raise before when.
    last_raise: Option<(usize, Instant)>,
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
            fastest: [AtomicU64::new(u64::MAX), AtomicU64::new(u64::MAX)],
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
                slow_start: auto,
                base_latency: [None; 2],
                latest_latency: [None; 2],
                last_raise: None,
            }),
        }
    }

    /// Records how long one request to `lane`'s store took to answer (its latency, not its
    /// body's transfer).
    pub fn observe(&self, lane: Lane, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        self.fastest[lane as usize].fetch_min(micros, Ordering::Relaxed);
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
        let fastest =
            self.fastest
                .each_ref()
                .map(|lane| match lane.swap(u64::MAX, Ordering::Relaxed) {
                    u64::MAX => None,
                    micros => Some(micros),
                });
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
            state.slow_start = false;
            state.window = Window::new(now, throughput);
            return;
        }
        let calm = since(state.last_throttle);
        if self.auto && state.slow_start {
            self.open_up(&mut state, now, calm, fastest, throughput);
        } else if self.auto {
            self.search(&mut state, now, calm, throughput);
        } else if calm
            && now.duration_since(state.last_growth) >= GROWTH_INTERVAL
            && self.current() < self.ceiling
        {
            self.grow_to((self.current() + (self.current() / 4).max(1)).min(self.ceiling));
            state.last_growth = now;
        }
    }

    /// `auto`'s slow start: raises the limit [`SLOW_START_STEP`]-fold every two round trips while
    /// every slot is busy and the fastest answers stay as fast as ever; ends at the ceiling,
    /// or when they slow down (scaling the limit down by as much), and hands over to
    /// [`Self::search`]. The round trip is both lanes' together (each lane's fastest answer
    /// of its last tick with one, against its fastest ever).
    fn open_up(
        &self,
        state: &mut State,
        now: Instant,
        calm: bool,
        fastest: [Option<u64>; 2],
        throughput: u64,
    ) {
        if fastest.iter().all(Option::is_none) {
            return;
        }
        let (mut base, mut latest, mut one_lane_queues) = (0u64, 0u64, false);
        for (lane, seen) in fastest.into_iter().enumerate() {
            if let Some(micros) = seen {
                state.latest_latency[lane] = Some(micros);
                let lane_base = state.base_latency[lane].map_or(micros, |b| b.min(micros));
                state.base_latency[lane] = Some(lane_base);
            }
            if let (Some(b), Some(l)) = (state.base_latency[lane], state.latest_latency[lane]) {
                base += b;
                latest += l;
                one_lane_queues |= l > b.saturating_mul(QUEUEING);
            }
        }
        // Queueing: the round trip doubled, or one store's answers did and made the round
        // trip a quarter longer (a near store saturated behind a far one).
        let queueing = latest > base.saturating_mul(QUEUEING)
            || (one_lane_queues && latest.saturating_mul(4) > base.saturating_mul(5));
        let current = self.current();
        // The answers to a raise come a round trip after it: the ceiling is judged by them.
        let due = state.last_raise.is_none_or(|(_, at)| now >= at);
        if queueing || (current >= self.ceiling && due) {
            if queueing {
                // Requests wait `latest / base` times as long as they need: as many fewer
                // in flight give the same rate without the wait (Little's law), never fewer
                // than before the last raise.
                let unqueued = (current as u64 * base / latest) as usize;
                let before = state.last_raise.map_or(current, |(before, _)| before);
                self.shrink_to(unqueued.max(before).max(1));
            }
            tracing::debug!(limit = self.current(), queueing, "slow start over");
            state.slow_start = false;
            state.doubling = !queueing;
            state.window = Window::new(now, throughput);
            state.last_rate = None;
            return;
        }
        let busy = self.semaphore.available_permits() == 0;
        if busy && calm && due {
            self.grow_to((current * SLOW_START_STEP).min(self.ceiling));
            // The raise's requests answer a round trip later, and show a queue they met
            // (slower answers) in the round trip after: only then is the next raise judged.
            let round_trip = Duration::from_micros(base).max(TICK);
            state.last_raise = Some((current, now + 2 * round_trip));
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
        assert_eq!(c.current(), 10, "climbs by a quarter when calm");
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
            // In thousandths: a rate a tick does not divide keeps its share.
            *throughput += rate * TICK.as_millis() as u64;
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

    /// `auto` past its slow start: the search alone.
    fn searching() -> Concurrency {
        let c = Concurrency::auto();
        c.state.lock().unwrap().slow_start = false;
        c
    }

    /// One tick in which every slot is busy (`busy`) and the fastest answer took `latency`;
    /// returns the limit after it.
    async fn tick(c: &Concurrency, latency: Duration, busy: bool) -> usize {
        let held = busy.then(|| {
            c.semaphore
                .clone()
                .try_acquire_many_owned(c.current() as u32)
        });
        tokio::time::advance(TICK).await;
        c.observe(Lane::Dest, latency);
        c.observe(Lane::Dest, latency * 3);
        c.adjust(0, 0);
        drop(held);
        tokio::task::yield_now().await;
        c.current()
    }

    #[tokio::test(start_paused = true)]
    async fn auto_opens_up_once_a_round_trip_while_answers_stay_fast() {
        for rtt_ticks in [1, 2, 6] {
            let c = Concurrency::auto();
            let rtt = TICK * rtt_ticks;
            let mut seen = Vec::new();
            while seen.len() < 6 * rtt_ticks as usize {
                seen.push(tick(&c, rtt, true).await);
            }
            // A raise, then two round trips' answers before the next.
            let raises: Vec<usize> = seen
                .iter()
                .step_by(2 * rtt_ticks as usize)
                .copied()
                .collect();
            assert_eq!(
                raises,
                [16, 64, 64].map(|x| x * AUTO_START),
                "a round trip of {rtt:?}: {seen:?}"
            );
            assert!(!c.state.lock().unwrap().slow_start, "over at the ceiling");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn auto_slow_start_ends_when_even_the_fastest_answers_slow_down() {
        let c = Concurrency::auto();
        let fast = Duration::from_millis(1);
        assert_eq!(
            tick(&c, fast, false).await,
            AUTO_START,
            "idle slots: no raise"
        );
        assert_eq!(tick(&c, fast, true).await, 16 * AUTO_START);
        // Queueing: the answers take 4 times as long; a quarter as many in flight.
        assert_eq!(tick(&c, fast * 4, true).await, 4 * AUTO_START);
        // A server far behind: back to where it was before the raise, not below.
        let c = Concurrency::auto();
        assert_eq!(tick(&c, fast, true).await, 16 * AUTO_START);
        assert_eq!(tick(&c, fast * 100, true).await, AUTO_START);
        let state = c.state.lock().unwrap();
        assert!(!state.slow_start && !state.doubling);
    }

    /// One busy tick, two round trips after the last, in which the source's fastest answer
    /// took `source` and the destination's `dest`; returns the limit after it.
    async fn two_lane_tick(c: &Concurrency, source: Duration, dest: Duration) -> usize {
        let held = c
            .semaphore
            .clone()
            .try_acquire_many_owned(c.current() as u32);
        tokio::time::advance(2 * (source + dest)).await;
        c.observe(Lane::Source, source);
        c.observe(Lane::Dest, dest);
        c.adjust(0, 0);
        drop(held);
        tokio::task::yield_now().await;
        c.current()
    }

    #[tokio::test(start_paused = true)]
    async fn a_near_destination_slowing_down_behind_a_far_source_is_not_queueing() {
        let (far, near) = (Duration::from_millis(150), Duration::from_millis(1));
        let c = Concurrency::auto();
        assert_eq!(two_lane_tick(&c, far, near).await, 16 * AUTO_START);
        // Each object now takes 160 ms instead of 151: no reason to hold back.
        assert_eq!(two_lane_tick(&c, far, near * 10).await, AUTO_CEILING);
        // Timed as one, the destination's tenfold would have cut the limit to a tenth.
        let c = Concurrency::auto();
        assert_eq!(two_lane_tick(&c, far, near).await, 16 * AUTO_START);
        // The destination saturated (80 ms for an answer): each object takes half as long
        // again, and the limit is scaled down by as much.
        let slowed = two_lane_tick(&c, far, near * 80).await;
        assert_eq!(slowed, 16 * AUTO_START * 151 / 230);
    }

    #[tokio::test(start_paused = true)]
    async fn auto_doubles_while_throughput_follows_then_steps_back() {
        let c = searching();
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
        let c = searching();
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
        let c = searching();
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
