//! `awcopy ls`: lists a location page by page as the pages arrive, then prints a summary
//! (objects, bytes, size histogram) and, with `--estimate`, what copying it would cost.

use awcopy_engine::estimate::{CostEstimator, Destination, Estimate, Route, Site};
use awcopy_engine::lister::list_pages;
use awcopy_engine::pricing::PriceBook;
use awcopy_engine::retry::RetryPolicy;
use awcopy_engine::summary::ListingSummary;
use awcopy_store::{ListRequest, Location, ObjectMeta, OpenOptions, Provider, Store};
use serde_json::json;
use std::io::{BufWriter, Write};
use std::sync::Arc;

use crate::args::{Cli, LsArgs};
use crate::failure::{about, Failure};
use crate::output::human;

/// Runs `awcopy ls`.
pub async fn run(cli: &Cli, args: &LsArgs) -> Result<(), Failure> {
    let options = OpenOptions {
        s3_endpoint: cli.endpoint_url.clone(),
        ..OpenOptions::default()
    };
    let location = Location::parse(&args.location).map_err(about("LOCATION"))?;
    let store = awcopy_store::open(&location, &options)
        .await
        .map_err(about("LOCATION"))?;
    let mut estimator = match args.estimate {
        true => Some(estimator(args, &location, store.as_ref(), &options).await?),
        false => None,
    };
    let recursive = args.recursive || args.estimate;
    let request = ListRequest {
        prefix: location.prefix().to_owned(),
        delimiter: (!recursive).then(|| "/".to_owned()),
        ..ListRequest::default()
    };

    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut summary = ListingSummary::default();
    let mut pages = list_pages(
        store.clone(),
        request,
        interactive_retry(),
        Default::default(),
    );
    while let Some(page) = pages.recv().await {
        let page = page.map_err(about("LOCATION"))?;
        for prefix in &page.prefixes {
            summary.prefixes += 1;
            print_prefix(&mut out, args.json, prefix)?;
        }
        for object in &page.objects {
            summary.add(object.size);
            if let Some(estimator) = estimator.as_mut() {
                estimator.add(object.size);
            }
            print_object(&mut out, args.json, object)?;
        }
    }

    let estimate = match estimator {
        Some(estimator) => Some(
            estimator
                .finish(&price_book(args)?)
                .map_err(|e| Failure::usage(format!("--prices: {e}")))?,
        ),
        None => None,
    };
    if args.json {
        let line = json!({
            "type": "summary",
            "location": location.to_string(),
            "objects": summary.objects,
            "bytes": summary.bytes,
            "prefixes": summary.prefixes,
            "histogram": summary.histogram,
            "estimate": estimate,
        });
        writeln!(out, "{line}").map_err(write_failed)?;
    } else {
        print_summary(&mut out, &summary)?;
        if let Some(estimate) = &estimate {
            print_estimate(&mut out, estimate, args.to.as_deref())?;
        }
    }
    out.flush().map_err(write_failed)
}

fn write_failed(err: std::io::Error) -> Failure {
    Failure {
        message: format!("cannot write the listing: {err}"),
        code: crate::failure::code::SERVICE,
    }
}

/// Retries for a command a person waits on: a few quick attempts, not minutes of them.
fn interactive_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: std::time::Duration::from_millis(100),
        max_delay: std::time::Duration::from_secs(2),
    }
}

/// Shows a key on one terminal line: control characters are escaped.
fn printable(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn print_prefix(out: &mut impl Write, json: bool, prefix: &str) -> Result<(), Failure> {
    if json {
        writeln!(out, "{}", json!({"type": "prefix", "prefix": prefix}))
    } else {
        writeln!(out, "{:>19} {:>11}  {}", "", "PRE", printable(prefix))
    }
    .map_err(write_failed)
}

fn print_object(out: &mut impl Write, json: bool, object: &ObjectMeta) -> Result<(), Failure> {
    let modified = object.last_modified.map(|t| {
        let t = t.to_offset(time::UtcOffset::UTC);
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    });
    if json {
        let line = json!({
            "type": "object",
            "key": object.key,
            "size": object.size,
            "last_modified": object.last_modified.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
            "etag": object.etag,
        });
        writeln!(out, "{line}")
    } else {
        writeln!(
            out,
            "{:>19} {:>11}  {}",
            modified.unwrap_or_default(),
            human(object.size),
            printable(&object.key)
        )
    }
    .map_err(write_failed)
}

fn print_summary(out: &mut impl Write, summary: &ListingSummary) -> Result<(), Failure> {
    let prefixes = match summary.prefixes {
        0 => String::new(),
        n => format!(", {n} prefixes"),
    };
    writeln!(
        out,
        "\nTotal: {} objects, {} ({} bytes){prefixes}",
        summary.objects,
        human(summary.bytes),
        summary.bytes
    )
    .map_err(write_failed)?;
    for bucket in summary.histogram.iter().filter(|b| b.objects > 0) {
        writeln!(
            out,
            "  {:>9}: {:>10} objects {:>12}",
            bucket.label,
            bucket.objects,
            human(bucket.bytes)
        )
        .map_err(write_failed)?;
    }
    Ok(())
}

fn print_estimate(
    out: &mut impl Write,
    estimate: &Estimate,
    to: Option<&str>,
) -> Result<(), Failure> {
    let target = match (to, estimate.route) {
        (Some(to), Some(route)) => format!("copying to {to} ({})", route_name(route)),
        _ => "downloading it".to_owned(),
    };
    let mut text = format!(
        "\nEstimated cost of {target}, {} at prices of {}:\n",
        estimate.currency, estimate.prices_as_of
    );
    for line in &estimate.lines {
        text.push_str(&format!(
            "  {:<58} {:>16.3} {:<8} {:>12.4}\n",
            line.item, line.quantity, line.unit, line.cost
        ));
    }
    text.push_str(&format!(
        "  {:<58} {:>16} {:<8} {:>12.4}\n",
        "Total", "", "", estimate.total
    ));
    for note in &estimate.notes {
        text.push_str(&format!("  note: {note}\n"));
    }
    out.write_all(text.as_bytes()).map_err(write_failed)
}

fn route_name(route: Route) -> &'static str {
    match route {
        Route::Native => "server-side copy",
        Route::FromUrl => "server-side, destination pulls from URLs",
        Route::Streamed => "streamed through this machine",
    }
}

fn price_book(args: &LsArgs) -> Result<PriceBook, Failure> {
    let Some(path) = &args.prices else {
        return Ok(PriceBook::builtin());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("--prices {}: {e}", path.display())))?;
    PriceBook::from_json(&text)
        .map_err(|e| Failure::usage(format!("--prices {}: {e}", path.display())))
}

/// The region of an S3 location when neither the URL nor a flag names it.
fn env_region(location: &Location) -> Option<String> {
    (location.provider() == Provider::S3)
        .then(|| {
            ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .iter()
                .find_map(|v| std::env::var(v).ok())
        })
        .flatten()
        .filter(|r| !r.is_empty())
}

async fn estimator(
    args: &LsArgs,
    location: &Location,
    store: &dyn Store,
    options: &OpenOptions,
) -> Result<CostEstimator, Failure> {
    let source_region = args.source_region.clone().or_else(|| env_region(location));
    let source = Site::of(location, store.capabilities(), source_region);
    let destination = match &args.to {
        None => None,
        Some(to) => {
            let dest_location = Location::parse(to).map_err(about("--to"))?;
            let dest: Arc<dyn Store> = awcopy_store::open(&dest_location, options)
                .await
                .map_err(about("--to"))?;
            let region = args
                .dest_region
                .clone()
                .or_else(|| env_region(&dest_location));
            Some(Destination {
                site: Site::of(&dest_location, dest.capabilities(), region),
                route: Route::between(store.capabilities(), dest.capabilities()),
                capabilities: dest.capabilities().clone(),
            })
        }
    };
    Ok(CostEstimator::new(source, destination, args.block_size))
}
