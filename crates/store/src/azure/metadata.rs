//! awcopy's entries in blob metadata (the whole blob's CRC-64/NVME, the record of user
//! metadata names changed to ones Azure takes) and a CRC as Azure's headers carry it.

use std::collections::{BTreeMap, HashMap};

use crate::object::ObjectAttributes;

/// The metadata name under which the whole blob's CRC-64/NVME is kept (Azure has no
/// whole-blob CRC property). Hidden from [`ObjectAttributes::user_metadata`].
pub const CRC_METADATA: &str = "awcopycrc64nvme";

/// The metadata name under which awcopy records the user metadata names it had to change to
/// keep them (Azure takes only C# identifiers), as `stored=original` pairs, form-encoded, so
/// that reading the blob gives the original names back and a name a user chose that merely
/// looks mapped is never altered. Hidden from [`ObjectAttributes::user_metadata`].
pub const NAMES_METADATA: &str = "awcopymetanames";

/// Blob metadata for `attributes`: user metadata under names Azure can hold (with the record
/// of those changed), and the whole blob's CRC-64/NVME when known.
pub(super) fn blob_metadata(
    attributes: &ObjectAttributes,
    crc: Option<u64>,
) -> HashMap<String, String> {
    let mut metadata = HashMap::new();
    let mut renamed = url::form_urlencoded::Serializer::new(String::new());
    let mut any_renamed = false;
    for (name, value) in &attributes.user_metadata {
        let stored = match crate::names::identifier(name) {
            Some(stored) => {
                renamed.append_pair(&stored, name);
                any_renamed = true;
                stored
            }
            None => name.clone(),
        };
        metadata.insert(stored, value.clone());
    }
    if any_renamed {
        metadata.insert(NAMES_METADATA.to_owned(), renamed.finish());
    }
    if let Some(crc) = crc {
        metadata.insert(CRC_METADATA.to_owned(), format!("{crc:016x}"));
    }
    metadata
}

/// Splits awcopy's entries out of blob metadata: (user metadata under the names it was
/// written with, CRC-64/NVME).
pub(super) fn split_metadata(
    metadata: HashMap<String, String>,
) -> (BTreeMap<String, String>, Option<u64>) {
    let mut user: BTreeMap<String, String> = metadata.into_iter().collect();
    let crc = user
        .remove(CRC_METADATA)
        .and_then(|v| u64::from_str_radix(&v, 16).ok());
    let renamed = user.remove(NAMES_METADATA).unwrap_or_default();
    for (stored, original) in url::form_urlencoded::parse(renamed.as_bytes()) {
        // Names come back in whatever case the service and HTTP stack give them.
        let found = user
            .keys()
            .find(|name| name.eq_ignore_ascii_case(&stored))
            .cloned();
        if let Some(value) = found.and_then(|name| user.remove(&name)) {
            user.insert(original.into_owned(), value);
        }
    }
    (user, crc)
}

/// CRC-64/NVME as Azure's `x-ms-content-crc64` carries it: little-endian bytes.
pub fn crc64_bytes(crc: u64) -> Vec<u8> {
    crc.to_le_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renamed_metadata_names_come_back_and_chosen_ones_stay() {
        let attributes = ObjectAttributes {
            user_metadata: BTreeMap::from([
                ("run-id".to_owned(), "42".to_owned()),
                ("1st".to_owned(), "a".to_owned()),
                // Chosen by a user; merely looks like a renamed name.
                ("look_x2d_alike".to_owned(), "b".to_owned()),
                ("origin".to_owned(), "c".to_owned()),
            ]),
            ..ObjectAttributes::default()
        };
        let stored = blob_metadata(&attributes, Some(7));
        for name in stored.keys() {
            assert!(crate::names::identifier(name).is_none(), "{name} is stored");
        }
        assert_eq!(stored["run_x2d_id"], "42");
        assert_eq!(stored["_1st"], "a");
        // As the service gives them back: names in lower case.
        let read: HashMap<String, String> = stored
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let (user, crc) = split_metadata(read);
        assert_eq!(user, attributes.user_metadata);
        assert_eq!(crc, Some(7));
    }

    #[test]
    fn metadata_without_renames_gets_no_record() {
        let attributes = ObjectAttributes {
            user_metadata: BTreeMap::from([("origin".to_owned(), "c".to_owned())]),
            ..ObjectAttributes::default()
        };
        let stored = blob_metadata(&attributes, None);
        assert_eq!(stored.len(), 1);
        assert_eq!(split_metadata(stored).0, attributes.user_metadata);
    }

    #[test]
    fn crc64_is_little_endian_for_azure() {
        assert_eq!(
            crc64_bytes(0x0102_0304_0506_0708),
            vec![8, 7, 6, 5, 4, 3, 2, 1]
        );
    }
}
