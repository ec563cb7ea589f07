//! While a job runs: its lease renewed, and requests to stop (pause, cancel) from other
//! processes heard, through the catalogue.

use awcopy_engine::journal::Stop;
use std::time::Duration;

use std::sync::Arc;

use crate::job_catalog::JobCatalog;
use crate::lease::LEASE_RENEWAL;
use crate::records::CatalogError;

/// How often the runner looks for a request to stop.
const POLL: Duration = Duration::from_millis(500);

/// Watches job `id` until aborted: renews its lease every [`LEASE_RENEWAL`] and stops `stop`
/// when someone asks, or when the lease was lost to another runner.
pub(super) fn spawn(
    catalog: Arc<dyn JobCatalog>,
    id: String,
    stop: Stop,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut since_renewal = Duration::ZERO;
        loop {
            tokio::time::sleep(POLL).await;
            since_renewal += POLL;
            let requested = if since_renewal >= LEASE_RENEWAL {
                since_renewal = Duration::ZERO;
                catalog.renew(&id).await
            } else {
                catalog.requested(&id).await
            };
            match requested {
                Ok(None) => {}
                Ok(Some(request)) => {
                    tracing::info!(job = %id, ?request, "asked to stop");
                    stop.cancel();
                }
                Err(CatalogError::Changed(_)) => {
                    tracing::warn!(job = %id, "the job's lease was taken by another runner; stopping");
                    stop.cancel();
                }
                // A busy catalogue is tried again at the next tick.
                Err(e) => tracing::warn!(job = %id, error = %e, "cannot renew the job's lease"),
            }
        }
    })
}
