//! The cap on one lead's serialized input, and `attributes` kept as compact text: a parsed
//! JSON tree costs ~10x its bytes, and the database only stores it.

use std::collections::BTreeMap;

use serde::{ser::SerializeMap, Serialize, Serializer};
use serde_json::{value::RawValue, Map, Value};

use super::validation::FieldError;

/// Most bytes of one lead's JSON without insignificant whitespace, `attributes` included
/// (README "Limits"; the OpenAPI description of `attributes`).
pub const MAX_LEAD_BYTES: usize = 32 * 1024;

/// A lead's `attributes` object as compact JSON text (`None`: `{}`).
#[derive(Debug, Clone, Default)]
pub struct Attributes(Option<Box<RawValue>>);

impl Attributes {
    /// `None` only if the map cannot be serialized, which a map of JSON values always can.
    pub fn from_map(map: &Map<String, Value>) -> Option<Attributes> {
        if map.is_empty() {
            return Some(Attributes(None));
        }
        serde_json::value::to_raw_value(map)
            .ok()
            .map(|r| Attributes(Some(r)))
    }

    pub fn is_empty(&self) -> bool {
        self.get() == "{}"
    }

    pub fn get(&self) -> &str {
        self.0.as_ref().map_or("{}", |r| r.get())
    }
}

impl PartialEq for Attributes {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(r) => r.serialize(s),
            None => s.serialize_map(Some(0))?.end(),
        }
    }
}

/// `Err` naming the largest member when `body` serializes to more than [`MAX_LEAD_BYTES`].
pub fn check_value(body: &Value) -> Result<(), Vec<FieldError>> {
    let size = compact_len(body);
    if size <= MAX_LEAD_BYTES {
        return Ok(());
    }
    let largest = match body {
        Value::Object(o) => o
            .iter()
            .max_by_key(|(k, v)| k.len() + compact_len(v))
            .map(|(k, _)| k.as_str()),
        _ => None,
    };
    Err(vec![too_large(largest, size)])
}

/// Like [`check_value`] on the text of one item of a batch, without building its tree (an item
/// of a 16 MiB batch may be 16 MiB).
pub fn check_raw(raw: &RawValue) -> Result<(), Vec<FieldError>> {
    let text = raw.get();
    if text.len() <= MAX_LEAD_BYTES {
        return Ok(());
    }
    let size = minified_len(text);
    if size <= MAX_LEAD_BYTES {
        return Ok(());
    }
    let members: Option<BTreeMap<String, &RawValue>> = serde_json::from_str(text).ok();
    let largest = members.as_ref().and_then(|m| {
        m.iter()
            .max_by_key(|(k, v)| k.len() + minified_len(v.get()))
            .map(|(k, _)| k.as_str())
    });
    Err(vec![too_large(largest, size)])
}

fn too_large(largest: Option<&str>, size: usize) -> FieldError {
    FieldError {
        field: largest.unwrap_or("body").into(),
        message: format!(
            "makes the lead {size} bytes of JSON; one lead may have at most {MAX_LEAD_BYTES} \
             bytes (32 KiB), attributes included"
        ),
    }
}

/// Bytes of `v` serialized compactly, counted without writing them anywhere.
fn compact_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // Writing a `Value` to a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// Bytes of valid JSON text without the whitespace outside strings.
fn minified_len(text: &str) -> usize {
    let (mut n, mut in_string, mut escaped) = (0, false, false);
    for b in text.bytes() {
        if in_string {
            n += 1;
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if !b.is_ascii_whitespace() {
            n += 1;
            in_string = b == b'"';
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_lead_over_32_kib_names_its_largest_field() {
        let small = json!({"source": "x", "attributes": {"a": "b".repeat(30_000)}});
        assert!(check_value(&small).is_ok());
        let big = json!({"source": "x", "attributes": {"a": "b".repeat(MAX_LEAD_BYTES)}});
        let e = check_value(&big).unwrap_err();
        assert_eq!(e[0].field, "attributes");
        let text = serde_json::to_string_pretty(&big).unwrap();
        let raw: Box<RawValue> = serde_json::from_str(&text).unwrap();
        assert_eq!(check_raw(&raw).unwrap_err(), e);
    }

    #[test]
    fn whitespace_does_not_count() {
        let v = json!({"attributes": {"a": " \" {} ".repeat(4000)}});
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        assert_eq!(minified_len(&pretty), compact_len(&v));
        let spaced = format!("{{{}\"attributes\": {{}} }}", " ".repeat(MAX_LEAD_BYTES));
        let raw: Box<RawValue> = serde_json::from_str(&spaced).unwrap();
        assert!(check_raw(&raw).is_ok());
    }
}
