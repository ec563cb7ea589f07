//! Anyone on the NATS network, tried as an attacker: forged work items, heartbeats and
//! outcomes change nothing, a NATS user without rights cannot publish work, and NATS URLs
//! carry no credentials.

use crate::common::service::{self as svc, Service, ALICE};
use crate::common::{awcopy_with_env, stderr};
use awcopy_testkit as kit;
use std::collections::BTreeMap;
use std::time::Duration;

/// A service with no agent of its own on a nats-server, one `awcopy agent`, and alice's grants
/// on a bucket and a container (reached through a slowing proxy, so a job lasts).
struct NatsRig {
    bucket: awcopy_store::Location,
    container: awcopy_store::Location,
    nats: svc::Nats,
    service: Service,
    agent: svc::Process,
    _proxy: kit::fault_proxy::FaultProxy,
    _store: tempfile::TempDir,
    _dir: tempfile::TempDir,
}

/// The key the rig's service and agent seal their messages with.
const RIG_KEY: &str = "trust-rig-key-5d2c8e1f0a3b7c9d4e6f8a2b1c3d5e7f";

impl NatsRig {
    /// The rig, nats-server given `nats_args`, the service `service_env` and the agent
    /// `agent_env` (their NATS users).
    async fn start(
        hint: &str,
        files: &BTreeMap<String, Vec<u8>>,
        nats_args: &[String],
        service_env: &[(&str, &str)],
        agent_env: &[(&str, &str)],
    ) -> Self {
        let bucket = kit::new_s3_bucket(hint).await;
        let container = kit::new_azure_container(hint).await;
        kit::put_all(&kit::open(&bucket).await, files).await;
        let store = tempfile::tempdir().unwrap();
        let nats = svc::Nats::start_with(store.path(), nats_args);
        let (dir_guard, dir) = svc::service_dir();
        let proxy = kit::fault_proxy::slow_azure(40).await;
        let stores = svc::azure_through(&proxy);
        let grant = vec![bucket.to_string(), container.to_string()];
        svc::write_config_with(&dir, (&grant, &grant), (&[], &[]), &stores);
        std::fs::write(dir.join("stores.toml"), &stores).unwrap();
        let key = dir.join("nats.key");
        std::fs::write(&key, RIG_KEY).unwrap();
        let key = key.to_str().unwrap().to_owned();
        let service = svc::start_with_env(
            &dir,
            &["--agents", "0", "--nats", &nats.url, "--nats-key", &key],
            service_env,
        );
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_awcopy"));
        command
            .args([
                "-v",
                "agent",
                "--nats",
                &nats.url,
                "--nats-key",
                &key,
                "--name",
                "agent-1",
            ])
            .args(["--endpoint-url", &kit::s3_endpoint()])
            .arg("--config")
            .arg(dir.join("stores.toml"))
            .envs(agent_env.iter().copied());
        let agent = svc::Process::start(command);
        agent.wait_for_line("pulling work items");
        Self {
            bucket,
            container,
            nats,
            service,
            agent,
            _proxy: proxy,
            _store: store,
            _dir: dir_guard,
        }
    }

    /// Submits, as alice, a copy of the bucket's `in/` to the container's `out/`.
    async fn submit(&self) -> String {
        let body = svc::with(
            svc::copy_spec(
                &format!("{}in/", self.bucket),
                &format!("{}out/", self.container),
            ),
            serde_json::json!({"sizes": {"block_size": 1 << 20}}),
        );
        self.service.create("/api/v1/jobs", ALICE, body).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// Publishes `payload` on `subject` through JetStream under message id `id`; whether the
/// server took it.
async fn publish(
    js: &async_nats::jetstream::Context,
    subject: &str,
    payload: Vec<u8>,
    id: &str,
) -> bool {
    let message = async_nats::jetstream::message::PublishMessage::build()
        .payload(payload.into())
        .message_id(id);
    match js.send_publish(subject.to_owned(), message).await {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    }
}

/// A work item a forger makes: copy `key` from `source` to `dest`, as a job of `spec`.
fn forged_item(run: &str, source: &str, dest: &str, key: &str) -> Vec<u8> {
    use awcopy_engine::spec::{JobSpec, Mode};
    use awcopy_engine::work::{ObjectItem, WorkItem};
    let mut spec = JobSpec::new(Mode::Copy, source, dest);
    spec.recursive = true;
    spec.s3_endpoint = Some(kit::s3_endpoint());
    let message = awcopy_service::nats::WorkMessage {
        run: run.to_owned(),
        id: "f0f0f0f0".to_owned(),
        spec,
        item: WorkItem::Objects {
            objects: vec![ObjectItem {
                source: awcopy_store::ObjectMeta::new(key, 12),
                dest_key: key.to_owned(),
                route: awcopy_engine::estimate::Route::Streamed,
            }],
        },
    };
    serde_json::to_vec(&message).unwrap()
}

/// Anyone who can publish on the NATS server but lacks the key changes nothing: forged work
/// items (unsealed, sealed with another key, altered, replayed on another run) run nowhere,
/// forged outcomes, stops and heartbeats are dropped, and each is counted; a real job beside
/// them completes with every byte, counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_nats_messages_change_nothing() {
    let mut files: BTreeMap<String, Vec<u8>> = (0..12)
        .map(|i| (format!("in/s{i:02}"), kit::pattern(1000 + i * 77, i as u64)))
        .collect();
    files.insert("in/large".into(), kit::pattern((4 << 20) + 5, 99));
    let rig = NatsRig::start("trust-forge", &files, &[], &[], &[]).await;
    let local = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(local.path().join("src")).unwrap();
    std::fs::create_dir_all(local.path().join("dst")).unwrap();
    std::fs::write(local.path().join("src/secret.txt"), b"LOCAL-SECRET").unwrap();
    let (src, dst) = (local.path().join("src"), local.path().join("dst"));
    let forger = async_nats::connect(&rig.nats.url).await.unwrap();
    let js = async_nats::jetstream::new(forger.clone());
    let run = kit::unique_name("forged");
    forge_items_heartbeats_and_outcomes(&forger, &js, &run, &rig, &src, &dst).await;
    let id = submit_and_forge_from_its_messages(&rig, &forger, &js, &run).await;

    let done = rig.service.wait_for(&id, ALICE, &svc::ENDS).await;
    assert_eq!(done["status"], "completed", "{done}");
    let total: u64 = files.values().map(|f| f.len() as u64).sum();
    assert_eq!(
        done["counters"]["objects_done"],
        files.len() as u64,
        "{done}"
    );
    assert_eq!(done["counters"]["bytes_done"], total, "{done}");
    let expected: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|(k, v)| (k.replacen("in/", "out/", 1), v.clone()))
        .collect();
    kit::assert_holds(&kit::open(&rig.container).await, "", &expected).await;
    // Nothing a forgery asked for happened.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        std::fs::read_dir(&dst).unwrap().count(),
        0,
        "a forged item wrote the agent's disk"
    );
    let s3 = kit::open(&rig.bucket).await;
    assert!(
        kit::versions(&s3)
            .await
            .keys()
            .all(|k| k.starts_with("in/")),
        "a forged item copied"
    );
    let agents = rig.service.get("/api/v1/agents", ALICE).await;
    let names: Vec<&str> = agents
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["agent-1"], "{agents}");
    let rejected = agents[0]["rejected"].as_u64().unwrap();
    assert!(rejected >= 7, "the agent dropped and counted 4 items, the altered one, the replayed one and the stop: {agents}");
    let metrics = rig.service.metrics().await;
    let service_rejected: u64 = metrics
        .lines()
        .find(|l| l.starts_with("awcopy_nats_rejected_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        service_rejected >= 4,
        "two heartbeats and two outcomes dropped: {metrics}"
    );
    let said = rig.agent.lines().join("\n");
    assert!(said.contains("without a valid seal"), "{said}");
    assert!(!said.contains("LOCAL-SECRET") && !said.contains(RIG_KEY));
    assert!(!rig.service.log().contains(RIG_KEY));
}

/// Publishes, before any job: work items that would read the agent's disk or copy within the
/// bucket (unsealed, and sealed with a wrong key), heartbeats of an agent that does not exist
/// and an outcome, none sealed with the service's key.
async fn forge_items_heartbeats_and_outcomes(
    forger: &async_nats::Client,
    js: &async_nats::jetstream::Context,
    run: &str,
    rig: &NatsRig,
    src: &std::path::Path,
    dst: &std::path::Path,
) {
    let wrong = awcopy_service::nats::SealKey::from_bytes(&[9u8; 32]);
    let subject = format!("awcopy.work.{run}");
    let local_item = forged_item(
        run,
        src.to_str().unwrap(),
        dst.to_str().unwrap(),
        "secret.txt",
    );
    let s3_item = forged_item(
        run,
        &format!("{}in/", rig.bucket),
        &format!("{}stolen/", rig.bucket),
        "s00",
    );
    assert!(publish(js, &subject, local_item.clone(), "forged-1").await);
    assert!(publish(js, &subject, wrong.seal(&subject, &local_item), "forged-2").await);
    assert!(publish(js, &subject, s3_item.clone(), "forged-3").await);
    assert!(publish(js, &subject, wrong.seal(&subject, &s3_item), "forged-4").await);
    let beat = serde_json::json!({
        "sent_at": time::OffsetDateTime::now_utc().unix_timestamp(), "name": "evil-agent",
        "host": "h", "version": "0", "in_flight": 0, "items_done": 999, "items_failed": 0,
        "bytes": 1, "bytes_per_sec": 1,
    })
    .to_string();
    forger
        .publish("awcopy.agents", beat.clone().into())
        .await
        .unwrap();
    forger
        .publish(
            "awcopy.agents",
            wrong.seal("awcopy.agents", beat.as_bytes()).into(),
        )
        .await
        .unwrap();
    let outcome = serde_json::json!({"id": format!("{run}.f0f0f0f0"), "agent": "evil", "result": {"Ok": {"type": "committed"}}, "bytes": 1});
    assert!(
        publish(
            js,
            &format!("awcopy.results.{run}.f0f0f0f0"),
            outcome.to_string().into_bytes(),
            "forged-5"
        )
        .await
    );
}

/// Submits a real job, then forges from its first work item: the item altered, replayed under
/// another run, a stop of its run and a failed outcome, none sealed. Returns the job's id.
async fn submit_and_forge_from_its_messages(
    rig: &NatsRig,
    forger: &async_nats::Client,
    js: &async_nats::jetstream::Context,
    run: &str,
) -> String {
    use futures::StreamExt;
    let mut work = forger.subscribe("awcopy.work.>").await.unwrap();
    forger.flush().await.unwrap();
    let id = rig.submit().await;
    let real = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let message = work.next().await.unwrap();
            if !message.subject.as_str().ends_with(&run) {
                return message;
            }
        }
    })
    .await
    .expect("the job's first work item");
    let real_subject = real.subject.to_string();
    let real_run = real_subject.rsplit('.').next().unwrap().to_owned();
    let body: serde_json::Value = serde_json::from_slice(&real.payload[32..]).unwrap();
    let item_id = body["id"].as_str().unwrap().to_owned();
    let mut altered = real.payload.to_vec();
    *altered.last_mut().unwrap() ^= 0x20;
    assert!(publish(js, &real_subject, altered, "forged-6").await);
    let elsewhere = format!("awcopy.work.{}", kit::unique_name("replayed"));
    assert!(publish(js, &elsewhere, real.payload.to_vec(), "forged-7").await);
    forger
        .publish(format!("awcopy.stop.{real_run}"), "stop".into())
        .await
        .unwrap();
    let forged_outcome = serde_json::json!({
        "id": format!("{real_run}.{item_id}"), "agent": "evil",
        "result": {"Err": {"kind": "not-found", "message": "forged"}}, "bytes": 0,
    });
    forger
        .publish(
            format!("awcopy.results.{real_run}.{item_id}"),
            forged_outcome.to_string().into(),
        )
        .await
        .unwrap();
    forger.flush().await.unwrap();
    id
}

/// With NATS users and subject permissions (the README's), the service and an agent copy a
/// job; a user of the same server without those rights can neither put work on the stream
/// nor read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_user_without_rights_cannot_publish_work() {
    use futures::StreamExt;
    let files: BTreeMap<String, Vec<u8>> = (0..6)
        .map(|i| (format!("in/p{i}"), kit::pattern(3000 + i, i as u64)))
        .collect();
    let auth = tempfile::tempdir().unwrap();
    let conf = auth.path().join("nats.conf");
    std::fs::write(
        &conf,
        include_str!("../../../../../docs/nats-permissions.conf"),
    )
    .unwrap();
    let rig = NatsRig::start(
        "trust-perm",
        &files,
        &["-c".to_owned(), conf.to_str().unwrap().to_owned()],
        &[
            ("AWCOPY_NATS_USER", "awcopy-service"),
            ("AWCOPY_NATS_PASSWORD", "service-password-change-me"),
        ],
        &[
            ("AWCOPY_NATS_USER", "awcopy-agent"),
            ("AWCOPY_NATS_PASSWORD", "agent-password-change-me"),
        ],
    )
    .await;
    let someone = async_nats::ConnectOptions::with_user_and_password(
        "someone".into(),
        "someone-password-change-me".into(),
    )
    .connect(&rig.nats.url)
    .await
    .unwrap();
    let mut watch = someone.subscribe("awcopy.work.>").await.unwrap();
    let js = async_nats::jetstream::new(someone.clone());
    let item = forged_item(
        "perm-run",
        &format!("{}in/", rig.bucket),
        &format!("{}stolen/", rig.bucket),
        "p0",
    );
    assert!(
        !publish(&js, "awcopy.work.perm-run", item, "denied-1").await,
        "the server took work from a user without the right"
    );
    let id = rig.submit().await;
    let done = rig.service.wait_for(&id, ALICE, &svc::ENDS).await;
    assert_eq!(done["status"], "completed", "{done}");
    let expected: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|(k, v)| (k.replacen("in/", "out/", 1), v.clone()))
        .collect();
    kit::assert_holds(&kit::open(&rig.container).await, "", &expected).await;
    let seen = tokio::time::timeout(Duration::from_secs(1), watch.next()).await;
    assert!(
        !matches!(seen, Ok(Some(_))),
        "a user without the right read a work item"
    );
}

/// Credentials never go in a `--nats` URL (process listings show it), and NATS is never used
/// without the key that seals its messages: refused at once, the password not repeated.
#[test]
fn nats_urls_carry_no_credentials_and_need_a_seal_key() {
    let (_guard, dir) = svc::service_dir();
    svc::write_config(&dir, (&[], &[]), (&[], &[]));
    let (key, short) = (dir.join("nats.key"), dir.join("short.key"));
    std::fs::write(&key, "k".repeat(44)).unwrap();
    std::fs::write(&short, "short").unwrap();
    let config = dir.join("service.toml");
    let (key, short, config) = (
        key.to_str().unwrap(),
        short.to_str().unwrap(),
        config.to_str().unwrap(),
    );
    let with_password = "nats://awcopy:SECRET-NATS-PASSWORD@127.0.0.1:4222";
    for (args, needles) in [
        (
            vec!["agent", "--nats", with_password, "--nats-key", key],
            vec!["--nats-creds", "AWCOPY_NATS_PASSWORD"],
        ),
        (
            vec![
                "serve",
                "--config",
                config,
                "--nats",
                with_password,
                "--nats-key",
                key,
            ],
            vec!["--nats-creds"],
        ),
        (
            vec!["agent", "--nats", "nats://127.0.0.1:4222"],
            vec!["--nats-key"],
        ),
        (
            vec![
                "agent",
                "--nats",
                "nats://127.0.0.1:4222",
                "--nats-key",
                short,
            ],
            vec!["at least 32"],
        ),
    ] {
        let out = awcopy_with_env(&args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        for needle in needles {
            assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        }
        assert!(
            !stderr(&out).contains("SECRET-NATS-PASSWORD"),
            "{}",
            stderr(&out)
        );
    }
}
