//! The awcopy engine: DESIGN.md's flow of lister -> filter -> planner -> executor, its wire
//! types (the job spec, work items, object events), plus listing summaries and cost estimates.

#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod batching;
mod body;
pub mod check;
pub mod checksum;
pub mod concurrency;
pub mod copy;
pub mod estimate;
pub mod events;
pub mod execute;
pub mod filter;
pub mod index;
pub mod journal;
pub mod keyrange;
pub mod limits;
pub mod lister;
pub mod memory;
pub mod names;
pub mod overwrite;
pub mod prepare;
pub mod preview;
pub mod pricing;
pub mod progress;
pub mod retry;
mod server_side;
pub mod spec;
pub mod summary;
mod timed;
pub mod work;
