//! Signing in to the service and its browser session: cookie changes only as JSON from the
//! service's own origin, failed sign-ins slowed, every answer with its guard headers.

use crate::harness::{self as svc, ALICE};
use awcopy_testkit as kit;

/// A change by session cookie must come as JSON from the service's own origin; a script
/// with a bearer token is not a browser and needs neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_changes_need_json_from_the_services_own_origin() {
    let bucket = kit::new_s3_bucket("trust-csrf").await;
    let b = kit::bucket_name(&bucket);
    let (_guard, dir) = svc::service_dir();
    let grant = vec![format!("s3://{b}/")];
    svc::write_config(&dir, (&grant, &grant), (&[], &[]));
    let service = svc::start(&dir, 1);
    let job = service
        .create(
            "/api/v1/jobs",
            ALICE,
            svc::copy_spec(&format!("s3://{b}/in/"), &format!("s3://{b}/out/")),
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
    let service = svc::start(&dir, 1);
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
}
