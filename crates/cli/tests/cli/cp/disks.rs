//! Local destinations that cannot take the copy: a full disk and an unwritable directory fail
//! cleanly, leaving nothing half-written.

use super::put;
use crate::common::{awcopy, stderr, stdout};
use awcopy_testkit as kit;

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
