//! Writes a job's progress to the catalogue as the copy runs: each object's outcome (as an
//! [`EventSink`]) and what resume needs (as a [`Journal`]: listing ranges, listed objects,
//! uploads and their parts). Everything goes through one ordered channel to a task of its own
//! that writes in batches, one transaction each, so the catalogue never holds the copy up and
//! what a crash leaves is always a prefix of what happened.

use awcopy_engine::events::{Action, EventSink, ObjectEvent};
use awcopy_engine::journal::{Journal, ListRange, UploadRecord};
use awcopy_store::{ObjectMeta, PartReceipt};
use sqlx::{Sqlite, Transaction};
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

use crate::catalog::{delete_upload, now, Catalog, CatalogError};

/// How many messages one transaction writes at most.
const BATCH: usize = 2000;

/// How long a batch waits for more messages before it is written: fewer, larger transactions
/// keep the catalogue's cost per object small; a crash loses at most this much of the record
/// (those objects are copied again on resume). A staged block, worth far more than a record,
/// is written at once.
const GATHER: Duration = Duration::from_millis(100);

/// How often the job's counters are brought up to date while it runs.
const COUNTERS_EVERY: Duration = Duration::from_secs(2);

/// One thing to write, owned, on its way to the catalogue.
#[derive(Debug)]
enum Message {
    /// An object's outcome.
    Outcome {
        key: String,
        dest_key: Option<String>,
        size: Option<u64>,
        state: &'static str,
        error: Option<String>,
    },
    /// A range opened.
    Range(ListRange),
    /// A page listed: (key, size, listing entry as JSON) of each object, in key order.
    Page {
        range: u64,
        objects: Vec<(String, u64, String)>,
    },
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
    /// A part was staged.
    Part { key: String, part: PartReceipt },
}

/// Records a job's progress; [`Recorder::finish`] waits until every message is written and
/// drops whatever arrives later (a listing still winding down after a stop).
#[derive(Debug)]
pub struct Recorder {
    tx: Mutex<Option<mpsc::UnboundedSender<Message>>>,
    writer: tokio::sync::Mutex<Option<tokio::task::JoinHandle<Result<(), CatalogError>>>>,
}

impl Recorder {
    /// Records the progress of job `job_id` into `catalog`.
    pub fn new(catalog: Catalog, job_id: String) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
        let writer = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            let mut counted = Instant::now();
            // Source keys with an upload on record, so finishing any other object costs no
            // look into the upload tables.
            let mut uploading: HashSet<String> = catalog
                .uploads(&job_id)
                .await?
                .into_iter()
                .map(|(key, _)| key)
                .collect();
            while let Some(first) = rx.recv().await {
                batch.push(first);
                let deadline = tokio::time::Instant::now() + GATHER;
                while batch.len() < BATCH && !matches!(batch.last(), Some(Message::Part { .. })) {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(next)) => batch.push(next),
                        Ok(None) | Err(_) => break,
                    }
                }
                write(&catalog, &job_id, &batch, &mut uploading).await?;
                batch.clear();
                if counted.elapsed() >= COUNTERS_EVERY {
                    catalog.refresh_counters(&job_id).await?;
                    counted = Instant::now();
                }
            }
            catalog.refresh_counters(&job_id).await
        });
        Self {
            tx: Mutex::new(Some(tx)),
            writer: tokio::sync::Mutex::new(Some(writer)),
        }
    }

    /// Waits until everything recorded so far is in the catalogue.
    pub async fn finish(&self) -> Result<(), CatalogError> {
        self.tx.lock().expect("recorder lock").take();
        match self.writer.lock().await.take() {
            Some(writer) => writer
                .await
                .map_err(|e| CatalogError::Other(format!("catalogue writer: {e}")))?,
            None => Ok(()),
        }
    }

    fn send(&self, message: Message) {
        // The writer only goes away on a catalogue error, which `finish` reports.
        if let Some(tx) = self.tx.lock().expect("recorder lock").as_ref() {
            let _ = tx.send(message);
        }
    }
}

async fn write(
    catalog: &Catalog,
    job_id: &str,
    batch: &[Message],
    uploading: &mut HashSet<String>,
) -> Result<(), CatalogError> {
    let at = now();
    let mut tx = catalog.pool().begin().await.map_err(other)?;
    for message in batch {
        write_one(&mut tx, job_id, message, &at, uploading)
            .await
            .map_err(other)?;
    }
    tx.commit().await.map_err(other)
}

fn other(e: sqlx::Error) -> CatalogError {
    CatalogError::Other(e.to_string())
}

async fn write_one(
    tx: &mut Transaction<'_, Sqlite>,
    job_id: &str,
    message: &Message,
    at: &str,
    uploading: &mut HashSet<String>,
) -> Result<(), sqlx::Error> {
    match message {
        Message::Outcome {
            key,
            dest_key,
            size,
            state,
            error,
        } => {
            sqlx::query(
                "INSERT INTO job_objects (job_id, key, dest_key, size, state, error, attempts, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, 1, ?)
                 ON CONFLICT (job_id, key) DO UPDATE SET
                   dest_key = COALESCE(excluded.dest_key, dest_key), size = COALESCE(excluded.size, size),
                   state = excluded.state, error = excluded.error,
                   attempts = attempts + (excluded.state = 'failed'), updated_at = excluded.updated_at",
            )
            .bind(job_id)
            .bind(key)
            .bind(dest_key)
            .bind(size.map(|s| s as i64))
            .bind(state)
            .bind(error)
            .bind(at)
            .execute(&mut **tx)
            .await?;
            if matches!(*state, "copied" | "failed") && uploading.remove(key) {
                // Committed, or aborted: the upload is over either way.
                delete_upload(tx, job_id, key).await?;
            }
        }
        Message::Range(range) => insert_range(tx, job_id, range).await?,
        Message::Page { range, objects } => {
            for (key, size, meta) in objects {
                sqlx::query(
                    "INSERT INTO job_objects (job_id, key, size, state, meta, attempts, updated_at)
                     VALUES (?, ?, ?, 'listed', ?, 0, ?) ON CONFLICT (job_id, key) DO NOTHING",
                )
                .bind(job_id)
                .bind(key)
                .bind(*size as i64)
                .bind(meta)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            }
            if let Some((last, _, _)) = objects.last() {
                sqlx::query(
                    "UPDATE job_ranges SET after_key = ? WHERE job_id = ? AND range_id = ?",
                )
                .bind(last)
                .bind(job_id)
                .bind(*range as i64)
                .execute(&mut **tx)
                .await?;
            }
        }
        Message::Split { range, before, far } => {
            insert_range(tx, job_id, far).await?;
            sqlx::query("UPDATE job_ranges SET before_key = ? WHERE job_id = ? AND range_id = ?")
                .bind(before)
                .bind(job_id)
                .bind(*range as i64)
                .execute(&mut **tx)
                .await?;
        }
        Message::RangeDone(range) => {
            sqlx::query("UPDATE job_ranges SET done = 1 WHERE job_id = ? AND range_id = ?")
                .bind(job_id)
                .bind(*range as i64)
                .execute(&mut **tx)
                .await?;
        }
        Message::Upload { key, record } => {
            uploading.insert(key.clone());
            sqlx::query("DELETE FROM job_parts WHERE job_id = ? AND key = ?")
                .bind(job_id)
                .bind(key)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "INSERT INTO job_uploads (job_id, key, dest_key, upload_id, part_size, source_size, source_etag)
                 VALUES (?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (job_id, key) DO UPDATE SET dest_key = excluded.dest_key,
                   upload_id = excluded.upload_id, part_size = excluded.part_size,
                   source_size = excluded.source_size, source_etag = excluded.source_etag",
            )
            .bind(job_id)
            .bind(key)
            .bind(&record.dest_key)
            .bind(&record.upload.0)
            .bind(record.part_size as i64)
            .bind(record.source_size as i64)
            .bind(&record.source_etag)
            .execute(&mut **tx)
            .await?;
        }
        Message::Part { key, part } => {
            sqlx::query(
                "INSERT INTO job_parts (job_id, key, number, handle, size, crc64) VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (job_id, key, number) DO UPDATE SET handle = excluded.handle,
                   size = excluded.size, crc64 = excluded.crc64",
            )
            .bind(job_id)
            .bind(key)
            .bind(i64::from(part.number))
            .bind(&part.handle)
            .bind(part.size.map(|s| s as i64))
            .bind(part.crc64nvme.map(|c| c as i64))
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

async fn insert_range(
    tx: &mut Transaction<'_, Sqlite>,
    job_id: &str,
    range: &ListRange,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO job_ranges (job_id, range_id, after_key, before_key) VALUES (?, ?, ?, ?)
         ON CONFLICT (job_id, range_id) DO NOTHING",
    )
    .bind(job_id)
    .bind(range.id as i64)
    .bind(&range.after)
    .bind(&range.before)
    .execute(&mut **tx)
    .await?;
    Ok(())
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
        self.send(Message::Outcome {
            key: event.key.to_owned(),
            dest_key: event.dest_key.map(str::to_owned),
            size: event.size,
            state,
            error: event.error.clone(),
        });
    }
}

impl Journal for Recorder {
    fn range_opened(&self, range: &ListRange) {
        self.send(Message::Range(range.clone()));
    }

    fn page_listed(&self, id: u64, objects: &[ObjectMeta]) {
        let objects = objects
            .iter()
            .map(|meta| {
                let json = serde_json::to_string(meta).expect("object metadata serializes");
                (meta.key.clone(), meta.size, json)
            })
            .collect();
        self.send(Message::Page { range: id, objects });
    }

    fn range_split(&self, id: u64, before: &str, far: &ListRange) {
        self.send(Message::Split {
            range: id,
            before: before.to_owned(),
            far: far.clone(),
        });
    }

    fn range_done(&self, id: u64) {
        self.send(Message::RangeDone(id));
    }

    fn upload_started(&self, key: &str, upload: &UploadRecord) {
        self.send(Message::Upload {
            key: key.to_owned(),
            record: upload.clone(),
        });
    }

    fn part_staged(&self, key: &str, part: &PartReceipt) {
        self.send(Message::Part {
            key: key.to_owned(),
            part: part.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ListFilter, NewJob, Status};

    fn job() -> NewJob {
        NewJob {
            user: "alice".into(),
            name: Some("nightly".into()),
            command: "cp".into(),
            source: "s3://a/".into(),
            dest: "az://b/c/".into(),
            spec: serde_json::json!({"block_size": 8}),
        }
    }

    #[tokio::test]
    async fn jobs_record_outcomes_and_failures() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("deep/awcopy.db"))
            .await
            .unwrap();
        let record = catalog.create_job(job()).await.unwrap();
        assert_eq!(record.status, "running");
        assert_eq!(record.owner_pid, Some(i64::from(std::process::id())));

        let recorder = Recorder::new(catalog.clone(), record.id.clone());
        for i in 0..1200 {
            recorder.record(&ObjectEvent {
                size: Some(i),
                ..ObjectEvent::now(Action::Copied, &format!("k{i}"))
            });
        }
        recorder.record(&ObjectEvent {
            error: Some("auth: denied".into()),
            ..ObjectEvent::now(Action::Failed, "bad")
        });
        recorder.record(&ObjectEvent {
            error: Some("auth: denied".into()),
            ..ObjectEvent::now(Action::Failed, "bad")
        });
        recorder.finish().await.unwrap();
        catalog
            .finish_job(&record.id, Status::CompletedWithFailures, 0)
            .await
            .unwrap();

        let failures = catalog.failures(&record.id).await.unwrap();
        assert_eq!(failures.len(), 1);
        assert_eq!((failures[0].key.as_str(), failures[0].attempts), ("bad", 2));
        let found = catalog.find(&record.id[..8]).await.unwrap();
        assert_eq!(
            (found.status.as_str(), found.objects_copied),
            ("completed-with-failures", 1200)
        );
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM job_objects WHERE state = 'copied'")
                .fetch_one(catalog.pool())
                .await
                .unwrap();
        assert_eq!(count, 1200);

        let mine = ListFilter {
            user: Some("alice".into()),
            status: None,
        };
        assert_eq!(catalog.list(&mine).await.unwrap().len(), 1);
        let others = ListFilter {
            user: Some("bob".into()),
            status: None,
        };
        assert!(catalog.list(&others).await.unwrap().is_empty());
        let running = ListFilter {
            user: None,
            status: Some(Status::Running),
        };
        assert!(catalog.list(&running).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn ids_by_unique_prefix_only() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("awcopy.db")).await.unwrap();
        for _ in 0..20 {
            catalog.create_job(job()).await.unwrap();
        }
        assert!(matches!(
            catalog.find("").await,
            Err(CatalogError::Ambiguous { .. })
        ));
        assert!(matches!(
            catalog.find("zzzz").await,
            Err(CatalogError::NotFound(_))
        ));
        let err = catalog.find("zzzz").await.unwrap_err().to_string();
        assert!(err.contains("no job with id 'zzzz'"), "{err}");
    }

    #[tokio::test]
    async fn damaged_or_newer_catalogues_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.db");
        std::fs::write(
            &junk,
            b"this is not a database, just some text that is long enough",
        )
        .unwrap();
        let before = std::fs::read(&junk).unwrap();
        let err = Catalog::open(&junk).await.unwrap_err();
        assert!(matches!(err, CatalogError::Corrupt { .. }), "{err}");
        assert_eq!(std::fs::read(&junk).unwrap(), before, "left untouched");

        let newer = dir.path().join("newer.db");
        let catalog = Catalog::open(&newer).await.unwrap();
        sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (9999, 'future', 1, x'00', 0)")
            .execute(catalog.pool())
            .await
            .unwrap();
        drop(catalog);
        let err = Catalog::open(&newer).await.unwrap_err();
        assert!(matches!(err, CatalogError::NewerSchema(_)), "{err}");
    }

    #[tokio::test]
    async fn a_locked_catalogue_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locked.db");
        let holder = Catalog::open(&path).await.unwrap();
        let mut lock = holder.pool().acquire().await.unwrap();
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut *lock)
            .await
            .unwrap();
        // Reading may go on in WAL mode; writing waits out the busy timeout, then says why.
        let err = match Catalog::open(&path).await {
            Ok(other) => other.create_job(job()).await.unwrap_err(),
            Err(err) => err,
        };
        assert!(matches!(err, CatalogError::Locked(_)), "{err}");
        assert!(
            err.to_string().contains("locked by another process"),
            "{err}"
        );
        sqlx::query("ROLLBACK").execute(&mut *lock).await.unwrap();
        drop(lock);
        assert!(
            holder
                .list(&ListFilter::default())
                .await
                .unwrap()
                .is_empty(),
            "nothing was written"
        );
    }
}
