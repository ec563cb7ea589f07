//! Jobs both ways between S3 and Azure for two users, through the CLI (`--via`) and raw HTTP,
//! each user seeing only their own jobs and events; what is outside a grant or bad is refused.

use super::{agent_items, as_user, ids, mixed};
use crate::common::service::{self as svc, Service, ADMIN, ALICE, BOB};
use crate::common::{awcopy_with_env, stderr, stdout};
use awcopy_testkit as kit;
use std::collections::BTreeMap;
use std::time::Duration;

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
        let az_out = format!("{container}out/");
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
        let service = svc::start(&dir, 4);
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
    let page = format!("its page: {}/#/jobs/{first_id}", both.service.url);
    assert!(stdout(&out).contains(&page), "{}", stdout(&out));
    kit::assert_holds(&both.az, "out/", &both.files).await;
    first_id
}

/// Azure -> S3 through raw HTTP on one agent, while alice and bob each read the event stream;
/// returns the job's id.
async fn back_to_s3_over_http_each_user_seeing_their_own_events(
    both: &BothWays,
    first_id: &str,
) -> String {
    let raw = svc::spec_in_blocks(
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
            svc::spec_in_blocks(&both.bob_in, &both.bob_out, 8 << 20, serde_json::json!({})),
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
    let raw = svc::spec_in_blocks(
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
    // A prefix finds the caller's own job, and nobody else's.
    let prefix = &first_id[..8];
    let (status, job) = both
        .service
        .call("GET", &format!("/api/v1/jobs/{prefix}"), Some(ALICE), None)
        .await;
    assert_eq!(
        (status, job["id"].as_str()),
        (200, Some(first_id.as_str())),
        "{job}"
    );
    let (status, _) = both
        .service
        .call("GET", &format!("/api/v1/jobs/{prefix}"), Some(BOB), None)
        .await;
    assert_eq!(status, 404, "another user's prefix finds nothing");
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
            svc::spec_in_blocks(&both.s3_in, &both.bob_out, 8 << 20, serde_json::json!({})),
        ),
        (
            ALICE,
            svc::spec_in_blocks(&both.s3_in, &both.bob_out, 8 << 20, serde_json::json!({})),
        ),
        (
            ALICE,
            svc::spec_in_blocks(
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
            Some(
                svc::spec_in_blocks(&signed, &both.s3_back, 8 << 20, serde_json::json!({}))
                    .to_string(),
            ),
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
        ("POST", "/api/v1/jobs", svc::spec_in_blocks(&both.s3_in, &both.az_out, 8 << 20, serde_json::json!({"colour": "red"})).to_string(), 400, "colour"),
        ("POST", "/api/v1/jobs", svc::spec_in_blocks(&both.s3_in, &both.az_out, 0, serde_json::json!({})).to_string(), 400, "block_size"),
        ("POST", "/api/v1/schedules", serde_json::json!({"template": svc::spec_in_blocks(&both.s3_in, &both.az_out, 8 << 20, serde_json::json!({})), "cron": "61 * * *"}).to_string(), 400, "cron"),
        ("POST", "/api/v1/schedules", serde_json::json!({"template": svc::spec_in_blocks(&both.s3_in, &both.az_out, 8 << 20, serde_json::json!({})), "every": "soon"}).to_string(), 400, "every"),
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
    // The same service named by --via, or by AWCOPY_SERVER, lists the same.
    let via = as_user(BOB, &["jobs", "list", "--via", &both.service.url]);
    let server = &both.service.url;
    let by_env = awcopy_with_env(
        &["jobs", "list"],
        &[("AWCOPY_TOKEN", BOB), ("AWCOPY_SERVER", server)],
    );
    assert_eq!(stdout(&via), stdout(&out), "{}", stderr(&via));
    assert_eq!(stdout(&by_env), stdout(&out), "{}", stderr(&by_env));
    // An id prefix is resolved over the caller's own jobs: Bob finds his, Alice does not.
    let short = &bob_id[..8];
    let shown = as_user(BOB, &["jobs", "show", short, "--server", server]);
    assert!(stdout(&shown).contains(bob_id), "{}", stderr(&shown));
    let other = as_user(ALICE, &["jobs", "show", short, "--server", server]);
    assert_eq!(other.status.code(), Some(4), "{}", stderr(&other));
    assert!(!stdout(&other).contains(bob_id) && !stderr(&other).contains(bob_id));
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
