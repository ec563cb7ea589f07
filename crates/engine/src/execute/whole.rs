//! Whole objects: copied server-side in one request, or streamed in one GET and one PUT (or
//! one stream into a destination that writes streams).

use awcopy_store::{
    ByteStream, Checksums, CopySourceKind, ErrorKind, ObjectMeta, Store, StoreError,
};
use futures::{StreamExt, TryStreamExt};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{ItemExecutor, Requests};
use crate::body::BodyReader;
use crate::estimate::Route;
use crate::work::{MappedName, ObjectItem};

impl ItemExecutor {
    /// Runs a whole-object item: the object copied in one go along its route — one
    /// server-side request, or one GET and one PUT (one stream into a destination that
    /// writes streams). Source URLs are minted per request, so none expires mid-job.
    /// Gives the metadata names the destination stored under other names.
    pub(super) async fn run_whole(&self, item: &ObjectItem) -> Result<Vec<MappedName>, StoreError> {
        let (meta, dest_key) = (&item.source, item.dest_key.as_str());
        let Some(kind) = item.route.copy_source_kind() else {
            let renamed = match self.dest.capabilities().put_stream_memory {
                Some(memory) => self.copy_in_one_stream(meta, dest_key, memory).await?,
                None => self.copy_in_one_request(meta, dest_key).await?,
            };
            self.progress.copied(Route::Streamed, meta.size);
            return Ok(renamed);
        };
        if kind == CopySourceKind::Native && self.copy_as_is(meta, dest_key).await? {
            return Ok(Vec::new());
        }
        // One slot for all its requests (look-up, copy, check), so the limit bounds every
        // request in flight.
        let _slot = self.concurrency.acquire().await;
        self.check_stop()?;
        let (source, dest) = (&self.source, &self.dest);
        let lifetime = self.url_lifetime;
        let head = self.requests.retry(|| source.head(&meta.key)).await?;
        let attributes = &head.attributes;
        self.requests
            .retry(|| async {
                let from = source.copy_source(&meta.key, kind, lifetime).await?;
                dest.copy_object(dest_key, &from, attributes).await
            })
            .await?;
        verify_copy(&self.requests, dest.as_ref(), &head, dest_key).await?;
        self.progress.copied(item.route, head.size);
        Ok(self.renamed_metadata(attributes))
    }

    /// Copies a whole object within one service that keeps its attributes itself: one
    /// request, no lookup first, verified by the ETag it answers (an MD5 equal to the
    /// source's), else by a look at the copy. `Ok(false)`: the store cannot.
    async fn copy_as_is(&self, meta: &ObjectMeta, dest_key: &str) -> Result<bool, StoreError> {
        let (source, dest) = (&self.source, &self.dest);
        let _permit = self.concurrency.acquire().await;
        self.check_stop()?;
        let lifetime = self.url_lifetime;
        let copied = self
            .requests
            .retry(|| async {
                let from = source
                    .copy_source(&meta.key, CopySourceKind::Native, lifetime)
                    .await?;
                dest.copy_object_as_is(dest_key, &from).await
            })
            .await;
        let copied = match copied {
            Err(e) if e.kind() == ErrorKind::Unsupported => return Ok(false),
            other => other?,
        };
        let plain_md5 = meta.etag.as_deref().filter(|e| !e.contains('-'));
        if plain_md5.is_none() || copied.etag.as_deref() != plain_md5 {
            verify_copy(&self.requests, dest.as_ref(), meta, dest_key).await?;
        }
        self.progress.copied(Route::Native, meta.size);
        Ok(true)
    }

    /// A reader of a source body that must hold `expected` bytes (and match `verify`).
    pub(super) fn body_reader(
        &self,
        body: ByteStream,
        expected: u64,
        what: String,
        verify: Option<Checksums>,
    ) -> BodyReader<'_> {
        let timeout = self.requests.stall_timeout();
        let limits = self.requests.limits();
        BodyReader::new(body, expected, what, verify, timeout, limits)
    }

    /// One GET written as it arrives: memory holds only the destination's write buffer
    /// (`buffer` bytes), however large the object. Progress counts bytes as they arrive.
    async fn copy_in_one_stream(
        &self,
        meta: &ObjectMeta,
        dest_key: &str,
        buffer: u64,
    ) -> Result<Vec<MappedName>, StoreError> {
        let (source, dest) = (&self.source, &self.dest);
        let _room = self.streaming_room(meta.size.min(buffer)).await;
        self.check_stop()?;
        let arrived = AtomicU64::new(0);
        let copied = self
            .requests
            .retry(|| async {
                let got = source.get(&meta.key, None).await?;
                let renamed = self.renamed_metadata(&got.meta.attributes);
                let attributes = &got.meta.attributes;
                let what = format!("'{}'", meta.key);
                let verify = Some(got.meta.checksums);
                let body = self
                    .body_reader(got.body, meta.size, what, verify)
                    .into_stream()
                    .inspect_ok(|chunk| {
                        let len = chunk.len() as u64;
                        arrived.fetch_add(len, Ordering::Relaxed);
                        self.progress.bytes_done.fetch_add(len, Ordering::Relaxed);
                    });
                dest.put_stream(dest_key, body.boxed(), attributes)
                    .await
                    .map(|_| renamed)
            })
            .await;
        // Counted once it is there; failed attempts count nothing.
        self.progress
            .bytes_done
            .fetch_sub(arrived.into_inner(), Ordering::Relaxed);
        copied
    }

    /// One GET read into memory, then one PUT.
    async fn copy_in_one_request(
        &self,
        meta: &ObjectMeta,
        dest_key: &str,
    ) -> Result<Vec<MappedName>, StoreError> {
        let (source, dest) = (&self.source, &self.dest);
        let _room = self.streaming_room(meta.size).await;
        self.check_stop()?;
        self.requests
            .retry(|| async {
                let got = source.get(&meta.key, None).await?;
                let what = format!("'{}'", meta.key);
                let verify = Some(got.meta.checksums);
                let (bytes, crc) = self
                    .body_reader(got.body, meta.size, what, verify)
                    .read_all()
                    .await?;
                // The PUT is this attempt's second request.
                self.requests.limits().request().await;
                let attributes = &got.meta.attributes;
                dest.put(dest_key, bytes, attributes, Some(crc))
                    .await
                    .map(|_| self.renamed_metadata(attributes))
            })
            .await
    }
}

/// After a server-side copy: `dest` holds at `dest_key` an object of `source`'s size (and
/// checksums, where both sides report one).
pub(crate) async fn verify_copy(
    requests: &Requests,
    dest: &dyn Store,
    source: &ObjectMeta,
    dest_key: &str,
) -> Result<(), StoreError> {
    let written = requests.retry(|| dest.head(dest_key)).await?;
    if written.size != source.size || source.checksums.contradicts(&written.checksums) {
        return Err(StoreError::new(
            ErrorKind::Integrity,
            format!(
                "'{dest_key}': the copy does not match its source (size {} vs {})",
                written.size, source.size
            ),
        ));
    }
    Ok(())
}
