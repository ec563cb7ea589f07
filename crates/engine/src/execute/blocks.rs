//! The blocks of large objects: one block staged (streamed, or copied by the destination
//! from the source), and an upload committed once every block is.

use awcopy_store::{Checksums, ErrorKind, PartReceipt, Store, StoreError, UploadId};
use std::sync::atomic::Ordering;

use super::ItemExecutor;
use crate::checksum::combine_all;
use crate::estimate::Route;
use crate::work::{BlockItem, CommitItem};

impl ItemExecutor {
    /// Runs one block item: streamed (a ranged GET, then the block staged with its CRC), or
    /// server-side (the destination reads the range from the source).
    pub(super) async fn run_block(&self, item: &BlockItem) -> Result<PartReceipt, StoreError> {
        let (source, dest) = (&self.source, &self.dest);
        let (key, dest_key, upload) = (&item.source_key, &item.dest_key, &item.upload);
        let (number, range) = (item.number, item.range);
        let receipt = match item.route.copy_source_kind() {
            None => {
                let _room = self.streaming_room(range.len()).await;
                self.check_stop()?;
                let receipt = self
                    .requests
                    .retry(|| async {
                        let got = source.get(key, Some(range)).await?;
                        let what = format!("'{key}' block {number}");
                        let (bytes, crc) = self
                            .body_reader(got.body, range.len(), what, None)
                            .read_all()
                            .await?;
                        // The upload is this attempt's second request.
                        self.requests.limits().request().await;
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
                let lifetime = self.url_lifetime;
                let _permit = self.concurrency.acquire().await;
                self.check_stop()?;
                self.requests
                    .retry(|| async {
                        let from = source.copy_source(key, kind, lifetime).await?;
                        dest.upload_part_copy(dest_key, upload, number, &from, range)
                            .await
                    })
                    .await?
            }
        };
        Ok(PartReceipt {
            size: Some(range.len()),
            ..receipt
        })
    }

    /// Runs a commit item: the streamed blocks' CRCs, combined, must equal the source's; the
    /// upload is committed, or aborted if it cannot be.
    pub(super) async fn run_commit(&self, item: &CommitItem) -> Result<(), StoreError> {
        let dest = &self.dest;
        let (dest_key, upload) = (&item.dest_key, &item.upload);
        let whole = match item.route {
            Route::Streamed => {
                let crcs = item.parts.iter().map(|p| {
                    let crc = p.crc64nvme.expect("streamed blocks carry a CRC");
                    (crc, p.size.expect("staged blocks carry their size"))
                });
                let whole = combine_all(crcs);
                if item.source_crc.is_some_and(|expected| expected != whole) {
                    abort_quietly(dest.as_ref(), dest_key, upload).await;
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
            .requests
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
                abort_quietly(dest.as_ref(), dest_key, upload).await;
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
        let Ok(written) = self.requests.retry(|| self.dest.head(&item.dest_key)).await else {
            return false;
        };
        let expected = Checksums {
            crc64nvme: crc.or(item.source_crc),
            md5: None,
        };
        total == Some(written.size) && !expected.contradicts(&written.checksums)
    }
}

/// Aborts an upload given up, leaving no staged block behind (a failure to is logged).
pub(crate) async fn abort_quietly(dest: &dyn Store, dest_key: &str, upload: &UploadId) {
    if let Err(abort) = dest.abort_upload(dest_key, upload).await {
        tracing::warn!(key = dest_key, error = %abort, "could not abort the upload");
    }
}
