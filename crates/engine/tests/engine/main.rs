//! The engine crate's integration tests, one binary: each module is one behaviour area, against
//! the emulators `scripts/test.sh` starts.

mod bounded_memory;
mod copy_routes;
mod faults;
mod listing;
mod work_items;
