//! [`LocalFile`]: what a local store gives as the source of a server-side copy.

use cap_std::fs::Dir;
use std::sync::Arc;

/// A file of a local store, for another local store to copy natively: the source's root as
/// it opened it (beneath whatever it was confined to) and the key below it.
#[derive(Clone)]
pub struct LocalFile {
    pub(super) root: Arc<Dir>,
    pub(super) shown: String,
    pub(super) key: String,
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
