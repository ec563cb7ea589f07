//! `awcopy cp`, `sync` and `mv`: copies an object, or with -r everything under a prefix, from
//! any store to any store, and prints what happened to every object.

use awcopy_engine::copy::{copy, CopyOptions, CopyPlan, CopyReport, Progress};
use awcopy_engine::estimate::CostEstimator;
use awcopy_engine::events::{Action, EventSink, JsonLines, ObjectEvent, Tee};
use awcopy_engine::filter::{Filter, FilterSpec};
use awcopy_engine::journal::{ResumeFrom, Stop};
use awcopy_engine::lister::ListerConfig;
use awcopy_engine::overwrite::{Confirm, Overwrite};
use awcopy_engine::retry::RetryPolicy;
use awcopy_jobs::{Catalog, JobRecord, NewJob, Recorder, Status};
use awcopy_store::{Encryption, ErrorKind, Location, OpenOptions, Secret, Store, StoreError};
use base64::Engine as _;
use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::args::{Cli, CopyArgs, FilterArgs};
use crate::commands::{estimate, jobs};
use crate::failure::{about, code, Failure};
use crate::output::{human, progress_bar};

/// Which of the copying commands runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `cp`.
    Copy,
    /// `sync`, with or without `--delete`.
    Sync {
        /// Delete destination objects the source does not have.
        delete: bool,
    },
    /// `mv`.
    Move,
}

impl Mode {
    /// The command's name.
    pub fn command(self) -> &'static str {
        match self {
            Mode::Copy => "cp",
            Mode::Sync { .. } => "sync",
            Mode::Move => "mv",
        }
    }
}

/// A copy ready to run: what, how, and the locations as given.
struct Prepared {
    plan: CopyPlan,
    options: CopyOptions,
    filter: Filter,
    source: Location,
    dest: Location,
}

/// Runs `awcopy cp`, `sync` or `mv`: a new job (unless an unfinished one does the same).
pub async fn run(cli: &Cli, args: &CopyArgs, mode: Mode) -> Result<(), Failure> {
    let prepared = prepare(cli.endpoint_url.clone(), args, mode).await?;
    if args.dry_run || args.no_catalog {
        return execute(args, prepared, None).await;
    }
    let catalog = jobs::catalog(cli).await?;
    let job = new_job(cli, args, mode, &prepared.source, &prepared.dest);
    if !args.new {
        refuse_duplicate(&catalog, &job).await?;
    }
    let record = catalog.create_job(job).await?;
    execute(args, prepared, Some((catalog, record))).await
}

/// Runs job `record` again (it is claimed already) from where it stopped: `args` and `mode`
/// are its stored command line, `resume` what is left.
pub async fn resume(
    endpoint_url: Option<String>,
    args: &CopyArgs,
    mode: Mode,
    catalog: Catalog,
    record: JobRecord,
    resume: ResumeFrom,
) -> Result<(), Failure> {
    let mut prepared = match prepare(endpoint_url, args, mode).await {
        Ok(prepared) => prepared,
        Err(failure) => {
            // Nothing ran: the job waits, as it was, for another try.
            catalog.finish_job(&record.id, Status::Failed, 0).await?;
            return Err(failure);
        }
    };
    prepared.plan.resume = Some(resume);
    execute(args, prepared, Some((catalog, record))).await
}

/// The destination store of a copy command: where its uploads are staged.
pub async fn open_dest(
    endpoint_url: Option<String>,
    args: &CopyArgs,
    mode: Mode,
) -> Result<Arc<dyn Store>, Failure> {
    let mut dest = Location::parse(&args.dest).map_err(about("DEST"))?;
    if !(args.recursive || matches!(mode, Mode::Sync { .. })) {
        dest = local_file(dest);
    }
    let options = OpenOptions {
        s3_endpoint: endpoint_url,
        encryption: None,
    };
    awcopy_store::open(&dest, &options)
        .await
        .map_err(about("DEST"))
}

/// Refuses to start a job another unfinished job already does, pointing at that job.
async fn refuse_duplicate(catalog: &Catalog, job: &NewJob) -> Result<(), Failure> {
    let Some(other) = catalog
        .unfinished(&job.user, &job.command, &job.source, &job.dest)
        .await?
    else {
        return Ok(());
    };
    let what = format!(
        "job {} already copies {} to {}",
        other.id, other.source, other.dest
    );
    let message = match other.owner().filter(|o| other.state() == Status::Running && o.is_alive()) {
        Some(owner) => format!(
            "{what} and is running (process {}); follow it with `awcopy jobs show {}`, or pass --new to start another job",
            owner.pid, other.id
        ),
        None => format!(
            "{what} and did not finish ({}); continue it with `awcopy jobs resume {}`, or pass --new to start over",
            other.status, other.id
        ),
    };
    Err(Failure::usage(message))
}

/// Checks the arguments, opens both stores and builds the plan and its options.
async fn prepare(
    endpoint_url: Option<String>,
    args: &CopyArgs,
    mode: Mode,
) -> Result<Prepared, Failure> {
    let filter = filter(&args.filters)?;
    let recursive = args.recursive || matches!(mode, Mode::Sync { .. });
    let default_policy = match mode {
        Mode::Sync { .. } => Overwrite::IfDifferent,
        _ => Overwrite::Always,
    };
    let overwrite = match (args.overwrite.unwrap_or(default_policy), args.yes) {
        (Overwrite::Prompt, true) => Overwrite::Always,
        (policy, _) => policy,
    };
    if overwrite == Overwrite::Prompt && !std::io::stdin().is_terminal() {
        return Err(Failure::usage(
            "--overwrite prompt needs a terminal to ask on; pass --yes to overwrite everything, or choose another policy",
        ));
    }
    match mode {
        Mode::Move => confirm(
            args,
            "awcopy mv deletes each source object once its copy is verified.",
        )?,
        Mode::Sync { delete: true } => confirm(
            args,
            "awcopy sync --delete deletes objects under DEST that SOURCE does not have.",
        )?,
        _ => {}
    }
    let encryption = args.encrypt.as_deref().map(parse_encryption).transpose()?;
    let mut source = Location::parse(&args.source).map_err(about("SOURCE"))?;
    let mut dest = Location::parse(&args.dest).map_err(about("DEST"))?;
    if !recursive {
        source = local_file(source);
        if source.prefix().is_empty() || source.prefix().ends_with('/') {
            return Err(Failure::usage(format!(
                "SOURCE {source} names a bucket, container or directory; add -r to copy everything under it"
            )));
        }
        dest = local_file(dest);
    }
    refuse_overlap(&source, &dest, recursive)?;

    let read_options = OpenOptions {
        s3_endpoint: endpoint_url,
        encryption: None,
    };
    let write_options = OpenOptions {
        encryption,
        ..read_options.clone()
    };
    let source_store = awcopy_store::open(&source, &read_options)
        .await
        .map_err(about("SOURCE"))?;
    let dest_store = awcopy_store::open(&dest, &write_options)
        .await
        .map_err(about("DEST"))?;

    let plan = if recursive {
        let mut list_prefix = source.prefix().to_owned();
        if !list_prefix.is_empty() && !list_prefix.ends_with('/') {
            list_prefix.push('/');
        }
        CopyPlan::under(
            source_store,
            dest_store,
            list_prefix,
            directory_prefix(dest.prefix()),
        )
    } else {
        let key = source.prefix().to_owned();
        let name_start = key.rfind('/').map_or(0, |i| i + 1);
        let dest_key = match dest.prefix() {
            p if p.is_empty() || p.ends_with('/') => format!("{p}{}", &key[name_start..]),
            p => p.to_owned(),
        };
        CopyPlan {
            source: source_store,
            dest: dest_store,
            list_prefix: key.clone(),
            strip: key.len(),
            single_key: Some(key),
            dest_prefix: dest_key,
            resume: None,
        }
    };
    let options = CopyOptions {
        block_size: args.sizes.block_size,
        concurrency: args.concurrency,
        memory: args.max_memory,
        cutoffs: args.sizes.cutoffs(),
        lister: ListerConfig {
            parallelism: usize::from(args.list_parallelism),
            ..ListerConfig::default()
        },
        retry: RetryPolicy {
            max_attempts: args.retries,
            ..RetryPolicy::default()
        },
        dry_run: args.dry_run,
        overwrite,
        confirm: Some(Arc::new(TerminalConfirm::default())),
        delete_source: mode == Mode::Move,
        delete_extras: mode == Mode::Sync { delete: true },
        events: event_sinks(args)?,
        name_policy: args.name_policy,
        max_rps: args.max_rps,
        bandwidth: args.bandwidth,
        ..CopyOptions::default()
    };
    Ok(Prepared {
        plan,
        options,
        filter,
        source,
        dest,
    })
}

/// Runs a prepared copy, as job `job` if given (a dry run is none): records its progress,
/// stops on Ctrl-C (paused) and prints what happened.
async fn execute(
    args: &CopyArgs,
    prepared: Prepared,
    job: Option<(Catalog, JobRecord)>,
) -> Result<(), Failure> {
    let Prepared {
        plan,
        mut options,
        filter,
        source,
        dest,
    } = prepared;
    // A dry run prices the plan: every planned object's size goes to the estimator.
    let pricing = args.dry_run.then(|| {
        Arc::new(PlannedCost(std::sync::Mutex::new(estimate::estimator(
            (&source, plan.source.as_ref()),
            Some((&dest, plan.dest.as_ref())),
            (args.source_region.clone(), args.dest_region.clone()),
            &args.sizes,
        ))))
    });
    if let Some(pricing) = &pricing {
        add_sink(&mut options, pricing.clone());
    }
    // A job's objects' outcomes, listing and staged blocks are recorded as they happen.
    let job = job.map(|(catalog, record)| {
        let recorder = Arc::new(Recorder::new(catalog.clone(), record.id.clone()));
        add_sink(&mut options, recorder.clone());
        options.journal = Some(recorder.clone());
        (catalog, record, recorder)
    });
    let stop = Stop::new();
    options.stop = Some(stop.clone());
    let (interrupts, at_once) = watch_interrupts(stop);
    let progress = Arc::new(Progress::default());
    let bar = (!args.json).then(|| progress_bar(progress.clone()));
    let result = tokio::select! {
        result = copy(plan, options, filter, progress) => result,
        _ = at_once => Err(StoreError::new(ErrorKind::Interrupted, "stopped at once by a second Ctrl-C")),
    };
    interrupts.abort();
    if let Some(bar) = bar {
        bar.finish();
    }
    let interrupted = match &result {
        Ok(report) => report.interrupted,
        Err(e) => e.kind() == ErrorKind::Interrupted,
    };
    let mut job_id = None;
    if let Some((catalog, record, recorder)) = job {
        recorder.finish().await?;
        let status = match &result {
            _ if interrupted => Status::Paused,
            Ok(r) if r.failures.is_empty() => Status::Completed,
            Ok(_) => Status::CompletedWithFailures,
            Err(_) => Status::Failed,
        };
        let mapped = result.as_ref().map_or(0, |r| r.names_mapped.len() as u64);
        catalog.finish_job(&record.id, status, mapped).await?;
        match &result {
            // A job that could not run says so in its one error line.
            Err(_) => job_id = Some(record.id),
            Ok(_) if interrupted => job_id = Some(record.id),
            Ok(_) if !args.json => println!("Job {} ({})", record.id, status.as_str()),
            Ok(_) => {}
        }
    }
    let paused = |id: &Option<String>| match id {
        Some(id) => format!("job {id} paused; continue it with `awcopy jobs resume {id}`"),
        None => "stopped".to_owned(),
    };
    let report = result.map_err(|e| match e.kind() {
        ErrorKind::Interrupted => Failure {
            message: paused(&job_id),
            code: code::INTERRUPTED,
        },
        _ => {
            let mut failure = about("SOURCE")(e);
            if let Some(id) = &job_id {
                failure.message = format!("{} (job {id})", failure.message);
            }
            failure
        }
    })?;
    if let Some(path) = &args.mapping {
        write_manifest(path, &report)?;
    }
    let estimate = match pricing {
        Some(pricing) => {
            let estimator = pricing.0.lock().expect("estimator lock");
            let book = estimate::price_book(None)?;
            Some(
                estimator
                    .finish(&book)
                    .map_err(|e| Failure::usage(e.to_string()))?,
            )
        }
        None => None,
    };
    if args.json {
        let mut summary = serde_json::to_value(&report).expect("report serializes");
        summary["type"] = "summary".into();
        summary["job_name"] = args.job_name.clone().into();
        summary["estimate"] = serde_json::to_value(&estimate).expect("estimate serializes");
        println!("{summary}");
    } else {
        if let Some(name) = &args.job_name {
            println!("Job {name}:");
        }
        print_report(&report);
        if let Some(estimate) = &estimate {
            estimate::print_estimate(&mut std::io::stdout(), estimate, Some(&dest.to_string()))?;
        }
    }
    if interrupted {
        Err(Failure {
            message: paused(&job_id),
            code: code::INTERRUPTED,
        })
    } else if report.failures.is_empty() {
        Ok(())
    } else {
        Err(Failure {
            message: format!(
                "{} of {} objects failed",
                report.failures.len(),
                report.failures.len() as u64 + report.objects_copied
            ),
            code: code::PARTIAL,
        })
    }
}

/// Prices a dry run: the sizes of the objects it would copy, as they are planned.
#[derive(Debug)]
struct PlannedCost(std::sync::Mutex<CostEstimator>);

impl EventSink for PlannedCost {
    fn record(&self, event: &ObjectEvent<'_>) {
        if let (Action::Planned, Some(size)) = (event.action, event.size) {
            self.0.lock().expect("estimator lock").add(size);
        }
    }
}

/// Adds an event sink beside those already set.
fn add_sink(options: &mut CopyOptions, sink: Arc<dyn EventSink>) {
    options.events = Some(match options.events.take() {
        Some(other) => Arc::new(Tee(vec![other, sink])),
        None => sink,
    });
}

/// Stops `stop` on the first Ctrl-C; the returned receiver fires on the second.
fn watch_interrupts(
    stop: Stop,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::oneshot::Receiver<()>,
) {
    let (at_once, fired) = tokio::sync::oneshot::channel();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!(
            "\nStopping: no new objects or blocks start, those in flight finish; Ctrl-C again stops at once."
        );
        stop.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = at_once.send(());
        }
    });
    (watcher, fired)
}

/// The catalogue record of this run: locations as shown, the settings, and the command line
/// that `jobs resume` runs again (locations without their SAS or other secrets).
fn new_job(cli: &Cli, args: &CopyArgs, mode: Mode, source: &Location, dest: &Location) -> NewJob {
    let argv: Vec<String> = std::env::args()
        .skip(1)
        .map(|arg| match arg {
            a if a == args.source || a == args.dest => without_secrets(&a),
            a => awcopy_store::redact::redact(&a),
        })
        .collect();
    let spec = serde_json::json!({
        "argv": argv,
        "recursive": args.recursive,
        "delete": mode == Mode::Sync { delete: true },
        "block_size": args.sizes.block_size,
        "concurrency": format!("{:?}", args.concurrency),
        "max_memory": args.max_memory,
        "overwrite": args.overwrite.map(|o| format!("{o:?}")),
        "name_policy": format!("{:?}", args.name_policy),
        "include": args.filters.include,
        "exclude": args.filters.exclude,
        "include_regex": args.filters.include_regex,
        "exclude_regex": args.filters.exclude_regex,
        "encrypt": args.encrypt.as_deref().map(|e| e.split(':').next().unwrap_or_default().to_owned()),
    });
    NewJob {
        user: jobs::user(cli),
        name: args.job_name.clone(),
        command: mode.command().to_owned(),
        source: source.to_string(),
        dest: dest.to_string(),
        spec,
    }
}

/// A location argument as it may be stored: a URL loses its query (a SAS token, a
/// presigned signature), anything else stays as it is.
fn without_secrets(location: &str) -> String {
    match url::Url::parse(location) {
        Ok(mut url) if url.query().is_some() => {
            url.set_query(None);
            url.to_string()
        }
        _ => location.to_owned(),
    }
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

/// The journal (`--log`) and the JSON event stream (`--json`), if asked for.
fn event_sinks(args: &CopyArgs) -> Result<Option<Arc<dyn EventSink>>, Failure> {
    let mut sinks: Vec<Arc<dyn EventSink>> = Vec::new();
    if let Some(path) = &args.log {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Failure::usage(format!("--log {}: {e}", path.display())))?;
        sinks.push(Arc::new(JsonLines::new(std::io::BufWriter::new(file))));
    }
    if args.json {
        sinks.push(Arc::new(JsonLines::new(std::io::stdout())));
    }
    Ok(match sinks.len() {
        0 => None,
        1 => sinks.pop(),
        _ => Some(Arc::new(Tee(sinks))),
    })
}

/// Asks before a destructive command; without a terminal, only `--yes` confirms.
fn confirm(args: &CopyArgs, what: &str) -> Result<(), Failure> {
    if args.yes || args.dry_run {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(format!(
            "{what} Pass --yes to confirm (there is no terminal to ask on)."
        )));
    }
    eprint!("{what} Continue? [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Failure::usage(format!("reading the answer: {e}")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Failure::usage("cancelled; nothing was changed"))
    }
}

/// Asks on the terminal, per existing object: y(es), n(o), a(ll), none.
#[derive(Debug, Default)]
struct TerminalConfirm {
    /// Set once the user answers "all" or "none".
    for_all: std::sync::Mutex<Option<bool>>,
}

impl Confirm for TerminalConfirm {
    fn overwrite(&self, key: &str) -> bool {
        let mut for_all = self.for_all.lock().expect("prompt lock");
        if let Some(answer) = *for_all {
            return answer;
        }
        loop {
            eprint!("overwrite {key}? [y]es, [n]o, [a]ll, n[o]ne: ");
            let mut answer = String::new();
            if std::io::stdin().read_line(&mut answer).unwrap_or(0) == 0 {
                *for_all = Some(false);
                return false;
            }
            match answer.trim() {
                "y" | "yes" => return true,
                "n" | "no" => return false,
                "a" | "all" => {
                    *for_all = Some(true);
                    return true;
                }
                "o" | "none" => {
                    *for_all = Some(false);
                    return false;
                }
                _ => continue,
            }
        }
    }
}

/// `prefix` as a directory: empty, or ending in '/'.
fn directory_prefix(prefix: &str) -> String {
    match prefix {
        "" => String::new(),
        p if p.ends_with('/') => p.to_owned(),
        p => format!("{p}/"),
    }
}

/// A local path that is not a directory names a file: its parent becomes the root and its
/// name the key.
fn local_file(location: Location) -> Location {
    match &location {
        Location::Local { root, prefix }
            if prefix.is_empty()
                && !root.is_dir()
                && !root.as_os_str().to_string_lossy().ends_with('/') =>
        {
            match (root.parent(), root.file_name()) {
                (Some(parent), Some(name)) => Location::Local {
                    root: if parent.as_os_str().is_empty() {
                        ".".into()
                    } else {
                        parent.to_path_buf()
                    },
                    prefix: name.to_string_lossy().into_owned(),
                },
                _ => location,
            }
        }
        _ => location,
    }
}

/// The identity of a store root, to tell when two locations are the same place.
fn root_identity(location: &Location) -> String {
    match location {
        Location::S3 { bucket, .. } => format!("s3:{bucket}"),
        Location::Azure {
            account, container, ..
        } => format!("az:{account}/{container}"),
        Location::Local { root, .. } => {
            let path = std::path::absolute(root).unwrap_or_else(|_| root.clone());
            format!("local:{}", path.canonicalize().unwrap_or(path).display())
        }
    }
}

/// Refuses copying a location onto itself, or into itself.
fn refuse_overlap(source: &Location, dest: &Location, recursive: bool) -> Result<(), Failure> {
    let (source_root, dest_root) = (root_identity(source), root_identity(dest));
    let same_object = !recursive && source_root == dest_root && source.prefix() == dest.prefix();
    let inside = recursive && {
        // Compare as full paths so local roots and prefixes line up.
        let full = |root: &str, prefix: &str| format!("{}/{}", root.trim_end_matches('/'), prefix);
        let s = full(&source_root, &directory_prefix(source.prefix()));
        let d = full(&dest_root, &directory_prefix(dest.prefix()));
        d.starts_with(&s)
    };
    if same_object || inside {
        return Err(Failure::usage(format!(
            "DEST {dest} is the source or inside it; copy to another prefix, container or directory"
        )));
    }
    Ok(())
}

fn filter(args: &FilterArgs) -> Result<Filter, Failure> {
    let now = time::OffsetDateTime::now_utc();
    let since_age = args.max_age.map(|age| now - age);
    let modified_since = match (args.modified_since, since_age) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    Filter::new(FilterSpec {
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        include_regex: args.include_regex.clone(),
        exclude_regex: args.exclude_regex.clone(),
        modified_since,
        modified_before: args.min_age.map(|age| now - age),
        min_size: args.min_size,
        max_size: args.max_size,
    })
    .map_err(|e| Failure::usage(e.to_string()))
}

/// Parses `--encrypt`.
fn parse_encryption(spec: &str) -> Result<Encryption, Failure> {
    let (kind, value) = spec.split_once(':').unwrap_or((spec, ""));
    let need = |what: &str| {
        Failure::usage(format!(
            "--encrypt {kind}: needs {what}, e.g. {kind}:{what}"
        ))
    };
    match (kind, value) {
        ("sse-s3", "") => Ok(Encryption::S3Managed),
        ("sse-kms", key) => Ok(Encryption::S3Kms((!key.is_empty()).then(|| key.to_owned()))),
        ("sse-c", "") => Err(need("KEYFILE")),
        ("sse-c", file) => Ok(Encryption::S3CustomerKey(read_key(file)?)),
        ("cpk", "") => Err(need("KEYFILE")),
        ("cpk", file) => Ok(Encryption::AzureCustomerKey(read_key(file)?)),
        ("scope", "") => Err(need("NAME")),
        ("scope", name) => Ok(Encryption::AzureScope(name.to_owned())),
        _ => Err(Failure::usage(format!(
            "--encrypt '{spec}': use sse-s3, sse-kms[:KEY-ID], sse-c:KEYFILE, cpk:KEYFILE or scope:NAME"
        ))),
    }
}

/// Reads a 256-bit key from a file holding 32 raw bytes or their base64; returns it in base64.
fn read_key(path: &str) -> Result<Secret, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::usage(format!("--encrypt key file {path}: {e}")))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = if bytes.len() == 32 {
        bytes
    } else {
        b64.decode(String::from_utf8_lossy(&bytes).trim())
            .unwrap_or_default()
    };
    if key.len() != 32 {
        return Err(Failure::usage(format!(
            "--encrypt key file {path}: must hold a 256-bit key (32 bytes, raw or base64)"
        )));
    }
    Ok(Secret::new(b64.encode(key)))
}

fn print_report(report: &CopyReport) {
    let verb = if report.dry_run {
        "Would copy"
    } else {
        "Copied"
    };
    let rate = report.bytes_copied as f64 / report.seconds.max(1e-3);
    println!(
        "{verb} {} objects ({}) in {:.1} s: {}/s, {:.0} objects/s",
        report.objects_copied,
        human(report.bytes_copied),
        report.seconds,
        human(rate as u64),
        report.objects_copied as f64 / report.seconds.max(1e-3)
    );
    if !report.dry_run {
        println!(
            "  streamed through this machine: {}; copied server-side: {}",
            human(report.bytes_streamed),
            human(report.bytes_server_side)
        );
    }
    println!("  skipped by filters: {}", report.objects_skipped);
    if report.objects_kept > 0 {
        println!(
            "  already at the destination, kept: {}",
            report.objects_kept
        );
    }
    if report.objects_deleted > 0 {
        println!("  deleted: {}", report.objects_deleted);
    }
    if !report.names_mapped.is_empty() {
        println!(
            "  stored under a mapped name: {} (--mapping FILE writes the list)",
            report.names_mapped.len()
        );
        for pair in report.names_mapped.iter().take(10) {
            println!("    {} -> {}", pair.source, pair.dest);
        }
    }
    for pair in &report.metadata_names_mapped {
        println!("  metadata name mapped: {} -> {}", pair.source, pair.dest);
    }
    if report.names_skipped > 0 {
        println!(
            "  left out, name not allowed at the destination: {}",
            report.names_skipped
        );
    }
    if report.blocks_reused > 0 {
        println!(
            "  blocks staged by an earlier run, used again: {}",
            report.blocks_reused
        );
    }
    println!(
        "  retries: {} ({} throttled)",
        report.retries, report.throttled
    );
    println!("  failed: {}", report.failures.len());
    for failure in &report.failures {
        println!(
            "    {}: {}: {}",
            failure.key,
            failure.kind.as_str(),
            failure.message
        );
    }
    for note in &report.notes {
        println!("  note: {note}");
    }
}

/// How often the progress line refreshes.
pub const PROGRESS_TICK: Duration = Duration::from_millis(200);

/// Objects done so far, for the progress line.
pub fn progress_message(progress: &Progress) -> String {
    let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    format!(
        "{}/{} objects, {}/{}, {} failed, {} retries ({} throttled), {} in flight",
        load(&progress.objects_done),
        load(&progress.objects_listed),
        human(load(&progress.bytes_done)),
        human(load(&progress.bytes_listed)),
        load(&progress.objects_failed),
        load(&progress.retry.retries),
        load(&progress.retry.throttled),
        load(&progress.concurrency),
    )
}
