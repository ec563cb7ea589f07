//! `awcopy check`: compares SOURCE and DEST without copying; exits 1 on any difference.

use awcopy_engine::check::{check, CheckOptions, Side};
use awcopy_store::{Location, OpenOptions};
use serde_json::json;

use crate::args::{CheckArgs, Cli};
use crate::failure::{about, code, Failure};

/// Runs `awcopy check`.
pub async fn run(cli: &Cli, args: &CheckArgs) -> Result<(), Failure> {
    let options = OpenOptions {
        s3_endpoint: cli.endpoint_url.clone(),
        ..OpenOptions::default()
    };
    let mut sides = Vec::new();
    for (argument, text) in [("SOURCE", &args.source), ("DEST", &args.dest)] {
        let location = Location::parse(text).map_err(about(argument))?;
        let store = awcopy_store::open(&location, &options)
            .await
            .map_err(about(argument))?;
        let mut prefix = location.prefix().to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        sides.push(Side { store, prefix });
    }
    let dest = sides.pop().expect("two sides");
    let source = sides.pop().expect("two sides");
    let report = check(
        source,
        dest,
        CheckOptions {
            size_only: args.size_only,
            ..CheckOptions::default()
        },
    )
    .await
    .map_err(about("SOURCE or DEST"))?;

    let lines = report
        .missing
        .iter()
        .map(|k| ("missing", k, None))
        .chain(report.extra.iter().map(|k| ("extra", k, None)))
        .chain(
            report
                .different
                .iter()
                .map(|(k, why)| ("different", k, Some(why))),
        );
    for (what, key, why) in lines {
        if args.json {
            println!("{}", json!({"type": what, "key": key, "reason": why}));
        } else {
            match why {
                Some(why) => println!("{what}: {key} ({why})"),
                None => println!("{what}: {key}"),
            }
        }
    }
    if args.json {
        println!(
            "{}",
            json!({"type": "summary", "matching": report.matching, "missing": report.missing.len(),
                   "extra": report.extra.len(), "different": report.different.len(),
                   "read_to_compare": report.read_to_compare})
        );
    } else {
        println!(
            "{} matching, {} missing, {} extra, {} different ({} objects read to compare)",
            report.matching,
            report.missing.len(),
            report.extra.len(),
            report.different.len(),
            report.read_to_compare
        );
    }
    if report.is_equal() {
        Ok(())
    } else {
        Err(Failure {
            message: "SOURCE and DEST differ".to_owned(),
            code: code::PARTIAL,
        })
    }
}
