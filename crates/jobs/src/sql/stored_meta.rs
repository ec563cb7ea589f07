//! The catalogue's copy of a listed object's metadata (`job_listing_entries.meta`), kept so a
//! resumed job copies what was listed without listing again.
//!
//! The key and the size have their own columns, so the JSON holds only the rest, and only what
//! the store reported: a tiny S3 object costs `{"etag":"…","last_modified":"…"}` (~80 bytes)
//! instead of the full [`ObjectMeta`] with its key again and a dozen nulls (~330 bytes) — about
//! 40% of a row at a million rows. Rows written before this form (the whole `ObjectMeta`)
//! still read: their `key` and `size` are ignored, their nulls are `None`.

use awcopy_store::{Checksums, ObjectAttributes, ObjectMeta};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use time::OffsetDateTime;

/// The stored fields. Borrowed when writing (no copy of the listing), owned when reading.
#[derive(Serialize, Deserialize)]
struct StoredMeta<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<Cow<'a, str>>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    last_modified: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "is_default")]
    attributes: Cow<'a, ObjectAttributes>,
    #[serde(default, skip_serializing_if = "is_default")]
    checksums: Cow<'a, Checksums>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// The JSON the catalogue stores for `meta` (everything but its key and size).
pub(crate) fn encode(meta: &ObjectMeta) -> String {
    let stored = StoredMeta {
        etag: meta.etag.as_deref().map(Cow::Borrowed),
        last_modified: meta.last_modified,
        attributes: Cow::Borrowed(&meta.attributes),
        checksums: Cow::Borrowed(&meta.checksums),
    };
    serde_json::to_string(&stored).expect("object metadata serializes")
}

/// The object `key` of `size` bytes with the metadata [`encode`] stored (or an older row's whole
/// `ObjectMeta`); `None` when the JSON is not one of those.
pub(crate) fn decode(key: String, size: u64, json: &str) -> Option<ObjectMeta> {
    let stored: StoredMeta<'_> = serde_json::from_str(json).ok()?;
    Some(ObjectMeta {
        key,
        size,
        etag: stored.etag.map(Cow::into_owned),
        last_modified: stored.last_modified,
        attributes: stored.attributes.into_owned(),
        checksums: stored.checksums.into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn full() -> ObjectMeta {
        ObjectMeta {
            key: "dir/ключ 🚀".into(),
            size: 12_345,
            etag: Some("0123456789abcdef".into()),
            last_modified: Some(time::macros::datetime!(2026-12-02 10:20:30.123 UTC)),
            attributes: ObjectAttributes {
                content_type: Some("text/plain; charset=utf-8".into()),
                content_encoding: Some("gzip".into()),
                content_language: Some("de".into()),
                content_disposition: Some("attachment; filename=\"a b\"".into()),
                cache_control: Some("no-cache".into()),
                user_metadata: BTreeMap::from([("owner".into(), "ünïcode".into())]),
                tags: BTreeMap::from([("team".into(), "data".into())]),
            },
            checksums: Checksums {
                crc64nvme: Some(u64::MAX),
                md5: Some([7; 16]),
            },
        }
    }

    #[test]
    fn every_field_survives_the_round_trip() {
        let bare = ObjectMeta::new("k", 4);
        let mut partial = ObjectMeta::new("partial/ключ", 0);
        partial.attributes.content_type = Some("image/png".into());
        partial.checksums.md5 = Some([1; 16]);
        for meta in [full(), bare, partial] {
            let json = encode(&meta);
            assert!(
                !json.contains(&meta.key),
                "the key has its own column: {json}"
            );
            assert_eq!(decode(meta.key.clone(), meta.size, &json), Some(meta));
        }
    }

    #[test]
    fn what_the_store_did_not_report_costs_nothing() {
        assert_eq!(encode(&ObjectMeta::new("k", 4)), "{}");
        let mut listed = ObjectMeta::new("k", 4);
        listed.etag = Some("d41d8cd98f00b204e9800998ecf8427e".into());
        listed.last_modified = Some(time::macros::datetime!(2026-12-02 10:20:30 UTC));
        assert_eq!(
            encode(&listed),
            r#"{"etag":"d41d8cd98f00b204e9800998ecf8427e","last_modified":"2026-12-02T10:20:30Z"}"#
        );
    }

    #[test]
    fn rows_written_as_a_whole_object_meta_still_read() {
        for meta in [full(), ObjectMeta::new("old/key", 7)] {
            let older_row = serde_json::to_string(&meta).unwrap();
            assert_eq!(decode(meta.key.clone(), meta.size, &older_row), Some(meta));
        }
        assert_eq!(decode("k".into(), 1, "not json"), None);
    }
}
