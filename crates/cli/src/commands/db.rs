//! `awcopy db migrate --from FILE|URL --to FILE|URL`: a catalogue moved into another.

use awcopy_jobs::{Catalog, CatalogAddress};

use crate::args::DbCommand;
use crate::context::address_argument;
use crate::failure::Failure;

/// Runs `awcopy db ...`.
pub async fn run(command: &DbCommand) -> Result<(), Failure> {
    match command {
        DbCommand::Migrate { from, to } => {
            let (from, to) = (
                address_argument("--from", from)?,
                address_argument("--to", to)?,
            );
            if from == to {
                return Err(Failure::usage(format!(
                    "--to: {to} is the catalogue --from names; give another, empty one"
                )));
            }
            if let CatalogAddress::Sqlite(path) = &from {
                // Opening would make an empty catalogue there, and move nothing.
                if !path.is_file() {
                    return Err(Failure::usage(format!(
                        "--from: {} is not a file; give the catalogue to move",
                        path.display()
                    )));
                }
            }
            let source = Catalog::open(from.clone()).await?;
            let dest = Catalog::open(to.clone()).await?;
            let moved = source.migrate_into(&dest).await?;
            for (table, rows) in &moved {
                println!("{table:<14} {rows:>12} rows");
            }
            println!("moved {from} into {to}");
            Ok(())
        }
    }
}
