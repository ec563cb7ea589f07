//! Large objects by blocks, as the planner sees them: the upload opened (or a staged one
//! used again), each block a work item, the upload committed by one more once every block is.

use awcopy_store::{ByteRange, ErrorKind, ObjectAttributes, ObjectMeta, PartReceipt, StoreError};
use std::collections::HashMap;
use std::sync::atomic::Ordering;

use std::sync::Arc;

use super::job::Planner;
use crate::estimate::Route;
use crate::execute::abort_quietly;
use crate::journal::{StagedUpload, UploadRecord};
use crate::work::{block_ranges, BlockItem, CommitItem, WorkDone, WorkItem};

impl Planner {
    /// The upload to stage `head`'s parts in, and the parts already staged by number: the
    /// upload a previous run (or a server-side attempt of this one) began, when its source
    /// is unchanged and the destination still has it, else a new one (journaled).
    pub(super) async fn open_upload(
        &self,
        head: &ObjectMeta,
        dest_key: &str,
        attributes: &ObjectAttributes,
        need_crc: bool,
    ) -> Result<(UploadRecord, HashMap<u32, PartReceipt>), StoreError> {
        let dest = &self.plan.dest;
        let part_size = self.part_size(head.size);
        let staged = self.staged.lock().expect("staged lock").remove(&head.key);
        if let Some(staged) = staged {
            let record = &staged.record;
            let usable = record.dest_key == dest_key
                && record.part_size == part_size
                && record.source_size == head.size
                && record.source_etag == head.etag;
            let present = match usable {
                true => {
                    self.requests
                        .retry(|| dest.list_parts(dest_key, &record.upload))
                        .await
                }
                false => Err(StoreError::new(ErrorKind::NotFound, "the source changed")),
            };
            match present {
                Ok(present) => {
                    let present: HashMap<u32, String> =
                        present.into_iter().map(|p| (p.number, p.handle)).collect();
                    let parts: HashMap<u32, PartReceipt> = staged
                        .parts
                        .into_iter()
                        .filter(|p| present.get(&p.number) == Some(&p.handle))
                        .filter(|p| !need_crc || p.crc64nvme.is_some())
                        .map(|p| (p.number, p))
                        .collect();
                    return Ok((staged.record, parts));
                }
                Err(err) if err.kind() == ErrorKind::NotFound => {
                    // Gone, or of another source: start over, leaving nothing behind.
                    let _ = dest.abort_upload(&record.dest_key, &record.upload).await;
                }
                Err(err) => return Err(err),
            }
        }
        let upload = self
            .requests
            .retry(|| dest.create_upload(dest_key, attributes))
            .await?;
        let record = UploadRecord {
            dest_key: dest_key.to_owned(),
            upload,
            part_size,
            source_size: head.size,
            source_etag: head.etag.clone(),
        };
        if let Some(journal) = &self.options.journal {
            journal.upload_started(&head.key, &record);
        }
        Ok((record, HashMap::new()))
    }

    /// Keeps an upload whose server-side attempt found the source unreachable for the
    /// streamed copy that follows, with the parts it may use again.
    pub(super) fn hand_over_upload(
        &self,
        key: &str,
        record: UploadRecord,
        parts: HashMap<u32, PartReceipt>,
    ) {
        let upload = StagedUpload {
            record,
            parts: parts.into_values().collect(),
        };
        self.staged
            .lock()
            .expect("staged lock")
            .insert(key.to_owned(), upload);
    }

    /// Counts the parts an upload used again, once it is committed.
    pub(super) fn reused(&self, parts: &HashMap<u32, PartReceipt>) {
        self.progress
            .blocks_reused
            .fetch_add(parts.len() as u64, Ordering::Relaxed);
    }

    /// The part size for `size` bytes at the destination.
    pub(super) fn part_size(&self, size: u64) -> u64 {
        self.plan
            .dest
            .capabilities()
            .part_size_for(size, self.options.block_size)
    }

    /// The byte ranges of the blocks of an object of `size` bytes.
    pub(super) fn blocks(&self, size: u64) -> Vec<ByteRange> {
        block_ranges(size, self.part_size(size))
    }

    /// A large object by blocks along `route`: the upload opened (or a staged one taken
    /// over), each missing block a work item of its own, spawned so that any executor may
    /// run it, then the commit. A stop, or a destination found unable to read the source,
    /// keeps the upload (for the resume, or the streamed copy, to finish); any other failure
    /// aborts it.
    pub(super) async fn copy_by_blocks(
        self: &Arc<Self>,
        head: &ObjectMeta,
        dest_key: &str,
        route: Route,
    ) -> Result<(), StoreError> {
        let streamed = route == Route::Streamed;
        let attributes = &head.attributes;
        let (record, staged) = self
            .open_upload(head, dest_key, attributes, streamed)
            .await?;
        let mut parts: Vec<Option<PartReceipt>> = Vec::new();
        let mut blocks = tokio::task::JoinSet::new();
        for (i, range) in self.blocks(head.size).into_iter().enumerate() {
            let number = i as u32 + 1;
            if let Some(receipt) = staged.get(&number) {
                if streamed {
                    self.progress
                        .bytes_done
                        .fetch_add(range.len(), Ordering::Relaxed);
                }
                parts.push(Some(PartReceipt {
                    size: Some(range.len()),
                    ..receipt.clone()
                }));
                continue;
            }
            parts.push(None);
            let item = BlockItem {
                source_key: head.key.clone(),
                dest_key: dest_key.to_owned(),
                upload: record.upload.clone(),
                number,
                range,
                route,
            };
            let planner = self.clone();
            blocks.spawn(async move { planner.stage(item).await });
        }
        let mut failed: Option<StoreError> = None;
        while let Some(done) = blocks.join_next().await {
            match done {
                Ok(Ok(receipt)) => {
                    let number = receipt.number as usize;
                    parts[number - 1] = Some(receipt);
                }
                // Stopping: blocks in flight finish (and are journaled); the others stop.
                Ok(Err(err)) if err.kind() == ErrorKind::Interrupted => {
                    failed.get_or_insert(err);
                }
                Ok(Err(err)) => {
                    failed = Some(err);
                    break;
                }
                Err(e) => {
                    failed = Some(StoreError::new(
                        ErrorKind::Other,
                        format!("block task failed: {e}"),
                    ));
                    break;
                }
            }
        }
        // Blocks still running when one failed are given up with it (and gone before this
        // returns: each holds the planner).
        blocks.shutdown().await;
        if let Some(err) = failed {
            match err.kind() {
                ErrorKind::Interrupted => {}
                ErrorKind::CopySourceUnreachable => {
                    self.hand_over_upload(&head.key, record, staged);
                }
                _ => abort_quietly(self.plan.dest.as_ref(), dest_key, &record.upload).await,
            }
            return Err(err);
        }
        let commit = CommitItem {
            source_key: head.key.clone(),
            dest_key: dest_key.to_owned(),
            upload: record.upload.clone(),
            parts: parts
                .into_iter()
                .map(|p| p.expect("every block staged"))
                .collect(),
            attributes: attributes.clone(),
            source_crc: head.checksums.crc64nvme,
            route,
        };
        self.send(WorkItem::Commit(commit), |done| match done {
            WorkDone::Committed => Ok(()),
            other => Err(other.unexpected()),
        })
        .await?;
        self.reused(&staged);
        if streamed {
            // The caller counts the whole object.
            self.progress
                .bytes_done
                .fetch_sub(head.size, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Stages one block on the job's queue; journals and counts it from what it gave.
    async fn stage(&self, item: BlockItem) -> Result<PartReceipt, StoreError> {
        let (key, route, len) = (item.source_key.clone(), item.route, item.range.len());
        let (receipt, agent) = self
            .send(WorkItem::Block(item), |done| match done {
                WorkDone::Staged { part, agent } => Ok((part, agent)),
                other => Err(other.unexpected()),
            })
            .await?;
        self.part_staged(&key, &receipt, agent.as_deref());
        if route == Route::Streamed {
            self.progress.bytes_done.fetch_add(len, Ordering::Relaxed);
        }
        Ok(receipt)
    }
}
