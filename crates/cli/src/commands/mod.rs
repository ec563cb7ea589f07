//! One module per command.

pub mod check;
pub mod cp;
pub mod estimate;
pub mod jobs;
pub mod ls;
pub mod resume;
