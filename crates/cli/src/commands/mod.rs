//! One module per command, plus what the copying commands share: following a running job
//! and asking on the terminal.

pub mod check;
pub mod copy;
pub mod follow;
pub mod jobs;
pub mod ls;
pub mod prompt;
