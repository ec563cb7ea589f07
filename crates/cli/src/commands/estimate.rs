//! Pricing a copy for `ls --estimate` and `cp --dry-run`: building the estimator from the
//! stores involved, finding the price book, printing the result.

use awcopy_engine::estimate::{CostEstimator, Destination, Estimate, Route, Site};
use awcopy_engine::pricing::PriceBook;
use awcopy_store::{Location, Provider, Store};
use std::io::Write;
use std::path::Path;

use crate::args::SizeArgs;
use crate::failure::Failure;
use crate::output::write_failed;

/// An estimator for copying from `source` to `dest` (or downloading, with no `dest`) with
/// objects cut as `sizes` says; regions not given are read from AWS_REGION /
/// AWS_DEFAULT_REGION for S3.
pub fn estimator(
    source: (&Location, &dyn Store),
    dest: Option<(&Location, &dyn Store)>,
    regions: (Option<String>, Option<String>),
    sizes: &SizeArgs,
) -> CostEstimator {
    let (source_location, source_store) = source;
    let source_region = regions.0.or_else(|| env_region(source_location));
    let site = Site::of(source_location, source_store.capabilities(), source_region);
    let destination = dest.map(|(location, store)| Destination {
        site: Site::of(
            location,
            store.capabilities(),
            regions.1.or_else(|| env_region(location)),
        ),
        route: Route::between(source_store.capabilities(), store.capabilities()),
        capabilities: store.capabilities().clone(),
    });
    CostEstimator::new(site, destination, sizes.block_size).with_cutoffs(sizes.cutoffs())
}

/// The price book: the built-in one, or `path`.
pub fn price_book(path: Option<&Path>) -> Result<PriceBook, Failure> {
    let Some(path) = path else {
        return Ok(PriceBook::builtin());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("--prices {}: {e}", path.display())))?;
    PriceBook::from_json(&text)
        .map_err(|e| Failure::usage(format!("--prices {}: {e}", path.display())))
}

/// Prints an estimate as a table.
pub fn print_estimate(
    out: &mut impl Write,
    estimate: &Estimate,
    to: Option<&str>,
) -> Result<(), Failure> {
    let target = match (to, estimate.route) {
        (Some(to), Some(route)) => format!("copying to {to} ({})", route_name(route)),
        _ => "downloading it".to_owned(),
    };
    let mut text = format!(
        "\nEstimated cost of {target}, {} at prices of {}:\n",
        estimate.currency, estimate.prices_as_of
    );
    for line in &estimate.lines {
        text.push_str(&format!(
            "  {:<58} {:>16.3} {:<8} {:>12.4}\n",
            line.item, line.quantity, line.unit, line.cost
        ));
    }
    text.push_str(&format!(
        "  {:<58} {:>16} {:<8} {:>12.4}\n",
        "Total", "", "", estimate.total
    ));
    for note in &estimate.notes {
        text.push_str(&format!("  note: {note}\n"));
    }
    out.write_all(text.as_bytes()).map_err(write_failed)
}

fn route_name(route: Route) -> &'static str {
    match route {
        Route::Native => "server-side copy",
        Route::FromUrl => "server-side, destination pulls from URLs",
        Route::Streamed => "streamed through this machine",
    }
}

/// The region of an S3 location when neither the URL nor a flag names it.
fn env_region(location: &Location) -> Option<String> {
    (location.provider() == Provider::S3)
        .then(|| {
            ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .iter()
                .find_map(|v| std::env::var(v).ok())
        })
        .flatten()
        .filter(|r| !r.is_empty())
}
