//! The API described where API users look for it: an OpenAPI 3.1 document at
//! `/api/v1/openapi.json`, generated from the routes' declarations and the types they take
//! and give.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use std::sync::OnceLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::Modify;

use crate::auth::SESSION_COOKIE;

/// The document's parts that no route declares: what the API is, its tags, how callers prove
/// who they are.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "awcopy service API",
        description = "Jobs that copy between Amazon S3 (and S3-compatible stores), Azure Blob Storage and local disks; their schedules, estimates and failures. Every call but /healthz, /metrics, this document and sign-in needs a token (Authorization: Bearer TOKEN) or the dashboard's session cookie. Errors are {\"kind\", \"message\"}."
    ),
    modifiers(&Credentials),
    security(("token" = []), ("session" = [])),
    tags(
        (name = "jobs", description = "copy jobs, their estimates, failures and live events"),
        (name = "schedules", description = "jobs run every so often or by a cron expression"),
        (name = "replications", description = "sources kept copied as their clouds announce changes (S3 -> SQS, Event Grid -> Storage Queue)"),
        (name = "session", description = "the dashboard's sign-in"),
        (name = "service", description = "health, metrics, agents, this document"),
    )
)]
pub struct Document;

/// The two ways to call: a bearer token, or the dashboard's session cookie.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))),
        );
    }
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "service", security(()),
    responses((status = 200, description = "the OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn serve() -> impl IntoResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let text = DOCUMENT.get_or_init(|| {
        let mut document = super::api().into_openapi();
        document.info.version = env!("CARGO_PKG_VERSION").to_owned();
        document.to_json().expect("the OpenAPI document serializes")
    });
    ([(CONTENT_TYPE, "application/json")], text.as_str())
}
