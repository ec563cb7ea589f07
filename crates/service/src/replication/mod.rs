//! Replications: a source kept copied to a destination as its cloud announces changes (S3
//! event notifications in an SQS queue; Event Grid blob events in an Azure Storage Queue),
//! deletions included when asked, with a scheduled `sync` (the reconcile run) catching
//! whatever the events missed. Made, listed, changed and deleted here (grants checked as a
//! job's are, and the queue must be granted too); read by one service replica at a time
//! ([`duty`]), a round of messages at a time ([`round`]).

mod duty;
mod round;

pub use duty::spawn_replication_duty;
pub(crate) use duty::Registry;

use awcopy_engine::spec::{JobSpec, Mode};
use awcopy_jobs::{NewReplication, NewSchedule, Replication, Timestamp};
use awcopy_store::changes::{open_queue, EventSource};
use awcopy_store::Location;
use std::time::Duration;

use crate::config::User;
use crate::error::ServiceError;
use crate::schedule::{seconds, DEFAULT_MAX_FAILURES, DEFAULT_OVERLAP, LONGEST_PERIOD};
use crate::service::Service;
use crate::wire::{
    EventCounts, ReplicationFailure, ReplicationInput, ReplicationPatch, ReplicationView,
};

/// How often a reconcile run goes unless the replication says.
const DEFAULT_RECONCILE: Duration = Duration::from_secs(86_400);
/// The shortest reconcile period: each run lists the whole source.
const SHORTEST_RECONCILE: Duration = Duration::from_secs(60);
/// The most replications one user may have.
pub const MOST_REPLICATIONS_PER_USER: usize = 100;
/// The most failures one page shows.
pub const MOST_FAILURES_PER_PAGE: u32 = 1000;

/// The spec a replication keeps true: `body` as a recursive `sync`, deleting at the
/// destination only if `deletions`.
fn replication_spec(mut body: serde_json::Value, deletions: bool) -> serde_json::Value {
    if let Some(fields) = body.as_object_mut() {
        fields.insert(
            "mode".into(),
            serde_json::to_value(Mode::Sync).expect("a mode"),
        );
        fields.insert("recursive".into(), true.into());
        fields.insert("delete".into(), deletions.into());
    }
    body
}

/// What grants name the queue of `replication` by.
fn queue_id(replication: &Replication) -> Option<String> {
    let source = Location::parse(replication.spec["source"].as_str()?).ok()?;
    Some(EventSource::of(&source, &replication.queue).ok()?.queue_id)
}

/// The source of `spec` and its events on `queue`, if its owner `user` may read that queue.
fn event_source(
    user: &User,
    spec: &JobSpec,
    queue: &str,
) -> Result<(Location, EventSource), ServiceError> {
    let source = Location::parse(&spec.source).map_err(|e| e.context("source"))?;
    let events = EventSource::of(&source, queue)?;
    if !user.may_read_queue(&events.queue_id) {
        return Err(ServiceError::forbidden(format!(
            "queue: user '{}' may not read queue '{}'; ask an admin to add it to your queues",
            user.name, events.queue_id
        )));
    }
    Ok((source, events))
}

impl Service {
    /// Makes a replication for `caller`: its spec checked as a submitted job's is, its queue
    /// granted, reachable and read by no other replication; its reconcile run scheduled.
    pub async fn create_replication(
        &self,
        caller: &User,
        input: ReplicationInput,
    ) -> Result<Replication, ServiceError> {
        let deletions = input.deletions.unwrap_or(false);
        let body = input
            .spec
            .ok_or_else(|| ServiceError::invalid("spec: a replication needs a job spec"))?;
        let spec = self.admit(caller, replication_spec(body, deletions))?;
        let queue = input
            .queue
            .filter(|q| !q.trim().is_empty())
            .ok_or_else(|| {
                ServiceError::invalid("queue: name the queue the source's change events arrive on")
            })?;
        let (source, events) = event_source(caller, &spec, &queue)?;
        let reconcile_secs = match input.reconcile.as_deref() {
            Some(text) => seconds("reconcile", text, LONGEST_PERIOD)?,
            None => DEFAULT_RECONCILE.as_secs() as i64,
        };
        if reconcile_secs < SHORTEST_RECONCILE.as_secs() as i64 {
            return Err(ServiceError::invalid(format!(
                "reconcile: each run lists the whole source; give {}s or more (e.g. 1d)",
                SHORTEST_RECONCILE.as_secs()
            )));
        }
        let existing = self.catalog().replications(None).await?;
        if let Some(other) = existing
            .iter()
            .find(|r| queue_id(r).is_some_and(|id| id == events.queue_id))
        {
            return Err(ServiceError::Conflict(format!(
                "queue: replication {} reads queue '{}' already; a queue's messages go to one replication",
                other.id, events.queue_id
            )));
        }
        if existing.iter().filter(|r| r.user == caller.name).count() >= MOST_REPLICATIONS_PER_USER {
            return Err(ServiceError::invalid(format!(
                "replications: user '{}' has {MOST_REPLICATIONS_PER_USER}, the most one user may have; delete one first",
                caller.name
            )));
        }
        open_queue(&source, &queue, self.reach())
            .await?
            .depth()
            .await
            .map_err(|e| e.context("queue"))?;
        let enabled = input.enabled.unwrap_or(true);
        let template = serde_json::to_value(&spec).expect("a spec serializes");
        let label = input.name.clone().unwrap_or_else(|| queue.clone());
        let schedule = self
            .catalog()
            .create_schedule(NewSchedule {
                user: caller.name.clone(),
                name: Some(format!("{label} (replication reconcile)")),
                template: template.clone(),
                every_secs: Some(reconcile_secs),
                cron: None,
                enabled,
                modified_since: None,
                overlap_secs: DEFAULT_OVERLAP.as_secs() as i64,
                max_failures: i64::from(DEFAULT_MAX_FAILURES),
                next_run: Some(Timestamp::from(
                    time::OffsetDateTime::now_utc() + time::Duration::seconds(reconcile_secs),
                )),
            })
            .await?;
        let made = self
            .catalog()
            .create_replication(NewReplication {
                user: caller.name.clone(),
                name: input.name,
                spec: template,
                queue,
                deletions,
                enabled,
                reconcile_secs,
                schedule_id: Some(schedule.id.clone()),
            })
            .await;
        if made.is_err() {
            // Best effort: a schedule without its replication would run on its own.
            let _ = self.catalog().delete_schedule(&schedule.id).await;
        }
        Ok(made?)
    }

    /// The caller's replications (everyone's for an admin).
    pub async fn replications(&self, caller: &User) -> Result<Vec<Replication>, ServiceError> {
        Ok(self.catalog().replications(caller.listed_owner()).await?)
    }

    /// Replication `id` if the caller may see it; anyone else is told there is none.
    pub async fn visible_replication(
        &self,
        caller: &User,
        id: &str,
    ) -> Result<Replication, ServiceError> {
        match self.catalog().replication(id).await {
            Ok(r) if caller.sees(&r.user) => Ok(r),
            _ => Err(ServiceError::not_found("replication", id)),
        }
    }

    /// Changes a replication's name, on/off switch or deletions (its reconcile run's too).
    pub async fn patch_replication(
        &self,
        mut replication: Replication,
        input: ReplicationPatch,
    ) -> Result<Replication, ServiceError> {
        if input.name.is_some() {
            replication.name = input.name;
        }
        if let Some(enabled) = input.enabled {
            replication.enabled = enabled;
        }
        if let Some(deletions) = input.deletions {
            replication.deletions = deletions;
            replication.spec = replication_spec(replication.spec, deletions);
        }
        if let Some(id) = &replication.schedule_id {
            match self.catalog().schedule(id).await {
                Ok(mut schedule) => {
                    schedule.enabled = replication.enabled;
                    schedule.template = replication.spec.clone();
                    self.catalog().update_schedule(&schedule).await?;
                }
                // Deleted by hand: the replication goes on without a reconcile run.
                Err(awcopy_jobs::CatalogError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let changed = self.catalog().update_replication(&replication).await?;
        if !changed.enabled {
            self.replicating.stop(&changed.id).await;
        }
        Ok(changed)
    }

    /// Deletes a replication and its reconcile schedule (the jobs it ran stay).
    pub async fn delete_replication(&self, replication: &Replication) -> Result<(), ServiceError> {
        self.replicating.stop(&replication.id).await;
        if let Some(id) = &replication.schedule_id {
            match self.catalog().delete_schedule(id).await {
                Ok(()) | Err(awcopy_jobs::CatalogError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(self.catalog().delete_replication(&replication.id).await?)
    }

    /// Replication `replication` as the API shows it: its lag live where this process reads
    /// its queue, else as its reader last recorded it.
    pub fn replication_view(&self, replication: Replication) -> ReplicationView {
        let live = self.replicating.oldest_pending(&replication.id);
        let oldest = live.unwrap_or(replication.pending_since.map(Timestamp::time));
        let now = time::OffsetDateTime::now_utc();
        let lag_seconds = oldest.map_or(0.0, |t| (now - t).as_seconds_f64().max(0.0));
        let held = replication.lease().is_some_and(|lease| lease.is_alive());
        let state = match (replication.enabled, &replication.error, held) {
            (false, _, _) => "paused",
            (true, Some(_), _) => "failing",
            (true, None, true) => "running",
            (true, None, false) => "waiting",
        };
        ReplicationView {
            source: replication.spec["source"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            dest: replication.spec["dest"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            state: state.to_owned(),
            events: EventCounts {
                received: replication.events_received,
                applied: replication.events_applied,
                ignored: replication.events_ignored,
                failed: replication.events_failed,
            },
            lag_seconds,
            id: replication.id,
            user: replication.user,
            name: replication.name,
            queue: replication.queue,
            deletions: replication.deletions,
            enabled: replication.enabled,
            objects_copied: replication.objects_copied,
            bytes_copied: replication.bytes_copied,
            objects_deleted: replication.objects_deleted,
            queue_depth: replication.queue_depth,
            last_applied_at: replication.last_applied_at,
            error: replication.error,
            reconcile_seconds: replication.reconcile_secs,
            schedule: replication.schedule_id,
            created_at: replication.created_at,
        }
    }

    /// A page of replication `id`'s failures, in key order after `after`.
    pub async fn replication_failures(
        &self,
        replication: &Replication,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ReplicationFailure>, ServiceError> {
        let limit = limit.clamp(1, MOST_FAILURES_PER_PAGE);
        let rows = self
            .catalog()
            .replication_failures(&replication.id, after, limit)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(key, error, at)| ReplicationFailure { key, error, at })
            .collect())
    }
}
