//! Opening the catalogue, and reading and writing job records.

use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Why the catalogue could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file is not a catalogue (or is damaged).
    #[error("job catalogue {path}: not a readable awcopy catalogue ({reason}); move it aside or pass --db")]
    Corrupt {
        /// The file.
        path: String,
        /// What the database said.
        reason: String,
    },
    /// Another process holds the catalogue locked for too long.
    #[error("job catalogue {0}: locked by another process; try again, or pass --db")]
    Locked(String),
    /// Written by a newer awcopy.
    #[error("job catalogue {0}: written by a newer awcopy; upgrade awcopy, or pass --db")]
    NewerSchema(String),
    /// No job has that id or id prefix.
    #[error("no job with id '{0}'; `awcopy jobs list --all-users` shows them")]
    NotFound(String),
    /// Several jobs start with that prefix.
    #[error("job id '{prefix}' is ambiguous: {matches}; give more of it")]
    Ambiguous {
        /// The prefix given.
        prefix: String,
        /// Some of the ids it matches.
        matches: String,
    },
    /// Anything else from the database or the file system.
    #[error("job catalogue: {0}")]
    Other(String),
}

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Created, not started.
    Queued,
    /// Running now (or its process died: see `owner_pid`).
    Running,
    /// Stopped on request; can be resumed.
    Paused,
    /// Every object done.
    Completed,
    /// Done, but some objects failed.
    CompletedWithFailures,
    /// Stopped by an error before it could finish.
    Failed,
    /// Cancelled by the user.
    Cancelled,
}

impl Status {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::CompletedWithFailures => "completed-with-failures",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [
            Self::Queued,
            Self::Running,
            Self::Paused,
            Self::Completed,
            Self::CompletedWithFailures,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| {
            format!("'{text}' is not a status; use queued, running, paused, completed, completed-with-failures, failed or cancelled")
        })
    }
}

/// What a new job is.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Who runs it.
    pub user: String,
    /// Its optional name (`--job-name`).
    pub name: Option<String>,
    /// `cp`, `sync` or `mv`.
    pub command: String,
    /// The source location, as shown (no secrets).
    pub source: String,
    /// The destination location, as shown (no secrets).
    pub dest: String,
    /// The job's settings as JSON (no secrets).
    pub spec: serde_json::Value,
}

/// A job as the catalogue holds it.
#[derive(Debug, Clone, Serialize)]
pub struct JobRecord {
    /// The job id (a UUID).
    pub id: String,
    /// Who ran it.
    pub user: String,
    /// Its name, if any.
    pub name: Option<String>,
    /// `cp`, `sync` or `mv`.
    pub command: String,
    /// Source location.
    pub source: String,
    /// Destination location.
    pub dest: String,
    /// Settings.
    pub spec: serde_json::Value,
    /// State.
    pub status: String,
    /// The process that runs (or ran) it.
    pub owner_pid: Option<i64>,
    /// RFC 3339 times.
    pub created_at: String,
    /// When it started.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Objects copied.
    pub objects_copied: i64,
    /// Bytes copied.
    pub bytes_copied: i64,
    /// Objects left out by filters or policies.
    pub objects_skipped: i64,
    /// Objects that failed.
    pub objects_failed: i64,
    /// Objects stored under another name.
    pub objects_mapped: i64,
}

/// One failed object of a job (the dead-letter list).
#[derive(Debug, Clone, Serialize)]
pub struct FailureRecord {
    /// The source key.
    pub key: String,
    /// Error class and message.
    pub error: String,
    /// How many runs failed on it.
    pub attempts: i64,
    /// When it last failed.
    pub updated_at: String,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this user's jobs (`None`: everyone's).
    pub user: Option<String>,
    /// Only jobs in this state.
    pub status: Option<Status>,
}

/// The catalogue.
#[derive(Debug, Clone)]
pub struct Catalog {
    pool: SqlitePool,
    path: String,
}

pub(crate) fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
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
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(|e| classify(&shown, e))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| match e {
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

    fn error(&self, e: sqlx::Error) -> CatalogError {
        classify(&self.path, e)
    }

    /// Records a new job, running in this process.
    pub async fn create_job(&self, job: NewJob) -> Result<JobRecord, CatalogError> {
        let id = uuid::Uuid::new_v4().to_string();
        let at = now();
        sqlx::query(
            "INSERT INTO jobs (id, user_name, name, command, source, dest, spec, status, owner_pid, created_at, started_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(&job.user)
        .bind(&job.name)
        .bind(&job.command)
        .bind(&job.source)
        .bind(&job.dest)
        .bind(job.spec.to_string())
        .bind(Status::Running.as_str())
        .bind(i64::from(std::process::id()))
        .bind(&at)
        .bind(&at)
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        self.find(&id).await
    }

    /// Ends a job: its status and final counters.
    pub async fn finish_job(
        &self,
        id: &str,
        status: Status,
        copied: (u64, u64),
        skipped: u64,
        failed: u64,
        mapped: u64,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "UPDATE jobs SET status = ?, finished_at = ?, objects_copied = ?, bytes_copied = ?,
             objects_skipped = ?, objects_failed = ?, objects_mapped = ? WHERE id = ?",
        )
        .bind(status.as_str())
        .bind(now())
        .bind(copied.0 as i64)
        .bind(copied.1 as i64)
        .bind(skipped as i64)
        .bind(failed as i64)
        .bind(mapped as i64)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Jobs, newest first.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<JobRecord>, CatalogError> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE (? IS NULL OR user_name = ?) AND (? IS NULL OR status = ?)
             ORDER BY created_at DESC, id",
        )
        .bind(&filter.user)
        .bind(&filter.user)
        .bind(filter.status.map(Status::as_str))
        .bind(filter.status.map(Status::as_str))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        rows.iter()
            .map(record)
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(e))
    }

    /// The job whose id is `id`, or the one job whose id starts with it.
    pub async fn find(&self, id: &str) -> Result<JobRecord, CatalogError> {
        let pattern = format!("{}%", id.replace(['%', '_'], ""));
        let rows = sqlx::query("SELECT * FROM jobs WHERE id LIKE ? ORDER BY id LIMIT 4")
            .bind(&pattern)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        match rows.len() {
            0 => Err(CatalogError::NotFound(id.to_owned())),
            1 => record(&rows[0]).map_err(|e| self.error(e)),
            _ => Err(CatalogError::Ambiguous {
                prefix: id.to_owned(),
                matches: rows
                    .iter()
                    .map(|r| r.get::<String, _>("id"))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// The objects of a job that failed, by key.
    pub async fn failures(&self, id: &str) -> Result<Vec<FailureRecord>, CatalogError> {
        let rows = sqlx::query(
            "SELECT key, error, attempts, updated_at FROM job_objects
             WHERE job_id = ? AND state = 'failed' ORDER BY key",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(rows
            .iter()
            .map(|r| FailureRecord {
                key: r.get("key"),
                error: r.get::<Option<String>, _>("error").unwrap_or_default(),
                attempts: r.get("attempts"),
                updated_at: r.get("updated_at"),
            })
            .collect())
    }
}

fn record(row: &sqlx::sqlite::SqliteRow) -> Result<JobRecord, sqlx::Error> {
    let spec: String = row.try_get("spec")?;
    Ok(JobRecord {
        id: row.try_get("id")?,
        user: row.try_get("user_name")?,
        name: row.try_get("name")?,
        command: row.try_get("command")?,
        source: row.try_get("source")?,
        dest: row.try_get("dest")?,
        spec: serde_json::from_str(&spec).unwrap_or(serde_json::Value::Null),
        status: row.try_get("status")?,
        owner_pid: row.try_get("owner_pid")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        objects_copied: row.try_get("objects_copied")?,
        bytes_copied: row.try_get("bytes_copied")?,
        objects_skipped: row.try_get("objects_skipped")?,
        objects_failed: row.try_get("objects_failed")?,
        objects_mapped: row.try_get("objects_mapped")?,
    })
}

fn classify(path: &str, e: sqlx::Error) -> CatalogError {
    let text = e.to_string();
    if text.contains("database is locked") || text.contains("busy") {
        CatalogError::Locked(path.to_owned())
    } else if text.contains("file is not a database") || text.contains("malformed") {
        CatalogError::Corrupt {
            path: path.to_owned(),
            reason: text,
        }
    } else {
        CatalogError::Other(format!("{path}: {text}"))
    }
}
