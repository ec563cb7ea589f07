//! Streaming between clouds holds bounded memory and writes nothing to disk.

use super::{contents, put};
use awcopy_testkit as kit;

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
