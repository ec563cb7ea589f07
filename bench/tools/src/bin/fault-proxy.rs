//! The tests' fault-injecting proxy as a process, for the benchmark: prints its URL on one
//! line, forwards to UPSTREAM, and on SIGTERM prints what it counted (requests, bytes each
//! way, faults) as one JSON line and exits.

use awcopy_testkit::fault_proxy::{FaultProxy, Faults};
use clap::Parser;
use std::time::Duration;

/// Forward to UPSTREAM, adding delay and faults.
#[derive(Debug, Parser)]
struct Args {
    /// The server to forward to, e.g. http://127.0.0.1:9000.
    upstream: String,
    /// Milliseconds added to every request.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Fraction of requests answered 503 (SlowDown / ServerBusy).
    #[arg(long, default_value_t = 0.0)]
    throttle: f64,
    /// Fraction of connections dropped without an answer.
    #[arg(long, default_value_t = 0.0)]
    reset: f64,
    /// Fraction of GET bodies cut short.
    #[arg(long, default_value_t = 0.0)]
    cut: f64,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let proxy = FaultProxy::start(
        &args.upstream,
        Faults {
            delay: Duration::from_millis(args.delay_ms),
            throttle_rate: args.throttle,
            reset_rate: args.reset,
            cut_rate: args.cut,
            ..Faults::default()
        },
    )
    .await;
    println!("{}", proxy.url());
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    terminate.recv().await;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let counters = &proxy.counters;
    println!(
        "{}",
        serde_json::json!({
            "requests": load(&counters.requests),
            "bytes_up": load(&counters.bytes_up),
            "bytes_down": load(&counters.bytes_down),
            "throttled": load(&counters.throttled),
            "resets": load(&counters.resets),
            "cuts": load(&counters.cuts),
        })
    );
}
