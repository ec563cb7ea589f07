//! The service's trust boundary, tried as an attacker would (issue #30): a user with a valid
//! token and nothing else, or anyone who can publish on the NATS server. Each attack is an
//! assertion that can fail: a recording listener on another loopback address (127.0.0.2)
//! that must receive nothing whatever a user submits, a path that must not leave its root, a
//! forged message that must change nothing, a bound that must be refused with the field named.

mod common;

use awcopy_testkit as kit;
use common::service::{self as svc, Service, ADMIN, ALICE, BOB};
use common::{awcopy_with_env, stderr, stdout};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// A secret the service's environment holds and nobody may ever see.
const SERVICE_SAS: &str = "sv=2024-11-04&ss=b&srt=sco&sp=rwdl&sig=SERVICE-SAS-SECRET-7f1c0d";

/// A recursive copy spec.
fn spec(source: &str, dest: &str) -> serde_json::Value {
    serde_json::json!({"version": 1, "mode": "cp", "source": source, "dest": dest, "recursive": true})
}

/// `spec` with `extra` fields merged in.
fn with(mut spec: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    if let (Some(spec), serde_json::Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
    spec
}

/// The name of a bucket.
fn bucket_name(bucket: &awcopy_store::Location) -> String {
    match bucket {
        awcopy_store::Location::S3 { bucket, .. } => bucket.clone(),
        other => panic!("not a bucket: {other:?}"),
    }
}

/// The states a job ends in.
const ENDS: [&str; 3] = ["completed", "completed-with-failures", "failed"];

/// Submits `body` as `token` and waits for the job to end; the job as it ended.
async fn run_to_end(service: &Service, token: &str, body: serde_json::Value) -> serde_json::Value {
    let job = service.create("/api/v1/jobs", token, body).await;
    service
        .wait_for(job["id"].as_str().unwrap(), token, &ENDS)
        .await
}

/// Every job any user has, as the admin sees them.
async fn all_jobs(service: &Service) -> Vec<serde_json::Value> {
    service
        .get("/api/v1/jobs", ADMIN)
        .await
        .as_array()
        .unwrap()
        .clone()
}

/// Submits `body` as `token`, expecting `status` and a message holding every needle.
async fn refused(
    service: &Service,
    path: &str,
    token: &str,
    body: serde_json::Value,
    status: u16,
    needles: &[&str],
) {
    let (got, answer) = service
        .call("POST", path, Some(token), Some(body.to_string()))
        .await;
    assert_eq!(got, status, "POST {path} {body}: {answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    for needle in needles {
        assert!(
            message.contains(needle),
            "POST {path} {body}: {message} lacks {needle:?}"
        );
    }
}

/// The Azure emulator's `host:port`.
fn azure_host() -> String {
    let endpoint = kit::azure_endpoint();
    endpoint["http://".len()..endpoint.rfind('/').unwrap()].to_owned()
}

/// Every spelling of a location on a host the service was not configured for, and of a
/// configured one it must not leave, is refused at submission before a single request: the
/// recording listener on 127.0.0.2 receives nothing, no job is made, and no secret of the
/// service's environment shows in any answer or log.
/// Every spelling of a place the operator did not configure (another host, an address of
/// it in another form, another account or cloud, credentials in the URL), with `PLACE` for
/// the prefix, and what the refusal must name. `evil` is the recording listener, `b` and `c`
/// the granted bucket and container, `emulator` Azurite's host.
fn foreign_spellings(evil: &str, b: &str, c: &str, emulator: &str) -> Vec<(String, String)> {
    vec![
        (
            format!("http://{evil}/devstoreaccount1/{c}/PLACE/"),
            evil.to_owned(),
        ),
        (
            format!("HTTP://{evil}/devstoreaccount1/{c}/PLACE/"),
            evil.to_owned(),
        ),
        (
            format!("http://{evil}/devstoreaccount1/{c}//PLACE/"),
            evil.to_owned(),
        ),
        (
            format!("http://{evil}/devstoreaccount1/{c}/PLACE//"),
            evil.to_owned(),
        ),
        (
            format!("http://{evil}/devstoreaccount1/{c}/x/../PLACE/"),
            evil.to_owned(),
        ),
        (
            format!("http://{evil}/devstoreaccount1/{c}/%50LACE/"),
            evil.to_owned(),
        ),
        (
            format!("http://{evil}/devstoreaccount1/{c}/PLACE/?comp=list"),
            evil.to_owned(),
        ),
        (
            format!(
                "http://[::ffff:127.0.0.2]:{}/devstoreaccount1/{c}/PLACE/",
                recorder_port(evil)
            ),
            recorder_port(evil).to_owned(),
        ),
        (
            format!(
                "http://2130706434:{}/devstoreaccount1/{c}/PLACE/",
                recorder_port(evil)
            ),
            evil.to_owned(),
        ),
        (format!("http://{evil}/{b}/PLACE/"), format!("'{b}'")),
        (
            format!("https://devstoreaccount1.blob.core.evil.example/{c}/PLACE/"),
            "devstoreaccount1.blob.core.evil.example".into(),
        ),
        (
            format!("https://devstoreaccount1.blob.core.windows.net/{c}/PLACE/"),
            "devstoreaccount1.blob.core.windows.net".into(),
        ),
        (
            format!("https://{b}.s3.us-east-1.amazonaws.com/PLACE/"),
            "s3.us-east-1.amazonaws.com".into(),
        ),
        (
            format!("https://s3.eu-west-1.amazonaws.com/{b}/PLACE/"),
            "s3.eu-west-1.amazonaws.com".into(),
        ),
        (
            format!("az://evilaccount/{c}/PLACE/"),
            "'evilaccount'".into(),
        ),
        (
            format!("http://{emulator}/evilaccount/{c}/PLACE/"),
            "'evilaccount'".into(),
        ),
        (
            format!("http://me:pw@{evil}/devstoreaccount1/{c}/PLACE/"),
            "no user or password".into(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_spelling_of_a_location_reaches_a_host_the_operator_did_not_configure() {
    let recorder = kit::recorder::Recorder::start().await;
    let evil = recorder.host();
    let bucket = kit::new_s3_bucket("trust-hosts").await;
    let container = kit::new_azure_container("trust-hosts").await;
    kit::put_tiny(&kit::open(&bucket).await, ["granted/a".to_owned()]).await;
    let Location {
        bucket: b,
        container: c,
    } = names(&bucket, &container);
    let (_guard, dir) = svc::service_dir();
    let az = format!("az://devstoreaccount1/{c}");
    svc::write_config(
        &dir,
        (
            &[format!("s3://{b}/granted/"), format!("{az}/granted/")],
            &[format!("s3://{b}/out/"), format!("{az}/out/")],
        ),
        (&[], &[]),
    );
    let service = Service::start_with_env(
        &dir,
        &["--agents", "1"],
        &[("AZURE_STORAGE_SAS_TOKEN", SERVICE_SAS)],
    );
    let emulator = azure_host();

    let foreign = foreign_spellings(&evil, &b, &c, &emulator);
    let granted = [
        ("source", "granted", format!("s3://{b}/out/")),
        ("dest", "out", format!("s3://{b}/granted/")),
    ];
    for (location, needle) in &foreign {
        for (field, place, other) in &granted {
            let location = location.replace("PLACE", place);
            let body = match *field {
                "source" => spec(&location, other),
                _ => spec(other, &location),
            };
            refused(
                &service,
                "/api/v1/jobs",
                ALICE,
                body.clone(),
                400,
                &[field, needle],
            )
            .await;
            refused(
                &service,
                "/api/v1/jobs",
                ADMIN,
                body.clone(),
                400,
                &[field, needle],
            )
            .await;
            let schedule = serde_json::json!({"template": body, "every": "1h"});
            refused(
                &service,
                "/api/v1/schedules",
                ALICE,
                schedule,
                400,
                &[field, needle],
            )
            .await;
        }
    }
    // The S3 endpoint is the service's, not a job's.
    let own = spec(&format!("s3://{b}/granted/"), &format!("s3://{b}/out/"));
    let endpoint = with(
        own.clone(),
        serde_json::json!({"s3_endpoint": format!("http://{evil}")}),
    );
    refused(
        &service,
        "/api/v1/jobs",
        ALICE,
        endpoint,
        400,
        &["s3_endpoint", &evil],
    )
    .await;
    prefixes_that_walk_out_of_a_grant_are_refused(&service, &b, &c).await;
    // The CLI says the same and exits 2.
    let out = awcopy_with_env(
        &[
            "cp",
            "-r",
            &format!("s3://{b}/granted/"),
            &format!("http://{evil}/devstoreaccount1/{c}/out/"),
            "--via",
            &service.url,
        ],
        &[("AWCOPY_TOKEN", ALICE)],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(&evil), "{}", stderr(&out));

    assert!(all_jobs(&service).await.is_empty(), "no job was made");
    assert_eq!(
        recorder.received(),
        Vec::<String>::new(),
        "the foreign host was reached"
    );
    a_granted_job_still_runs_and_no_secret_shows(&service, &dir, &recorder, &b, &c).await;
}

/// On a configured store, a prefix that walks out of a grant is refused: by its '..', or
/// (once the URL has resolved it) by the grant.
async fn prefixes_that_walk_out_of_a_grant_are_refused(service: &Service, b: &str, c: &str) {
    let (az, emulator) = (format!("az://devstoreaccount1/{c}"), azure_host());
    for (source, status, needle) in [
        (format!("{az}/granted/../out/"), 400, "'..'"),
        (format!("{az}/granted/./x/"), 400, "'.'"),
        (format!("{az}/granted//x/"), 400, "empty segment"),
        (format!("s3://{b}/granted/../secret/"), 400, "'..'"),
        (
            format!("http://{emulator}/devstoreaccount1/{c}/granted/%2e%2e/secret/"),
            403,
            "may not read",
        ),
        (
            format!("http://{emulator}/devstoreaccount1/{c}/granted/..%2F..%2Fsecret/"),
            400,
            "'..'",
        ),
    ] {
        let body = spec(&source, &format!("s3://{b}/out/"));
        refused(
            service,
            "/api/v1/jobs",
            ALICE,
            body,
            status,
            &["source", needle],
        )
        .await;
    }
}

/// A job within the grants still runs (the service shows where the emulator is), the
/// recording listener still heard nothing, and the service's answers, log and catalogue hold
/// neither its SAS nor a token.
async fn a_granted_job_still_runs_and_no_secret_shows(
    service: &Service,
    dir: &std::path::Path,
    recorder: &kit::recorder::Recorder,
    b: &str,
    c: &str,
) {
    let (az, emulator) = (format!("az://devstoreaccount1/{c}"), azure_host());
    let job = service
        .create(
            "/api/v1/jobs",
            ALICE,
            spec(
                &format!("s3://{b}/granted/"),
                &format!("http://{emulator}/devstoreaccount1/{c}/out/"),
            ),
        )
        .await;
    assert_eq!(job["dest"], format!("{az}/out/"), "{job}");
    assert_eq!(job["dest_endpoint"], kit::azure_endpoint(), "{job}");
    let id = job["id"].as_str().unwrap();
    assert_eq!(
        service.wait_for(id, ALICE, &["completed", "failed"]).await["status"],
        "completed"
    );
    assert!(recorder.received().is_empty());
    for text in [
        service.said.lock().unwrap().clone(),
        service.log(),
        svc::catalogue_text(dir),
    ] {
        assert!(
            !text.contains("SERVICE-SAS-SECRET"),
            "the service's SAS showed"
        );
        svc::assert_no_tokens("the service's answers, log and catalogue", &text);
    }
}

/// A bucket's and a container's names.
struct Location {
    bucket: String,
    container: String,
}

fn names(bucket: &awcopy_store::Location, container: &awcopy_store::Location) -> Location {
    match (bucket, container) {
        (
            awcopy_store::Location::S3 { bucket, .. },
            awcopy_store::Location::Azure { container, .. },
        ) => Location {
            bucket: bucket.clone(),
            container: container.clone(),
        },
        other => panic!("{other:?}"),
    }
}

fn recorder_port(host: &str) -> &str {
    &host[host.rfind(':').unwrap() + 1..]
}

/// A read grant of `s3://b/team-b/` covers what is under it and nothing beside: the object
/// named exactly `team-b` cannot be read or moved; object names that look like paths out of
/// the prefix (`team-b/../../x`) land under the destination prefix, as the names they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_grant_covers_what_is_under_it_and_hostile_names_stay_there() {
    let bucket = kit::new_s3_bucket("trust-prefix").await;
    let container = kit::new_azure_container("trust-prefix").await;
    let Location {
        bucket: b,
        container: c,
    } = names(&bucket, &container);
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
    let service = Service::start(&dir, 2);
    for mode in ["cp", "mv"] {
        let body = serde_json::json!({"version": 1, "mode": mode, "source": format!("s3://{b}/team-b"), "dest": format!("{az}/dest/")});
        refused(
            &service,
            "/api/v1/jobs",
            BOB,
            body,
            403,
            &["source", "may not read"],
        )
        .await;
    }
    refused(
        &service,
        "/api/v1/jobs",
        BOB,
        spec(&format!("s3://{b}/team-bx/"), &format!("{az}/dest/")),
        403,
        &["source"],
    )
    .await;
    let job = service
        .create(
            "/api/v1/jobs",
            BOB,
            spec(&format!("s3://{b}/team-b"), &format!("{az}/dest/")),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    let done = service.wait_for(id, BOB, &ENDS).await;
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
    let b = bucket_name(&bucket);
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
    let service = Service::start(&dir, 2);
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
        let body = spec(&source, &format!("s3://{b}/copy/"));
        refused(
            &service,
            "/api/v1/jobs",
            ALICE,
            body.clone(),
            400,
            &["source", needle],
        )
        .await;
        refused(
            &service,
            "/api/v1/jobs",
            ADMIN,
            body,
            400,
            &["source", needle],
        )
        .await;
    }
    // Through a linked directory: the job cannot open its root.
    let ended = run_to_end(
        &service,
        ALICE,
        spec(
            &format!("{}/", shown("granted/link-dir")),
            &format!("s3://{b}/copy/via-link/"),
        ),
    )
    .await;
    assert_ne!(ended["status"], "completed", "{ended}");
    // The granted directory: its files, not what its links lead out to.
    let ended = run_to_end(
        &service,
        ALICE,
        spec(
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
    let ended = run_to_end(
        &service,
        ALICE,
        spec(&format!("s3://{b}/in/"), &format!("{}/", shown("out/evil"))),
    )
    .await;
    assert_ne!(ended["status"], "completed", "{ended}");
    refused(
        &service,
        "/api/v1/jobs",
        ALICE,
        spec(
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
    let b = bucket_name(&bucket);
    let (_guard, dir) = svc::service_dir();
    let key_file = dir.join("team-a.key");
    std::fs::write(&key_file, [7u8; 32]).unwrap();
    let grant = vec![format!("s3://{b}/")];
    let keys = format!(
        "[[key]]\nname = \"team-a\"\nfile = \"{}\"\nusers = [\"alice\"]\n\n",
        key_file.display()
    );
    svc::write_config_with(&dir, (&grant, &grant), (&grant, &grant), &keys);
    let service = Service::start(&dir, 1);
    let body = |encryption: serde_json::Value| {
        with(
            spec(&format!("s3://{b}/in/"), &format!("s3://{b}/out/")),
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
    refused(
        &service,
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
    assert!(all_jobs(&service).await.len() == 1);
}

/// Every duration, size and count a user can ask for has a ceiling, refused with a 400 that
/// names the field; and no schedule stops the scheduler: schedules whose stored timing or
/// overlap is out of any range (as an older awcopy let them be) turn off saying why, while
/// another keeps running, before and after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_requests_are_refused_and_no_schedule_stops_the_scheduler() {
    let bucket = kit::new_s3_bucket("trust-bounds").await;
    let b = bucket_name(&bucket);
    kit::put_tiny(&kit::open(&bucket).await, ["in/a".to_owned()]).await;
    let (_guard, dir) = svc::service_dir();
    let grant = vec![format!("s3://{b}/")];
    svc::write_config(&dir, (&grant, &grant), (&[], &[]));
    let mut service = Service::start(&dir, 1);
    let template = spec(&format!("s3://{b}/in/"), &format!("s3://{b}/out/"));
    extreme_values_are_refused_naming_their_field(&service, &template).await;

    // A good schedule every second, and two that hold values no API would take today.
    let good = service
        .create(
            "/api/v1/schedules",
            ALICE,
            serde_json::json!({"name": "good", "template": template, "every": "1s"}),
        )
        .await;
    let good_id = good["id"].as_str().unwrap().to_owned();
    let mut bad = Vec::new();
    for name in ["far", "wide"] {
        let made = service
            .create("/api/v1/schedules", ALICE, serde_json::json!({"name": name, "template": template, "every": "1h", "enabled": false}))
            .await;
        bad.push(made["id"].as_str().unwrap().to_owned());
    }
    let db = rusqlite::Connection::open(dir.join("service.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let past = "2000-01-01T00:00:00Z";
    db.execute(
        "UPDATE schedules SET every_secs = 9000000000000000, enabled = 1, next_run = ?1 WHERE id = ?2",
        rusqlite::params![past, bad[0]],
    )
    .unwrap();
    db.execute(
        "UPDATE schedules SET overlap_secs = 9000000000000000, watermark = '2026-01-01T00:00:00Z', enabled = 1, next_run = ?1 WHERE id = ?2",
        rusqlite::params![past, bad[1]],
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reasons = turned_off(&service, bad.clone()).await;
        if reasons.len() == 2 {
            assert!(reasons[0].contains("every"), "{reasons:?}");
            assert!(reasons[1].contains("overlap"), "{reasons:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the bad schedules never turned off: {reasons:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let before = runs_of(&service, good_id.clone()).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while runs_of(&service, good_id.clone()).await < before + 2 {
        assert!(
            Instant::now() < deadline,
            "the good schedule stopped running"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Bad again, and the service restarted: the scheduler still runs the good one.
    db.execute(
        "UPDATE schedules SET enabled = 1, next_run = ?1, disabled_reason = NULL WHERE id = ?2",
        rusqlite::params![past, bad[0]],
    )
    .unwrap();
    service.kill9();
    let service = Service::start(&dir, 1);
    let before = runs_of(&service, good_id.clone()).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while runs_of(&service, good_id.clone()).await < before + 2 {
        assert!(
            Instant::now() < deadline,
            "after a restart the good schedule stopped running"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(!service.log().contains("panicked"), "{}", service.log());
}

/// Schedules and jobs whose values are out of bounds (periods, sizes, tuning, filters, names,
/// a page's limit) are refused at once, naming the field as the API names it.
async fn extreme_values_are_refused_naming_their_field(
    service: &Service,
    template: &serde_json::Value,
) {
    for (extra, field) in [
        (serde_json::json!({"every": "100000000d"}), "every"),
        (
            serde_json::json!({"every": "99999999999999999999s"}),
            "every",
        ),
        (serde_json::json!({"every": "367d"}), "every"),
        (
            serde_json::json!({"every": "1h", "overlap": "9999d"}),
            "overlap",
        ),
        (
            serde_json::json!({"every": "1h", "max_failures": 0}),
            "max_failures",
        ),
        (
            serde_json::json!({"every": "1h", "max_failures": 1000}),
            "max_failures",
        ),
        (serde_json::json!({"cron": "0 0 30 2 *"}), "cron"),
        (serde_json::json!({"cron": "* ".repeat(200)}), "cron"),
    ] {
        let body = with(serde_json::json!({"template": template}), extra.clone());
        let started = Instant::now();
        refused(service, "/api/v1/schedules", ALICE, body, 400, &[field]).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{extra} took {:?}",
            started.elapsed()
        );
    }
    for (extra, field) in [
        (
            serde_json::json!({"sizes": {"block_size": 1u64 << 60}}),
            "sizes.block_size",
        ),
        (
            serde_json::json!({"sizes": {"copy_cutoff": 1u64 << 40}}),
            "sizes.copy_cutoff",
        ),
        (
            serde_json::json!({"tuning": {"max_memory": 100u64 << 30}}),
            "tuning.max_memory",
        ),
        (
            serde_json::json!({"tuning": {"agents": 1u64 << 31}}),
            "tuning.agents",
        ),
        (
            serde_json::json!({"tuning": {"concurrency": 100000}}),
            "tuning.concurrency",
        ),
        (
            serde_json::json!({"tuning": {"list_parallelism": 60000}}),
            "tuning.list_parallelism",
        ),
        (
            serde_json::json!({"tuning": {"retries": 100000}}),
            "tuning.retries",
        ),
        (
            serde_json::json!({"filters": {"include": vec!["*"; 2000]}}),
            "filters.include",
        ),
        (serde_json::json!({"name": "n".repeat(10_000)}), "name"),
    ] {
        refused(
            service,
            "/api/v1/jobs",
            ALICE,
            with(template.clone(), extra),
            400,
            &[field],
        )
        .await;
    }
    // Settings the engine refuses are named as the API names them, never by a CLI flag.
    for (extra, field) in [
        (
            serde_json::json!({"filters": {"include": ["a["]}}),
            "filters.include: 'a['",
        ),
        (
            serde_json::json!({"filters": {"exclude_regex": ["("]}}),
            "filters.exclude_regex: '('",
        ),
        (
            serde_json::json!({"encryption": {"kind": "scope", "name": "s"}}),
            "encryption: cpk and scope apply to Azure",
        ),
    ] {
        let body = with(template.clone(), extra);
        let (status, answer) = service
            .call("POST", "/api/v1/jobs", Some(ALICE), Some(body.to_string()))
            .await;
        assert_eq!(status, 400, "{answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(field) && !message.contains("--"),
            "{answer}"
        );
    }
    let (status, answer) = service
        .call("GET", "/api/v1/jobs?limit=1000000", Some(ALICE), None)
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("limit"),
        "{answer}"
    );
}

/// How many runs of schedule `id` the service has made.
async fn runs_of(service: &Service, id: String) -> usize {
    all_jobs(service)
        .await
        .iter()
        .filter(|j| j["schedule"] == id.as_str())
        .count()
}

/// Why each of the schedules `ids` that are off turned off.
async fn turned_off(service: &Service, ids: Vec<String>) -> Vec<String> {
    let mut reasons = Vec::new();
    for id in &ids {
        let schedule = service.get(&format!("/api/v1/schedules/{id}"), ALICE).await;
        if schedule["enabled"] == false {
            reasons.push(
                schedule["disabled_reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
    }
    reasons
}

/// Grants hold over time: once a user's grant is revoked, a paused job of theirs is not
/// resumed (403), a job the service was running when it died is not resumed when it comes
/// back (it waits, paused, saying why), and their schedule's runs fail and turn it off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_stops_resume_restart_and_schedules() {
    let bucket = kit::new_s3_bucket("trust-revoke").await;
    let container = kit::new_azure_container("trust-revoke").await;
    let Location {
        bucket: b,
        container: c,
    } = names(&bucket, &container);
    let s3 = kit::open(&bucket).await;
    let files: BTreeMap<String, Vec<u8>> = (0..2)
        .map(|i| (format!("in/big{i}"), kit::pattern(6 << 20, i)))
        .collect();
    kit::put_all(&s3, &files).await;
    let (_guard, dir) = svc::service_dir();
    let az = format!("az://devstoreaccount1/{c}");
    let proxy = kit::fault_proxy::slow_azure(150).await;
    let stores = svc::azure_through(&proxy);
    let grants = (vec![format!("s3://{b}/in/")], vec![format!("{az}/out/")]);
    svc::write_config_with(&dir, (&grants.0, &grants.1), (&[], &[]), &stores);
    let mut service = Service::start(&dir, 2);
    let slow = |dest: &str| {
        with(
            spec(&format!("s3://{b}/in/"), &format!("{az}/out/{dest}/")),
            serde_json::json!({"sizes": {"block_size": 131072}, "tuning": {"concurrency": 2}}),
        )
    };
    let paused = service.create("/api/v1/jobs", ALICE, slow("paused")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let running = service.create("/api/v1/jobs", ALICE, slow("running")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let schedule = service
        .create(
            "/api/v1/schedules",
            ALICE,
            serde_json::json!({"template": spec(&format!("s3://{b}/in/none/"), &format!("{az}/out/scheduled/")), "every": "1s", "max_failures": 1}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, answer) = service
        .call(
            "POST",
            &format!("/api/v1/jobs/{paused}/pause"),
            Some(ALICE),
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        service.wait_for(&paused, ALICE, &["paused"]).await["status"],
        "paused"
    );
    assert_eq!(
        service.get(&format!("/api/v1/jobs/{running}"), ALICE).await["status"],
        "running"
    );
    service.kill9();
    // Alice keeps her name and token, but loses her grants.
    svc::write_config_with(&dir, (&[], &[]), (&[], &[]), &stores);
    let service = Service::start(&dir, 2);
    let job = service.wait_for(&running, ALICE, &["paused"]).await;
    let error = job["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("not resumed") && error.contains("may not"),
        "{job}"
    );
    for action in ["resume", "retry"] {
        let (status, answer) = service
            .call(
                "POST",
                &format!("/api/v1/jobs/{paused}/{action}"),
                Some(ALICE),
                None,
            )
            .await;
        assert!(
            status == 403 || status == 409,
            "{action}: {status} {answer}"
        );
        if action == "resume" {
            assert_eq!(status, 403, "{answer}");
            assert!(
                answer["message"].as_str().unwrap().contains("may not read"),
                "{answer}"
            );
        }
    }
    assert_eq!(
        service.get(&format!("/api/v1/jobs/{paused}"), ALICE).await["status"],
        "paused"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = service
            .get(&format!("/api/v1/schedules/{schedule}"), ALICE)
            .await;
        if s["enabled"] == false {
            assert!(
                s["disabled_reason"].as_str().unwrap().contains("may not"),
                "{s}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the schedule kept its revoked grant: {s}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A change by session cookie must come as JSON from the service's own origin; a script
/// with a bearer token is not a browser and needs neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_changes_need_json_from_the_services_own_origin() {
    let bucket = kit::new_s3_bucket("trust-csrf").await;
    let b = bucket_name(&bucket);
    let (_guard, dir) = svc::service_dir();
    let grant = vec![format!("s3://{b}/")];
    svc::write_config(&dir, (&grant, &grant), (&[], &[]));
    let service = Service::start(&dir, 1);
    let job = service
        .create(
            "/api/v1/jobs",
            ALICE,
            spec(&format!("s3://{b}/in/"), &format!("s3://{b}/out/")),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    service.wait_for(id, ALICE, &["completed"]).await;
    let http = reqwest::Client::new();
    let signed_in = http
        .post(format!("{}/api/v1/session", service.url))
        .json(&serde_json::json!({"token": ALICE}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 200);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let pause = format!("{}/api/v1/jobs/{id}/pause", service.url);
    let own = service.url.clone();
    for (content_type, origin, want) in [
        (None, None, 403),
        (Some("text/plain"), Some(own.as_str()), 403),
        (
            Some("application/x-www-form-urlencoded"),
            Some(own.as_str()),
            403,
        ),
        (Some("application/json"), None, 403),
        (Some("application/json"), Some("http://evil.example"), 403),
        (Some("application/json"), Some("http://127.0.0.1:1"), 403),
        (Some("application/json"), Some(own.as_str()), 409),
    ] {
        let mut request = http.post(&pause).header("cookie", &cookie).body("{}");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(
            answer.status().as_u16(),
            want,
            "{content_type:?} {origin:?}: {}",
            answer.text().await.unwrap()
        );
    }
    // Reading with the cookie, and a script's bearer token, need neither.
    let read = http
        .get(format!("{}/api/v1/jobs/{id}", service.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200);
    let (status, _) = service
        .call(
            "POST",
            &format!("/api/v1/jobs/{id}/pause"),
            Some(ALICE),
            None,
        )
        .await;
    assert_eq!(status, 409);
}

/// Guessing tokens is slowed: after 20 failures a minute from one address every attempt is
/// answered 429, unchecked (a right token too, so a guess cannot be told right); pages carry
/// guard headers; a weak token is refused a hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_slowed_and_answers_carry_guard_headers() {
    let (_guard, dir) = svc::service_dir();
    svc::write_config(&dir, (&[], &[]), (&[], &[]));
    let service = Service::start(&dir, 1);
    let page = reqwest::get(format!("{}/", service.url)).await.unwrap();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(page.headers()[name], value, "{name}");
    }
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    assert!(
        page.headers().get("strict-transport-security").is_none(),
        "HSTS only under TLS"
    );
    let (status, _) = service.call("GET", "/api/v1/jobs", Some(ALICE), None).await;
    assert_eq!(status, 200);
    for guess in 0..20 {
        let (status, _) = service
            .call("GET", "/api/v1/jobs", Some(&format!("guess-{guess}")), None)
            .await;
        assert_eq!(status, 401);
    }
    let (status, answer) = service
        .call("GET", "/api/v1/jobs", Some("guess-21"), None)
        .await;
    assert_eq!(status, 429, "{answer}");
    let (status, _) = service.call("GET", "/api/v1/jobs", Some(ALICE), None).await;
    assert_eq!(
        status, 429,
        "a right token is not checked while the address is held back"
    );
    let (status, _) = service
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(serde_json::json!({"token": ALICE}).to_string()),
        )
        .await;
    assert_eq!(status, 429);
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

/// What the service says is shown on one line: a location with control characters in its
/// name does not reach the terminal raw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_from_the_service_are_escaped_on_the_terminal() {
    let bucket = kit::new_s3_bucket("trust-ctl").await;
    let b = bucket_name(&bucket);
    let (_guard, dir) = svc::service_dir();
    let grant = vec![format!("s3://{b}/")];
    svc::write_config(&dir, (&grant, &grant), (&[], &[]));
    let service = Service::start(&dir, 1);
    let dest = format!("s3://{b}/out/\u{1b}[2J\u{1b}[31mred\r\nforged line/");
    service
        .create("/api/v1/jobs", ALICE, spec(&format!("s3://{b}/in/"), &dest))
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

/// A service with no agent of its own on a nats-server, one `awcopy agent`, and alice's grants
/// on a bucket and a container (reached through a slowing proxy, so a job lasts).
struct NatsRig {
    bucket: awcopy_store::Location,
    container: awcopy_store::Location,
    nats: svc::Nats,
    service: Service,
    agent: svc::Process,
    _proxy: kit::fault_proxy::FaultProxy,
    _store: tempfile::TempDir,
    _dir: tempfile::TempDir,
}

/// The key the rig's service and agent seal their messages with.
const RIG_KEY: &str = "trust-rig-key-5d2c8e1f0a3b7c9d4e6f8a2b1c3d5e7f";

impl NatsRig {
    /// The rig, nats-server given `nats_args`, the service `service_env` and the agent
    /// `agent_env` (their NATS users).
    async fn start(
        hint: &str,
        files: &BTreeMap<String, Vec<u8>>,
        nats_args: &[String],
        service_env: &[(&str, &str)],
        agent_env: &[(&str, &str)],
    ) -> Self {
        let bucket = kit::new_s3_bucket(hint).await;
        let container = kit::new_azure_container(hint).await;
        kit::put_all(&kit::open(&bucket).await, files).await;
        let store = tempfile::tempdir().unwrap();
        let nats = svc::Nats::start_with(store.path(), nats_args);
        let (dir_guard, dir) = svc::service_dir();
        let proxy = kit::fault_proxy::slow_azure(40).await;
        let stores = svc::azure_through(&proxy);
        let grant = vec![bucket.to_string(), container.to_string()];
        svc::write_config_with(&dir, (&grant, &grant), (&[], &[]), &stores);
        std::fs::write(dir.join("stores.toml"), &stores).unwrap();
        let key = dir.join("nats.key");
        std::fs::write(&key, RIG_KEY).unwrap();
        let key = key.to_str().unwrap().to_owned();
        let service = Service::start_with_env(
            &dir,
            &["--agents", "0", "--nats", &nats.url, "--nats-key", &key],
            service_env,
        );
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_awcopy"));
        command
            .args([
                "-v",
                "agent",
                "--nats",
                &nats.url,
                "--nats-key",
                &key,
                "--name",
                "agent-1",
            ])
            .args(["--endpoint-url", &kit::s3_endpoint()])
            .arg("--config")
            .arg(dir.join("stores.toml"))
            .envs(agent_env.iter().copied());
        let agent = svc::Process::start(command);
        agent.wait_for_line("pulling work items");
        Self {
            bucket,
            container,
            nats,
            service,
            agent,
            _proxy: proxy,
            _store: store,
            _dir: dir_guard,
        }
    }

    /// Submits, as alice, a copy of the bucket's `in/` to the container's `out/`.
    async fn submit(&self) -> String {
        let body = with(
            spec(
                &format!("{}in/", self.bucket),
                &format!("{}out/", self.container),
            ),
            serde_json::json!({"sizes": {"block_size": 1 << 20}}),
        );
        self.service.create("/api/v1/jobs", ALICE, body).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// Publishes `payload` on `subject` through JetStream under message id `id`; whether the
/// server took it.
async fn publish(
    js: &async_nats::jetstream::Context,
    subject: &str,
    payload: Vec<u8>,
    id: &str,
) -> bool {
    let message = async_nats::jetstream::message::PublishMessage::build()
        .payload(payload.into())
        .message_id(id);
    match js.send_publish(subject.to_owned(), message).await {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    }
}

/// A work item a forger makes: copy `key` from `source` to `dest`, as a job of `spec`.
fn forged_item(run: &str, source: &str, dest: &str, key: &str) -> Vec<u8> {
    use awcopy_engine::spec::{JobSpec, Mode};
    use awcopy_engine::work::{ObjectItem, WorkItem};
    let mut spec = JobSpec::new(Mode::Copy, source, dest);
    spec.recursive = true;
    spec.s3_endpoint = Some(kit::s3_endpoint());
    let message = awcopy_service::nats::WorkMessage {
        run: run.to_owned(),
        id: "f0f0f0f0".to_owned(),
        spec,
        item: WorkItem::Objects {
            objects: vec![ObjectItem {
                source: awcopy_store::ObjectMeta::new(key, 12),
                dest_key: key.to_owned(),
                route: awcopy_engine::estimate::Route::Streamed,
            }],
        },
    };
    serde_json::to_vec(&message).unwrap()
}

/// Anyone who can publish on the NATS server but lacks the key changes nothing: forged work
/// items (unsealed, sealed with another key, altered, replayed on another run) run nowhere,
/// forged outcomes, stops and heartbeats are dropped, and each is counted; a real job beside
/// them completes with every byte, counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_nats_messages_change_nothing() {
    let mut files: BTreeMap<String, Vec<u8>> = (0..12)
        .map(|i| (format!("in/s{i:02}"), kit::pattern(1000 + i * 77, i as u64)))
        .collect();
    files.insert("in/large".into(), kit::pattern((4 << 20) + 5, 99));
    let rig = NatsRig::start("trust-forge", &files, &[], &[], &[]).await;
    let local = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(local.path().join("src")).unwrap();
    std::fs::create_dir_all(local.path().join("dst")).unwrap();
    std::fs::write(local.path().join("src/secret.txt"), b"LOCAL-SECRET").unwrap();
    let (src, dst) = (local.path().join("src"), local.path().join("dst"));
    let forger = async_nats::connect(&rig.nats.url).await.unwrap();
    let js = async_nats::jetstream::new(forger.clone());
    let run = kit::unique_name("forged");
    forge_items_heartbeats_and_outcomes(&forger, &js, &run, &rig, &src, &dst).await;
    let id = submit_and_forge_from_its_messages(&rig, &forger, &js, &run).await;

    let done = rig.service.wait_for(&id, ALICE, &ENDS).await;
    assert_eq!(done["status"], "completed", "{done}");
    let total: u64 = files.values().map(|f| f.len() as u64).sum();
    assert_eq!(
        done["counters"]["objects_done"],
        files.len() as u64,
        "{done}"
    );
    assert_eq!(done["counters"]["bytes_done"], total, "{done}");
    let expected: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|(k, v)| (k.replacen("in/", "out/", 1), v.clone()))
        .collect();
    kit::assert_holds(&kit::open(&rig.container).await, "", &expected).await;
    // Nothing a forgery asked for happened.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        std::fs::read_dir(&dst).unwrap().count(),
        0,
        "a forged item wrote the agent's disk"
    );
    let s3 = kit::open(&rig.bucket).await;
    assert!(
        kit::versions(&s3)
            .await
            .keys()
            .all(|k| k.starts_with("in/")),
        "a forged item copied"
    );
    let agents = rig.service.get("/api/v1/agents", ALICE).await;
    let names: Vec<&str> = agents
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["agent-1"], "{agents}");
    let rejected = agents[0]["rejected"].as_u64().unwrap();
    assert!(rejected >= 7, "the agent dropped and counted 4 items, the altered one, the replayed one and the stop: {agents}");
    let metrics = rig.service.metrics().await;
    let service_rejected: u64 = metrics
        .lines()
        .find(|l| l.starts_with("awcopy_nats_rejected_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        service_rejected >= 4,
        "two heartbeats and two outcomes dropped: {metrics}"
    );
    let said = rig.agent.lines().join("\n");
    assert!(said.contains("without a valid seal"), "{said}");
    assert!(!said.contains("LOCAL-SECRET") && !said.contains(RIG_KEY));
    assert!(!rig.service.log().contains(RIG_KEY));
}

/// Publishes, before any job: work items that would read the agent's disk or copy within the
/// bucket (unsealed, and sealed with a wrong key), heartbeats of an agent that does not exist
/// and an outcome, none sealed with the service's key.
async fn forge_items_heartbeats_and_outcomes(
    forger: &async_nats::Client,
    js: &async_nats::jetstream::Context,
    run: &str,
    rig: &NatsRig,
    src: &std::path::Path,
    dst: &std::path::Path,
) {
    let wrong = awcopy_service::nats::SealKey::from_bytes(&[9u8; 32]);
    let subject = format!("awcopy.work.{run}");
    let local_item = forged_item(
        run,
        src.to_str().unwrap(),
        dst.to_str().unwrap(),
        "secret.txt",
    );
    let s3_item = forged_item(
        run,
        &format!("{}in/", rig.bucket),
        &format!("{}stolen/", rig.bucket),
        "s00",
    );
    assert!(publish(js, &subject, local_item.clone(), "forged-1").await);
    assert!(publish(js, &subject, wrong.seal(&subject, &local_item), "forged-2").await);
    assert!(publish(js, &subject, s3_item.clone(), "forged-3").await);
    assert!(publish(js, &subject, wrong.seal(&subject, &s3_item), "forged-4").await);
    let beat = serde_json::json!({
        "sent_at": time::OffsetDateTime::now_utc().unix_timestamp(), "name": "evil-agent",
        "host": "h", "version": "0", "in_flight": 0, "items_done": 999, "items_failed": 0,
        "bytes": 1, "bytes_per_sec": 1,
    })
    .to_string();
    forger
        .publish("awcopy.agents", beat.clone().into())
        .await
        .unwrap();
    forger
        .publish(
            "awcopy.agents",
            wrong.seal("awcopy.agents", beat.as_bytes()).into(),
        )
        .await
        .unwrap();
    let outcome = serde_json::json!({"id": format!("{run}.f0f0f0f0"), "agent": "evil", "result": {"Ok": {"type": "committed"}}, "bytes": 1});
    assert!(
        publish(
            js,
            &format!("awcopy.results.{run}.f0f0f0f0"),
            outcome.to_string().into_bytes(),
            "forged-5"
        )
        .await
    );
}

/// Submits a real job, then forges from its first work item: the item altered, replayed under
/// another run, a stop of its run and a failed outcome, none sealed. Returns the job's id.
async fn submit_and_forge_from_its_messages(
    rig: &NatsRig,
    forger: &async_nats::Client,
    js: &async_nats::jetstream::Context,
    run: &str,
) -> String {
    use futures::StreamExt;
    let mut work = forger.subscribe("awcopy.work.>").await.unwrap();
    forger.flush().await.unwrap();
    let id = rig.submit().await;
    let real = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let message = work.next().await.unwrap();
            if !message.subject.as_str().ends_with(&run) {
                return message;
            }
        }
    })
    .await
    .expect("the job's first work item");
    let real_subject = real.subject.to_string();
    let real_run = real_subject.rsplit('.').next().unwrap().to_owned();
    let body: serde_json::Value = serde_json::from_slice(&real.payload[32..]).unwrap();
    let item_id = body["id"].as_str().unwrap().to_owned();
    let mut altered = real.payload.to_vec();
    *altered.last_mut().unwrap() ^= 0x20;
    assert!(publish(js, &real_subject, altered, "forged-6").await);
    let elsewhere = format!("awcopy.work.{}", kit::unique_name("replayed"));
    assert!(publish(js, &elsewhere, real.payload.to_vec(), "forged-7").await);
    forger
        .publish(format!("awcopy.stop.{real_run}"), "stop".into())
        .await
        .unwrap();
    let forged_outcome = serde_json::json!({
        "id": format!("{real_run}.{item_id}"), "agent": "evil",
        "result": {"Err": {"kind": "not-found", "message": "forged"}}, "bytes": 0,
    });
    forger
        .publish(
            format!("awcopy.results.{real_run}.{item_id}"),
            forged_outcome.to_string().into(),
        )
        .await
        .unwrap();
    forger.flush().await.unwrap();
    id
}

/// With NATS users and subject permissions (the README's), the service and an agent copy a
/// job; a user of the same server without those rights can neither put work on the stream
/// nor read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_user_without_rights_cannot_publish_work() {
    use futures::StreamExt;
    let files: BTreeMap<String, Vec<u8>> = (0..6)
        .map(|i| (format!("in/p{i}"), kit::pattern(3000 + i, i as u64)))
        .collect();
    let auth = tempfile::tempdir().unwrap();
    let conf = auth.path().join("nats.conf");
    std::fs::write(&conf, include_str!("../../../docs/nats-permissions.conf")).unwrap();
    let rig = NatsRig::start(
        "trust-perm",
        &files,
        &["-c".to_owned(), conf.to_str().unwrap().to_owned()],
        &[
            ("AWCOPY_NATS_USER", "awcopy-service"),
            ("AWCOPY_NATS_PASSWORD", "service-password-change-me"),
        ],
        &[
            ("AWCOPY_NATS_USER", "awcopy-agent"),
            ("AWCOPY_NATS_PASSWORD", "agent-password-change-me"),
        ],
    )
    .await;
    let someone = async_nats::ConnectOptions::with_user_and_password(
        "someone".into(),
        "someone-password-change-me".into(),
    )
    .connect(&rig.nats.url)
    .await
    .unwrap();
    let mut watch = someone.subscribe("awcopy.work.>").await.unwrap();
    let js = async_nats::jetstream::new(someone.clone());
    let item = forged_item(
        "perm-run",
        &format!("{}in/", rig.bucket),
        &format!("{}stolen/", rig.bucket),
        "p0",
    );
    assert!(
        !publish(&js, "awcopy.work.perm-run", item, "denied-1").await,
        "the server took work from a user without the right"
    );
    let id = rig.submit().await;
    let done = rig.service.wait_for(&id, ALICE, &ENDS).await;
    assert_eq!(done["status"], "completed", "{done}");
    let expected: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|(k, v)| (k.replacen("in/", "out/", 1), v.clone()))
        .collect();
    kit::assert_holds(&kit::open(&rig.container).await, "", &expected).await;
    let seen = tokio::time::timeout(Duration::from_secs(1), watch.next()).await;
    assert!(
        !matches!(seen, Ok(Some(_))),
        "a user without the right read a work item"
    );
}

/// Credentials never go in a `--nats` URL (process listings show it), and NATS is never used
/// without the key that seals its messages: refused at once, the password not repeated.
#[test]
fn nats_urls_carry_no_credentials_and_need_a_seal_key() {
    let (_guard, dir) = svc::service_dir();
    svc::write_config(&dir, (&[], &[]), (&[], &[]));
    let (key, short) = (dir.join("nats.key"), dir.join("short.key"));
    std::fs::write(&key, "k".repeat(44)).unwrap();
    std::fs::write(&short, "short").unwrap();
    let config = dir.join("service.toml");
    let (key, short, config) = (
        key.to_str().unwrap(),
        short.to_str().unwrap(),
        config.to_str().unwrap(),
    );
    let with_password = "nats://awcopy:SECRET-NATS-PASSWORD@127.0.0.1:4222";
    for (args, needles) in [
        (
            vec!["agent", "--nats", with_password, "--nats-key", key],
            vec!["--nats-creds", "AWCOPY_NATS_PASSWORD"],
        ),
        (
            vec![
                "serve",
                "--config",
                config,
                "--nats",
                with_password,
                "--nats-key",
                key,
            ],
            vec!["--nats-creds"],
        ),
        (
            vec!["agent", "--nats", "nats://127.0.0.1:4222"],
            vec!["--nats-key"],
        ),
        (
            vec![
                "agent",
                "--nats",
                "nats://127.0.0.1:4222",
                "--nats-key",
                short,
            ],
            vec!["at least 32"],
        ),
    ] {
        let out = awcopy_with_env(&args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        for needle in needles {
            assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        }
        assert!(
            !stderr(&out).contains("SECRET-NATS-PASSWORD"),
            "{}",
            stderr(&out)
        );
    }
}
