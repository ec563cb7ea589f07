//! A directory tree as a store. Keys map to paths below the root with `/` as separator.
//!
//! It never writes outside its root: keys with `..`, empty or absolute segments are refused, and
//! every path is checked after symlinks are resolved. Writes go to a staging file first and are
//! renamed into place, so a half-written object is never visible.

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{stream, StreamExt, TryStreamExt};
use std::io::{ErrorKind as IoKind, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::capabilities::{Capabilities, CopySourceKind, KeyOrder};
use crate::error::{ErrorKind, Result, StoreError};
use crate::object::*;
use crate::{Location, OpenOptions, Store};

/// Directory below the root that holds staging files and uploads in progress; never listed.
pub const STAGING_DIR: &str = ".awcopy-staging";
/// The longest file name segment most file systems accept, in bytes.
const MAX_SEGMENT_BYTES: usize = 255;
const DEFAULT_PAGE: usize = 1000;
const READ_CHUNK: usize = 256 * 1024;
/// Bytes of a streamed write gathered before each trip to the blocking pool.
const WRITE_BUFFER: usize = 1 << 20;

/// A store over a local directory.
#[derive(Debug)]
pub struct LocalStore {
    /// Shared with the blocking tasks that check a file is inside it.
    root: Arc<Root>,
    capabilities: Capabilities,
}

/// A store's root directory, and the same with its symlinks resolved once it exists: resolved
/// once, not per file (it was a `readlink` per component of the root for every object read or
/// written).
#[derive(Debug)]
struct Root {
    /// The absolute path the location names.
    path: PathBuf,
    resolved: OnceLock<PathBuf>,
    /// The directory the root must lie beneath once its symlinks are resolved, if any.
    confine: Option<PathBuf>,
}

impl Root {
    /// The root with its symlinks resolved; an error while it does not exist.
    fn resolved(&self) -> Result<&Path> {
        if let Some(resolved) = self.resolved.get() {
            return Ok(resolved);
        }
        let canonical = std::fs::canonicalize(&self.path)?;
        if let Some(confine) = &self.confine {
            if !canonical.starts_with(std::fs::canonicalize(confine)?) {
                return Err(StoreError::new(
                    ErrorKind::Auth,
                    format!(
                        "{} leads outside {} through a symlink",
                        self.path.display(),
                        confine.display()
                    ),
                ));
            }
        }
        Ok(self.resolved.get_or_init(|| canonical))
    }
}

impl LocalStore {
    /// Opens the directory the location names. It need not exist yet: the first write creates it.
    pub fn open(location: &Location, options: &OpenOptions) -> Result<Self> {
        let Location::Local { root, .. } = location else {
            return Err(StoreError::usage(format!("{location} is not a local path")));
        };
        if options.encryption.is_some() {
            return Err(StoreError::usage(
                "--encrypt applies to S3 and Azure destinations, not to local paths",
            ));
        }
        let root = std::path::absolute(root)?;
        if root.exists() && !root.is_dir() {
            return Err(StoreError::usage(format!(
                "{} is a file; give the directory that holds it",
                root.display()
            )));
        }
        Ok(Self {
            root: Arc::new(Root {
                path: root,
                resolved: OnceLock::new(),
                confine: options.confine.clone(),
            }),
            capabilities: Capabilities {
                service_id: "local".into(),
                native_copy: true,
                copy_from_url: false,
                presign: false,
                max_parts: 10_000,
                min_part_size: 1,
                max_part_size: u64::MAX,
                max_single_put: u64::MAX,
                max_single_copy: u64::MAX,
                put_stream_memory: Some(2 * WRITE_BUFFER as u64),
                key_order: KeyOrder::Utf8,
                // Each listing walks and sorts the whole tree: ranges listed at once would
                // walk it once each (100,000 files: 5.5 s at 8 ranges, 0.4 s at one).
                ranged_listing: false,
            },
        })
    }

    /// The path a key maps to, or a usage error saying why the key cannot be a file name.
    pub fn key_path(&self, key: &str) -> Result<PathBuf> {
        let refuse = |why: &str| {
            StoreError::usage(format!(
                "key '{key}' cannot be a file name on local disk: {why}"
            ))
        };
        if key.is_empty() {
            return Err(refuse("it is empty"));
        }
        if key.contains('\0') {
            return Err(refuse("it contains a NUL byte"));
        }
        if key.starts_with('/') {
            return Err(refuse("it is absolute (starts with '/')"));
        }
        let mut path = self.root.path.clone();
        for (i, segment) in key.split('/').enumerate() {
            match segment {
                "" => {
                    return Err(refuse(
                        "it has an empty path segment ('//' or a trailing '/')",
                    ))
                }
                "." | ".." => return Err(refuse("it has a '.' or '..' segment")),
                STAGING_DIR if i == 0 => return Err(refuse("that name is reserved by awcopy")),
                s if s.len() > MAX_SEGMENT_BYTES => {
                    return Err(refuse("a path segment is longer than 255 bytes"))
                }
                s => path.push(s),
            }
        }
        Ok(path)
    }

    /// Resolves symlinks in `path`'s existing ancestors and refuses paths that leave the root.
    async fn inside_root(&self, path: &Path) -> Result<()> {
        let (root, path) = (self.root.clone(), path.to_path_buf());
        blocking(move || inside_root(&root, &path)).await
    }

    async fn readable_path(&self, key: &str) -> Result<PathBuf> {
        let path = self.key_path(key)?;
        self.inside_root(&path).await?;
        Ok(path)
    }

    fn staging(&self) -> PathBuf {
        self.root.path.join(STAGING_DIR)
    }

    fn upload_dir(&self, upload: &UploadId) -> Result<PathBuf> {
        if upload.0.is_empty()
            || !upload
                .0
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(StoreError::usage(format!(
                "'{}' is not a local upload id",
                upload.0
            )));
        }
        Ok(self.staging().join("uploads").join(&upload.0))
    }

    /// A fresh file name in the staging directory (see [`create_staged`]).
    fn staging_file(&self) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        self.staging()
            .join(unique_name(COUNTER.fetch_add(1, Ordering::Relaxed)))
    }

    /// Runs `write` on the blocking pool to fill a new staging file (made with
    /// [`create_staged`]) in one trip; returns the file, or removes it when `write` failed.
    async fn stage(
        &self,
        write: impl FnOnce(&Path) -> Result<()> + Send + 'static,
    ) -> Result<PathBuf> {
        let staged = self.staging_file();
        let out = staged.clone();
        if let Err(e) = blocking(move || write(&out)).await {
            let _ = tokio::fs::remove_file(&staged).await;
            return Err(e);
        }
        Ok(staged)
    }

    /// Moves a finished staging file to the key's path, creating directories as needed; if it
    /// cannot, the staging file is removed.
    async fn publish(&self, staged: &Path, key: &str) -> Result<()> {
        let published = self.move_into_place(staged, key).await;
        if published.is_err() {
            let _ = tokio::fs::remove_file(staged).await;
        }
        published
    }

    async fn move_into_place(&self, staged: &Path, key: &str) -> Result<()> {
        let dest = self.key_path(key)?;
        let root = self.root.clone();
        let (staged, key) = (staged.to_path_buf(), key.to_owned());
        // One trip to the blocking pool for the whole move: each is a thread hand-off.
        blocking(move || {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|e| match e.kind() {
                    IoKind::AlreadyExists | IoKind::NotADirectory => StoreError::new(
                        ErrorKind::Conflict,
                        format!(
                            "key '{key}' cannot be stored on local disk: a parent of it is a file"
                        ),
                    ),
                    _ => StoreError::from(e).context(format!("creating the directory for '{key}'")),
                })?;
            }
            inside_root(&root, &dest)?;
            // A directory at the path (even one made by a concurrent write) fails the rename.
            std::fs::rename(&staged, &dest).map_err(|e| match e.kind() {
                IoKind::IsADirectory | IoKind::DirectoryNotEmpty => StoreError::new(
                    ErrorKind::Conflict,
                    format!("key '{key}' cannot be stored on local disk: it is a directory there"),
                ),
                _ => StoreError::from(e),
            })
        })
        .await
    }

    /// Writes `body` to a new staging file, gathering [`WRITE_BUFFER`] bytes for each trip to
    /// the blocking pool (a small object makes one). Returns the file, to be published or
    /// removed; on error it is removed here. Like cp and rclone, no fsync per file: it made
    /// small-file copies several times slower (bench/RESULTS.md); a power cut may lose the
    /// last files written.
    async fn write_staged(&self, mut body: BoxStream<'_, Result<Bytes>>) -> Result<PathBuf> {
        let staged = self.staging_file();
        let mut file: Option<std::fs::File> = None;
        let mut pending: Vec<Bytes> = Vec::new();
        let mut pending_len = 0;
        let written = loop {
            let next = match body.try_next().await {
                Ok(next) => next,
                Err(err) => break Err(err),
            };
            let end = next.is_none();
            if let Some(chunk) = next {
                pending_len += chunk.len();
                pending.push(chunk);
            }
            if pending_len >= WRITE_BUFFER || end {
                let (path, chunks, open) =
                    (staged.clone(), std::mem::take(&mut pending), file.take());
                pending_len = 0;
                let write = blocking(move || {
                    let mut file = match open {
                        Some(file) => file,
                        None => create_staged(&path)?,
                    };
                    for chunk in &chunks {
                        file.write_all(chunk)?;
                    }
                    Ok(file)
                });
                match write.await {
                    Ok(open) => file = Some(open),
                    Err(err) => break Err(err),
                }
            }
            if end {
                break Ok(());
            }
        };
        drop(file);
        match written {
            Ok(()) => Ok(staged),
            Err(err) => {
                let _ = tokio::fs::remove_file(&staged).await;
                Err(err)
            }
        }
    }

    fn meta_of(key: String, meta: &std::fs::Metadata) -> ObjectMeta {
        let mut object = ObjectMeta::new(key, meta.len());
        object.last_modified = meta.modified().ok().map(time::OffsetDateTime::from);
        object
    }
}

/// Runs blocking file-system work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::new(ErrorKind::Io, format!("file-system task failed: {e}")))?
}

/// Creates a staging file, and the staging directory when it is missing (the first write, or
/// someone removed it): checking for the directory before every file cost a system call and a
/// trip to the blocking pool per object.
fn create_staged(path: &Path) -> Result<std::fs::File> {
    match std::fs::File::create(path) {
        Err(e) if e.kind() == IoKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            Ok(std::fs::File::create(path)?)
        }
        created => Ok(created?),
    }
}

/// Resolves symlinks in `path`'s existing ancestors and refuses paths that leave `root`.
fn inside_root(root: &Root, path: &Path) -> Result<()> {
    let root = root.resolved()?;
    let mut probe = path.to_path_buf();
    while !probe.try_exists().unwrap_or(false) {
        if !probe.pop() {
            return Ok(());
        }
    }
    let real = std::fs::canonicalize(&probe)?;
    if real.starts_with(root) {
        Ok(())
    } else {
        Err(StoreError::new(
            ErrorKind::Auth,
            format!(
                "{} leads outside {} through a symlink",
                path.display(),
                root.display()
            ),
        ))
    }
}

/// Every file below the directory that holds `prefix`, as object metadata, sorted by key.
/// The files under `root` whose keys start with `prefix`, in key order (UTF-8 bytes), from
/// just after `start_after` to just before `end_before`: one directory's entries in memory at
/// a time, so a tree of any size lists in bounded memory. Directories sort among their
/// siblings as `name/`, which is where every key under them sorts; subtrees wholly outside the
/// bounds are not read.
struct SortedWalk {
    root: PathBuf,
    prefix: String,
    start_after: Option<String>,
    end_before: Option<String>,
    /// Per directory being walked: its entries not visited yet, last first.
    open: Vec<Vec<WalkEntry>>,
}

/// A directory entry on the walk: a file with its metadata, or a directory (key ends in `/`).
struct WalkEntry {
    key: String,
    path: PathBuf,
    file: Option<std::fs::Metadata>,
}

impl SortedWalk {
    fn new(root: &Path, request: &ListRequest) -> Result<Self> {
        if !root.is_dir() {
            return Err(StoreError::new(
                ErrorKind::NotFound,
                format!("directory {} does not exist", root.display()),
            ));
        }
        let prefix = request.prefix.clone();
        let start_dir = match prefix.rfind('/') {
            Some(slash) => root.join(&prefix[..slash]),
            None => root.to_path_buf(),
        };
        let mut walk = Self {
            root: root.to_path_buf(),
            prefix,
            start_after: request.start_after.clone(),
            end_before: request.end_before.clone(),
            open: Vec::new(),
        };
        walk.open_dir(&start_dir)?;
        Ok(walk)
    }

    /// Reads `dir`'s entries, sorted, onto the walk.
    fn open_dir(&mut self, dir: &Path) -> Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == IoKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::from(e).context(dir.display().to_string())),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let Ok(rel) = path.strip_prefix(&self.root) else {
                continue;
            };
            let Some(key) = rel
                .to_str()
                .map(|k| k.replace(std::path::MAIN_SEPARATOR, "/"))
            else {
                tracing::warn!(path = %path.display(), "skipping a file whose name is not UTF-8");
                continue;
            };
            if key == STAGING_DIR {
                continue;
            }
            // Follows symlinks, so a link to a file inside the tree lists as that file.
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                if !entry.file_type()?.is_symlink() {
                    found.push(WalkEntry {
                        key: key + "/",
                        path,
                        file: None,
                    });
                }
            } else if meta.is_file() {
                found.push(WalkEntry {
                    key,
                    path,
                    file: Some(meta),
                });
            }
        }
        found.sort_by(|a, b| b.key.cmp(&a.key));
        self.open.push(found);
        Ok(())
    }

    /// The next file in key order within the bounds, or `None` at the end.
    fn next_file(&mut self) -> Result<Option<ObjectMeta>> {
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
                        self.open_dir(&entry.path)?;
                    }
                }
            }
        }
    }
}

fn listing_task_failed(e: tokio::task::JoinError) -> StoreError {
    StoreError::new(ErrorKind::Other, format!("listing task failed: {e}"))
}

fn unique_name(counter: u64) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos:x}-{counter}", std::process::id())
}

/// A listing a page at a time: the sorted walk, grouped by the request's delimiter.
struct Pager {
    walk: SortedWalk,
    request: ListRequest,
    last_prefix: Option<String>,
    first: bool,
}

impl Pager {
    /// The next page; the first may be empty, no other is.
    fn next_page(&mut self) -> Result<Option<ListPage>> {
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

#[async_trait]
impl Store for LocalStore {
    fn display_root(&self) -> String {
        self.root.path.display().to_string()
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn mapped_name(&self, key: &str) -> Option<String> {
        self.key_path(key).err()?;
        let crc = |b: &[u8]| crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, b);
        let mapped: Vec<String> = key
            .split('/')
            .enumerate()
            .map(|(i, s)| match s {
                STAGING_DIR if i == 0 => format!("%2E{}", &s[1..]),
                s => crate::names::file_segment(s, MAX_SEGMENT_BYTES, crc),
            })
            .collect();
        let mapped = mapped.join("/");
        (mapped != key && self.key_path(&mapped).is_ok()).then_some(mapped)
    }

    fn list(&self, request: ListRequest) -> ListStream<'_> {
        // Each page is walked on the blocking pool; the walk goes back and forth with it.
        let root = self.root.clone();
        let start = tokio::task::spawn_blocking(move || {
            let walk = SortedWalk::new(&root.path, &request)?;
            Ok(Pager {
                walk,
                request,
                last_prefix: None,
                first: true,
            })
        });
        let started = async move {
            let pager: Result<Pager> = start.await.map_err(listing_task_failed)?;
            Ok::<_, StoreError>(stream::try_unfold(Some(pager?), |pager| async move {
                let Some(mut pager) = pager else {
                    return Ok(None);
                };
                let (page, pager) = tokio::task::spawn_blocking(move || {
                    let page = pager.next_page();
                    (page, pager)
                })
                .await
                .map_err(listing_task_failed)?;
                Ok(page?.map(|page| (page, Some(pager))))
            }))
        };
        stream::once(started).try_flatten().boxed()
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        let path = self.readable_path(key).await?;
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|e| StoreError::from(e).context(format!("'{key}'")))?;
        if !meta.is_file() {
            return Err(StoreError::new(
                ErrorKind::NotFound,
                format!("'{key}' is not a file"),
            ));
        }
        Ok(Self::meta_of(key.to_owned(), &meta))
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<GetResult> {
        let meta = self.head(key).await?;
        let path = self.key_path(key)?;
        let mut file = tokio::fs::File::open(&path).await?;
        let range = range.unwrap_or(ByteRange {
            start: 0,
            end: meta.size,
        });
        if range.start > meta.size || (range.start == meta.size && meta.size > 0) {
            return Err(StoreError::usage(format!(
                "range {}..{} is past the end of '{key}' ({} bytes)",
                range.start, range.end, meta.size
            )));
        }
        file.seek(SeekFrom::Start(range.start)).await?;
        let len = range.end.min(meta.size) - range.start;
        let body = ReaderStream::with_capacity(file.take(len), READ_CHUNK)
            .map_err(StoreError::from)
            .boxed();
        Ok(GetResult { meta, body })
    }

    async fn put(
        &self,
        key: &str,
        body: Bytes,
        attributes: &ObjectAttributes,
        _crc64nvme: Option<u64>,
    ) -> Result<PutResult> {
        self.put_stream(key, stream::once(async { Ok(body) }).boxed(), attributes)
            .await
    }

    async fn put_stream(
        &self,
        key: &str,
        body: BoxStream<'_, Result<Bytes>>,
        _attributes: &ObjectAttributes,
    ) -> Result<PutResult> {
        self.key_path(key)?;
        let staged = self.write_staged(body).await?;
        self.publish(&staged, key).await?;
        Ok(PutResult { etag: None })
    }

    async fn create_upload(&self, key: &str, _attributes: &ObjectAttributes) -> Result<UploadId> {
        self.key_path(key)?;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let upload = UploadId(unique_name(COUNTER.fetch_add(1, Ordering::Relaxed)));
        tokio::fs::create_dir_all(self.upload_dir(&upload)?).await?;
        Ok(upload)
    }

    async fn upload_part(
        &self,
        _key: &str,
        upload: &UploadId,
        number: u32,
        body: Bytes,
        crc64nvme: Option<u64>,
    ) -> Result<PartReceipt> {
        let dir = self.upload_dir(upload)?;
        if !tokio::fs::try_exists(&dir).await.unwrap_or(false) {
            return Err(StoreError::new(
                ErrorKind::NotFound,
                format!("upload {} does not exist", upload.0),
            ));
        }
        let size = body.len() as u64;
        let staged = self
            .write_staged(stream::once(async { Ok(body) }).boxed())
            .await?;
        let handle = format!("{number:05}");
        tokio::fs::rename(&staged, dir.join(&handle)).await?;
        Ok(PartReceipt {
            number,
            handle,
            size: Some(size),
            crc64nvme,
        })
    }

    async fn upload_part_copy(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        source: &CopySource,
        range: ByteRange,
    ) -> Result<PartReceipt> {
        let source_path = native_source_path(source)?;
        let mut file = tokio::fs::File::open(&source_path).await?;
        file.seek(SeekFrom::Start(range.start)).await?;
        let mut buf = Vec::with_capacity(range.len() as usize);
        file.take(range.len()).read_to_end(&mut buf).await?;
        self.upload_part(key, upload, number, buf.into(), None)
            .await
    }

    async fn complete_upload(
        &self,
        key: &str,
        upload: &UploadId,
        parts: &[PartReceipt],
        _attributes: &ObjectAttributes,
        _crc64nvme: Option<u64>,
    ) -> Result<PutResult> {
        let dir = self.upload_dir(upload)?;
        let part_paths: Vec<PathBuf> = parts.iter().map(|p| dir.join(&p.handle)).collect();
        // std::io::copy between files has the kernel copy the bytes (copy_file_range: no trip
        // through user space, a reflink where the file system has them). The parts stay until
        // the object is published, so a failed join can be retried.
        let staged = self
            .stage(move |out| {
                let mut file = create_staged(out)?;
                for path in &part_paths {
                    std::io::copy(&mut std::fs::File::open(path)?, &mut file)?;
                }
                Ok(())
            })
            .await
            .map_err(|e| e.context(format!("joining the parts of '{key}'")))?;
        self.publish(&staged, key).await?;
        tokio::fs::remove_dir_all(&dir).await?;
        Ok(PutResult { etag: None })
    }

    async fn abort_upload(&self, _key: &str, upload: &UploadId) -> Result<()> {
        match tokio::fs::remove_dir_all(self.upload_dir(upload)?).await {
            Err(e) if e.kind() != IoKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn list_parts(&self, _key: &str, upload: &UploadId) -> Result<Vec<PartReceipt>> {
        let mut entries = tokio::fs::read_dir(self.upload_dir(upload)?).await?;
        let mut parts = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            let handle = entry.file_name().to_string_lossy().into_owned();
            if let Ok(number) = handle.parse::<u32>() {
                let size = entry.metadata().await?.len();
                parts.push(PartReceipt {
                    number,
                    handle,
                    size: Some(size),
                    crc64nvme: None,
                });
            }
        }
        parts.sort_by_key(|p| p.number);
        Ok(parts)
    }

    async fn copy_object(
        &self,
        key: &str,
        source: &CopySource,
        _attributes: &ObjectAttributes,
    ) -> Result<PutResult> {
        self.key_path(key)?;
        let source_path = native_source_path(source)?;
        // fs::copy keeps the file's permission bits, as cp does.
        let staged = self
            .stage(move |out| {
                create_staged(out)?;
                std::fs::copy(&source_path, out)?;
                Ok(())
            })
            .await?;
        self.publish(&staged, key).await?;
        Ok(PutResult { etag: None })
    }

    async fn copy_source(
        &self,
        key: &str,
        kind: CopySourceKind,
        _valid_for: Duration,
    ) -> Result<CopySource> {
        if kind != CopySourceKind::Native {
            return Err(StoreError::new(
                ErrorKind::Unsupported,
                "a local file cannot be offered as a URL to another service",
            ));
        }
        self.readable_path(key).await?;
        Ok(CopySource::Native {
            container: self.root.path.display().to_string(),
            key: key.to_owned(),
        })
    }

    async fn create_root(&self) -> Result<()> {
        Ok(tokio::fs::create_dir_all(&self.root.path).await?)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.readable_path(key).await?;
        match tokio::fs::remove_file(&path).await {
            Err(e) if e.kind() != IoKind::NotFound => return Err(e.into()),
            _ => {}
        }
        // Remove directories the delete left empty, up to (not including) the root.
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| *d != self.root.path) {
            if tokio::fs::remove_dir(d).await.is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }
}

fn native_source_path(source: &CopySource) -> Result<PathBuf> {
    match source {
        CopySource::Native { container, key } => {
            let store = LocalStore::open(
                &Location::Local {
                    root: container.into(),
                    prefix: String::new(),
                },
                &OpenOptions::default(),
            )?;
            store.key_path(key)
        }
        CopySource::Url(_) => Err(StoreError::new(
            ErrorKind::Unsupported,
            "a local destination cannot fetch from a URL server-side",
        )),
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(
            s.key_path("a/b c").unwrap(),
            dir.path().join("a").join("b c")
        );
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
        let source = CopySource::Native {
            container: s.root.path.display().to_string(),
            key: "a/2".into(),
        };
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
            walk: SortedWalk::new(dir.path(), &request).unwrap(),
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
            let mut walk = SortedWalk::new(dir.path(), &request).unwrap();
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
}
