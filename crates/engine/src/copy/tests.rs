//! The keys a plan's work items may name.

use super::*;
use crate::work::{BlockItem, ObjectItem, WorkItem};
use awcopy_store::{local::LocalStore, ByteRange, Location, ObjectMeta, OpenOptions, UploadId};

fn store(dir: &std::path::Path) -> Arc<dyn Store> {
    let location = Location::Local {
        root: dir.to_path_buf(),
        prefix: String::new(),
    };
    Arc::new(LocalStore::open(&location, &OpenOptions::default()).unwrap())
}

fn objects(pairs: &[(&str, &str)]) -> WorkItem {
    WorkItem::Objects {
        objects: pairs
            .iter()
            .map(|(source, dest)| ObjectItem {
                source: ObjectMeta::new(*source, 1),
                dest_key: dest.to_string(),
                route: Route::Streamed,
            })
            .collect(),
    }
}

#[test]
fn items_outside_their_jobs_prefixes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (source, dest) = (store(dir.path()), store(dir.path()));
    let bounds = CopyPlan::under(source.clone(), dest.clone(), "in/", "out/").key_bounds();
    assert!(bounds
        .check(&objects(&[("in/a", "out/a"), ("in/b/c", "out/b/c")]))
        .is_ok());
    for (source_key, dest_key) in [
        ("etc/passwd", "out/passwd"),
        ("in/a", "elsewhere/a"),
        ("inside", "out/x"),
        ("", "out/x"),
    ] {
        let err = bounds
            .check(&objects(&[("in/ok", "out/ok"), (source_key, dest_key)]))
            .unwrap_err();
        assert!(
            err.to_string().contains("outside its job's prefixes"),
            "{err}"
        );
    }
    let block = WorkItem::Block(BlockItem {
        source_key: "other/big".into(),
        dest_key: "out/big".into(),
        upload: UploadId("u".into()),
        number: 1,
        range: ByteRange { start: 0, end: 1 },
        route: Route::Streamed,
    });
    assert!(bounds.check(&block).is_err());

    let mut single = CopyPlan::under(source, dest, "dir/file.", "");
    single.single_key = Some("dir/file.".into());
    single.dest_prefix = "copy/file.".into();
    let bounds = single.key_bounds();
    assert!(bounds
        .check(&objects(&[("dir/file.", "copy/file.")]))
        .is_ok());
    assert!(bounds
        .check(&objects(&[("dir/file.x", "copy/file.")]))
        .is_err());
}
