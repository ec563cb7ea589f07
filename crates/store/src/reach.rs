//! Where a shared process may reach: the stores its operator configured. A service and its
//! agents turn every location a job names into the store it means through their [`Reach`]:
//! an S3 endpoint, an Azure account (with its endpoint) or a local directory the operator did
//! not name is refused before a single request, and what a user typed is never a host to call.
//! The CLI, whose user is the principal, opens whatever it is given and has no `Reach`.
//!
//! A location's identity is its endpoint, its bucket (or account and container) and its prefix.
//! Within one `Reach` there is one S3 endpoint and one endpoint per Azure account, so the
//! canonical text of a reached location (`s3://bucket/prefix`, `az://account/container/prefix`,
//! an absolute path) names the whole identity: it is what grants are matched against.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use url::Url;

use crate::azure::credentials::ConnectionString;
use crate::error::{Result, StoreError};
use crate::{Encryption, Location, OpenOptions, Store};

/// An Azure storage account the operator configured, and where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureAccount {
    /// The account's name.
    pub account: String,
    /// Its blob endpoint, without a trailing slash.
    pub endpoint: Url,
    /// Its queue endpoint (where Event Grid delivers its blob events), when known.
    pub queue_endpoint: Option<Url>,
}

/// The stores one process may reach.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// The one S3 endpoint; `None`: Amazon S3 itself.
    s3_endpoint: Option<Url>,
    /// The SQS endpoint (where S3 sends its event notifications): `AWS_ENDPOINT_URL_SQS`, else
    /// the S3 endpoint (an emulator serving both); `None`: Amazon SQS.
    sqs_endpoint: Option<Url>,
    azure: Vec<AzureAccount>,
    local: Vec<PathBuf>,
}

/// A location as this process reaches it: where requests go, and what it is shown as.
#[derive(Debug, Clone)]
pub struct Reached {
    /// The location with the endpoint this process uses for it.
    pub location: Location,
    /// For a local location: the configured directory it lies beneath.
    confine: Option<PathBuf>,
}

impl Reached {
    /// The canonical text of the location: what a job spec keeps and grants are matched on.
    pub fn canonical(&self) -> String {
        self.location.to_string()
    }
}

fn refuse(field: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::usage(format!("{field}: {why}"))
}

/// The parts of an endpoint that say where requests go: scheme, host, port and path.
fn endpoint_identity(url: &Url) -> (String, String, Option<u16>, String) {
    (
        url.scheme().to_ascii_lowercase(),
        url.host_str().unwrap_or_default().to_ascii_lowercase(),
        url.port_or_known_default(),
        url.path().trim_end_matches('/').to_owned(),
    )
}

/// `text` as an endpoint URL: an http(s) origin and an optional path, nothing else.
fn endpoint_url(what: &str, text: &str) -> Result<Url> {
    let url = Url::parse(text.trim())
        .map_err(|e| StoreError::usage(format!("{what} '{text}' is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(StoreError::usage(format!(
            "{what} '{text}': give an http(s)://HOST[:PORT] URL"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(StoreError::usage(format!(
            "{what}: an endpoint holds no user, password or query; credentials come from the environment"
        )));
    }
    let mut url = url;
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

/// The host (and port) of `url`, for messages.
fn host_of(url: &Url) -> String {
    match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    }
}

impl Reach {
    /// Reaches S3 at `s3_endpoint` (`None`: Amazon S3), and nothing else yet.
    pub fn new(s3_endpoint: Option<&str>) -> Result<Self> {
        let s3_endpoint = s3_endpoint
            .map(|e| endpoint_url("the S3 endpoint", e))
            .transpose()?;
        Ok(Self {
            sqs_endpoint: s3_endpoint.clone(),
            s3_endpoint,
            ..Self::default()
        })
    }

    /// The stores this process's environment names: S3 at `s3_endpoint`, else
    /// `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, else Amazon S3; the Azure account of
    /// `AZURE_STORAGE_CONNECTION_STRING` at its blob endpoint, and `AZURE_STORAGE_ACCOUNT`
    /// at its default endpoint.
    pub fn from_environment(s3_endpoint: Option<&str>) -> Result<Self> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let s3 = s3_endpoint
            .map(str::to_owned)
            .or_else(|| env("AWS_ENDPOINT_URL_S3"))
            .or_else(|| env("AWS_ENDPOINT_URL"));
        let mut reach = Self::new(s3.as_deref())?;
        if let Some(sqs) = env("AWS_ENDPOINT_URL_SQS") {
            reach.sqs_endpoint = Some(endpoint_url("AWS_ENDPOINT_URL_SQS", &sqs)?);
        }
        if let Some(text) = env("AZURE_STORAGE_CONNECTION_STRING") {
            let connection = ConnectionString::parse(&text)?;
            reach =
                reach.with_azure(&connection.account, Some(connection.blob_endpoint.as_str()))?;
            if let Some(queue) = &connection.queue_endpoint {
                reach = reach.with_azure_queue(&connection.account, queue.as_str())?;
            }
        }
        if let Some(account) = env("AZURE_STORAGE_ACCOUNT") {
            if !reach.azure.iter().any(|a| a.account == account) {
                reach = reach.with_azure(&account, None)?;
            }
        }
        Ok(reach)
    }

    /// Also reaches Azure account `account` at `endpoint` (default
    /// `https://ACCOUNT.blob.core.windows.net`). An account has one endpoint: this one
    /// replaces any given before (a config file's over the environment's).
    pub fn with_azure(mut self, account: &str, endpoint: Option<&str>) -> Result<Self> {
        let valid = (3..=24).contains(&account.len())
            && account
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !valid {
            return Err(StoreError::usage(format!(
                "Azure account '{account}': an account name is 3 to 24 lowercase letters and digits"
            )));
        }
        let default = format!("https://{account}.blob.core.windows.net");
        let endpoint = endpoint_url(
            &format!("the endpoint of Azure account '{account}'"),
            endpoint.unwrap_or(&default),
        )?;
        // Azure's own endpoints come in pairs: ACCOUNT.blob.SUFFIX and ACCOUNT.queue.SUFFIX.
        let queue_endpoint = endpoint
            .host_str()
            .filter(|host| host.starts_with(&format!("{account}.blob.")))
            .and_then(|host| {
                let mut queue = endpoint.clone();
                let host = host.replacen(".blob.", ".queue.", 1);
                queue.set_host(Some(&host)).ok().map(|()| queue)
            });
        self.azure.retain(|a| a.account != account);
        self.azure.push(AzureAccount {
            account: account.to_owned(),
            endpoint,
            queue_endpoint,
        });
        Ok(self)
    }

    /// Reads the queues of Azure account `account` (already reached) at `endpoint`.
    pub fn with_azure_queue(mut self, account: &str, endpoint: &str) -> Result<Self> {
        let endpoint = endpoint_url(
            &format!("the queue endpoint of Azure account '{account}'"),
            endpoint,
        )?;
        let known = self
            .azure
            .iter_mut()
            .find(|a| a.account == account)
            .ok_or_else(|| {
                StoreError::usage(format!(
                    "Azure account '{account}': give its blob endpoint before its queue endpoint"
                ))
            })?;
        known.queue_endpoint = Some(endpoint);
        Ok(self)
    }

    /// Where this process reads SQS queues (`None`: Amazon SQS).
    pub fn sqs_endpoint(&self) -> Option<&Url> {
        self.sqs_endpoint.as_ref()
    }

    /// Where this process reads the queues of Azure account `account`, or why it cannot.
    pub fn azure_queue_endpoint(&self, account: &str) -> Result<&Url> {
        let known = self
            .azure
            .iter()
            .find(|a| a.account == account)
            .ok_or_else(|| {
                StoreError::usage(format!(
                    "Azure account '{account}' is not one this service reaches"
                ))
            })?;
        known.queue_endpoint.as_ref().ok_or_else(|| {
            StoreError::usage(format!(
                "Azure account '{account}' has no queue endpoint configured: add QueueEndpoint to AZURE_STORAGE_CONNECTION_STRING, or queue_endpoint to its [[azure]] entry"
            ))
        })
    }

    /// Also reaches the local directory `root` and everything beneath it (an absolute path,
    /// with no `..`).
    pub fn with_local(mut self, root: &Path) -> Result<Self> {
        let root = normal_path("a local directory", root)?;
        if !self.local.contains(&root) {
            self.local.push(root);
        }
        Ok(self)
    }

    /// The S3 endpoint, or `None` for Amazon S3.
    pub fn s3_endpoint(&self) -> Option<&Url> {
        self.s3_endpoint.as_ref()
    }

    /// Where `location` is when it is not where its canonical text alone would say: the
    /// endpoint of an S3 or Azure location on a store other than the cloud's own, for people
    /// to see (`None` for Amazon S3, an account at `ACCOUNT.blob.core.windows.net`, a path).
    pub fn shown_endpoint(&self, location: &Location) -> Option<String> {
        match location {
            Location::S3 { .. } => self.s3_endpoint.as_ref().map(|e| e.to_string()),
            Location::Azure { account, .. } => self
                .azure
                .iter()
                .find(|a| &a.account == account)
                .filter(|a| {
                    a.endpoint.host_str() != Some(&format!("{account}.blob.core.windows.net"))
                })
                .map(|a| a.endpoint.to_string()),
            Location::Local { .. } => None,
        }
    }

    /// The store `location` means here, or why it is out of reach; `field` names the
    /// location in errors. Refuses an endpoint, account or directory the operator did not
    /// configure, a location carrying a secret, and a prefix with `.`, `..` or empty segments.
    pub fn resolve(&self, field: &str, location: &Location) -> Result<Reached> {
        let reached = self.reach(field, location)?;
        check_segments(field, location.prefix())?;
        Ok(reached)
    }

    /// Where `location` is reached, its prefix not looked at yet: the host named first.
    fn reach(&self, field: &str, location: &Location) -> Result<Reached> {
        match location {
            Location::S3 {
                bucket,
                prefix,
                endpoint,
                region,
            } => {
                if let (Some(named), Some(own)) = (endpoint, &self.s3_endpoint) {
                    return Err(refuse(
                        field,
                        format!(
                            "{} is not the S3 endpoint this service reaches ({own}); name the bucket as s3://{bucket}/{prefix}",
                            host_of(named)
                        ),
                    ));
                }
                Ok(Reached {
                    location: Location::S3 {
                        bucket: bucket.clone(),
                        prefix: prefix.clone(),
                        endpoint: endpoint.clone(),
                        region: region.clone(),
                    },
                    confine: None,
                })
            }
            Location::Azure {
                account,
                container,
                prefix,
                endpoint,
                sas,
            } => {
                if sas.is_some() {
                    return Err(refuse(
                        field,
                        "the location carries a SAS token; this service uses its own credentials and keeps no secret with a job: give the location without its query",
                    ));
                }
                let known = self.azure.iter().find(|a| &a.account == account);
                let Some(known) = known else {
                    let host = endpoint.as_ref().map(host_of);
                    return Err(refuse(
                        field,
                        format!(
                            "{} is not a store this service is configured for; use one of its Azure accounts ({})",
                            match host {
                                Some(host) => format!("Azure account '{account}' at {host}"),
                                None => format!("Azure account '{account}'"),
                            },
                            self.azure_names()
                        ),
                    ));
                };
                if let Some(named) = endpoint {
                    if endpoint_identity(named) != endpoint_identity(&known.endpoint) {
                        return Err(refuse(
                            field,
                            format!(
                                "{} is not where Azure account '{account}' is ({}); write az://{account}/{container}/{prefix}",
                                host_of(named),
                                known.endpoint
                            ),
                        ));
                    }
                }
                Ok(Reached {
                    location: Location::Azure {
                        account: account.clone(),
                        container: container.clone(),
                        prefix: prefix.clone(),
                        endpoint: Some(known.endpoint.clone()),
                        sas: None,
                    },
                    confine: None,
                })
            }
            Location::Local { root, prefix } => {
                if !root.is_absolute() {
                    return Err(refuse(
                        field,
                        format!(
                            "'{}' is a relative path; give the absolute path of a directory you were granted",
                            root.display()
                        ),
                    ));
                }
                let root = normal_path(field, root)?;
                let beneath = self.local.iter().find(|allowed| root.starts_with(allowed));
                let Some(beneath) = beneath else {
                    return Err(refuse(
                        field,
                        format!(
                            "{} is not under a local directory this process may use (a service's local grants, an agent's --allow-local); ask its operator",
                            root.display()
                        ),
                    ));
                };
                Ok(Reached {
                    location: Location::Local {
                        root,
                        prefix: prefix.clone(),
                    },
                    confine: Some(beneath.clone()),
                })
            }
        }
    }

    /// Checks that a job's S3 endpoint, if it names one, is this process's.
    pub fn check_s3_endpoint(&self, named: Option<&str>) -> Result<()> {
        let Some(named) = named else {
            return Ok(());
        };
        let named_url = endpoint_url("s3_endpoint", named)?;
        match &self.s3_endpoint {
            Some(own) if endpoint_identity(own) == endpoint_identity(&named_url) => Ok(()),
            own => Err(refuse(
                "s3_endpoint",
                format!(
                    "{} is not the S3 endpoint this service reaches ({}); leave s3_endpoint out",
                    host_of(&named_url),
                    own.as_ref()
                        .map_or("Amazon S3".to_owned(), |u| u.to_string())
                ),
            )),
        }
    }

    /// Opens the store `location` means here (see [`Reach::resolve`]), writing with
    /// `encryption`: S3 at this process's endpoint, an Azure account at its configured
    /// endpoint, a local directory opened beneath the configured directory it lies in.
    pub async fn open(
        &self,
        field: &str,
        location: &Location,
        encryption: Option<Encryption>,
    ) -> Result<Arc<dyn Store>> {
        let reached = self.resolve(field, location)?;
        let options = OpenOptions {
            s3_endpoint: self.s3_endpoint.as_ref().map(|u| u.to_string()),
            encryption,
            confine: reached.confine,
        };
        crate::open(&reached.location, &options).await
    }

    fn azure_names(&self) -> String {
        match self.azure.is_empty() {
            true => "none is configured".to_owned(),
            false => self
                .azure
                .iter()
                .map(|a| a.account.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// Refuses a key prefix with a `.` or `..` segment, or an empty one (`a//b`, a leading `/`):
/// names a service would read as a path to somewhere else.
fn check_segments(field: &str, prefix: &str) -> Result<()> {
    let inner = prefix.strip_suffix('/').unwrap_or(prefix);
    if inner.is_empty() {
        return Ok(());
    }
    for segment in inner.split('/') {
        let why = match segment {
            "" => "an empty segment ('//' or a leading '/')",
            "." => "a '.' segment",
            ".." => "a '..' segment",
            _ => continue,
        };
        return Err(refuse(
            field,
            format!("the prefix '{prefix}' has {why}; give the place as it is, without them"),
        ));
    }
    Ok(())
}

/// `path` made absolute and free of `.` and empty components; refused if it has `..`.
fn normal_path(field: &str, path: &Path) -> Result<PathBuf> {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                return Err(refuse(
                    field,
                    format!(
                        "'{}' has a '..' component; give the directory's own path",
                        path.display()
                    ),
                ))
            }
            Component::CurDir => {}
            other => normal.push(other.as_os_str()),
        }
    }
    if !normal.is_absolute() {
        return Err(refuse(
            field,
            format!("'{}' is not an absolute path", path.display()),
        ));
    }
    Ok(normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reach() -> Reach {
        Reach::new(Some("http://127.0.0.1:9000"))
            .unwrap()
            .with_azure(
                "devstoreaccount1",
                Some("http://127.0.0.1:10000/devstoreaccount1"),
            )
            .unwrap()
            .with_azure("lake", None)
            .unwrap()
            .with_local(Path::new("/srv/data/team-a"))
            .unwrap()
    }

    fn resolve(text: &str) -> Result<Reached> {
        reach().resolve("source", &Location::parse(text).unwrap())
    }

    #[test]
    fn configured_stores_resolve_to_their_configured_endpoints() {
        for (text, canonical, endpoint) in [
            (
                "az://lake/c1x/p/",
                "az://lake/c1x/p/",
                "https://lake.blob.core.windows.net/",
            ),
            (
                "https://lake.blob.core.windows.net/c1x/p",
                "az://lake/c1x/p",
                "https://lake.blob.core.windows.net/",
            ),
            (
                "HTTPS://LAKE.blob.core.windows.net:443/c1x/",
                "az://lake/c1x/",
                "https://lake.blob.core.windows.net/",
            ),
            (
                "az://devstoreaccount1/c1x/k",
                "az://devstoreaccount1/c1x/k",
                "http://127.0.0.1:10000/devstoreaccount1",
            ),
            (
                "http://127.0.0.1:10000/devstoreaccount1/c1x/k",
                "az://devstoreaccount1/c1x/k",
                "http://127.0.0.1:10000/devstoreaccount1",
            ),
        ] {
            let reached = resolve(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(reached.canonical(), canonical, "{text}");
            match reached.location {
                Location::Azure {
                    endpoint: Some(e), ..
                } => assert_eq!(e.as_str(), endpoint, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert_eq!(resolve("s3://bkt/p/").unwrap().canonical(), "s3://bkt/p/");
        let local = resolve("/srv/data/team-a/./x//y/").unwrap();
        assert_eq!(local.canonical(), "/srv/data/team-a/x/y/");
        assert_eq!(
            local.confine.as_deref(),
            Some(Path::new("/srv/data/team-a"))
        );
    }

    #[test]
    fn every_other_place_is_refused_naming_the_field_and_host() {
        for (text, needle) in [
            (
                "http://127.0.0.2:10000/devstoreaccount1/c1x/",
                "127.0.0.2:10000",
            ),
            (
                "http://127.0.0.1:10001/devstoreaccount1/c1x/",
                "127.0.0.1:10001",
            ),
            (
                "https://devstoreaccount1.blob.core.windows.net/c1x/",
                "devstoreaccount1.blob.core.windows.net",
            ),
            (
                "https://lake.blob.core.evil.example/c1x/",
                "lake.blob.core.evil.example",
            ),
            (
                "http://lake.blob.core.windows.net/c1x/",
                "lake.blob.core.windows.net",
            ),
            ("az://other/c1x/", "'other'"),
            ("http://127.0.0.2:9000/other/c1x/", "127.0.0.2:9000"),
            (
                "https://bkt.s3.eu-west-1.amazonaws.com/p",
                "s3.eu-west-1.amazonaws.com",
            ),
            (
                "https://s3.us-east-2.amazonaws.com/bkt/p",
                "s3.us-east-2.amazonaws.com",
            ),
            ("az://lake/c1x/a/../b", "'..'"),
            ("az://lake/c1x/a/./b", "'.'"),
            ("s3://bkt/a//b", "empty segment"),
            ("s3://bkt//b", "empty segment"),
            (
                "http://127.0.0.1:10000/devstoreaccount1/c1x/a/..%2F..%2Fb",
                "'..'",
            ),
            (
                "https://lake.blob.core.windows.net/c1x/p?sv=1&sig=abc",
                "SAS",
            ),
            ("/srv/data/team-a/../team-b", "'..'"),
            ("/srv/data/team-ab", "not under"),
            ("/etc", "not under"),
            ("relative/dir", "relative"),
        ] {
            let err = match resolve(text) {
                Ok(reached) => panic!("{text} was reached as {reached:?}"),
                Err(err) => err.to_string(),
            };
            assert!(err.starts_with("source: "), "{text}: {err}");
            assert!(err.contains(needle), "{text}: {err}");
            assert!(!err.contains("sig=abc"), "{err}");
        }
    }

    #[test]
    fn amazon_urls_are_reached_only_when_the_endpoint_is_amazon() {
        let aws = Reach::new(None).unwrap();
        let reached = aws
            .resolve(
                "dest",
                &Location::parse("https://bkt.s3.eu-west-1.amazonaws.com/p").unwrap(),
            )
            .unwrap();
        assert_eq!(reached.canonical(), "s3://bkt/p");
        assert!(aws.check_s3_endpoint(None).is_ok());
        assert!(aws.check_s3_endpoint(Some("http://127.0.0.2:9")).is_err());
        let own = reach();
        assert!(own
            .check_s3_endpoint(Some("http://127.0.0.1:9000/"))
            .is_ok());
        let err = own
            .check_s3_endpoint(Some("http://127.0.0.2:9000"))
            .unwrap_err();
        assert!(err.to_string().contains("127.0.0.2:9000"), "{err}");
    }

    #[test]
    fn accounts_have_one_endpoint_and_shown_endpoints_are_the_unusual_ones() {
        let moved = reach()
            .with_azure("lake", Some("http://127.0.0.2:1/lake"))
            .unwrap();
        assert_eq!(moved.azure.len(), 2, "one endpoint per account");
        let lake = Location::parse("az://lake/c1x/").unwrap();
        match moved.resolve("dest", &lake).unwrap().location {
            Location::Azure {
                endpoint: Some(e), ..
            } => assert_eq!(e.as_str(), "http://127.0.0.2:1/lake"),
            other => panic!("{other:?}"),
        }
        assert!(reach().with_azure("Bad_Name", None).is_err());
        assert!(Reach::new(Some("http://user:pw@127.0.0.1:9")).is_err());
        let r = reach();
        let az = |t: &str| Location::parse(t).unwrap();
        assert_eq!(r.shown_endpoint(&az("az://lake/c1x/")), None);
        assert_eq!(
            r.shown_endpoint(&az("az://devstoreaccount1/c1x/"))
                .as_deref(),
            Some("http://127.0.0.1:10000/devstoreaccount1")
        );
        assert_eq!(
            r.shown_endpoint(&az("s3://bkt/")).as_deref(),
            Some("http://127.0.0.1:9000/")
        );
    }
}
