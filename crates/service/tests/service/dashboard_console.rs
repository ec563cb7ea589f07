//! The dashboard as a console, in a real browser (`console.mjs`): a job made from the form
//! after an estimate, copied whole; a schedule made, run now, edited, its runs listed and
//! deleted; the agents page; a hostile key shown as text; no page wider than the screen.

use crate::dashboard::browse;
use crate::harness::{self as svc, ALICE};
use awcopy_testkit as kit;
use std::collections::BTreeMap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_and_schedules_are_made_and_run_from_the_dashboard() {
    let bucket = kit::new_s3_bucket("console-ui").await;
    let container = kit::new_azure_container("console-ui").await;
    let mut files = BTreeMap::new();
    for i in 0..12 {
        files.insert(
            format!("{i:02} r\u{e9}sum\u{e9}.bin"),
            kit::pattern(i * 40_000, i as u64),
        );
    }
    // Shown as text, never run: a script here would open a dialog.
    files.insert(
        "<img src=x onerror=alert(1)>.bin".into(),
        kit::pattern(77, 1),
    );
    for i in 0..3 {
        files.insert(format!("notes {i}.txt"), kit::pattern(500, 100 + i as u64));
    }
    kit::put_all(&kit::open(&bucket).await, &with_prefix("form/", &files)).await;
    let (_guard, dir) = svc::service_dir();
    let grant = vec![bucket.to_string(), container.to_string()];
    svc::write_config(&dir, (&grant, &grant), (&[], &[]));
    let service = svc::start(&dir, 2);

    let shots = kit::workspace_root().join("target/dashboard-shots");
    std::fs::create_dir_all(&shots).unwrap();
    let env = [
        ("URL", service.url.clone()),
        ("TOKEN", ALICE.to_owned()),
        ("SOURCE", format!("{bucket}form/")),
        ("DEST", format!("{container}form-out/")),
        ("SCHEDULE_DEST", format!("{container}scheduled/")),
    ];
    let seen = browse("console.mjs", &shots, &env).await;

    // The estimate counted what the job then copied: the .bin files, every byte.
    let bins: BTreeMap<String, Vec<u8>> = files
        .iter()
        .filter(|(k, _)| k.ends_with(".bin"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let estimate = seen["estimate"].as_str().unwrap();
    assert!(
        estimate.contains(&format!("{} objects", bins.len()))
            && estimate.contains("3 more left out by the filters")
            && estimate.contains("Total")
            && estimate.contains("List prices as of"),
        "{estimate}"
    );
    assert_eq!(seen["jobStatus"], "completed", "{seen}");
    let az = kit::open(&container).await;
    kit::assert_holds(&az, "form-out/", &bins).await;
    kit::assert_holds(&az, "scheduled/", &files).await;
    let job = service
        .get(
            &format!("/api/v1/jobs/{}", seen["job"].as_str().unwrap()),
            ALICE,
        )
        .await;
    assert_eq!(job["name"], "from the form", "{job}");
    assert_eq!(
        job["spec"]["filters"]["include"],
        serde_json::json!(["*.bin"])
    );

    // The finished job's page: its settings, a chart from its runs, inked.
    let settings = seen["settings"].as_str().unwrap();
    assert!(
        settings.contains("filters.include") && settings.contains("*.bin"),
        "{settings}"
    );
    let chart: Vec<u64> = serde_json::from_value(seen["chart"].clone()).unwrap();
    let bytes: u64 = bins.values().map(|v| v.len() as u64).sum();
    assert!(
        chart.len() >= 2 && chart.windows(2).all(|w| w[0] <= w[1]) && chart.last() == Some(&bytes),
        "the chart of a finished job: {chart:?}, the job copied {bytes}"
    );
    assert!(seen["chartInked"].as_u64().unwrap() > 500, "{seen}");
    assert_eq!(seen["againSource"], format!("{bucket}form/"));
    assert_eq!(seen["againName"], "from the form");

    // The schedule: made, run at once, run again by hand, edited, its runs, deleted.
    assert_eq!(seen["startHidden"], true, "a schedule's form starts no job");
    assert_eq!(seen["firstRun"], "completed", "{seen}");
    let run_now = seen["runNow"].as_str().unwrap();
    assert_eq!(seen["lastRunLink"], format!("#/jobs/{run_now}"), "{seen}");
    assert!(seen["runNowSchedule"]
        .as_str()
        .unwrap()
        .contains("all its runs"));
    assert_eq!(
        seen["editEvery"], "1h",
        "the form holds the schedule: {seen}"
    );
    assert_eq!(seen["editSource"], format!("{bucket}form/"), "{seen}");
    assert_eq!(seen["runRows"], 2, "the schedule's two runs: {seen}");
    assert_eq!(seen["allRows"], 3, "{seen}");
    let schedules = service.get("/api/v1/schedules", ALICE).await;
    assert_eq!(schedules, serde_json::json!([]), "deleted from the page");
    let agents = seen["agents"].as_array().unwrap();
    assert!(
        agents.len() == 2 && agents.iter().all(|a| a.as_str().unwrap().contains("ok")),
        "{seen}"
    );
    assert_eq!(seen["sideways"], serde_json::json!([]), "{seen}");
    // Dialogs: the delete's confirmation only.
    let dialogs = seen["dialogs"].as_array().unwrap();
    assert!(
        dialogs.len() == 1 && dialogs[0].as_str().unwrap().starts_with("Delete schedule"),
        "{seen}"
    );
    svc::assert_no_tokens("the dashboard", seen["pageText"].as_str().unwrap());
    for shot in [
        "c1-new-job",
        "c2-job-done",
        "c3-schedules",
        "c4-agents",
        "c5-new-1400",
        "c5-new-390",
    ] {
        let png = std::fs::metadata(shots.join(format!("{shot}.png"))).expect("a screenshot");
        assert!(png.len() > 1000, "{shot}.png is an image");
    }
}

/// `files` with `prefix` before each key.
fn with_prefix(prefix: &str, files: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    files
        .iter()
        .map(|(k, v)| (format!("{prefix}{k}"), v.clone()))
        .collect()
}
