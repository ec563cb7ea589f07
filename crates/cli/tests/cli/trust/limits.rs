//! Requests at the extremes are refused naming their field, no schedule stops the scheduler
//! (across a crash of the service), and a revoked grant stops resume, restart and schedules.

use crate::common::service::{self as svc, Service, ALICE};
use awcopy_testkit as kit;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Every duration, size and count a user can ask for has a ceiling, refused with a 400 that
/// names the field; and no schedule stops the scheduler: schedules whose stored timing or
/// overlap is out of any range (as an older awcopy let them be) turn off saying why, while
/// another keeps running, before and after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_requests_are_refused_and_no_schedule_stops_the_scheduler() {
    let bucket = kit::new_s3_bucket("trust-bounds").await;
    let b = kit::bucket_name(&bucket);
    kit::put_tiny(&kit::open(&bucket).await, ["in/a".to_owned()]).await;
    let (_guard, dir) = svc::service_dir();
    let grant = vec![format!("s3://{b}/")];
    svc::write_config(&dir, (&grant, &grant), (&[], &[]));
    let mut service = svc::start(&dir, 1);
    let template = svc::copy_spec(&format!("s3://{b}/in/"), &format!("s3://{b}/out/"));
    extreme_values_are_refused_naming_their_field(&service, &template).await;

    // A good schedule every second, and two that hold values no API would take today.
    let good = service
        .create(
            "/api/v1/schedules",
            ALICE,
            serde_json::json!({"name": "good", "template": template, "every": "1s"}),
        )
        .await;
    let good_id = good["id"].as_str().unwrap().to_owned();
    let mut bad = Vec::new();
    for name in ["far", "wide"] {
        let made = service
            .create("/api/v1/schedules", ALICE, serde_json::json!({"name": name, "template": template, "every": "1h", "enabled": false}))
            .await;
        bad.push(made["id"].as_str().unwrap().to_owned());
    }
    let db = rusqlite::Connection::open(dir.join("service.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let past = "2000-01-01T00:00:00Z";
    db.execute(
        "UPDATE schedules SET every_secs = 9000000000000000, enabled = 1, next_run = ?1 WHERE id = ?2",
        rusqlite::params![past, bad[0]],
    )
    .unwrap();
    db.execute(
        "UPDATE schedules SET overlap_secs = 9000000000000000, watermark = '2026-01-01T00:00:00Z', enabled = 1, next_run = ?1 WHERE id = ?2",
        rusqlite::params![past, bad[1]],
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reasons = turned_off(&service, bad.clone()).await;
        if reasons.len() == 2 {
            assert!(reasons[0].contains("every"), "{reasons:?}");
            assert!(reasons[1].contains("overlap"), "{reasons:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the bad schedules never turned off: {reasons:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let before = runs_of(&service, good_id.clone()).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while runs_of(&service, good_id.clone()).await < before + 2 {
        assert!(
            Instant::now() < deadline,
            "the good schedule stopped running"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Bad again, and the service restarted: the scheduler still runs the good one.
    db.execute(
        "UPDATE schedules SET enabled = 1, next_run = ?1, disabled_reason = NULL WHERE id = ?2",
        rusqlite::params![past, bad[0]],
    )
    .unwrap();
    service.kill9();
    let service = svc::start(&dir, 1);
    let before = runs_of(&service, good_id.clone()).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while runs_of(&service, good_id.clone()).await < before + 2 {
        assert!(
            Instant::now() < deadline,
            "after a restart the good schedule stopped running"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(!service.log().contains("panicked"), "{}", service.log());
}

/// Schedules and jobs whose values are out of bounds (periods, sizes, tuning, filters, names,
/// a page's limit) are refused at once, naming the field as the API names it.
async fn extreme_values_are_refused_naming_their_field(
    service: &Service,
    template: &serde_json::Value,
) {
    for (extra, field) in [
        (serde_json::json!({"every": "100000000d"}), "every"),
        (
            serde_json::json!({"every": "99999999999999999999s"}),
            "every",
        ),
        (serde_json::json!({"every": "367d"}), "every"),
        (
            serde_json::json!({"every": "1h", "overlap": "9999d"}),
            "overlap",
        ),
        (
            serde_json::json!({"every": "1h", "max_failures": 0}),
            "max_failures",
        ),
        (
            serde_json::json!({"every": "1h", "max_failures": 1000}),
            "max_failures",
        ),
        (serde_json::json!({"cron": "0 0 30 2 *"}), "cron"),
        (serde_json::json!({"cron": "* ".repeat(200)}), "cron"),
    ] {
        let body = svc::with(serde_json::json!({"template": template}), extra.clone());
        let started = Instant::now();
        service
            .refused("/api/v1/schedules", ALICE, body, 400, &[field])
            .await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{extra} took {:?}",
            started.elapsed()
        );
    }
    for (extra, field) in [
        (
            serde_json::json!({"sizes": {"block_size": 1u64 << 60}}),
            "sizes.block_size",
        ),
        (
            serde_json::json!({"sizes": {"copy_cutoff": 1u64 << 40}}),
            "sizes.copy_cutoff",
        ),
        (
            serde_json::json!({"tuning": {"max_memory": 100u64 << 30}}),
            "tuning.max_memory",
        ),
        (
            serde_json::json!({"tuning": {"agents": 1u64 << 31}}),
            "tuning.agents",
        ),
        (
            serde_json::json!({"tuning": {"concurrency": 100000}}),
            "tuning.concurrency",
        ),
        (
            serde_json::json!({"tuning": {"list_parallelism": 60000}}),
            "tuning.list_parallelism",
        ),
        (
            serde_json::json!({"tuning": {"retries": 100000}}),
            "tuning.retries",
        ),
        (
            serde_json::json!({"filters": {"include": vec!["*"; 2000]}}),
            "filters.include",
        ),
        (serde_json::json!({"name": "n".repeat(10_000)}), "name"),
    ] {
        service
            .refused(
                "/api/v1/jobs",
                ALICE,
                svc::with(template.clone(), extra),
                400,
                &[field],
            )
            .await;
    }
    // Settings the engine refuses are named as the API names them, never by a CLI flag.
    for (extra, field) in [
        (
            serde_json::json!({"filters": {"include": ["a["]}}),
            "filters.include: 'a['",
        ),
        (
            serde_json::json!({"filters": {"exclude_regex": ["("]}}),
            "filters.exclude_regex: '('",
        ),
        (
            serde_json::json!({"encryption": {"kind": "scope", "name": "s"}}),
            "encryption: cpk and scope apply to Azure",
        ),
    ] {
        let body = svc::with(template.clone(), extra);
        let (status, answer) = service
            .call("POST", "/api/v1/jobs", Some(ALICE), Some(body.to_string()))
            .await;
        assert_eq!(status, 400, "{answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(field) && !message.contains("--"),
            "{answer}"
        );
    }
    let (status, answer) = service
        .call("GET", "/api/v1/jobs?limit=1000000", Some(ALICE), None)
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("limit"),
        "{answer}"
    );
}

/// How many runs of schedule `id` the service has made.
async fn runs_of(service: &Service, id: String) -> usize {
    service
        .all_jobs()
        .await
        .iter()
        .filter(|j| j["schedule"] == id.as_str())
        .count()
}

/// Why each of the schedules `ids` that are off turned off.
async fn turned_off(service: &Service, ids: Vec<String>) -> Vec<String> {
    let mut reasons = Vec::new();
    for id in &ids {
        let schedule = service.get(&format!("/api/v1/schedules/{id}"), ALICE).await;
        if schedule["enabled"] == false {
            reasons.push(
                schedule["disabled_reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
    }
    reasons
}

/// Grants hold over time: once a user's grant is revoked, a paused job of theirs is not
/// resumed (403), a job the service was running when it died is not resumed when it comes
/// back (it waits, paused, saying why), and their schedule's runs fail and turn it off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_stops_resume_restart_and_schedules() {
    let bucket = kit::new_s3_bucket("trust-revoke").await;
    let container = kit::new_azure_container("trust-revoke").await;
    let (b, c) = (kit::bucket_name(&bucket), kit::bucket_name(&container));
    let s3 = kit::open(&bucket).await;
    let files: BTreeMap<String, Vec<u8>> = (0..2)
        .map(|i| (format!("in/big{i}"), kit::pattern(6 << 20, i)))
        .collect();
    kit::put_all(&s3, &files).await;
    let (_guard, dir) = svc::service_dir();
    let az = format!("az://devstoreaccount1/{c}");
    let proxy = kit::fault_proxy::slow_azure(150).await;
    let stores = svc::azure_through(&proxy);
    let grants = (vec![format!("s3://{b}/in/")], vec![format!("{az}/out/")]);
    svc::write_config_with(&dir, (&grants.0, &grants.1), (&[], &[]), &stores);
    let mut service = svc::start(&dir, 2);
    let slow = |dest: &str| {
        svc::with(
            svc::copy_spec(&format!("s3://{b}/in/"), &format!("{az}/out/{dest}/")),
            serde_json::json!({"sizes": {"block_size": 131072}, "tuning": {"concurrency": 2}}),
        )
    };
    let paused = service.create("/api/v1/jobs", ALICE, slow("paused")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let running = service.create("/api/v1/jobs", ALICE, slow("running")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let schedule = service
        .create(
            "/api/v1/schedules",
            ALICE,
            serde_json::json!({"template": svc::copy_spec(&format!("s3://{b}/in/none/"), &format!("{az}/out/scheduled/")), "every": "1s", "max_failures": 1}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, answer) = service
        .call(
            "POST",
            &format!("/api/v1/jobs/{paused}/pause"),
            Some(ALICE),
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        service.wait_for(&paused, ALICE, &["paused"]).await["status"],
        "paused"
    );
    assert_eq!(
        service.get(&format!("/api/v1/jobs/{running}"), ALICE).await["status"],
        "running"
    );
    service.kill9();
    // Alice keeps her name and token, but loses her grants.
    svc::write_config_with(&dir, (&[], &[]), (&[], &[]), &stores);
    let service = svc::start(&dir, 2);
    let job = service.wait_for(&running, ALICE, &["paused"]).await;
    let error = job["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("not resumed") && error.contains("may not"),
        "{job}"
    );
    for action in ["resume", "retry"] {
        let (status, answer) = service
            .call(
                "POST",
                &format!("/api/v1/jobs/{paused}/{action}"),
                Some(ALICE),
                None,
            )
            .await;
        assert!(
            status == 403 || status == 409,
            "{action}: {status} {answer}"
        );
        if action == "resume" {
            assert_eq!(status, 403, "{answer}");
            assert!(
                answer["message"].as_str().unwrap().contains("may not read"),
                "{answer}"
            );
        }
    }
    assert_eq!(
        service.get(&format!("/api/v1/jobs/{paused}"), ALICE).await["status"],
        "paused"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = service
            .get(&format!("/api/v1/schedules/{schedule}"), ALICE)
            .await;
        if s["enabled"] == false {
            assert!(
                s["disabled_reason"].as_str().unwrap().contains("may not"),
                "{s}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the schedule kept its revoked grant: {s}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
