//! The member names of a struct, read from its derived `Deserialize`: it hands them to the
//! deserializer's `deserialize_struct`, which this one records and then stops.

use std::fmt;

use serde::de::{self, Deserialize, Visitor};

/// Why the recording deserializer stopped: it never produces a value.
#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("member names recorded")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop
    }
}

struct Recorder<'a>(&'a mut &'static [&'static str]);

impl<'de> de::Deserializer<'de> for Recorder<'_> {
    type Error = Stop;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = fields;
        Err(Stop)
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The names `T`'s `Deserialize` accepts as members (empty when `T` is not a struct).
pub fn of<T: Deserialize<'static>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // Always `Err(Stop)`: the recorder never yields a value, it only notes the names.
    let _stopped = T::deserialize(Recorder(&mut fields));
    fields
}

#[cfg(test)]
mod tests {
    use crate::domain::lead_input::CompanyInput;

    #[test]
    fn the_names_are_those_serde_reads() {
        assert_eq!(
            super::of::<CompanyInput>(),
            ["name", "domain", "size", "industry", "country", "region"]
        );
        assert!(super::of::<u8>().is_empty());
    }
}
