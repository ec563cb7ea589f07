//! One module per command.

pub mod check;
pub mod cp;
pub mod estimate;
pub mod ls;
