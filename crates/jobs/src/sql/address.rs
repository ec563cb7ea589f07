//! Where a catalogue lives, as `--db` and `AWCOPY_DB` name it: a SQLite file (a path, or
//! `sqlite:PATH`), or a PostgreSQL database (`postgres://user@host:port/database`). Shown
//! everywhere without a password.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Where a catalogue lives.
#[derive(Clone, PartialEq, Eq)]
pub enum CatalogAddress {
    /// A SQLite file: one machine's catalogue.
    Sqlite(PathBuf),
    /// A PostgreSQL database, which service replicas on several machines share.
    Postgres(url::Url),
}

/// A `--db` / `AWCOPY_DB` value that names no catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{shown}' is not a catalogue address ({reason}); give a file path, sqlite:PATH or postgres://USER@HOST:PORT/DATABASE")]
pub struct CatalogAddressError {
    /// The value, without a password it held.
    shown: String,
    /// What is wrong with it.
    reason: String,
}

impl CatalogAddress {
    /// The catalogue unless `--db` names one: `$AWCOPY_DB`, else
    /// `$XDG_DATA_HOME/awcopy/awcopy.db`, else `~/.local/share/awcopy/awcopy.db`.
    pub fn configured() -> Result<Self, CatalogAddressError> {
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(value) = env("AWCOPY_DB") {
            return value.to_string_lossy().parse();
        }
        let data = env("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Self::Sqlite(data.join("awcopy").join("awcopy.db")))
    }

    /// The catalogue of the job service beside this one: a SQLite catalogue's sibling file
    /// `service.db` (the CLI's own jobs and the service's stay apart); the same PostgreSQL
    /// database.
    pub fn for_service(self) -> Self {
        match self {
            Self::Sqlite(path) => Self::Sqlite(path.with_file_name("service.db")),
            postgres => postgres,
        }
    }

    /// Whether it carries a password (in a PostgreSQL URL's user part or its `password`
    /// parameter): given on a command line, any user of the machine could read it in `ps`.
    pub fn has_password(&self) -> bool {
        match self {
            Self::Sqlite(_) => false,
            Self::Postgres(url) => {
                url.password().is_some() || url.query_pairs().any(|(key, _)| key == "password")
            }
        }
    }
}

impl FromStr for CatalogAddress {
    type Err = CatalogAddressError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let scheme = value
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => {
                let url = url::Url::parse(value).map_err(|e| CatalogAddressError {
                    // Unparsed, the password cannot be told from the rest: none of it is shown.
                    shown: value.split("://").next().unwrap_or_default().to_owned() + "://...",
                    reason: e.to_string(),
                })?;
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(CatalogAddressError {
                        shown: Self::Postgres(url).to_string(),
                        reason: "it names no host".into(),
                    });
                }
                Ok(Self::Postgres(url))
            }
            Some(other) if other != "sqlite" => Err(CatalogAddressError {
                shown: format!("{other}://..."),
                reason: format!("awcopy keeps catalogues in SQLite or PostgreSQL, not '{other}'"),
            }),
            _ => {
                let path = value
                    .strip_prefix("sqlite://")
                    .or_else(|| value.strip_prefix("sqlite:"))
                    .unwrap_or(value);
                if path.is_empty() {
                    return Err(CatalogAddressError {
                        shown: value.to_owned(),
                        reason: "it names no file".into(),
                    });
                }
                Ok(Self::Sqlite(PathBuf::from(path)))
            }
        }
    }
}

impl From<&Path> for CatalogAddress {
    fn from(path: &Path) -> Self {
        Self::Sqlite(path.to_owned())
    }
}

impl From<PathBuf> for CatalogAddress {
    fn from(path: PathBuf) -> Self {
        Self::Sqlite(path)
    }
}

impl From<&PathBuf> for CatalogAddress {
    fn from(path: &PathBuf) -> Self {
        Self::Sqlite(path.clone())
    }
}

/// A SQLite catalogue as its path; a PostgreSQL one as its URL without the password.
impl fmt::Display for CatalogAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => {
                let mut shown = url.clone();
                let _ = shown.set_password(None);
                let kept: Vec<(String, String)> = url
                    .query_pairs()
                    .filter(|(key, _)| key != "password")
                    .map(|(key, value)| (key.into_owned(), value.into_owned()))
                    .collect();
                shown.set_query(None);
                if !kept.is_empty() {
                    shown.query_pairs_mut().extend_pairs(kept);
                }
                write!(f, "{shown}")
            }
        }
    }
}

/// As shown: never the password.
impl fmt::Debug for CatalogAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CatalogAddress({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_catalogue_is_read_and_shown_without_its_password() {
        let cases = [
            ("awcopy.db", "awcopy.db", false),
            ("/var/lib/awcopy/a b?.db", "/var/lib/awcopy/a b?.db", false),
            ("sqlite:/tmp/x.db", "/tmp/x.db", false),
            ("sqlite:///tmp/x.db", "/tmp/x.db", false),
            (
                "postgres://awcopy@db.internal:5432/awcopy",
                "postgres://awcopy@db.internal:5432/awcopy",
                false,
            ),
            (
                "postgresql://awcopy:s3cr%40t@db:5432/awcopy?sslmode=require",
                "postgresql://awcopy@db:5432/awcopy?sslmode=require",
                true,
            ),
            (
                "POSTGRES://awcopy@db/awcopy?password=s3cret&application_name=awcopy",
                "postgres://awcopy@db/awcopy?application_name=awcopy",
                true,
            ),
        ];
        for (given, shown, password) in cases {
            let address: CatalogAddress = given.parse().unwrap();
            assert_eq!(address.to_string(), shown, "{given}");
            assert_eq!(format!("{address:?}"), format!("CatalogAddress({shown})"));
            assert_eq!(address.has_password(), password, "{given}");
        }
    }

    #[test]
    fn what_names_no_catalogue_is_refused_without_showing_a_password() {
        for (given, says) in [
            ("postgres://u:s3cret@", "host"),
            ("postgres:///awcopy", "no host"),
            ("postgres://u:s3cret@[::1/x", "postgres://..."),
            ("mysql://u:pw@db/x", "SQLite or PostgreSQL"),
            ("sqlite:", "no file"),
        ] {
            let err = given.parse::<CatalogAddress>().unwrap_err().to_string();
            assert!(err.contains(says), "{given}: {err}");
            if given.starts_with("postgres") {
                assert!(!err.contains("s3cret"), "{err}");
            }
        }
    }

    #[test]
    fn the_service_keeps_a_file_of_its_own_but_shares_a_database() {
        let file = CatalogAddress::Sqlite("/data/awcopy.db".into());
        assert_eq!(file.for_service().to_string(), "/data/service.db");
        let db: CatalogAddress = "postgres://awcopy@db/awcopy".parse().unwrap();
        assert_eq!(db.clone().for_service(), db);
    }
}
