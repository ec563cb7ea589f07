//! Large objects by blocks: the upload opened (or a staged one used again), each block
//! staged, the upload committed once every block is.

use awcopy_store::{
    ByteRange, Checksums, ErrorKind, ObjectAttributes, ObjectMeta, PartReceipt, StoreError,
    UploadId,
};
use std::collections::HashMap;
use std::sync::atomic::Ordering;

use std::sync::Arc;

use super::executor::Executor;
use crate::checksum::combine_all;
use crate::estimate::Route;
use crate::journal::{StagedUpload, UploadRecord};
use crate::work::{block_ranges, BlockItem, CommitItem, WorkDone, WorkItem};

impl Executor {
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
                    self.retry(|| dest.list_parts(dest_key, &record.upload))
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
            let executor = self.clone();
            blocks.spawn(async move { executor.stage(item).await });
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
        // returns: each holds the executor).
        blocks.shutdown().await;
        if let Some(err) = failed {
            match err.kind() {
                ErrorKind::Interrupted => {}
                ErrorKind::CopySourceUnreachable => {
                    self.hand_over_upload(&head.key, record, staged);
                }
                _ => self.abort_upload(dest_key, &record.upload).await,
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
        match &self.options.queue {
            Some(queue) => match queue.run(WorkItem::Commit(commit)).await? {
                WorkDone::Committed => {}
                other => return Err(other.unexpected()),
            },
            None => self.run_commit(&commit).await?,
        }
        self.reused(&staged);
        if streamed {
            // The caller counts the whole object.
            self.progress
                .bytes_done
                .fetch_sub(head.size, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Stages one block: here, or through the job's queue on an executor elsewhere (then the
    /// block is journaled and counted here, from what it gave).
    async fn stage(&self, item: BlockItem) -> Result<PartReceipt, StoreError> {
        let Some(queue) = &self.options.queue else {
            return self.run_block(&item).await;
        };
        let sent = WorkItem::Block(item.clone());
        let (receipt, agent) = self
            .send(queue.as_ref(), item.route, sent, |done| match done {
                WorkDone::Staged { part, agent } => Ok((part, agent)),
                other => Err(other.unexpected()),
            })
            .await?;
        self.part_staged(&item.source_key, &receipt, agent.as_deref());
        if item.route == Route::Streamed {
            self.progress
                .bytes_done
                .fetch_add(item.range.len(), Ordering::Relaxed);
        }
        Ok(receipt)
    }

    /// Runs one block item: streamed (a ranged GET, then the block staged with its CRC), or
    /// server-side (the destination reads the range from the source). Journaled once staged.
    pub(crate) async fn run_block(&self, item: &BlockItem) -> Result<PartReceipt, StoreError> {
        let (source, dest) = (&self.plan.source, &self.plan.dest);
        let (key, dest_key, upload) = (&item.source_key, &item.dest_key, &item.upload);
        let (number, range) = (item.number, item.range);
        let receipt = match item.route.copy_source_kind() {
            None => {
                let _room = self.streaming_room(range.len()).await;
                self.check_stop()?;
                let receipt = self
                    .retry(|| async {
                        let got = source.get(key, Some(range)).await?;
                        let what = format!("'{key}' block {number}");
                        let (bytes, crc) = self
                            .body_reader(got.body, range.len(), what, None)
                            .read_all()
                            .await?;
                        // The upload is this attempt's second request.
                        self.limits.request().await;
                        dest.upload_part(dest_key, upload, number, range.start, bytes, Some(crc))
                            .await
                    })
                    .await?;
                self.progress
                    .bytes_done
                    .fetch_add(range.len(), Ordering::Relaxed);
                receipt
            }
            Some(kind) => {
                let lifetime = self.options.url_lifetime;
                let _permit = self.concurrency.acquire().await;
                self.check_stop()?;
                self.server_side_request(self.retry(|| async {
                    // A server-side block is a request like any other under --max-rps.
                    self.limits.request().await;
                    let from = source.copy_source(key, kind, lifetime).await?;
                    dest.upload_part_copy(dest_key, upload, number, &from, range)
                        .await
                }))
                .await?
            }
        };
        self.part_staged(key, &receipt, None);
        Ok(PartReceipt {
            size: Some(range.len()),
            ..receipt
        })
    }

    /// Runs a commit item: the streamed blocks' CRCs, combined, must equal the source's; the
    /// upload is committed, or aborted if it cannot be.
    pub(crate) async fn run_commit(&self, item: &CommitItem) -> Result<(), StoreError> {
        let dest = &self.plan.dest;
        let (dest_key, upload) = (&item.dest_key, &item.upload);
        let whole = match item.route {
            Route::Streamed => {
                let crcs = item.parts.iter().map(|p| {
                    let crc = p.crc64nvme.expect("streamed blocks carry a CRC");
                    (crc, p.size.expect("staged blocks carry their size"))
                });
                let whole = combine_all(crcs);
                if item.source_crc.is_some_and(|expected| expected != whole) {
                    self.abort_upload(dest_key, upload).await;
                    return Err(StoreError::new(
                        ErrorKind::Integrity,
                        format!(
                            "'{}': CRC-64/NVME of the bytes read differs from the source's",
                            item.source_key
                        ),
                    ));
                }
                Some(whole)
            }
            _ => None,
        };
        let committed = self
            .retry(|| dest.complete_upload(dest_key, upload, &item.parts, &item.attributes, whole))
            .await;
        match committed {
            Ok(_) => Ok(()),
            Err(err)
                if err.kind() == ErrorKind::NotFound
                    && self.committed_before(item, whole).await =>
            {
                Ok(())
            }
            Err(err) => {
                self.abort_upload(dest_key, upload).await;
                Err(err)
            }
        }
    }

    /// Whether an upload the destination no longer knows was committed by an earlier attempt
    /// (a commit whose answer was lost, or an item delivered again after its agent died):
    /// the destination holds an object of the blocks' total size, with the blocks' combined
    /// CRC where both are known.
    async fn committed_before(&self, item: &CommitItem, crc: Option<u64>) -> bool {
        let total: Option<u64> = item.parts.iter().map(|p| p.size).sum();
        let Ok(written) = self.retry(|| self.plan.dest.head(&item.dest_key)).await else {
            return false;
        };
        let expected = Checksums {
            crc64nvme: crc.or(item.source_crc),
            md5: None,
        };
        total == Some(written.size) && !expected.contradicts(&written.checksums)
    }

    /// Aborts an upload given up, leaving no staged block behind (a failure to is logged).
    async fn abort_upload(&self, dest_key: &str, upload: &UploadId) {
        if let Err(abort) = self.plan.dest.abort_upload(dest_key, upload).await {
            tracing::warn!(key = dest_key, error = %abort, "could not abort the upload");
        }
    }
}
