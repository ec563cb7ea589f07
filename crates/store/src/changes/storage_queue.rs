//! The Azure Storage Queue Event Grid delivers an account's blob events to.
//!
//! Requests go to the queue endpoint the process's operator configured for the account,
//! signed as the account's blob requests are (Shared Key, SAS or Microsoft Entra ID): a user
//! names only the queue.

use azure_core::http::policies::Policy;
use azure_core::http::RetryOptions;
use azure_storage_queue::models::{
    QueueClientGetPropertiesResultHeaders, QueueClientReceiveMessagesOptions,
};
use azure_storage_queue::{QueueClient, QueueClientOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

use super::{ChangeQueue, Decoded, Malformed, QueueMessage};
use crate::azure::credentials::{self, AzureAuth};
use crate::azure::errors::map_error;
use crate::azure::shared_key::SharedKeyPolicy;
use crate::error::{Result, StoreError};

/// A Storage Queue's most messages per receive.
const MOST_PER_RECEIVE: u32 = 32;
/// Deletes in flight at once.
const DELETES_IN_FLIGHT: usize = 16;
/// How long an empty queue is left before it is asked again (it has no long poll).
const EMPTY_PAUSE: Duration = Duration::from_millis(500);

/// An Azure Storage Queue of Event Grid blob events.
pub struct StorageQueue {
    client: QueueClient,
}

impl std::fmt::Debug for StorageQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL alone: a SAS in its query is a secret.
        let mut url = self.client.url().clone();
        url.set_query(None);
        f.debug_struct("StorageQueue")
            .field("url", &url.as_str())
            .finish()
    }
}

/// Whether `name` is a Storage Queue name: 3 to 63 lowercase letters, digits and single
/// hyphens, starting and ending with a letter or digit.
pub fn valid_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

impl StorageQueue {
    /// Opens queue `name` of `account` at `endpoint` (the account's queue endpoint), with the
    /// account's credentials as [`credentials::resolve`] finds them.
    pub fn open(account: &str, name: &str, endpoint: &Url) -> Result<Self> {
        if !valid_name(name) {
            return Err(StoreError::usage(format!(
                "queue '{name}': a Storage Queue name is 3 to 63 lowercase letters, digits and single hyphens"
            )));
        }
        let access = credentials::resolve(account, Some(endpoint), None)?;
        let mut url = access.endpoint.clone();
        url.path_segments_mut()
            .map_err(|()| StoreError::usage(format!("{endpoint} cannot be a queue endpoint")))?
            .push(name);
        let mut options = QueueClientOptions::default();
        options.client_options.retry = RetryOptions::exponential(Default::default());
        let mut token = None;
        match &access.auth {
            AzureAuth::SharedKey(key) => {
                let policy: Arc<dyn Policy> = Arc::new(SharedKeyPolicy::new(account, key.clone()));
                options.client_options.per_try_policies.push(policy);
            }
            AzureAuth::Sas(sas) => url.set_query(Some(sas.expose())),
            AzureAuth::Token(credential) => token = Some(credential.clone()),
        }
        let client = QueueClient::new(url, token, Some(options))
            .map_err(|e| map_error(e, &format!("open queue '{name}'")))?;
        Ok(Self { client })
    }

    /// The SDK's client of the queue (tests create queues and send messages with it).
    pub fn client(&self) -> &QueueClient {
        &self.client
    }

    /// One receive: what is visible now.
    async fn receive_once(&self, max: u32, visibility: Duration) -> Result<Vec<QueueMessage>> {
        let options = QueueClientReceiveMessagesOptions {
            number_of_messages: Some(max.clamp(1, MOST_PER_RECEIVE) as i32),
            visibility_timeout: Some(visibility.as_secs().clamp(1, 7 * 86_400) as i32),
            ..Default::default()
        };
        let messages = self
            .client
            .receive_messages(Some(options))
            .await
            .and_then(|r| r.into_model())
            .map_err(|e| map_error(e, "receive from the Storage Queue"))?;
        Ok(messages
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                Some(QueueMessage {
                    id: m.message_id?,
                    receipt: m.pop_receipt?,
                    body: m.message_text.unwrap_or_default(),
                    receive_count: m
                        .dequeue_count
                        .map_or(1, |n| n.clamp(1, i64::from(u32::MAX)) as u32),
                    sent: m.insertion_time,
                })
            })
            .collect())
    }
}

#[async_trait::async_trait]
impl ChangeQueue for StorageQueue {
    async fn receive(
        &self,
        max: u32,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<QueueMessage>> {
        // A Storage Queue answers at once: poll until something comes or `wait` is over.
        let started = Instant::now();
        loop {
            let messages = self.receive_once(max, visibility).await?;
            if !messages.is_empty() || started.elapsed() + EMPTY_PAUSE > wait {
                return Ok(messages);
            }
            tokio::time::sleep(EMPTY_PAUSE).await;
        }
    }

    async fn delete(&self, messages: &[QueueMessage]) -> Result<()> {
        use futures::{StreamExt, TryStreamExt};
        // One request a message (the Queue service has no batch delete), several at once.
        // Owned: a stream of borrowed messages makes this future not provably `Send`.
        let receipts: Vec<(String, String)> = messages
            .iter()
            .map(|m| (m.id.clone(), m.receipt.clone()))
            .collect();
        futures::stream::iter(receipts)
            .map(|(id, receipt)| async move {
                match self.client.delete_message(&id, &receipt, None).await {
                    Ok(_) => Ok(()),
                    // Already gone (another reader's delete after its visibility ran out).
                    Err(e) if e.http_status().map(u16::from) == Some(404) => Ok(()),
                    Err(e) => Err(map_error(e, "delete from the Storage Queue")),
                }
            })
            .buffer_unordered(DELETES_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }

    async fn depth(&self) -> Result<u64> {
        let response = self
            .client
            .get_properties(None)
            .await
            .map_err(|e| map_error(e, "read the Storage Queue's depth"))?;
        let count = response
            .approximate_messages_count()
            .map_err(|e| map_error(e, "read the Storage Queue's depth"))?;
        Ok(count.unwrap_or(0).max(0) as u64)
    }

    fn decode(&self, body: &str) -> std::result::Result<Decoded, Malformed> {
        super::event_grid::decode(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_follow_azure_rules() {
        for good in ["abc", "blob-events-1", &"a".repeat(63)] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "ab",
            "Abc",
            "a--b",
            "-ab",
            "ab-",
            "a_b",
            "a/b",
            &"a".repeat(64),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
