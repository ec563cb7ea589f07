//! Logging to stderr through a writer that redacts secrets from every line, whatever library
//! wrote it, and a panic hook that does the same for panic messages.

use std::io::{self, Write};
use tracing_subscriber::EnvFilter;

/// A writer that redacts each complete line before passing it to stderr.
struct RedactingStderr {
    pending: Vec<u8>,
}

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let text = awcopy_store::redact::redact(&String::from_utf8_lossy(&line));
            io::stderr().write_all(text.as_bytes())?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let text = awcopy_store::redact::redact(&String::from_utf8_lossy(&self.pending));
            self.pending.clear();
            io::stderr().write_all(text.as_bytes())?;
        }
        io::stderr().flush()
    }
}

impl Drop for RedactingStderr {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Starts logging at `warn` (or `debug` for awcopy with `verbose`); `AWCOPY_LOG` overrides
/// with a tracing filter, e.g. `AWCOPY_LOG=awcopy_store=debug`.
pub fn init(verbose: bool) {
    let default = if verbose {
        "warn,awcopy=debug,awcopy_store=debug,awcopy_engine=debug,awcopy_jobs=debug,awcopy_service=debug"
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_env("AWCOPY_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingStderr {
            pending: Vec::new(),
        })
        .with_target(false)
        // Colours only on a terminal: a log file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        // `println!` panics when the reader of stdout went away (`awcopy jobs list | head`):
        // that is no error of ours, and the process ends as SIGPIPE would end it.
        if payload.contains("Broken pipe") {
            std::process::exit(i32::from(crate::failure::code::CLOSED_PIPE));
        }
        let location = info
            .location()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        eprintln!(
            "awcopy: internal error{location}: {}",
            awcopy_store::redact::redact(&payload)
        );
    }));
}
