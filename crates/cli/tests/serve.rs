//! `awcopy serve` end to end on the emulators: jobs submitted through the CLI (`--via`) and
//! raw HTTP, both directions, every byte checked; users kept apart (401, 403, 404, their own
//! events only); pause, resume, cancel and retry; a service killed with kill -9 mid-job and
//! started again; schedules with their watermark; bad input; no token or key anywhere.

mod common;

use awcopy_testkit as kit;
use common::service::{self as svc, Service, ADMIN, ALICE, BOB};
use common::{awcopy_with_env, stderr, stdout};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Small objects of many sizes and one of `large` bytes.
fn mixed(large: usize, seed: u64) -> BTreeMap<String, Vec<u8>> {
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
fn as_user(token: &str, args: &[&str]) -> std::process::Output {
    awcopy_with_env(args, &[("AWCOPY_TOKEN", token)])
}

/// A JobSpec copying `source` to `dest`, recursively, in blocks of `block` bytes.
fn spec(source: &str, dest: &str, block: u64, extra: serde_json::Value) -> serde_json::Value {
    let mut spec = serde_json::json!({
        "version": 1, "mode": "cp", "source": source, "dest": dest, "recursive": true,
        "sizes": {"block_size": block},
    });
    if let serde_json::Value::Object(extra) = extra {
        spec.as_object_mut().unwrap().extend(extra);
    }
    spec
}

/// The ids of a job list as the API answers it.
fn ids(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect()
}

fn az_text(location: &awcopy_store::Location) -> String {
    location.to_string()
}

/// Alice's and Bob's buckets, Alice's container, the service and its grants: the set-up the
/// steps of `jobs_run_both_ways_for_their_users_only` share.
struct BothWays {
    service: Service,
    bucket: awcopy_store::Location,
    files: BTreeMap<String, Vec<u8>>,
    s3: std::sync::Arc<dyn awcopy_store::Store>,
    az: std::sync::Arc<dyn awcopy_store::Store>,
    s3_in: String,
    s3_back: String,
    az_out: String,
    az_dest: String,
    bob_in: String,
    bob_out: String,
    dir: std::path::PathBuf,
    _guard: tempfile::TempDir,
}

impl BothWays {
    async fn start() -> Self {
        let bucket = kit::new_s3_bucket("svc-both").await;
        let container = kit::new_azure_container("svc-both").await;
        let bob_bucket = kit::new_s3_bucket("svc-bob").await;
        let files = mixed(3 * 1024 * 1024 + 17, 1);
        let s3 = kit::open(&bucket).await;
        let az = kit::open(&container).await;
        let prefixed: BTreeMap<_, _> = files
            .iter()
            .map(|(k, v)| (format!("in/{k}"), v.clone()))
            .collect();
        kit::put_all(&s3, &prefixed).await;
        kit::put_tiny(
            &kit::open(&bob_bucket).await,
            ["mine/a".to_owned(), "mine/b".to_owned()],
        )
        .await;

        let s3_in = format!("{bucket}in/");
        let s3_back = format!("{bucket}back/");
        let az_out = format!("{}out/", az_text(&container));
        let bob_in = format!("{bob_bucket}mine/");
        let bob_out = format!("{bob_bucket}copy/");
        let (guard, dir) = svc::service_dir();
        svc::write_config(
            &dir,
            (
                &[s3_in.clone(), az_out.clone()],
                &[az_out.clone(), s3_back.clone()],
            ),
            (
                std::slice::from_ref(&bob_in),
                std::slice::from_ref(&bob_out),
            ),
        );
        let service = Service::start(&dir, 4);
        let az_dest = format!("{}out/", kit::location_text(&container));
        Self {
            service,
            bucket,
            files,
            s3,
            az,
            s3_in,
            s3_back,
            az_out,
            az_dest,
            bob_in,
            bob_out,
            dir,
            _guard: guard,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_both_ways_for_their_users_only() {
    let both = BothWays::start().await;
    let first_id = to_azure_through_the_cli(&both).await;
    let second_id = back_to_s3_over_http_each_user_seeing_their_own_events(&both, &first_id).await;
    let bob_id = bob_runs_his_own_job(&both).await;
    users_see_only_their_own_jobs(&both, [&first_id, &second_id, &bob_id]).await;
    requests_outside_the_grants_or_with_a_secret_are_refused(&both).await;
    bad_input_gets_a_4xx_that_says_what_is_wrong(&both, &first_id).await;
    the_cli_lists_and_nothing_holds_a_token(&both, &bob_id, &first_id).await;
}

/// S3 -> Azure through the CLI, followed to its end; returns the job's id.
async fn to_azure_through_the_cli(both: &BothWays) -> String {
    let out = as_user(
        ALICE,
        &[
            "cp",
            "-r",
            &both.s3_in,
            &both.az_dest,
            "--via",
            &both.service.url,
            "--wait",
            "--block-size",
            "512KiB",
            "--job-name",
            "to-azure",
        ],
    );
    assert!(out.status.success(), "cp --via --wait: {}", stderr(&out));
    let first_id = stdout(&out)
        .split_whitespace()
        .nth(1)
        .expect("Job ID submitted ...")
        .to_owned();
    assert!(stdout(&out).contains("(completed)"), "{}", stdout(&out));
    kit::assert_holds(&both.az, "out/", &both.files).await;
    first_id
}

/// Azure -> S3 through raw HTTP on one agent, while alice and bob each read the event stream;
/// returns the job's id.
async fn back_to_s3_over_http_each_user_seeing_their_own_events(
    both: &BothWays,
    first_id: &str,
) -> String {
    let raw = spec(
        &both.az_dest,
        &both.s3_back,
        256 * 1024,
        serde_json::json!({"name": "back-to-s3", "tuning": {"agents": 1}}),
    );
    let items_before = agent_items(&both.service).await;
    let alice_watch = both.service.events_during(ALICE, async {
        let (bob_seen, second) = both
            .service
            .events_during(BOB, async {
                let job = both
                    .service
                    .create("/api/v1/jobs", ALICE, raw.clone())
                    .await;
                let id = job["id"].as_str().unwrap().to_owned();
                assert_eq!(job["user"], "alice", "the token names the user");
                both.service.wait_for(&id, ALICE, &["completed"]).await;
                tokio::time::sleep(Duration::from_millis(1500)).await;
                id
            })
            .await;
        (bob_seen, second)
    });
    let (alice_seen, (bob_seen, second_id)) = alice_watch.await;
    kit::assert_holds(&both.s3, "back/", &both.files).await;
    let items_after = agent_items(&both.service).await;
    let busy: Vec<_> = items_after
        .iter()
        .filter(|(agent, n)| items_before.get(*agent) != Some(n))
        .collect();
    assert_eq!(
        busy.len(),
        1,
        "a job capped at one agent ran on one: {busy:?}"
    );
    assert!(
        alice_seen.contains(&second_id),
        "alice's events show her job"
    );
    assert!(alice_seen.contains("event: job"), "{alice_seen}");
    assert!(
        !bob_seen.contains(&second_id) && !bob_seen.contains(first_id),
        "bob sees none of alice's events: {bob_seen}"
    );
    second_id
}

/// Bob's own job, within his grants; returns its id.
async fn bob_runs_his_own_job(both: &BothWays) -> String {
    let bob_job = both
        .service
        .create(
            "/api/v1/jobs",
            BOB,
            spec(&both.bob_in, &both.bob_out, 8 << 20, serde_json::json!({})),
        )
        .await;
    let bob_id = bob_job["id"].as_str().unwrap().to_owned();
    both.service.wait_for(&bob_id, BOB, &["completed"]).await;
    bob_id
}

/// No token or a wrong one: 401 before anything else; another user's job does not exist for
/// bob; each list holds the caller's jobs, the admin's every job.
async fn users_see_only_their_own_jobs(
    both: &BothWays,
    [first_id, second_id, bob_id]: [&String; 3],
) {
    let raw = spec(
        &both.az_dest,
        &both.s3_back,
        256 * 1024,
        serde_json::json!({}),
    );
    for token in [None, Some("not-a-token")] {
        let (status, body) = both.service.call("GET", "/api/v1/jobs", token, None).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["kind"], "unauthorized");
        let (status, _) = both
            .service
            .call("POST", "/api/v1/jobs", token, Some(raw.to_string()))
            .await;
        assert_eq!(status, 401);
    }
    // Another user's job does not exist for bob; his list and his actions see only his own.
    for path in [
        format!("/api/v1/jobs/{first_id}"),
        format!("/api/v1/jobs/{first_id}/failures"),
    ] {
        let (status, body) = both.service.call("GET", &path, Some(BOB), None).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, _) = both
        .service
        .call(
            "POST",
            &format!("/api/v1/jobs/{first_id}/cancel"),
            Some(BOB),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let prefix = &first_id[..8];
    let (status, _) = both
        .service
        .call("GET", &format!("/api/v1/jobs/{prefix}"), Some(ALICE), None)
        .await;
    assert_eq!(status, 404, "ids are whole: a prefix finds nothing");
    let bob_list = both.service.get("/api/v1/jobs", BOB).await;
    assert_eq!(ids(&bob_list), vec![bob_id.clone()]);
    let alice_list = ids(&both.service.get("/api/v1/jobs", ALICE).await);
    assert_eq!(alice_list.len(), 2, "{alice_list:?}");
    let all = ids(&both.service.get("/api/v1/jobs", ADMIN).await);
    for id in [first_id, second_id, bob_id] {
        assert!(all.contains(id), "the admin sees every job");
    }
}

/// Outside the grants: 403 before anything is listed, and no job is made; a location with a
/// SAS token is refused, saying why, through the API and the CLI.
async fn requests_outside_the_grants_or_with_a_secret_are_refused(both: &BothWays) {
    for (who, body) in [
        (
            BOB,
            spec(&both.s3_in, &both.bob_out, 8 << 20, serde_json::json!({})),
        ),
        (
            ALICE,
            spec(&both.s3_in, &both.bob_out, 8 << 20, serde_json::json!({})),
        ),
        (
            ALICE,
            spec(
                &both.bucket.to_string(),
                &both.az_out,
                8 << 20,
                serde_json::json!({}),
            ),
        ),
    ] {
        let (status, answer) = both
            .service
            .call("POST", "/api/v1/jobs", Some(who), Some(body.to_string()))
            .await;
        assert_eq!(status, 403, "{answer}");
        assert_eq!(answer["kind"], "forbidden");
    }
    assert_eq!(
        ids(&both.service.get("/api/v1/jobs", ADMIN).await).len(),
        3,
        "no job was made"
    );
    // A location with a SAS token is refused, saying why.
    let signed = format!("{}?sv=2024-01-01&sp=rl&sig=c2VjcmV0", both.az_dest);
    let (status, answer) = both
        .service
        .call(
            "POST",
            "/api/v1/jobs",
            Some(ALICE),
            Some(spec(&signed, &both.s3_back, 8 << 20, serde_json::json!({})).to_string()),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("SAS"),
        "{answer}"
    );
    let out = as_user(
        ALICE,
        &[
            "cp",
            "-r",
            &signed,
            &both.s3_back,
            "--via",
            &both.service.url,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("SAS"), "{}", stderr(&out));
}

/// Bad input: a 4xx that says what is wrong; a 10 MB body is refused before it is read.
async fn bad_input_gets_a_4xx_that_says_what_is_wrong(both: &BothWays, first_id: &str) {
    let unknown_action = format!("/api/v1/jobs/{first_id}/explode");
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        ("POST", "/api/v1/jobs", "{not json".into(), 400, "JSON"),
        ("POST", "/api/v1/jobs", spec(&both.s3_in, &both.az_out, 8 << 20, serde_json::json!({"colour": "red"})).to_string(), 400, "colour"),
        ("POST", "/api/v1/jobs", spec(&both.s3_in, &both.az_out, 0, serde_json::json!({})).to_string(), 400, "block_size"),
        ("POST", "/api/v1/schedules", serde_json::json!({"template": spec(&both.s3_in, &both.az_out, 8 << 20, serde_json::json!({})), "cron": "61 * * *"}).to_string(), 400, "cron"),
        ("POST", "/api/v1/schedules", serde_json::json!({"template": spec(&both.s3_in, &both.az_out, 8 << 20, serde_json::json!({})), "every": "soon"}).to_string(), 400, "every"),
        ("POST", &unknown_action, String::new(), 404, "action"),
        ("GET", "/api/v1/nothing", String::new(), 404, "API"),
    ];
    for (method, path, body, want, needle) in cases {
        let body = (!body.is_empty()).then_some(body);
        let (status, answer) = both.service.call(method, path, Some(ALICE), body).await;
        assert_eq!(status, want, "{method} {path}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{method} {path}: {message}");
    }
    // A 10 MB body is refused before it is read.
    let big = both.dir.join("big.json");
    std::fs::write(&big, format!("\"{}\"", "x".repeat(10 << 20))).unwrap();
    let curl = std::process::Command::new("curl")
        .args(["-s", "-H", "content-type: application/json", "-H"])
        .arg(format!("authorization: Bearer {ALICE}"))
        .arg("--data-binary")
        .arg(format!("@{}", big.display()))
        .arg("-w")
        .arg("\n%{http_code}")
        .arg(format!("{}/api/v1/jobs", both.service.url))
        .output()
        .expect("curl");
    let answer = String::from_utf8_lossy(&curl.stdout).into_owned();
    assert!(
        answer.ends_with("\n413") && answer.contains("larger than"),
        "{answer}"
    );
}

/// The CLI lists the caller's jobs from the service; agents and metrics are shown; nothing
/// anywhere holds a token or a key.
async fn the_cli_lists_and_nothing_holds_a_token(both: &BothWays, bob_id: &str, first_id: &str) {
    let out = as_user(BOB, &["jobs", "list", "--server", &both.service.url]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(bob_id) && !stdout(&out).contains(first_id));
    let agents = both.service.get("/api/v1/agents", BOB).await;
    assert_eq!(agents.as_array().unwrap().len(), 4, "{agents}");
    let metrics = both.service.metrics().await;
    assert!(metrics.contains("awcopy_objects_copied_total"), "{metrics}");
    assert!(metrics.contains("agent=\"agent-1\""), "{metrics}");

    // Nothing anywhere holds a token or a key.
    let page = reqwest::get(format!("{}/", both.service.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("awcopy"), "the dashboard page is served");
    svc::assert_no_tokens("the dashboard page", &page);
    svc::assert_no_tokens("the API's answers", &both.service.said.lock().unwrap());
    svc::assert_no_tokens("the service's log", &both.service.log());
    svc::assert_no_tokens("the catalogue", &svc::catalogue_text(&both.dir));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_pause_resume_cancel_and_retry_through_the_cli() {
    let bucket = kit::new_s3_bucket("svc-ctl").await;
    let container = kit::new_azure_container("svc-ctl").await;
    let s3 = kit::open(&bucket).await;
    let az = kit::open(&container).await;
    let mut files = BTreeMap::new();
    files.insert("slow/big.bin".to_owned(), kit::pattern(8 << 20, 7));
    files.insert("slow/small.bin".to_owned(), kit::pattern(1000, 8));
    kit::put_all(&s3, &files).await;
    let refused = vec!["names/back\\slash".to_owned(), "names/dot.".to_owned()];
    let mut named = BTreeMap::new();
    named.insert("names/fine".to_owned(), kit::pattern(10, 9));
    for key in &refused {
        named.insert(key.clone(), kit::pattern(20, 10));
    }
    kit::put_all(&s3, &named).await;

    let (_guard, dir) = svc::service_dir();
    let grant = vec![format!("{bucket}"), format!("{}", az_text(&container))];
    // Jobs through a proxy that slows every Azure request run long enough to act on: the
    // service reaches the Azure account through it.
    let proxy = kit::fault_proxy::slow_azure(300).await;
    let slow_root = kit::fault_proxy::through(&proxy, &container);
    svc::write_config_with(
        &dir,
        (&grant, &grant),
        (&[], &[]),
        &svc::azure_through(&proxy),
    );
    let service = Service::start(&dir, 2);

    pause_and_resume_a_slowed_job(&service, &bucket, &slow_root, &files, &az).await;
    cancel_a_job_for_good(&service, &bucket, &slow_root).await;
    retry_the_failures_under_another_name_policy(&service, &bucket, &slow_root, &refused, &named)
        .await;
}

/// Pause a slowed job from the CLI, see it paused, resume it to its end.
async fn pause_and_resume_a_slowed_job(
    service: &Service,
    bucket: &awcopy_store::Location,
    slow_root: &str,
    files: &BTreeMap<String, Vec<u8>>,
    az: &std::sync::Arc<dyn awcopy_store::Store>,
) {
    let url = service.url.clone();
    let dest = format!("{slow_root}slow/");
    let out = as_user(
        ALICE,
        &[
            "cp",
            "-r",
            &format!("{bucket}slow/"),
            &dest,
            "--via",
            &url,
            "--block-size",
            "128KiB",
            "--concurrency",
            "2",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).split_whitespace().nth(1).unwrap().to_owned();
    wait_until(|| async {
        let job = service.get(&format!("/api/v1/jobs/{id}"), ALICE).await;
        job["counters"]["bytes_done"].as_u64().unwrap() > 0
    })
    .await;
    let out = as_user(ALICE, &["jobs", "pause", &id, "--server", &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("paused"), "{}", stdout(&out));
    let paused = service.get(&format!("/api/v1/jobs/{id}"), ALICE).await;
    assert_eq!(paused["status"], "paused");
    let out = as_user(ALICE, &["jobs", "resume", &id, "--server", &url]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("(completed)"), "{}", stdout(&out));
    let slow: BTreeMap<_, _> = files
        .iter()
        .map(|(k, v)| (k["slow/".len()..].to_owned(), v.clone()))
        .collect();
    kit::assert_holds(az, "slow/", &slow).await;
}

/// Cancel another: it stops, says cancelled, and never runs again.
async fn cancel_a_job_for_good(
    service: &Service,
    bucket: &awcopy_store::Location,
    slow_root: &str,
) {
    let url = service.url.clone();
    let out = as_user(
        ALICE,
        &[
            "cp",
            "-r",
            &format!("{bucket}slow/"),
            &format!("{slow_root}cancelled/"),
            "--via",
            &url,
            "--block-size",
            "128KiB",
            "--concurrency",
            "1",
        ],
    );
    let cancel_id = stdout(&out).split_whitespace().nth(1).unwrap().to_owned();
    let out = as_user(ALICE, &["jobs", "cancel", &cancel_id, "--server", &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    let job = service.wait_for(&cancel_id, ALICE, &["cancelled"]).await;
    assert_eq!(job["status"], "cancelled");
    let out = as_user(ALICE, &["jobs", "resume", &cancel_id, "--server", &url]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a cancelled job does not resume: {}",
        stderr(&out)
    );
}

/// Names Azure cannot hold, under the `fail` policy: the run ends with failures (exit 1),
/// the dead-letter list names them, and a retry under `map` copies only them.
async fn retry_the_failures_under_another_name_policy(
    service: &Service,
    bucket: &awcopy_store::Location,
    az_root: &str,
    refused: &[String],
    named: &BTreeMap<String, Vec<u8>>,
) {
    let url = service.url.clone();
    let out = as_user(
        ALICE,
        &[
            "cp",
            "-r",
            &format!("{bucket}names/"),
            &format!("{az_root}names/"),
            "--via",
            &url,
            "--wait",
            "--name-policy",
            "fail",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let retry_id = stdout(&out).split_whitespace().nth(1).unwrap().to_owned();
    let failures = service
        .get(&format!("/api/v1/jobs/{retry_id}/failures"), ALICE)
        .await;
    let keys: Vec<&str> = failures
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), refused.len(), "{failures}");
    for f in failures.as_array().unwrap() {
        assert!(
            f["attempts"].as_i64().unwrap() >= 1 && !f["error_class"].as_str().unwrap().is_empty(),
            "{f}"
        );
    }
    let out = as_user(ALICE, &["jobs", "failures", &retry_id, "--server", &url]);
    assert_eq!(
        stdout(&out).lines().count(),
        refused.len(),
        "{}",
        stdout(&out)
    );
    let out = as_user(
        ALICE,
        &[
            "jobs",
            "retry",
            &retry_id,
            "--server",
            &url,
            "--name-policy",
            "map",
        ],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let job = service
        .get(&format!("/api/v1/jobs/{retry_id}"), ALICE)
        .await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        job["counters"]["objects_done"].as_u64().unwrap(),
        named.len() as u64,
        "{job}"
    );
    let failures = service
        .get(&format!("/api/v1/jobs/{retry_id}/failures"), ALICE)
        .await;
    assert_eq!(failures.as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_killed_mid_job_finishes_it_when_started_again() {
    let bucket = kit::new_s3_bucket("svc-kill").await;
    let container = kit::new_azure_container("svc-kill").await;
    let s3 = kit::open(&bucket).await;
    let az = kit::open(&container).await;
    let mut files: BTreeMap<String, Vec<u8>> = (0..20)
        .map(|i| (format!("s{i:02}"), kit::pattern(2000 + i, i as u64)))
        .collect();
    for i in 0..3 {
        files.insert(format!("large{i}"), kit::pattern(3 << 20, 50 + i));
    }
    kit::put_all(&s3, &files).await;
    let (_guard, dir) = svc::service_dir();
    let grant = vec![format!("{bucket}"), az_text(&container)];
    let proxy = kit::fault_proxy::slow_azure(100).await;
    svc::write_config_with(
        &dir,
        (&grant, &grant),
        (&[], &[]),
        &svc::azure_through(&proxy),
    );
    let mut service = Service::start(&dir, 2);
    let body = spec(
        &format!("{bucket}"),
        &kit::fault_proxy::through(&proxy, &container),
        256 * 1024,
        serde_json::json!({"tuning": {"concurrency": 4}}),
    );
    let job = service.create("/api/v1/jobs", ALICE, body).await;
    let id = job["id"].as_str().unwrap().to_owned();
    wait_until(|| async {
        let job = service.get(&format!("/api/v1/jobs/{id}"), ALICE).await;
        job["counters"]["objects_done"].as_u64().unwrap() >= 3
            && job["counters"]["bytes_done"].as_u64().unwrap() > (1 << 20)
    })
    .await;
    let before = kit::versions(&az).await;
    service.kill9();
    assert!(
        !before.is_empty(),
        "some objects were copied before the kill"
    );
    assert!(before.len() < files.len(), "the job was cut short");

    // Started again on the same catalogue, the service continues the job by itself.
    let service = Service::start(&dir, 2);
    let job = service
        .wait_for(
            &id,
            ALICE,
            &["completed", "completed-with-failures", "failed"],
        )
        .await;
    assert_eq!(job["status"], "completed", "{job}");
    kit::assert_holds(&az, "", &files).await;
    // What was copied before the kill was not copied again.
    let after = kit::versions(&az).await;
    for (key, etag) in &before {
        assert_eq!(
            after.get(key),
            Some(etag),
            "{key} was written again after the restart"
        );
    }
    assert_eq!(
        job["counters"]["objects_done"].as_u64().unwrap(),
        files.len() as u64,
        "{job}"
    );
}

/// Work items each agent finished, from `/metrics`.
async fn agent_items(service: &Service) -> BTreeMap<String, u64> {
    let text = service.metrics().await;
    text.lines()
        .filter_map(|line| line.strip_prefix("awcopy_agent_items_total{agent=\""))
        .filter_map(|rest| rest.split_once("\"} "))
        .map(|(agent, n)| (agent.to_owned(), n.trim().parse().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_copy_what_is_new_once_and_turn_off_after_failing() {
    let source = tempfile::tempdir().unwrap();
    let container = kit::new_azure_container("svc-sched").await;
    let az = kit::open(&container).await;
    let root = format!("{}/", source.path().display());
    let (_guard, dir) = svc::service_dir();
    let grant_read = vec![root.clone()];
    let grant_write = vec![az_text(&container)];
    svc::write_config(&dir, (&grant_read, &grant_write), (&[], &[]));
    let service = Service::start(&dir, 2);
    let mut files = BTreeMap::new();
    let put = |files: &mut BTreeMap<String, Vec<u8>>, name: &str, seed: u64| {
        let data = kit::pattern(1000 + seed as usize, seed);
        std::fs::write(source.path().join(name), &data).unwrap();
        files.insert(name.to_owned(), data);
    };
    put(&mut files, "a1", 1);
    put(&mut files, "a2", 2);

    let template = spec(
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
    let template = spec(
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
    let service = Service::start(dir, 2);
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
    let template = spec(
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

/// Polls `check` until it holds (60 s at most).
async fn wait_until<F, Fut>(check: F)
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

#[test]
fn serve_refuses_what_would_expose_tokens_and_bad_settings() {
    let (_guard, dir) = svc::service_dir();
    svc::write_config(&dir, (&[], &[]), (&[], &[]));
    let config = dir.join("service.toml");
    let config = config.to_str().unwrap();
    let out = common::awcopy(&["serve", "--config", config, "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--insecure-http") && stderr(&out).contains("--tls-cert"),
        "{}",
        stderr(&out)
    );
    std::fs::write(
        dir.join("bad.toml"),
        "[[user]]\nname = \"x\"\ntoken_sha256 = \"abc\"\n",
    )
    .unwrap();
    let out = common::awcopy(&["serve", "--config", dir.join("bad.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("token_sha256"), "{}", stderr(&out));
    let out = common::awcopy(&["cp", "-r", "s3://b/", "s3://c/", "--via", "not a url"]);
    assert_ne!(out.status.code(), Some(0));
    let out = awcopy_with_env(
        &["jobs", "list", "--server", "http://127.0.0.1:9"],
        &[("AWCOPY_TOKEN", "")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("AWCOPY_TOKEN"), "{}", stderr(&out));
}

#[test]
fn serve_speaks_https_with_a_certificate() {
    let (_guard, dir) = svc::service_dir();
    svc::write_config(&dir, (&[], &[]), (&[], &[]));
    let (ca, cert, key) = svc::certificates(&dir);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_awcopy"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(dir.join("service.toml"))
        .arg("--db")
        .arg(dir.join("service.db"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .expect("an https address")
        .to_owned();
    let health = std::process::Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(&ca)
        .arg(format!("{url}healthz"))
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        String::from_utf8_lossy(&health.stdout).trim(),
        "ok",
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_jobs_live_and_pauses_one_in_a_browser() {
    let needed = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the tests through scripts/test.sh, which installs Chromium and playwright-core")
        })
    };
    let (playwright, chromium) = (needed("AWCOPY_PLAYWRIGHT"), needed("AWCOPY_CHROMIUM"));
    let bucket = kit::new_s3_bucket("svc-dash").await;
    let container = kit::new_azure_container("svc-dash").await;
    let many = kit::new_s3_bucket("svc-dash-many").await;
    let s3 = kit::open(&bucket).await;
    kit::put_all(
        &s3,
        &BTreeMap::from([("live/big.bin".to_owned(), kit::pattern(16 << 20, 11))]),
    )
    .await;
    kit::put_tiny(
        &kit::open(&many).await,
        (0..50).map(|i| format!("p{i:02}/x")),
    )
    .await;
    let (_guard, dir) = svc::service_dir();
    let grant = vec![format!("{bucket}"), az_text(&container)];
    let proxy = kit::fault_proxy::slow_azure(400).await;
    svc::write_config_with(
        &dir,
        (&grant, &grant),
        (&[], &[]),
        &svc::azure_through(&proxy),
    );
    let service = Service::start(&dir, 2);
    let dest = format!("{}live/", kit::fault_proxy::through(&proxy, &container));
    fifty_finished_jobs_of_another_user_and_a_schedule(&service, &many, &bucket, &container).await;
    // The job the browser watches, started last: 256 blocks, one at a time per agent, each
    // slowed by the proxy, run for a minute or so — long enough to be seen and paused.
    let body = spec(
        &format!("{bucket}live/"),
        &dest,
        64 * 1024,
        serde_json::json!({"name": "dashboard", "tuning": {"concurrency": 1}}),
    );
    let job = service.create("/api/v1/jobs", ALICE, body).await;
    let id = job["id"].as_str().unwrap().to_owned();

    let shots = kit::workspace_root().join("target/dashboard-shots");
    std::fs::create_dir_all(&shots).unwrap();
    let script = kit::workspace_root().join("crates/cli/tests/dashboard.mjs");
    let mut node = std::process::Command::new("node");
    node.arg(&script)
        .env("AWCOPY_PLAYWRIGHT", &playwright)
        .env("CHROMIUM", &chromium)
        .env("URL", &service.url)
        .env("TOKEN", ALICE)
        .env("ADMIN_TOKEN", ADMIN)
        .env("JOB", &id)
        .env("SHOTS", &shots);
    let run = tokio::task::spawn_blocking(move || node.output().expect("run node"))
        .await
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "the browser script failed: {out}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let seen: serde_json::Value =
        serde_json::from_str(out.lines().last().unwrap_or("")).expect("the script's JSON line");
    assert!(
        seen["wrongToken"].as_str().unwrap().contains("not known"),
        "{seen}"
    );
    assert_eq!(seen["who"], "alice");
    assert_ne!(
        seen["firstBytes"], seen["laterBytes"],
        "the counters changed live"
    );
    assert_eq!(seen["rowStatus"], "running");
    assert_eq!(
        seen["cookieVisibleToScripts"], false,
        "the session cookie is HttpOnly"
    );
    assert_eq!(seen["afterPause"], "paused");
    assert!(
        seen["agentRows"].as_u64().unwrap() >= 1,
        "per-agent throughput shown: {seen}"
    );
    assert_eq!(seen["adminRows"].as_u64().unwrap(), 51, "{seen}");
    assert_eq!(seen["adminUsers"], serde_json::json!(["alice", "root"]));
    assert!(
        seen["adminPageText"]
            .as_str()
            .unwrap()
            .contains("nightly-live"),
        "the schedules page lists it"
    );
    let job = service.get(&format!("/api/v1/jobs/{id}"), ALICE).await;
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
    ] {
        let png = std::fs::metadata(shots.join(format!("{shot}.png"))).expect("a screenshot");
        assert!(png.len() > 1000, "{shot}.png is an image");
    }
    for text in [&seen["pageText"], &seen["adminPageText"]] {
        svc::assert_no_tokens("the dashboard", text.as_str().unwrap());
    }
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
        let body = spec(
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
    let template = spec(
        &format!("{bucket}live/"),
        &az_text(container),
        8 << 20,
        serde_json::json!({}),
    );
    let input = serde_json::json!({"name": "nightly-live", "template": template, "cron": "0 2 * * *", "enabled": false});
    let _ = service.create("/api/v1/schedules", ALICE, input).await;
}
