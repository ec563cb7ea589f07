//! `awcopy replicate add|list|pause|resume|rm --via`: a replication made from the command line
//! keeps copying while objects are written; its service killed with kill -9 mid-stream and
//! started again loses nothing and copies nothing twice.

use awcopy_testkit::change_events as events;
use awcopy_testkit::{self as kit};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::as_user;
use crate::common::service::{self as svc, ALICE};
use crate::common::{stderr, stdout};

/// The replication's line of `awcopy replicate list --json`.
fn listed(url: &str, id: &str) -> serde_json::Value {
    let out = as_user(ALICE, &["replicate", "list", "--json", "--via", url]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {}", stdout(&out)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replication_outlives_kill_9_of_its_service_and_copies_each_object_once() {
    let source = kit::new_s3_bucket("cli-repl").await;
    let dest = kit::new_s3_bucket("cli-repl-dst").await;
    let (queue, _) = events::new_sqs_queue("cli-repl").await;
    events::notify(&source, &queue).await;
    let (_guard, dir) = svc::service_dir();
    let (from, to) = (kit::location_text(&source), kit::location_text(&dest));
    let one = std::slice::from_ref;
    svc::write_replication_config(&dir, one(&from), one(&to), one(&queue), "");
    let mut service = svc::start(&dir, 2);

    let out = as_user(
        ALICE,
        &[
            "replicate",
            "add",
            &from,
            &to,
            "--queue",
            &queue,
            "--deletions",
            "--via",
            &service.url,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    let id = said
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no id in {said}"))
        .to_owned();
    assert!(said.contains("deletions on"), "{said}");

    // Objects written in a stream, 20 every 100 ms, while the service is killed and restarted.
    let files: BTreeMap<String, Vec<u8>> = (0..300)
        .map(|n| {
            (
                format!("stream/{n:04}"),
                kit::pattern(100 + n * 7, n as u64),
            )
        })
        .collect();
    let store = kit::open(&source).await;
    let chunks: Vec<BTreeMap<String, Vec<u8>>> = files
        .iter()
        .collect::<Vec<_>>()
        .chunks(20)
        .map(|c| {
            c.iter()
                .map(|(k, v)| ((*k).clone(), (*v).clone()))
                .collect()
        })
        .collect();
    let writing = async {
        for chunk in &chunks {
            kit::put_all(&store, chunk).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let dest_store = kit::open(&dest).await;
    let killing = async {
        let deadline = Instant::now() + Duration::from_secs(60);
        let before = loop {
            let copied = events::objects_under(&dest_store, "").await;
            if copied.len() >= 40 {
                break copied;
            }
            assert!(
                Instant::now() < deadline,
                "nothing copied: {}",
                service.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        service.kill9();
        before
    };
    let ((), before) = tokio::join!(writing, killing);
    let service = svc::start(&dir, 2);

    // Every object arrives (those whose messages the killed service had taken come back when
    // their visibility ends), and none copied before the kill was written again.
    let within = Duration::from_secs(240);
    if let Err(why) = events::wait_until_holds(&dest_store, "", &files, within).await {
        panic!("after the restart: {why}; {}", listed(&service.url, &id));
    }
    let after = events::objects_under(&dest_store, "").await;
    for (key, meta) in &before {
        assert_eq!(after[key].etag, meta.etag, "{key} was copied again");
        assert_eq!(
            after[key].last_modified, meta.last_modified,
            "{key} was copied again"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    let view = loop {
        let view = listed(&service.url, &id);
        let events = &view["events"];
        let settled = ["applied", "ignored", "failed"]
            .iter()
            .map(|k| events[k].as_i64().unwrap())
            .sum::<i64>();
        if view["queue_depth"] == 0 && settled == events["received"].as_i64().unwrap() {
            break view;
        }
        assert!(Instant::now() < deadline, "the queue never drained: {view}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(view["events"]["failed"], 0, "{view}");
    assert!(view["objects_copied"].as_i64().unwrap() <= 300, "{view}");
    assert_eq!(view["state"], "running", "{view}");

    let args = ["replicate", "list", "--via", &service.url];
    crate::closed_pipe::assert_quiet_into_a_closed_pipe(
        "replicate list",
        &args,
        &[("AWCOPY_TOKEN", ALICE)],
    );

    // Paused, resumed, removed from the command line.
    for (verb, state) in [("pause", "paused"), ("resume", "running")] {
        let out = as_user(ALICE, &["replicate", verb, &id, "--via", &service.url]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stdout(&out).contains(state) || verb == "resume",
            "{}",
            stdout(&out)
        );
    }
    let out = as_user(ALICE, &["replicate", "rm", &id, "--via", &service.url]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = as_user(ALICE, &["replicate", "list", "--via", &service.url]);
    assert!(!stdout(&out).contains(&id), "{}", stdout(&out));
    let schedules = service.get("/api/v1/schedules", ALICE).await;
    assert_eq!(schedules.as_array().unwrap().len(), 0, "{schedules}");
    kit::assert_no_secrets(&service.log());
}
