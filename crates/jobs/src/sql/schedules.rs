//! Schedules in the catalogue: a job template run every so often, on or off, with the
//! watermark its next run copies from. Each run is a normal job, linked in `schedule_runs`.
//! When a schedule is due, and how a run's spec is made, is the service's business; this
//! module only keeps the records and their rules (one failure count, one watermark).

use sqlx::{FromRow, Row};

use super::Catalog;
use crate::job_catalog::ScheduleCatalog;
use crate::records::{CatalogError, NewSchedule, RunEnd, Schedule, Status};
use crate::timestamp::Timestamp;

#[async_trait::async_trait]
impl ScheduleCatalog for Catalog {
    /// Records a new schedule.
    async fn create_schedule(&self, new: NewSchedule) -> Result<Schedule, CatalogError> {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO schedules (id, user_name, name, template, every_secs, cron, enabled,
             modified_since, overlap_secs, max_failures, next_run, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&id)
        .bind(&new.user)
        .bind(&new.name)
        .bind(new.template.to_string())
        .bind(new.every_secs)
        .bind(&new.cron)
        .bind(i64::from(new.enabled))
        .bind(new.modified_since)
        .bind(new.overlap_secs)
        .bind(new.max_failures)
        .bind(new.next_run)
        .bind(Timestamp::now())
        .execute(self.pool())
        .await
        .map_err(|e| self.error(e))?;
        self.schedule(&id).await
    }

    /// The schedule whose id is `id`.
    async fn schedule(&self, id: &str) -> Result<Schedule, CatalogError> {
        let row = sqlx::query("SELECT * FROM schedules WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| self.error(e))?;
        match row {
            Some(row) => Schedule::from_row(&row).map_err(|e| self.error(e)),
            None => Err(CatalogError::NotFound(id.to_owned())),
        }
    }

    /// Schedules of `user` (all users' if none), oldest first.
    async fn schedules(&self, user: Option<&str>) -> Result<Vec<Schedule>, CatalogError> {
        let rows = sqlx::query(
            "SELECT * FROM schedules WHERE ($1 IS NULL OR user_name = $1) ORDER BY created_at, id",
        )
        .bind(user)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.error(e))?;
        rows.iter()
            .map(Schedule::from_row)
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(e))
    }

    /// Replaces the settings of schedule `schedule.id` (name, template, timing, on/off,
    /// next run); switching it on clears why it turned off and its failure count.
    async fn update_schedule(&self, schedule: &Schedule) -> Result<Schedule, CatalogError> {
        sqlx::query(
            "UPDATE schedules SET name = $1, template = $2, every_secs = $3, cron = $4,
             failures_in_a_row = CASE WHEN $5 = 1 AND enabled = 0 THEN 0 ELSE failures_in_a_row END,
             disabled_reason = CASE WHEN $5 = 1 THEN NULL ELSE disabled_reason END,
             enabled = $5, overlap_secs = $6, max_failures = $7, next_run = $8 WHERE id = $9",
        )
        .bind(&schedule.name)
        .bind(schedule.template.to_string())
        .bind(schedule.every_secs)
        .bind(&schedule.cron)
        .bind(i64::from(schedule.enabled))
        .bind(schedule.overlap_secs)
        .bind(schedule.max_failures)
        .bind(schedule.next_run)
        .bind(&schedule.id)
        .execute(self.pool())
        .await
        .map_err(|e| self.error(e))?;
        self.schedule(&schedule.id).await
    }

    /// Deletes schedule `id` (its runs stay as jobs).
    async fn delete_schedule(&self, id: &str) -> Result<(), CatalogError> {
        sqlx::query("DELETE FROM schedules WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Schedules that are on and due at `at`.
    async fn due_schedules(&self, at: Timestamp) -> Result<Vec<Schedule>, CatalogError> {
        let rows = sqlx::query(
            "SELECT * FROM schedules WHERE enabled = 1 AND next_run IS NOT NULL AND next_run <= $1
             ORDER BY next_run",
        )
        .bind(at)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.error(e))?;
        rows.iter()
            .map(Schedule::from_row)
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(e))
    }

    /// The job of schedule `id` that has not ended (running or paused), if any: a schedule
    /// runs one at a time.
    async fn schedule_run_in_progress(&self, id: &str) -> Result<Option<String>, CatalogError> {
        let row = sqlx::query(
            "SELECT r.job_id FROM schedule_runs r JOIN jobs j ON j.id = r.job_id
             WHERE r.schedule_id = $1 AND j.status IN ($2, $3) LIMIT 1",
        )
        .bind(id)
        .bind(Status::Running)
        .bind(Status::Paused)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.error(e))?;
        Ok(row.map(|r| r.get("job_id")))
    }

    /// Turns schedule `id` off, saying `why` (a schedule that cannot go on).
    async fn disable_schedule(&self, id: &str, why: &str) -> Result<(), CatalogError> {
        sqlx::query(
            "UPDATE schedules SET enabled = 0, next_run = NULL, disabled_reason = $1 WHERE id = $2",
        )
        .bind(why)
        .bind(id)
        .execute(self.pool())
        .await
        .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Sets when schedule `id` runs next (a run skipped because the previous one goes on).
    async fn set_next_run(
        &self,
        id: &str,
        next_run: Option<Timestamp>,
    ) -> Result<(), CatalogError> {
        sqlx::query("UPDATE schedules SET next_run = $1 WHERE id = $2")
            .bind(next_run)
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// The schedule job `job_id` is a run of, with the run's start, if any.
    async fn schedule_of_job(
        &self,
        job_id: &str,
    ) -> Result<Option<(String, Timestamp)>, CatalogError> {
        let row =
            sqlx::query("SELECT schedule_id, started_at FROM schedule_runs WHERE job_id = $1")
                .bind(job_id)
                .fetch_optional(self.pool())
                .await
                .map_err(|e| self.error(e))?;
        row.map(|r| Ok((r.try_get("schedule_id")?, r.try_get("started_at")?)))
            .transpose()
            .map_err(|e| self.error(e))
    }

    /// Records how a run of schedule `id` that started at `started_at` ended: success moves
    /// the watermark to its start and clears the failure count; a failure adds one, and the
    /// schedule turns itself off (saying why) at its limit. Returns the schedule as it is now.
    async fn schedule_run_ended(
        &self,
        id: &str,
        started_at: Timestamp,
        end: &RunEnd,
    ) -> Result<Schedule, CatalogError> {
        match end {
            RunEnd::Succeeded => sqlx::query(
                "UPDATE schedules SET failures_in_a_row = 0,
                 watermark = CASE WHEN watermark IS NULL OR watermark < $1 THEN $1 ELSE watermark END
                 WHERE id = $2",
            )
            .bind(started_at)
            .bind(id),
            RunEnd::Failed(why) => sqlx::query(
                "UPDATE schedules SET failures_in_a_row = failures_in_a_row + 1,
                 enabled = CASE WHEN failures_in_a_row + 1 >= max_failures THEN 0 ELSE enabled END,
                 disabled_reason = CASE WHEN failures_in_a_row + 1 >= max_failures
                   THEN 'turned off after ' || (failures_in_a_row + 1) || ' failed runs in a row; the last: ' || $1
                   ELSE disabled_reason END
                 WHERE id = $2",
            )
            .bind(why)
            .bind(id),
        }
        .execute(self.pool())
        .await
        .map_err(|e| self.error(e))?;
        self.schedule(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{JobCatalog, ListFilter, NewJob, ScheduleRun};

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn run_of(schedule_id: &str) -> NewJob {
        NewJob {
            user: "alice".into(),
            name: None,
            command: "cp".into(),
            source: "s3://a/".into(),
            dest: "s3://b/".into(),
            spec: serde_json::json!({}),
            schedule_run: Some(ScheduleRun {
                schedule_id: schedule_id.into(),
                started_at: at("2026-12-06T10:00:00Z"),
                due_at: Some(at("2026-12-06T10:00:00Z")),
                next_run: Some(at("2026-12-06T11:00:00Z")),
            }),
        }
    }

    awcopy_testkit::each_catalogue!(
        a_run_is_created_linked_and_advanced_at_once_or_not_at_all,
        flavor = "multi_thread",
        worker_threads = 2
    );
    /// A scheduled run's job, its link to the schedule and the schedule's next time are
    /// written together: all of them, or (when the run was claimed first, or the schedule is
    /// gone) none.
    async fn a_run_is_created_linked_and_advanced_at_once_or_not_at_all(
        place: awcopy_testkit::catalogue::CatalogPlace,
    ) {
        let address: crate::CatalogAddress = place.address().parse().unwrap();
        let catalog = Catalog::open(address).await.unwrap();
        let schedule = catalog
            .create_schedule(NewSchedule {
                user: "alice".into(),
                name: None,
                template: serde_json::json!({}),
                every_secs: Some(3600),
                cron: None,
                enabled: true,
                modified_since: None,
                overlap_secs: 0,
                max_failures: 3,
                next_run: Some(at("2026-12-06T10:00:00Z")),
            })
            .await
            .unwrap();
        // Replicas starting the same due run at once: one does, the others are told.
        let starts = futures::future::join_all((0..6).map(|_| {
            let catalog = catalog.clone();
            let run = run_of(&schedule.id);
            tokio::spawn(async move { catalog.create_job(run).await })
        }))
        .await;
        let (started, taken): (Vec<_>, Vec<_>) = starts
            .into_iter()
            .map(|start| start.unwrap())
            .partition(Result::is_ok);
        assert_eq!(started.len(), 1, "{taken:?}");
        for refused in taken {
            let err = refused.unwrap_err();
            assert!(matches!(err, CatalogError::RunTaken(_)), "{err}");
        }
        let job = started.into_iter().next().unwrap().unwrap();
        assert_eq!(
            catalog.schedule_of_job(&job.id).await.unwrap(),
            Some((schedule.id.clone(), at("2026-12-06T10:00:00Z")))
        );
        let advanced = catalog.schedule(&schedule.id).await.unwrap();
        assert_eq!(advanced.next_run, Some(at("2026-12-06T11:00:00Z")));

        let orphan = catalog.create_job(run_of("no-such-schedule")).await;
        assert!(orphan.is_err(), "a run of a missing schedule is refused");
        let jobs = catalog.list(&ListFilter::default()).await.unwrap();
        assert_eq!(jobs.len(), 1, "and leaves no job behind");
    }
}
