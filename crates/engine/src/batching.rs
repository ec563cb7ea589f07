//! [`Batching`]: a [`WorkQueue`] decorator that gathers small whole objects sent one at a
//! time into [`WorkItem::Objects`] batches for the queue it wraps, and hands each sender its
//! own object's outcome. Where each item costs a message (a queue between machines), a batch
//! of 32 small objects costs one: the planner stays one object at a time, the wire does not.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use awcopy_store::StoreError;
use tokio::sync::oneshot;

use crate::work::{ObjectDone, ObjectItem, WorkDone, WorkItem, WorkQueue};

/// How batches are cut.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Objects in one batch at most.
    pub objects: usize,
    /// Bytes of one batch at most; an object of a quarter of this or more goes on its own.
    pub bytes: u64,
    /// How long the first object of a batch waits for others before the batch goes anyway.
    pub linger: Duration,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            objects: 32,
            bytes: 16 << 20,
            linger: Duration::from_millis(5),
        }
    }
}

type Waiter = oneshot::Sender<Result<ObjectDone, StoreError>>;

/// A batch being gathered.
#[derive(Default)]
struct Open {
    objects: Vec<ObjectItem>,
    waiters: Vec<Waiter>,
    bytes: u64,
    /// Counts batches opened, so a linger timer flushes only the batch it was set for.
    generation: u64,
}

/// Gathers single small objects into batches for `inner`; passes everything else through.
#[derive(Clone)]
pub struct Batching {
    inner: Arc<dyn WorkQueue>,
    limits: BatchLimits,
    open: Arc<Mutex<Open>>,
}

impl std::fmt::Debug for Batching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batching")
            .field("inner", &self.inner)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Batching {
    /// Batches small objects sent to `inner` under `limits`.
    pub fn new(inner: Arc<dyn WorkQueue>, limits: BatchLimits) -> Self {
        Self {
            inner,
            limits,
            open: Arc::default(),
        }
    }

    /// Adds `object` to the open batch; sends the batch if that filled it, or sets its linger
    /// timer if it opened it.
    fn add(&self, object: ObjectItem, waiter: Waiter) {
        let mut open = self.open.lock().expect("batch lock");
        if !open.objects.is_empty() && open.bytes + object.source.size > self.limits.bytes {
            self.send(open.take());
        }
        open.bytes += object.source.size;
        open.objects.push(object);
        open.waiters.push(waiter);
        if open.objects.len() >= self.limits.objects {
            self.send(open.take());
        } else if open.objects.len() == 1 {
            let generation = open.generation;
            let this = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(this.limits.linger).await;
                let mut open = this.open.lock().expect("batch lock");
                if open.generation == generation && !open.objects.is_empty() {
                    this.send(open.take());
                }
            });
        }
    }

    /// Runs a batch on the inner queue and answers each object's sender.
    fn send(&self, (objects, waiters): (Vec<ObjectItem>, Vec<Waiter>)) {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let count = objects.len();
            match inner.run(WorkItem::Objects { objects }).await {
                Ok(WorkDone::Objects { outcomes }) if outcomes.len() == count => {
                    for (waiter, outcome) in waiters.into_iter().zip(outcomes) {
                        let _ = waiter.send(Ok(outcome));
                    }
                }
                Ok(other) => {
                    for waiter in waiters {
                        let _ = waiter.send(Err(other.unexpected()));
                    }
                }
                Err(err) => {
                    for waiter in waiters {
                        let _ = waiter.send(Err(err.clone()));
                    }
                }
            }
        });
    }
}

impl Open {
    /// Takes the batch's objects and their senders, and opens the next batch.
    fn take(&mut self) -> (Vec<ObjectItem>, Vec<Waiter>) {
        self.generation += 1;
        self.bytes = 0;
        (
            std::mem::take(&mut self.objects),
            std::mem::take(&mut self.waiters),
        )
    }
}

#[async_trait::async_trait]
impl WorkQueue for Batching {
    async fn run(&self, item: WorkItem) -> Result<WorkDone, StoreError> {
        let object = match item {
            WorkItem::Objects { mut objects }
                if objects.len() == 1 && objects[0].source.size < self.limits.bytes / 4 =>
            {
                objects.pop().expect("one object")
            }
            other => return self.inner.run(other).await,
        };
        let (tell, answer) = oneshot::channel();
        self.add(object, tell);
        let outcome = answer.await.map_err(|_| {
            StoreError::new(
                awcopy_store::ErrorKind::Interrupted,
                "the batch was dropped",
            )
        })??;
        Ok(WorkDone::Objects {
            outcomes: vec![outcome],
        })
    }
}
