//! `awcopy jobs resume | retry | cancel`: a recorded job run again from where it stopped, its
//! failed objects copied again, or the job given up with nothing of it left half-written.
//! Each runs the job's own stored command line (which holds no secret), so credentials come
//! from the environment again and SAS / presigned URLs are minted afresh.

use awcopy_jobs::{Catalog, JobRecord, Status};
use awcopy_store::Location;
use clap::Parser;
use std::time::Duration;

use crate::args::{Cli, Command, CopyArgs, JobAgain};
use crate::commands::cp::{self, Mode};
use crate::failure::{about, code, Failure};

/// How long `jobs cancel` waits for a running job's process to pause.
const CANCEL_WAIT: Duration = Duration::from_secs(60);

/// A job's stored command: the S3 endpoint it used, its copy arguments and which command.
struct StoredCommand {
    endpoint_url: Option<String>,
    args: CopyArgs,
    mode: Mode,
}

impl StoredCommand {
    /// Parses job `job`'s command line again.
    fn of(job: &JobRecord) -> Result<Self, Failure> {
        let unusable = |why: String| {
            Failure::usage(format!(
                "job {}: {why}; start the copy again (with --new)",
                job.id
            ))
        };
        let argv: Vec<String> = job
            .spec
            .get("argv")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .ok_or_else(|| unusable("this job did not record its command line".into()))?;
        let cli = Cli::try_parse_from(std::iter::once("awcopy".to_owned()).chain(argv))
            .map_err(|e| unusable(format!("its command line no longer parses ({})", e.kind())))?;
        let (args, mode) = match cli.command {
            Command::Cp(args) => (args, Mode::Copy),
            Command::Mv(args) => (args, Mode::Move),
            Command::Sync(sync) => (
                sync.copy,
                Mode::Sync {
                    delete: sync.delete,
                },
            ),
            _ => return Err(unusable("its command line is not a copy".into())),
        };
        Ok(Self {
            endpoint_url: cli.endpoint_url,
            args,
            mode,
        })
    }

    /// Takes the locations given again (with their SAS) where they name the same places.
    fn with_locations(mut self, again: &JobAgain) -> Result<Self, Failure> {
        for (stored, given, name) in [
            (&mut self.args.source, &again.source, "source"),
            (&mut self.args.dest, &again.dest, "dest"),
        ] {
            let Some(given) = given else { continue };
            let place = |text: &str| {
                Location::parse(text)
                    .map(|l| l.to_string())
                    .map_err(about(&format!("--{name}")))
            };
            let (was, now) = (place(stored)?, place(given)?);
            if was != now {
                return Err(Failure::usage(format!(
                    "--{name} {now} is not where the job's {name} is ({was}); give the same place again"
                )));
            }
            *stored = given.clone();
        }
        Ok(self)
    }
}

/// The refusal to run a cancelled job again.
fn cancelled(job: &JobRecord) -> Failure {
    Failure::usage(format!(
        "job {} was cancelled; start the copy again",
        job.id
    ))
}

/// Refuses a job that another live process runs.
fn refuse_live(job: &JobRecord) -> Result<(), Failure> {
    match job
        .owner()
        .filter(|o| job.state() == Status::Running && o.is_alive())
    {
        Some(owner) => Err(Failure::usage(format!(
            "job {} is running (process {}); stop it there with Ctrl-C first, or let it finish",
            job.id, owner.pid
        ))),
        None => Ok(()),
    }
}

/// `awcopy jobs resume ID`.
pub async fn resume(catalog: Catalog, again: &JobAgain) -> Result<(), Failure> {
    let job = catalog.find(&again.id).await?;
    match job.state() {
        Status::Completed => {
            return Err(Failure::usage(format!(
                "job {} is completed; there is nothing to resume",
                job.id
            )))
        }
        Status::CompletedWithFailures => {
            return Err(Failure::usage(format!(
                "job {} is finished (with failures); `awcopy jobs retry {}` copies its failed objects again",
                job.id, job.id
            )))
        }
        Status::Cancelled => return Err(cancelled(&job)),
        _ => refuse_live(&job)?,
    }
    let stored = StoredCommand::of(&job)?.with_locations(again)?;
    catalog.claim(&job).await?;
    let from = catalog.resume_point(&job.id, true).await?;
    if !stored.args.json {
        println!(
            "Resuming job {}: {} objects listed and not finished, {} key ranges to list, {} uploads in progress",
            job.id,
            from.pending.len(),
            from.ranges.len(),
            from.uploads.len()
        );
    }
    run(stored, catalog, job, from).await
}

/// `awcopy jobs retry ID`.
pub async fn retry(
    catalog: Catalog,
    again: &JobAgain,
    name_policy: Option<awcopy_engine::copy::NamePolicy>,
) -> Result<(), Failure> {
    let job = catalog.find(&again.id).await?;
    match job.state() {
        Status::CompletedWithFailures => {}
        Status::Completed => {
            return Err(Failure::usage(format!(
                "job {} has no failed objects to retry",
                job.id
            )))
        }
        Status::Cancelled => return Err(cancelled(&job)),
        _ => {
            refuse_live(&job)?;
            return Err(Failure::usage(format!(
                "job {} did not finish ({}); `awcopy jobs resume {}` continues it, then retry its failures",
                job.id, job.status, job.id
            )));
        }
    }
    let mut stored = StoredCommand::of(&job)?.with_locations(again)?;
    if let Some(policy) = name_policy {
        stored.args.name_policy = policy;
    }
    catalog.claim(&job).await?;
    let failed = catalog.requeue_failed(&job.id).await?;
    let from = catalog.resume_point(&job.id, false).await?;
    if !stored.args.json {
        println!("Retrying {failed} failed objects of job {}", job.id);
    }
    run(stored, catalog, job, from).await
}

async fn run(
    stored: StoredCommand,
    catalog: Catalog,
    job: JobRecord,
    from: awcopy_engine::journal::ResumeFrom,
) -> Result<(), Failure> {
    let job = catalog.find(&job.id).await?;
    cp::resume(
        stored.endpoint_url,
        &stored.args,
        stored.mode,
        catalog,
        job,
        from,
    )
    .await
}

/// `awcopy jobs cancel ID`.
pub async fn cancel(catalog: Catalog, id: &str) -> Result<(), Failure> {
    let mut job = catalog.find(id).await?;
    if job.state().is_final() {
        return Err(Failure::usage(format!(
            "job {} is {}; there is nothing to cancel",
            job.id, job.status
        )));
    }
    if let Some(owner) = job
        .owner()
        .filter(|o| job.state() == Status::Running && o.is_alive())
    {
        job = pause_owner(&catalog, &job, owner.pid).await?;
    }
    let stored = StoredCommand::of(&job)?;
    let uploads = catalog.uploads(&job.id).await?;
    let dest = match uploads.is_empty() {
        true => None,
        false => Some(cp::open_dest(stored.endpoint_url, &stored.args, stored.mode).await?),
    };
    let mut aborted = 0;
    for (key, upload) in &uploads {
        let dest = dest.as_ref().expect("opened when there are uploads");
        dest.abort_upload(&upload.dest_key, &upload.upload)
            .await
            .map_err(|e| {
                let mut failure = about("DEST")(e);
                failure.message = format!(
                    "{}; job {} is not cancelled, try again",
                    failure.message, job.id
                );
                failure
            })?;
        catalog.forget_upload(&job.id, key).await?;
        aborted += 1;
    }
    catalog.finish_job(&job.id, Status::Cancelled, 0).await?;
    println!(
        "Job {} cancelled: {aborted} uploads in progress aborted; objects it copied stay at {}",
        job.id, job.dest
    );
    Ok(())
}

/// Asks the process running `job` to stop (as Ctrl-C does) and waits until it has paused.
async fn pause_owner(catalog: &Catalog, job: &JobRecord, pid: i64) -> Result<JobRecord, Failure> {
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !signalled {
        return Err(Failure {
            message: format!(
                "job {} is running in process {pid}, which could not be asked to stop; stop it with Ctrl-C there, then cancel",
                job.id
            ),
            code: code::SERVICE,
        });
    }
    eprintln!("Asked process {pid} to stop job {}...", job.id);
    let deadline = tokio::time::Instant::now() + CANCEL_WAIT;
    loop {
        let now = catalog.find(&job.id).await?;
        let stopped = now.state() != Status::Running || !now.owner().is_some_and(|o| o.is_alive());
        if stopped {
            return Ok(now);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(Failure {
                message: format!(
                    "job {} is still running in process {pid} after {} s; try again",
                    job.id,
                    CANCEL_WAIT.as_secs()
                ),
                code: code::SERVICE,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
