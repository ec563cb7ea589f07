//! Replications: made, listed, shown, changed (name, on/off, deletions), deleted; their
//! failures.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use std::collections::HashMap;

use super::{body, number, Answer};
use crate::api_error::ApiError;
use crate::app::App;
use crate::auth::Caller;
use crate::replication::MOST_FAILURES_PER_PAGE;
use crate::wire::{
    ErrorBody, ReplicationFailure, ReplicationInput, ReplicationPatch, ReplicationView,
};

/// The caller's replications (an admin's: everyone's).
#[utoipa::path(get, path = "/api/v1/replications", tag = "replications",
    responses((status = 200, description = "the caller's replications (an admin's: everyone's)", body = Vec<ReplicationView>), (status = 401, description = "no valid token or session", body = ErrorBody)))]
pub(super) async fn list_replications(
    State(app): State<App>,
    Caller(user): Caller,
) -> Answer<Vec<ReplicationView>> {
    let all = app.service.replications(&user).await?;
    Ok(Json(
        all.into_iter()
            .map(|r| app.service.replication_view(r))
            .collect(),
    ))
}

/// Makes a replication: its spec is checked as a submitted job's is, its queue must be
/// granted to the caller, reachable, and read by no other replication.
#[utoipa::path(post, path = "/api/v1/replications", tag = "replications",
    request_body = ReplicationInput,
    responses((status = 201, description = "the replication", body = ReplicationView),
        (status = 400, description = "a field is wrong, or the queue cannot be read", body = ErrorBody), (status = 401, description = "no valid token or session", body = ErrorBody),
        (status = 403, description = "a location or the queue is outside the caller's grants", body = ErrorBody),
        (status = 409, description = "another replication reads that queue", body = ErrorBody)))]
pub(super) async fn create_replication(
    State(app): State<App>,
    Caller(user): Caller,
    input: Result<Json<ReplicationInput>, JsonRejection>,
) -> Result<(StatusCode, Json<ReplicationView>), ApiError> {
    let made = app.service.create_replication(&user, body(input)?).await?;
    Ok((
        StatusCode::CREATED,
        Json(app.service.replication_view(made)),
    ))
}

/// One replication, with its counters, lag and health.
#[utoipa::path(get, path = "/api/v1/replications/{id}", tag = "replications",
    params(("id" = String, Path, description = "the replication")),
    responses((status = 200, description = "the replication", body = ReplicationView), (status = 401, description = "no valid token or session", body = ErrorBody),
        (status = 404, description = "no replication of the caller's has that id", body = ErrorBody)))]
pub(super) async fn get_replication(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Answer<ReplicationView> {
    let replication = app.service.visible_replication(&user, &id).await?;
    Ok(Json(app.service.replication_view(replication)))
}

/// Changes a replication's name, on/off switch (`enabled`) or `deletions`.
#[utoipa::path(patch, path = "/api/v1/replications/{id}", tag = "replications",
    params(("id" = String, Path, description = "the replication")),
    request_body = ReplicationPatch,
    responses((status = 200, description = "the replication as changed", body = ReplicationView),
        (status = 400, description = "a field is wrong or cannot change", body = ErrorBody), (status = 401, description = "no valid token or session", body = ErrorBody),
        (status = 404, description = "no replication of the caller's has that id", body = ErrorBody)))]
pub(super) async fn patch_replication(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
    input: Result<Json<ReplicationPatch>, JsonRejection>,
) -> Answer<ReplicationView> {
    let replication = app.service.visible_replication(&user, &id).await?;
    let input = body(input)?;
    let changed = app.service.patch_replication(replication, input).await?;
    Ok(Json(app.service.replication_view(changed)))
}

/// Deletes a replication and its reconcile schedule (the jobs it ran stay).
#[utoipa::path(delete, path = "/api/v1/replications/{id}", tag = "replications",
    params(("id" = String, Path, description = "the replication")),
    responses((status = 204, description = "deleted"), (status = 401, description = "no valid token or session", body = ErrorBody),
        (status = 404, description = "no replication of the caller's has that id", body = ErrorBody)))]
pub(super) async fn delete_replication(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let replication = app.service.visible_replication(&user, &id).await?;
    app.service.delete_replication(&replication).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A page of the changes the replication gave up on, by key.
#[utoipa::path(get, path = "/api/v1/replications/{id}/failures", tag = "replications",
    params(("id" = String, Path, description = "the replication"),
        ("after" = Option<String>, Query, description = "only keys after this one"),
        ("limit" = Option<u32>, Query, description = "at most this many (1000 at most)")),
    responses((status = 200, description = "a page of its failures, by key", body = Vec<ReplicationFailure>),
        (status = 400, description = "a parameter is wrong", body = ErrorBody), (status = 401, description = "no valid token or session", body = ErrorBody),
        (status = 404, description = "no replication of the caller's has that id", body = ErrorBody)))]
pub(super) async fn replication_failures(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer<Vec<ReplicationFailure>> {
    let replication = app.service.visible_replication(&user, &id).await?;
    let limit = number(
        &query,
        "limit",
        MOST_FAILURES_PER_PAGE,
        MOST_FAILURES_PER_PAGE,
    )?;
    let after = query.get("after").map(String::as_str);
    Ok(Json(
        app.service
            .replication_failures(&replication, after, limit)
            .await?,
    ))
}
