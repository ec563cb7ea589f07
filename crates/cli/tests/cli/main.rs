//! The CLI's integration tests, one binary: each module is one area of `awcopy`'s behaviour end
//! to end (the binary run as a user would, against the emulators `scripts/test.sh` starts).

mod agents;
mod closed_pipe;
mod common;
mod cp;
mod db;
mod jobs;
mod ls;
mod replicas;
mod serve;
mod trust;
