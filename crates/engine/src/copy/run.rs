//! One copy from start to end, as named steps: open (the planner, the destination's
//! listing, the objects to copy), decide each object (its name, the filter, the overwrite
//! policy), run the chosen ones on the job's queue, drain what is in flight, delete the
//! destination's extras, report.

use awcopy_store::{ErrorKind, ObjectMeta, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc::Receiver;
use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};

use super::job::Planner;
use super::{CopyOptions, CopyPlan, CopyReport, ObjectFailure};
use crate::concurrency::spawn_following;
use crate::estimate::Route;
use crate::events::{Action, ObjectEvent};
use crate::filter::Filter;
use crate::index::ObjectIndex;
use crate::journal::Stop;
use crate::progress::Progress;

/// Copies what `plan` names. Errors that stop the whole job (listing failed, the source
/// object is missing) are returned; per-object failures are in the report.
pub async fn copy(
    plan: CopyPlan,
    options: CopyOptions,
    filter: Filter,
    progress: Arc<Progress>,
) -> Result<CopyReport, StoreError> {
    let started = Instant::now();
    let mut plan = plan;
    let resume = plan.resume.take();
    let given = plan.given.take();
    let planner = Arc::new(Planner::new(plan, options, progress, resume.as_ref()));
    planner.say_earlier_fallback();
    if !planner.options.dry_run {
        // Asked beside the first listing page, not after it.
        let early = planner.clone();
        tokio::spawn(async move { early.dest_exists().await });
    }
    let existing = planner.existing_dest_objects().await?;
    if let (Some(existing), Some(resume)) = (&existing, &resume) {
        planner.forget_finished(existing, resume).await?;
    }
    let objects = match (given, &planner.plan.single_key) {
        (Some(given), _) => given,
        (None, Some(key)) => one_object(planner.plan.source.head(key).await?).await,
        (None, None) => planner.objects_to_copy(resume),
    };
    let controller = spawn_following(planner.concurrency.clone(), planner.progress.clone());
    let mut tally = Tally::default();
    let tasks = run_objects(&planner, objects, &filter, existing.as_ref(), &mut tally).await?;
    drain(&planner, tasks, &mut tally).await;
    if let Some(err) = planner.whole_job_error.get() {
        controller.abort();
        // Best effort, as below: a staging directory the failed writes left empty.
        let _ = planner.plan.dest.tidy().await;
        return Err(err.clone());
    }
    let in_memory_peak = existing.as_ref().map_or(0, |e| e.peak_in_memory() as u64);
    let deleted_extras = delete_extras(&planner, existing, &filter, &tally).await?;
    if !planner.options.dry_run {
        // Best effort: what it would remove is empty and harmless.
        let _ = planner.plan.dest.tidy().await;
    }
    controller.abort();
    let _ = controller.await;
    Ok(report(
        &planner,
        tally,
        deleted_extras,
        in_memory_peak,
        started,
    ))
}

/// The outcomes of a copy's objects, as they come in.
#[derive(Default)]
struct Tally {
    copied: u64,
    copied_bytes: u64,
    kept: u64,
    names_skipped: u64,
    failures: Vec<ObjectFailure>,
    /// Objects the stop cut short.
    cut_short: bool,
    /// Objects the stop kept from starting.
    left_early: bool,
}

impl Tally {
    /// Counts what became of one object's task.
    fn record(&mut self, result: Result<Result<u64, ObjectFailure>, JoinError>) {
        match result {
            Ok(Ok(size)) => {
                self.copied += 1;
                self.copied_bytes += size;
            }
            // Stopped objects stay unfinished in the journal: a resume copies them.
            Ok(Err(failure)) if failure.kind == ErrorKind::Interrupted => self.cut_short = true,
            Err(e) if e.is_cancelled() => self.cut_short = true,
            Ok(Err(failure)) => self.failures.push(failure),
            Err(e) => self.failures.push(ObjectFailure {
                key: String::new(),
                kind: ErrorKind::Other,
                message: format!("copy task failed: {e}"),
            }),
        }
    }

    /// Whether the stop left something undone.
    fn interrupted(&self) -> bool {
        self.left_early || self.cut_short
    }
}

/// The one object of a single-object copy, as a listing of one.
async fn one_object(meta: ObjectMeta) -> Receiver<Result<ObjectMeta, StoreError>> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(Ok(meta)).await.expect("receiver alive");
    rx
}

/// Decides each listed object and starts a task for each one to copy, until the listing
/// ends or the stop comes; returns the tasks still running.
async fn run_objects(
    planner: &Arc<Planner>,
    mut objects: Receiver<Result<ObjectMeta, StoreError>>,
    filter: &Filter,
    existing: Option<&ObjectIndex>,
    tally: &mut Tally,
) -> Result<JoinSet<Result<u64, ObjectFailure>>, StoreError> {
    // Objects in progress at once: enough to keep every slot busy with small objects.
    let slots = Arc::new(Semaphore::new(planner.concurrency.ceiling() * 2));
    let mut tasks = JoinSet::new();
    let stop = planner.options.stop.clone();
    loop {
        let item = tokio::select! {
            biased;
            () = stopped(&stop) => {
                tally.left_early = true;
                break;
            }
            () = planner.halted.cancelled() => break,
            item = objects.recv() => match item {
                Some(item) => item,
                None => {
                    planner.progress.listing_done.store(true, Ordering::Relaxed);
                    break;
                }
            },
        };
        let meta = item?;
        let Some(dest_key) = decide(planner, &meta, filter, existing, tally).await? else {
            continue;
        };
        let slot = slots.clone().acquire_owned().await.expect("semaphore open");
        if planner.check_stop().is_err() {
            tally.left_early = true;
            break;
        }
        let planner = planner.clone();
        tasks.spawn(async move {
            let _slot = slot;
            planner.copy_object(meta, dest_key).await
        });
        while let Some(done) = tasks.try_join_next() {
            tally.record(done);
        }
    }
    Ok(tasks)
}

/// Decides one listed object: its destination name under the name policy, whether the
/// filter takes it, whether an existing copy is replaced. `Some(dest_key)` to copy it;
/// `None` when it is left out (counted in `tally` and told to the event sink).
async fn decide(
    planner: &Planner,
    meta: &ObjectMeta,
    filter: &Filter,
    existing: Option<&ObjectIndex>,
    tally: &mut Tally,
) -> Result<Option<String>, StoreError> {
    // A source object, even one the filter leaves out, keeps its destination copy from
    // counting as an extra.
    let dest_key = match planner.resolve_name(&meta.key) {
        Ok(Some(dest_key)) => dest_key,
        Ok(None) => {
            tally.names_skipped += 1;
            return Ok(None);
        }
        Err(failure) => {
            tally.record(Ok(Err(failure)));
            return Ok(None);
        }
    };
    let current = match existing {
        Some(existing) => existing.take(&dest_key)?,
        None => None,
    };
    let relative = &meta.key[planner.plan.strip.min(meta.key.len())..];
    if planner.plan.single_key.is_none() && !filter.accepts(relative, meta) {
        let progress = &planner.progress;
        progress.objects_skipped.fetch_add(1, Ordering::Relaxed);
        planner.emit(ObjectEvent::now(Action::Skipped, &meta.key));
        return Ok(None);
    }
    if let Some(current) = current {
        if !planner.should_replace(meta, &current).await {
            if planner.copied_earlier(&current) {
                tally.copied += 1;
                tally.copied_bytes += meta.size;
                planner
                    .progress
                    .objects_done
                    .fetch_add(1, Ordering::Relaxed);
                planner
                    .progress
                    .bytes_done
                    .fetch_add(meta.size, Ordering::Relaxed);
                planner.emit(ObjectEvent {
                    dest_key: Some(&dest_key),
                    size: Some(meta.size),
                    ..ObjectEvent::now(Action::Copied, &meta.key)
                });
                return Ok(None);
            }
            tally.kept += 1;
            planner.emit(ObjectEvent {
                dest_key: Some(&dest_key),
                ..ObjectEvent::now(Action::Kept, &meta.key)
            });
            return Ok(None);
        }
    }
    let progress = &planner.progress;
    progress.objects_listed.fetch_add(1, Ordering::Relaxed);
    progress
        .bytes_listed
        .fetch_add(meta.size, Ordering::Relaxed);
    Ok(Some(dest_key))
}

/// Lets the work in flight finish; once a stop comes (before or during this wait), for at
/// most the drain timeout, then cuts it short.
async fn drain(
    planner: &Planner,
    mut tasks: JoinSet<Result<u64, ObjectFailure>>,
    tally: &mut Tally,
) {
    let stop = planner.options.stop.clone();
    let drained = {
        let drain = async {
            while let Some(done) = tasks.join_next().await {
                tally.record(done);
            }
        };
        tokio::pin!(drain);
        tokio::select! {
            () = &mut drain => true,
            () = stopped(&stop) => {
                tokio::time::timeout(planner.options.drain_timeout, &mut drain)
                    .await
                    .is_ok()
            }
        }
    };
    if !drained {
        tasks.abort_all();
        while let Some(done) = tasks.join_next().await {
            tally.record(done);
        }
    }
}

/// Deletes what is left of the destination's listing (no source object has it: the
/// extras) under `sync --delete`, unless the copy was stopped or an object failed; returns
/// how many it deleted.
async fn delete_extras(
    planner: &Planner,
    existing: Option<ObjectIndex>,
    filter: &Filter,
    tally: &Tally,
) -> Result<u64, StoreError> {
    let Some(extras) = existing.filter(|_| planner.options.delete_extras) else {
        return Ok(0);
    };
    if tally.interrupted() {
        return Ok(0);
    }
    if !tally.failures.is_empty() {
        planner.note_once(format!(
            "{} objects failed, so the {} destination objects without a source were not deleted",
            tally.failures.len(),
            extras.left()?
        ));
        return Ok(0);
    }
    // Like the source side, only objects the filter takes are candidates; a page of the
    // index at a time.
    let prefix_len = planner.plan.dest_prefix.len();
    let deleted = AtomicU64::new(0);
    extras
        .walk_left(|page| {
            let doomed: Vec<String> = page
                .into_iter()
                .filter(|(key, meta)| filter.accepts(&key[prefix_len.min(key.len())..], meta))
                .map(|(key, _)| key)
                .collect();
            let deleted = &deleted;
            async move {
                let count = planner.delete_extras(doomed).await?;
                deleted.fetch_add(count, Ordering::Relaxed);
                Ok(())
            }
        })
        .await?;
    Ok(deleted.into_inner())
}

/// The copy's report, from its tally and the planner's counters.
fn report(
    planner: &Planner,
    tally: Tally,
    deleted_extras: u64,
    in_memory_peak: u64,
    started: Instant,
) -> CopyReport {
    let progress = &planner.progress;
    let retry = &progress.retry;
    let interrupted = tally.interrupted();
    CopyReport {
        route: if planner.server_side.unreachable() {
            Route::Streamed
        } else {
            planner.route
        },
        objects_copied: tally.copied,
        bytes_copied: tally.copied_bytes,
        objects_skipped: progress.objects_skipped.load(Ordering::Relaxed),
        objects_kept: tally.kept,
        names_mapped: taken(&planner.mapped),
        names_skipped: tally.names_skipped,
        metadata_names_mapped: taken(&planner.metadata_mapped),
        objects_deleted: progress.objects_deleted.load(Ordering::Relaxed) + deleted_extras,
        failures: tally.failures,
        bytes_streamed: progress.bytes_streamed.load(Ordering::Relaxed),
        bytes_server_side: progress.bytes_server_side.load(Ordering::Relaxed),
        blocks_reused: progress.blocks_reused.load(Ordering::Relaxed),
        retries: retry.retries.load(Ordering::Relaxed),
        throttled: retry.throttled.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        notes: taken(&planner.notes),
        dry_run: planner.options.dry_run,
        interrupted,
        in_memory_peak,
    }
}

/// The contents of a list the planner kept, taken rather than moved out: a task cut short
/// may still hold the planner for a moment.
fn taken<T>(list: &Mutex<Vec<T>>) -> Vec<T> {
    std::mem::take(&mut *list.lock().expect("list lock"))
}

/// Resolves when `stop` is cancelled; never without one.
async fn stopped(stop: &Option<Stop>) {
    match stop {
        Some(stop) => stop.cancelled().await,
        None => std::future::pending().await,
    }
}
