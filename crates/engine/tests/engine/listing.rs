//! 20,000 keys over uneven prefixes, ASCII and not: listed in parallel key ranges, the result
//! equals the plain sequential listing (as sets), with no key twice, on both emulators; and
//! on S3, the cuts cost few requests beyond the sequential listing's pages.

use awcopy_engine::lister::{list_parallel, ListerConfig};
use awcopy_store::{ListRequest, OpenOptions};
use awcopy_testkit::fault_proxy::{FaultProxy, Faults};
use awcopy_testkit::{self as kit, Kind};
use futures::TryStreamExt;
use std::collections::HashSet;
use std::sync::atomic::Ordering;

const KEYS: usize = 20_000;
const PAGE: usize = 400;

fn key(i: usize) -> String {
    match i % 20 {
        0..=9 => format!("logs/2026/11/{:02}/{i:06}.log", i % 30),
        10..=14 => format!("a/{i}"),
        15 | 16 => format!("日本/データ/{i}"),
        17 => format!("🎉/{i}"),
        18 => format!("ＦＵＬＬ{i}"),
        _ => format!("{i:x}"),
    }
}

/// Lists the filled store both ways and compares; the parallel listing goes through `proxy`
/// when one is given (S3 only).
async fn compare(kind: Kind, proxy: Option<&FaultProxy>) {
    let (location, _dir) = kit::fresh(kind, "list").await;
    let store = kit::open(&location).await;
    kit::put_tiny(&store, (0..KEYS).map(key)).await;
    let sequential: Vec<String> = store
        .list(ListRequest::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .flat_map(|p| p.objects.into_iter().map(|o| o.key))
        .collect();
    let config = ListerConfig {
        parallelism: 8,
        page_size: PAGE as u32,
        ..Default::default()
    };
    let lister_store = match proxy {
        Some(proxy) => {
            let options = OpenOptions {
                s3_endpoint: Some(proxy.url()),
                ..Default::default()
            };
            awcopy_store::open(&location, &options).await.unwrap()
        }
        None => store.clone(),
    };
    let mut rx = list_parallel(lister_store, "", config, Default::default());
    let mut parallel = Vec::new();
    while let Some(item) = rx.recv().await {
        parallel.push(item.expect("parallel listing").key);
    }
    let expected: HashSet<String> = (0..KEYS).map(key).collect();
    assert_eq!(sequential.len(), KEYS, "{kind:?}: sequential count");
    assert_eq!(
        parallel.len(),
        KEYS,
        "{kind:?}: parallel count (no key twice, none lost)"
    );
    assert_eq!(
        sequential.into_iter().collect::<HashSet<_>>(),
        expected,
        "{kind:?}"
    );
    assert_eq!(
        parallel.into_iter().collect::<HashSet<_>>(),
        expected,
        "{kind:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_parallel_equals_sequential_in_few_requests() {
    let proxy = FaultProxy::start(&kit::s3_endpoint(), Faults::default()).await;
    compare(Kind::S3, Some(&proxy)).await;
    // 50 pages listed one after another; cuts made at code-point midpoints (past every key of
    // an ASCII range) listed ~3 times that, cuts among the page's characters a few more.
    let pages = KEYS.div_ceil(PAGE) as u64;
    let requests = proxy.counters.requests.load(Ordering::Relaxed);
    assert!(
        requests <= pages + pages / 2,
        "{requests} list requests for {pages} pages"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_parallel_equals_sequential() {
    compare(Kind::Azure, None).await;
}

/// A local tree is listed in one range (it is walked whole per listing); still every key once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_parallel_equals_sequential() {
    compare(Kind::Local, None).await;
}
