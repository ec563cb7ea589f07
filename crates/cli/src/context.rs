//! What every command that touches jobs needs: the catalogue and a runner over it.

use awcopy_jobs::runner::JobRunner;
use awcopy_jobs::{Catalog, CatalogError, JobCatalog, JobRecord};
use std::sync::Arc;

use crate::args::Cli;
use crate::failure::Failure;
use crate::settings;

/// A runner over the catalogue `--db` names, or the default one.
pub async fn runner(cli: &Cli) -> Result<JobRunner, Failure> {
    let path = cli.db.clone().unwrap_or_else(Catalog::default_path);
    Ok(JobRunner::new(Arc::new(Catalog::open(&path).await?)))
}

/// Job `id`, its stored command line (from an awcopy before specs) read once and stored as
/// a spec, so the runner can read it.
pub async fn upgraded(catalog: &Arc<dyn JobCatalog>, id: &str) -> Result<JobRecord, Failure> {
    let job = catalog.find(id).await?;
    match job.job_spec() {
        Err(CatalogError::Spec {
            legacy_argv: true, ..
        }) => {
            let argv: Vec<String> = job
                .spec
                .get("argv")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            let spec = settings::spec_from_argv(&argv, &job.user).map_err(|why| {
                Failure::usage(format!(
                    "job {}: {why}; start the copy again (with --new)",
                    job.id
                ))
            })?;
            catalog.store_spec(&job.id, &spec).await?;
            Ok(catalog.find(&job.id).await?)
        }
        _ => Ok(job),
    }
}
