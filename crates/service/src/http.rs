//! The HTTP API (`/api/v1`, JSON), `/healthz`, `/metrics`, the event stream and the
//! dashboard, as one axum router.

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, SET_COOKIE};
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

use crate::api_error::ApiError;
use crate::app::App;
use crate::auth::{peer, session_id, Caller, SESSION_COOKIE};
use crate::failures_file::{failures_file, FailuresFormat};
use crate::service::{JobAction, Notice};
use crate::wire::{ActionOptions, EstimateInput, Me, ScheduleInput, ScheduleView, SignIn};
use crate::{dashboard, metrics};

/// The largest request body taken (a job spec is a few KiB).
const MAX_BODY: usize = 1024 * 1024;
/// How often the event stream sends running jobs' progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// The most event streams one user may hold open at once.
const MOST_STREAMS_PER_USER: usize = 16;

/// One open event stream of a user, counted while it lives.
struct OpenStream {
    streams: Arc<std::sync::Mutex<HashMap<String, usize>>>,
    user: String,
}

impl OpenStream {
    /// Counts a new stream of `user`, or refuses it past [`MOST_STREAMS_PER_USER`].
    fn open(app: &App, user: &str) -> Result<Self, ApiError> {
        let mut streams = app.streams.lock().expect("streams lock");
        let open = streams.entry(user.to_owned()).or_default();
        if *open >= MOST_STREAMS_PER_USER {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-streams",
                format!("user '{user}' has {MOST_STREAMS_PER_USER} event streams open, the most one user may; close one"),
            ));
        }
        *open += 1;
        Ok(Self {
            streams: app.streams.clone(),
            user: user.to_owned(),
        })
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        let mut streams = self.streams.lock().expect("streams lock");
        if let Some(open) = streams.get_mut(&self.user) {
            *open = open.saturating_sub(1);
        }
    }
}

/// The router of the whole service.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics::render))
        .route("/api/v1/session", post(sign_in).get(me).delete(sign_out))
        .route("/api/v1/jobs", get(list_jobs).post(submit_job))
        .route("/api/v1/estimate", post(estimate))
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
        .route("/api/v1/schedules/{id}/run", post(run_schedule))
        .fallback(dashboard::serve)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response_with_state(
            app.clone(),
            guard_headers,
        ))
        .with_state(app)
}

/// Headers every answer carries: no content-type sniffing, no framing by another site, no
/// referrer, scripts and styles from the service only; under TLS, HSTS.
async fn guard_headers(State(app): State<App>, mut response: Response) -> Response {
    use axum::http::header::{self, HeaderValue};
    let headers = response.headers_mut();
    let set = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if app.secure_cookies {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
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
    State(app): State<App>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, form) = request.into_parts();
    let address = peer(&parts);
    app.failures.check(address)?;
    let form =
        Json::<SignIn>::from_request(axum::extract::Request::from_parts(parts, form), &app).await;
    let SignIn { token } = body(form)?;
    let Some(user) = app.service.config().authenticate(token.trim()) else {
        app.failures.count(address);
        return Err(ApiError::unauthorized());
    };
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

async fn sign_out(State(app): State<App>, request: axum::extract::Request) -> impl IntoResponse {
    let (parts, _) = request.into_parts();
    if let Some(id) = session_id(&parts) {
        app.sessions.close(&id);
    }
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    ([(SET_COOKIE, cookie)], StatusCode::NO_CONTENT)
}

/// The most jobs or failures one answer holds (`limit`); lists are read a page at a time.
const MOST_PER_PAGE: u32 = 1000;

/// The query's `name` as a number up to `most`, else `default`.
fn number(
    query: &HashMap<String, String>,
    name: &str,
    default: u32,
    most: u32,
) -> Result<u32, ApiError> {
    let Some(text) = query.get(name) else {
        return Ok(default);
    };
    match text.parse::<u32>() {
        Ok(n) if n <= most => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "{name}: '{text}' is not a number from 0 to {most}"
        ))),
    }
}

async fn list_jobs(
    State(app): State<App>,
    Caller(user): Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Answer<Vec<crate::wire::JobView>> {
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

async fn submit_job(
    State(app): State<App>,
    Caller(user): Caller,
    spec: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<(StatusCode, Json<crate::wire::JobView>), ApiError> {
    let spec = app.service.admit(&user, body(spec)?)?;
    let view = app.service.submit(spec).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn estimate(
    State(app): State<App>,
    Caller(user): Caller,
    input: Result<Json<EstimateInput>, JsonRejection>,
) -> Answer<crate::wire::Preview> {
    Ok(Json(app.service.estimate(&user, body(input)?).await?))
}

async fn get_job(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Answer<crate::wire::JobView> {
    let job = app.service.visible(&user, &id).await?;
    Ok(Json(app.service.view_in_full(&job).await?))
}

/// A page of the job's failures as JSON; with `format=csv` or `format=jsonl`, all of them as
/// a file to download.
async fn job_failures(
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

async fn job_action(
    State(app): State<App>,
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

async fn agents(State(app): State<App>, Caller(_): Caller) -> Json<Vec<crate::wire::AgentView>> {
    Json(app.service.agent_views())
}

/// Server-sent events for the caller's jobs: `job` (a job created or changed state, as
/// `GET /jobs/{id}` shows it), `failure` (an object failed) and, every second, `progress`
/// (the running jobs' counters, as `GET /jobs/{id}` has them).
async fn events(
    State(app): State<App>,
    Caller(user): Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let open = OpenStream::open(&app, &user.name)?;
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
    let progress = IntervalStream::new(tokio::time::interval(PROGRESS_EVERY))
        .then(move |_| {
            let (service, user) = (service.clone(), user.clone());
            async move { service.live_for(&user).await }
        })
        .filter_map(move |live| {
            // Held by the stream: dropped, and uncounted, when the client goes.
            let _open = &open;
            let event = (!live.is_empty())
                .then(|| Event::default().event("progress").json_data(&live).ok())
                .flatten();
            std::future::ready(event.map(Ok))
        });
    Ok(Sse::new(futures::stream::select(notices, progress)).keep_alive(KeepAlive::default()))
}

async fn list_schedules(State(app): State<App>, Caller(user): Caller) -> Answer<Vec<ScheduleView>> {
    let mut views = Vec::new();
    for schedule in app.service.schedules(&user).await? {
        views.push(app.service.schedule_view(schedule).await?);
    }
    Ok(Json(views))
}

async fn create_schedule(
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

async fn get_schedule(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Answer<ScheduleView> {
    let schedule = app.service.visible_schedule(&user, &id).await?;
    Ok(Json(app.service.schedule_view(schedule).await?))
}

async fn patch_schedule(
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
async fn run_schedule(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<crate::wire::JobView>), ApiError> {
    let schedule = app.service.visible_schedule(&user, &id).await?;
    let job = app.service.run_schedule_now(&schedule).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

async fn delete_schedule(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let schedule = app.service.visible_schedule(&user, &id).await?;
    app.service.delete_schedule(&schedule).await?;
    Ok(StatusCode::NO_CONTENT)
}
