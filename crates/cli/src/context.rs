//! What every command that touches jobs needs: the catalogue and a runner over it.

use awcopy_jobs::runner::JobRunner;
use awcopy_jobs::{Catalog, CatalogAddress};
use std::sync::Arc;

use crate::args::Cli;
use crate::failure::Failure;

/// A runner over the catalogue `--db` names, or the default one.
pub async fn runner(cli: &Cli) -> Result<JobRunner, Failure> {
    let address = catalog_address(cli, |configured| configured)?;
    Ok(JobRunner::new(Arc::new(Catalog::open(address).await?)))
}

/// The catalogue `--db` names (see [`address_argument`]); else `default` of the configured
/// one (`$AWCOPY_DB`, else the file in the user's data directory).
pub fn catalog_address(
    cli: &Cli,
    default: impl FnOnce(CatalogAddress) -> CatalogAddress,
) -> Result<CatalogAddress, Failure> {
    match &cli.db {
        Some(text) => address_argument("--db", text),
        None => CatalogAddress::configured()
            .map(default)
            .map_err(|e| Failure::usage(format!("AWCOPY_DB: {e}"))),
    }
}

/// The catalogue `text`, given as `flag` on the command line: a password in it is refused,
/// since any user of the machine could read it in `ps` while awcopy runs.
pub fn address_argument(flag: &str, text: &str) -> Result<CatalogAddress, Failure> {
    let address: CatalogAddress = text
        .parse()
        .map_err(|e| Failure::usage(format!("{flag}: {e}")))?;
    if address.has_password() {
        return Err(Failure::usage(format!(
            "{flag}: {address} was given with a password, which any user of this machine can read in `ps` while awcopy runs; put the password in PGPASSWORD or a pgpass file (PGPASSFILE), or the whole URL in AWCOPY_DB"
        )));
    }
    Ok(address)
}
