//! The service's configuration file (TOML): its users, the SHA-256 of each one's API token
//! (never the token) and the location prefixes each may read from and write to.
//!
//! ```toml
//! [[user]]
//! name = "alice"
//! token_sha256 = "9f86d0...15b0f00a08"   # awcopy serve --hash-token
//! read = ["s3://raw/team-a/"]
//! write = ["az://lake/landing/team-a/"]
//!
//! [[user]]
//! name = "ops"
//! token_sha256 = "..."
//! admin = true                              # sees every job; may use any location
//! ```

use awcopy_store::Location;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The hex SHA-256 of `token`: what the configuration file keeps instead of the token.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why the configuration cannot be used; says which file and what to change.
#[derive(Debug, thiserror::Error)]
#[error("--config {path}: {problem}")]
pub struct ConfigError {
    path: String,
    problem: String,
}

/// The service's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who may use the service.
    #[serde(rename = "user", default)]
    pub users: Vec<User>,
}

/// One user of the service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// The name jobs are recorded under.
    pub name: String,
    /// Hex SHA-256 of the user's API token.
    pub token_sha256: String,
    /// Sees and acts on every user's jobs and schedules, and may use any location.
    #[serde(default)]
    pub admin: bool,
    /// Location prefixes the user may copy from.
    #[serde(default)]
    pub read: Vec<String>,
    /// Location prefixes the user may copy to (and, with `mv` or `sync --delete`, delete in).
    #[serde(default)]
    pub write: Vec<String>,
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
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let problem = |problem: String| ConfigError {
            path: path.display().to_string(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
        let config: Config = toml::from_str(&text).map_err(|e| problem(e.message().to_owned()))?;
        config.check().map_err(problem)?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
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
            for grant in user.read.iter().chain(&user.write) {
                grant_prefix(grant)
                    .map_err(|e| format!("user '{}': grant '{grant}': {e}", user.name))?;
            }
        }
        Ok(())
    }

    /// The user whose token this is.
    pub fn authenticate(&self, token: &str) -> Option<&User> {
        let hash = hash_token(token);
        self.users
            .iter()
            .find(|user| user.token_sha256.eq_ignore_ascii_case(&hash))
    }

    /// The user named `name`.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|user| user.name == name)
    }
}

impl User {
    /// Whether the user may `what` the location `location` (in its canonical, secret-free
    /// form, as a job spec keeps it).
    pub fn may(&self, what: Use, location: &str) -> bool {
        if self.admin {
            return true;
        }
        let Ok(target) = Location::parse(location).map(|l| l.to_string()) else {
            return false;
        };
        let grants = match what {
            Use::Read => &self.read,
            Use::Write => &self.write,
        };
        grants.iter().any(|grant| match grant_prefix(grant) {
            Ok(prefix) => within(&target, &prefix),
            Err(_) => false,
        })
    }
}

/// A grant in the canonical form locations print in, ending with '/': a grant names a
/// directory-like prefix, never half a name.
fn grant_prefix(grant: &str) -> Result<String, String> {
    let location = Location::parse(grant).map_err(|e| e.to_string())?;
    let mut text = location.to_string();
    if text.contains('?') {
        return Err("a grant names a place, without a query or token".into());
    }
    if !text.ends_with('/') {
        text.push('/');
    }
    Ok(text)
}

/// Whether `target` is the grant's place or under it.
fn within(target: &str, prefix: &str) -> bool {
    target.starts_with(prefix) || format!("{target}/") == prefix
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
        }
    }

    #[test]
    fn grants_cover_their_prefix_and_nothing_beside_it() {
        let alice = user(&["s3://data/team-a", "az://acct/cont/"]);
        for inside in [
            "s3://data/team-a",
            "s3://data/team-a/",
            "s3://data/team-a/x/y",
            "az://acct/cont/",
            "az://acct/cont/any",
            "http://127.0.0.1:10000/acct/cont/deep/key",
        ] {
            assert!(alice.may(Use::Read, inside), "{inside}");
        }
        for outside in [
            "s3://data/team-ab",
            "s3://data/",
            "s3://data2/team-a/",
            "az://acct/cont2/",
            "az://other/cont/",
            "/tmp",
        ] {
            assert!(!alice.may(Use::Read, outside), "{outside}");
        }
        assert!(!alice.may(Use::Write, "s3://data/team-a/x"));
    }

    #[test]
    fn tokens_are_matched_by_hash() {
        let config = Config {
            users: vec![user(&[])],
        };
        assert_eq!(
            hash_token("t"),
            "e3b98a4da31a127d4bde6e43033f66ba274cab0eb7eb1c70ec41402bf6273dd8"
        );
        assert!(config.authenticate("t").is_some());
        assert!(config.authenticate("T").is_none());
        assert!(config.check().is_ok());
    }
}
