//! Copies as a user runs them: every key and byte checked by `check`, filters, single objects,
//! a missing container made, bad copies refused clearly.

use super::{contents, put, summary_line};
use crate::common::{assert_fails, awcopy, awcopy_with_env, stderr, stdout};
use awcopy_testkit as kit;
use std::collections::BTreeMap;

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
    assert_fails(&awcopy(&["cp", &missing, &never_dir]), 4, &[&missing]);
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
