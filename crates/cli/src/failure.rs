//! How a command fails: one line for the user and a documented exit code per class.

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

    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        let code = match err.kind() {
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
        };
        Self {
            message: err.to_string(),
            code,
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
