//! A job's failures as a file to download: CSV for a spreadsheet, JSON lines for a program,
//! read from the catalogue a page at a time as the file is sent (a job may have millions).

use awcopy_jobs::{FailurePage, JobRecord};
use futures::Stream;
use std::sync::Arc;

use crate::error::ServiceError;
use crate::service::Service;
use crate::wire::FailureView;

/// Failures read from the catalogue per step of the file.
const PER_STEP: u32 = 1000;

/// The form of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailuresFormat {
    /// Comma-separated values, a header first (RFC 4180).
    Csv,
    /// One JSON object per line, as `GET /jobs/{id}/failures` gives each.
    JsonLines,
}

impl FailuresFormat {
    /// The format named `text` (`csv`, `jsonl`).
    pub fn named(text: &str) -> Result<Self, ServiceError> {
        match text {
            "csv" => Ok(Self::Csv),
            "jsonl" | "ndjson" => Ok(Self::JsonLines),
            other => Err(ServiceError::invalid(format!(
                "format: '{other}' is not a download format; use csv or jsonl"
            ))),
        }
    }

    /// Its media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::JsonLines => "application/x-ndjson",
        }
    }

    /// The file name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::JsonLines => "jsonl",
        }
    }
}

/// Every failure of `job`, key by key, as the bytes of a `format` file.
pub fn failures_file(
    service: Arc<Service>,
    job: JobRecord,
    format: FailuresFormat,
) -> impl Stream<Item = Result<Vec<u8>, ServiceError>> {
    let header = (format == FailuresFormat::Csv)
        .then(|| b"key,attempts,error_class,message,updated_at\r\n".to_vec());
    let first = futures::stream::iter(header.map(Ok));
    let rest = futures::stream::try_unfold(Some(None), move |after: Option<Option<String>>| {
        let (service, job) = (service.clone(), job.clone());
        async move {
            let Some(after) = after else { return Ok(None) };
            let page = FailurePage {
                after,
                limit: Some(PER_STEP),
            };
            let failures = service.failures(&job, &page).await?;
            if failures.is_empty() {
                return Ok(None);
            }
            let next = (failures.len() == PER_STEP as usize)
                .then(|| failures.last().map(|f| f.key.clone()));
            Ok(Some((encode(&failures, format), next)))
        }
    });
    futures::StreamExt::chain(first, rest)
}

/// `failures` in `format`.
fn encode(failures: &[FailureView], format: FailuresFormat) -> Vec<u8> {
    let mut out = Vec::new();
    match format {
        FailuresFormat::JsonLines => {
            for failure in failures {
                serde_json::to_writer(&mut out, failure).expect("a failure serializes");
                out.push(b'\n');
            }
        }
        FailuresFormat::Csv => {
            let mut writer = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(&mut out);
            for f in failures {
                let record = [
                    inert(&f.key),
                    f.attempts.to_string(),
                    inert(&f.error_class),
                    inert(&f.message),
                    f.updated_at.to_string(),
                ];
                writer.write_record(&record).expect("writing to memory");
            }
            writer.flush().expect("writing to memory");
        }
    }
    out
}

/// A cell a spreadsheet will not run: text starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return is a formula to Excel and LibreOffice, and an object key or a message may be
/// anything, so such a cell gets a leading `'` (OWASP's advice). The JSON lines file holds
/// every key exactly.
fn inert(text: &str) -> String {
    match text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        true => format!("'{text}"),
        false => text.to_owned(),
    }
}
