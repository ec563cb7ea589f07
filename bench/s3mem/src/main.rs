//! An S3 server over buckets held in memory, for the scale bench: a million tiny objects
//! listed, copied and read at the speed of the protocol, not of a disk or an interpreter
//! (moto serves ~300 objects/s; `s3s-fs` walks the whole bucket on disk for every list page).
//! The protocol — routing, XML, SigV4 checks — is the `s3s` crate's; this file only keeps the
//! objects: the calls awcopy, s5cmd, rclone and the AWS CLI make to copy, list, read and delete
//! objects, and multipart uploads (`uploads.rs`). No versions or ACLs.
//!
//! `awcopy-s3mem --port N --access-key K --secret-key S [--seed BUCKET:COUNT]` prints
//! `listening on http://...`. `--seed` fills a bucket with COUNT objects of 4 bytes under
//! 16-digit hexadecimal keys (the scale bench's set). `GET /_stats` (unsigned) answers with the
//! requests served so far and, per bucket, its objects, bytes, a digest of its keys and ETags
//! (equal digests: the same objects with the same contents) and one of its keys and contents'
//! CRC-64/NVME (`content`: equal whatever part sizes made the objects).

use bytes::Bytes;
use futures::TryStreamExt;
use md5::{Digest, Md5};
use s3s::auth::SimpleAuth;
use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::{s3_error, S3Request, S3Response, S3Result, S3};
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;
use uploads::{check_crc64, crc64_header, Part, Started, Uploads};

mod uploads;

/// One stored object.
#[derive(Clone)]
struct Stored {
    data: Bytes,
    etag: String,
    modified: SystemTime,
    content_type: Option<String>,
    metadata: Option<Metadata>,
    /// Its CRC-64/NVME, where it was written with one.
    crc64nvme: Option<u64>,
}

impl Stored {
    fn new(data: Bytes, content_type: Option<String>, metadata: Option<Metadata>) -> Self {
        let etag = format!("{:x}", Md5::digest(&data));
        Self {
            data,
            etag,
            modified: SystemTime::now(),
            content_type,
            metadata,
            crc64nvme: None,
        }
    }
}

/// Buckets by name, each its objects by key (in UTF-8 byte order, as S3 lists them), and the
/// multipart uploads in progress.
#[derive(Default, Clone)]
struct Memory {
    buckets: Arc<RwLock<HashMap<String, BTreeMap<String, Stored>>>>,
    uploads: Uploads,
}

/// SplitMix64: the seeded set's keys, the same on every run.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Memory {
    /// Makes `bucket` hold `count` objects of 4 bytes under hexadecimal keys.
    fn seed(&self, bucket: &str, count: u64) {
        let objects = (0..count).map(|i| {
            let data = Bytes::copy_from_slice(&(i as u32).to_le_bytes());
            (format!("{:016x}", mix(i)), Stored::new(data, None, None))
        });
        let mut buckets = self.buckets.write().expect("buckets lock");
        buckets
            .entry(bucket.to_owned())
            .or_default()
            .extend(objects);
    }

    /// Per bucket: objects, bytes, the XOR of MD5(key, ETag) over its objects and the XOR of
    /// MD5(key, CRC-64/NVME of its contents).
    fn stats(&self, requests: u64) -> String {
        let buckets = self.buckets.read().expect("buckets lock");
        let mut names: Vec<&String> = buckets.keys().collect();
        names.sort();
        let each: Vec<String> = names
            .into_iter()
            .map(|name| {
                let objects = &buckets[name];
                let (mut digest, mut content) = ([0u8; 16], [0u8; 16]);
                let mut bytes = 0;
                let fold = |into: &mut [u8; 16], key: &str, value: &[u8]| {
                    let one = Md5::new()
                        .chain_update(key.as_bytes())
                        .chain_update([0])
                        .chain_update(value)
                        .finalize();
                    into.iter_mut().zip(one).for_each(|(d, o)| *d ^= o);
                };
                for (key, stored) in objects {
                    fold(&mut digest, key, stored.etag.as_bytes());
                    let crc = stored
                        .crc64nvme
                        .unwrap_or_else(|| uploads::crc64(&stored.data));
                    fold(&mut content, key, &crc.to_be_bytes());
                    bytes += stored.data.len();
                }
                let hex = |d: [u8; 16]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
                format!(
                    "\"{name}\": {{\"objects\": {}, \"bytes\": {bytes}, \"digest\": \"{}\", \
                     \"content\": \"{}\"}}",
                    objects.len(),
                    hex(digest),
                    hex(content)
                )
            })
            .collect();
        format!(
            "{{\"requests\": {requests}, \"buckets\": {{{}}}}}\n",
            each.join(", ")
        )
    }

    fn with_bucket<T>(
        &self,
        bucket: &str,
        f: impl FnOnce(&BTreeMap<String, Stored>) -> S3Result<T>,
    ) -> S3Result<T> {
        let buckets = self.buckets.read().expect("buckets lock");
        let objects = buckets.get(bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
        f(objects)
    }

    fn with_bucket_mut<T>(
        &self,
        bucket: &str,
        f: impl FnOnce(&mut BTreeMap<String, Stored>) -> S3Result<T>,
    ) -> S3Result<T> {
        let mut buckets = self.buckets.write().expect("buckets lock");
        let objects = buckets
            .get_mut(bucket)
            .ok_or_else(|| s3_error!(NoSuchBucket))?;
        f(objects)
    }

    fn get(&self, bucket: &str, key: &str) -> S3Result<Stored> {
        self.with_bucket(bucket, |objects| {
            objects
                .get(key)
                .cloned()
                .ok_or_else(|| s3_error!(NoSuchKey))
        })
    }

    /// Up to `max` keys after `after` under `prefix`, grouped at `delimiter`: the objects, the
    /// common prefixes, and whether more follow.
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        delimiter: Option<&str>,
        max: usize,
    ) -> S3Result<(Vec<Object>, Vec<String>, bool)> {
        self.with_bucket(bucket, |objects| {
            let start = match after {
                Some(after) if after >= prefix => Bound::Excluded(after.to_owned()),
                _ => Bound::Included(prefix.to_owned()),
            };
            let (mut listed, mut prefixes) = (Vec::new(), Vec::<String>::new());
            for (key, stored) in objects.range((start, Bound::Unbounded)) {
                if !key.starts_with(prefix) {
                    break;
                }
                if listed.len() + prefixes.len() >= max {
                    return Ok((listed, prefixes, true));
                }
                let grouped = delimiter.and_then(|d| {
                    key[prefix.len()..]
                        .find(d)
                        .map(|at| key[..prefix.len() + at + d.len()].to_owned())
                });
                match grouped {
                    Some(common) => {
                        if prefixes.last() != Some(&common)
                            && after.is_none_or(|a| common.as_str() > a)
                        {
                            prefixes.push(common);
                        }
                    }
                    None => listed.push(Object {
                        key: Some(key.clone()),
                        size: Some(stored.data.len() as i64),
                        e_tag: Some(ETag::Strong(stored.etag.clone())),
                        last_modified: Some(Timestamp::from(stored.modified)),
                        storage_class: Some(ObjectStorageClass::from_static(
                            ObjectStorageClass::STANDARD,
                        )),
                        ..Default::default()
                    }),
                }
            }
            Ok((listed, prefixes, false))
        })
    }
}

/// The last key or prefix of a page: where the next one starts.
fn last_of(objects: &[Object], prefixes: &[String]) -> Option<String> {
    let key = objects.last().and_then(|o| o.key.clone());
    let prefix = prefixes.last().cloned();
    key.max(prefix)
}

async fn read_body(body: Option<StreamingBlob>) -> S3Result<Bytes> {
    let Some(body) = body else {
        return Ok(Bytes::new());
    };
    let chunks: Vec<Bytes> = body
        .try_collect()
        .await
        .map_err(|e| s3_error!(IncompleteBody, "{e}"))?;
    Ok(chunks.concat().into())
}

#[async_trait::async_trait]
impl S3 for Memory {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let mut buckets = self.buckets.write().expect("buckets lock");
        if buckets.contains_key(&req.input.bucket) {
            return Err(s3_error!(BucketAlreadyOwnedByYou));
        }
        buckets.insert(req.input.bucket, BTreeMap::new());
        Ok(S3Response::new(CreateBucketOutput::default()))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let mut buckets = self.buckets.write().expect("buckets lock");
        match buckets.get(&req.input.bucket) {
            None => return Err(s3_error!(NoSuchBucket)),
            Some(objects) if !objects.is_empty() => return Err(s3_error!(BucketNotEmpty)),
            Some(_) => buckets.remove(&req.input.bucket),
        };
        Ok(S3Response::new(DeleteBucketOutput::default()))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.with_bucket(&req.input.bucket, |_| Ok(()))?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.with_bucket(&req.input.bucket, |_| Ok(()))?;
        Ok(S3Response::new(GetBucketLocationOutput::default()))
    }

    async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets = self.buckets.read().expect("buckets lock");
        let mut names: Vec<&String> = buckets.keys().collect();
        names.sort();
        let buckets = names
            .into_iter()
            .map(|name| Bucket {
                name: Some(name.clone()),
                creation_date: Some(Timestamp::from(SystemTime::UNIX_EPOCH)),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            ..Default::default()
        }))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        let data = read_body(input.body).await?;
        let crc = match input.checksum_crc64nvme.as_deref() {
            Some(sent) => Some(check_crc64(&data, Some(sent))?),
            None => None,
        };
        let mut stored = Stored::new(data, input.content_type, input.metadata);
        stored.crc64nvme = crc;
        let etag = stored.etag.clone();
        self.with_bucket_mut(&input.bucket, |objects| {
            objects.insert(input.key, stored);
            Ok(())
        })?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let input = req.input;
        let CopySource::Bucket { bucket, key, .. } = &input.copy_source else {
            return Err(s3_error!(NotImplemented));
        };
        let mut stored = self.get(bucket, key)?;
        if input.metadata_directive.as_ref().map(|d| d.as_str()) == Some(MetadataDirective::REPLACE)
        {
            stored.content_type = input.content_type;
            stored.metadata = input.metadata;
        }
        stored.modified = SystemTime::now();
        let result = CopyObjectResult {
            e_tag: Some(ETag::Strong(stored.etag.clone())),
            last_modified: Some(Timestamp::from(stored.modified)),
            ..Default::default()
        };
        self.with_bucket_mut(&input.bucket, |objects| {
            objects.insert(input.key, stored);
            Ok(())
        })?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(result),
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let stored = self.get(&req.input.bucket, &req.input.key)?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(stored.data.len() as i64),
            checksum_crc64nvme: stored.crc64nvme.map(crc64_header),
            e_tag: Some(ETag::Strong(stored.etag)),
            last_modified: Some(Timestamp::from(stored.modified)),
            content_type: stored.content_type,
            metadata: stored.metadata,
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let stored = self.get(&input.bucket, &input.key)?;
        let len = stored.data.len() as u64;
        let (body, content_range) = match input.range {
            None => (stored.data.clone(), None),
            Some(range) => {
                let r = range.check(len)?;
                let part = stored.data.slice(r.start as usize..r.end as usize);
                (part, Some(format!("bytes {}-{}/{len}", r.start, r.end - 1)))
            }
        };
        let whole = content_range.is_none();
        Ok(S3Response::new(GetObjectOutput {
            content_length: Some(body.len() as i64),
            checksum_crc64nvme: stored.crc64nvme.filter(|_| whole).map(crc64_header),
            body: Some(StreamingBlob::from(s3s::Body::from(body))),
            content_range,
            e_tag: Some(ETag::Strong(stored.etag)),
            last_modified: Some(Timestamp::from(stored.modified)),
            content_type: stored.content_type,
            metadata: stored.metadata,
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.with_bucket_mut(&req.input.bucket, |objects| {
            objects.remove(&req.input.key);
            Ok(())
        })?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        let deleted = self.with_bucket_mut(&input.bucket, |objects| {
            Ok(input
                .delete
                .objects
                .into_iter()
                .map(|o| {
                    objects.remove(&o.key);
                    DeletedObject {
                        key: Some(o.key),
                        ..Default::default()
                    }
                })
                .collect::<Vec<_>>())
        })?;
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        self.with_bucket(&input.bucket, |_| Ok(()))?;
        let full_crc = input
            .checksum_algorithm
            .as_ref()
            .is_some_and(|a| a.as_str() == ChecksumAlgorithm::CRC64NVME);
        let id = self.uploads.start(Started {
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            content_type: input.content_type,
            metadata: input.metadata,
            full_crc,
        });
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            checksum_algorithm: input.checksum_algorithm,
            checksum_type: input.checksum_type,
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        let data = read_body(input.body).await?;
        let crc = check_crc64(&data, input.checksum_crc64nvme.as_deref())?;
        let part = Part::new(data, crc);
        let etag = part.etag.clone();
        self.uploads
            .put_part(&input.upload_id, &input.key, input.part_number, part)?;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(etag)),
            checksum_crc64nvme: input.checksum_crc64nvme,
            ..Default::default()
        }))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let input = req.input;
        let CopySource::Bucket { bucket, key, .. } = &input.copy_source else {
            return Err(s3_error!(NotImplemented));
        };
        let stored = self.get(bucket, key)?;
        let data = match input.copy_source_range.as_deref() {
            None => stored.data,
            Some(range) => {
                let len = stored.data.len();
                let (start, end) = range
                    .strip_prefix("bytes=")
                    .and_then(|r| r.split_once('-'))
                    .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)))
                    .filter(|(a, b)| a <= b && *b < len)
                    .ok_or_else(|| s3_error!(InvalidRange, "{range} of {len} bytes"))?;
                stored.data.slice(start..=end)
            }
        };
        let part = Part::new(data.clone(), uploads::crc64(&data));
        let result = CopyPartResult {
            e_tag: Some(ETag::Strong(part.etag.clone())),
            last_modified: Some(Timestamp::from(part.modified)),
            ..Default::default()
        };
        self.uploads
            .put_part(&input.upload_id, &input.key, input.part_number, part)?;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(result),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let chosen: Vec<(i32, String)> = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                let etag = match p.e_tag {
                    Some(ETag::Strong(e) | ETag::Weak(e)) => e,
                    None => String::new(),
                };
                (p.part_number.unwrap_or(0), etag)
            })
            .collect();
        let done = self.uploads.complete(
            &input.upload_id,
            &chosen,
            input.checksum_crc64nvme.as_deref(),
        )?;
        let mut stored = Stored::new(
            Bytes::new(),
            done.started.content_type,
            done.started.metadata,
        );
        stored.data = done.data;
        stored.etag = done.etag.clone();
        stored.crc64nvme = done.crc;
        self.with_bucket_mut(&done.started.bucket, |objects| {
            objects.insert(done.started.key.clone(), stored);
            Ok(())
        })?;
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(done.started.bucket),
            key: Some(done.started.key),
            e_tag: Some(ETag::Strong(done.etag)),
            checksum_crc64nvme: done.crc.map(crc64_header),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.uploads.abort(&req.input.upload_id)?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let max = input.max_parts.unwrap_or(1000).clamp(1, 1000) as usize;
        let after = input.part_number_marker.unwrap_or(0);
        let (parts, more) = self.uploads.parts(&input.upload_id, after, max)?;
        let next = parts.last().map(|(n, _)| *n);
        let parts = parts
            .into_iter()
            .map(|(number, part)| s3s::dto::Part {
                part_number: Some(number),
                e_tag: Some(ETag::Strong(part.etag)),
                size: Some(part.data.len() as i64),
                last_modified: Some(Timestamp::from(part.modified)),
                checksum_crc64nvme: Some(crc64_header(part.crc)),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            parts: Some(parts),
            is_truncated: Some(more),
            max_parts: Some(max as i32),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: next.filter(|_| more),
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = match (&input.continuation_token, &input.start_after) {
            (Some(token), _) => Some(token.clone()),
            (None, after) => after.clone(),
        };
        let max = input.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
        let (objects, prefixes, truncated) = self.list(
            &input.bucket,
            &prefix,
            after.as_deref(),
            input.delimiter.as_deref(),
            max,
        )?;
        let next = truncated.then(|| last_of(&objects, &prefixes)).flatten();
        Ok(S3Response::new(ListObjectsV2Output {
            key_count: Some((objects.len() + prefixes.len()) as i32),
            max_keys: Some(max as i32),
            is_truncated: Some(truncated),
            contents: Some(objects),
            common_prefixes: Some(
                prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(p) })
                    .collect(),
            ),
            continuation_token: input.continuation_token,
            next_continuation_token: next,
            delimiter: input.delimiter,
            name: Some(input.bucket),
            prefix: input.prefix,
            start_after: input.start_after,
            ..Default::default()
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max = input.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
        let (objects, prefixes, truncated) = self.list(
            &input.bucket,
            &prefix,
            input.marker.as_deref(),
            input.delimiter.as_deref(),
            max,
        )?;
        let next = truncated.then(|| last_of(&objects, &prefixes)).flatten();
        Ok(S3Response::new(ListObjectsOutput {
            max_keys: Some(max as i32),
            is_truncated: Some(truncated),
            contents: Some(objects),
            common_prefixes: Some(
                prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(p) })
                    .collect(),
            ),
            marker: input.marker,
            next_marker: next,
            delimiter: input.delimiter,
            name: Some(input.bucket),
            prefix: input.prefix,
            ..Default::default()
        }))
    }
}

fn arg(args: &[String], name: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| panic!("awcopy-s3mem needs {name} VALUE"))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = arg(&args, "--port").parse().expect("--port is a number");
    let memory = Memory::default();
    if args.iter().any(|a| a == "--seed") {
        let seed = arg(&args, "--seed");
        let (bucket, count) = seed.split_once(':').expect("--seed BUCKET:COUNT");
        memory.seed(bucket, count.parse().expect("--seed BUCKET:COUNT"));
    }
    let mut builder = S3ServiceBuilder::new(memory.clone());
    builder.set_auth(SimpleAuth::from_single(
        arg(&args, "--access-key"),
        arg(&args, "--secret-key"),
    ));
    let service = builder.build();
    let requests = Arc::new(AtomicU64::new(0));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the port");
    println!("listening on http://{}", listener.local_addr().unwrap());
    let http = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let _ = socket.set_nodelay(true);
        let (service, memory, requests) = (service.clone(), memory.clone(), requests.clone());
        let counted =
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let (service, memory, requests) =
                    (service.clone(), memory.clone(), requests.clone());
                async move {
                    if req.uri().path() == "/_stats" {
                        let text = memory.stats(requests.load(Ordering::Relaxed));
                        return Ok(hyper::Response::new(s3s::Body::from(text)));
                    }
                    requests.fetch_add(1, Ordering::Relaxed);
                    hyper::service::Service::call(&service, req).await
                }
            });
        let connection = http
            .serve_connection(hyper_util::rt::TokioIo::new(socket), counted)
            .into_owned();
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}
