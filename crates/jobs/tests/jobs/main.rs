//! The jobs crate's integration tests, one binary: each module is one behaviour area, against
//! the emulators `scripts/test.sh` starts.

mod bounded_resume;
mod migrate;
mod resume_point;
mod runner;
mod tls;
