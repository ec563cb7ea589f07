//! [`Requests`]: how the requests of one executor (and of the planner beside it) go out —
//! paced by the caps (`--max-rps`, `--bandwidth`), retried by the policy, cut off when they
//! never answer — and where their retries are counted.

use awcopy_store::{ErrorKind, StoreError};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::limits::Limits;
use crate::retry::{RetryPolicy, RetryStats};

/// The caps, retry policy and stall timeout requests share.
#[derive(Debug)]
pub(crate) struct Requests {
    limits: Limits,
    policy: RetryPolicy,
    stats: Arc<RetryStats>,
    stall_timeout: Duration,
}

impl Requests {
    /// Requests under `limits` and `policy`, counting retries into `stats`; a read that
    /// brings no byte for `stall_timeout` is stalled.
    pub(crate) fn new(
        limits: Limits,
        policy: RetryPolicy,
        stats: Arc<RetryStats>,
        stall_timeout: Duration,
    ) -> Self {
        Self {
            limits,
            policy,
            stats,
            stall_timeout,
        }
    }

    /// The caps.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// How long a read may bring no byte.
    pub(crate) fn stall_timeout(&self) -> Duration {
        self.stall_timeout
    }

    /// Runs `op` (one attempt per call) under the caps until it succeeds or the policy gives
    /// up; an attempt that never answers ends after ten stall timeouts, as a network error.
    pub(crate) async fn retry<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut op = op;
        let limits = &self.limits;
        // A backstop for a request that never answers: ten idle periods per attempt.
        let deadline = self.stall_timeout * 10;
        self.policy
            .run(&self.stats, || {
                let attempt = op();
                async move {
                    limits.request().await;
                    tokio::time::timeout(deadline, attempt)
                        .await
                        .unwrap_or_else(|_| {
                            Err(StoreError::new(
                                ErrorKind::Network,
                                format!("no answer within {} s", deadline.as_secs()),
                            ))
                        })
                }
            })
            .await
    }
}
