//! Schedules: a job template run `every` so often or by a `cron` expression. Each run is a
//! normal job copying what was created or changed since the previous successful run began,
//! less an overlap (an S3 object's Last-Modified is when its upload began, so an upload that
//! straddled the last run's start must still be seen), with `if-different` so the overlap is
//! not copied twice. One run at a time; runs missed while the service was down run once;
//! a schedule failing `max_failures` times in a row turns itself off (the catalogue's rule).

use awcopy_engine::overwrite::Overwrite;
use awcopy_engine::spec::parse_age;
use awcopy_jobs::{ListFilter, NewSchedule, RunEnd, Schedule, ScheduleRun, Timestamp};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

use crate::config::User;
use crate::error::ServiceError;
use crate::service::Service;
use crate::wire::{JobView, LastRun, ScheduleInput, ScheduleView};

/// How far before the previous run's start a run looks, unless the schedule says.
pub(crate) const DEFAULT_OVERLAP: Duration = Duration::from_secs(300);
/// Failed runs in a row that turn a schedule off, unless it says.
pub(crate) const DEFAULT_MAX_FAILURES: u32 = 3;
/// How often the scheduler looks for due schedules.
const TICK: Duration = Duration::from_millis(500);
/// The longest `every`: a year and a day (a cron expression says anything rarer).
pub(crate) const LONGEST_PERIOD: Duration = Duration::from_secs(366 * 86_400);
/// The longest overlap.
const LONGEST_OVERLAP: Duration = Duration::from_secs(30 * 86_400);
/// The most failed runs in a row a schedule may wait for before it turns off.
const MOST_MAX_FAILURES: u32 = 100;
/// The longest cron expression.
const LONGEST_CRON: usize = 256;
/// The most schedules one user may have.
pub const MOST_SCHEDULES_PER_USER: usize = 100;

/// When a schedule runs.
enum Timing {
    Every(Duration),
    Cron(Box<croner::Cron>),
}

impl Timing {
    /// The timing a schedule's fields describe, or what is wrong with them.
    fn of(every_secs: Option<i64>, cron: Option<&str>) -> Result<Self, String> {
        match (every_secs, cron) {
            (Some(secs), None) => {
                let period = u64::try_from(secs)
                    .ok()
                    .filter(|&s| s > 0)
                    .map(Duration::from_secs);
                match period {
                    Some(period) if period <= LONGEST_PERIOD => Ok(Self::Every(period)),
                    _ => Err(format!(
                        "every: {secs} s is out of range; use 1s to {}d (or a cron expression)",
                        LONGEST_PERIOD.as_secs() / 86_400
                    )),
                }
            }
            (None, Some(expr)) if expr.len() > LONGEST_CRON => Err(format!(
                "cron: longer than {LONGEST_CRON} characters; use e.g. '0 2 * * *'"
            )),
            (None, Some(expr)) => croner::Cron::new(expr)
                .with_seconds_optional()
                .parse()
                .map(|cron| Self::Cron(Box::new(cron)))
                .map_err(|e| {
                    format!("cron: '{expr}' is not a cron expression ({e}); use e.g. '0 2 * * *'")
                }),
            (Some(_), Some(_)) => Err("give either every or cron, not both".into()),
            _ => Err("give every (e.g. \"6h\") or cron (e.g. \"0 2 * * *\")".into()),
        }
    }

    /// The first time after `after` it runs, if there is one before the year 10000.
    fn next(&self, after: OffsetDateTime) -> Option<Timestamp> {
        let next = match self {
            Self::Every(period) => after.checked_add(time::Duration::try_from(*period).ok()?)?,
            Self::Cron(cron) => {
                let after = chrono::DateTime::from_timestamp(after.unix_timestamp(), 0)?;
                let next = cron.find_next_occurrence(&after, false).ok()?;
                OffsetDateTime::from_unix_timestamp(next.timestamp()).ok()?
            }
        };
        Some(next.into())
    }
}

/// The time in `field`, or what is wrong with it.
fn parse_time(field: &str, text: &str) -> Result<Timestamp, ServiceError> {
    text.parse()
        .map_err(|why| ServiceError::invalid(format!("{field}: {why}")))
}

/// A period (`6h`, `30m`) in seconds, at most `longest`.
pub(crate) fn seconds(field: &str, text: &str, longest: Duration) -> Result<i64, ServiceError> {
    let period = parse_age(text).map_err(|e| ServiceError::invalid(format!("{field}: {e}")))?;
    if period > longest {
        return Err(ServiceError::invalid(format!(
            "{field}: '{text}' is longer than the longest, {}d",
            longest.as_secs() / 86_400
        )));
    }
    Ok(period.as_secs() as i64)
}

/// `max_failures` as given, within its range.
fn max_failures(given: u32) -> Result<i64, ServiceError> {
    if !(1..=MOST_MAX_FAILURES).contains(&given) {
        return Err(ServiceError::invalid(format!(
            "max_failures: {given} is out of range; use 1 to {MOST_MAX_FAILURES}"
        )));
    }
    Ok(i64::from(given))
}

impl Service {
    /// Makes a schedule for `caller`; its template is checked as a submitted job is (fields,
    /// secrets, grants).
    pub async fn create_schedule(
        &self,
        caller: &User,
        input: ScheduleInput,
    ) -> Result<Schedule, ServiceError> {
        let template = input
            .template
            .clone()
            .ok_or_else(|| ServiceError::invalid("template: a schedule needs a job spec"))?;
        let spec = self.admit(caller, template)?;
        let every_secs = input
            .every
            .as_deref()
            .map(|e| seconds("every", e, LONGEST_PERIOD))
            .transpose()?;
        let timing =
            Timing::of(every_secs, input.cron.as_deref()).map_err(ServiceError::invalid)?;
        let modified_since = input
            .modified_since
            .as_deref()
            .map(|t| parse_time("modified_since", t))
            .transpose()?;
        let overlap_secs = match input.overlap.as_deref() {
            Some(text) => seconds("overlap", text, LONGEST_OVERLAP)?,
            None => DEFAULT_OVERLAP.as_secs() as i64,
        };
        let max_failures = max_failures(input.max_failures.unwrap_or(DEFAULT_MAX_FAILURES))?;
        let enabled = input.enabled.unwrap_or(true);
        let now = OffsetDateTime::now_utc();
        // An `every` schedule runs at once, then every period; a cron one at its next time.
        let first = match timing {
            Timing::Every(_) => Some(Timestamp::from(now)),
            Timing::Cron(_) => Some(timing.next(now).ok_or_else(|| {
                ServiceError::invalid(
                    "cron: the expression never comes round; give one that does, e.g. '0 2 * * *'",
                )
            })?),
        };
        if self.catalog().schedules(Some(&caller.name)).await?.len() >= MOST_SCHEDULES_PER_USER {
            return Err(ServiceError::invalid(format!(
                "schedules: user '{}' has {MOST_SCHEDULES_PER_USER} schedules, the most one user may have; delete one first",
                caller.name
            )));
        }
        let new = NewSchedule {
            user: caller.name.clone(),
            name: input.name,
            template: serde_json::to_value(&spec).expect("a spec serializes"),
            every_secs,
            cron: input.cron,
            enabled,
            modified_since,
            overlap_secs,
            max_failures,
            next_run: first,
        };
        Ok(self.catalog().create_schedule(new).await?)
    }

    /// The caller's schedules (everyone's for an admin).
    pub async fn schedules(&self, caller: &User) -> Result<Vec<Schedule>, ServiceError> {
        Ok(self.catalog().schedules(caller.listed_owner()).await?)
    }

    /// Schedule `id` if the caller may see it; anyone else is told there is none.
    pub async fn visible_schedule(
        &self,
        caller: &User,
        id: &str,
    ) -> Result<Schedule, ServiceError> {
        match self.catalog().schedule(id).await {
            Ok(s) if caller.sees(&s.user) => Ok(s),
            _ => Err(ServiceError::not_found("schedule", id)),
        }
    }

    /// Changes a schedule: what `input` gives replaces what it had.
    pub async fn patch_schedule(
        &self,
        caller: &User,
        mut schedule: Schedule,
        input: ScheduleInput,
    ) -> Result<Schedule, ServiceError> {
        if input.modified_since.is_some() {
            return Err(ServiceError::invalid(
                "modified_since: a schedule's first watermark cannot change; make a new schedule",
            ));
        }
        if let Some(template) = input.template {
            let owner = self
                .config()
                .user(&schedule.user)
                .cloned()
                .unwrap_or_else(|| caller.clone());
            let spec = self.admit(&owner, template)?;
            schedule.template = serde_json::to_value(&spec).expect("a spec serializes");
        }
        if input.name.is_some() {
            schedule.name = input.name;
        }
        let retimed = input.every.is_some() || input.cron.is_some();
        if let Some(every) = &input.every {
            schedule.every_secs = Some(seconds("every", every, LONGEST_PERIOD)?);
            schedule.cron = None;
        }
        if let Some(cron) = input.cron {
            schedule.cron = Some(cron);
            if input.every.is_none() {
                schedule.every_secs = None;
            }
        }
        let timing = Timing::of(schedule.every_secs, schedule.cron.as_deref())
            .map_err(ServiceError::invalid)?;
        if let Some(overlap) = &input.overlap {
            schedule.overlap_secs = seconds("overlap", overlap, LONGEST_OVERLAP)?;
        }
        if let Some(max) = input.max_failures {
            schedule.max_failures = max_failures(max)?;
        }
        let switched_on = input.enabled == Some(true) && !schedule.enabled;
        if let Some(enabled) = input.enabled {
            schedule.enabled = enabled;
        }
        if retimed || switched_on || schedule.next_run.is_none() {
            schedule.next_run = Some(timing.next(OffsetDateTime::now_utc()).ok_or_else(|| {
                ServiceError::invalid(
                    "cron: the expression never comes round; give one that does, e.g. '0 2 * * *'",
                )
            })?);
        }
        Ok(self.catalog().update_schedule(&schedule).await?)
    }

    /// Deletes a schedule (its runs stay as jobs).
    pub async fn delete_schedule(&self, schedule: &Schedule) -> Result<(), ServiceError> {
        Ok(self.catalog().delete_schedule(&schedule.id).await?)
    }

    /// Starts a run of every due schedule that is not still running one. A schedule that
    /// cannot go on (its timing has no next time, its stored fields are out of range) turns
    /// off saying why; the others are not held up by it.
    async fn run_due(self: &Arc<Self>) -> Result<(), ServiceError> {
        let now = OffsetDateTime::now_utc();
        for schedule in self.catalog().due_schedules(Timestamp::from(now)).await? {
            // Its own task: even a panic over one schedule leaves the others running.
            let (service, id) = (self.clone(), schedule.id.clone());
            let outcome = tokio::spawn(async move { service.run_one(&schedule, now).await }).await;
            let why = match outcome {
                Ok(Ok(())) => continue,
                Ok(Err(why)) => why,
                Err(e) => format!("the scheduler failed on it ({e})"),
            };
            tracing::warn!(schedule = %id, "turned off: {why}");
            self.catalog()
                .disable_schedule(&id, &format!("turned off: {why}"))
                .await?;
        }
        Ok(())
    }

    /// Starts one due schedule's run, or moves its next run on while the previous one goes
    /// on; an error is why the schedule cannot go on.
    async fn run_one(
        self: &Arc<Self>,
        schedule: &Schedule,
        now: OffsetDateTime,
    ) -> Result<(), String> {
        let timing = Timing::of(schedule.every_secs, schedule.cron.as_deref())?;
        // Missed runs collapse into this one: the next is counted from now.
        let next = timing
            .next(now)
            .ok_or("its timing has no next time before the year 10000")?;
        let busy = self
            .catalog()
            .schedule_run_in_progress(&schedule.id)
            .await
            .map_err(|e| e.to_string())?;
        if busy.is_some() {
            return self
                .catalog()
                .set_next_run(&schedule.id, Some(next))
                .await
                .map_err(|e| e.to_string());
        }
        let since = Self::since(schedule)?;
        // A run that could not start is recorded as a failed run; the schedule goes on.
        let _ = self.start_run(schedule, since, now, Some(next)).await;
        Ok(())
    }

    /// What a schedule's next run copies from: its watermark less its overlap, or its first
    /// `modified_since`; an error when the stored values are out of range.
    fn since(schedule: &Schedule) -> Result<Option<OffsetDateTime>, String> {
        let overlap = u64::try_from(schedule.overlap_secs)
            .ok()
            .filter(|&s| s <= LONGEST_OVERLAP.as_secs())
            .ok_or_else(|| format!("overlap: {} s is out of range", schedule.overlap_secs))?;
        match (schedule.watermark, schedule.modified_since) {
            (Some(mark), _) => mark
                .time()
                .checked_sub(time::Duration::seconds(overlap as i64))
                .map(Some)
                .ok_or_else(|| "overlap: reaches before the year 0".to_owned()),
            (None, Some(first)) => Ok(Some(first.time())),
            (None, None) => Ok(None),
        }
    }

    /// Starts one run of `schedule`, as its owner, copying what changed `since`. A run that
    /// cannot start counts as a failed run (and its error is returned).
    async fn start_run(
        self: &Arc<Self>,
        schedule: &Schedule,
        since: Option<OffsetDateTime>,
        now: OffsetDateTime,
        next: Option<Timestamp>,
    ) -> Result<JobView, ServiceError> {
        let started_at = Timestamp::from(now);
        let started = async {
            let mut spec = self.readmit(&schedule.user, schedule.template.clone())?;
            spec.filters.modified_since = since;
            spec.overwrite = Some(Overwrite::IfDifferent);
            if spec.name.is_none() {
                spec.name = Some(match &schedule.name {
                    Some(name) => format!("{name} (scheduled)"),
                    None => format!("schedule {}", schedule.id),
                });
            }
            let run = ScheduleRun {
                schedule_id: schedule.id.clone(),
                started_at,
                due_at: schedule.next_run,
                next_run: next,
            };
            self.submit_linked(spec, run).await
        };
        let started = started.await;
        if started.as_ref().is_err_and(ServiceError::is_run_taken) {
            // Another replica started this run: it is that replica's to record.
            return started;
        }
        if let Err(e) = &started {
            let failed = RunEnd::Failed(e.to_string());
            let recorded = async {
                self.catalog().set_next_run(&schedule.id, next).await?;
                self.catalog()
                    .schedule_run_ended(&schedule.id, started_at, &failed)
                    .await
            };
            if let Err(why) = recorded.await {
                tracing::warn!(schedule = %schedule.id, "a run that could not start was not recorded: {why}");
            }
        }
        started
    }

    /// Starts a run of `schedule` now, whether on or off, copying what a run due now would;
    /// its next run stays when it was. Refused while a run of it goes on.
    pub async fn run_schedule_now(
        self: &Arc<Self>,
        schedule: &Schedule,
    ) -> Result<JobView, ServiceError> {
        if let Some(job) = self
            .catalog()
            .schedule_run_in_progress(&schedule.id)
            .await?
        {
            return Err(ServiceError::Conflict(format!(
                "schedule {} has a run going on (job {job}); wait for it to end, or pause or cancel it",
                schedule.id
            )));
        }
        let since = Self::since(schedule).map_err(ServiceError::invalid)?;
        let now = OffsetDateTime::now_utc();
        self.start_run(schedule, since, now, schedule.next_run)
            .await
    }

    /// `schedule` as the API shows it: with its last run.
    pub async fn schedule_view(&self, schedule: Schedule) -> Result<ScheduleView, ServiceError> {
        let last = ListFilter {
            schedule: Some(schedule.id.clone()),
            limit: Some(1),
            ..ListFilter::default()
        };
        let last_run = self.catalog().list(&last).await?.into_iter().next();
        Ok(ScheduleView {
            schedule,
            last_run: last_run.map(|job| LastRun {
                job: job.id,
                status: job.status,
                started_at: job.started_at,
                finished_at: job.finished_at,
                error: job.error,
            }),
        })
    }
}

/// Runs the scheduler until the service stops.
pub fn spawn_scheduler(service: Arc<Service>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = service.run_due().await {
                tracing::warn!("scheduler: {e}");
            }
        }
    })
}
