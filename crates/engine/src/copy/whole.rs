//! Whole objects: copied server-side in one request, or streamed in one GET and one PUT (or
//! one stream into a destination that writes streams).

use awcopy_store::{ByteStream, Checksums, CopySourceKind, ErrorKind, ObjectMeta, StoreError};
use futures::{StreamExt, TryStreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;

use super::executor::Executor;
use crate::body::BodyReader;
use crate::estimate::Route;
use crate::work::ObjectItem;

impl Executor {
    /// Runs a whole-object item: the object copied in one go along its route — one
    /// server-side request, or one GET and one PUT (one stream into a destination that
    /// writes streams). Source URLs are minted per request, so none expires mid-job.
    pub(crate) async fn run_whole(&self, item: &ObjectItem) -> Result<(), StoreError> {
        let (meta, dest_key) = (&item.source, item.dest_key.as_str());
        let Some(kind) = item.route.copy_source_kind() else {
            match self.plan.dest.capabilities().put_stream_memory {
                Some(memory) => self.copy_in_one_stream(meta, dest_key, memory).await?,
                None => self.copy_in_one_request(meta, dest_key).await?,
            }
            self.copied(Route::Streamed, meta.size);
            return Ok(());
        };
        if kind == CopySourceKind::Native && self.copy_as_is(meta, dest_key).await? {
            return Ok(());
        }
        // One slot for all its requests (look-up, copy, check), so the limit bounds every
        // request in flight.
        let _slot = self.concurrency.acquire().await;
        self.check_stop()?;
        if self.server_side.unreachable() {
            // The job fell back to streaming while this object waited for its slot.
            return Err(StoreError::new(
                ErrorKind::CopySourceUnreachable,
                "streaming instead",
            ));
        }
        let (source, dest) = (&self.plan.source, &self.plan.dest);
        let lifetime = self.options.url_lifetime;
        let head = self.retry(|| source.head(&meta.key)).await?;
        self.note_renamed_metadata(&head.attributes);
        let attributes = &head.attributes;
        self.server_side_request(self.retry(|| async {
            let from = source.copy_source(&meta.key, kind, lifetime).await?;
            dest.copy_object(dest_key, &from, attributes).await
        }))
        .await?;
        self.verify_dest(&head, dest_key).await?;
        self.copied(item.route, head.size);
        Ok(())
    }

    /// Whether an earlier run of `item`, queued at `queued`, copied it already: the
    /// destination holds an object of its size written since then (to the second: stores
    /// keep whole seconds), with its checksums where both sides tell them. Anything else,
    /// including a destination that cannot be read, means copying it (again).
    pub(crate) async fn copied_since(&self, item: &ObjectItem, queued: OffsetDateTime) -> bool {
        let Ok(written) = self.retry(|| self.plan.dest.head(&item.dest_key)).await else {
            return false;
        };
        let queued_second = queued.replace_nanosecond(0).unwrap_or(queued);
        written.size == item.source.size
            && written.last_modified.is_some_and(|t| t >= queued_second)
            && !item.source.checksums.contradicts(&written.checksums)
    }

    /// Counts an object of `size` bytes copied along `route`: streamed through this machine,
    /// or copied by the services themselves.
    pub(super) fn copied(&self, route: Route, size: u64) {
        let how = match route {
            Route::Streamed => &self.progress.bytes_streamed,
            _ => &self.progress.bytes_server_side,
        };
        how.fetch_add(size, Ordering::Relaxed);
        self.progress.bytes_done.fetch_add(size, Ordering::Relaxed);
    }

    /// Copies a whole object within one service that keeps its attributes itself: one
    /// request, no lookup first, verified by the ETag it answers (an MD5 equal to the
    /// source's), else by a look at the copy. `Ok(false)`: too big, or the store cannot.
    pub(super) async fn copy_as_is(
        &self,
        meta: &ObjectMeta,
        dest_key: &str,
    ) -> Result<bool, StoreError> {
        let (source, dest) = (&self.plan.source, &self.plan.dest);
        let single = self.route.single_request_limit(
            dest.capabilities(),
            self.options.block_size,
            self.options.cutoffs,
        );
        if meta.size > single {
            return Ok(false);
        }
        let _permit = self.concurrency.acquire().await;
        self.check_stop()?;
        let lifetime = self.options.url_lifetime;
        let copied = self
            .server_side_request(self.retry(|| async {
                let from = source
                    .copy_source(&meta.key, CopySourceKind::Native, lifetime)
                    .await?;
                dest.copy_object_as_is(dest_key, &from).await
            }))
            .await;
        let copied = match copied {
            Err(e) if e.kind() == ErrorKind::Unsupported => return Ok(false),
            other => other?,
        };
        let plain_md5 = meta.etag.as_deref().filter(|e| !e.contains('-'));
        if plain_md5.is_none() || copied.etag.as_deref() != plain_md5 {
            self.verify_dest(meta, dest_key).await?;
        }
        self.copied(Route::Native, meta.size);
        Ok(true)
    }

    /// After a server-side copy: the destination holds an object of the right size (and
    /// checksums, where both sides report one).
    pub(super) async fn verify_dest(
        &self,
        source: &ObjectMeta,
        dest_key: &str,
    ) -> Result<(), StoreError> {
        let written = self.retry(|| self.plan.dest.head(dest_key)).await?;
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

    /// A reader of a source body that must hold `expected` bytes (and match `verify`).
    pub(super) fn body_reader(
        &self,
        body: ByteStream,
        expected: u64,
        what: String,
        verify: Option<Checksums>,
    ) -> BodyReader<'_> {
        let timeout = self.options.stall_timeout;
        BodyReader::new(body, expected, what, verify, timeout, &self.limits)
    }

    /// One GET written as it arrives: memory holds only the destination's write buffer
    /// (`buffer` bytes), however large the object. Progress counts bytes as they arrive.
    pub(super) async fn copy_in_one_stream(
        &self,
        meta: &ObjectMeta,
        dest_key: &str,
        buffer: u64,
    ) -> Result<(), StoreError> {
        let (source, dest) = (&self.plan.source, &self.plan.dest);
        let _room = self.streaming_room(meta.size.min(buffer)).await;
        self.check_stop()?;
        let arrived = AtomicU64::new(0);
        let copied = self
            .retry(|| async {
                let got = source.get(&meta.key, None).await?;
                self.note_renamed_metadata(&got.meta.attributes);
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
                dest.put_stream(dest_key, body.boxed(), attributes).await
            })
            .await;
        // The caller counts the object once it is there; failed attempts count nothing.
        self.progress
            .bytes_done
            .fetch_sub(arrived.into_inner(), Ordering::Relaxed);
        copied.map(drop)
    }

    /// One GET read into memory, then one PUT.
    pub(super) async fn copy_in_one_request(
        &self,
        meta: &ObjectMeta,
        dest_key: &str,
    ) -> Result<(), StoreError> {
        let (source, dest) = (&self.plan.source, &self.plan.dest);
        let _room = self.streaming_room(meta.size).await;
        self.check_stop()?;
        self.retry(|| async {
            let got = source.get(&meta.key, None).await?;
            let what = format!("'{}'", meta.key);
            let verify = Some(got.meta.checksums);
            let (bytes, crc) = self
                .body_reader(got.body, meta.size, what, verify)
                .read_all()
                .await?;
            // The PUT is this attempt's second request.
            self.limits.request().await;
            self.note_renamed_metadata(&got.meta.attributes);
            let attributes = &got.meta.attributes;
            dest.put(dest_key, bytes, attributes, Some(crc)).await
        })
        .await
        .map(drop)
    }
}
