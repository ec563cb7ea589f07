//! What every command that touches jobs needs: the catalogue and a runner over it.

use awcopy_jobs::runner::JobRunner;
use awcopy_jobs::Catalog;
use std::sync::Arc;

use crate::args::Cli;
use crate::failure::Failure;

/// A runner over the catalogue `--db` names, or the default one.
pub async fn runner(cli: &Cli) -> Result<JobRunner, Failure> {
    let path = cli.db.clone().unwrap_or_else(Catalog::default_path);
    Ok(JobRunner::new(Arc::new(Catalog::open(&path).await?)))
}
