//! Signing in and out with a token (the dashboard's session cookie).

use axum::extract::{FromRequest, State};
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::body;
use crate::api_error::ApiError;
use crate::app::App;
use crate::auth::{peer, session_id, Caller, SESSION_COOKIE};
use crate::wire::{ErrorBody, Me, SignIn};

/// Signs in with an API token (the dashboard): a session cookie, HttpOnly and SameSite=Strict.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", security(()),
    request_body = SignIn,
    responses((status = 200, description = "signed in: the session cookie is set", body = Me), (status = 401, description = "no valid token or session", body = ErrorBody),
        (status = 400, description = "the body is not the JSON expected", body = ErrorBody),
        (status = 429, description = "too many failed sign-ins from this address", body = ErrorBody)))]
pub(super) async fn sign_in(
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

/// Who is signed in.
#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses((status = 200, description = "who is signed in", body = Me), (status = 401, description = "no valid token or session", body = ErrorBody)))]
pub(super) async fn me(Caller(user): Caller) -> Json<Me> {
    Json(Me {
        user: user.name,
        admin: user.admin,
    })
}

/// Signs out: the session ends and its cookie is cleared.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204, description = "signed out: the cookie is cleared")))]
pub(super) async fn sign_out(
    State(app): State<App>,
    request: axum::extract::Request,
) -> impl IntoResponse {
    let (parts, _) = request.into_parts();
    if let Some(id) = session_id(&parts) {
        app.sessions.close(&id);
    }
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    ([(SET_COOKIE, cookie)], StatusCode::NO_CONTENT)
}
