//! A SQLite catalogue moved into PostgreSQL (`awcopy db migrate`): every job, its runs,
//! counters, failures, listing ranges, pending objects and uploads, and every schedule, the
//! same afterwards; a destination that holds jobs already is refused and left as it was.

use awcopy_engine::events::{Action, EventSink, ObjectEvent};
use awcopy_engine::journal::{Journal, ListRange, UploadRecord};
use awcopy_jobs::{
    Catalog, CatalogAddress, CatalogError, JobCatalog, JobRecorder, ListFilter, NewJob,
    NewReplication, NewSchedule, Recorder, ReplicationCatalog, ReplicationRound, RunEnd,
    ScheduleCatalog, ScheduleRun, Status, Timestamp, Trigger, WrittenObject,
};
use awcopy_store::{ErrorKind, ObjectMeta, PartReceipt, StoreError, UploadId};
use awcopy_testkit::{self as kit, catalogue::CatalogPlace};

fn job(name: &str, schedule_run: Option<ScheduleRun>) -> NewJob {
    NewJob {
        user: "alice".into(),
        name: Some(name.into()),
        command: "cp".into(),
        source: "s3://a/".into(),
        dest: "az://acct/b/".into(),
        spec: serde_json::json!({"version": 1, "name": name}),
        schedule_run,
    }
}

fn report(recorder: &Recorder, action: Action, key: &str, error: Option<&str>) {
    recorder.record(&ObjectEvent {
        size: Some(key.len() as u64 + 1),
        dest_key: Some(key),
        error: error.map(str::to_owned),
        ..ObjectEvent::now(action, key)
    });
}

/// A catalogue holding a bit of everything: jobs finished, failed and paused mid-listing
/// with an upload under way, keys of every kind (U+0000 in a range bound among them), a
/// schedule and its run.
async fn fill(catalog: &Catalog) {
    let keys = kit::order_sensitive_keys(30);
    fill_replication(catalog, &keys).await;
    let done = catalog.create_job(job("done", None)).await.unwrap();
    let recorder = Recorder::new(catalog.clone(), done.id.clone());
    recorder.range_opened(&ListRange::whole(0));
    let page: Vec<ObjectMeta> = keys
        .iter()
        .map(|k| ObjectMeta::new(k.clone(), k.len() as u64 + 1))
        .collect();
    recorder.page_listed(0, &page);
    for (i, key) in keys.iter().enumerate() {
        match i % 4 {
            0 => report(&recorder, Action::Failed, key, Some("auth: denied 'x\0y'")),
            1 => report(&recorder, Action::Kept, key, None),
            _ => report(&recorder, Action::Copied, key, None),
        }
    }
    recorder.range_done(0);
    recorder.finish().await.unwrap();
    let why = StoreError::new(ErrorKind::Auth, "denied");
    catalog
        .finish_job(&done.id, Status::CompletedWithFailures, 2, Some(&why))
        .await
        .unwrap();

    let paused = catalog.create_job(job("paused", None)).await.unwrap();
    let recorder = Recorder::new(catalog.clone(), paused.id.clone());
    recorder.range_opened(&ListRange::whole(0));
    recorder.page_listed(0, &page[..10]);
    let far = ListRange {
        id: 1,
        after: Some("m\0".into()),
        before: None,
    };
    recorder.range_split(0, "m\0", &far);
    report(&recorder, Action::Copied, &keys[0], None);
    let upload = UploadRecord {
        dest_key: keys[3].clone(),
        upload: UploadId("upload-1".into()),
        part_size: 8 << 20,
        source_size: 20 << 20,
        source_etag: Some("\"etag\"".into()),
    };
    recorder.upload_started(&keys[3], &upload);
    let part = PartReceipt {
        number: 1,
        handle: "block-1".into(),
        size: Some(8 << 20),
        crc64nvme: Some(u64::MAX - 7),
    };
    recorder.part_staged(&keys[3], &part, Some("agent-1"));
    recorder.server_side_unreachable("no route from the destination");
    recorder.finish().await.unwrap();
    catalog
        .finish_job(&paused.id, Status::Paused, 0, None)
        .await
        .unwrap();

    let at = |text: &str| text.parse::<Timestamp>().unwrap();
    let schedule = catalog
        .create_schedule(NewSchedule {
            user: "alice".into(),
            name: Some("nightly".into()),
            template: serde_json::json!({"version": 1}),
            every_secs: Some(3600),
            cron: None,
            enabled: true,
            modified_since: Some(at("2026-12-01T00:00:00Z")),
            overlap_secs: 60,
            max_failures: 3,
            next_run: Some(at("2026-12-06T10:00:00Z")),
        })
        .await
        .unwrap();
    let run = ScheduleRun {
        schedule_id: schedule.id.clone(),
        started_at: at("2026-12-06T10:00:00Z"),
        due_at: schedule.next_run,
        next_run: Some(at("2026-12-06T11:00:00Z")),
    };
    let scheduled = catalog.create_job(job("run", Some(run))).await.unwrap();
    catalog
        .finish_job(&scheduled.id, Status::Failed, 0, Some(&why))
        .await
        .unwrap();
    catalog
        .schedule_run_ended(
            &schedule.id,
            at("2026-12-06T10:00:00Z"),
            &RunEnd::Failed("denied".into()),
        )
        .await
        .unwrap();
    catalog
        .claim(&catalog.find(&scheduled.id).await.unwrap(), Trigger::Resume)
        .await
        .unwrap();
    catalog
        .finish_job(&scheduled.id, Status::Failed, 0, Some(&why))
        .await
        .unwrap();
}

/// A replication that wrote and failed keys of every kind (its lease given up, as a stopped
/// service leaves it).
async fn fill_replication(catalog: &Catalog, keys: &[String]) {
    let replication = catalog
        .create_replication(NewReplication {
            user: "alice".into(),
            name: Some("raw".into()),
            spec: serde_json::json!({"source": "s3://a/", "dest": "az://acct/b/"}),
            queue: "events".into(),
            deletions: true,
            enabled: true,
            reconcile_secs: 3600,
            schedule_id: None,
        })
        .await
        .unwrap();
    assert!(catalog.claim_replication(&replication.id).await.unwrap());
    let round = ReplicationRound {
        received: 40,
        applied: 30,
        written: keys
            .iter()
            .map(|k| WrittenObject {
                key: k.clone(),
                source_etag: Some(format!("source {k}")),
                dest_etag: format!("etag {k}"),
            })
            .collect(),
        failures: vec![("nul \0 key".into(), "not JSON 'x\0y'".into())],
        queue_depth: Some(3),
        ..ReplicationRound::default()
    };
    catalog.record_round(&replication.id, &round).await.unwrap();
    catalog.release_replication(&replication.id).await.unwrap();
}

/// Everything the catalogue answers about its jobs and schedules, as JSON.
async fn everything(catalog: &Catalog) -> serde_json::Value {
    let jobs = catalog.list(&ListFilter::default()).await.unwrap();
    let mut each = Vec::new();
    for job in &jobs {
        let resume = catalog
            .resume_point(&job.id, true, &Default::default())
            .await
            .unwrap();
        let uploads: Vec<_> = resume
            .uploads
            .iter()
            .map(|(key, staged)| {
                let parts: Vec<_> = staged
                    .parts
                    .iter()
                    .map(|p| (p.number, p.handle.clone(), p.size, p.crc64nvme))
                    .collect();
                (key.clone(), format!("{:?}", staged.record), parts)
            })
            .collect();
        let ranges: Vec<_> = resume
            .ranges
            .iter()
            .map(|r| (r.id, r.after.clone(), r.before.clone()))
            .collect();
        each.push(serde_json::json!({
            "job": job,
            "counters": job.counters(),
            "runs": catalog.runs(&job.id).await.unwrap(),
            "failures": catalog.failures(&job.id, &Default::default()).await.unwrap(),
            "pending": resume.pending.keys_left().await.unwrap(),
            "ranges": ranges,
            "unreachable": resume.server_side_unreachable,
            "uploads": uploads,
            "schedule": catalog.schedule_of_job(&job.id).await.unwrap(),
        }));
    }
    let mut replications = Vec::new();
    for replication in catalog.replications(None).await.unwrap() {
        let keys = kit::order_sensitive_keys(30);
        let written = catalog
            .written_objects(&replication.id, &keys)
            .await
            .unwrap();
        let failures = catalog
            .replication_failures(&replication.id, None, 100)
            .await
            .unwrap();
        replications.push(serde_json::json!({
            "replication": format!("{replication:?}"),
            "written": format!("{:?}", written.into_iter().collect::<std::collections::BTreeMap<_, _>>()),
            "failures": format!("{failures:?}"),
        }));
    }
    serde_json::json!({
        "jobs": each,
        "schedules": catalog.schedules(None).await.unwrap(),
        "replications": replications,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_catalogue_moves_into_postgres_whole() {
    let file = CatalogPlace::sqlite();
    let from = Catalog::open(file.address().parse::<CatalogAddress>().unwrap())
        .await
        .unwrap();
    fill(&from).await;
    let before = everything(&from).await;
    assert_eq!(before["jobs"].as_array().unwrap().len(), 3);

    let database = CatalogPlace::postgres().await;
    let to = Catalog::open(database.address().parse::<CatalogAddress>().unwrap())
        .await
        .unwrap();
    let moved = from.migrate_into(&to).await.unwrap();
    let rows = |table: &str| moved.iter().find(|(t, _)| *t == table).unwrap().1;
    assert_eq!(rows("jobs"), 3, "{moved:?}");
    assert_eq!(rows("schedules"), 1, "{moved:?}");
    let keys = kit::order_sensitive_keys(30).len() as u64;
    assert_eq!(rows("replication_objects"), keys, "{moved:?}");
    assert!(rows("job_objects") > 30, "{moved:?}");
    let after = everything(&to).await;
    assert_eq!(after, before);

    // Into a catalogue that holds jobs already: refused, and nothing changes.
    let again = from.migrate_into(&to).await.unwrap_err();
    assert!(
        matches!(&again, CatalogError::Other(why) if why.contains("empty catalogue")),
        "{again}"
    );
    assert_eq!(everything(&to).await, before);

    // A job created afterwards is numbered after those that came across: what it records is
    // its own, and theirs is unchanged.
    let next = to.create_job(job("next", None)).await.unwrap();
    let recorder = Recorder::new(to.clone(), next.id.clone());
    report(&recorder, Action::Copied, "new", None);
    report(&recorder, Action::Failed, "bad", Some("auth: denied"));
    recorder.finish().await.unwrap();
    let found = to.find(&next.id).await.unwrap();
    assert_eq!((found.objects_copied, found.objects_failed), (1, 1));
    let failures = to.failures(&next.id, &Default::default()).await.unwrap();
    assert_eq!(failures.len(), 1);
    let mut now = everything(&to).await;
    now["jobs"]
        .as_array_mut()
        .unwrap()
        .retain(|each| each["job"]["id"] != next.id.as_str());
    assert_eq!(now, before);
}
