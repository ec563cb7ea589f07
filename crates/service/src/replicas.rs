//! This service as one of the replicas sharing a catalogue (PostgreSQL, or one SQLite file):
//! every lease renewal period it records that it lives and takes over the jobs whose runner
//! died (their leases expired: another replica killed or cut off, or this one's previous
//! process), resuming them from the catalogue. Taking a job over is a claim in the catalogue
//! that only one replica wins.

use awcopy_jobs::LEASE_RENEWAL;
use std::sync::Arc;

use crate::service::Service;

/// Says this replica lives, then takes over orphaned jobs, every [`LEASE_RENEWAL`], until the
/// service stops.
pub fn spawn_replica_duty(service: Arc<Service>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(LEASE_RENEWAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = service
                .catalog()
                .replica_alive(env!("CARGO_PKG_VERSION"))
                .await
            {
                tracing::warn!("could not record this replica as alive: {e}");
            }
            match service.recover().await {
                Ok(0) => {}
                Ok(taken) => tracing::info!("took over {taken} jobs whose runner stopped"),
                Err(e) => tracing::warn!("could not look for jobs whose runner stopped: {e}"),
            }
        }
    })
}
