//! Jobs as tables and as JSON: `jobs list`, `jobs show`, `jobs failures`.

use awcopy_jobs::{FailureRecord, JobRecord, Status};
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

/// Seconds a job has run: from its (last) start to its end, or to now.
fn duration(job: &JobRecord) -> Option<f64> {
    use time::format_description::well_known::Rfc3339;
    let parse = |t: &str| time::OffsetDateTime::parse(t, &Rfc3339).ok();
    let start = parse(job.started_at.as_deref()?)?;
    let end = match job.finished_at.as_deref() {
        Some(end) => parse(end)?,
        None => time::OffsetDateTime::now_utc(),
    };
    Some((end - start).as_seconds_f64().max(0.0))
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
pub fn show_json(job: &JobRecord, failures: &[FailureRecord]) -> String {
    let seconds = duration(job);
    let rate = seconds.map(|s| job.bytes_copied as f64 / s.max(1e-3));
    json!({
        "job": job,
        "spec": job.spec,
        "failures": failures.len(),
        "seconds": seconds,
        "bytes_per_second": rate,
    })
    .to_string()
}

/// `jobs show`: the record for a person.
pub fn print_show(job: &JobRecord, failures: &[FailureRecord]) {
    let seconds = duration(job);
    println!("job        {}", job.id);
    println!("name       {}", job.name.as_deref().unwrap_or("-"));
    println!("user       {}", job.user);
    println!("command    {} {} -> {}", job.command, job.source, job.dest);
    println!("status     {}", shown_status(job));
    println!("created    {}", job.created_at);
    println!("started    {}", job.started_at.as_deref().unwrap_or("-"));
    println!("finished   {}", job.finished_at.as_deref().unwrap_or("-"));
    if let Some(seconds) = seconds {
        let rate = job.bytes_copied as f64 / seconds.max(1e-3);
        println!("duration   {seconds:.1} s, {}/s", human(rate as u64));
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
    println!("spec       {}", job.spec);
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
