//! Caps a user can put on a job: requests per second (`--max-rps`) and bytes per second
//! through this machine (`--bandwidth`), as token buckets.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

/// The caps of one job; both optional.
#[derive(Debug, Default)]
pub struct Limits {
    requests: Option<DefaultDirectRateLimiter>,
    bytes: Option<(DefaultDirectRateLimiter, NonZeroU32)>,
}

impl Limits {
    /// Caps of `max_rps` requests per second and `bandwidth` bytes per second.
    pub fn new(max_rps: Option<u32>, bandwidth: Option<u64>) -> Self {
        let requests = max_rps
            .and_then(NonZeroU32::new)
            .map(|rate| RateLimiter::direct(Quota::per_second(rate)));
        let bytes = bandwidth
            .and_then(|b| NonZeroU32::new(b.min(u64::from(u32::MAX)) as u32))
            .map(|rate| (RateLimiter::direct(Quota::per_second(rate)), rate));
        Self { requests, bytes }
    }

    /// Waits until one more request may go.
    pub async fn request(&self) {
        if let Some(limiter) = &self.requests {
            limiter.until_ready().await;
        }
    }

    /// Waits until `count` more bytes may pass.
    pub async fn bytes(&self, mut count: usize) {
        let Some((limiter, burst)) = &self.bytes else {
            return;
        };
        while count > 0 {
            let take = count.min(burst.get() as usize);
            let cells = NonZeroU32::new(take as u32).expect("take > 0");
            // `take` never exceeds the burst, so capacity always suffices.
            let _ = limiter.until_n_ready(cells).await;
            count -= take;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn requests_and_bytes_are_paced() {
        let limits = Limits::new(Some(20), None);
        let started = Instant::now();
        for _ in 0..11 {
            limits.request().await;
        }
        // The burst is one second's worth (20); 11 fit at once. The next 20 take a second.
        for _ in 0..20 {
            limits.request().await;
        }
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );

        let limits = Limits::new(None, Some(100_000));
        let started = Instant::now();
        limits.bytes(100_000).await; // the first second's burst
        limits.bytes(150_000).await; // larger than the burst: paced in pieces
        assert!(
            started.elapsed() >= Duration::from_millis(1400),
            "{:?}",
            started.elapsed()
        );

        let none = Limits::default();
        let started = Instant::now();
        none.request().await;
        none.bytes(1 << 30).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "no caps, no waiting"
        );
    }
}
