//! A running summary of a listing: object count, bytes, and a size histogram.

use serde::Serialize;

/// Upper bounds (exclusive) of the histogram's buckets, after the first bucket for empty
/// objects; the last bucket holds everything at or above the last bound.
const BOUNDS: [(u64, &str); 6] = [
    (1 << 10, "< 1 KiB"),
    (64 << 10, "< 64 KiB"),
    (1 << 20, "< 1 MiB"),
    (16 << 20, "< 16 MiB"),
    (256 << 20, "< 256 MiB"),
    (4 << 30, "< 4 GiB"),
];

/// One bucket of the size histogram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SizeBucket {
    /// Human label, e.g. `< 64 KiB`.
    pub label: &'static str,
    /// Objects in the bucket.
    pub objects: u64,
    /// Bytes in the bucket.
    pub bytes: u64,
}

/// Counts and bytes of a listing, fed one object at a time (constant memory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListingSummary {
    /// Objects seen.
    pub objects: u64,
    /// Total bytes.
    pub bytes: u64,
    /// Common prefixes seen (non-recursive listings).
    pub prefixes: u64,
    /// Objects by size.
    pub histogram: Vec<SizeBucket>,
}

impl Default for ListingSummary {
    fn default() -> Self {
        let labels = std::iter::once("0 B")
            .chain(BOUNDS.iter().map(|(_, label)| *label))
            .chain(std::iter::once(">= 4 GiB"));
        Self {
            objects: 0,
            bytes: 0,
            prefixes: 0,
            histogram: labels
                .map(|label| SizeBucket {
                    label,
                    objects: 0,
                    bytes: 0,
                })
                .collect(),
        }
    }
}

impl ListingSummary {
    /// Counts one object of `size` bytes.
    pub fn add(&mut self, size: u64) {
        self.objects += 1;
        self.bytes += size;
        let bucket = if size == 0 {
            0
        } else {
            1 + BOUNDS
                .iter()
                .position(|(bound, _)| size < *bound)
                .unwrap_or(BOUNDS.len())
        };
        self.histogram[bucket].objects += 1;
        self.histogram[bucket].bytes += size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_by_size() {
        let mut summary = ListingSummary::default();
        for size in [0, 1, 1023, 1024, 5 << 20, 4 << 30, 5 << 30] {
            summary.add(size);
        }
        assert_eq!(summary.objects, 7);
        assert_eq!(
            summary.bytes,
            1 + 1023 + 1024 + (5 << 20) + (4 << 30) + (5 << 30)
        );
        let counts: Vec<(&str, u64)> = summary
            .histogram
            .iter()
            .map(|b| (b.label, b.objects))
            .collect();
        assert_eq!(
            counts,
            [
                ("0 B", 1),
                ("< 1 KiB", 2),
                ("< 64 KiB", 1),
                ("< 1 MiB", 0),
                ("< 16 MiB", 1),
                ("< 256 MiB", 0),
                ("< 4 GiB", 0),
                (">= 4 GiB", 2)
            ]
        );
    }
}
