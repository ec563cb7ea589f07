//! A rig of the service with agents on other processes: a bucket holding a test's objects, an
//! empty container, a nats-server, and `awcopy serve` with no agent of its own over them (alice
//! may read and write both), optionally as several replicas sharing one PostgreSQL catalogue;
//! `awcopy agent` processes started on demand.

use super::service::{self as svc, Nats, Process, Service, ALICE};
use awcopy_testkit as kit;
use std::collections::BTreeMap;
use std::process::Command;

/// A bucket holding the test's objects, an empty container, a nats-server and a service with
/// no agent of its own over it (alice may read and write both); jobs go to the container
/// through a proxy that slows every Azure request.
pub struct Rig {
    pub bucket: awcopy_store::Location,
    pub container: awcopy_store::Location,
    pub nats: Nats,
    /// What the service and agents add to reach it.
    pub access: Access,
    pub service: Service,
    pub proxy: awcopy_testkit::fault_proxy::FaultProxy,
    _store: tempfile::TempDir,
    pub dir: tempfile::TempDir,
    /// A local directory bob may read and the agents may use.
    pub local: Option<std::path::PathBuf>,
    /// More replicas of the service, sharing its PostgreSQL catalogue.
    pub replicas: Vec<Service>,
}

/// The key the rig's service and agents seal their messages with.
pub const NATS_KEY: &str = "rig-nats-key-0f4e2b7c9d1a3e5f7a9c0b2d4e6f8a1c";

/// How nats-server is guarded: its own arguments, and the flags and environment its
/// clients (the service, agents) add.
#[derive(Default)]
pub struct Access {
    pub server: Vec<String>,
    pub flags: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Rig {
    pub async fn new(hint: &str, files: &BTreeMap<String, Vec<u8>>, delay_ms: u64) -> Self {
        Self::guarded(hint, files, delay_ms, Access::default()).await
    }

    pub async fn guarded(
        hint: &str,
        files: &BTreeMap<String, Vec<u8>>,
        delay_ms: u64,
        access: Access,
    ) -> Self {
        Self::build(hint, files, delay_ms, access, None, 1, &[]).await
    }

    /// A rig whose bucket sends its change events to SQS queue `queue`, which alice may
    /// replicate from.
    pub async fn replicating(hint: &str, queue: &str, delay_ms: u64) -> Self {
        let queues = [queue.to_owned()];
        Self::build(
            hint,
            &BTreeMap::new(),
            delay_ms,
            Access::default(),
            None,
            1,
            &queues,
        )
        .await
    }

    /// A rig whose service lets bob read the local directory `local`, and whose agents may
    /// use it.
    pub async fn reading_local(hint: &str, local: &std::path::Path) -> Self {
        Self::build(
            hint,
            &BTreeMap::new(),
            0,
            Access::default(),
            Some(local.to_owned()),
            1,
            &[],
        )
        .await
    }

    /// A rig of `replicas` services sharing one PostgreSQL catalogue (the first is
    /// [`Rig::service`], the others [`Rig::replicas`]).
    pub async fn replicated(
        hint: &str,
        files: &BTreeMap<String, Vec<u8>>,
        delay_ms: u64,
        replicas: usize,
    ) -> Self {
        Self::build(
            hint,
            files,
            delay_ms,
            Access::default(),
            None,
            replicas,
            &[],
        )
        .await
    }

    async fn build(
        hint: &str,
        files: &BTreeMap<String, Vec<u8>>,
        delay_ms: u64,
        access: Access,
        local: Option<std::path::PathBuf>,
        replicas: usize,
        queues: &[String],
    ) -> Self {
        // Replicas share one PostgreSQL catalogue; a lone service keeps its SQLite file.
        let db = match replicas > 1 {
            true => Some(kit::catalogue::fresh_postgres_database().await),
            false => None,
        };
        let bucket = kit::new_s3_bucket(hint).await;
        let container = kit::new_azure_container(hint).await;
        kit::put_all(&kit::open(&bucket).await, files).await;
        let store = tempfile::tempdir().unwrap();
        let nats = Nats::start_with(store.path(), &access.server);
        let (dir_guard, dir) = svc::service_dir();
        let grant = vec![format!("{bucket}"), container.to_string()];
        // The service and its agents reach the Azure account through the proxy.
        let proxy = kit::fault_proxy::slow_azure(delay_ms).await;
        let stores = svc::azure_through(&proxy);
        let bob_reads: Vec<String> = local.iter().map(|p| p.display().to_string()).collect();
        match queues.is_empty() {
            true => svc::write_config_with(&dir, (&grant, &grant), (&bob_reads, &[]), &stores),
            false => svc::write_replication_config(&dir, &grant, &grant, queues, &stores),
        }
        std::fs::write(dir.join("stores.toml"), &stores).unwrap();
        // The key the service and its agents seal their messages with.
        let key = dir.join("nats.key");
        std::fs::write(&key, NATS_KEY).unwrap();
        let key = key.to_str().unwrap().to_owned();
        let mut args = vec!["--agents", "0", "--nats", &nats.url, "--nats-key", &key];
        args.extend(access.flags.iter().map(String::as_str));
        if let Some(db) = &db {
            args.extend(["--db", db]);
        }
        let env: Vec<(&str, &str)> = access
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let service = svc::start_with_env(&dir, &args, &env);
        let replicas = (1..replicas)
            .map(|_| svc::start_with_env(&dir, &args, &env))
            .collect();
        Self {
            bucket,
            container,
            nats,
            access,
            service,
            proxy,
            _store: store,
            dir: dir_guard,
            local,
            replicas,
        }
    }

    /// Everything the service and `agent` printed or answered, and the catalogue's bytes: where
    /// no secret may appear.
    pub fn everything_shown(&self, agent: &Process) -> String {
        [
            agent.lines().join("\n"),
            self.service.log(),
            self.service.said.lock().unwrap().clone(),
            svc::catalogue_text(self.dir.path()),
        ]
        .join("\n")
    }

    /// Alice's job `id` once it has ended.
    pub async fn ended(&self, id: &str) -> serde_json::Value {
        let ends = ["completed", "completed-with-failures", "failed"];
        self.service.wait_for(id, ALICE, &ends).await
    }

    /// An `awcopy agent` process named `name` running `items` at once, logging each item it
    /// finishes.
    pub fn agent(&self, name: &str, items: u16) -> Process {
        let process = Process::start(self.agent_command(name, items));
        process.wait_for_line("pulling work items");
        process
    }

    pub fn agent_command(&self, name: &str, items: u16) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_awcopy"));
        command
            .args(["-v", "agent", "--nats", &self.nats.url, "--name", name])
            .arg("--nats-key")
            .arg(self.dir.path().join("nats.key"))
            .args(["--items", &items.to_string()])
            .args(["--endpoint-url", &kit::s3_endpoint()])
            .arg("--config")
            .arg(self.dir.path().join("stores.toml"))
            .args(
                self.local
                    .iter()
                    .flat_map(|p| [std::ffi::OsStr::new("--allow-local"), p.as_os_str()]),
            )
            .args(&self.access.flags)
            .envs(self.access.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Submits, as alice, a copy of the whole bucket to the container with `settings` (more
    /// fields of the job spec); returns the job's id.
    pub async fn submit(&self, settings: serde_json::Value) -> String {
        let mut body = serde_json::json!({
            "version": 1, "mode": "cp", "recursive": true,
            "source": format!("{}", self.bucket),
            "dest": kit::fault_proxy::through(&self.proxy, &self.container),
        });
        if let serde_json::Value::Object(settings) = settings {
            body.as_object_mut().unwrap().extend(settings);
        }
        let job = self.service.create("/api/v1/jobs", ALICE, body).await;
        job["id"].as_str().unwrap().to_owned()
    }
}
