//! The dashboard: static files embedded in the binary (no front-end build, nothing fetched),
//! served at `/` and `/assets/...`; a page's data comes from the API and the event stream.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::api_error::ApiError;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// Scripts, styles and connections from this origin only.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

/// Serves `/` (the page) and `/assets/FILE`; anything else under `/api` is a JSON 404.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no API route {path}; see the README's API section"),
        )
        .into_response();
    }
    let name = match path {
        "/" | "/index.html" => "index.html",
        other => match other.strip_prefix("/assets/") {
            Some(name) => name,
            None => return (StatusCode::NOT_FOUND, "not found\n").into_response(),
        },
    };
    match Assets::get(name) {
        Some(file) => (
            [
                (CONTENT_TYPE, file.metadata.mimetype().to_owned()),
                (CACHE_CONTROL, "no-cache".to_owned()),
                (CONTENT_SECURITY_POLICY, POLICY.to_owned()),
            ],
            file.data,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}
