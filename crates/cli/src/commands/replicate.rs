//! `awcopy replicate add|list|pause|resume|rm --via URL`: replications of a job service.

use awcopy_engine::spec::Mode;
use awcopy_service::wire::{ReplicationInput, ReplicationPatch, ReplicationView};

use crate::args::{Cli, ReplicateCommand};
use crate::commands::remote::{client, failure, remote_spec};
use crate::failure::Failure;
use crate::render::printable;

/// Runs `awcopy replicate ...`.
pub async fn run(cli: &Cli, command: &ReplicateCommand) -> Result<(), Failure> {
    match command {
        ReplicateCommand::Add(add) => {
            let via = add.copy.via.as_deref().ok_or_else(|| {
                Failure::usage("replicate add: give --via URL, the service that runs it")
            })?;
            if add.copy.wait {
                return Err(Failure::usage(
                    "--wait follows one job; a replication runs until it is removed: see `awcopy replicate list --via URL`",
                ));
            }
            let spec = remote_spec(cli, &add.copy, Mode::Sync)?;
            let input = ReplicationInput {
                name: add.copy.job_name.clone(),
                spec: Some(serde_json::to_value(&spec).expect("a spec serializes")),
                queue: Some(add.queue.clone()),
                deletions: Some(add.deletions),
                reconcile: add.reconcile.clone(),
                enabled: Some(!add.off),
            };
            let made = client(via)?
                .create_replication(&input)
                .await
                .map_err(failure)?;
            println!("Replication {} added", printable(&made.id));
            print_row(&made);
        }
        ReplicateCommand::List { via, json } => {
            for replication in client(via)?.replications().await.map_err(failure)? {
                match json {
                    true => println!(
                        "{}",
                        serde_json::to_string(&replication).expect("serializes")
                    ),
                    false => print_row(&replication),
                }
            }
        }
        ReplicateCommand::Pause(one) | ReplicateCommand::Resume(one) => {
            let input = ReplicationPatch {
                enabled: Some(matches!(command, ReplicateCommand::Resume(_))),
                ..ReplicationPatch::default()
            };
            let changed = client(&one.via)?
                .patch_replication(&one.id, &input)
                .await
                .map_err(failure)?;
            print_row(&changed);
        }
        ReplicateCommand::Rm(one) => {
            client(&one.via)?
                .delete_replication(&one.id)
                .await
                .map_err(failure)?;
            println!(
                "Replication {} deleted, with its reconcile schedule; the jobs it ran stay",
                printable(&one.id)
            );
        }
    }
    Ok(())
}

/// One replication on one line (what the service says, control characters escaped).
fn print_row(r: &ReplicationView) {
    let deletions = match r.deletions {
        true => "deletions on",
        false => "deletions off",
    };
    let state = match &r.error {
        Some(why) => format!("{}: {}", printable(&r.state), printable(why)),
        None => printable(&r.state).into_owned(),
    };
    let depth = r
        .queue_depth
        .map_or_else(|| "-".to_owned(), |d| d.to_string());
    println!(
        "{}  {}  {} -> {}  queue {}  {state}  {deletions}  events {} received, {} applied, {} ignored, {} failed  lag {:.1}s  queued {depth}",
        printable(&r.id),
        printable(&r.user),
        printable(&r.source),
        printable(&r.dest),
        printable(&r.queue),
        r.events.received,
        r.events.applied,
        r.events.ignored,
        r.events.failed,
        r.lag_seconds,
    );
}
