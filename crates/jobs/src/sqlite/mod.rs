//! The catalogue in SQLite, through sqlx (WAL mode, migrations under `migrations/`): the
//! connection and what every part shares (`mod.rs`), job records and what resume reads
//! (`catalog`), the recorder that writes a running job's progress in batches (`recorder`),
//! schedules (`schedules`), and the listing entries kept for resume (`stored_meta`).

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod catalog;
mod recorder;
mod schedules;
mod stored_meta;

pub use recorder::Recorder;

use crate::lease::LEASE_TERM;
use crate::records::CatalogError;
use crate::timestamp::Timestamp;

/// The catalogue.
#[derive(Debug, Clone)]
pub struct Catalog {
    pool: SqlitePool,
    path: String,
}

/// When a lease taken or renewed now ends.
fn lease_end() -> Timestamp {
    Timestamp::from(time::OffsetDateTime::now_utc() + LEASE_TERM)
}

impl Catalog {
    /// Where the catalogue lives unless `--db` says otherwise: `$AWCOPY_DB`, else
    /// `$XDG_DATA_HOME/awcopy/awcopy.db`, else `~/.local/share/awcopy/awcopy.db`.
    pub fn default_path() -> PathBuf {
        let env = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(path) = env("AWCOPY_DB") {
            return path;
        }
        let data = env("XDG_DATA_HOME")
            .or_else(|| env("HOME").map(|home| home.join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        data.join("awcopy").join("awcopy.db")
    }

    /// Opens (creating if need be) the catalogue at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, CatalogError> {
        let shown = path.display().to_string();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| CatalogError::Other(format!("{}: {e}", parent.display())))?;
        }
        // Two processes opening a new (or older) catalogue at once would both apply the same
        // migration, and one would fail on it ("duplicate column"), or find the file turning
        // to WAL under it: they take turns, holding an exclusive lock (flock) on the
        // catalogue's directory while the file is opened and its schema brought up to date.
        // Not on the catalogue file itself: closing another descriptor of it would drop
        // SQLite's own (POSIX) locks on it.
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let shown_dir = dir.display().to_string();
        let dir = std::fs::File::open(dir)
            .map_err(|e| CatalogError::Other(format!("{shown_dir}: {e}")))?;
        let turn = tokio::task::spawn_blocking(move || dir.lock().map(|()| dir))
            .await
            .map_err(|e| CatalogError::Other(e.to_string()))?
            .map_err(|e| CatalogError::Other(format!("{shown_dir}: cannot lock it ({e})")))?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL still commits atomically and survives a killed process; only
            // a power cut may lose the last commits, which a resume then simply redoes.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(|e| classify(&shown, e))?;
        let migrated = sqlx::migrate!("./migrations").run(&pool).await;
        drop(turn);
        migrated.map_err(|e| match e {
            sqlx::migrate::MigrateError::VersionMissing(_) => {
                CatalogError::NewerSchema(shown.clone())
            }
            sqlx::migrate::MigrateError::Execute(e) => classify(&shown, e),
            other => CatalogError::Corrupt {
                path: shown.clone(),
                reason: other.to_string(),
            },
        })?;
        Ok(Self { pool, path: shown })
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub(crate) fn error(&self, e: sqlx::Error) -> CatalogError {
        classify(&self.path, e)
    }
}

/// Deletes the upload of source object `key` of job `job_id` and its parts.
pub(crate) async fn delete_upload(
    conn: &mut sqlx::SqliteConnection,
    job_id: &str,
    key: &str,
) -> Result<(), sqlx::Error> {
    for table in ["job_parts", "job_uploads"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE job_id = ? AND key = ?"))
            .bind(job_id)
            .bind(key)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// SQLite's primary result codes the catalogue tells apart (the extended code's low byte).
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_CORRUPT: i32 = 11;
const SQLITE_NOTADB: i32 = 26;

/// What a database error means for the catalogue at `path`: by SQLite's result code, or a
/// row that does not decode (a damaged catalogue).
fn classify(path: &str, e: sqlx::Error) -> CatalogError {
    let code = e
        .as_database_error()
        .and_then(|d| d.code())
        .and_then(|code| code.parse::<i32>().ok())
        .map(|code| code & 0xff);
    let damaged = matches!(code, Some(SQLITE_CORRUPT | SQLITE_NOTADB))
        || matches!(e, sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. });
    match code {
        Some(SQLITE_BUSY | SQLITE_LOCKED) => CatalogError::Locked(path.to_owned()),
        _ if damaged => CatalogError::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        },
        _ => CatalogError::Other(format!("{path}: {e}")),
    }
}
