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
    // A name Azure cannot hold as written: it fails under "fail" and is mapped on the retry.
    files.insert("refused\\name.bin".into(), kit::pattern(3000, 2));
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
    assert_eq!(seen["jobStatus"], "completed-with-failures", "{seen}");
    assert_eq!(
        seen["failedKeys"],
        serde_json::json!(["form/refused\\name.bin"]),
        "{seen}"
    );
    let id = seen["job"].as_str().unwrap();
    let downloads = [
        format!("/api/v1/jobs/{id}/failures?format=csv"),
        format!("/api/v1/jobs/{id}/failures?format=jsonl"),
    ];
    assert_eq!(seen["downloads"], serde_json::json!(downloads));
    assert_eq!(seen["csvName"], format!("awcopy-failures-{id}.csv"));
    let csv = seen["csvText"].as_str().unwrap();
    assert!(
        csv.starts_with("key,") && csv.contains("form/refused\\name.bin"),
        "{csv}"
    );
    assert_eq!(seen["retried"], "completed", "{seen}");
    let after = &seen["afterRetry"];
    assert_eq!(
        after["shown"], after["got"],
        "the page's counters are GET's: {seen}"
    );
    assert_eq!(
        after["got"][0],
        bins.len(),
        "every .bin done after the retry: {seen}"
    );
    assert!(after["doneCell"]
        .as_str()
        .unwrap()
        .ends_with(&bins.len().to_string()));
    let runs = seen["runsAfterRetry"].as_array().unwrap();
    assert!(
        runs.len() == 2 && runs[1].as_str().unwrap().contains("retry"),
        "{seen}"
    );
    let az = kit::open(&container).await;
    kit::assert_holds(&az, "form-out/", &as_held(&az, &bins)).await;
    kit::assert_holds(&az, "scheduled/", &as_held(&az, &files)).await;
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
    assert_eq!(
        job["spec"]["sizes"]["get_cutoff"],
        1 << 20,
        "every setting of the form kept"
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
    assert_eq!(
        seen["darkBackground"], "rgb(20, 24, 30)",
        "the system's dark mode"
    );
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
        "c6-new-dark",
        "c6-job-dark",
    ] {
        let png = std::fs::metadata(shots.join(format!("{shot}.png"))).expect("a screenshot");
        assert!(png.len() > 1000, "{shot}.png is an image");
    }
}

/// `files` under the names `store` holds them by (a name it cannot hold, mapped).
fn as_held(
    store: &std::sync::Arc<dyn awcopy_store::Store>,
    files: &BTreeMap<String, Vec<u8>>,
) -> BTreeMap<String, Vec<u8>> {
    files
        .iter()
        .map(|(k, v)| (store.mapped_name(k).unwrap_or_else(|| k.clone()), v.clone()))
        .collect()
}

/// `files` with `prefix` before each key.
fn with_prefix(prefix: &str, files: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    files
        .iter()
        .map(|(k, v)| (format!("{prefix}{k}"), v.clone()))
        .collect()
}
