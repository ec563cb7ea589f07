//! What the user sees: one module per kind of output (progress, reports, estimates, job
//! tables), plus the helpers they share.

pub mod estimate;
pub mod jobs;
pub mod progress;
pub mod report;

use bytesize::ByteSize;

use crate::failure::Failure;

/// A size in binary units, e.g. `4.8 MiB`.
pub fn human(bytes: u64) -> String {
    ByteSize::b(bytes).display().iec().to_string()
}

/// A failure to write to stdout, as a command failure.
pub fn write_failed(err: std::io::Error) -> Failure {
    Failure {
        message: format!("cannot write the listing: {err}"),
        code: crate::failure::code::SERVICE,
    }
}
