//! The service crate's integration tests, one binary: the service started in the test's
//! process ([`harness`]) against the emulators `scripts/test.sh` starts, driven through its HTTP
//! API and, for the dashboard, a real browser. The `awcopy serve` and `awcopy agent` processes
//! (crashes, restarts, NATS agents, the CLI's `--via`) are tried in the CLI's tests.

mod console;
mod dashboard;
mod dashboard_console;
mod grants;
mod harness;
mod live;
mod openapi;
mod replication;
mod sign_in;
