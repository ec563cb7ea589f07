//! The object model shared by every backend: what a listing returns, what a write carries, and
//! the receipts of block / multipart uploads.

use bytes::Bytes;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

use crate::error::Result;

/// Checksums a store reports for a whole object.
///
/// Here and in [`ObjectAttributes`] and [`ObjectMeta`], an optional field that is `None` is left
/// out of the JSON (the catalogue's copy, the agents' work items): serde reads a missing `Option`
/// as `None`, so readers built before this still read it. Maps and `last_modified` are always
/// written, since those readers require them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksums {
    /// CRC-64/NVME of the whole object (S3 `x-amz-checksum-crc64nvme`, Azure `x-ms-content-crc64`
    /// holds the same polynomial in opposite byte order).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crc64nvme: Option<u64>,
    /// MD5 of the whole object, where the store knows it (Azure Content-MD5, S3 single-part ETag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<[u8; 16]>,
}

impl Checksums {
    /// Whether a checksum both sides know differs: the two cannot hold the same bytes.
    pub fn contradicts(&self, other: &Checksums) -> bool {
        fn differ<T: PartialEq>(a: Option<T>, b: Option<T>) -> bool {
            matches!((a, b), (Some(a), Some(b)) if a != b)
        }
        differ(self.crc64nvme, other.crc64nvme) || differ(self.md5, other.md5)
    }
}

/// The attributes that travel with an object's bytes and that a copy preserves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectAttributes {
    /// `Content-Type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `Content-Encoding`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// `Content-Language`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// `Content-Disposition`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    /// `Cache-Control`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// User metadata (S3 `x-amz-meta-*`, Azure `x-ms-meta-*`), names lowercased by S3.
    pub user_metadata: BTreeMap<String, String>,
    /// Object tags (S3 object tagging, Azure blob index tags).
    pub tags: BTreeMap<String, String>,
}

/// What a store knows of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The key, relative to the store's root (bucket / container / directory).
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// The entity tag as the store reports it, quotes removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Last modification time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_modified: Option<OffsetDateTime>,
    /// Content headers, user metadata and tags. From a listing these may be partial (tags in
    /// particular); [`crate::Store::head`] returns them in full.
    pub attributes: ObjectAttributes,
    /// Checksums the store reported.
    pub checksums: Checksums,
}

impl ObjectMeta {
    /// An object with only a key and a size known.
    pub fn new(key: impl Into<String>, size: u64) -> Self {
        Self {
            key: key.into(),
            size,
            etag: None,
            last_modified: None,
            attributes: ObjectAttributes::default(),
            checksums: Checksums::default(),
        }
    }
}

/// A request for one page range of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRequest {
    /// Only keys that start with this prefix.
    pub prefix: String,
    /// Only keys strictly greater than this one (byte-wise).
    pub start_after: Option<String>,
    /// Only keys strictly less than this one; the listing stops at the first key at or past it.
    pub end_before: Option<String>,
    /// Keys per page requested from the service (it may return fewer); `None` for its maximum.
    pub page_size: Option<u32>,
    /// Group keys by this delimiter into common prefixes (a "directory" listing).
    pub delimiter: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// The objects on this page, in the store's key order.
    pub objects: Vec<ObjectMeta>,
    /// Common prefixes, when the request had a delimiter.
    pub prefixes: Vec<String>,
}

/// A stream of listing pages.
pub type ListStream<'a> = BoxStream<'a, Result<ListPage>>;

/// A stream of the bytes of an object or a range of it.
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// A half-open byte range `[start, end)` of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl ByteRange {
    /// The number of bytes in the range.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the range holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// The HTTP `Range` header value (`bytes=start-last`); `None` for an empty range.
    pub fn http_header(&self) -> Option<String> {
        (!self.is_empty()).then(|| format!("bytes={}-{}", self.start, self.end - 1))
    }
}

/// An open read of an object: its metadata and its bytes as a stream.
pub struct GetResult {
    /// The object as the store described it in the response.
    pub meta: ObjectMeta,
    /// The bytes of the requested range (or the whole object).
    pub body: ByteStream,
}

/// An identifier of a block / multipart upload in progress, as the backend issued it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UploadId(pub String);

/// One part (S3) or block (Azure) of an upload, as staged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartReceipt {
    /// 1-based part number; parts commit in this order.
    pub number: u32,
    /// The backend's handle for the part: an S3 part ETag, an Azure block id.
    pub handle: String,
    /// The size of the part, when known.
    pub size: Option<u64>,
    /// The CRC-64/NVME the part was sent with, if any.
    pub crc64nvme: Option<u64>,
}

/// The result of a completed write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutResult {
    /// The new object's entity tag.
    pub etag: Option<String>,
}

/// Where a server-side copy reads from.
#[derive(Clone, PartialEq, Eq)]
pub enum CopySource {
    /// An object in the same service as the destination ([`crate::Capabilities::service_id`]
    /// equal), copied natively.
    Native {
        /// The bucket or container holding the source.
        container: String,
        /// The source key.
        key: String,
    },
    /// A URL the destination service can read from, such as a presigned GET or a SAS URL.
    Url(crate::SecretUrl),
    /// A file of a local directory, for another local directory to copy.
    File(crate::local::file::LocalFile),
}

impl std::fmt::Debug for CopySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Native { container, key } => write!(f, "Native({container}/{key})"),
            Self::Url(url) => write!(f, "Url({url})"),
            Self::File(file) => write!(f, "{file:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `skip_serializing_if` changes only what is written, so deserializing with these types is
    /// what a reader built before it does with the shorter JSON.
    #[test]
    fn fields_not_known_are_left_out_and_still_read_as_none() {
        let bare = ObjectMeta::new("k", 1);
        let json = serde_json::to_string(&bare).unwrap();
        assert_eq!(
            json,
            r#"{"key":"k","size":1,"last_modified":null,"attributes":{"user_metadata":{},"tags":{}},"checksums":{}}"#
        );
        assert_eq!(serde_json::from_str::<ObjectMeta>(&json).unwrap(), bare);
    }
}
