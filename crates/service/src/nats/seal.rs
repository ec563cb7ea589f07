//! Every message between the service and its agents is sealed: an HMAC-SHA256 of its subject
//! and its body under a key the service and its agents share (a file each reads), ahead of the
//! body. Whoever else can publish on the NATS server (a client without the key) can make no
//! agent run an item, no service take an outcome, no run stop and no agent appear: an unsealed
//! or altered message is dropped and counted. The subject is under the seal, and it names the
//! run, so a message of one run cannot be replayed as another's.
//!
//! Why a shared key and not NKeys (Ed25519) per party: both directions need authenticating
//! (work and stops one way, outcomes and heartbeats the other), and the agents' hosts are
//! trusted as the service's is (they hold the same cloud credentials), so one secret file
//! does for all; verifying costs a microsecond, not an elliptic-curve check per message.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

use crate::setting::{Setting, SettingError};

/// Bytes of the seal ahead of each body.
const SEAL_LEN: usize = 32;
/// The shortest key taken: 256 bits.
const SHORTEST_KEY: usize = 32;

/// The key messages are sealed with. Its bytes never leave this value (no Debug, no Display).
#[derive(Clone)]
pub struct SealKey(Vec<u8>);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(REDACTED)")
    }
}

impl SealKey {
    /// The key in the file at `path`: its content, without surrounding white space, of at
    /// least 32 bytes (e.g. `head -c 32 /dev/urandom | base64 > nats.key`).
    pub fn load(path: &Path) -> Result<Self, SettingError> {
        let shown = path.display().to_string();
        let error = || SettingError::new(Setting::NatsKey, Some(shown.clone()));
        let text = std::fs::read(path).map_err(|e| error().words(e.to_string()))?;
        let key = text.trim_ascii();
        if key.len() < SHORTEST_KEY {
            return Err(error().words(format!(
                "the key is {} bytes; use at least {SHORTEST_KEY} random bytes, e.g. `head -c 32 /dev/urandom | base64 > {shown}`",
                key.len(),
            )));
        }
        Ok(Self(key.to_vec()))
    }

    /// A key of these bytes (tests).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    fn mac(&self, subject: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(subject.as_bytes());
        mac.update(&[0]);
        mac.update(body);
        mac
    }

    /// `body` sealed for `subject`: the payload to publish there.
    pub fn seal(&self, subject: &str, body: &[u8]) -> Vec<u8> {
        let mut payload = self.mac(subject, body).finalize().into_bytes().to_vec();
        payload.extend_from_slice(body);
        payload
    }

    /// The body of `payload` received on `subject`, if it was sealed with this key for this
    /// subject (checked in constant time); `None` for anything else.
    pub fn open<'a>(&self, subject: &str, payload: &'a [u8]) -> Option<&'a [u8]> {
        if payload.len() < SEAL_LEN {
            return None;
        }
        let (seal, body) = payload.split_at(SEAL_LEN);
        self.mac(subject, body).verify_slice(seal).ok()?;
        Some(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_key_subject_and_body_open() {
        let key = SealKey::from_bytes(&[7; 32]);
        let sealed = key.seal("awcopy.work.run-a", b"{\"item\":1}");
        assert_eq!(
            key.open("awcopy.work.run-a", &sealed),
            Some(&b"{\"item\":1}"[..])
        );
        assert_eq!(key.open("awcopy.work.run-b", &sealed), None, "another run");
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(
            key.open("awcopy.work.run-a", &altered),
            None,
            "an altered body"
        );
        let other = SealKey::from_bytes(&[8; 32]);
        assert_eq!(
            other.open("awcopy.work.run-a", &sealed),
            None,
            "another key"
        );
        assert_eq!(
            key.open("awcopy.work.run-a", b"{\"item\":1}"),
            None,
            "unsealed"
        );
        assert_eq!(key.open("awcopy.work.run-a", b""), None);
        assert!(!format!("{key:?}").contains('7'));
    }

    #[test]
    fn short_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, "too short\n").unwrap();
        let err = SealKey::load(&short).unwrap_err();
        assert!(err.to_string().contains("at least 32"), "{err}");
        let good = dir.path().join("good");
        std::fs::write(&good, format!("{}\n", "k".repeat(44))).unwrap();
        assert!(SealKey::load(&good).is_ok());
    }
}
