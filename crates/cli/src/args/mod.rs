//! Command-line arguments: the commands and their flags, as clap reads them. What they mean
//! for a job is decided in one place, `settings`.

mod copy;
mod values;

pub use copy::{CopyArgs, FilterArgs, OutputArgs, SizeArgs, SyncArgs};
pub use values::parse_age;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Copy objects between Amazon S3 (and S3-compatible stores), Azure Blob Storage and local disks.
#[derive(Debug, Parser)]
#[command(name = "awcopy", version, about, long_about = None)]
pub struct Cli {
    /// S3 endpoint URL for S3-compatible stores and emulators (default: AWS_ENDPOINT_URL_S3,
    /// AWS_ENDPOINT_URL, or AWS itself).
    #[arg(long, global = true, value_name = "URL", value_parser = values::parse_endpoint)]
    pub endpoint_url: Option<String>,

    /// Log what awcopy does to stderr (AWCOPY_LOG sets a finer filter).
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// The job catalogue: a SQLite file, or postgres://USER@HOST:PORT/DATABASE with the
    /// password in PGPASSWORD or a pgpass file (default: $AWCOPY_DB, else
    /// $XDG_DATA_HOME/awcopy/awcopy.db).
    #[arg(long, global = true, value_name = "FILE|URL")]
    pub db: Option<String>,

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
    Jobs(JobsArgs),
    /// Run the job service: the HTTP API, the dashboard, the scheduler and agents.
    Serve(ServeArgs),
    /// Run an agent: execute a job service's work items from NATS JetStream.
    Agent(AgentArgs),
    /// Schedules of the job service: a copy run every so often.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Replications of the job service: a source kept copied as its cloud announces changes
    /// (S3 event notifications in SQS; Event Grid blob events in a Storage Queue).
    #[command(subcommand)]
    Replicate(ReplicateCommand),
    /// The job catalogue itself: move it into another (SQLite to PostgreSQL).
    #[command(subcommand)]
    Db(DbCommand),
    /// Print a shell completion script, e.g. `awcopy completions bash > ~/.local/share/bash-completion/completions/awcopy`.
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

/// `awcopy jobs ...`.
/// `awcopy jobs`: the command, and which catalogue it reads.
#[derive(Debug, Args)]
pub struct JobsArgs {
    /// Act on the jobs of the awcopy service at URL (token from AWCOPY_TOKEN) instead of
    /// this machine's catalogue. Also --via, or AWCOPY_SERVER.
    #[arg(
        long,
        global = true,
        alias = "via",
        env = "AWCOPY_SERVER",
        value_name = "URL"
    )]
    pub server: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: JobsCommand,
}

/// Arguments of `awcopy serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. A non-loopback address needs --tls-cert/--tls-key (or
    /// --insecure-http).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:7070")]
    pub listen: std::net::SocketAddr,

    /// The users, their token hashes and grants (TOML; see the README).
    #[arg(long, value_name = "FILE", required_unless_present = "hash_token")]
    pub config: Option<PathBuf>,

    /// In-process agents that execute the jobs' work items (0 with --nats: only `awcopy
    /// agent` processes do).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(0..=256))]
    pub agents: u16,

    /// Put work items on NATS JetStream, for `awcopy agent` processes on any machine.
    #[command(flatten)]
    pub nats: NatsArgs,

    /// Serve HTTPS with this certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve plain HTTP on a non-loopback address (only behind something that encrypts).
    #[arg(long)]
    pub insecure_http: bool,

    /// Read a token on standard input and print its SHA-256, for the config's token_sha256;
    /// serve nothing.
    #[arg(long)]
    pub hash_token: bool,
}

/// Where NATS is, how to sign in to it (a creds file, or AWCOPY_NATS_TOKEN, or
/// AWCOPY_NATS_USER and AWCOPY_NATS_PASSWORD; never in the URL) and the key the service
/// and its agents seal their messages with.
#[derive(Debug, Args)]
pub struct NatsArgs {
    /// The NATS server: nats://HOST:4222 (tls://... for TLS), without credentials.
    #[arg(long, value_name = "URL", requires = "nats_key")]
    pub nats: Option<String>,

    /// The key the service and its agents seal every message with: a file of at least 32
    /// random bytes the service and every agent read (e.g. `head -c 32 /dev/urandom | base64`).
    #[arg(long, value_name = "FILE", requires = "nats")]
    pub nats_key: Option<PathBuf>,

    /// A NATS credentials file (.creds: JWT and NKey seed).
    #[arg(long, value_name = "FILE", requires = "nats")]
    pub nats_creds: Option<PathBuf>,

    /// A CA certificate (PEM) to trust for a tls:// NATS server, besides the system's.
    #[arg(long, value_name = "FILE", requires = "nats")]
    pub nats_ca: Option<PathBuf>,
}

/// Arguments of `awcopy agent`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Where the service's work items are.
    #[command(flatten)]
    pub nats: NatsArgs,

    /// The agent's name, as the service shows it (default: HOST-PID).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Work items run at once (each under the limits its job sets).
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub items: u16,

    /// The stores this agent reaches besides its environment's ([[azure]] accounts) and the
    /// keys jobs may name ([[key]]): the service's config format; its [[user]]s are ignored.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Let jobs read and write the local directory PATH and what is beneath it (repeatable);
    /// without it the agent never touches its own disk for a job.
    #[arg(long, value_name = "PATH")]
    pub allow_local: Vec<PathBuf>,
}

/// `awcopy db`: the job catalogue itself.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Move every job and schedule of a catalogue into another, empty one, e.g. a SQLite
    /// file into the PostgreSQL database service replicas share. Stop what writes to FROM
    /// first. The password of a PostgreSQL URL goes in PGPASSWORD or a pgpass file.
    Migrate {
        /// The catalogue to read: a file, sqlite:FILE, or postgres://USER@HOST:PORT/DATABASE.
        #[arg(long, value_name = "FILE|URL")]
        from: String,
        /// The catalogue to fill (made and brought up to date if need be; it must hold no
        /// job or schedule).
        #[arg(long, value_name = "FILE|URL")]
        to: String,
    },
}

/// `awcopy schedule`: schedules of a job service.
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Add a schedule: the copy SOURCE -> DEST run every period or by a cron expression.
    Add(Box<ScheduleAdd>),
    /// List your schedules.
    List {
        /// The service (also --server, or AWCOPY_SERVER).
        #[arg(long, alias = "server", env = "AWCOPY_SERVER", value_name = "URL")]
        via: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Switch a schedule off.
    Pause(ScheduleId),
    /// Switch a schedule on again.
    Resume(ScheduleId),
    /// Delete a schedule (its runs stay as jobs).
    Rm(ScheduleId),
}

/// `awcopy replicate`: replications of a job service.
#[derive(Debug, Subcommand)]
pub enum ReplicateCommand {
    /// Add a replication: SOURCE kept copied to DEST from the change events on --queue.
    Add(Box<ReplicateAdd>),
    /// List your replications: their state, counters, lag and queue depth.
    List {
        /// The service (also --server, or AWCOPY_SERVER).
        #[arg(long, alias = "server", env = "AWCOPY_SERVER", value_name = "URL")]
        via: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Stop reading a replication's queue (its events wait there) and its reconcile runs.
    Pause(ReplicationId),
    /// Read its queue again.
    Resume(ReplicationId),
    /// Delete a replication and its reconcile schedule.
    Rm(ReplicationId),
}

/// One replication of a service.
#[derive(Debug, Args)]
pub struct ReplicationId {
    /// The replication's id.
    #[arg(value_name = "ID")]
    pub id: String,
    /// The service (also --server, or AWCOPY_SERVER).
    #[arg(long, alias = "server", env = "AWCOPY_SERVER", value_name = "URL")]
    pub via: String,
}

/// Arguments of `awcopy replicate add` (the copy's flags are those of `cp`; it runs as a
/// recursive `sync`; `--via` names the service).
#[derive(Debug, Args)]
pub struct ReplicateAdd {
    /// What to keep copied.
    #[command(flatten)]
    pub copy: CopyArgs,
    /// Where the source's change events arrive: the SQS queue (name or URL) of an S3
    /// bucket's event notifications; the Storage Queue (name, in the container's account)
    /// Event Grid delivers an Azure container's blob events to.
    #[arg(long, value_name = "QUEUE")]
    pub queue: String,
    /// Delete the destination's copy when the source object is deleted (only while that
    /// copy is the one the replication wrote).
    #[arg(long)]
    pub deletions: bool,
    /// How often a reconcile run (a scheduled sync) catches what events missed: 6h, 1d.
    #[arg(long, value_name = "PERIOD")]
    pub reconcile: Option<String>,
    /// Add it paused.
    #[arg(long)]
    pub off: bool,
}

/// One schedule of a service.
#[derive(Debug, Args)]
pub struct ScheduleId {
    /// The schedule's id.
    #[arg(value_name = "ID")]
    pub id: String,
    /// The service (also --server, or AWCOPY_SERVER).
    #[arg(long, alias = "server", env = "AWCOPY_SERVER", value_name = "URL")]
    pub via: String,
}

/// Arguments of `awcopy schedule add` (the copy's flags are those of `cp`; `--via` names the
/// service; `--modified-since` is where the first run starts, later runs copy what changed
/// since the previous successful run began).
#[derive(Debug, Args)]
pub struct ScheduleAdd {
    /// The copy each run makes.
    #[command(flatten)]
    pub copy: CopyArgs,
    /// Run every period: 30s, 15m, 6h, 1d.
    #[arg(
        long,
        value_name = "PERIOD",
        required_unless_present = "cron",
        conflicts_with = "cron"
    )]
    pub every: Option<String>,
    /// Or at the times of a cron expression: '0 2 * * *' (a sixth, leading field is seconds).
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// How far before the previous run's start each run looks (an upload that began before
    /// it and ended after is still seen).
    #[arg(long, value_name = "PERIOD")]
    pub overlap: Option<String>,
    /// Failed runs in a row after which the schedule switches itself off.
    #[arg(long, value_name = "N")]
    pub max_failures: Option<u32>,
    /// Add it switched off.
    #[arg(long)]
    pub off: bool,
}

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
    /// Pause a running job, wherever it runs: work in flight finishes, then it stops and can
    /// be resumed.
    Pause {
        /// The job id, or a unique prefix of it.
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Copy the failed objects of a finished job again, and only those.
    Retry {
        /// Which job, and its locations again if they need a SAS.
        #[command(flatten)]
        job: JobAgain,
        /// Another name policy for this retry (e.g. map, for names the first run refused).
        #[arg(long, value_name = "POLICY", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<awcopy_engine::copy::NamePolicy>()))]
        name_policy: Option<awcopy_engine::copy::NamePolicy>,
    },
    /// Cancel a job: stop it wherever it runs, abort its multipart uploads and drop the
    /// blocks it staged. What it copied stays.
    Cancel {
        /// The job id, or a unique prefix of it.
        #[arg(value_name = "ID")]
        id: String,
        /// The destination again, with the SAS the job does not keep (same place), to abort
        /// its uploads.
        #[arg(long, value_name = "LOCATION")]
        dest: Option<String>,
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
    /// How this run reports what it does.
    #[command(flatten)]
    pub output: OutputArgs,
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

    /// Key ranges listed at once with -r. 1 (the default) prints objects in the store's key
    /// order; more list ranges in parallel (S3, Azure) and print each object as its page
    /// arrives, in no set order.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub list_parallelism: u16,

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
