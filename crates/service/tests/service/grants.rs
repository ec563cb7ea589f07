//! Grants hold against what a user sends (issue #30): a prefix grant covers what is under it
//! and nothing beside, names that look like paths stay names, local paths cannot leave their
//! granted root by dots or links, and encryption keys are names the operator configured.

use crate::harness::{self as svc, ADMIN, ALICE, BOB};
use awcopy_testkit as kit;
use std::collections::BTreeMap;
use std::path::Path;

/// A read grant of `s3://b/team-b/` covers what is under it and nothing beside: the object
/// named exactly `team-b` cannot be read or moved; object names that look like paths out of
/// the prefix (`team-b/../../x`) land under the destination prefix, as the names they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_grant_covers_what_is_under_it_and_hostile_names_stay_there() {
    let bucket = kit::new_s3_bucket("trust-prefix").await;
    let container = kit::new_azure_container("trust-prefix").await;
    let (b, c) = (kit::bucket_name(&bucket), kit::bucket_name(&container));
    let s3 = kit::open(&bucket).await;
    let mut under = BTreeMap::new();
    for key in [
        "ok",
        "../../escaped",
        "a/../../../escaped2",
        "./dot",
        "../x",
        "%2e%2e/enc",
    ] {
        under.insert(
            key.to_owned(),
            kit::pattern(100 + key.len(), key.len() as u64),
        );
    }
    let mut all: BTreeMap<String, Vec<u8>> = under
        .iter()
        .map(|(k, v)| (format!("team-b/{k}"), v.clone()))
        .collect();
    all.insert("team-b".into(), kit::pattern(7, 1));
    all.insert("team-bx/no".into(), kit::pattern(8, 2));
    kit::put_all(&s3, &all).await;
    let (_guard, dir) = svc::service_dir();
    let az = format!("az://devstoreaccount1/{c}");
    svc::write_config(
        &dir,
        (&[], &[]),
        (
            &[format!("s3://{b}/team-b/")],
            &[format!("{az}/dest/"), format!("s3://{b}/team-b/")],
        ),
    );
    let service = svc::start(&dir, 2);
    for mode in ["cp", "mv"] {
        let body = serde_json::json!({"version": 1, "mode": mode, "source": format!("s3://{b}/team-b"), "dest": format!("{az}/dest/")});
        service
            .refused("/api/v1/jobs", BOB, body, 403, &["source", "may not read"])
            .await;
    }
    service
        .refused(
            "/api/v1/jobs",
            BOB,
            svc::copy_spec(&format!("s3://{b}/team-bx/"), &format!("{az}/dest/")),
            403,
            &["source"],
        )
        .await;
    let job = service
        .create(
            "/api/v1/jobs",
            BOB,
            svc::copy_spec(&format!("s3://{b}/team-b"), &format!("{az}/dest/")),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    let done = service.wait_for(id, BOB, &svc::ENDS).await;
    assert_eq!(done["status"], "completed", "{done}");
    let az_store = kit::open(&container).await;
    // Everything the container holds is under dest/, and is exactly what was under team-b/.
    let mut expected = BTreeMap::new();
    for (key, bytes) in &under {
        expected.insert(format!("dest/{key}"), bytes.clone());
    }
    kit::assert_holds(&az_store, "", &expected).await;
    assert!(
        s3.head("team-b").await.is_ok(),
        "the object named like the grant is still there"
    );
}

/// Local grants are real boundaries: a location with `..` is refused; a symlink out of the
/// granted directory is neither read (as a source, a listed file, or a root) nor written
/// through; a path under no grant is refused even for an admin; nothing outside is read or
/// written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_grants_hold_against_dots_and_symlinks() {
    let top = tempfile::tempdir().unwrap();
    let t = top.path();
    granted_tree_with_links_out(t);
    let bucket = kit::new_s3_bucket("trust-local").await;
    let b = kit::bucket_name(&bucket);
    let s3 = kit::open(&bucket).await;
    kit::put_tiny(&s3, ["in/x".to_owned()]).await;
    let (_guard, dir) = svc::service_dir();
    let shown = |p: &str| t.join(p).display().to_string();
    svc::write_config(
        &dir,
        (
            &[format!("{}/", shown("granted")), format!("s3://{b}/in/")],
            &[format!("{}/", shown("out")), format!("s3://{b}/copy/")],
        ),
        (&[], &[]),
    );
    let service = svc::start(&dir, 2);
    for (source, needle) in [
        (format!("{}/../secret/", shown("granted")), "'..'"),
        (format!("{}/./../secret", shown("granted")), "'..'"),
        (
            format!("file://{}/../secret/", shown("granted")),
            "not under",
        ),
        (shown("secret/"), "not under"),
        ("/etc/".to_owned(), "not under"),
        ("granted/".to_owned(), "relative"),
    ] {
        let body = svc::copy_spec(&source, &format!("s3://{b}/copy/"));
        service
            .refused(
                "/api/v1/jobs",
                ALICE,
                body.clone(),
                400,
                &["source", needle],
            )
            .await;
        service
            .refused("/api/v1/jobs", ADMIN, body, 400, &["source", needle])
            .await;
    }
    // Through a linked directory: the job cannot open its root.
    let ended = service
        .run_to_end(
            ALICE,
            svc::copy_spec(
                &format!("{}/", shown("granted/link-dir")),
                &format!("s3://{b}/copy/via-link/"),
            ),
        )
        .await;
    assert_ne!(ended["status"], "completed", "{ended}");
    // The granted directory: its files, not what its links lead out to.
    let ended = service
        .run_to_end(
            ALICE,
            svc::copy_spec(
                &format!("{}/", shown("granted")),
                &format!("s3://{b}/copy/all/"),
            ),
        )
        .await;
    assert_eq!(ended["status"], "completed", "{ended}");
    let expected = BTreeMap::from([
        ("a.txt".to_owned(), b"alpha".to_vec()),
        ("sub/b.txt".to_owned(), b"beta".to_vec()),
    ]);
    kit::assert_holds(&s3, "copy/all/", &expected).await;
    // Written through a link out of the granted destination: refused, nothing lands outside.
    let ended = service
        .run_to_end(
            ALICE,
            svc::copy_spec(&format!("s3://{b}/in/"), &format!("{}/", shown("out/evil"))),
        )
        .await;
    assert_ne!(ended["status"], "completed", "{ended}");
    service
        .refused(
            "/api/v1/jobs",
            ALICE,
            svc::copy_spec(
                &format!("s3://{b}/in/"),
                &format!("{}/../secret2/", shown("out")),
            ),
            400,
            &["dest", "'..'"],
        )
        .await;
    assert_eq!(
        std::fs::read_dir(t.join("secret2")).unwrap().count(),
        0,
        "nothing written outside"
    );
    assert_eq!(std::fs::read_dir(t.join("secret")).unwrap().count(), 1);
    no_copy_holds_the_secret(&s3).await;
}

/// Under `t`: `granted/` (two files, and links to a secret directory and file, absolute and
/// relative), `secret/s.txt`, an empty `secret2/`, and `out/evil` linking to it.
fn granted_tree_with_links_out(t: &Path) {
    let write = |path: &Path, bytes: &[u8]| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    write(&t.join("granted/a.txt"), b"alpha");
    write(&t.join("granted/sub/b.txt"), b"beta");
    write(&t.join("secret/s.txt"), b"TOP-SECRET-BYTES");
    std::fs::create_dir_all(t.join("secret2")).unwrap();
    std::fs::create_dir_all(t.join("out")).unwrap();
    let link = |target: &Path, at: &Path| std::os::unix::fs::symlink(target, at).unwrap();
    link(&t.join("secret"), &t.join("granted/link-dir"));
    link(&t.join("secret/s.txt"), &t.join("granted/link-file"));
    link(Path::new("../secret/s.txt"), &t.join("granted/rel-file"));
    link(&t.join("secret2"), &t.join("out/evil"));
}

/// No object of `s3` holds the secret's bytes.
async fn no_copy_holds_the_secret(s3: &std::sync::Arc<dyn awcopy_store::Store>) {
    let copied = kit::versions(s3).await;
    for key in copied.keys() {
        let got = s3.get(key, None).await.unwrap();
        use futures::TryStreamExt;
        let bytes = got.body.try_collect::<Vec<_>>().await.unwrap().concat();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("TOP-SECRET"),
            "{key} holds the secret"
        );
    }
}

/// Encryption keys over the API are names the operator configured, granted per user: a key
/// file a user names is never opened (the answer is the same whether it exists or not), a
/// key the user was not granted is refused like one that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_named_never_read_from_a_users_path() {
    let bucket = kit::new_s3_bucket("trust-keys").await;
    let b = kit::bucket_name(&bucket);
    let (_guard, dir) = svc::service_dir();
    let key_file = dir.join("team-a.key");
    std::fs::write(&key_file, [7u8; 32]).unwrap();
    let grant = vec![format!("s3://{b}/")];
    let keys = format!(
        "[[key]]\nname = \"team-a\"\nfile = \"{}\"\nusers = [\"alice\"]\n\n",
        key_file.display()
    );
    svc::write_config_with(&dir, (&grant, &grant), (&grant, &grant), &keys);
    let service = svc::start(&dir, 1);
    let body = |encryption: serde_json::Value| {
        svc::with(
            svc::copy_spec(&format!("s3://{b}/in/"), &format!("s3://{b}/out/")),
            serde_json::json!({"encryption": encryption}),
        )
    };
    let mut answers = Vec::new();
    for path in [
        "/etc/hostname",
        "/nonexistent/awcopy.key",
        key_file.to_str().unwrap(),
    ] {
        // sse-c: the kind an S3 destination takes (cpk's key_file is the same field,
        // refused by the same check; on S3 it is refused before, as not applying).
        let encryption = serde_json::json!({"kind": "sse-c", "key_file": path});
        let (status, answer) = service
            .call(
                "POST",
                "/api/v1/jobs",
                Some(ALICE),
                Some(body(encryption).to_string()),
            )
            .await;
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains("key_file"),
            "{answer}"
        );
        answers.push(answer.to_string());
    }
    answers.dedup();
    assert_eq!(
        answers.len(),
        1,
        "one answer, whatever the file: {answers:?}"
    );
    let not_granted = body(serde_json::json!({"kind": "sse-c", "key_name": "team-a"}));
    service
        .refused(
            "/api/v1/jobs",
            BOB,
            not_granted,
            403,
            &["encryption.key_name", "team-a"],
        )
        .await;
    let (_, unknown) = service
        .call(
            "POST",
            "/api/v1/jobs",
            Some(ALICE),
            Some(body(serde_json::json!({"kind": "sse-c", "key_name": "nope"})).to_string()),
        )
        .await;
    assert_eq!(unknown["kind"], "forbidden", "{unknown}");
    let job = service
        .create(
            "/api/v1/jobs",
            ALICE,
            body(serde_json::json!({"kind": "sse-c", "key_name": "team-a"})),
        )
        .await;
    assert_eq!(job["spec"]["encryption"]["key_name"], "team-a", "{job}");
    assert!(job["spec"]["encryption"].get("key_file").is_none(), "{job}");
    assert!(service.all_jobs().await.len() == 1);
}
