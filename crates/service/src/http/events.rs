//! The event stream: the caller's jobs as they change, their failures, and every second the
//! running ones' progress.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use tokio_stream::wrappers::{BroadcastStream, WatchStream};

use crate::api_error::ApiError;
use crate::app::App;
use crate::auth::Caller;
use crate::live::visible_to;
use crate::service::Notice;
use crate::wire::ErrorBody;

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

/// Server-sent events for the caller's jobs: `job` (a job created or changed state, as
/// `GET /jobs/{id}` shows it), `failure` (an object failed) and, every second, `progress`
/// (the running jobs' counters, as `GET /jobs/{id}` has them).
#[utoipa::path(get, path = "/api/v1/events", tag = "jobs",
    responses((status = 200, description = "server-sent events: `job`, `failure`, and every second `progress`", content_type = "text/event-stream", body = String),
        (status = 401, description = "no valid token or session", body = ErrorBody), (status = 429, description = "the user has 16 streams open", body = ErrorBody)))]
pub(super) async fn events(
    State(app): State<App>,
    Caller(user): Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let open = OpenStream::open(&app, &user.name)?;
    let me = user.clone();
    let notices = BroadcastStream::new(app.service.notices()).filter_map(move |notice| {
        let event = match notice {
            Ok(notice) if me.sees(notice.user()) => match notice {
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
    let progress = WatchStream::from_changes(app.service.live_feed()).filter_map(move |snapshot| {
        // Held by the stream: dropped, and uncounted, when the client goes.
        let _open = &open;
        let live = visible_to(&snapshot, &user);
        let event = (!live.is_empty())
            .then(|| Event::default().event("progress").json_data(&live).ok())
            .flatten();
        std::future::ready(event.map(Ok))
    });
    Ok(Sse::new(futures::stream::select(notices, progress)).keep_alive(KeepAlive::default()))
}
