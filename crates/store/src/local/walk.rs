//! A local store's listing: the directory tree walked in key order, one directory's entries
//! in memory at a time, and cut into pages.

use cap_std::fs::Dir;
use std::io::ErrorKind as IoKind;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Result, StoreError};
use crate::object::{ListPage, ListRequest, ObjectMeta};

use super::{LocalStore, STAGING_DIR};

/// Keys a page holds when the request does not say.
const DEFAULT_PAGE: usize = 1000;

/// The files under `root` whose keys start with `prefix`, in key order (UTF-8 bytes), from
/// just after `start_after` to just before `end_before`: one directory's entries in memory at
/// a time, so a tree of any size lists in bounded memory. Directories sort among their
/// siblings as `name/`, which is where every key under them sorts; subtrees wholly outside the
/// bounds are not read. Everything is read beneath the root's handle.
pub(super) struct SortedWalk {
    root: Arc<Dir>,
    prefix: String,
    start_after: Option<String>,
    end_before: Option<String>,
    /// Per directory being walked: its entries not visited yet, last first.
    open: Vec<Vec<WalkEntry>>,
}

/// A directory entry on the walk: a file with its metadata, or a directory (key ends in `/`).
struct WalkEntry {
    key: String,
    file: Option<cap_std::fs::Metadata>,
}

impl SortedWalk {
    pub(super) fn new(root: Arc<Dir>, request: &ListRequest) -> Result<Self> {
        let prefix = request.prefix.clone();
        let start_dir = match prefix.rfind('/') {
            Some(slash) => prefix[..slash].to_owned(),
            None => String::new(),
        };
        let mut walk = Self {
            root,
            prefix,
            start_after: request.start_after.clone(),
            end_before: request.end_before.clone(),
            open: Vec::new(),
        };
        walk.open_dir(&start_dir)?;
        Ok(walk)
    }

    /// Reads the entries of the directory `dir_key` (a key prefix without its trailing '/';
    /// empty for the root), sorted, onto the walk.
    fn open_dir(&mut self, dir_key: &str) -> Result<()> {
        let path = if dir_key.is_empty() {
            Path::new(".")
        } else {
            Path::new(dir_key)
        };
        let entries = match self.root.read_dir(path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == IoKind::NotFound || e.kind() == IoKind::NotADirectory => {
                return Ok(())
            }
            Err(e) => return Err(StoreError::from(e).context(format!("directory '{dir_key}'"))),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                tracing::warn!(dir = %dir_key, "skipping a file whose name is not UTF-8");
                continue;
            };
            let key = match dir_key {
                "" => name,
                dir => format!("{dir}/{name}"),
            };
            if key == STAGING_DIR {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                found.push(WalkEntry {
                    key: key + "/",
                    file: None,
                });
            } else if kind.is_file() {
                found.push(WalkEntry {
                    file: Some(entry.metadata()?),
                    key,
                });
            } else if kind.is_symlink() {
                // A link to a file beneath the root lists as that file; a link to a directory
                // is not followed, and a link out of the root is not listed.
                match self.root.metadata(&key) {
                    Ok(meta) if meta.is_file() => found.push(WalkEntry {
                        file: Some(meta),
                        key,
                    }),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(%key, "skipping a symlink that cannot be followed beneath the root: {e}")
                    }
                }
            }
        }
        found.sort_by(|a, b| b.key.cmp(&a.key));
        self.open.push(found);
        Ok(())
    }

    /// The next file in key order within the bounds, or `None` at the end.
    pub(super) fn next_file(&mut self) -> Result<Option<ObjectMeta>> {
        loop {
            let Some(dir) = self.open.last_mut() else {
                return Ok(None);
            };
            let Some(entry) = dir.pop() else {
                self.open.pop();
                continue;
            };
            // Every key from here on sorts at or after this entry's.
            if self.end_before.as_ref().is_some_and(|e| entry.key >= *e) {
                self.open.clear();
                return Ok(None);
            }
            match entry.file {
                Some(meta) => {
                    let after_start = self.start_after.as_ref().is_none_or(|s| entry.key > *s);
                    if after_start && entry.key.starts_with(&self.prefix) {
                        return Ok(Some(LocalStore::meta_of(entry.key, &meta)));
                    }
                }
                None => {
                    // Its keys all start with `entry.key`: read it only if some can be listed.
                    let (dir_key, prefix) = (&entry.key, &self.prefix);
                    let under_prefix = dir_key.starts_with(prefix.as_str())
                        || prefix.starts_with(dir_key.as_str());
                    let wholly_before = self
                        .start_after
                        .as_ref()
                        .is_some_and(|s| s > dir_key && !s.starts_with(dir_key.as_str()));
                    if under_prefix && !wholly_before {
                        self.open_dir(dir_key.trim_end_matches('/'))?;
                    }
                }
            }
        }
    }
}

/// A listing a page at a time: the sorted walk, grouped by the request's delimiter.
pub(super) struct Pager {
    /// The files in key order.
    pub(super) walk: SortedWalk,
    /// What was asked.
    pub(super) request: ListRequest,
    /// The common prefix last given, so each is given once.
    pub(super) last_prefix: Option<String>,
    /// Whether no page was given yet (the first is given even empty).
    pub(super) first: bool,
}

impl Pager {
    /// The next page; the first may be empty, no other is.
    pub(super) fn next_page(&mut self) -> Result<Option<ListPage>> {
        let page_size = self
            .request
            .page_size
            .map_or(DEFAULT_PAGE, |n| n.max(1) as usize);
        let mut page = ListPage::default();
        while page.objects.len() + page.prefixes.len() < page_size {
            let Some(object) = self.walk.next_file()? else {
                break;
            };
            let prefix_len = self.request.prefix.len();
            let grouped = self.request.delimiter.as_deref().and_then(|d| {
                let rest = &object.key[prefix_len..];
                rest.find(d)
                    .map(|at| object.key[..prefix_len + at + d.len()].to_owned())
            });
            match grouped {
                Some(common) if self.last_prefix.as_ref() == Some(&common) => continue,
                Some(common) => {
                    self.last_prefix = Some(common.clone());
                    page.prefixes.push(common);
                }
                None => page.objects.push(object),
            }
        }
        let empty = page.objects.is_empty() && page.prefixes.is_empty();
        let first = std::mem::replace(&mut self.first, false);
        Ok((first || !empty).then_some(page))
    }
}
