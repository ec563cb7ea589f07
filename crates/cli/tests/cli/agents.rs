//! Agents on other processes through a real nats-server (JetStream): a service with no agent of
//! its own and three `awcopy agent` processes copy S3 -> Azure; an agent killed with kill -9
//! mid-job and a nats-server killed and restarted change nothing in what arrives.

use crate::common::rig::{Access, Rig};
use crate::common::service::{self as svc, Process, ADMIN, ALICE};
use awcopy_testkit as kit;
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The blocks of source object `key` each agent logged as staged, by agent.
fn blocks_staged(agents: &[&Process], key: &str) -> Vec<usize> {
    let needle = format!("of '{key}'");
    agents
        .iter()
        .map(|a| {
            a.lines()
                .iter()
                .filter(|l| {
                    l.contains("block ") && l.contains(&needle) && l.contains("failed=false")
                })
                .count()
        })
        .collect()
}

/// The agents the service's catalogue (in `dir`) names as having staged the blocks of each
/// object of job `id` made of blocks, by source key.
fn staged_by(dir: &std::path::Path, id: &str) -> BTreeMap<String, Vec<String>> {
    let db = rusqlite::Connection::open_with_flags(
        dir.join("service.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut query = db
        .prepare(
            "SELECT key, staged_by FROM job_objects
             WHERE job_number = (SELECT number FROM jobs WHERE id = ?) AND staged_by IS NOT NULL",
        )
        .unwrap();
    let rows = query
        .query_map([id], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .unwrap();
    rows.map(|row| {
        let (key, agents) = row.unwrap();
        (key, agents.split(',').map(str::to_owned).collect())
    })
    .collect()
}

/// Waits (60 s at most) until one of `agents` has logged a block.
async fn until_a_block_is_staged(agents: &[Process]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !agents
        .iter()
        .any(|a| a.lines().iter().any(|l| l.contains("block ")))
    {
        assert!(Instant::now() < deadline, "no block was staged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Mixed small objects and two of 40 MiB.
fn data() -> BTreeMap<String, Vec<u8>> {
    let mut files: BTreeMap<String, Vec<u8>> = (0..24)
        .map(|i| {
            (
                format!("small/{i:02}"),
                kit::pattern(100 + i * 5000, i as u64),
            )
        })
        .collect();
    for i in 0..2 {
        files.insert(format!("large{i}"), kit::pattern(40 << 20, 90 + i as u64));
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_agents_copy_a_job_and_one_killed_mid_job_changes_nothing() {
    let files = data();
    // Slowed so that the job is still running when an agent dies.
    let rig = Rig::new("agents", &files, 100).await;
    let (service, container) = (&rig.service, &rig.container);
    let mut agents: Vec<Process> = (1..=3)
        .map(|n| rig.agent(&format!("agent-{n}"), 4))
        .collect();
    let id = rig
        .submit(serde_json::json!({"sizes": {"block_size": 4 << 20}}))
        .await;

    // Once agent-1 has staged a block, kill it.
    until_a_block_is_staged(&agents[..1]).await;
    agents[0].kill9();
    let job = rig.ended(&id).await;
    assert_eq!(job["status"], "completed", "{job}");
    kit::assert_holds(&kit::open(container).await, "", &files).await;

    // The catalogue names the agents that staged each large object's blocks: more than one
    // for at least one of them, and only agents that ran.
    let staged_by = staged_by(rig.dir.path(), &id);
    assert_eq!(
        staged_by.keys().collect::<Vec<_>>(),
        ["large0", "large1"],
        "{staged_by:?}"
    );
    assert!(
        staged_by.values().any(|agents| agents.len() >= 2),
        "blocks of one object spread over agents: {staged_by:?}"
    );
    assert!(
        staged_by
            .values()
            .flatten()
            .all(|a| ["agent-1", "agent-2", "agent-3"].contains(&a.as_str())),
        "{staged_by:?}"
    );
    // The killed agent's items were staged again at most once each (it ran at most 4 at
    // once), as the agents' logs count them.
    let all: Vec<&Process> = agents.iter().collect();
    for key in ["large0", "large1"] {
        let staged = blocks_staged(&all, key);
        let total: usize = staged.iter().sum();
        assert!(
            (10..=10 + 4).contains(&total),
            "{key}: blocks staged by each agent {staged:?}"
        );
    }
    // The agents are visible, the killed one lost.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let listed = service.get("/api/v1/agents", ALICE).await;
    let lost: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["lost"] == true)
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(lost, vec!["agent-1".to_owned()], "{listed}");
    let metrics = service.metrics().await;
    assert!(metrics.contains("agent=\"agent-2\""), "{metrics}");
    agents.clear();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replication_outlives_an_agent_killed_mid_stream() {
    use awcopy_testkit::change_events as events;
    let (queue, _) = events::new_sqs_queue("agents-repl").await;
    // Slowed so that blocks are still in flight when an agent dies.
    let rig = Rig::replicating("agents-repl", &queue, 50).await;
    events::notify(&rig.bucket, &queue).await;
    let mut agents: Vec<Process> = (1..=2)
        .map(|n| rig.agent(&format!("agent-{n}"), 4))
        .collect();
    let body = serde_json::json!({
        "spec": {"version": 1, "mode": "sync", "source": format!("{}", rig.bucket),
                 "dest": kit::fault_proxy::through(&rig.proxy, &rig.container),
                 "sizes": {"block_size": 4 << 20}},
        "queue": queue,
    });
    let made = rig
        .service
        .create("/api/v1/replications", ALICE, body)
        .await;
    let files = data();
    kit::put_all(&kit::open(&rig.bucket).await, &files).await;
    // Once agent-1 has staged a block of a replicated object, kill it.
    until_a_block_is_staged(&agents[..1]).await;
    agents[0].kill9();
    let container = kit::open(&rig.container).await;
    let within = Duration::from_secs(180);
    if let Err(why) =
        awcopy_testkit::change_events::wait_until_holds(&container, "", &files, within).await
    {
        let id = made["id"].as_str().unwrap();
        let view = rig
            .service
            .get(&format!("/api/v1/replications/{id}"), ALICE)
            .await;
        panic!("the destination never matched: {why}; {view}");
    }
    agents.clear();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_server_restarted_mid_job_loses_nothing() {
    let files = data();
    let mut rig = Rig::new("agents-restart", &files, 100).await;
    let agents: Vec<Process> = (1..=2)
        .map(|n| rig.agent(&format!("agent-{n}"), 4))
        .collect();
    let id = rig
        .submit(serde_json::json!({"sizes": {"block_size": 4 << 20}}))
        .await;
    until_a_block_is_staged(&agents).await;
    rig.nats.restart();
    let job = rig.ended(&id).await;
    assert_eq!(job["status"], "completed", "{job}");
    kit::assert_holds(&kit::open(&rig.container).await, "", &files).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_that_always_fails_becomes_a_dead_letter_and_retry_copies_it() {
    let mut files: BTreeMap<String, Vec<u8>> = (0..40)
        .map(|i| (format!("f{i:02}"), kit::pattern(1000 + i, i as u64)))
        .collect();
    files.insert("zz-victim".to_owned(), kit::pattern(777, 99));
    let rig = Rig::new("agents-dead", &files, 300).await;
    let (service, container) = (&rig.service, &rig.container);
    let s3 = kit::open(&rig.bucket).await;
    let agents = [rig.agent("agent-1", 1), rig.agent("agent-2", 1)];
    let id = rig
        .submit(serde_json::json!({"tuning": {"concurrency": 1}}))
        .await;
    // Listed, then paused while the first objects go: the victim (listed last) is deleted.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = service.get(&format!("/api/v1/jobs/{id}"), ALICE).await;
        if job["counters"]["objects_listed"].as_u64().unwrap() == files.len() as u64 {
            break;
        }
        assert!(Instant::now() < deadline, "never listed: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, paused) = service
        .call(
            "POST",
            &format!("/api/v1/jobs/{id}/pause"),
            Some(ALICE),
            None,
        )
        .await;
    assert_eq!(status, 200, "{paused}");
    let az = kit::open(container).await;
    assert!(
        !kit::versions(&az).await.contains_key("zz-victim"),
        "the victim was not copied before the pause"
    );
    s3.delete("zz-victim").await.unwrap();
    let (status, _) = service
        .call(
            "POST",
            &format!("/api/v1/jobs/{id}/resume"),
            Some(ALICE),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let job = rig.ended(&id).await;
    assert_eq!(job["status"], "completed-with-failures", "{job}");
    let failures = service
        .get(&format!("/api/v1/jobs/{id}/failures"), ALICE)
        .await;
    let failures = failures.as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["key"], "zz-victim");
    assert_eq!(failures[0]["error_class"], "not-found", "{failures:?}");
    // It was delivered four times, and its last failure became the dead letter.
    let lines: Vec<String> = agents.iter().flat_map(|a| a.lines()).collect();
    let dead: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("object 'zz-victim'") && l.contains("failed=true"))
        .collect();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].contains("delivered=4"), "{dead:?}");
    for delivered in 1..=3 {
        assert!(
            lines.iter().any(|l| l.contains("object 'zz-victim'")
                && l.contains("handed back")
                && l.contains(&format!("delivered={delivered}"))),
            "delivery {delivered} was handed back"
        );
    }

    // Restored, a retry copies it, and only it.
    s3.put(
        "zz-victim",
        files["zz-victim"].clone().into(),
        &Default::default(),
        None,
    )
    .await
    .unwrap();
    let out = crate::common::awcopy_with_env(
        &["jobs", "retry", &id, "--server", &service.url],
        &[("AWCOPY_TOKEN", ALICE)],
    );
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    kit::assert_holds(&az, "", &files).await;
}

/// A message's `Nats-Msg-Id`.
fn message_id(message: &async_nats::Message) -> String {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default()
}

/// Publishes `payload` on the stream under `id`; says whether the stream took it as a
/// duplicate.
async fn publish(
    js: &async_nats::jetstream::Context,
    subject: &str,
    payload: bytes::Bytes,
    id: &str,
) -> bool {
    let message = async_nats::jetstream::message::PublishMessage::build()
        .payload(payload)
        .message_id(id);
    let ack = js.send_publish(subject.to_owned(), message).await.unwrap();
    ack.await.unwrap().duplicate
}

/// Delivery is at least once; effects are once. While a job runs, every outcome an agent
/// stores is published again under a new id (the service reads it twice). Once the job is
/// done, every work item is published again with its own id (inside the stream's duplicate
/// window: the stream drops it) and with a new id (as if past the window: stored, delivered,
/// and dropped by the agent that finds its outcome stored). Nothing is copied again (every
/// destination ETag stays), and the job counts each object once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_and_outcomes_published_twice_copy_once_and_count_once() {
    use futures::StreamExt;
    let mut files: BTreeMap<String, Vec<u8>> = (0..30)
        .map(|i| {
            (
                format!("d/{i:02} ü"),
                kit::pattern(2000 + i * 300, i as u64),
            )
        })
        .collect();
    files.insert("large".to_owned(), kit::pattern((10 << 20) + 7, 5));
    let rig = Rig::new("agents-dup", &files, 20).await;
    let client = async_nats::connect(&rig.nats.url).await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let mut work = client.subscribe("awcopy.work.>").await.unwrap();
    let mut results = client.subscribe("awcopy.results.>").await.unwrap();
    client.flush().await.unwrap();
    let items = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = items.clone();
    let watcher = tokio::spawn(async move {
        while let Some(message) = work.next().await {
            seen.lock().unwrap().push(message);
        }
    });
    let (echoing, echoed) = (js.clone(), std::sync::Arc::new(AtomicUsize::new(0)));
    let counted = echoed.clone();
    let echo = tokio::spawn(async move {
        while let Some(message) = results.next().await {
            let id = message_id(&message);
            if id.starts_with("echo-") {
                continue;
            }
            let subject = message.subject.to_string();
            let again = publish(&echoing, &subject, message.payload, &format!("echo-{id}")).await;
            assert!(!again, "a new id is not a duplicate: {subject} {id}");
            counted.fetch_add(1, Ordering::Relaxed);
        }
    });
    let agents = [rig.agent("agent-1", 4), rig.agent("agent-2", 4)];
    let id = rig
        .submit(serde_json::json!({"sizes": {"block_size": 4 << 20}}))
        .await;
    let done = rig.ended(&id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let total: u64 = files.values().map(|f| f.len() as u64).sum();
    assert_eq!(
        done["counters"]["objects_done"],
        files.len() as u64,
        "{done}"
    );
    assert_eq!(done["counters"]["bytes_done"], total, "{done}");
    let az = kit::open(&rig.container).await;
    kit::assert_holds(&az, "", &files).await;
    let etags = kit::versions(&az).await;

    let items: Vec<async_nats::Message> = std::mem::take(&mut *items.lock().unwrap());
    // 30 small objects in batches, 3 blocks and a commit.
    assert!(
        (5..=30 + 4).contains(&items.len()),
        "{} items published",
        items.len()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while echoed.load(Ordering::Relaxed) < items.len() {
        assert!(Instant::now() < deadline, "every outcome published twice");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for item in &items {
        let (subject, id) = (item.subject.to_string(), message_id(item));
        assert!(!id.is_empty(), "every item has a message id");
        assert!(
            publish(&js, &subject, item.payload.clone(), &id).await,
            "the same id inside the window is a duplicate"
        );
        assert!(
            !publish(&js, &subject, item.payload.clone(), &format!("{id}.later")).await,
            "a new id is stored"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let dropped = agents
            .iter()
            .flat_map(|a| a.lines())
            .filter(|l| l.contains("answered before; dropped"))
            .count();
        if dropped == items.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{dropped} of {} duplicates dropped",
            items.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // An agent logs a drop just before its ack reaches the server.
    let mut stream = js.get_stream("AWCOPY_WORK").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while stream.info().await.unwrap().state.messages > 0 {
        assert!(Instant::now() < deadline, "every duplicate acked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(kit::versions(&az).await, etags, "nothing copied again");
    kit::assert_holds(&az, "", &files).await;
    let after = rig.service.get(&format!("/api/v1/jobs/{id}"), ALICE).await;
    assert_eq!(after["counters"], done["counters"], "{after}");
    assert!(!echo.is_finished(), "the echo did not fail");
    watcher.abort();
    echo.abort();
}

/// With no agent pulling, a job whose one object is cut into twice as many blocks as a run may
/// have outstanding puts only that many items on the stream, and holds there; an agent started
/// later drains it and the job completes. (From a local directory: a server-side route would
/// wait for its first answer before sending more.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_keeps_a_bounded_number_of_items_on_the_stream() {
    let bound = awcopy_service::nats::OUTSTANDING_PER_RUN;
    let block = 4096;
    let mut files = BTreeMap::new();
    files.insert(
        "many-blocks".to_owned(),
        kit::pattern(2 * bound * block + 1, 7),
    );
    let source = tempfile::tempdir().unwrap();
    let rig = Rig::reading_local("agents-bound", source.path()).await;
    for (key, bytes) in &files {
        std::fs::write(source.path().join(key), bytes).unwrap();
    }
    let js = async_nats::jetstream::new(async_nats::connect(&rig.nats.url).await.unwrap());
    let body = serde_json::json!({
        "version": 1, "mode": "cp", "recursive": true,
        "source": source.path().to_str().unwrap(),
        "dest": rig.container.to_string(),
        "sizes": {"block_size": block},
    });
    // The administrator may read a local directory a user was granted.
    let id = rig.service.create("/api/v1/jobs", ADMIN, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The stream fills up to the bound, then stays there for two seconds.
    let mut stream = js.get_stream("AWCOPY_WORK").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut most = 0;
    let mut full_since: Option<Instant> = None;
    while full_since.is_none_or(|t| t.elapsed() < Duration::from_secs(2)) {
        assert!(
            Instant::now() < deadline,
            "the stream held at most {most} items"
        );
        let held = stream.info().await.unwrap().state.messages as usize;
        most = most.max(held);
        assert!(
            most <= bound,
            "{most} items on the stream, more than {bound}"
        );
        if held == bound {
            full_since.get_or_insert_with(Instant::now);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let job = rig.service.get(&format!("/api/v1/jobs/{id}"), ADMIN).await;
    assert_eq!(job["status"], "running", "{job}");

    let _agent = rig.agent("agent-1", 16);
    let ends = ["completed", "completed-with-failures", "failed"];
    let job = rig.service.wait_for(&id, ADMIN, &ends).await;
    assert_eq!(job["status"], "completed", "{job}");
    kit::assert_holds(&kit::open(&rig.container).await, "", &files).await;
    assert_eq!(
        stream.info().await.unwrap().state.messages,
        0,
        "stream drained"
    );
}

/// NATS with decentralized auth (an operator, an account, a user's `.creds` file given by
/// `--nats-creds`): the service and an agent copy a job through it; an agent without the
/// file is refused at once; no log, answer or catalogue holds the user's seed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_and_agents_reach_nats_with_a_creds_file() {
    let files: BTreeMap<String, Vec<u8>> = (0..12)
        .map(|i| (format!("c/{i:02}"), kit::pattern(300 + i * 1000, i as u64)))
        .collect();
    let auth = tempfile::tempdir().unwrap();
    let (config, creds) = svc::nats_credentials(auth.path());
    let seed = std::fs::read_to_string(&creds)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("SU"))
        .unwrap()
        .to_owned();
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let access = Access {
        server: vec!["-c".to_owned(), path(&config)],
        flags: vec!["--nats-creds".to_owned(), path(&creds)],
        env: Vec::new(),
    };
    let rig = Rig::guarded("agents-creds", &files, 0, access).await;
    let agent = rig.agent("agent-creds", 4);
    let id = rig.submit(serde_json::json!({})).await;
    let job = rig.ended(&id).await;
    assert_eq!(job["status"], "completed", "{job}");
    kit::assert_holds(&kit::open(&rig.container).await, "", &files).await;

    let out = Command::new(env!("CARGO_BIN_EXE_awcopy"))
        .args(["agent", "--nats", &rig.nats.url, "--name", "no-creds"])
        .arg("--nats-key")
        .arg(rig.dir.path().join("nats.key"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = crate::common::stderr(&out);
    assert!(
        said.contains(&rig.nats.url) && said.contains("authorization"),
        "{said}"
    );
    assert!(
        !rig.everything_shown(&agent).contains(&seed),
        "the user's seed was shown"
    );
}

/// NATS behind TLS (a private CA, given by `--nats-ca`) and a token (`AWCOPY_NATS_TOKEN`): the
/// service and an agent copy a job through it. An agent with a wrong token, or without the
/// CA, stops at once with an error naming the server and not the token; no log, answer or
/// catalogue holds the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_and_agents_reach_nats_over_tls_with_a_token() {
    const TOKEN: &str = "nats-token-3f9a7c1e55";
    const WRONG: &str = "wrong-token-8d2b4a";
    let files: BTreeMap<String, Vec<u8>> = (0..12)
        .map(|i| (format!("t/{i:02}"), kit::pattern(300 + i * 1000, i as u64)))
        .collect();
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = svc::certificates(certs.path());
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let access = Access {
        server: ["--tls", "--tlscert", &path(&cert), "--tlskey", &path(&key)]
            .into_iter()
            .map(str::to_owned)
            .chain(["--auth".to_owned(), TOKEN.to_owned()])
            .collect(),
        flags: vec!["--nats-ca".to_owned(), path(&ca)],
        env: vec![("AWCOPY_NATS_TOKEN".to_owned(), TOKEN.to_owned())],
    };
    let rig = Rig::guarded("agents-tls", &files, 0, access).await;
    assert!(rig.nats.url.starts_with("tls://"), "{}", rig.nats.url);
    let agent = rig.agent("agent-tls", 4);
    let id = rig.submit(serde_json::json!({})).await;
    let job = rig.ended(&id).await;
    assert_eq!(job["status"], "completed", "{job}");
    kit::assert_holds(&kit::open(&rig.container).await, "", &files).await;

    let refused = |mut command: Command| {
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "an agent refused by NATS kept running"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success());
        crate::common::stderr(&out)
    };
    let mut wrong = rig.agent_command("intruder", 1);
    wrong.env("AWCOPY_NATS_TOKEN", WRONG);
    let said = refused(wrong);
    assert!(
        said.contains(&rig.nats.url) && said.contains("authorization"),
        "{said}"
    );
    assert!(!said.contains(WRONG), "{said}");
    let mut no_ca = Command::new(env!("CARGO_BIN_EXE_awcopy"));
    no_ca
        .args(["agent", "--nats", &rig.nats.url])
        .arg("--nats-key")
        .arg(rig.dir.path().join("nats.key"))
        .env("AWCOPY_NATS_TOKEN", TOKEN);
    let said = refused(no_ca);
    assert!(said.contains(&rig.nats.url), "{said}");
    assert!(!said.contains(TOKEN), "{said}");

    assert!(
        !rig.everything_shown(&agent).contains(TOKEN),
        "the NATS token was shown"
    );
}
