//! Parsing of the locations users type: `s3://bucket/prefix`, `az://account/container/prefix`,
//! Azure and S3 https URLs, emulator URLs, `file://` URLs and local paths.

use percent_encoding::percent_decode_str;
use std::fmt;
use std::path::PathBuf;
use url::Url;

use crate::error::{Result, StoreError};
use crate::secret::Secret;

/// The kind of service a location points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Amazon S3 or an S3-compatible store.
    S3,
    /// Azure Blob Storage (or Azurite).
    Azure,
    /// A directory on this machine.
    Local,
}

/// A parsed location: a store root plus a key prefix inside it.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An S3 bucket.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix inside the bucket (may be empty).
        prefix: String,
        /// Endpoint named by the URL itself (virtual-hosted or path-style AWS URLs).
        endpoint: Option<Url>,
        /// Region named by the URL itself.
        region: Option<String>,
    },
    /// An Azure Blob container.
    Azure {
        /// Storage account name.
        account: String,
        /// Container name.
        container: String,
        /// Blob name prefix inside the container (may be empty).
        prefix: String,
        /// The account's blob endpoint, when the URL names one (https or emulator URL).
        endpoint: Option<Url>,
        /// A SAS token given in the URL's query.
        sas: Option<Secret>,
    },
    /// A local directory (or a single file's parent and name as prefix).
    Local {
        /// The directory that is the store's root.
        root: PathBuf,
        /// Key prefix below the root (may be empty).
        prefix: String,
    },
}

impl Location {
    /// Parses a location argument. Errors are [`crate::ErrorKind::Usage`] and say how to fix it.
    pub fn parse(input: &str) -> Result<Self> {
        let input = input.trim();
        if input.is_empty() {
            return Err(StoreError::usage(
                "empty location; give s3://bucket/prefix, az://account/container/prefix, an https URL or a local path",
            ));
        }
        let Some((scheme, rest)) = input.split_once("://") else {
            return Ok(Self::local(PathBuf::from(input)));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "s3" => parse_s3(input, rest),
            "az" | "azure" => parse_az(input, rest),
            "file" => {
                let url = Url::parse(input).map_err(|e| bad(input, &e.to_string()))?;
                let path = url
                    .to_file_path()
                    .map_err(|_| bad(input, "a file:// URL needs an absolute path"))?;
                Ok(Self::local(path))
            }
            "http" | "https" => parse_http(input),
            other => Err(StoreError::usage(format!(
                "location '{input}': unknown scheme '{other}://'; use s3://, az://, https://, file:// or a local path"
            ))),
        }
    }

    fn local(path: PathBuf) -> Self {
        Self::Local {
            root: path,
            prefix: String::new(),
        }
    }

    /// Which kind of service this is.
    pub fn provider(&self) -> Provider {
        match self {
            Self::S3 { .. } => Provider::S3,
            Self::Azure { .. } => Provider::Azure,
            Self::Local { .. } => Provider::Local,
        }
    }

    /// Parses `input` and says whether it carries a secret: a SAS token, or a presigned or
    /// signed query (what a service, which uses its own credentials, must refuse).
    pub fn carries_secret(input: &str) -> Result<bool> {
        let signed = match Self::parse(input)? {
            Self::Azure { sas: Some(_), .. } => true,
            _ => {
                let lower = input.to_ascii_lowercase();
                lower.contains("x-amz-signature") || lower.contains("sig=")
            }
        };
        Ok(signed)
    }

    /// The key prefix inside the store's root.
    pub fn prefix(&self) -> &str {
        match self {
            Self::S3 { prefix, .. } | Self::Azure { prefix, .. } | Self::Local { prefix, .. } => {
                prefix
            }
        }
    }
}

impl fmt::Display for Location {
    /// The canonical form, without any secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::S3 { bucket, prefix, .. } => write!(f, "s3://{bucket}/{prefix}"),
            Self::Azure {
                account,
                container,
                prefix,
                ..
            } => write!(f, "az://{account}/{container}/{prefix}"),
            Self::Local { root, prefix } => {
                write!(f, "{}", root.join(prefix).display())
            }
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

fn bad(input: &str, why: &str) -> StoreError {
    StoreError::usage(format!("location '{input}': {why}"))
}

fn parse_s3(input: &str, rest: &str) -> Result<Location> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    check_bucket(input, bucket)?;
    Ok(Location::S3 {
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
        endpoint: None,
        region: None,
    })
}

fn check_bucket(input: &str, bucket: &str) -> Result<()> {
    if bucket.is_empty() {
        return Err(bad(
            input,
            "missing bucket name, e.g. s3://my-bucket/prefix",
        ));
    }
    if !(3..=63).contains(&bucket.len()) {
        return Err(bad(
            input,
            &format!("bucket name '{bucket}' must be 3 to 63 characters long"),
        ));
    }
    if !bucket
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return Err(bad(
            input,
            &format!("'{bucket}' is not a valid bucket name (letters, digits, '-', '.', '_')"),
        ));
    }
    Ok(())
}

fn parse_az(input: &str, rest: &str) -> Result<Location> {
    let mut parts = rest.splitn(3, '/');
    let account = parts.next().unwrap_or_default();
    let container = parts.next().unwrap_or_default();
    let prefix = parts.next().unwrap_or_default();
    azure_location(input, account, container, prefix.to_owned(), None, None)
}

fn azure_location(
    input: &str,
    account: &str,
    container: &str,
    prefix: String,
    endpoint: Option<Url>,
    sas: Option<Secret>,
) -> Result<Location> {
    if account.is_empty() {
        return Err(bad(
            input,
            "missing storage account, e.g. az://account/container/prefix",
        ));
    }
    if container.is_empty() {
        return Err(bad(
            input,
            "missing container, e.g. az://account/container/prefix",
        ));
    }
    if !(3..=63).contains(&container.len()) && container != "$root" {
        return Err(bad(
            input,
            &format!("container name '{container}' must be 3 to 63 characters long"),
        ));
    }
    if !container
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '$')
    {
        return Err(bad(
            input,
            &format!(
                "'{container}' is not a valid container name (lowercase letters, digits, '-')"
            ),
        ));
    }
    Ok(Location::Azure {
        account: account.to_owned(),
        container: container.to_owned(),
        prefix,
        endpoint,
        sas,
    })
}

/// Splits a URL path into its first `n` segments and the decoded rest.
fn path_parts(url: &Url, n: usize) -> (Vec<String>, String) {
    let path = url.path().trim_start_matches('/');
    let mut raw = path.splitn(n + 1, '/');
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let head = (0..n).map(|_| decode(raw.next().unwrap_or(""))).collect();
    (head, decode(raw.next().unwrap_or("")))
}

fn parse_http(input: &str) -> Result<Location> {
    let url = Url::parse(input).map_err(|e| bad(input, &e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        // Not quoted: the input holds the password.
        return Err(StoreError::usage(format!(
            "location 'http(s)://...@{}': a location holds no user or password; credentials come from the environment (or a SAS token in the query)",
            url.host_str().unwrap_or_default()
        )));
    }
    let host = url
        .host_str()
        .ok_or_else(|| bad(input, "the URL has no host"))?
        .to_ascii_lowercase();
    let origin = |path: &str| -> Url {
        let mut endpoint = url.clone();
        endpoint.set_query(None);
        endpoint.set_fragment(None);
        endpoint.set_path(path);
        endpoint
    };

    if let Some(account) = host
        .split_once(".blob.core.")
        .map(|(account, _)| account.to_owned())
    {
        let (head, prefix) = path_parts(&url, 1);
        let sas = sas_from_query(&url);
        return azure_location(input, &account, &head[0], prefix, Some(origin("/")), sas);
    }

    if host.ends_with(".amazonaws.com") {
        return parse_aws_url(input, &url, &host);
    }

    // Anything else is an emulator-style Azure URL: http(s)://host:port/account/container/prefix.
    let (head, prefix) = path_parts(&url, 2);
    let endpoint = origin(&format!("/{}", head[0]));
    let sas = sas_from_query(&url);
    azure_location(input, &head[0], &head[1], prefix, Some(endpoint), sas)
}

fn sas_from_query(url: &Url) -> Option<Secret> {
    url.query()
        .filter(|q| q.split('&').any(|kv| kv.starts_with("sig=")))
        .map(Secret::new)
}

/// `https://bucket.s3.region.amazonaws.com/prefix`, `https://bucket.s3.amazonaws.com/prefix`
/// or path-style `https://s3.region.amazonaws.com/bucket/prefix`.
fn parse_aws_url(input: &str, url: &Url, host: &str) -> Result<Location> {
    let labels: Vec<&str> = host.trim_end_matches(".amazonaws.com").split('.').collect();
    let s3_at = labels
        .iter()
        .position(|l| *l == "s3" || l.starts_with("s3-"))
        .ok_or_else(|| {
            bad(
                input,
                "not an S3 URL (expected an s3.<region>.amazonaws.com host)",
            )
        })?;
    let region = labels
        .get(s3_at + 1)
        .map(|r| r.to_string())
        .or_else(|| labels[s3_at].strip_prefix("s3-").map(str::to_owned));
    let virtual_bucket = (s3_at > 0).then(|| labels[..s3_at].join("."));
    let (bucket, prefix) = match virtual_bucket {
        Some(bucket) => (bucket, path_parts(url, 0).1),
        None => {
            let (head, prefix) = path_parts(url, 1);
            (head[0].clone(), prefix)
        }
    };
    check_bucket(input, &bucket)?;
    let endpoint = Url::parse(&format!(
        "https://s3.{}.amazonaws.com",
        region.as_deref().unwrap_or("us-east-1")
    ))
    .ok();
    Ok(Location::S3 {
        bucket,
        prefix,
        endpoint,
        region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn s3(bucket: &str, prefix: &str) -> (String, String) {
        (bucket.into(), prefix.into())
    }

    fn s3_parts(loc: &Location) -> (String, String) {
        match loc {
            Location::S3 { bucket, prefix, .. } => (bucket.clone(), prefix.clone()),
            other => panic!("not s3: {other:?}"),
        }
    }

    fn az_parts(loc: &Location) -> (String, String, String, Option<String>) {
        match loc {
            Location::Azure {
                account,
                container,
                prefix,
                endpoint,
                ..
            } => (
                account.clone(),
                container.clone(),
                prefix.clone(),
                endpoint.as_ref().map(|u| u.to_string()),
            ),
            other => panic!("not azure: {other:?}"),
        }
    }

    #[test]
    fn s3_scheme() {
        let loc = Location::parse("s3://my-bucket/a/b/").unwrap();
        assert_eq!(s3_parts(&loc), s3("my-bucket", "a/b/"));
        assert_eq!(
            s3_parts(&Location::parse("s3://bkt").unwrap()),
            s3("bkt", "")
        );
    }

    #[test]
    fn aws_https_urls() {
        let loc = Location::parse("https://bkt.s3.eu-west-1.amazonaws.com/logs/2026").unwrap();
        assert_eq!(s3_parts(&loc), s3("bkt", "logs/2026"));
        match &loc {
            Location::S3 {
                region, endpoint, ..
            } => {
                assert_eq!(region.as_deref(), Some("eu-west-1"));
                assert_eq!(
                    endpoint.as_ref().unwrap().as_str(),
                    "https://s3.eu-west-1.amazonaws.com/"
                );
            }
            _ => unreachable!(),
        }
        let path_style = Location::parse("https://s3.us-east-2.amazonaws.com/bkt/x%20y").unwrap();
        assert_eq!(s3_parts(&path_style), s3("bkt", "x y"));
        let global = Location::parse("https://my.dotted.bucket.s3.amazonaws.com/k").unwrap();
        assert_eq!(s3_parts(&global), s3("my.dotted.bucket", "k"));
    }

    #[test]
    fn azure_forms() {
        let az = Location::parse("az://acct/cont/pre/fix").unwrap();
        assert_eq!(
            az_parts(&az),
            ("acct".into(), "cont".into(), "pre/fix".into(), None)
        );

        let https =
            Location::parse("https://acct.blob.core.windows.net/cont/p%C3%A9?sv=1&sig=secret")
                .unwrap();
        let (account, container, prefix, endpoint) = az_parts(&https);
        assert_eq!(
            (account.as_str(), container.as_str(), prefix.as_str()),
            ("acct", "cont", "pé")
        );
        assert_eq!(
            endpoint.as_deref(),
            Some("https://acct.blob.core.windows.net/")
        );
        match &https {
            Location::Azure { sas, .. } => {
                assert_eq!(sas.as_ref().unwrap().expose(), "sv=1&sig=secret")
            }
            _ => unreachable!(),
        }
        assert!(!format!("{https} {https:?}").contains("secret"));

        let emu = Location::parse("http://127.0.0.1:10000/devstoreaccount1/data/x").unwrap();
        assert_eq!(
            az_parts(&emu),
            (
                "devstoreaccount1".into(),
                "data".into(),
                "x".into(),
                Some("http://127.0.0.1:10000/devstoreaccount1".into())
            )
        );
    }

    #[test]
    fn local_forms() {
        assert_eq!(
            Location::parse("/tmp/data").unwrap(),
            Location::Local {
                root: "/tmp/data".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            Location::parse("file:///tmp/x%20y").unwrap(),
            Location::Local {
                root: "/tmp/x y".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            Location::parse("rel/dir").unwrap().provider(),
            Provider::Local
        );
    }

    #[test]
    fn bad_locations_say_what_is_wrong() {
        for (input, needle) in [
            ("gs://bucket", "unknown scheme 'gs://'"),
            ("s3://", "missing bucket"),
            ("s3:///key", "missing bucket"),
            ("s3://bad bucket/x", "not a valid bucket name"),
            ("az://acct", "missing container"),
            ("az:///c", "missing storage account"),
            ("az://acct/Upper", "not a valid container name"),
            ("az://acct/c1", "3 to 63 characters"),
            ("s3://ab/x", "3 to 63 characters"),
            ("https://acct.blob.core.windows.net/", "missing container"),
            (
                "https://me:pw@acct.blob.core.windows.net/c1x/",
                "no user or password",
            ),
            ("http://me@127.0.0.1:10000/acct/c1x/", "no user or password"),
            ("", "empty location"),
        ] {
            let err = Location::parse(input).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Usage, "{input}");
            assert!(err.to_string().contains(needle), "{input}: {err}");
            assert!(!err.to_string().contains("pw@"), "{err}");
        }
    }
}
