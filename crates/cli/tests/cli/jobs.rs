//! Durable jobs as a user meets them: `awcopy` killed with SIGKILL mid-copy and resumed,
//! stopped with Ctrl-C and resumed, cancelled with nothing left half-written; every key and
//! byte verified, and the requests each run sent counted through the fault proxy.

use crate::common::{assert_fails, awcopy, stderr, stdout};
use awcopy_jobs::{Catalog, JobCatalog, JobRecord, Status};
use awcopy_store::Location;
use awcopy_testkit as kit;
use kit::fault_proxy::{FaultProxy, Faults};
use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A catalogue of its own for one test.
struct Db {
    dir: tempfile::TempDir,
}

impl Db {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> String {
        self.dir.path().join("jobs.db").to_str().unwrap().to_owned()
    }

    /// Runs awcopy on this catalogue.
    fn run(&self, args: &[&str]) -> std::process::Output {
        let path = self.path();
        let mut all = vec!["--db", &path];
        all.extend_from_slice(args);
        awcopy(&all)
    }

    /// Starts awcopy on this catalogue in the background.
    fn spawn(&self, args: &[&str]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_awcopy"))
            .arg("--db")
            .arg(self.path())
            .args(args)
            .env("AWS_ENDPOINT_URL", kit::s3_endpoint())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start awcopy")
    }

    async fn catalog(&self) -> Catalog {
        Catalog::open(std::path::Path::new(&self.path()))
            .await
            .unwrap()
    }

    /// The one job in the catalogue.
    async fn job(&self) -> JobRecord {
        let jobs = self
            .catalog()
            .await
            .list(&awcopy_jobs::ListFilter::default())
            .await
            .unwrap();
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        jobs.into_iter().next().unwrap()
    }
}

/// Waits until `ready` holds, failing if the child exits first or it takes a minute.
async fn wait_until(child: &mut Child, what: &str, ready: impl Fn() -> bool) {
    for _ in 0..1200 {
        if ready() {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("awcopy exited ({status}) before {what}: {err}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A proxy in front of `upstream` that adds `millis` to every request.
async fn delayed(upstream: &str, millis: u64) -> FaultProxy {
    let faults = Faults {
        delay: Duration::from_millis(millis),
        ..Faults::default()
    };
    FaultProxy::start(upstream, faults).await
}

/// Sends the child SIGINT, as Ctrl-C does.
fn interrupt(child: &Child) {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Runs awcopy with `args` and kills it with SIGKILL once `sent` finds `at` requests in the
/// proxy's log; returns what `sent` found by then, and where the log stood.
async fn kill_9_after(
    db: &Db,
    args: &[&str],
    proxy: &FaultProxy,
    at: usize,
    sent: impl Fn(&[String]) -> Vec<String>,
) -> (Vec<String>, usize) {
    let mut child = db.spawn(args);
    wait_until(&mut child, &format!("{at} requests were sent"), || {
        sent(&proxy.counters.requests_since(0)).len() >= at
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mark = proxy.counters.logged();
    (sent(&proxy.counters.requests_since(0)), mark)
}

/// Requests in `log` that match `method` and contain `needle`.
fn matching<'a>(log: &'a [String], method: &str, needle: &str) -> Vec<&'a String> {
    log.iter()
        .filter(|r| r.starts_with(&format!("{method} ")) && r.contains(needle))
        .collect()
}

/// The Azure Put Block requests in `log`.
fn put_blocks(log: &[String]) -> Vec<&String> {
    matching(log, "PUT", "blockid=")
}

/// Writes `files` (key, bytes) under a fresh local directory.
fn local_source(files: &BTreeMap<String, Vec<u8>>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (key, data) in files {
        let path = dir.path().join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    dir
}

/// The key of an S3 object PUT logged by the proxy (`PUT /bucket/key?...`).
fn put_key(request: &str, bucket: &str) -> String {
    let path = request.split_once(' ').unwrap().1;
    let path = path.split(['?', '\t']).next().unwrap();
    path.strip_prefix(&format!("/{bucket}/"))
        .unwrap()
        .to_owned()
}

fn bucket_of(location: &Location) -> String {
    match location {
        Location::S3 { bucket, .. } => bucket.clone(),
        _ => unreachable!(),
    }
}

/// The Azure emulator's base URL (without the account), for a proxy in front of it.
fn azurite_base() -> String {
    let endpoint = kit::azure_endpoint();
    endpoint[..endpoint.rfind('/').unwrap()].to_owned()
}

/// An Azure container's URL through `proxy` (in front of [`azurite_base`]).
fn through(proxy: &FaultProxy, container: &Location) -> String {
    container
        .to_string()
        .replace("az://", &format!("{}/", proxy.url()))
}

/// SIGKILL during a 5,000-object copy: the job is found running with a dead owner, the same
/// `cp` again points at it, `jobs resume` copies exactly what was not recorded as copied,
/// and the destination holds every object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_copy_then_resume_copies_only_the_rest() {
    let files: BTreeMap<String, Vec<u8>> = (0..5000u64)
        .map(|i| {
            let data = kit::pattern(100 + (i as usize * 37) % 900, i);
            (format!("d{:02}/obj-{i:05}.bin", i % 50), data)
        })
        .collect();
    let source_dir = local_source(&files);
    let dest_location = kit::new_s3_bucket("resume5k").await;
    let bucket = bucket_of(&dest_location);
    let proxy = FaultProxy::start(&kit::s3_endpoint(), Faults::default()).await;
    let db = Db::new();
    let source = source_dir.path().to_str().unwrap().to_owned();
    let dest = dest_location.to_string();
    let proxy_url = proxy.url();
    let args = [
        "--endpoint-url",
        &proxy_url,
        "cp",
        "-r",
        "--concurrency",
        "8",
        &source,
        &dest,
    ];
    let object_puts = |log: &[String]| -> Vec<String> {
        matching(log, "PUT", &format!("/{bucket}/"))
            .into_iter()
            .map(|r| put_key(r, &bucket))
            .collect()
    };

    let (first_run, mark) = kill_9_after(&db, &args, &proxy, 1500, object_puts).await;

    let job = db.job().await;
    assert_eq!(job.status, Status::Running);
    assert!(!job.owner().unwrap().is_alive());
    let shown = stdout(&db.run(&["jobs", "list"]));
    assert!(shown.contains("died"), "{shown}");
    // The same copy again does not start a second job.
    let again = db.run(&args);
    assert_fails(
        &again,
        2,
        &[
            &format!("awcopy jobs resume {}", job.id),
            "--new",
            "did not finish",
        ],
    );

    let resume = db
        .catalog()
        .await
        .resume_point(&job.id, true, &Default::default())
        .await
        .unwrap();
    let copied_before = resume.finished.keys_left().await.unwrap();
    assert!(copied_before.len() >= 1000, "{}", copied_before.len());

    let gone = resume
        .pending
        .keys_left()
        .await
        .unwrap()
        .pop()
        .expect("objects left");
    a_vanished_object_fails_for_good_then_retry_copies_it(
        &db,
        &job.id,
        &gone,
        source_dir.path(),
        &files[&gone],
    );

    let resumed = object_puts(&proxy.counters.requests_since(mark));
    let again: Vec<&String> = resumed
        .iter()
        .filter(|k| copied_before.contains(*k))
        .collect();
    assert!(again.is_empty(), "copied again: {again:?}");
    assert_eq!(
        resumed.iter().collect::<HashSet<_>>().len(),
        files.len() - copied_before.len(),
        "every object not recorded as copied, once"
    );
    // Sent in both runs: only what was in flight, or done but not yet recorded, at the kill.
    let resumed_set: HashSet<&String> = resumed.iter().collect();
    let twice = first_run.iter().filter(|k| resumed_set.contains(k)).count();
    println!(
        "first run {} PUTs, {} recorded as copied, resumed {} PUTs, {twice} sent twice",
        first_run.len(),
        copied_before.len(),
        resumed.len()
    );
    // Objects in flight (two per permit) and those finished within the recorder's batching
    // window (100 ms; some 30 objects at this rate) before the kill.
    assert!(twice <= 2 * 8 + 60, "{twice} objects sent twice");

    kit::assert_holds(&kit::open(&dest_location).await, "", &files).await;
    let job = db.job().await;
    assert_eq!(
        (job.status.as_str(), job.objects_copied),
        ("completed", 5000)
    );
    assert_fails(
        &db.run(&["jobs", "resume", &job.id]),
        2,
        &["is completed", "nothing to resume"],
    );
}

/// A source object deleted before the resume fails for good, and is listed as failed;
/// once it is back, `jobs retry` copies it.
fn a_vanished_object_fails_for_good_then_retry_copies_it(
    db: &Db,
    job_id: &str,
    gone: &str,
    source_dir: &std::path::Path,
    data: &[u8],
) {
    let gone_path = source_dir.join(gone);
    std::fs::remove_file(&gone_path).unwrap();
    let output = db.run(&["jobs", "resume", &job_id[..8]]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("Resuming job"),
        "{}",
        stdout(&output)
    );
    assert!(
        stdout(&output).contains("(completed-with-failures)"),
        "{}",
        stdout(&output)
    );
    let failures = stdout(&db.run(&["jobs", "failures", job_id]));
    assert!(
        failures.starts_with(&format!("{gone}\t1 attempts\tnot-found")),
        "{failures}"
    );
    std::fs::write(&gone_path, data).unwrap();
    let output = db.run(&["jobs", "retry", job_id]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("Retrying 1 failed objects"),
        "{}",
        stdout(&output)
    );
}

/// SIGKILL while a 40-block object is being staged on Azure: the resume reuses the blocks
/// recorded as staged (deterministic block ids) and sends only the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_object_then_resume_reuses_staged_blocks() {
    let block = 256 << 10;
    let files = BTreeMap::from([("big.bin".to_owned(), kit::pattern(40 * block, 7))]);
    let source_dir = local_source(&files);
    let container = kit::new_azure_container("resumebig").await;
    let proxy = delayed(&azurite_base(), 100).await;
    let dest = through(&proxy, &container);
    let db = Db::new();
    let source = source_dir.path().to_str().unwrap().to_owned();
    let args = [
        "cp",
        "-r",
        "--block-size",
        "256k",
        "--concurrency",
        "4",
        &source,
        &dest,
    ];
    let blocks = |log: &[String]| -> Vec<String> {
        put_blocks(log)
            .into_iter()
            .map(|r| {
                let query = r.split_once('?').unwrap().1;
                url::form_urlencoded::parse(query.as_bytes())
                    .find(|(k, _)| k == "blockid")
                    .unwrap()
                    .1
                    .into_owned()
            })
            .collect()
    };

    // 16 blocks sent, 4 at a time, 100 ms each: by then 12 were answered, the 8th about
    // 100 ms ago, time enough to be recorded (at 12 sent, the 8th answer had just arrived and
    // once, under CI load, was not yet committed when the kill landed).
    let (first_run, mark) = kill_9_after(&db, &args, &proxy, 16, blocks).await;

    let job = db.job().await;
    let resume = db
        .catalog()
        .await
        .resume_point(&job.id, true, &Default::default())
        .await
        .unwrap();
    let staged: HashSet<String> = resume.uploads["big.bin"]
        .parts
        .iter()
        .map(|p| p.handle.clone())
        .collect();
    assert!(staged.len() >= 8, "{} blocks recorded", staged.len());

    let output = db.run(&["jobs", "resume", &job.id]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(&format!(
            "blocks staged by an earlier run, used again: {}",
            staged.len()
        )),
        "{}",
        stdout(&output)
    );
    let resumed = blocks(&proxy.counters.requests_since(mark));
    assert!(
        resumed.iter().all(|id| !staged.contains(id)),
        "a recorded block was sent again"
    );
    assert_eq!(resumed.len(), 40 - staged.len());
    let twice = first_run.len() - staged.len();
    println!(
        "first run staged {} blocks, {} recorded, resumed {}",
        first_run.len(),
        staged.len(),
        resumed.len()
    );
    assert!(twice <= 4 + 2, "{twice} blocks sent twice");
    kit::assert_holds(&kit::open(&container).await, "", &files).await;
}

/// SIGKILL while S3 objects go to Azure on the fallback route (Azurite cannot read moto's
/// presigned URLs, so the job streams): the route is found by one doomed server-side request,
/// not one per block in flight; the resume knows it and sends none, discards nothing (no
/// abort: Azure's is an empty PUT and a DELETE), stages only blocks not staged before, and
/// its count of blocks used again is what it did not send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_on_the_fallback_route_then_resume_stages_each_block_once() {
    let block = 256 << 10;
    let blocks_each = 24;
    let files: BTreeMap<String, Vec<u8>> = (0..2u64)
        .map(|i| {
            let data = kit::pattern(blocks_each * block, 20 + i);
            (format!("big-{i}.bin"), data)
        })
        .collect();
    let source = kit::new_s3_bucket("fallback").await;
    let source_store = kit::open(&source).await;
    for (key, data) in &files {
        source_store
            .put(key, data.clone().into(), &Default::default(), None)
            .await
            .unwrap();
    }
    let container = kit::new_azure_container("fallback").await;
    let proxy = delayed(&azurite_base(), 100).await;
    let dest = through(&proxy, &container);
    let db = Db::new();
    let source_url = source.to_string();
    let args = [
        "cp",
        "-r",
        "--block-size",
        "256k",
        "--concurrency",
        "8",
        &source_url,
        &dest,
    ];
    let copy_source = |log: &[String]| -> Vec<String> {
        log.iter()
            .filter(|r| r.ends_with(kit::fault_proxy::COPY_SOURCE_MARK))
            .cloned()
            .collect()
    };
    let staged_blocks = |log: &[String]| -> Vec<String> {
        put_blocks(log)
            .into_iter()
            .filter(|r| !r.ends_with(kit::fault_proxy::COPY_SOURCE_MARK))
            .cloned()
            .collect()
    };

    let (first_run, mark) = kill_9_after(&db, &args, &proxy, 16, staged_blocks).await;
    let first_log = proxy.counters.requests_since(0);
    assert_eq!(
        copy_source(&first_log).len(),
        1,
        "one doomed server-side request: {:?}",
        copy_source(&first_log)
    );
    let job = db.job().await;
    let resume = db
        .catalog()
        .await
        .resume_point(&job.id, true, &Default::default())
        .await
        .unwrap();
    assert!(
        resume.server_side_unreachable.is_some(),
        "the job remembers the route"
    );
    let recorded: usize = resume.uploads.values().map(|u| u.parts.len()).sum();

    let output = db.run(&["jobs", "resume", &job.id]);
    assert!(output.status.success(), "{}", stderr(&output));
    let resumed_log = proxy.counters.requests_since(mark);
    let resumed = staged_blocks(&resumed_log);
    println!(
        "first run staged {} blocks ({recorded} recorded), the resume {}",
        first_run.len(),
        resumed.len()
    );
    assert_eq!(
        copy_source(&resumed_log),
        Vec::<String>::new(),
        "doomed requests"
    );
    assert_eq!(
        matching(&resumed_log, "DELETE", ""),
        Vec::<&String>::new(),
        "nothing aborted"
    );
    let needed = files.len() * blocks_each;
    assert_eq!(
        resumed.len(),
        needed - recorded,
        "blocks sent by the resume"
    );
    assert!(
        stdout(&output).contains(&format!(
            "blocks staged by an earlier run, used again: {recorded}"
        )),
        "{}",
        stdout(&output)
    );
    // Sent twice: only blocks in flight (8 at most), or staged but not yet recorded, at the kill.
    let total = first_run.len() + resumed.len();
    assert!(
        total <= needed + 8 + 2,
        "{total} blocks staged for {needed}"
    );
    kit::assert_holds(&kit::open(&container).await, "", &files).await;
}

/// Ctrl-C pauses the job (exit 130); `jobs resume` completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_pauses_and_resume_completes() {
    let files: BTreeMap<String, Vec<u8>> = (0..300u64)
        .map(|i| (format!("f/{i:04}"), kit::pattern(20_000, i)))
        .collect();
    let source_dir = local_source(&files);
    let dest_location = kit::new_s3_bucket("pause").await;
    let proxy = delayed(&kit::s3_endpoint(), 30).await;
    let db = Db::new();
    let (source, dest, proxy_url) = (
        source_dir.path().to_str().unwrap().to_owned(),
        dest_location.to_string(),
        proxy.url(),
    );
    let mut child = db.spawn(&[
        "--endpoint-url",
        &proxy_url,
        "cp",
        "-r",
        "--concurrency",
        "4",
        &source,
        &dest,
    ]);
    wait_until(&mut child, "40 requests", || proxy.counters.logged() >= 40).await;
    interrupt(&child);
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{err}");
    let job = db.job().await;
    assert!(
        err.contains(&format!(
            "job {} paused; continue it with `awcopy jobs resume {}`",
            job.id, job.id
        )),
        "{err}"
    );
    assert_eq!(job.status, Status::Paused);
    assert!(job.objects_copied < 300, "stopped early");

    let output = db.run(&["jobs", "resume", &job.id[..10]]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(db.job().await.status, Status::Completed);
    kit::assert_holds(&kit::open(&dest_location).await, "", &files).await;
}

/// Ctrl-C on a terminal says what the pause waits for: the line turns to "pausing: N
/// requests in flight to finish", N never more than the requests the copy may have in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_on_a_terminal_says_what_the_pause_waits_for() {
    let files: BTreeMap<String, Vec<u8>> = (0..200u64)
        .map(|i| (format!("t/{i:04}"), kit::pattern(1000, i)))
        .collect();
    let source_dir = local_source(&files);
    let bucket = kit::new_s3_bucket("pausing").await;
    let proxy = delayed(&kit::s3_endpoint(), 1500).await;
    let db = Db::new();
    let command = format!(
        "{} --db {} --endpoint-url {} cp -r --concurrency 3 {} {bucket}",
        env!("CARGO_BIN_EXE_awcopy"),
        db.path(),
        proxy.url(),
        source_dir.path().display(),
    );
    // A pseudo-terminal (from `script`), so that the progress line is drawn.
    let mut child = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run script");
    wait_until(&mut child, "three requests in flight", || {
        proxy.counters.logged() >= 3
    })
    .await;
    // The awcopy process itself (the pattern matches neither `script` nor a shell).
    let pattern = format!("^{} --db {}", env!("CARGO_BIN_EXE_awcopy"), db.path());
    let found = Command::new("pgrep")
        .args(["-f", &pattern])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    assert!(
        !pid.is_empty() && !pid.contains('\n'),
        "one awcopy process: {pid:?}"
    );
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&output.stdout).into_owned();
    let pausing: Vec<u64> = shown
        .split("pausing: ")
        .skip(1)
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect();
    assert!(
        shown.contains("Ctrl-C again stops at once")
            && !pausing.is_empty()
            && pausing.iter().all(|&n| n <= 3)
            && pausing.iter().any(|&n| n >= 1),
        "the pause says what it waits for: {pausing:?} in {shown}"
    );
    assert_eq!(db.job().await.status, Status::Paused, "{shown}");
}

/// `jobs cancel` of a job running in another process stops it and aborts its multipart
/// upload on S3; of a paused job on Azure, drops the blocks it staged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_leaves_no_upload_and_no_staged_block() {
    // S3: cancelled while it runs.
    let files = BTreeMap::from([("big.bin".to_owned(), kit::pattern((20 << 20) + 1, 3))]);
    let source_dir = local_source(&files);
    let bucket = kit::new_s3_bucket("cancel").await;
    let proxy = delayed(&kit::s3_endpoint(), 400).await;
    let db = Db::new();
    let (source, dest, proxy_url) = (
        source_dir.path().to_str().unwrap().to_owned(),
        bucket.to_string(),
        proxy.url(),
    );
    let mut child = db.spawn(&[
        "--endpoint-url",
        &proxy_url,
        "cp",
        "-r",
        "--block-size",
        "5MiB",
        "--concurrency",
        "2",
        &source,
        &dest,
    ]);
    wait_until(&mut child, "a part was sent", || {
        !matching(&proxy.counters.requests_since(0), "PUT", "uploadId=").is_empty()
    })
    .await;
    assert_eq!(kit::s3_uploads_in_progress(&bucket).await.len(), 1);
    let job = db.job().await;
    assert_fails(
        &db.run(&["jobs", "resume", &job.id]),
        2,
        &["is running (process", "Ctrl-C"],
    );
    let output = db.run(&["jobs", "cancel", &job.id[..8]]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("cancelled: 1 uploads in progress aborted"),
        "{}",
        stdout(&output)
    );
    let stopped = child.wait_with_output().unwrap();
    assert_eq!(
        stopped.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    assert_eq!(
        kit::s3_uploads_in_progress(&bucket).await,
        Vec::<String>::new()
    );
    assert_eq!(
        kit::open(&bucket)
            .await
            .head("big.bin")
            .await
            .unwrap_err()
            .kind(),
        awcopy_store::ErrorKind::NotFound
    );
    assert_eq!(db.job().await.status, Status::Cancelled);
    assert_fails(
        &db.run(&["jobs", "cancel", &job.id]),
        2,
        &["is cancelled", "nothing to cancel"],
    );

    // Azure: paused with Ctrl-C, then cancelled.
    let files = BTreeMap::from([("big.bin".to_owned(), kit::pattern(2 << 20, 4))]);
    let source_dir = local_source(&files);
    let container = kit::new_azure_container("cancel").await;
    let db = Db::new();
    let source = source_dir.path().to_str().unwrap().to_owned();
    let proxy = delayed(&azurite_base(), 300).await;
    let dest = through(&proxy, &container);
    let mut child = db.spawn(&[
        "cp",
        "-r",
        "--block-size",
        "256k",
        "--concurrency",
        "2",
        &source,
        &dest,
    ]);
    wait_until(&mut child, "two blocks were staged", || {
        put_blocks(&proxy.counters.requests_since(0)).len() >= 2
    })
    .await;
    interrupt(&child);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let job = db.job().await;
    assert_eq!(job.status, Status::Paused);
    let uploads = db.catalog().await.uploads(&job.id).await.unwrap();
    let (_, upload) = &uploads[0];
    let store = kit::open(&container).await;
    let staged = store.list_parts("big.bin", &upload.upload).await.unwrap();
    assert!(staged.len() >= 2, "{staged:?}");

    let output = db.run(&["jobs", "cancel", &job.id]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        store
            .list_parts("big.bin", &upload.upload)
            .await
            .unwrap()
            .is_empty(),
        "no uncommitted block left"
    );
    assert_eq!(
        store.head("big.bin").await.unwrap_err().kind(),
        awcopy_store::ErrorKind::NotFound
    );
}

/// A job whose stored spec cannot be read (here, the command line an awcopy from before job
/// specs stored) is not resumed: the user is told which job, why, and to start the copy
/// again; nothing is copied and the job is left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_spec_cannot_be_read_is_refused_and_left_alone() {
    let files = BTreeMap::from([("a".to_owned(), b"one".to_vec())]);
    let source_dir = local_source(&files);
    let dest_dir = tempfile::tempdir().unwrap();
    let (source, dest) = (
        source_dir.path().to_str().unwrap().to_owned(),
        format!("{}/", dest_dir.path().display()),
    );
    let db = Db::new();
    let catalog = db.catalog().await;
    let job = catalog
        .create_job(awcopy_jobs::NewJob {
            user: "olduser".into(),
            name: None,
            command: "cp".into(),
            source: source.clone(),
            dest: dest.clone(),
            spec: serde_json::json!({ "argv": ["cp", "-r", &source, &dest] }),
            schedule_run: None,
        })
        .await
        .unwrap();
    catalog
        .finish_job(
            &job.id,
            Status::Failed,
            0,
            Some(&awcopy_store::StoreError::new(
                awcopy_store::ErrorKind::Network,
                "network: test",
            )),
        )
        .await
        .unwrap();
    let output = db.run(&["jobs", "resume", &job.id[..8]]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(
        said.contains(&job.id) && said.contains("spec") && said.contains("--new"),
        "{said}"
    );
    assert_eq!(std::fs::read_dir(dest_dir.path()).unwrap().count(), 0);
    assert_eq!(db.job().await.status, Status::Failed);
}

/// A local location typed relative to the working directory is stored absolute, so the job
/// resumes (and shows) the same places from any directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relative_local_paths_are_stored_absolute() {
    let work = tempfile::tempdir().unwrap();
    let files = BTreeMap::from([("a.txt".to_owned(), b"alpha".to_vec())]);
    let source = work.path().join("src");
    for (key, data) in &files {
        std::fs::create_dir_all(&source).unwrap();
        std::fs::write(source.join(key), data).unwrap();
    }
    let db = Db::new();
    let output = crate::common::awcopy_in(
        work.path(),
        &["--db", &db.path(), "cp", "-r", "src", "out/"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let spec = db.job().await.job_spec().unwrap();
    let work = work.path().display();
    assert_eq!(spec.source, format!("{work}/src"));
    assert_eq!(spec.dest, format!("{work}/out/"));
    let copied = Location::parse(&spec.dest).unwrap();
    kit::assert_holds(&kit::open(&copied).await, "", &files).await;
}
