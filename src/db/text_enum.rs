//! The domain's enums as the text columns that hold them (`leads.state`, `queues.strategy`, `queues.claim_order`,
//! `api_keys.role`). Each is encoded and decoded through its own `as_str`/`parse`, the one
//! mapping between its values and their text, so a value outside the enum fails the query
//! (`sqlx::Error::ColumnDecode`) instead of turning into some default.

use sqlx::{
    encode::IsNull,
    error::BoxDynError,
    postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueRef},
    Decode, Encode, Postgres, Type,
};

use crate::domain::{claim_order::ClaimOrder, routing::Strategy, LeadState, Role};

macro_rules! text_enum {
    ($t:ty, $what:literal) => {
        impl Type<Postgres> for $t {
            fn type_info() -> PgTypeInfo {
                <str as Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <str as Type<Postgres>>::compatible(ty)
            }
        }

        impl PgHasArrayType for $t {
            fn array_type_info() -> PgTypeInfo {
                <&str as PgHasArrayType>::array_type_info()
            }
        }

        impl Encode<'_, Postgres> for $t {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&str as Encode<Postgres>>::encode(self.as_str(), buf)
            }
        }

        impl Decode<'_, Postgres> for $t {
            fn decode(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
                let text = <&str as Decode<Postgres>>::decode(value)?;
                <$t>::parse(text).ok_or_else(|| format!("unknown {} `{text}`", $what).into())
            }
        }
    };
}

text_enum!(LeadState, "lead state");
text_enum!(Strategy, "queue strategy");
text_enum!(ClaimOrder, "claim order");
text_enum!(Role, "role");
