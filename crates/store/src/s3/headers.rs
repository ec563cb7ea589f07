//! Values as S3's headers carry them: CRC-64/NVME, ETags and the MD5 they stand for, tags,
//! customer keys, times, and the copy source with its key escaped.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use md5::Digest as _;
use std::collections::BTreeMap;

use crate::error::{ErrorKind, Result, StoreError};
use crate::object::CopySource;

/// What a key escapes in `x-amz-copy-source` and in a request's path: everything but the
/// unreserved characters and `/`, as the AWS SDKs and CLI send it (boto3
/// `_quote_source_header`; the SDKs' greedy `{Key+}` label). S3-compatible servers split the
/// copy source at its first `/` and decode the rest, some only this way.
pub(super) const KEY_ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// The base64 key and base64 MD5 of the key, from a base64-encoded 256-bit key.
pub(super) fn customer_key_headers(key_b64: &str) -> (String, String) {
    let raw = B64.decode(key_b64).unwrap_or_default();
    (key_b64.to_owned(), B64.encode(md5::Md5::digest(&raw)))
}

/// Tags as S3's `x-amz-tagging` query-string form.
pub(super) fn encode_tags(tags: &BTreeMap<String, String>) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(tags)
        .finish()
}

/// CRC-64/NVME as S3 sends it: base64 of the big-endian bytes.
pub fn crc64_header(crc: u64) -> String {
    B64.encode(crc.to_be_bytes())
}

pub(super) fn parse_crc64_header(value: Option<&str>) -> Option<u64> {
    let bytes: [u8; 8] = B64.decode(value?).ok()?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

pub(super) fn trim_etag(etag: Option<&str>) -> Option<String> {
    etag.map(|e| e.trim_matches('"').to_owned())
}

/// The MD5 a single-part, non-KMS ETag stands for.
pub(super) fn md5_from_etag(etag: Option<&str>) -> Option<[u8; 16]> {
    let etag = etag?;
    if etag.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&etag[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

pub(super) fn to_time(
    t: Option<&aws_sdk_s3::primitives::DateTime>,
) -> Option<time::OffsetDateTime> {
    let t = t?;
    time::OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(t.secs()) * 1_000_000_000 + i128::from(t.subsec_nanos()),
    )
    .ok()
}

/// The `x-amz-copy-source` header naming a native source.
pub(super) fn copy_source_header(source: &CopySource) -> Result<String> {
    match source {
        CopySource::Native { container, key } => {
            let encoded = percent_encoding::utf8_percent_encode(key, KEY_ESCAPED);
            Ok(format!("{container}/{encoded}"))
        }
        CopySource::Url(_) | CopySource::File(_) => Err(StoreError::new(
            ErrorKind::Unsupported,
            "S3 cannot copy from a URL or a local file server-side; stream the object instead",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_header_round_trips_big_endian() {
        let header = crc64_header(0x0102_0304_0506_0708);
        assert_eq!(B64.decode(&header).unwrap(), vec![1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            parse_crc64_header(Some(&header)),
            Some(0x0102_0304_0506_0708)
        );
    }

    #[test]
    fn md5_only_from_single_part_etags() {
        assert_eq!(
            md5_from_etag(Some("d41d8cd98f00b204e9800998ecf8427e")).unwrap()[0],
            0xd4
        );
        assert_eq!(
            md5_from_etag(Some("d41d8cd98f00b204e9800998ecf8427e-2")),
            None
        );
    }

    #[test]
    fn copy_source_keeps_slashes_and_unreserved_characters() {
        let header = |key: &str| {
            let source = CopySource::Native {
                container: "src".into(),
                key: key.into(),
            };
            copy_source_header(&source).unwrap()
        };
        assert_eq!(header("dir/sub/c 1.txt"), "src/dir/sub/c%201.txt");
        assert_eq!(header("a-b_c.d~e"), "src/a-b_c.d~e");
        assert_eq!(
            header("ünï/çødé.txt"),
            "src/%C3%BCn%C3%AF/%C3%A7%C3%B8d%C3%A9.txt"
        );
        assert_eq!(header("100%+?#&="), "src/100%25%2B%3F%23%26%3D");
        assert_eq!(header(" "), "src/%20");
    }

    #[test]
    fn tags_are_form_encoded() {
        let tags = BTreeMap::from([
            ("a b".to_string(), "x&y".to_string()),
            ("k".into(), "v".into()),
        ]);
        assert_eq!(encode_tags(&tags), "a+b=x%26y&k=v");
    }
}
