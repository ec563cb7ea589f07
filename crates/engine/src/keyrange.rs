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

/// The characters a page of keys uses, as ranks in key order. Strings over them, read as
/// fixed-point numbers with one digit per character, are where cuts are computed
/// ([`cut_after_page`]), so that cuts land where keys like the page's lie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alphabet {
    ranks: Vec<u32>,
}

impl Alphabet {
    /// The characters of `keys`, in `order`.
    pub fn of<'a>(order: KeyOrder, keys: impl IntoIterator<Item = &'a str>) -> Self {
        let mut ascii = 0u128;
        let mut others = std::collections::BTreeSet::new();
        for c in keys.into_iter().flat_map(str::chars) {
            if c.is_ascii() {
                ascii |= 1 << (c as u32);
            } else {
                others.insert(rank(order, c));
            }
        }
        let mut ranks: Vec<u32> = (0..128).filter(|r| ascii & (1 << r) != 0).collect();
        ranks.extend(others);
        Self { ranks }
    }

    fn base(&self) -> u64 {
        self.ranks.len() as u64
    }

    /// `key` as a number of `len` digits (indices into the alphabet): the greatest such string
    /// not above `key` where the key leaves the alphabet, padded with the lowest character.
    fn number(&self, order: KeyOrder, key: &str, len: usize) -> Fixed {
        let top = self.base() - 1;
        let mut digits = Vec::with_capacity(len);
        for c in key.chars().take(len) {
            match self.ranks.binary_search(&rank(order, c)) {
                Ok(i) => digits.push(i as u64),
                // `c` falls between the alphabet's characters: keep the one below it and
                // go as high as the alphabet allows after it.
                Err(i) if i > 0 => {
                    digits.push(i as u64 - 1);
                    digits.resize(len, top);
                    break;
                }
                // Below the whole alphabet: the padding below is then a little above `key`;
                // callers check that a cut lies within its bounds.
                Err(_) => break,
            }
        }
        digits.resize(len, 0);
        Fixed { whole: 0, digits }
    }

    /// The string a number below 1 spells; trailing lowest characters dropped while the
    /// result stays above `low`.
    fn spell(&self, order: KeyOrder, number: &Fixed, low: &str) -> String {
        let mut key: String = number
            .digits
            .iter()
            .map(|&d| unrank(order, self.ranks[d as usize]))
            .collect();
        let lowest = unrank(order, self.ranks[0]);
        while key.ends_with(lowest) {
            let shorter = &key[..key.len() - lowest.len_utf8()];
            if order.compare(low, shorter).is_ge() {
                break;
            }
            key.truncate(shorter.len());
        }
        key
    }
}

/// A non-negative fixed-point number in an alphabet's base: a whole part, then digits.
#[derive(Debug, Clone)]
struct Fixed {
    whole: u64,
    digits: Vec<u64>,
}

impl Fixed {
    /// One, the end of the key space: above every string of the alphabet.
    fn one(len: usize) -> Self {
        Self {
            whole: 1,
            digits: vec![0; len],
        }
    }

    fn plus(&self, other: &Fixed, base: u64) -> Fixed {
        let mut digits = vec![0; self.digits.len()];
        let mut carry = 0;
        for i in (0..digits.len()).rev() {
            let sum = self.digits[i] + other.digits[i] + carry;
            digits[i] = sum % base;
            carry = sum / base;
        }
        Fixed {
            whole: self.whole + other.whole + carry,
            digits,
        }
    }

    /// `self - other`, or `None` when `other` is larger.
    fn minus(&self, other: &Fixed, base: u64) -> Option<Fixed> {
        let mut digits = vec![0; self.digits.len()];
        let mut borrow = 0;
        for i in (0..digits.len()).rev() {
            let take = other.digits[i] + borrow;
            (digits[i], borrow) = if self.digits[i] >= take {
                (self.digits[i] - take, 0)
            } else {
                (self.digits[i] + base - take, 1)
            };
        }
        let whole = self.whole.checked_sub(other.whole + borrow)?;
        Some(Fixed { whole, digits })
    }

    fn times(&self, factor: u64, base: u64) -> Fixed {
        let mut digits = vec![0; self.digits.len()];
        let mut carry = 0;
        for i in (0..digits.len()).rev() {
            let product = self.digits[i] * factor + carry;
            digits[i] = product % base;
            carry = product / base;
        }
        Fixed {
            whole: self.whole * factor + carry,
            digits,
        }
    }

    fn is_zero(&self) -> bool {
        self.whole == 0 && self.digits.iter().all(|&d| d == 0)
    }

    /// Half, rounded down.
    fn half(&self, base: u64) -> Fixed {
        let mut remainder = self.whole % 2;
        let digits = self
            .digits
            .iter()
            .map(|&d| {
                let value = remainder * base + d;
                remainder = value % 2;
                value / 2
            })
            .collect();
        Fixed {
            whole: self.whole / 2,
            digits,
        }
    }
}

/// Where to cut the range that a full page from `first` to `last` came from (`high` is the
/// range's end, `None` the end of the key space), so that about `pages` pages' worth of keys
/// stay with this range: past `last` by `2 * pages` times the page's span, halved, or midway
/// to `high` if that is nearer; `None` if less than two spans are left before `high` (or no
/// key lies between). `alphabet` is the page's characters.
///
/// Both the span and the midpoint are computed in the strings over the page's characters. A
/// code-point midpoint between "q0012/o-1" and the end of the key space is near U+88000, past
/// every key of a bucket of ASCII keys: the far half of such a cut lists nothing, its worker
/// is idle again at once and the range is cut again (on 100,000 keys under 1,000 prefixes, 292
/// list requests for 100 pages). Falls back to [`midpoint`] when the alphabet has no room.
pub fn cut_after_page(
    order: KeyOrder,
    alphabet: &Alphabet,
    (first, last): (&str, &str),
    high: Option<&str>,
    pages: u64,
) -> Option<String> {
    let between = |cut: &str| {
        order.compare(last, cut).is_lt() && high.is_none_or(|h| order.compare(cut, h).is_lt())
    };
    let base = alphabet.base();
    if base >= 2 {
        // Two digits beyond the longest key, so that a cut between neighbours has room.
        let len = [Some(first), Some(last), high]
            .into_iter()
            .flatten()
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(0)
            + 2;
        let low = alphabet.number(order, last, len);
        let end = match high {
            Some(h) => alphabet.number(order, h, len),
            None => Fixed::one(len),
        };
        let span = low
            .minus(&alphabet.number(order, first, len), base)
            .filter(|span| !span.is_zero());
        if let Some(span) = &span {
            // Less than two pages' span left: both halves would be partial pages, and the cut
            // would cost more requests than it saves.
            if high.is_some()
                && end
                    .minus(&low.plus(&span.times(2, base), base), base)
                    .is_none()
            {
                return None;
            }
        }
        // The nearer of the range's end and `2 * pages` spans of the page past its last key.
        let ahead = span.map(|span| low.plus(&span.times(2 * pages.max(1), base), base));
        let reach = match ahead {
            Some(ahead) if ahead.minus(&end, base).is_none() => ahead,
            _ => end,
        };
        let cut = low.plus(&reach, base).half(base);
        if cut.whole == 0 {
            let cut = alphabet.spell(order, &cut, last);
            if between(&cut) {
                return Some(cut);
            }
        }
    }
    midpoint(order, last, high)
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
    fn cuts_after_a_page_land_among_the_keys() {
        // The bench's `many` keys, 100 pages of 1,000.
        let mut keys: Vec<String> = (0..100_000)
            .map(|i| format!("q{:04}/o-{i:07}", i % 1000))
            .collect();
        keys.sort();
        let page = &keys[..1000];
        let alphabet = Alphabet::of(KeyOrder::Utf8, page.iter().map(String::as_str));
        let bounds = (page[0].as_str(), page[999].as_str());
        let between = |low: &str, high: &str| {
            keys.iter()
                .filter(|k| k.as_str() > low && k.as_str() < high)
                .count()
        };
        // Unbounded: a few pages stay here, the rest (most) go to the far half.
        let cut = cut_after_page(KeyOrder::Utf8, &alphabet, bounds, None, 8).unwrap();
        let near = between(bounds.1, &cut);
        assert!(
            (2_000..=16_000).contains(&near),
            "{cut:?} keeps {near} keys"
        );
        // The code-point midpoint, by contrast, lands past every key.
        let wide = midpoint(KeyOrder::Utf8, bounds.1, None).unwrap();
        assert_eq!(between(bounds.1, &wide), 99_000);
        // A range ending within a few pages is cut midway, both halves holding keys.
        let end = "q0030\u{0}";
        let cut = cut_after_page(KeyOrder::Utf8, &alphabet, bounds, Some(end), 8).unwrap();
        let (near, far) = (between(bounds.1, &cut), between(&cut, end));
        assert!(near >= 500 && far >= 500, "{cut:?} splits {near} / {far}");
        // Less than two pages' span left: no cut.
        let end = "q0015\u{0}";
        assert_eq!(
            cut_after_page(KeyOrder::Utf8, &alphabet, bounds, Some(end), 8),
            None
        );
        // A page whose keys all share the last one's place (no span) still cuts midway.
        let flat = (page[999].as_str(), page[999].as_str());
        let cut = cut_after_page(KeyOrder::Utf8, &alphabet, flat, Some(end), 8).unwrap();
        assert_between(KeyOrder::Utf8, bounds.1, &cut, Some(end));
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
                // After a page over the characters of a few other keys (so `high` may leave
                // them), a cut is found exactly when one exists, and lies between the two.
                let sample = [key(), key(), low.clone()];
                let among = Alphabet::of(order, sample.iter().map(String::as_str));
                let flat = (low.as_str(), low.as_str());
                match cut_after_page(order, &among, flat, Some(&high), 4) {
                    Some(mid) => assert_between(order, &low, &mid, Some(&high)),
                    None => assert_eq!(high, successor, "{low:?}..{high:?} had room"),
                }
                // After a page with a span, a cut may be declined, never out of bounds.
                let first = sample.iter().min_by(|a, b| order.compare(a, b)).unwrap();
                let bounds = (first.as_str(), low.as_str());
                if let Some(mid) = cut_after_page(order, &among, bounds, Some(&high), 4) {
                    assert_between(order, &low, &mid, Some(&high));
                }
                let to_end = cut_after_page(order, &among, bounds, None, 4).unwrap();
                assert_between(order, &low, &to_end, None);
            }
        }
    }
}
