//! Retries with exponential backoff and full jitter, for errors worth retrying only (network,
//! throttling, server errors, integrity failures); never for auth, not-found or bad requests.

use awcopy_store::{ErrorKind, StoreError};
use rand::Rng;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, including the first.
    pub max_attempts: u32,
    /// The first backoff ceiling; it doubles each attempt.
    pub base_delay: Duration,
    /// The largest backoff ceiling.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(20),
        }
    }
}

/// Counts of retries, for the progress display and the summary.
#[derive(Debug, Default)]
pub struct RetryStats {
    /// Requests retried.
    pub retries: AtomicU64,
    /// Of which the service asked to slow down.
    pub throttled: AtomicU64,
}

impl RetryPolicy {
    /// The backoff before retry number `attempt` (1-based): uniform in [0, min(max, base*2^(n-1))],
    /// at least what the service asked for.
    pub fn delay(&self, attempt: u32, asked: Option<Duration>) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max_delay);
        let jittered = rand::rng().random_range(Duration::ZERO..=ceiling);
        jittered.max(asked.unwrap_or_default())
    }

    /// Runs `op` until it succeeds, fails with an error not worth retrying, or runs out of
    /// attempts. The error returned says how many attempts were made.
    pub async fn run<T, F, Fut>(&self, stats: &RetryStats, mut op: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(value) => return Ok(value),
                Err(err) if self.should_retry(stats, attempt, &err).await => attempt += 1,
                Err(err) if attempt > 1 => {
                    return Err(err.context(format!("after {attempt} attempts")))
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// After attempt number `attempt` failed with `err`: whether to try again. If so, the retry
    /// is counted and its backoff slept before this returns.
    pub async fn should_retry(&self, stats: &RetryStats, attempt: u32, err: &StoreError) -> bool {
        if !err.kind().is_retryable() || attempt >= self.max_attempts {
            return false;
        }
        stats.retries.fetch_add(1, Ordering::Relaxed);
        if err.kind() == ErrorKind::Throttled {
            stats.throttled.fetch_add(1, Ordering::Relaxed);
        }
        tracing::debug!(attempt, error = %err, "retrying");
        tokio::time::sleep(self.delay(attempt, err.retry_after())).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
        }
    }

    #[tokio::test]
    async fn retries_transient_errors_until_success() {
        let stats = RetryStats::default();
        let mut calls = 0;
        let result = quick()
            .run(&stats, || {
                calls += 1;
                let n = calls;
                async move {
                    match n {
                        1 => Err(StoreError::new(ErrorKind::Throttled, "SlowDown")),
                        2 => Err(StoreError::new(ErrorKind::Network, "reset")),
                        _ => Ok(n),
                    }
                }
            })
            .await;
        assert_eq!(result.unwrap(), 3);
        assert_eq!(stats.retries.load(Ordering::Relaxed), 2);
        assert_eq!(stats.throttled.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn never_retries_auth_or_not_found_and_gives_up_after_max() {
        let stats = RetryStats::default();
        let mut calls = 0;
        let err = quick()
            .run(&stats, || {
                calls += 1;
                async { Err::<(), _>(StoreError::new(ErrorKind::Auth, "denied")) }
            })
            .await
            .unwrap_err();
        assert_eq!((calls, err.kind()), (1, ErrorKind::Auth));

        let mut calls = 0;
        let err = quick()
            .run(&stats, || {
                calls += 1;
                async { Err::<(), _>(StoreError::new(ErrorKind::Server, "500")) }
            })
            .await
            .unwrap_err();
        assert_eq!(calls, 4);
        assert!(err.to_string().contains("after 4 attempts"), "{err}");
    }

    #[test]
    fn delay_is_capped_and_honours_retry_after() {
        let policy = quick();
        for attempt in 1..30 {
            assert!(policy.delay(attempt, None) <= Duration::from_millis(4));
        }
        assert!(policy.delay(1, Some(Duration::from_secs(2))) >= Duration::from_secs(2));
    }
}
