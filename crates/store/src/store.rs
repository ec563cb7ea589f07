//! The `Store` trait: every operation the engine needs from a storage service.

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use std::time::Duration;

use crate::capabilities::{Capabilities, CopySourceKind};
use crate::error::Result;
use crate::object::{
    ByteRange, CopySource, GetResult, ListRequest, ListStream, ObjectAttributes, ObjectMeta,
    PartReceipt, PutResult, UploadId,
};

/// A bucket, container or directory, seen as a flat key space of objects.
///
/// Keys are relative to the store's root. Every method is safe to call concurrently.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// A human-readable location of the store's root, without any secret (for messages).
    fn display_root(&self) -> String;

    /// What this store can do.
    fn capabilities(&self) -> &Capabilities;

    /// The name under which this store can hold `key`, when it cannot hold `key` as written
    /// (see [`crate::names`]); `None` when `key` is fine as it is.
    fn mapped_name(&self, key: &str) -> Option<String>;

    /// The name under which this store keeps a user metadata entry `name`, when it cannot
    /// keep `name` as written; `None` when `name` is fine. Writes rename such entries
    /// themselves and reads give the original names back.
    fn mapped_metadata_name(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }

    /// Lists keys page by page, in the store's key order.
    fn list(&self, request: ListRequest) -> ListStream<'_>;

    /// The object's metadata in full, including tags.
    async fn head(&self, key: &str) -> Result<ObjectMeta>;

    /// Reads the object, or the given range of it, as a byte stream. The result's metadata
    /// carries the object's attributes (content headers, user metadata, tags).
    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<GetResult>;

    /// Writes a whole object in one request, recording its CRC-64/NVME when given (S3 checks
    /// it on receipt; Azure keeps it in metadata).
    async fn put(
        &self,
        key: &str,
        body: Bytes,
        attributes: &ObjectAttributes,
        crc64nvme: Option<u64>,
    ) -> Result<PutResult>;

    /// Writes a whole object from `body` as it arrives, keeping at most
    /// [`Capabilities::put_stream_memory`] bytes of it in memory. The object appears only once
    /// the stream has ended without error; an error item leaves nothing behind. Stores that
    /// cannot answer [`crate::ErrorKind::Unsupported`].
    async fn put_stream(
        &self,
        key: &str,
        body: BoxStream<'_, Result<Bytes>>,
        attributes: &ObjectAttributes,
    ) -> Result<PutResult> {
        let _ = (key, body, attributes);
        Err(crate::StoreError::new(
            crate::ErrorKind::Unsupported,
            format!("{} cannot write a stream", self.display_root()),
        ))
    }

    /// Starts a block / multipart upload.
    async fn create_upload(&self, key: &str, attributes: &ObjectAttributes) -> Result<UploadId>;

    /// Uploads part `number` (1-based) of an upload, with its CRC-64/NVME when known. `offset`
    /// is where the part's bytes start in the object: a store that writes in place (a local
    /// file) puts them there; S3 and Azure join parts by number.
    async fn upload_part(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        offset: u64,
        body: Bytes,
        crc64nvme: Option<u64>,
    ) -> Result<PartReceipt>;

    /// Uploads part `number` server-side from a range of another object.
    async fn upload_part_copy(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        source: &CopySource,
        range: ByteRange,
    ) -> Result<PartReceipt>;

    /// Commits the upload with `parts` in order; the object becomes visible only now. The
    /// whole object's CRC-64/NVME, when given, is recorded as with [`Store::put`].
    async fn complete_upload(
        &self,
        key: &str,
        upload: &UploadId,
        parts: &[PartReceipt],
        attributes: &ObjectAttributes,
        crc64nvme: Option<u64>,
    ) -> Result<PutResult>;

    /// Abandons the upload and frees what it staged, as far as the service allows.
    async fn abort_upload(&self, key: &str, upload: &UploadId) -> Result<()>;

    /// Parts already staged for the upload (to resume it).
    async fn list_parts(&self, key: &str, upload: &UploadId) -> Result<Vec<PartReceipt>>;

    /// Copies a whole object server-side.
    async fn copy_object(
        &self,
        key: &str,
        source: &CopySource,
        attributes: &ObjectAttributes,
    ) -> Result<PutResult>;

    /// Copies a whole object within this service keeping the content headers, metadata and
    /// tags the source has, without the caller looking them up first. Stores that cannot
    /// answer [`crate::ErrorKind::Unsupported`].
    async fn copy_object_as_is(&self, key: &str, source: &CopySource) -> Result<PutResult> {
        let _ = (key, source);
        Err(crate::StoreError::new(
            crate::ErrorKind::Unsupported,
            format!("{} cannot copy an object as it is", self.display_root()),
        ))
    }

    /// A source of `kind` from which another store can copy `key` server-side: a native
    /// reference, or a read URL (presigned GET, SAS) valid for `valid_for`.
    async fn copy_source(
        &self,
        key: &str,
        kind: CopySourceKind,
        valid_for: Duration,
    ) -> Result<CopySource>;

    /// Creates the bucket, container or directory this store is rooted at, if it is missing.
    async fn create_root(&self) -> Result<()>;

    /// Deletes the object. Deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<()>;

    /// Removes what the store keeps for writes in progress once none is left (the local
    /// store's staging directory, when it is empty); nothing for the clouds. Called when a
    /// copy into the store ends.
    async fn tidy(&self) -> Result<()> {
        Ok(())
    }
}
