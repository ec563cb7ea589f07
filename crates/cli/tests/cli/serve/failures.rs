//! A job that fails as a whole says why wherever the user looks, and exits alike wherever it
//! ran: the same missing bucket gives the same exit code to a local `cp` and to `cp --via
//! --wait`, and `jobs show` (local and `--server`, line for line alike) prints the error and
//! its class.

use super::as_user;
use crate::common::service::{self as svc, ALICE};
use crate::common::{awcopy, stderr, stdout};
use awcopy_testkit as kit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_fails_alike_locally_and_through_the_service() {
    let bucket = kit::new_s3_bucket("svc-fail").await;
    let missing = format!("s3://{}/", kit::unique_name("svc-fail-missing"));
    let dest = format!("{bucket}out/");
    let (_guard, dir) = svc::service_dir();
    let grant = vec![bucket.to_string(), missing.clone()];
    svc::write_config(&dir, (&grant, &grant), (&[], &[]));
    let service = svc::start(&dir, 1);

    let db = dir.join("local.db");
    let db = db.to_str().unwrap();
    let local = awcopy(&["--db", db, "cp", "-r", &missing, &dest]);
    assert_eq!(local.status.code(), Some(4), "{}", stderr(&local));
    let remote = as_user(
        ALICE,
        &["cp", "-r", &missing, &dest, "--via", &service.url, "--wait"],
    );
    let said = stderr(&remote);
    assert_eq!(remote.status.code(), local.status.code(), "{said}");
    assert!(said.contains("failed on the service: "), "{said}");
    assert!(said.contains("once that is put right"), "{said}");

    let listed = stdout(&awcopy(&["--db", db, "jobs", "list", "--json"]));
    let local_job: serde_json::Value =
        serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    let local_id = local_job["id"].as_str().unwrap();
    let remote_job = &service.all_jobs().await[0];
    assert_eq!(remote_job["error_kind"], "not-found", "{remote_job}");
    assert!(remote_job["finished_at"].is_string(), "{remote_job}");
    let remote_id = remote_job["id"].as_str().unwrap();
    let mut labels = Vec::new();
    for (where_, shown) in [
        ("local", awcopy(&["--db", db, "jobs", "show", local_id])),
        (
            "remote",
            as_user(
                ALICE,
                &["jobs", "show", remote_id, "--server", &service.url],
            ),
        ),
    ] {
        let text = stdout(&shown);
        let error = text.lines().find(|l| l.starts_with("error "));
        assert!(
            error.is_some_and(|l| l.ends_with("(not-found)")),
            "{where_} jobs show: {text}"
        );
        let first_words: Vec<String> = text
            .lines()
            .map(|l| l.split_whitespace().next().unwrap_or("").to_owned())
            .collect();
        labels.push(first_words);
    }
    assert_eq!(
        labels[0], labels[1],
        "jobs show says as much through the service"
    );
}
