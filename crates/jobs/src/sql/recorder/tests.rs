//! The recorder's counters and failures, and the catalogue it writes to: ids, damage, locks.

use super::*;
use crate::sql::catalog::{FAILED_OBJECTS, OBJECTS_MET};
use crate::sql::Dialect;
use crate::{CatalogAddress, JobRecord, ListFilter, NewJob, Status};
use awcopy_testkit::catalogue::CatalogPlace;
use awcopy_testkit::each_catalogue;
use sqlx::any::AnyArguments;
use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::{Any, Executor, Row};
use std::path::Path;

/// Opens the catalogue at `place`.
async fn open(place: &CatalogPlace) -> Catalog {
    let address: CatalogAddress = place.address().parse().unwrap();
    Catalog::open(address).await.unwrap()
}

/// A connection to a catalogue on which `EXPLAIN` shows how a query is run. On PostgreSQL
/// sequential scans are switched off for it: a test's small table would otherwise be read whole,
/// index or not, and the plan would say nothing of whether the index serves the query.
struct Explainer {
    conn: PoolConnection<Any>,
    dialect: Dialect,
}

impl Explainer {
    async fn new(catalog: &Catalog) -> Self {
        let mut conn = catalog.pool().acquire().await.unwrap();
        if catalog.dialect == Dialect::Postgres {
            conn.execute("SET enable_seqscan = off").await.unwrap();
        }
        Self {
            conn,
            dialect: catalog.dialect,
        }
    }

    /// `sql` with the words that explain it before.
    fn of(&self, sql: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
            Dialect::Postgres => format!("EXPLAIN {sql}"),
        }
    }

    /// The steps of the plan of `query` (a statement made by [`Explainer::of`], bound).
    async fn plan<'q>(&mut self, query: Query<'q, Any, AnyArguments<'q>>) -> Vec<String> {
        let step = match self.dialect {
            Dialect::Sqlite => "detail",
            Dialect::Postgres => "QUERY PLAN",
        };
        let rows = query.fetch_all(&mut *self.conn).await.unwrap();
        rows.iter().map(|row| row.get::<String, _>(step)).collect()
    }
}

fn job() -> NewJob {
    NewJob {
        user: "alice".into(),
        name: Some("nightly".into()),
        command: "cp".into(),
        source: "s3://a/".into(),
        dest: "az://b/c/".into(),
        spec: serde_json::json!({"block_size": 8}),
        schedule_run: None,
    }
}

each_catalogue!(jobs_record_outcomes_and_failures);
async fn jobs_record_outcomes_and_failures(place: CatalogPlace) {
    let catalog = open(&place).await;
    let record = catalog.create_job(job()).await.unwrap();
    assert_eq!(record.status, Status::Running);
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
        .finish_job(&record.id, Status::CompletedWithFailures, 0, None)
        .await
        .unwrap();

    let failures = catalog
        .failures(&record.id, &Default::default())
        .await
        .unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!((failures[0].key.as_str(), failures[0].attempts), ("bad", 2));
    let found = catalog.find(&record.id[..8]).await.unwrap();
    assert_eq!(
        (found.status.as_str(), found.objects_copied),
        ("completed-with-failures", 1200)
    );
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_objects WHERE state = 'copied'")
        .fetch_one(catalog.pool())
        .await
        .unwrap();
    assert_eq!(count, 1200);
    // Found through the failures' key, each object's state through its own key: no scan of
    // the job's objects, no sort.
    let mut explainer = Explainer::new(&catalog).await;
    let sql = explainer.of(FAILED_OBJECTS);
    let query = sqlx::query(&sql).bind(&record.id).bind("k").bind(100_i64);
    let plan = explainer.plan(query).await;
    let (failures_key, objects_key, unwanted) = match catalog.dialect {
        Dialect::Sqlite => (
            "SEARCH f USING PRIMARY KEY (job_number=? AND key>?)",
            "SEARCH o USING PRIMARY KEY (job_number=? AND key=?)",
            ["SCAN", "TEMP B-TREE"],
        ),
        Dialect::Postgres => (
            "Index Cond: ((job_number = $0) AND (key > 'k'::text))",
            "Index Cond: ((job_number = f.job_number) AND (key = f.key))",
            ["Seq Scan", "Sort"],
        ),
    };
    for wanted in [failures_key, objects_key] {
        assert!(
            plan.iter().any(|s| s.contains(wanted)),
            "{wanted}: {plan:?}"
        );
    }
    for unwanted in unwanted {
        assert!(
            !plan.iter().any(|s| s.contains(unwanted)),
            "{unwanted}: {plan:?}"
        );
    }

    // The entries of objects done go one probe of their key each, whatever the job holds
    // (after (job, key), PostgreSQL had walked all the job's entries, dead ones too).
    let sql = explainer.of(&delete_entries(catalog.dialect, 3));
    let mut delete = sqlx::query(&sql);
    for key in ["a", "b", "c"] {
        delete = delete.bind(key);
    }
    let plan = explainer.plan(delete.bind(1_i64)).await;
    let by_key = match catalog.dialect {
        Dialect::Sqlite => "SEARCH job_listing_entries USING PRIMARY KEY (key=? AND job_number=?)",
        Dialect::Postgres => "Index Cond: ((key = ANY (",
    };
    assert!(plan.iter().any(|s| s.contains(by_key)), "{plan:?}");

    // What a resume reads, through the primary key's index too.
    let sql = explainer.of(OBJECTS_MET);
    let plan = explainer.plan(sqlx::query(&sql).bind(&record.id)).await;
    let through_the_key = match catalog.dialect {
        Dialect::Sqlite => "SEARCH o USING PRIMARY KEY (job_number=?)",
        Dialect::Postgres => "Index Scan on job_objects_pkey",
    };
    // PostgreSQL reads the key's index in one pass (a bitmap scan) or walks it.
    let walked = through_the_key.replace(" on ", " using ");
    assert!(
        plan.iter()
            .any(|s| s.contains(through_the_key) || s.contains(&walked)),
        "{plan:?}"
    );

    let mine = ListFilter {
        user: Some("alice".into()),
        status: None,
        ..ListFilter::default()
    };
    assert_eq!(catalog.list(&mine).await.unwrap().len(), 1);
    let others = ListFilter {
        user: Some("bob".into()),
        status: None,
        ..ListFilter::default()
    };
    assert!(catalog.list(&others).await.unwrap().is_empty());
    let running = ListFilter {
        user: None,
        status: Some(Status::Running),
        ..ListFilter::default()
    };
    assert!(catalog.list(&running).await.unwrap().is_empty());
}

each_catalogue!(
    a_listing_outrunning_the_catalogue_waits_for_it,
    flavor = "multi_thread",
    worker_threads = 2
);
/// Objects and bytes listed, objects and bytes copied, objects skipped or kept, failed.
/// A listing far faster than the catalogue (pages handed over with no copy behind them)
/// waits for the writer: no more than the backlog and one page ever wait to be written,
/// and every listed object is on record in the end.
async fn a_listing_outrunning_the_catalogue_waits_for_it(place: CatalogPlace) {
    let catalog = open(&place).await;
    let record = catalog.create_job(job()).await.unwrap();
    let recorder = Recorder::new(catalog.clone(), record.id.clone());
    recorder.range_opened(&ListRange::whole(0));
    let (pages, page) = (60, 1000);
    for p in 0..pages {
        let objects: Vec<ObjectMeta> = (0..page)
            .map(|i| ObjectMeta::new(format!("k/{p:03}/{i:04}"), 4))
            .collect();
        recorder.room().await;
        recorder.page_listed(0, &objects);
    }
    recorder.finish().await.unwrap();
    assert!(
        recorder.peak_backlog() <= BACKLOG + page,
        "{} objects waited to be written",
        recorder.peak_backlog()
    );
    let found = catalog.find(&record.id).await.unwrap();
    assert_eq!(found.objects_listed, (pages * page) as i64);
}

fn counters(r: &JobRecord) -> [i64; 6] {
    [
        r.objects_listed,
        r.bytes_listed,
        r.objects_copied,
        r.bytes_copied,
        r.objects_skipped,
        r.objects_failed,
    ]
}

fn report(recorder: &Recorder, action: Action, key: &str, size: u64) {
    recorder.record(&ObjectEvent {
        size: Some(size),
        ..ObjectEvent::now(action, key)
    });
}

each_catalogue!(counters_follow_every_write_without_a_recount);
async fn counters_follow_every_write_without_a_recount(place: CatalogPlace) {
    let catalog = open(&place).await;
    let job = catalog.create_job(job()).await.unwrap();
    // A page of five, more than one statement's worth of outcomes, then their outcomes.
    let recorder = Recorder::new(catalog.clone(), job.id.clone());
    let page: Vec<_> = ["a", "b", "c", "d", "e"]
        .iter()
        .zip([10, 20, 30, 40, 50])
        .map(|(key, size)| ObjectMeta::new(*key, size))
        .collect();
    recorder.range_opened(&ListRange::whole(0));
    recorder.page_listed(0, &page);
    report(&recorder, Action::Copied, "a", 10);
    report(&recorder, Action::Skipped, "b", 20);
    report(&recorder, Action::Kept, "c", 30);
    report(&recorder, Action::Failed, "d", 40);
    for i in 0..ROWS_PER_STATEMENT + 1 {
        report(&recorder, Action::Copied, &format!("x{i}"), 1);
    }
    recorder.finish().await.unwrap();
    let extra = ROWS_PER_STATEMENT as i64 + 1;
    let found = catalog.find(&job.id).await.unwrap();
    assert_eq!(
        counters(&found),
        [5 + extra, 150 + extra, 1 + extra, 10 + extra, 2, 1],
        "listed, bytes listed, copied, bytes copied, skipped + kept, failed"
    );

    // Listing entries are kept only for what a run may still copy: "d" (failed), "e".
    let entries = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM job_listing_entries
             WHERE job_number = (SELECT number FROM jobs WHERE id = $1)",
        )
        .bind(&job.id)
        .fetch_one(catalog.pool())
        .await
        .unwrap()
    };
    assert_eq!(entries().await, 2);

    // The failed one queued again and copied by a second run; "e" still waits.
    assert_eq!(catalog.requeue_failed(&job.id).await.unwrap(), 1);
    assert_eq!(counters(&catalog.find(&job.id).await.unwrap())[5], 0);
    let recorder = Recorder::new(catalog.clone(), job.id.clone());
    report(&recorder, Action::Copied, "d", 40);
    recorder.finish().await.unwrap();
    let found = catalog.find(&job.id).await.unwrap();
    assert_eq!(
        counters(&found),
        [5 + extra, 150 + extra, 2 + extra, 50 + extra, 2, 0]
    );
    assert_eq!(
        entries().await,
        1,
        "once copied, \"d\" needs its entry no more"
    );
    let resume = catalog
        .resume_point(&job.id, true, &Default::default())
        .await
        .unwrap();
    let pending = resume.pending.keys_left().await.unwrap();
    assert_eq!(
        pending,
        ["e"],
        "only the listed, unfinished object is pending"
    );
    assert_eq!(
        resume.ranges[0].after.as_deref(),
        Some("e"),
        "listed up to the page's end"
    );
}

#[tokio::test]
async fn an_older_catalogue_gets_its_counters_when_upgraded() {
    // A catalogue at the schema before live counters (migrations 0001-0002), holding a job
    // whose counters were never recounted (its process died).
    let dir = tempfile::tempdir().unwrap();
    let older = dir.path().join("migrations");
    std::fs::create_dir(&older).unwrap();
    for name in ["0001_jobs.sql", "0002_resume.sql"] {
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations/sqlite")
            .join(name);
        std::fs::copy(from, older.join(name)).unwrap();
    }
    let path = dir.path().join("awcopy.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(older.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO jobs (id, user_name, command, source, dest, spec, status, created_at)
         VALUES ('j1', 'alice', 'cp', 's3://a/', 'az://b/c/', '{}', 'running', '2026-01-01T00:00:00Z')",
    )
    .execute(&pool)
    .await
    .unwrap();
    for (key, size, state) in [("a", 5, "copied"), ("b", 7, "failed"), ("c", 9, "listed")] {
        sqlx::query(
            "INSERT INTO job_objects (job_id, key, size, state, updated_at)
             VALUES ('j1', ?, ?, ?, '2026-01-01T00:00:00Z')",
        )
        .bind(key)
        .bind(size)
        .bind(state)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    let catalog = Catalog::open(&path).await.unwrap();
    let found = catalog.find("j1").await.unwrap();
    assert_eq!(counters(&found), [3, 21, 1, 5, 0, 1]);
    // Its failure came across to the table of failures (migration 0013).
    let failures = catalog.failures("j1", &Default::default()).await.unwrap();
    let failed: Vec<_> = failures.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(failed, ["b"]);
}

each_catalogue!(ids_by_unique_prefix_only);
async fn ids_by_unique_prefix_only(place: CatalogPlace) {
    let catalog = open(&place).await;
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
    // A whole id, or a long enough prefix in either case, finds its job, through the key.
    let one = catalog
        .list(&ListFilter::default())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(catalog.find(&one.id).await.unwrap().id, one.id);
    let upper = one.id[..13].to_ascii_uppercase();
    assert_eq!(catalog.find(&upper).await.unwrap().id, one.id);
    let mut explainer = Explainer::new(&catalog).await;
    let sql = explainer.of(crate::sql::catalog::FIND_JOB);
    let query = sqlx::query(&sql).bind("a").bind("b").bind(None::<String>);
    let plan = explainer.plan(query).await;
    let through_the_key = match catalog.dialect {
        Dialect::Sqlite => "SEARCH jobs USING",
        Dialect::Postgres => "Index Scan using jobs_pkey",
    };
    assert!(plan.iter().any(|s| s.contains(through_the_key)), "{plan:?}");
}

#[tokio::test]
async fn a_damaged_file_is_refused_untouched() {
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
}

each_catalogue!(newer_catalogues_and_damaged_rows_are_refused);
async fn newer_catalogues_and_damaged_rows_are_refused(place: CatalogPlace) {
    let catalog = open(&place).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9999, 'future', TRUE, $1, 0)",
    )
    .bind(vec![0_u8])
    .execute(catalog.pool())
    .await
    .unwrap();
    let address: CatalogAddress = place.address().parse().unwrap();
    let err = Catalog::open(address).await.unwrap_err();
    assert!(matches!(err, CatalogError::NewerSchema(_)), "{err}");
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 9999")
        .execute(catalog.pool())
        .await
        .unwrap();

    // A status no awcopy writes is a damaged row, not a failed job.
    let catalog = open(&place).await;
    let record = catalog.create_job(job()).await.unwrap();
    sqlx::query("UPDATE jobs SET status = 'exploded' WHERE id = $1")
        .bind(&record.id)
        .execute(catalog.pool())
        .await
        .unwrap();
    let err = catalog.find(&record.id).await.unwrap_err();
    assert!(matches!(err, CatalogError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string().contains("'exploded' is not a status"),
        "{err}"
    );
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

each_catalogue!(every_run_is_recorded_and_the_first_start_stays);
/// Each run of a job is recorded with what started it; the job keeps its first start and gets
/// an end whenever a run ends; a run copied what the job's counters grew by while it ran; a
/// failure keeps its class.
async fn every_run_is_recorded_and_the_first_start_stays(place: CatalogPlace) {
    use crate::{run_seconds, ErrorClass, Timestamp, Trigger};
    use awcopy_store::{ErrorKind, StoreError};
    let catalog = open(&place).await;
    let record = catalog.create_job(job()).await.unwrap();
    let copied = |objects: i64| {
        sqlx::query("UPDATE jobs SET objects_copied = $1, bytes_copied = $2 WHERE id = $3")
            .bind(objects)
            .bind(objects * 10)
            .bind(&record.id)
            .execute(catalog.pool())
    };
    copied(3).await.unwrap();
    catalog
        .finish_job(&record.id, Status::Paused, 0, None)
        .await
        .unwrap();
    let paused = catalog.find(&record.id).await.unwrap();
    assert!(paused.finished_at.is_some(), "a paused job's run ended");
    catalog.claim(&paused, Trigger::Resume).await.unwrap();
    copied(5).await.unwrap();
    let missing = StoreError::new(ErrorKind::NotFound, "bucket 'a' does not exist");
    catalog
        .finish_job(&record.id, Status::Failed, 0, Some(&missing))
        .await
        .unwrap();

    let failed = catalog.find(&record.id).await.unwrap();
    assert_eq!(
        failed.started_at, record.started_at,
        "the first start stays"
    );
    assert!(failed.finished_at >= paused.finished_at);
    assert_eq!(failed.error_kind, Some(ErrorClass(ErrorKind::NotFound)));
    let runs = catalog.runs(&record.id).await.unwrap();
    let shape: Vec<_> = runs
        .iter()
        .map(|r| {
            (
                r.number,
                r.trigger,
                r.status,
                r.objects_copied,
                r.bytes_copied,
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (1, Trigger::Submit, Some(Status::Paused), 3, 30),
            (2, Trigger::Resume, Some(Status::Failed), 2, 20),
        ]
    );
    assert_eq!(runs[0].started_at, record.started_at.unwrap());
    assert!(runs[1].error.as_deref().unwrap().contains("does not exist"));
    let total = run_seconds(&runs, Timestamp::now());
    let (first, last) = (runs[0].started_at, runs[1].finished_at.unwrap());
    assert!(total <= (last.time() - first.time()).as_seconds_f64() + 1e-3);
}

each_catalogue!(
    catalogues_opened_at_once_are_migrated_once,
    flavor = "multi_thread",
    worker_threads = 2
);
/// Processes that open a new catalogue at once take turns bringing its schema up to date:
/// none fails on a migration another one applied.
async fn catalogues_opened_at_once_are_migrated_once(first: CatalogPlace) {
    let postgres = first.is_postgres();
    let mut place = Some(first);
    for round in 0..5 {
        let place = match place.take() {
            Some(first) => first,
            None if postgres => CatalogPlace::postgres().await,
            None => CatalogPlace::sqlite(),
        };
        let address: CatalogAddress = place.address().parse().unwrap();
        let opened =
            futures::future::join_all((0..6).map(|_| Catalog::open(address.clone()))).await;
        for catalog in opened {
            let catalog = catalog.unwrap_or_else(|e| panic!("round {round}: {e}"));
            catalog.create_job(job()).await.unwrap();
        }
    }
}

each_catalogue!(stored_counters_leave_out_what_the_filters_left_out);
/// A job's counters count as a running copy does: the objects listed are those the filters
/// and policies took; the listing is over once the job no longer runs.
async fn stored_counters_leave_out_what_the_filters_left_out(place: CatalogPlace) {
    let catalog = open(&place).await;
    let record = catalog.create_job(job()).await.unwrap();
    sqlx::query("UPDATE jobs SET objects_listed = 10, objects_skipped = 4 WHERE id = $1")
        .bind(&record.id)
        .execute(catalog.pool())
        .await
        .unwrap();
    let running = catalog.find(&record.id).await.unwrap().counters();
    assert_eq!((running.objects_listed, running.listing_done), (6, false));
    catalog
        .finish_job(&record.id, Status::Completed, 0, None)
        .await
        .unwrap();
    let ended = catalog.find(&record.id).await.unwrap().counters();
    assert_eq!((ended.objects_listed, ended.listing_done), (6, true));
}

each_catalogue!(staged_blocks_count_in_the_bytes_done);
/// Blocks staged for an object not yet copied count in the job's bytes done, and move into
/// its copied bytes when the object is: a paused job keeps what it staged.
async fn staged_blocks_count_in_the_bytes_done(place: CatalogPlace) {
    let catalog = open(&place).await;
    let record = catalog.create_job(job()).await.unwrap();
    let sql = |text: &'static str| sqlx::query(text).bind(&record.id).execute(catalog.pool());
    sql(
        "INSERT INTO job_parts (job_id, key, number, handle, size) VALUES ($1, 'big', 1, 'h1', 100)",
    )
    .await
    .unwrap();
    sql(
        "INSERT INTO job_parts (job_id, key, number, handle, size) VALUES ($1, 'big', 2, 'h2', 50)
         ON CONFLICT (job_id, key, number) DO UPDATE SET size = excluded.size",
    )
    .await
    .unwrap();
    sql(
        "INSERT INTO job_parts (job_id, key, number, handle, size) VALUES ($1, 'big', 2, 'h2', 60)
         ON CONFLICT (job_id, key, number) DO UPDATE SET size = excluded.size",
    )
    .await
    .unwrap();
    let bytes_done = || async {
        catalog
            .find(&record.id)
            .await
            .unwrap()
            .counters()
            .bytes_done
    };
    assert_eq!(bytes_done().await, 160);
    sql("INSERT INTO job_objects (job_number, key, size, state)
         VALUES ((SELECT number FROM jobs WHERE id = $1), 'big', 160, 'copied')")
    .await
    .unwrap();
    sql("DELETE FROM job_parts WHERE job_id = $1 AND key = 'big'")
        .await
        .unwrap();
    assert_eq!(
        bytes_done().await,
        160,
        "the staged bytes became copied ones"
    );
}

each_catalogue!(a_runner_hears_at_its_next_poll_that_its_job_was_taken_over);
/// A runner whose job another process took over (its lease expired while the catalogue could
/// not be reached) is told so at its next look for requests, not only at its next renewal.
async fn a_runner_hears_at_its_next_poll_that_its_job_was_taken_over(place: CatalogPlace) {
    let catalog = open(&place).await;
    let record = catalog.create_job(job()).await.unwrap();
    assert_eq!(catalog.requested(&record.id).await.unwrap(), None);
    catalog
        .request(&record.id, crate::Request::Pause)
        .await
        .unwrap();
    assert_eq!(
        catalog.requested(&record.id).await.unwrap(),
        Some(crate::Request::Pause)
    );
    sqlx::query("UPDATE jobs SET lease_holder = 'another-replica' WHERE id = $1")
        .bind(&record.id)
        .execute(catalog.pool())
        .await
        .unwrap();
    let taken = catalog.requested(&record.id).await.unwrap_err();
    assert!(matches!(taken, CatalogError::Changed(_)), "{taken}");
}

each_catalogue!(cleaning_a_job_deletes_every_row_of_its_objects_and_no_other);
/// `jobs clean` deletes a finished job's outcomes, listing entries and failures (tables with no
/// foreign key to cascade from, migration 0013), and leaves another job's alone.
async fn cleaning_a_job_deletes_every_row_of_its_objects_and_no_other(place: CatalogPlace) {
    let catalog = open(&place).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let record = catalog.create_job(job()).await.unwrap();
        let recorder = Recorder::new(catalog.clone(), record.id.clone());
        let listed: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|k| ObjectMeta::new(k.to_string(), 3))
            .collect();
        recorder.page_listed(0, &listed);
        report(&recorder, Action::Copied, "a", 3);
        recorder.record(&ObjectEvent {
            error: Some("auth: denied".into()),
            ..ObjectEvent::now(Action::Failed, "b")
        });
        recorder.finish().await.unwrap();
        catalog
            .finish_job(&record.id, Status::CompletedWithFailures, 0, None)
            .await
            .unwrap();
        ids.push(record.id);
    }
    let rows = |id: String| {
        let catalog = catalog.clone();
        async move {
            let mut counts = Vec::new();
            for table in ["job_objects", "job_listing_entries", "job_failures"] {
                let sql = format!(
                    "SELECT COUNT(*) FROM {table}
                     WHERE job_number = (SELECT number FROM jobs WHERE id = $1)"
                );
                let count: i64 = sqlx::query_scalar(&sql)
                    .bind(&id)
                    .fetch_one(catalog.pool())
                    .await
                    .unwrap();
                counts.push(count);
            }
            counts
        }
    };
    assert_eq!(rows(ids[0].clone()).await, [2, 2, 1], "a, b; b, c; b");
    let total = || async {
        let count: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM job_objects) + (SELECT COUNT(*) FROM job_listing_entries)
                  + (SELECT COUNT(*) FROM job_failures)",
        )
        .fetch_one(catalog.pool())
        .await
        .unwrap();
        count
    };
    assert_eq!(total().await, 10);
    // Only the first job ended before the cutoff.
    sqlx::query("UPDATE jobs SET finished_at = '2000-01-01T00:00:00.000Z' WHERE id = $1")
        .bind(&ids[0])
        .execute(catalog.pool())
        .await
        .unwrap();
    let cutoff: crate::Timestamp = "2001-01-01T00:00:00Z".parse().unwrap();
    let cleaned = catalog.clean(None, cutoff).await.unwrap();
    assert_eq!(cleaned, [ids[0].clone()]);
    assert_eq!(total().await, 5, "the other job's rows stay");
    assert_eq!(rows(ids[1].clone()).await, [2, 2, 1]);
}

each_catalogue!(failures_come_a_page_at_a_time_in_key_order);
/// Failures page from where the last page ended, in key order whatever the keys hold; one
/// copied since (a retry) is no failure any more.
async fn failures_come_a_page_at_a_time_in_key_order(place: CatalogPlace) {
    let catalog = open(&place).await;
    let record = catalog.create_job(job()).await.unwrap();
    let keys = awcopy_testkit::order_sensitive_keys(12);
    let recorder = Recorder::new(catalog.clone(), record.id.clone());
    for key in &keys {
        recorder.record(&ObjectEvent {
            error: Some("auth: denied".into()),
            ..ObjectEvent::now(Action::Failed, key)
        });
    }
    report(&recorder, Action::Copied, &keys[3], 1);
    recorder.finish().await.unwrap();
    let mut expected: Vec<String> = keys.clone();
    expected.remove(3);
    expected.sort();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = crate::FailurePage {
            after: after.clone(),
            limit: Some(5),
        };
        let failures = catalog.failures(&record.id, &page).await.unwrap();
        if failures.is_empty() {
            break;
        }
        assert!(failures.len() <= 5);
        after = failures.last().map(|f| f.key.clone());
        seen.extend(failures.into_iter().map(|f| f.key));
    }
    assert_eq!(seen, expected);
}
