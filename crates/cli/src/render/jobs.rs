//! Jobs as tables and as JSON: `jobs list`, `jobs show`, `jobs failures`.

use awcopy_jobs::{run_seconds, FailureRecord, JobRecord, RunRecord, Status, Timestamp};
use awcopy_store::ErrorKind;
use serde_json::json;

use super::human;

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
pub fn print_runs(runs: &[RunRecord]) {
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
pub fn shown_error(kind: Option<ErrorKind>, error: &str) -> String {
    match kind {
        Some(kind) => format!("error      {error} ({})", kind.as_str()),
        None => format!("error      {error}"),
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

/// `jobs show`: the record for a person.
pub fn print_show(job: &JobRecord, runs: &[RunRecord], failures: &[FailureRecord]) {
    let seconds = duration(runs);
    println!("job        {}", job.id);
    println!("name       {}", job.name.as_deref().unwrap_or("-"));
    println!("user       {}", job.user);
    println!("command    {} {} -> {}", job.command, job.source, job.dest);
    println!("status     {}", shown_status(job));
    println!("created    {}", job.created_at);
    println!("started    {}", or_dash(job.started_at));
    println!("finished   {}", or_dash(job.finished_at));
    if let Some(seconds) = seconds {
        let rate = job.bytes_copied as f64 / seconds.max(1e-3);
        println!(
            "duration   {seconds:.1} s over {} runs, {}/s",
            runs.len(),
            human(rate as u64)
        );
    }
    println!(
        "listed     {} objects ({})",
        job.objects_listed,
        human(job.bytes_listed as u64)
    );
    println!(
        "objects    {} copied ({}), {} skipped, {} mapped, {} failed",
        job.objects_copied,
        human(job.bytes_copied as u64),
        job.objects_skipped,
        job.objects_mapped,
        job.objects_failed
    );
    if let Some(error) = &job.error {
        let kind = job.error_kind.map(|class| class.0);
        println!("{}", shown_error(kind, error));
    }
    println!("spec       {}", job.spec);
    print_runs(runs);
    for failure in failures.iter().take(10) {
        println!("failed     {}: {}", failure.key, failure.error);
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
