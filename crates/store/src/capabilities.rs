//! What a backend can do, so the planner chooses routes without naming providers.

/// The abilities and limits of one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Identifies the service instance (endpoint and account). Two stores with the same id can
    /// copy between each other with [`crate::CopySource::Native`] when `native_copy` is set.
    pub service_id: String,
    /// Copies whole objects and parts server-side from [`crate::CopySource::Native`] sources.
    pub native_copy: bool,
    /// Pulls bytes server-side from [`crate::CopySource::Url`] sources (Azure Put Block From URL).
    pub copy_from_url: bool,
    /// Mints read URLs that another service can fetch ([`crate::Store::copy_source`] with a URL).
    pub presign: bool,
    /// Most parts / blocks one object may have.
    pub max_parts: u32,
    /// Smallest part except the last (S3: 5 MiB).
    pub min_part_size: u64,
    /// Largest part or block.
    pub max_part_size: u64,
    /// Largest object written in one request.
    pub max_single_put: u64,
    /// Largest object a single server-side copy request handles (S3 CopyObject: 5 GiB).
    pub max_single_copy: u64,
    /// Writes a whole object as its bytes arrive ([`crate::Store::put_stream`]), holding at
    /// most this many of them in memory; `None` when it cannot.
    pub put_stream_memory: Option<u64>,
    /// The order in which listings return keys.
    pub key_order: KeyOrder,
    /// Whether listing a key range costs about that range alone, so that ranges listed at
    /// once go faster than one listing of them all.
    pub ranged_listing: bool,
}

/// How a store orders keys in listings; key ranges must be cut and compared in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrder {
    /// By UTF-8 bytes, i.e. by code point (S3, local disk as listed by awcopy).
    Utf8,
    /// By UTF-16 code units (Azure Blob as Azurite implements it): code points U+E000..U+FFFF
    /// sort after the supplementary planes.
    Utf16,
}

impl KeyOrder {
    /// The character that sorts last in this order: a key plus it comes after every key that
    /// starts with that key plus any other character.
    pub fn last_char(self) -> char {
        match self {
            Self::Utf8 => '\u{10FFFF}',
            Self::Utf16 => '\u{FFFF}',
        }
    }

    /// Compares two keys in this order.
    pub fn compare(self, a: &str, b: &str) -> std::cmp::Ordering {
        match self {
            Self::Utf8 => a.cmp(b),
            Self::Utf16 => a.encode_utf16().cmp(b.encode_utf16()),
        }
    }
}

impl Capabilities {
    /// Whether `self` (a destination) can copy server-side from `source` (a source store),
    /// and if so, which kind of [`crate::CopySource`] it needs.
    pub fn server_side_route(&self, source: &Capabilities) -> Option<CopySourceKind> {
        if self.native_copy && self.service_id == source.service_id {
            Some(CopySourceKind::Native)
        } else if self.copy_from_url && source.presign {
            Some(CopySourceKind::Url)
        } else {
            None
        }
    }

    /// The part size to use for an object of `size` bytes, starting from `preferred`, grown so
    /// the object fits in `max_parts` and clamped to the part limits.
    pub fn part_size_for(&self, size: u64, preferred: u64) -> u64 {
        let needed = size.div_ceil(u64::from(self.max_parts.max(1)));
        preferred
            .max(needed)
            .max(self.min_part_size)
            .min(self.max_part_size)
    }
}

/// The kind of source a server-side route needs, see [`Capabilities::server_side_route`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopySourceKind {
    /// [`crate::CopySource::Native`].
    Native,
    /// [`crate::CopySource::Url`].
    Url,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(id: &str, native: bool, from_url: bool, presign: bool) -> Capabilities {
        Capabilities {
            service_id: id.into(),
            native_copy: native,
            copy_from_url: from_url,
            presign,
            max_parts: 10_000,
            min_part_size: 5 << 20,
            max_part_size: 5 << 30,
            max_single_put: 5 << 30,
            max_single_copy: 5 << 30,
            put_stream_memory: None,
            key_order: KeyOrder::Utf8,
            ranged_listing: true,
        }
    }

    #[test]
    fn utf16_order_puts_high_bmp_after_astral() {
        use std::cmp::Ordering::*;
        let (emoji, fullwidth) = ("\u{1F389}", "\u{FF21}");
        assert_eq!(KeyOrder::Utf8.compare(emoji, fullwidth), Greater);
        assert_eq!(KeyOrder::Utf16.compare(emoji, fullwidth), Less);
        assert_eq!(KeyOrder::Utf16.compare("a", "b"), Less);
    }

    #[test]
    fn routes_follow_capabilities() {
        let s3a = caps("s3:a", true, false, true);
        let s3b = caps("s3:b", true, false, true);
        let az = caps("az:x", false, true, true);
        let local = caps("local", false, false, false);
        assert_eq!(s3a.server_side_route(&s3a), Some(CopySourceKind::Native));
        assert_eq!(s3a.server_side_route(&s3b), None);
        assert_eq!(az.server_side_route(&s3a), Some(CopySourceKind::Url));
        assert_eq!(az.server_side_route(&az), Some(CopySourceKind::Url));
        assert_eq!(s3a.server_side_route(&az), None);
        assert_eq!(az.server_side_route(&local), None);
    }

    #[test]
    fn part_size_grows_to_fit_part_limit() {
        let s3 = caps("s3", true, false, true);
        assert_eq!(s3.part_size_for(100, 4 << 20), 5 << 20);
        assert_eq!(s3.part_size_for(1 << 30, 8 << 20), 8 << 20);
        // 1 TiB in 10,000 parts needs parts of at least 109,951,163 bytes.
        assert_eq!(
            s3.part_size_for(1 << 40, 8 << 20),
            (1u64 << 40).div_ceil(10_000)
        );
    }
}
