//! Jobs as tables and as JSON: `jobs list`, `jobs show`, `jobs failures`.

use awcopy_engine::progress::Counters;
use awcopy_jobs::{run_seconds, FailureRecord, JobRecord, RunRecord, Status, Timestamp};
use awcopy_service::wire::{FailureView, JobView};
use awcopy_store::ErrorKind;
use serde_json::json;

use super::{human, printable};

/// A job's status as shown: a running job whose runner is gone says so.
fn shown_status(job: &JobRecord) -> String {
    match job.owner() {
        Some(lease) if job.status == Status::Running && !lease.is_alive() => {
            format!("running ({} died)", lease.describe())
        }
        _ => job.status.to_string(),
    }
}

/// Seconds a job has run over its runs (pauses left out), if it ran at all.
fn duration(runs: &[RunRecord]) -> Option<f64> {
    (!runs.is_empty()).then(|| run_seconds(runs, Timestamp::now()))
}

/// A job's runs, one line each: what started it, when it started and ended, how, and what
/// it copied.
fn print_runs(runs: &[RunRecord]) {
    for run in runs {
        let ended = run.status.map_or("running".to_owned(), |s| s.to_string());
        println!(
            "run {:<6} {:<8} {} -> {}  {:<23} {} objects ({})",
            run.number,
            run.trigger,
            run.started_at,
            or_dash(run.finished_at),
            ended,
            run.objects_copied,
            human(run.bytes_copied.max(0) as u64)
        );
    }
}

/// Why a job's last run failed, as `jobs show` says it (local and remote alike).
fn shown_error(kind: Option<ErrorKind>, error: &str) -> String {
    match kind {
        Some(kind) => format!("error      {error} ({})", kind.as_str()),
        None => format!("error      {error}"),
    }
}

/// Failed objects a report or `jobs show` lists; the rest are in `jobs failures` (and
/// `--json`).
pub const FAILURES_SHOWN: usize = 10;

/// A job's location, with the endpoint it is reached at when that is not the cloud's own.
pub fn shown_location(location: &str, endpoint: Option<&str>) -> String {
    match endpoint {
        Some(endpoint) => format!("{location} (at {endpoint})"),
        None => location.to_owned(),
    }
}

/// A time, or `-` for none.
fn or_dash(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "-".to_owned(), |at| at.to_string())
}

/// One line of `jobs list`.
pub fn print_row(job: &JobRecord) {
    println!(
        "{}  {:<24} {:<4} {} -> {}  {} objects copied, {} failed{}",
        &job.id[..8],
        shown_status(job),
        job.command,
        job.source,
        job.dest,
        job.objects_copied,
        job.objects_failed,
        job.name
            .as_deref()
            .map(|n| format!("  [{n}]"))
            .unwrap_or_default()
    );
}

/// `jobs show --json`: the record, its stored spec, and its counters.
pub fn show_json(job: &JobRecord, runs: &[RunRecord], failures: &[FailureRecord]) -> String {
    let seconds = duration(runs);
    let rate = seconds.map(|s| job.bytes_copied as f64 / s.max(1e-3));
    json!({
        "job": job,
        "spec": job.spec,
        "runs": runs,
        "failures": failures.len(),
        "seconds": seconds,
        "bytes_per_second": rate,
    })
    .to_string()
}

/// What `jobs show` prints of a job, whether from this machine's catalogue or from a service.
pub struct Shown<'a> {
    /// The job's id.
    pub id: &'a str,
    /// Its name.
    pub name: Option<&'a str>,
    /// Its user.
    pub user: &'a str,
    /// `cp SOURCE -> DEST`, as shown.
    pub command: String,
    /// Its state, as shown.
    pub status: String,
    /// When it was made, first started and last ended.
    pub times: (Timestamp, Option<Timestamp>, Option<Timestamp>),
    /// Its counters.
    pub counters: Counters,
    /// Keys stored under another name, where known.
    pub mapped: Option<i64>,
    /// Why its last run failed, and of which class.
    pub error: Option<(&'a str, Option<ErrorKind>)>,
    /// Its spec.
    pub spec: &'a serde_json::Value,
    /// Its runs.
    pub runs: &'a [RunRecord],
    /// Its first failed objects ([`FAILURES_SHOWN`]): key, and what went wrong.
    pub failures: Vec<(String, String)>,
}

impl<'a> Shown<'a> {
    /// A job of this machine's catalogue.
    pub fn of_record(
        job: &'a JobRecord,
        runs: &'a [RunRecord],
        failures: &[FailureRecord],
    ) -> Self {
        Self {
            id: &job.id,
            name: job.name.as_deref(),
            user: &job.user,
            command: format!("{} {} -> {}", job.command, job.source, job.dest),
            status: shown_status(job),
            times: (job.created_at, job.started_at, job.finished_at),
            counters: job.counters(),
            mapped: Some(job.objects_mapped),
            error: job
                .error
                .as_deref()
                .map(|e| (e, job.error_kind.map(|class| class.0))),
            spec: &job.spec,
            runs,
            failures: failures
                .iter()
                .take(FAILURES_SHOWN)
                .map(|f| (f.key.clone(), f.error.clone()))
                .collect(),
        }
    }

    /// A job as a service shows it (its runs in it), with its first failures.
    pub fn of_view(job: &'a JobView, failures: &[FailureView]) -> Self {
        Self {
            id: &job.id,
            name: job.name.as_deref(),
            user: &job.user,
            command: format!(
                "{} {} -> {}",
                job.command,
                shown_location(&job.source, job.source_endpoint.as_deref()),
                shown_location(&job.dest, job.dest_endpoint.as_deref())
            ),
            status: job.status.to_string(),
            times: (job.created_at, job.started_at, job.finished_at),
            counters: job.counters,
            mapped: None,
            error: job.error.as_deref().map(|e| (e, job.error_kind)),
            spec: &job.spec,
            runs: &job.runs,
            failures: failures
                .iter()
                .take(FAILURES_SHOWN)
                .map(|f| (f.key.clone(), format!("{}: {}", f.error_class, f.message)))
                .collect(),
        }
    }
}

/// `jobs show`: a job for a person, local or through a service alike; what a user or a
/// service wrote is shown with control characters escaped, one line each.
pub fn print_show(job: &Shown) {
    let c = &job.counters;
    let (created, started, finished) = job.times;
    println!("job        {}", printable(job.id));
    println!("name       {}", printable(job.name.unwrap_or("-")));
    println!("user       {}", printable(job.user));
    println!("command    {}", printable(&job.command));
    println!("status     {}", printable(&job.status));
    println!("created    {created}");
    println!("started    {}", or_dash(started));
    println!("finished   {}", or_dash(finished));
    if let Some(seconds) = duration(job.runs) {
        let rate = c.bytes_done as f64 / seconds.max(1e-3);
        println!(
            "duration   {seconds:.1} s over {} runs, {}/s",
            job.runs.len(),
            human(rate as u64)
        );
    }
    println!(
        "listed     {} objects ({})",
        c.objects_listed,
        human(c.bytes_listed)
    );
    let mapped = job
        .mapped
        .map(|n| format!(", {n} mapped"))
        .unwrap_or_default();
    println!(
        "objects    {} copied ({}), {} skipped{mapped}, {} failed",
        c.objects_done,
        human(c.bytes_done),
        c.objects_skipped,
        c.objects_failed
    );
    if let Some((error, kind)) = job.error {
        println!("{}", printable(&shown_error(kind, error)));
    }
    println!("spec       {}", job.spec);
    print_runs(job.runs);
    for (key, error) in &job.failures {
        println!("failed     {}: {}", printable(key), printable(error));
    }
}

/// One line of `jobs failures`.
pub fn print_failure(failure: &FailureRecord, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string(failure).expect("failures serialize")
        );
    } else {
        println!(
            "{}\t{} attempts\t{}",
            failure.key, failure.attempts, failure.error
        );
    }
}
