//! A fault-injecting HTTP/1.1 proxy for tests, on loopback only. It forwards each request
//! unchanged (so signatures stay valid) to one upstream server and, at the rates asked for,
//! adds delay, answers 503 with the service's throttling body (S3 `SlowDown`, Azure
//! `ServerBusy`) without forwarding, drops the connection without an answer, or cuts a GET
//! response short. It counts what it did.

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::Rng;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Ends a logged request that names a server-side copy source (`x-ms-copy-source`,
/// `x-amz-copy-source`): Put Block From URL, CopyObject, UploadPartCopy.
pub const COPY_SOURCE_MARK: &str = "\tcopy-source";

/// What to inject, as fractions of requests (0.0 to 1.0).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added before every request is handled.
    pub delay: Duration,
    /// Answered 503 with a throttling body, not forwarded.
    pub throttle_rate: f64,
    /// Connection dropped with no answer, not forwarded.
    pub reset_rate: f64,
    /// GET responses forwarded with only part of their body.
    pub cut_rate: f64,
    /// GET responses that send part of their body and then nothing more, keeping the
    /// connection open (a stalled stream).
    pub stall_rate: f64,
    /// Cut and stall only ranged GETs (blocks of large objects), not listings or whole objects.
    pub ranged_only: bool,
}

/// What the proxy did.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests received.
    pub requests: AtomicU64,
    /// Of which answered 503.
    pub throttled: AtomicU64,
    /// Of which dropped.
    pub resets: AtomicU64,
    /// Of which cut short.
    pub cuts: AtomicU64,
    /// Of which stalled.
    pub stalls: AtomicU64,
    /// Request body bytes forwarded upstream.
    pub bytes_up: AtomicU64,
    /// Response body bytes sent back.
    pub bytes_down: AtomicU64,
    /// Requests being answered now.
    pub in_flight: AtomicU64,
    /// The most requests ever being answered at once.
    pub most_in_flight: AtomicU64,
    /// Every request received, as `METHOD path?query`, in order; [`COPY_SOURCE_MARK`] follows
    /// a request that names a server-side copy source.
    pub log: std::sync::Mutex<Vec<String>>,
}

impl Counters {
    /// The requests logged from position `from` on.
    pub fn requests_since(&self, from: usize) -> Vec<String> {
        self.log.lock().expect("log lock")[from..].to_vec()
    }

    /// How many requests are logged.
    pub fn logged(&self) -> usize {
        self.log.lock().expect("log lock").len()
    }
}

/// A running proxy; it stops when dropped.
pub struct FaultProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    /// What it did so far.
    pub counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type ProxyBody = BoxBody<Bytes, std::io::Error>;

fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// The throttling answer each service gives.
fn throttle_response(azure: bool) -> Response<ProxyBody> {
    let body = if azure {
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>ServerBusy</Code><Message>The server is busy.</Message></Error>"
    } else {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
    };
    let mut response = Response::new(full(body));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
        .headers_mut()
        .insert("content-type", "application/xml".parse().expect("static"));
    if azure {
        response
            .headers_mut()
            .insert("x-ms-error-code", "ServerBusy".parse().expect("static"));
    }
    response
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 in front of `upstream` (an `http://host:port` base URL).
    pub async fn start(upstream: &str, faults: Faults) -> FaultProxy {
        let upstream: http::Uri = upstream.parse().expect("upstream URL");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local address");
        let counters = Arc::new(Counters::default());
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let shared = Arc::new((upstream, faults, counters.clone(), client));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let shared = shared.clone();
                        async move {
                            let (upstream, faults, counters, client) = &*shared;
                            handle(request, upstream, faults, counters, client).await
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy {
            addr,
            counters,
            task,
        }
    }

    /// The proxy's base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn handle(
    request: Request<Incoming>,
    upstream: &http::Uri,
    faults: &Faults,
    counters: &Counters,
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
) -> Result<Response<ProxyBody>, std::io::Error> {
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    counters.most_in_flight.fetch_max(now, Ordering::SeqCst);
    let _answered = InFlight(&counters.in_flight);
    let copy_source = ["x-ms-copy-source", "x-amz-copy-source"]
        .iter()
        .any(|h| request.headers().contains_key(*h));
    counters.log.lock().expect("log lock").push(format!(
        "{} {}{}",
        request.method(),
        request.uri().path_and_query().map_or("/", |p| p.as_str()),
        if copy_source { COPY_SOURCE_MARK } else { "" }
    ));
    if !faults.delay.is_zero() {
        tokio::time::sleep(faults.delay).await;
    }
    let roll: f64 = rand::rng().random();
    let azure = request.headers().contains_key("x-ms-version");
    if roll < faults.throttle_rate {
        counters.throttled.fetch_add(1, Ordering::Relaxed);
        return Ok(throttle_response(azure));
    }
    if roll < faults.throttle_rate + faults.reset_rate {
        counters.resets.fetch_add(1, Ordering::Relaxed);
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected reset",
        ));
    }
    let body_fault_ok = request.method() == http::Method::GET
        && (!faults.ranged_only || request.headers().contains_key(http::header::RANGE));
    let after_drops = faults.throttle_rate + faults.reset_rate;
    let cut = body_fault_ok && roll >= after_drops && roll < after_drops + faults.cut_rate;
    let stall = body_fault_ok
        && roll >= after_drops + faults.cut_rate
        && roll < after_drops + faults.cut_rate + faults.stall_rate;

    let (mut parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    counters
        .bytes_up
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_owned();
    parts.uri = format!("{}{}", upstream.to_string().trim_end_matches('/'), path)
        .parse()
        .map_err(std::io::Error::other)?;
    let response = client
        .request(Request::from_parts(parts, Full::new(body)))
        .await
        .map_err(std::io::Error::other)?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    if stall && body.len() > 1 {
        counters.stalls.fetch_add(1, Ordering::Relaxed);
        let half = body.slice(..body.len() / 2);
        let frames = futures::StreamExt::chain(
            futures::stream::iter([Ok(Frame::data(half))]),
            futures::stream::pending(),
        );
        return Ok(Response::from_parts(
            parts,
            BodyExt::boxed(StreamBody::new(frames)),
        ));
    }
    if cut && body.len() > 1 {
        counters.cuts.fetch_add(1, Ordering::Relaxed);
        let half = body.slice(..body.len() / 2);
        counters
            .bytes_down
            .fetch_add(half.len() as u64, Ordering::Relaxed);
        let frames = futures::stream::iter([
            Ok(Frame::data(half)),
            Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "injected cut",
            )),
        ]);
        return Ok(Response::from_parts(parts, StreamBody::new(frames).boxed()));
    }
    counters
        .bytes_down
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    Ok(Response::from_parts(parts, full(body)))
}

/// A request being answered: counted in flight until it is dropped.
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A proxy in front of the Azure emulator that adds `millis` to every request: a job through
/// it runs long enough to be paused, cancelled or killed.
pub async fn slow_azure(millis: u64) -> FaultProxy {
    let endpoint = crate::azure_endpoint();
    let base = &endpoint[..endpoint.rfind('/').unwrap()];
    let faults = Faults {
        delay: Duration::from_millis(millis),
        ..Faults::default()
    };
    FaultProxy::start(base, faults).await
}

/// An Azure container's URL through `proxy` (in front of the emulator's base URL).
pub fn through(proxy: &FaultProxy, container: &awcopy_store::Location) -> String {
    container
        .to_string()
        .replace("az://", &format!("{}/", proxy.url()))
}
