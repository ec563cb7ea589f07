//! From a [`JobSpec`] to a copy ready to run: the locations checked and opened (with the
//! secrets given for this run), encryption keys read where the job runs, the plan and the
//! engine's options. What every front door (the CLI, the service's runner) and every agent
//! starts from.

use crate::copy::{CopyOptions, CopyPlan};
use crate::execute::ItemExecutor;
use crate::filter::Filter;
use crate::journal::Stop;
use crate::lister::ListerConfig;
use crate::retry::RetryPolicy;
use crate::spec::{EncryptionRef, JobSpec, KeySource, Mode};
use awcopy_store::{Encryption, Location, OpenOptions, Reach, Secret, Store, StoreError};
use base64::Engine as _;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// What the process running a job adds to its spec: the locations of one run with what a
/// spec never keeps (a SAS token or a presigned query; each must name the same place as the
/// spec's), and where the process may reach.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The source location, secrets included.
    pub source: Option<String>,
    /// The destination location, secrets included.
    pub dest: Option<String>,
    /// The stores a service or an agent may reach (its operator's configuration): every
    /// location is opened through it. `None`: the CLI, which opens what its user names.
    pub reach: Option<Arc<Reach>>,
    /// The encryption keys a job may name (a service's or an agent's configured keys), by
    /// name, with the files they are read from.
    pub keys: Arc<HashMap<String, PathBuf>>,
}

/// A job's copy, ready to run.
#[derive(Debug)]
pub struct Prepared {
    /// What the job is.
    pub spec: JobSpec,
    /// The source as shown (no secret).
    pub source: Location,
    /// The destination as shown (no secret).
    pub dest: Location,
    plan: CopyPlan,
    filter: Filter,
}

impl Prepared {
    /// Checks `spec`, reads its keys and opens both stores, with `access` supplying the
    /// secrets. Errors are store errors whose message names the field (`SOURCE`, `DEST`,
    /// `encryption`, a filter).
    pub async fn new(spec: JobSpec, access: &Access) -> Result<Self, StoreError> {
        let filter = spec
            .checked_filter()
            .map_err(|e| StoreError::usage(e.to_string()))?;
        let recursive = spec.is_recursive();
        let encryption = spec
            .encryption
            .as_ref()
            .map(|e| resolve_encryption(e, access))
            .transpose()?;
        let mut source = location("SOURCE", &spec.source, access.source.as_deref())?;
        let mut dest = location("DEST", &spec.dest, access.dest.as_deref())?;
        if !recursive {
            source = local_file(source);
            if source.prefix().is_empty() || source.prefix().ends_with('/') {
                return Err(StoreError::usage(format!(
                    "SOURCE {source} names a bucket, container or directory; add -r (recursive) to copy everything under it"
                )));
            }
            dest = local_file(dest);
        }
        refuse_overlap(&source, &dest, recursive)?;
        let source_store = open(&spec, access, "SOURCE", &source, None).await?;
        let dest_store = open(&spec, access, "DEST", &dest, encryption).await?;
        let plan = plan(&source, &dest, source_store, dest_store, recursive);
        Ok(Self {
            spec,
            source,
            dest,
            plan,
            filter,
        })
    }

    /// The opened source store.
    pub fn source_store(&self) -> &Arc<dyn Store> {
        &self.plan.source
    }

    /// The opened destination store.
    pub fn dest_store(&self) -> &Arc<dyn Store> {
        &self.plan.dest
    }

    /// An executor of this job's work items with limits of its own: what an agent holds.
    /// It runs no item naming a key outside the job's prefixes, and once `stop` is cancelled
    /// it starts no more items.
    pub fn executor(&self, stop: Stop) -> ItemExecutor {
        let options = CopyOptions {
            stop: Some(stop),
            ..self.options(false)
        };
        let (source, dest) = (self.plan.source.clone(), self.plan.dest.clone());
        ItemExecutor::new(source, dest, options.executor_options()).within(self.plan.key_bounds())
    }

    /// What to copy and which objects (the plan and the filter), to run with [`crate::copy::copy`].
    pub fn into_plan(self) -> (CopyPlan, Filter) {
        (self.plan, self.filter)
    }

    /// The engine's options for this spec (without sinks, journal or stop: the runner adds
    /// those).
    pub fn options(&self, dry_run: bool) -> CopyOptions {
        let spec = &self.spec;
        CopyOptions {
            block_size: spec.sizes.block_size,
            concurrency: spec.tuning.concurrency,
            memory: spec.tuning.max_memory,
            cutoffs: spec.sizes.cutoffs(),
            lister: ListerConfig {
                parallelism: usize::from(spec.tuning.list_parallelism),
                ..ListerConfig::default()
            },
            retry: RetryPolicy {
                max_attempts: spec.tuning.retries,
                ..RetryPolicy::default()
            },
            dry_run,
            overwrite: spec.overwrite_policy(),
            delete_source: spec.mode == Mode::Move,
            delete_extras: spec.mode == Mode::Sync && spec.delete,
            name_policy: spec.name_policy,
            max_rps: spec.tuning.max_rps,
            bandwidth: spec.tuning.bandwidth,
            ..CopyOptions::default()
        }
    }
}

/// Opens the destination of `spec` alone (to abort the uploads of a cancelled job).
pub async fn open_dest(spec: &JobSpec, access: &Access) -> Result<Arc<dyn Store>, StoreError> {
    let mut dest = location("DEST", &spec.dest, access.dest.as_deref())?;
    if !spec.is_recursive() {
        dest = local_file(dest);
    }
    open(spec, access, "DEST", &dest, None).await
}

/// Opens `location` (the spec's `field`): through the process's reach if it has one, else as
/// the spec says.
async fn open(
    spec: &JobSpec,
    access: &Access,
    field: &str,
    location: &Location,
    encryption: Option<Encryption>,
) -> Result<Arc<dyn Store>, StoreError> {
    match &access.reach {
        Some(reach) => {
            reach.check_s3_endpoint(spec.s3_endpoint.as_deref())?;
            reach.open(field, location, encryption).await
        }
        None => {
            let options = OpenOptions {
                s3_endpoint: spec.s3_endpoint.clone(),
                encryption,
                confine: None,
            };
            awcopy_store::open(location, &options)
                .await
                .map_err(|e| e.context(field))
        }
    }
}

/// The location `stored` names, or `given` (with its secrets) when it names the same place.
fn location(which: &str, stored: &str, given: Option<&str>) -> Result<Location, StoreError> {
    let stored_location = Location::parse(stored).map_err(|e| e.context(which))?;
    let Some(given) = given else {
        return Ok(stored_location);
    };
    let given_location = Location::parse(given).map_err(|e| e.context(which))?;
    if given_location.to_string() != stored_location.to_string() {
        return Err(StoreError::usage(format!(
            "{which}: {given_location} is not where the job's {} is ({stored_location}); give the same place again",
            which.to_lowercase()
        )));
    }
    Ok(given_location)
}

/// What to copy: everything under the source prefix, or its one object.
fn plan(
    source: &Location,
    dest: &Location,
    source_store: Arc<dyn Store>,
    dest_store: Arc<dyn Store>,
    recursive: bool,
) -> CopyPlan {
    if recursive {
        let mut list_prefix = source.prefix().to_owned();
        if !list_prefix.is_empty() && !list_prefix.ends_with('/') {
            list_prefix.push('/');
        }
        return CopyPlan::under(
            source_store,
            dest_store,
            list_prefix,
            directory_prefix(dest.prefix()),
        );
    }
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
        given: None,
    }
}

/// Reads the keys an encryption setting names: a key file where the CLI runs the job, a
/// configured key by its name where a service or an agent does (they read no file a job
/// names).
fn resolve_encryption(
    encryption: &EncryptionRef,
    access: &Access,
) -> Result<Encryption, StoreError> {
    let key = || -> Result<Secret, StoreError> {
        match encryption.key_source() {
            Some(KeySource::File(_)) if access.reach.is_some() => Err(StoreError::usage(
                "encryption.key_file: this service reads no file a job names; name one of the keys its operator configured (key_name)",
            )),
            Some(KeySource::File(file)) => read_key(file),
            Some(KeySource::Named(name)) => match access.keys.get(name) {
                Some(file) => read_key(file).map_err(|_| {
                    StoreError::usage(format!(
                        "encryption.key_name: the key '{name}' configured here cannot be read; its operator must fix it"
                    ))
                }),
                None => Err(StoreError::usage(format!(
                    "encryption.key_name: no key '{name}' is configured here"
                ))),
            },
            None => Err(StoreError::usage(
                "encryption: give either key_file or key_name",
            )),
        }
    };
    Ok(match encryption {
        EncryptionRef::SseS3 => Encryption::S3Managed,
        EncryptionRef::SseKms { key_id } => Encryption::S3Kms(key_id.clone()),
        EncryptionRef::SseC { .. } => Encryption::S3CustomerKey(key()?),
        EncryptionRef::Cpk { .. } => Encryption::AzureCustomerKey(key()?),
        EncryptionRef::Scope { name } => Encryption::AzureScope(name.clone()),
    })
}

/// Reads a 256-bit key from a file holding 32 raw bytes or their base64; returns it in base64.
fn read_key(path: &std::path::Path) -> Result<Secret, StoreError> {
    let shown = path.display();
    let bytes = std::fs::read(path)
        .map_err(|e| StoreError::usage(format!("encryption key file {shown}: {e}")))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = if bytes.len() == 32 {
        bytes
    } else {
        b64.decode(String::from_utf8_lossy(&bytes).trim())
            .unwrap_or_default()
    };
    if key.len() != 32 {
        return Err(StoreError::usage(format!(
            "encryption key file {shown}: must hold a 256-bit key (32 bytes, raw or base64)"
        )));
    }
    Ok(Secret::new(b64.encode(key)))
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
fn refuse_overlap(source: &Location, dest: &Location, recursive: bool) -> Result<(), StoreError> {
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
        return Err(StoreError::usage(format!(
            "DEST {dest} is the source or inside it; copy to another prefix, container or directory"
        )));
    }
    Ok(())
}
