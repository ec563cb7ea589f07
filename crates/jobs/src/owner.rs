//! Which process runs a job, and whether it still lives. A process id alone can be reused
//! after a crash, so the owner's start time (Linux `/proc/PID/stat`, field 22, in clock ticks
//! since boot) is recorded beside it and must match.

/// The process running a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Its process id.
    pub pid: i64,
    /// When it started, as the system counts it (`None` where that is not known).
    pub started: Option<String>,
}

impl Owner {
    /// This process.
    pub fn current() -> Self {
        let pid = i64::from(std::process::id());
        Self {
            pid,
            started: start_time(pid),
        }
    }

    /// Whether the process still runs (a zombie does not count). Where the system cannot
    /// tell, it is taken to live, so a job is never resumed twice.
    pub fn is_alive(&self) -> bool {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return true;
        }
        match (start_time(self.pid), &self.started) {
            (None, _) => false,
            (Some(now), Some(then)) => &now == then,
            (Some(_), None) => true,
        }
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

    #[test]
    fn this_process_lives_and_a_dead_child_does_not() {
        assert!(Owner::current().is_alive());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let owner = Owner {
            pid: i64::from(child.id()),
            started: start_time(i64::from(child.id())),
        };
        assert!(owner.started.is_some() && owner.is_alive());
        let reused = Owner {
            started: Some("1".into()),
            ..owner.clone()
        };
        assert!(!reused.is_alive(), "another process with the same id");
        child.kill().unwrap();
        // Not yet reaped: a zombie is dead too.
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!owner.is_alive());
        child.wait().unwrap();
        assert!(!owner.is_alive());
    }
}
