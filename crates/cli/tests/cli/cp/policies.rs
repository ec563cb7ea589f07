//! What a copy decides per object: overwrite policies (and the prompt on a terminal), `sync`
//! with its deletions, `mv` deleting only verified sources, names a destination cannot hold,
//! bandwidth and request caps.

use super::{contents, put, summary_line};
use crate::common::{assert_fails, awcopy, stderr, stdout};
use awcopy_store::ObjectAttributes;
use awcopy_testkit as kit;
use std::collections::BTreeMap;

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
