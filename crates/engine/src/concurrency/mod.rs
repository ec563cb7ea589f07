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
//! down, requests are queueing, and the limit is scaled down to the rate times the round trip
//! without the wait (Little's law: the same rate with fewer in flight), never below where it
//! was before. But when this process's own workers had no rest since the raise and no
//! store's answers stayed fast, part of the wait is its own work, which fewer in flight do
//! not cure: then twice that product is kept, as BBR keeps twice its bandwidth-delay product
//! (cut to the bare product, a copy of small objects into a local directory at 10 ms ran 1.5x
//! slower; kept at twice it for a saturated Azurite, 25% slower).
//! The two stores of a copy are timed apart ([`Lane`]), and what counts is the round trip of
//! both together: a near destination whose answers go from 1 to 10 ms behind a source 150 ms
//! away slows each object by 6%, not tenfold; from 1 to 80 ms, by half (queueing: that store
//! is saturated). From then on `auto` looks for the limit past which throughput
//! stops growing: while every slot is busy it raises the limit (doubling at first, by a
//! quarter once a raise has not paid), lets one window pass for the new requests to get going,
//! then keeps the raise if throughput grew with it (by a quarter of the step, at least
//! `MIN_GAIN`) and takes it back if not, trying again after a pause.
//! It also looks downwards, since the slow start can overshoot where the answers alone do
//! not tell (more in flight than the same rate needs): at the ceiling, or once a raise has
//! not paid, it lowers the limit by a quarter and keeps the step while throughput holds
//! (within a sixteenth), going on down; a step that cost throughput is taken back, and the
//! next step down waits twice as long as the last (a far bucket at the ceiling pays a
//! quarter of its rate for one second every 10, 20, 40... seconds).

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

mod controller;
pub use controller::{spawn_controller, spawn_following};

/// After a decrease, how long before another decrease or any increase.
const COOL_DOWN: Duration = Duration::from_secs(2);
/// How often a fixed limit lowered by throttling may grow back (by a quarter).
const GROWTH_INTERVAL: Duration = Duration::from_secs(1);
/// How much slower than the fastest answer seen the fastest answer of a tick may be before
/// `auto`'s slow start takes it for queueing.
const QUEUEING: u64 = 2;
/// From which share of their time busy (thousandths) this process's async workers count as
/// having had no rest.
const CLIENT_SATURATED: u32 = 900;
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
/// How long `auto` keeps a limit after a raise did not pay, before trying again (and after
/// the first step down that did not pay; each further one doubles it, up to
/// [`MAX_PROBE_PAUSE`]).
const PROBE_PAUSE: Duration = Duration::from_secs(10);
/// The longest `auto` waits after a step down that did not pay.
const MAX_PROBE_PAUSE: Duration = Duration::from_secs(160);
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
    /// How busy this process's async workers were over the last tick, in thousandths.
    client_load: AtomicU32,
    /// Requests sent to a remote store and not yet answered (see [`Self::sending`]).
    sent: AtomicUsize,
    state: Mutex<State>,
}

/// A request sent and not yet answered, counted until it drops.
#[derive(Debug)]
pub struct Sending<'a>(&'a AtomicUsize);

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct State {
    throttles_seen: u64,
    last_throttle: Option<Instant>,
    last_decrease: Option<Instant>,
    last_growth: Instant,
    /// `auto`: the window being measured.
    window: Window,
    /// `auto`: a step (up or down) being judged.
    probe: Option<Probe>,
    /// `auto`: no step before this.
    next_probe: Instant,
    /// `auto`: raises double the limit until one does not pay.
    doubling: bool,
    /// `auto`: the next step of the search lowers the limit (once a raise has not paid, or
    /// at the ceiling), until a step down costs throughput.
    stepping_down: bool,
    /// `auto`: how long to wait after the next step down that does not pay.
    down_pause: Duration,
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
    /// `auto`, in slow start: whether every tick since the last raise found this process's
    /// workers without rest.
    client_saturated: bool,
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

/// How many blocks and small objects may be in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcurrencyLimit {
    /// Up to this many (halved while the service throttles).
    Fixed(usize),
    /// Search for the limit past which throughput stops growing.
    Auto,
}

/// A step from `from` (a raise, or a step down), kept if the rate after it is at least
/// `rate_before` times `keep_at`.
#[derive(Debug)]
struct Probe {
    from: usize,
    rate_before: f64,
    keep_at: f64,
    down: bool,
    /// Whether the window after the step, left to settle, is over.
    settled: bool,
}

impl Concurrency {
    /// The limit `limit` asks for.
    pub fn of(limit: ConcurrencyLimit) -> Self {
        match limit {
            ConcurrencyLimit::Fixed(n) => Self::fixed(n),
            ConcurrencyLimit::Auto => Self::auto(),
        }
    }

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
            client_load: AtomicU32::new(0),
            sent: AtomicUsize::new(0),
            state: Mutex::new(State {
                throttles_seen: 0,
                last_throttle: None,
                last_decrease: None,
                last_growth: now,
                window: Window::new(now, 0),
                probe: None,
                next_probe: now,
                doubling: true,
                stepping_down: false,
                down_pause: PROBE_PAUSE,
                last_rate: None,
                slow_start: auto,
                base_latency: [None; 2],
                latest_latency: [None; 2],
                last_raise: None,
                client_saturated: false,
            }),
        }
    }

    /// Records how long one request to `lane`'s store took to answer (its latency, not its
    /// body's transfer).
    pub fn observe(&self, lane: Lane, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        self.fastest[lane as usize].fetch_min(micros, Ordering::Relaxed);
    }

    /// Records how busy this process's async workers were over the last tick (0 to 1).
    pub fn observe_client_load(&self, busy: f64) {
        let thousandths = (busy.clamp(0.0, 1.0) * 1000.0) as u32;
        self.client_load.store(thousandths, Ordering::Relaxed);
    }

    /// Counts one request to a remote store as in flight until the guard drops (its answer
    /// came, or it was given up).
    pub fn sending(&self) -> Sending<'_> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        Sending(&self.sent)
    }

    /// Requests sent to remote stores and not yet answered: what is really in flight (items
    /// waiting for a slot, or for the request rate, are not).
    pub fn requests_in_flight(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
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
            state.stepping_down = false;
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
        let (mut base, mut latest) = (0u64, 0u64);
        let (mut one_lane_queues, mut every_lane_queues) = (false, true);
        for (lane, seen) in fastest.into_iter().enumerate() {
            if let Some(micros) = seen {
                state.latest_latency[lane] = Some(micros);
                let lane_base = state.base_latency[lane].map_or(micros, |b| b.min(micros));
                state.base_latency[lane] = Some(lane_base);
            }
            if let (Some(b), Some(l)) = (state.base_latency[lane], state.latest_latency[lane]) {
                base += b;
                latest += l;
                let lane_queues = l > b.saturating_mul(QUEUEING);
                one_lane_queues |= lane_queues;
                every_lane_queues &= lane_queues;
            }
        }
        // Queueing: the round trip doubled, or one store's answers did and made the round
        // trip a quarter longer (a near store saturated behind a far one).
        let queueing = latest > base.saturating_mul(QUEUEING)
            || (one_lane_queues && latest.saturating_mul(4) > base.saturating_mul(5));
        let current = self.current();
        state.client_saturated &= self.client_load.load(Ordering::Relaxed) >= CLIENT_SATURATED;
        // The answers to a raise come a round trip after it: the ceiling is judged by them.
        let due = state.last_raise.is_none_or(|(_, at)| now >= at);
        if queueing || (current >= self.ceiling && due) {
            if queueing {
                // Requests wait `latest / base` times as long as they need: as many fewer
                // in flight give the same rate without the wait (Little's law), or twice
                // that if part of the wait is this process's own work (its workers had no
                // rest, and no store's answers stayed fast); never fewer than before the
                // last raise.
                let ours = state.client_saturated && every_lane_queues;
                let headroom = if ours { 2 } else { 1 };
                let unqueued = (headroom * current as u64 * base / latest) as usize;
                let before = state.last_raise.map_or(current, |(before, _)| before);
                self.shrink_to(unqueued.max(before).max(1));
            }
            tracing::debug!(
                limit = self.current(),
                queueing,
                client_saturated = state.client_saturated,
                every_lane_queues,
                "slow start over"
            );
            state.slow_start = false;
            state.doubling = !queueing;
            state.window = Window::new(now, throughput);
            state.last_rate = None;
            return;
        }
        let busy = self.semaphore.available_permits() == 0;
        if busy && calm && due {
            self.grow_to((current * SLOW_START_STEP).min(self.ceiling));
            state.client_saturated = true;
            // The raise's requests answer a round trip later, and show a queue they met
            // (slower answers) in the round trip after: only then is the next raise judged.
            let round_trip = Duration::from_micros(base).max(TICK);
            state.last_raise = Some((current, now + 2 * round_trip));
        }
    }

    /// `auto`: counts this tick into the window and, once the window is over, judges the
    /// pending step (up or down) or starts one.
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
            Some(probe) if rate < probe.rate_before * probe.keep_at => {
                // Taken back; the search turns the other way after a pause.
                let (from, down) = (probe.from, probe.down);
                state.probe = None;
                state.stepping_down = !down;
                if down {
                    self.grow_to(from);
                    state.next_probe = now + state.down_pause;
                    state.down_pause = (state.down_pause * 2).min(MAX_PROBE_PAUSE);
                } else {
                    self.shrink_to(from);
                    state.doubling = false;
                    state.next_probe = now + PROBE_PAUSE;
                }
                return;
            }
            Some(probe) => {
                // Kept: the search goes on the same way.
                state.stepping_down = probe.down;
                if probe.down {
                    state.down_pause = PROBE_PAUSE;
                }
                state.probe = None;
            }
            None => {}
        }
        // A step is judged against the better of the last two windows at this limit, both
        // with work done: a window that ends a slow start or a stall is no basis.
        let measured = rate > 0.0 && last_rate > 0.0;
        if !(busy && measured && calm && now >= state.next_probe) {
            return;
        }
        let from = self.current();
        let rate_before = rate.max(last_rate);
        if state.stepping_down || from >= self.ceiling {
            let to = from - from / 4;
            if to < AUTO_START {
                return;
            }
            self.shrink_to(to);
            let removed = (from - to) as f64 / from as f64;
            state.probe = Some(Probe {
                from,
                rate_before,
                keep_at: 1.0 - removed / 4.0,
                down: true,
                settled: false,
            });
        } else {
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
                rate_before,
                keep_at: 1.0 + (added / 4.0).max(MIN_GAIN),
                down: false,
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

#[cfg(test)]
mod tests;
