//! Which listed objects a job takes: globs and regular expressions on the key (relative to the
//! source prefix), modification time and size.

use awcopy_store::ObjectMeta;
use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::RegexSet;
use time::OffsetDateTime;

/// The filter settings as a user gives them (times absolute, so a resume filters as the
/// first run did).
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct FilterSpec {
    /// Take only keys matching one of these globs (`*` matches across `/`).
    pub include: Vec<String>,
    /// Leave keys matching any of these globs.
    pub exclude: Vec<String>,
    /// Take only keys matching one of these regular expressions.
    pub include_regex: Vec<String>,
    /// Leave keys matching any of these regular expressions.
    pub exclude_regex: Vec<String>,
    /// Take only objects modified at or after this time.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub modified_since: Option<OffsetDateTime>,
    /// Take only objects modified at or before this time.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub modified_before: Option<OffsetDateTime>,
    /// Take only objects of at least this many bytes.
    pub min_size: Option<u64>,
    /// Take only objects of at most this many bytes.
    pub max_size: Option<u64>,
}

/// A compiled filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
    include_regex: Option<RegexSet>,
    exclude_regex: Option<RegexSet>,
    spec: FilterSpec,
}

/// A pattern that does not compile, with the field of [`FilterSpec`] it came from.
#[derive(Debug, thiserror::Error)]
#[error("{field}: '{pattern}': {reason}")]
pub struct PatternError {
    /// The field, as a job spec names it, e.g. `filters.include`.
    pub field: &'static str,
    /// The pattern as given.
    pub pattern: String,
    /// Why it does not compile.
    pub reason: String,
}

fn globs(field: &'static str, patterns: &[String]) -> Result<Option<GlobSet>, PatternError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern).map_err(|e| PatternError {
            field,
            pattern: pattern.clone(),
            reason: e.kind().to_string(),
        })?;
        builder.add(glob);
    }
    builder.build().map(Some).map_err(|e| PatternError {
        field,
        pattern: patterns.join(" "),
        reason: e.to_string(),
    })
}

fn regexes(field: &'static str, patterns: &[String]) -> Result<Option<RegexSet>, PatternError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    for pattern in patterns {
        regex::Regex::new(pattern).map_err(|e| PatternError {
            field,
            pattern: pattern.clone(),
            reason: e
                .to_string()
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .to_owned(),
        })?;
    }
    RegexSet::new(patterns).map(Some).map_err(|e| PatternError {
        field,
        pattern: patterns.join(" "),
        reason: e.to_string(),
    })
}

impl Filter {
    /// Compiles the patterns of `spec`.
    pub fn new(spec: FilterSpec) -> Result<Self, PatternError> {
        Ok(Self {
            include: globs("filters.include", &spec.include)?,
            exclude: globs("filters.exclude", &spec.exclude)?,
            include_regex: regexes("filters.include_regex", &spec.include_regex)?,
            exclude_regex: regexes("filters.exclude_regex", &spec.exclude_regex)?,
            spec,
        })
    }

    /// Whether the job takes `object`, whose key relative to the source prefix is `relative`.
    pub fn accepts(&self, relative: &str, object: &ObjectMeta) -> bool {
        let spec = &self.spec;
        let modified_ok = |bound: Option<OffsetDateTime>, after: bool| {
            bound.is_none_or(|b| {
                object
                    .last_modified
                    .is_some_and(|m| if after { m >= b } else { m <= b })
            })
        };
        self.include.as_ref().is_none_or(|g| g.is_match(relative))
            && self
                .include_regex
                .as_ref()
                .is_none_or(|r| r.is_match(relative))
            && !self.exclude.as_ref().is_some_and(|g| g.is_match(relative))
            && !self
                .exclude_regex
                .as_ref()
                .is_some_and(|r| r.is_match(relative))
            && spec.min_size.is_none_or(|min| object.size >= min)
            && spec.max_size.is_none_or(|max| object.size <= max)
            && modified_ok(spec.modified_since, true)
            && modified_ok(spec.modified_before, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn object(key: &str, size: u64, modified: OffsetDateTime) -> ObjectMeta {
        let mut meta = ObjectMeta::new(key, size);
        meta.last_modified = Some(modified);
        meta
    }

    #[test]
    fn globs_regexes_sizes_and_times() {
        let filter = Filter::new(FilterSpec {
            include: vec!["*.log".into(), "data/**".into()],
            exclude: vec!["*/tmp/*".into()],
            exclude_regex: vec!["^data/skip".into()],
            min_size: Some(1),
            max_size: Some(100),
            modified_since: Some(datetime!(2026-01-01 0:00 UTC)),
            ..Default::default()
        })
        .unwrap();
        let new = datetime!(2026-06-01 0:00 UTC);
        let old = datetime!(2025-06-01 0:00 UTC);
        let takes = |key: &str, size: u64, time| filter.accepts(key, &object(key, size, time));
        assert!(takes("a/b/c.log", 10, new), "* crosses /");
        assert!(takes("data/x.bin", 10, new));
        assert!(!takes("a/tmp/c.log", 10, new), "excluded glob");
        assert!(!takes("data/skip/x", 10, new), "excluded regex");
        assert!(!takes("x.bin", 10, new), "not included");
        assert!(
            !takes("a.log", 0, new) && !takes("a.log", 101, new),
            "size bounds"
        );
        assert!(!takes("a.log", 10, old), "modified before the bound");
        assert!(Filter::default().accepts("anything", &ObjectMeta::new("anything", 0)));
    }

    #[test]
    fn bad_patterns_name_their_field() {
        let err = Filter::new(FilterSpec {
            include: vec!["a[".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            err.to_string().starts_with("filters.include: 'a['"),
            "{err}"
        );
        let err = Filter::new(FilterSpec {
            exclude_regex: vec!["(".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            err.to_string().starts_with("filters.exclude_regex: '('"),
            "{err}"
        );
    }
}
