//! What the user sees: one module per kind of output (progress, reports, estimates, job
//! tables), plus the helpers they share.

pub mod estimate;
pub mod jobs;
pub mod progress;
pub mod report;

use bytesize::ByteSize;
use std::borrow::Cow;

use crate::failure::Failure;

/// Shows a key (or any text a store or a service gave) on one terminal line: control
/// characters are escaped (`\u{1b}`), so no name can move the cursor or forge a line.
pub fn printable(key: &str) -> Cow<'_, str> {
    if !key.chars().any(char::is_control) {
        return Cow::Borrowed(key);
    }
    let mut shown = String::with_capacity(key.len() + 8);
    for c in key.chars() {
        if c.is_control() {
            shown.extend(c.escape_unicode());
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// A size in binary units, e.g. `4.8 MiB`.
pub fn human(bytes: u64) -> String {
    ByteSize::b(bytes).display().iec().to_string()
}

/// A failure to write to stdout, as a command failure.
pub fn write_failed(err: std::io::Error) -> Failure {
    if err.kind() == std::io::ErrorKind::BrokenPipe {
        return Failure::closed_pipe();
    }
    Failure {
        message: format!("cannot write the listing: {err}"),
        code: crate::failure::code::SERVICE,
    }
}
