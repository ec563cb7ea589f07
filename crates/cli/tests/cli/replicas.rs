//! Two `awcopy serve` replicas sharing one PostgreSQL catalogue and one nats-server, with three
//! `awcopy agent` processes: the replica running a job is killed with kill -9 mid-copy and the
//! other takes the job over and finishes it, every object copied once; both serve every job
//! and show who runs what; each run of a schedule is started by one of them.

use crate::common::rig::Rig;
use crate::common::service::{self as svc, Process, Service, ADMIN, ALICE};
use awcopy_jobs::LEASE_TERM;
use awcopy_testkit as kit;
use futures::TryStreamExt;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A few thousand small objects and two large ones.
fn data() -> BTreeMap<String, Vec<u8>> {
    let mut files: BTreeMap<String, Vec<u8>> = (0..2000)
        .map(|i| {
            (
                format!("small/{i:04}"),
                kit::pattern(100 + i % 900, i as u64),
            )
        })
        .collect();
    for i in 0..2 {
        files.insert(format!("large{i}"), kit::pattern(24 << 20, 90 + i as u64));
    }
    files
}

/// Every object of `store` and its ETag.
async fn etags(store: &std::sync::Arc<dyn awcopy_store::Store>) -> BTreeMap<String, String> {
    let pages: Vec<awcopy_store::ListPage> = store
        .list(awcopy_store::ListRequest::default())
        .try_collect()
        .await
        .unwrap();
    pages
        .into_iter()
        .flat_map(|page| page.objects)
        .map(|meta| (meta.key, meta.etag.unwrap_or_default()))
        .collect()
}

/// The replica (of `replicas`) that says it holds job `id`, by its place in `replicas`.
async fn runner_of(replicas: &[&Service], id: &str) -> Option<usize> {
    for (n, service) in replicas.iter().enumerate() {
        let listed = service.get("/api/v1/replicas", ADMIN).await;
        let this = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["this"] == true)
            .unwrap_or_else(|| panic!("the answering replica is listed: {listed}"));
        if this["jobs"].as_array().unwrap().iter().any(|j| j == id) {
            return Some(n);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_job_leaves_it_to_the_other_and_nothing_is_copied_twice() {
    let files = data();
    // Slowed so that the job is still running when its replica dies.
    let mut rig = Rig::replicated("replicas", &files, 100, 2).await;
    let agents: Vec<Process> = (1..=3)
        .map(|n| rig.agent(&format!("agent-{n}"), 4))
        .collect();
    let id = rig
        .submit(serde_json::json!({
            "sizes": {"block_size": 4 << 20},
            "overwrite": "if-different",
        }))
        .await;

    // Both replicas serve the job; one runs it, and says so.
    let both = [&rig.service, &rig.replicas[0]];
    for service in both {
        let job = service.get(&format!("/api/v1/jobs/{id}"), ALICE).await;
        assert_eq!(job["id"], id.as_str());
    }
    let (status, refused) = rig
        .service
        .call("GET", "/api/v1/replicas", Some(ALICE), None)
        .await;
    assert_eq!(status, 403, "only an admin sees the replicas: {refused}");
    let runner = loop {
        if let Some(n) = runner_of(&both, &id).await {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let survivor = 1 - runner;
    // A browser signed in on the other replica watches the job's page from now to its end.
    let env = [
        ("URL", both[survivor].url.clone()),
        ("TOKEN", ALICE.to_owned()),
        ("JOB", id.clone()),
    ];
    let watching = tokio::spawn(async move {
        let root = kit::workspace_root();
        let script = root.join("crates/cli/tests/cli/survivor.mjs");
        kit::browser::run_script(&script, &root.join("target/dashboard-shots"), &env).await
    });

    // Mid-copy: some objects are at the destination, most are not.
    let container = kit::open(&rig.container).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let job = both[survivor]
            .get(&format!("/api/v1/jobs/{id}"), ALICE)
            .await;
        if job["counters"]["objects_done"].as_u64().unwrap() >= 400 {
            break;
        }
        assert!(Instant::now() < deadline, "never a fifth copied: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = etags(&container).await;
    assert!(before.len() < files.len(), "the job ended before the kill");
    match runner {
        0 => rig.service.kill9(),
        _ => rig.replicas[0].kill9(),
    }
    let survivor = match runner {
        0 => &rig.replicas[0],
        _ => &rig.service,
    };

    // The survivor takes the job over and finishes it, its event stream live throughout.
    let (events, job) = survivor
        .events_during(
            ALICE,
            survivor.wait_for(&id, ALICE, &["completed", "failed"]),
        )
        .await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        job["counters"]["objects_done"].as_u64(),
        Some(files.len() as u64),
        "{job}"
    );
    kit::assert_holds(&container, "", &files).await;
    let after = etags(&container).await;
    for (key, etag) in &before {
        assert_eq!(
            after.get(key),
            Some(etag),
            "{key} was written again after the kill"
        );
    }
    let done_on_the_stream: Vec<u64> = events
        .split("\n\n")
        .filter(|event| event.starts_with("event: progress"))
        .filter_map(|event| {
            let data = event.split_once("data: ")?.1;
            let jobs: serde_json::Value = serde_json::from_str(data).ok()?;
            let job = jobs.as_array()?.iter().find(|j| j["id"] == id.as_str())?;
            job["counters"]["objects_done"].as_u64()
        })
        .collect();
    assert!(
        done_on_the_stream.len() >= 3,
        "the survivor streamed the job's progress: {done_on_the_stream:?}"
    );
    assert!(
        done_on_the_stream.windows(2).all(|w| w[0] <= w[1]),
        "{done_on_the_stream:?}"
    );
    assert!(
        events.contains("event: job") && events.contains("\"completed\""),
        "the job's end was announced on the survivor"
    );
    // Its runs: the first ended when it was taken over, failed, naming its runner; the
    // second completed it; together they copied every object.
    let runs = job["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{job}");
    assert_eq!(runs[0]["status"], "failed", "{job}");
    assert!(runs[0]["finished_at"].is_string(), "{job}");
    assert!(
        runs[0]["error"].as_str().unwrap().contains("taken over"),
        "{job}"
    );
    assert_eq!(
        (runs[1]["trigger"].as_str(), runs[1]["status"].as_str()),
        (Some("resume"), Some("completed"))
    );
    let copied: u64 = runs
        .iter()
        .map(|r| r["objects_copied"].as_u64().unwrap())
        .sum();
    assert_eq!(copied, files.len() as u64, "{job}");
    // The page on the survivor was live throughout: its count of objects done only rose, to
    // every object, and it ended "completed".
    let seen = watching.await.unwrap();
    let readings = seen["readings"].as_array().unwrap();
    let done: Vec<u64> = readings.iter().filter_map(|r| r["done"].as_u64()).collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{seen}");
    assert_eq!(done.last(), Some(&(files.len() as u64)), "{seen}");
    assert!(
        done.iter().filter(|&&n| n < files.len() as u64).count() >= 4,
        "the page showed the job under way: {seen}"
    );
    assert_eq!(readings.last().unwrap()["status"], "completed", "{seen}");

    // Both replicas hold nothing now, and once a lease's term has passed without word from
    // the killed one, it shows as not alive.
    let deadline = Instant::now() + LEASE_TERM * 2;
    loop {
        let listed = survivor.get("/api/v1/replicas", ADMIN).await;
        let replicas = listed.as_array().unwrap();
        assert_eq!(replicas.len(), 2, "{listed}");
        for replica in replicas {
            assert_eq!(replica["jobs"], serde_json::json!([]), "{listed}");
        }
        if replicas.iter().all(|r| r["alive"] == r["this"]) {
            break;
        }
        assert!(Instant::now() < deadline, "{listed}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    drop(agents);
}

/// A schedule every 2 s with two replicas up for 30 s: each due run is started by one of them,
/// none twice and none missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_start_each_run_of_a_schedule_once() {
    let source = tempfile::tempdir().unwrap();
    for n in 0..3 {
        std::fs::write(source.path().join(format!("f{n}")), kit::pattern(500, n)).unwrap();
    }
    let container = kit::new_azure_container("replicas-sched").await;
    let root = format!("{}/", source.path().display());
    let (_guard, dir) = svc::service_dir();
    svc::write_config(
        &dir,
        (std::slice::from_ref(&root), &[container.to_string()]),
        (&[], &[]),
    );
    let db = kit::catalogue::fresh_postgres_database().await;
    let args = ["--agents", "2", "--db", db.as_str()];
    let replicas = [svc::start_with(&dir, &args), svc::start_with(&dir, &args)];
    let template = svc::spec_in_blocks(
        &root,
        &kit::location_text(&container),
        8 << 20,
        serde_json::json!({}),
    );
    let input = serde_json::json!({"template": template, "every": "2s"});
    let schedule = replicas[0].create("/api/v1/schedules", ALICE, input).await;
    let id = schedule["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let path = format!("/api/v1/schedules/{id}");
    let off = serde_json::json!({"enabled": false});
    let (status, body) = replicas[1]
        .call("PATCH", &path, Some(ALICE), Some(off.to_string()))
        .await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Both replicas list the same runs: every one completed, one per period.
    let runs_path = format!("/api/v1/jobs?schedule={id}");
    let runs = replicas[0].get(&runs_path, ALICE).await;
    assert_eq!(runs, replicas[1].get(&runs_path, ALICE).await);
    let runs = runs.as_array().unwrap();
    let mut started: Vec<time::OffsetDateTime> = runs
        .iter()
        .map(|run| {
            assert_eq!(run["status"], "completed", "{run}");
            let at = run["created_at"].as_str().unwrap();
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap()
        })
        .collect();
    started.sort();
    assert!(
        (13..=16).contains(&started.len()),
        "about 15 runs in 30 s: {}",
        started.len()
    );
    for pair in started.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(1500),
            "two runs {} apart: {started:?}",
            pair[1] - pair[0]
        );
    }
}
