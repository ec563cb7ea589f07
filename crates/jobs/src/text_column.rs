//! Types stored as text columns: written with `Display`, read back with `FromStr` (whose error
//! says what is wrong with the text, and ends up in the catalogue's "damaged row" error).

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
