//! A moment as the catalogue stores it and the API shows it: UTC, RFC 3339 text.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use time::format_description::well_known::Rfc3339;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::text_column::text_column;

/// How a [`Timestamp`] is written: RFC 3339, UTC, always three fractional digits.
const WRITTEN: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// A moment in UTC, to the millisecond. Stored, shown and sent as RFC 3339 text of one width
/// (`2026-12-06T10:30:00.000Z`), so that SQL comparing two as text compares them in time
/// order; any RFC 3339 text reads (a catalogue's older rows included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

/// In the API's OpenAPI document: RFC 3339 text.
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .examples(["2026-12-06T10:30:00.000Z"])
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

impl Timestamp {
    /// Now.
    pub fn now() -> Self {
        Self::from(OffsetDateTime::now_utc())
    }

    /// The moment as a date and time (UTC).
    pub fn time(self) -> OffsetDateTime {
        self.0
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(at: OffsetDateTime) -> Self {
        let utc = at.to_offset(UtcOffset::UTC);
        let millisecond = utc.nanosecond() / 1_000_000 * 1_000_000;
        Self(utc.replace_nanosecond(millisecond).unwrap_or(utc))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.format(WRITTEN).map_err(|_| fmt::Error)?;
        f.pad(&text)
    }
}

impl FromStr for Timestamp {
    type Err = String;

    /// An RFC 3339 time with any offset (`2026-12-06T10:00:00Z`, `...+02:00`), as UTC.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        OffsetDateTime::parse(text, &Rfc3339)
            .map(Self::from)
            .map_err(|e| {
                format!("'{text}' is not an RFC 3339 time ({e}), e.g. 2026-12-06T10:00:00Z")
            })
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

text_column!(Timestamp);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_in_utc_and_orders_as_time() {
        let at: Timestamp = "2026-12-06T12:30:00+02:00".parse().unwrap();
        assert_eq!(at.to_string(), "2026-12-06T10:30:00.000Z");
        assert_eq!(at.to_string().parse::<Timestamp>().unwrap(), at);
        for later in ["2026-12-06T10:30:00.5Z", "2026-12-06T10:30:00.0004999Z"] {
            let later: Timestamp = later.parse().unwrap();
            assert!(later >= at);
            assert_eq!(later > at, later.to_string() > at.to_string(), "{later}");
        }
        let json = serde_json::to_string(&at).unwrap();
        assert_eq!(json, "\"2026-12-06T10:30:00.000Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), at);
        let wrong = "yesterday".parse::<Timestamp>().unwrap_err();
        assert!(wrong.contains("RFC 3339"), "{wrong}");
    }
}
