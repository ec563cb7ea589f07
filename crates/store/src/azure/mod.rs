//! Azure Blob Storage (and Azurite), on the official `azure_storage_blob` SDK with Shared Key
//! signing added to its pipeline ([`shared_key`]) and SAS minting for copy sources ([`sas`]).

pub mod credentials;
pub mod sas;
pub mod shared_key;

use async_trait::async_trait;
use azure_core::http::policies::Policy;
use azure_core::http::{RequestContent, RetryOptions};
use azure_storage_blob::models::{
    BlobClientDownloadOptions, BlobClientGetPropertiesOptions,
    BlobClientGetPropertiesResultHeaders, BlockBlobClientCommitBlockListOptions,
    BlockBlobClientStageBlockFromUrlOptions, BlockBlobClientStageBlockOptions,
    BlockBlobClientUploadBlobFromUrlOptions, BlockBlobClientUploadOptions, BlockListType,
    BlockLookupList, EncryptionAlgorithmType, HttpRange,
};
use azure_storage_blob::{BlobClient, BlobContainerClient, BlobContainerClientOptions};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use futures::{stream, StreamExt, TryStreamExt};
use sha2::Digest as _;
use std::collections::{BTreeMap, HashMap};
use std::num::NonZero;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

use crate::capabilities::{Capabilities, CopySourceKind, KeyOrder};
use crate::error::{ErrorKind, Result, StoreError};
use crate::object::*;
use crate::secret::Secret;
use crate::{Encryption, Location, OpenOptions, SecretUrl, Store};
use credentials::AzureAuth;
use sas::SasGrant;

const MIB: u64 = 1 << 20;

/// The longest blob name Azure takes, in bytes (1,024 characters; bytes is the safe bound).
const MAX_NAME_BYTES: usize = 1024;

/// An Azure Blob container as a store.
pub struct AzureStore {
    container: BlobContainerClient,
    account: String,
    container_name: String,
    /// The container URL without any SAS, for building copy-source URLs.
    container_url: Url,
    auth: AzureAuth,
    encryption: Option<Encryption>,
    capabilities: Capabilities,
    /// Cleared once the service answers Put Blob From URL with 501 Not Implemented.
    put_blob_from_url: AtomicBool,
}

impl std::fmt::Debug for AzureStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AzureStore({}, {:?})", self.display_root(), self.auth)
    }
}

/// Content headers, metadata (with the whole-blob CRC-64/NVME, when known) and tags, for option
/// structs that create a blob.
macro_rules! with_attributes {
    ($options:expr, $attrs:expr, $crc:expr) => {{
        let attrs: &ObjectAttributes = $attrs;
        let crc: Option<u64> = $crc;
        let mut options = $options;
        options.blob_content_type = attrs.content_type.clone();
        options.blob_content_encoding = attrs.content_encoding.clone();
        options.blob_content_language = attrs.content_language.clone();
        options.blob_content_disposition = attrs.content_disposition.clone();
        options.blob_cache_control = attrs.cache_control.clone();
        let metadata = blob_metadata(attrs, crc);
        options.metadata = (!metadata.is_empty()).then_some(metadata);
        if attrs.tags.is_empty() {
            options
        } else {
            options.with_tags(attrs.tags.clone().into_iter().collect::<HashMap<_, _>>())
        }
    }};
}

/// The content headers of a listing's or a download's blob properties (the SDK has one type
/// for each, with the same fields).
macro_rules! content_headers {
    ($properties:expr) => {
        ObjectAttributes {
            content_type: $properties.content_type,
            content_encoding: $properties.content_encoding,
            content_language: $properties.content_language,
            content_disposition: $properties.content_disposition,
            cache_control: $properties.cache_control,
            user_metadata: BTreeMap::new(),
            tags: BTreeMap::new(),
        }
    };
}

/// Customer-provided key headers, for option structs that read or write blob content.
macro_rules! with_customer_key {
    ($options:expr, $encryption:expr) => {{
        let mut options = $options;
        if let Some(Encryption::AzureCustomerKey(key)) = $encryption {
            let (key, sha) = customer_key_headers(key);
            options.encryption_algorithm = Some(EncryptionAlgorithmType::Aes256);
            options.encryption_key = Some(key);
            options.encryption_key_sha256 = Some(sha);
        }
        options
    }};
}

/// Customer key or encryption scope, for option structs that write blob content.
macro_rules! with_write_encryption {
    ($options:expr, $encryption:expr) => {{
        let mut options = with_customer_key!($options, $encryption);
        if let Some(Encryption::AzureScope(scope)) = $encryption {
            options.encryption_scope = Some(scope.clone());
        }
        options
    }};
}

// After the macros above, which they use.
pub(crate) mod errors;
mod listing;
mod metadata;

use errors::map_error;
use listing::ListCursor;
use metadata::{blob_metadata, split_metadata};
pub use metadata::{crc64_bytes, CRC_METADATA, NAMES_METADATA};

/// The base64 key and base64 SHA-256 of the key, from a base64-encoded 256-bit key.
fn customer_key_headers(key: &Secret) -> (String, String) {
    let raw = B64.decode(key.expose()).unwrap_or_default();
    (
        key.expose().to_owned(),
        B64.encode(sha2::Sha256::digest(&raw)),
    )
}

/// The deterministic block id of part `number` of upload `upload`: any agent can stage any
/// block, and a resumed upload finds the blocks already staged.
fn block_id(upload: &UploadId, number: u32) -> Vec<u8> {
    format!("{}-{number:06}", upload.0).into_bytes()
}

fn part_number_of(upload: &UploadId, id: &[u8]) -> Option<u32> {
    let id = std::str::from_utf8(id).ok()?;
    id.strip_prefix(&upload.0)?.strip_prefix('-')?.parse().ok()
}

impl AzureStore {
    /// Opens the container a location names, with credentials resolved as
    /// [`credentials::resolve`] describes.
    pub fn open(location: &Location, options: &OpenOptions) -> Result<Self> {
        let Location::Azure {
            account,
            container,
            endpoint,
            sas,
            ..
        } = location
        else {
            return Err(StoreError::usage(format!(
                "{location} is not an Azure location"
            )));
        };
        options.refuse_misfit(crate::Provider::Azure)?;
        let access = credentials::resolve(account, endpoint.as_ref(), sas.as_ref())?;
        let mut container_url = access.endpoint.clone();
        container_url
            .path_segments_mut()
            .map_err(|()| {
                StoreError::usage(format!("{} cannot be a blob endpoint", access.endpoint))
            })?
            .push(container);

        let mut client_options = BlobContainerClientOptions::default();
        // The engine retries, classifies and slows down on throttling itself: the SDK must not
        // hide those answers behind its own retries.
        client_options.client_options.retry = RetryOptions::none();
        let mut client_url = container_url.clone();
        let mut token = None;
        match &access.auth {
            AzureAuth::SharedKey(key) => {
                let policy: Arc<dyn Policy> =
                    Arc::new(shared_key::SharedKeyPolicy::new(account, key.clone()));
                client_options.client_options.per_try_policies.push(policy);
            }
            AzureAuth::Sas(sas) => client_url.set_query(Some(sas.expose())),
            AzureAuth::Token(credential) => {
                if client_url.scheme() != "https" {
                    return Err(StoreError::usage(format!(
                        "{location}: Microsoft Entra ID sign-in needs an https endpoint; for an emulator set AZURE_STORAGE_CONNECTION_STRING"
                    )));
                }
                token = Some(credential.clone());
            }
        }
        let client = BlobContainerClient::new(client_url, token, Some(client_options))
            .map_err(|e| map_error(e, &format!("open {location}")))?;
        let presign = !matches!(access.auth, AzureAuth::Token(_));
        Ok(Self {
            container: client,
            account: account.clone(),
            container_name: container.clone(),
            capabilities: Capabilities {
                service_id: format!("azure:{}", access.endpoint),
                native_copy: false,
                copy_from_url: true,
                presign,
                max_parts: 50_000,
                min_part_size: 1,
                max_part_size: 4000 * MIB,
                max_single_put: 5000 * MIB,
                max_single_copy: 5000 * MIB,
                put_stream_memory: None,
                ranged_listing: true,
                key_order: KeyOrder::Utf16,
            },
            container_url,
            auth: access.auth,
            encryption: options.encryption.clone(),
            put_blob_from_url: AtomicBool::new(true),
        })
    }

    /// The SDK client for a blob.
    fn blob(&self, key: &str) -> BlobClient {
        self.container.blob_client(key)
    }

    /// Refuses names Azure would store under another name (it reads `\\` as `/`) or not at
    /// all (over 1,024 characters).
    fn check_writable_name(key: &str) -> Result<()> {
        if !key.is_empty() && key.trim().is_empty() {
            // Azurite stores such a blob and never lists it; Azure does not support them.
            return Err(StoreError::usage(format!(
                "key '{key}' cannot be a blob name as written: Azure does not keep names made only of white space"
            )));
        }
        if key.contains('\\') {
            return Err(StoreError::usage(format!(
                "key '{key}' cannot be a blob name as written: Azure reads '\\' as '/'"
            )));
        }
        if key.ends_with('.') {
            return Err(StoreError::usage(format!(
                "key '{key}' cannot be a blob name as written: Azure drops a trailing '.'"
            )));
        }
        if key.len() > MAX_NAME_BYTES {
            return Err(StoreError::usage(format!(
                "key '{key}' cannot be a blob name: longer than {MAX_NAME_BYTES} bytes"
            )));
        }
        Ok(())
    }

    /// Stages block `id` of `key` from `url` (the whole source, or `range` of it); `what`
    /// names the operation in errors.
    async fn stage_from_url(
        &self,
        key: &str,
        id: &[u8],
        url: &SecretUrl,
        range: Option<ByteRange>,
        what: &str,
    ) -> Result<()> {
        let options = with_write_encryption!(
            BlockBlobClientStageBlockFromUrlOptions {
                source_range: range.map(|r| HttpRange::new(r.start, r.len())),
                ..Default::default()
            },
            &self.encryption
        );
        self.blob(key)
            .block_blob_client()
            .stage_block_from_url(id, 0, url.expose().to_string(), Some(options))
            .await
            .map_err(|e| map_error(e, what))?;
        Ok(())
    }

    /// Copies a whole blob from a URL as one staged block plus a commit: the fallback for
    /// services without Put Blob From URL (Azurite answers it with 501).
    async fn copy_by_block(
        &self,
        key: &str,
        url: &SecretUrl,
        attributes: &ObjectAttributes,
    ) -> Result<PutResult> {
        let upload = self.create_upload(key, attributes).await?;
        let id = block_id(&upload, 1);
        self.stage_from_url(key, &id, url, None, &format!("copy to '{key}' (staging)"))
            .await?;
        let part = PartReceipt {
            number: 1,
            handle: B64.encode(&id),
            size: None,
            crc64nvme: None,
        };
        self.complete_upload(key, &upload, &[part], attributes, None)
            .await
    }

    /// The SDK client of the container, for tests and tools that need an operation the trait lacks.
    pub fn container_client(&self) -> &BlobContainerClient {
        &self.container
    }

    /// The blob's URL without credentials.
    fn blob_url(&self, key: &str) -> Url {
        let mut url = self.container_url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push(key);
        }
        url
    }

    async fn tags(&self, key: &str) -> Result<BTreeMap<String, String>> {
        let tags = self
            .blob(key)
            .get_tags(None)
            .await
            .and_then(|r| r.into_model())
            .map_err(|e| map_error(e, &format!("get tags of '{key}'")))?;
        Ok(HashMap::<String, String>::from(tags).into_iter().collect())
    }
}

#[async_trait]
impl Store for AzureStore {
    fn display_root(&self) -> String {
        format!("az://{}/{}", self.account, self.container_name)
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn mapped_metadata_name(&self, name: &str) -> Option<String> {
        crate::names::identifier(name)
    }

    fn mapped_name(&self, key: &str) -> Option<String> {
        Self::check_writable_name(key).err()?;
        if key.trim().is_empty() {
            let every: Vec<char> = key.chars().collect();
            return Some(crate::names::escape_chars(key, &every));
        }
        let mut mapped = crate::names::escape_chars(key, &['\\']);
        if mapped.ends_with('.') {
            mapped.pop();
            mapped.push_str("%2E");
        }
        let crc = |b: &[u8]| crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, b);
        Some(if mapped.len() > MAX_NAME_BYTES {
            crate::names::shorten(&mapped, MAX_NAME_BYTES, crc)
        } else {
            mapped
        })
    }

    fn list(&self, request: ListRequest) -> ListStream<'_> {
        let first = ListCursor {
            marker: None,
            start_from: request.start_after.clone(),
        };
        stream::try_unfold(Some(first), move |cursor: Option<ListCursor>| {
            let request = request.clone();
            async move {
                let Some(cursor) = cursor else {
                    return Ok(None);
                };
                let (page, next) = self.list_page(&request, cursor).await?;
                Ok(Some((page, next.map(Some).unwrap_or(None))))
            }
        })
        .boxed()
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        let options =
            with_customer_key!(BlobClientGetPropertiesOptions::default(), &self.encryption);
        let response = self
            .blob(key)
            .get_properties(Some(options))
            .await
            .map_err(|e| map_error(e, &format!("head {}/{key}", self.display_root())))?;
        let header_error = |e: azure_core::Error| map_error(e, &format!("head '{key}'"));
        let mut meta = ObjectMeta::new(
            key,
            response
                .content_length()
                .map_err(header_error)?
                .unwrap_or(0),
        );
        meta.etag = response
            .etag()
            .map_err(header_error)?
            .map(|e| e.to_string().trim_matches('"').to_owned());
        meta.last_modified = response.last_modified().map_err(header_error)?;
        meta.checksums.md5 = response
            .content_md5()
            .map_err(header_error)?
            .and_then(|m| m.try_into().ok());
        let tag_count = response.tag_count().map_err(header_error)?.unwrap_or(0);
        meta.attributes = ObjectAttributes {
            content_type: response.content_type().map_err(header_error)?,
            content_encoding: response.content_encoding().map_err(header_error)?,
            content_language: response.content_language().map_err(header_error)?,
            content_disposition: response.content_disposition().map_err(header_error)?,
            cache_control: response.cache_control().map_err(header_error)?,
            user_metadata: BTreeMap::new(),
            tags: if tag_count > 0 {
                self.tags(key).await?
            } else {
                BTreeMap::new()
            },
        };
        (meta.attributes.user_metadata, meta.checksums.crc64nvme) =
            split_metadata(response.metadata().map_err(header_error)?);
        Ok(meta)
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<GetResult> {
        let range = range.filter(|r| !r.is_empty());
        let options = with_customer_key!(
            BlobClientDownloadOptions {
                range: range.map(|r| HttpRange::new(r.start, r.len())),
                parallel: NonZero::new(1),
                partition_size: range
                    .and_then(|r| NonZero::new(r.len() as usize))
                    .or(NonZero::new(usize::MAX)),
                ..Default::default()
            },
            &self.encryption
        );
        let result = self
            .blob(key)
            .download(Some(options))
            .await
            .map_err(|e| map_error(e, &format!("get '{key}'")))?;
        let properties = result.properties;
        let mut meta = ObjectMeta::new(key, properties.content_length.unwrap_or(0));
        meta.etag = properties
            .etag
            .map(|e| e.to_string().trim_matches('"').to_owned());
        meta.last_modified = properties.last_modified;
        let tag_count = result
            .headers
            .get_optional_str(&azure_core::http::headers::HeaderName::from_static(
                "x-ms-tag-count",
            ))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        let (user_metadata, crc) = split_metadata(properties.metadata);
        meta.checksums.crc64nvme = crc;
        meta.attributes = ObjectAttributes {
            user_metadata,
            tags: if tag_count > 0 {
                self.tags(key).await?
            } else {
                BTreeMap::new()
            },
            ..content_headers!(properties)
        };
        let what = format!("read '{key}'");
        let body = result.body.map_err(move |e| map_error(e, &what)).boxed();
        Ok(GetResult { meta, body })
    }

    async fn put(
        &self,
        key: &str,
        body: Bytes,
        attributes: &ObjectAttributes,
        crc64nvme: Option<u64>,
    ) -> Result<PutResult> {
        Self::check_writable_name(key)?;
        let single_request = NonZero::new((body.len() as u64).max(1)).expect("non-zero");
        let options = BlockBlobClientUploadOptions {
            parallel: NonZero::new(1),
            partition_size: Some(single_request),
            ..Default::default()
        };
        let options = with_write_encryption!(
            with_attributes!(options, attributes, crc64nvme),
            &self.encryption
        );
        let result = self
            .blob(key)
            .upload(body.into(), Some(options))
            .await
            .map_err(|e| map_error(e, &format!("put '{key}'")))?;
        Ok(PutResult {
            etag: result
                .etag
                .map(|e| e.to_string().trim_matches('"').to_owned()),
        })
    }

    async fn create_upload(&self, key: &str, _attributes: &ObjectAttributes) -> Result<UploadId> {
        // Azure has no upload session: blocks are staged against the blob name and committed
        // by list. The id only makes this upload's block ids unique and deterministic.
        Self::check_writable_name(key)?;
        Ok(UploadId(
            uuid::Uuid::new_v4().simple().to_string()[..16].to_owned(),
        ))
    }

    async fn upload_part(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        _offset: u64,
        body: Bytes,
        crc64nvme: Option<u64>,
    ) -> Result<PartReceipt> {
        let size = body.len() as u64;
        let id = block_id(upload, number);
        let options = with_write_encryption!(
            BlockBlobClientStageBlockOptions {
                transactional_content_crc64: crc64nvme.map(crc64_bytes),
                ..Default::default()
            },
            &self.encryption
        );
        self.blob(key)
            .block_blob_client()
            .stage_block(&id, size, body.into(), Some(options))
            .await
            .map_err(|e| map_error(e, &format!("stage block {number} of '{key}'")))?;
        Ok(PartReceipt {
            number,
            handle: B64.encode(&id),
            size: Some(size),
            crc64nvme,
        })
    }

    async fn upload_part_copy(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        source: &CopySource,
        range: ByteRange,
    ) -> Result<PartReceipt> {
        let CopySource::Url(url) = source else {
            return Err(StoreError::new(
                ErrorKind::Unsupported,
                "Azure copies server-side from a URL only (SAS or presigned)",
            ));
        };
        let id = block_id(upload, number);
        let source_range = (!range.is_empty()).then_some(range);
        self.stage_from_url(
            key,
            &id,
            url,
            source_range,
            &format!("stage block {number} of '{key}' from URL"),
        )
        .await?;
        Ok(PartReceipt {
            number,
            handle: B64.encode(&id),
            size: Some(range.len()),
            crc64nvme: None,
        })
    }

    async fn complete_upload(
        &self,
        key: &str,
        _upload: &UploadId,
        parts: &[PartReceipt],
        attributes: &ObjectAttributes,
        crc64nvme: Option<u64>,
    ) -> Result<PutResult> {
        let ids = parts
            .iter()
            .map(|p| B64.decode(&p.handle))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| StoreError::usage("a part receipt holds a block id that is not base64"))?;
        let list = BlockLookupList {
            latest: Some(ids),
            ..Default::default()
        };
        let content =
            RequestContent::try_from(list).map_err(|e| map_error(e, &format!("commit '{key}'")))?;
        let commit_options = BlockBlobClientCommitBlockListOptions::default();
        let options = with_write_encryption!(
            with_attributes!(commit_options, attributes, crc64nvme),
            &self.encryption
        );
        let response = self
            .blob(key)
            .block_blob_client()
            .commit_block_list(content, Some(options))
            .await
            .map_err(|e| map_error(e, &format!("commit '{key}'")))?;
        let etag = response
            .headers()
            .get_optional_str(&azure_core::http::headers::ETAG)
            .map(|e| e.trim_matches('"').to_owned());
        Ok(PutResult { etag })
    }

    async fn abort_upload(&self, key: &str, _upload: &UploadId) -> Result<()> {
        // Azure cannot drop staged blocks directly. When no blob of that name exists, putting
        // and deleting an empty one discards them; an existing blob is left as it is, and its
        // uncommitted blocks expire after seven days.
        match self.head(key).await {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.put(key, Bytes::new(), &ObjectAttributes::default(), None)
                    .await?;
                self.delete(key).await
            }
            Err(e) => Err(e),
            Ok(_) => Ok(()),
        }
    }

    async fn list_parts(&self, key: &str, upload: &UploadId) -> Result<Vec<PartReceipt>> {
        let list = match self
            .blob(key)
            .block_blob_client()
            .get_block_list(BlockListType::Uncommitted, None)
            .await
            .and_then(|r| r.into_model())
        {
            Ok(list) => list,
            Err(e) if e.http_status().map(u16::from) == Some(404) => return Ok(Vec::new()),
            Err(e) => return Err(map_error(e, &format!("list blocks of '{key}'"))),
        };
        let mut parts: Vec<PartReceipt> = list
            .uncommitted_blocks
            .unwrap_or_default()
            .into_iter()
            .filter_map(|block| {
                let name = block.name?;
                Some(PartReceipt {
                    number: part_number_of(upload, &name)?,
                    handle: B64.encode(&name),
                    size: block.size.map(|s| s.max(0) as u64),
                    crc64nvme: None,
                })
            })
            .collect();
        parts.sort_by_key(|p| p.number);
        Ok(parts)
    }

    async fn copy_object(
        &self,
        key: &str,
        source: &CopySource,
        attributes: &ObjectAttributes,
    ) -> Result<PutResult> {
        let CopySource::Url(url) = source else {
            return Err(StoreError::new(
                ErrorKind::Unsupported,
                "Azure copies server-side from a URL only (SAS or presigned)",
            ));
        };
        Self::check_writable_name(key)?;
        if !self.put_blob_from_url.load(Ordering::Relaxed) {
            return self.copy_by_block(key, url, attributes).await;
        }
        let options = with_write_encryption!(
            with_attributes!(
                BlockBlobClientUploadBlobFromUrlOptions {
                    copy_source_blob_properties: Some(false),
                    ..Default::default()
                },
                attributes,
                None
            ),
            &self.encryption
        );
        let response = match self
            .blob(key)
            .block_blob_client()
            .upload_blob_from_url(url.expose().to_string(), Some(options))
            .await
        {
            Err(e) if e.http_status().map(u16::from) == Some(501) => {
                tracing::info!(
                    "{}: no Put Blob From URL; copying by block instead",
                    self.display_root()
                );
                self.put_blob_from_url.store(false, Ordering::Relaxed);
                return self.copy_by_block(key, url, attributes).await;
            }
            other => other.map_err(|e| map_error(e, &format!("copy to '{key}'")))?,
        };
        let etag = response
            .headers()
            .get_optional_str(&azure_core::http::headers::ETAG)
            .map(|e| e.trim_matches('"').to_owned());
        Ok(PutResult { etag })
    }

    async fn copy_source(
        &self,
        key: &str,
        kind: CopySourceKind,
        valid_for: Duration,
    ) -> Result<CopySource> {
        if kind != CopySourceKind::Url {
            return Err(StoreError::new(
                ErrorKind::Unsupported,
                "Azure offers copy sources as SAS URLs only",
            ));
        }
        let query = match &self.auth {
            AzureAuth::SharedKey(account_key) => {
                let now = time::OffsetDateTime::now_utc();
                let grant = SasGrant {
                    permissions: "r".into(),
                    // Allow for clock skew between this machine and the service.
                    start: Some(now - Duration::from_secs(300)),
                    expiry: now + valid_for,
                    protocol: None,
                };
                sas::blob_sas(&self.account, account_key, &self.container_name, key, &grant)?
            }
            AzureAuth::Sas(sas) => sas.clone(),
            AzureAuth::Token(_) => {
                return Err(StoreError::new(
                    ErrorKind::Unsupported,
                    "cannot mint a SAS with a Microsoft Entra ID sign-in yet; use an account key or SAS",
                ))
            }
        };
        let mut url = self.blob_url(key);
        url.set_query(Some(query.expose()));
        Ok(CopySource::Url(SecretUrl::new(url)))
    }

    async fn create_root(&self) -> Result<()> {
        match self.container.create(None).await {
            Err(e) if e.http_status().map(u16::from) == Some(409) => Ok(()),
            other => other
                .map(|_| ())
                .map_err(|e| map_error(e, &format!("create container {}", self.display_root()))),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        match self.blob(key).delete(None).await {
            Err(e) if e.http_status().map(u16::from) != Some(404) => {
                Err(map_error(e, &format!("delete '{key}'")))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ids_are_deterministic_and_equal_length() {
        let upload = UploadId("0123456789abcdef".into());
        let a = block_id(&upload, 1);
        let b = block_id(&upload, 49_999);
        assert_eq!(a.len(), b.len());
        assert_eq!(part_number_of(&upload, &b), Some(49_999));
        assert_eq!(part_number_of(&UploadId("other".into()), &b), None);
    }
}
