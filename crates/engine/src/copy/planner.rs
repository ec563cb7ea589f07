//! Per object, before any byte moves: the destination name under the name policy, whether
//! an existing copy is replaced, which route it takes; and, for a resumed job, which objects
//! come first and which are passed over.

use awcopy_store::{ErrorKind, ObjectMeta, StoreError};
use futures::{StreamExt, TryStreamExt};
use std::sync::atomic::Ordering;

use super::{NamePolicy, ObjectFailure};
use std::sync::Arc;

use super::job::Planner;
use crate::estimate::Route;
use crate::events::{Action, ObjectEvent};
use crate::execute::verify_copy;
use crate::index::ObjectIndex;
use crate::journal::{ListRange, ResumeFrom};
use crate::lister::{list_parallel, list_ranges, ListJournal};
use crate::overwrite::{decide, Overwrite};
use crate::work::{MappedName, ObjectItem, WorkDone, WorkItem};

/// Whether an earlier run met `key`: pending or finished.
fn met_before(
    pending: &ObjectIndex,
    finished: &ObjectIndex,
    key: &str,
) -> Result<bool, StoreError> {
    Ok(pending.contains(key)? || finished.contains(key)?)
}

/// The error that ends a walk whose receiver went away.
fn stopped() -> StoreError {
    StoreError::new(ErrorKind::Interrupted, "the copy stopped taking objects")
}

impl Planner {
    /// The destination key `source_key` is stored under, mapped if the destination needs it.
    pub(super) fn dest_name(&self, source_key: &str) -> String {
        self.plan.dest_name(source_key)
    }

    /// The source objects to copy: for a resumed job, those listed before and not finished,
    /// then the ranges it had not listed to their end (passing over keys it met already);
    /// else everything under the prefix. Listing progress goes to the journal.
    pub(super) fn objects_to_copy(
        &self,
        resume: Option<ResumeFrom>,
    ) -> tokio::sync::mpsc::Receiver<Result<ObjectMeta, StoreError>> {
        let journal = self.options.journal.clone();
        let resume = resume.unwrap_or_else(|| {
            let whole = ListRange::whole(0);
            if let Some(journal) = &journal {
                journal.range_opened(&whole);
            }
            ResumeFrom {
                ranges: vec![whole],
                next_range_id: 1,
                ..ResumeFrom::default()
            }
        });
        let mut listed = list_ranges(
            self.plan.source.clone(),
            &self.plan.list_prefix,
            self.options.lister.clone(),
            self.progress.retry.clone(),
            resume.ranges,
            journal.map(|journal| ListJournal {
                journal,
                next_id: resume.next_range_id,
            }),
        );
        let (pending, finished) = (resume.pending, resume.finished);
        if pending.is_empty() && finished.is_empty() {
            // A new job: nothing to put first or to pass over.
            return listed;
        }
        let (tx, rx) = tokio::sync::mpsc::channel(self.options.lister.channel_capacity.max(1));
        tokio::spawn(async move {
            let sent = pending
                .walk_left(|page| {
                    let tx = tx.clone();
                    async move {
                        for (_, meta) in page {
                            // The copy stopped taking objects: stop walking.
                            tx.send(Ok(meta)).await.map_err(|_| stopped())?;
                        }
                        Ok(())
                    }
                })
                .await;
            if let Err(e) = sent {
                let _ = tx.send(Err(e)).await;
                return;
            }
            while let Some(item) = listed.recv().await {
                let item = match item {
                    Ok(meta) => match met_before(&pending, &finished, &meta.key) {
                        Ok(true) => continue,
                        Ok(false) => Ok(meta),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                };
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        });
        rx
    }

    /// Takes out of `existing` (the destination's objects) the copies of the objects earlier
    /// runs finished: not listed again, they are no extras.
    pub(super) async fn forget_finished(
        &self,
        existing: &ObjectIndex,
        resume: &ResumeFrom,
    ) -> Result<(), StoreError> {
        resume
            .finished
            .walk_left(|page| {
                let taken = page
                    .iter()
                    .try_for_each(|(key, _)| existing.take(&self.dest_name(key)).map(drop));
                std::future::ready(taken)
            })
            .await
    }

    /// Whether `current`, a destination object kept as the same as its source, was written
    /// by an earlier run of this job (since it began; see
    /// [`CopyOptions::copied_since`](crate::copy::CopyOptions::copied_since)).
    pub(super) fn copied_earlier(&self, current: &ObjectMeta) -> bool {
        match (self.options.copied_since, current.last_modified) {
            (Some(since), Some(written)) => written >= since,
            _ => false,
        }
    }

    /// The destination key of `source_key` under the name policy: `Ok(None)` to skip it.
    pub(super) fn resolve_name(&self, source_key: &str) -> Result<Option<String>, ObjectFailure> {
        let wanted = self.plan.dest_key(source_key);
        let Some(mapped) = self.plan.dest.mapped_name(&wanted) else {
            return Ok(Some(wanted));
        };
        let why = format!(
            "{} cannot hold the name '{wanted}' as written",
            self.plan.dest.display_root()
        );
        match self.options.name_policy {
            NamePolicy::Map => {
                let pair = MappedName {
                    source: source_key.to_owned(),
                    dest: mapped.clone(),
                };
                self.mapped.lock().expect("mapping lock").push(pair);
                Ok(Some(mapped))
            }
            NamePolicy::Skip => {
                self.emit(ObjectEvent {
                    error: Some(why),
                    ..ObjectEvent::now(Action::Skipped, source_key)
                });
                Ok(None)
            }
            NamePolicy::Fail => {
                let message = format!("{why}; the name policy map would store it as '{mapped}'");
                self.emit(ObjectEvent {
                    error: Some(format!("usage: {message}")),
                    ..ObjectEvent::now(Action::Failed, source_key)
                });
                self.progress.objects_failed.fetch_add(1, Ordering::Relaxed);
                Err(ObjectFailure {
                    key: source_key.to_owned(),
                    kind: ErrorKind::Usage,
                    message,
                })
            }
        }
    }

    /// The destination's objects under the destination prefix, by key, when the overwrite
    /// policy or `--delete` needs them: in memory up to the index's budget, then in a
    /// temporary file.
    pub(super) async fn existing_dest_objects(&self) -> Result<Option<ObjectIndex>, StoreError> {
        if self.options.overwrite == Overwrite::Always && !self.options.delete_extras {
            return Ok(None);
        }
        let mut rx = list_parallel(
            self.plan.dest.clone(),
            &self.plan.dest_prefix,
            self.options.lister.clone(),
            self.progress.retry.clone(),
        );
        let index = ObjectIndex::new(self.options.index.clone());
        match index.insert_listing(&mut rx, 0, None).await {
            // A destination that does not exist yet holds nothing.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            other => other?,
        }
        Ok(Some(index))
    }

    /// Whether to copy `source` over `existing`, asking the user under `prompt`.
    pub(super) async fn should_replace(&self, source: &ObjectMeta, existing: &ObjectMeta) -> bool {
        if let Some(decision) = decide(self.options.overwrite, source, existing) {
            return decision;
        }
        let Some(confirm) = self.options.confirm.clone() else {
            return false;
        };
        let key = existing.key.clone();
        tokio::task::spawn_blocking(move || confirm.overwrite(&key))
            .await
            .unwrap_or(false)
    }

    /// Deletes destination objects the source does not have; returns how many.
    pub(super) async fn delete_extras(&self, mut keys: Vec<String>) -> Result<u64, StoreError> {
        keys.sort();
        if self.options.dry_run {
            for key in &keys {
                self.note_once(format!("would delete {key}"));
            }
            return Ok(0);
        }
        let dest = &self.plan.dest;
        // Owned keys: a stream of borrowed ones makes this future not provably `Send`.
        futures::stream::iter(keys.clone())
            .map(|key| async move {
                self.requests.retry(|| dest.delete(&key)).await?;
                self.emit(ObjectEvent::now(Action::Deleted, &key));
                Ok::<(), StoreError>(())
            })
            .buffer_unordered(self.concurrency.ceiling())
            .try_collect::<Vec<()>>()
            .await?;
        Ok(keys.len() as u64)
    }

    /// Copies one object; `Ok` carries its size.
    pub(super) async fn copy_object(
        self: &Arc<Self>,
        meta: ObjectMeta,
        dest_key: String,
    ) -> Result<u64, ObjectFailure> {
        let result = if self.options.dry_run {
            Ok(())
        } else if let Err(stopping) = self.check_stop() {
            Err(stopping)
        } else {
            match self
                .dest_ready
                .get_or_try_init(|| self.create_dest_root_if_missing())
                .await
            {
                Ok(()) => self
                    .route_object(&meta, &dest_key)
                    .await
                    .inspect_err(|e| _ = self.whole_job_failed(e, false)),
                Err(e) => {
                    self.whole_job_failed(&e, true);
                    Err(e)
                }
            }
        };
        let result = match result {
            Ok(()) if self.options.delete_source && !self.options.dry_run => {
                let source = &self.plan.source;
                self.requests
                    .retry(|| source.delete(&meta.key))
                    .await
                    .map(|()| {
                        self.progress
                            .objects_deleted
                            .fetch_add(1, Ordering::Relaxed);
                        self.emit(ObjectEvent::now(Action::Deleted, &meta.key));
                    })
                    .map_err(|e| e.context("copied and verified, but not deleted from the source"))
            }
            other => other,
        };
        if let (Err(err), Err(_)) = (&result, self.check_stop()) {
            // Cut short by the stop: unfinished, not failed; a resume copies it.
            return Err(ObjectFailure {
                key: meta.key,
                kind: ErrorKind::Interrupted,
                message: err.to_string(),
            });
        }
        let action = match (&result, self.options.dry_run) {
            (Err(_), _) => Action::Failed,
            (Ok(()), true) => Action::Planned,
            (Ok(()), false) => Action::Copied,
        };
        self.emit(ObjectEvent {
            dest_key: Some(&dest_key),
            size: Some(meta.size),
            error: result
                .as_ref()
                .err()
                .map(|e| format!("{}: {e}", e.kind().as_str())),
            ..ObjectEvent::now(action, &meta.key)
        });
        match result {
            Ok(()) => {
                self.progress.objects_done.fetch_add(1, Ordering::Relaxed);
                Ok(meta.size)
            }
            Err(err) => {
                self.progress.objects_failed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(key = %meta.key, error = %err, "copy failed");
                Err(ObjectFailure {
                    key: meta.key,
                    kind: err.kind(),
                    message: err.to_string(),
                })
            }
        }
    }

    /// Copies one object along the route planned for it — the one place routes are
    /// chosen: server-side where the services allow it (until the job finds the destination
    /// cannot read the source), streamed otherwise, and streamed again when a server-side
    /// attempt finds it cannot be done.
    pub(super) async fn route_object(
        self: &Arc<Self>,
        meta: &ObjectMeta,
        dest_key: &str,
    ) -> Result<(), StoreError> {
        let route = match self.server_side.unreachable() {
            true => Route::Streamed,
            false => self.route,
        };
        match self.copy_along(meta, dest_key, route).await {
            // Said once, by the request that found it (see `server_side_request`).
            Err(err) if err.kind() == ErrorKind::CopySourceUnreachable => {
                self.copy_along(meta, dest_key, Route::Streamed).await
            }
            // A service that copies whole objects but not parts (UploadPartCopy) streams
            // those it cannot copy whole.
            Err(err) if err.kind() == ErrorKind::Unsupported && route != Route::Streamed => {
                tracing::debug!(key = %meta.key, error = %err, "server-side copy unsupported");
                self.note_once(format!(
                    "{} cannot copy some objects server-side (by parts, say); those stream through this machine",
                    self.plan.dest.display_root()
                ));
                self.copy_along(meta, dest_key, Route::Streamed).await
            }
            other => other,
        }
    }

    /// One object along `route`: a whole-object work item when it fits one request (or one
    /// stream), else by blocks, each block a work item of its own.
    async fn copy_along(
        self: &Arc<Self>,
        meta: &ObjectMeta,
        dest_key: &str,
        route: Route,
    ) -> Result<(), StoreError> {
        let caps = self.plan.dest.capabilities();
        let single =
            route.single_request_limit(caps, self.options.block_size, self.options.cutoffs);
        if meta.size <= single {
            let item = ObjectItem {
                source: meta.clone(),
                dest_key: dest_key.to_owned(),
                route,
            };
            return self.send_whole(item).await;
        }
        let head = self
            .requests
            .retry(|| self.plan.source.head(&meta.key))
            .await?;
        self.note_renamed_metadata(&head.attributes);
        self.copy_by_blocks(&head, dest_key, route).await?;
        if route != Route::Streamed {
            verify_copy(&self.requests, self.plan.dest.as_ref(), &head, dest_key).await?;
        }
        self.progress.copied(route, head.size);
        Ok(())
    }

    /// Sends a whole object to the job's queue (a server-side copy through the job's gate),
    /// and counts it from what it gave.
    async fn send_whole(&self, item: ObjectItem) -> Result<(), StoreError> {
        let (size, route) = (item.source.size, item.route);
        let objects = vec![item];
        let renamed = self
            .send(WorkItem::Objects { objects }, |done| match done {
                WorkDone::Objects { mut outcomes } if outcomes.len() == 1 => {
                    let outcome = outcomes.pop().expect("one outcome");
                    match outcome.error {
                        Some(error) => Err(error.to_store_error(None)),
                        None => Ok(outcome.metadata_mapped),
                    }
                }
                other => Err(other.unexpected()),
            })
            .await?;
        self.note_metadata_mapped(renamed);
        self.progress.copied(route, size);
        Ok(())
    }
}
