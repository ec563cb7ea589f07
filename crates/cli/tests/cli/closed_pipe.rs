//! Output read by a reader that goes away (`awcopy ... | head`): every listing command ends
//! quietly, with 0 or 141 (as shells report SIGPIPE), never an "internal error". Each listing is
//! larger than a pipe holds (64 KiB), so awcopy is still writing when the reader closes.

use crate::common::stderr;
use awcopy_engine::events::{Action, ObjectEvent};
use awcopy_jobs::{Catalog, JobCatalog, NewJob, Status};
use awcopy_testkit as kit;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Runs awcopy with `args`, reads the first line it prints, closes the pipe; the output of
/// the run (stdout empty: it was read).
fn first_line_then_close(args: &[&str]) -> (String, std::process::Output) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_awcopy"))
        .args(args)
        .env("AWS_ENDPOINT_URL", kit::s3_endpoint())
        .env("USER", "pipe")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start awcopy");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .expect("the first line");
    let output = child.wait_with_output().expect("awcopy ends");
    (first, output)
}

/// Runs awcopy with `args` and `env`, its output going to a pipe whose reader is already
/// gone (however little it prints, its first write fails); fails unless it ends quietly.
pub fn assert_quiet_into_a_closed_pipe(what: &str, args: &[&str], env: &[(&str, &str)]) {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_awcopy"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run awcopy");
    assert_quiet_end(what, "(nothing read)", &output);
}

/// Fails unless the run ended as a closed pipe should end it.
fn assert_quiet_end(what: &str, first: &str, output: &std::process::Output) {
    assert!(!first.is_empty(), "{what}: printed nothing");
    let said = stderr(output);
    assert!(
        matches!(output.status.code(), Some(0 | 141)),
        "{what}: exit {:?}: {said}",
        output.status.code()
    );
    assert!(said.is_empty(), "{what} said: {said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_end_quietly_when_their_reader_goes_away() {
    let (first, output) = first_line_then_close(&["completions", "bash"]);
    assert_quiet_end("completions bash", &first, &output);

    let bucket = kit::new_s3_bucket("pipe-ls").await;
    kit::put_tiny(
        &kit::open(&bucket).await,
        (0..2000).map(|i| format!("a fairly long prefix/with a long name {i:05}")),
    )
    .await;
    let (first, output) = first_line_then_close(&["ls", "-r", &bucket.to_string()]);
    assert_quiet_end("ls -r", &first, &output);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("jobs.db");
    let catalog = Catalog::open(&db).await.unwrap();
    let mut last = None;
    for i in 0..1000 {
        let job = catalog
            .create_job(NewJob {
                user: "pipe".into(),
                name: Some(format!("a job with a name long enough to fill a pipe {i}")),
                command: "cp".into(),
                source: "s3://a-source-bucket/with/a/prefix/".into(),
                dest: "s3://a-destination-bucket/with/a/prefix/".into(),
                spec: serde_json::json!({}),
                schedule_run: None,
            })
            .await
            .unwrap();
        catalog
            .finish_job(&job.id, Status::CompletedWithFailures, 0, None)
            .await
            .unwrap();
        last = Some(job.id);
    }
    let id = last.unwrap();
    let recorder = catalog.recorder(&id);
    for i in 0..2000 {
        let key = format!("a failed object with a long name {i:05}");
        recorder.record(&ObjectEvent {
            error: Some("network: the connection was reset by the peer".into()),
            ..ObjectEvent::now(Action::Failed, &key)
        });
    }
    recorder.finish().await.unwrap();
    let db = db.to_str().unwrap();
    for (what, args) in [
        ("jobs list", vec!["--db", db, "jobs", "list", "--all-users"]),
        ("jobs failures", vec!["--db", db, "jobs", "failures", &id]),
    ] {
        let (first, output) = first_line_then_close(&args);
        assert_quiet_end(what, &first, &output);
    }
}
