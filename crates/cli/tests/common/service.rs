//! Running `awcopy serve` in tests: a config of three users (two with grants, one admin), the
//! service on a free port of its own, raw HTTP calls whose answers are kept so that the test
//! can look for secrets in everything the service said.

use awcopy_testkit as kit;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The tokens of the test users: none may appear in anything the service says or keeps.
pub const ALICE: &str = "alice-token-5b1e0c9d7a3f4e21c6b8";
pub const BOB: &str = "bob-token-77f3a2e1c5d9b0a4e8f2";
pub const ADMIN: &str = "admin-token-c04d9e6b3a7f1e5d9c2b";

/// Writes the service's config: alice and bob with the grants given, and an admin.
pub fn write_config(dir: &Path, alice: (&[String], &[String]), bob: (&[String], &[String])) {
    write_config_with(dir, alice, bob, "");
}

/// The config section that has the service reach the Azure emulator's account through
/// `proxy` (in front of the emulator's base URL).
pub fn azure_through(proxy: &kit::fault_proxy::FaultProxy) -> String {
    let endpoint = kit::azure_endpoint();
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
    let list = |items: &[String]| {
        items
            .iter()
            .map(|i| format!("{i:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let user = |name: &str, token: &str, (read, write): (&[String], &[String])| {
        format!(
            "[[user]]\nname = \"{name}\"\ntoken_sha256 = \"{}\"\nread = [{}]\nwrite = [{}]\n\n",
            sha256(token),
            list(read),
            list(write)
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

/// The hash `awcopy serve --hash-token` prints for `token`.
pub fn sha256(token: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_awcopy"))
        .args(["serve", "--hash-token"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run awcopy serve --hash-token");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A running `awcopy serve`, killed when dropped.
pub struct Service {
    child: Child,
    /// Its address, `http://127.0.0.1:PORT`.
    pub url: String,
    log: Arc<Mutex<String>>,
    /// Every answer body the test read, for the secrets check.
    pub said: Arc<Mutex<String>>,
    http: reqwest::Client,
}

impl Service {
    /// Starts the service with the config and catalogue in `dir`.
    pub fn start(dir: &Path, agents: u16) -> Self {
        Self::start_with(dir, &["--agents", &agents.to_string()])
    }

    /// Starts the service with the config and catalogue in `dir`, and `args`.
    pub fn start_with(dir: &Path, args: &[&str]) -> Self {
        Self::start_with_env(dir, args, &[])
    }

    /// Starts the service with the config and catalogue in `dir`, `args` and `env`.
    pub fn start_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_awcopy"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .arg("--config")
            .arg(dir.join("service.toml"))
            .arg("--db")
            .arg(dir.join("service.db"))
            .args(["--endpoint-url", &kit::s3_endpoint()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start awcopy serve");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout
            .read_line(&mut first)
            .expect("the service's first line");
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .trim_end_matches('/')
            .to_owned();
        log.lock().unwrap().push_str(&first);
        let stderr = child.stderr.take().unwrap();
        let streams: [Box<dyn Read + Send>; 2] = [Box::new(stdout), Box::new(stderr)];
        for mut stream in streams {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut line = String::new();
                let mut reader = BufReader::new(&mut stream);
                while reader.read_line(&mut line).unwrap_or(0) > 0 {
                    log.lock().unwrap().push_str(&line);
                    line.clear();
                }
            });
        }
        Self {
            child,
            url,
            log,
            said: Arc::new(Mutex::new(String::new())),
            http: reqwest::Client::new(),
        }
    }

    /// Kills the service at once (SIGKILL), as a crash would.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill -9 the service");
        let _ = self.child.wait();
    }

    /// Its `/metrics` text.
    pub async fn metrics(&self) -> String {
        let answer = reqwest::get(format!("{}/metrics", self.url)).await.unwrap();
        answer.text().await.unwrap()
    }

    /// What the service printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
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

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    kit::assert_no_secrets(text);
}

/// A directory of its own for one service.
pub fn service_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().to_path_buf();
    (dir, path)
}

/// A process whose output lines are kept.
pub struct Process {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// Starts `command`, keeping what it prints.
    pub fn start(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a process");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let streams: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for stream in streams {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Self { child, lines }
    }

    /// What it printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until a line contains `needle` (30 s at most).
    pub fn wait_for_line(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no line with {needle:?}: {:?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills it at once (SIGKILL).
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A nats-server with JetStream, on a loopback port and a store directory of its own.
pub struct Nats {
    process: Process,
    /// `nats://127.0.0.1:PORT` (`tls://` with TLS).
    pub url: String,
    port: u16,
    store: PathBuf,
    args: Vec<String>,
}

impl Nats {
    /// Starts one storing under `store`.
    pub fn start(store: &Path) -> Self {
        Self::start_with(store, &[])
    }

    /// Starts one storing under `store`, with more `args` (TLS, auth...).
    pub fn start_with(store: &Path, args: &[String]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::on(port, store, args.to_vec())
    }

    fn on(port: u16, store: &Path, args: Vec<String>) -> Self {
        let binary = std::env::var("AWCOPY_NATS_SERVER").unwrap_or_else(|_| {
            panic!("AWCOPY_NATS_SERVER is not set: run the tests through scripts/test.sh, which installs nats-server")
        });
        let mut command = Command::new(binary);
        command
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store)
            .args(&args);
        let process = Process::start(command);
        process.wait_for_line("Server is ready");
        let scheme = match args.iter().any(|a| a == "--tls") {
            true => "tls",
            false => "nats",
        };
        Self {
            process,
            url: format!("{scheme}://127.0.0.1:{port}"),
            port,
            store: store.to_path_buf(),
            args,
        }
    }

    /// Kills it at once and starts it again on the same port, store and arguments.
    pub fn restart(&mut self) {
        self.process.kill9();
        *self = Self::on(self.port, &self.store.clone(), self.args.clone());
    }
}

/// A private CA and a certificate it signed for 127.0.0.1, made by openssl in `dir`:
/// `(ca.pem, cert.pem, key.pem)`.
pub fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let file = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let openssl = |args: &[&str]| {
        let made = Command::new("openssl")
            .args(args)
            .output()
            .expect("run openssl");
        assert!(
            made.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&made.stderr)
        );
    };
    let (ca, ca_key) = (file("ca.pem"), file("ca-key.pem"));
    let (cert, key, request) = (file("cert.pem"), file("key.pem"), file("cert.csr"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=awcopy test CA",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &key,
        "-out",
        &request,
    ]);
    let extensions = file("san.ext");
    std::fs::write(
        &extensions,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &request,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &extensions,
        "-out",
        &cert,
    ]);
    (ca.into(), cert.into(), key.into())
}

/// NATS decentralized auth made in `dir`: an operator, its system account, an account with
/// JetStream, and a user of that account. Returns the server's config (trusting the operator, the account
/// preloaded) and the user's `.creds` file. The JWTs are signed here with `nkeys`, as `nsc`
/// would sign them (no `nsc` on this machine).
pub fn nats_credentials(dir: &Path) -> (PathBuf, PathBuf) {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let jwt = |signer: &nkeys::KeyPair, subject: &str, nats: serde_json::Value| {
        let header = b64(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
        let claims = serde_json::json!({
            "jti": subject, "iat": 1_700_000_000, "iss": signer.public_key(),
            "name": "awcopy-test", "sub": subject, "nats": nats,
        });
        let signed = format!("{header}.{}", b64(claims.to_string().as_bytes()));
        let signature = signer.sign(signed.as_bytes()).unwrap();
        format!("{signed}.{}", b64(&signature))
    };
    let (operator, system, account, user) = (
        nkeys::KeyPair::new_operator(),
        nkeys::KeyPair::new_account(),
        nkeys::KeyPair::new_account(),
        nkeys::KeyPair::new_user(),
    );
    let unlimited = serde_json::json!({
        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": true,
        "conn": -1, "leaf": -1, "mem_storage": -1, "disk_storage": -1, "streams": -1,
        "consumer": -1,
    });
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        serde_json::json!({"type": "operator", "version": 2}),
    );
    let account_jwt = jwt(
        &operator,
        &account.public_key(),
        serde_json::json!({"limits": unlimited, "type": "account", "version": 2}),
    );
    // JetStream needs the server's own (system) account.
    let system_jwt = jwt(
        &operator,
        &system.public_key(),
        serde_json::json!({"type": "account", "version": 2}),
    );
    let user_jwt = jwt(
        &account,
        &user.public_key(),
        serde_json::json!({
            "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
            "type": "user", "version": 2,
        }),
    );
    let operator_file = dir.join("operator.jwt");
    std::fs::write(&operator_file, &operator_jwt).unwrap();
    let config = dir.join("nats.conf");
    std::fs::write(
        &config,
        format!(
            "operator: {operator_file:?}\nsystem_account: {sys}\nresolver: MEMORY\n\
             resolver_preload: {{\n  {sys}: \"{system_jwt}\"\n  {}: \"{account_jwt}\"\n}}\n",
            account.public_key(),
            sys = system.public_key(),
        ),
    )
    .unwrap();
    let creds = dir.join("user.creds");
    std::fs::write(
        &creds,
        format!(
            "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
             -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
            user.seed().unwrap()
        ),
    )
    .unwrap();
    (config, creds)
}
