use super::*;

fn store(dir: &Path) -> LocalStore {
    LocalStore::open(
        &Location::Local {
            root: dir.into(),
            prefix: String::new(),
        },
        &OpenOptions::default(),
    )
    .unwrap()
}

fn open_dir(path: &Path) -> Arc<Dir> {
    Arc::new(Dir::open_ambient_dir(path, cap_std::ambient_authority()).unwrap())
}

#[test]
fn refuses_keys_that_escape_or_cannot_be_file_names() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    for key in [
        "../x",
        "a/../../x",
        "/etc/passwd",
        "a//b",
        "trailing/",
        "",
        "a\0b",
        ".awcopy-staging/x",
    ] {
        let err = s.key_path(key).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage, "{key:?}");
        assert!(err.to_string().contains("cannot be a file name"), "{err}");
    }
    let long = "x".repeat(256);
    assert!(s.key_path(&long).is_err());
    assert_eq!(s.key_path("a/b c").unwrap(), Path::new("a").join("b c"));
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_symlink_escape() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"x").unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
    let s = store(dir.path());
    let err = s.head("link/secret").await.unwrap_err();
    assert!(err.to_string().contains("outside"), "{err}");
    let err = s
        .put(
            "link/new",
            Bytes::from_static(b"y"),
            &ObjectAttributes::default(),
            None,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("outside"), "{err}");
    assert!(!outside.path().join("new").exists());
}

/// Small objects are written on the task's thread until such writes sleep too long on
/// average, then on the blocking pool; either way every byte lands, and a write that fails (a
/// parent of the key is a file) leaves no staging file; an object larger than the limit for
/// the thread goes to the pool without turning the store off it.
#[tokio::test(flavor = "multi_thread")]
async fn small_writes_run_here_until_they_are_slow_then_on_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    async fn put(s: &LocalStore, key: &str, body: Vec<u8>) -> Result<PutResult> {
        s.put(key, body.into(), &ObjectAttributes::default(), None)
            .await
    }
    let big = vec![7; write_here::MOST + 1];
    put(&s, "a", b"here".to_vec()).await.unwrap();
    put(&s, "big", big.clone()).await.unwrap();
    put(&s, "a/under-a-file", b"x".to_vec()).await.unwrap_err();
    assert!(s.write_here.is_on(), "fast writes stay here");
    // As if a write had slept for a minute.
    s.write_here.count(Duration::from_secs(60));
    assert!(
        !s.write_here.is_on(),
        "slow writes send the rest to the pool"
    );
    put(&s, "b", b"pool".to_vec()).await.unwrap();
    put(&s, "b/under-b-file", b"x".to_vec()).await.unwrap_err();
    for (key, body) in [("a", &b"here"[..]), ("b", b"pool"), ("big", &big)] {
        assert_eq!(std::fs::read(dir.path().join(key)).unwrap(), body, "{key}");
    }
    let staging = std::fs::read_dir(dir.path().join(STAGING_DIR)).unwrap();
    assert_eq!(staging.count(), 0, "no staging file left behind");
}

/// Parts land at their offsets in one file, whatever order they come in; a part written
/// again (a retry) replaces its bytes; parts that leave a gap are refused at completion
/// and nothing becomes visible, as is a receipt naming anything but a part (a forged work
/// item); completed, the object is the parts' bytes and nothing of the upload is left.
#[tokio::test(flavor = "multi_thread")]
async fn parts_are_written_in_place_and_must_follow_one_another() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let attrs = ObjectAttributes::default();
    let upload = s.create_upload("big", &attrs).await.unwrap();
    let part = |n: u32, offset: u64, body: &'static [u8]| {
        s.upload_part("big", &upload, n, offset, Bytes::from_static(body), None)
    };
    let third = part(3, 8, b"89").await.unwrap();
    part(1, 0, b"xxxx").await.unwrap();
    let first = part(1, 0, b"0123").await.unwrap();
    let listed = s.list_parts("big", &upload).await.unwrap();
    let sizes: Vec<_> = listed.iter().map(|p| (p.number, p.size)).collect();
    assert_eq!(sizes, [(1, Some(4)), (3, Some(2))]);
    let gap = s
        .complete_upload(
            "big",
            &upload,
            &[first.clone(), third.clone()],
            &attrs,
            None,
        )
        .await
        .unwrap_err();
    assert!(gap.to_string().contains("starts at 8, not 4"), "{gap}");
    let forged = PartReceipt {
        handle: "../../big".into(),
        ..first.clone()
    };
    let refused = s
        .complete_upload("big", &upload, &[forged], &attrs, None)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("is not a local part"),
        "{refused}"
    );
    assert!(!dir.path().join("big").exists());
    let second = part(2, 4, b"4567").await.unwrap();
    s.complete_upload("big", &upload, &[first, second, third], &attrs, None)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("big")).unwrap(),
        b"0123456789"
    );
    let uploads = dir.path().join(STAGING_DIR).join("uploads");
    assert_eq!(std::fs::read_dir(uploads).unwrap().count(), 0);
}

/// A store confined to a directory opens its root beneath it: a root reached through a
/// symlink out of it is refused for reading and for writing, and nothing is written
/// outside; a root inside it works.
#[tokio::test(flavor = "multi_thread")]
async fn a_confined_root_cannot_leave_its_directory() {
    let granted = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"x").unwrap();
    std::os::unix::fs::symlink(outside.path(), granted.path().join("out")).unwrap();
    std::fs::create_dir(granted.path().join("in")).unwrap();
    std::fs::write(granted.path().join("in").join("f"), b"ok").unwrap();
    let confined = |root: PathBuf| {
        LocalStore::open(
            &Location::Local {
                root,
                prefix: String::new(),
            },
            &OpenOptions {
                confine: Some(granted.path().to_path_buf()),
                ..OpenOptions::default()
            },
        )
        .unwrap()
    };
    let escaping = confined(granted.path().join("out"));
    let err = escaping.head("secret").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("outside"), "{err}");
    let listed: Result<Vec<_>> = escaping.list(ListRequest::default()).try_collect().await;
    assert!(listed.is_err());
    let attrs = ObjectAttributes::default();
    assert!(escaping
        .put("new", Bytes::from_static(b"y"), &attrs, None)
        .await
        .is_err());
    let deeper = confined(granted.path().join("out").join("made"));
    assert!(deeper.create_root().await.is_err());
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        1,
        "nothing was written outside"
    );
    let inside = confined(granted.path().join("in"));
    assert_eq!(inside.head("f").await.unwrap().size, 2);
    inside
        .put("g", Bytes::from_static(b"z"), &attrs, None)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(granted.path().join("in").join("g")).unwrap(),
        b"z"
    );
}

/// A link inside the tree to a file inside it lists and reads as that file; a link out
/// of it is not listed and cannot be read.
#[tokio::test(flavor = "multi_thread")]
async fn links_out_of_the_root_are_neither_listed_nor_read() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"secret").unwrap();
    std::fs::write(dir.path().join("real"), b"real").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("abs")).unwrap();
    std::os::unix::fs::symlink(
        "../../../../../../../../etc/hostname",
        dir.path().join("rel"),
    )
    .unwrap();
    std::os::unix::fs::symlink("real", dir.path().join("alias")).unwrap();
    let s = store(dir.path());
    let pages: Vec<ListPage> = s.list(ListRequest::default()).try_collect().await.unwrap();
    let keys: Vec<String> = pages
        .iter()
        .flat_map(|p| p.objects.iter().map(|o| o.key.clone()))
        .collect();
    assert_eq!(keys, vec!["alias".to_owned(), "real".to_owned()]);
    for key in ["abs", "rel"] {
        let err = s.get(key, None).await.err().expect("refused");
        assert_eq!(err.kind(), ErrorKind::Auth, "{key}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_recreate_a_removed_staging_directory() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir.path().join("new-root"));
    let attrs = ObjectAttributes::default();
    s.put("a/1", Bytes::from_static(b"one"), &attrs, None)
        .await
        .unwrap();
    let staging = dir.path().join("new-root").join(STAGING_DIR);
    assert_eq!(std::fs::read_dir(&staging).unwrap().count(), 0);
    std::fs::remove_dir(&staging).unwrap();
    s.put("a/2", Bytes::from_static(b"two"), &attrs, None)
        .await
        .unwrap();
    std::fs::remove_dir(&staging).unwrap();
    let source = s
        .copy_source("a/2", CopySourceKind::Native, Duration::from_secs(60))
        .await
        .unwrap();
    s.copy_object("b/2", &source, &attrs).await.unwrap();
    let read = |key: &str| std::fs::read(dir.path().join("new-root").join(key)).unwrap();
    assert_eq!(
        (read("a/1"), read("a/2"), read("b/2")),
        (b"one".to_vec(), b"two".to_vec(), b"two".to_vec())
    );
    assert_eq!(std::fs::read_dir(&staging).unwrap().count(), 0);
}

#[test]
fn pages_apply_bounds_and_delimiter() {
    let dir = tempfile::tempdir().unwrap();
    for key in ["a/1", "a/2", "b", "c/x/1", "d"] {
        let path = dir.path().join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"1").unwrap();
    }
    let request = ListRequest {
        start_after: Some("a/1".into()),
        end_before: Some("d".into()),
        delimiter: Some("/".into()),
        page_size: Some(2),
        ..Default::default()
    };
    let mut pager = Pager {
        walk: SortedWalk::new(open_dir(dir.path()), &request).unwrap(),
        request,
        last_prefix: None,
        first: true,
    };
    let mut keys: Vec<Vec<String>> = Vec::new();
    while let Some(page) = pager.next_page().unwrap() {
        keys.push(
            page.objects
                .iter()
                .map(|o| o.key.clone())
                .chain(page.prefixes.clone())
                .collect(),
        );
    }
    assert_eq!(
        keys,
        vec![
            vec!["b".to_string(), "a/".to_string()],
            vec!["c/".to_string()]
        ]
    );
}

/// Keys in UTF-8 byte order however the directories nest: `a.txt` < `a/x` < `a0`, and a
/// walk from a start key inside a subtree goes on from there.
#[test]
fn the_walk_lists_in_key_order_from_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut keys = vec![
        "a.txt",
        "a/x",
        "a/y/z",
        "a0",
        "b\u{ff21}",
        "b\u{1f600}",
        "b/c",
        "\u{e9}t\u{e9}/1",
        "z",
    ];
    for key in &keys {
        let path = dir.path().join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"1").unwrap();
    }
    keys.sort();
    let listed = |request: ListRequest| {
        let mut walk = SortedWalk::new(open_dir(dir.path()), &request).unwrap();
        let mut got = Vec::new();
        while let Some(meta) = walk.next_file().unwrap() {
            got.push(meta.key);
        }
        got
    };
    assert_eq!(listed(ListRequest::default()), keys);
    for (i, start) in keys.iter().enumerate() {
        let from = listed(ListRequest {
            start_after: Some(start.to_string()),
            ..Default::default()
        });
        assert_eq!(from, keys[i + 1..], "after {start}");
    }
    let under_a = listed(ListRequest {
        prefix: "a/".into(),
        end_before: Some("a/y/z".into()),
        ..Default::default()
    });
    assert_eq!(under_a, vec!["a/x"]);
}

#[test]
fn a_local_directory_refuses_any_encryption() {
    let dir = tempfile::tempdir().unwrap();
    let location = Location::Local {
        root: dir.path().join("never"),
        prefix: String::new(),
    };
    let options = OpenOptions {
        encryption: Some(crate::Encryption::S3Managed),
        ..OpenOptions::default()
    };
    let err = LocalStore::open(&location, &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage);
    assert!(
        err.to_string()
            .starts_with("encryption: applies to S3 and Azure"),
        "{err}"
    );
    assert!(!dir.path().join("never").exists(), "nothing created");
}

#[tokio::test(flavor = "multi_thread")]
async fn tidy_removes_the_staging_directory_only_when_nothing_is_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let attrs = ObjectAttributes::default();
    let upload = s.create_upload("big", &attrs).await.unwrap();
    s.put("a", Bytes::from_static(b"one"), &attrs, None)
        .await
        .unwrap();
    let staging = dir.path().join(STAGING_DIR);
    s.tidy().await.unwrap();
    assert!(
        staging.join("uploads").exists(),
        "an upload in progress stays"
    );
    s.abort_upload("big", &upload).await.unwrap();
    s.tidy().await.unwrap();
    assert!(!staging.exists(), "an empty staging directory goes");
    s.put("b", Bytes::from_static(b"two"), &attrs, None)
        .await
        .unwrap();
    assert_eq!(std::fs::read(dir.path().join("b")).unwrap(), b"two");
}
