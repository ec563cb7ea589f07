//! Replications against real queues: moto's S3 sends its real event notifications to moto's
//! SQS; Azurite's Queue service carries Event Grid blob events the test writes in the
//! documented schema. Each test writes, overwrites and deletes objects of every kind of key
//! while the replication runs, and checks every key and every byte at the destination.

use awcopy_store::{Location, Store};
use awcopy_testkit::change_events::{self as events, blob_event};
use awcopy_testkit::{self as kit};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::{self, Service, ADMIN, ALICE, BOB};

/// `location` with `prefix` under it, as text.
fn under(location: &Location, prefix: &str) -> String {
    format!("{}{prefix}", kit::location_text(location))
}

/// Makes alice's replication of `source` to `dest` from `queue`; its view.
async fn replicate(
    service: &Service,
    source: &str,
    dest: &str,
    queue: &str,
    deletions: bool,
) -> serde_json::Value {
    let body = serde_json::json!({
        "name": "under test",
        "spec": {"version": 1, "mode": "cp", "source": source, "dest": dest},
        "queue": queue,
        "deletions": deletions,
    });
    service.create("/api/v1/replications", ALICE, body).await
}

/// A service of `agents` agents on which alice replicates `from` to `to` (locations as text)
/// from `queue`, granted to her as `queue_id`.
struct Scene {
    service: Service,
    /// The replication's view when it was made.
    made: serde_json::Value,
    id: String,
    _dir: tempfile::TempDir,
}

impl Scene {
    async fn start(
        (from, to): (&str, &str),
        (queue, queue_id): (&str, &str),
        deletions: bool,
        agents: usize,
    ) -> Self {
        let (dir_guard, dir) = harness::service_dir();
        let one = |text: &str| [text.to_owned()];
        harness::write_replication_config(&dir, &one(from), &one(to), &one(queue_id), "");
        let service = harness::start(&dir, agents);
        let made = replicate(&service, from, to, queue, deletions).await;
        Self {
            id: made["id"].as_str().unwrap().to_owned(),
            made,
            service,
            _dir: dir_guard,
        }
    }
}

/// A fresh SQS queue that the bucket of `source` sends its events to: its name and URL.
async fn notified_queue(source: &Location, hint: &str) -> (String, String) {
    let (name, url) = events::new_sqs_queue(hint).await;
    events::notify(source, &name).await;
    (name, url)
}

/// Bytes of `size` for key number `n`, version `version`.
fn content(n: usize, version: u64, size: usize) -> Vec<u8> {
    kit::pattern(size, n as u64 * 1_000 + version)
}

/// Puts each `(key, bytes)` into `store`.
async fn put(store: &Arc<dyn Store>, objects: impl IntoIterator<Item = (String, Vec<u8>)>) {
    kit::put_all(store, &objects.into_iter().collect()).await;
}

/// Waits (two minutes at most) until `dest` under `prefix` holds exactly `expected`, every
/// byte checked.
async fn wait_for_copy(
    service: &Service,
    dest: &Arc<dyn Store>,
    prefix: &str,
    expected: &BTreeMap<String, Vec<u8>>,
) {
    let within = Duration::from_secs(120);
    if let Err(why) = events::wait_until_holds(dest, prefix, expected, within).await {
        let replications = service.get("/api/v1/replications", ADMIN).await;
        panic!("the destination never matched: {why}; {replications}");
    }
}

/// Waits until replication `id` has taken everything from its queue and applied it; its view.
async fn wait_for_drained(service: &Service, id: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let view = service
            .get(&format!("/api/v1/replications/{id}"), ALICE)
            .await;
        let events = &view["events"];
        let settled = events["applied"].as_i64().unwrap()
            + events["ignored"].as_i64().unwrap()
            + events["failed"].as_i64().unwrap();
        let drained = view["queue_depth"] == 0 && view["lag_seconds"] == 0.0;
        if drained && settled == events["received"].as_i64().unwrap() {
            return view;
        }
        assert!(Instant::now() < deadline, "never drained: {view}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Keys of every kind the destination can hold, under `prefix`, with plain ones to make
/// `count` in all.
fn keys(prefix: &str, count: usize, refused: fn(&[String]) -> Vec<String>) -> Vec<String> {
    let naughty = kit::naughty_keys();
    let refused = refused(&naughty);
    // Azure holds names of up to 1,024 characters.
    let mut keys: Vec<String> = naughty
        .into_iter()
        .filter(|k| !refused.contains(k) && k.len() < 1000)
        .map(|k| format!("{prefix}{k}"))
        .collect();
    keys.truncate(count / 2);
    let plain = count - keys.len();
    keys.extend((0..plain).map(|n| format!("{prefix}plain/{n:04}")));
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_writes_overwrites_and_deletions_reach_azure_within_seconds() {
    let source = kit::new_s3_bucket("repl-s3").await;
    let dest = kit::new_azure_container("repl-az").await;
    let (queue, _) = notified_queue(&source, "repl").await;
    let (source_text, dest_text) = (under(&source, "data/"), under(&dest, "copy/"));
    let scene = Scene::start((&source_text, &dest_text), (&queue, &queue), true, 2).await;
    let (service, id) = (&scene.service, scene.id.as_str());
    assert_eq!(scene.made["deletions"], true);

    // Refused: a queue not granted; a second replication of the same queue.
    let body = serde_json::json!({
        "spec": {"version": 1, "mode": "sync", "source": source_text, "dest": dest_text},
        "queue": queue,
    });
    let (status, answer) = service
        .call(
            "POST",
            "/api/v1/replications",
            Some(BOB),
            Some(body.to_string()),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("queue"),
        "{answer}"
    );
    let (status, answer) = service
        .call(
            "POST",
            "/api/v1/replications",
            Some(ADMIN),
            Some(body.to_string()),
        )
        .await;
    assert_eq!(status, 409, "{answer}");

    let store = kit::open(&source).await;
    let keys = keys("data/", 500, kit::refused_by_azure);
    let mut expected: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut first: Vec<(String, Vec<u8>)> = keys
        .iter()
        .enumerate()
        .map(|(n, k)| (k.clone(), content(n, 1, n % 3000)))
        .collect();
    // One object in blocks, through the agents.
    first.push(("data/large.bin".into(), content(9_999, 1, 20 << 20)));
    // Outside the source: its events are ignored.
    first.push(("elsewhere/x".into(), content(0, 1, 10)));
    put(&store, first.clone()).await;
    for (key, data) in &first {
        if let Some(relative) = key.strip_prefix("data/") {
            expected.insert(relative.to_owned(), data.clone());
        }
    }
    let dest_store = kit::open(&dest).await;
    wait_for_copy(service, &dest_store, "copy/", &expected).await;

    // Then, at once: 50 overwrites (half the same size: only the content changed) and 50
    // deletions of copies the replication wrote.
    let overwritten: Vec<(String, Vec<u8>)> = keys
        .iter()
        .enumerate()
        .skip(100)
        .take(50)
        .map(|(n, k)| {
            (
                k.clone(),
                content(n, 2, if n % 2 == 0 { n % 3000 } else { 77 }),
            )
        })
        .collect();
    let deleted: Vec<String> = keys.iter().skip(200).take(50).cloned().collect();
    tokio::join!(
        put(&store, overwritten.clone()),
        events::delete_all(&store, &deleted)
    );
    for (key, data) in overwritten {
        expected.insert(key["data/".len()..].to_owned(), data);
    }
    for key in &deleted {
        expected.remove(&key["data/".len()..]);
    }
    wait_for_copy(service, &dest_store, "copy/", &expected).await;
    let view = wait_for_drained(service, id).await;
    assert_eq!(view["events"]["failed"], 0, "{view}");
    assert!(
        view["events"]["ignored"].as_i64().unwrap() >= 2,
        "the test event and elsewhere/x: {view}"
    );
    assert_eq!(view["state"], "running", "{view}");
    assert!(
        view["objects_copied"].as_i64().unwrap() >= expected.len() as i64,
        "{view}"
    );
    assert_eq!(view["objects_deleted"], 50, "{view}");
    let metrics = service.metrics().await;
    for line in [
        format!("awcopy_replication_events_total{{replication=\"{id}\",outcome=\"failed\"}} 0"),
        format!("awcopy_replication_objects_deleted_total{{replication=\"{id}\"}} 50"),
        format!("awcopy_replication_queue_depth{{replication=\"{id}\"}} 0"),
        format!("awcopy_replication_lag_seconds{{replication=\"{id}\"}} 0.0"),
    ] {
        assert!(metrics.contains(&line), "{line} not in {metrics}");
    }
    let everything = events::objects_under(&dest_store, "").await;
    assert!(everything.keys().all(|k| k.starts_with("copy/")));
    kit::assert_no_secrets(&service.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_stay_at_the_source_unless_asked_for() {
    let source = kit::new_s3_bucket("repl-keep").await;
    let dest = kit::new_s3_bucket("repl-keep-dst").await;
    let (queue, _) = notified_queue(&source, "keep").await;
    let places = (under(&source, ""), under(&dest, ""));
    let scene = Scene::start((&places.0, &places.1), (&queue, &queue), false, 1).await;
    let (service, id) = (&scene.service, scene.id.as_str());
    let store = kit::open(&source).await;
    let objects: Vec<(String, Vec<u8>)> = (0..20)
        .map(|n| (format!("k{n:02}"), content(n, 1, 100 + n)))
        .collect();
    put(&store, objects.clone()).await;
    let expected: BTreeMap<String, Vec<u8>> = objects.into_iter().collect();
    let dest_store = kit::open(&dest).await;
    wait_for_copy(service, &dest_store, "", &expected).await;
    let gone: Vec<String> = expected.keys().take(10).cloned().collect();
    events::delete_all(&store, &gone).await;
    let view = wait_for_drained(service, id).await;
    assert!(view["events"]["ignored"].as_i64().unwrap() >= 10, "{view}");
    kit::assert_holds(&dest_store, "", &expected).await;

    // Turned on: the next deletion goes through; a copy someone else rewrote stays.
    let (status, answer) = service
        .call(
            "PATCH",
            &format!("/api/v1/replications/{id}"),
            Some(ALICE),
            Some(r#"{"deletions": true}"#.into()),
        )
        .await;
    assert_eq!(
        (status, &answer["deletions"]),
        (200, &true.into()),
        "{answer}"
    );
    let rewritten = b"written at the destination by someone else".to_vec();
    put(&dest_store, [("k19".to_owned(), rewritten.clone())]).await;
    events::delete_all(&store, &["k18".to_owned(), "k19".to_owned()]).await;
    let mut left = expected.clone();
    left.remove("k18");
    left.insert("k19".into(), rewritten);
    wait_for_copy(service, &dest_store, "", &left).await;
    let view = wait_for_drained(service, id).await;
    assert_eq!(view["objects_deleted"], 1, "{view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_counted_and_copy_nothing_outside_the_grant() {
    let source = kit::new_s3_bucket("repl-poison").await;
    let other = kit::new_s3_bucket("repl-other").await;
    let dest = kit::new_s3_bucket("repl-poison-dst").await;
    let (queue, url) = events::new_sqs_queue("poison").await;
    let places = (under(&source, "in/"), under(&dest, ""));
    let scene = Scene::start((&places.0, &places.1), (&queue, &queue), true, 1).await;
    let (service, id) = (&scene.service, scene.id.as_str());
    // Objects the forged events name: in a bucket not granted, and outside the prefix.
    put(
        &kit::open(&other).await,
        [("in/secret".to_owned(), b"no".to_vec())],
    )
    .await;
    let store = kit::open(&source).await;
    put(
        &store,
        [
            ("outside/x".to_owned(), b"no".to_vec()),
            ("in/ok".to_owned(), b"yes".to_vec()),
        ],
    )
    .await;
    let record = |bucket: &str, key: &str| {
        serde_json::json!({"eventVersion": "2.1", "eventSource": "aws:s3",
            "eventTime": "2026-12-07T06:00:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": bucket}, "object": {"key": key, "eTag": "e"}}})
    };
    let bucket = |l: &Location| kit::bucket_name(l);
    for body in [
        "not json".to_owned(),
        r#"{"Records": [{"eventName": 1}]}"#.to_owned(),
        serde_json::json!({"Records": [record(&bucket(&other), "in/secret")]}).to_string(),
        serde_json::json!({"Records": [record(&bucket(&source), "outside/x")]}).to_string(),
        serde_json::json!({"Records": [record(&bucket(&source), "in%2F..%2F..%2Foutside%2Fx")]}).to_string(),
        serde_json::json!({"Type": "Notification",
            "Message": serde_json::json!({"Records": [record(&bucket(&source), "in/ok")]}).to_string()})
        .to_string(),
    ] {
        events::send_sqs(&url, &body).await;
    }
    let dest_store = kit::open(&dest).await;
    let expected = BTreeMap::from([("ok".to_owned(), b"yes".to_vec())]);
    wait_for_copy(service, &dest_store, "", &expected).await;
    let view = wait_for_drained(service, id).await;
    assert_eq!(
        view["events"]["failed"], 2,
        "the two unreadable messages: {view}"
    );
    assert_eq!(
        view["events"]["ignored"], 2,
        "another bucket's, and outside the prefix: {view}"
    );
    // in/ok copied; in/../../outside/x (a name like any other) found at neither end.
    assert_eq!(view["events"]["applied"], 2, "{view}");
    assert_eq!(view["objects_copied"], 1, "{view}");
    let failures = service
        .get(&format!("/api/v1/replications/{id}/failures"), ALICE)
        .await;
    assert_eq!(failures.as_array().unwrap().len(), 2, "{failures}");
    assert!(
        failures[0]["key"].as_str().unwrap().starts_with("message "),
        "{failures}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconcile_run_repairs_what_a_lost_event_left_out() {
    let source = kit::new_s3_bucket("repl-lost").await;
    let dest = kit::new_azure_container("repl-lost").await;
    let (queue, url) = notified_queue(&source, "lost").await;
    let places = (under(&source, ""), under(&dest, ""));
    let scene = Scene::start((&places.0, &places.1), (&queue, &queue), true, 1).await;
    let (service, id, made) = (&scene.service, scene.id.as_str(), &scene.made);
    let path = format!("/api/v1/replications/{id}");
    let (status, paused) = service
        .call(
            "PATCH",
            &path,
            Some(ALICE),
            Some(r#"{"enabled": false}"#.into()),
        )
        .await;
    assert_eq!(
        (status, &paused["state"]),
        (200, &"paused".into()),
        "{paused}"
    );
    let store = kit::open(&source).await;
    put(
        &store,
        [("lost".to_owned(), b"its event was deleted".to_vec())],
    )
    .await;
    assert!(
        events::drain_sqs(&url).await >= 1,
        "the event was there to lose"
    );
    let (status, _) = service
        .call(
            "PATCH",
            &path,
            Some(ALICE),
            Some(r#"{"enabled": true}"#.into()),
        )
        .await;
    assert_eq!(status, 200);
    put(&store, [("seen".to_owned(), b"its event came".to_vec())]).await;
    let dest_store = kit::open(&dest).await;
    let seen = BTreeMap::from([("seen".to_owned(), b"its event came".to_vec())]);
    wait_for_copy(service, &dest_store, "", &seen).await;

    let schedule = made["schedule"].as_str().unwrap();
    let run = service
        .create(
            &format!("/api/v1/schedules/{schedule}/run"),
            ALICE,
            serde_json::json!({}),
        )
        .await;
    service
        .wait_for(run["id"].as_str().unwrap(), ALICE, &["completed"])
        .await;
    let mut both = seen;
    both.insert("lost".into(), b"its event was deleted".to_vec());
    kit::assert_holds(&dest_store, "", &both).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_blob_events_reach_s3_once_each_in_any_order() {
    let source = kit::new_azure_container("repl-blob").await;
    let dest = kit::new_s3_bucket("repl-from-az").await;
    let (queue_name, queue) = events::new_azure_queue("blobevents").await;
    let Location::Azure {
        account, container, ..
    } = &source
    else {
        unreachable!()
    };
    let queue_id = format!("{account}/{queue_name}");
    let places = (under(&source, "in/"), under(&dest, "out/"));
    let scene = Scene::start((&places.0, &places.1), (&queue_name, &queue_id), true, 2).await;
    let (service, id) = (&scene.service, scene.id.as_str());

    let store = kit::open(&source).await;
    let keys = keys("in/", 500, kit::refused_by_azure);
    let written: Vec<(String, Vec<u8>)> = keys
        .iter()
        .enumerate()
        .map(|(n, k)| (k.clone(), content(n, 1, n % 2000)))
        .collect();
    put(&store, written.clone()).await;
    let overwritten: Vec<(String, Vec<u8>)> = keys
        .iter()
        .enumerate()
        .skip(10)
        .take(50)
        .map(|(n, k)| (k.clone(), content(n, 2, n % 2000)))
        .collect();
    put(&store, overwritten.clone()).await;
    let deleted: Vec<String> = keys.iter().skip(100).take(50).cloned().collect();
    events::delete_all(&store, &deleted).await;

    // What Event Grid would deliver: each write's BlobCreated (once more for some: delivery is
    // at least once), staged blocks that are not blobs yet, each deletion; the newest event of
    // a key before its older one.
    let event = |kind: &str, api: &str, key: &str, sequencer: u64| {
        blob_event(kind, api, account, container, key, "0x1", sequencer).to_string()
    };
    let mut messages = Vec::new();
    for (n, (key, _)) in overwritten.iter().enumerate() {
        messages.push(event(
            "Microsoft.Storage.BlobCreated",
            "PutBlockList",
            key,
            2_000 + n as u64,
        ));
    }
    for (n, (key, _)) in written.iter().enumerate() {
        messages.push(event(
            "Microsoft.Storage.BlobCreated",
            "PutBlob",
            key,
            n as u64,
        ));
        if n % 10 == 0 {
            messages.push(event(
                "Microsoft.Storage.BlobCreated",
                "PutBlob",
                key,
                n as u64,
            ));
            messages.push(event(
                "Microsoft.Storage.BlobCreated",
                "PutBlock",
                key,
                n as u64,
            ));
        }
    }
    for (n, key) in deleted.iter().enumerate() {
        messages.push(event(
            "Microsoft.Storage.BlobDeleted",
            "DeleteBlob",
            key,
            3_000 + n as u64,
        ));
    }
    // Poison: unreadable; another container (not granted); outside the prefix.
    messages.push("{\"eventType\": ".to_owned());
    messages.push(
        blob_event(
            "Microsoft.Storage.BlobCreated",
            "PutBlob",
            account,
            "elsewhere",
            "in/x",
            "0x1",
            1,
        )
        .to_string(),
    );
    messages.push(event(
        "Microsoft.Storage.BlobCreated",
        "PutBlob",
        "out-of-prefix",
        1,
    ));
    futures::stream::iter(messages)
        .map(|m| {
            let queue = &queue;
            async move { events::send_azure(queue, &m).await }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;

    let mut expected: BTreeMap<String, Vec<u8>> = written
        .into_iter()
        .chain(overwritten)
        .map(|(k, v)| (k["in/".len()..].to_owned(), v))
        .collect();
    for key in &deleted {
        expected.remove(&key["in/".len()..]);
    }
    let dest_store = kit::open(&dest).await;
    wait_for_copy(service, &dest_store, "out/", &expected).await;
    let view = wait_for_drained(service, id).await;
    assert_eq!(
        view["events"]["failed"], 1,
        "the unreadable message: {view}"
    );
    assert!(view["events"]["ignored"].as_i64().unwrap() >= 3, "{view}");
    // Each object copied once: duplicates and stale events found the copy already there.
    assert_eq!(view["objects_copied"], expected.len(), "{view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_a_replication_live_and_pauses_it() {
    let source = kit::new_s3_bucket("repl-page").await;
    let dest = kit::new_s3_bucket("repl-page-dst").await;
    let (queue, _) = notified_queue(&source, "page").await;
    let places = (under(&source, ""), under(&dest, ""));
    let scene = Scene::start((&places.0, &places.1), (&queue, &queue), false, 1).await;
    let (service, id) = (&scene.service, scene.id.clone());
    let objects: Vec<(String, Vec<u8>)> = (0..30)
        .map(|n| (format!("seen/{n:02}"), content(n, 1, 10 + n)))
        .collect();
    let (store, shots) = (
        kit::open(&source).await,
        kit::workspace_root().join("target/dashboard-shots"),
    );
    std::fs::create_dir_all(&shots).unwrap();
    let env = [
        ("URL", service.url.clone()),
        ("TOKEN", ALICE.to_owned()),
        ("REPLICATION", id.clone()),
        ("APPLIED", "30".to_owned()),
    ];
    let (seen, ()) = tokio::join!(
        crate::dashboard::browse("replications.mjs", &shots, &env),
        async {
            // Written once the page is open, so that its numbers must change live.
            tokio::time::sleep(Duration::from_secs(3)).await;
            put(&store, objects).await;
        }
    );
    assert_eq!(seen["applied"], "30", "{seen}");
    assert!(
        seen["state"].as_str().unwrap().starts_with("running"),
        "{seen}"
    );
    assert!(
        seen["afterPause"].as_str().unwrap().starts_with("paused"),
        "{seen}"
    );
    let view = service
        .get(&format!("/api/v1/replications/{id}"), ALICE)
        .await;
    assert_eq!(
        view["enabled"], false,
        "the click paused it on the service: {view}"
    );
    harness::assert_no_tokens("the replications page", seen["pageText"].as_str().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lag_counts_from_the_oldest_change_not_yet_applied() {
    let source = kit::new_azure_container("repl-lag").await;
    let dest = kit::new_s3_bucket("repl-lag-dst").await;
    let (queue_name, queue) = events::new_azure_queue("lagevents").await;
    let Location::Azure {
        account, container, ..
    } = &source
    else {
        unreachable!()
    };
    // 700 blobs whose events happened ten minutes ago (delivered late), queued before the
    // replication starts: more than one round takes.
    let objects: Vec<(String, Vec<u8>)> = (0..700)
        .map(|n| (format!("late/{n:04}"), content(n, 1, 20)))
        .collect();
    put(&kit::open(&source).await, objects.clone()).await;
    let ten_minutes_ago = (time::OffsetDateTime::now_utc() - time::Duration::minutes(10))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let messages: Vec<String> = objects
        .iter()
        .enumerate()
        .map(|(n, (key, _))| {
            let mut event = blob_event(
                "Microsoft.Storage.BlobCreated",
                "PutBlob",
                account,
                container,
                key,
                "0x1",
                n as u64,
            );
            event["eventTime"] = ten_minutes_ago.clone().into();
            event.to_string()
        })
        .collect();
    futures::stream::iter(&messages)
        .map(|m| events::send_azure(&queue, m))
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    let queue_id = format!("{account}/{queue_name}");
    let places = (under(&source, ""), under(&dest, ""));
    let scene = Scene::start((&places.0, &places.1), (&queue_name, &queue_id), false, 2).await;
    let (service, id) = (&scene.service, scene.id.as_str());

    // While they are applied, the lag says ten minutes; once all are, nothing.
    let path = format!("/api/v1/replications/{id}");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut largest = 0.0f64;
    loop {
        let view = service.get(&path, ALICE).await;
        largest = largest.max(view["lag_seconds"].as_f64().unwrap());
        if view["events"]["applied"] == 700 {
            break;
        }
        assert!(Instant::now() < deadline, "never applied: {view}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(largest >= 590.0, "the lag seen while applying: {largest} s");
    let view = wait_for_drained(service, id).await;
    assert_eq!(view["lag_seconds"], 0.0, "{view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_named_on_another_host_is_refused_and_the_host_hears_nothing() {
    let source = kit::new_s3_bucket("repl-host").await;
    let azure = kit::new_azure_container("repl-host").await;
    let dest = kit::new_s3_bucket("repl-host-dst").await;
    let listener = awcopy_testkit::recorder::Recorder::start().await;
    let host = listener.host();
    let (_guard, dir) = harness::service_dir();
    // Granted every spelling, so that only where the request would go decides.
    let queues: Vec<String> = [
        format!("http://{host}/123456789012/q"),
        format!("https://{host}/123456789012/q"),
        format!("http://user@{host}/123456789012/q"),
        "q".to_owned(),
        "devstoreaccount1/q".to_owned(),
    ]
    .into_iter()
    .collect();
    let read = [under(&source, ""), under(&azure, "")];
    harness::write_replication_config(&dir, &read, &[under(&dest, "")], &queues, "");
    let service = harness::start(&dir, 1);
    let attempts = [
        (under(&source, ""), format!("http://{host}/123456789012/q")),
        (under(&source, ""), format!("https://{host}/123456789012/q")),
        (
            under(&source, ""),
            format!("http://user@{host}/123456789012/q"),
        ),
        (
            under(&source, ""),
            format!("http://{host}/123456789012/q?Action=x"),
        ),
        // An Azure queue is a name in the source's account: a URL is not one.
        (
            under(&azure, ""),
            format!("http://{host}/devstoreaccount1/q"),
        ),
    ];
    for (source, queue) in attempts {
        let body = serde_json::json!({
            "spec": {"version": 1, "mode": "sync", "source": source, "dest": under(&dest, "")},
            "queue": queue,
        });
        let (status, answer) = service
            .call(
                "POST",
                "/api/v1/replications",
                Some(ALICE),
                Some(body.to_string()),
            )
            .await;
        assert!(matches!(status, 400 | 403), "{queue}: {status} {answer}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        listener.received(),
        Vec::<String>::new(),
        "the named host heard nothing"
    );
    let listed = service.get("/api/v1/replications", ADMIN).await;
    assert_eq!(listed.as_array().unwrap().len(), 0, "{listed}");
}
