//! `awcopy jobs`: the catalogue of runs; resume, retry, pause and cancel go to the runner.

use awcopy_jobs::ListFilter;

use crate::args::{Cli, JobsCommand};
use crate::commands::follow::{follow, Shown};
use crate::context;
use crate::failure::{run_failure, Failure};
use crate::render::jobs as table;
use crate::settings;

/// Runs `awcopy jobs ...`.
pub async fn run(cli: &Cli, command: &JobsCommand) -> Result<(), Failure> {
    let runner = context::runner(cli).await?;
    let catalog = runner.catalog();
    match command {
        JobsCommand::List {
            all_users,
            status,
            json,
        } => {
            let filter = ListFilter {
                user: (!all_users).then(|| settings::user(cli)),
                status: *status,
                ..ListFilter::default()
            };
            for job in catalog.list(&filter).await? {
                match json {
                    true => println!("{}", serde_json::to_string(&job).expect("jobs serialize")),
                    false => table::print_row(&job),
                }
            }
        }
        JobsCommand::Show { id, json } => {
            let job = catalog.find(id).await?;
            let runs = catalog.runs(&job.id).await?;
            let failures = catalog.failures(&job.id, &Default::default()).await?;
            match json {
                true => println!("{}", table::show_json(&job, &runs, &failures)),
                false => table::print_show(&table::Shown::of_record(&job, &runs, &failures)),
            }
        }
        JobsCommand::Failures { id, json } => {
            let job = catalog.find(id).await?;
            for failure in catalog.failures(&job.id, &Default::default()).await? {
                table::print_failure(&failure, *json);
            }
        }
        JobsCommand::Resume(again) => {
            let job = catalog.find(&again.id).await?;
            let access = settings::access(again.source.as_deref(), again.dest.as_deref());
            let shown = Shown::new(&again.output, job.name.clone())?;
            let handle = runner
                .resume(&job.id, &access, shown.hooks(None))
                .await
                .map_err(|e| run_failure(e, "resume"))?;
            if let (Some(from), false) = (handle.resumed(), again.output.json) {
                println!(
                    "Resuming job {}: {} objects listed and not finished, {} key ranges to list, {} uploads in progress",
                    job.id, from.pending, from.ranges, from.uploads
                );
            }
            return follow(handle, shown).await;
        }
        JobsCommand::Retry { job, name_policy } => {
            let record = catalog.find(&job.id).await?;
            let access = settings::access(job.source.as_deref(), job.dest.as_deref());
            let shown = Shown::new(&job.output, record.name.clone())?;
            let handle = runner
                .retry(&record.id, &access, shown.hooks(None), *name_policy)
                .await
                .map_err(|e| run_failure(e, "retry"))?;
            if let (Some(from), false) = (handle.resumed(), job.output.json) {
                println!(
                    "Retrying {} failed objects of job {}",
                    from.pending, record.id
                );
            }
            return follow(handle, shown).await;
        }
        JobsCommand::Pause { id } => {
            let job = runner
                .pause(id)
                .await
                .map_err(|e| run_failure(e, "pause"))?;
            println!(
                "Job {} {}; continue it with `awcopy jobs resume {}`",
                job.id, job.status, job.id
            );
        }
        JobsCommand::Cancel { id, dest } => {
            let job = catalog.find(id).await?;
            let access = settings::access(None, dest.as_deref());
            let (job, aborted) = runner
                .cancel(&job.id, &access)
                .await
                .map_err(|e| run_failure(e, "cancel"))?;
            println!(
                "Job {} cancelled: {aborted} uploads in progress aborted; objects it copied stay at {}",
                job.id, job.dest
            );
        }
        JobsCommand::Clean {
            older_than,
            all_users,
        } => {
            let cutoff =
                awcopy_jobs::Timestamp::from(time::OffsetDateTime::now_utc() - *older_than);
            let user = (!all_users).then(|| settings::user(cli));
            let deleted = catalog.clean(user.as_deref(), cutoff).await?;
            println!(
                "Deleted {} finished jobs that ended before {cutoff}",
                deleted.len()
            );
        }
    }
    Ok(())
}
