//! Azure Blob Storage events as Event Grid delivers them to a Storage Queue: one event (or an
//! array of them) per message, in the Event Grid schema or the CloudEvents 1.0 schema, the
//! text as JSON or base64 of it. `Microsoft.Storage.BlobCreated` counts only once a blob is
//! whole (the APIs that commit one: a blob put in blocks announces its Put Block List, never
//! its blocks); `Microsoft.Storage.BlobDeleted` deletes it; other event types change no
//! object's content.

use base64::Engine as _;
use serde::Deserialize;

use super::{event_time, Change, ChangeKind, Decoded, Malformed};

/// An event in either schema: Event Grid's names first, CloudEvents' as aliases.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(alias = "type")]
    event_type: String,
    /// `/blobServices/default/containers/CONTAINER/blobs/NAME`.
    #[serde(default)]
    subject: Option<String>,
    /// `/subscriptions/.../providers/Microsoft.Storage/storageAccounts/ACCOUNT`.
    #[serde(default, alias = "source")]
    topic: Option<String>,
    #[serde(default, alias = "time")]
    event_time: Option<String>,
    #[serde(default)]
    data: Data,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Data {
    #[serde(default)]
    api: Option<String>,
    #[serde(default)]
    e_tag: Option<String>,
    #[serde(default)]
    sequencer: Option<String>,
}

/// The APIs whose `BlobCreated` means a whole new blob (the documented filter for "only once
/// the blob is committed"): others (`CreateFile` of an empty file about to be appended to, ...)
/// are ignored.
const COMMITTING_APIS: [&str; 7] = [
    "PutBlob",
    "PutBlockList",
    "CopyBlob",
    "FlushWithClose",
    "SftpCommit",
    "PutBlobFromUrl",
    "CopyBlobFromUrl",
];

/// Decodes one Storage Queue message.
pub fn decode(body: &str) -> Result<Decoded, Malformed> {
    let text = body.trim();
    let json = if text.starts_with('{') || text.starts_with('[') {
        text.to_owned()
    } else {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| Malformed("neither JSON nor base64 of JSON".into()))?;
        String::from_utf8(bytes).map_err(|_| Malformed("base64 of something not UTF-8".into()))?
    };
    let value: serde_json::Value = serde_json::from_str(&json)
        .map_err(|e| Malformed(format!("not an Event Grid event ({e})")))?;
    let events = match value {
        serde_json::Value::Array(events) => events,
        event => vec![event],
    };
    let mut decoded = Decoded::default();
    for event in events {
        let event: Event = serde_json::from_value(event)
            .map_err(|e| Malformed(format!("not an Event Grid event ({e})")))?;
        let kind = match event.event_type.as_str() {
            "Microsoft.Storage.BlobCreated" if committing(event.data.api.as_deref()) => {
                ChangeKind::Created
            }
            "Microsoft.Storage.BlobDeleted" => ChangeKind::Removed,
            _ => {
                decoded.ignored += 1;
                continue;
            }
        };
        decoded.changes.push(change(event, kind)?);
    }
    Ok(decoded)
}

fn committing(api: Option<&str>) -> bool {
    api.is_some_and(|api| COMMITTING_APIS.iter().any(|c| c.eq_ignore_ascii_case(api)))
}

fn change(event: Event, kind: ChangeKind) -> Result<Change, Malformed> {
    let account = event
        .topic
        .as_deref()
        .and_then(|t| t.rsplit_once("/storageAccounts/"))
        .map(|(_, account)| account.trim_end_matches('/'))
        .filter(|a| !a.is_empty() && !a.contains('/'))
        .ok_or_else(|| Malformed("no storage account in the event's topic".into()))?;
    let subject = event.subject.unwrap_or_default();
    let (container, key) = subject
        .strip_prefix("/blobServices/default/containers/")
        .and_then(|rest| rest.split_once("/blobs/"))
        .filter(|(container, key)| !container.is_empty() && !key.is_empty())
        .ok_or_else(|| {
            Malformed(format!(
                "subject '{subject}' is not /blobServices/default/containers/CONTAINER/blobs/NAME"
            ))
        })?;
    let time = event.event_time.as_deref().and_then(event_time);
    Ok(Change {
        container: format!("{account}/{container}"),
        key: key.to_owned(),
        kind,
        etag: event
            .data
            .e_tag
            .map(|e| e.trim_matches('"').to_owned())
            .filter(|e| !e.is_empty()),
        sequencer: event.data.sequencer.filter(|s| !s.is_empty()),
        time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event in the Event Grid schema, as the Azure documentation shows it.
    fn event(kind: &str, api: &str, name: &str, sequencer: &str) -> serde_json::Value {
        serde_json::json!({
            "topic": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/lake",
            "subject": format!("/blobServices/default/containers/landing/blobs/{name}"),
            "eventType": kind,
            "eventTime": "2026-12-07T06:00:00.9584103Z",
            "id": "831e1650-001e-001b-66ab-eeb76e069631",
            "data": {
                "api": api, "clientRequestId": "c", "requestId": "r",
                "eTag": "0x8D4BCC2E4835CD0", "contentType": "text/plain",
                "contentLength": 524288, "blobType": "BlockBlob",
                "url": format!("https://lake.blob.core.windows.net/landing/{name}"),
                "sequencer": sequencer,
                "storageDiagnostics": {"batchId": "b"}
            },
            "dataVersion": "", "metadataVersion": "1"
        })
    }

    #[test]
    fn blob_events_decode_as_json_or_base64_one_or_many() {
        let created = event(
            "Microsoft.Storage.BlobCreated",
            "PutBlockList",
            "dir/a b+é.txt",
            "01",
        );
        let deleted = event("Microsoft.Storage.BlobDeleted", "DeleteBlob", "x", "02");
        let one = decode(&created.to_string()).unwrap();
        assert_eq!(one.changes[0].key, "dir/a b+é.txt");
        assert_eq!(one.changes[0].container, "lake/landing");
        assert_eq!(one.changes[0].etag.as_deref(), Some("0x8D4BCC2E4835CD0"));
        assert_eq!(one.changes[0].time.unwrap().nanosecond(), 958_410_300);
        let both = serde_json::Value::Array(vec![created, deleted]).to_string();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&both);
        let decoded = decode(&encoded).unwrap();
        assert_eq!(decoded.changes.len(), 2);
        assert_eq!(decoded.changes[1].kind, ChangeKind::Removed);
    }

    #[test]
    fn cloud_events_schema_decodes_too() {
        let mut e = event("Microsoft.Storage.BlobCreated", "PutBlob", "k", "01");
        let map = e.as_object_mut().unwrap();
        let kind = map.remove("eventType").unwrap();
        let topic = map.remove("topic").unwrap();
        let time = map.remove("eventTime").unwrap();
        map.insert("type".into(), kind);
        map.insert("source".into(), topic);
        map.insert("time".into(), time);
        map.insert("specversion".into(), "1.0".into());
        assert_eq!(decode(&e.to_string()).unwrap().changes[0].key, "k");
    }

    #[test]
    fn only_a_committed_blob_counts_as_created() {
        for api in ["PutBlock", "CreateFile", "AppendBlock"] {
            let decoded =
                decode(&event("Microsoft.Storage.BlobCreated", api, "k", "1").to_string()).unwrap();
            assert_eq!((decoded.changes.len(), decoded.ignored), (0, 1), "{api}");
        }
        let tier = event("Microsoft.Storage.BlobTierChanged", "SetBlobTier", "k", "1");
        assert_eq!(decode(&tier.to_string()).unwrap().ignored, 1);
    }

    #[test]
    fn malformed_events_say_why() {
        let mut no_account = event("Microsoft.Storage.BlobCreated", "PutBlob", "k", "1");
        no_account["topic"] = "/subscriptions/s".into();
        let mut bad_subject = event("Microsoft.Storage.BlobCreated", "PutBlob", "k", "1");
        bad_subject["subject"] = "/blobServices/default/containers/landing".into();
        for (body, why) in [
            ("%%%".to_owned(), "neither JSON nor base64"),
            ("[1]".to_owned(), "not an Event Grid event"),
            (no_account.to_string(), "no storage account"),
            (bad_subject.to_string(), "is not /blobServices"),
        ] {
            let err = decode(&body).unwrap_err();
            assert!(err.0.contains(why), "{body}: {err}");
        }
    }
}
