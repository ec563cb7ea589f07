//! One agent, whatever carries its work items to it: an executor per run of a job (opened on
//! the run's first item with the agent's own stores and keys — its operator's, never a
//! job's — and dropped when the run stops), and the counters the service shows. The
//! service's in-process agents (`agents`, over a channel) and `awcopy agent`
//! (`nats::agent`, over JetStream) are this agent on two transports.

use awcopy_engine::execute::ItemExecutor;
use awcopy_engine::journal::Stop;
use awcopy_engine::prepare::{Access, Prepared};
use awcopy_engine::spec::JobSpec;
use awcopy_engine::work::{WorkDone, WorkItem};
use awcopy_store::{ErrorKind, StoreError};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use crate::wire::AgentView;

/// How many stopped runs an agent remembers.
const STOPPED_REMEMBERED: usize = 10_000;

/// One run's executor on an agent, and its stop.
struct Run {
    stop: Stop,
    executor: OnceCell<Result<Arc<ItemExecutor>, StoreError>>,
}

impl Run {
    /// Requests its executor has sent and not yet had answered (none before it opened).
    fn requests_in_flight(&self) -> u64 {
        match self.executor.get() {
            Some(Ok(executor)) => executor.requests_in_flight() as u64,
            _ => 0,
        }
    }
}

/// What an agent has done, as the service shows it.
#[derive(Debug, Default)]
pub struct AgentCounters {
    /// Items given to it and not yet answered (running, or waiting for a request slot).
    pub items_held: AtomicU64,
    /// Items it ran to their answer.
    pub items_done: AtomicU64,
    /// Items that failed for good.
    pub items_failed: AtomicU64,
    /// Bytes its items moved.
    pub bytes: AtomicU64,
}

/// An agent: its name, what it may reach, its runs and its counters.
pub struct Agent {
    name: String,
    access: Access,
    runs: Mutex<HashMap<String, Arc<Run>>>,
    /// Runs stopped, latest last (bounded): their items still to come are answered as
    /// interrupted, not run.
    stopped: Mutex<VecDeque<String>>,
    /// What it has done.
    pub counters: AgentCounters,
}

impl Agent {
    /// An agent called `name` that opens stores and reads keys through `access`.
    pub fn new(name: String, access: Access) -> Self {
        Self {
            name,
            access,
            runs: Mutex::new(HashMap::new()),
            stopped: Mutex::new(VecDeque::new()),
            counters: AgentCounters::default(),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `item` of run `run` of job `spec` under the run's executor (opened on the run's
    /// first item); `again`, when it may have run before, with the time it was queued. The
    /// answer names this agent.
    pub async fn execute(
        &self,
        run: &str,
        spec: &JobSpec,
        item: &WorkItem,
        again: Option<OffsetDateTime>,
    ) -> Result<WorkDone, StoreError> {
        let state = self.run(run);
        if state.stop.is_cancelled() {
            return Err(StoreError::new(ErrorKind::Interrupted, "the run stopped"));
        }
        let executor = state
            .executor
            .get_or_init(|| async {
                let prepared = Prepared::new(spec.clone(), &self.access).await?;
                Ok(Arc::new(prepared.executor(state.stop.clone())))
            })
            .await
            .clone()?;
        let done = match again {
            Some(queued) => executor.run_again(item, queued).await,
            None => executor.run(item).await,
        };
        done.map(|done| done.from_agent(&self.name))
    }

    /// Counts an item settled (`failed` for good, or done) and the bytes it moved; returns
    /// them.
    pub fn settled(
        &self,
        item: &WorkItem,
        result: &Result<WorkDone, StoreError>,
        failed: bool,
    ) -> u64 {
        let counters = &self.counters;
        let counter = match failed {
            true => &counters.items_failed,
            false => &counters.items_done,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let bytes = result.as_ref().map_or(0, |done| item.bytes_moved(done));
        counters.bytes.fetch_add(bytes, Ordering::Relaxed);
        bytes
    }

    /// The run `run` stopped (paused, cancelled or ended): its items in flight start no more
    /// requests, those still to come are answered as interrupted, and its executor goes once
    /// the last item holding it ends.
    pub fn stop_run(&self, run: &str) {
        if let Some(state) = self.runs.lock().expect("runs lock").remove(run) {
            state.stop.cancel();
        }
        let mut stopped = self.stopped.lock().expect("stopped lock");
        stopped.push_back(run.to_owned());
        if stopped.len() > STOPPED_REMEMBERED {
            stopped.pop_front();
        }
    }

    /// The state of `run` on this agent, made on its first item.
    fn run(&self, run: &str) -> Arc<Run> {
        let mut runs = self.runs.lock().expect("runs lock");
        if let Some(state) = runs.get(run) {
            return state.clone();
        }
        let state = Arc::new(Run {
            stop: Stop::new(),
            executor: OnceCell::new(),
        });
        if self
            .stopped
            .lock()
            .expect("stopped lock")
            .iter()
            .any(|r| r == run)
        {
            state.stop.cancel();
            return state;
        }
        runs.insert(run.to_owned(), state.clone());
        state
    }

    /// Requests its runs have sent to remote stores and not yet had answered.
    pub fn requests_in_flight(&self) -> u64 {
        let runs = self.runs.lock().expect("runs lock");
        runs.values().map(|run| run.requests_in_flight()).sum()
    }

    /// Requests it has sent for run `run` and not yet had answered.
    pub fn requests_in_flight_of(&self, run: &str) -> u64 {
        let runs = self.runs.lock().expect("runs lock");
        runs.get(run).map_or(0, |run| run.requests_in_flight())
    }

    /// What the service shows of this agent (in this process: no host, version or rate).
    pub fn view(&self) -> AgentView {
        let counters = &self.counters;
        AgentView {
            name: self.name.clone(),
            in_flight: self.requests_in_flight(),
            items_held: counters.items_held.load(Ordering::Relaxed),
            items_done: counters.items_done.load(Ordering::Relaxed),
            items_failed: counters.items_failed.load(Ordering::Relaxed),
            bytes: counters.bytes.load(Ordering::Relaxed),
            host: None,
            version: None,
            bytes_per_sec: None,
            rejected: None,
            lost: false,
        }
    }
}
