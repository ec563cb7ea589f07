//! `awcopy serve`'s settings: what would expose tokens refused, bad settings said with their
//! flag, HTTPS with a certificate.

use crate::common::service as svc;
use crate::common::{awcopy_with_env, stderr};

#[test]
fn serve_refuses_what_would_expose_tokens_and_bad_settings() {
    let (_guard, dir) = svc::service_dir();
    svc::write_config(&dir, (&[], &[]), (&[], &[]));
    let config = dir.join("service.toml");
    let config = config.to_str().unwrap();
    let out = crate::common::awcopy(&["serve", "--config", config, "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--insecure-http") && stderr(&out).contains("--tls-cert"),
        "{}",
        stderr(&out)
    );
    std::fs::write(
        dir.join("bad.toml"),
        "[[user]]\nname = \"x\"\ntoken_sha256 = \"abc\"\n",
    )
    .unwrap();
    let out = crate::common::awcopy(&["serve", "--config", dir.join("bad.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("token_sha256"), "{}", stderr(&out));
    let out = crate::common::awcopy(&["cp", "-r", "s3://b/", "s3://c/", "--via", "not a url"]);
    assert_ne!(out.status.code(), Some(0));
    let out = awcopy_with_env(
        &["jobs", "list", "--server", "http://127.0.0.1:9"],
        &[("AWCOPY_TOKEN", "")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("AWCOPY_TOKEN"), "{}", stderr(&out));
}

#[test]
fn serve_speaks_https_with_a_certificate() {
    let (_guard, dir) = svc::service_dir();
    svc::write_config(&dir, (&[], &[]), (&[], &[]));
    let (ca, cert, key) = svc::certificates(&dir);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_awcopy"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(dir.join("service.toml"))
        .arg("--db")
        .arg(dir.join("service.db"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .expect("an https address")
        .to_owned();
    let health = std::process::Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(&ca)
        .arg(format!("{url}healthz"))
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        String::from_utf8_lossy(&health.stdout).trim(),
        "ok",
        "{line}"
    );
}
