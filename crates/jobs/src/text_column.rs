//! Column types of our own: types stored as text columns, written with `Display` and read back
//! with `FromStr` (whose error says what is wrong with the text, and ends up in the
//! catalogue's "damaged row" error); and flags stored as integers.

/// Implements sqlx's `Type`, `Encode` and `Decode` for `$type` as text, in every database
/// whose `String` is a column type, through its `Display` and `FromStr`. Written by hand:
/// sqlx's derive stores a newtype as its inner type (not as this text) and reads an enum
/// with its own error message (not the type's).
macro_rules! text_column {
    ($type:ty) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $type
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $type
        where
            String: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                self.to_string().encode(buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $type
        where
            String: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<String as sqlx::Decode<DB>>::decode(value)?.parse::<Self>()?)
            }
        }
    };
}

pub(crate) use text_column;

/// A yes or no stored as the integer 0 or 1, read as a `bool` through
/// `#[sqlx(try_from = "Flag")]`: SQLite has no boolean, and sqlx's `Any` driver reads only
/// PostgreSQL's as one, so both catalogues keep an integer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flag(bool);

impl From<Flag> for bool {
    fn from(flag: Flag) -> Self {
        flag.0
    }
}

impl<DB: sqlx::Database> sqlx::Type<DB> for Flag
where
    i64: sqlx::Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <i64 as sqlx::Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <i64 as sqlx::Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for Flag
where
    i64: sqlx::Decode<'r, DB>,
{
    fn decode(
        value: <DB as sqlx::Database>::ValueRef<'r>,
    ) -> Result<Self, sqlx::error::BoxDynError> {
        match <i64 as sqlx::Decode<DB>>::decode(value)? {
            0 => Ok(Self(false)),
            1 => Ok(Self(true)),
            other => Err(format!("{other} is neither 0 nor 1").into()),
        }
    }
}

/// A JSON document stored as text, read as a `serde_json::Value` through
/// `#[sqlx(try_from = "JsonText")]` (sqlx's `Json` has no `Any` form): a row whose text is not
/// JSON is a damaged row, not a null.
#[derive(Debug, Clone)]
pub(crate) struct JsonText(serde_json::Value);

impl From<JsonText> for serde_json::Value {
    fn from(json: JsonText) -> Self {
        json.0
    }
}

impl std::fmt::Display for JsonText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for JsonText {
    type Err = serde_json::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        serde_json::from_str(text).map(Self)
    }
}

text_column!(JsonText);
