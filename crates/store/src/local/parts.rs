//! An upload into a local directory: one data file its parts are written into, each at its
//! offset, and beside it one marker per part ("offset size"), named by the part's number.

use cap_std::fs::Dir;
use std::path::Path;

use crate::error::{ErrorKind, Result, StoreError};

/// The file in an upload's directory that its parts are written into, each at its offset;
/// beside it, one marker per part (see [`read_marker`]).
pub(super) const UPLOAD_DATA: &str = "data";

/// The name of an upload's part marker: its number, zero-padded.
pub(super) fn part_handle(number: u32) -> String {
    format!("{number:05}")
}

/// A part marker's offset and size (written by `upload_part` once the part's bytes are in
/// the upload's file).
pub(super) fn read_marker(root: &Dir, marker: &Path) -> Result<(u64, u64)> {
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
