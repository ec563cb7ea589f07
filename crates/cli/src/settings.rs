//! Flags become settings here, and only here: the copying commands' flags become a
//! [`JobSpec`] (what the catalogue stores and a resume reads), checked as they are turned.
//! Also the reading, once, of a job recorded before specs existed: its stored command line.

use awcopy_engine::filter::FilterSpec;
use awcopy_engine::overwrite::Overwrite;
use awcopy_engine::spec::{EncryptionRef, JobSpec, Mode, Sizes, SpecError, Tuning, SPEC_VERSION};
use awcopy_jobs::runner::Access;
use std::io::IsTerminal;

use crate::args::{Cli, CopyArgs, FilterArgs, SizeArgs};
use crate::failure::Failure;

/// The user jobs are recorded for: `--user`, else the OS user (from the environment, else
/// the account of the process's uid).
pub fn user(cli: &Cli) -> String {
    cli.user
        .clone()
        .or_else(|| {
            ["USER", "LOGNAME", "USERNAME"]
                .iter()
                .find_map(|v| std::env::var(v).ok())
        })
        .filter(|u| !u.is_empty())
        .or_else(|| whoami::fallible::username().ok())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The job `awcopy cp|sync|mv` flags describe, for `user`.
pub fn copy_spec(
    cli: &Cli,
    user: String,
    args: &CopyArgs,
    mode: Mode,
    delete: bool,
) -> Result<JobSpec, Failure> {
    let overwrite = match (args.overwrite, args.yes) {
        (Some(Overwrite::Prompt), true) => Some(Overwrite::Always),
        (policy, _) => policy,
    };
    let spec = JobSpec {
        version: SPEC_VERSION,
        mode,
        source: stored_location(&args.source),
        dest: stored_location(&args.dest),
        recursive: args.recursive || mode == Mode::Sync,
        delete,
        filters: filter_spec(&args.filters),
        sizes: sizes(&args.sizes),
        tuning: Tuning {
            concurrency: args.concurrency,
            max_memory: args.max_memory,
            max_rps: args.max_rps,
            bandwidth: args.bandwidth,
            list_parallelism: args.list_parallelism,
            retries: args.retries,
            agents: None,
        },
        overwrite,
        name_policy: args.name_policy,
        encryption: args
            .encrypt
            .as_deref()
            .map(|e| encryption(e, KeysAre::Files))
            .transpose()?,
        name: args.job_name.clone(),
        user,
        s3_endpoint: cli.endpoint_url.clone(),
    };
    spec.check().map_err(in_flags)?;
    Ok(spec)
}

/// A spec the flags made that cannot run, told in the flags' words: the spec names its
/// fields as the API does (`filters.include`), a user of the command line gave `--include`.
fn in_flags(err: SpecError) -> Failure {
    let flag = match err.field {
        "delete" => "--delete",
        "sizes.block_size" => "--block-size",
        "sizes.copy_cutoff" => "--copy-cutoff",
        "sizes.get_cutoff" => "--get-cutoff",
        "tuning.concurrency" => "--concurrency",
        "tuning.max_memory" => "--max-memory",
        "tuning.list_parallelism" => "--list-parallelism",
        "tuning.retries" => "--retries",
        "tuning" => "--max-rps / --bandwidth",
        "filters.include" => "--include",
        "filters.exclude" => "--exclude",
        "filters.include_regex" => "--include-regex",
        "filters.exclude_regex" => "--exclude-regex",
        "name" => "--job-name",
        "encryption" => "--encrypt",
        other => other,
    };
    Failure::usage(format!("{flag}: {}", err.problem))
}

/// Refuses a spec that would ask questions with no terminal to ask on.
pub fn refuse_prompt_without_terminal(spec: &JobSpec) -> Result<(), Failure> {
    if spec.overwrite_policy() == Overwrite::Prompt && !std::io::stdin().is_terminal() {
        return Err(Failure::usage(
            "--overwrite prompt needs a terminal to ask on; pass --yes to overwrite everything, or choose another policy",
        ));
    }
    Ok(())
}

/// The locations as given, with their secrets, for this run only (local paths made absolute,
/// as the spec keeps them).
pub fn access(source: Option<&str>, dest: Option<&str>) -> Access {
    let given = |location: &str| match location.contains("://") {
        true => location.to_owned(),
        false => stored_location(location),
    };
    Access {
        source: source.map(given),
        dest: dest.map(given),
        ..Access::default()
    }
}

/// How objects are cut into requests.
pub fn sizes(args: &SizeArgs) -> Sizes {
    Sizes {
        block_size: args.block_size,
        copy_cutoff: args.copy_cutoff,
        get_cutoff: args.get_cutoff,
    }
}

/// The filters, with ages turned into times from now: a resume filters as this run does.
fn filter_spec(args: &FilterArgs) -> FilterSpec {
    let now = time::OffsetDateTime::now_utc();
    let since_age = args.max_age.map(|age| now - age);
    let modified_since = match (args.modified_since, since_age) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    FilterSpec {
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        include_regex: args.include_regex.clone(),
        exclude_regex: args.exclude_regex.clone(),
        modified_since,
        modified_before: args.min_age.map(|age| now - age),
        min_size: args.min_size,
        max_size: args.max_size,
    }
}

/// What the value of `--encrypt sse-c:VALUE` / `cpk:VALUE` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysAre {
    /// A key file, read where the job runs (this machine).
    Files,
    /// The name of a key a service's operator configured (`--via`).
    Named,
}

/// Parses `--encrypt`; a key file is named by its absolute path, read when the job runs.
pub fn encryption(spec: &str, keys: KeysAre) -> Result<EncryptionRef, Failure> {
    let (kind, value) = spec.split_once(':').unwrap_or((spec, ""));
    let need = |what: &str| {
        Failure::usage(format!(
            "--encrypt {kind}: needs {what}, e.g. {kind}:{what}"
        ))
    };
    let (key_file, key_name) = match keys {
        KeysAre::Files => (
            Some(std::path::absolute(value).unwrap_or_else(|_| value.into())),
            None,
        ),
        KeysAre::Named => (None, Some(value.to_owned())),
    };
    let key_word = match keys {
        KeysAre::Files => "KEYFILE",
        KeysAre::Named => "KEYNAME",
    };
    match (kind, value) {
        ("sse-s3", "") => Ok(EncryptionRef::SseS3),
        ("sse-kms", key) => Ok(EncryptionRef::SseKms {
            key_id: (!key.is_empty()).then(|| key.to_owned()),
        }),
        ("sse-c", "") | ("cpk", "") => Err(need(key_word)),
        ("sse-c", _) => Ok(EncryptionRef::SseC { key_file, key_name }),
        ("cpk", _) => Ok(EncryptionRef::Cpk { key_file, key_name }),
        ("scope", "") => Err(need("NAME")),
        ("scope", name) => Ok(EncryptionRef::Scope {
            name: name.to_owned(),
        }),
        _ => Err(Failure::usage(format!(
            "--encrypt '{spec}': use sse-s3, sse-kms[:KEY-ID], sse-c:KEYFILE, cpk:KEYFILE or scope:NAME"
        ))),
    }
}

/// A location argument as a job stores it: a URL loses its query (a SAS token, a presigned
/// signature); a local path becomes absolute (keeping a trailing '/'), so the job resumes from
/// any directory.
fn stored_location(location: &str) -> String {
    // As `Location::parse` reads it: no "scheme://", a local path.
    if !location.contains("://") {
        let Ok(path) = std::path::absolute(location.trim()) else {
            return location.to_owned();
        };
        let mut text = path.to_string_lossy().into_owned();
        if location.trim().ends_with('/') && !text.ends_with('/') {
            text.push('/');
        }
        return text;
    }
    match url::Url::parse(location) {
        Ok(mut url) if url.query().is_some() => {
            url.set_query(None);
            url.to_string()
        }
        _ => location.to_owned(),
    }
}
