//! Job records in SQLite: created, found, listed, leased, finished; what resume reads back
//! (listing ranges, objects met, staged uploads); failures.

use awcopy_engine::index::{IndexOptions, ObjectIndex};
use awcopy_engine::journal::{ListRange, ResumeFrom, StagedUpload, UploadRecord};
use awcopy_store::{ObjectMeta, PartReceipt, StoreError, UploadId};
use futures::TryStreamExt;
use sqlx::{FromRow, Row};
use std::sync::Arc;

use super::recorder::Recorder;
use super::stored_meta;
use super::stored_text::message;
use super::{delete_upload, lease_end, Catalog};
use crate::job_catalog::{JobCatalog, JobRecorder};
use crate::lease::Holder;
use crate::records::{
    CatalogError, ErrorClass, FailurePage, FailureRecord, JobRecord, ListFilter, NewJob, Request,
    RunRecord, Status, Trigger,
};
use crate::timestamp::Timestamp;

/// A job's failed objects, in key order: those of its failures (a table holding no other
/// object) whose object is failed still (not copied by a retry since). The object's state is
/// read for each failure through the objects' key (a subquery, not a join a planner could
/// answer by reading all the job's objects). A page starts where the last ended, a seek in the
/// failures' key (no key is empty), not a walk from the job's first failure.
pub(crate) const FAILED_OBJECTS: &str = "SELECT f.key, f.error, f.attempts, f.updated_at
     FROM job_failures f
     WHERE f.job_number = (SELECT number FROM jobs WHERE id = $1)
       AND f.key > COALESCE($2, '')
       AND (SELECT o.state FROM job_objects o
            WHERE o.job_number = f.job_number AND o.key = f.key) = 'failed'
     ORDER BY f.key LIMIT $3";

/// The jobs (at most 4) whose id starts with ?1 (?2 is ?1 followed by the last character), of
/// user ?3 if given, through the primary key.
pub(crate) const FIND_JOB: &str = "SELECT * FROM jobs WHERE id >= $1 AND id < $2
     AND ($3 IS NULL OR user_name = $3) ORDER BY id LIMIT 4";

/// The objects a job met, for its resume: those with an outcome (with their listing entries,
/// if kept, and the size listed: a failure's outcome has none), then those listed and not done
/// yet.
pub(crate) const OBJECTS_MET: &str =
    "SELECT o.key, COALESCE(e.size, o.size) AS size, o.state, e.meta
     FROM job_objects o LEFT JOIN job_listing_entries e
       ON e.key = o.key AND e.job_number = o.job_number
     WHERE o.job_number = (SELECT number FROM jobs WHERE id = $1)
     UNION ALL
     SELECT e.key, e.size, 'listed' AS state, e.meta FROM job_listing_entries e
     WHERE e.job_number = (SELECT number FROM jobs WHERE id = $1)
       AND NOT EXISTS (SELECT 1 FROM job_objects o
                       WHERE o.job_number = e.job_number AND o.key = e.key)";

/// Rows read from the catalogue before they go into an index at once, on resume.
const READ_PAGE: usize = 1000;

impl Catalog {
    /// The number of job `id`, which its objects' rows hold.
    pub(crate) async fn job_number(&self, id: &str) -> Result<i64, CatalogError> {
        sqlx::query_scalar("SELECT number FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error(e))?
            .ok_or_else(|| CatalogError::NotFound(id.to_owned()))
    }

    /// Streams the objects job `id` met into `pending` (listed, not finished: with their
    /// listing entries) and `finished` (every other), a page at a time: never all of them
    /// in memory.
    async fn read_objects_met(
        &self,
        id: &str,
        pending: &ObjectIndex,
        finished: &ObjectIndex,
    ) -> Result<(), CatalogError> {
        let index_error = |e: StoreError| CatalogError::Other(e.to_string());
        let mut rows = sqlx::query(OBJECTS_MET).bind(id).fetch(&self.pool);
        let (mut listed, mut other) = (Vec::new(), Vec::new());
        while let Some(row) = rows.try_next().await.map_err(|e| self.error(e))? {
            let key = self.dialect.load_key(row.get("key"));
            let size = row.get::<Option<i64>, _>("size").unwrap_or(0) as u64;
            let meta = match row.get::<String, _>("state").as_str() {
                "listed" => row
                    .get::<Option<String>, _>("meta")
                    .and_then(|m| stored_meta::decode(key.clone(), size, &m)),
                _ => None,
            };
            match meta {
                Some(meta) => listed.push((key, meta)),
                None => other.push((key.clone(), ObjectMeta::new(key, size))),
            }
            if listed.len() >= READ_PAGE {
                pending
                    .insert(std::mem::take(&mut listed))
                    .map_err(index_error)?;
            }
            if other.len() >= READ_PAGE {
                finished
                    .insert(std::mem::take(&mut other))
                    .map_err(index_error)?;
            }
        }
        pending.insert(listed).map_err(index_error)?;
        finished.insert(other).map_err(index_error)
    }
}

#[async_trait::async_trait]
impl JobCatalog for Catalog {
    fn recorder(&self, id: &str) -> Arc<dyn JobRecorder> {
        Arc::new(Recorder::new(self.clone(), id.to_owned()))
    }

    async fn create_job(&self, job: NewJob) -> Result<JobRecord, CatalogError> {
        let id = uuid::Uuid::new_v4().to_string();
        let at = Timestamp::now();
        let me = Holder::this_process();
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        if let Some(run) = &job.schedule_run {
            // The run is claimed first: of two replicas starting it, the second waits for the
            // first's transaction, then finds the next run moved on.
            let claimed = sqlx::query(
                "UPDATE schedules SET next_run = $1
                 WHERE id = $2 AND next_run IS NOT DISTINCT FROM $3",
            )
            .bind(run.next_run)
            .bind(&run.schedule_id)
            .bind(run.due_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(e))?;
            if claimed.rows_affected() != 1 {
                // Another replica started this run first (or the schedule went): the job
                // is not written.
                return Err(CatalogError::RunTaken(run.schedule_id.clone()));
            }
        }
        sqlx::query(
            "INSERT INTO jobs (id, user_name, name, command, source, dest, spec, status, owner_pid, owner_started,
             lease_holder, lease_host, lease_expires, created_at, started_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(&id)
        .bind(&job.user)
        .bind(&job.name)
        .bind(&job.command)
        .bind(&job.source)
        .bind(&job.dest)
        .bind(job.spec.to_string())
        .bind(Status::Running)
        .bind(me.pid)
        .bind(&me.started)
        .bind(&me.id)
        .bind(&me.host)
        .bind(lease_end())
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.error(e))?;
        let trigger = match job.schedule_run {
            Some(_) => Trigger::Schedule,
            None => Trigger::Submit,
        };
        sqlx::query(
            "INSERT INTO job_runs (job_id, number, started_by, started_at) VALUES ($1, 1, $2, $3)",
        )
        .bind(&id)
        .bind(trigger)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.error(e))?;
        if let Some(run) = &job.schedule_run {
            sqlx::query(
                "INSERT INTO schedule_runs (schedule_id, job_id, started_at) VALUES ($1, $2, $3)",
            )
            .bind(&run.schedule_id)
            .bind(&id)
            .bind(run.started_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(e))?;
        }
        tx.commit().await.map_err(|e| self.error(e))?;
        self.find(&id).await
    }

    async fn finish_job(
        &self,
        id: &str,
        status: Status,
        mapped: u64,
        error: Option<&StoreError>,
    ) -> Result<(), CatalogError> {
        let ended = (status != Status::Running).then(Timestamp::now);
        let error_text = error.map(|e| message(&awcopy_store::redact::redact(&e.to_string())));
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        sqlx::query(
            "UPDATE jobs SET status = $1, finished_at = $2, objects_mapped = objects_mapped + $3,
             error = $4, error_kind = $5, lease_holder = NULL, lease_expires = NULL,
             requested = NULL WHERE id = $6",
        )
        .bind(status)
        .bind(ended)
        .bind(mapped as i64)
        .bind(&error_text)
        .bind(error.map(|e| ErrorClass(e.kind())))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.error(e))?;
        sqlx::query(
            "UPDATE job_runs SET finished_at = $1, status = $2, error = $3
             WHERE job_id = $4 AND finished_at IS NULL
             AND number = (SELECT MAX(number) FROM job_runs WHERE job_id = $4)",
        )
        .bind(ended)
        .bind(status)
        .bind(&error_text)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.error(e))?;
        tx.commit().await.map_err(|e| self.error(e))
    }

    async fn claim(&self, job: &JobRecord, trigger: Trigger) -> Result<(), CatalogError> {
        let me = Holder::this_process();
        let now = Timestamp::now();
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        let done = sqlx::query(
            "UPDATE jobs SET status = $1, owner_pid = $2, owner_started = $3, lease_holder = $4,
             lease_host = $5, lease_expires = $6, requested = NULL,
             started_at = COALESCE(started_at, $7), finished_at = NULL
             WHERE id = $8 AND status = $9 AND owner_pid IS NOT DISTINCT FROM $10
             AND lease_holder IS NOT DISTINCT FROM $11",
        )
        .bind(Status::Running)
        .bind(me.pid)
        .bind(&me.started)
        .bind(&me.id)
        .bind(&me.host)
        .bind(lease_end())
        .bind(now)
        .bind(&job.id)
        .bind(job.status)
        .bind(job.owner_pid)
        .bind(&job.lease_holder)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.error(e))?;
        if done.rows_affected() != 1 {
            return Err(CatalogError::Changed(job.id.clone()));
        }
        // A run whose runner died (killed, its machine lost) never ended: it ends now, failed,
        // saying so.
        let runner = job
            .owner()
            .map_or_else(|| "its runner".to_owned(), |o| o.describe());
        sqlx::query(
            "UPDATE job_runs SET finished_at = $1, status = $2, error = $3
             WHERE job_id = $4 AND finished_at IS NULL",
        )
        .bind(now)
        .bind(Status::Failed)
        .bind(format!(
            "{runner} stopped while it ran; the job was taken over"
        ))
        .bind(&job.id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.error(e))?;
        sqlx::query(
            "INSERT INTO job_runs (job_id, number, started_by, started_at, objects_at_start,
             bytes_at_start)
             SELECT id, (SELECT COALESCE(MAX(number), 0) + 1 FROM job_runs WHERE job_id = $1),
             $2, $3, objects_copied, bytes_copied FROM jobs WHERE id = $1",
        )
        .bind(&job.id)
        .bind(trigger)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.error(e))?;
        tx.commit().await.map_err(|e| self.error(e))
    }

    async fn renew(&self, id: &str) -> Result<Option<Request>, CatalogError> {
        let me = Holder::this_process();
        let requested: Option<Option<Request>> = sqlx::query_scalar(
            "UPDATE jobs SET lease_expires = $1 WHERE id = $2 AND lease_holder = $3 RETURNING requested",
        )
        .bind(lease_end())
        .bind(id)
        .bind(&me.id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        match requested {
            Some(requested) => Ok(requested),
            None => Err(CatalogError::Changed(id.to_owned())),
        }
    }

    async fn requested(&self, id: &str) -> Result<Option<Request>, CatalogError> {
        let row: Option<(Option<Request>, Option<String>)> =
            sqlx::query_as("SELECT requested, lease_holder FROM jobs WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.error(e))?;
        match row {
            Some((_, Some(holder))) if holder != Holder::this_process().id => {
                Err(CatalogError::Changed(id.to_owned()))
            }
            Some((requested, _)) => Ok(requested),
            None => Ok(None),
        }
    }

    async fn request(&self, id: &str, request: Request) -> Result<(), CatalogError> {
        sqlx::query("UPDATE jobs SET requested = $1 WHERE id = $2")
            .bind(request)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn resume_point(
        &self,
        id: &str,
        relist: bool,
        index: &IndexOptions,
    ) -> Result<ResumeFrom, CatalogError> {
        let rows = sqlx::query(
            "SELECT range_id, after_key, before_key, done FROM job_ranges WHERE job_id = $1",
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
                    after: self.dialect.load_key_opt(r.get("after_key")),
                    before: self.dialect.load_key_opt(r.get("before_key")),
                })
                .collect(),
        };
        let server_side_unreachable = sqlx::query_scalar::<_, Option<String>>(
            "SELECT copy_source_unreachable FROM jobs WHERE id = $1",
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
            pending: ObjectIndex::new(index.clone()),
            finished: ObjectIndex::new(index.clone()),
            ..ResumeFrom::default()
        };
        self.read_objects_met(id, &resume.pending, &resume.finished)
            .await?;
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
            "SELECT key, number, handle, size, crc64 FROM job_parts WHERE job_id = $1 ORDER BY key, number",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        for row in &parts {
            let key = self.dialect.load_key(row.get("key"));
            if let Some(upload) = resume.uploads.get_mut(&key) {
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

    async fn requeue_failed(&self, id: &str) -> Result<u64, CatalogError> {
        let done = sqlx::query(
            "UPDATE job_objects SET state = 'listed'
             WHERE job_number = (SELECT number FROM jobs WHERE id = $1)
               AND key IN (SELECT f.key FROM job_failures f
                           JOIN job_listing_entries e
                             ON e.job_number = f.job_number AND e.key = f.key
                           WHERE f.job_number = (SELECT number FROM jobs WHERE id = $1))
               AND state = 'failed'",
        )
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(done.rows_affected())
    }

    async fn uploads(&self, id: &str) -> Result<Vec<(String, UploadRecord)>, CatalogError> {
        let rows = sqlx::query(
            "SELECT key, dest_key, upload_id, part_size, source_size, source_etag
             FROM job_uploads WHERE job_id = $1 ORDER BY key",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(rows
            .iter()
            .map(|r| {
                let record = UploadRecord {
                    dest_key: self.dialect.load_key(r.get("dest_key")),
                    upload: UploadId(r.get("upload_id")),
                    part_size: r.get::<i64, _>("part_size") as u64,
                    source_size: r.get::<i64, _>("source_size") as u64,
                    source_etag: r.get("source_etag"),
                };
                (self.dialect.load_key(r.get("key")), record)
            })
            .collect())
    }

    async fn forget_upload(&self, id: &str, key: &str) -> Result<(), CatalogError> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.error(e))?;
        delete_upload(&mut conn, id, &self.dialect.store_key(key))
            .await
            .map_err(|e| self.error(e))
    }

    async fn unfinished(
        &self,
        user: &str,
        command: &str,
        source: &str,
        dest: &str,
    ) -> Result<Option<JobRecord>, CatalogError> {
        let row = sqlx::query(
            "SELECT * FROM jobs WHERE user_name = $1 AND command = $2 AND source = $3 AND dest = $4
             AND status IN ('running', 'paused', 'failed')
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
            .map(JobRecord::from_row)
            .transpose()
            .map_err(|e| self.error(e))
    }

    async fn clean(
        &self,
        user: Option<&str>,
        cutoff: Timestamp,
    ) -> Result<Vec<String>, CatalogError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM jobs WHERE ($1 IS NULL OR user_name = $1) AND finished_at < $2
             AND status IN ('completed', 'completed-with-failures', 'cancelled') ORDER BY id",
        )
        .bind(user)
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        let mut tx = self.pool.begin().await.map_err(|e| self.error(e))?;
        for id in &ids {
            // The tables of objects name their job by number, with no foreign key to cascade
            // (migration 0013): their rows go first; the others' go with the job.
            for table in ["job_objects", "job_listing_entries", "job_failures"] {
                sqlx::query(&format!(
                    "DELETE FROM {table} WHERE job_number = (SELECT number FROM jobs WHERE id = $1)"
                ))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
            }
            sqlx::query("DELETE FROM jobs WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
        }
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(ids)
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<JobRecord>, CatalogError> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE ($1 IS NULL OR user_name = $1) AND ($2 IS NULL OR status = $2)
             AND ($5 IS NULL OR id IN (SELECT job_id FROM schedule_runs WHERE schedule_id = $5))
             ORDER BY created_at DESC, id LIMIT $3 OFFSET $4",
        )
        .bind(&filter.user)
        .bind(filter.status)
        .bind(filter.limit.map_or(i64::MAX, i64::from))
        .bind(i64::from(filter.offset))
        .bind(&filter.schedule)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        rows.iter()
            .map(JobRecord::from_row)
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(e))
    }

    async fn find_of(&self, id: &str, user: Option<&str>) -> Result<JobRecord, CatalogError> {
        // The ids that start with the prefix, as a range of the primary key (a LIKE would read
        // every job: SQLite's LIKE ignores case, the key's order does not). Ids are lowercase;
        // what LIKE would have read as wildcards is left out, as before.
        let prefix = id.replace(['%', '_'], "").to_ascii_lowercase();
        let rows = sqlx::query(FIND_JOB)
            .bind(&prefix)
            .bind(format!("{prefix}\u{10FFFF}"))
            .bind(user)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        match rows.len() {
            0 => Err(CatalogError::NotFound(id.to_owned())),
            1 => JobRecord::from_row(&rows[0]).map_err(|e| self.error(e)),
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

    async fn runs(&self, id: &str) -> Result<Vec<RunRecord>, CatalogError> {
        // A run copied what the next run's counters at its start, or the job's now, add.
        sqlx::query_as(
            "SELECT r.number, r.started_by, r.started_at, r.finished_at, r.status, r.error,
             COALESCE(LEAD(r.objects_at_start) OVER w, j.objects_copied) - r.objects_at_start
               AS objects_copied,
             COALESCE(LEAD(r.bytes_at_start) OVER w, j.bytes_copied) - r.bytes_at_start
               AS bytes_copied
             FROM job_runs r JOIN jobs j ON j.id = r.job_id WHERE r.job_id = $1
             WINDOW w AS (ORDER BY r.number) ORDER BY r.number",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))
    }

    async fn failures(
        &self,
        id: &str,
        page: &FailurePage,
    ) -> Result<Vec<FailureRecord>, CatalogError> {
        let failures: Vec<FailureRecord> = sqlx::query_as(FAILED_OBJECTS)
            .bind(id)
            .bind(self.dialect.store_key_opt(page.after.as_deref()))
            .bind(page.limit.map_or(i64::MAX, i64::from))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(failures
            .into_iter()
            .map(|failure| FailureRecord {
                key: self.dialect.load_key(failure.key),
                ..failure
            })
            .collect())
    }
}
