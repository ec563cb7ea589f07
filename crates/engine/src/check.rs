//! `check`: compares a source and a destination without copying. Keys missing on either side,
//! and objects that differ in size or content. Content is compared by CRC-64/NVME: taken from
//! the store where it keeps one, computed by reading the object where it does not.

use awcopy_store::{ObjectMeta, Store, StoreError};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

use crate::checksum::Crc64;
use crate::lister::{list_parallel, ListerConfig};
use crate::retry::{RetryPolicy, RetryStats};

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
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            lister: ListerConfig::default(),
            size_only: false,
            concurrency: 16,
            retry: RetryPolicy::default(),
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

/// What a check found. Keys are relative to each side's prefix.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    /// Objects present on both sides and equal.
    pub matching: u64,
    /// In the source only.
    pub missing: Vec<String>,
    /// In the destination only.
    pub extra: Vec<String>,
    /// On both sides but different, with how.
    pub different: Vec<(String, String)>,
    /// Objects whose content had to be read to compute a checksum.
    pub read_to_compare: u64,
}

impl CheckReport {
    /// Whether the two sides hold the same objects.
    pub fn is_equal(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.different.is_empty()
    }
}

async fn list_all(
    side: &Side,
    lister: &ListerConfig,
    stats: Arc<RetryStats>,
) -> Result<HashMap<String, ObjectMeta>, StoreError> {
    let mut rx = list_parallel(side.store.clone(), &side.prefix, lister.clone(), stats);
    let mut objects = HashMap::new();
    while let Some(item) = rx.recv().await {
        let meta = item?;
        objects.insert(meta.key[side.prefix.len()..].to_owned(), meta);
    }
    Ok(objects)
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

/// Compares `source` with `dest`.
pub async fn check(
    source: Side,
    dest: Side,
    options: CheckOptions,
) -> Result<CheckReport, StoreError> {
    let stats = Arc::new(RetryStats::default());
    let (mut sources, dests) = tokio::try_join!(
        list_all(&source, &options.lister, stats.clone()),
        list_all(&dest, &options.lister, stats.clone())
    )?;
    let mut report = CheckReport::default();
    let mut extra: Vec<String> = dests
        .keys()
        .filter(|k| !sources.contains_key(*k))
        .cloned()
        .collect();
    extra.sort();
    report.extra = extra;

    let mut same_size = Vec::new();
    let mut keys: Vec<String> = sources.keys().cloned().collect();
    keys.sort();
    for key in keys {
        let from = sources.remove(&key).expect("listed");
        match dests.get(&key) {
            None => report.missing.push(key),
            Some(to) if to.size != from.size => report.different.push((
                key,
                format!(
                    "size {} in the source, {} in the destination",
                    from.size, to.size
                ),
            )),
            Some(_) if options.size_only => report.matching += 1,
            Some(to) => same_size.push((key, from, to.clone())),
        }
    }

    let compared: Vec<(String, bool, u64)> = futures::stream::iter(same_size)
        .map(|(key, from, to)| {
            let (source, dest, options, stats) = (&source, &dest, &options, &stats);
            async move {
                let (a, read_a) =
                    crc_of(source.store.as_ref(), &from, &options.retry, stats).await?;
                let (b, read_b) = crc_of(dest.store.as_ref(), &to, &options.retry, stats).await?;
                Ok::<_, StoreError>((key, a == b, u64::from(read_a) + u64::from(read_b)))
            }
        })
        .buffered(options.concurrency.max(1))
        .try_collect()
        .await?;
    for (key, equal, reads) in compared {
        report.read_to_compare += reads;
        if equal {
            report.matching += 1;
        } else {
            report
                .different
                .push((key, "content differs (CRC-64/NVME)".to_owned()));
        }
    }
    report.different.sort();
    Ok(report)
}
