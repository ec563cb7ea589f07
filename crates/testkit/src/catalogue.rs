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
