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
        vec![
            "db",
            "migrate",
            "--from",
            file,
            "--to",
            with_password.as_str(),
        ],
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
    // A database nobody answers for: a network failure, saying so.
    let nobody = format!("postgres://awcopy@127.0.0.1:{}/awcopy", kit::free_port());
    let unreachable = awcopy_with_env(&["jobs", "list", "--db", &nobody], &[]);
    assert_fails(
        &unreachable,
        5,
        &["cannot be reached", "reachable from here"],
    );
    let missing = dir.path().join("missing.db");
    let missing = awcopy_with_env(
        &[
            "db",
            "migrate",
            "--from",
            missing.to_str().unwrap(),
            "--to",
            &url,
        ],
        &[],
    );
    assert_fails(&missing, 2, &["--from", "not a file"]);
}

/// PostgreSQL stopped mid-copy for longer than a connection is waited for (10 s), as a restart
/// or a failover does: the copy waits for its catalogue, goes on, and its record is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_mid_copy_the_job_waits_and_completes_exactly() {
    use awcopy_jobs::{Catalog, CatalogAddress, JobCatalog, ListFilter};
    let server = kit::catalogue::PostgresServer::start();
    let source = tempfile::tempdir().unwrap();
    let files: std::collections::BTreeMap<String, Vec<u8>> = (0..200)
        .map(|n| (format!("f{n:03}"), kit::pattern(1000 + n, n as u64)))
        .collect();
    for (name, data) in &files {
        std::fs::write(source.path().join(name), data).unwrap();
    }
    let container = kit::new_azure_container("pg-restart").await;
    let proxy = kit::fault_proxy::slow_azure(150).await;
    let dest = kit::fault_proxy::through(&proxy, &container);
    let from = format!("{}/", source.path().display());
    let url = server.url();
    let copy = std::process::Command::new(env!("CARGO_BIN_EXE_awcopy"))
        .args(["cp", "-r", &from, &dest, "--concurrency", "2", "--db", &url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let address: CatalogAddress = url.parse().unwrap();
    let catalog = Catalog::open(address.clone()).await.unwrap();
    let copied = |catalog: Catalog| async move {
        let jobs = catalog.list(&ListFilter::default()).await.unwrap();
        jobs.first().map_or(0, |job| job.objects_copied)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while copied(catalog.clone()).await < 10 {
        assert!(
            std::time::Instant::now() < deadline,
            "the copy never got going"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(catalog);
    server.stop();
    tokio::time::sleep(std::time::Duration::from_secs(12)).await;
    server.start_again();
    let output = tokio::task::spawn_blocking(move || copy.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{said}");
    kit::assert_holds(&kit::open(&container).await, "", &files).await;
    let catalog = Catalog::open(address).await.unwrap();
    let jobs = catalog.list(&ListFilter::default()).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status.as_str(), "completed");
    assert_eq!(jobs[0].objects_copied, files.len() as i64, "{:?}", jobs[0]);
    assert_eq!(jobs[0].objects_failed, 0);
}
