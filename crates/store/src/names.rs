//! Deterministic replacement names for keys a store cannot hold as written. The replacement
//! escapes the offending characters as `%XX` and shortens over-long parts to a prefix plus a
//! CRC of what was cut; the copy job records every (original, replacement) pair, which is what
//! makes the mapping reversible.

/// `%XX` for each byte of `c`.
fn escape(c: char) -> String {
    let mut buf = [0u8; 4];
    c.encode_utf8(&mut buf)
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect()
}

/// `text` cut to at most `max` bytes at a character boundary, followed by `%` and the
/// CRC-64/NVME (hex) of the whole text, so distinct long texts stay distinct.
pub fn shorten(text: &str, max: usize, crc: impl Fn(&[u8]) -> u64) -> String {
    let suffix = format!("%{:016x}", crc(text.as_bytes()));
    let mut end = max.saturating_sub(suffix.len()).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}", &text[..end])
}

/// A path segment a file system can hold: empty, `.` and `..` escaped, NUL escaped, and
/// segments over `max` bytes shortened.
pub fn file_segment(segment: &str, max: usize, crc: impl Fn(&[u8]) -> u64) -> String {
    let escaped = match segment {
        "" => "%2F".to_owned(),
        "." => "%2E".to_owned(),
        ".." => "%2E%2E".to_owned(),
        s => s
            .chars()
            .map(|c| if c == '\0' { escape(c) } else { c.to_string() })
            .collect(),
    };
    if escaped.len() > max {
        shorten(&escaped, max, crc)
    } else {
        escaped
    }
}

/// A C# identifier (what Azure takes as a metadata name) for `name`, when `name` is not one:
/// each other character becomes `_xhh_` (its UTF-8 bytes in lowercase hex, as metadata names
/// come back lowercased) and a leading digit gets a
/// `_` before it. `None` when `name` is already an identifier.
pub fn identifier(name: &str) -> Option<String> {
    let valid =
        |i: usize, c: char| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit());
    if !name.is_empty() && name.chars().enumerate().all(|(i, c)| valid(i, c)) {
        return None;
    }
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if i == 0 && c.is_ascii_digit() {
            out.push('_');
            out.push(c);
        } else if valid(1, c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("_x{b:02x}_"));
            }
        }
    }
    if out.is_empty() {
        out.push('_');
    }
    Some(out)
}

/// `key` with every character in `bad` escaped.
pub fn escape_chars(key: &str, bad: &[char]) -> String {
    key.chars()
        .map(|c| {
            if bad.contains(&c) {
                escape(c)
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc(bytes: &[u8]) -> u64 {
        bytes
            .iter()
            .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(*b)))
    }

    #[test]
    fn segments_become_file_names() {
        assert_eq!(file_segment("", 255, crc), "%2F");
        assert_eq!(file_segment("..", 255, crc), "%2E%2E");
        assert_eq!(file_segment("a\0b", 255, crc), "a%00b");
        let long = "é".repeat(200);
        let short = file_segment(&long, 255, crc);
        assert!(short.len() <= 255 && short.starts_with("éé") && short.contains('%'));
        assert_ne!(
            short,
            file_segment(&format!("{long}x"), 255, crc),
            "distinct long names stay distinct"
        );
    }

    #[test]
    fn metadata_names_become_identifiers() {
        assert_eq!(identifier("origin"), None);
        assert_eq!(identifier("run_id"), None);
        assert_eq!(identifier("run-id").as_deref(), Some("run_x2d_id"));
        assert_eq!(identifier("1st").as_deref(), Some("_1st"));
        assert_eq!(identifier("é").as_deref(), Some("_xc3__xa9_"));
    }

    #[test]
    fn characters_escape_as_percent_hex() {
        assert_eq!(escape_chars("back\\slash", &['\\']), "back%5Cslash");
        assert_eq!(escape_chars("plain", &['\\']), "plain");
    }
}
