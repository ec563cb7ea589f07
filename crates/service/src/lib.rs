//! `awcopy serve`: the job service (DESIGN.md "The service and its agents"). One process holds
//! the HTTP API, the dashboard, the scheduler and N in-process agents. Each job runs through the
//! same [`awcopy_jobs::runner::JobRunner`] as `awcopy cp`: the runner is the dispatcher (it
//! lists and plans), its work items go through the runner's queue seam to the agents, and the
//! catalogue records them as for `cp` — so a job run here resumes, retries and reports alike.
//! [`client`] is the API's client, for the CLI's `--via` and `--server`.

#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

mod agent;
mod agents;
mod api_error;
mod app;
mod auth;
pub mod client;
pub mod config;
mod dashboard;
mod dispatch;
mod error;
mod estimate;
mod failures_file;
mod http;
mod live;
mod metrics;
pub mod nats;
mod replicas;
mod replication;
mod schedule;
mod service;
pub mod setting;
pub mod wire;

use awcopy_jobs::{Catalog, CatalogAddress};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use config::{hash_token, token_bits, Config, LEAST_TOKEN_BITS};
use setting::{Setting, SettingError};

/// How `awcopy serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The users and grants.
    pub config: Config,
    /// In-process agents.
    pub agents: usize,
    /// The catalogue: a SQLite file, or a PostgreSQL database replicas share.
    pub db: CatalogAddress,
    /// Certificate and key (PEM) to serve HTTPS with.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Serve plain HTTP on a non-loopback address anyway.
    pub insecure_http: bool,
    /// The S3 endpoint jobs use (else the environment's).
    pub s3_endpoint: Option<String>,
    /// Put work items on NATS JetStream (the `agents` in-process agents then pull from it
    /// too, beside `awcopy agent` processes anywhere).
    pub nats: Option<nats::NatsOptions>,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A setting is wrong.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// The catalogue could not be opened.
    #[error(transparent)]
    Catalog(#[from] awcopy_jobs::CatalogError),
    /// Listening or serving failed (the message names where).
    #[error(transparent)]
    Listening(SettingError),
    /// Jobs left running could not be resumed.
    #[error("{0}")]
    Recovery(String),
}

/// Runs the service until the process is stopped; `ready` is told the address it listens on
/// once it does.
pub async fn serve(
    options: ServeOptions,
    ready: impl FnOnce(SocketAddr, bool),
) -> Result<(), ServeError> {
    if options.tls.is_none() && !options.listen.ip().is_loopback() && !options.insecure_http {
        let listen = Some(options.listen.to_string());
        return Err(SettingError::new(Setting::Listen, listen)
            .words("tokens would cross the network in clear text; give ")
            .name(Setting::TlsCert)
            .words(" and ")
            .name(Setting::TlsKey)
            .words(", or ")
            .name(Setting::InsecureHttp)
            .words(" if something else encrypts the traffic")
            .into());
    }
    let reach = options
        .config
        .reach(options.s3_endpoint.as_deref())
        .map_err(|e| SettingError::new(Setting::Config, None).words(e.to_string()))?;
    let catalog = Arc::new(Catalog::open(options.db.clone()).await?);
    let access = service::service_access(&options.config, reach);
    let dispatcher = match &options.nats {
        Some(nats) => {
            let dispatcher = nats::NatsDispatcher::start(nats)
                .await
                .map_err(|e| SettingError::new(Setting::Nats, None).words(e.to_string()))?;
            for n in 1..=options.agents {
                let agent = nats::AgentOptions {
                    nats: nats.clone(),
                    name: format!("{}-{n}", nats::host_name()),
                    items: nats::DEFAULT_ITEMS,
                    access: access.clone(),
                };
                tokio::spawn(async move {
                    if let Err(e) = nats::run_agent(agent).await {
                        tracing::error!("in-process agent: {e}");
                    }
                });
            }
            Some(dispatcher)
        }
        None if options.agents == 0 => {
            return Err(SettingError::new(Setting::Agents, Some("0".into()))
                .words("without ")
                .name(Setting::Nats)
                .words(" nothing would run the jobs; give 1 or more")
                .into())
        }
        None => None,
    };
    let service =
        service::Service::new(options.config, access, catalog, options.agents, dispatcher);
    let resumed = service
        .recover()
        .await
        .map_err(|e| ServeError::Recovery(e.to_string()))?;
    if resumed > 0 {
        tracing::info!("resumed {resumed} jobs left running by a previous run of the service");
    }
    let replica = replicas::spawn_replica_duty(service.clone());
    let scheduler = schedule::spawn_scheduler(service.clone());
    let replications = replication::spawn_replication_duty(service.clone());
    let live_feed = live::spawn_live_feed(service.clone());
    let app = app::App {
        service: service.clone(),
        sessions: auth::Sessions::default(),
        secure_cookies: options.tls.is_some(),
        failures: auth::Failures::default(),
        streams: Arc::default(),
    };
    let router = http::router(app);
    let io = |e: std::io::Error| {
        let listen = Some(options.listen.to_string());
        ServeError::Listening(SettingError::new(Setting::Listen, listen).words(e.to_string()))
    };
    let result = match &options.tls {
        Some((cert, key)) => {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| {
                    let cert = Some(cert.display().to_string());
                    SettingError::new(Setting::TlsCert, cert)
                        .words(format!("(with {}) {e}", key.display()))
                })?;
            let listener = std::net::TcpListener::bind(options.listen).map_err(io)?;
            listener.set_nonblocking(true).map_err(io)?;
            ready(listener.local_addr().map_err(io)?, true);
            axum_server::from_tcp_rustls(listener, tls)
                .serve(router.into_make_service_with_connect_info::<SocketAddr>())
                .await
        }
        None => {
            let listener = tokio::net::TcpListener::bind(options.listen)
                .await
                .map_err(io)?;
            ready(listener.local_addr().map_err(io)?, false);
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        }
    };
    scheduler.abort();
    replications.abort();
    service.replicating.stop_all();
    live_feed.abort();
    replica.abort();
    result.map_err(io)
}
