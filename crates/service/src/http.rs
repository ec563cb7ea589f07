//! The HTTP API (`/api/v1`, JSON), `/healthz`, `/metrics`, the event stream and the
//! dashboard, as one axum router.

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::{Stream, StreamExt};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::wrappers::{BroadcastStream, IntervalStream};

use crate::auth::{session_id, Caller, Sessions, SESSION_COOKIE};
use crate::error::ApiError;
use crate::service::{Notice, Service};
use crate::wire::{ActionOptions, Me, ScheduleInput, SignIn};
use crate::{dashboard, metrics};

/// The largest request body taken (a job spec is a few KiB).
const MAX_BODY: usize = 1024 * 1024;
/// How often the event stream sends running jobs' progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// What every handler sees.
pub struct App {
    /// The service.
    pub service: Arc<Service>,
    /// Dashboard sessions.
    pub sessions: Sessions,
    /// Whether cookies are marked `Secure` (served over TLS).
    pub secure_cookies: bool,
}

/// The router of the whole service.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics::render))
        .route("/api/v1/session", post(sign_in).get(me).delete(sign_out))
        .route("/api/v1/jobs", get(list_jobs).post(submit_job))
        .route("/api/v1/jobs/{id}", get(get_job))
        .route("/api/v1/jobs/{id}/failures", get(job_failures))
        .route("/api/v1/jobs/{id}/{action}", post(job_action))
        .route("/api/v1/events", get(events))
        .route("/api/v1/agents", get(agents))
        .route(
            "/api/v1/schedules",
            get(list_schedules).post(create_schedule),
        )
        .route(
            "/api/v1/schedules/{id}",
            get(get_schedule)
                .patch(patch_schedule)
                .delete(delete_schedule),
        )
        .fallback(dashboard::serve)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

type Answer<T> = Result<Json<T>, ApiError>;

/// A JSON body, or a 4xx saying what is wrong with it.
fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(value)| value).map_err(|rejection| {
        let status = rejection.status();
        let message = match status {
            StatusCode::PAYLOAD_TOO_LARGE => {
                format!("the body is larger than {MAX_BODY} bytes; a job spec is a few KiB")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                "send the body as JSON with 'Content-Type: application/json'".to_owned()
            }
            _ => format!(
                "the body is not the JSON expected: {}",
                rejection.body_text()
            ),
        };
        let kind = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "too-large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
            _ => "bad-request",
        };
        ApiError::new(status, kind, message)
    })
}

async fn sign_in(
    State(app): State<Arc<App>>,
    form: Result<Json<SignIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let SignIn { token } = body(form)?;
    let user = app
        .service
        .config()
        .authenticate(token.trim())
        .ok_or_else(ApiError::unauthorized)?;
    let session = app.sessions.open(&user.name);
    let secure = if app.secure_cookies { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/{secure}");
    let me = Me {
        user: user.name.clone(),
        admin: user.admin,
    };
    Ok(([(SET_COOKIE, cookie)], Json(me)).into_response())
}

async fn me(Caller(user): Caller) -> Json<Me> {
    Json(Me {
        user: user.name,
        admin: user.admin,
    })
}

async fn sign_out(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
) -> impl IntoResponse {
    let (parts, _) = request.into_parts();
    if let Some(id) = session_id(&parts) {
        app.sessions.close(&id);
    }
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    ([(SET_COOKIE, cookie)], StatusCode::NO_CONTENT)
}

async fn list_jobs(
    State(app): State<Arc<App>>,
    Caller(user): Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Answer<Vec<crate::wire::JobView>> {
    let status = query
        .get("status")
        .map(|s| s.parse())
        .transpose()
        .map_err(|e: String| ApiError::bad_request(format!("status: {e}")))?;
    Ok(Json(app.service.jobs(&user, status).await?))
}

async fn submit_job(
    State(app): State<Arc<App>>,
    Caller(user): Caller,
    spec: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<(StatusCode, Json<crate::wire::JobView>), ApiError> {
    let spec = app.service.admit(&user, body(spec)?)?;
    let view = app.service.submit(spec).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn get_job(
    State(app): State<Arc<App>>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Answer<crate::wire::JobView> {
    let job = app.service.visible(&user, &id).await?;
    Ok(Json(app.service.view(&job).await?))
}

async fn job_failures(
    State(app): State<Arc<App>>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Answer<Vec<crate::wire::FailureView>> {
    let job = app.service.visible(&user, &id).await?;
    Ok(Json(app.service.failures(&job).await?))
}

async fn job_action(
    State(app): State<Arc<App>>,
    Caller(user): Caller,
    Path((id, action)): Path<(String, String)>,
    options: axum::body::Bytes,
) -> Answer<crate::wire::JobView> {
    let job = app.service.visible(&user, &id).await?;
    let options: ActionOptions = match options.is_empty() {
        true => ActionOptions::default(),
        false => serde_json::from_slice(&options)
            .map_err(|e| ApiError::bad_request(format!("the body: {e}")))?,
    };
    Ok(Json(app.service.act(&job, &action, options).await?))
}

async fn agents(
    State(app): State<Arc<App>>,
    Caller(_): Caller,
) -> Json<Vec<crate::wire::AgentView>> {
    Json(app.service.agent_views())
}

/// Server-sent events for the caller's jobs: `job` (a job created or changed state, as
/// `GET /jobs/{id}` shows it), `failure` (an object failed) and, every second, `progress`
/// (the running jobs' counters).
async fn events(
    State(app): State<Arc<App>>,
    Caller(user): Caller,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let me = user.clone();
    let notices = BroadcastStream::new(app.service.notices()).filter_map(move |notice| {
        let event = match notice {
            Ok(notice) if me.admin || notice.user() == me.name => match notice {
                Notice::Job(view) => Event::default().event("job").json_data(&*view).ok(),
                Notice::Failure {
                    job, key, error, ..
                } => Event::default()
                    .event("failure")
                    .json_data(serde_json::json!({"job": job, "key": key, "error": error}))
                    .ok(),
            },
            _ => None,
        };
        std::future::ready(event.map(Ok))
    });
    let service = app.service.clone();
    let progress =
        IntervalStream::new(tokio::time::interval(PROGRESS_EVERY)).filter_map(move |_| {
            let live = service.live_for(&user);
            let event = (!live.is_empty())
                .then(|| Event::default().event("progress").json_data(&live).ok())
                .flatten();
            std::future::ready(event.map(Ok))
        });
    Sse::new(futures::stream::select(notices, progress)).keep_alive(KeepAlive::default())
}

async fn list_schedules(
    State(app): State<Arc<App>>,
    Caller(user): Caller,
) -> Answer<Vec<awcopy_jobs::Schedule>> {
    Ok(Json(app.service.schedules(&user).await?))
}

async fn create_schedule(
    State(app): State<Arc<App>>,
    Caller(user): Caller,
    input: Result<Json<ScheduleInput>, JsonRejection>,
) -> Result<(StatusCode, Json<awcopy_jobs::Schedule>), ApiError> {
    let schedule = app.service.create_schedule(&user, body(input)?).await?;
    Ok((StatusCode::CREATED, Json(schedule)))
}

async fn get_schedule(
    State(app): State<Arc<App>>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Answer<awcopy_jobs::Schedule> {
    Ok(Json(app.service.visible_schedule(&user, &id).await?))
}

async fn patch_schedule(
    State(app): State<Arc<App>>,
    Caller(user): Caller,
    Path(id): Path<String>,
    input: Result<Json<ScheduleInput>, JsonRejection>,
) -> Answer<awcopy_jobs::Schedule> {
    let schedule = app.service.visible_schedule(&user, &id).await?;
    let input = body(input)?;
    Ok(Json(
        app.service.patch_schedule(&user, schedule, input).await?,
    ))
}

async fn delete_schedule(
    State(app): State<Arc<App>>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let schedule = app.service.visible_schedule(&user, &id).await?;
    app.service.delete_schedule(&schedule).await?;
    Ok(StatusCode::NO_CONTENT)
}
