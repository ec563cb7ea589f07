//! What the dashboard's console calls, through the API: an estimate before a job (counted as
//! the job would count, under the same checks and grants), a job's failures as CSV and JSON
//! lines (every hostile key, none run as a formula), a schedule run now, its last run and its
//! runs.

use crate::harness::{self as svc, ALICE, BOB};
use awcopy_testkit as kit;
use std::collections::{BTreeMap, BTreeSet};

/// The estimate counts what the job would take: every key the source holds (the naughty ones
/// included), the size filter's leavings apart, each byte priced; it is refused as a job would
/// be (outside the grants, a secret in a location, a region that is not one) and lists nothing
/// of another user's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_estimate_counts_what_the_job_would_copy_under_the_same_checks() {
    let bucket = kit::new_s3_bucket("console-est").await;
    let container = kit::new_azure_container("console-est").await;
    let s3 = kit::open(&bucket).await;
    let az = kit::open(&container).await;
    let files: BTreeMap<String, Vec<u8>> = kit::naughty_keys()
        .into_iter()
        .enumerate()
        .map(|(i, key)| (key, kit::pattern(i % 7 * 100, i as u64)))
        .collect();
    let held = kit::put_what_fits(&s3, &az, files).await;
    assert!(
        held.len() > 50,
        "most naughty keys are held: {}",
        held.len()
    );
    let (_guard, dir) = svc::service_dir();
    let grant = vec![bucket.to_string(), container.to_string()];
    svc::write_config(&dir, (&grant, &grant), (&[], &[]));
    let service = svc::start(&dir, 2);

    let spec = svc::copy_spec(&bucket.to_string(), &format!("{container}est/"));
    let min = 300;
    let filtered = svc::with(
        spec.clone(),
        serde_json::json!({"filters": {"min_size": min}}),
    );
    let body = serde_json::json!({"spec": filtered, "source_region": "us-east-1", "dest_region": "eastus"});
    let (status, preview) = service
        .call(
            "POST",
            "/api/v1/estimate",
            Some(ALICE),
            Some(body.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    let taken: Vec<&Vec<u8>> = held.values().filter(|v| v.len() >= min).collect();
    let bytes: usize = taken.iter().map(|v| v.len()).sum();
    assert_eq!(preview["objects"], taken.len(), "{preview}");
    assert_eq!(preview["bytes"], bytes, "{preview}");
    assert_eq!(
        preview["filtered_out"],
        held.len() - taken.len(),
        "{preview}"
    );
    assert_eq!(preview["complete"], true, "{preview}");
    let estimate = &preview["estimate"];
    assert_eq!(estimate["objects"], taken.len(), "{preview}");
    let lines = estimate["lines"].as_array().unwrap();
    let sum: f64 = lines.iter().map(|l| l["cost"].as_f64().unwrap()).sum();
    assert!(
        (sum - estimate["total"].as_f64().unwrap()).abs() < 1e-9 && sum > 0.0,
        "{preview}"
    );
    assert!(!estimate["prices_as_of"].as_str().unwrap().is_empty());

    // Refused as a job would be, before anything is listed: outside the grants, with a
    // secret, at a place the service does not reach (a listener standing for any host a user
    // might name hears nothing), with a region that is not one.
    let outside = format!("s3://{}/", kit::unique_name("console-not-granted"));
    let evil = kit::recorder::Recorder::start().await;
    let c = kit::bucket_name(&container);
    let at_evil = svc::with(
        spec.clone(),
        serde_json::json!({"s3_endpoint": format!("http://{}", evil.host())}),
    );
    let cases = [
        (
            svc::copy_spec(
                &format!("http://{}/devstoreaccount1/{c}/x/", evil.host()),
                &format!("{bucket}x/"),
            ),
            None,
            400,
            "source",
        ),
        (
            svc::copy_spec(&format!("az://evilaccount/{c}/x/"), &format!("{bucket}x/")),
            None,
            400,
            "evilaccount",
        ),
        (at_evil, None, 400, "s3_endpoint"),
        (
            svc::copy_spec(&outside, &format!("{container}x/")),
            None,
            403,
            "may not read",
        ),
        (
            svc::copy_spec(
                &format!("{container}?sv=2022-11-02&sig=abc"),
                &format!("{bucket}x/"),
            ),
            None,
            400,
            "source",
        ),
        (
            spec.clone(),
            Some("us-east-1; rm -rf"),
            400,
            "source_region",
        ),
    ];
    for (spec, region, status, needle) in cases {
        let body = serde_json::json!({"spec": spec, "source_region": region});
        service
            .refused("/api/v1/estimate", ALICE, body, status, &[needle])
            .await;
    }
    let body = serde_json::json!({ "spec": spec });
    service
        .refused("/api/v1/estimate", BOB, body, 403, &["may not read"])
        .await;
    assert_eq!(
        evil.received(),
        Vec::<String>::new(),
        "the estimate reached a host it named"
    );
}

/// A job's failures download whole, as CSV and as JSON lines: every failed key once, exactly
/// (JSON) or with a leading `'` where a spreadsheet would run it (CSV), each with its class
/// and message; another user gets no file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_failures_download_as_csv_and_json_lines() {
    let bucket = kit::new_s3_bucket("console-fail").await;
    let container = kit::new_azure_container("console-fail").await;
    let s3 = kit::open(&bucket).await;
    // Names Azure cannot hold (a trailing dot, a backslash), some a spreadsheet would run.
    let mut refused: BTreeSet<String> = [
        "=HYPERLINK(\"http://x\",\"y\").",
        "+1+1.",
        "-2,3 \"quoted\".",
        "@SUM(A1)\\b",
        "plain\\slash",
        "tab\tinside.",
        "\u{202e}rtl.",
    ]
    .map(String::from)
    .into();
    refused.extend(kit::refused_by_azure(&kit::naughty_keys()));
    let mut files: BTreeMap<String, Vec<u8>> = refused
        .iter()
        .map(|k| (k.clone(), kit::pattern(10, 1)))
        .collect();
    files.insert("fine".into(), kit::pattern(10, 2));
    let mut held = BTreeSet::new();
    for (key, data) in &files {
        if s3
            .put(key, data.clone().into(), &Default::default(), None)
            .await
            .is_ok()
        {
            held.insert(key.clone());
        }
    }
    let refused: BTreeSet<String> = refused.intersection(&held).cloned().collect();
    assert!(refused.len() >= 7, "{refused:?}");
    let (_guard, dir) = svc::service_dir();
    let grant = vec![bucket.to_string(), container.to_string()];
    svc::write_config(&dir, (&grant, &grant), (&[], &[]));
    let service = svc::start(&dir, 2);
    let spec = svc::with(
        svc::copy_spec(&bucket.to_string(), &container.to_string()),
        serde_json::json!({"name_policy": "fail"}),
    );
    let job = service.run_to_end(ALICE, spec).await;
    assert_eq!(job["status"], "completed-with-failures", "{job}");
    let id = job["id"].as_str().unwrap();

    let path = format!("/api/v1/jobs/{id}/failures?format=jsonl");
    let (status, text) = service.call("GET", &path, Some(ALICE), None).await;
    assert_eq!(status, 200, "{text}");
    let lines: Vec<serde_json::Value> = text
        .as_str()
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let keys: BTreeSet<String> = lines
        .iter()
        .map(|f| f["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!((keys, lines.len()), (refused.clone(), refused.len()));
    assert!(lines
        .iter()
        .all(|f| !f["message"].as_str().unwrap().is_empty()));

    let path = format!("/api/v1/jobs/{id}/failures?format=csv");
    let (status, text) = service.call("GET", &path, Some(ALICE), None).await;
    assert_eq!(status, 200, "{text}");
    let mut csv = csv::Reader::from_reader(text.as_str().unwrap().as_bytes());
    let header = csv.headers().unwrap().clone();
    assert_eq!(&header[0], "key");
    let mut keys = BTreeSet::new();
    for row in csv.records() {
        let row = row.unwrap();
        let key = &row[0];
        let formula = |k: &str| k.starts_with(['=', '+', '-', '@', '\t', '\r']);
        assert!(!formula(key), "a cell a spreadsheet would run: {key:?}");
        let key = match key.strip_prefix('\'') {
            Some(rest) if formula(rest) => rest,
            _ => key,
        };
        assert!(
            row[1].parse::<u32>().unwrap() >= 1 && !row[3].is_empty(),
            "{row:?}"
        );
        keys.insert(key.to_owned());
    }
    assert_eq!(keys, refused);

    for format in ["csv", "jsonl"] {
        let path = format!("/api/v1/jobs/{id}/failures?format={format}");
        let (status, _) = service.call("GET", &path, Some(BOB), None).await;
        assert_eq!(status, 404, "another user's failures");
    }
    let path = format!("/api/v1/jobs/{id}/failures?format=xlsx");
    let (status, said) = service.call("GET", &path, Some(ALICE), None).await;
    assert_eq!(status, 400, "{said}");
    assert!(said["message"].as_str().unwrap().contains("csv or jsonl"));
}

/// A schedule (off) runs now on request, once at a time; its last run and its runs are listed
/// with it; another user can neither run it nor see them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_runs_now_and_shows_its_last_run() {
    let bucket = kit::new_s3_bucket("console-sched").await;
    let container = kit::new_azure_container("console-sched").await;
    let files = BTreeMap::from([
        ("now/a".to_owned(), kit::pattern(1000, 1)),
        ("now/big".to_owned(), kit::pattern(1 << 20, 2)),
    ]);
    kit::put_all(&kit::open(&bucket).await, &files).await;
    let grant = [bucket.to_string(), container.to_string()];
    let slow = svc::SlowAzure::start(&grant, 300, 2).await;
    let service = &slow.service;
    let dest = format!("{}now/", slow.through(&container));
    let template = svc::spec_in_blocks(
        &format!("{bucket}now/"),
        &dest,
        64 * 1024,
        serde_json::json!({"tuning": {"concurrency": 1}}),
    );
    let input = serde_json::json!({"name": "by-hand", "template": template, "cron": "0 3 * * *", "enabled": false});
    let schedule = service.create("/api/v1/schedules", ALICE, input).await;
    let id = schedule["id"].as_str().unwrap();
    assert!(schedule["last_run"].is_null(), "{schedule}");
    let run = format!("/api/v1/schedules/{id}/run");
    let (status, _) = service.call("POST", &run, Some(BOB), None).await;
    assert_eq!(status, 404, "another user's schedule");

    let job = service.create(&run, ALICE, serde_json::json!({})).await;
    let job_id = job["id"].as_str().unwrap();
    assert_eq!(job["schedule"], id, "{job}");
    let (status, said) = service.call("POST", &run, Some(ALICE), None).await;
    assert_eq!(status, 409, "one run at a time: {said}");
    assert!(said["message"].as_str().unwrap().contains(job_id), "{said}");
    let ended = service.wait_for(job_id, ALICE, &svc::ENDS).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    kit::assert_holds(
        &kit::open(&container).await,
        "now/",
        &svc::relative(&files, "now/"),
    )
    .await;

    let schedule = service.get(&format!("/api/v1/schedules/{id}"), ALICE).await;
    assert_eq!(schedule["last_run"]["job"], job_id, "{schedule}");
    assert_eq!(schedule["last_run"]["status"], "completed", "{schedule}");
    assert_eq!(schedule["enabled"], false, "a run by hand leaves it off");
    let runs = service
        .get(&format!("/api/v1/jobs?schedule={id}"), ALICE)
        .await;
    let runs: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(runs, [job_id]);
    let theirs = service
        .get(&format!("/api/v1/jobs?schedule={id}"), BOB)
        .await;
    assert_eq!(theirs, serde_json::json!([]));
}

/// One estimate at a time per user: a second of Alice's while her first lists a slow source is
/// refused (429, saying why); the admin's goes on beside it, and Alice's next once hers ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_estimate_at_a_time_per_user() {
    let container = kit::new_azure_container("console-est-slow").await;
    let bucket = kit::new_s3_bucket("console-est-slow").await;
    kit::put_tiny(
        &kit::open(&container).await,
        (0..20).map(|i| format!("k{i:02}")),
    )
    .await;
    let grant = [container.to_string(), bucket.to_string()];
    let slow = svc::SlowAzure::start(&grant, 1500, 1).await;
    let source = slow.through(&container);
    let body = serde_json::json!({"spec": svc::copy_spec(&source, &format!("{bucket}x/"))});
    let service = &slow.service;
    let ask = |token| {
        service.call(
            "POST",
            "/api/v1/estimate",
            Some(token),
            Some(body.to_string()),
        )
    };
    let (first, (second, theirs)) = tokio::join!(ask(ALICE), async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        (ask(ALICE).await, ask(svc::ADMIN).await)
    });
    let (status, said) = second;
    assert_eq!(status, 429, "{said}");
    assert!(said["message"]
        .as_str()
        .unwrap()
        .contains("has an estimate being worked out"));
    let (status, theirs) = theirs;
    assert_eq!(
        (status, theirs["objects"].as_u64()),
        (200, Some(20)),
        "{theirs}"
    );
    let (status, hers) = first;
    assert_eq!(
        (status, hers["objects"].as_u64()),
        (200, Some(20)),
        "{hers}"
    );
    let (status, again) = service
        .call(
            "POST",
            "/api/v1/estimate",
            Some(ALICE),
            Some(body.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{again}");
}
