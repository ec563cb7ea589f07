//! Schedules: what is new copied once per run, paused through the CLI, missed runs run once
//! after the service restarts, a failing schedule turned off saying why.

use super::as_user;
use crate::common::service::{self as svc, Service, ADMIN, ALICE, BOB};
use crate::common::{stderr, stdout};
use awcopy_testkit as kit;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_copy_what_is_new_once_and_turn_off_after_failing() {
    let source = tempfile::tempdir().unwrap();
    let container = kit::new_azure_container("svc-sched").await;
    let az = kit::open(&container).await;
    let root = format!("{}/", source.path().display());
    let (_guard, dir) = svc::service_dir();
    let grant_read = vec![root.clone()];
    let grant_write = vec![container.to_string()];
    svc::write_config(&dir, (&grant_read, &grant_write), (&[], &[]));
    let service = svc::start(&dir, 2);
    let mut files = BTreeMap::new();
    let put = |files: &mut BTreeMap<String, Vec<u8>>, name: &str, seed: u64| {
        let data = kit::pattern(1000 + seed as usize, seed);
        std::fs::write(source.path().join(name), &data).unwrap();
        files.insert(name.to_owned(), data);
    };
    put(&mut files, "a1", 1);
    put(&mut files, "a2", 2);

    let template = svc::spec_in_blocks(
        &root,
        &kit::location_text(&container),
        8 << 20,
        serde_json::json!({}),
    );
    let input = serde_json::json!({"name": "nightly", "template": template, "every": "2s", "overlap": "30s"});
    let schedule = service.create("/api/v1/schedules", ALICE, input).await;
    let sid = schedule["id"].as_str().unwrap().to_owned();
    let first = wait_for_runs(&service, &sid, 1).await;
    let first_start = time::OffsetDateTime::parse(
        first[0]["started_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    // New objects: one now, one whose modification time is just before the previous run's
    // start (an upload that began before it and ended after).
    put(&mut files, "b1", 3);
    put(&mut files, "b2", 4);
    let straddler = std::fs::File::options()
        .write(true)
        .open(source.path().join("b2"))
        .unwrap();
    straddler
        .set_modified((first_start - Duration::from_secs(1)).into())
        .unwrap();
    drop(straddler);
    let seen = wait_for_runs(&service, &sid, 3).await.len();
    kit::assert_holds(&az, "", &files).await;
    let jobs = service.get("/api/v1/jobs", ALICE).await;
    let finished: Vec<_> = runs_of_schedule(&jobs, &sid)
        .into_iter()
        .filter(|j| j["status"] == "completed")
        .collect();
    let copied: u64 = finished
        .iter()
        .map(|j| j["counters"]["objects_done"].as_u64().unwrap())
        .sum();
    assert_eq!(
        copied,
        files.len() as u64,
        "each object copied once over {} runs",
        finished.len()
    );
    assert!(seen >= 3);

    a_paused_schedule_runs_no_more_and_bob_sees_none(&service, &sid).await;
    let service = missed_runs_run_once_after_a_restart(service, &dir, &root, &container).await;
    a_failing_schedule_turns_itself_off_saying_why(&service, &container).await;
}

/// Switched off from the CLI, schedule `sid` runs no more and is listed as off; Bob sees
/// none of it.
async fn a_paused_schedule_runs_no_more_and_bob_sees_none(service: &Service, sid: &str) {
    let out = as_user(ALICE, &["schedule", "pause", sid, "--via", &service.url]);
    assert!(out.status.success(), "{}", stderr(&out));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let count = runs_of_schedule(&service.get("/api/v1/jobs", ALICE).await, sid).len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        runs_of_schedule(&service.get("/api/v1/jobs", ALICE).await, sid).len(),
        count,
        "a schedule that is off does not run"
    );
    let out = as_user(ALICE, &["schedule", "list", "--via", &service.url]);
    assert!(
        stdout(&out).contains(sid) && stdout(&out).contains("off"),
        "{}",
        stdout(&out)
    );
    for (what, args) in [
        ("schedule list", ["schedule", "list", "--via"]),
        ("jobs list", ["jobs", "list", "--server"]),
    ] {
        let mut args = args.to_vec();
        args.push(&service.url);
        let token = [("AWCOPY_TOKEN", ALICE)];
        crate::closed_pipe::assert_quiet_into_a_closed_pipe(what, &args, &token);
    }

    // Bob sees none of it.
    let (status, _) = service
        .call("GET", &format!("/api/v1/schedules/{sid}"), Some(BOB), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        service
            .get("/api/v1/schedules", BOB)
            .await
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

/// Runs of a schedule missed while the service was down run once when it is back, not once
/// each; returns the service started again.
async fn missed_runs_run_once_after_a_restart(
    mut service: Service,
    dir: &std::path::Path,
    root: &str,
    container: &awcopy_store::Location,
) -> Service {
    let template = svc::spec_in_blocks(
        root,
        &format!("{}again/", kit::location_text(container)),
        8 << 20,
        serde_json::json!({}),
    );
    let input = serde_json::json!({"template": template, "every": "4s"});
    let again = service.create("/api/v1/schedules", ALICE, input).await;
    let again = again["id"].as_str().unwrap().to_owned();
    wait_for_runs(&service, &again, 1).await;
    svc::assert_no_tokens("the API's answers", &service.said.lock().unwrap());
    service.kill9();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let restarted = time::OffsetDateTime::now_utc();
    let service = svc::start(dir, 2);
    wait_for_runs(&service, &again, 2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = service
        .get(&format!("/api/v1/schedules/{again}"), ALICE)
        .await;
    let next = time::OffsetDateTime::parse(
        after["next_run"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(
        next > restarted + Duration::from_secs(2),
        "the next run is a period away: {after}"
    );
    let again_runs = service
        .get("/api/v1/jobs", ALICE)
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["schedule"] == again.as_str())
        .count();
    assert_eq!(again_runs, 2, "two missed runs ran once: {after}");
    service
}

/// A schedule whose runs fail turns itself off after three in a row, and says why.
async fn a_failing_schedule_turns_itself_off_saying_why(
    service: &Service,
    container: &awcopy_store::Location,
) {
    let missing = format!("s3://{}/", kit::unique_name("svc-missing"));
    let template = svc::spec_in_blocks(
        &missing,
        &kit::location_text(container),
        8 << 20,
        serde_json::json!({}),
    );
    let input = serde_json::json!({"template": template, "every": "1s"});
    let failing = service.create("/api/v1/schedules", ADMIN, input).await;
    let fid = failing["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let off = loop {
        let s = service
            .get(&format!("/api/v1/schedules/{fid}"), ADMIN)
            .await;
        if s["enabled"] == false {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the failing schedule never turned off: {s}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(off["failures_in_a_row"], 3, "{off}");
    assert!(
        off["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("3 failed runs"),
        "{off}"
    );
    svc::assert_no_tokens("the API's answers", &service.said.lock().unwrap());
}

/// The runs of schedule `sid` in a job list as the API answers it.
fn runs_of_schedule(jobs: &serde_json::Value, sid: &str) -> Vec<serde_json::Value> {
    jobs.as_array()
        .unwrap()
        .iter()
        .filter(|j| j["schedule"] == sid)
        .cloned()
        .collect()
}

/// Waits until schedule `id` has `count` completed runs; returns them, oldest first.
async fn wait_for_runs(service: &Service, id: &str, count: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let jobs = service.get("/api/v1/jobs", ALICE).await;
        let mut done: Vec<_> = jobs
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["schedule"] == id && j["status"] == "completed")
            .cloned()
            .collect();
        if done.len() >= count {
            done.reverse();
            return done;
        }
        assert!(
            Instant::now() < deadline,
            "schedule {id} ran {} times: {jobs}",
            done.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
