//! Running the awcopy binary in tests: output checked for secrets on every run.

use awcopy_testkit as kit;
use std::process::{Command, Output};

pub mod rig;
pub mod service;

/// Runs awcopy with the S3 emulator as AWS_ENDPOINT_URL.
pub fn awcopy(args: &[&str]) -> Output {
    awcopy_with_env(args, &[])
}

pub fn awcopy_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = command(args);
    for (name, value) in env {
        command.env(name, value);
    }
    run(command)
}

/// Runs awcopy in directory `dir`.
pub fn awcopy_in(dir: &std::path::Path, args: &[&str]) -> Output {
    let mut command = command(args);
    command.current_dir(dir);
    run(command)
}

/// The awcopy command with `args`, the S3 emulator as AWS_ENDPOINT_URL.
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_awcopy"));
    command
        .args(args)
        .env("AWS_ENDPOINT_URL", kit::s3_endpoint());
    command
}

/// Runs `command`, checking that nothing it printed holds a secret.
fn run(mut command: Command) -> Output {
    let output = command.output().expect("run awcopy");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    kit::assert_no_secrets(&all);
    output
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// One line on stderr, starting "awcopy: error:" or clap's "error:", naming what is wrong.
pub fn assert_fails(output: &Output, code: i32, needles: &[&str]) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(code), "stderr: {err}");
    assert!(
        output.stdout.is_empty(),
        "nothing on stdout: {}",
        stdout(output)
    );
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    }
}
