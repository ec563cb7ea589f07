//! What a job would copy and what it would cost, before it runs: its source listed with its
//! filters, counted and priced, within a bound of objects and time (a service answers a form
//! with it; a listing of a hundred million keys is not an answer to wait for).

use serde::Serialize;
use std::time::{Duration, Instant};

use crate::estimate::{CostEstimator, Estimate};
use crate::lister::{list_parallel, ListerConfig};
use crate::prepare::Prepared;
use crate::pricing::{PriceBook, PriceError};
use awcopy_store::StoreError;

/// How far a preview lists before it answers with what it has.
#[derive(Debug, Clone, Copy)]
pub struct PreviewBounds {
    /// The most objects listed.
    pub objects: u64,
    /// The longest time spent listing.
    pub time: Duration,
}

/// What a job would copy and cost.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    /// Objects the job's filters take (those priced).
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Objects listed that the filters leave.
    pub filtered_out: u64,
    /// Whether the whole source was listed; if not, the figures are those of its first
    /// objects and the job holds more.
    pub complete: bool,
    /// What copying the objects taken costs.
    pub estimate: Estimate,
}

/// Either an error of the listing or of the price book.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// The source could not be listed (or its one object read).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The price book does not price this copy.
    #[error(transparent)]
    Prices(#[from] PriceError),
}

/// Lists what `prepared` would copy, up to `bounds`, and prices it with `book`; `regions`
/// are the source's and the destination's when known.
pub async fn preview(
    prepared: Prepared,
    regions: (Option<String>, Option<String>),
    book: &PriceBook,
    bounds: PreviewBounds,
) -> Result<Preview, PreviewError> {
    let mut estimator = CostEstimator::for_stores(
        (&prepared.source, prepared.source_store().as_ref()),
        Some((&prepared.dest, prepared.dest_store().as_ref())),
        regions,
        &prepared.spec.sizes,
    );
    let parallelism = usize::from(prepared.spec.tuning.list_parallelism);
    let (plan, filter) = prepared.into_plan();
    let (mut objects, mut bytes, mut filtered_out) = (0, 0, 0);
    let mut complete = true;
    if let Some(key) = &plan.single_key {
        let meta = plan.source.head(key).await?;
        estimator.add(meta.size);
        (objects, bytes) = (1, meta.size);
    } else {
        let config = ListerConfig {
            parallelism,
            ..ListerConfig::default()
        };
        let mut listing = list_parallel(plan.source, &plan.list_prefix, config, Default::default());
        let deadline = tokio::time::Instant::from_std(Instant::now() + bounds.time);
        loop {
            let next = tokio::time::timeout_at(deadline, listing.recv()).await;
            let Ok(next) = next else {
                complete = false;
                break;
            };
            let Some(meta) = next.transpose()? else { break };
            let relative = &meta.key[plan.strip.min(meta.key.len())..];
            if !filter.accepts(relative, &meta) {
                filtered_out += 1;
                continue;
            }
            estimator.add(meta.size);
            objects += 1;
            bytes += meta.size;
            if objects + filtered_out >= bounds.objects {
                complete = false;
                break;
            }
        }
    }
    Ok(Preview {
        objects,
        bytes,
        filtered_out,
        complete,
        estimate: estimator.finish(book)?,
    })
}
