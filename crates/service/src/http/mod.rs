//! The HTTP API (`/api/v1`, JSON), `/healthz`, `/metrics`, the event stream and the
//! dashboard, as one axum router. Every API route is declared with its OpenAPI description
//! (`utoipa`), and the router is built from those declarations: a route cannot exist without
//! being in `/api/v1/openapi.json`.

mod events;
mod jobs;
mod openapi;
mod replications;
mod schedules;
mod session;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Json, Router};
use std::collections::HashMap;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api_error::ApiError;
use crate::app::App;
use crate::dashboard;

/// The largest request body taken (a job spec is a few KiB).
const MAX_BODY: usize = 1024 * 1024;

/// The API's routes with their OpenAPI description; the state is given later.
fn api() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(openapi::Document::openapi())
        .routes(routes!(healthz))
        .routes(routes!(crate::metrics::render))
        .routes(routes!(openapi::serve))
        .routes(routes!(session::sign_in, session::me, session::sign_out))
        .routes(routes!(jobs::list_jobs, jobs::submit_job))
        .routes(routes!(jobs::estimate))
        .routes(routes!(jobs::get_job))
        .routes(routes!(jobs::job_failures))
        .routes(routes!(jobs::job_action))
        .routes(routes!(events::events))
        .routes(routes!(jobs::agents))
        .routes(routes!(jobs::replicas))
        .routes(routes!(
            schedules::list_schedules,
            schedules::create_schedule
        ))
        .routes(routes!(
            schedules::get_schedule,
            schedules::patch_schedule,
            schedules::delete_schedule
        ))
        .routes(routes!(schedules::run_schedule))
        .routes(routes!(
            replications::list_replications,
            replications::create_replication
        ))
        .routes(routes!(
            replications::get_replication,
            replications::patch_replication,
            replications::delete_replication
        ))
        .routes(routes!(replications::replication_failures))
}

/// The router of the whole service.
pub fn router(app: App) -> Router {
    let (routes, _) = api().split_for_parts();
    routes
        .fallback(dashboard::serve)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response_with_state(
            app.clone(),
            guard_headers,
        ))
        .with_state(app)
}

/// Liveness: the service answers.
#[utoipa::path(get, path = "/healthz", tag = "service", security(()),
    responses((status = 200, description = "the service is up", content_type = "text/plain", body = String)))]
async fn healthz() -> &'static str {
    "ok\n"
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

/// A JSON body, or a 4xx saying what is wrong with it: 413 too large, 415 not JSON, else 400
/// (axum's 422 for a field that is missing or of the wrong type is a 400 here, as every other
/// wrong field is).
fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(value)| value).map_err(|rejection| {
        let status = match rejection.status() {
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
            other => other,
        };
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
