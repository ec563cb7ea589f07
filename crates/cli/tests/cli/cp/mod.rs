//! `awcopy cp` and `awcopy check` as a user runs them, against the emulators: every copied key
//! and byte checked, filters, single objects, memory bound, bad input.

mod copies;
mod disks;
mod memory;
mod policies;
mod recorded;

use crate::common::stdout;
use awcopy_store::{ListRequest, ObjectAttributes, Store};
use futures::TryStreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The last line of `--json` output: the report.
pub(super) fn summary_line(output: &std::process::Output) -> serde_json::Value {
    let text = stdout(output);
    let last = text.lines().last().expect("a summary line");
    let summary: serde_json::Value = serde_json::from_str(last).expect("JSON summary");
    assert_eq!(summary["type"], "summary", "{text}");
    summary
}

pub(super) async fn put(store: &Arc<dyn Store>, key: &str, data: Vec<u8>) {
    store
        .put(key, data.into(), &ObjectAttributes::default(), None)
        .await
        .unwrap();
}

pub(super) async fn contents(store: &Arc<dyn Store>, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let pages: Vec<_> = store
        .list(ListRequest {
            prefix: prefix.into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for object in pages.into_iter().flat_map(|p| p.objects) {
        let got = store.get(&object.key, None).await.unwrap();
        let bytes = got.body.try_collect::<Vec<_>>().await.unwrap().concat();
        out.insert(object.key[prefix.len()..].to_owned(), bytes);
    }
    out
}
