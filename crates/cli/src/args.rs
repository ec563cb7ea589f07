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

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List objects at a location, with a summary; --estimate prices copying them.
    Ls(LsArgs),
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

    /// Block size for the estimate, e.g. 4MiB, 512k (binary units).
    #[arg(long, value_name = "SIZE", default_value = "4MiB", value_parser = parse_size)]
    pub block_size: u64,

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
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
