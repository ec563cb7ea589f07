//! `awcopy serve` end to end on the emulators: jobs submitted through the CLI (`--via`) and
//! raw HTTP, both directions, every byte checked; users kept apart (401, 403, 404, their own
//! events only); pause, resume, cancel and retry; a service killed with kill -9 mid-job and
//! started again; schedules with their watermark; bad input; no token or key anywhere.

mod control;
mod failures;
mod replicate;
mod schedules;
mod settings;
mod users;

use crate::common::awcopy_with_env;
use crate::common::service::Service;
use awcopy_testkit as kit;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Small objects of many sizes and one of `large` bytes.
pub(super) fn mixed(large: usize, seed: u64) -> BTreeMap<String, Vec<u8>> {
    let mut files: BTreeMap<String, Vec<u8>> = (0..12)
        .map(|i| {
            (
                format!("small/f{i:02}.bin"),
                kit::pattern(i * 997 + 1, seed + i as u64),
            )
        })
        .collect();
    files.insert("large/big.bin".into(), kit::pattern(large, seed + 100));
    files.insert("ünï cødé/ключ 1.txt".into(), kit::pattern(4321, seed + 200));
    files
}

/// Runs the CLI as user `token`.
pub(super) fn as_user(token: &str, args: &[&str]) -> std::process::Output {
    awcopy_with_env(args, &[("AWCOPY_TOKEN", token)])
}

/// The ids of a job list as the API answers it.
pub(super) fn ids(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls `check` until it holds (60 s at most).
pub(super) async fn wait_until<F, Fut>(check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "the condition never held");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Work items each agent finished, from `/metrics`.
pub(super) async fn agent_items(service: &Service) -> BTreeMap<String, u64> {
    let text = service.metrics().await;
    text.lines()
        .filter_map(|line| line.strip_prefix("awcopy_agent_items_total{agent=\""))
        .filter_map(|rest| rest.split_once("\"} "))
        .map(|(agent, n)| (agent.to_owned(), n.trim().parse().unwrap()))
        .collect()
}
