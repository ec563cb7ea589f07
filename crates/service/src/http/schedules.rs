//! Schedules: made, listed, shown, changed, run now, deleted.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::{body, Answer};
use crate::api_error::ApiError;
use crate::app::App;
use crate::auth::Caller;
use crate::wire::{ErrorBody, JobView, ScheduleInput, ScheduleView};

/// The caller's schedules (an admin's: everyone's), each with its last run.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules",
    responses((status = 200, description = "the caller's schedules (an admin's: everyone's)", body = Vec<ScheduleView>), (status = 401, description = "no valid token or session", body = ErrorBody)))]
pub(super) async fn list_schedules(
    State(app): State<App>,
    Caller(user): Caller,
) -> Answer<Vec<ScheduleView>> {
    let mut views = Vec::new();
    for schedule in app.service.schedules(&user).await? {
        views.push(app.service.schedule_view(schedule).await?);
    }
    Ok(Json(views))
}

/// Makes a schedule; its template is checked as a submitted job is.
#[utoipa::path(post, path = "/api/v1/schedules", tag = "schedules",
    request_body = ScheduleInput,
    responses((status = 201, description = "the schedule", body = ScheduleView),
        (status = 400, description = "a field is wrong", body = ErrorBody), (status = 401, description = "no valid token or session", body = ErrorBody),
        (status = 403, description = "outside the caller's grants", body = ErrorBody)))]
pub(super) async fn create_schedule(
    State(app): State<App>,
    Caller(user): Caller,
    input: Result<Json<ScheduleInput>, JsonRejection>,
) -> Result<(StatusCode, Json<ScheduleView>), ApiError> {
    let schedule = app.service.create_schedule(&user, body(input)?).await?;
    Ok((
        StatusCode::CREATED,
        Json(app.service.schedule_view(schedule).await?),
    ))
}

/// One schedule, with its last run.
#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "schedules",
    params(("id" = String, Path, description = "the schedule")),
    responses((status = 200, description = "the schedule, with its last run", body = ScheduleView), (status = 401, description = "no valid token or session", body = ErrorBody),
        (status = 404, description = "no schedule of the caller's has that id", body = ErrorBody)))]
pub(super) async fn get_schedule(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Answer<ScheduleView> {
    let schedule = app.service.visible_schedule(&user, &id).await?;
    Ok(Json(app.service.schedule_view(schedule).await?))
}

/// Changes a schedule: what the body gives replaces what it had.
#[utoipa::path(patch, path = "/api/v1/schedules/{id}", tag = "schedules",
    params(("id" = String, Path, description = "the schedule")),
    request_body = ScheduleInput,
    responses((status = 200, description = "the schedule as changed", body = ScheduleView),
        (status = 400, description = "a field is wrong", body = ErrorBody), (status = 401, description = "no valid token or session", body = ErrorBody),
        (status = 403, description = "outside the owner's grants", body = ErrorBody),
        (status = 404, description = "no schedule of the caller's has that id", body = ErrorBody)))]
pub(super) async fn patch_schedule(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
    input: Result<Json<ScheduleInput>, JsonRejection>,
) -> Answer<ScheduleView> {
    let schedule = app.service.visible_schedule(&user, &id).await?;
    let input = body(input)?;
    let schedule = app.service.patch_schedule(&user, schedule, input).await?;
    Ok(Json(app.service.schedule_view(schedule).await?))
}

/// Starts a run of the schedule now.
#[utoipa::path(post, path = "/api/v1/schedules/{id}/run", tag = "schedules",
    params(("id" = String, Path, description = "the schedule")),
    responses((status = 201, description = "its run, started", body = JobView),
        (status = 400, description = "it cannot run (its owner or grant is gone)", body = ErrorBody), (status = 401, description = "no valid token or session", body = ErrorBody),
        (status = 403, description = "outside the owner's grants", body = ErrorBody),
        (status = 404, description = "no schedule of the caller's has that id", body = ErrorBody),
        (status = 409, description = "a run of it goes on", body = ErrorBody)))]
pub(super) async fn run_schedule(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let schedule = app.service.visible_schedule(&user, &id).await?;
    let job = app.service.run_schedule_now(&schedule).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

/// Deletes a schedule (its runs stay as jobs).
#[utoipa::path(delete, path = "/api/v1/schedules/{id}", tag = "schedules",
    params(("id" = String, Path, description = "the schedule")),
    responses((status = 204, description = "deleted (its runs stay as jobs)"), (status = 401, description = "no valid token or session", body = ErrorBody),
        (status = 404, description = "no schedule of the caller's has that id", body = ErrorBody)))]
pub(super) async fn delete_schedule(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let schedule = app.service.visible_schedule(&user, &id).await?;
    app.service.delete_schedule(&schedule).await?;
    Ok(StatusCode::NO_CONTENT)
}
