//! Whether a job's destination can copy from its source server-side, decided once per job.
//!
//! A destination that pulls from URLs (Azure's Put Block From URL) may be unable to reach the
//! source (an emulator, a firewall): every such request is answered `CannotVerifyCopySource`.
//! Finding that out by the first answer of each request in flight would send one doomed
//! request per slot; instead, while the answer is unknown, one server-side request at a time
//! goes out (the probe) and the others wait for its answer. An answer that says neither
//! (a missing source, say) leaves the question open for the next request.

use awcopy_store::{ErrorKind, StoreError};
use std::future::Future;
use std::sync::Mutex;

/// What is known of the server-side route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSide {
    /// No server-side request has answered yet.
    Unknown,
    /// A server-side request succeeded.
    Works,
    /// The destination cannot read the source; why.
    Unreachable(String),
}

/// The job's answer, and the probe that finds it.
#[derive(Debug)]
pub struct ServerSideGate {
    state: Mutex<ServerSide>,
    probe: tokio::sync::Mutex<()>,
}

impl ServerSideGate {
    /// A gate that knows `state` already (an earlier run of the job may have found it).
    pub fn new(state: ServerSide) -> Self {
        Self {
            state: Mutex::new(state),
            probe: tokio::sync::Mutex::new(()),
        }
    }

    /// What is known now.
    pub fn state(&self) -> ServerSide {
        self.state.lock().expect("route lock").clone()
    }

    /// Whether the job has found that the destination cannot read the source.
    pub fn unreachable(&self) -> bool {
        matches!(self.state(), ServerSide::Unreachable(_))
    }

    /// Sends one server-side `request`: at once when the route is known to work, alone while
    /// it is unknown, and not at all (a [`ErrorKind::CopySourceUnreachable`] error) once it is
    /// known not to. `on_unreachable` runs once, with the reason, when this request finds out.
    pub async fn send<T, F>(
        &self,
        request: F,
        on_unreachable: impl FnOnce(&str),
    ) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        match self.state() {
            ServerSide::Works => return request.await,
            ServerSide::Unreachable(why) => return Err(unreachable(&why)),
            ServerSide::Unknown => {}
        }
        let probe = self.probe.lock().await;
        // Another request may have answered while this one waited: then the probe is let go
        // before sending, or every request that queued behind it would go one at a time.
        match self.state() {
            ServerSide::Works => {
                drop(probe);
                return request.await;
            }
            ServerSide::Unreachable(why) => return Err(unreachable(&why)),
            ServerSide::Unknown => {}
        }
        let result = request.await;
        let found = match &result {
            Ok(_) => ServerSide::Works,
            Err(err) if err.kind() == ErrorKind::CopySourceUnreachable => {
                let why = err.to_string();
                on_unreachable(&why);
                ServerSide::Unreachable(why)
            }
            Err(_) => ServerSide::Unknown,
        };
        *self.state.lock().expect("route lock") = found;
        drop(probe);
        result
    }
}

/// The error of a server-side request not sent because the route is known not to work.
fn unreachable(why: &str) -> StoreError {
    StoreError::new(ErrorKind::CopySourceUnreachable, why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_doomed_request_however_many_wait() {
        let gate = Arc::new(ServerSideGate::new(ServerSide::Unknown));
        let sent = Arc::new(AtomicUsize::new(0));
        let found = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (gate, sent, found) = (gate.clone(), sent.clone(), found.clone());
                tokio::spawn(async move {
                    let request = async {
                        sent.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        Err::<(), _>(StoreError::new(
                            ErrorKind::CopySourceUnreachable,
                            "CannotVerifyCopySource",
                        ))
                    };
                    let result = gate
                        .send(request, |_| {
                            found.fetch_add(1, Ordering::SeqCst);
                        })
                        .await;
                    assert_eq!(result.unwrap_err().kind(), ErrorKind::CopySourceUnreachable);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(sent.load(Ordering::SeqCst), 1, "requests sent");
        assert_eq!(found.load(Ordering::SeqCst), 1, "told once");
        assert!(gate.unreachable());
    }

    /// Requests that queued behind the probe while the answer was unknown go out together
    /// once it works: not one at a time (at a 50 ms round trip, 255 of them took 13 s).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn once_it_works_the_queued_requests_go_at_once() {
        let gate = Arc::new(ServerSideGate::new(ServerSide::Unknown));
        let (in_flight, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (gate, in_flight, most) = (gate.clone(), in_flight.clone(), most.clone());
                tokio::spawn(async move {
                    let request = async {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        Ok::<(), StoreError>(())
                    };
                    gate.send(request, |_| panic!("it works")).await.unwrap();
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(gate.state(), ServerSide::Works);
        assert!(
            most.load(Ordering::SeqCst) >= 16,
            "at most {} requests were in flight at once",
            most.load(Ordering::SeqCst)
        );
    }

    #[tokio::test]
    async fn an_answer_that_says_nothing_leaves_it_open() {
        let gate = ServerSideGate::new(ServerSide::Unknown);
        let missing = gate
            .send(
                async { Err::<(), _>(StoreError::new(ErrorKind::NotFound, "gone")) },
                |_| panic!("not unreachable"),
            )
            .await;
        assert_eq!(missing.unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(gate.state(), ServerSide::Unknown);
        gate.send(async { Ok(()) }, |_| {}).await.unwrap();
        assert_eq!(gate.state(), ServerSide::Works);
    }

    #[tokio::test]
    async fn a_known_answer_sends_nothing() {
        let gate = ServerSideGate::new(ServerSide::Unreachable("earlier run".into()));
        let sent = AtomicUsize::new(0);
        let request = async {
            sent.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        let err = gate.send(request, |_| panic!("told again")).await;
        assert_eq!(err.unwrap_err().kind(), ErrorKind::CopySourceUnreachable);
        assert_eq!(sent.load(Ordering::SeqCst), 0);
    }
}
