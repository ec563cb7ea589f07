//! The dashboard in a real browser (headless Chromium through playwright-core): two users' jobs
//! live, one paused from the page, fifty finished jobs of another user and a schedule listed,
//! no token anywhere on the page.

use crate::harness::{self as svc, Service, ADMIN, ALICE};
use awcopy_testkit as kit;
use std::collections::BTreeMap;

/// What the browser is shown: a service with fifty finished jobs of the admin's and a schedule
/// of Alice's, a job of Alice's that failed as a whole, and one of hers (started last) slow
/// enough to be watched and paused.
struct Scene {
    service: Service,
    /// The job the browser watches.
    id: String,
    /// Alice's failed job, as the API ended it.
    failed: serde_json::Value,
    _proxy: kit::fault_proxy::FaultProxy,
    _dir: tempfile::TempDir,
}

impl Scene {
    async fn set_up() -> Self {
        let bucket = kit::new_s3_bucket("svc-dash").await;
        let container = kit::new_azure_container("svc-dash").await;
        let many = kit::new_s3_bucket("svc-dash-many").await;
        let big = BTreeMap::from([("live/big.bin".to_owned(), kit::pattern(16 << 20, 11))]);
        kit::put_all(&kit::open(&bucket).await, &big).await;
        let tiny = (0..50).map(|i| format!("p{i:02}/x"));
        kit::put_tiny(&kit::open(&many).await, tiny).await;
        let (guard, dir) = svc::service_dir();
        // Granted, and never made: a job from it fails as a whole.
        let missing = format!("s3://{}/", kit::unique_name("svc-dash-missing"));
        let grant = vec![format!("{bucket}"), container.to_string(), missing.clone()];
        let proxy = kit::fault_proxy::slow_azure(400).await;
        let stores = svc::azure_through(&proxy);
        svc::write_config_with(&dir, (&grant, &grant), (&[], &[]), &stores);
        let service = svc::start(&dir, 2);
        fifty_finished_jobs_of_another_user_and_a_schedule(&service, &many, &bucket, &container)
            .await;
        let failed = service
            .run_to_end(ALICE, svc::copy_spec(&missing, &format!("{bucket}never/")))
            .await;
        assert_eq!(failed["status"], "failed", "{failed}");
        assert_eq!(failed["error_kind"], "not-found", "{failed}");
        assert!(
            failed["finished_at"].is_string(),
            "a failed job ended: {failed}"
        );
        // 256 blocks, one at a time per agent, each slowed by the proxy: a minute or so.
        let dest = format!("{}live/", kit::fault_proxy::through(&proxy, &container));
        let body = svc::spec_in_blocks(
            &format!("{bucket}live/"),
            &dest,
            64 * 1024,
            serde_json::json!({"name": "dashboard", "tuning": {"concurrency": 1}}),
        );
        let job = service.create("/api/v1/jobs", ALICE, body).await;
        Self {
            id: job["id"].as_str().unwrap().to_owned(),
            service,
            failed,
            _proxy: proxy,
            _dir: guard,
        }
    }

    /// Runs `dashboard.mjs` in headless Chromium against the scene; what it saw.
    async fn browse(&self, shots: &std::path::Path) -> serde_json::Value {
        let env = [
            ("URL", self.service.url.clone()),
            ("TOKEN", ALICE.to_owned()),
            ("ADMIN_TOKEN", ADMIN.to_owned()),
            ("JOB", self.id.clone()),
            ("FAILED_JOB", self.failed["id"].as_str().unwrap().to_owned()),
        ];
        browse("dashboard.mjs", shots, &env).await
    }
}

/// Runs the browser script `script` (beside this file) in headless Chromium with `env`, its
/// screenshots going to `shots`; the JSON line it printed last (what it saw).
pub async fn browse(
    script: &str,
    shots: &std::path::Path,
    env: &[(&str, String)],
) -> serde_json::Value {
    let script = kit::workspace_root()
        .join("crates/service/tests/service")
        .join(script);
    kit::browser::run_script(&script, shots, env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_jobs_live_and_pauses_one_in_a_browser() {
    let scene = Scene::set_up().await;
    let shots = kit::workspace_root().join("target/dashboard-shots");
    std::fs::create_dir_all(&shots).unwrap();
    let seen = scene.browse(&shots).await;
    alice_saw_her_jobs_live_and_true(&seen, &scene.failed);
    the_admin_saw_every_job_in_pages(&seen);
    let job = scene
        .service
        .get(&format!("/api/v1/jobs/{}", scene.id), ALICE)
        .await;
    assert_eq!(
        job["status"], "paused",
        "the click paused the job on the service"
    );
    for shot in [
        "1-sign-in",
        "2-jobs",
        "3-job-running",
        "4-job-paused",
        "5-admin",
        "6-schedules",
        "7-job-failed",
        "8-job-1400",
        "8-job-390",
    ] {
        let png = std::fs::metadata(shots.join(format!("{shot}.png"))).expect("a screenshot");
        assert!(png.len() > 1000, "{shot}.png is an image");
    }
    for text in [&seen["pageText"], &seen["adminPageText"]] {
        svc::assert_no_tokens("the dashboard", text.as_str().unwrap());
    }
}

/// Alice signed in (a wrong token refused first), saw her job's counters change live and
/// paused it from its page; its chart never fell; her failed job's page said why in red; each
/// page offered only the actions its job's state allows; no page scrolled sideways.
fn alice_saw_her_jobs_live_and_true(seen: &serde_json::Value, failed: &serde_json::Value) {
    let wrong = seen["wrongToken"].as_str().unwrap();
    assert!(wrong.contains("not known"), "{seen}");
    assert_eq!(seen["who"], "alice");
    assert_ne!(
        seen["firstBytes"], seen["laterBytes"],
        "the counters changed live"
    );
    assert_eq!(seen["rowStatus"], "running");
    let cookie = &seen["cookieVisibleToScripts"];
    assert_eq!(cookie, false, "the session cookie is HttpOnly");
    assert_eq!(seen["afterPause"], "paused");
    let counters = seen["runningCounters"].as_str().unwrap();
    assert!(
        counters.contains("Requests in flight"),
        "a running job's page: {counters}"
    );
    // Times are shown in one format, with their zone ("Dec 6, 2026, 7:16:36 PM UTC").
    let started = seen["runStarted"].as_str().unwrap();
    let zone = started.rsplit(' ').next().unwrap_or("");
    assert!(
        started
            .split(|c: char| !c.is_ascii_digit())
            .any(|n| n.len() == 4)
            && zone.starts_with(|c: char| c.is_ascii_uppercase()),
        "{started:?}"
    );
    let said = seen["failedError"].as_str().unwrap();
    let error = failed["error"].as_str().unwrap();
    assert!(
        said.starts_with("Failed: ") && said.contains(error) && said.contains("not-found"),
        "the failed job's page says why: {said:?}, the job's error: {error:?}"
    );
    assert_eq!(seen["failedErrorColour"], "rgb(176, 0, 32)", "{seen}");
    let samples: Vec<u64> = serde_json::from_value(seen["bytesSamples"].clone()).unwrap();
    assert!(
        samples.len() > 2
            && samples.windows(2).all(|w| w[0] <= w[1])
            && samples[samples.len() - 1] > 0,
        "the chart never goes backwards: {samples:?}"
    );
    assert_eq!(seen["sideways"], serde_json::json!([]), "{seen}");
    let resumed = &seen["afterResume"];
    let numbers =
        |name: &str| -> Vec<u64> { serde_json::from_value(resumed[name].clone()).unwrap() };
    let (before, shown, after) = (numbers("before"), numbers("shown"), numbers("after"));
    for i in 0..4 {
        assert!(
            before[i] <= shown[i] && shown[i] <= after[i],
            "after a resume the page shows the job's counters as GET has them: {resumed}"
        );
    }
    assert!(shown[2] > 0 && resumed["runs"] == 2, "{resumed}");
    assert_eq!(
        resumed["started"], resumed["firstRun"],
        "Started is the first run's"
    );
    let actions = serde_json::json!(["resume", "cancel"]);
    assert_eq!(seen["pausedActions"], actions, "{seen}");
    assert_eq!(seen["failedActions"], actions, "{seen}");
    let agents = seen["agentRows"].as_u64().unwrap();
    assert!(agents >= 1, "per-agent throughput shown: {seen}");
}

/// The admin saw every user's jobs, 50 to a page, filtered by status and searched, and the
/// schedules page.
fn the_admin_saw_every_job_in_pages(seen: &serde_json::Value) {
    assert_eq!(seen["adminRows"].as_u64().unwrap(), 50, "a page: {seen}");
    assert_eq!(seen["adminPage"], "52 jobs, page 1 of 2", "{seen}");
    assert_eq!(seen["adminSecondPageRows"], 2, "{seen}");
    assert_eq!(seen["failedRows"], 1, "the status filter: {seen}");
    assert_eq!(seen["searchRows"], 1, "the search: {seen}");
    assert_eq!(seen["adminUsers"], serde_json::json!(["alice", "root"]));
    let schedules = seen["adminPageText"].as_str().unwrap();
    assert!(
        schedules.contains("nightly-live"),
        "the schedules page lists it"
    );
}

/// Fifty jobs of another user (the admin), all finished, and a schedule of Alice's (off) for
/// the schedules page.
async fn fifty_finished_jobs_of_another_user_and_a_schedule(
    service: &Service,
    many: &awcopy_store::Location,
    bucket: &awcopy_store::Location,
    container: &awcopy_store::Location,
) {
    let mut others = Vec::new();
    for i in 0..50 {
        let body = svc::spec_in_blocks(
            &format!("{many}p{i:02}/"),
            &format!("{many}out{i:02}/"),
            8 << 20,
            serde_json::json!({}),
        );
        let job = service.create("/api/v1/jobs", ADMIN, body).await;
        others.push(job["id"].as_str().unwrap().to_owned());
    }
    for other in &others {
        service.wait_for(other, ADMIN, &["completed"]).await;
    }
    let template = svc::spec_in_blocks(
        &format!("{bucket}live/"),
        &container.to_string(),
        8 << 20,
        serde_json::json!({}),
    );
    let input = serde_json::json!({"name": "nightly-live", "template": template, "cron": "0 2 * * *", "enabled": false});
    let _ = service.create("/api/v1/schedules", ALICE, input).await;
}
