//! The service's in-process agents: [`Agent`]s fed over a channel, behind the [`Dispatch`]
//! seam. The runner of a job is the dispatcher: it lists, plans and hands each work item to
//! [`JobQueue::run`], which gives it to the least busy of the agents the job may use; the
//! agent runs it with its executor for the run and answers with the outcome, which the
//! runner records as for `cp`.

use awcopy_engine::journal::Stop;
use awcopy_engine::prepare::Access;
use awcopy_engine::spec::JobSpec;
use awcopy_engine::work::{WorkDone, WorkItem, WorkQueue};
use awcopy_store::{ErrorKind, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use crate::agent::Agent;
use crate::dispatch::{Dispatch, RunQueue};
use crate::wire::AgentView;

/// Items waiting for one agent before the dispatcher waits for room.
const AGENT_BACKLOG: usize = 256;

/// One item for an agent, with where to answer.
struct Task {
    run: Arc<str>,
    spec: Arc<JobSpec>,
    item: WorkItem,
    /// The outcome, and the bytes it moved (as the agent counted them).
    reply: oneshot::Sender<(Result<WorkDone, StoreError>, u64)>,
}

/// An agent and the channel that feeds it.
struct Fed {
    agent: Arc<Agent>,
    tasks: mpsc::Sender<Task>,
}

/// The agents of this service.
#[derive(Clone)]
pub struct AgentPool {
    agents: Arc<Vec<Fed>>,
    next_run: Arc<AtomicU64>,
}

impl std::fmt::Debug for AgentPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgentPool({} agents)", self.agents.len())
    }
}

impl AgentPool {
    /// Starts `count` agents (at least one), opening stores and reading keys through
    /// `access`.
    pub fn start(count: usize, access: Access) -> Self {
        let agents = (1..=count.max(1))
            .map(|n| {
                let (tasks, queue) = mpsc::channel(AGENT_BACKLOG);
                let agent = Arc::new(Agent::new(format!("agent-{n}"), access.clone()));
                tokio::spawn(work(agent.clone(), queue));
                Fed { agent, tasks }
            })
            .collect();
        Self {
            agents: Arc::new(agents),
            next_run: Arc::new(AtomicU64::new(1)),
        }
    }
}

impl Dispatch for AgentPool {
    /// A queue spread over at most `spec.tuning.agents` agents.
    fn queue_for(&self, spec: &JobSpec) -> Arc<dyn RunQueue> {
        let run = self.next_run.fetch_add(1, Ordering::Relaxed);
        let count = self.agents.len();
        let cap = spec
            .tuning
            .agents
            .map_or(count, |n| (n as usize).clamp(1, count));
        // Runs start on different agents, so capped jobs do not all crowd the first ones.
        let first = (run as usize) % count;
        let allowed = (0..cap).map(|i| (first + i) % count).collect();
        Arc::new(JobQueue {
            run: format!("local-{run}").into(),
            spec: Arc::new(spec.clone()),
            ended: Stop::new(),
            pool: self.clone(),
            allowed,
            bytes: (0..count).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    fn views(&self) -> Vec<AgentView> {
        self.agents.iter().map(|fed| fed.agent.view()).collect()
    }

    /// Items waiting in the agents' channels.
    fn queue_depth(&self) -> u64 {
        self.agents
            .iter()
            .map(|fed| (fed.tasks.max_capacity() - fed.tasks.capacity()) as u64)
            .sum()
    }
}

/// The work queue of one run of a job.
pub struct JobQueue {
    run: Arc<str>,
    spec: Arc<JobSpec>,
    /// Cancelled once the run is over.
    ended: Stop,
    pool: AgentPool,
    allowed: Vec<usize>,
    bytes: Vec<AtomicU64>,
}

impl std::fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JobQueue(run {}, agents {:?})", self.run, self.allowed)
    }
}

impl JobQueue {
    /// Tells the run's agents that it stopped.
    fn stop_on_agents(pool: &AgentPool, allowed: &[usize], run: &str) {
        for &i in allowed {
            pool.agents[i].agent.stop_run(run);
        }
    }
}

impl RunQueue for JobQueue {
    fn work(self: Arc<Self>) -> Arc<dyn WorkQueue> {
        self
    }

    fn requests_in_flight(&self) -> Option<u64> {
        let agents = &self.pool.agents;
        Some(
            self.allowed
                .iter()
                .map(|&i| agents[i].agent.requests_in_flight_of(&self.run))
                .sum(),
        )
    }

    fn bytes_by_agent(&self) -> Vec<(String, u64)> {
        self.allowed
            .iter()
            .map(|&i| {
                let name = self.pool.agents[i].agent.name().to_owned();
                (name, self.bytes[i].load(Ordering::Relaxed))
            })
            .collect()
    }

    fn stop_with(&self, stopping: Stop) {
        let (pool, allowed, run) = (self.pool.clone(), self.allowed.clone(), self.run.clone());
        let ended = self.ended.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = stopping.cancelled() => Self::stop_on_agents(&pool, &allowed, &run),
                () = ended.cancelled() => {}
            }
        });
    }
}

#[async_trait::async_trait]
impl WorkQueue for JobQueue {
    async fn run(&self, item: WorkItem) -> Result<WorkDone, StoreError> {
        let index = *self
            .allowed
            .iter()
            .min_by_key(|&&i| {
                let counters = &self.pool.agents[i].agent.counters;
                counters.items_held.load(Ordering::Relaxed)
            })
            .expect("a job may use at least one agent");
        let fed = &self.pool.agents[index];
        fed.agent
            .counters
            .items_held
            .fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        let task = Task {
            run: self.run.clone(),
            spec: self.spec.clone(),
            item,
            reply,
        };
        let gone = || StoreError::new(ErrorKind::Other, format!("{} stopped", fed.agent.name()));
        if fed.tasks.send(task).await.is_err() {
            fed.agent
                .counters
                .items_held
                .fetch_sub(1, Ordering::Relaxed);
            return Err(gone());
        }
        let (done, moved) = answer.await.unwrap_or_else(|_| (Err(gone()), 0));
        self.bytes[index].fetch_add(moved, Ordering::Relaxed);
        done
    }
}

impl Drop for JobQueue {
    /// The run is over: its agents drop their executors for it.
    fn drop(&mut self) {
        self.ended.cancel();
        Self::stop_on_agents(&self.pool, &self.allowed, &self.run);
    }
}

/// An agent's loop: each item runs as its own task, under the executor of its run.
async fn work(agent: Arc<Agent>, mut queue: mpsc::Receiver<Task>) {
    while let Some(task) = queue.recv().await {
        let agent = agent.clone();
        tokio::spawn(async move {
            let result = agent.execute(&task.run, &task.spec, &task.item, None).await;
            agent.counters.items_held.fetch_sub(1, Ordering::Relaxed);
            let moved = agent.settled(&task.item, &result, result.is_err());
            let _ = task.reply.send((result, moved));
        });
    }
}
