//! The settings of `awcopy serve` and `awcopy agent` as this crate's errors name them:
//! [`Setting`] (the fields of [`crate::ServeOptions`] and [`crate::nats::NatsOptions`]), and
//! [`SettingError`], whose message can be said in each front door's own words — the CLI
//! names its flags (`--listen`), this crate its fields (`listen`).

/// A setting of the service or of an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// Where the service listens.
    Listen,
    /// The users and grants file.
    Config,
    /// In-process agents.
    Agents,
    /// The HTTPS certificate.
    TlsCert,
    /// The HTTPS key.
    TlsKey,
    /// Plain HTTP on a non-loopback address.
    InsecureHttp,
    /// The NATS server.
    Nats,
    /// The NATS credentials file.
    NatsCreds,
    /// The key work items are sealed with.
    NatsKey,
}

impl Setting {
    /// Its name in this crate: the option's field.
    pub fn field(self) -> &'static str {
        match self {
            Self::Listen => "listen",
            Self::Config => "config",
            Self::Agents => "agents",
            Self::TlsCert => "tls_cert",
            Self::TlsKey => "tls_key",
            Self::InsecureHttp => "insecure_http",
            Self::Nats => "nats",
            Self::NatsCreds => "nats_creds",
            Self::NatsKey => "nats_key",
        }
    }
}

/// A piece of a problem: words, or the name of a setting (said as each front door says it).
#[derive(Debug, Clone)]
enum Piece {
    Words(String),
    Name(Setting),
}

/// A setting that cannot be used: which one, its value (never a secret), and what is wrong
/// and what to do.
#[derive(Debug, Clone)]
pub struct SettingError {
    /// The setting at fault.
    pub setting: Setting,
    value: Option<String>,
    problem: Vec<Piece>,
}

impl SettingError {
    /// An error of `setting`, whose value is shown as `value`.
    pub fn new(setting: Setting, value: Option<String>) -> Self {
        Self {
            setting,
            value,
            problem: Vec::new(),
        }
    }

    /// The problem goes on with `words`.
    pub fn words(mut self, words: impl Into<String>) -> Self {
        self.problem.push(Piece::Words(words.into()));
        self
    }

    /// The problem goes on with the name of `setting`.
    pub fn name(mut self, setting: Setting) -> Self {
        self.problem.push(Piece::Name(setting));
        self
    }

    /// The message, naming each setting as `name` says it.
    pub fn describe(&self, name: impl Fn(Setting) -> &'static str) -> String {
        let mut text = name(self.setting).to_owned();
        if let Some(value) = &self.value {
            text.push(' ');
            text.push_str(value);
        }
        text.push_str(": ");
        for piece in &self.problem {
            match piece {
                Piece::Words(words) => text.push_str(words),
                Piece::Name(setting) => text.push_str(name(*setting)),
            }
        }
        text
    }
}

impl std::fmt::Display for SettingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(Setting::field))
    }
}

impl std::error::Error for SettingError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_door_names_the_settings_its_own_way() {
        let err = SettingError::new(Setting::Listen, Some("0.0.0.0:80".into()))
            .words("give ")
            .name(Setting::TlsCert)
            .words(" or ")
            .name(Setting::InsecureHttp);
        assert_eq!(
            err.to_string(),
            "listen 0.0.0.0:80: give tls_cert or insecure_http"
        );
        let flag = |s: Setting| match s {
            Setting::Listen => "--listen",
            Setting::TlsCert => "--tls-cert",
            _ => "--insecure-http",
        };
        assert_eq!(
            err.describe(flag),
            "--listen 0.0.0.0:80: give --tls-cert or --insecure-http"
        );
    }
}
