//! One module per command, plus what the copying commands share: following a running job,
//! asking on the terminal, and talking to a job service.

pub mod check;
pub mod copy;
pub mod db;
pub mod follow;
pub mod jobs;
pub mod ls;
pub mod prompt;
pub mod remote;
pub mod replicate;
pub mod schedule;
pub mod serve;
