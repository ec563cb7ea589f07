//! What to do when the destination already holds an object of the same name.

use awcopy_store::ObjectMeta;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// The overwrite policy (seed switch /P).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Overwrite {
    /// Always copy.
    Always,
    /// Never replace an existing object.
    Never,
    /// Replace only when the source was modified later.
    IfNewer,
    /// Replace when size or checksum differ (or, with no checksum on either side, when the
    /// source is newer).
    IfDifferent,
    /// Ask for each existing object.
    Prompt,
}

impl FromStr for Overwrite {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "always" => Self::Always,
            "never" => Self::Never,
            "if-newer" => Self::IfNewer,
            "if-different" => Self::IfDifferent,
            "prompt" => Self::Prompt,
            other => {
                return Err(format!(
                    "'{other}' is not a policy; use always, never, if-newer, if-different or prompt"
                ))
            }
        })
    }
}

/// Answers "overwrite this object?" for [`Overwrite::Prompt`]; may block on a terminal.
pub trait Confirm: Send + Sync + std::fmt::Debug {
    /// Whether to replace the destination object `key`.
    fn overwrite(&self, key: &str) -> bool;
}

/// The decision for one object, short of asking: `Some(copy?)`, or `None` to ask.
pub fn decide(policy: Overwrite, source: &ObjectMeta, existing: &ObjectMeta) -> Option<bool> {
    let newer = match (source.last_modified, existing.last_modified) {
        // Most stores keep whole seconds: a source written in the second its copy was made
        // is not newer than the copy.
        (Some(s), Some(d)) if d.nanosecond() == 0 => s.replace_nanosecond(0).unwrap_or(s) > d,
        (Some(s), Some(d)) => s > d,
        _ => true,
    };
    match policy {
        Overwrite::Always => Some(true),
        Overwrite::Never => Some(false),
        Overwrite::IfNewer => Some(newer),
        Overwrite::IfDifferent => Some(
            source.size != existing.size
                || match (source.checksums.crc64nvme, existing.checksums.crc64nvme) {
                    (Some(a), Some(b)) => a != b,
                    _ => newer,
                },
        ),
        Overwrite::Prompt => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn meta(size: u64, crc: Option<u64>, modified: time::OffsetDateTime) -> ObjectMeta {
        let mut m = ObjectMeta::new("k", size);
        m.checksums.crc64nvme = crc;
        m.last_modified = Some(modified);
        m
    }

    #[test]
    fn policies_decide_as_documented() {
        let old = datetime!(2026-01-01 0:00 UTC);
        let new = datetime!(2026-06-01 0:00 UTC);
        let same = meta(10, Some(1), old);
        assert_eq!(decide(Overwrite::Always, &same, &same), Some(true));
        assert_eq!(
            decide(Overwrite::Never, &meta(11, None, new), &same),
            Some(false)
        );
        assert_eq!(
            decide(Overwrite::IfNewer, &meta(10, Some(1), new), &same),
            Some(true)
        );
        assert_eq!(
            decide(
                Overwrite::IfNewer,
                &meta(10, Some(1), old),
                &meta(10, Some(1), new)
            ),
            Some(false)
        );
        assert_eq!(
            decide(Overwrite::IfDifferent, &same, &meta(10, Some(1), new)),
            Some(false),
            "same CRC, newer dest"
        );
        assert_eq!(
            decide(
                Overwrite::IfDifferent,
                &meta(10, Some(2), old),
                &meta(10, Some(1), new)
            ),
            Some(true),
            "CRC differs"
        );
        assert_eq!(
            decide(
                Overwrite::IfDifferent,
                &meta(11, None, old),
                &meta(10, None, new)
            ),
            Some(true),
            "size differs"
        );
        assert_eq!(
            decide(
                Overwrite::IfDifferent,
                &meta(10, None, old),
                &meta(10, None, new)
            ),
            Some(false),
            "no CRC: by time"
        );
        let copied = datetime!(2026-06-01 10:00:05 UTC);
        assert_eq!(
            decide(
                Overwrite::IfDifferent,
                &meta(10, None, datetime!(2026-06-01 10:00:05.7 UTC)),
                &meta(10, None, copied)
            ),
            Some(false),
            "written in the second of its copy (whole-second store): not newer"
        );
        assert_eq!(
            decide(
                Overwrite::IfNewer,
                &meta(10, None, datetime!(2026-06-01 10:00:06.1 UTC)),
                &meta(10, None, copied)
            ),
            Some(true),
            "a second later: newer"
        );
        assert_eq!(decide(Overwrite::Prompt, &same, &same), None);
        assert!("sometimes"
            .parse::<Overwrite>()
            .unwrap_err()
            .contains("if-different"));
        assert_eq!("if-newer".parse::<Overwrite>(), Ok(Overwrite::IfNewer));
    }
}
