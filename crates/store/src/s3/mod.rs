//! Amazon S3 and S3-compatible stores, on the official `aws-sdk-s3`.

mod blank_keys;
pub(crate) mod errors;
mod headers;
mod lean_copy;

use async_trait::async_trait;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
    CreateBucketConfiguration, MetadataDirective, ServerSideEncryption, TaggingDirective,
};
use aws_sdk_s3::Client;
use bytes::Bytes;
use futures::{stream, StreamExt};
use std::collections::BTreeMap;
use std::time::Duration;
use url::Url;

use crate::capabilities::{Capabilities, CopySourceKind, KeyOrder};
use crate::error::{ErrorKind, Result, StoreError};
use crate::object::*;
use crate::{Encryption, Location, OpenOptions, SecretUrl, Store};
use blank_keys::send_keyed;
use errors::map_sdk_error;
pub use headers::crc64_header;
use headers::{
    copy_source_header, customer_key_headers, encode_tags, md5_from_etag, parse_crc64_header,
    to_time, trim_etag,
};

const MIB: u64 = 1 << 20;
/// The longest S3 key, in bytes.
const MAX_KEY_BYTES: usize = 1024;

/// The [`Capabilities::service_id`] of Amazon S3 itself (all regions: CopyObject works across them).
pub const AWS_SERVICE_ID: &str = "s3:aws";
const GIB: u64 = 1 << 30;

/// An S3 bucket as a store.
#[derive(Debug)]
pub struct S3Store {
    client: Client,
    bucket: String,
    encryption: Option<Encryption>,
    capabilities: Capabilities,
    /// CopyObject without the SDK's orchestrator, where the bucket allows it.
    lean_copy: Option<lean_copy::LeanCopy>,
}

/// Headers common to every S3 write builder (PutObject, CreateMultipartUpload, CopyObject).
macro_rules! with_attributes {
    ($builder:expr, $attrs:expr) => {{
        let attrs: &ObjectAttributes = $attrs;
        let mut builder = $builder
            .set_content_type(attrs.content_type.clone())
            .set_content_encoding(attrs.content_encoding.clone())
            .set_content_language(attrs.content_language.clone())
            .set_content_disposition(attrs.content_disposition.clone())
            .set_cache_control(attrs.cache_control.clone())
            .set_metadata(
                (!attrs.user_metadata.is_empty())
                    .then(|| attrs.user_metadata.clone().into_iter().collect()),
            );
        if !attrs.tags.is_empty() {
            builder = builder.tagging(encode_tags(&attrs.tags));
        }
        builder
    }};
}

/// Content headers and user metadata from a HeadObject or GetObject output (tags come apart).
macro_rules! attributes_of {
    ($out:expr) => {
        ObjectAttributes {
            content_type: $out.content_type().map(str::to_owned),
            content_encoding: $out.content_encoding().map(str::to_owned),
            content_language: $out.content_language().map(str::to_owned),
            content_disposition: $out.content_disposition().map(str::to_owned),
            cache_control: $out.cache_control().map(str::to_owned),
            user_metadata: $out
                .metadata()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            tags: BTreeMap::new(),
        }
    };
}

/// SSE-C headers, for builders that read or add to an SSE-C object.
macro_rules! with_customer_key {
    ($builder:expr, $encryption:expr) => {{
        let builder = $builder;
        match $encryption {
            Some(Encryption::S3CustomerKey(key)) => {
                let (key, md5) = customer_key_headers(key.expose());
                builder
                    .sse_customer_algorithm("AES256")
                    .sse_customer_key(key)
                    .sse_customer_key_md5(md5)
            }
            _ => builder,
        }
    }};
}

/// Server-side encryption headers, for builders that write a new object.
macro_rules! with_write_encryption {
    ($builder:expr, $encryption:expr) => {{
        let builder = $builder;
        match $encryption {
            Some(Encryption::S3Managed) => {
                builder.server_side_encryption(ServerSideEncryption::Aes256)
            }
            Some(Encryption::S3Kms(key)) => builder
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .set_ssekms_key_id(key.clone()),
            other => with_customer_key!(builder, other),
        }
    }};
}

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an answer may keep us waiting for its next byte.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether an endpoint is AWS's own (checksums and virtual-hosted addressing apply).
fn is_aws_endpoint(endpoint: Option<&str>) -> bool {
    endpoint
        .and_then(|e| Url::parse(e).ok())
        .and_then(|u| u.host_str().map(|h| h.ends_with(".amazonaws.com")))
        .unwrap_or(true)
}

impl S3Store {
    /// Opens the bucket a location names, with the standard AWS credential chain.
    pub async fn open(location: &Location, options: &OpenOptions) -> Result<Self> {
        let Location::S3 {
            bucket,
            endpoint: url_endpoint,
            region: url_region,
            ..
        } = location
        else {
            return Err(StoreError::usage(format!(
                "{location} is not an S3 location"
            )));
        };
        options.refuse_misfit(crate::Provider::S3)?;
        let env_endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .iter()
            .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()));
        let endpoint = options.s3_endpoint.clone().or(env_endpoint).or_else(|| {
            url_endpoint
                .as_ref()
                .map(|u| u.as_str().trim_end_matches('/').to_owned())
        });
        if let Some(e) = &endpoint {
            Url::parse(e).map_err(|err| {
                StoreError::usage(format!(
                    "the S3 endpoint '{e}' is not a URL ({err}); e.g. http://127.0.0.1:9000"
                ))
            })?;
        }
        let aws = is_aws_endpoint(endpoint.as_deref());

        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = url_region {
            loader = loader.region(Region::new(region.clone()));
        }
        let shared = loader.load().await;
        // The engine retries, classifies and slows down on throttling itself: the SDK must not
        // hide those answers behind its own retries.
        let mut config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(!aws)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .read_timeout(READ_TIMEOUT)
                    .build(),
            );
        let region = shared
            .region()
            .map_or("us-east-1", |r| r.as_ref())
            .to_owned();
        if shared.region().is_none() {
            config = config.region(Region::new(region.clone()));
        }
        if let Some(e) = &endpoint {
            config = config.endpoint_url(e);
        }
        if !aws {
            config = config
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        let service_id = match (&endpoint, aws) {
            (Some(e), false) => format!("s3:{e}"),
            _ => AWS_SERVICE_ID.to_owned(),
        };
        let lean_copy = lean_copy::LeanCopy::resolve(
            lean_copy::Addressing {
                bucket,
                region: &region,
                endpoint: endpoint.as_deref(),
                force_path_style: !aws,
                use_fips: shared.use_fips().unwrap_or(false),
                use_dual_stack: shared.use_dual_stack().unwrap_or(false),
            },
            shared.credentials_provider(),
            (CONNECT_TIMEOUT, READ_TIMEOUT),
        )
        .await;
        Ok(Self {
            client: Client::from_conf(config.build()),
            lean_copy,
            bucket: bucket.clone(),
            encryption: options.encryption.clone(),
            capabilities: Capabilities {
                service_id,
                native_copy: true,
                copy_from_url: false,
                presign: true,
                max_parts: 10_000,
                min_part_size: 5 * MIB,
                max_part_size: 5 * GIB,
                max_single_put: 5 * GIB,
                max_single_copy: 5 * GIB,
                put_stream_memory: None,
                ranged_listing: true,
                key_order: KeyOrder::Utf8,
            },
        })
    }

    /// The underlying SDK client, for tests and tools that need an operation the trait lacks.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// CopyObject: `attributes` replace the source's; without them S3 keeps the source's
    /// headers, metadata and tags itself (the COPY directives).
    async fn copy_request(
        &self,
        key: &str,
        source: &CopySource,
        attributes: Option<&ObjectAttributes>,
    ) -> Result<PutResult> {
        if let (None, None, Some(lean)) = (attributes, &self.encryption, &self.lean_copy) {
            return lean.copy(key, &copy_source_header(source)?).await;
        }
        let builder = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(copy_source_header(source)?);
        let builder = match attributes {
            Some(attributes) => with_attributes!(
                builder
                    .metadata_directive(MetadataDirective::Replace)
                    .tagging_directive(TaggingDirective::Replace),
                attributes
            ),
            None => builder
                .metadata_directive(MetadataDirective::Copy)
                .tagging_directive(TaggingDirective::Copy),
        };
        let out = send_keyed!(with_write_encryption!(builder, &self.encryption), key)
            .map_err(|e| map_sdk_error(e, &format!("copy to '{key}'")))?;
        Ok(PutResult {
            etag: trim_etag(out.copy_object_result().and_then(|r| r.e_tag())),
        })
    }

    /// The object's tags, asked for only when the response counted some: S3 sends
    /// `x-amz-tagging-count` only for an object with tags (to a caller allowed to read them),
    /// so asking every time would cost a second request per object for nothing.
    async fn tags_if_any(&self, key: &str, count: Option<i32>) -> Result<BTreeMap<String, String>> {
        match count {
            Some(n) if n > 0 => self.tags(key).await,
            _ => Ok(BTreeMap::new()),
        }
    }

    async fn tags(&self, key: &str) -> Result<BTreeMap<String, String>> {
        let out = self
            .client
            .get_object_tagging()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| map_sdk_error(e, &format!("get tags of '{key}'")))?;
        Ok(out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect())
    }

    /// One page of ListParts, and the marker of the next page if there is one.
    async fn list_parts_page(
        &self,
        key: &str,
        upload: &UploadId,
        marker: Option<String>,
    ) -> Result<(Vec<PartReceipt>, Option<String>)> {
        let builder = self
            .client
            .list_parts()
            .bucket(&self.bucket)
            .upload_id(&upload.0)
            .set_part_number_marker(marker);
        let out = send_keyed!(with_customer_key!(builder, &self.encryption), key)
            .map_err(|e| map_sdk_error(e, &format!("list parts of '{key}'")))?;
        let parts = out
            .parts()
            .iter()
            .map(|p| PartReceipt {
                number: p.part_number().unwrap_or(0) as u32,
                handle: trim_etag(p.e_tag()).unwrap_or_default(),
                size: p.size().map(|s| s.max(0) as u64),
                crc64nvme: parse_crc64_header(p.checksum_crc64_nvme()),
            })
            .collect();
        let next = match (out.is_truncated(), out.next_part_number_marker()) {
            (Some(true), Some(next)) => Some(next.to_owned()),
            _ => None,
        };
        Ok((parts, next))
    }

    async fn list_page(
        &self,
        request: &ListRequest,
        token: Option<String>,
    ) -> Result<(ListPage, Option<String>)> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&request.prefix)
            .set_start_after(request.start_after.clone())
            .set_delimiter(request.delimiter.clone())
            .set_max_keys(request.page_size.map(|n| n.min(1000) as i32))
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| {
                map_sdk_error(e, &format!("list s3://{}/{}", self.bucket, request.prefix))
            })?;
        let mut page = ListPage::default();
        let mut reached_end = false;
        for object in out.contents() {
            let key = object.key().unwrap_or_default().to_owned();
            if request.end_before.as_ref().is_some_and(|end| key >= *end) {
                reached_end = true;
                break;
            }
            let mut meta = ObjectMeta::new(key, object.size().unwrap_or(0).max(0) as u64);
            meta.etag = trim_etag(object.e_tag());
            meta.last_modified = to_time(object.last_modified());
            page.objects.push(meta);
        }
        page.prefixes = out
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix().map(str::to_owned))
            .filter(|p| request.end_before.as_ref().is_none_or(|end| p < end))
            .collect();
        let next = if reached_end {
            None
        } else {
            out.next_continuation_token().map(str::to_owned)
        };
        Ok((page, next))
    }
}

#[async_trait]
impl Store for S3Store {
    fn display_root(&self) -> String {
        format!("s3://{}", self.bucket)
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn mapped_name(&self, key: &str) -> Option<String> {
        // S3 holds any UTF-8 key of up to 1,024 bytes.
        let crc = |b: &[u8]| crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, b);
        (key.len() > MAX_KEY_BYTES).then(|| crate::names::shorten(key, MAX_KEY_BYTES, crc))
    }

    fn list(&self, request: ListRequest) -> ListStream<'_> {
        stream::try_unfold(Some(None), move |state: Option<Option<String>>| {
            let request = request.clone();
            async move {
                let Some(token) = state else { return Ok(None) };
                let (page, next) = self.list_page(&request, token).await?;
                Ok(Some((page, next.map(Some))))
            }
        })
        .boxed()
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        let builder = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .checksum_mode(ChecksumMode::Enabled);
        let out = send_keyed!(with_customer_key!(builder, &self.encryption), key)
            .map_err(|e| map_sdk_error(e, &format!("head s3://{}/{key}", self.bucket)))?;
        let mut meta = ObjectMeta::new(key, out.content_length().unwrap_or(0).max(0) as u64);
        meta.etag = trim_etag(out.e_tag());
        meta.last_modified = to_time(out.last_modified());
        let plain_etag = !matches!(
            out.server_side_encryption(),
            Some(ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse)
        ) && out.sse_customer_algorithm().is_none();
        meta.checksums = Checksums {
            crc64nvme: parse_crc64_header(out.checksum_crc64_nvme()),
            md5: if plain_etag {
                md5_from_etag(meta.etag.as_deref())
            } else {
                None
            },
        };
        meta.attributes = ObjectAttributes {
            tags: self.tags_if_any(key, out.tag_count()).await?,
            ..attributes_of!(out)
        };
        Ok(meta)
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<GetResult> {
        let builder = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .set_range(range.and_then(|r| r.http_header()));
        let out = send_keyed!(with_customer_key!(builder, &self.encryption), key)
            .map_err(|e| map_sdk_error(e, &format!("get '{key}'")))?;
        let mut meta = ObjectMeta::new(key, out.content_length().unwrap_or(0).max(0) as u64);
        meta.etag = trim_etag(out.e_tag());
        meta.last_modified = to_time(out.last_modified());
        let plain_etag = range.is_none()
            && out.sse_customer_algorithm().is_none()
            && !matches!(
                out.server_side_encryption(),
                Some(ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse)
            );
        if plain_etag {
            meta.checksums.md5 = md5_from_etag(meta.etag.as_deref());
        }
        meta.attributes = ObjectAttributes {
            tags: self.tags_if_any(key, out.tag_count()).await?,
            ..attributes_of!(out)
        };
        let what = format!("read '{key}'");
        let body = stream::try_unfold(out.body, move |mut body: SdkByteStream| {
            let what = what.clone();
            async move {
                match body.try_next().await {
                    Ok(Some(chunk)) => Ok(Some((chunk, body))),
                    Ok(None) => Ok(None),
                    Err(e) => Err(StoreError::new(
                        ErrorKind::Network,
                        format!(
                            "S3 {what}: {}",
                            aws_smithy_types::error::display::DisplayErrorContext(&e)
                        ),
                    )),
                }
            }
        })
        .boxed();
        Ok(GetResult { meta, body })
    }

    async fn put(
        &self,
        key: &str,
        body: Bytes,
        attributes: &ObjectAttributes,
        crc64nvme: Option<u64>,
    ) -> Result<PutResult> {
        let builder = self.client.put_object().bucket(&self.bucket);
        let builder =
            with_write_encryption!(with_attributes!(builder, attributes), &self.encryption)
                .set_checksum_algorithm(crc64nvme.map(|_| ChecksumAlgorithm::Crc64Nvme))
                .set_checksum_crc64_nvme(crc64nvme.map(crc64_header))
                .body(SdkByteStream::from(body));
        let out =
            send_keyed!(builder, key).map_err(|e| map_sdk_error(e, &format!("put '{key}'")))?;
        Ok(PutResult {
            etag: trim_etag(out.e_tag()),
        })
    }

    async fn create_upload(&self, key: &str, attributes: &ObjectAttributes) -> Result<UploadId> {
        // A full-object CRC-64/NVME: parts may carry their CRCs and S3 combines them.
        let builder = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
            .checksum_type(ChecksumType::FullObject);
        let builder =
            with_write_encryption!(with_attributes!(builder, attributes), &self.encryption);
        let out = send_keyed!(builder, key)
            .map_err(|e| map_sdk_error(e, &format!("start upload of '{key}'")))?;
        out.upload_id()
            .map(|id| UploadId(id.to_owned()))
            .ok_or_else(|| StoreError::new(ErrorKind::Server, "S3 returned no upload id"))
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
        let mut builder = with_customer_key!(
            self.client
                .upload_part()
                .bucket(&self.bucket)
                .upload_id(&upload.0)
                .part_number(number as i32),
            &self.encryption
        );
        if let Some(crc) = crc64nvme {
            builder = builder
                .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
                .checksum_crc64_nvme(crc64_header(crc));
        }
        let builder = builder.body(SdkByteStream::from(body));
        let out = send_keyed!(builder, key)
            .map_err(|e| map_sdk_error(e, &format!("upload part {number} of '{key}'")))?;
        Ok(PartReceipt {
            number,
            handle: trim_etag(out.e_tag()).unwrap_or_default(),
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
        let out = self
            .client
            .upload_part_copy()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(&upload.0)
            .part_number(number as i32)
            .copy_source(copy_source_header(source)?)
            .set_copy_source_range(range.http_header())
            .send()
            .await
            .map_err(|e| map_sdk_error(e, &format!("copy part {number} of '{key}'")))?;
        Ok(PartReceipt {
            number,
            handle: trim_etag(out.copy_part_result().and_then(|r| r.e_tag())).unwrap_or_default(),
            size: Some(range.len()),
            crc64nvme: None,
        })
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload: &UploadId,
        parts: &[PartReceipt],
        _attributes: &ObjectAttributes,
        crc64nvme: Option<u64>,
    ) -> Result<PutResult> {
        let completed = parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.number as i32)
                    .e_tag(format!("\"{}\"", p.handle))
                    .build()
            })
            .collect();
        let builder = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .upload_id(&upload.0)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .set_checksum_crc64_nvme(crc64nvme.map(crc64_header))
            .set_checksum_type(crc64nvme.map(|_| ChecksumType::FullObject));
        let out = send_keyed!(with_customer_key!(builder, &self.encryption), key)
            .map_err(|e| map_sdk_error(e, &format!("complete upload of '{key}'")))?;
        Ok(PutResult {
            etag: trim_etag(out.e_tag()),
        })
    }

    async fn abort_upload(&self, key: &str, upload: &UploadId) -> Result<()> {
        let builder = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .upload_id(&upload.0);
        let result = send_keyed!(builder, key)
            .map_err(|e| map_sdk_error(e, &format!("abort upload of '{key}'")));
        match result {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    async fn list_parts(&self, key: &str, upload: &UploadId) -> Result<Vec<PartReceipt>> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let (page, next) = self.list_parts_page(key, upload, marker.take()).await?;
            parts.extend(page);
            match next {
                Some(next) => marker = Some(next),
                None => return Ok(parts),
            }
        }
    }

    async fn copy_object(
        &self,
        key: &str,
        source: &CopySource,
        attributes: &ObjectAttributes,
    ) -> Result<PutResult> {
        self.copy_request(key, source, Some(attributes)).await
    }

    async fn copy_object_as_is(&self, key: &str, source: &CopySource) -> Result<PutResult> {
        self.copy_request(key, source, None).await
    }

    async fn copy_source(
        &self,
        key: &str,
        kind: CopySourceKind,
        valid_for: Duration,
    ) -> Result<CopySource> {
        match kind {
            CopySourceKind::Native => Ok(CopySource::Native {
                container: self.bucket.clone(),
                key: key.to_owned(),
            }),
            CopySourceKind::Url => {
                let config = PresigningConfig::expires_in(valid_for)
                    .map_err(|e| StoreError::usage(format!("presign '{key}': {e}")))?;
                let builder = self.client.get_object().bucket(&self.bucket);
                let presigned = if blank_keys::is_blank(key) {
                    builder
                        .key(blank_keys::STAND_IN)
                        .customize()
                        .interceptor(blank_keys::RestoreKey(key.to_owned()))
                        .presigned(config)
                        .await
                } else {
                    builder.key(key).presigned(config).await
                };
                let presigned =
                    presigned.map_err(|e| map_sdk_error(e, &format!("presign '{key}'")))?;
                let url = Url::parse(presigned.uri()).map_err(|e| {
                    StoreError::new(ErrorKind::Other, format!("presigned URL: {e}"))
                })?;
                Ok(CopySource::Url(SecretUrl::new(url)))
            }
        }
    }

    async fn create_root(&self) -> Result<()> {
        let region = self.client.config().region().map(|r| r.to_string());
        let constraint = region.filter(|r| r != "us-east-1").map(|r| {
            CreateBucketConfiguration::builder()
                .location_constraint(r.as_str().into())
                .build()
        });
        let result = self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .set_create_bucket_configuration(constraint)
            .send()
            .await;
        match result {
            Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => Ok(()),
            // Some S3-compatible servers (s3rver) say this of a bucket of one's own too: one
            // this caller can reach is there, as asked.
            Err(e) if e.code() == Some("BucketAlreadyExists") => self
                .client
                .head_bucket()
                .bucket(&self.bucket)
                .send()
                .await
                .map(|_| ())
                .map_err(|_| map_sdk_error(e, &format!("create bucket {}", self.bucket))),
            other => other
                .map(|_| ())
                .map_err(|e| map_sdk_error(e, &format!("create bucket {}", self.bucket))),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let builder = self.client.delete_object().bucket(&self.bucket);
        send_keyed!(builder, key).map_err(|e| map_sdk_error(e, &format!("delete '{key}'")))?;
        Ok(())
    }
}
