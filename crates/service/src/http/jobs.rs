//! Jobs: submitted, estimated, listed, shown, acted on; their failures; the agents.

use awcopy_engine::preview::Preview;
use awcopy_engine::spec::JobSpec;
use awcopy_jobs::Status;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::collections::HashMap;

use super::{body, number, Answer, MOST_PER_PAGE};
use crate::api_error::ApiError;
use crate::app::App;
use crate::auth::Caller;
use crate::failures_file::{failures_file, FailuresFormat};
use crate::service::JobAction;
use crate::wire::{
    ActionOptions, AgentView, ErrorBody, EstimateInput, FailureView, JobView, ReplicaView,
};

/// The caller's jobs (an admin's: everyone's), newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs",
    params(("status" = Option<Status>, Query, description = "only jobs in this state"),
        ("schedule" = Option<String>, Query, description = "only the runs of this schedule"),
        ("limit" = Option<u32>, Query, description = "at most this many (1000 at most)"),
        ("offset" = Option<u32>, Query, description = "after skipping this many")),
    responses((status = 200, description = "the caller's jobs (an admin's: everyone's), newest first", body = Vec<JobView>),
        (status = 400, description = "a parameter is wrong", body = ErrorBody), (status = 401, description = "no valid token or session", body = ErrorBody)))]
pub(super) async fn list_jobs(
    State(app): State<App>,
    Caller(user): Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Answer<Vec<JobView>> {
    let status = query
        .get("status")
        .map(|s| s.parse())
        .transpose()
        .map_err(|e: String| ApiError::bad_request(format!("status: {e}")))?;
    let filter = awcopy_jobs::ListFilter {
        user: None,
        status,
        schedule: query.get("schedule").cloned(),
        limit: Some(number(&query, "limit", MOST_PER_PAGE, MOST_PER_PAGE)?),
        offset: number(&query, "offset", 0, u32::MAX)?,
    };
    Ok(Json(app.service.jobs(&user, filter).await?))
}

/// Submits a job: checked, admitted under the caller's grants, started.
#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs",
    request_body = JobSpec,
    responses((status = 201, description = "the job, started", body = JobView),
        (status = 400, description = "a field is wrong, carries a secret or names a place the service does not reach", body = ErrorBody),
        (status = 401, description = "no valid token or session", body = ErrorBody), (status = 403, description = "outside the caller's grants", body = ErrorBody),
        (status = 409, description = "an unfinished job of the caller does the same", body = ErrorBody)))]
pub(super) async fn submit_job(
    State(app): State<App>,
    Caller(user): Caller,
    spec: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let spec = app.service.admit(&user, body(spec)?)?;
    let view = app.service.submit(spec).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// What a job would copy and cost, before it is submitted.
#[utoipa::path(post, path = "/api/v1/estimate", tag = "jobs",
    request_body = EstimateInput,
    responses((status = 200, description = "what the job would copy and cost", body = Preview),
        (status = 400, description = "a field is wrong", body = ErrorBody), (status = 401, description = "no valid token or session", body = ErrorBody),
        (status = 403, description = "outside the caller's grants", body = ErrorBody),
        (status = 422, description = "the source could not be listed", body = ErrorBody),
        (status = 429, description = "the service is working out other estimates", body = ErrorBody)))]
pub(super) async fn estimate(
    State(app): State<App>,
    Caller(user): Caller,
    input: Result<Json<EstimateInput>, JsonRejection>,
) -> Answer<Preview> {
    Ok(Json(app.service.estimate(&user, body(input)?).await?))
}

/// One job, with its runs.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "the job's id, or a prefix of one of the caller's own")),
    responses((status = 200, description = "the job, with its runs", body = JobView), (status = 401, description = "no valid token or session", body = ErrorBody),
        (status = 404, description = "no job of the caller's has that id", body = ErrorBody)))]
pub(super) async fn get_job(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Answer<JobView> {
    let job = app.service.visible(&user, &id).await?;
    Ok(Json(app.service.view_in_full(&job).await?))
}

/// A page of the job's failures as JSON; with `format=csv` or `format=jsonl`, all of them as
/// a file to download.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/failures", tag = "jobs",
    params(("id" = String, Path, description = "the job"),
        ("after" = Option<String>, Query, description = "only keys after this one"),
        ("limit" = Option<u32>, Query, description = "at most this many (1000 at most)"),
        ("format" = Option<String>, Query, description = "`csv` or `jsonl`: all of them, as a file")),
    responses((status = 200, description = "a page of the dead-letter list, by key (or, with `format`, all of it as CSV or JSON lines)", content(
            (Vec<FailureView> = "application/json"), (String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 400, description = "a parameter is wrong", body = ErrorBody), (status = 401, description = "no valid token or session", body = ErrorBody),
        (status = 404, description = "no job of the caller's has that id", body = ErrorBody)))]
pub(super) async fn job_failures(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let job = app.service.visible(&user, &id).await?;
    if let Some(format) = query.get("format") {
        let format = FailuresFormat::named(format)?;
        let disposition = format!(
            "attachment; filename=\"awcopy-failures-{}.{}\"",
            job.id,
            format.extension()
        );
        let file = failures_file(app.service.clone(), job, format);
        let headers = [
            (CONTENT_TYPE, format.media_type().to_owned()),
            (CONTENT_DISPOSITION, disposition),
        ];
        return Ok((headers, axum::body::Body::from_stream(file)).into_response());
    }
    let page = awcopy_jobs::FailurePage {
        after: query.get("after").cloned(),
        limit: Some(number(&query, "limit", MOST_PER_PAGE, MOST_PER_PAGE)?),
    };
    Ok(Json(app.service.failures(&job, &page).await?).into_response())
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/{action}", tag = "jobs",
    params(("id" = String, Path, description = "the job"),
        ("action" = String, Path, description = "`pause`, `resume`, `retry` or `cancel`")),
    request_body(content = Option<ActionOptions>, description = "for `retry`: another name policy (optional)"),
    responses((status = 200, description = "the job after the action", body = JobView),
        (status = 400, description = "the body is wrong", body = ErrorBody), (status = 401, description = "no valid token or session", body = ErrorBody),
        (status = 403, description = "the job's owner or grant is gone", body = ErrorBody),
        (status = 404, description = "no such job or action", body = ErrorBody),
        (status = 409, description = "the job's state refuses it (running, completed...)", body = ErrorBody)))]
pub(super) async fn job_action(
    State(app): State<App>,
    Caller(user): Caller,
    Path((id, action)): Path<(String, String)>,
    options: axum::body::Bytes,
) -> Answer<JobView> {
    let job = app.service.visible(&user, &id).await?;
    let options: ActionOptions = match options.is_empty() {
        true => ActionOptions::default(),
        false => serde_json::from_slice(&options)
            .map_err(|e| ApiError::bad_request(format!("the body: {e}")))?,
    };
    let action = match action.as_str() {
        "pause" => JobAction::Pause,
        "resume" => JobAction::Resume,
        "retry" => JobAction::Retry {
            name_policy: options.name_policy,
        },
        "cancel" => JobAction::Cancel,
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not-found",
                format!("'{other}' is not an action; use pause, resume, retry or cancel"),
            ))
        }
    };
    Ok(Json(app.service.act(&job, action).await?))
}

/// The service's agents: their work and health.
#[utoipa::path(get, path = "/api/v1/agents", tag = "service",
    responses((status = 200, description = "every agent, its work and health", body = Vec<AgentView>), (status = 401, description = "no valid token or session", body = ErrorBody)))]
pub(super) async fn agents(State(app): State<App>, Caller(_): Caller) -> Json<Vec<AgentView>> {
    Json(app.service.agent_views())
}

/// The service replicas sharing the catalogue, and the jobs each runs (admins only).
#[utoipa::path(get, path = "/api/v1/replicas", tag = "service",
    responses((status = 200, description = "every replica on record, first started first, with the running jobs whose lease it holds", body = Vec<ReplicaView>),
        (status = 401, description = "no valid token or session", body = ErrorBody),
        (status = 403, description = "the caller is not an admin", body = ErrorBody)))]
pub(super) async fn replicas(
    State(app): State<App>,
    Caller(caller): Caller,
) -> Result<Json<Vec<ReplicaView>>, ApiError> {
    if !caller.admin {
        return Err(ApiError::forbidden(
            "only an admin sees the service's replicas",
        ));
    }
    Ok(Json(app.service.replica_views().await?))
}
