//! Storage backends for awcopy: the [`Store`] trait, its S3, Azure Blob and local-disk
//! implementations, location parsing and credentials.

#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod azure;
mod capabilities;
pub mod changes;
mod error;
pub mod local;
pub mod location;
pub mod names;
mod object;
pub mod reach;
pub mod redact;
pub mod s3;
mod secret;
mod store;

pub use capabilities::{Capabilities, CopySourceKind, KeyOrder};
pub use error::{ErrorKind, Result, StoreError};
pub use location::{Location, Provider};
pub use object::{
    ByteRange, ByteStream, Checksums, CopySource, GetResult, ListPage, ListRequest, ListStream,
    ObjectAttributes, ObjectMeta, PartReceipt, PutResult, UploadId,
};
pub use reach::{Reach, Reached};
pub use secret::{Secret, SecretUrl};
pub use store::Store;

use std::sync::Arc;

/// Options that apply to opening any store.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Endpoint override for S3 (`--endpoint-url`); `AWS_ENDPOINT_URL(_S3)` is read otherwise.
    pub s3_endpoint: Option<String>,
    /// Server-side encryption for writes.
    pub encryption: Option<Encryption>,
    /// Local stores: the directory the store's root must lie beneath, opened without
    /// following a symlink out of it (set by a [`Reach`]).
    pub confine: Option<std::path::PathBuf>,
}

/// Server-side encryption applied to objects written.
#[derive(Clone, PartialEq, Eq)]
pub enum Encryption {
    /// S3 managed keys (SSE-S3, AES256).
    S3Managed,
    /// AWS KMS (SSE-KMS), with an optional key id.
    S3Kms(Option<String>),
    /// S3 customer-provided 256-bit key (SSE-C).
    S3CustomerKey(Secret),
    /// Azure customer-provided 256-bit key.
    AzureCustomerKey(Secret),
    /// Azure encryption scope.
    AzureScope(String),
}

impl Encryption {
    /// Whether it is one of S3's kinds (SSE-S3, SSE-KMS, SSE-C), else one of Azure's.
    pub fn is_s3_kind(&self) -> bool {
        matches!(
            self,
            Self::S3Managed | Self::S3Kms(_) | Self::S3CustomerKey(_)
        )
    }
}

/// Why encryption of one of S3's kinds (`s3_kind`), else of Azure's, cannot apply to objects
/// written to a store of `provider`, if it cannot: the one rule for a job spec's check and
/// for opening a store.
pub fn encryption_misfit(s3_kind: bool, provider: Provider) -> Option<&'static str> {
    match provider {
        Provider::Azure if s3_kind => {
            Some("sse-s3, sse-kms and sse-c apply to S3 destinations; for Azure use cpk or scope")
        }
        Provider::S3 if !s3_kind => {
            Some("cpk and scope apply to Azure destinations; for S3 use sse-s3, sse-kms or sse-c")
        }
        Provider::Local => Some("applies to S3 and Azure destinations, not to local paths"),
        _ => None,
    }
}

impl OpenOptions {
    /// Refuses an encryption that a store of `provider` cannot apply.
    pub(crate) fn refuse_misfit(&self, provider: Provider) -> Result<()> {
        let misfit = self
            .encryption
            .as_ref()
            .and_then(|e| encryption_misfit(e.is_s3_kind(), provider));
        match misfit {
            Some(misfit) => Err(StoreError::usage(format!("encryption: {misfit}"))),
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::S3Managed => f.write_str("S3Managed"),
            Self::S3Kms(key) => write!(f, "S3Kms({key:?})"),
            Self::S3CustomerKey(_) => f.write_str("S3CustomerKey(REDACTED)"),
            Self::AzureCustomerKey(_) => f.write_str("AzureCustomerKey(REDACTED)"),
            Self::AzureScope(scope) => write!(f, "AzureScope({scope})"),
        }
    }
}

/// Opens the store a location names, with credentials from the environment.
pub async fn open(location: &Location, options: &OpenOptions) -> Result<Arc<dyn Store>> {
    Ok(match location.provider() {
        Provider::S3 => Arc::new(s3::S3Store::open(location, options).await?),
        Provider::Azure => Arc::new(azure::AzureStore::open(location, options)?),
        Provider::Local => Arc::new(local::LocalStore::open(location, options)?),
    })
}
