//! The service's in-process agents, behind the runner's [`WorkQueue`] seam. The runner of a
//! job is the dispatcher: it lists, plans and hands each work item to [`JobQueue::run`],
//! which gives it to the least busy of the agents the job may use. Each agent executes items
//! with executors of its own (its own adaptive limits, stores opened with the service's
//! credentials) and answers with the outcome; the runner records it as for `cp`.

use awcopy_engine::execute::ItemExecutor;
use awcopy_engine::journal::Stop;
use awcopy_engine::spec::JobSpec;
use awcopy_engine::work::{WorkDone, WorkItem, WorkQueue};
use awcopy_jobs::runner::{Access, Prepared};
use awcopy_store::{ErrorKind, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, OnceCell};

use crate::wire::AgentView;

/// Items waiting for one agent before the dispatcher waits for room.
const AGENT_BACKLOG: usize = 256;

/// One item for an agent, with where to answer.
struct Task {
    run: u64,
    spec: Arc<JobSpec>,
    access: Access,
    stop: Stop,
    item: WorkItem,
    reply: oneshot::Sender<Result<WorkDone, StoreError>>,
}

type ExecutorCell = Arc<OnceCell<Result<Arc<ItemExecutor>, StoreError>>>;

/// One agent: its queue and counters.
struct Agent {
    name: String,
    tasks: mpsc::Sender<Task>,
    in_flight: AtomicU64,
    items_done: AtomicU64,
    items_failed: AtomicU64,
    bytes: AtomicU64,
    executors: Mutex<HashMap<u64, ExecutorCell>>,
}

/// The agents of this service.
#[derive(Clone)]
pub struct AgentPool {
    agents: Arc<Vec<Arc<Agent>>>,
    next_run: Arc<AtomicU64>,
    /// The stores and keys the service's runs may use.
    access: Access,
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
                let agent = Arc::new(Agent {
                    name: format!("agent-{n}"),
                    tasks,
                    in_flight: AtomicU64::new(0),
                    items_done: AtomicU64::new(0),
                    items_failed: AtomicU64::new(0),
                    bytes: AtomicU64::new(0),
                    executors: Mutex::new(HashMap::new()),
                });
                tokio::spawn(work(agent.clone(), queue));
                agent
            })
            .collect();
        Self {
            agents: Arc::new(agents),
            next_run: Arc::new(AtomicU64::new(1)),
            access,
        }
    }

    /// A queue for one run of the job `spec`, spread over at most `spec.tuning.agents`
    /// agents.
    pub fn queue_for(&self, spec: &JobSpec) -> Arc<JobQueue> {
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
            run,
            spec: Arc::new(spec.clone()),
            stop: Stop::new(),
            pool: self.clone(),
            allowed,
            bytes: (0..count).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    /// Every agent's counters.
    pub fn views(&self) -> Vec<AgentView> {
        self.agents
            .iter()
            .map(|agent| AgentView {
                name: agent.name.clone(),
                in_flight: agent.in_flight.load(Ordering::Relaxed),
                items_done: agent.items_done.load(Ordering::Relaxed),
                items_failed: agent.items_failed.load(Ordering::Relaxed),
                bytes: agent.bytes.load(Ordering::Relaxed),
                host: None,
                version: None,
                bytes_per_sec: None,
                rejected: None,
                lost: false,
            })
            .collect()
    }

    /// Items waiting in the agents' queues.
    pub fn queue_depth(&self) -> u64 {
        self.agents
            .iter()
            .map(|agent| (agent.tasks.max_capacity() - agent.tasks.capacity()) as u64)
            .sum()
    }
}

/// The work queue of one run of a job.
pub struct JobQueue {
    run: u64,
    spec: Arc<JobSpec>,
    stop: Stop,
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
    /// Stops the run's items that have not started once `stopping` is cancelled (the run was
    /// asked to pause or cancel): they come back interrupted, for a resume to redo.
    pub fn stop_with(&self, stopping: Stop) {
        let stop = self.stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = stopping.cancelled() => stop.cancel(),
                () = stop.cancelled() => {}
            }
        });
    }

    /// Bytes each agent has done for this run, by agent name.
    pub fn bytes_by_agent(&self) -> Vec<(String, u64)> {
        self.allowed
            .iter()
            .map(|&i| {
                (
                    self.pool.agents[i].name.clone(),
                    self.bytes[i].load(Ordering::Relaxed),
                )
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl WorkQueue for JobQueue {
    async fn run(&self, item: WorkItem) -> Result<WorkDone, StoreError> {
        let index = *self
            .allowed
            .iter()
            .min_by_key(|&&i| self.pool.agents[i].in_flight.load(Ordering::Relaxed))
            .expect("a job may use at least one agent");
        let agent = &self.pool.agents[index];
        agent.in_flight.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        let task = Task {
            run: self.run,
            spec: self.spec.clone(),
            access: self.pool.access.clone(),
            stop: self.stop.clone(),
            item: item.clone(),
            reply,
        };
        let gone = || StoreError::new(ErrorKind::Other, format!("{} stopped", agent.name));
        if agent.tasks.send(task).await.is_err() {
            agent.in_flight.fetch_sub(1, Ordering::Relaxed);
            return Err(gone());
        }
        let done = answer.await.unwrap_or_else(|_| Err(gone()));
        let moved = done.as_ref().map_or(0, |done| item.bytes_moved(done));
        self.bytes[index].fetch_add(moved, Ordering::Relaxed);
        agent.bytes.fetch_add(moved, Ordering::Relaxed);
        Ok(done?)
    }
}

impl Drop for JobQueue {
    /// The run is over: its agents drop their executors for it.
    fn drop(&mut self) {
        self.stop.cancel();
        for agent in self.pool.agents.iter() {
            agent
                .executors
                .lock()
                .expect("executors lock")
                .remove(&self.run);
        }
    }
}

/// An agent's loop: each item runs as its own task, under the executor of its run.
async fn work(agent: Arc<Agent>, mut queue: mpsc::Receiver<Task>) {
    while let Some(task) = queue.recv().await {
        let agent = agent.clone();
        tokio::spawn(async move {
            let result = match executor(&agent, &task).await {
                Ok(executor) => executor
                    .run(&task.item)
                    .await
                    .map(|done| done.from_agent(&agent.name)),
                Err(e) => Err(e),
            };
            agent.in_flight.fetch_sub(1, Ordering::Relaxed);
            let counter = match result {
                Ok(_) => &agent.items_done,
                Err(_) => &agent.items_failed,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            let _ = task.reply.send(result);
        });
    }
}

/// The agent's executor for the task's run, opened once with the service's own credentials.
async fn executor(agent: &Agent, task: &Task) -> Result<Arc<ItemExecutor>, StoreError> {
    let cell = agent
        .executors
        .lock()
        .expect("executors lock")
        .entry(task.run)
        .or_default()
        .clone();
    cell.get_or_init(|| async {
        let prepared = Prepared::new((*task.spec).clone(), &task.access).await?;
        Ok(Arc::new(prepared.executor(task.stop.clone())))
    })
    .await
    .clone()
}
