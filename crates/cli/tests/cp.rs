//! `awcopy cp` and `awcopy check` as a user runs them, against the emulators: every copied key
//! and byte checked, filters, single objects, memory bound, bad input.

use awcopy_store::{ListRequest, ObjectAttributes, Store};
use awcopy_testkit as kit;
use common::{assert_fails, awcopy, awcopy_with_env, stderr, stdout};
use futures::TryStreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;

mod common;

/// The last line of `--json` output: the report.
fn summary_line(output: &std::process::Output) -> serde_json::Value {
    let text = stdout(output);
    let last = text.lines().last().expect("a summary line");
    let summary: serde_json::Value = serde_json::from_str(last).expect("JSON summary");
    assert_eq!(summary["type"], "summary", "{text}");
    summary
}

async fn put(store: &Arc<dyn Store>, key: &str, data: Vec<u8>) {
    store
        .put(key, data.into(), &ObjectAttributes::default(), None)
        .await
        .unwrap();
}

async fn contents(store: &Arc<dyn Store>, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let pages: Vec<_> = store
        .list(ListRequest {
            prefix: prefix.into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for object in pages.into_iter().flat_map(|p| p.objects) {
        let got = store.get(&object.key, None).await.unwrap();
        let bytes = got.body.try_collect::<Vec<_>>().await.unwrap().concat();
        out.insert(object.key[prefix.len()..].to_owned(), bytes);
    }
    out
}

#[tokio::test]
async fn cp_then_check_finds_corrupted_and_missing_objects() {
    let source_location = kit::new_s3_bucket("cpsrc").await;
    let dest_location = kit::new_azure_container("cpdst").await;
    let (source, dest) = (
        kit::open(&source_location).await,
        kit::open(&dest_location).await,
    );
    let mut expected = BTreeMap::new();
    for i in 0..40 {
        let data = kit::pattern(i * 997, i as u64);
        put(&source, &format!("data/part-{i:03}.bin"), data.clone()).await;
        expected.insert(format!("part-{i:03}.bin"), data);
    }
    put(&source, "elsewhere.txt", b"not copied".to_vec()).await;
    let from = format!("{source_location}data/");
    let to = format!("{dest_location}copy/");

    let journal = tempfile::NamedTempFile::new().unwrap();
    let log = journal.path().to_str().unwrap();
    let output = awcopy(&["cp", "-r", "--json", "--log", log, &from, &to]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = summary_line(&output);
    assert_eq!(report["objects_copied"], 40);
    // One event per object on stdout and in the journal, with keys and sizes.
    let journal_text = std::fs::read_to_string(journal.path()).unwrap();
    kit::assert_no_secrets(&journal_text);
    for text in [stdout(&output), journal_text] {
        let events: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|e: &serde_json::Value| e["action"] == "copied")
            .collect();
        assert_eq!(events.len(), 40, "{text}");
        let e = events
            .iter()
            .find(|e| e["key"] == "data/part-003.bin")
            .expect("event of part-003");
        assert_eq!(e["dest_key"], "copy/part-003.bin");
        assert_eq!(e["size"], 3 * 997);
    }
    assert_eq!(
        contents(&dest, "copy/").await,
        expected,
        "every key and byte arrived"
    );

    let output = awcopy(&["check", &from, &to]);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("40 matching, 0 missing, 0 extra, 0 different"),
        "{}",
        stdout(&output)
    );

    // Same size, other bytes; and one object gone.
    put(&dest, "copy/part-007.bin", kit::pattern(7 * 997, 999)).await;
    dest.delete("copy/part-011.bin").await.unwrap();
    let output = awcopy(&["check", &from, &to]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("missing: part-011.bin"), "{text}");
    assert!(
        text.contains("different: part-007.bin (content differs"),
        "{text}"
    );
    assert!(
        text.contains("38 matching, 1 missing, 0 extra, 1 different"),
        "{text}"
    );
    // --size-only does not see the corruption.
    let output = awcopy(&["check", "--size-only", &from, &to]);
    assert!(
        stdout(&output).contains("39 matching, 1 missing, 0 extra, 0 different"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn filters_select_what_is_copied() {
    let source_location = kit::new_azure_container("fsrc").await;
    let (dest_location, _dir) = kit::fresh(kit::Kind::Local, "fdst").await;
    let source = kit::open(&source_location).await;
    for key in [
        "a.csv",
        "b.csv",
        "empty.csv",
        "tmp/c.csv",
        "d.json",
        "big.csv",
        "deep/e.csv",
    ] {
        let size = match key {
            "empty.csv" => 0,
            "big.csv" => 5000,
            _ => 10,
        };
        put(&source, &format!("in/{key}"), kit::pattern(size, 1)).await;
    }
    let output = awcopy(&[
        "cp",
        "-r",
        &format!("{source_location}in"),
        &dest_location.to_string(),
        "--include",
        "*.csv",
        "--exclude",
        "tmp/*",
        "--min-size",
        "1",
        "--max-size",
        "4KiB",
        "--exclude-regex",
        "^deep/",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let dest = kit::open(&dest_location).await;
    let copied: Vec<String> = contents(&dest, "").await.into_keys().collect();
    assert_eq!(copied, ["a.csv", "b.csv"]);
    assert!(
        stdout(&output).contains("skipped by filters: 5"),
        "{}",
        stdout(&output)
    );

    // A dry run writes nothing.
    let (dry_location, _dry) = kit::fresh(kit::Kind::Local, "dry").await;
    let output = awcopy(&[
        "cp",
        "-r",
        "--dry-run",
        "--job-name",
        "nightly",
        &format!("{source_location}in/"),
        &dry_location.to_string(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("Would copy 7 objects"),
        "{}",
        stdout(&output)
    );
    let text = stdout(&output);
    assert!(text.starts_with("Job nightly:"), "{text}");
    assert!(
        text.contains("Estimated cost of copying to") && text.contains("Total"),
        "{text}"
    );
    assert!(contents(&kit::open(&dry_location).await, "")
        .await
        .is_empty());
}

#[tokio::test]
async fn single_objects_keep_or_take_names() {
    let source_location = kit::new_s3_bucket("single").await;
    let source = kit::open(&source_location).await;
    let data = kit::pattern(12_345, 5);
    put(&source, "dir/report.pdf", data.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let object = format!("{source_location}dir/report.pdf");

    let into_dir = format!("{}/", dir.path().display());
    assert!(awcopy(&["cp", &object, &into_dir]).status.success());
    assert_eq!(std::fs::read(dir.path().join("report.pdf")).unwrap(), data);

    let renamed = dir.path().join("renamed.pdf");
    assert!(awcopy(&["cp", &object, renamed.to_str().unwrap()])
        .status
        .success());
    assert_eq!(std::fs::read(&renamed).unwrap(), data);

    let back = format!("{source_location}back/copy.pdf");
    assert!(awcopy(&["cp", renamed.to_str().unwrap(), &back])
        .status
        .success());
    assert_eq!(
        contents(&source, "back/").await.remove("copy.pdf").unwrap(),
        data
    );
}

/// Waits for a child and returns whether it succeeded and its peak resident memory in bytes,
/// from /proc's VmHWM (which, unlike getrusage, starts afresh at exec and does not count
/// the test process's pages shared before it). Sampled every 5 ms until the child exits.
fn wait_with_peak_rss(mut child: std::process::Child) -> (bool, u64) {
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_path) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak = peak.max(hwm.unwrap_or(0) * 1024);
        }
        if let Some(status) = child.try_wait().expect("wait for awcopy") {
            return (status.success(), peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn spawn_awcopy(args: &[&str], tmpdir: &std::path::Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_awcopy"))
        .args(args)
        .env("AWS_ENDPOINT_URL", kit::s3_endpoint())
        .env("TMPDIR", tmpdir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start awcopy")
}

/// An object 16 times the block size streams S3 -> Azure with 64 requests allowed in flight
/// and peak memory bounded by the memory budget of two blocks (plus the process's own
/// baseline), and no temporary files.
#[tokio::test]
async fn streaming_memory_is_bounded_and_uses_no_disk() {
    const BLOCK: usize = 5 << 20;
    const BUDGET: usize = 2 * BLOCK;
    let source_location = kit::new_s3_bucket("mem").await;
    let dest_location = kit::new_azure_container("mem").await;
    let source = kit::open(&source_location).await;
    let big = kit::pattern(16 * BLOCK, 77);
    put(&source, "big.bin", big.clone()).await;
    put(&source, "tiny.bin", vec![1]).await;
    let tmp = tempfile::tempdir().unwrap();
    let args = |key: &str, to: &str| -> Vec<String> {
        vec![
            "cp".into(),
            format!("{source_location}{key}"),
            format!("{dest_location}{to}"),
            "--block-size".into(),
            "5MiB".into(),
            "--concurrency".into(),
            "64".into(),
            "--max-memory".into(),
            format!("{BUDGET}"),
        ]
    };
    let run = |a: Vec<String>| {
        wait_with_peak_rss(spawn_awcopy(
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            tmp.path(),
        ))
    };

    let (ok, baseline) = run(args("tiny.bin", "tiny.bin"));
    assert!(ok && baseline > 0, "baseline run");
    let (ok, peak) = run(args("big.bin", "big.bin"));
    assert!(ok, "big copy");
    let bound = baseline + 3 * BUDGET as u64;
    eprintln!(
        "baseline {baseline} B, peak {peak} B, bound {bound} B, object {} B",
        big.len()
    );
    assert!(
        peak <= bound,
        "peak RSS {peak} exceeds {bound} (baseline {baseline})"
    );
    assert!(
        peak < baseline + big.len() as u64 / 2,
        "the object was not held whole"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "no temporary files"
    );
    let dest = kit::open(&dest_location).await;
    assert_eq!(contents(&dest, "big").await.remove(".bin").unwrap(), big);
}

#[tokio::test]
async fn bad_copies_are_refused_clearly() {
    let location = kit::new_s3_bucket("badcp").await;
    let store = kit::open(&location).await;
    put(&store, "data/x", vec![1, 2, 3]).await;
    let data = format!("{location}data/");
    let scratch = tempfile::tempdir().unwrap();
    let never = scratch.path().join("never");
    let never_dir = format!("{}/", never.display());
    let never_file = never.to_str().unwrap();
    assert_fails(&awcopy(&["cp", &data, never_file]), 2, &["add -r"]);
    assert_fails(
        &awcopy(&["cp", "-r", &data, &format!("{location}data/inner/")]),
        2,
        &["DEST", "inside"],
    );
    assert_fails(&awcopy(&["cp", "-r", &data, &data]), 2, &["DEST", "inside"]);
    let missing = format!("s3://{}/x", kit::unique_name("nosuch"));
    assert_fails(&awcopy(&["cp", &missing, &never_dir]), 4, &["SOURCE"]);
    assert_fails(
        &awcopy(&["cp", "-r", &data, &never_dir, "--encrypt", "rot13"]),
        2,
        &["--encrypt 'rot13'"],
    );
    let key = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(key.path(), b"too short").unwrap();
    let short_key = format!("sse-c:{}", key.path().display());
    let other = data.replace("data/", "other/");
    // A setting below the command line is named by the flag that gave it, not by the spec's
    // field (the API's words).
    for (dest, flags, said) in [
        (&other, ["--encrypt", &short_key], "256-bit key"),
        (&never_dir, ["--include", "a["], "--include: 'a['"),
        (&never_dir, ["--exclude-regex", "("], "--exclude-regex: '('"),
        (
            &never_dir,
            ["--encrypt", "sse-s3"],
            "--encrypt: applies to S3 and Azure",
        ),
        (
            &other,
            ["--encrypt", "scope:s"],
            "--encrypt: cpk and scope apply to Azure destinations",
        ),
    ] {
        let output = awcopy(&[&["cp", "-r", &data, dest][..], &flags[..]].concat());
        assert_fails(&output, 2, &[said]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("filters.") && !stderr.contains("encryption:"),
            "{stderr}"
        );
    }
    assert!(!never.exists(), "nothing written");

    // A name the destination cannot hold, under --name-policy fail: the rest is copied, the
    // failure listed, exit 1.
    put(&store, "data/back\\slash", vec![4]).await;
    let dest = kit::new_azure_container("refuse").await;
    let output = awcopy_with_env(
        &[
            "cp",
            "-r",
            "--name-policy",
            "fail",
            &data,
            &dest.to_string(),
        ],
        &[],
    );
    assert_fails(
        &output_without_stdout_check(output.clone()),
        1,
        &["1 of 2 objects failed"],
    );
    assert!(
        stdout(&output).contains("back\\slash: usage"),
        "{}",
        stdout(&output)
    );
    let copied = contents(&kit::open(&dest).await, "").await;
    assert_eq!(copied.keys().collect::<Vec<_>>(), ["x"]);
}

/// `assert_fails` wants an empty stdout; a partial copy prints its report there.
fn output_without_stdout_check(mut output: std::process::Output) -> std::process::Output {
    output.stdout.clear();
    output
}

#[tokio::test]
async fn cp_creates_a_missing_destination_container() {
    let source_location = kit::new_s3_bucket("mk").await;
    let source = kit::open(&source_location).await;
    put(&source, "a/b.txt", b"hello".to_vec()).await;
    let dest = format!("{}/{}/", kit::azure_endpoint(), kit::unique_name("made"));
    let output = awcopy(&["cp", "-r", &source_location.to_string(), &dest]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("note: created az://devstoreaccount1/made-"),
        "{}",
        stdout(&output)
    );
    let dest_store = kit::open(&awcopy_store::Location::parse(&dest).unwrap()).await;
    assert_eq!(
        contents(&dest_store, "").await.remove("a/b.txt").unwrap(),
        b"hello"
    );
}

#[tokio::test]
async fn overwrite_policies_keep_or_replace() {
    let source_location = kit::new_s3_bucket("owsrc").await;
    let dest_location = kit::new_azure_container("owdst").await;
    let (source, dest) = (
        kit::open(&source_location).await,
        kit::open(&dest_location).await,
    );
    put(&source, "same.bin", kit::pattern(100, 1)).await;
    put(&source, "grown.bin", kit::pattern(200, 2)).await;
    let (from, to) = (source_location.to_string(), dest_location.to_string());
    assert!(awcopy(&["cp", "-r", &from, &to]).status.success());
    // The destination changes after the copy: one object replaced by newer, other bytes.
    put(&dest, "grown.bin", kit::pattern(150, 3)).await;

    let run = |policy: &str| awcopy(&["cp", "-r", "--json", "--overwrite", policy, &from, &to]);
    let report = |output: &std::process::Output| -> serde_json::Value {
        assert!(output.status.success(), "{}", stderr(output));
        summary_line(output)
    };
    let never = report(&run("never"));
    assert_eq!(
        (
            never["objects_copied"].as_u64(),
            never["objects_kept"].as_u64()
        ),
        (Some(0), Some(2))
    );
    let newer = report(&run("if-newer"));
    assert_eq!(newer["objects_kept"], 2, "the destination copies are newer");
    let different = report(&run("if-different"));
    assert_eq!(
        (
            different["objects_copied"].as_u64(),
            different["objects_kept"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        contents(&dest, "").await["grown.bin"],
        kit::pattern(200, 2),
        "the changed object was replaced"
    );

    assert_fails(
        &run("prompt"),
        2,
        &["--overwrite prompt needs a terminal", "--yes"],
    );
    let output = awcopy(&[
        "cp",
        "-r",
        "--json",
        "--overwrite",
        "prompt",
        "--yes",
        &from,
        &to,
    ]);
    assert_eq!(
        report(&output)["objects_copied"],
        2,
        "--yes answers every prompt with yes"
    );
    assert_fails(
        &awcopy(&["cp", "--overwrite", "sometimes", &from, &to]),
        2,
        &["if-different"],
    );
}

#[tokio::test]
async fn sync_copies_changes_and_deletes_extras_only_when_confirmed() {
    let source_location = kit::new_azure_container("syncsrc").await;
    let (dest_location, _dir) = kit::fresh(kit::Kind::Local, "syncdst").await;
    let (source, dest) = (
        kit::open(&source_location).await,
        kit::open(&dest_location).await,
    );
    for (key, seed) in [("keep.txt", 1), ("change.txt", 2), ("skip.tmp", 3)] {
        put(&source, &format!("s/{key}"), kit::pattern(64, seed)).await;
    }
    let (from, to) = (format!("{source_location}s/"), dest_location.to_string());
    assert!(awcopy(&["sync", &from, &to]).status.success());
    put(&source, "s/change.txt", kit::pattern(65, 9)).await;
    put(&source, "s/new.txt", kit::pattern(10, 4)).await;
    put(&dest, "extra.txt", b"not in the source".to_vec()).await;
    put(&dest, "extra.tmp", b"excluded by the filter".to_vec()).await;

    // --delete without --yes and without a terminal: refused, nothing changed.
    let before = contents(&dest, "").await;
    assert_fails(&awcopy(&["sync", "--delete", &from, &to]), 2, &["--yes"]);
    assert_eq!(contents(&dest, "").await, before);

    let output = awcopy(&[
        "sync",
        "--delete",
        "--yes",
        "--json",
        "--exclude",
        "*.tmp",
        &from,
        &to,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = summary_line(&output);
    assert_eq!(report["objects_copied"], 2, "changed and new");
    assert_eq!(report["objects_deleted"], 1, "extra.txt only");
    let after = contents(&dest, "").await;
    let keys: Vec<&str> = after.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["change.txt", "extra.tmp", "keep.txt", "new.txt", "skip.tmp"]
    );
    assert_eq!(after["change.txt"], kit::pattern(65, 9));
}

#[tokio::test]
async fn mv_deletes_only_verified_sources() {
    let source_location = kit::new_s3_bucket("mvsrc").await;
    let dest_location = kit::new_azure_container("mvdst").await;
    let source = kit::open(&source_location).await;
    put(&source, "m/a.bin", kit::pattern(3000, 1)).await;
    put(&source, "m/b.bin", kit::pattern(6 << 20, 2)).await;
    put(&source, "m/refused\\name", kit::pattern(5, 3)).await;
    let (from, to) = (format!("{source_location}m/"), dest_location.to_string());
    assert_fails(&awcopy(&["mv", "-r", &from, &to]), 2, &["--yes"]);
    assert_eq!(
        contents(&source, "m/").await.len(),
        3,
        "nothing moved without confirmation"
    );

    let output = awcopy(&["mv", "-r", "--yes", "--name-policy", "fail", &from, &to]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "one name is refused: {}",
        stderr(&output)
    );
    let left: Vec<String> = contents(&source, "m/").await.into_keys().collect();
    assert_eq!(
        left,
        ["refused\\name"],
        "only the object that was not copied stays"
    );
    let moved = contents(&kit::open(&dest_location).await, "").await;
    assert_eq!(moved["a.bin"], kit::pattern(3000, 1));
    assert_eq!(moved["b.bin"], kit::pattern(6 << 20, 2));
}

#[tokio::test]
async fn unholdable_names_are_mapped_and_recorded_or_skipped() {
    let source_location = kit::new_s3_bucket("names").await;
    let source = kit::open(&source_location).await;
    put(&source, "n/back\\slash.txt", b"one".to_vec()).await;
    put(&source, "n/plain.txt", b"two".to_vec()).await;
    let mut attributes = ObjectAttributes::default();
    attributes.user_metadata.insert("run-id".into(), "7".into());
    source
        .put("n/meta.txt", b"three".to_vec().into(), &attributes, None)
        .await
        .unwrap();
    let dest_location = kit::new_azure_container("names").await;
    let manifest = tempfile::NamedTempFile::new().unwrap();
    let from = format!("{source_location}n/");
    let output = awcopy(&[
        "cp",
        "-r",
        "--mapping",
        manifest.path().to_str().unwrap(),
        &from,
        &dest_location.to_string(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("n/back\\slash.txt -> back%5Cslash.txt"),
        "{}",
        stdout(&output)
    );
    let pairs: Vec<serde_json::Value> = std::fs::read_to_string(manifest.path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        pairs,
        [serde_json::json!({"source": "n/back\\slash.txt", "dest": "back%5Cslash.txt"})]
    );
    let copied = contents(&kit::open(&dest_location).await, "").await;
    assert_eq!(copied["back%5Cslash.txt"], b"one");
    assert_eq!(copied["plain.txt"], b"two");
    // S3 allows '-' in metadata names, Azure does not: renamed, and said so.
    assert!(
        stdout(&output).contains("metadata name mapped: run-id -> run_x2d_id"),
        "{}",
        stdout(&output)
    );
    let head = kit::open(&dest_location)
        .await
        .head("meta.txt")
        .await
        .unwrap();
    // Stored as run_x2d_id, read back (by awcopy) under the user's name.
    assert_eq!(
        head.attributes.user_metadata,
        BTreeMap::from([("run-id".to_owned(), "7".to_owned())])
    );

    let skipped_into = kit::new_azure_container("skipnames").await;
    let output = awcopy(&[
        "cp",
        "-r",
        "--name-policy",
        "skip",
        &from,
        &skipped_into.to_string(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("left out, name not allowed at the destination: 1"),
        "{}",
        stdout(&output)
    );
    let copied = contents(&kit::open(&skipped_into).await, "").await;
    assert_eq!(copied.keys().collect::<Vec<_>>(), ["meta.txt", "plain.txt"]);
}

/// The caps pace the copy: a lower bound on the time taken, whatever the machine's speed.
#[tokio::test]
async fn bandwidth_and_request_caps_pace_the_copy() {
    let source_location = kit::new_s3_bucket("caps").await;
    let source = kit::open(&source_location).await;
    put(&source, "big/x.bin", kit::pattern(3 << 20, 1)).await;
    for i in 0..30 {
        put(&source, &format!("small/{i}"), vec![i as u8]).await;
    }
    let dest = tempfile::tempdir().unwrap();
    let to = format!("{}/", dest.path().display());

    // 3 MiB at 1 MiB/s: the first second's burst, then two more seconds.
    let started = std::time::Instant::now();
    let output = awcopy(&[
        "cp",
        "-r",
        "--bandwidth",
        "1MiB",
        &format!("{source_location}big/"),
        &to,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );

    // 30 objects, a GET each (a local file written is no request): 30 requests at 10 per
    // second, 10 at once.
    let started = std::time::Instant::now();
    let output = awcopy(&[
        "cp",
        "-r",
        "--max-rps",
        "10",
        &format!("{source_location}small/"),
        &to,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    let local = awcopy_store::Location::parse(dest.path().to_str().unwrap()).unwrap();
    assert_eq!(contents(&kit::open(&local).await, "").await.len(), 31);
}

/// A local destination that fills up: the objects that fit arrive whole, the one that does not
/// fails with the reason and leaves no partial file, and the exit code is 1. One object at a
/// time: written side by side, the big one could fill the disk before the small one is done,
/// and then neither fits (that is the disk's answer, not a clean-up failure).
#[tokio::test]
async fn a_full_disk_fails_cleanly() {
    let source_location = kit::new_s3_bucket("full").await;
    let source = kit::open(&source_location).await;
    put(&source, "fits.bin", kit::pattern(1 << 20, 1)).await;
    put(&source, "too-big.bin", kit::pattern(3 << 20, 2)).await;
    let mount = Tmpfs::mount("size=2m");
    let output = awcopy(&[
        "cp",
        "-r",
        "--concurrency",
        "1",
        &source_location.to_string(),
        &format!("{}/", mount.path().display()),
    ]);
    let files: Vec<String> = walk(mount.path());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("too-big.bin: io:") && stdout(&output).contains("No space left"),
        "{}",
        stdout(&output)
    );
    assert_eq!(files, ["fits.bin"], "no partial or staging file left");
}

/// A tmpfs mounted on a fresh directory, unmounted when dropped. Mounting needs root, as CI
/// has; without it the test fails rather than skip.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(options: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(mounted.success(), "mounting a tmpfs needs root, as CI has");
        Self(dir)
    }

    fn path(&self) -> &std::path::Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    files.sort();
    files
}

/// A destination that cannot be written (a read-only file system): every object fails with
/// the reason, nothing is written, and the exit code is 1.
#[tokio::test]
async fn an_unwritable_destination_fails_cleanly() {
    let source_location = kit::new_s3_bucket("rofs").await;
    let source = kit::open(&source_location).await;
    put(&source, "a.bin", vec![1; 10]).await;
    let mount = Tmpfs::mount("ro,size=1m");
    let output = awcopy(&[
        "cp",
        "-r",
        &source_location.to_string(),
        &format!("{}/", mount.path().display()),
    ]);
    let files = walk(mount.path());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("Read-only file system"),
        "{}",
        stdout(&output)
    );
    assert!(files.is_empty(), "{files:?}");
}

/// `--overwrite prompt` on a terminal (a pseudo-terminal from `script`): the first existing
/// object asked about is replaced ("y"), then "none" keeps the rest.
#[tokio::test]
async fn overwrite_prompt_asks_on_a_terminal() {
    let source_location = kit::new_s3_bucket("ask").await;
    let dest_location = kit::new_azure_container("ask").await;
    let (source, dest) = (
        kit::open(&source_location).await,
        kit::open(&dest_location).await,
    );
    for key in ["a", "b", "c"] {
        put(&source, key, b"old".to_vec()).await;
    }
    let (from, to) = (source_location.to_string(), dest_location.to_string());
    assert!(awcopy(&["cp", "-r", &from, &to]).status.success());
    for key in ["a", "b", "c"] {
        put(&source, key, b"new!".to_vec()).await;
    }
    let command = format!(
        "{} cp -r --concurrency 1 --overwrite prompt {from} {to}",
        env!("CARGO_BIN_EXE_awcopy")
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("AWS_ENDPOINT_URL", kit::s3_endpoint())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run script");
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(b"y\no\n").unwrap();
    let output = child.wait_with_output().unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{shown}");
    assert!(shown.contains("[y]es, [n]o, [a]ll, n[o]ne"), "{shown}");
    let now = contents(&dest, "").await;
    let replaced = now.values().filter(|v| v.as_slice() == b"new!").count();
    assert_eq!(replaced, 1, "one yes, then none: {now:?}");
    assert!(
        shown.contains("already at the destination, kept: 2"),
        "{shown}"
    );
}

/// Every run is a job in the catalogue: listed, shown, with its failures; bad ids are refused
/// clearly; no secret reaches the catalogue file.
#[tokio::test]
async fn runs_are_recorded_as_jobs() {
    let db = tempfile::tempdir().unwrap();
    let db_path = db.path().join("jobs.db");
    let db_arg = db_path.to_str().unwrap();
    // A local source: a streamed route (Azurite mishandles Put Blob From URL under SAS).
    let (source_location, _source_dir) = kit::fresh(kit::Kind::Local, "jobsrc").await;
    let source = kit::open(&source_location).await;
    put(&source, "ok.txt", b"fine".to_vec()).await;
    put(&source, "bad\\name", b"refused".to_vec()).await;
    // The destination is given with a SAS in its URL: it must not be stored.
    let dest_location = kit::new_azure_container("jobdst").await;
    let awcopy_store::Location::Azure {
        account, container, ..
    } = &dest_location
    else {
        unreachable!()
    };
    let sas = kit::account_sas(account, "racwdl");
    let dest_url = format!("{}/{container}/?{}", kit::azure_endpoint(), sas.expose());

    let run = |args: &[&str]| as_carol(db_arg, args);
    let output = run(&[
        "cp",
        "-r",
        "--name-policy",
        "fail",
        "--job-name",
        "nightly",
        &source_location.to_string(),
        &dest_url,
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("(completed-with-failures)"),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains("failed: 1"), "{}", stdout(&output));

    let id = the_job_is_listed_and_shown_with_its_failure(db_arg);
    let source = source_location.to_string();
    the_failure_is_retried_under_another_name_policy(
        db_arg,
        &id,
        &source,
        &dest_location,
        &dest_url,
    )
    .await;
    a_run_outside_the_catalogue_leaves_no_job(db_arg, &source, &dest_url);
    no_secret_is_in_the_catalogue(db.path(), &sas);
}

/// Runs the CLI as user carol on the catalogue `db_arg`, with no Azure connection string.
fn as_carol(db_arg: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--db", db_arg, "--user", "carol"];
    all.extend_from_slice(args);
    awcopy_with_env(&all, &[("AZURE_STORAGE_CONNECTION_STRING", "")])
}

/// The job of that run is listed (carol's alone), shown by a prefix of its id, and its
/// failure named; an unknown id is refused. Returns its id.
fn the_job_is_listed_and_shown_with_its_failure(db_arg: &str) -> String {
    let run = |args: &[&str]| as_carol(db_arg, args);
    let output = run(&["jobs", "list", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let jobs: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(
        (
            job["status"].as_str(),
            job["user"].as_str(),
            job["name"].as_str()
        ),
        (
            Some("completed-with-failures"),
            Some("carol"),
            Some("nightly")
        )
    );
    assert_eq!(
        (
            job["objects_copied"].as_i64(),
            job["objects_failed"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let id = job["id"].as_str().unwrap().to_owned();

    let output = run(&["jobs", "failures", &id[..8]]);
    assert!(
        stdout(&output).starts_with("bad\\name\t1 attempts\tusage:"),
        "{}",
        stdout(&output)
    );
    let output = run(&["jobs", "show", &id[..6]]);
    assert!(
        stdout(&output).contains("status     completed-with-failures"),
        "{}",
        stdout(&output)
    );
    assert!(run(&["jobs", "list"]).status.success());
    assert_eq!(
        run(&["jobs", "list", "--json", "--user", "dave"])
            .stdout
            .len(),
        0,
        "only carol's jobs"
    );

    assert_fails(
        &run(&["jobs", "show", "ffffffff"]),
        4,
        &["no job with id 'ffffffff'"],
    );
    id
}

/// The refused name, retried under the map policy; the SAS is given again, as the
/// catalogue does not keep it.
async fn the_failure_is_retried_under_another_name_policy(
    db_arg: &str,
    id: &str,
    source: &str,
    dest_location: &awcopy_store::Location,
    dest_url: &str,
) {
    let run = |args: &[&str]| as_carol(db_arg, args);
    let dest = kit::open(dest_location).await;
    assert_eq!(contents(&dest, "").await.len(), 1);
    assert_fails(
        &run(&["jobs", "resume", &id[..8]]),
        2,
        &["finished (with failures)", "awcopy jobs retry"],
    );
    let output = run(&[
        "jobs",
        "retry",
        &id[..8],
        "--dest",
        dest_url,
        "--name-policy",
        "map",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("Retrying 1 failed objects")
            && stdout(&output).contains("(completed)"),
        "{}",
        stdout(&output)
    );
    let copied = contents(&dest, "").await;
    assert_eq!(copied.len(), 2, "{:?}", copied.keys());
    assert!(copied.values().any(|v| v == b"refused"));
    assert!(run(&["jobs", "failures", id]).stdout.is_empty());
    assert_fails(&run(&["jobs", "retry", id]), 2, &["has no failed objects"]);
    assert!(run(&["cp", "-r", source, dest_url]).status.code() == Some(0));
    assert_fails(&run(&["jobs", "show", ""]), 2, &["ambiguous"]);
    assert_fails(
        &run(&["jobs", "list", "--status", "sleeping"]),
        2,
        &["not a status"],
    );
    let output = run(&["jobs", "clean", "--older-than", "0s"]);
    assert!(
        stdout(&output).starts_with("Deleted 2 finished jobs"),
        "{}",
        stdout(&output)
    );
    assert!(run(&["jobs", "list", "--json"]).stdout.is_empty());
}

/// A run outside the catalogue leaves no job.
fn a_run_outside_the_catalogue_leaves_no_job(db_arg: &str, source: &str, dest_url: &str) {
    let run = |args: &[&str]| as_carol(db_arg, args);
    let output = run(&["cp", "-r", "--no-catalog", source, dest_url]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(run(&["jobs", "list", "--json"]).stdout.is_empty());
}

/// Neither the SAS signature nor any key is in the catalogue, WAL included.
fn no_secret_is_in_the_catalogue(db: &std::path::Path, sas: &awcopy_store::Secret) {
    let signature = sas.expose().split("sig=").nth(1).unwrap().to_owned();
    for entry in std::fs::read_dir(db).unwrap().flatten() {
        let bytes = String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap()).into_owned();
        kit::assert_no_secrets(&bytes);
        assert!(
            !bytes.contains(&signature),
            "the SAS signature is in {}",
            entry.path().display()
        );
    }
}
