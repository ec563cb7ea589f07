//! Every run is a job in the catalogue: listed and shown with its failure, retried under another
//! name policy, none made outside the catalogue, no secret kept.

use super::{contents, put};
use crate::common::{assert_fails, awcopy_with_env, stderr, stdout};
use awcopy_testkit as kit;

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

/// With no variable naming the user, a job is recorded for the account of the process's uid,
/// not for "unknown".
#[test]
fn without_user_variables_the_job_is_the_accounts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("in")).unwrap();
    std::fs::write(dir.path().join("in/a"), b"a").unwrap();
    let db = dir.path().join("jobs.db");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_awcopy"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .env_remove("USER")
            .env_remove("LOGNAME")
            .env_remove("USERNAME")
            .output()
            .unwrap()
    };
    let (from, to) = (dir.path().join("in/"), dir.path().join("out/"));
    let copied = run(&["cp", "-r", from.to_str().unwrap(), to.to_str().unwrap()]);
    assert!(copied.status.success(), "{}", stderr(&copied));
    let account = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    let account = String::from_utf8(account.stdout).unwrap().trim().to_owned();
    let listed = stdout(&run(&["jobs", "list", "--json"]));
    let job: serde_json::Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    assert_eq!(job["user"], account.as_str(), "{job}");
}
