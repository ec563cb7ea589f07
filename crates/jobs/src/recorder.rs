//! Writes each object's outcome to the catalogue as the copy runs, in batches from a task of
//! its own, so the catalogue never holds the copy up.

use awcopy_engine::events::{Action, EventSink, ObjectEvent};
use tokio::sync::mpsc;

use crate::catalog::{now, Catalog, CatalogError};

/// How many outcomes one transaction writes at most.
const BATCH: usize = 500;

/// One outcome, owned, on its way to the catalogue.
#[derive(Debug)]
struct Outcome {
    key: String,
    dest_key: Option<String>,
    size: Option<u64>,
    state: &'static str,
    error: Option<String>,
}

/// An [`EventSink`] that records a job's object outcomes; [`Recorder::finish`] waits until
/// every one is written.
#[derive(Debug)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<Outcome>,
    writer: tokio::task::JoinHandle<Result<(), CatalogError>>,
}

impl Recorder {
    /// Records outcomes of job `job_id` into `catalog`.
    pub fn new(catalog: Catalog, job_id: String) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Outcome>();
        let writer = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                write(&catalog, &job_id, &batch).await?;
                batch.clear();
            }
            Ok(())
        });
        Self { tx, writer }
    }

    /// Waits until every outcome recorded so far is in the catalogue.
    pub async fn finish(self) -> Result<(), CatalogError> {
        drop(self.tx);
        self.writer
            .await
            .map_err(|e| CatalogError::Other(format!("catalogue writer: {e}")))?
    }
}

async fn write(catalog: &Catalog, job_id: &str, batch: &[Outcome]) -> Result<(), CatalogError> {
    let at = now();
    let mut tx = catalog
        .pool()
        .begin()
        .await
        .map_err(|e| CatalogError::Other(e.to_string()))?;
    for outcome in batch {
        sqlx::query(
            "INSERT INTO job_objects (job_id, key, dest_key, size, state, error, attempts, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, 1, ?)
             ON CONFLICT (job_id, key) DO UPDATE SET
               dest_key = COALESCE(excluded.dest_key, dest_key), size = COALESCE(excluded.size, size),
               state = excluded.state, error = excluded.error,
               attempts = attempts + (excluded.state = 'failed'), updated_at = excluded.updated_at",
        )
        .bind(job_id)
        .bind(&outcome.key)
        .bind(&outcome.dest_key)
        .bind(outcome.size.map(|s| s as i64))
        .bind(outcome.state)
        .bind(&outcome.error)
        .bind(&at)
        .execute(&mut *tx)
        .await
        .map_err(|e| CatalogError::Other(e.to_string()))?;
    }
    tx.commit()
        .await
        .map_err(|e| CatalogError::Other(e.to_string()))
}

impl EventSink for Recorder {
    fn record(&self, event: &ObjectEvent<'_>) {
        let state = match event.action {
            Action::Copied => "copied",
            Action::Planned => return,
            Action::Skipped => "skipped",
            Action::Kept => "kept",
            Action::Failed => "failed",
            Action::Deleted => "deleted",
        };
        let _ = self.tx.send(Outcome {
            key: event.key.to_owned(),
            dest_key: event.dest_key.map(str::to_owned),
            size: event.size,
            state,
            error: event.error.clone(),
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
            .finish_job(
                &record.id,
                Status::CompletedWithFailures,
                (1200, 42),
                0,
                1,
                0,
            )
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
}
