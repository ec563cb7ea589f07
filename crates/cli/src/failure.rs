//! How a command fails: one line for the user and a documented exit code per class.

use awcopy_jobs::runner::{Refusal, RunError};
use awcopy_jobs::CatalogError;
use awcopy_store::{ErrorKind, StoreError};
use std::process::ExitCode;

/// Exit codes, as documented in the README.
pub mod code {
    /// Some objects failed (the rest were done), or `check` found differences.
    pub const PARTIAL: u8 = 1;
    /// Bad arguments or input (clap uses 2 too).
    pub const USAGE: u8 = 2;
    /// Missing or wrong credentials, or no permission.
    pub const AUTH: u8 = 3;
    /// Bucket, container, object or path not found.
    pub const NOT_FOUND: u8 = 4;
    /// Endpoint unreachable, connection lost, timed out.
    pub const NETWORK: u8 = 5;
    /// The service or the local system failed.
    pub const SERVICE: u8 = 6;
    /// Stopped by Ctrl-C (the job is paused and can be resumed), as shells report SIGINT.
    pub const INTERRUPTED: u8 = 130;
    /// The reader of the output went away (`| head`), as shells report SIGPIPE: nothing is
    /// said.
    pub const CLOSED_PIPE: u8 = 141;
}

/// A failed command: what to tell the user and how to exit.
#[derive(Debug)]
pub struct Failure {
    /// One line saying what is wrong and what to try; already free of secrets.
    pub message: String,
    /// The process exit code.
    pub code: u8,
}

impl Failure {
    /// A usage failure about one argument.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: awcopy_store::redact::redact(&message.into()),
            code: code::USAGE,
        }
    }

    /// The reader of the output went away: exit quietly, as a tool killed by SIGPIPE would.
    pub fn closed_pipe() -> Self {
        Self {
            message: String::new(),
            code: code::CLOSED_PIPE,
        }
    }

    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

/// The exit code of a failure of `kind`.
pub fn code_of(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Usage | ErrorKind::Unsupported => code::USAGE,
        ErrorKind::Auth => code::AUTH,
        ErrorKind::NotFound => code::NOT_FOUND,
        ErrorKind::Network => code::NETWORK,
        ErrorKind::Throttled
        | ErrorKind::Server
        | ErrorKind::Conflict
        | ErrorKind::Io
        | ErrorKind::Integrity
        | ErrorKind::CopySourceUnreachable
        | ErrorKind::Other => code::SERVICE,
        ErrorKind::Interrupted => code::INTERRUPTED,
    }
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        Self {
            message: err.to_string(),
            code: code_of(err.kind()),
        }
    }
}

/// Prefixes a store error with the argument it came from, e.g. "SOURCE".
pub fn about(argument: &str) -> impl FnOnce(StoreError) -> Failure + '_ {
    move |err| {
        let mut failure = Failure::from(err);
        failure.message = format!("{argument}: {}", failure.message);
        failure
    }
}

impl From<CatalogError> for Failure {
    /// The catalogue's error, with what to do about it on the command line.
    fn from(err: CatalogError) -> Self {
        let (code, advice) = match &err {
            CatalogError::NotFound(_) => (
                code::NOT_FOUND,
                "`awcopy jobs list --all-users` shows them".to_owned(),
            ),
            CatalogError::Ambiguous { .. } => (code::USAGE, "give more of it".to_owned()),
            CatalogError::Changed(id) => (
                code::USAGE,
                format!("look again with `awcopy jobs show {id}`"),
            ),
            CatalogError::Spec { .. } => {
                (code::USAGE, "start the copy again (with --new)".to_owned())
            }
            CatalogError::Locked(_) => (code::SERVICE, "try again, or pass --db".to_owned()),
            CatalogError::Unreachable { .. } => (
                code::NETWORK,
                "is the database up and reachable from here? (--db, AWCOPY_DB)".to_owned(),
            ),
            CatalogError::NewerSchema(_) => {
                (code::SERVICE, "upgrade awcopy, or pass --db".to_owned())
            }
            CatalogError::Corrupt { .. } => {
                (code::SERVICE, "move it aside, or pass --db".to_owned())
            }
            CatalogError::RunTaken(_) | CatalogError::Other(_) => (code::SERVICE, String::new()),
        };
        let message = match advice.is_empty() {
            true => err.to_string(),
            false => format!("{err}; {advice}"),
        };
        Failure {
            message: awcopy_store::redact::redact(&message),
            code,
        }
    }
}

/// A runner's error while doing `verb` (start, resume, retry, pause, cancel) to a job, with
/// what to do about it on the command line.
pub fn run_failure(err: RunError, verb: &str) -> Failure {
    let refusal = match err {
        RunError::Catalog(e) => return e.into(),
        RunError::Store(e) => return e.into(),
        RunError::Refused(refusal) => refusal,
    };
    let job = refusal.job();
    let id = &job.id;
    let message = match &refusal {
        Refusal::Running(_, lease) => format!(
            "job {id} is running ({}); pause it with `awcopy jobs pause {id}` (or Ctrl-C there) first, or let it finish",
            lease.describe()
        ),
        Refusal::Duplicate(other) => match other.live_owner() {
            Some(lease) => format!(
                "{refusal} and is running ({}); follow it with `awcopy jobs show {id}`, or pass --new to start another job",
                lease.describe()
            ),
            None => format!(
                "{refusal} and did not finish ({}); continue it with `awcopy jobs resume {id}`, or pass --new to start over",
                other.status
            ),
        },
        Refusal::Completed(_) if verb == "retry" => {
            format!("job {id} has no failed objects to retry")
        }
        Refusal::Completed(_) => format!("{refusal}; there is nothing to {verb}"),
        Refusal::HasFailures(_) => format!(
            "{refusal}; `awcopy jobs retry {id}` copies its failed objects again"
        ),
        Refusal::Unfinished(_) => format!(
            "{refusal}; `awcopy jobs resume {id}` continues it, then retry its failures"
        ),
        Refusal::Cancelled(_) => format!("{refusal}; start the copy again"),
        Refusal::NothingToStop(_) => format!("{refusal}; there is nothing to {verb}"),
        Refusal::StillRunning(_) => format!("{refusal}; try again"),
    };
    let code = match refusal {
        Refusal::StillRunning(_) => code::SERVICE,
        _ => code::USAGE,
    };
    Failure {
        message: awcopy_store::redact::redact(&message),
        code,
    }
}
