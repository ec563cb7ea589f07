//! The service started in the test's own process (`awcopy_service::serve` on a runtime of its
//! own), behind the testkit's service harness: the same users, calls and checks as the CLI's
//! tests of the `awcopy serve` process.

use awcopy_service::{serve, Config, ServeOptions};
pub use awcopy_testkit::service::*;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, Once};
use std::time::Duration;

/// Everything the services of this test binary logged (at debug for awcopy's crates),
/// unredacted: a token or secret in it is one the service itself wrote.
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Appends what it is given to [`LOG`].
struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends this binary's logs to [`LOG`], once.
fn keep_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing_subscriber::fmt()
            .with_env_filter(
                "warn,awcopy_store=debug,awcopy_engine=debug,awcopy_jobs=debug,awcopy_service=debug",
            )
            .with_writer(|| LogWriter)
            .with_ansi(false)
            .init();
    });
}

/// A service running on a runtime of its own, stopped by shutting that runtime down.
struct InProcess {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Running for InProcess {
    fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&LOG.lock().unwrap()).into_owned()
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts the service with the config and catalogue in `dir`, `agents` in-process agents and
/// the S3 emulator as its endpoint, on a free loopback port.
pub fn start(dir: &Path, agents: usize) -> Service {
    keep_logs();
    let config = Config::load(&dir.join("service.toml")).expect("the test's config");
    let options = ServeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        config,
        agents,
        db: dir.join("service.db").into(),
        tls: None,
        insecure_http: false,
        s3_endpoint: Some(awcopy_testkit::s3_endpoint()),
        nats: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime for the service");
    let (ready, address) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        let told = move |address, _tls| {
            let _ = ready.send(address);
        };
        if let Err(e) = serve(options, told).await {
            tracing::error!("the service stopped: {e}");
        }
    });
    let running = InProcess {
        runtime: Some(runtime),
    };
    let address = address
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("the service did not start: {}", running.log()));
    Service::attach(format!("http://{address}"), Box::new(running))
}

/// Waits (60 s at most) until `check` holds, saying `what` it waited for if it never does.
pub async fn wait_until<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `files` under `prefix`, keyed by the rest of their keys (what a copy of `prefix` to a
/// destination's root holds).
pub fn relative(
    files: &std::collections::BTreeMap<String, Vec<u8>>,
    prefix: &str,
) -> std::collections::BTreeMap<String, Vec<u8>> {
    files
        .iter()
        .map(|(k, v)| (k[prefix.len()..].to_owned(), v.clone()))
        .collect()
}

/// A service of `agents` in-process agents that reaches the Azure emulator through a proxy
/// adding `millis` to each request (0: only counting them), alice granted read and write on
/// `grant`.
pub struct SlowAzure {
    /// The service.
    pub service: Service,
    /// The proxy in front of the Azure emulator (its counters see every request).
    pub proxy: awcopy_testkit::fault_proxy::FaultProxy,
    _dir: tempfile::TempDir,
}

impl SlowAzure {
    /// Starts it.
    pub async fn start(grant: &[String], millis: u64, agents: usize) -> Self {
        let proxy = awcopy_testkit::fault_proxy::slow_azure(millis).await;
        let (guard, dir) = service_dir();
        write_config_with(&dir, (grant, grant), (&[], &[]), &azure_through(&proxy));
        Self {
            service: start(&dir, agents),
            proxy,
            _dir: guard,
        }
    }

    /// `container`'s location as the service reaches it through the proxy.
    pub fn through(&self, container: &awcopy_store::Location) -> String {
        awcopy_testkit::fault_proxy::through(&self.proxy, container)
    }
}
