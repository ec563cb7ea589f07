//! `awcopy schedule add|list|pause|resume|rm --via URL`: schedules of a job service.

use awcopy_engine::spec::Mode;
use awcopy_jobs::Schedule;
use awcopy_service::wire::ScheduleInput;

use crate::args::{Cli, ScheduleCommand};
use crate::commands::remote::{client, failure, remote_spec};
use crate::failure::Failure;

/// Runs `awcopy schedule ...`.
pub async fn run(cli: &Cli, command: &ScheduleCommand) -> Result<(), Failure> {
    match command {
        ScheduleCommand::Add(add) => {
            let via = add.copy.via.as_deref().ok_or_else(|| {
                Failure::usage("schedule add: give --via URL, the service that runs it")
            })?;
            if add.copy.wait {
                return Err(Failure::usage(
                    "--wait follows one job; a schedule's runs are listed by `awcopy jobs list --server URL`",
                ));
            }
            let mut spec = remote_spec(cli, &add.copy, Mode::Copy)?;
            // The first run's watermark; each run's own is set by the service.
            let first = spec.filters.modified_since.take().map(|at| {
                at.format(&time::format_description::well_known::Rfc3339)
                    .expect("a time formats")
            });
            let input = ScheduleInput {
                name: add.copy.job_name.clone(),
                template: Some(serde_json::to_value(&spec).expect("a spec serializes")),
                every: add.every.clone(),
                cron: add.cron.clone(),
                enabled: Some(!add.off),
                modified_since: first,
                overlap: add.overlap.clone(),
                max_failures: add.max_failures,
            };
            let schedule = client(via)?
                .create_schedule(&input)
                .await
                .map_err(failure)?;
            println!("Schedule {} added", schedule.id);
            print_row(&schedule);
        }
        ScheduleCommand::List { via, json } => {
            for schedule in client(via)?.schedules().await.map_err(failure)? {
                match json {
                    true => println!("{}", serde_json::to_string(&schedule).expect("serializes")),
                    false => print_row(&schedule),
                }
            }
        }
        ScheduleCommand::Pause(one) | ScheduleCommand::Resume(one) => {
            let enabled = matches!(command, ScheduleCommand::Resume(_));
            let input = ScheduleInput {
                enabled: Some(enabled),
                ..ScheduleInput::default()
            };
            let schedule = client(&one.via)?
                .patch_schedule(&one.id, &input)
                .await
                .map_err(failure)?;
            print_row(&schedule);
        }
        ScheduleCommand::Rm(one) => {
            client(&one.via)?
                .delete_schedule(&one.id)
                .await
                .map_err(failure)?;
            println!(
                "Schedule {} deleted; its runs stay in `awcopy jobs list`",
                one.id
            );
        }
    }
    Ok(())
}

/// One schedule on one line.
fn print_row(s: &Schedule) {
    let when = match (&s.cron, s.every_secs) {
        (Some(cron), _) => format!("cron '{cron}'"),
        (None, Some(secs)) => format!("every {secs}s"),
        _ => "never".to_owned(),
    };
    let state = match (&s.disabled_reason, s.enabled) {
        (_, true) => match s.next_run {
            Some(next) => format!("on, next run {next}"),
            None => "on, next run -".to_owned(),
        },
        (Some(why), false) => format!("off: {why}"),
        (None, false) => "off".to_owned(),
    };
    println!(
        "{}  {}  {} -> {}  {when}  {state}",
        s.id,
        s.user,
        s.template["source"].as_str().unwrap_or("?"),
        s.template["dest"].as_str().unwrap_or("?"),
    );
}
