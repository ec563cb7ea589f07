//! How many blocks and small objects are in flight: additive increase, multiplicative decrease.
//! Each throttling answer (503 SlowDown, 429, ServerBusy) halves the limit, at most once per
//! cool-down; the limit then climbs back by one per interval while no throttling is seen (and,
//! in `auto` mode, while throughput keeps growing), up to the ceiling.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// After a decrease, how long before another decrease or any increase.
const COOL_DOWN: Duration = Duration::from_secs(2);
/// How often the limit may grow by one.
const GROWTH_INTERVAL: Duration = Duration::from_secs(1);
/// Where `auto` starts.
pub const AUTO_START: usize = 4;
/// The ceiling of `auto`.
pub const AUTO_CEILING: usize = 64;

/// The adaptive limit on work in flight.
#[derive(Debug)]
pub struct Concurrency {
    semaphore: Arc<Semaphore>,
    /// The limit now (permits in the semaphore, counting those lent out).
    limit: AtomicUsize,
    ceiling: usize,
    /// In `auto` mode growth also needs growing throughput; otherwise only calm.
    auto: bool,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    throttles_seen: u64,
    last_throttle: Option<Instant>,
    last_decrease: Option<Instant>,
    last_growth: Instant,
    last_throughput: u64,
}

impl Concurrency {
    /// A limit starting at `ceiling`, lowered by throttling and climbing back to it.
    pub fn fixed(ceiling: usize) -> Self {
        Self::new(ceiling.max(1), ceiling.max(1), false)
    }

    /// A limit starting modestly and growing with throughput up to [`AUTO_CEILING`].
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
                last_throughput: 0,
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
    /// (bytes plus objects done so far); lowers or raises the limit. Call it periodically.
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
            return;
        }
        let calm = since(state.last_throttle);
        let due = now.duration_since(state.last_growth) >= GROWTH_INTERVAL;
        let growing = throughput > state.last_throughput;
        if calm && due && self.current() < self.ceiling && (!self.auto || growing) {
            self.limit.fetch_add(1, Ordering::Relaxed);
            self.semaphore.add_permits(1);
            state.last_growth = now;
            state.last_throughput = throughput;
        } else if due {
            state.last_throughput = throughput;
        }
    }

    /// Lowers the limit: the permits taken away are acquired and forgotten in the background,
    /// as work in flight finishes.
    fn shrink_to(&self, target: usize) {
        let current = self.current();
        if target >= current {
            return;
        }
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

/// Runs [`Concurrency::adjust`] every 250 ms from `counters` (throttling answers so far,
/// throughput so far), publishing the limit to `shown`, until the task is aborted.
pub fn spawn_controller(
    concurrency: Arc<Concurrency>,
    counters: impl Fn() -> (u64, u64) + Send + 'static,
    shown: impl Fn(usize) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(250));
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

    #[tokio::test(start_paused = true)]
    async fn auto_grows_only_with_throughput() {
        let c = Concurrency::auto();
        assert_eq!(c.current(), AUTO_START);
        tokio::time::advance(COOL_DOWN).await;
        c.adjust(0, 100);
        assert_eq!(c.current(), AUTO_START + 1);
        tokio::time::advance(GROWTH_INTERVAL).await;
        c.adjust(0, 100);
        assert_eq!(c.current(), AUTO_START + 1, "flat throughput: no growth");
        tokio::time::advance(GROWTH_INTERVAL).await;
        c.adjust(0, 300);
        assert_eq!(c.current(), AUTO_START + 2);
        c.adjust(1, 300);
        assert_eq!(c.current(), (AUTO_START + 2) / 2);
    }
}
