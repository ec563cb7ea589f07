//! `awcopy db migrate` and `--db postgres://`: a catalogue a real copy wrote moved from SQLite
//! into PostgreSQL and read there by `awcopy jobs`; passwords on the command line, a missing
//! source and a full destination refused, naming the argument.

use crate::common::{assert_fails, awcopy_with_env, stdout};
use awcopy_testkit as kit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copys_catalogue_moves_into_postgres_and_is_read_there() {
    let source = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    for n in 0..5 {
        std::fs::write(source.path().join(format!("f{n}")), kit::pattern(100, n)).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("awcopy.db");
    let file = file.to_str().unwrap();
    let (from, to) = (
        format!("{}/", source.path().display()),
        format!("{}/", dest.path().display()),
    );
    let copied = awcopy_with_env(&["cp", "-r", &from, &to, "--db", file], &[]);
    assert_eq!(copied.status.code(), Some(0), "{copied:?}");
    let listed_before = stdout(&awcopy_with_env(&["jobs", "list", "--db", file], &[]));

    let url = kit::catalogue::fresh_postgres_database().await;
    let moved = awcopy_with_env(&["db", "migrate", "--from", file, "--to", &url], &[]);
    assert_eq!(moved.status.code(), Some(0), "{moved:?}");
    let said = stdout(&moved);
    assert!(said.contains("jobs") && said.contains("moved"), "{said}");
    let listed_after = stdout(&awcopy_with_env(&["jobs", "list", "--db", &url], &[]));
    assert_eq!(listed_after, listed_before);
    assert!(listed_after.contains("completed"), "{listed_after}");

    // Moved once: a second time finds the database holding jobs, and says so.
    let again = awcopy_with_env(&["db", "migrate", "--from", file, "--to", &url], &[]);
    assert_fails(&again, 6, &["migrate into an empty catalogue"]);

    // A password on the command line is refused before anything is opened, and not shown.
    let mut with_password = url::Url::parse(&url).unwrap();
    with_password.set_password(Some("s3cret-pw")).unwrap();
    for args in [
        vec!["db", "migrate", "--from", file, "--to", with_password.as_str()],
        vec!["jobs", "list", "--db", with_password.as_str()],
    ] {
        let refused = awcopy_with_env(&args, &[]);
        assert_fails(&refused, 2, &["PGPASSWORD", "ps"]);
        assert!(!String::from_utf8_lossy(&refused.stderr).contains("s3cret-pw"));
    }
    // ... but taken from AWCOPY_DB, where `ps` does not show it (the wrong one: refused by
    // the server, and still not shown).
    let refused = awcopy_with_env(&["jobs", "list"], &[("AWCOPY_DB", with_password.as_str())]);
    assert_eq!(refused.status.code(), Some(6), "{refused:?}");
    assert!(!String::from_utf8_lossy(&refused.stderr).contains("s3cret-pw"));
    let missing = dir.path().join("missing.db");
    let missing = awcopy_with_env(
        &["db", "migrate", "--from", missing.to_str().unwrap(), "--to", &url],
        &[],
    );
    assert_fails(&missing, 2, &["--from", "not a file"]);
}
