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
    fn characters_escape_as_percent_hex() {
        assert_eq!(escape_chars("back\\slash", &['\\']), "back%5Cslash");
        assert_eq!(escape_chars("plain", &['\\']), "plain");
    }
}
