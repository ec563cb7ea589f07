//! A real nats-server with JetStream for the tests (`AWCOPY_NATS_SERVER`, installed by
//! `scripts/test.sh`), and what a secured one needs: a private CA with a certificate for
//! 127.0.0.1, and decentralized-auth credentials.

use crate::process::Process;
use std::path::{Path, PathBuf};
use std::process::Command;

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
        Self::on(crate::free_port(), store, args.to_vec())
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
