//! What every HTTP handler sees: the service, the dashboard's sessions, failed sign-ins and
//! open event streams.

use axum::extract::FromRef;
use std::collections::HashMap;
use std::sync::Arc;

use crate::auth::{Failures, Sessions};
use crate::service::Service;

/// What every handler sees; each part is also taken alone ([`FromRef`]).
#[derive(Clone)]
pub struct App {
    /// The service.
    pub service: Arc<Service>,
    /// Dashboard sessions.
    pub sessions: Sessions,
    /// Whether cookies are marked `Secure` (served over TLS).
    pub secure_cookies: bool,
    /// Failed attempts to authenticate, by address.
    pub failures: Failures,
    /// Event streams open, by user.
    pub streams: Arc<std::sync::Mutex<HashMap<String, usize>>>,
}

impl FromRef<App> for Arc<Service> {
    fn from_ref(app: &App) -> Self {
        app.service.clone()
    }
}

impl FromRef<App> for Sessions {
    fn from_ref(app: &App) -> Self {
        app.sessions.clone()
    }
}

impl FromRef<App> for Failures {
    fn from_ref(app: &App) -> Self {
        app.failures.clone()
    }
}
