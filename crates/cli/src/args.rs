//! Command-line arguments.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Copy objects between Amazon S3 (and S3-compatible stores), Azure Blob Storage and local disks.
#[derive(Debug, Parser)]
#[command(name = "awcopy", version, about, long_about = None)]
pub struct Cli {
    /// S3 endpoint URL for S3-compatible stores and emulators (default: AWS_ENDPOINT_URL_S3,
    /// AWS_ENDPOINT_URL, or AWS itself).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Log what awcopy does to stderr (AWCOPY_LOG sets a finer filter).
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// The job catalogue (default: $AWCOPY_DB, else $XDG_DATA_HOME/awcopy/awcopy.db).
    #[arg(long, global = true, value_name = "FILE")]
    pub db: Option<std::path::PathBuf>,

    /// The user jobs are recorded for (default: the OS user).
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List objects at a location, with a summary; --estimate prices copying them.
    Ls(LsArgs),
    /// Copy objects from SOURCE to DEST: in parallel, server-side where the clouds allow it,
    /// streamed otherwise, every object verified.
    Cp(CopyArgs),
    /// Make DEST hold what SOURCE holds: copy new and changed objects (--overwrite defaults
    /// to if-different); with --delete, remove what SOURCE does not have.
    Sync(SyncArgs),
    /// Move objects: copy, then delete each source object once its copy is verified.
    Mv(CopyArgs),
    /// Compare SOURCE and DEST: objects missing, extra, or different (size and checksum).
    Check(CheckArgs),
    /// The job catalogue: every cp, sync and mv run, its counters and failures.
    #[command(subcommand)]
    Jobs(JobsCommand),
}

/// `awcopy jobs ...`.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// Every user's jobs, not just yours.
        #[arg(long)]
        all_users: bool,
        /// Only jobs in this state (running, completed, completed-with-failures, failed, ...).
        #[arg(long, value_name = "STATUS", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<awcopy_jobs::Status>()))]
        status: Option<awcopy_jobs::Status>,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// One job: settings, counters, duration, failures summary.
    Show {
        /// The job id, or a unique prefix of it.
        #[arg(value_name = "ID")]
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The objects of a job that failed (the dead-letter list).
    Failures {
        /// The job id, or a unique prefix of it.
        #[arg(value_name = "ID")]
        id: String,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Continue a job that was paused (Ctrl-C), failed, or whose process died: it lists only
    /// what it had not listed, skips what it copied, and reuses staged blocks. Credentials
    /// come from the environment again.
    Resume(JobAgain),
    /// Copy the failed objects of a finished job again, and only those.
    Retry {
        /// Which job, and its locations again if they need a SAS.
        #[command(flatten)]
        job: JobAgain,
        /// Another name policy for this retry (e.g. map, for names the first run refused).
        #[arg(long, value_name = "POLICY", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<awcopy_engine::copy::NamePolicy>()))]
        name_policy: Option<awcopy_engine::copy::NamePolicy>,
    },
    /// Cancel a job: stop it if it runs here, abort its multipart uploads and drop the blocks
    /// it staged. What it copied stays.
    Cancel {
        /// The job id, or a unique prefix of it.
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Delete finished jobs (completed, with failures, or cancelled) older than AGE from the
    /// catalogue.
    Clean {
        /// e.g. 30d, 12h.
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        older_than: std::time::Duration,
        /// Every user's jobs, not just yours.
        #[arg(long)]
        all_users: bool,
    },
}

/// A recorded job to run again, and its locations given again where they need a SAS.
#[derive(Debug, Args)]
pub struct JobAgain {
    /// The job id, or a unique prefix of it.
    #[arg(value_name = "ID")]
    pub id: String,
    /// The source again, with the SAS or signature the job does not keep (same place).
    #[arg(long, value_name = "LOCATION")]
    pub source: Option<String>,
    /// The destination again, with the SAS the job does not keep (same place).
    #[arg(long, value_name = "LOCATION")]
    pub dest: Option<String>,
}

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

    /// Requests (blocks and small objects) in flight at once, or `auto`: start at 16, raise
    /// while throughput follows (up to 256), step back when it does not. Throttling halves it
    /// for a while either way.
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

    /// A name for this run (seed /J), shown in the summary.
    #[arg(long, value_name = "NAME")]
    pub job_name: Option<String>,

    /// Region of SOURCE, for the --dry-run estimate.
    #[arg(long, value_name = "REGION")]
    pub source_region: Option<String>,

    /// Region of DEST, for the --dry-run estimate.
    #[arg(long, value_name = "REGION")]
    pub dest_region: Option<String>,

    /// Print one JSON line per object as it is done, then the report as a JSON line.
    #[arg(long)]
    pub json: bool,

    /// Append a journal to FILE: one JSON line per object action (seed /Z).
    #[arg(long, value_name = "FILE")]
    pub log: Option<std::path::PathBuf>,

    /// Names DEST cannot hold as written (Azure: '\\'; local disk: '//', '..', long segments):
    /// map (store under an escaped name, recorded), skip, or fail.
    #[arg(long, value_name = "POLICY", default_value = "map", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<awcopy_engine::copy::NamePolicy>()))]
    pub name_policy: awcopy_engine::copy::NamePolicy,

    /// Write the name mapping manifest (one JSON line per mapped key: source, dest) to FILE.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<std::path::PathBuf>,

    /// When DEST already holds an object: always, never, if-newer, if-different, prompt
    /// (seed /P; default always, for sync if-different).
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
}

/// Arguments of `awcopy check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The original.
    #[arg(value_name = "SOURCE")]
    pub source: String,

    /// The copy.
    #[arg(value_name = "DEST")]
    pub dest: String,

    /// Compare sizes only, not checksums or content.
    #[arg(long)]
    pub size_only: bool,

    /// Print differences and the summary as JSON lines.
    #[arg(long)]
    pub json: bool,
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

impl SizeArgs {
    /// The sizes up to which objects go whole.
    pub fn cutoffs(&self) -> awcopy_engine::estimate::Cutoffs {
        awcopy_engine::estimate::Cutoffs {
            copy: self.copy_cutoff,
            get: self.get_cutoff,
        }
    }
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

/// Parses `--concurrency`: a number from 1 to 1024, or `auto`.
pub fn parse_concurrency(text: &str) -> Result<awcopy_engine::copy::ConcurrencyLimit, String> {
    use awcopy_engine::copy::ConcurrencyLimit;
    match text {
        "auto" => Ok(ConcurrencyLimit::Auto),
        n => match n.parse::<usize>() {
            Ok(n @ 1..=1024) => Ok(ConcurrencyLimit::Fixed(n)),
            _ => Err(format!(
                "'{text}' is not a concurrency; use a number from 1 to 1024, or auto"
            )),
        },
    }
}

/// Parses a time: RFC 3339 (2026-11-22T10:00:00Z) or a date (2026-11-22, midnight UTC).
pub fn parse_time(text: &str) -> Result<time::OffsetDateTime, String> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| format!("'{text}' is not a time; use 2026-11-22 or 2026-11-22T10:00:00Z"))
}

/// Parses an age such as `7d`, `12h`, `30m`, `45s`.
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

/// Like [`parse_size`], but zero is allowed (a size bound, not a block size).
pub fn parse_size_or_zero(text: &str) -> Result<u64, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    parse_size(text)
}

/// Arguments of `awcopy ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// What to list: s3://bucket/prefix, az://account/container/prefix, an https URL, or a path.
    #[arg(value_name = "LOCATION")]
    pub location: String,

    /// List every object under the prefix, not just the first level.
    #[arg(short, long)]
    pub recursive: bool,

    /// Print JSON lines (one per object and prefix, then a summary) instead of text.
    #[arg(long)]
    pub json: bool,

    /// Estimate what copying everything under the location would cost (implies -r).
    #[arg(long)]
    pub estimate: bool,

    /// The destination to price the copy to (default: a download to the internet).
    #[arg(long, value_name = "LOCATION", requires = "estimate")]
    pub to: Option<String>,

    /// How the copy priced would cut objects into requests (as `cp` takes them).
    #[command(flatten)]
    pub sizes: SizeArgs,

    /// A price book to use instead of the built-in one (same JSON layout as prices/prices.json).
    #[arg(long, value_name = "FILE", requires = "estimate")]
    pub prices: Option<PathBuf>,

    /// Region of the source, for pricing (default: from the URL, or AWS_REGION for S3).
    #[arg(long, value_name = "REGION")]
    pub source_region: Option<String>,

    /// Region of the destination, for pricing.
    #[arg(long, value_name = "REGION", requires = "to")]
    pub dest_region: Option<String>,
}

/// Parses a size such as `4MiB`, `512k`, `1G` or `65536`. Units are binary (k = 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size; use e.g. 4MiB, 512k or 65536"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit '{other}'; use k, M or G (binary: KiB, MiB, GiB)"
            ))
        }
    };
    match number.checked_mul(multiplier) {
        Some(0) => Err("the size must be more than zero".to_owned()),
        Some(size) => Ok(size),
        None => Err(format!("'{text}' is too large")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("65536"), Ok(65536));
        assert!(parse_size("4XB").unwrap_err().contains("unknown size unit"));
        assert!(parse_size("MiB").unwrap_err().contains("not a size"));
        assert!(parse_size("0").is_err());
    }

    #[test]
    fn times_and_ages() {
        assert_eq!(
            parse_time("2026-11-22").unwrap(),
            time::macros::datetime!(2026-11-22 0:00 UTC)
        );
        assert_eq!(
            parse_time("2026-11-22T10:00:00Z").unwrap(),
            time::macros::datetime!(2026-11-22 10:00 UTC)
        );
        assert!(parse_time("yesterday").unwrap_err().contains("not a time"));
        assert_eq!(parse_age("7d").unwrap().as_secs(), 604_800);
        assert_eq!(parse_age("30m").unwrap().as_secs(), 1800);
        assert!(parse_age("7x").is_err() && parse_age("").is_err() && parse_age("d").is_err());
        assert_eq!(parse_size_or_zero("0"), Ok(0));
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
