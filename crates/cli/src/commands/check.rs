//! `awcopy check`: compares SOURCE and DEST without copying; exits 1 on any difference.

use awcopy_engine::check::{check, CheckOptions, CheckProgress, Finding, FindingSink, Side};
use awcopy_store::{Location, OpenOptions};
use serde_json::json;
use std::sync::Arc;

use crate::args::{CheckArgs, Cli};
use crate::failure::{about, code, Failure};
use crate::render::progress::check_line;

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
    let progress = Arc::new(CheckProgress::default());
    let line = (!args.json).then(|| check_line(progress.clone()));
    let report = check(
        source,
        dest,
        CheckOptions {
            size_only: args.size_only,
            findings: Some(Arc::new(Printed { json: args.json })),
            progress,
            ..CheckOptions::default()
        },
    )
    .await;
    if let Some(line) = line {
        line.finish();
    }
    let report = report.map_err(about("SOURCE or DEST"))?;

    if args.json {
        println!(
            "{}",
            json!({"type": "summary", "matching": report.matching, "missing": report.missing,
                   "extra": report.extra, "different": report.different,
                   "read_to_compare": report.read_to_compare})
        );
    } else {
        println!(
            "{} matching, {} missing, {} extra, {} different ({} objects read to compare)",
            report.matching, report.missing, report.extra, report.different, report.read_to_compare
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

/// Prints each difference as it is found: `missing: KEY`, or a JSON line with `--json`.
#[derive(Debug)]
struct Printed {
    json: bool,
}

impl FindingSink for Printed {
    fn found(&self, finding: Finding) {
        if self.json {
            println!("{}", json!(finding));
            return;
        }
        match finding {
            Finding::Missing { key } => println!("missing: {key}"),
            Finding::Extra { key } => println!("extra: {key}"),
            Finding::Different { key, reason } => println!("different: {key} ({reason})"),
        }
    }
}
