//! The `awcopy serve` process of these tests: the testkit's service harness, started from this
//! crate's binary (the service's own tests start it in their process instead).

pub use awcopy_testkit::nats::{certificates, nats_credentials, Nats};
pub use awcopy_testkit::process::Process;
pub use awcopy_testkit::service::*;
use std::path::Path;

/// Starts `awcopy serve` with the config and catalogue in `dir` and `agents` in-process agents.
pub fn start(dir: &Path, agents: u16) -> Service {
    start_with(dir, &["--agents", &agents.to_string()])
}

/// Starts `awcopy serve` with the config and catalogue in `dir`, and `args`.
pub fn start_with(dir: &Path, args: &[&str]) -> Service {
    start_with_env(dir, args, &[])
}

/// Starts `awcopy serve` with the config and catalogue in `dir`, `args` and `env`.
pub fn start_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Service {
    Service::spawn(Path::new(env!("CARGO_BIN_EXE_awcopy")), dir, args, env)
}
