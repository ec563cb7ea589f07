//! The `awcopy` command line: parses arguments, runs a command, prints one clear line on
//! failure and exits with a documented code (see the README).

mod allocator;
mod args;
mod commands;
mod context;
mod failure;
mod logging;
mod open_files;
mod pricing;
mod render;
mod settings;

use clap::Parser;
use std::process::ExitCode;

use args::{Cli, Command};
use awcopy_engine::spec::Mode;
use failure::Failure;

/// See [`allocator`]: mimalloc for small allocations, the system's for large ones.
#[global_allocator]
static ALLOCATOR: allocator::SplitBySize = allocator::SplitBySize;

/// Threads for blocking work (local file system calls; tokio's default is 512). mimalloc keeps
/// memory per thread, and a `sync` of local files kept all 512 busy: 300,000 tiny files local
/// -> local in tmpfs peaked at 203 MiB in 60 s with 512, 94 MiB / 33 s with 64, 69 MiB / 30 s
/// with 32 and 55 MiB / 22-25 s with 16 (fewer threads also wait less on each other). 16 reads
/// in flight still keep a disk busy; with 16, a 512 MiB local file streamed to Azurite took
/// ~7.2 s and peaked at 149-184 MiB (154-176 MiB with 512 in session 13).
const BLOCKING_THREADS: usize = 16;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbose);
    open_files::raise_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("awcopy: cannot start the async runtime: {e}");
            return ExitCode::from(failure::code::SERVICE);
        }
    };
    let result: Result<(), Failure> = runtime.block_on(async {
        match &cli.command {
            Command::Ls(args) => commands::ls::run(&cli, args).await,
            Command::Cp(args) => commands::copy::run(&cli, args, Mode::Copy, false).await,
            Command::Sync(args) => {
                commands::copy::run(&cli, &args.copy, Mode::Sync, args.delete).await
            }
            Command::Mv(args) => commands::copy::run(&cli, args, Mode::Move, false).await,
            Command::Check(args) => commands::check::run(&cli, args).await,
            Command::Jobs(jobs) => match &jobs.server {
                Some(url) => commands::remote::jobs(url, &jobs.command).await,
                None => commands::jobs::run(&cli, &jobs.command).await,
            },
            Command::Serve(args) => commands::serve::run(&cli, args).await,
            Command::Agent(args) => commands::serve::agent(&cli, args).await,
            Command::Schedule(command) => commands::schedule::run(&cli, command).await,
            Command::Replicate(command) => commands::replicate::run(&cli, command).await,
            Command::Db(command) => commands::db::run(command).await,
            Command::Completions { shell } => {
                let mut command = <Cli as clap::CommandFactory>::command();
                clap_complete::generate(*shell, &mut command, "awcopy", &mut std::io::stdout());
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if failure.code != failure::code::CLOSED_PIPE {
                eprintln!("awcopy: error: {}", failure.message);
            }
            failure.exit_code()
        }
    }
}
