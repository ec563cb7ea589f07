//! The durable job catalogue (DESIGN.md "jobs"): every `cp`, `sync` and `mv` run is a job with
//! an id, a user, an optional name, a status, its spec (without secrets), counters, and the
//! outcome of each object. In SQLite (WAL mode) on one machine, or in PostgreSQL where several
//! service replicas share it, through sqlx; written in batches so it never slows the copy. It also keeps what resume needs (listing ranges, listed objects, uploads
//! and their parts), so a job whose process died continues where it stopped. The catalogue
//! sits behind a trait ([`JobCatalog`]); jobs are owned by leases ([`Lease`]); and the
//! [`runner::JobRunner`] starts, resumes, retries, pauses and cancels them for every front
//! door.

#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

mod job_catalog;
mod lease;
mod records;
pub mod runner;
mod sql;
mod text_column;
mod timestamp;

pub use job_catalog::{
    JobCatalog, JobRecorder, ReplicaCatalog, ReplicationCatalog, ScheduleCatalog,
};
pub use lease::{Holder, Lease, LEASE_RENEWAL, LEASE_TERM};
pub use records::{
    run_seconds, CatalogError, ErrorClass, FailurePage, FailureRecord, JobRecord, ListFilter,
    NewJob, NewReplication, NewSchedule, ReplicaRecord, Replication, ReplicationRound, Request,
    RunEnd, RunRecord, Schedule, ScheduleRun, Status, Trigger, WrittenObject,
};
pub use sql::{Catalog, CatalogAddress, CatalogAddressError, Moved, Recorder};
pub use timestamp::Timestamp;
