//! One module per command.

pub mod ls;
