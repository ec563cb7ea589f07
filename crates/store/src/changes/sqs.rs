//! The SQS queue an S3 bucket sends its event notifications to.
//!
//! Requests go to the SQS endpoint the process's operator set (or Amazon SQS of the region):
//! a queue URL a user gives is only a name, checked to point at that same endpoint, never a
//! host to call.

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};
use aws_sdk_sqs::Client;
use std::time::Duration;
use time::OffsetDateTime;
use url::Url;

use super::{ChangeQueue, Decoded, Malformed, QueueMessage};
use crate::error::{Result, StoreError};
use crate::s3::errors::map_sdk_error;

/// SQS's most messages per receive and per delete batch.
const SQS_BATCH: usize = 10;
/// SQS's longest long poll.
const LONGEST_POLL: Duration = Duration::from_secs(20);

/// An SQS queue of S3 event notifications.
#[derive(Debug)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

/// Whether `name` is an SQS queue name: 1 to 80 letters, digits, `-` and `_` (a FIFO queue's
/// ends in `.fifo`).
fn valid_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    (1..=80).contains(&name.len())
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The queue named by `queue` (a name, or a queue URL on `endpoint`) and, for a URL, the URL.
/// `endpoint` is where requests go (`None`: Amazon SQS in `region`).
pub fn check_queue(queue: &str, endpoint: Option<&Url>, region: &str) -> Result<QueueName> {
    let refuse = |why: String| StoreError::usage(format!("queue '{queue}': {why}"));
    if valid_name(queue) {
        return Ok(QueueName::Name(queue.to_owned()));
    }
    let url = Url::parse(queue).map_err(|_| {
        refuse("give the SQS queue's name (1 to 80 letters, digits, - and _) or its URL".into())
    })?;
    let name = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default()
        .to_owned();
    let segments = url.path_segments().map_or(0, Iterator::count);
    if !valid_name(&name) || segments != 2 || url.query().is_some() || !url.username().is_empty() {
        return Err(refuse(
            "a queue URL is https://sqs.REGION.amazonaws.com/ACCOUNT/NAME".into(),
        ));
    }
    let expected = match endpoint {
        Some(endpoint) => endpoint.origin(),
        None => Url::parse(&format!("https://sqs.{region}.amazonaws.com"))
            .map_err(|e| refuse(format!("region '{region}' ({e})")))?
            .origin(),
    };
    if url.origin() != expected {
        return Err(refuse(format!(
            "this service reads SQS at {}; a queue elsewhere is out of its reach",
            expected.ascii_serialization()
        )));
    }
    Ok(QueueName::Url(url.to_string()))
}

/// A queue as a user named it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueName {
    /// By name: its URL is asked of SQS.
    Name(String),
    /// By URL, on the configured endpoint.
    Url(String),
}

impl SqsQueue {
    /// Opens `queue` at `endpoint` (`None`: Amazon SQS) with the standard AWS credential
    /// chain, in `region` unless the environment names one.
    pub async fn open(queue: &str, endpoint: Option<&Url>, region: Option<&str>) -> Result<Self> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region.to_owned()));
        }
        let shared = loader.load().await;
        let region = shared
            .region()
            .map_or("us-east-1", |r| r.as_ref())
            .to_owned();
        let name = check_queue(queue, endpoint, &region)?;
        let mut config = aws_sdk_sqs::config::Builder::from(&shared)
            .region(aws_config::Region::new(region))
            .retry_config(aws_sdk_sqs::config::retry::RetryConfig::standard());
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint.as_str().trim_end_matches('/'));
        }
        let client = Client::from_conf(config.build());
        let url = match name {
            QueueName::Url(url) => url,
            QueueName::Name(name) => client
                .get_queue_url()
                .queue_name(&name)
                .send()
                .await
                .map_err(|e| map_sdk_error(e, &format!("find SQS queue '{name}'")))?
                .queue_url
                .ok_or_else(|| StoreError::usage(format!("SQS has no URL for queue '{name}'")))?,
        };
        Ok(Self { client, url })
    }
}

#[async_trait::async_trait]
impl ChangeQueue for SqsQueue {
    async fn receive(
        &self,
        max: u32,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<QueueMessage>> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, SQS_BATCH as u32) as i32)
            .wait_time_seconds(wait.min(LONGEST_POLL).as_secs() as i32)
            .visibility_timeout(visibility.as_secs().max(1) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| map_sdk_error(e, "receive from SQS"))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let attributes = m.attributes.unwrap_or_default();
                let attribute = |name| attributes.get(&name).and_then(|v| v.parse::<i64>().ok());
                Some(QueueMessage {
                    id: m.message_id?,
                    receipt: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                    receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                        .map_or(1, |n| n.clamp(1, i64::from(u32::MAX)) as u32),
                    sent: attribute(MessageSystemAttributeName::SentTimestamp).and_then(|ms| {
                        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
                    }),
                })
            })
            .collect())
    }

    async fn delete(&self, messages: &[QueueMessage]) -> Result<()> {
        for batch in messages.chunks(SQS_BATCH) {
            let entries = batch
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&m.receipt)
                        .build()
                        .expect("id and receipt handle are set")
                })
                .collect();
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| map_sdk_error(e, "delete from SQS"))?;
            if let Some(failed) = out.failed.first() {
                return Err(StoreError::new(
                    crate::ErrorKind::Other,
                    format!(
                        "SQS kept {} of {} messages: {} ({})",
                        out.failed.len(),
                        batch.len(),
                        failed.message.as_deref().unwrap_or("no reason given"),
                        failed.code
                    ),
                ));
            }
        }
        Ok(())
    }

    async fn depth(&self) -> Result<u64> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| map_sdk_error(e, "read the SQS queue's depth"))?;
        Ok(out
            .attributes
            .unwrap_or_default()
            .values()
            .filter_map(|v| v.parse::<u64>().ok())
            .sum())
    }

    fn decode(&self, body: &str) -> std::result::Result<Decoded, Malformed> {
        super::s3_events::decode(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_is_a_name_or_a_url_on_the_configured_endpoint() {
        let moto = Url::parse("http://127.0.0.1:5000").unwrap();
        assert_eq!(
            check_queue("events_1-a.fifo", Some(&moto), "us-east-1").unwrap(),
            QueueName::Name("events_1-a.fifo".into())
        );
        assert!(matches!(
            check_queue(
                "http://127.0.0.1:5000/123456789012/events",
                Some(&moto),
                "x"
            ),
            Ok(QueueName::Url(_))
        ));
        assert!(matches!(
            check_queue(
                "https://sqs.eu-west-1.amazonaws.com/123456789012/events",
                None,
                "eu-west-1"
            ),
            Ok(QueueName::Url(_))
        ));
        for (queue, why) in [
            (
                "http://127.0.0.2:5000/123456789012/events",
                "out of its reach",
            ),
            (
                "https://sqs.us-east-1.amazonaws.com/123456789012/events",
                "out of its reach",
            ),
            ("http://127.0.0.1:5000/events", "a queue URL is"),
            ("http://127.0.0.1:5000/1/events?x=1", "a queue URL is"),
            ("http://u@127.0.0.1:5000/1/events", "a queue URL is"),
            ("bad name", "give the SQS queue's name"),
            ("", "give the SQS queue's name"),
        ] {
            let endpoint = if queue.contains("amazonaws") {
                None
            } else {
                Some(&moto)
            };
            let err = check_queue(queue, endpoint, "eu-west-1")
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{queue}: {err}");
        }
    }
}
