//! The running jobs' progress, read once a second for every viewer: one task takes a snapshot
//! of every running job's counters (the catalogue's with the live run's, as `GET /jobs/{id}`
//! has them) and each event stream takes from it the jobs its user may see. The catalogue is
//! read once a second, however many dashboards are open, and not at all while none is.
//!
//! The snapshot holds the jobs other replicas run too (their counters as those replicas write
//! them to the shared catalogue, within a fraction of a second), and a job that starts or ends
//! on another replica is announced to the streams here as one that does so here: a dashboard
//! on any replica shows every job live. The shared catalogue carries it, where a channel of
//! its own (PostgreSQL's LISTEN/NOTIFY, NATS) would be a second road for the same numbers,
//! for one indexed read a second per replica.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use crate::config::User;
use crate::service::Service;
use crate::wire::ProgressView;

/// How often the snapshot is taken.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// One running job's progress, and whose job it is.
#[derive(Debug, Clone)]
pub struct LiveJob {
    /// The job's owner.
    pub user: String,
    /// Its progress.
    pub view: ProgressView,
}

/// The latest snapshot, for every event stream.
pub type LiveFeed = watch::Receiver<Arc<Vec<LiveJob>>>;

/// The jobs of `snapshot` that `caller` may see (their own; an admin, every one).
pub fn visible_to(snapshot: &[LiveJob], caller: &User) -> Vec<ProgressView> {
    snapshot
        .iter()
        .filter(|job| caller.sees(&job.user))
        .map(|job| job.view.clone())
        .collect()
}

/// Takes a snapshot every [`PROGRESS_EVERY`] while any stream watches, until the service stops.
pub fn spawn_live_feed(service: Arc<Service>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut running = HashSet::new();
        loop {
            tick.tick().await;
            if service.live_watchers() > 0 {
                let snapshot = service.live_jobs().await;
                let now: HashSet<String> = snapshot.iter().map(|job| job.view.id.clone()).collect();
                // Started or ended since the last snapshot, here or on another replica.
                for id in now.symmetric_difference(&running) {
                    service.announce(id).await;
                }
                running = now;
                service.publish_live(snapshot);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, admin: bool) -> User {
        let text = format!(
            "name = \"{name}\"\ntoken_sha256 = \"{}\"\nadmin = {admin}\n",
            "0".repeat(64)
        );
        toml::from_str(&text).expect("a user")
    }

    fn job(user: &str, id: &str) -> LiveJob {
        LiveJob {
            user: user.to_owned(),
            view: ProgressView {
                id: id.to_owned(),
                counters: Default::default(),
                agents: Vec::new(),
                requests_in_flight: None,
            },
        }
    }

    /// A user's stream carries their own jobs only; an admin's, every one.
    #[test]
    fn each_stream_sees_what_its_user_may() {
        let snapshot = [job("alice", "a1"), job("bob", "b1"), job("alice", "a2")];
        let ids = |caller: &User| -> Vec<String> {
            visible_to(&snapshot, caller)
                .into_iter()
                .map(|v| v.id)
                .collect()
        };
        assert_eq!(ids(&user("alice", false)), ["a1", "a2"]);
        assert_eq!(ids(&user("bob", false)), ["b1"]);
        assert!(ids(&user("carol", false)).is_empty());
        assert_eq!(ids(&user("root", true)), ["a1", "b1", "a2"]);
    }
}
