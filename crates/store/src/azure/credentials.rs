//! Azure credentials from the location and the environment: SAS in the URL, connection string,
//! account name + key, SAS token variable, or Microsoft Entra ID through `azure_identity`.

use std::collections::HashMap;
use std::sync::Arc;
use url::Url;

use crate::error::{Result, StoreError};
use crate::secret::Secret;

/// Azurite's published development account (documented by Microsoft; not a secret).
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's published development key (documented by Microsoft; not a secret).
pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// How requests to one storage account are authorized.
#[derive(Clone)]
pub enum AzureAuth {
    /// Shared Key with the account key.
    SharedKey(Secret),
    /// A SAS token (query string without the leading `?`).
    Sas(Secret),
    /// Microsoft Entra ID tokens.
    Token(Arc<dyn azure_core::credentials::TokenCredential>),
}

impl std::fmt::Debug for AzureAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::SharedKey(_) => "SharedKey",
            Self::Sas(_) => "Sas",
            Self::Token(_) => "Token",
        })
    }
}

/// The fields of an Azure Storage connection string that matter for Blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionString {
    /// `AccountName`.
    pub account: String,
    /// `AccountKey`.
    pub key: Option<Secret>,
    /// `SharedAccessSignature`.
    pub sas: Option<Secret>,
    /// `BlobEndpoint`, or the endpoint built from protocol, account and suffix.
    pub blob_endpoint: Url,
    /// `QueueEndpoint`, or the endpoint built from protocol, account and suffix; `None` when
    /// the string names a blob endpoint but no queue endpoint.
    pub queue_endpoint: Option<Url>,
}

impl ConnectionString {
    /// Parses `Key=Value;...`. Errors never quote the string (it holds the key).
    pub fn parse(text: &str) -> Result<Self> {
        let fields: HashMap<String, &str> = text
            .split(';')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim()))
            .collect();
        let bad = |why: &str| StoreError::usage(format!("AZURE_STORAGE_CONNECTION_STRING: {why}"));
        if fields
            .get("usedevelopmentstorage")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Ok(Self {
                account: DEV_ACCOUNT.into(),
                key: Some(Secret::new(DEV_KEY)),
                sas: None,
                blob_endpoint: Url::parse("http://127.0.0.1:10000/devstoreaccount1")
                    .expect("static URL"),
                queue_endpoint: Some(
                    Url::parse("http://127.0.0.1:10001/devstoreaccount1").expect("static URL"),
                ),
            });
        }
        let key = fields.get("accountkey").map(|k| Secret::new(*k));
        let sas = fields
            .get("sharedaccesssignature")
            .map(|s| Secret::new(s.trim_start_matches('?')));
        // An endpoint the string names, else the one its protocol, account and suffix build.
        let endpoint = |service: &str| -> Result<Option<Url>> {
            if let Some(e) = fields.get(&format!("{service}endpoint")) {
                return Url::parse(e.trim_end_matches('/'))
                    .map(Some)
                    .map_err(|e| bad(&format!("the {service} endpoint is not a URL ({e})")));
            }
            let Some(account) = fields.get("accountname") else {
                return Ok(None);
            };
            let protocol = fields
                .get("defaultendpointsprotocol")
                .copied()
                .unwrap_or("https");
            let suffix = fields
                .get("endpointsuffix")
                .copied()
                .unwrap_or("core.windows.net");
            Url::parse(&format!("{protocol}://{account}.{service}.{suffix}"))
                .map(Some)
                .map_err(|e| bad(&format!("cannot build the {service} endpoint ({e})")))
        };
        let blob_endpoint = endpoint("blob")?.ok_or_else(|| bad("AccountName is missing"))?;
        let queue_endpoint = match fields.get("blobendpoint") {
            Some(_) if !fields.contains_key("queueendpoint") => None,
            _ => endpoint("queue")?,
        };
        let account = match fields.get("accountname") {
            Some(a) => (*a).to_owned(),
            None => account_from_endpoint(&blob_endpoint)
                .ok_or_else(|| bad("AccountName is missing"))?,
        };
        if key.is_none() && sas.is_none() {
            return Err(bad("it has neither AccountKey nor SharedAccessSignature"));
        }
        Ok(Self {
            account,
            key,
            sas,
            blob_endpoint,
            queue_endpoint,
        })
    }
}

/// The account an endpoint names: the first host label, or the first path segment of an
/// emulator-style endpoint.
pub fn account_from_endpoint(endpoint: &Url) -> Option<String> {
    let host = endpoint.host_str()?;
    if host.contains(".blob.") {
        return host.split('.').next().map(str::to_owned);
    }
    endpoint
        .path_segments()?
        .find(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Where an account lives and how to authorize against it.
#[derive(Debug, Clone)]
pub struct AccountAccess {
    /// The account's blob endpoint, without a trailing slash.
    pub endpoint: Url,
    /// The authorization to use.
    pub auth: AzureAuth,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Resolves endpoint and credentials for `account`, in this order: a SAS given in the URL,
/// `AZURE_STORAGE_CONNECTION_STRING` (when it names this account), `AZURE_STORAGE_KEY` (with
/// `AZURE_STORAGE_ACCOUNT` unset or equal), `AZURE_STORAGE_SAS_TOKEN`, then Microsoft Entra ID:
/// a service principal from `AZURE_CLIENT_ID` / `AZURE_TENANT_ID` / `AZURE_CLIENT_SECRET`, else
/// managed identity.
pub fn resolve(
    account: &str,
    url_endpoint: Option<&Url>,
    url_sas: Option<&Secret>,
) -> Result<AccountAccess> {
    let connection = env("AZURE_STORAGE_CONNECTION_STRING")
        .map(|cs| ConnectionString::parse(&cs))
        .transpose()?
        .filter(|cs| cs.account == account);
    let endpoint = url_endpoint
        .cloned()
        .or_else(|| connection.as_ref().map(|cs| cs.blob_endpoint.clone()))
        .map_or_else(
            || Url::parse(&format!("https://{account}.blob.core.windows.net")),
            Ok,
        )
        .map_err(|e| StoreError::usage(format!("account '{account}': bad endpoint ({e})")))?;
    let endpoint = without_trailing_slash(endpoint);

    let auth = if let Some(sas) = url_sas {
        AzureAuth::Sas(sas.clone())
    } else if let Some(cs) = connection {
        match (cs.key, cs.sas) {
            (Some(key), _) => AzureAuth::SharedKey(key),
            (None, Some(sas)) => AzureAuth::Sas(sas),
            (None, None) => unreachable!("ConnectionString::parse requires a key or a SAS"),
        }
    } else if let Some(key) = env("AZURE_STORAGE_KEY")
        .filter(|_| env("AZURE_STORAGE_ACCOUNT").is_none_or(|a| a == account))
    {
        AzureAuth::SharedKey(Secret::new(key))
    } else if let Some(sas) = env("AZURE_STORAGE_SAS_TOKEN") {
        AzureAuth::Sas(Secret::new(sas.trim_start_matches('?')))
    } else {
        AzureAuth::Token(token_credential()?)
    };
    Ok(AccountAccess { endpoint, auth })
}

fn without_trailing_slash(mut url: Url) -> Url {
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    url
}

fn token_credential() -> Result<Arc<dyn azure_core::credentials::TokenCredential>> {
    let auth_error = |e: azure_core::Error| {
        StoreError::new(
            crate::ErrorKind::Auth,
            format!("Microsoft Entra ID credential: {e}"),
        )
    };
    if let (Some(tenant), Some(client), Some(secret)) = (
        env("AZURE_TENANT_ID"),
        env("AZURE_CLIENT_ID"),
        env("AZURE_CLIENT_SECRET"),
    ) {
        let credential =
            azure_identity::ClientSecretCredential::new(&tenant, client, secret.into(), None)
                .map_err(auth_error)?;
        return Ok(credential);
    }
    let credential = azure_identity::ManagedIdentityCredential::new(None).map_err(auth_error)?;
    Ok(credential)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_azurite_style_connection_string() {
        let cs = ConnectionString::parse(&format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEV_KEY};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
        ))
        .unwrap();
        assert_eq!(cs.account, "devstoreaccount1");
        assert_eq!(cs.key.unwrap().expose(), DEV_KEY);
        assert_eq!(
            cs.blob_endpoint.as_str(),
            "http://127.0.0.1:10000/devstoreaccount1"
        );
    }

    #[test]
    fn builds_endpoint_from_suffix_and_reads_sas() {
        let cs = ConnectionString::parse(
            "AccountName=acct;SharedAccessSignature=?sv=1&sig=abc;EndpointSuffix=core.chinacloudapi.cn",
        )
        .unwrap();
        assert_eq!(
            cs.blob_endpoint.as_str(),
            "https://acct.blob.core.chinacloudapi.cn/"
        );
        assert_eq!(cs.sas.unwrap().expose(), "sv=1&sig=abc");
        assert!(ConnectionString::parse("UseDevelopmentStorage=true")
            .unwrap()
            .key
            .is_some());
    }

    #[test]
    fn errors_do_not_quote_the_key() {
        let err = ConnectionString::parse("AccountKey=SuperSecretValue==").unwrap_err();
        assert!(err.to_string().contains("AccountName is missing"), "{err}");
        assert!(!err.to_string().contains("SuperSecret"));
        let err = ConnectionString::parse("AccountName=a").unwrap_err();
        assert!(err.to_string().contains("neither AccountKey"), "{err}");
    }

    #[test]
    fn account_from_either_endpoint_style() {
        let cloud = Url::parse("https://acct.blob.core.windows.net").unwrap();
        let emu = Url::parse("http://127.0.0.1:10000/devstoreaccount1").unwrap();
        assert_eq!(account_from_endpoint(&cloud).as_deref(), Some("acct"));
        assert_eq!(
            account_from_endpoint(&emu).as_deref(),
            Some("devstoreaccount1")
        );
    }
}
