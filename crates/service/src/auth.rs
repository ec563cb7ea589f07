//! Who is calling: a bearer token (the CLI, scripts) or the dashboard's session cookie, which
//! signing in with a token sets (HttpOnly: page scripts cannot read it; EventSource sends it).

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use rand::Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::User;
use crate::error::ApiError;
use crate::http::App;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "awcopy_session";
/// How long a dashboard session lasts.
const SESSION_TERM: Duration = Duration::from_secs(12 * 3600);
/// The most sessions one user holds: signing in again past it ends their oldest.
const MOST_SESSIONS_PER_USER: usize = 32;

/// Signed-in dashboard sessions, by random id (in memory: a restart signs everyone out).
#[derive(Debug, Default)]
pub struct Sessions(Mutex<HashMap<String, (String, Instant)>>);

impl Sessions {
    /// A new session for user `name`; returns its id.
    pub fn open(&self, name: &str) -> String {
        let id: String = (0..32)
            .map(|_| format!("{:02x}", rand::rng().random::<u8>()))
            .collect();
        let mut sessions = self.0.lock().expect("sessions lock");
        let now = Instant::now();
        sessions.retain(|_, (_, until)| *until > now);
        let mut theirs: Vec<(Instant, String)> = sessions
            .iter()
            .filter(|(_, (user, _))| user == name)
            .map(|(id, (_, until))| (*until, id.clone()))
            .collect();
        theirs.sort();
        let surplus = (theirs.len() + 1).saturating_sub(MOST_SESSIONS_PER_USER);
        for (_, oldest) in theirs.into_iter().take(surplus) {
            sessions.remove(&oldest);
        }
        sessions.insert(id.clone(), (name.to_owned(), now + SESSION_TERM));
        id
    }

    /// Ends session `id`.
    pub fn close(&self, id: &str) {
        self.0.lock().expect("sessions lock").remove(id);
    }

    fn user(&self, id: &str) -> Option<String> {
        let sessions = self.0.lock().expect("sessions lock");
        sessions
            .get(id)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(name, _)| name.clone())
    }
}

/// The session id a request's cookies carry, if any.
pub fn session_id(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The authenticated caller of an API request.
#[derive(Debug, Clone)]
pub struct Caller(pub User);

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let config = app.service.config();
        if let Some(header) = parts.headers.get(AUTHORIZATION) {
            let token = header
                .to_str()
                .ok()
                .and_then(|h| h.strip_prefix("Bearer "))
                .ok_or_else(ApiError::unauthorized)?;
            return config
                .authenticate(token.trim())
                .cloned()
                .map(Caller)
                .ok_or_else(ApiError::unauthorized);
        }
        session_id(parts)
            .and_then(|id| app.sessions.user(&id))
            .and_then(|name| config.user(&name).cloned())
            .map(Caller)
            .ok_or_else(ApiError::unauthorized)
    }
}
