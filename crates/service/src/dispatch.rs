//! The seam between the service and its agents: a [`Dispatch`] gives each run of a job a
//! [`RunQueue`], whose work items go to agents in this process (`agents`) or to agents
//! anywhere through NATS JetStream (`nats`). The service knows only this seam.

use awcopy_engine::journal::Stop;
use awcopy_engine::spec::JobSpec;
use awcopy_engine::work::WorkQueue;
use std::sync::Arc;

use crate::wire::AgentView;

/// Where the service's runs send their work items.
pub(crate) trait Dispatch: Send + Sync {
    /// The queue of one run of job `spec`.
    fn queue_for(&self, spec: &JobSpec) -> Arc<dyn RunQueue>;

    /// Every agent, and what it says of itself.
    fn views(&self) -> Vec<AgentView>;

    /// Work items waiting for an agent, or for their outcome.
    fn queue_depth(&self) -> u64;

    /// Messages from outside (outcomes, heartbeats) dropped for their seal, subject or age.
    fn rejected(&self) -> u64 {
        0
    }
}

/// The queue of one run.
pub(crate) trait RunQueue: Send + Sync {
    /// Where the run's planner sends its items.
    fn work(self: Arc<Self>) -> Arc<dyn WorkQueue>;

    /// Bytes each agent has moved for this run, by agent name.
    fn bytes_by_agent(&self) -> Vec<(String, u64)>;

    /// Requests this run's agents have sent for it and not yet had answered, where the
    /// service can know (agents in this process; agents elsewhere report only their totals).
    fn requests_in_flight(&self) -> Option<u64> {
        None
    }

    /// Once `stopping` is cancelled (the run is pausing or cancelling), the run's items
    /// that have not started come back interrupted, for a resume to redo.
    fn stop_with(&self, stopping: Stop);
}
