//! Pricing a copy for `ls --estimate` and `cp --dry-run`: the estimator built from the stores
//! involved, and the price book.

use awcopy_engine::estimate::CostEstimator;
use awcopy_engine::pricing::PriceBook;
use awcopy_engine::spec::Sizes;
use awcopy_store::{Location, Provider, Store};
use std::path::Path;

use crate::failure::Failure;

/// An estimator for copying from `source` to `dest` (or downloading, with no `dest`) with
/// objects cut as `sizes` says; regions not given are read from AWS_REGION /
/// AWS_DEFAULT_REGION for S3.
pub fn estimator(
    source: (&Location, &dyn Store),
    dest: Option<(&Location, &dyn Store)>,
    regions: (Option<String>, Option<String>),
    sizes: &Sizes,
) -> CostEstimator {
    let source_region = regions.0.or_else(|| env_region(source.0));
    let dest_region = regions.1.or_else(|| dest.and_then(|(l, _)| env_region(l)));
    CostEstimator::for_stores(source, dest, (source_region, dest_region), sizes)
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
