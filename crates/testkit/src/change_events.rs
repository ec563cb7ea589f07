//! The clouds' change events on the emulators: an SQS queue on moto that a bucket sends its
//! real S3 event notifications to, and an Azure Storage Queue on Azurite that the test writes
//! Event Grid blob events to, in the documented schema (Azurite has no Event Grid).

use awcopy_store::changes::storage_queue::StorageQueue;
use awcopy_store::Location;
use azure_storage_queue::models::QueueMessage;

/// The account moto gives its queues.
const MOTO_ACCOUNT: &str = "123456789012";

/// An SQS client of the S3 emulator (moto serves SQS on the same endpoint).
pub async fn sqs() -> aws_sdk_sqs::Client {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(crate::s3_endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    aws_sdk_sqs::Client::new(&shared)
}

/// An S3 client of the S3 emulator, for what the store does not do (notifications).
async fn s3() -> aws_sdk_s3::Client {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(crate::s3_endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    let config = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A fresh SQS queue on moto: its name and URL.
pub async fn new_sqs_queue(hint: &str) -> (String, String) {
    let name = crate::unique_name(hint);
    let url = sqs()
        .await
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("create an SQS queue on moto")
        .queue_url
        .expect("a queue URL");
    (name, url)
}

/// Has the bucket of `bucket` send its object created and removed events to SQS queue
/// `queue` (S3 then sends an `s3:TestEvent` first).
pub async fn notify(bucket: &Location, queue: &str) {
    use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
    let Location::S3 { bucket, .. } = bucket else {
        panic!("{bucket} is not an S3 bucket")
    };
    let to_queue = QueueConfiguration::builder()
        .queue_arn(format!("arn:aws:sqs:us-east-1:{MOTO_ACCOUNT}:{queue}"))
        .events(Event::S3ObjectCreated)
        .events(Event::S3ObjectRemoved)
        .build()
        .expect("a queue configuration");
    s3().await
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(to_queue)
                .build(),
        )
        .send()
        .await
        .expect("configure the bucket's notifications");
}

/// Sends `body` to SQS queue `url` as it is (a forged or damaged message).
pub async fn send_sqs(url: &str, body: &str) {
    sqs()
        .await
        .send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await
        .expect("send to SQS");
}

/// Takes every message off SQS queue `url` and deletes it, as an operator clearing a queue
/// by hand would; returns how many it took.
pub async fn drain_sqs(url: &str) -> usize {
    let client = sqs().await;
    let mut taken = 0;
    loop {
        let got = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive from SQS")
            .messages
            .unwrap_or_default();
        if got.is_empty() {
            return taken;
        }
        for message in got {
            client
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle.expect("a receipt"))
                .send()
                .await
                .expect("delete from SQS");
            taken += 1;
        }
    }
}

/// The Azure emulator's account and its queue endpoint.
fn azure_queue_place() -> (String, url::Url) {
    let endpoint = std::env::var("AWCOPY_TEST_AZURE_QUEUE_ENDPOINT")
        .expect("AWCOPY_TEST_AZURE_QUEUE_ENDPOINT (run the tests through scripts/test.sh)");
    let endpoint = url::Url::parse(&endpoint).expect("a queue endpoint URL");
    let account = endpoint
        .path_segments()
        .and_then(|mut s| s.next())
        .expect("an emulator endpoint names its account")
        .to_owned();
    (account, endpoint)
}

/// A fresh Storage Queue on Azurite: its name, and the queue.
pub async fn new_azure_queue(hint: &str) -> (String, StorageQueue) {
    let name = crate::unique_name(hint).to_ascii_lowercase();
    let (account, endpoint) = azure_queue_place();
    let queue = StorageQueue::open(&account, &name, &endpoint).expect("open the Storage Queue");
    queue
        .client()
        .create(None)
        .await
        .expect("create a Storage Queue on Azurite");
    (name, queue)
}

/// Sends `text` to the Storage Queue as it is.
pub async fn send_azure(queue: &StorageQueue, text: &str) {
    let message = QueueMessage {
        message_text: Some(text.to_owned()),
    };
    queue
        .client()
        .send_message(message.try_into().expect("an XML body"), None)
        .await
        .expect("send to the Storage Queue");
}

/// An Event Grid blob event (Event Grid schema) for `name` in `container` of `account`.
pub fn blob_event(
    kind: &str,
    api: &str,
    account: &str,
    container: &str,
    name: &str,
    etag: &str,
    sequencer: u64,
) -> serde_json::Value {
    let time = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a time");
    serde_json::json!({
        "topic": format!("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/tests/providers/Microsoft.Storage/storageAccounts/{account}"),
        "subject": format!("/blobServices/default/containers/{container}/blobs/{name}"),
        "eventType": kind,
        "eventTime": time,
        "id": uuid::Uuid::new_v4().to_string(),
        "data": {
            "api": api,
            "clientRequestId": uuid::Uuid::new_v4().to_string(),
            "requestId": uuid::Uuid::new_v4().to_string(),
            "eTag": etag,
            "contentType": "application/octet-stream",
            "contentLength": 0,
            "blobType": "BlockBlob",
            "url": format!("https://{account}.blob.core.windows.net/{container}/{name}"),
            "sequencer": format!("{sequencer:032X}"),
            "storageDiagnostics": {"batchId": uuid::Uuid::new_v4().to_string()}
        },
        "dataVersion": "",
        "metadataVersion": "1"
    })
}

/// Deletes each of `keys` from `store`.
pub async fn delete_all(store: &std::sync::Arc<dyn awcopy_store::Store>, keys: &[String]) {
    use futures::{StreamExt, TryStreamExt};
    futures::stream::iter(keys)
        .map(|key| store.delete(key))
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await
        .expect("delete the objects");
}

/// The objects under `prefix` in `store`, by key relative to it (none if it cannot be listed).
pub async fn objects_under(
    store: &std::sync::Arc<dyn awcopy_store::Store>,
    prefix: &str,
) -> std::collections::BTreeMap<String, awcopy_store::ObjectMeta> {
    use futures::TryStreamExt;
    let pages: Vec<_> = store
        .list(awcopy_store::ListRequest {
            prefix: prefix.into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap_or_default();
    pages
        .into_iter()
        .flat_map(|p| p.objects)
        .map(|o| (o.key[prefix.len()..].to_owned(), o))
        .collect()
}

/// Waits up to `within` until `store` under `prefix` holds the keys and sizes of `expected`,
/// then checks every byte; `Err` says what differs if it never does.
pub async fn wait_until_holds(
    store: &std::sync::Arc<dyn awcopy_store::Store>,
    prefix: &str,
    expected: &std::collections::BTreeMap<String, Vec<u8>>,
    within: std::time::Duration,
) -> Result<(), String> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let now = objects_under(store, prefix).await;
        let same = now.len() == expected.len()
            && expected
                .iter()
                .all(|(k, v)| now.get(k).is_some_and(|m| m.size == v.len() as u64));
        if same {
            crate::assert_holds(store, prefix, expected).await;
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            let missing: Vec<_> = expected
                .keys()
                .filter(|k| !now.contains_key(*k))
                .take(5)
                .collect();
            let extra: Vec<_> = now
                .keys()
                .filter(|k| !expected.contains_key(*k))
                .take(5)
                .collect();
            return Err(format!(
                "{} keys, {} expected; missing {missing:?}, extra {extra:?}",
                now.len(),
                expected.len()
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
