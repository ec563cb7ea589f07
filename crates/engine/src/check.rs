//! `check`: compares a source and a destination without copying. Keys missing on either side,
//! and objects that differ in size or content. Content is compared by CRC-64/NVME: taken from
//! the store where it keeps one, computed by reading the object where it does not.

use awcopy_store::{ObjectMeta, Store, StoreError};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::checksum::Crc64;
use crate::index::{IndexOptions, ObjectIndex};
use crate::lister::{list_parallel, ListerConfig};
use crate::retry::{RetryPolicy, RetryStats};

/// A difference between the two sides. Keys are relative to each side's prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Finding {
    /// In the source only.
    Missing {
        /// The key.
        key: String,
    },
    /// In the destination only.
    Extra {
        /// The key.
        key: String,
    },
    /// On both sides but different.
    Different {
        /// The key.
        key: String,
        /// How.
        reason: String,
    },
}

/// Receives each difference as it is found (missing and different ones in the source's
/// listing order, then the extras in key order), so that a check holds none of them.
pub trait FindingSink: Send + Sync + std::fmt::Debug {
    /// One difference.
    fn found(&self, finding: Finding);
}

/// How far a check has gone, for a display while it runs: first the destination is listed
/// (into an index), then the source walks by it.
#[derive(Debug, Default)]
pub struct CheckProgress {
    /// Destination objects listed.
    pub dest_listed: AtomicU64,
    /// Source objects met (compared, or found missing).
    pub source_listed: AtomicU64,
    /// Differences found so far (missing, different; the extras come at the end).
    pub differences: AtomicU64,
}

/// How to compare.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Listing settings for both sides.
    pub lister: ListerConfig,
    /// Compare sizes only.
    pub size_only: bool,
    /// Objects compared by content at once.
    pub concurrency: usize,
    /// Retry settings.
    pub retry: RetryPolicy,
    /// How much of the destination's listing is held in memory.
    pub index: IndexOptions,
    /// Where each difference goes (none: only counted).
    pub findings: Option<Arc<dyn FindingSink>>,
    /// Where the check counts how far it has gone.
    pub progress: Arc<CheckProgress>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            lister: ListerConfig::default(),
            size_only: false,
            concurrency: 16,
            retry: RetryPolicy::default(),
            index: IndexOptions::default(),
            findings: None,
            progress: Arc::default(),
        }
    }
}

/// One side of the comparison: a store and the prefix whose keys are compared.
pub struct Side {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The prefix; keys are compared relative to it.
    pub prefix: String,
}

/// What a check counted (each difference went to [`CheckOptions::findings`]).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    /// Objects present on both sides and equal.
    pub matching: u64,
    /// Objects in the source only.
    pub missing: u64,
    /// Objects in the destination only.
    pub extra: u64,
    /// Objects on both sides but different.
    pub different: u64,
    /// Objects whose content had to be read to compute a checksum.
    pub read_to_compare: u64,
    /// The most destination objects held in memory at once (the rest were in a file).
    pub in_memory_peak: u64,
}

impl CheckReport {
    /// Whether the two sides hold the same objects.
    pub fn is_equal(&self) -> bool {
        self.missing == 0 && self.extra == 0 && self.different == 0
    }
}

/// The CRC-64/NVME of an object: as the listing or a HEAD reports it, else by reading it.
/// The flag says whether the object was read.
async fn crc_of(
    store: &dyn Store,
    meta: &ObjectMeta,
    retry: &RetryPolicy,
    stats: &RetryStats,
) -> Result<(u64, bool), StoreError> {
    if let Some(crc) = meta.checksums.crc64nvme {
        return Ok((crc, false));
    }
    let head = retry.run(stats, || store.head(&meta.key)).await?;
    if let Some(crc) = head.checksums.crc64nvme {
        return Ok((crc, false));
    }
    let crc = retry
        .run(stats, || async {
            let got = store.get(&meta.key, None).await?;
            let mut crc = Crc64::default();
            let mut body = got.body;
            while let Some(chunk) = body.try_next().await? {
                crc.update(&chunk);
            }
            Ok(crc.value())
        })
        .await?;
    Ok((crc, true))
}

/// Compares `source` with `dest`: the destination's listing goes into an index (in memory
/// up to `options.index`'s budget, then in a temporary file), then the source's listing walks
/// by, each object taking its counterpart; what no source object took is extra. Nothing
/// holds every key in memory.
pub async fn check(
    source: Side,
    dest: Side,
    options: CheckOptions,
) -> Result<CheckReport, StoreError> {
    let stats = Arc::new(RetryStats::default());
    let index = ObjectIndex::new(options.index.clone());
    // The source lister starts at once; its bounded channel holds it until the walk.
    let mut sources = list_parallel(
        source.store.clone(),
        &source.prefix,
        options.lister.clone(),
        stats.clone(),
    );
    let mut dests = list_parallel(
        dest.store.clone(),
        &dest.prefix,
        options.lister.clone(),
        stats.clone(),
    );
    let progress = options.progress.clone();
    index
        .insert_listing(&mut dests, dest.prefix.len(), Some(&progress.dest_listed))
        .await?;

    let mut report = CheckReport::default();
    let found = |finding: Finding| {
        progress.differences.fetch_add(1, Ordering::Relaxed);
        if let Some(sink) = &options.findings {
            sink.found(finding);
        }
    };
    let (pairs, pending) = tokio::sync::mpsc::channel(options.concurrency.max(1) * 2);
    let walk = async {
        while let Some(from) = sources.recv().await {
            let from = from?;
            progress.source_listed.fetch_add(1, Ordering::Relaxed);
            let key = from.key[source.prefix.len()..].to_owned();
            match index.take(&key)? {
                None => {
                    report.missing += 1;
                    found(Finding::Missing { key });
                }
                Some(to) if to.size != from.size => {
                    report.different += 1;
                    found(Finding::Different {
                        key,
                        reason: format!(
                            "size {} in the source, {} in the destination",
                            from.size, to.size
                        ),
                    });
                }
                Some(_) if options.size_only => report.matching += 1,
                Some(to) => {
                    if pairs.send((key, from, to)).await.is_err() {
                        break;
                    }
                }
            }
        }
        drop(pairs);
        Ok::<_, StoreError>(())
    };
    let compare = futures::stream::unfold(pending, |mut pending| async move {
        pending.recv().await.map(|pair| (pair, pending))
    })
    .map(|(key, from, to)| {
        let (source, dest, options, stats) = (&source, &dest, &options, &stats);
        async move {
            let (a, read_a) = crc_of(source.store.as_ref(), &from, &options.retry, stats).await?;
            let (b, read_b) = crc_of(dest.store.as_ref(), &to, &options.retry, stats).await?;
            Ok::<_, StoreError>((key, a == b, u64::from(read_a) + u64::from(read_b)))
        }
    })
    .buffer_unordered(options.concurrency.max(1))
    .try_fold(
        (0u64, 0u64, 0u64),
        |(mut matching, mut differing, mut reads), (key, equal, read)| {
            reads += read;
            match equal {
                true => matching += 1,
                false => {
                    differing += 1;
                    found(Finding::Different {
                        key,
                        reason: "content differs (CRC-64/NVME)".to_owned(),
                    });
                }
            }
            std::future::ready(Ok((matching, differing, reads)))
        },
    );
    let ((), (matching, differing, reads)) = tokio::try_join!(walk, compare)?;
    report.matching += matching;
    report.different += differing;
    report.read_to_compare = reads;
    report.in_memory_peak = index.peak_in_memory() as u64;
    index
        .walk_left(|page| {
            report.extra += page.len() as u64;
            for (key, _) in page {
                found(Finding::Extra { key });
            }
            std::future::ready(Ok(()))
        })
        .await?;
    Ok(report)
}
