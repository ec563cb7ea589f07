//! The awcopy engine. For now: listing summaries and cost estimates; the planner, executor and
//! recorder of DESIGN.md's flow come next.

pub mod estimate;
pub mod pricing;
pub mod summary;
