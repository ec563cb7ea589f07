//! Names a destination cannot hold as written: what to do with such a key ([`NamePolicy`]),
//! and the record of a name stored under another ([`MappedName`]).

use serde::{Deserialize, Serialize};

/// What to do with a key the destination cannot hold as written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NamePolicy {
    /// Store it under the destination's replacement name, and record the pair.
    #[default]
    Map,
    /// Leave it out, counted and journaled.
    Skip,
    /// Count it as failed.
    Fail,
}

impl std::str::FromStr for NamePolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "map" => Ok(Self::Map),
            "skip" => Ok(Self::Skip),
            "fail" => Ok(Self::Fail),
            other => Err(format!(
                "'{other}' is not a name policy; use map, skip or fail"
            )),
        }
    }
}

/// A name (a key, or a user metadata name) stored under another name at the destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappedName {
    /// The source's name.
    pub source: String,
    /// The name the destination stored it under.
    pub dest: String,
}
