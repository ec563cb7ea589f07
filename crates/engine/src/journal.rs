//! What a copy records so that it can be resumed after a crash, and what a resumed copy starts
//! from. The engine calls a [`Journal`] as it lists key ranges and stages blocks; the job
//! catalogue implements it and, on resume, hands back a [`ResumeFrom`].
//!
//! Order is the contract: a journal keeps calls in the order they were made, so what survives
//! a crash is always a prefix of them. A page's objects are journaled before they are handed
//! to the copy, and a range's far half is opened in the same call that narrows it.

use awcopy_store::{ObjectMeta, PartReceipt, UploadId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::index::ObjectIndex;

pub use tokio_util::sync::CancellationToken as Stop;

/// A part of the key space being listed: keys after `after` and before `before` (both
/// exclusive; `None` is open).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRange {
    /// Unique within the job.
    pub id: u64,
    /// Listed up to and including this key.
    pub after: Option<String>,
    /// Keys from this one on belong to another range.
    pub before: Option<String>,
}

impl ListRange {
    /// The whole key space.
    pub fn whole(id: u64) -> Self {
        Self {
            id,
            after: None,
            before: None,
        }
    }
}

/// A block / multipart upload in progress for one source object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// The destination key.
    pub dest_key: String,
    /// The upload, as the destination issued it.
    pub upload: UploadId,
    /// The part size its blocks were cut at.
    pub part_size: u64,
    /// The source object's size when the upload started.
    pub source_size: u64,
    /// The source object's entity tag when the upload started: a changed source starts over.
    pub source_etag: Option<String>,
}

/// An upload of a previous run and the parts it staged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedUpload {
    /// The upload.
    pub record: UploadRecord,
    /// Its staged parts, with the CRCs they were sent with.
    pub parts: Vec<PartReceipt>,
}

/// Receives a copy's progress as it happens, in order.
pub trait Journal: Send + Sync + std::fmt::Debug {
    /// A range is about to be listed.
    fn range_opened(&self, range: &ListRange);
    /// A page of range `id` was listed: its objects, in key order, the last of which is where
    /// the range now continues.
    fn page_listed(&self, id: u64, objects: &[ObjectMeta]);
    /// Range `id` now ends before `before`; the keys from there on went to `far`.
    fn range_split(&self, id: u64, before: &str, far: &ListRange);
    /// Range `id` is listed to its end.
    fn range_done(&self, id: u64);
    /// An upload for source object `key` began.
    fn upload_started(&self, key: &str, upload: &UploadRecord);
    /// A part of the upload for source object `key` is staged (by `agent`, when an agent
    /// staged it).
    fn part_staged(&self, key: &str, part: &PartReceipt, agent: Option<&str>);
    /// The destination cannot copy from the source server-side (`why`): the job, and its
    /// resumes, stream instead.
    fn server_side_unreachable(&self, why: &str);

    /// Waits while the journal holds too much not yet written: the listing calls it before
    /// each page, so a listing that outruns the journal's writes waits for them instead of
    /// piling records up in memory. Answers at once by default.
    fn room(&self) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// Where a resumed copy starts. What earlier runs met of the source is held in
/// [`ObjectIndex`]es: in memory up to their budget, on disk beyond it, whatever the job's size.
#[derive(Debug, Default)]
pub struct ResumeFrom {
    /// Ranges not listed to their end (empty: listing is over).
    pub ranges: Vec<ListRange>,
    /// The id the next new range gets.
    pub next_range_id: u64,
    /// Objects listed before, not finished, by key: copied first, in key order.
    pub pending: ObjectIndex,
    /// Every other source key the job has met (copied, failed, skipped...); listed again,
    /// they are passed over, as are the pending ones.
    pub finished: ObjectIndex,
    /// Uploads in progress, by source key.
    pub uploads: HashMap<String, StagedUpload>,
    /// Why the destination cannot copy from the source server-side, if a run found it.
    pub server_side_unreachable: Option<String>,
}
