//! A store whose every request is counted in flight while it waits for its answer
//! ([`Concurrency::sending`]) and tells the limit on requests in flight how long that answer
//! took ([`Concurrency::observe`]): the round trip to a remote service, not the work around it (a
//! GET's answer is its headers, before its body is read and written anywhere). `auto`'s slow
//! start follows these times, each store's apart (its [`Lane`]). A local directory is not wrapped: its requests are this
//! machine's own I/O, not a round trip.

use async_trait::async_trait;
use awcopy_store::{
    ByteRange, Capabilities, CopySource, CopySourceKind, GetResult, ListRequest, ListStream,
    ObjectAttributes, ObjectMeta, PartReceipt, PutResult, Result, Store, UploadId,
};
use bytes::Bytes;
use futures::stream::BoxStream;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::concurrency::{Concurrency, Lane};

/// A remote store, timed.
#[derive(Debug)]
pub struct Timed {
    inner: Arc<dyn Store>,
    concurrency: Arc<Concurrency>,
    lane: Lane,
}

impl Timed {
    /// `store`, the copy's `lane`, with its requests' answers timed into `concurrency` (a
    /// local one as it is).
    pub fn wrap(
        store: Arc<dyn Store>,
        lane: Lane,
        concurrency: &Arc<Concurrency>,
    ) -> Arc<dyn Store> {
        if store.capabilities().service_id == "local" {
            return store;
        }
        Arc::new(Self {
            inner: store,
            concurrency: concurrency.clone(),
            lane,
        })
    }

    async fn timed<T>(&self, request: impl Future<Output = Result<T>>) -> Result<T> {
        let _in_flight = self.concurrency.sending();
        let sent = tokio::time::Instant::now();
        let answer = request.await;
        self.concurrency.observe(self.lane, sent.elapsed());
        answer
    }
}

#[async_trait]
impl Store for Timed {
    fn display_root(&self) -> String {
        self.inner.display_root()
    }

    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }

    fn mapped_name(&self, key: &str) -> Option<String> {
        self.inner.mapped_name(key)
    }

    fn mapped_metadata_name(&self, name: &str) -> Option<String> {
        self.inner.mapped_metadata_name(name)
    }

    fn list(&self, request: ListRequest) -> ListStream<'_> {
        self.inner.list(request)
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        self.timed(self.inner.head(key)).await
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<GetResult> {
        self.timed(self.inner.get(key, range)).await
    }

    async fn put(
        &self,
        key: &str,
        body: Bytes,
        attributes: &ObjectAttributes,
        crc64nvme: Option<u64>,
    ) -> Result<PutResult> {
        self.timed(self.inner.put(key, body, attributes, crc64nvme))
            .await
    }

    async fn put_stream(
        &self,
        key: &str,
        body: BoxStream<'_, Result<Bytes>>,
        attributes: &ObjectAttributes,
    ) -> Result<PutResult> {
        self.timed(self.inner.put_stream(key, body, attributes))
            .await
    }

    async fn create_upload(&self, key: &str, attributes: &ObjectAttributes) -> Result<UploadId> {
        self.timed(self.inner.create_upload(key, attributes)).await
    }

    async fn upload_part(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        offset: u64,
        body: Bytes,
        crc64nvme: Option<u64>,
    ) -> Result<PartReceipt> {
        self.timed(
            self.inner
                .upload_part(key, upload, number, offset, body, crc64nvme),
        )
        .await
    }

    async fn upload_part_copy(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        source: &CopySource,
        range: ByteRange,
    ) -> Result<PartReceipt> {
        self.timed(
            self.inner
                .upload_part_copy(key, upload, number, source, range),
        )
        .await
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload: &UploadId,
        parts: &[PartReceipt],
        attributes: &ObjectAttributes,
        crc64nvme: Option<u64>,
    ) -> Result<PutResult> {
        self.timed(
            self.inner
                .complete_upload(key, upload, parts, attributes, crc64nvme),
        )
        .await
    }

    async fn abort_upload(&self, key: &str, upload: &UploadId) -> Result<()> {
        self.timed(self.inner.abort_upload(key, upload)).await
    }

    async fn list_parts(&self, key: &str, upload: &UploadId) -> Result<Vec<PartReceipt>> {
        self.timed(self.inner.list_parts(key, upload)).await
    }

    async fn copy_object(
        &self,
        key: &str,
        source: &CopySource,
        attributes: &ObjectAttributes,
    ) -> Result<PutResult> {
        self.timed(self.inner.copy_object(key, source, attributes))
            .await
    }

    async fn copy_object_as_is(&self, key: &str, source: &CopySource) -> Result<PutResult> {
        self.timed(self.inner.copy_object_as_is(key, source)).await
    }

    async fn copy_source(
        &self,
        key: &str,
        kind: CopySourceKind,
        valid_for: Duration,
    ) -> Result<CopySource> {
        self.inner.copy_source(key, kind, valid_for).await
    }

    async fn create_root(&self) -> Result<()> {
        self.timed(self.inner.create_root()).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.timed(self.inner.delete(key)).await
    }

    async fn tidy(&self) -> Result<()> {
        self.inner.tidy().await
    }
}
