//! The `awcopy` command line: parses arguments, runs a command, prints one clear line on
//! failure and exits with a documented code (see the README).

mod args;
mod commands;
mod failure;
mod logging;
mod output;

use clap::Parser;
use std::process::ExitCode;

use args::{Cli, Command};
use commands::cp::Mode;
use failure::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
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
            Command::Cp(args) => commands::cp::run(&cli, args, Mode::Copy).await,
            Command::Sync(args) => {
                let mode = Mode::Sync {
                    delete: args.delete,
                };
                commands::cp::run(&cli, &args.copy, mode).await
            }
            Command::Mv(args) => commands::cp::run(&cli, args, Mode::Move).await,
            Command::Check(args) => commands::check::run(&cli, args).await,
            Command::Jobs(command) => commands::jobs::run(&cli, command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("awcopy: error: {}", failure.message);
            failure.exit_code()
        }
    }
}
