//! A job service in tests, however it was started (the `awcopy serve` process, or in the
//! process of the test): a config of three users (two with grants, one admin), raw HTTP calls
//! whose answers are kept so that the test can look for secrets in everything the service said.

use crate::process::Process;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Alice's token: none of the test users' tokens may appear in anything the service says or keeps.
pub const ALICE: &str = "alice-token-5b1e0c9d7a3f4e21c6b8";
/// Bob's token.
pub const BOB: &str = "bob-token-77f3a2e1c5d9b0a4e8f2";
/// The admin's token.
pub const ADMIN: &str = "admin-token-c04d9e6b3a7f1e5d9c2b";

/// Writes the service's config: alice and bob with the grants given, and an admin.
pub fn write_config(dir: &Path, alice: (&[String], &[String]), bob: (&[String], &[String])) {
    write_config_with(dir, alice, bob, "");
}

/// The config section that has the service reach the Azure emulator's account through
/// `proxy` (in front of the emulator's base URL).
pub fn azure_through(proxy: &crate::fault_proxy::FaultProxy) -> String {
    let endpoint = crate::azure_endpoint();
    let account = &endpoint[endpoint.rfind('/').unwrap() + 1..];
    format!(
        "[[azure]]\naccount = \"{account}\"\nendpoint = \"{}/{account}\"\n\n",
        proxy.url()
    )
}

/// Writes the service's config as [`write_config`] does, with `extra` (TOML) first.
pub fn write_config_with(
    dir: &Path,
    alice: (&[String], &[String]),
    bob: (&[String], &[String]),
    extra: &str,
) {
    let none = [];
    let alice = Grants {
        read: alice.0,
        write: alice.1,
        queues: &none,
    };
    let bob = Grants {
        read: bob.0,
        write: bob.1,
        queues: &none,
    };
    write_users(dir, alice, bob, extra);
}

/// Writes a config for replications, `extra` (TOML) first: alice may read `read`, write
/// `write` and read the event queues `queues`; bob the same places but no queue; root is an
/// admin.
pub fn write_replication_config(
    dir: &Path,
    read: &[String],
    write: &[String],
    queues: &[String],
    extra: &str,
) {
    let alice = Grants {
        read,
        write,
        queues,
    };
    let bob = Grants {
        queues: &[],
        ..alice
    };
    write_users(dir, alice, bob, extra);
}

/// What a test user may use.
#[derive(Clone, Copy)]
struct Grants<'a> {
    read: &'a [String],
    write: &'a [String],
    queues: &'a [String],
}

/// Writes `extra`, then alice, bob and the admin root, as the config's users.
fn write_users(dir: &Path, alice: Grants, bob: Grants, extra: &str) {
    let list = |items: &[String]| {
        items
            .iter()
            .map(|i| format!("{i:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let user = |name: &str, token: &str, grants: Grants| {
        format!(
            "[[user]]\nname = \"{name}\"\ntoken_sha256 = \"{}\"\nread = [{}]\nwrite = [{}]\nqueues = [{}]\n\n",
            sha256(token),
            list(grants.read),
            list(grants.write),
            list(grants.queues)
        )
    };
    let text = extra.to_owned()
        + &user("alice", ALICE, alice)
        + &user("bob", BOB, bob)
        + &format!(
            "[[user]]\nname = \"root\"\ntoken_sha256 = \"{}\"\nadmin = true\n",
            sha256(ADMIN)
        );
    std::fs::write(dir.join("service.toml"), text).expect("write the config");
}

/// The SHA-256 of `token` in hex, as `awcopy serve --hash-token` prints it.
pub fn sha256(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What runs a service: killing it stops the service at once, as a crash would; dropping it
/// stops it too.
pub trait Running: Send {
    /// Stops the service at once.
    fn kill(&mut self);
    /// What the service printed or logged so far.
    fn log(&self) -> String;
}

impl Running for Process {
    fn kill(&mut self) {
        self.kill9();
    }

    fn log(&self) -> String {
        self.lines().join("\n")
    }
}

/// A running job service, stopped when dropped.
pub struct Service {
    running: Box<dyn Running>,
    /// Its address, `http://127.0.0.1:PORT`.
    pub url: String,
    /// Every answer body the test read, for the secrets check.
    pub said: Arc<Mutex<String>>,
    http: reqwest::Client,
}

impl Service {
    /// Starts `awcopy serve` from `binary` with the config and catalogue in `dir` (unless
    /// `args` name a `--db`), the S3 emulator as its endpoint, `args` and `env`.
    pub fn spawn(binary: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(binary);
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .arg("--config")
            .arg(dir.join("service.toml"))
            .args(["--endpoint-url", &crate::s3_endpoint()]);
        if !args.contains(&"--db") {
            command.arg("--db").arg(dir.join("service.db"));
        }
        let process = Process::start(command);
        let line = process.wait_for_line("listening on");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        Self::attach(url, Box::new(process))
    }

    /// A service that `running` runs at `url` (`http://127.0.0.1:PORT`).
    pub fn attach(url: String, running: Box<dyn Running>) -> Self {
        Self {
            running,
            url,
            said: Arc::new(Mutex::new(String::new())),
            http: reqwest::Client::new(),
        }
    }

    /// Stops the service at once, as a crash would.
    pub fn kill9(&mut self) {
        self.running.kill();
    }

    /// Its `/metrics` text.
    pub async fn metrics(&self) -> String {
        let answer = reqwest::get(format!("{}/metrics", self.url)).await.unwrap();
        answer.text().await.unwrap()
    }

    /// What the service printed so far.
    pub fn log(&self) -> String {
        self.running.log()
    }

    /// Calls the API: `token` as bearer (none: no header), `body` as JSON text.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("the service answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        self.said.lock().unwrap().push_str(&text);
        let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, value)
    }

    /// `POST path` of `body` as `token`, expecting 201; the answer.
    pub async fn create(
        &self,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let (status, answer) = self
            .call("POST", path, Some(token), Some(body.to_string()))
            .await;
        assert_eq!(status, 201, "POST {path}: {answer}");
        answer
    }

    /// `GET path` as `token`, expecting 200.
    pub async fn get(&self, path: &str, token: &str) -> serde_json::Value {
        let (status, body) = self.call("GET", path, Some(token), None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Waits until job `id` reaches one of `statuses` (as `token` sees it); returns it.
    pub async fn wait_for(&self, id: &str, token: &str, statuses: &[&str]) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let job = self.get(&format!("/api/v1/jobs/{id}"), token).await;
            if statuses.contains(&job["status"].as_str().unwrap_or("")) {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} never reached {statuses:?}: {job}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Reads the event stream as `token` for as long as `until` takes; returns what came.
    pub async fn events_during<F: std::future::Future>(
        &self,
        token: &str,
        until: F,
    ) -> (String, F::Output) {
        let mut response = self
            .http
            .get(format!("{}/api/v1/events", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("the event stream opens");
        assert_eq!(response.status().as_u16(), 200);
        let mut text = String::new();
        let mut until = std::pin::pin!(until);
        let output = loop {
            tokio::select! {
                output = &mut until => break output,
                chunk = response.chunk() => match chunk {
                    Ok(Some(bytes)) => text.push_str(&String::from_utf8_lossy(&bytes)),
                    _ => break until.await,
                },
            }
        };
        self.said.lock().unwrap().push_str(&text);
        (text, output)
    }
}

/// The catalogue file of a service run in `dir`, with its write-ahead log, as text.
pub fn catalogue_text(dir: &Path) -> String {
    let mut all = Vec::new();
    for name in ["service.db", "service.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            all.extend(bytes);
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// Fails if `text` holds a test user's token or a cloud secret.
pub fn assert_no_tokens(what: &str, text: &str) {
    for token in [ALICE, BOB, ADMIN] {
        assert!(!text.contains(token), "a user's token leaked into {what}");
    }
    crate::assert_no_secrets(text);
}

/// A directory of its own for one service.
pub fn service_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().to_path_buf();
    (dir, path)
}

/// A recursive copy's spec, as the API takes it.
pub fn copy_spec(source: &str, dest: &str) -> serde_json::Value {
    serde_json::json!({"version": 1, "mode": "cp", "source": source, "dest": dest, "recursive": true})
}

/// A recursive copy's spec in blocks of `block` bytes, with `extra`'s fields merged in.
pub fn spec_in_blocks(
    source: &str,
    dest: &str,
    block: u64,
    extra: serde_json::Value,
) -> serde_json::Value {
    let blocks = serde_json::json!({"sizes": {"block_size": block}});
    with(with(copy_spec(source, dest), blocks), extra)
}

/// `spec` with `extra`'s fields merged in.
pub fn with(mut spec: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    if let (Some(spec), serde_json::Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
    spec
}

/// The states a job ends in.
pub const ENDS: [&str; 3] = ["completed", "completed-with-failures", "failed"];

impl Service {
    /// Submits `body` as `token` and waits for the job to end; the job as it ended.
    pub async fn run_to_end(&self, token: &str, body: serde_json::Value) -> serde_json::Value {
        let job = self.create("/api/v1/jobs", token, body).await;
        self.wait_for(job["id"].as_str().unwrap(), token, &ENDS)
            .await
    }

    /// Every job any user has, as the admin sees them.
    pub async fn all_jobs(&self) -> Vec<serde_json::Value> {
        self.get("/api/v1/jobs", ADMIN)
            .await
            .as_array()
            .unwrap()
            .clone()
    }

    /// Posts `body` to `path` as `token`, expecting `status` and a message holding every needle.
    pub async fn refused(
        &self,
        path: &str,
        token: &str,
        body: serde_json::Value,
        status: u16,
        needles: &[&str],
    ) {
        let (got, answer) = self
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
}
