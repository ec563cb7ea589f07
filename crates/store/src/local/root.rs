//! A local store's root directory, opened once and beneath the directory a service confined
//! it to, and what an attempt to leave it says.

use cap_std::fs::Dir;
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::error::{ErrorKind, Result, StoreError};

/// A store's root directory: its path, and its handle once opened (once: not per file).
#[derive(Debug)]
pub(super) struct Root {
    /// The absolute path the location names.
    pub(super) path: PathBuf,
    /// The directory the root must lie beneath, if any: the root is opened beneath it.
    pub(super) confine: Option<PathBuf>,
    /// Its handle, once opened.
    pub(super) dir: OnceLock<Arc<Dir>>,
}

/// What a symlink that leads out of a root says, as an error.
pub(super) fn outside(what: &str, root: &Path) -> StoreError {
    StoreError::new(
        ErrorKind::Auth,
        format!("{what} leads outside {} through a symlink", root.display()),
    )
}

/// Whether `err` refused a path that would leave its root (`EXDEV` from `openat2`, or
/// cap-std's own refusal).
pub(super) fn escaped(err: &std::io::Error) -> bool {
    err.raw_os_error() == Some(EXDEV)
        || (err.kind() == IoKind::PermissionDenied && err.to_string().contains("outside"))
}

/// `err`, from working on `what` beneath `root`: an escape says so.
pub(super) fn beneath_error(err: std::io::Error, what: &str, root: &Path) -> StoreError {
    if escaped(&err) {
        return outside(what, root);
    }
    StoreError::from(err).context(what)
}

/// `EXDEV` (Linux's number), which `openat2` answers a path that would leave its root with.
const EXDEV: i32 = 18;

impl Root {
    /// Runs `work` with the root's handle (made first if `create`) on this thread.
    pub(super) fn run<T>(
        &self,
        create: bool,
        work: impl FnOnce(&Dir, &Path) -> Result<T>,
    ) -> Result<T> {
        let dir = match create {
            true => self.dir_creating()?,
            false => self.dir()?,
        };
        work(dir, self.beneath())
    }

    /// The root's handle; a NotFound error while it does not exist.
    pub(super) fn dir(&self) -> Result<&Arc<Dir>> {
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
    pub(super) fn dir_creating(&self) -> Result<&Arc<Dir>> {
        match self.dir() {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.create()?;
                self.dir()
            }
            other => other,
        }
    }

    /// The directory the root is opened beneath: its confinement, or the root itself.
    pub(super) fn beneath(&self) -> &Path {
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
