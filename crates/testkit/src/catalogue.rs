//! Catalogues for tests, one of each kind: a SQLite file in a temporary directory, or a fresh
//! database on the PostgreSQL server `scripts/test.sh` started (`AWCOPY_TEST_POSTGRES`, a URL
//! without its password, which is in `PGPASSWORD` as an operator's would be). With
//! [`each_catalogue!`](crate::each_catalogue) a test runs on both.

use sqlx::{Connection, Executor};
use tempfile::TempDir;

use crate::required_env;

/// Where a test keeps a catalogue of its own (removed with it, for a file).
#[derive(Debug)]
pub struct CatalogPlace {
    address: String,
    postgres: bool,
    _dir: Option<TempDir>,
}

impl CatalogPlace {
    /// A SQLite file in a new temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        Self {
            address: dir.path().join("awcopy.db").display().to_string(),
            postgres: false,
            _dir: Some(dir),
        }
    }

    /// A new, empty database of this test's own on the test PostgreSQL server.
    pub async fn postgres() -> Self {
        Self {
            address: fresh_postgres_database().await,
            postgres: true,
            _dir: None,
        }
    }

    /// As `--db` takes it: a path, or a URL without a password.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Whether it is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        self.postgres
    }
}

/// The URL of the test server's administrative database, e.g.
/// `postgres://awcopy@127.0.0.1:PORT/postgres`.
pub fn postgres_server() -> String {
    required_env("AWCOPY_TEST_POSTGRES")
}

/// A new, empty database on the test server, as a URL without a password.
pub async fn fresh_postgres_database() -> String {
    let server = postgres_server();
    let name = format!("awcopy_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {server}: {e}"));
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    admin.close().await.ok();
    let mut url = url::Url::parse(&server).expect("AWCOPY_TEST_POSTGRES is a URL");
    url.set_path(&name);
    url.to_string()
}

/// Runs the async test function `$test(place: CatalogPlace)` once on a SQLite catalogue and
/// once on a PostgreSQL one, as the tests `$test::sqlite` and `$test::postgres`; tokio's test
/// settings may follow (`each_catalogue!(name, flavor = "multi_thread", worker_threads = 2)`).
#[macro_export]
macro_rules! each_catalogue {
    ($test:ident) => {
        $crate::each_catalogue!($test, flavor = "current_thread");
    };
    ($test:ident, $($settings:tt)*) => {
        mod $test {
            #[tokio::test($($settings)*)]
            async fn sqlite() {
                super::$test($crate::catalogue::CatalogPlace::sqlite()).await
            }

            #[tokio::test($($settings)*)]
            async fn postgres() {
                super::$test($crate::catalogue::CatalogPlace::postgres().await).await
            }
        }
    };
}

/// A PostgreSQL server of a test's own (a test that stops and starts it must not stop the one
/// every test shares): Debian's programs (`AWCOPY_PG_BIN`, set by `scripts/test.sh`) on a
/// temporary data directory and a free loopback port, its user `awcopy` trusted. PostgreSQL
/// refuses to run as root: as root it runs as the `postgres` user. Stopped when dropped.
pub struct PostgresServer {
    dir: TempDir,
    port: u16,
}

impl PostgresServer {
    /// Makes the data directory and starts the server.
    pub fn start() -> Self {
        let server = Self::init();
        server.start_again();
        server
    }

    /// Starts a server that takes TCP connections over TLS only, with a certificate for
    /// 127.0.0.1 signed by a private CA; returns it and the CA's certificate (PEM).
    pub fn start_tls() -> (Self, std::path::PathBuf) {
        let server = Self::init();
        let tls = server.dir.path().join("tls");
        std::fs::create_dir(&tls).expect("a directory for the certificates");
        let (ca, cert, key) = crate::nats::certificates(&tls);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        for path in [&tls, &cert, &key] {
            give_to_postgres(path);
        }
        let data = std::path::Path::new(&server.data()).to_owned();
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .expect("postgresql.conf");
        use std::io::Write;
        writeln!(
            conf,
            "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'",
            cert.display(),
            key.display()
        )
        .expect("write postgresql.conf");
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .expect("write pg_hba.conf");
        server.start_again();
        (server, ca)
    }

    /// The data directory made, the server not started.
    fn init() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        give_to_postgres(dir.path());
        let server = Self {
            dir,
            port: crate::free_port(),
        };
        let data = server.data();
        server.pg(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "awcopy",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-N",
            ],
        );
        server
    }

    /// The URL of database `postgres` on it (no password: it trusts its user).
    pub fn url(&self) -> String {
        format!("postgres://awcopy@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops it (fast: open connections are cut, as a restart or a failover cuts them).
    pub fn stop(&self) {
        self.pg("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// Starts it again on the same port, and waits until it takes connections.
    pub fn start_again(&self) {
        let options = format!(
            "-h 127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log");
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log.display().to_string(),
                "-w",
                "start",
            ],
        );
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Runs PostgreSQL's program `name` with `args`, which must succeed.
    fn pg(&self, name: &str, args: &[&str]) {
        let output = program(name)
            .args(args)
            .output()
            .expect("run a PostgreSQL program");
        assert!(
            output.status.success(),
            "{name} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let data = self.data();
        let _ = program("pg_ctl")
            .args(["-D", data.as_str(), "-m", "immediate", "stop"])
            .output();
    }
}

/// PostgreSQL's program `name`, to be run as the `postgres` user when this process is root.
fn program(name: &str) -> std::process::Command {
    let bin = std::path::Path::new(&required_env("AWCOPY_PG_BIN")).join(name);
    match is_root() {
        true => {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(bin);
            command
        }
        false => std::process::Command::new(bin),
    }
}

/// Makes `path` the `postgres` user's when this process is root (the server runs as that user
/// then, and must read and write it).
fn give_to_postgres(path: &std::path::Path) {
    if is_root() {
        let chown = std::process::Command::new("chown")
            .arg("postgres")
            .arg(path)
            .status()
            .expect("chown");
        assert!(chown.success(), "chown postgres {}", path.display());
    }
}

/// Whether this process runs as root.
fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}
