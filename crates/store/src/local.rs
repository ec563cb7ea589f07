//! A directory tree as a store. Keys map to paths below the root with `/` as separator.
//!
//! Every file is opened beneath the root's directory handle (`cap-std`: `openat2` with
//! `RESOLVE_BENEATH` on Linux), never by an absolute path checked first: a key cannot leave
//! the root, by `..` or by a symlink, and nothing can swap a directory for a symlink between a
//! check and an open. A store a service opens ([`OpenOptions::confine`]) opens its root the
//! same way beneath the directory its operator granted. Keys with `..`, empty or absolute
//! segments are refused. Writes go to a staging file first and are renamed into place, so a
//! half-written object is never visible.

use async_trait::async_trait;
use bytes::Bytes;
use cap_std::fs::Dir;
use futures::stream::BoxStream;
use futures::{stream, StreamExt, TryStreamExt};
use std::io::{ErrorKind as IoKind, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::capabilities::{Capabilities, CopySourceKind, KeyOrder};
use crate::error::{ErrorKind, Result, StoreError};
use crate::object::*;
use crate::{Location, OpenOptions, Store};

/// Directory below the root that holds staging files and uploads in progress; never listed.
pub const STAGING_DIR: &str = ".awcopy-staging";
/// The file in an upload's directory that its parts are written into, each at its offset;
/// beside it, one marker per part (see [`read_marker`]).
const UPLOAD_DATA: &str = "data";
/// The longest file name segment most file systems accept, in bytes.
const MAX_SEGMENT_BYTES: usize = 255;
const DEFAULT_PAGE: usize = 1000;
const READ_CHUNK: usize = 256 * 1024;
/// Bytes of a streamed write gathered before each trip to the blocking pool.
const WRITE_BUFFER: usize = 1 << 20;
/// The largest object written on the task's own thread rather than the blocking pool (see
/// [`LocalStore::write_small`]).
const WRITE_HERE_MOST: usize = 64 << 10;
/// How long writes on the task's own thread may sleep in the kernel on average (over the last
/// few dozen) before the store sends every later write to the blocking pool: a runtime thread
/// should not be held much longer than this. Only the time of writes that slept counts (the
/// thread's voluntary context switches grew): a thread on a busy machine is now and then
/// descheduled in the middle of a fast write for milliseconds, which is no slow disk (200,000
/// small files at 1,024 in flight averaged 0.7 ms by the clock alone, and went to the pool).
const WRITE_HERE_BUDGET: Duration = Duration::from_micros(500);
/// The weight of each write in that average: 1/32.
const WRITE_HERE_WEIGHT: u64 = 32;

/// A store over a local directory.
#[derive(Debug)]
pub struct LocalStore {
    /// Shared with the blocking tasks that work beneath it.
    root: Arc<Root>,
    capabilities: Capabilities,
    /// Whether small objects are still written on the task's own thread: until such writes
    /// sleep longer than [`WRITE_HERE_BUDGET`] on average (a slow or network file system).
    write_here: AtomicBool,
    /// The moving average of the time those writes slept, in nanoseconds.
    write_here_nanos: AtomicU64,
}

/// A file of a local store, for another local store to copy natively: the source's root as
/// it opened it (beneath whatever it was confined to) and the key below it.
#[derive(Clone)]
pub struct LocalFile {
    root: Arc<Dir>,
    shown: String,
    key: String,
}

impl PartialEq for LocalFile {
    fn eq(&self, other: &Self) -> bool {
        self.shown == other.shown && self.key == other.key
    }
}

impl Eq for LocalFile {}

impl std::fmt::Debug for LocalFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalFile({}/{})", self.shown, self.key)
    }
}

/// A store's root directory: its path, and its handle once opened (once: not per file).
#[derive(Debug)]
struct Root {
    /// The absolute path the location names.
    path: PathBuf,
    /// The directory the root must lie beneath, if any: the root is opened beneath it.
    confine: Option<PathBuf>,
    dir: OnceLock<Arc<Dir>>,
}

/// What a symlink that leads out of a root says, as an error.
fn outside(what: &str, root: &Path) -> StoreError {
    StoreError::new(
        ErrorKind::Auth,
        format!("{what} leads outside {} through a symlink", root.display()),
    )
}

/// Whether `err` refused a path that would leave its root (`EXDEV` from `openat2`, or
/// cap-std's own refusal).
fn escaped(err: &std::io::Error) -> bool {
    err.raw_os_error() == Some(EXDEV)
        || (err.kind() == IoKind::PermissionDenied && err.to_string().contains("outside"))
}

/// `err`, from working on `what` beneath `root`: an escape says so.
fn beneath_error(err: std::io::Error, what: &str, root: &Path) -> StoreError {
    if escaped(&err) {
        return outside(what, root);
    }
    StoreError::from(err).context(what)
}

/// `EXDEV` (Linux's number), which `openat2` answers a path that would leave its root with.
const EXDEV: i32 = 18;

impl Root {
    /// Runs `work` with the root's handle (made first if `create`) on this thread.
    fn run<T>(&self, create: bool, work: impl FnOnce(&Dir, &Path) -> Result<T>) -> Result<T> {
        let dir = match create {
            true => self.dir_creating()?,
            false => self.dir()?,
        };
        work(dir, self.beneath())
    }

    /// The root's handle; a NotFound error while it does not exist.
    fn dir(&self) -> Result<&Arc<Dir>> {
        if let Some(dir) = self.dir.get() {
            return Ok(dir);
        }
        let opened = self.open().map_err(|e| match e.kind() {
            IoKind::NotFound => StoreError::new(
                ErrorKind::NotFound,
                format!("directory {} does not exist", self.path.display()),
            ),
            _ => beneath_error(e, &self.path.display().to_string(), self.beneath()),
        })?;
        Ok(self.dir.get_or_init(|| Arc::new(opened)))
    }

    /// The root's handle, the root made first if it does not exist (a destination).
    fn dir_creating(&self) -> Result<&Arc<Dir>> {
        match self.dir() {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.create()?;
                self.dir()
            }
            other => other,
        }
    }

    /// The directory the root is opened beneath: its confinement, or the root itself.
    fn beneath(&self) -> &Path {
        self.confine.as_deref().unwrap_or(&self.path)
    }

    /// The root's path below its confinement.
    fn below_confine(&self) -> Result<(&Path, &Path)> {
        let confine = self.confine.as_deref().expect("called when confined");
        let rel = self.path.strip_prefix(confine).map_err(|_| {
            StoreError::usage(format!(
                "{} is not beneath {}",
                self.path.display(),
                confine.display()
            ))
        })?;
        Ok((confine, rel))
    }

    fn open(&self) -> std::io::Result<Dir> {
        let ambient = cap_std::ambient_authority();
        let Some(_) = &self.confine else {
            return Dir::open_ambient_dir(&self.path, ambient);
        };
        let (confine, rel) = self
            .below_confine()
            .map_err(|e| std::io::Error::new(IoKind::InvalidInput, e.to_string()))?;
        let base = Dir::open_ambient_dir(confine, ambient)?;
        match rel.as_os_str().is_empty() {
            true => Ok(base),
            false => base.open_dir(rel),
        }
    }

    fn create(&self) -> Result<()> {
        let shown = self.path.display().to_string();
        let made = match &self.confine {
            None => std::fs::create_dir_all(&self.path),
            Some(_) => {
                let (confine, rel) = self.below_confine()?;
                Dir::open_ambient_dir(confine, cap_std::ambient_authority())
                    .and_then(|base| base.create_dir_all(rel))
            }
        };
        made.map_err(|e| beneath_error(e, &shown, self.beneath()))
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
        if options.confine.is_none() && root.exists() && !root.is_dir() {
            return Err(StoreError::usage(format!(
                "{} is a file; give the directory that holds it",
                root.display()
            )));
        }
        Ok(Self {
            root: Arc::new(Root {
                path: root,
                confine: options.confine.clone(),
                dir: OnceLock::new(),
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
            write_here: AtomicBool::new(true),
            write_here_nanos: AtomicU64::new(0),
        })
    }

    /// The path a key maps to below the root, or a usage error saying why the key cannot be
    /// a file name.
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
        let mut path = PathBuf::new();
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

    /// Runs `work` on the blocking pool with the root's handle (made first if `create`).
    async fn beneath<T: Send + 'static>(
        &self,
        create: bool,
        work: impl FnOnce(&Dir, &Path) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let root = self.root.clone();
        blocking(move || root.run(create, work)).await
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
        Ok(Path::new(STAGING_DIR).join("uploads").join(&upload.0))
    }

    /// A fresh file name in the staging directory (see [`create_staged`]).
    fn staging_file() -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        Path::new(STAGING_DIR).join(unique_name(COUNTER.fetch_add(1, Ordering::Relaxed)))
    }

    /// Fills a new staging file with `write` (given the root's handle, the directory it is
    /// opened beneath and the file's path) in one trip to the blocking pool, or on this
    /// thread if `here`; returns the file, or removes it when `write` failed.
    async fn stage(
        &self,
        here: bool,
        write: impl FnOnce(&Dir, &Path, &Path) -> Result<()> + Send + 'static,
    ) -> Result<PathBuf> {
        let staged = Self::staging_file();
        let out = staged.clone();
        let work = move |dir: &Dir, root: &Path| {
            let written = write(dir, root, &out);
            if written.is_err() {
                let _ = dir.remove_file(&out);
            }
            written
        };
        match here {
            true => self.root.run(true, work)?,
            false => self.beneath(true, work).await?,
        }
        Ok(staged)
    }

    /// Moves a finished staging file to the key's path, creating directories as needed; if it
    /// cannot, the staging file is removed.
    async fn publish(&self, staged: &Path, key: &str) -> Result<()> {
        let dest = self.key_path(key)?;
        let (staged, key) = (staged.to_path_buf(), key.to_owned());
        // One trip to the blocking pool for the whole move: each is a thread hand-off.
        self.beneath(true, move |dir, root| {
            let moved = move_into_place(dir, root, &staged, &dest, &key);
            if moved.is_err() {
                let _ = dir.remove_file(&staged);
            }
            moved
        })
        .await
    }

    /// Writes a small object (`chunks`, all of it) to `dest`: a staging file created, filled
    /// and moved into place at once. Up to [`WRITE_HERE_MOST`] bytes, on the task's own
    /// thread, like a Go program's system calls: each trip to the blocking pool is two thread
    /// hand-offs (200,000 objects of 4 bytes S3 -> local at 10 ms: 38 s and 47 s of CPU
    /// through the pool, 32 s and 41 s here). Once these writes are slower than their budget
    /// on average, every later one goes to the pool.
    async fn write_small(&self, key: &str, dest: PathBuf, chunks: Vec<Bytes>) -> Result<()> {
        let size: usize = chunks.iter().map(Bytes::len).sum();
        let here = size <= WRITE_HERE_MOST && self.write_here.load(Ordering::Relaxed);
        let (started, switches) = (Instant::now(), voluntary_switches());
        let key = key.to_owned();
        let written = self
            .stage(here, move |dir, root, staged| {
                let mut file = create_staged(dir, staged)?;
                chunks.iter().try_for_each(|chunk| file.write_all(chunk))?;
                drop(file);
                move_into_place(dir, root, staged, &dest, &key)
            })
            .await;
        if here {
            let slept = match (switches, voluntary_switches()) {
                (Some(before), Some(after)) => after > before,
                _ => true,
            };
            self.time_write_here(match slept {
                true => started.elapsed(),
                false => Duration::ZERO,
            });
        }
        written.map(drop)
    }

    /// Counts a write on the task's own thread that slept `took` this long into the average, and
    /// sends later writes to the blocking pool once the average is over budget. Concurrent
    /// writes may lose one another's update: the average is a guide, not a ledger.
    fn time_write_here(&self, took: Duration) {
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let mean = self.write_here_nanos.load(Ordering::Relaxed);
        let mean = mean - mean / WRITE_HERE_WEIGHT + took / WRITE_HERE_WEIGHT;
        self.write_here_nanos.store(mean, Ordering::Relaxed);
        if u128::from(mean) > WRITE_HERE_BUDGET.as_nanos() {
            tracing::debug!(
                average = ?Duration::from_nanos(mean),
                "small writes are slow here: writing on the blocking pool from now on"
            );
            self.write_here.store(false, Ordering::Relaxed);
        }
    }

    /// Writes `body` to a new staging file, gathering [`WRITE_BUFFER`] bytes for each trip to
    /// the blocking pool (a small object makes one). Returns the file, to be published or
    /// removed; on error it is removed here. Like cp and rclone, no fsync per file: it made
    /// small-file copies several times slower (bench/RESULTS.md); a power cut may lose the
    /// last files written.
    async fn write_staged(&self, mut body: BoxStream<'_, Result<Bytes>>) -> Result<PathBuf> {
        let staged = Self::staging_file();
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
                let write = self.beneath(true, move |dir, _| {
                    let mut file = match open {
                        Some(file) => file,
                        None => create_staged(dir, &path)?,
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
                let removed = staged.clone();
                let _ = self
                    .beneath(false, move |dir, _| Ok(dir.remove_file(&removed)?))
                    .await;
                Err(err)
            }
        }
    }

    fn meta_of(key: String, meta: &cap_std::fs::Metadata) -> ObjectMeta {
        let mut object = ObjectMeta::new(key, meta.len());
        object.last_modified = meta
            .modified()
            .ok()
            .map(|t| time::OffsetDateTime::from(t.into_std()));
        object
    }

    /// The file at `key`, opened beneath the root, with its metadata (read from the open
    /// file: what is read is what was looked at).
    fn open_file(
        dir: &Dir,
        root: &Path,
        key: &str,
        path: &Path,
    ) -> Result<(std::fs::File, cap_std::fs::Metadata)> {
        let file = dir
            .open(path)
            .map_err(|e| beneath_error(e, &format!("'{key}'"), root))?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(StoreError::new(
                ErrorKind::NotFound,
                format!("'{key}' is not a file"),
            ));
        }
        Ok((file.into_std(), meta))
    }
}

/// Moves the staging file `staged` to `dest`, creating the directories that hold it.
fn move_into_place(dir: &Dir, root: &Path, staged: &Path, dest: &Path, key: &str) -> Result<()> {
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        dir.create_dir_all(parent).map_err(|e| match e.kind() {
            // A parent that is a symlink out of the root is not a file in the way.
            IoKind::AlreadyExists | IoKind::NotADirectory => match dir.metadata(parent) {
                Err(e) if escaped(&e) => outside(&format!("'{key}'"), root),
                _ => StoreError::new(
                    ErrorKind::Conflict,
                    format!("key '{key}' cannot be stored on local disk: a parent of it is a file"),
                ),
            },
            _ => beneath_error(e, &format!("the directory for '{key}'"), root),
        })?;
    }
    // A directory at the path (even one made by a concurrent write) fails the rename.
    dir.rename(staged, dir, dest).map_err(|e| match e.kind() {
        IoKind::IsADirectory | IoKind::DirectoryNotEmpty => StoreError::new(
            ErrorKind::Conflict,
            format!("key '{key}' cannot be stored on local disk: it is a directory there"),
        ),
        _ => beneath_error(e, &format!("'{key}'"), root),
    })
}

/// How many times this thread has slept in the kernel (its voluntary context switches), where
/// the system tells; `None` elsewhere, where every write's time counts.
#[cfg(target_os = "linux")]
fn voluntary_switches() -> Option<i64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the one rusage the pointer points to, a valid, writable one.
    let filled = unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) } == 0;
    // SAFETY: zeroed is a valid rusage, and getrusage filled it when it says so.
    filled.then(|| unsafe { usage.assume_init() }.ru_nvcsw)
}

/// See the Linux version: no per-thread count here.
#[cfg(not(target_os = "linux"))]
fn voluntary_switches() -> Option<i64> {
    None
}

/// The name of an upload's part marker: its number, zero-padded.
fn part_handle(number: u32) -> String {
    format!("{number:05}")
}

/// A part marker's offset and size (written by `upload_part` once the part's bytes are in
/// the upload's file).
fn read_marker(root: &Dir, marker: &Path) -> Result<(u64, u64)> {
    let text = root.read_to_string(marker)?;
    let parsed = text
        .split_once(' ')
        .and_then(|(offset, size)| Some((offset.parse().ok()?, size.parse().ok()?)));
    parsed.ok_or_else(|| {
        StoreError::new(
            ErrorKind::Other,
            format!("part marker {} is damaged: '{text}'", marker.display()),
        )
    })
}

/// Runs blocking file-system work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::new(ErrorKind::Io, format!("file-system task failed: {e}")))?
}

/// Creates a staging file beneath `dir`, and the staging directory when it is missing (the
/// first write, or someone removed it): checking for the directory before every file cost a
/// system call and a trip to the blocking pool per object.
fn create_staged(dir: &Dir, path: &Path) -> Result<std::fs::File> {
    let created = match dir.create(path) {
        Err(e) if e.kind() == IoKind::NotFound => {
            if let Some(parent) = path.parent() {
                dir.create_dir_all(parent)?;
            }
            dir.create(path)?
        }
        created => created?,
    };
    Ok(created.into_std())
}

/// The files under `root` whose keys start with `prefix`, in key order (UTF-8 bytes), from
/// just after `start_after` to just before `end_before`: one directory's entries in memory at
/// a time, so a tree of any size lists in bounded memory. Directories sort among their
/// siblings as `name/`, which is where every key under them sorts; subtrees wholly outside the
/// bounds are not read. Everything is read beneath the root's handle.
struct SortedWalk {
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
    fn new(root: Arc<Dir>, request: &ListRequest) -> Result<Self> {
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
                        self.open_dir(dir_key.trim_end_matches('/'))?;
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
            let walk = SortedWalk::new(root.dir()?.clone(), &request)?;
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
        let path = self.key_path(key)?;
        let key = key.to_owned();
        self.beneath(false, move |dir, root| {
            let (_, meta) = Self::open_file(dir, root, &key, &path)?;
            Ok(Self::meta_of(key, &meta))
        })
        .await
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<GetResult> {
        let path = self.key_path(key)?;
        let owned = key.to_owned();
        let (file, meta) = self
            .beneath(false, move |dir, root| {
                let (file, meta) = Self::open_file(dir, root, &owned, &path)?;
                Ok((file, Self::meta_of(owned, &meta)))
            })
            .await?;
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
        let mut file = tokio::fs::File::from_std(file);
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
        mut body: BoxStream<'_, Result<Bytes>>,
        _attributes: &ObjectAttributes,
    ) -> Result<PutResult> {
        let dest = self.key_path(key)?;
        let (mut head, mut head_len) = (Vec::new(), 0);
        while head_len < WRITE_BUFFER {
            match body.try_next().await? {
                Some(chunk) => {
                    head_len += chunk.len();
                    head.push(chunk);
                }
                None => {
                    self.write_small(key, dest, head).await?;
                    return Ok(PutResult { etag: None });
                }
            }
        }
        let body = stream::iter(head.into_iter().map(Ok)).chain(body).boxed();
        let staged = self.write_staged(body).await?;
        self.publish(&staged, key).await?;
        Ok(PutResult { etag: None })
    }

    async fn create_upload(&self, key: &str, _attributes: &ObjectAttributes) -> Result<UploadId> {
        self.key_path(key)?;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let upload = UploadId(unique_name(COUNTER.fetch_add(1, Ordering::Relaxed)));
        let dir = self.upload_dir(&upload)?;
        self.beneath(true, move |root, _| {
            root.create_dir_all(&dir)?;
            root.create(dir.join(UPLOAD_DATA))?;
            Ok(())
        })
        .await?;
        Ok(upload)
    }

    async fn upload_part(
        &self,
        _key: &str,
        upload: &UploadId,
        number: u32,
        offset: u64,
        body: Bytes,
        crc64nvme: Option<u64>,
    ) -> Result<PartReceipt> {
        let dir = self.upload_dir(upload)?;
        let (size, upload_id) = (body.len() as u64, upload.0.clone());
        let handle = part_handle(number);
        let marker = dir.join(&handle);
        // One trip to the blocking pool: the bytes written where they belong in the upload's
        // file (no part files joined at the end: that copied every byte a second time), then
        // the part's marker, so a part is listed only once its bytes are in place.
        self.beneath(false, move |root, _| {
            let data = root.open_with(
                dir.join(UPLOAD_DATA),
                cap_std::fs::OpenOptions::new().write(true),
            );
            let data = match data {
                Err(e) if e.kind() == IoKind::NotFound => {
                    return Err(StoreError::new(
                        ErrorKind::NotFound,
                        format!("upload {upload_id} does not exist"),
                    ))
                }
                data => data?.into_std(),
            };
            std::os::unix::fs::FileExt::write_all_at(&data, &body, offset)?;
            root.write(&marker, format!("{offset} {size}"))?;
            Ok(())
        })
        .await?;
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
        let source = local_source(source)?;
        let bytes = blocking(move || {
            let path = PathBuf::from(&source.key);
            let mut file = source
                .root
                .open(&path)
                .map_err(|e| StoreError::from(e).context(format!("'{}'", source.key)))?;
            file.seek(SeekFrom::Start(range.start))?;
            let mut buf = Vec::with_capacity(range.len() as usize);
            file.take(range.len()).read_to_end(&mut buf)?;
            Ok(buf)
        })
        .await?;
        // A block copies its range of the source to the same place in the destination.
        self.upload_part(key, upload, number, range.start, bytes.into(), None)
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
        let dest = self.key_path(key)?;
        let dir = self.upload_dir(upload)?;
        let handles: Vec<String> = parts.iter().map(|p| p.handle.clone()).collect();
        let what = format!("the parts of '{key}'");
        let owned_key = key.to_owned();
        // The parts must follow one another from the start: their bytes are then the whole
        // file, cut to its size (a longer earlier attempt leaves nothing past it).
        self.beneath(false, move |root, base| {
            let mut size = 0;
            for handle in &handles {
                let (offset, len) = read_marker(root, &dir.join(handle))
                    .map_err(|e| e.context(format!("{what}: part {handle}")))?;
                if offset != size {
                    return Err(StoreError::new(
                        ErrorKind::Conflict,
                        format!("{what}: part {handle} starts at {offset}, not {size}"),
                    ));
                }
                size += len;
            }
            let data = dir.join(UPLOAD_DATA);
            root.open_with(&data, cap_std::fs::OpenOptions::new().write(true))?
                .set_len(size)?;
            move_into_place(root, base, &data, &dest, &owned_key)?;
            root.remove_dir_all(&dir)?;
            Ok(())
        })
        .await?;
        Ok(PutResult { etag: None })
    }

    async fn abort_upload(&self, _key: &str, upload: &UploadId) -> Result<()> {
        let dir = self.upload_dir(upload)?;
        self.beneath(false, move |root, _| match root.remove_dir_all(&dir) {
            Err(e) if e.kind() != IoKind::NotFound => Err(e.into()),
            _ => Ok(()),
        })
        .await
    }

    async fn list_parts(&self, _key: &str, upload: &UploadId) -> Result<Vec<PartReceipt>> {
        let dir = self.upload_dir(upload)?;
        self.beneath(false, move |root, _| {
            let mut parts = Vec::new();
            for entry in root.read_dir(&dir)? {
                let handle = entry?.file_name().to_string_lossy().into_owned();
                if let Ok(number) = handle.parse::<u32>() {
                    let (_, size) = read_marker(root, &dir.join(&handle))?;
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
        })
        .await
    }

    async fn copy_object(
        &self,
        key: &str,
        source: &CopySource,
        _attributes: &ObjectAttributes,
    ) -> Result<PutResult> {
        self.key_path(key)?;
        let source = local_source(source)?;
        // Dir::copy keeps the file's permission bits, as cp does; it reads beneath the
        // source's root and writes beneath this one.
        let staged = self
            .stage(false, move |root, _, out| {
                create_staged(root, out)?;
                source
                    .root
                    .copy(&source.key, root, out)
                    .map_err(|e| StoreError::from(e).context(format!("'{}'", source.key)))?;
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
        self.head(key).await?;
        Ok(CopySource::File(LocalFile {
            root: self.root.dir()?.clone(),
            shown: self.display_root(),
            key: key.to_owned(),
        }))
    }

    async fn create_root(&self) -> Result<()> {
        self.beneath(true, |_, _| Ok(())).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.key_path(key)?;
        let shown = key.to_owned();
        self.beneath(false, move |root, beneath| {
            match root.remove_file(&path) {
                Err(e) if e.kind() != IoKind::NotFound => {
                    return Err(beneath_error(e, &format!("'{shown}'"), beneath))
                }
                _ => {}
            }
            // Remove directories the delete left empty, up to (not including) the root.
            let mut dir = path.parent();
            while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
                if root.remove_dir(d).is_err() {
                    break;
                }
                dir = d.parent();
            }
            Ok(())
        })
        .await
    }
}

/// The local file a native copy reads.
fn local_source(source: &CopySource) -> Result<LocalFile> {
    match source {
        CopySource::File(file) => Ok(file.clone()),
        _ => Err(StoreError::new(
            ErrorKind::Unsupported,
            "a local destination copies natively only from another local directory",
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

    /// Small objects are written on the task's thread until such writes overrun their
    /// budget on average, then on the blocking pool; either way every byte lands, a write that fails
    /// (a parent of the key is a file) leaves no staging file, and an object larger than
    /// the limit for the thread goes to the pool without turning the store off it.
    #[tokio::test(flavor = "multi_thread")]
    async fn small_writes_run_here_until_they_are_slow_then_on_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        async fn put(s: &LocalStore, key: &str, body: Vec<u8>) -> Result<PutResult> {
            s.put(key, body.into(), &ObjectAttributes::default(), None)
                .await
        }
        put(&s, "a", b"here".to_vec()).await.unwrap();
        put(&s, "big", vec![7; WRITE_HERE_MOST + 1]).await.unwrap();
        assert!(
            s.write_here.load(Ordering::Relaxed),
            "fast writes stay here"
        );
        put(&s, "a/under-a-file", b"x".to_vec()).await.unwrap_err();
        // As if the writes so far had slept for a second each.
        s.write_here_nanos.store(1_000_000_000, Ordering::Relaxed);
        put(&s, "b", b"slow".to_vec()).await.unwrap();
        assert!(
            !s.write_here.load(Ordering::Relaxed),
            "a slow write sends the rest to the pool"
        );
        put(&s, "c", b"pool".to_vec()).await.unwrap();
        put(&s, "b/under-b-file", b"x".to_vec()).await.unwrap_err();
        assert!(!s.write_here.load(Ordering::Relaxed));
        for (key, body) in [("a", &b"here"[..]), ("b", b"slow"), ("c", b"pool")] {
            assert_eq!(std::fs::read(dir.path().join(key)).unwrap(), body, "{key}");
        }
        assert_eq!(
            std::fs::read(dir.path().join("big")).unwrap(),
            vec![7; WRITE_HERE_MOST + 1]
        );
        let staging = std::fs::read_dir(dir.path().join(STAGING_DIR)).unwrap();
        assert_eq!(staging.count(), 0, "no staging file left behind");
    }

    /// A fast write now and then held up for milliseconds (its thread descheduled) keeps
    /// small writes on the task's thread; writes that are slow again and again do not.
    #[test]
    fn only_writes_slow_on_average_leave_the_task_thread() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        for round in 0..1_000 {
            let spike = round % 50 == 0;
            s.time_write_here(Duration::from_micros(if spike { 8_000 } else { 30 }));
        }
        assert!(
            s.write_here.load(Ordering::Relaxed),
            "spikes alone keep writes here"
        );
        let mut slow_writes = 0;
        while s.write_here.load(Ordering::Relaxed) {
            s.time_write_here(2 * WRITE_HERE_BUDGET);
            slow_writes += 1;
            assert!(slow_writes < 100, "slow writes never sent to the pool");
        }
        assert!(slow_writes > 1, "one slow write is not an average");
    }

    /// Parts land at their offsets in one file, whatever order they come in; a part written
    /// again (a retry) replaces its bytes; parts that leave a gap are refused at completion
    /// and nothing becomes visible; completed, the object is the parts' bytes and nothing of
    /// the upload is left.
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

    /// A thread that sleeps is seen to: what tells a write that waited on a disk from one
    /// whose thread was only descheduled.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_sleeping_thread_counts_a_voluntary_switch() {
        let before = voluntary_switches().expect("Linux counts them");
        std::thread::sleep(Duration::from_millis(2));
        assert!(voluntary_switches().unwrap() > before);
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
}
