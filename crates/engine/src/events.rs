//! Per-object events of a job, for the `--log` journal and `--json` output: one record per
//! object action, free of secrets (messages are redacted at their source).

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::sync::Mutex;

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Copied and verified.
    Copied,
    /// Would be copied (dry run).
    Planned,
    /// Left out by a filter.
    Skipped,
    /// Already at the destination; the overwrite policy kept it.
    Kept,
    /// Failed; `error` says why.
    Failed,
    /// Deleted (a source after `mv`, or a destination extra after `sync --delete`).
    Deleted,
}

/// One journal record.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectEvent<'a> {
    /// RFC 3339 time of the event.
    pub time: String,
    /// What happened.
    pub action: Action,
    /// The key acted on (source key, or destination key for deleted extras).
    pub key: &'a str,
    /// The destination key, for copies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_key: Option<&'a str>,
    /// Object size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Error class and message, for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl<'a> ObjectEvent<'a> {
    /// An event happening now.
    pub fn now(action: Action, key: &'a str) -> Self {
        let time = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Self {
            time,
            action,
            key,
            dest_key: None,
            size: None,
            error: None,
        }
    }
}

/// One journal record, owned: what travels between tasks, processes and machines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// RFC 3339 time of the event.
    pub time: String,
    /// What happened.
    pub action: Action,
    /// The key acted on.
    pub key: String,
    /// The destination key, for copies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest_key: Option<String>,
    /// Object size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Error class and message, for failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<&ObjectEvent<'_>> for ObjectRecord {
    fn from(event: &ObjectEvent<'_>) -> Self {
        Self {
            time: event.time.clone(),
            action: event.action,
            key: event.key.to_owned(),
            dest_key: event.dest_key.map(str::to_owned),
            size: event.size,
            error: event.error.clone(),
        }
    }
}

/// Where events go.
pub trait EventSink: Send + Sync + std::fmt::Debug {
    /// Records one event.
    fn record(&self, event: &ObjectEvent<'_>);
}

/// Writes each event as one JSON line to a writer (a `--log` file, or stdout for `--json`).
#[derive(Debug)]
pub struct JsonLines<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> JsonLines<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }
}

impl<W: Write + Send + std::fmt::Debug> EventSink for JsonLines<W> {
    fn record(&self, event: &ObjectEvent<'_>) {
        let mut out = self.out.lock().expect("journal lock");
        let line = serde_json::to_string(event).expect("events serialize");
        if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
            tracing::warn!("cannot write the journal: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Clone)]
    struct Shared(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn one_json_line_per_event() {
        let buffer = Shared::default();
        let sink = JsonLines::new(buffer.clone());
        sink.record(&ObjectEvent {
            size: Some(3),
            dest_key: Some("out/a"),
            ..ObjectEvent::now(Action::Copied, "a")
        });
        sink.record(&ObjectEvent {
            error: Some("auth: denied".into()),
            ..ObjectEvent::now(Action::Failed, "b")
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["action"], "copied");
        assert_eq!(lines[0]["dest_key"], "out/a");
        assert_eq!(lines[1]["error"], "auth: denied");
        assert!(lines[1].get("size").is_none());
    }
}

/// Several sinks at once (a `--log` file and `--json` output).
#[derive(Debug)]
pub struct Tee(pub Vec<std::sync::Arc<dyn EventSink>>);

impl EventSink for Tee {
    fn record(&self, event: &ObjectEvent<'_>) {
        for sink in &self.0 {
            sink.record(event);
        }
    }
}
