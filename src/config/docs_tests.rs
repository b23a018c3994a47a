//! The configuration table of `docs/operations.md` against `config/default.toml` and the
//! fields [`Raw`] reads: every setting documented, none documented that is not read, and the
//! documented defaults equal to the compiled-in ones.

use std::collections::BTreeMap;

use serde::de::{self, Visitor};

use super::*;

const OPERATIONS: &str = include_str!("../../docs/operations.md");

/// The table's rows: each variable with the default written next to it.
fn documented() -> Vec<(String, String)> {
    let section = OPERATIONS
        .split("\n## Configuration")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docs/operations.md has a Configuration section");
    let mut rows = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        let names: Vec<&str> = cells[0].trim_start_matches("| ").split(", ").collect();
        let defaults: Vec<&str> = cells[1].split(", ").collect();
        assert!(
            names.len() == defaults.len() || defaults.len() == 1,
            "{} variables but {} defaults in: {line}",
            names.len(),
            defaults.len()
        );
        for (i, name) in names.iter().enumerate() {
            let default = defaults.get(i).unwrap_or(&defaults[0]);
            rows.push((name.trim_matches('`').to_string(), default.to_string()));
        }
    }
    rows
}

/// The key of `Raw` a variable sets.
fn key_of(variable: &str) -> String {
    match variable {
        "DATABASE_URL" => "database_url".into(),
        "DATABASE_READ_URL" => "database_read_url".into(),
        v => v.trim_start_matches("SALGATE_").to_lowercase(),
    }
}

/// Whether the table's default (`` `value` ``, `unset` or `empty`) says what the file holds.
fn same_default(documented: &str, compiled: Option<&serde_json::Value>) -> bool {
    let value = documented
        .strip_prefix('`')
        .and_then(|v| v.strip_suffix('`'));
    match (compiled, value) {
        (None, None) => documented == "unset",
        (Some(serde_json::Value::String(s)), None) => s.is_empty() && documented == "empty",
        (Some(serde_json::Value::String(s)), Some(v)) => s == v,
        (Some(serde_json::Value::Bool(b)), Some(v)) => b.to_string() == v,
        (Some(serde_json::Value::Number(n)), Some(v)) => {
            n.as_f64().is_some() && n.as_f64() == v.parse::<f64>().ok()
        }
        _ => false,
    }
}

#[test]
fn the_configuration_table_matches_the_defaults_and_the_settings() {
    let fields = raw_fields();
    let compiled: BTreeMap<String, serde_json::Value> = Figment::from(Toml::string(DEFAULTS))
        .extract()
        .expect("config/default.toml parses");
    let rows = documented();
    let mut wrong = Vec::new();
    for (variable, default) in &rows {
        let key = key_of(variable);
        if NOT_SETTINGS.contains(&key.to_uppercase().as_str()) {
            continue;
        }
        if !fields.contains(&key.as_str()) {
            wrong.push(format!("{variable} is documented but no setting reads it"));
        } else if !same_default(default, compiled.get(&key)) {
            let file = compiled.get(&key).map_or("unset".into(), |v| v.to_string());
            wrong.push(format!(
                "{variable}: the table says {default}, config/default.toml {file}"
            ));
        }
    }
    let documented_keys: Vec<String> = rows.iter().map(|(v, _)| key_of(v)).collect();
    for field in fields {
        if !documented_keys.iter().any(|k| k == field) {
            wrong.push(format!("{} is not in the table", env_name(field)));
        }
    }
    for key in compiled.keys() {
        if !fields.contains(&key.as_str()) {
            wrong.push(format!(
                "config/default.toml sets {key}, which no setting reads"
            ));
        }
    }
    for name in NOT_SETTINGS.iter().filter(|n| **n != "CONFIG") {
        if !documented_keys.contains(&name.to_lowercase()) {
            wrong.push(format!("SALGATE_{name} is not in the table"));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/operations.md:\n{}",
        wrong.join("\n")
    );
}

/// The fields of [`Raw`], as its derived `Deserialize` announces them.
fn raw_fields() -> &'static [&'static str] {
    let mut fields = None;
    let _ = Raw::deserialize(FieldNames(&mut fields));
    fields.expect("Raw is deserialized as a struct")
}

/// A deserializer that only records the field names of the struct asked of it.
struct FieldNames<'a>(&'a mut Option<&'static [&'static str]>);

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("only field names are read")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> de::Deserializer<'de> for FieldNames<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = Some(fields);
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}
