//! Writes a job's progress to the catalogue as the copy runs: each object's outcome (as an
//! [`EventSink`]) and what resume needs (as a [`Journal`]: listing ranges, listed objects,
//! uploads and their parts). Everything goes through one ordered channel to a task of its own
//! that writes in batches, one transaction each, so the catalogue never holds the copy up and
//! what a crash leaves is always a prefix of what happened.

use awcopy_engine::events::{Action, EventSink, ObjectEvent};
use awcopy_engine::journal::{Journal, ListRange, UploadRecord};
use awcopy_store::{ObjectMeta, PartReceipt};
use sqlx::{Any, Transaction};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

use super::stored_text::message;
use super::{delete_upload, stored_meta, transient, Catalog, Dialect};
use crate::job_catalog::{JobCatalog, JobRecorder};
use crate::records::CatalogError;
use crate::timestamp::Timestamp;

/// How many messages one transaction writes at most.
const BATCH: usize = 2000;

/// How long a batch waits for more messages before it is written: fewer, larger transactions
/// keep the catalogue's cost per object small; a crash loses at most this much of the record
/// (those objects are copied again on resume). A staged block, worth far more than a record,
/// is written at once.
const GATHER: Duration = Duration::from_millis(100);

/// Objects (listed, or with an outcome) waiting to be written past which the listing waits
/// (see [`Journal::room`]): what a listing that outruns the catalogue holds in memory. A few
/// batches: the writer never runs dry while the listing waits.
const BACKLOG: usize = 4 * BATCH;

/// How many rows one multi-row statement writes at most: sqlx costs tens of microseconds per
/// statement (a round trip to its SQLite thread, or to PostgreSQL), far more than the
/// database's own work for a row, so runs of outcomes and of listed objects go in statements
/// of many rows. Only full-size statements are kept prepared (the shorter tail of a run varies
/// in length, and would only crowd the statement cache).
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// How long the writer tries again to write a batch the database refused for a cause that
/// passes (see [`transient`]) before the run fails (and can be resumed).
const PATIENCE: Duration = Duration::from_secs(600);

/// The job whose progress is written: its id, and its number (what its objects' rows hold).
#[derive(Debug)]
struct JobRef {
    id: String,
    number: i64,
}

/// One thing to write, owned, on its way to the catalogue.
#[derive(Debug)]
enum Message {
    /// An object's outcome.
    Outcome(Outcome),
    /// A page listed.
    Page(Page),
    /// What else resume needs: ranges, uploads and parts, written one at a time.
    Record(Record),
}

/// An object's outcome.
#[derive(Debug)]
struct Outcome {
    key: String,
    size: Option<u64>,
    state: &'static str,
    error: Option<String>,
}

/// A page of range `range` listed: (key, size, listing entry as JSON) of each object, in key
/// order.
#[derive(Debug)]
struct Page {
    range: u64,
    objects: Vec<(String, u64, String)>,
}

/// A change to a listing range, or to an upload.
#[derive(Debug)]
enum Record {
    /// A range opened.
    Range(ListRange),
    /// A range narrowed, its far part opened.
    Split {
        range: u64,
        before: String,
        far: ListRange,
    },
    /// A range listed to its end.
    RangeDone(u64),
    /// An upload began.
    Upload { key: String, record: UploadRecord },
    /// A part was staged (by `agent`, when one did).
    Part {
        key: String,
        part: PartReceipt,
        agent: Option<String>,
    },
    /// The destination cannot copy from the source server-side; why.
    ServerSideUnreachable(String),
}

/// Records a job's progress; [`Recorder::finish`] waits until every message is written and
/// drops whatever arrives later (a listing still winding down after a stop).
#[derive(Debug)]
pub struct Recorder {
    tx: Mutex<Option<mpsc::UnboundedSender<Message>>>,
    writer: tokio::sync::Mutex<Option<tokio::task::JoinHandle<Result<(), CatalogError>>>>,
    backlog: Arc<Backlog>,
}

/// Objects sent to the writer and not written yet, the most there ever were, and whether the
/// writer has stopped (then nothing waits for it).
#[derive(Debug, Default)]
struct Backlog {
    objects: AtomicUsize,
    peak: AtomicUsize,
    written: Notify,
    stopped: AtomicBool,
}

/// Marks the backlog's writer stopped when the writer ends, however it ends.
struct WriterAlive(Arc<Backlog>);

impl Drop for WriterAlive {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::Relaxed);
        self.0.written.notify_waiters();
    }
}

impl Backlog {
    fn add(&self, objects: usize) {
        let now = self.objects.fetch_add(objects, Ordering::Relaxed) + objects;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn written(&self, objects: usize) {
        self.objects.fetch_sub(objects, Ordering::Relaxed);
        self.written.notify_waiters();
    }
}

impl Message {
    /// The objects it carries (a page's; one for an outcome; none for a record).
    fn objects(&self) -> usize {
        match self {
            Message::Outcome(_) => 1,
            Message::Page(page) => page.objects.len(),
            Message::Record(_) => 0,
        }
    }
}

impl Recorder {
    /// Records the progress of job `job_id` into `catalog`.
    pub fn new(catalog: Catalog, job_id: String) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
        let backlog = Arc::new(Backlog::default());
        let drained = backlog.clone();
        let writer = tokio::spawn(async move {
            let _alive = WriterAlive(drained.clone());
            let mut batch = Vec::with_capacity(BATCH);
            // Source keys with an upload on record, so finishing any other object costs no
            // look into the upload tables.
            let mut uploading: HashSet<String> = catalog
                .uploads(&job_id)
                .await?
                .into_iter()
                .map(|(key, _)| key)
                .collect();
            let job = JobRef {
                number: catalog.job_number(&job_id).await?,
                id: job_id,
            };
            while let Some(first) = rx.recv().await {
                batch.push(first);
                let deadline = tokio::time::Instant::now() + GATHER;
                while batch.len() < BATCH
                    && !matches!(batch.last(), Some(Message::Record(Record::Part { .. })))
                {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(next)) => batch.push(next),
                        Ok(None) | Err(_) => break,
                    }
                }
                write_patiently(&catalog, &job, &batch, &mut uploading).await?;
                drained.written(batch.iter().map(Message::objects).sum());
                batch.clear();
            }
            Ok(())
        });
        Self {
            tx: Mutex::new(Some(tx)),
            writer: tokio::sync::Mutex::new(Some(writer)),
            backlog,
        }
    }

    fn send(&self, message: Message) {
        // The writer only goes away on a catalogue error, which `finish` reports.
        if let Some(tx) = self.tx.lock().expect("recorder lock").as_ref() {
            self.backlog.add(message.objects());
            let _ = tx.send(message);
        }
    }

    /// The most objects that ever waited to be written at once.
    pub fn peak_backlog(&self) -> usize {
        self.backlog.peak.load(Ordering::Relaxed)
    }
}

/// Writes a batch, again and again while the database cannot be reached (a PostgreSQL
/// restarting, a network cut: the copy goes on meanwhile, its listing waiting once the backlog
/// is full), for [`PATIENCE`] at most; a batch that failed is written whole again (its
/// transaction was rolled back).
async fn write_patiently(
    catalog: &Catalog,
    job: &JobRef,
    batch: &[Message],
    uploading: &mut HashSet<String>,
) -> Result<(), CatalogError> {
    let since = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(200);
    loop {
        let mut attempt = uploading.clone();
        match write(catalog, job, batch, &mut attempt).await {
            Ok(()) => {
                *uploading = attempt;
                return Ok(());
            }
            Err(e) if transient(catalog.dialect, &e) && since.elapsed() < PATIENCE => {
                tracing::warn!(job = %job.id, "the catalogue cannot be written ({e}); trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(catalog.error(e)),
        }
    }
}

/// Writes a batch in one transaction. Consecutive outcomes, and consecutive pages, go in
/// multi-row statements; runs are written in the order they came, so each object's record
/// still follows the order of its events (listed, then its outcome; an upload, then its end).
async fn write(
    catalog: &Catalog,
    job: &JobRef,
    batch: &[Message],
    uploading: &mut HashSet<String>,
) -> Result<(), sqlx::Error> {
    let at = Timestamp::now();
    let mut tx = catalog.pool().begin().await?;
    for run in batch.chunk_by(|a, b| std::mem::discriminant(a) == std::mem::discriminant(b)) {
        // A run is of one kind: two of these three are empty.
        let outcomes: Vec<_> = run
            .iter()
            .filter_map(|m| match m {
                Message::Outcome(outcome) => Some(outcome),
                _ => None,
            })
            .collect();
        let pages: Vec<_> = run
            .iter()
            .filter_map(|m| match m {
                Message::Page(page) => Some(page),
                _ => None,
            })
            .collect();
        let records = run.iter().filter_map(|m| match m {
            Message::Record(record) => Some(record),
            _ => None,
        });
        let dialect = catalog.dialect;
        write_outcomes(&mut tx, dialect, job, &outcomes, at, uploading).await?;
        write_pages(&mut tx, dialect, job, &pages).await?;
        for record in records {
            write_record(&mut tx, dialect, &job.id, record, uploading).await?;
        }
    }
    tx.commit().await
}

/// Objects' outcomes: the latest wins. An object's listing entry is kept only while a run may
/// still copy it (failed: a retry copies it from there), not once it is copied or left as it
/// was. A failure is also kept in `job_failures`, with its message, when it came,
/// and how many times the object failed.
async fn write_outcomes(
    tx: &mut Transaction<'_, Any>,
    dialect: Dialect,
    job: &JobRef,
    outcomes: &[&Outcome],
    at: Timestamp,
    uploading: &mut HashSet<String>,
) -> Result<(), sqlx::Error> {
    for rows in statements(outcomes) {
        let sql = format!(
            "INSERT INTO job_objects (job_number, key, size, state)
             VALUES {}
             ON CONFLICT (job_number, key) DO UPDATE SET
               size = COALESCE(excluded.size, job_objects.size), state = excluded.state",
            dialect.values(rows.len(), "(?, ?, ?, ?)")
        );
        let mut query = sqlx::query(&sql).persistent(rows.len() == ROWS_PER_STATEMENT);
        for outcome in rows {
            query = query
                .bind(job.number)
                .bind(dialect.store_key(&outcome.key))
                .bind(outcome.size.map(|s| s as i64))
                .bind(outcome.state);
        }
        query.execute(&mut **tx).await?;
        let (failed, done): (Vec<&Outcome>, Vec<&Outcome>) =
            rows.iter().partition(|o| o.state == "failed");
        if !done.is_empty() {
            let sql = delete_entries(dialect, done.len());
            let mut query = sqlx::query(&sql).persistent(done.len() == ROWS_PER_STATEMENT);
            for outcome in done {
                query = query.bind(dialect.store_key(&outcome.key));
            }
            query.bind(job.number).execute(&mut **tx).await?;
        }
        if failed.is_empty() {
            continue;
        }
        let sql = format!(
            "INSERT INTO job_failures (job_number, key, error, attempts, updated_at)
             VALUES {}
             ON CONFLICT (job_number, key) DO UPDATE SET
               error = excluded.error, attempts = job_failures.attempts + 1,
               updated_at = excluded.updated_at",
            dialect.values(failed.len(), "(?, ?, ?, 1, ?)")
        );
        let mut query = sqlx::query(&sql);
        for outcome in failed {
            query = query
                .bind(job.number)
                .bind(dialect.store_key(&outcome.key))
                .bind(message(outcome.error.as_deref().unwrap_or_default()))
                .bind(at);
        }
        query.execute(&mut **tx).await?;
    }
    for outcome in outcomes {
        if matches!(outcome.state, "copied" | "failed") && uploading.remove(&outcome.key) {
            let key = dialect.store_key(&outcome.key);
            if outcome.state == "copied" {
                keep_staged_by(tx, job, &key).await?;
            }
            // Committed, or aborted: the upload is over either way.
            delete_upload(tx, &job.id, &key).await?;
        }
    }
    Ok(())
}

/// The statement that deletes the listing entries of `keys` objects of a job: the keys first
/// (the entries' primary key leads with the key: one probe each), then the job's number (the
/// last parameter, as SQLite numbers `?` in the order they are written).
pub(crate) fn delete_entries(dialect: Dialect, keys: usize) -> String {
    format!(
        "DELETE FROM job_listing_entries WHERE key IN ({}) AND job_number = {}",
        dialect.values(keys, "?"),
        dialect.parameter(keys + 1)
    )
}

/// Outcomes in runs of at most [`ROWS_PER_STATEMENT`], each holding a key once: one statement
/// may not change a row twice in PostgreSQL, and the later outcome of a key must follow the
/// earlier one, as in SQLite (an object that failed twice counts two attempts).
fn statements<'a, 'o>(outcomes: &'a [&'o Outcome]) -> Vec<&'a [&'o Outcome]> {
    let mut runs = Vec::new();
    let mut keys = HashSet::new();
    let mut start = 0;
    for (i, outcome) in outcomes.iter().enumerate() {
        if i - start == ROWS_PER_STATEMENT || !keys.insert(outcome.key.as_str()) {
            runs.push(&outcomes[start..i]);
            start = i;
            keys.clear();
            keys.insert(outcome.key.as_str());
        }
    }
    if start < outcomes.len() {
        runs.push(&outcomes[start..]);
    }
    runs
}

/// Keeps, on the object `key` (as stored) just copied, the agents that staged its parts.
async fn keep_staged_by(
    tx: &mut Transaction<'_, Any>,
    job: &JobRef,
    key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE job_objects SET staged_by = (
           SELECT string_agg(agent, ',' ORDER BY agent) FROM (
             SELECT DISTINCT agent FROM job_parts
             WHERE job_id = $1 AND key = $2 AND agent IS NOT NULL) AS agents)
         WHERE job_number = $3 AND key = $2",
    )
    .bind(&job.id)
    .bind(key)
    .bind(job.number)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Listed objects, as listing entries (each with its size), and how far each range has listed.
/// A page holds objects not met before (a resumed listing starts after the last page on
/// record); should one come again, its outcome deletes its entry as any other's.
async fn write_pages(
    tx: &mut Transaction<'_, Any>,
    dialect: Dialect,
    job: &JobRef,
    pages: &[&Page],
) -> Result<(), sqlx::Error> {
    let listed: Vec<_> = pages.iter().flat_map(|page| &page.objects).collect();
    for rows in listed.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO job_listing_entries (key, job_number, size, meta)
             VALUES {} ON CONFLICT (key, job_number) DO NOTHING",
            dialect.values(rows.len(), "(?, ?, ?, ?)")
        );
        let mut query = sqlx::query(&sql).persistent(rows.len() == ROWS_PER_STATEMENT);
        for (key, size, meta) in rows {
            query = query
                .bind(dialect.store_key(key))
                .bind(job.number)
                .bind(*size as i64)
                .bind(meta.as_str());
        }
        query.execute(&mut **tx).await?;
    }
    for page in pages {
        if let Some((last, _, _)) = page.objects.last() {
            sqlx::query("UPDATE job_ranges SET after_key = $1 WHERE job_id = $2 AND range_id = $3")
                .bind(dialect.store_key(last))
                .bind(&job.id)
                .bind(page.range as i64)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

async fn write_record(
    tx: &mut Transaction<'_, Any>,
    dialect: Dialect,
    job_id: &str,
    record: &Record,
    uploading: &mut HashSet<String>,
) -> Result<(), sqlx::Error> {
    match record {
        Record::Range(range) => insert_range(tx, dialect, job_id, range).await?,
        Record::Split { range, before, far } => {
            insert_range(tx, dialect, job_id, far).await?;
            sqlx::query(
                "UPDATE job_ranges SET before_key = $1 WHERE job_id = $2 AND range_id = $3",
            )
            .bind(dialect.store_key(before))
            .bind(job_id)
            .bind(*range as i64)
            .execute(&mut **tx)
            .await?;
        }
        Record::RangeDone(range) => {
            sqlx::query("UPDATE job_ranges SET done = 1 WHERE job_id = $1 AND range_id = $2")
                .bind(job_id)
                .bind(*range as i64)
                .execute(&mut **tx)
                .await?;
        }
        Record::Upload { key, record } => {
            uploading.insert(key.clone());
            let key = dialect.store_key(key);
            sqlx::query("DELETE FROM job_parts WHERE job_id = $1 AND key = $2")
                .bind(job_id)
                .bind(&key)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "INSERT INTO job_uploads (job_id, key, dest_key, upload_id, part_size, source_size, source_etag)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (job_id, key) DO UPDATE SET dest_key = excluded.dest_key,
                   upload_id = excluded.upload_id, part_size = excluded.part_size,
                   source_size = excluded.source_size, source_etag = excluded.source_etag",
            )
            .bind(job_id)
            .bind(&key)
            .bind(dialect.store_key(&record.dest_key))
            .bind(&record.upload.0)
            .bind(record.part_size as i64)
            .bind(record.source_size as i64)
            .bind(&record.source_etag)
            .execute(&mut **tx)
            .await?;
        }
        Record::ServerSideUnreachable(why) => {
            sqlx::query("UPDATE jobs SET copy_source_unreachable = $1 WHERE id = $2")
                .bind(message(why))
                .bind(job_id)
                .execute(&mut **tx)
                .await?;
        }
        Record::Part { key, part, agent } => {
            sqlx::query(
                "INSERT INTO job_parts (job_id, key, number, handle, size, crc64, agent)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (job_id, key, number) DO UPDATE SET handle = excluded.handle,
                   size = excluded.size, crc64 = excluded.crc64, agent = excluded.agent",
            )
            .bind(job_id)
            .bind(dialect.store_key(key))
            .bind(i64::from(part.number))
            .bind(&part.handle)
            .bind(part.size.map(|s| s as i64))
            .bind(part.crc64nvme.map(|c| c as i64))
            .bind(agent.as_deref())
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

async fn insert_range(
    tx: &mut Transaction<'_, Any>,
    dialect: Dialect,
    job_id: &str,
    range: &ListRange,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO job_ranges (job_id, range_id, after_key, before_key) VALUES ($1, $2, $3, $4)
         ON CONFLICT (job_id, range_id) DO NOTHING",
    )
    .bind(job_id)
    .bind(range.id as i64)
    .bind(dialect.store_key_opt(range.after.as_deref()))
    .bind(dialect.store_key_opt(range.before.as_deref()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl JobRecorder for Recorder {
    async fn finish(&self) -> Result<(), CatalogError> {
        self.tx.lock().expect("recorder lock").take();
        match self.writer.lock().await.take() {
            Some(writer) => writer
                .await
                .map_err(|e| CatalogError::Other(format!("catalogue writer: {e}")))?,
            None => Ok(()),
        }
    }
}

impl EventSink for Recorder {
    fn record(&self, event: &ObjectEvent<'_>) {
        let state = match event.action {
            Action::Copied => "copied",
            Action::Skipped => "skipped",
            Action::Kept => "kept",
            Action::Failed => "failed",
            // A dry run is not recorded; deletions (of `mv` sources after their copy, of
            // `sync --delete` extras) are in the journal, not object states.
            Action::Planned | Action::Deleted => return,
        };
        self.send(Message::Outcome(Outcome {
            key: event.key.to_owned(),
            size: event.size,
            state,
            error: event.error.clone(),
        }));
    }
}

impl Journal for Recorder {
    fn range_opened(&self, range: &ListRange) {
        self.send(Message::Record(Record::Range(range.clone())));
    }

    fn page_listed(&self, id: u64, objects: &[ObjectMeta]) {
        let objects = objects
            .iter()
            .map(|meta| (meta.key.clone(), meta.size, stored_meta::encode(meta)))
            .collect();
        self.send(Message::Page(Page { range: id, objects }));
    }

    fn range_split(&self, id: u64, before: &str, far: &ListRange) {
        self.send(Message::Record(Record::Split {
            range: id,
            before: before.to_owned(),
            far: far.clone(),
        }));
    }

    fn range_done(&self, id: u64) {
        self.send(Message::Record(Record::RangeDone(id)));
    }

    fn upload_started(&self, key: &str, upload: &UploadRecord) {
        self.send(Message::Record(Record::Upload {
            key: key.to_owned(),
            record: upload.clone(),
        }));
    }

    fn part_staged(&self, key: &str, part: &PartReceipt, agent: Option<&str>) {
        self.send(Message::Record(Record::Part {
            key: key.to_owned(),
            part: part.clone(),
            agent: agent.map(str::to_owned),
        }));
    }

    fn server_side_unreachable(&self, why: &str) {
        self.send(Message::Record(Record::ServerSideUnreachable(
            why.to_owned(),
        )));
    }

    fn room(&self) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(async move {
            loop {
                // Asked for before the count is read, so a write in between still wakes it.
                let written = self.backlog.written.notified();
                if self.backlog.objects.load(Ordering::Relaxed) < BACKLOG
                    || self.backlog.stopped.load(Ordering::Relaxed)
                {
                    return;
                }
                written.await;
            }
        })
    }
}

#[cfg(test)]
mod tests;
