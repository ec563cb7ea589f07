//! Cutting a key space in two: a key strictly between two others, in the store's key order,
//! for any UTF-8 keys (not just ASCII: the old design split by first ASCII letter and lost the
//! rest).
//!
//! Written by hand: no crate computes midpoints of strings under UTF-8 and UTF-16 orders.

use awcopy_store::KeyOrder;
use std::cmp::Ordering;

/// A character's position in `order`: code point order for UTF-8; for UTF-16, U+E000..U+FFFF
/// move after the supplementary planes, as their code units (0xE000..) sort after surrogates.
fn rank(order: KeyOrder, c: char) -> u32 {
    let c = c as u32;
    match order {
        KeyOrder::Utf8 => c,
        KeyOrder::Utf16 => match c {
            0..=0xD7FF => c,
            0x10000.. => c - 0x10000 + 0xD800,
            _ => c - 0xE000 + 0xD800 + 0x10_0000,
        },
    }
}

/// The highest rank in `order`.
fn max_rank(order: KeyOrder) -> u32 {
    match order {
        KeyOrder::Utf8 => 0x10_FFFF,
        KeyOrder::Utf16 => 0xD800 + 0x10_0000 + 0x1FFF,
    }
}

/// The character at `rank` (ranks that fall on surrogates move to the next character).
fn unrank(order: KeyOrder, rank: u32) -> char {
    let code = match order {
        KeyOrder::Utf8 => rank,
        KeyOrder::Utf16 => match rank {
            0..=0xD7FF => rank,
            0xD800..=0x10_D7FF => rank - 0xD800 + 0x10000,
            _ => rank - 0xD800 - 0x10_0000 + 0xE000,
        },
    };
    char::from_u32(code).unwrap_or('\u{E000}')
}

/// A key `m` with `low < m < high` in `order` (`high: None` is the end of the key space), or
/// `None` when no key lies between them.
pub fn midpoint(order: KeyOrder, low: &str, high: Option<&str>) -> Option<String> {
    let lo: Vec<u32> = low.chars().map(|c| rank(order, c)).collect();
    let hi: Vec<u32> = match high {
        Some(h) => h.chars().map(|c| rank(order, c)).collect(),
        None => vec![max_rank(order) + 1],
    };
    let common = lo.iter().zip(&hi).take_while(|(a, b)| a == b).count();
    let mut out: Vec<u32> = lo[..common].to_vec();
    // Ranks shifted by one so "no character" (the low key ended) is 0.
    let a = lo.get(common).map_or(0, |r| r + 1);
    let b = hi.get(common).map_or(0, |r| r + 1);
    if b >= a + 2 {
        out.push((a + b) / 2 - 1);
    } else if a > 0 {
        // Adjacent characters: keep the low one and go above the rest of the low key.
        out.push(a - 1);
        let rest = &lo[common + 1..];
        out.extend(above(order, rest));
    } else if b == 1 && hi.len() > common + 1 {
        // The low key ended and the high one goes on from a NUL: that NUL alone lies between.
        out.push(0);
    } else {
        return None;
    }
    let mid: String = out.into_iter().map(|r| unrank(order, r)).collect();
    let between = order.compare(low, &mid) == Ordering::Less
        && high.is_none_or(|h| order.compare(&mid, h) == Ordering::Less);
    between.then_some(mid)
}

/// A suffix greater than `rest` (as ranks), about halfway to the end of the key space.
fn above(order: KeyOrder, rest: &[u32]) -> Vec<u32> {
    let top = max_rank(order);
    let mut out = Vec::new();
    for &r in rest {
        let mid = r + (top - r).div_ceil(2);
        if mid > r {
            out.push(mid);
            return out;
        }
        out.push(r);
    }
    out.push(top / 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_between(order: KeyOrder, low: &str, mid: &str, high: Option<&str>) {
        assert_eq!(order.compare(low, mid), Ordering::Less, "{low:?} < {mid:?}");
        if let Some(h) = high {
            assert_eq!(order.compare(mid, h), Ordering::Less, "{mid:?} < {h:?}");
        }
    }

    fn check(order: KeyOrder, low: &str, high: Option<&str>) -> String {
        let mid = midpoint(order, low, high)
            .unwrap_or_else(|| panic!("no midpoint of {low:?}..{high:?}"));
        assert_between(order, low, &mid, high);
        mid
    }

    #[test]
    fn splits_any_utf8_keys_in_both_orders() {
        let keys = [
            "",
            "a",
            "b",
            "a/b",
            "a/c",
            "日本",
            "日本/語",
            "🎉",
            "ＦＵＬＬ",
            "\u{FFFF}",
            "\u{10FFFF}",
            "z\u{0}",
            "z",
            "éé",
            "e\u{301}",
            "\u{D7FF}",
            "\u{E000}",
        ];
        for order in [KeyOrder::Utf8, KeyOrder::Utf16] {
            let mut sorted = keys.to_vec();
            sorted.sort_by(|a, b| order.compare(a, b));
            for pair in sorted.windows(2) {
                if let Some(mid) = midpoint(order, pair[0], Some(pair[1])) {
                    assert_between(order, pair[0], &mid, Some(pair[1]));
                }
                check(order, pair[0], None);
            }
        }
    }

    #[test]
    fn nothing_between_a_key_and_its_nul_successor() {
        assert_eq!(midpoint(KeyOrder::Utf8, "a", Some("a\u{0}")), None);
        assert_eq!(midpoint(KeyOrder::Utf8, "a", Some("a")), None);
    }

    #[test]
    fn adjacent_characters_still_split() {
        let mid = check(KeyOrder::Utf8, "a", Some("b"));
        assert!(mid.starts_with('a') && mid.len() > 1, "{mid:?}");
        check(KeyOrder::Utf16, "\u{FFFF}", None);
        check(KeyOrder::Utf16, "\u{1F389}", Some("\u{FF21}"));
    }

    #[test]
    fn random_pairs_always_split_when_possible() {
        let alphabet: Vec<char> = "a/Zé日\u{1F389}\u{FF21}\u{0}\u{E000}\u{10FFFF}"
            .chars()
            .collect();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for order in [KeyOrder::Utf8, KeyOrder::Utf16] {
            for _ in 0..2000 {
                let mut key = || -> String {
                    let len = (next() % 5) as usize;
                    (0..len)
                        .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                        .collect()
                };
                let (x, y) = (key(), key());
                let (low, high) = if order.compare(&x, &y).is_lt() {
                    (x, y)
                } else {
                    (y, x)
                };
                if low == high {
                    continue;
                }
                let successor = format!("{low}\u{0}");
                match midpoint(order, &low, Some(&high)) {
                    Some(mid) => assert_between(order, &low, &mid, Some(&high)),
                    None => assert_eq!(high, successor, "{low:?}..{high:?} had room"),
                }
            }
        }
    }
}
