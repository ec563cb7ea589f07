//! Room for a connection per request in flight: the soft limit on open files raised to the
//! hard one at start (as Go programs such as s5cmd do for themselves). `--concurrency auto`
//! may hold up to 1,024 requests to a far bucket at once, each on a connection of its own,
//! and many systems start processes with a soft limit of 1,024 files.

/// Raises this process's soft limit on open files to its hard limit; a failure leaves the
/// limit as it was (the copy still runs, with what the system gives).
pub fn raise_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let current = getrlimit(Resource::Nofile);
    if current.current < current.maximum {
        let raised = Rlimit {
            current: current.maximum,
            maximum: current.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::debug!(
                "the limit on open files stays at {:?}: {e}",
                current.current
            );
        }
    }
}
