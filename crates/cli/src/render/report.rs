//! A run's report: a few lines for a person, or one JSON line for a script.

use awcopy_engine::copy::CopyReport;
use awcopy_engine::estimate::Estimate;

use super::human;
use super::jobs::FAILURES_SHOWN;

/// The report as one JSON line (`type: summary`), with the job's name and a dry run's estimate.
pub fn summary_json(
    report: &CopyReport,
    job_name: Option<&str>,
    estimate: Option<&Estimate>,
) -> String {
    let mut summary = serde_json::to_value(report).expect("report serializes");
    summary["type"] = "summary".into();
    summary["job_name"] = job_name.into();
    summary["estimate"] = serde_json::to_value(estimate).expect("estimate serializes");
    summary.to_string()
}

/// Prints the report for a person; `job` is the job it was recorded as, if it was.
pub fn print_report(report: &CopyReport, job: Option<&str>) {
    let verb = if report.dry_run {
        "Would copy"
    } else {
        "Copied"
    };
    let rate = report.bytes_copied as f64 / report.seconds.max(1e-3);
    println!(
        "{verb} {} objects ({}) in {:.1} s: {}/s, {:.0} objects/s",
        report.objects_copied,
        human(report.bytes_copied),
        report.seconds,
        human(rate as u64),
        report.objects_copied as f64 / report.seconds.max(1e-3)
    );
    if !report.dry_run {
        println!(
            "  streamed through this machine: {}; copied server-side: {}",
            human(report.bytes_streamed),
            human(report.bytes_server_side)
        );
    }
    println!("  skipped by filters: {}", report.objects_skipped);
    if report.objects_kept > 0 {
        println!(
            "  already at the destination, kept: {}",
            report.objects_kept
        );
    }
    if report.objects_deleted > 0 {
        println!("  deleted: {}", report.objects_deleted);
    }
    if !report.names_mapped.is_empty() {
        println!(
            "  stored under a mapped name: {} (--mapping FILE writes the list)",
            report.names_mapped.len()
        );
        for pair in report.names_mapped.iter().take(10) {
            println!("    {} -> {}", pair.source, pair.dest);
        }
    }
    for pair in &report.metadata_names_mapped {
        println!("  metadata name mapped: {} -> {}", pair.source, pair.dest);
    }
    if report.names_skipped > 0 {
        println!(
            "  left out, name not allowed at the destination: {}",
            report.names_skipped
        );
    }
    if report.blocks_reused > 0 {
        println!(
            "  blocks staged by an earlier run, used again: {}",
            report.blocks_reused
        );
    }
    println!(
        "  retries: {} ({} throttled)",
        report.retries, report.throttled
    );
    println!("  failed: {}", report.failures.len());
    for failure in report.failures.iter().take(FAILURES_SHOWN) {
        println!(
            "    {}: {}: {}",
            failure.key,
            failure.kind.as_str(),
            failure.message
        );
    }
    if report.failures.len() > FAILURES_SHOWN {
        let all = match job {
            Some(id) => format!("`awcopy jobs failures {id}`"),
            None => "--json".to_owned(),
        };
        println!(
            "    (the first {FAILURES_SHOWN} of {}; {all} lists them all)",
            report.failures.len()
        );
    }
    for note in &report.notes {
        println!("  note: {note}");
    }
}
