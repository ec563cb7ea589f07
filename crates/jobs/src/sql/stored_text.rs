//! Text a database can hold. PostgreSQL's `text` cannot hold U+0000, which object keys and the
//! listing's range bounds may (a range ends before `key` + U+0000): there, keys are stored with
//! U+0000 and U+0001 escaped as U+0001 U+0001 and U+0001 U+0002. The escape keeps the order of
//! keys (compared as code points, which is their UTF-8 byte order), so a page of failures
//! after a key and the key order of the listing are the same as on SQLite, which holds any
//! text as it is. Messages (errors) lose a U+0000 to U+FFFD in both.

use super::Dialect;

/// The escape character, and what follows it for U+0000 and for itself.
const ESCAPE: char = '\u{1}';
const AFTER_FOR_NUL: char = '\u{1}';
const AFTER_FOR_ESCAPE: char = '\u{2}';

impl Dialect {
    /// Key `text` as this database stores it (owned: sqlx's `Any` driver binds no `Cow`).
    pub(crate) fn store_key(self, text: &str) -> String {
        if self == Dialect::Sqlite || !text.contains([ESCAPE, '\0']) {
            return text.to_owned();
        }
        let mut stored = String::with_capacity(text.len() + 8);
        for c in text.chars() {
            match c {
                '\0' => stored.extend([ESCAPE, AFTER_FOR_NUL]),
                ESCAPE => stored.extend([ESCAPE, AFTER_FOR_ESCAPE]),
                c => stored.push(c),
            }
        }
        stored
    }

    /// A key as [`Dialect::store_key`] was given it.
    pub(crate) fn load_key(self, stored: String) -> String {
        if self == Dialect::Sqlite || !stored.contains(ESCAPE) {
            return stored;
        }
        let mut text = String::with_capacity(stored.len());
        let mut chars = stored.chars();
        while let Some(c) = chars.next() {
            match (c, c == ESCAPE) {
                (_, true) => match chars.next() {
                    Some(AFTER_FOR_NUL) => text.push('\0'),
                    // AFTER_FOR_ESCAPE, or (never written) anything else: kept as it was.
                    Some(AFTER_FOR_ESCAPE) => text.push(ESCAPE),
                    Some(other) => text.extend([ESCAPE, other]),
                    None => text.push(ESCAPE),
                },
                (c, false) => text.push(c),
            }
        }
        text
    }

    /// [`Dialect::store_key`] of a key that may be absent.
    pub(crate) fn store_key_opt(self, text: Option<&str>) -> Option<String> {
        text.map(|text| self.store_key(text))
    }

    /// [`Dialect::load_key`] of a key that may be absent.
    pub(crate) fn load_key_opt(self, stored: Option<String>) -> Option<String> {
        stored.map(|stored| self.load_key(stored))
    }
}

/// A message as both databases store it: a U+0000 in it (quoted from a key) becomes U+FFFD.
pub(crate) fn message(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_keep_their_order() {
        let keys = [
            "",
            "\0",
            "\0\0",
            "\0\u{1}",
            "\u{1}",
            "\u{1}\0",
            "\u{1}\u{1}",
            "\u{2}",
            "a",
            "a\0",
            "a\0b",
            "a\u{1}",
            "a\u{1}\u{2}",
            "a\u{2}",
            "ab",
            "日本\0",
            "\u{10FFFF}",
        ];
        let mut sorted = keys.to_vec();
        sorted.sort();
        assert_eq!(sorted, keys, "the list is in order");
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let stored: Vec<String> = keys.iter().map(|k| dialect.store_key(k)).collect();
            for (key, stored) in keys.iter().zip(&stored) {
                assert_eq!(dialect.load_key(stored.clone()), *key, "{dialect:?}");
                if dialect == Dialect::Postgres {
                    assert!(!stored.contains('\0'), "{stored:?}");
                }
            }
            let mut again = stored.clone();
            again.sort();
            assert_eq!(again, stored, "{dialect:?}: the order is kept");
        }
        assert_eq!(message("a\0b"), "a\u{FFFD}b");
    }
}
