//! Parsers of flag values: sizes, times, ages, concurrency, endpoints.

pub use awcopy_engine::spec::parse_age;

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

/// Parses `--endpoint-url`: an absolute URL such as `http://127.0.0.1:9000`.
pub fn parse_endpoint(text: &str) -> Result<String, String> {
    match url::Url::parse(text) {
        Ok(url) if url.has_host() => Ok(text.to_owned()),
        Ok(_) => Err(format!(
            "'{text}' names no host; e.g. http://127.0.0.1:9000"
        )),
        Err(e) => Err(format!(
            "'{text}' is not a URL ({e}); e.g. http://127.0.0.1:9000"
        )),
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

/// Like [`parse_size`], but zero is allowed (a size bound, not a block size).
pub fn parse_size_or_zero(text: &str) -> Result<u64, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    parse_size(text)
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
    use crate::args::Cli;

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
