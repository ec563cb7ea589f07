//! `awcopy jobs`: the catalogue of runs, and how `cp`, `sync` and `mv` record themselves in it.

use awcopy_jobs::{Catalog, CatalogError, JobRecord, ListFilter};
use serde_json::json;

use crate::args::{Cli, JobsCommand};
use crate::failure::{code, Failure};

impl From<CatalogError> for Failure {
    fn from(err: CatalogError) -> Self {
        let code = match err {
            CatalogError::NotFound(_) => code::NOT_FOUND,
            CatalogError::Ambiguous { .. } => code::USAGE,
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

fn print_job(job: &JobRecord) {
    println!(
        "{}  {:<24} {:<4} {} -> {}  {} objects copied, {} failed{}",
        &job.id[..8],
        job.status,
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
            if *json {
                println!("{}", json!({"job": job, "failures": failures.len()}));
            } else {
                println!("job        {}", job.id);
                println!("name       {}", job.name.as_deref().unwrap_or("-"));
                println!("user       {}", job.user);
                println!("command    {} {} -> {}", job.command, job.source, job.dest);
                println!("status     {}", job.status);
                println!("created    {}", job.created_at);
                println!("finished   {}", job.finished_at.as_deref().unwrap_or("-"));
                println!(
                    "objects    {} copied ({} bytes), {} skipped, {} mapped, {} failed",
                    job.objects_copied,
                    job.bytes_copied,
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
    }
    Ok(())
}
