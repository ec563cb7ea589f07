//! `awcopy serve`: the job service, or `--hash-token` to make a config's token hash; and
//! `awcopy agent`, which runs a service's work items from NATS.

use awcopy_jobs::runner::Access;
use awcopy_jobs::CatalogAddress;
use awcopy_service::nats::{run_agent, AgentOptions, NatsOptions, SealKey};
use awcopy_service::setting::{Setting, SettingError};
use awcopy_service::{
    hash_token, serve, token_bits, Config, ServeError, ServeOptions, LEAST_TOKEN_BITS,
};
use std::io::BufRead;
use std::sync::Arc;

use crate::args::{AgentArgs, Cli, NatsArgs, ServeArgs};
use crate::failure::{code, Failure};

/// Runs `awcopy serve` until the process is stopped.
pub async fn run(cli: &Cli, args: &ServeArgs) -> Result<(), Failure> {
    if args.hash_token {
        let mut token = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut token)
            .map_err(|e| Failure::usage(format!("--hash-token: cannot read the token: {e}")))?;
        if token.trim().is_empty() {
            return Err(Failure::usage(
                "--hash-token: give the token on standard input, e.g. `printf %s \"$TOKEN\" | awcopy serve --hash-token`",
            ));
        }
        let bits = token_bits(token.trim());
        if bits < LEAST_TOKEN_BITS {
            return Err(Failure::usage(format!(
                "--hash-token: the token holds about {bits} bits of chance; use one of at least {LEAST_TOKEN_BITS}, e.g. `openssl rand -hex 32` (256 bits)"
            )));
        }
        println!("{}", hash_token(token.trim()));
        return Ok(());
    }
    let path = args.config.as_ref().expect("clap requires --config");
    let config = Config::load(path).map_err(setting_failure)?;
    let db = crate::context::catalog_address(cli, CatalogAddress::for_service)?;
    let options = ServeOptions {
        listen: args.listen,
        config,
        agents: usize::from(args.agents),
        db,
        tls: args.tls_cert.clone().zip(args.tls_key.clone()),
        insecure_http: args.insecure_http,
        s3_endpoint: cli.endpoint_url.clone(),
        nats: nats_options(&args.nats)?,
    };
    let agents = args.agents;
    serve(options, |address, tls| {
        let scheme = if tls { "https" } else { "http" };
        println!("awcopy serve: listening on {scheme}://{address}/ ({agents} agents); the dashboard is there, the API under /api/v1");
    })
    .await
    .map_err(|e| {
        let (code, message) = match e {
            ServeError::Setting(e) => (code::USAGE, e.describe(flag)),
            ServeError::Listening(e) => (code::SERVICE, e.describe(flag)),
            other => (code::SERVICE, other.to_string()),
        };
        Failure {
            code,
            message: awcopy_store::redact::redact(&message),
        }
    })
}

/// The flag of a setting of `awcopy serve` or `awcopy agent`.
fn flag(setting: Setting) -> &'static str {
    match setting {
        Setting::Listen => "--listen",
        Setting::Config => "--config",
        Setting::Agents => "--agents",
        Setting::TlsCert => "--tls-cert",
        Setting::TlsKey => "--tls-key",
        Setting::InsecureHttp => "--insecure-http",
        Setting::Nats => "--nats",
        Setting::NatsCreds => "--nats-creds",
        Setting::NatsKey => "--nats-key",
    }
}

/// A setting's error, said with the flags.
fn setting_failure(err: SettingError) -> Failure {
    Failure::usage(err.describe(flag))
}

/// How to reach NATS, from the flags and `AWCOPY_NATS_TOKEN` or `AWCOPY_NATS_USER` and
/// `AWCOPY_NATS_PASSWORD`; `None` without `--nats`.
fn nats_options(args: &NatsArgs) -> Result<Option<NatsOptions>, Failure> {
    let Some(url) = &args.nats else {
        return Ok(None);
    };
    NatsOptions::check_url(url).map_err(setting_failure)?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let key_file = args
        .nats_key
        .as_ref()
        .expect("clap requires --nats-key with --nats");
    Ok(Some(NatsOptions {
        url: url.clone(),
        creds: args.nats_creds.clone(),
        ca: args.nats_ca.clone(),
        token: env("AWCOPY_NATS_TOKEN"),
        user: env("AWCOPY_NATS_USER").zip(env("AWCOPY_NATS_PASSWORD")),
        key: SealKey::load(key_file).map_err(setting_failure)?,
    }))
}

/// The stores an agent reaches and the keys it reads: its environment's, its `--config`'s and
/// its `--allow-local` directories.
fn agent_access(cli: &Cli, args: &AgentArgs) -> Result<Access, Failure> {
    let config = match &args.config {
        Some(path) => Config::read(path).map_err(setting_failure)?,
        None => Config::default(),
    };
    let mut reach = config
        .stores(cli.endpoint_url.as_deref())
        .map_err(|e| Failure::usage(format!("agent: {e}")))?;
    for path in &args.allow_local {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        reach = reach
            .with_local(&absolute)
            .map_err(|e| Failure::usage(format!("--allow-local {}: {e}", path.display())))?;
    }
    Ok(Access {
        reach: Some(Arc::new(reach)),
        keys: Arc::new(config.key_files()),
        ..Access::default()
    })
}

/// Runs `awcopy agent` until the process is stopped.
pub async fn agent(cli: &Cli, args: &AgentArgs) -> Result<(), Failure> {
    let nats = nats_options(&args.nats)?.ok_or_else(|| {
        Failure::usage(
            "agent: give --nats URL (where the service puts its work) and --nats-key FILE",
        )
    })?;
    let access = agent_access(cli, args)?;
    let name = args.name.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            awcopy_service::nats::host_name(),
            std::process::id()
        )
    });
    println!(
        "awcopy agent {name}: connecting to {}",
        awcopy_service::nats::shown_url(&nats.url)
    );
    run_agent(AgentOptions {
        nats,
        name,
        items: usize::from(args.items),
        access,
    })
    .await
    .map_err(|e| Failure {
        code: code::NETWORK,
        message: e.to_string(),
    })
}
