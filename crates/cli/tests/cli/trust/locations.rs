//! No spelling of a location reaches a host the operator did not configure, whoever submits
//! it and however it is written; the secrets of the service's environment never show.

use crate::common::service::{self as svc, Service, ADMIN, ALICE};
use crate::common::{awcopy_with_env, stderr};
use awcopy_testkit as kit;

/// A secret the service's environment holds and nobody may ever see.
const SERVICE_SAS: &str = "sv=2024-11-04&ss=b&srt=sco&sp=rwdl&sig=SERVICE-SAS-SECRET-7f1c0d";

/// The Azure emulator's `host:port`.
fn azure_host() -> String {
    let endpoint = kit::azure_endpoint();
    endpoint["http://".len()..endpoint.rfind('/').unwrap()].to_owned()
}

fn recorder_port(host: &str) -> &str {
    &host[host.rfind(':').unwrap() + 1..]
}

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

/// Every spelling of a location on a host the service was not configured for, and of a
/// configured one it must not leave, is refused at submission before a single request: the
/// recording listener on 127.0.0.2 receives nothing, no job is made, and no secret of the
/// service's environment shows in any answer or log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_spelling_of_a_location_reaches_a_host_the_operator_did_not_configure() {
    let recorder = kit::recorder::Recorder::start().await;
    let evil = recorder.host();
    let bucket = kit::new_s3_bucket("trust-hosts").await;
    let container = kit::new_azure_container("trust-hosts").await;
    kit::put_tiny(&kit::open(&bucket).await, ["granted/a".to_owned()]).await;
    let (b, c) = (kit::bucket_name(&bucket), kit::bucket_name(&container));
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
    let service = svc::start_with_env(
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
                "source" => svc::copy_spec(&location, other),
                _ => svc::copy_spec(other, &location),
            };
            service
                .refused("/api/v1/jobs", ALICE, body.clone(), 400, &[field, needle])
                .await;
            service
                .refused("/api/v1/jobs", ADMIN, body.clone(), 400, &[field, needle])
                .await;
            let schedule = serde_json::json!({"template": body, "every": "1h"});
            service
                .refused("/api/v1/schedules", ALICE, schedule, 400, &[field, needle])
                .await;
        }
    }
    // The S3 endpoint is the service's, not a job's.
    let own = svc::copy_spec(&format!("s3://{b}/granted/"), &format!("s3://{b}/out/"));
    let endpoint = svc::with(
        own.clone(),
        serde_json::json!({"s3_endpoint": format!("http://{evil}")}),
    );
    service
        .refused(
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

    assert!(service.all_jobs().await.is_empty(), "no job was made");
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
        let body = svc::copy_spec(&source, &format!("s3://{b}/out/"));
        service
            .refused("/api/v1/jobs", ALICE, body, status, &["source", needle])
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
            svc::copy_spec(
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
