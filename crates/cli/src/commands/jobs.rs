//! `awcopy jobs`: the catalogue of runs, and how `cp`, `sync` and `mv` record themselves in it.

use awcopy_jobs::{Catalog, CatalogError, JobRecord, ListFilter, Status};
use serde_json::json;

use crate::args::{Cli, JobsCommand};
use crate::commands::resume;
use crate::failure::{code, Failure};
use crate::output::human;

impl From<CatalogError> for Failure {
    fn from(err: CatalogError) -> Self {
        let code = match err {
            CatalogError::NotFound(_) => code::NOT_FOUND,
            CatalogError::Ambiguous { .. } | CatalogError::Changed(_) => code::USAGE,
            _ => code::SERVICE,
        };
        Failure {
            message: err.to_string(),
            code,
        }
    }
}

/// The user jobs are recorded for: `--user`, else the OS user.
pub fn user(cli: &Cli) -> String {
    cli.user
        .clone()
        .or_else(|| {
            ["USER", "LOGNAME", "USERNAME"]
                .iter()
                .find_map(|v| std::env::var(v).ok())
        })
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Opens the catalogue `--db` names, or the default one.
pub async fn catalog(cli: &Cli) -> Result<Catalog, Failure> {
    let path = cli.db.clone().unwrap_or_else(Catalog::default_path);
    Ok(Catalog::open(&path).await?)
}

/// A job's status as shown: a running job whose process has died says so.
fn shown_status(job: &JobRecord) -> String {
    match job.owner() {
        Some(owner) if job.state() == Status::Running && !owner.is_alive() => {
            format!("running (process {} died)", owner.pid)
        }
        _ => job.status.clone(),
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

fn print_job(job: &JobRecord) {
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

/// Runs `awcopy jobs ...`.
pub async fn run(cli: &Cli, command: &JobsCommand) -> Result<(), Failure> {
    let catalog = catalog(cli).await?;
    match command {
        JobsCommand::List {
            all_users,
            status,
            json,
        } => {
            let filter = ListFilter {
                user: (!all_users).then(|| user(cli)),
                status: *status,
            };
            for job in catalog.list(&filter).await? {
                if *json {
                    println!("{}", serde_json::to_string(&job).expect("jobs serialize"));
                } else {
                    print_job(&job);
                }
            }
        }
        JobsCommand::Show { id, json } => {
            let job = catalog.find(id).await?;
            let failures = catalog.failures(&job.id).await?;
            let seconds = duration(&job);
            let rate = seconds.map(|s| job.bytes_copied as f64 / s.max(1e-3));
            if *json {
                println!(
                    "{}",
                    json!({"job": job, "failures": failures.len(), "seconds": seconds, "bytes_per_second": rate})
                );
            } else {
                println!("job        {}", job.id);
                println!("name       {}", job.name.as_deref().unwrap_or("-"));
                println!("user       {}", job.user);
                println!("command    {} {} -> {}", job.command, job.source, job.dest);
                println!("status     {}", shown_status(&job));
                println!("created    {}", job.created_at);
                println!("started    {}", job.started_at.as_deref().unwrap_or("-"));
                println!("finished   {}", job.finished_at.as_deref().unwrap_or("-"));
                if let (Some(seconds), Some(rate)) = (seconds, rate) {
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
                println!("settings   {}", job.spec);
                for failure in failures.iter().take(10) {
                    println!("failed     {}: {}", failure.key, failure.error);
                }
            }
        }
        JobsCommand::Failures { id, json } => {
            let job = catalog.find(id).await?;
            for failure in catalog.failures(&job.id).await? {
                if *json {
                    println!(
                        "{}",
                        serde_json::to_string(&failure).expect("failures serialize")
                    );
                } else {
                    println!(
                        "{}\t{} attempts\t{}",
                        failure.key, failure.attempts, failure.error
                    );
                }
            }
        }
        JobsCommand::Resume(job) => return resume::resume(catalog, job).await,
        JobsCommand::Retry { job, name_policy } => {
            return resume::retry(catalog, job, *name_policy).await
        }
        JobsCommand::Cancel { id } => return resume::cancel(catalog, id).await,
        JobsCommand::Clean {
            older_than,
            all_users,
        } => {
            let cutoff = time::OffsetDateTime::now_utc() - *older_than;
            let cutoff = cutoff
                .format(&time::format_description::well_known::Rfc3339)
                .expect("a time formats");
            let user = (!all_users).then(|| user(cli));
            let deleted = catalog.clean(user.as_deref(), &cutoff).await?;
            println!(
                "Deleted {} finished jobs that ended before {cutoff}",
                deleted.len()
            );
        }
    }
    Ok(())
}
