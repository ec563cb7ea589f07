//! The service's configuration file (TOML): the stores it may reach beyond what its
//! environment names, its users with the SHA-256 of each one's API token (never the token) and
//! the location prefixes each may read from and write to, and the encryption keys jobs may
//! name.
//!
//! ```toml
//! [[azure]]                                 # an Azure account the service reaches (besides
//! account = "lake"                          # the one of AZURE_STORAGE_CONNECTION_STRING)
//! endpoint = "https://lake.blob.core.windows.net"   # the default
//! queue_endpoint = "https://lake.queue.core.windows.net"   # the default (replications)
//!
//! [[key]]                                   # a customer key jobs name as "team-a"
//! name = "team-a"
//! file = "/etc/awcopy/keys/team-a.key"     # 32 bytes, raw or base64
//! users = ["alice"]                         # who may name it (admins: anyone)
//!
//! [[user]]
//! name = "alice"
//! token_sha256 = "9f86d0...15b0f00a08"   # awcopy serve --hash-token
//! read = ["s3://raw/team-a/"]
//! write = ["az://lake/landing/team-a/"]
//! queues = ["raw-events", "lake/blob-events"]   # SQS; Azure as ACCOUNT/QUEUE (replications)
//!
//! [[user]]
//! name = "ops"
//! token_sha256 = "..."
//! admin = true                              # sees every job; may use any reachable location
//! ```

use awcopy_store::{Location, Reach};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::setting::{Setting, SettingError};

/// The hex SHA-256 of `token`: what the configuration file keeps instead of the token.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The least a token may hold, in bits: guessing one stays out of reach.
pub const LEAST_TOKEN_BITS: u32 = 128;

/// About how many bits of chance `token` holds: its length times the bits of the alphabet
/// its characters are drawn from (lowercase, uppercase, digits, others), counting only as
/// many characters as are distinct four times over (`aaaa...` holds next to nothing).
pub fn token_bits(token: &str) -> u32 {
    type Class = (fn(char) -> bool, f64);
    let classes: [Class; 4] = [
        (|c| c.is_ascii_lowercase(), 26.0),
        (|c| c.is_ascii_uppercase(), 26.0),
        (|c| c.is_ascii_digit(), 10.0),
        (|c| !c.is_ascii_alphanumeric(), 33.0),
    ];
    let alphabet: f64 = classes
        .iter()
        .filter(|(is, _)| token.chars().any(is))
        .map(|(_, size)| size)
        .sum();
    let distinct = token
        .chars()
        .collect::<std::collections::HashSet<_>>()
        .len();
    let length = token.chars().count().min(distinct * 4);
    (length as f64 * alphabet.max(1.0).log2()) as u32
}

/// An error of the configuration file at `path`, which says what is wrong and what to change.
fn file_error(path: &Path) -> SettingError {
    SettingError::new(Setting::Config, Some(path.display().to_string()))
}

/// The service's configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Azure accounts the service reaches besides its environment's.
    #[serde(default)]
    pub azure: Vec<AzureAccount>,
    /// Encryption keys jobs may name.
    #[serde(rename = "key", default)]
    pub keys: Vec<NamedKey>,
    /// Who may use the service.
    #[serde(rename = "user", default)]
    pub users: Vec<User>,
}

/// An Azure account the operator lets the service (or an agent) reach.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureAccount {
    /// The account's name.
    pub account: String,
    /// Its blob endpoint (default `https://ACCOUNT.blob.core.windows.net`).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Its queue endpoint, where replications read Event Grid's blob events (default: the
    /// blob endpoint's `ACCOUNT.queue.SUFFIX` twin).
    #[serde(default)]
    pub queue_endpoint: Option<String>,
}

/// A customer-provided encryption key jobs may name, and who may name it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedKey {
    /// The name jobs use.
    pub name: String,
    /// The file holding the 256-bit key (32 bytes, raw or base64).
    pub file: PathBuf,
    /// The users who may name it (admins may name any key).
    #[serde(default)]
    pub users: Vec<String>,
}

/// One user of the service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// The name jobs are recorded under.
    pub name: String,
    /// Hex SHA-256 of the user's API token.
    pub token_sha256: String,
    /// Sees and acts on every user's jobs and schedules, and may use any location the service
    /// reaches.
    #[serde(default)]
    pub admin: bool,
    /// Location prefixes the user may copy from.
    #[serde(default)]
    pub read: Vec<String>,
    /// Location prefixes the user may copy to (and, with `mv` or `sync --delete`, delete in).
    #[serde(default)]
    pub write: Vec<String>,
    /// Event queues the user's replications may read (and empty): SQS queues by name, Azure
    /// Storage Queues as `ACCOUNT/QUEUE`.
    #[serde(default)]
    pub queues: Vec<String>,
}

/// What a user may do with a location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Copy from it.
    Read,
    /// Copy to it.
    Write,
}

impl Config {
    /// Reads and checks the file at `path` (the service's: it needs users).
    pub fn load(path: &Path) -> Result<Self, SettingError> {
        let config = Self::read(path)?;
        config
            .check_users()
            .map_err(|problem| file_error(path).words(problem))?;
        Ok(config)
    }

    /// Reads the file at `path` without requiring users (an agent's: stores and keys).
    pub fn read(path: &Path) -> Result<Self, SettingError> {
        let problem = |problem: String| file_error(path).words(problem);
        let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
        let config: Config = toml::from_str(&text).map_err(|e| problem(e.message().to_owned()))?;
        config.check_stores_and_keys().map_err(problem)?;
        Ok(config)
    }

    fn check_stores_and_keys(&self) -> Result<(), String> {
        let mut accounts = std::collections::HashSet::new();
        for azure in &self.azure {
            if !accounts.insert(azure.account.as_str()) {
                return Err(format!(
                    "[[azure]] account '{}' appears twice",
                    azure.account
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for key in &self.keys {
            if key.name.trim().is_empty() || key.name.len() > 128 {
                return Err("a [[key]] needs a name of 1 to 128 characters".into());
            }
            if !names.insert(key.name.as_str()) {
                return Err(format!("key '{}' appears twice", key.name));
            }
            if !key.file.is_absolute() {
                return Err(format!(
                    "key '{}': file '{}' must be an absolute path",
                    key.name,
                    key.file.display()
                ));
            }
        }
        Ok(())
    }

    fn check_users(&self) -> Result<(), String> {
        if self.users.is_empty() {
            return Err(
                "no [[user]]: add one with a name and token_sha256 (awcopy serve --hash-token)"
                    .into(),
            );
        }
        let mut names = std::collections::HashSet::new();
        for user in &self.users {
            if user.name.trim().is_empty() {
                return Err("a [[user]] has an empty name".into());
            }
            if !names.insert(user.name.as_str()) {
                return Err(format!("user '{}' appears twice", user.name));
            }
            let hex = user.token_sha256.len() == 64
                && user.token_sha256.bytes().all(|b| b.is_ascii_hexdigit());
            if !hex {
                return Err(format!(
                    "user '{}': token_sha256 must be 64 hex digits (awcopy serve --hash-token prints it)",
                    user.name
                ));
            }
        }
        for key in &self.keys {
            if let Some(unknown) = key.users.iter().find(|u| !names.contains(u.as_str())) {
                return Err(format!(
                    "key '{}': user '{unknown}' is not a [[user]] of this file",
                    key.name
                ));
            }
        }
        Ok(())
    }

    /// The stores this service reaches: its environment's (S3 at `s3_endpoint`, else
    /// where the environment says; the Azure account of its connection string), the
    /// `[[azure]]` accounts, and the local directories its grants name. Every grant must
    /// name a place within them.
    pub fn reach(&self, s3_endpoint: Option<&str>) -> Result<Reach, String> {
        let mut reach = self.stores(s3_endpoint)?;
        for user in &self.users {
            for grant in user.read.iter().chain(&user.write) {
                let location = Location::parse(grant)
                    .map_err(|e| format!("user '{}': grant '{grant}': {e}", user.name))?;
                if let Location::Local { root, .. } = &location {
                    reach = reach
                        .with_local(root)
                        .map_err(|e| format!("user '{}': grant '{grant}': {e}", user.name))?;
                }
            }
        }
        for user in &self.users {
            for grant in user.read.iter().chain(&user.write) {
                grant_prefix(grant, &reach)
                    .map_err(|e| format!("user '{}': grant '{grant}': {e}", user.name))?;
            }
        }
        Ok(reach)
    }

    /// The stores an agent reaches: its environment's and the `[[azure]]` accounts (which
    /// say where an account is when the environment names it too; local directories it is
    /// given on its command line).
    pub fn stores(&self, s3_endpoint: Option<&str>) -> Result<Reach, String> {
        let mut reach = Reach::from_environment(s3_endpoint).map_err(|e| e.to_string())?;
        for azure in &self.azure {
            reach = reach
                .with_azure(&azure.account, azure.endpoint.as_deref())
                .map_err(|e| format!("[[azure]] {e}"))?;
            if let Some(queue) = &azure.queue_endpoint {
                reach = reach
                    .with_azure_queue(&azure.account, queue)
                    .map_err(|e| format!("[[azure]] {e}"))?;
            }
        }
        Ok(reach)
    }

    /// The named keys, by name: what a job's `key_name` is read from.
    pub fn key_files(&self) -> HashMap<String, PathBuf> {
        self.keys
            .iter()
            .map(|k| (k.name.clone(), k.file.clone()))
            .collect()
    }

    /// Whether `user` may name the key `name` (which must exist).
    pub fn may_use_key(&self, user: &User, name: &str) -> bool {
        self.keys
            .iter()
            .find(|k| k.name == name)
            .is_some_and(|k| user.admin || k.users.contains(&user.name))
    }

    /// The user whose token this is (compared in constant time).
    pub fn authenticate(&self, token: &str) -> Option<&User> {
        let hash = hash_token(token);
        self.users
            .iter()
            .find(|user| constant_time_eq(&user.token_sha256.to_ascii_lowercase(), &hash))
    }

    /// The user named `name`.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|user| user.name == name)
    }
}

/// Whether `a` and `b` are equal, taking as long whatever their first difference: a token's
/// hash is never found out a byte at a time. Hand-written: eight lines, no crate needed.
fn constant_time_eq(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.bytes()
        .zip(b.bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// What a job does with a location: everything under it, or the one object it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The objects under the location's prefix (a recursive job, a destination directory).
    Under,
    /// The one object the location names.
    Object,
}

/// The place a job touches, as grants are matched: the canonical text of the reached
/// `location`, ending with `/` when the job works under it. An object named exactly like a
/// granted prefix (`s3://b/team-b` beside the grant `s3://b/team-b/`) is not under it.
pub fn place(location: &Location, scope: Scope) -> String {
    let mut text = match location {
        Location::Local { root, prefix } if prefix.is_empty() => root.display().to_string(),
        other => other.to_string(),
    };
    if scope == Scope::Under && !text.ends_with('/') {
        text.push('/');
    }
    text
}

impl User {
    /// Whether the user may see what `owner` owns (jobs, schedules, their events): their own;
    /// an admin, everyone's.
    pub fn sees(&self, owner: &str) -> bool {
        self.admin || self.name == owner
    }

    /// Whether the user's replications may read event queue `queue_id` (an SQS queue's name,
    /// an Azure queue's `ACCOUNT/QUEUE`).
    pub fn may_read_queue(&self, queue_id: &str) -> bool {
        self.admin || self.queues.iter().any(|granted| granted == queue_id)
    }

    /// Whose things the user's lists hold: their own name; `None` for an admin (everyone's).
    pub fn listed_owner(&self) -> Option<&str> {
        (!self.admin).then_some(self.name.as_str())
    }

    /// Whether the user may `what` the place `place` (see [`place`]), whose store `reach`
    /// resolves grants in.
    pub fn may(&self, what: Use, place: &str, reach: &Reach) -> bool {
        if self.admin {
            return true;
        }
        let grants = match what {
            Use::Read => &self.read,
            Use::Write => &self.write,
        };
        grants.iter().any(|grant| match grant_prefix(grant, reach) {
            Ok(prefix) => place.starts_with(&prefix),
            Err(_) => false,
        })
    }
}

/// A grant as the place it names, resolved like any location, ending with '/': a grant
/// names a directory-like prefix, never half a name.
fn grant_prefix(grant: &str, reach: &Reach) -> Result<String, String> {
    let location = Location::parse(grant).map_err(|e| e.to_string())?;
    let reached = reach
        .resolve("grant", &location)
        .map_err(|e| e.to_string())?;
    Ok(place(&reached.location, Scope::Under))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(read: &[&str]) -> User {
        User {
            name: "a".into(),
            token_sha256: hash_token("t"),
            admin: false,
            read: read.iter().map(|s| s.to_string()).collect(),
            write: vec![],
            queues: vec![],
        }
    }

    fn reach() -> Reach {
        Reach::new(Some("http://127.0.0.1:9000"))
            .unwrap()
            .with_azure("acct", Some("http://127.0.0.1:10000/acct"))
            .unwrap()
            .with_local(Path::new("/srv/team-a"))
            .unwrap()
    }

    fn place_of(text: &str, scope: Scope) -> String {
        let location = Location::parse(text).unwrap();
        place(&reach().resolve("x", &location).unwrap().location, scope)
    }

    #[test]
    fn grants_cover_their_prefix_and_nothing_beside_it() {
        let alice = user(&["s3://data/team-a", "az://acct/cont/", "/srv/team-a"]);
        let reach = reach();
        for (inside, scope) in [
            ("s3://data/team-a", Scope::Under),
            ("s3://data/team-a/", Scope::Under),
            ("s3://data/team-a/x/y", Scope::Object),
            ("s3://data/team-a/x/y", Scope::Under),
            ("az://acct/cont/", Scope::Under),
            ("az://acct/cont/any", Scope::Object),
            ("http://127.0.0.1:10000/acct/cont/deep/key", Scope::Object),
            ("/srv/team-a", Scope::Under),
            ("/srv/team-a/f.txt", Scope::Object),
            ("/srv/team-a/./sub//f.txt", Scope::Object),
        ] {
            assert!(
                alice.may(Use::Read, &place_of(inside, scope), &reach),
                "{inside} {scope:?}"
            );
        }
        for (outside, scope) in [
            ("s3://data/team-ab", Scope::Under),
            ("s3://data/team-a", Scope::Object),
            ("s3://data/", Scope::Under),
            ("s3://data2/team-a/", Scope::Under),
            ("az://acct/cont2/", Scope::Under),
            ("/srv/team-a", Scope::Object),
        ] {
            assert!(
                !alice.may(Use::Read, &place_of(outside, scope), &reach),
                "{outside} {scope:?}"
            );
        }
        assert!(!alice.may(
            Use::Write,
            &place_of("s3://data/team-a/x", Scope::Object),
            &reach
        ));
    }

    #[test]
    fn grants_must_name_reachable_places() {
        let mut config = Config {
            users: vec![user(&["az://other/cont/"])],
            ..Config::default()
        };
        let err = config.reach(Some("http://127.0.0.1:9000")).unwrap_err();
        assert!(err.contains("'other'"), "{err}");
        config.users = vec![user(&["/srv/team-a/../etc"])];
        assert!(config.reach(None).unwrap_err().contains("'..'"));
    }

    #[test]
    fn tokens_are_matched_by_hash() {
        let config = Config {
            users: vec![user(&[])],
            ..Config::default()
        };
        assert_eq!(
            hash_token("t"),
            "e3b98a4da31a127d4bde6e43033f66ba274cab0eb7eb1c70ec41402bf6273dd8"
        );
        assert!(config.authenticate("t").is_some());
        assert!(config.authenticate("T").is_none());
        assert!(config.check_users().is_ok());
        assert!(constant_time_eq("abc", "abc") && !constant_time_eq("abc", "abd"));
    }

    #[test]
    fn short_or_plain_tokens_hold_too_few_bits() {
        for weak in [
            "",
            "secret",
            "correct horse",
            "0123456789abcdef",
            &"a".repeat(64),
            "alice-token-5b1e0c9d",
        ] {
            assert!(
                token_bits(weak) < LEAST_TOKEN_BITS,
                "{weak}: {}",
                token_bits(weak)
            );
        }
        for strong in [
            "7f3a9c0e5b1d2f4a6c8e0b2d4f6a8c1e",
            "Zx8vQ2mN7pL4kR9sT1wY6uE3aB5cD0fG",
            "alice-token-5b1e0c9d7a3f4e21c6b8",
        ] {
            assert!(
                token_bits(strong) >= LEAST_TOKEN_BITS,
                "{strong}: {}",
                token_bits(strong)
            );
        }
    }
}
