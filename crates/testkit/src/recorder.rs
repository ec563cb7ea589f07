//! A listener that stands for any host a user might name: on another loopback address
//! (127.0.0.2), it records every connection and whatever bytes arrive on it, and answers like
//! a cloud would (200, an empty body), so a client that reached it would carry on and send
//! more. An attack test asserts it received nothing.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The recording listener; it stops when dropped.
pub struct Recorder {
    address: SocketAddr,
    received: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    /// Listens on a free port of 127.0.0.2.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.2:0")
            .await
            .expect("listen on 127.0.0.2 (loopback)");
        let address = listener.local_addr().expect("an address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let record = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, peer)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    let mut bytes = vec![0u8; 64 * 1024];
                    let n = stream.read(&mut bytes).await.unwrap_or(0);
                    let text = String::from_utf8_lossy(&bytes[..n]).into_owned();
                    record
                        .lock()
                        .expect("record lock")
                        .push(format!("from {peer}: {text}"));
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await;
                });
            }
        });
        Self {
            address,
            received,
            task,
        }
    }

    /// `host:port`.
    pub fn host(&self) -> String {
        self.address.to_string()
    }

    /// Everything it received: one entry per connection.
    pub fn received(&self) -> Vec<String> {
        self.received.lock().expect("record lock").clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}
