//! What a job is, as data: the [`JobSpec`]. It is what the catalogue stores, what
//! `jobs show --json` prints, what the service accepts as JSON and what a resume reads, so it
//! holds no secret (locations without SAS or signature, encryption keys by file name) and no
//! time relative to "now" (filters carry absolute times). Versioned: a catalogue written by
//! this awcopy stays readable by the next.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::PathBuf;

use crate::concurrency::ConcurrencyLimit;
use crate::estimate::Cutoffs;
use crate::filter::{Filter, FilterSpec};
use crate::names::NamePolicy;
use crate::overwrite::Overwrite;
use awcopy_store::{encryption_misfit, Location, Provider};

/// The version of the spec this awcopy writes; it reads this one and every older one.
pub const SPEC_VERSION: u32 = 1;
/// The largest block: Azure's largest (4000 MiB; S3 takes parts up to 5 GiB).
pub const MAX_BLOCK_SIZE: u64 = 4000 << 20;
/// The most patterns one filter list holds.
const MAX_PATTERNS: usize = 1000;
/// The longest pattern or name, in bytes.
const MAX_TEXT: usize = 4096;

/// A job: what to copy where, which objects, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "version": 1, "mode": "cp", "name": "nightly-raw",
    "source": "s3://example-raw/2026/", "dest": "az://examplestore/archive/2026/",
    "recursive": true, "filters": {"include": ["*.parquet"], "min_size": 1},
    "overwrite": "if-different", "tuning": {"concurrency": "auto", "max_rps": 500}
}))]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// The spec's layout version ([`SPEC_VERSION`]).
    pub version: u32,
    /// `cp`, `sync` or `mv`.
    pub mode: Mode,
    /// What to copy: a location, without its secrets.
    pub source: String,
    /// Where to: a location, without its secrets.
    pub dest: String,
    /// Everything under `source` (a sync always is), rather than the one object it names.
    #[serde(default)]
    pub recursive: bool,
    /// `sync` only: delete destination objects the source does not have.
    #[serde(default)]
    pub delete: bool,
    /// Which objects to take.
    #[serde(default)]
    pub filters: FilterSpec,
    /// How objects are cut into requests.
    #[serde(default)]
    pub sizes: Sizes,
    /// How hard to push the services.
    #[serde(default)]
    pub tuning: Tuning,
    /// What to do with objects the destination holds already (default: `always`; for a sync
    /// `if-different`).
    #[serde(default)]
    pub overwrite: Option<Overwrite>,
    /// What to do with names the destination cannot hold as written.
    #[serde(default)]
    pub name_policy: NamePolicy,
    /// Encryption at the destination, by reference.
    #[serde(default)]
    pub encryption: Option<EncryptionRef>,
    /// The job's name, if it has one.
    #[serde(default)]
    pub name: Option<String>,
    /// Who the job belongs to (set by whoever runs it: the CLI's user, the service's caller).
    #[serde(default)]
    pub user: String,
    /// The S3 endpoint of S3-compatible stores and emulators (not a secret).
    #[serde(default)]
    pub s3_endpoint: Option<String>,
}

/// Which copying command a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Mode {
    /// Copy.
    #[serde(rename = "cp")]
    Copy,
    /// Make the destination hold what the source holds.
    #[serde(rename = "sync")]
    Sync,
    /// Copy, then delete each source object once its copy is verified.
    #[serde(rename = "mv")]
    Move,
}

impl Mode {
    /// The command's name: `cp`, `sync` or `mv`.
    pub fn command(self) -> &'static str {
        match self {
            Mode::Copy => "cp",
            Mode::Sync => "sync",
            Mode::Move => "mv",
        }
    }
}

/// How objects are cut into requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Sizes {
    /// Preferred block size of large objects, in bytes.
    pub block_size: u64,
    /// Copies within one service up to this size go in one request.
    pub copy_cutoff: u64,
    /// Objects up to this size going to local disk are read with one GET.
    pub get_cutoff: u64,
}

impl Default for Sizes {
    fn default() -> Self {
        let cutoffs = Cutoffs::default();
        Self {
            block_size: 8 << 20,
            copy_cutoff: cutoffs.copy,
            get_cutoff: cutoffs.get,
        }
    }
}

impl Sizes {
    /// The sizes up to which objects go whole.
    pub fn cutoffs(&self) -> Cutoffs {
        Cutoffs {
            copy: self.copy_cutoff,
            get: self.get_cutoff,
        }
    }
}

/// How hard a job pushes the services and this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Tuning {
    /// Requests in flight at once: a number, or `"auto"`.
    pub concurrency: ConcurrencyLimit,
    /// Most bytes of streamed data held in memory at once.
    pub max_memory: u64,
    /// At most this many requests per second.
    pub max_rps: Option<u32>,
    /// At most this many bytes per second through this machine.
    pub bandwidth: Option<u64>,
    /// Key ranges listed at once.
    pub list_parallelism: u16,
    /// Attempts per request before an object is given up.
    pub retries: u32,
    /// How many of a service's agents may work on this job at once (all, if unset).
    pub agents: Option<u32>,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            concurrency: ConcurrencyLimit::Auto,
            max_memory: crate::copy::DEFAULT_MEMORY,
            max_rps: None,
            bandwidth: None,
            list_parallelism: 8,
            retries: 8,
            agents: None,
        }
    }
}

/// Encryption at the destination, naming keys by reference: a key file is read where the job
/// runs, and never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum EncryptionRef {
    /// S3-managed keys (SSE-S3).
    SseS3,
    /// AWS KMS (SSE-KMS), with this key or the account's default.
    SseKms {
        /// The KMS key id or ARN.
        #[serde(default)]
        key_id: Option<String>,
    },
    /// A customer key (SSE-C): a file, or a key the running service's operator named.
    SseC {
        /// The file holding the 256-bit key (a job run by the CLI).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<String>)]
        key_file: Option<PathBuf>,
        /// The name of a key the service (and its agents) configured.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_name: Option<String>,
    },
    /// An Azure customer-provided key: a file, or a key the running service's operator named.
    Cpk {
        /// The file holding the 256-bit key (a job run by the CLI).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<String>)]
        key_file: Option<PathBuf>,
        /// The name of a key the service (and its agents) configured.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_name: Option<String>,
    },
    /// An Azure encryption scope.
    Scope {
        /// The scope's name.
        name: String,
    },
}

/// Where a customer key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource<'a> {
    /// A file, read where the job runs.
    File(&'a std::path::Path),
    /// A key the running service's operator configured under this name.
    Named(&'a str),
}

impl EncryptionRef {
    /// Why it cannot apply to a destination of `provider`, if it cannot.
    pub fn misfit(&self, provider: Provider) -> Option<&'static str> {
        let s3_kind = matches!(self, Self::SseS3 | Self::SseKms { .. } | Self::SseC { .. });
        encryption_misfit(s3_kind, provider)
    }

    /// Where its customer key comes from, if it uses one (`None` for an invalid reference
    /// naming both or neither: [`JobSpec::check`] refuses those).
    pub fn key_source(&self) -> Option<KeySource<'_>> {
        match self {
            Self::SseC { key_file, key_name } | Self::Cpk { key_file, key_name } => {
                match (key_file, key_name) {
                    (Some(file), None) => Some(KeySource::File(file)),
                    (None, Some(name)) => Some(KeySource::Named(name)),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// A spec that cannot run, and which field says so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct SpecError {
    /// The field, as named in the JSON (e.g. `tuning.retries`).
    pub field: &'static str,
    /// What is wrong and what would do.
    pub problem: String,
}

impl JobSpec {
    /// A spec of `mode` from `source` to `dest` with every other setting at its default.
    pub fn new(mode: Mode, source: impl Into<String>, dest: impl Into<String>) -> Self {
        Self {
            version: SPEC_VERSION,
            mode,
            source: source.into(),
            dest: dest.into(),
            recursive: mode == Mode::Sync,
            delete: false,
            filters: FilterSpec::default(),
            sizes: Sizes::default(),
            tuning: Tuning::default(),
            overwrite: None,
            name_policy: NamePolicy::Map,
            encryption: None,
            name: None,
            user: String::new(),
            s3_endpoint: None,
        }
    }

    /// The overwrite policy in force: the one given, else the mode's default.
    pub fn overwrite_policy(&self) -> Overwrite {
        self.overwrite.unwrap_or(match self.mode {
            Mode::Sync => Overwrite::IfDifferent,
            _ => Overwrite::Always,
        })
    }

    /// Whether the job copies everything under its source.
    pub fn is_recursive(&self) -> bool {
        self.recursive || self.mode == Mode::Sync
    }

    /// Checks what serde cannot: the version, every number within its range, the patterns,
    /// the encryption against the destination.
    pub fn check(&self) -> Result<(), SpecError> {
        self.checked_filter().map(drop)
    }

    /// [`Self::check`]s the spec; returns its filter, compiled on the way.
    pub fn checked_filter(&self) -> Result<Filter, SpecError> {
        self.check_numbers()?;
        let filter = self.checked_patterns()?;
        self.check_name_and_encryption()?;
        Ok(filter)
    }

    /// The version, and every size and tuning number within its range.
    fn check_numbers(&self) -> Result<(), SpecError> {
        let bad = |field, problem: String| Err(SpecError { field, problem });
        if self.version == 0 || self.version > SPEC_VERSION {
            return bad(
                "version",
                format!(
                    "{} is not a spec version this awcopy reads (1 to {SPEC_VERSION}); upgrade awcopy",
                    self.version
                ),
            );
        }
        if self.delete && self.mode != Mode::Sync {
            return bad("delete", "only a sync deletes extras".into());
        }
        let sizes = [
            (
                "sizes.block_size",
                self.sizes.block_size,
                1,
                MAX_BLOCK_SIZE,
                "4000MiB, the largest block Azure takes",
            ),
            (
                "sizes.copy_cutoff",
                self.sizes.copy_cutoff,
                0,
                5 << 30,
                "5GiB, the largest single copy S3 takes",
            ),
            (
                "sizes.get_cutoff",
                self.sizes.get_cutoff,
                0,
                5 << 40,
                "5TiB",
            ),
            (
                "tuning.max_memory",
                self.tuning.max_memory,
                1,
                1 << 40,
                "1TiB",
            ),
        ];
        for (field, value, least, most, most_said) in sizes {
            if value < least {
                return bad(field, "must be more than zero".into());
            }
            if value > most {
                return bad(
                    field,
                    format!("{value} bytes is more than the most, {most_said}"),
                );
            }
        }
        if let ConcurrencyLimit::Fixed(n) = self.tuning.concurrency {
            if !(1..=1024).contains(&n) {
                return bad(
                    "tuning.concurrency",
                    format!("{n} is out of range; use 1 to 1024, or \"auto\""),
                );
            }
        }
        if !(1..=256).contains(&self.tuning.list_parallelism) {
            return bad("tuning.list_parallelism", "use 1 to 256".into());
        }
        if !(1..=100).contains(&self.tuning.retries) {
            return bad("tuning.retries", "use 1 to 100".into());
        }
        if self.tuning.agents.is_some_and(|n| !(1..=1024).contains(&n)) {
            return bad(
                "tuning.agents",
                "use 1 to 1024 (or leave it out: all)".into(),
            );
        }
        if self.tuning.max_rps == Some(0) || self.tuning.bandwidth == Some(0) {
            return bad(
                "tuning",
                "max_rps and bandwidth must be more than zero".into(),
            );
        }
        Ok(())
    }

    /// The filters' patterns, bounded and compiled.
    fn checked_patterns(&self) -> Result<Filter, SpecError> {
        let bad = |field, problem: String| Err(SpecError { field, problem });
        let patterns = [
            ("filters.include", &self.filters.include),
            ("filters.exclude", &self.filters.exclude),
            ("filters.include_regex", &self.filters.include_regex),
            ("filters.exclude_regex", &self.filters.exclude_regex),
        ];
        for (field, list) in patterns {
            if list.len() > MAX_PATTERNS {
                return bad(
                    field,
                    format!("{} patterns; use at most {MAX_PATTERNS}", list.len()),
                );
            }
            if list.iter().any(|p| p.len() > MAX_TEXT) {
                return bad(field, format!("a pattern is longer than {MAX_TEXT} bytes"));
            }
        }
        Filter::new(self.filters.clone())
            .or_else(|e| bad(e.field, format!("'{}': {}", e.pattern, e.reason)))
    }

    /// The name's length, and the encryption: one key source, fit for the destination.
    fn check_name_and_encryption(&self) -> Result<(), SpecError> {
        let bad = |field, problem: String| Err(SpecError { field, problem });
        if self.name.as_ref().is_some_and(|n| n.len() > MAX_TEXT) {
            return bad("name", format!("longer than {MAX_TEXT} bytes"));
        }
        if let Some(EncryptionRef::SseC { .. } | EncryptionRef::Cpk { .. }) = &self.encryption {
            if self
                .encryption
                .as_ref()
                .and_then(EncryptionRef::key_source)
                .is_none()
            {
                return bad(
                    "encryption",
                    "give either key_file or key_name (a key the service configured), not both"
                        .into(),
                );
            }
        }
        // A destination that does not parse is refused later, in the words of its own field.
        let dest = Location::parse(&self.dest).ok();
        if let (Some(encryption), Some(dest)) = (&self.encryption, dest) {
            if let Some(misfit) = encryption.misfit(dest.provider()) {
                return bad("encryption", misfit.into());
            }
        }
        Ok(())
    }
}

/// In the API's OpenAPI document: a number of requests, or `"auto"`.
impl utoipa::PartialSchema for ConcurrencyLimit {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["auto"])),
            )
            .description(Some("requests in flight at once, or \"auto\""))
            .into()
    }
}

impl utoipa::ToSchema for ConcurrencyLimit {}

impl Serialize for ConcurrencyLimit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ConcurrencyLimit::Auto => serializer.serialize_str("auto"),
            ConcurrencyLimit::Fixed(n) => serializer.serialize_u64(*n as u64),
        }
    }
}

impl<'de> Deserialize<'de> for ConcurrencyLimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Number(usize),
            Text(String),
        }
        match Given::deserialize(deserializer)? {
            Given::Number(n) => Ok(ConcurrencyLimit::Fixed(n)),
            Given::Text(text) if text == "auto" => Ok(ConcurrencyLimit::Auto),
            Given::Text(text) => Err(serde::de::Error::custom(format!(
                "'{text}' is not a concurrency; use a number or \"auto\""
            ))),
        }
    }
}

/// Parses an age or a period such as `7d`, `12h`, `30m`, `45s` (`--max-age`, a schedule's `every`).
pub fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("'{text}' is not an age; use e.g. 7d, 12h, 30m or 45s");
    let text = text.trim();
    let unit = text.chars().last().ok_or_else(bad)?;
    let number: u64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| bad())?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return Err(bad()),
    };
    Ok(std::time::Duration::from_secs(
        number.saturating_mul(seconds),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_survives_json_and_defaults_fill_what_is_left_out() {
        let mut spec = JobSpec::new(Mode::Sync, "s3://a/p/", "az://acct/c/q/");
        spec.delete = true;
        spec.filters.include = vec!["*.csv".into()];
        spec.filters.modified_since = Some(time::macros::datetime!(2026-11-22 10:00 UTC));
        spec.tuning.concurrency = ConcurrencyLimit::Fixed(32);
        spec.encryption = Some(EncryptionRef::Cpk {
            key_file: Some("/keys/k".into()),
            key_name: None,
        });
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["mode"], "sync");
        assert_eq!(json["tuning"]["concurrency"], 32);
        assert_eq!(json["filters"]["modified_since"], "2026-11-22T10:00:00Z");
        assert_eq!(json["encryption"]["kind"], "cpk");
        assert_eq!(serde_json::from_value::<JobSpec>(json).unwrap(), spec);

        let short: JobSpec = serde_json::from_str(
            r#"{"version":1,"mode":"cp","source":"/a","dest":"/b","tuning":{"concurrency":"auto"}}"#,
        )
        .unwrap();
        assert_eq!(short.tuning, Tuning::default());
        assert_eq!(short.overwrite_policy(), Overwrite::Always);
        assert!(short.check().is_ok());
    }

    #[test]
    fn bad_specs_name_their_field() {
        let typo = r#"{"version":1,"mode":"cp","source":"/a","dest":"/b","recursve":true}"#;
        assert!(serde_json::from_str::<JobSpec>(typo)
            .unwrap_err()
            .to_string()
            .contains("recursve"));
        let mut spec = JobSpec::new(Mode::Copy, "/a", "/b");
        spec.version = SPEC_VERSION + 1;
        assert_eq!(spec.check().unwrap_err().field, "version");
        spec.version = SPEC_VERSION;
        spec.tuning.retries = 0;
        assert_eq!(spec.check().unwrap_err().field, "tuning.retries");
        spec.tuning.retries = 3;
        spec.delete = true;
        assert_eq!(spec.check().unwrap_err().field, "delete");
        spec.delete = false;
        type Set = fn(&mut JobSpec);
        let cases: [(&str, Set); 7] = [
            ("sizes.block_size", |s| s.sizes.block_size = u64::MAX),
            ("sizes.copy_cutoff", |s| s.sizes.copy_cutoff = 6 << 30),
            ("tuning.max_memory", |s| s.tuning.max_memory = u64::MAX),
            ("tuning.agents", |s| s.tuning.agents = Some(u32::MAX)),
            ("filters.include", |s| {
                s.filters.include = vec!["*".into(); 1001]
            }),
            ("filters.exclude_regex", |s| {
                s.filters.exclude_regex = vec!["a".repeat(5000)]
            }),
            ("name", |s| s.name = Some("n".repeat(5000))),
        ];
        for (field, set) in cases {
            let mut bounded = JobSpec::new(Mode::Copy, "/a", "/b");
            set(&mut bounded);
            assert_eq!(bounded.check().unwrap_err().field, field);
        }
    }
}
