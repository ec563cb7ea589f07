//! Who runs a job: a lease. The runner holding it renews it while the job runs; anyone may
//! take a job whose lease has expired. A lease also names the process holding it (host, process
//! id and start time), so on that host a lease whose process is gone — killed, crashed — is
//! void at once rather than after its term. A process id alone can be reused after a crash, so
//! the process's start time (Linux `/proc/PID/stat`, field 22, clock ticks since boot) must
//! match too.

use std::sync::OnceLock;
use std::time::Duration;
use time::OffsetDateTime;

/// How long a lease lasts unless renewed.
pub const LEASE_TERM: Duration = Duration::from_secs(30);

/// How often a runner renews its leases (and looks for pause and cancel requests is more often:
/// see the runner).
pub const LEASE_RENEWAL: Duration = Duration::from_secs(10);

/// The holder of a job's lease, as the catalogue records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The holder's id: one per process.
    pub holder: Option<String>,
    /// The host it runs on (`None` in catalogues older than leases).
    pub host: Option<String>,
    /// Its process id.
    pub pid: i64,
    /// When that process started, as the system counts it (`None` where that is not known).
    pub started: Option<String>,
    /// When the lease ends unless renewed (`None` in catalogues older than leases: the
    /// process alone says).
    pub expires: Option<OffsetDateTime>,
}

impl Lease {
    /// Whether the lease still holds: not expired, and, on this host, its process lives (a
    /// zombie does not count). Where the system cannot tell, the process is taken to live, so
    /// a job is never run twice.
    pub fn is_alive(&self) -> bool {
        let here = self
            .host
            .as_deref()
            .is_none_or(|host| host == Holder::this_process().host);
        if here && !process_lives(self.pid, self.started.as_deref()) {
            return false;
        }
        self.expires
            .is_none_or(|expires| expires > OffsetDateTime::now_utc())
    }

    /// Where the holder runs, for messages: "process PID" or "process PID on HOST".
    pub fn describe(&self) -> String {
        match &self.host {
            Some(host) if *host != Holder::this_process().host => {
                format!("process {} on {host}", self.pid)
            }
            _ => format!("process {}", self.pid),
        }
    }
}

/// This process as a lease holder.
#[derive(Debug, Clone)]
pub struct Holder {
    /// Unique to this process.
    pub id: String,
    /// The host name.
    pub host: String,
    /// The process id.
    pub pid: i64,
    /// The process's start time.
    pub started: Option<String>,
}

impl Holder {
    /// This process (the same value every call).
    pub fn this_process() -> &'static Holder {
        static ME: OnceLock<Holder> = OnceLock::new();
        ME.get_or_init(|| {
            let pid = i64::from(std::process::id());
            Holder {
                id: uuid::Uuid::new_v4().to_string(),
                host: host_name(),
                pid,
                started: start_time(pid),
            }
        })
    }
}

/// The host's name: the kernel's, else `$HOSTNAME`, else "localhost".
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Whether process `pid`, started at `started`, still runs on this host.
fn process_lives(pid: i64, started: Option<&str>) -> bool {
    if !std::path::Path::new("/proc/self/stat").exists() {
        return true;
    }
    match (start_time(pid), started) {
        (None, _) => false,
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
    }
}

/// The start time of a live (not zombie) process, from `/proc/PID/stat`.
fn start_time(pid: i64) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); field 22 is the start time.
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19).map(|s| (*s).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lease held by this process, running until `LEASE_TERM` from now.
    fn mine() -> Lease {
        let me = Holder::this_process();
        Lease {
            holder: Some(me.id.clone()),
            host: Some(me.host.clone()),
            pid: me.pid,
            started: me.started.clone(),
            expires: Some(OffsetDateTime::now_utc() + LEASE_TERM),
        }
    }

    #[test]
    fn this_process_holds_and_a_dead_child_does_not() {
        assert!(mine().is_alive());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = i64::from(child.id());
        let lease = Lease {
            pid,
            started: start_time(pid),
            ..mine()
        };
        assert!(lease.started.is_some() && lease.is_alive());
        let reused = Lease {
            started: Some("1".into()),
            ..lease.clone()
        };
        assert!(!reused.is_alive(), "another process with the same id");
        let expired = Lease {
            expires: Some(OffsetDateTime::now_utc() - Duration::from_secs(1)),
            ..lease.clone()
        };
        assert!(!expired.is_alive(), "not renewed in time");
        let elsewhere = Lease {
            host: Some("another-host".into()),
            pid: 999_999_999,
            ..mine()
        };
        assert!(
            elsewhere.is_alive(),
            "another host's process is judged by the term"
        );
        child.kill().unwrap();
        // Not yet reaped: a zombie is dead too.
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!lease.is_alive());
        child.wait().unwrap();
        assert!(!lease.is_alive());
    }
}
