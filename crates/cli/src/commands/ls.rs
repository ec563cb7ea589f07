//! `awcopy ls`: lists a location page by page as the pages arrive, then prints a summary
//! (objects, bytes, size histogram) and, with `--estimate`, what copying it would cost.

use awcopy_engine::estimate::CostEstimator;
use awcopy_engine::lister::{list_pages, list_parallel, ListerConfig};
use awcopy_engine::retry::RetryPolicy;
use awcopy_engine::summary::ListingSummary;
use awcopy_store::{ListRequest, Location, ObjectMeta, OpenOptions};
use serde_json::json;
use std::io::{BufWriter, Write};

use crate::args::{Cli, LsArgs};
use crate::failure::{about, Failure};
use crate::pricing;
use crate::render::estimate;
use crate::render::{human, printable, write_failed};

/// Runs `awcopy ls`.
pub async fn run(cli: &Cli, args: &LsArgs) -> Result<(), Failure> {
    let recursive = args.recursive || args.estimate;
    if args.list_parallelism > 1 && !recursive {
        return Err(Failure::usage(
            "--list-parallelism: ranges are listed only with -r (or --estimate); without -r, \
             ls shows one level, in one range",
        ));
    }
    let options = OpenOptions {
        s3_endpoint: cli.endpoint_url.clone(),
        ..OpenOptions::default()
    };
    let location = Location::parse(&args.location).map_err(about("LOCATION"))?;
    let store = awcopy_store::open(&location, &options)
        .await
        .map_err(about("LOCATION"))?;
    let mut estimator = match args.estimate {
        true => {
            let dest = match &args.to {
                Some(to) => {
                    let dest_location = Location::parse(to).map_err(about("--to"))?;
                    let dest_store = awcopy_store::open(&dest_location, &options)
                        .await
                        .map_err(about("--to"))?;
                    Some((dest_location, dest_store))
                }
                None => None,
            };
            Some(pricing::estimator(
                (&location, store.as_ref()),
                dest.as_ref().map(|(l, s)| (l, s.as_ref())),
                (args.source_region.clone(), args.dest_region.clone()),
                &crate::settings::sizes(&args.sizes),
            ))
        }
        false => None,
    };

    let mut shown = Shown {
        out: BufWriter::new(std::io::stdout().lock()),
        json: args.json,
        summary: ListingSummary::default(),
        estimator: estimator.as_mut(),
    };
    if args.list_parallelism > 1 {
        let config = ListerConfig {
            parallelism: usize::from(args.list_parallelism),
            retry: interactive_retry(),
            ..ListerConfig::default()
        };
        let mut objects = list_parallel(store, location.prefix(), config, Default::default());
        while let Some(object) = objects.recv().await {
            shown.object(&object.map_err(about("LOCATION"))?)?;
        }
    } else {
        let request = ListRequest {
            prefix: location.prefix().to_owned(),
            delimiter: (!recursive).then(|| "/".to_owned()),
            ..ListRequest::default()
        };
        let mut pages = list_pages(store, request, interactive_retry(), Default::default());
        while let Some(page) = pages.recv().await {
            let page = page.map_err(about("LOCATION"))?;
            for prefix in &page.prefixes {
                shown.prefix(prefix)?;
            }
            for object in &page.objects {
                shown.object(object)?;
            }
        }
    }
    let Shown {
        mut out, summary, ..
    } = shown;

    let estimate = match estimator {
        Some(estimator) => Some(
            estimator
                .finish(&pricing::price_book(args.prices.as_deref())?)
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
            estimate::print_estimate(&mut out, estimate, args.to.as_deref())?;
        }
    }
    out.flush().map_err(write_failed)
}

/// Where listed entries go: printed, and counted for the summary and the estimate.
struct Shown<'a, W: Write> {
    out: W,
    json: bool,
    summary: ListingSummary,
    estimator: Option<&'a mut CostEstimator>,
}

impl<W: Write> Shown<'_, W> {
    fn prefix(&mut self, prefix: &str) -> Result<(), Failure> {
        self.summary.prefixes += 1;
        print_prefix(&mut self.out, self.json, prefix)
    }

    fn object(&mut self, object: &ObjectMeta) -> Result<(), Failure> {
        self.summary.add(object.size);
        if let Some(estimator) = self.estimator.as_mut() {
            estimator.add(object.size);
        }
        print_object(&mut self.out, self.json, object)
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
