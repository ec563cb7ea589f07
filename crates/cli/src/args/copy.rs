//! Arguments of the copying commands: `cp`, `sync`, `mv`, and the parts `ls --estimate` and
//! `jobs resume` share with them.

use clap::Args;

use super::values::{parse_age, parse_concurrency, parse_size, parse_size_or_zero, parse_time};

/// Arguments of `awcopy sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// What to copy and how.
    #[command(flatten)]
    pub copy: CopyArgs,

    /// Delete objects under DEST that SOURCE does not have (after the copy, and only if every
    /// object copied); asks first unless --yes.
    #[arg(long)]
    pub delete: bool,
}

/// Arguments of `awcopy cp` and `awcopy mv` (and the copy part of `sync`).
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// What to copy: an object, or with -r everything under a prefix or directory.
    #[arg(value_name = "SOURCE")]
    pub source: String,

    /// Where to: a prefix or directory (ending in '/' for a single object keeps its name).
    #[arg(value_name = "DEST")]
    pub dest: String,

    /// Copy everything under SOURCE.
    #[arg(short, long)]
    pub recursive: bool,

    /// Which objects to take.
    #[command(flatten)]
    pub filters: FilterArgs,

    /// How objects are cut into requests.
    #[command(flatten)]
    pub sizes: SizeArgs,

    /// Requests (blocks and small objects) in flight at once, or `auto`: start at 16 and, once
    /// the first answers show the round trip, open up sixteenfold every two round trips while the
    /// fastest answers stay as fast (a far bucket gets 1,024 within its first second), scaling
    /// back as soon as they slow down (a saturated server or client; what counts is the round
    /// trip through the source and the destination, each timed apart); then raise while
    /// throughput follows (up to 1,024) and step back when it does not, and try a quarter
    /// fewer now and then, keeping it while throughput holds. A number N holds N in flight
    /// whenever there is work. Throttling halves either for a while; a number climbs back by
    /// a quarter a second.
    #[arg(long, value_name = "N|auto", default_value = "auto", value_parser = parse_concurrency)]
    pub concurrency: awcopy_engine::copy::ConcurrencyLimit,

    /// Most bytes of streamed objects and blocks held in memory at once, e.g. 512MiB.
    #[arg(long, value_name = "SIZE", default_value = "96MiB", value_parser = parse_size)]
    pub max_memory: u64,

    /// At most N requests per second to the stores.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_rps: Option<u32>,

    /// At most SIZE per second through this machine, e.g. 100MiB (server-side copies are not
    /// counted: their bytes never pass here).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub bandwidth: Option<u64>,

    /// Key ranges listed at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub list_parallelism: u16,

    /// Attempts per request before an object is given up (network errors, throttling, 5xx).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub retries: u32,

    /// Encrypt at the destination: sse-s3, sse-kms[:KEY-ID], sse-c:KEYFILE (S3);
    /// cpk:KEYFILE, scope:NAME (Azure). A KEYFILE holds 32 bytes, raw or base64.
    #[arg(long, value_name = "SPEC")]
    pub encrypt: Option<String>,

    /// List and filter only, and price the copy; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// A name for this job, shown in the summary and in `awcopy jobs list`.
    #[arg(long, value_name = "NAME")]
    pub job_name: Option<String>,

    /// Region of SOURCE, for the --dry-run estimate.
    #[arg(long, value_name = "REGION")]
    pub source_region: Option<String>,

    /// Region of DEST, for the --dry-run estimate.
    #[arg(long, value_name = "REGION")]
    pub dest_region: Option<String>,

    /// Names DEST cannot hold as written (Azure: '\\'; local disk: '//', '..', long segments):
    /// map (store under an escaped name, recorded), skip, or fail.
    #[arg(long, value_name = "POLICY", default_value = "map", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<awcopy_engine::copy::NamePolicy>()))]
    pub name_policy: awcopy_engine::copy::NamePolicy,

    /// How the run reports what it does.
    #[command(flatten)]
    pub output: OutputArgs,

    /// When DEST already holds an object of the same name: always (replace it), never,
    /// if-newer, if-different (size or checksum), prompt (ask for each; default always, for
    /// sync if-different).
    #[arg(long, value_name = "POLICY", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<awcopy_engine::overwrite::Overwrite>()))]
    pub overwrite: Option<awcopy_engine::overwrite::Overwrite>,

    /// Answer yes to every question (overwrite prompts, mv and sync --delete confirmations).
    #[arg(short, long)]
    pub yes: bool,

    /// Start a new job even though an unfinished one copies the same SOURCE to DEST (by
    /// default awcopy points at that job: `awcopy jobs resume ID` continues it).
    #[arg(long)]
    pub new: bool,

    /// Do not record this run in the job catalogue: no `jobs` entry and no resume (the
    /// benchmark compares runs with and without it to show what the catalogue costs).
    #[arg(long, conflicts_with = "new")]
    pub no_catalog: bool,

    /// Submit the job to the awcopy service at URL instead of running it here (the token
    /// comes from AWCOPY_TOKEN); prints the job's id. The service reads and writes with its
    /// own credentials, so locations carry no SAS token. Also --server, or AWCOPY_SERVER.
    #[arg(long, alias = "server", env = "AWCOPY_SERVER", value_name = "URL", conflicts_with_all = ["dry_run", "no_catalog"])]
    pub via: Option<String>,

    /// With --via: follow the job to its end, with the progress line and exit codes of a
    /// local run.
    #[arg(long, requires = "via")]
    pub wait: bool,
}

/// How objects are cut into requests; shared by `cp` and `ls --estimate`, so an estimate
/// prices what the copy does.
#[derive(Debug, Args)]
pub struct SizeArgs {
    /// Block size for large objects, e.g. 8MiB, 512k (binary units); grown to fit part limits.
    #[arg(long, value_name = "SIZE", default_value = "8MiB", value_parser = parse_size)]
    pub block_size: u64,

    /// Copies within one service (S3 -> S3) up to SIZE go in one request; larger ones in
    /// parallel parts of the block size (capped at the service's limit, 5GiB on S3).
    #[arg(long, value_name = "SIZE", default_value = "5GiB", value_parser = parse_size)]
    pub copy_cutoff: u64,

    /// Objects up to SIZE going to local disk are read with one GET and written as they
    /// arrive; larger ones by parallel ranged GETs of the block size.
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = parse_size)]
    pub get_cutoff: u64,
}

/// Which objects a command takes.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Take only keys matching this glob, relative to SOURCE (`*` crosses '/'); repeatable.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,

    /// Leave keys matching this glob; repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Take only keys matching this regular expression; repeatable.
    #[arg(long, value_name = "RE")]
    pub include_regex: Vec<String>,

    /// Leave keys matching this regular expression; repeatable.
    #[arg(long, value_name = "RE")]
    pub exclude_regex: Vec<String>,

    /// Take only objects modified at or after this time (RFC 3339, or YYYY-MM-DD).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub modified_since: Option<time::OffsetDateTime>,

    /// Take only objects at most this old, e.g. 7d, 12h, 30m.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub max_age: Option<std::time::Duration>,

    /// Take only objects at least this old.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub min_age: Option<std::time::Duration>,

    /// Take only objects of at least this size.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_or_zero)]
    pub min_size: Option<u64>,

    /// Take only objects of at most this size.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_or_zero)]
    pub max_size: Option<u64>,
}

/// How a run reports what it does; `cp`, `sync`, `mv`, `jobs resume` and `jobs retry` share it.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print one JSON line per object as it is done, then the report as a JSON line.
    #[arg(long)]
    pub json: bool,

    /// Append a journal to FILE: one JSON line per object action (copied, skipped, failed...).
    #[arg(long, value_name = "FILE")]
    pub log: Option<std::path::PathBuf>,

    /// Write the name mapping manifest (one JSON line per mapped key: source, dest) to FILE.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<std::path::PathBuf>,
}
