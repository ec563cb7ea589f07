//! Destinations that cannot take the copy: a full disk and an unwritable directory fail
//! cleanly, leaving nothing half-written; a destination under a file, or one that refuses the
//! credentials, stops the copy at once with one error instead of one per object.

use super::put;
use crate::common::{awcopy, awcopy_with_env, stderr, stdout};
use awcopy_testkit as kit;

/// A local destination that fills up: the objects that fit arrive whole; the one that does not
/// stops the copy once (the disk is full for every object after it) with the reason and the
/// path, leaving no partial file; exit 6. One object at a time: written side by side, the big
/// one could fill the disk before the small one is done, and then neither fits (that is the
/// disk's answer, not a clean-up failure).
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
    let said = stderr(&output);
    assert_eq!(output.status.code(), Some(6), "{said}");
    assert_eq!(lines_with(&output, "No space left"), 1, "{said}");
    assert!(
        said.contains(&mount.path().display().to_string()),
        "names the path: {said}"
    );
    assert_eq!(files, ["fits.bin"], "no partial or staging file left");
    assert!(
        !mount.path().join(".awcopy-staging").exists(),
        "no empty staging directory left"
    );
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

/// A destination that cannot be written (a read-only file system): the copy stops once with
/// the reason and the path, not once per object; nothing is written; exit 6.
#[tokio::test]
async fn an_unwritable_destination_fails_cleanly() {
    let source_location = kit::new_s3_bucket("rofs").await;
    let source = kit::open(&source_location).await;
    for i in 0..15 {
        put(&source, &format!("{i:02}.bin"), vec![1; 10]).await;
    }
    let mount = Tmpfs::mount("ro,size=1m");
    let output = awcopy(&[
        "cp",
        "-r",
        &source_location.to_string(),
        &format!("{}/", mount.path().display()),
    ]);
    let files = walk(mount.path());
    let said = stderr(&output);
    assert_eq!(output.status.code(), Some(6), "{said}");
    assert_eq!(
        lines_with(&output, "Read-only file system"),
        1,
        "{said}{}",
        stdout(&output)
    );
    assert!(
        said.contains(&mount.path().display().to_string()),
        "names the path: {said}"
    );
    assert!(
        !stdout(&output).contains("objects failed"),
        "{}",
        stdout(&output)
    );
    assert!(files.is_empty(), "{files:?}");
}

/// Lines of a run's output (stdout and stderr) that hold `needle`.
fn lines_with(output: &std::process::Output, needle: &str) -> usize {
    let all = format!("{}{}", stdout(output), stderr(output));
    all.lines().filter(|l| l.contains(needle)).count()
}

/// A local destination under a file: the copy stops at once with one error that names the
/// path, not the same failure for each object; nothing is written.
#[tokio::test]
async fn a_destination_under_a_file_fails_once_naming_it() {
    let source = kit::new_s3_bucket("under-file").await;
    kit::put_tiny(
        &kit::open(&source).await,
        (0..30).map(|i| format!("k{i:02}")),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-file"), b"x").unwrap();
    let dest = dir.path().join("a-file/sub");
    let output = awcopy(&[
        "cp",
        "-r",
        &source.to_string(),
        &format!("{}/", dest.display()),
    ]);
    let said = stderr(&output);
    assert!(
        !matches!(output.status.code(), Some(0 | 1)),
        "a failure of the whole copy, not of some objects: {:?} {said}",
        output.status.code()
    );
    assert_eq!(
        lines_with(&output, "Not a directory"),
        1,
        "{said}{}",
        stdout(&output)
    );
    assert!(said.contains("a-file"), "the error names the path: {said}");
    assert_eq!(walk(dir.path()), ["a-file"]);
}

/// A destination that refuses the credentials (a wrong account key): the copy stops at once
/// with one error and exit 3, the job is failed with the error's class, and no object is
/// listed as failed.
#[tokio::test]
async fn refused_credentials_stop_the_copy_once() {
    let source = kit::new_s3_bucket("wrong-key").await;
    kit::put_tiny(
        &kit::open(&source).await,
        (0..40).map(|i| format!("k{i:02}")),
    )
    .await;
    let container = kit::new_azure_container("wrong-key").await;
    let right = std::env::var("AZURE_STORAGE_CONNECTION_STRING").unwrap();
    let wrong_key = "d3JvbmctYnV0LXdlbGwtZm9ybWVkLWtleS1mb3ItdGhlLWF6dXJlLWVtdWxhdG9yLTEyMzQ=";
    let wrong: String = right
        .split(';')
        .map(|part| match part.starts_with("AccountKey=") {
            true => format!("AccountKey={wrong_key}"),
            false => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(";");
    let db = tempfile::tempdir().unwrap();
    let db = db.path().join("jobs.db");
    let db = db.to_str().unwrap();
    let output = awcopy_with_env(
        &[
            "--db",
            db,
            "cp",
            "-r",
            &source.to_string(),
            &kit::location_text(&container),
        ],
        &[("AZURE_STORAGE_CONNECTION_STRING", &wrong)],
    );
    let said = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{said}{}", stdout(&output));
    assert!(!said.contains(wrong_key) && !stdout(&output).contains(wrong_key));
    assert_eq!(
        lines_with(&output, "AuthorizationFailure"),
        1,
        "{said}{}",
        stdout(&output)
    );
    let listed = stdout(&awcopy(&["--db", db, "jobs", "list", "--json"]));
    let job: serde_json::Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error_kind"], "auth", "{job}");
    assert_eq!(job["objects_failed"], 0, "{job}");
}
