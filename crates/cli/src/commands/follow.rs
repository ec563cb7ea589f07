//! Following a running job on the terminal: the progress line, Ctrl-C (pause; twice: stop at
//! once), then the report, the name mapping manifest, a dry run's estimate and the exit code.

use awcopy_engine::copy::CopyReport;
use awcopy_engine::estimate::CostEstimator;
use awcopy_engine::events::{Action, EventSink, JsonLines, ObjectEvent, Tee};
use awcopy_engine::overwrite::Confirm;
use awcopy_jobs::runner::{JobHandle, RunHooks, Stopper};
use awcopy_store::ErrorKind;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::args::OutputArgs;
use crate::failure::{code, run_failure, Failure};
use crate::pricing;
use crate::render::{estimate, progress, report};

/// How a run is shown: the `--json`, `--log` and `--mapping` settings, the job's name, and a
/// dry run's pricing.
#[derive(Debug)]
pub struct Shown {
    json: bool,
    mapping: Option<PathBuf>,
    job_name: Option<String>,
    sinks: Vec<Arc<dyn EventSink>>,
    pricing: Option<(Arc<PlannedCost>, String)>,
}

impl Shown {
    /// The output settings; opens the `--log` file.
    pub fn new(output: &OutputArgs, job_name: Option<String>) -> Result<Self, Failure> {
        let mut sinks: Vec<Arc<dyn EventSink>> = Vec::new();
        if let Some(path) = &output.log {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| Failure::usage(format!("--log {}: {e}", path.display())))?;
            sinks.push(Arc::new(JsonLines::new(std::io::BufWriter::new(file))));
        }
        if output.json {
            sinks.push(Arc::new(JsonLines::new(std::io::stdout())));
        }
        Ok(Self {
            json: output.json,
            mapping: output.mapping.clone(),
            job_name,
            sinks,
            pricing: None,
        })
    }

    /// Prices what the run plans, as copied to `dest` (a dry run).
    pub fn price(&mut self, estimator: CostEstimator, dest: String) {
        let cost = Arc::new(PlannedCost(Mutex::new(estimator)));
        self.sinks.push(cost.clone());
        self.pricing = Some((cost, dest));
    }

    /// What the runner is given: the event sinks, and who answers overwrite prompts.
    pub fn hooks(&self, confirm: Option<Arc<dyn Confirm>>) -> RunHooks {
        let events: Option<Arc<dyn EventSink>> = match self.sinks.len() {
            0 => None,
            1 => Some(self.sinks[0].clone()),
            _ => Some(Arc::new(Tee(self.sinks.clone()))),
        };
        RunHooks {
            events,
            confirm,
            queue: None,
        }
    }
}

/// Prices a dry run: the sizes of the objects it would copy, as they are planned.
#[derive(Debug)]
struct PlannedCost(Mutex<CostEstimator>);

impl EventSink for PlannedCost {
    fn record(&self, event: &ObjectEvent<'_>) {
        if let (Action::Planned, Some(size)) = (event.action, event.size) {
            self.0.lock().expect("estimator lock").add(size);
        }
    }
}

/// Follows `handle` to its end and shows what happened; the error carries the exit code.
pub async fn follow(handle: JobHandle, shown: Shown) -> Result<(), Failure> {
    let interrupts = watch_interrupts(handle.stopper());
    let stopper = handle.stopper();
    let bar = (!shown.json)
        .then(|| progress::progress_bar(handle.progress(), move || stopper.stopping()));
    let outcome = handle.wait().await;
    interrupts.abort();
    if let Some(bar) = bar {
        bar.finish();
    }
    let outcome = outcome.map_err(|e| run_failure(e, "run"))?;
    let interrupted = outcome.interrupted;
    let recorded = outcome.job_id.clone();
    // A job that could not run, or paused, says so in its one error line.
    let job_id = match (&outcome.result, outcome.job_id, outcome.status) {
        (Ok(_), Some(id), Some(status)) if !interrupted => {
            if !shown.json {
                println!("Job {id} ({})", status.as_str());
            }
            None
        }
        (_, id, _) => id,
    };
    let paused = || match &job_id {
        Some(id) => format!("job {id} paused; continue it with `awcopy jobs resume {id}`"),
        None => "stopped".to_owned(),
    };
    let report = outcome.result.map_err(|e| match e.kind() {
        ErrorKind::Interrupted => Failure {
            message: paused(),
            code: code::INTERRUPTED,
        },
        _ => {
            // The error names its operation and location (`Azure put az://...`): source or
            // destination, whichever it was.
            let mut failure = Failure::from(e);
            if let Some(id) = &job_id {
                failure.message = format!("{} (job {id})", failure.message);
            }
            failure
        }
    })?;
    if let Some(path) = &shown.mapping {
        write_manifest(path, &report)?;
    }
    let estimate = match &shown.pricing {
        Some((cost, _)) => {
            let estimator = cost.0.lock().expect("estimator lock");
            let book = pricing::price_book(None)?;
            Some(
                estimator
                    .finish(&book)
                    .map_err(|e| Failure::usage(e.to_string()))?,
            )
        }
        None => None,
    };
    let name = shown.job_name.as_deref();
    if shown.json {
        println!("{}", report::summary_json(&report, name, estimate.as_ref()));
    } else {
        if let Some(name) = name {
            println!("Job {name}:");
        }
        report::print_report(&report, recorded.as_deref());
        if let (Some(estimate), Some((_, dest))) = (&estimate, &shown.pricing) {
            estimate::print_estimate(&mut std::io::stdout(), estimate, Some(dest))?;
        }
    }
    if interrupted {
        Err(Failure {
            message: paused(),
            code: code::INTERRUPTED,
        })
    } else if report.failures.is_empty() {
        Ok(())
    } else {
        let list = recorded
            .map(|id| format!("; `awcopy jobs failures {id}` lists them, `awcopy jobs retry {id}` copies them again"))
            .unwrap_or_default();
        Err(Failure {
            message: format!(
                "{} of {} objects failed{list}",
                report.failures.len(),
                report.failures.len() as u64 + report.objects_copied
            ),
            code: code::PARTIAL,
        })
    }
}

/// Pauses the job on the first Ctrl-C, stops it at once on the second.
fn watch_interrupts(stopper: Stopper) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!(
            "\nPausing: no new objects or blocks start; the requests in flight finish (the line below counts them); Ctrl-C again stops at once."
        );
        stopper.pause();
        if tokio::signal::ctrl_c().await.is_ok() {
            stopper.stop_now();
        }
    })
}

/// Writes the name mapping manifest: one JSON line per key stored under another name.
fn write_manifest(path: &std::path::Path, report: &CopyReport) -> Result<(), Failure> {
    let lines: String = report
        .names_mapped
        .iter()
        .map(|pair| serde_json::to_string(pair).expect("pairs serialize") + "\n")
        .collect();
    std::fs::write(path, lines).map_err(|e| Failure {
        message: format!("--mapping {}: {e}", path.display()),
        code: code::SERVICE,
    })
}
