//! Opening the catalogue, and reading and writing job records.

use awcopy_engine::journal::{ListRange, ResumeFrom, StagedUpload, UploadRecord};
use awcopy_store::{ObjectMeta, PartReceipt, UploadId};
use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::lease::{Holder, Lease, LEASE_TERM};
use awcopy_engine::spec::JobSpec;
use time::format_description::well_known::Rfc3339;

/// Why the catalogue could not do what was asked. Each variant is a kind the caller turns into
/// advice of its own (the CLI names flags and commands; the service, HTTP statuses).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file is not a catalogue (or is damaged).
    #[error("job catalogue {path}: not a readable awcopy catalogue ({reason})")]
    Corrupt {
        /// The file.
        path: String,
        /// What the database said.
        reason: String,
    },
    /// Another process holds the catalogue locked for too long.
    #[error("job catalogue {0}: locked by another process for too long")]
    Locked(String),
    /// Written by a newer awcopy.
    #[error("job catalogue {0}: written by a newer awcopy")]
    NewerSchema(String),
    /// No job has that id or id prefix.
    #[error("no job with id '{0}'")]
    NotFound(String),
    /// Several jobs start with that prefix.
    #[error("job id '{prefix}' is ambiguous: {matches}")]
    Ambiguous {
        /// The prefix given.
        prefix: String,
        /// Some of the ids it matches.
        matches: String,
    },
    /// The job changed (another runner took it) between reading and writing it.
    #[error("job {0} changed meanwhile (another runner took it)")]
    Changed(String),
    /// The job's stored spec cannot be read as a [`JobSpec`].
    #[error("job {id}: its stored spec cannot be read ({reason})")]
    Spec {
        /// The job.
        id: String,
        /// Why.
        reason: String,
        /// Whether it is the command line an awcopy before specs stored (`argv`), which the
        /// CLI can read once and store as a spec.
        legacy_argv: bool,
    },
    /// Anything else from the database or the file system.
    #[error("job catalogue: {0}")]
    Other(String),
}

/// What another process asks of a job's runner, through the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Stop as a pause does: in-flight work finishes, the job can resume.
    Pause,
    /// Stop so the job can be cancelled.
    Cancel,
}

impl Request {
    fn as_str(self) -> &'static str {
        match self {
            Request::Pause => "pause",
            Request::Cancel => "cancel",
        }
    }

    fn parse(text: Option<&str>) -> Option<Self> {
        match text? {
            "pause" => Some(Request::Pause),
            "cancel" => Some(Request::Cancel),
            _ => None,
        }
    }
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
    /// Whether a job in this state is over: resume has nothing to continue.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::CompletedWithFailures | Self::Cancelled
        )
    }

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
    /// When that process started (to tell it from a later one with the same id).
    pub owner_started: Option<String>,
    /// The holder of its lease while it runs.
    pub lease_holder: Option<String>,
    /// The host the holder runs on.
    pub lease_host: Option<String>,
    /// When the lease ends unless renewed (RFC 3339).
    pub lease_expires: Option<String>,
    /// A pause or cancel asked of its runner and not yet acted on.
    pub requested: Option<String>,
    /// RFC 3339 times.
    pub created_at: String,
    /// When it started.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Objects listed (the filter's leavings included).
    pub objects_listed: i64,
    /// Their bytes.
    pub bytes_listed: i64,
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

impl JobRecord {
    /// The lease of the runner that runs or ran it, if recorded.
    pub fn owner(&self) -> Option<Lease> {
        self.owner_pid.map(|pid| Lease {
            holder: self.lease_holder.clone(),
            host: self.lease_host.clone(),
            pid,
            started: self.owner_started.clone(),
            expires: self.lease_expires.as_deref().map(|t| {
                time::OffsetDateTime::parse(t, &Rfc3339).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
            }),
        })
    }

    /// The live lease of the runner running it now, if one does.
    pub fn live_owner(&self) -> Option<Lease> {
        self.owner()
            .filter(|lease| self.state() == Status::Running && lease.is_alive())
    }

    /// What the job is, as stored.
    pub fn job_spec(&self) -> Result<JobSpec, CatalogError> {
        let unreadable = |reason: String| CatalogError::Spec {
            id: self.id.clone(),
            reason,
            legacy_argv: self.spec.get("argv").is_some() && self.spec.get("version").is_none(),
        };
        let spec: JobSpec =
            serde_json::from_value(self.spec.clone()).map_err(|e| unreadable(e.to_string()))?;
        spec.check().map_err(|e| unreadable(e.to_string()))?;
        Ok(spec)
    }

    /// Its state (an unknown stored name reads as failed).
    pub fn state(&self) -> Status {
        self.status.parse().unwrap_or(Status::Failed)
    }
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
    rfc3339(time::OffsetDateTime::now_utc())
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// When a lease taken or renewed now ends.
fn lease_end() -> String {
    rfc3339(time::OffsetDateTime::now_utc() + LEASE_TERM)
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

    /// Records a new job, running in this process (which takes its lease).
    pub async fn create_job(&self, job: NewJob) -> Result<JobRecord, CatalogError> {
        let id = uuid::Uuid::new_v4().to_string();
        let at = now();
        let me = Holder::this_process();
        sqlx::query(
            "INSERT INTO jobs (id, user_name, name, command, source, dest, spec, status, owner_pid, owner_started,
             lease_holder, lease_host, lease_expires, created_at, started_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(&job.user)
        .bind(&job.name)
        .bind(&job.command)
        .bind(&job.source)
        .bind(&job.dest)
        .bind(job.spec.to_string())
        .bind(Status::Running.as_str())
        .bind(me.pid)
        .bind(&me.started)
        .bind(&me.id)
        .bind(&me.host)
        .bind(lease_end())
        .bind(&at)
        .bind(&at)
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        self.find(&id).await
    }

    /// Ends a run of a job: its status (finished, or paused / failed to resume later), plus
    /// the names this run mapped. Its other counters are kept by the catalogue as objects are
    /// written (migration 0003).
    pub async fn finish_job(
        &self,
        id: &str,
        status: Status,
        mapped: u64,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "UPDATE jobs SET status = ?, finished_at = ?, objects_mapped = objects_mapped + ?,
             lease_holder = NULL, lease_expires = NULL, requested = NULL WHERE id = ?",
        )
        .bind(status.as_str())
        .bind(status.is_final().then(now))
        .bind(mapped as i64)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Gives this process the lease of `job` and marks it running, provided nobody changed
    /// it since it was read.
    pub async fn claim(&self, job: &JobRecord) -> Result<(), CatalogError> {
        let me = Holder::this_process();
        let done = sqlx::query(
            "UPDATE jobs SET status = ?, owner_pid = ?, owner_started = ?, lease_holder = ?,
             lease_host = ?, lease_expires = ?, requested = NULL, started_at = ?, finished_at = NULL
             WHERE id = ? AND status = ? AND owner_pid IS ? AND lease_holder IS ?",
        )
        .bind(Status::Running.as_str())
        .bind(me.pid)
        .bind(&me.started)
        .bind(&me.id)
        .bind(&me.host)
        .bind(lease_end())
        .bind(now())
        .bind(&job.id)
        .bind(&job.status)
        .bind(job.owner_pid)
        .bind(&job.lease_holder)
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        match done.rows_affected() {
            1 => Ok(()),
            _ => Err(CatalogError::Changed(job.id.clone())),
        }
    }

    /// Renews this process's lease of job `id`; returns what another process asks of it, if
    /// anything. `Changed` if the lease is no longer this process's.
    pub async fn renew(&self, id: &str) -> Result<Option<Request>, CatalogError> {
        let me = Holder::this_process();
        let requested: Option<Option<String>> = sqlx::query_scalar(
            "UPDATE jobs SET lease_expires = ? WHERE id = ? AND lease_holder = ? RETURNING requested",
        )
        .bind(lease_end())
        .bind(id)
        .bind(&me.id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        match requested {
            Some(requested) => Ok(Request::parse(requested.as_deref())),
            None => Err(CatalogError::Changed(id.to_owned())),
        }
    }

    /// What another process asks of the runner of job `id`, if anything (a read; see
    /// [`Catalog::renew`]).
    pub async fn requested(&self, id: &str) -> Result<Option<Request>, CatalogError> {
        let requested: Option<Option<String>> =
            sqlx::query_scalar("SELECT requested FROM jobs WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.error(e))?;
        Ok(Request::parse(requested.flatten().as_deref()))
    }

    /// Asks the runner of job `id` to stop (it polls for this).
    pub async fn request(&self, id: &str, request: Request) -> Result<(), CatalogError> {
        sqlx::query("UPDATE jobs SET requested = ? WHERE id = ?")
            .bind(request.as_str())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Replaces job `id`'s stored spec (an old command line read once, as a spec).
    pub async fn store_spec(&self, id: &str, spec: &JobSpec) -> Result<(), CatalogError> {
        let json = serde_json::to_string(spec).map_err(|e| CatalogError::Other(e.to_string()))?;
        sqlx::query("UPDATE jobs SET spec = ? WHERE id = ?")
            .bind(json)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Where job `id` continues: its unfinished ranges, objects listed and not finished,
    /// the keys it has met, and its uploads in progress. With `relist` false the listing
    /// counts as over (a retry copies only what is queued).
    pub async fn resume_point(&self, id: &str, relist: bool) -> Result<ResumeFrom, CatalogError> {
        let rows = sqlx::query(
            "SELECT range_id, after_key, before_key, done FROM job_ranges WHERE job_id = ?",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        let next_range_id = rows
            .iter()
            .map(|r| r.get::<i64, _>("range_id") as u64 + 1)
            .max()
            .unwrap_or(1);
        let ranges = match (relist, rows.is_empty()) {
            (false, _) => Vec::new(),
            // Stopped before its first page was recorded: list it all.
            (true, true) => vec![ListRange::whole(0)],
            (true, false) => rows
                .iter()
                .filter(|r| r.get::<i64, _>("done") == 0)
                .map(|r| ListRange {
                    id: r.get::<i64, _>("range_id") as u64,
                    after: r.get("after_key"),
                    before: r.get("before_key"),
                })
                .collect(),
        };
        let objects = sqlx::query("SELECT key, state, meta FROM job_objects WHERE job_id = ?")
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        let server_side_unreachable = sqlx::query_scalar::<_, Option<String>>(
            "SELECT copy_source_unreachable FROM jobs WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.error(e))?
        .flatten();
        let mut resume = ResumeFrom {
            ranges,
            next_range_id,
            server_side_unreachable,
            ..ResumeFrom::default()
        };
        for row in &objects {
            let key: String = row.get("key");
            if row.get::<String, _>("state") == "listed" {
                let meta: Option<String> = row.get("meta");
                if let Some(meta) = meta.and_then(|m| serde_json::from_str::<ObjectMeta>(&m).ok()) {
                    resume.pending.push(meta);
                }
            }
            resume.known.insert(key);
        }
        resume.pending.sort_by(|a, b| a.key.cmp(&b.key));
        for (key, record) in self.uploads(id).await? {
            resume.uploads.insert(
                key,
                StagedUpload {
                    record,
                    parts: Vec::new(),
                },
            );
        }
        let parts = sqlx::query(
            "SELECT key, number, handle, size, crc64 FROM job_parts WHERE job_id = ? ORDER BY key, number",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        for row in &parts {
            if let Some(upload) = resume.uploads.get_mut(&row.get::<String, _>("key")) {
                upload.parts.push(PartReceipt {
                    number: row.get::<i64, _>("number") as u32,
                    handle: row.get("handle"),
                    size: row.get::<Option<i64>, _>("size").map(|s| s as u64),
                    crc64nvme: row.get::<Option<i64>, _>("crc64").map(|c| c as u64),
                });
            }
        }
        Ok(resume)
    }

    /// Queues a job's failed objects to be copied again; returns how many.
    pub async fn requeue_failed(&self, id: &str) -> Result<u64, CatalogError> {
        let done = sqlx::query(
            "UPDATE job_objects SET state = 'listed' WHERE job_id = ? AND state = 'failed'
             AND meta IS NOT NULL",
        )
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(done.rows_affected())
    }

    /// The uploads in progress of job `id`, by source key.
    pub async fn uploads(&self, id: &str) -> Result<Vec<(String, UploadRecord)>, CatalogError> {
        let rows = sqlx::query(
            "SELECT key, dest_key, upload_id, part_size, source_size, source_etag
             FROM job_uploads WHERE job_id = ? ORDER BY key",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(rows
            .iter()
            .map(|r| {
                let record = UploadRecord {
                    dest_key: r.get("dest_key"),
                    upload: UploadId(r.get("upload_id")),
                    part_size: r.get::<i64, _>("part_size") as u64,
                    source_size: r.get::<i64, _>("source_size") as u64,
                    source_etag: r.get("source_etag"),
                };
                (r.get("key"), record)
            })
            .collect())
    }

    /// Forgets the upload of source object `key` of job `id` (aborted).
    pub async fn forget_upload(&self, id: &str, key: &str) -> Result<(), CatalogError> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.error(e))?;
        delete_upload(&mut conn, id, key)
            .await
            .map_err(|e| self.error(e))
    }

    /// An unfinished job of `user` running `command` from `source` to `dest`, if any.
    pub async fn unfinished(
        &self,
        user: &str,
        command: &str,
        source: &str,
        dest: &str,
    ) -> Result<Option<JobRecord>, CatalogError> {
        let row = sqlx::query(
            "SELECT * FROM jobs WHERE user_name = ? AND command = ? AND source = ? AND dest = ?
             AND status IN ('queued', 'running', 'paused', 'failed')
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(user)
        .bind(command)
        .bind(source)
        .bind(dest)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        row.as_ref()
            .map(record)
            .transpose()
            .map_err(|e| self.error(e))
    }

    /// Deletes finished jobs (completed, with failures, or cancelled) that ended before
    /// `cutoff` (RFC 3339), with all they recorded; returns their ids.
    pub async fn clean(
        &self,
        user: Option<&str>,
        cutoff: &str,
    ) -> Result<Vec<String>, CatalogError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM jobs WHERE (? IS NULL OR user_name = ?) AND finished_at < ?
             AND status IN ('completed', 'completed-with-failures', 'cancelled') ORDER BY id",
        )
        .bind(user)
        .bind(user)
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        for id in &ids {
            sqlx::query("DELETE FROM jobs WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| classify(&self.path, e))?;
        }
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(ids)
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
        owner_started: row.try_get("owner_started")?,
        lease_holder: row.try_get("lease_holder")?,
        lease_host: row.try_get("lease_host")?,
        lease_expires: row.try_get("lease_expires")?,
        requested: row.try_get("requested")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        objects_listed: row.try_get("objects_listed")?,
        bytes_listed: row.try_get("bytes_listed")?,
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
