//! A client of the service's API: what `awcopy cp --via`, `awcopy jobs --server` and
//! `awcopy schedule` use. The token travels only in the `Authorization` header.

use awcopy_engine::spec::JobSpec;
use awcopy_jobs::Schedule;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::wire::{
    ActionOptions, ErrorBody, FailureView, JobView, ReplicationInput, ReplicationPatch,
    ReplicationView, ScheduleInput,
};

/// Jobs or failures asked for in one request (the service answers at most its own page).
const PAGE: usize = 500;
/// What a query value escapes: everything but letters and digits.
const QUERY_VALUE: &percent_encoding::AsciiSet = percent_encoding::NON_ALPHANUMERIC;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The service answered with an error.
    #[error("{server}: {message} (HTTP {status}, {kind})")]
    Answer {
        /// The service's address.
        server: String,
        /// HTTP status.
        status: u16,
        /// The error's kind (`unauthorized`, `forbidden`, `not-found`, ...).
        kind: String,
        /// Its message.
        message: String,
    },
    /// The service could not be reached, or its answer read.
    #[error("{server}: {message}")]
    Network {
        /// The service's address.
        server: String,
        /// What went wrong.
        message: String,
    },
    /// The address or token is unusable.
    #[error("{0}")]
    Usage(String),
}

/// A client of one service.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    /// A client of the service at `base` (`http(s)://host:port`) with API token `token`.
    pub fn new(base: &str, token: &str) -> Result<Self, ClientError> {
        let url = reqwest::Url::parse(base).map_err(|e| {
            ClientError::Usage(format!(
                "'{base}' is not a service address ({e}); give e.g. http://127.0.0.1:7070"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(ClientError::Usage(format!(
                "'{base}' is not a service address; give http(s)://HOST:PORT"
            )));
        }
        if token.trim().is_empty() {
            return Err(ClientError::Usage(
                "no API token: set AWCOPY_TOKEN to the token the service's config knows".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| ClientError::Usage(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.trim().to_owned(),
            http,
        })
    }

    /// The service's address.
    pub fn server(&self) -> &str {
        &self.base
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, ClientError> {
        let network = |e: reqwest::Error| ClientError::Network {
            server: self.base.clone(),
            message: awcopy_store::redact::redact(&e.to_string()),
        };
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(network)?;
        let status = response.status();
        let text = response.text().await.map_err(network)?;
        if !status.is_success() {
            let error: ErrorBody = serde_json::from_str(&text).unwrap_or(ErrorBody {
                kind: "http".into(),
                message: text.chars().take(200).collect(),
            });
            return Err(ClientError::Answer {
                server: self.base.clone(),
                status: status.as_u16(),
                kind: error.kind,
                message: error.message,
            });
        }
        let text = if text.is_empty() { "null" } else { &text };
        serde_json::from_str(text).map_err(|e| ClientError::Network {
            server: self.base.clone(),
            message: format!("an answer this awcopy cannot read ({e}); is it an awcopy service of the same version?"),
        })
    }

    /// Submits a job.
    pub async fn submit(&self, spec: &JobSpec) -> Result<JobView, ClientError> {
        self.call(Method::POST, "/api/v1/jobs", Some(spec)).await
    }

    /// The caller's jobs, newest first, of one status if given.
    pub async fn jobs(&self, status: Option<&str>) -> Result<Vec<JobView>, ClientError> {
        let status = status.map_or(String::new(), |s| format!("&status={s}"));
        let mut jobs: Vec<JobView> = Vec::new();
        loop {
            let path = format!("/api/v1/jobs?limit={PAGE}&offset={}{status}", jobs.len());
            let page: Vec<JobView> = self.call(Method::GET, &path, None::<&()>).await?;
            let last = page.len() < PAGE;
            jobs.extend(page);
            if last {
                return Ok(jobs);
            }
        }
    }

    /// Job `id`.
    pub async fn job(&self, id: &str) -> Result<JobView, ClientError> {
        self.call(Method::GET, &format!("/api/v1/jobs/{id}"), None::<&()>)
            .await
    }

    /// Job `id`'s failures, all of them.
    pub async fn failures(&self, id: &str) -> Result<Vec<FailureView>, ClientError> {
        let mut failures: Vec<FailureView> = Vec::new();
        loop {
            let after = failures.last().map(|f| f.key.as_str());
            let page = self.failures_page(id, after, PAGE).await?;
            let last = page.len() < PAGE;
            failures.extend(page);
            if last {
                return Ok(failures);
            }
        }
    }

    /// At most `limit` of job `id`'s failures, in key order, after key `after` if given.
    pub async fn failures_page(
        &self,
        id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FailureView>, ClientError> {
        let after = after.map_or(String::new(), |key| {
            format!(
                "&after={}",
                percent_encoding::utf8_percent_encode(key, QUERY_VALUE)
            )
        });
        let path = format!("/api/v1/jobs/{id}/failures?limit={limit}{after}");
        self.call(Method::GET, &path, None::<&()>).await
    }

    /// Pauses, resumes, retries or cancels job `id`.
    pub async fn act(
        &self,
        id: &str,
        action: &str,
        options: &ActionOptions,
    ) -> Result<JobView, ClientError> {
        self.call(
            Method::POST,
            &format!("/api/v1/jobs/{id}/{action}"),
            Some(options),
        )
        .await
    }

    /// Makes a schedule.
    pub async fn create_schedule(&self, input: &ScheduleInput) -> Result<Schedule, ClientError> {
        self.call(Method::POST, "/api/v1/schedules", Some(input))
            .await
    }

    /// The caller's schedules.
    pub async fn schedules(&self) -> Result<Vec<Schedule>, ClientError> {
        self.call(Method::GET, "/api/v1/schedules", None::<&()>)
            .await
    }

    /// Changes schedule `id`.
    pub async fn patch_schedule(
        &self,
        id: &str,
        input: &ScheduleInput,
    ) -> Result<Schedule, ClientError> {
        self.call(
            Method::PATCH,
            &format!("/api/v1/schedules/{id}"),
            Some(input),
        )
        .await
    }

    /// Deletes schedule `id`.
    pub async fn delete_schedule(&self, id: &str) -> Result<(), ClientError> {
        self.call::<Option<()>>(
            Method::DELETE,
            &format!("/api/v1/schedules/{id}"),
            None::<&()>,
        )
        .await
        .map(|_| ())
    }

    /// Makes a replication.
    pub async fn create_replication(
        &self,
        input: &ReplicationInput,
    ) -> Result<ReplicationView, ClientError> {
        self.call(Method::POST, "/api/v1/replications", Some(input))
            .await
    }

    /// The caller's replications.
    pub async fn replications(&self) -> Result<Vec<ReplicationView>, ClientError> {
        self.call(Method::GET, "/api/v1/replications", None::<&()>)
            .await
    }

    /// Changes replication `id` (name, on/off, deletions).
    pub async fn patch_replication(
        &self,
        id: &str,
        input: &ReplicationPatch,
    ) -> Result<ReplicationView, ClientError> {
        self.call(
            Method::PATCH,
            &format!("/api/v1/replications/{id}"),
            Some(input),
        )
        .await
    }

    /// Deletes replication `id` and its reconcile schedule.
    pub async fn delete_replication(&self, id: &str) -> Result<(), ClientError> {
        self.call::<Option<()>>(
            Method::DELETE,
            &format!("/api/v1/replications/{id}"),
            None::<&()>,
        )
        .await
        .map(|_| ())
    }
}
