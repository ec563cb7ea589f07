//! Who is calling: a bearer token (the CLI, scripts) or the dashboard's session cookie, which
//! signing in with a token sets (HttpOnly: page scripts cannot read it; EventSource sends it).

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use rand::Rng;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::api_error::ApiError;
use crate::config::User;
use crate::service::Service;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "awcopy_session";
/// How long a dashboard session lasts.
const SESSION_TERM: Duration = Duration::from_secs(12 * 3600);
/// The most sessions one user holds: signing in again past it ends their oldest.
const MOST_SESSIONS_PER_USER: usize = 32;

/// Signed-in dashboard sessions, by random id (in memory: a restart signs everyone out).
#[derive(Debug, Default, Clone)]
pub struct Sessions(Arc<Mutex<HashMap<String, (String, Instant)>>>);

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

/// Failed attempts to authenticate (a token, a session cookie, a sign-in) one address may
/// make in [`FAILURE_WINDOW`] before it is answered 429 without a check until the window ends.
const MOST_FAILURES: u32 = 20;
/// The window failed attempts are counted in.
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// Failed attempts to authenticate, by address: guessing tokens or session ids is slowed to
/// [`MOST_FAILURES`] a minute from each address.
#[derive(Debug, Default, Clone)]
pub struct Failures(Arc<Mutex<HashMap<IpAddr, (u32, Instant)>>>);

impl Failures {
    /// Refuses `address` while it has failed too often lately.
    pub fn check(&self, address: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(address) = address else {
            return Ok(());
        };
        let failures = self.0.lock().expect("failures lock");
        match failures.get(&address) {
            Some((count, since)) if *count >= MOST_FAILURES && since.elapsed() < FAILURE_WINDOW => {
                Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-failures",
                    format!("{MOST_FAILURES} failed sign-ins from this address within a minute; wait a minute and check the token"),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed attempt from `address`.
    pub fn count(&self, address: Option<IpAddr>) {
        let Some(address) = address else {
            return;
        };
        let mut failures = self.0.lock().expect("failures lock");
        failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
        let entry = failures.entry(address).or_insert((0, Instant::now()));
        entry.0 += 1;
    }
}

/// The address a request came from, when the server recorded it.
pub fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
}

/// The authenticated caller of an API request.
#[derive(Debug, Clone)]
pub struct Caller(pub User);

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    Arc<Service>: FromRef<S>,
    Sessions: FromRef<S>,
    Failures: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (service, sessions, failures) = (
            Arc::<Service>::from_ref(state),
            Sessions::from_ref(state),
            Failures::from_ref(state),
        );
        let address = peer(parts);
        failures.check(address)?;
        let config = service.config();
        let session = session_id(parts);
        let (presented, user) = if let Some(header) = parts.headers.get(AUTHORIZATION) {
            let user = header
                .to_str()
                .ok()
                .and_then(|h| h.strip_prefix("Bearer "))
                .and_then(|token| config.authenticate(token.trim()))
                .cloned();
            (true, user)
        } else {
            let user = session
                .as_ref()
                .and_then(|id| sessions.user(id))
                .and_then(|name| config.user(&name).cloned());
            if user.is_some() {
                refuse_cross_site(parts)?;
            }
            (session.is_some(), user)
        };
        match user {
            Some(user) => Ok(Caller(user)),
            None => {
                // A request that presented nothing guessed nothing.
                if presented {
                    failures.count(address);
                }
                Err(ApiError::unauthorized())
            }
        }
    }
}

/// A change asked for with the session cookie must come from the dashboard itself: as JSON
/// (which no HTML form sends) and from the service's own origin. A page elsewhere cannot make
/// a signed-in browser act (the cookie is SameSite=Strict too).
fn refuse_cross_site(parts: &Parts) -> Result<(), ApiError> {
    if matches!(parts.method, Method::GET | Method::HEAD) {
        return Ok(());
    }
    let forbidden = |why: &str| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "cross-site",
            format!("{why}; the dashboard sends its changes as JSON from its own page (scripts use a bearer token)"),
        )
    };
    let json = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !json {
        return Err(forbidden(
            "a change by session cookie must be sent as application/json",
        ));
    }
    let origin_host = parts
        .headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(|origin| origin.split_once("://"))
        .map(|(_, host)| host.trim_end_matches('/'));
    let host = parts.headers.get(HOST).and_then(|v| v.to_str().ok());
    match (origin_host, host) {
        (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(forbidden(
            "a change by session cookie must come from the service's own origin",
        )),
    }
}
