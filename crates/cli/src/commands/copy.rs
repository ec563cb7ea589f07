//! `awcopy cp`, `sync` and `mv`: the flags become a job spec, the runner records and runs it,
//! and what happened to every object is shown.

use awcopy_engine::overwrite::{Confirm, Overwrite};
use awcopy_engine::spec::Mode;
use awcopy_jobs::runner::{run_unrecorded, Prepared};
use std::sync::Arc;

use crate::args::{Cli, CopyArgs};
use crate::commands::follow::{follow, Shown};
use crate::commands::prompt::{confirm, TerminalConfirm};
use crate::commands::remote;
use crate::context;
use crate::failure::{run_failure, Failure};
use crate::{pricing, settings};

/// Runs `awcopy cp`, `sync` (deleting extras with `delete`) or `mv`: a new job, unless an
/// unfinished one does the same (or `--dry-run` / `--no-catalog`: a run not recorded).
pub async fn run(cli: &Cli, args: &CopyArgs, mode: Mode, delete: bool) -> Result<(), Failure> {
    let spec = settings::copy_spec(cli, settings::user(cli), args, mode, delete)?;
    if args.via.is_none() {
        settings::refuse_prompt_without_terminal(&spec)?;
    }
    match mode {
        Mode::Move => confirm(
            args,
            "awcopy mv deletes each source object once its copy is verified.",
        )?,
        Mode::Sync if delete => confirm(
            args,
            "awcopy sync --delete deletes objects under DEST that SOURCE does not have.",
        )?,
        _ => {}
    }
    if let Some(url) = &args.via {
        return remote::submit(url, args, spec).await;
    }
    let access = settings::access(Some(&args.source), Some(&args.dest));
    let prepared = Prepared::new(spec, &access).await?;
    let mut shown = Shown::new(&args.output, args.job_name.clone())?;
    if args.dry_run {
        // A dry run prices the plan: every planned object's size goes to the estimator.
        let estimator = pricing::estimator(
            (&prepared.source, prepared.source_store().as_ref()),
            Some((&prepared.dest, prepared.dest_store().as_ref())),
            (args.source_region.clone(), args.dest_region.clone()),
            &prepared.spec.sizes,
        );
        shown.price(estimator, prepared.dest.to_string());
    }
    let asks = prepared.spec.overwrite_policy() == Overwrite::Prompt;
    let confirm = asks.then(|| Arc::new(TerminalConfirm::default()) as Arc<dyn Confirm>);
    let hooks = shown.hooks(confirm);
    let handle = if args.dry_run || args.no_catalog {
        run_unrecorded(prepared, hooks, args.dry_run)
    } else {
        context::runner(cli)
            .await?
            .start(prepared, hooks, args.new, None)
            .await
            .map_err(|e| run_failure(e, "start"))?
    };
    follow(handle, shown).await
}
