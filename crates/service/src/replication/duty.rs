//! Who reads each replication's queue: every second the service takes the lease of each
//! replication that is on and read by no live process, and reads its queue, round after
//! round, until it is paused or deleted, its lease is lost, or the service stops. A queue that
//! cannot be read is retried, waiting longer each time (up to a minute), and says why.

use awcopy_jobs::{CatalogError, ReplicationRound, LEASE_RENEWAL};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::task::JoinHandle;

use super::round::{Live, Replicator, RoundError};
use crate::service::Service;

/// How often the service looks for replications to read.
const TICK: Duration = Duration::from_secs(1);
/// The first wait after a round failed; it doubles each time, up to `LONGEST_WAIT`.
const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait between failed rounds.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// One replication read here.
struct Task {
    handle: JoinHandle<()>,
    live: Arc<Live>,
}

/// The replications this process reads.
#[derive(Default)]
pub(crate) struct Registry {
    tasks: Mutex<HashMap<String, Task>>,
}

impl Registry {
    /// For a replication read here, when its oldest waiting change happened; `None` if this
    /// process does not read it.
    pub(crate) fn oldest_pending(&self, id: &str) -> Option<Option<OffsetDateTime>> {
        let tasks = self.tasks.lock().expect("not poisoned");
        let task = tasks.get(id).filter(|t| !t.handle.is_finished())?;
        Some(task.live.oldest_pending())
    }

    /// Whether this process reads replication `id`.
    fn reads(&self, id: &str) -> bool {
        let tasks = self.tasks.lock().expect("not poisoned");
        tasks.get(id).is_some_and(|t| !t.handle.is_finished())
    }

    /// Stops reading replication `id` here (its round cut short: the messages it took come
    /// back when their visibility ends, and their effects are done once).
    pub(crate) async fn stop(&self, id: &str) {
        let task = self.tasks.lock().expect("not poisoned").remove(id);
        if let Some(task) = task {
            task.handle.abort();
            let _ = task.handle.await;
        }
    }

    /// Stops reading every replication (the service stops).
    pub(crate) fn stop_all(&self) {
        for (_, task) in self.tasks.lock().expect("not poisoned").drain() {
            task.handle.abort();
        }
    }
}

/// Reads the queues of replications until the service stops.
pub fn spawn_replication_duty(service: Arc<Service>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = take_replications(&service).await {
                tracing::warn!("replications: {e}");
            }
        }
    })
}

/// Starts reading each replication that is on and that no live process reads.
async fn take_replications(service: &Arc<Service>) -> Result<(), CatalogError> {
    for replication in service.catalog().replications(None).await? {
        let id = replication.id;
        if !replication.enabled {
            service.replicating.stop(&id).await;
            continue;
        }
        if service.replicating.reads(&id) || !service.catalog().claim_replication(&id).await? {
            continue;
        }
        let live = Arc::new(Live::default());
        let handle = tokio::spawn(read_queue(service.clone(), id.clone(), live.clone()));
        let mut tasks = service.replicating.tasks.lock().expect("not poisoned");
        tasks.insert(id, Task { handle, live });
    }
    Ok(())
}

/// A task stopped when this is dropped: with the reading it serves, however that ends
/// (aborted by a pause or a deletion included).
struct StopsWith(JoinHandle<()>);

impl Drop for StopsWith {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads replication `id`'s queue round after round while this process holds its lease.
async fn read_queue(service: Arc<Service>, id: String, live: Arc<Live>) {
    let _renewal = {
        let (service, id) = (service.clone(), id.clone());
        StopsWith(tokio::spawn(async move {
            loop {
                tokio::time::sleep(LEASE_RENEWAL).await;
                // A round longer than a lease keeps it; a lost one ends at the next record.
                let _ = service.catalog().claim_replication(&id).await;
            }
        }))
    };
    let mut replicator: Option<Replicator> = None;
    let mut wait = FIRST_WAIT;
    loop {
        let replication = match service.catalog().replication(&id).await {
            Ok(r) if r.enabled => r,
            Ok(_) | Err(CatalogError::NotFound(_)) => break,
            Err(e) => {
                tracing::warn!(replication = %id, "catalogue: {e}");
                tokio::time::sleep(wait).await;
                continue;
            }
        };
        let result = match &replicator {
            Some(r) => r.round().await,
            None => match Replicator::open(&service, &replication, live.clone()).await {
                Ok(opened) => {
                    replicator = Some(opened);
                    continue;
                }
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(()) => wait = FIRST_WAIT,
            Err(RoundError::LeaseLost) => break,
            Err(RoundError::Failed(why)) => {
                tracing::warn!(replication = %id, "{why}");
                let round = ReplicationRound {
                    error: Some(why),
                    pending_since: replication.pending_since,
                    ..ReplicationRound::default()
                };
                if let Err(CatalogError::Changed(_)) =
                    service.catalog().record_round(&id, &round).await
                {
                    break;
                }
                // Opened afresh next time: the queue, the stores and the grants.
                replicator = None;
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(LONGEST_WAIT);
            }
        }
    }
    let _ = service.catalog().release_replication(&id).await;
}
