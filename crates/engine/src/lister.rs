//! Parallel listing by key range. One range starts with the whole prefix; a range whose page
//! comes back full while workers are idle is cut at a key midway between its last key and its
//! end, or a few pages' span past the page if that is nearer (computed in the strings over the
//! page's characters, so that both halves hold keys), and the far half goes to another worker;
//! the pages this range already asked for are kept, up to the cut. Objects flow out through a
//! bounded channel as pages arrive, so copying starts with the first page and memory stays
//! flat. With a [`Journal`], every range, page and cut is recorded as it happens, so a resumed
//! job lists only what was left.

use awcopy_store::{KeyOrder, ListPage, ListRequest, ObjectMeta, Store, StoreError};
use futures::TryStreamExt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

use crate::journal::{Journal, ListRange};
use crate::keyrange::{cut_after_page, Alphabet};
use crate::retry::{RetryPolicy, RetryStats};

/// How to list.
#[derive(Debug, Clone)]
pub struct ListerConfig {
    /// Ranges listed at once.
    pub parallelism: usize,
    /// Keys asked for per page.
    pub page_size: u32,
    /// Objects buffered between the lister and its consumer.
    pub channel_capacity: usize,
    /// Retries of a failed page.
    pub retry: RetryPolicy,
}

impl Default for ListerConfig {
    fn default() -> Self {
        Self {
            parallelism: 8,
            page_size: 1000,
            channel_capacity: 10_000,
            retry: RetryPolicy::default(),
        }
    }
}

/// About how many pages' span a cut leaves with the range when its end is far or unknown.
/// Each cut costs about one page listed in vain (the one already asked for past the cut),
/// so cuts should be few; a range that nears its end is still halved for idle workers.
const PAGES_KEPT: u64 = 16;

struct Shared {
    store: Arc<dyn Store>,
    prefix: String,
    config: ListerConfig,
    order: KeyOrder,
    /// Ranges queued or being listed; the listing is over when it reaches zero.
    outstanding: AtomicUsize,
    /// Workers listing right now.
    busy: AtomicUsize,
    ranges: mpsc::UnboundedSender<ListRange>,
    objects: mpsc::Sender<Result<ObjectMeta, StoreError>>,
    retry_stats: Arc<RetryStats>,
    journal: Option<Arc<dyn Journal>>,
    /// The id of the next range cut off.
    next_id: AtomicU64,
}

/// Where a listing records its progress, and the id its next new range takes.
#[derive(Debug, Clone)]
pub struct ListJournal {
    /// The journal.
    pub journal: Arc<dyn Journal>,
    /// An id no range of the job has yet.
    pub next_id: u64,
}

/// Starts listing every object under `prefix`, in parallel key ranges. Each object arrives
/// once on the returned channel; an error that exhausts its retries arrives as an `Err` and
/// ends the listing.
pub fn list_parallel(
    store: Arc<dyn Store>,
    prefix: &str,
    config: ListerConfig,
    retry_stats: Arc<RetryStats>,
) -> mpsc::Receiver<Result<ObjectMeta, StoreError>> {
    list_ranges(
        store,
        prefix,
        config,
        retry_stats,
        vec![ListRange::whole(0)],
        None,
    )
}

/// Like [`list_parallel`], but lists only `ranges` (the unfinished ones of a resumed job),
/// recording progress in `journal` if given.
pub fn list_ranges(
    store: Arc<dyn Store>,
    prefix: &str,
    config: ListerConfig,
    retry_stats: Arc<RetryStats>,
    ranges: Vec<ListRange>,
    journal: Option<ListJournal>,
) -> mpsc::Receiver<Result<ObjectMeta, StoreError>> {
    let (objects_tx, objects_rx) = mpsc::channel(config.channel_capacity.max(1));
    if ranges.is_empty() {
        return objects_rx;
    }
    let (ranges_tx, mut ranges_rx) = mpsc::unbounded_channel();
    let mut config = config;
    if !store.capabilities().ranged_listing {
        config.parallelism = 1;
    }
    let shared = Arc::new(Shared {
        order: store.capabilities().key_order,
        store,
        prefix: prefix.to_owned(),
        config,
        outstanding: AtomicUsize::new(ranges.len()),
        busy: AtomicUsize::new(0),
        ranges: ranges_tx,
        objects: objects_tx,
        retry_stats,
        next_id: AtomicU64::new(journal.as_ref().map_or(1, |j| j.next_id)),
        journal: journal.map(|j| j.journal),
    });
    for range in ranges {
        let _ = shared.ranges.send(range);
    }
    tokio::spawn(async move {
        let limit = Arc::new(tokio::sync::Semaphore::new(
            shared.config.parallelism.max(1),
        ));
        let mut workers = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                Some(range) = ranges_rx.recv() => {
                    let permit = limit.clone().acquire_owned().await.expect("semaphore open");
                    let shared = shared.clone();
                    workers.spawn(async move {
                        let _permit = permit;
                        list_range(&shared, range).await
                    });
                }
                Some(done) = workers.join_next() => {
                    let failed = match done {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some(e),
                        Err(e) => Some(StoreError::new(awcopy_store::ErrorKind::Other, format!("listing task failed: {e}"))),
                    };
                    if let Some(err) = failed {
                        let _ = shared.objects.send(Err(err)).await;
                        return;
                    }
                    if shared.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
                        return;
                    }
                }
                else => return,
            }
        }
    });
    objects_rx
}

/// Lists one range to its end, handing its far half to another worker whenever a full page
/// shows there is more and a worker is idle.
async fn list_range(shared: &Shared, mut range: ListRange) -> Result<(), StoreError> {
    shared.busy.fetch_add(1, Ordering::AcqRel);
    let result = list_range_inner(shared, &mut range).await;
    shared.busy.fetch_sub(1, Ordering::AcqRel);
    if let (Ok(()), Some(journal)) = (&result, &shared.journal) {
        journal.range_done(range.id);
    }
    result
}

async fn list_range_inner(shared: &Shared, range: &mut ListRange) -> Result<(), StoreError> {
    let request = ListRequest {
        prefix: shared.prefix.clone(),
        start_after: range.after.clone(),
        end_before: range.before.clone(),
        page_size: Some(shared.config.page_size),
        delimiter: None,
    };
    // The range's end as cuts move it, so the pages already asked for are kept, not listed
    // again, and the listing stops at the new end.
    let (end, end_seen) = watch::channel(range.before.clone());
    let mut pages = list_pages_until(
        shared.store.clone(),
        request,
        end_seen,
        shared.config.retry.clone(),
        shared.retry_stats.clone(),
    );
    while let Some(page) = pages.recv().await {
        let mut objects = page?.objects;
        let full = objects.len() >= shared.config.page_size as usize;
        // Keys a cut gave away since this page was asked for.
        let kept = range.before.as_deref().map_or(objects.len(), |before| {
            objects.partition_point(|o| shared.order.compare(&o.key, before).is_lt())
        });
        let past_end = kept < objects.len();
        objects.truncate(kept);
        let Some(last) = objects.last().map(|o| o.key.clone()) else {
            if past_end {
                break;
            }
            continue;
        };
        // The page's first key and characters, for a cut that lands among keys like these.
        let shape = (full && !past_end).then(|| {
            let keys = objects.iter().map(|o| o.key.as_str());
            (objects[0].key.clone(), Alphabet::of(shared.order, keys))
        });
        if let Some(journal) = &shared.journal {
            journal.room().await;
            journal.page_listed(range.id, &objects);
        }
        for object in objects {
            if shared.objects.send(Ok(object)).await.is_err() {
                // The consumer has gone: stop quietly, the range unfinished.
                return Err(StoreError::new(
                    awcopy_store::ErrorKind::Interrupted,
                    "the listing's consumer stopped",
                ));
            }
        }
        range.after = Some(last.clone());
        if past_end {
            break;
        }
        let idle = shared.busy.load(Ordering::Acquire) < shared.config.parallelism;
        let Some((first, alphabet)) = shape.filter(|_| idle) else {
            continue;
        };
        let bounds = (first.as_str(), last.as_str());
        let before = range.before.as_deref();
        let Some(cut) = cut_after_page(shared.order, &alphabet, bounds, before, PAGES_KEPT) else {
            continue;
        };
        // Keys up to and including `cut` stay here; the rest go to another worker.
        shared.outstanding.fetch_add(1, Ordering::AcqRel);
        let far = ListRange {
            id: shared.next_id.fetch_add(1, Ordering::Relaxed),
            after: Some(cut.clone()),
            before: range.before.take(),
        };
        let before = format!("{cut}\u{0}");
        if let Some(journal) = &shared.journal {
            journal.range_split(range.id, &before, &far);
        }
        if shared.ranges.send(far).is_err() {
            return Ok(());
        }
        range.before = Some(before.clone());
        end.send_replace(Some(before));
    }
    Ok(())
}

/// Lists `request` page by page, in order, from a task of its own. A page that fails with an
/// error worth retrying restarts the listing after the last key or common prefix seen; other
/// errors, and retries run out, arrive as an `Err` and end it. Dropping the receiver stops it.
pub fn list_pages(
    store: Arc<dyn Store>,
    request: ListRequest,
    retry: RetryPolicy,
    stats: Arc<RetryStats>,
) -> mpsc::Receiver<Result<ListPage, StoreError>> {
    let (_, end) = watch::channel(request.end_before.clone());
    list_pages_until(store, request, end, retry, stats)
}

/// Like [`list_pages`], but up to the end `end` holds when each page is asked for (it may
/// move down while the range is listed).
fn list_pages_until(
    store: Arc<dyn Store>,
    request: ListRequest,
    end: watch::Receiver<Option<String>>,
    retry: RetryPolicy,
    stats: Arc<RetryStats>,
) -> mpsc::Receiver<Result<ListPage, StoreError>> {
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(async move {
        let order = store.capabilities().key_order;
        let mut request = request;
        let mut failures = 0;
        // Whether the listing has reached `end`.
        let done = |request: &ListRequest| match (&request.start_after, &*end.borrow()) {
            (Some(after), Some(end)) => order.compare(after, end).is_ge(),
            _ => false,
        };
        'restart: loop {
            request.end_before = end.borrow().clone();
            let mut pages = store.list(request.clone());
            loop {
                if done(&request) {
                    return;
                }
                let page = match pages.try_next().await {
                    Ok(Some(page)) => page,
                    Ok(None) => return,
                    Err(err) => {
                        failures += 1;
                        if retry.should_retry(&stats, failures, &err).await {
                            continue 'restart;
                        }
                        let _ = tx.send(Err(err)).await;
                        return;
                    }
                };
                failures = 0;
                // Resume after whatever this page reached: its last key, or everything under
                // its last common prefix.
                let last_key = page.objects.last().map(|o| o.key.clone());
                let past_prefix = page
                    .prefixes
                    .last()
                    .map(|p| format!("{p}{}", order.last_char()));
                let resume = [last_key, past_prefix]
                    .into_iter()
                    .flatten()
                    .max_by(|a, b| order.compare(a, b));
                if resume.is_some() {
                    request.start_after = resume;
                }
                if tx.send(Ok(page)).await.is_err() {
                    return;
                }
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use awcopy_store::{Location, ObjectAttributes, OpenOptions};
    use std::collections::HashSet;

    async fn collect(mut rx: mpsc::Receiver<Result<ObjectMeta, StoreError>>) -> Vec<String> {
        let mut keys = Vec::new();
        while let Some(item) = rx.recv().await {
            keys.push(item.expect("listing").key);
        }
        keys
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_local_tree_lists_every_key_once() {
        // The local store walks its whole tree per listing, so it is listed in one range;
        // cuts are covered against the emulators in tests/listing.rs.
        let dir = tempfile::tempdir().unwrap();
        let store = awcopy_store::open(
            &Location::Local {
                root: dir.path().into(),
                prefix: String::new(),
            },
            &OpenOptions::default(),
        )
        .await
        .unwrap();
        let mut expected = HashSet::new();
        for i in 0..600 {
            let key = match i % 4 {
                0 => format!("a/{i:05}"),
                1 => format!("日本/{i}"),
                2 => format!("z{i}"),
                _ => format!("\u{1F389}{i}"),
            };
            store
                .put(&key, "x".into(), &ObjectAttributes::default(), None)
                .await
                .unwrap();
            expected.insert(key);
        }
        let config = ListerConfig {
            parallelism: 4,
            page_size: 25,
            ..Default::default()
        };
        let keys = collect(list_parallel(store.clone(), "", config, Default::default())).await;
        assert_eq!(keys.len(), expected.len(), "no key twice");
        assert_eq!(keys.into_iter().collect::<HashSet<_>>(), expected);

        let only_a = collect(list_parallel(
            store,
            "a/",
            ListerConfig {
                page_size: 10,
                ..Default::default()
            },
            Default::default(),
        ))
        .await;
        assert_eq!(only_a.len(), 150);
    }
}
