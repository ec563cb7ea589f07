//! Talking to a job service: `cp|sync|mv --via URL [--wait]` and `jobs ... --server URL`.
//! The spec is made from the flags exactly as for a local run; the service runs it with its
//! own credentials, so a location carrying a secret is refused here, before it is sent.

use awcopy_engine::copy::{NamePolicy, Progress};
use awcopy_engine::overwrite::Overwrite;
use awcopy_engine::spec::{JobSpec, Mode};
use awcopy_service::client::{Client, ClientError};
use awcopy_service::wire::{ActionOptions, JobView, Status};
use awcopy_store::Location;
use std::sync::Arc;
use std::time::Duration;

use crate::args::{Cli, CopyArgs, JobsCommand};
use crate::failure::{code, code_of, Failure};
use crate::render::jobs::{print_show, shown_location, Shown, FAILURES_SHOWN};
use crate::render::{human, printable, progress};
use crate::settings;

/// How often `--wait` asks the service how its job goes.
const POLL: Duration = Duration::from_millis(500);

/// A client of the service at `url`, with the token from `AWCOPY_TOKEN`.
pub fn client(url: &str) -> Result<Client, Failure> {
    let token = std::env::var("AWCOPY_TOKEN").unwrap_or_default();
    Client::new(url, &token).map_err(failure)
}

/// The failure a client error is, with its exit code.
pub fn failure(err: ClientError) -> Failure {
    let code = match &err {
        ClientError::Answer { status, .. } => match status {
            401 | 403 => code::AUTH,
            404 => code::NOT_FOUND,
            400 | 409 | 413 | 415 | 422 => code::USAGE,
            _ => code::SERVICE,
        },
        ClientError::Network { .. } => code::NETWORK,
        ClientError::Usage(_) => code::USAGE,
    };
    Failure {
        message: awcopy_store::redact::redact(&err.to_string()),
        code,
    }
}

/// Refuses what only a local run can do, and a location carrying a secret: the service uses
/// its own credentials, and the secret would otherwise be sent for nothing.
fn refuse_local_only(args: &CopyArgs) -> Result<(), Failure> {
    for (name, location) in [("SOURCE", &args.source), ("DEST", &args.dest)] {
        if Location::carries_secret(location).map_err(crate::failure::about(name))? {
            return Err(Failure::usage(format!(
                "{name}: a service uses its own credentials; give the location without its SAS token or signature"
            )));
        }
    }
    let local_only = [
        (args.output.log.is_some(), "--log"),
        (args.output.mapping.is_some(), "--mapping"),
        (
            args.overwrite == Some(Overwrite::Prompt),
            "--overwrite prompt",
        ),
    ];
    if let Some((_, flag)) = local_only.iter().find(|(given, _)| *given) {
        return Err(Failure::usage(format!(
            "{flag} works only for a run on this machine; leave it out with --via"
        )));
    }
    Ok(())
}

/// The spec `cp|sync|mv` flags describe, ready to send to a service (a schedule's template).
pub fn remote_spec(cli: &Cli, args: &CopyArgs, mode: Mode) -> Result<JobSpec, Failure> {
    refuse_local_only(args)?;
    let spec = settings::copy_spec(cli, String::new(), args, mode, false)?;
    for_service(args, spec)
}

/// `spec` as a service takes it: no user (the token names it), and a customer key named as
/// its operator configured it (a service reads no file a job names).
fn for_service(args: &CopyArgs, mut spec: JobSpec) -> Result<JobSpec, Failure> {
    spec.user = String::new();
    spec.encryption = args
        .encrypt
        .as_deref()
        .map(|e| settings::encryption(e, settings::KeysAre::Named))
        .transpose()?;
    Ok(spec)
}

/// Submits `spec` (made from `args`) to the service at `url`; with `--wait`, follows it to
/// its end. The service names the user from the token.
pub async fn submit(url: &str, args: &CopyArgs, spec: JobSpec) -> Result<(), Failure> {
    refuse_local_only(args)?;
    let spec = for_service(args, spec)?;
    let client = client(url)?;
    let job = client.submit(&spec).await.map_err(failure)?;
    if args.output.json {
        println!("{}", serde_json::to_string(&job).expect("a job serializes"));
    } else {
        let server = client.server().trim_end_matches('/');
        println!(
            "Job {} submitted to {server}; its page: {server}/#/jobs/{}",
            job.id, job.id
        );
    }
    if args.wait {
        return follow(&client, &job.id, args.output.json).await;
    }
    Ok(())
}

/// Follows job `id` on the service to its end: the progress line, then the summary and the
/// exit code a local run would give. The first Ctrl-C pauses the job.
pub async fn follow(client: &Client, id: &str, json: bool) -> Result<(), Failure> {
    let progress = Arc::new(Progress::default());
    let bar = (!json).then(|| progress::progress_bar(progress.clone(), || false));
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    let job = loop {
        let job = client.job(id).await.map_err(failure)?;
        progress.show(&job.counters);
        if job.status != Status::Running {
            break job;
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = &mut interrupted => {
                eprintln!("\nPausing job {id} on the service...");
                break client.act(id, "pause", &ActionOptions::default()).await.map_err(failure)?;
            }
        }
    };
    if let Some(bar) = bar {
        bar.finish();
    }
    ended(client, &job, json)
}

/// The summary of a job that stopped running, and its exit code.
fn ended(client: &Client, job: &JobView, json: bool) -> Result<(), Failure> {
    let c = &job.counters;
    if json {
        println!("{}", serde_json::to_string(job).expect("a job serializes"));
    } else {
        println!(
            "Job {} ({}): {} objects copied ({}), {} skipped, {} failed",
            job.id,
            job.status,
            c.objects_done,
            human(c.bytes_done),
            c.objects_skipped,
            c.objects_failed
        );
    }
    let server = client.server();
    let id = &job.id;
    match job.status {
        Status::Completed => Ok(()),
        Status::CompletedWithFailures => Err(Failure {
            message: format!(
                "{} of {} objects failed; see `awcopy jobs failures {id} --server {server}`, then `awcopy jobs retry {id} --server {server}`",
                c.objects_failed,
                c.objects_failed + c.objects_done
            ),
            code: code::PARTIAL,
        }),
        Status::Paused => Err(Failure {
            message: format!("job {id} paused; continue it with `awcopy jobs resume {id} --server {server}`"),
            code: code::INTERRUPTED,
        }),
        Status::Cancelled => Err(Failure {
            message: format!("job {id} was cancelled"),
            code: code::INTERRUPTED,
        }),
        other @ (Status::Failed | Status::Running) => {
            let why = job.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
            let resume = format!("`awcopy jobs resume {id} --server {server}`");
            let next = match job.error_kind {
                Some(kind) if !kind.is_retryable() => {
                    format!("once that is put right, {resume} continues it")
                }
                _ => format!("{resume} continues it"),
            };
            Err(Failure {
                message: format!("job {id} {} on the service{why}; {next}", other.as_str()),
                // The code a local run gives for the same cause.
                code: job.error_kind.map_or(code::SERVICE, code_of),
            })
        }
    }
}

/// `awcopy jobs ... --server URL`.
pub async fn jobs(url: &str, command: &JobsCommand) -> Result<(), Failure> {
    let client = client(url)?;
    // What the service says is shown on one line each: no name can forge a line.
    let print = |job: &JobView, json: bool| match json {
        true => println!("{}", serde_json::to_string(job).expect("a job serializes")),
        false => println!(
            "{}  {:<24} {:<10} {:>8}/{:<8} {} -> {}",
            printable(&job.id),
            job.status,
            printable(&job.user),
            job.counters.objects_done,
            job.counters.objects_listed,
            printable(&shown_location(&job.source, job.source_endpoint.as_deref())),
            printable(&shown_location(&job.dest, job.dest_endpoint.as_deref())),
        ),
    };
    match command {
        JobsCommand::List { status, json, .. } => {
            for job in client
                .jobs(status.map(|s| s.as_str()))
                .await
                .map_err(failure)?
            {
                print(&job, *json);
            }
        }
        JobsCommand::Show { id, json } => {
            let job = client.job(id).await.map_err(failure)?;
            match json {
                true => print(&job, true),
                false => {
                    let failures = client
                        .failures_page(&job.id, None, FAILURES_SHOWN)
                        .await
                        .map_err(failure)?;
                    print_show(&Shown::of_view(&job, &failures));
                }
            }
        }
        JobsCommand::Failures { id, json } => {
            for f in client.failures(id).await.map_err(failure)? {
                match json {
                    true => println!("{}", serde_json::to_string(&f).expect("serializes")),
                    false => println!(
                        "{}\t{} attempts\t{}: {}",
                        printable(&f.key),
                        f.attempts,
                        printable(&f.error_class),
                        printable(&f.message)
                    ),
                }
            }
        }
        JobsCommand::Pause { id } => act(&client, id, "pause", None).await?,
        JobsCommand::Cancel { id, .. } => act(&client, id, "cancel", None).await?,
        JobsCommand::Resume(again) => {
            act(&client, &again.id, "resume", None).await?;
            return follow(&client, &again.id, again.output.json).await;
        }
        JobsCommand::Retry { job, name_policy } => {
            act(&client, &job.id, "retry", *name_policy).await?;
            return follow(&client, &job.id, job.output.json).await;
        }
        JobsCommand::Clean { .. } => {
            return Err(Failure::usage(
                "jobs clean works on this machine's catalogue; leave out --server",
            ))
        }
    }
    Ok(())
}

async fn act(
    client: &Client,
    id: &str,
    action: &str,
    name_policy: Option<NamePolicy>,
) -> Result<(), Failure> {
    let options = ActionOptions { name_policy };
    let job = client.act(id, action, &options).await.map_err(failure)?;
    println!("Job {} {}", job.id, job.status);
    Ok(())
}
