//! A directory tree as a store. Keys map to paths below the root with `/` as separator.
//!
//! Every file is opened beneath the root's directory handle (`cap-std`: `openat2` with
//! `RESOLVE_BENEATH` on Linux), never by an absolute path checked first: a key cannot leave
//! the root, by `..` or by a symlink, and nothing can swap a directory for a symlink between a
//! check and an open. A store a service opens ([`OpenOptions::confine`]) opens its root the
//! same way beneath the directory its operator granted. Keys with `..`, empty or absolute
//! segments are refused. Writes go to a staging file first and are renamed into place, so a
//! half-written object is never visible; a large object's blocks are written at their offsets
//! into one file, moved into place once all are there.
//!
//! Here: the store and its writes; `root`: the root's handle and confinement; `walk`: listing
//! in key order; `write_here`: which small writes skip the blocking pool.

use async_trait::async_trait;
use bytes::Bytes;
use cap_std::fs::Dir;
use futures::stream::BoxStream;
use futures::{stream, StreamExt, TryStreamExt};
use std::io::{ErrorKind as IoKind, Read as _, Seek as _, SeekFrom, Write as _};
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

pub(crate) mod file;
mod parts;
mod root;
mod walk;
mod write_here;

pub use file::LocalFile;
use parts::{part_handle, read_marker, UPLOAD_DATA};
use root::{beneath_error, escaped, outside, Root};
use walk::{Pager, SortedWalk};
use write_here::WriteHere;

/// Directory below the root that holds staging files and uploads in progress; never listed.
pub const STAGING_DIR: &str = ".awcopy-staging";
/// The longest file name segment most file systems accept, in bytes.
const MAX_SEGMENT_BYTES: usize = 255;
const READ_CHUNK: usize = 256 * 1024;
/// Bytes of a streamed write gathered before each trip to the blocking pool.
const WRITE_BUFFER: usize = 1 << 20;

/// A store over a local directory.
#[derive(Debug)]
pub struct LocalStore {
    /// Shared with the blocking tasks that work beneath it.
    root: Arc<Root>,
    capabilities: Capabilities,
    /// Which small writes run on the task's own thread.
    write_here: WriteHere,
}

impl LocalStore {
    /// Opens the directory the location names. It need not exist yet: the first write creates it.
    pub fn open(location: &Location, options: &OpenOptions) -> Result<Self> {
        let Location::Local { root, .. } = location else {
            return Err(StoreError::usage(format!("{location} is not a local path")));
        };
        options.refuse_misfit(crate::Provider::Local)?;
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
            write_here: WriteHere::new(),
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
    /// and moved into place at once, on the task's own thread or in one trip to the blocking
    /// pool (see [`write_here`]).
    async fn write_small(&self, key: &str, dest: PathBuf, chunks: Vec<Bytes>) -> Result<()> {
        let here = self.write_here.start(chunks.iter().map(Bytes::len).sum());
        let key = key.to_owned();
        let written = self
            .stage(here.is_some(), move |dir, root, staged| {
                let mut file = create_staged(dir, staged)?;
                chunks.iter().try_for_each(|chunk| file.write_all(chunk))?;
                drop(file);
                move_into_place(dir, root, staged, &dest, &key)
            })
            .await;
        if let Some(here) = here {
            self.write_here.finish(here);
        }
        written.map(drop)
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
        let what = format!("the parts of '{key}'");
        // A receipt may come from a work item off the network: only a part's own name is
        // read, never another path.
        let handles = parts
            .iter()
            .map(|p| match p.handle.parse::<u32>() {
                Ok(number) if part_handle(number) == p.handle => Ok(p.handle.clone()),
                _ => Err(StoreError::usage(format!(
                    "{what}: '{}' is not a local part",
                    p.handle
                ))),
            })
            .collect::<Result<Vec<String>>>()?;
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

    async fn tidy(&self) -> Result<()> {
        // Only empty directories go: a write in progress, or an upload kept for a resume,
        // keeps them (and a write recreates them when they are missing).
        self.beneath(false, |root, _| {
            let _ = root.remove_dir(Path::new(STAGING_DIR).join("uploads"));
            let _ = root.remove_dir(STAGING_DIR);
            Ok(())
        })
        .await
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
mod tests;
