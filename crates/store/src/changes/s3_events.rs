//! S3 event notifications (event message structure 2.x, "Records"), as S3 sends them to SQS
//! directly or wrapped in an SNS notification; the `s3:TestEvent` S3 sends when a queue is
//! configured. Keys arrive URL-encoded with `+` for a space.

use serde::Deserialize;

use super::{event_time, Change, ChangeKind, Decoded, Malformed};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope {
    /// An S3 event message.
    #[serde(default)]
    records: Option<Vec<Record>>,
    /// `s3:TestEvent`.
    #[serde(default)]
    event: Option<String>,
    /// An SNS notification: its message is the S3 event message, as text.
    #[serde(default, rename = "Type")]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    #[serde(default)]
    event_source: Option<String>,
    event_name: String,
    #[serde(default)]
    event_time: Option<String>,
    s3: Entity,
}

#[derive(Deserialize)]
struct Entity {
    bucket: Bucket,
    object: Object,
}

#[derive(Deserialize)]
struct Bucket {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Object {
    key: String,
    #[serde(default)]
    e_tag: Option<String>,
    #[serde(default)]
    sequencer: Option<String>,
}

/// Decodes one SQS message body.
pub fn decode(body: &str) -> Result<Decoded, Malformed> {
    let envelope: Envelope = serde_json::from_str(body)
        .map_err(|e| Malformed(format!("not an S3 event message ({e})")))?;
    if envelope.kind.as_deref() == Some("Notification") {
        let inner = envelope
            .message
            .ok_or_else(|| Malformed("an SNS notification without a Message".into()))?;
        return decode(&inner);
    }
    if envelope.event.as_deref() == Some("s3:TestEvent") {
        return Ok(Decoded {
            changes: Vec::new(),
            ignored: 1,
        });
    }
    let records = envelope
        .records
        .ok_or_else(|| Malformed("an S3 event message holds Records or an s3:TestEvent".into()))?;
    let mut decoded = Decoded::default();
    for record in records {
        if record
            .event_source
            .as_deref()
            .is_some_and(|s| s != "aws:s3")
        {
            return Err(Malformed(format!(
                "an event from {}, not aws:s3",
                record.event_source.unwrap_or_default()
            )));
        }
        let Some(kind) = kind_of(&record.event_name) else {
            decoded.ignored += 1;
            continue;
        };
        let time = record.event_time.as_deref().and_then(event_time);
        decoded.changes.push(Change {
            container: record.s3.bucket.name,
            key: decode_key(&record.s3.object.key)?,
            kind,
            etag: record
                .s3
                .object
                .e_tag
                .map(|e| e.trim_matches('"').to_owned())
                .filter(|e| !e.is_empty()),
            sequencer: record.s3.object.sequencer.filter(|s| !s.is_empty()),
            time,
        });
    }
    Ok(decoded)
}

/// What an event name means for the object's content: `ObjectCreated:*` writes it;
/// `ObjectRemoved:*` and lifecycle expiry delete it; anything else (restores, tags, ACLs,
/// replication, tier changes) leaves its content alone.
fn kind_of(event_name: &str) -> Option<ChangeKind> {
    let (family, _) = event_name.split_once(':').unwrap_or((event_name, ""));
    match family {
        "ObjectCreated" => Some(ChangeKind::Created),
        "ObjectRemoved" => Some(ChangeKind::Removed),
        "LifecycleExpiration" => Some(ChangeKind::Removed),
        _ => None,
    }
}

/// A key as S3 writes it in events: form-encoded (`+` a space, `%XX` a byte of UTF-8).
fn decode_key(encoded: &str) -> Result<String, Malformed> {
    let spaced = encoded.replace('+', " ");
    let key = percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map_err(|_| Malformed(format!("key '{encoded}' does not decode to UTF-8")))?
        .into_owned();
    if key.is_empty() {
        return Err(Malformed("an event with an empty key".into()));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as S3 writes it (event message structure 2.1).
    fn record(name: &str, key: &str, sequencer: &str) -> String {
        format!(
            r#"{{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
            "eventTime":"2026-12-07T06:00:00.123Z","eventName":"{name}",
            "userIdentity":{{"principalId":"AWS:X"}},"requestParameters":{{"sourceIPAddress":"127.0.0.1"}},
            "responseElements":{{"x-amz-request-id":"R","x-amz-id-2":"H"}},
            "s3":{{"s3SchemaVersion":"1.0","configurationId":"c","bucket":{{"name":"raw","ownerIdentity":{{"principalId":"A"}},"arn":"arn:aws:s3:::raw"}},
            "object":{{"key":"{key}","size":3,"eTag":"\"abc\"","versionId":"v","sequencer":"{sequencer}"}}}}}}"#
        )
    }

    #[test]
    fn records_decode_with_their_keys_unescaped() {
        let body = format!(
            r#"{{"Records":[{},{}]}}"#,
            record("ObjectCreated:Put", "dir/a+b%2Bc%C3%A9%25.txt", "0A"),
            record("ObjectRemoved:Delete", "x", "0B")
        );
        let decoded = decode(&body).unwrap();
        assert_eq!(decoded.ignored, 0);
        let [put, delete] = &decoded.changes[..] else {
            panic!("{decoded:?}")
        };
        assert_eq!(put.key, "dir/a b+cé%.txt");
        assert_eq!(put.container, "raw");
        assert_eq!(put.kind, ChangeKind::Created);
        assert_eq!(put.etag.as_deref(), Some("abc"));
        assert_eq!(put.sequencer.as_deref(), Some("0A"));
        assert_eq!(put.time.unwrap().millisecond(), 123);
        assert_eq!(delete.kind, ChangeKind::Removed);
    }

    #[test]
    fn moto_records_decode_too() {
        // As moto's server sends them: no offset on the time, no sequencer.
        let body = r#"{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-12-07T06:09:37.017844", "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0", "configurationId": "x", "bucket": {"name": "dbgb1", "arn": "arn:aws:s3:::dbgb1"}, "object": {"key": "a+b%2Bc", "size": 3, "eTag": "d16fb36f0911f878998c136191af705e"}}}]}"#;
        let change = &decode(body).unwrap().changes[0];
        assert_eq!(change.key, "a b+c");
        assert_eq!(change.sequencer, None);
        assert_eq!(change.time.unwrap().microsecond(), 17_844);
    }

    #[test]
    fn the_test_event_and_events_that_leave_content_alone_are_ignored() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-12-07T06:00:00.000Z","Bucket":"raw","RequestId":"R","HostId":"H"}"#;
        assert_eq!(decode(test).unwrap().ignored, 1);
        let body = format!(
            r#"{{"Records":[{},{},{}]}}"#,
            record("ObjectTagging:Put", "a", "01"),
            record("ObjectRestore:Completed", "a", "02"),
            record("LifecycleExpiration:Delete", "a", "03"),
        );
        let decoded = decode(&body).unwrap();
        assert_eq!(decoded.ignored, 2);
        assert_eq!(decoded.changes[0].kind, ChangeKind::Removed);
    }

    #[test]
    fn an_sns_notification_carries_the_s3_message_inside() {
        let inner = format!(
            r#"{{"Records":[{}]}}"#,
            record("ObjectCreated:CompleteMultipartUpload", "k", "01")
        );
        let body = serde_json::json!({"Type": "Notification", "MessageId": "m", "Message": inner})
            .to_string();
        assert_eq!(decode(&body).unwrap().changes[0].key, "k");
    }

    #[test]
    fn malformed_messages_say_why() {
        for (body, why) in [
            ("not json", "not an S3 event message"),
            ("{}", "Records or an s3:TestEvent"),
            (
                r#"{"Records":[{"eventName":"ObjectCreated:Put"}]}"#,
                "not an S3 event message",
            ),
            (
                &format!(
                    r#"{{"Records":[{}]}}"#,
                    record("ObjectCreated:Put", "%FF", "1")
                ),
                "UTF-8",
            ),
            (
                &format!(
                    r#"{{"Records":[{}]}}"#,
                    record("ObjectCreated:Put", "", "1")
                ),
                "empty key",
            ),
            (
                &format!(
                    r#"{{"Records":[{}]}}"#,
                    record("ObjectCreated:Put", "k", "1")
                )
                .replace("aws:s3\"", "aws:sqs\""),
                "not aws:s3",
            ),
        ] {
            let err = decode(body).unwrap_err();
            assert!(err.0.contains(why), "{body}: {err}");
        }
    }
}
