//! What reaches the user's terminal: control characters from the service escaped, weak
//! tokens refused before they are hashed.

use crate::common::service::{self as svc, ALICE};
use crate::common::{awcopy_with_env, stderr, stdout};
use awcopy_testkit as kit;

/// What the service says is shown on one line: a location with control characters in its
/// name does not reach the terminal raw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_from_the_service_are_escaped_on_the_terminal() {
    let bucket = kit::new_s3_bucket("trust-ctl").await;
    let b = kit::bucket_name(&bucket);
    let (_guard, dir) = svc::service_dir();
    let grant = vec![format!("s3://{b}/")];
    svc::write_config(&dir, (&grant, &grant), (&[], &[]));
    let service = svc::start(&dir, 1);
    let dest = format!("s3://{b}/out/\u{1b}[2J\u{1b}[31mred\r\nforged line/");
    service
        .create(
            "/api/v1/jobs",
            ALICE,
            svc::copy_spec(&format!("s3://{b}/in/"), &dest),
        )
        .await;
    let out = awcopy_with_env(
        &["jobs", "list", "--server", &service.url],
        &[("AWCOPY_TOKEN", ALICE)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = stdout(&out);
    assert!(
        !listed.contains('\u{1b}') && !listed.contains('\r'),
        "{listed:?}"
    );
    assert!(listed.contains("\\u{1b}[2J"), "{listed:?}");
    assert_eq!(listed.lines().count(), 1, "{listed:?}");
}

/// `awcopy serve --hash-token` refuses a token too weak to stand guessing, saying how many
/// bits a token needs, and prints no hash.
#[test]
fn weak_tokens_get_no_hash() {
    for weak in ["short", "0123456789abcdef", "alice-token-5b1e0c9d"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_awcopy"))
            .args(["serve", "--hash-token"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(weak.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{weak}");
        assert!(stderr(&out).contains("128"), "{}", stderr(&out));
        assert!(stdout(&out).is_empty());
    }
}
