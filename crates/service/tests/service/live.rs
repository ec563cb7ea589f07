//! What the service says live is the job's truth: after a pause and a resume, the counters of
//! every `progress` event are the job's (as `GET /jobs/{id}` has them), not the resumed run's
//! from zero; the job keeps its first start, and each run is recorded with what started it.

use crate::harness::{self as svc, ALICE};
use awcopy_testkit as kit;
use std::time::Duration;

/// The counters of job `id` in each `progress` event of an event stream's text.
fn progress_of(events: &str, id: &str) -> Vec<serde_json::Value> {
    progress_views(events, id)
        .into_iter()
        .map(|view| view["counters"].clone())
        .collect()
}

/// Job `id`'s view in each `progress` event of an event stream's text.
fn progress_views(events: &str, id: &str) -> Vec<serde_json::Value> {
    let mut found = Vec::new();
    let mut progress = false;
    for line in events.lines() {
        if let Some(kind) = line.strip_prefix("event: ") {
            progress = kind == "progress";
        } else if let (Some(data), true) = (line.strip_prefix("data: "), progress) {
            let views: Vec<serde_json::Value> = serde_json::from_str(data).unwrap();
            found.extend(views.into_iter().filter(|v| v["id"] == id));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_counters_are_the_jobs_across_a_pause_and_a_resume() {
    let bucket = kit::new_s3_bucket("svc-live").await;
    let container = kit::new_azure_container("svc-live").await;
    let files: std::collections::BTreeMap<String, Vec<u8>> = (0..150)
        .map(|i| (format!("in/{i:03}"), kit::pattern(1000 + i, i as u64)))
        .collect();
    kit::put_all(&kit::open(&bucket).await, &files).await;
    let grant = [bucket.to_string(), container.to_string()];
    let slow = svc::SlowAzure::start(&grant, 60, 1).await;
    let service = &slow.service;
    let dest = format!("{}out/", slow.through(&container));
    let body = svc::with(
        svc::copy_spec(&format!("{bucket}in/"), &dest),
        serde_json::json!({"tuning": {"concurrency": 1}}),
    );
    let id = service.create("/api/v1/jobs", ALICE, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/jobs/{id}");
    svc::wait_until("ten objects copied", || async {
        service.get(&path, ALICE).await["counters"]["objects_done"].as_u64() >= Some(10)
    })
    .await;
    act(service, &id, "pause").await;
    let paused = service.wait_for(&id, ALICE, &["paused"]).await;
    let first_start = paused["started_at"].clone();
    act(service, &id, "resume").await;

    let (events, ()) = service
        .events_during(ALICE, tokio::time::sleep(Duration::from_secs(4)))
        .await;
    let after = service.get(&path, ALICE).await;
    let seen = progress_of(&events, &id);
    assert!(!seen.is_empty(), "progress events came: {events}");
    for counters in &seen {
        for field in ["objects_done", "bytes_done"] {
            let (live, at_pause, now) = (
                counters[field].as_u64().unwrap(),
                paused["counters"][field].as_u64().unwrap(),
                after["counters"][field].as_u64().unwrap(),
            );
            assert!(
                at_pause <= live && live <= now,
                "{field}: an event said {live}, the job had {at_pause} at the pause and {now} after"
            );
        }
    }
    let done = service.wait_for(&id, ALICE, &["completed"]).await;
    assert_eq!(done["started_at"], first_start, "the first start stays");
    let runs = service.get(&path, ALICE).await["runs"].clone();
    let runs = runs.as_array().expect("the job's runs");
    let shape: Vec<_> = runs
        .iter()
        .map(|r| (r["trigger"].clone(), r["status"].clone()))
        .collect();
    assert_eq!(
        shape,
        [
            (serde_json::json!("submit"), serde_json::json!("paused")),
            (serde_json::json!("resume"), serde_json::json!("completed")),
        ]
    );
    let copied: u64 = runs
        .iter()
        .map(|r| r["objects_copied"].as_u64().unwrap())
        .sum();
    assert_eq!(copied, files.len() as u64, "{runs:?}");
    assert_eq!(runs[0]["started_at"], first_start);
    kit::assert_holds(
        &kit::open(&container).await,
        "out/",
        &svc::relative(&files, "in/"),
    )
    .await;
}

/// Asks the service to `action` job `id` as alice.
async fn act(service: &svc::Service, id: &str, action: &str) {
    let path = format!("/api/v1/jobs/{id}/{action}");
    let (status, answer) = service
        .call("POST", &path, Some(ALICE), Some("{}".into()))
        .await;
    assert_eq!(status, 200, "{action}: {answer}");
}

/// In flight is what is really sent: a job held to 4 requests a second against a store that
/// answers in 500 ms has at most 6 requests in flight (a second's burst of 4, and 2 more sent
/// while those wait) on `/api/v1/agents`, `/metrics` and its own progress events, while its
/// agent holds many more items waiting for the rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_counts_the_requests_sent_not_the_items_held() {
    let bucket = kit::new_s3_bucket("svc-flight").await;
    let container = kit::new_azure_container("svc-flight").await;
    let files: std::collections::BTreeMap<String, Vec<u8>> = (0..40)
        .map(|i| (format!("in/{i:03}"), kit::pattern(100, i as u64)))
        .collect();
    kit::put_all(&kit::open(&bucket).await, &files).await;
    let grant = [bucket.to_string(), container.to_string()];
    let slow = svc::SlowAzure::start(&grant, 500, 1).await;
    let service = &slow.service;
    let dest = format!("{}out/", slow.through(&container));
    let body = svc::with(
        svc::copy_spec(&format!("{bucket}in/"), &dest),
        serde_json::json!({"tuning": {"max_rps": 4, "concurrency": 64}}),
    );
    let id = service.create("/api/v1/jobs", ALICE, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut most_sent, mut most_held, mut most_metric) = (0, 0, 0);
    let sampling = async {
        for _ in 0..30 {
            let agents = service.get("/api/v1/agents", ALICE).await;
            let sum = |field: &str| -> u64 {
                agents
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a[field].as_u64().unwrap())
                    .sum()
            };
            most_sent = most_sent.max(sum("in_flight"));
            most_held = most_held.max(sum("items_held"));
            let metrics = service.metrics().await;
            let gauge = metrics
                .lines()
                .find_map(|l| l.strip_prefix("awcopy_in_flight "))
                .expect("the in_flight gauge");
            most_metric = most_metric.max(gauge.trim().parse::<u64>().unwrap());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let (events, ()) = service.events_during(ALICE, sampling).await;
    // The job's own requests in flight, on the event stream: never over its rate's burst.
    let per_job: Vec<u64> = progress_views(&events, &id)
        .iter()
        .filter_map(|view| view["requests_in_flight"].as_u64())
        .collect();
    assert!(
        !per_job.is_empty() && per_job.iter().all(|&n| n <= 6) && per_job.iter().any(|&n| n >= 1),
        "the job's requests in flight: {per_job:?}"
    );
    assert!(
        (1..=6).contains(&most_sent) && most_metric <= 6,
        "requests in flight at 4/s and 500 ms: at most {most_sent} (metrics {most_metric})"
    );
    assert!(
        most_held > most_sent,
        "items wait for the rate: {most_held} held"
    );
    let job = service.wait_for(&id, ALICE, &svc::ENDS).await;
    assert_eq!(job["status"], "completed", "{job}");
}

/// A job's request rate is the job's, however many agents work on it: two agents copying at
/// most 4 requests a second send the destination no more than 4 a second between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_request_rate_holds_across_its_agents() {
    let bucket = kit::new_s3_bucket("svc-rate").await;
    let container = kit::new_azure_container("svc-rate").await;
    let files: std::collections::BTreeMap<String, Vec<u8>> = (0..24)
        .map(|i| (format!("in/{i:03}"), kit::pattern(100, i as u64)))
        .collect();
    kit::put_all(&kit::open(&bucket).await, &files).await;
    // A proxy that only counts what reaches the destination.
    let grant = [bucket.to_string(), container.to_string()];
    let slow = svc::SlowAzure::start(&grant, 0, 2).await;
    let service = &slow.service;
    let dest = format!("{}out/", slow.through(&container));
    let body = svc::with(
        svc::copy_spec(&format!("{bucket}in/"), &dest),
        serde_json::json!({"tuning": {"max_rps": 4}}),
    );
    let started = std::time::Instant::now();
    let job = service.run_to_end(ALICE, body).await;
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(job["status"], "completed", "{job}");
    kit::assert_holds(
        &kit::open(&container).await,
        "out/",
        &svc::relative(&files, "in/"),
    )
    .await;
    let agents = service.get("/api/v1/agents", ALICE).await;
    let working = agents
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["items_done"].as_u64() > Some(0));
    assert_eq!(working.count(), 2, "both agents worked on it: {agents}");
    let sent = slow.proxy.counters.logged() as f64;
    assert!(
        sent >= 24.0 && sent <= 4.0 * seconds + 6.0,
        "{sent} requests in {seconds:.1} s at most 4 a second (and a start's burst)"
    );
}
