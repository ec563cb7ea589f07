//! A job's life through the CLI: pause, resume, cancel and retry (under another name policy),
//! and a service killed with kill -9 mid-job that finishes it when started again.

use super::{as_user, wait_until};
use crate::common::service::{self as svc, Service, ALICE};
use crate::common::{stderr, stdout};
use awcopy_testkit as kit;
use std::collections::BTreeMap;

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
    let grant = vec![format!("{bucket}"), format!("{}", container.to_string())];
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
    let service = svc::start(&dir, 2);

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
    let grant = vec![format!("{bucket}"), container.to_string()];
    let proxy = kit::fault_proxy::slow_azure(100).await;
    svc::write_config_with(
        &dir,
        (&grant, &grant),
        (&[], &[]),
        &svc::azure_through(&proxy),
    );
    let mut service = svc::start(&dir, 2);
    let body = svc::spec_in_blocks(
        &format!("{bucket}"),
        &kit::fault_proxy::through(&proxy, &container),
        256 * 1024,
        serde_json::json!({"tuning": {"concurrency": 4}}),
    );
    let job = service.create("/api/v1/jobs", ALICE, body).await;
    let id = job["id"].as_str().unwrap().to_owned();
    wait_until(|| async {
        let job = service.get(&format!("/api/v1/jobs/{id}"), ALICE).await;
        recorded_copied(&dir, &id).len() >= 3
            && job["counters"]["bytes_done"].as_u64().unwrap() > (1 << 20)
    })
    .await;
    service.kill9();
    // What the catalogue recorded as copied is never copied again; an object written in the
    // moment between its copy and its record may be (its outcome was not kept).
    let recorded = recorded_copied(&dir, &id);
    let before: BTreeMap<String, String> = kit::versions(&az)
        .await
        .into_iter()
        .filter(|(key, _)| recorded.contains(key))
        .collect();
    assert!(
        before.len() >= 3,
        "objects were recorded copied before the kill"
    );
    assert!(recorded.len() < files.len(), "the job was cut short");

    // Started again on the same catalogue, the service continues the job by itself.
    let service = svc::start(&dir, 2);
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

/// The keys the catalogue in `dir` records as copied for job `id` (read beside the service).
fn recorded_copied(dir: &std::path::Path, id: &str) -> std::collections::HashSet<String> {
    let db = rusqlite::Connection::open_with_flags(
        dir.join("service.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut query = db
        .prepare(
            "SELECT key FROM job_objects
             WHERE job_number = (SELECT number FROM jobs WHERE id = ?) AND state = 'copied'",
        )
        .unwrap();
    let keys = query
        .query_map([id], |row| row.get::<_, String>(0))
        .unwrap();
    keys.map(Result::unwrap).collect()
}
