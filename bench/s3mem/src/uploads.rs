//! Multipart uploads in progress: their parts held in memory until completed or aborted.
//! Part ETags are the MD5 of the part, a completed object's the MD5 of the parts' MD5s with
//! `-N`, as S3 makes them; a CRC-64/NVME sent with a part or a completion is checked against
//! the bytes (a mismatch is `BadDigest`), and an upload started with the CRC-64/NVME
//! full-object checksum keeps the whole object's, which HEAD and GET return as S3 does.

use bytes::{Bytes, BytesMut};
use md5::{Digest, Md5};
use s3s::dto::Metadata;
use s3s::{s3_error, S3Result};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// CRC-64/NVME of `data`.
pub fn crc64(data: &[u8]) -> u64 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, data)
}

/// CRC-64/NVME as S3 sends it: base64 of the big-endian bytes.
pub fn crc64_header(crc: u64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
}

/// Refuses `data` when a CRC-64/NVME header came with it and does not match.
pub fn check_crc64(data: &[u8], header: Option<&str>) -> S3Result<u64> {
    let crc = crc64(data);
    match header {
        Some(sent) if sent != crc64_header(crc) => Err(s3_error!(
            BadDigest,
            "the CRC-64/NVME sent does not match the data"
        )),
        _ => Ok(crc),
    }
}

/// One uploaded part.
#[derive(Clone)]
pub struct Part {
    pub data: Bytes,
    pub etag: String,
    pub crc: u64,
    pub modified: SystemTime,
}

impl Part {
    pub fn new(data: Bytes, crc: u64) -> Self {
        let etag = format!("{:x}", Md5::digest(&data));
        Self {
            data,
            etag,
            crc,
            modified: SystemTime::now(),
        }
    }
}

/// What an upload was started with.
pub struct Started {
    pub bucket: String,
    pub key: String,
    pub content_type: Option<String>,
    pub metadata: Option<Metadata>,
    /// Whether the object keeps its full-object CRC-64/NVME.
    pub full_crc: bool,
}

struct Upload {
    started: Started,
    parts: BTreeMap<i32, Part>,
}

/// A completed upload: the object's bytes, ETag, checksum and attributes.
pub struct Completed {
    pub started: Started,
    pub data: Bytes,
    pub etag: String,
    pub crc: Option<u64>,
}

/// Uploads in progress by id.
#[derive(Default, Clone)]
pub struct Uploads {
    next: Arc<AtomicU64>,
    open: Arc<Mutex<HashMap<String, Upload>>>,
}

impl Uploads {
    /// Starts an upload; its id.
    pub fn start(&self, started: Started) -> String {
        let id = format!("upload-{:016x}", self.next.fetch_add(1, Ordering::Relaxed));
        let upload = Upload {
            started,
            parts: BTreeMap::new(),
        };
        self.open
            .lock()
            .expect("uploads lock")
            .insert(id.clone(), upload);
        id
    }

    /// Keeps `part` as part `number` of upload `id` (replacing one sent before).
    pub fn put_part(&self, id: &str, key: &str, number: i32, part: Part) -> S3Result<()> {
        if !(1..=10_000).contains(&number) {
            return Err(s3_error!(
                InvalidArgument,
                "part numbers go from 1 to 10,000"
            ));
        }
        let mut open = self.open.lock().expect("uploads lock");
        let upload = open
            .get_mut(id)
            .filter(|u| u.started.key == key)
            .ok_or_else(|| s3_error!(NoSuchUpload))?;
        upload.parts.insert(number, part);
        Ok(())
    }

    /// The parts of upload `id` numbered above `after`, at most `max`, and whether more follow.
    pub fn parts(&self, id: &str, after: i32, max: usize) -> S3Result<(Vec<(i32, Part)>, bool)> {
        let open = self.open.lock().expect("uploads lock");
        let upload = open.get(id).ok_or_else(|| s3_error!(NoSuchUpload))?;
        let mut listed: Vec<(i32, Part)> = upload
            .parts
            .range(after.saturating_add(1)..)
            .take(max + 1)
            .map(|(n, p)| (*n, p.clone()))
            .collect();
        let more = listed.len() > max;
        listed.truncate(max);
        Ok((listed, more))
    }

    /// Drops upload `id` and its parts.
    pub fn abort(&self, id: &str) -> S3Result<()> {
        let mut open = self.open.lock().expect("uploads lock");
        open.remove(id)
            .map(|_| ())
            .ok_or_else(|| s3_error!(NoSuchUpload))
    }

    /// Joins the parts `chosen` (number, ETag; in ascending order) of upload `id` into its
    /// object, checking a full-object CRC-64/NVME if one was sent; the upload ends.
    pub fn complete(
        &self,
        id: &str,
        chosen: &[(i32, String)],
        crc_header: Option<&str>,
    ) -> S3Result<Completed> {
        let mut open = self.open.lock().expect("uploads lock");
        let upload = open.get(id).ok_or_else(|| s3_error!(NoSuchUpload))?;
        if chosen.is_empty() || chosen.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(s3_error!(InvalidPartOrder));
        }
        let mut parts = Vec::with_capacity(chosen.len());
        for (number, etag) in chosen {
            let part = upload
                .parts
                .get(number)
                .filter(|p| p.etag == etag.trim_matches('"'))
                .ok_or_else(|| s3_error!(InvalidPart, "part {number} is not as uploaded"))?;
            parts.push(part);
        }
        let mut data = BytesMut::with_capacity(parts.iter().map(|p| p.data.len()).sum());
        let mut md5s = Md5::new();
        for part in &parts {
            data.extend_from_slice(&part.data);
            md5s.update(
                u128::from_str_radix(&part.etag, 16)
                    .unwrap_or(0)
                    .to_be_bytes(),
            );
        }
        let data = data.freeze();
        let crc = check_crc64(&data, crc_header)?;
        let etag = format!("{:x}-{}", md5s.finalize(), parts.len());
        let upload = open.remove(id).expect("looked up above");
        let full_crc = upload.started.full_crc;
        Ok(Completed {
            started: upload.started,
            data,
            etag,
            crc: full_crc.then_some(crc),
        })
    }
}
