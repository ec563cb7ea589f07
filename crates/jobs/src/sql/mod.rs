//! The catalogue in SQL, through sqlx's `Any` driver: one body of queries for both databases
//! it lives in — a SQLite file (WAL mode) on one machine, or a PostgreSQL database that several
//! service replicas share. The queries are written in the SQL both speak (`$1` parameters,
//! but for the many-row statements of `Dialect::values`; `IS NOT DISTINCT FROM`, `string_agg`,
//! integer flags); what differs is each database's own
//! migrations (`migrations/sqlite`, `migrations/postgres`: the same schema, version for
//! version), how a connection is opened and what its errors mean (here), and the text
//! PostgreSQL cannot hold (`stored_text`). Where a catalogue lives (`address`), job records and
//! what resume reads (`catalog`), the recorder that writes a running job's progress in batches
//! (`recorder`), schedules (`schedules`), the replicas sharing it (`replicas`), and the listing
//! entries kept for resume (`stored_meta`).

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};
use std::path::Path;
use std::time::Duration;

mod address;
mod catalog;
mod migrate;
mod recorder;
mod replicas;
mod replications;
mod schedules;
mod stored_meta;
mod stored_text;

pub use address::{CatalogAddress, CatalogAddressError};
pub use migrate::Moved;
pub use recorder::Recorder;

use crate::lease::LEASE_TERM;
use crate::records::CatalogError;
use crate::timestamp::Timestamp;

/// The database a catalogue lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// The catalogue.
#[derive(Debug, Clone)]
pub struct Catalog {
    pool: AnyPool,
    /// Where it lives, as messages show it (a PostgreSQL URL without its password).
    shown: String,
    dialect: Dialect,
}

/// When a lease taken or renewed now ends.
fn lease_end() -> Timestamp {
    Timestamp::from(time::OffsetDateTime::now_utc() + LEASE_TERM)
}

/// Connections a PostgreSQL catalogue keeps at most: one per running job's recorder while it
/// writes, the runner's lease renewals and the service's reads.
const POSTGRES_CONNECTIONS: u32 = 16;

impl Catalog {
    /// Opens (creating if need be) the catalogue at `address` and brings its schema up to date.
    pub async fn open(address: impl Into<CatalogAddress>) -> Result<Self, CatalogError> {
        sqlx::any::install_default_drivers();
        match address.into() {
            CatalogAddress::Sqlite(path) => Self::open_sqlite(&path).await,
            CatalogAddress::Postgres(url) => Self::open_postgres(url).await,
        }
    }

    async fn open_sqlite(path: &Path) -> Result<Self, CatalogError> {
        let shown = path.display().to_string();
        let other = |e: std::io::Error| CatalogError::Other(format!("{shown}: {e}"));
        // The driver is given the file as a URL, which cannot say "relative to here".
        let path = std::path::absolute(path).map_err(other)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| CatalogError::Other(format!("{}: {e}", parent.display())))?;
        }
        // Two processes opening a new (or older) catalogue at once would both apply the same
        // migration, and one would fail on it ("duplicate column"), or find the file turning
        // to WAL under it: they take turns, holding an exclusive lock (flock) on the
        // catalogue's directory while the file is opened and its schema brought up to date.
        // Not on the catalogue file itself: closing another descriptor of it would drop
        // SQLite's own (POSIX) locks on it.
        let dir = path.parent().unwrap_or(Path::new("/"));
        let shown_dir = dir.display().to_string();
        let dir = std::fs::File::open(dir)
            .map_err(|e| CatalogError::Other(format!("{shown_dir}: {e}")))?;
        let turn = tokio::task::spawn_blocking(move || dir.lock().map(|()| dir))
            .await
            .map_err(|e| CatalogError::Other(e.to_string()))?
            .map_err(|e| CatalogError::Other(format!("{shown_dir}: cannot lock it ({e})")))?;
        // The file is first opened as SQLite itself: a file that is no catalogue is told at
        // once (not retried as a connection that failed), and it turns to WAL, which lasts.
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let first = options
            .connect()
            .await
            .map_err(|e| classify_sqlite(&shown, e))?;
        first
            .close()
            .await
            .map_err(|e| classify_sqlite(&shown, e))?;
        // The `Any` driver then opens it from a URL, which carries only the file and its
        // mode; the driver's own defaults add foreign keys and a 5 s busy timeout. In WAL mode
        // synchronous NORMAL (set on each connection) still commits atomically and survives a
        // killed process; only a power cut may lose the last commits, which a resume then
        // simply redoes.
        let options = AnyConnectOptions::from_url(&options.to_url_lossy())
            .map_err(|e| classify_sqlite(&shown, e))?;
        let pool = AnyPoolOptions::new()
            .max_connections(2)
            .after_connect(|conn, _| {
                Box::pin(async move { conn.execute("PRAGMA synchronous = NORMAL").await.map(drop) })
            })
            .connect_with(options)
            .await
            .map_err(|e| classify_sqlite(&shown, e))?;
        let catalog = Self {
            pool,
            shown,
            dialect: Dialect::Sqlite,
        };
        let migrated = catalog.migrate(sqlx::migrate!("./migrations/sqlite")).await;
        drop(turn);
        migrated.map(|()| catalog)
    }

    async fn open_postgres(url: url::Url) -> Result<Self, CatalogError> {
        let shown = CatalogAddress::Postgres(url.clone()).to_string();
        // The password comes from the URL (when it came from the environment, not a command
        // line), else from PGPASSWORD or a pgpass file, as libpq's own clients take it.
        let options =
            AnyConnectOptions::from_url(&url).map_err(|e| classify_postgres(&shown, e))?;
        // One connection first, so that what keeps it from connecting (refused, a wrong
        // password, no such database) is told at once, not as a pool's time-out.
        let first = options
            .connect()
            .await
            .map_err(|e| classify_postgres(&shown, e))?;
        first
            .close()
            .await
            .map_err(|e| classify_postgres(&shown, e))?;
        let pool = AnyPoolOptions::new()
            .max_connections(POSTGRES_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| classify_postgres(&shown, e))?;
        let catalog = Self {
            pool,
            shown,
            dialect: Dialect::Postgres,
        };
        // sqlx's migrator holds an advisory lock while it migrates: replicas starting together
        // take turns.
        catalog
            .migrate(sqlx::migrate!("./migrations/postgres"))
            .await?;
        Ok(catalog)
    }

    async fn migrate(&self, migrator: sqlx::migrate::Migrator) -> Result<(), CatalogError> {
        migrator.run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::VersionMissing(_) => {
                CatalogError::NewerSchema(self.shown.clone())
            }
            sqlx::migrate::MigrateError::Execute(e) => self.error(e),
            other => CatalogError::Corrupt {
                path: self.shown.clone(),
                reason: other.to_string(),
            },
        })
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// What a database error means for this catalogue.
    pub(crate) fn error(&self, e: sqlx::Error) -> CatalogError {
        match self.dialect {
            Dialect::Sqlite => classify_sqlite(&self.shown, e),
            Dialect::Postgres => classify_postgres(&self.shown, e),
        }
    }
}

impl Dialect {
    /// The `VALUES` list of a statement of `rows` rows shaped like `row`. SQLite takes each
    /// `?` as the next parameter; for PostgreSQL each becomes the next numbered one (`$1`,
    /// `$2`...), which sqlx's query builder does not write through the `Any` driver. Not
    /// numbered for SQLite too: it finds a numbered (named) parameter by a walk of all the
    /// statement's names, which for a statement of 3,500 cost 40% of a copy's CPU.
    pub(crate) fn values(self, rows: usize, row: &str) -> String {
        let mut sql = String::with_capacity(rows * (row.len() + 16));
        let mut parameter = 0;
        for n in 0..rows {
            if n > 0 {
                sql.push_str(", ");
            }
            match self {
                Dialect::Sqlite => sql.push_str(row),
                Dialect::Postgres => {
                    for (i, piece) in row.split('?').enumerate() {
                        if i > 0 {
                            parameter += 1;
                            sql.push('$');
                            sql.push_str(&parameter.to_string());
                        }
                        sql.push_str(piece);
                    }
                }
            }
        }
        sql
    }

    /// The `n`th parameter of a statement (from 1), as [`Dialect::values`] writes them: for
    /// SQLite the next `?`, so it must be the `n`th written.
    pub(crate) fn parameter(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => "?".to_owned(),
            Dialect::Postgres => format!("${n}"),
        }
    }
}

/// Deletes the upload of source object `key` of job `job_id` and its parts.
pub(crate) async fn delete_upload(
    conn: &mut sqlx::AnyConnection,
    job_id: &str,
    key: &str,
) -> Result<(), sqlx::Error> {
    for table in ["job_parts", "job_uploads"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE job_id = $1 AND key = $2"
        ))
        .bind(job_id)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Whether `e`, from a database of `dialect`, may pass if tried again: the connection lost or
/// refused (a PostgreSQL restarting, a network cut) or none to be had, or the database busy.
pub(crate) fn transient(dialect: Dialect, e: &sqlx::Error) -> bool {
    let connection = matches!(
        e,
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed
    );
    connection
        || match dialect {
            Dialect::Sqlite => sqlite_busy(e),
            // Class 08 (connection) and 57P (shutting down, starting up) as well.
            Dialect::Postgres => sqlstate(e).is_some_and(|state| {
                postgres_contended(&state) || state.starts_with("08") || state.starts_with("57P")
            }),
        }
}

/// SQLite's primary result code of `e` (the extended code's low byte), if it is one.
fn sqlite_code(e: &sqlx::Error) -> Option<i32> {
    e.as_database_error()
        .and_then(|d| d.code())
        .and_then(|code| code.parse::<i32>().ok())
        .map(|code| code & 0xff)
}

/// Whether SQLite's `e` says another connection holds the database (busy, locked).
fn sqlite_busy(e: &sqlx::Error) -> bool {
    matches!(sqlite_code(e), Some(SQLITE_BUSY | SQLITE_LOCKED))
}

/// PostgreSQL's SQLSTATE of `e`, if the server sent one.
fn sqlstate(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|code| code.into_owned())
}

/// Whether PostgreSQL's SQLSTATE `state` says another holder has what was asked: class 55
/// (object not in prerequisite state: lock not available) or 40 (serialization failure,
/// deadlock).
fn postgres_contended(state: &str) -> bool {
    state.starts_with("55") || state.starts_with("40")
}

/// SQLite's primary result codes the catalogue tells apart (the extended code's low byte).
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_CORRUPT: i32 = 11;
const SQLITE_NOTADB: i32 = 26;

/// A row that does not decode: a damaged catalogue, in either database.
fn undecodable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. })
}

/// What a SQLite error means for the catalogue at `path`: by SQLite's result code, or a row
/// that does not decode (a damaged catalogue).
fn classify_sqlite(path: &str, e: sqlx::Error) -> CatalogError {
    let damaged =
        matches!(sqlite_code(&e), Some(SQLITE_CORRUPT | SQLITE_NOTADB)) || undecodable(&e);
    match sqlite_busy(&e) {
        true => CatalogError::Locked(path.to_owned()),
        false if damaged => CatalogError::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        },
        false => CatalogError::Other(format!("{path}: {e}")),
    }
}

/// What a PostgreSQL error means for the catalogue at `url` (shown without its password): by
/// its SQLSTATE class (08: connection; 57P03: starting up), the connection's failing, or a row
/// that does not decode.
fn classify_postgres(url: &str, e: sqlx::Error) -> CatalogError {
    let state = sqlstate(&e);
    let unreachable = matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut)
        || state
            .as_deref()
            .is_some_and(|s| s.starts_with("08") || s == "57P03");
    if unreachable {
        return CatalogError::Unreachable {
            at: url.to_owned(),
            reason: e.to_string(),
        };
    }
    match state.as_deref() {
        // Another replica holds what was asked.
        Some(s) if postgres_contended(s) => CatalogError::Locked(url.to_owned()),
        _ if undecodable(&e) => CatalogError::Corrupt {
            path: url.to_owned(),
            reason: e.to_string(),
        },
        _ => CatalogError::Other(format!("{url}: {e}")),
    }
}
