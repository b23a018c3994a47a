//! Reading untyped JSON into domain types while collecting every problem, so that a 422 names
//! all bad fields at once (serde stops at the first).

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

pub use super::slug::SlugKind;
use super::slug::MAX_LEN;

/// One bad field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Dotted path of the field, e.g. `company.domain`.
    pub field: String,
    pub message: String,
}

/// Walks one JSON object, remembering which keys were read so unknown ones can be reported.
pub struct Fields<'a> {
    prefix: String,
    obj: &'a Map<String, Value>,
    seen: Vec<&'static str>,
    pub errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    /// Starts on the request body; a body that is not an object is itself an error.
    pub fn root(value: &'a Value) -> Result<Self, Vec<FieldError>> {
        match value {
            Value::Object(obj) => Ok(Fields::new(String::new(), obj)),
            _ => Err(vec![FieldError {
                field: "body".into(),
                message: "must be a JSON object".into(),
            }]),
        }
    }

    fn new(prefix: String, obj: &'a Map<String, Value>) -> Self {
        Fields {
            prefix,
            obj,
            seen: Vec::new(),
            errors: Vec::new(),
        }
    }

    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    pub fn error(&mut self, key: &str, message: impl Into<String>) {
        let field = self.path(key);
        self.errors.push(FieldError {
            field,
            message: message.into(),
        });
    }

    /// The raw value of `key`, treating JSON `null` as absent.
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.seen.push(key);
        self.obj.get(key).filter(|v| !v.is_null())
    }

    /// An optional string, trimmed, at most `max` characters; empty counts as absent.
    pub fn opt_str(&mut self, key: &'static str, max: usize) -> Option<String> {
        match self.raw(key) {
            None => None,
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.chars().count() > max {
                    self.error(key, format!("must be at most {max} characters"));
                    None
                } else if s.contains('\0') {
                    // PostgreSQL text cannot hold NUL; refuse it here rather than fail there.
                    self.error(key, "must not contain NUL characters");
                    None
                } else if s.is_empty() {
                    None
                } else {
                    Some(s.to_string())
                }
            }
            Some(_) => {
                self.error(key, "must be a string");
                None
            }
        }
    }

    /// A required, non-empty string.
    pub fn req_str(&mut self, key: &'static str, max: usize) -> Option<String> {
        let before = self.errors.len();
        let v = self.opt_str(key, max);
        if v.is_none() && self.errors.len() == before {
            self.error(key, "is required");
        }
        v
    }

    /// An optional id following `kind`'s rule (see [`SlugKind`]).
    pub fn opt_slug(&mut self, key: &'static str, kind: SlugKind) -> Option<String> {
        let v = self.opt_str(key, MAX_LEN)?;
        match kind.parse(&v) {
            Ok(_) => Some(v),
            Err(message) => {
                self.error(key, message);
                None
            }
        }
    }

    /// A required id following `kind`'s rule.
    pub fn req_slug(&mut self, key: &'static str, kind: SlugKind) -> Option<String> {
        let before = self.errors.len();
        let v = self.opt_slug(key, kind);
        if v.is_none() && self.errors.len() == before {
            self.error(key, "is required");
        }
        v
    }

    pub fn opt_bool(&mut self, key: &'static str) -> Option<bool> {
        match self.raw(key) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.error(key, "must be true or false");
                None
            }
        }
    }

    pub fn opt_f64(&mut self, key: &'static str) -> Option<f64> {
        match self.raw(key) {
            None => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(_) => {
                self.error(key, "must be a number");
                None
            }
        }
    }

    /// A nested object, walked with its own `Fields` whose errors are merged by `finish_child`.
    pub fn child(&mut self, key: &'static str) -> Option<Fields<'a>> {
        match self.raw(key) {
            None => None,
            Some(Value::Object(obj)) => Some(Fields::new(self.path(key), obj)),
            Some(_) => {
                self.error(key, "must be an object");
                None
            }
        }
    }

    pub fn finish_child(&mut self, child: Fields<'a>) {
        self.errors.extend(child.finish());
    }

    /// Reports keys that were never read, and returns all errors.
    pub fn finish(mut self) -> Vec<FieldError> {
        let mut unknown: Vec<&String> = self
            .obj
            .keys()
            .filter(|k| !self.seen.contains(&k.as_str()))
            .collect();
        unknown.sort();
        for k in unknown {
            let field = self.path(k);
            self.errors.push(FieldError {
                field,
                message: "is not a known field".into(),
            });
        }
        self.errors
    }
}

/// A lone id (a path segment, say) following `kind`'s rule; the error names `field`.
pub fn check_slug(field: &str, value: &str, kind: SlugKind) -> Result<(), FieldError> {
    kind.parse(value).map(|_| ()).map_err(|message| FieldError {
        field: field.into(),
        message: message.into(),
    })
}

/// Whether any string (or key) inside `v` contains a NUL character, which PostgreSQL's text
/// and jsonb types cannot store.
pub fn contains_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(contains_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_boolean_field_is_true_false_or_absent() {
        let body = json!({"a": true, "b": false, "c": "yes", "d": 1});
        let mut f = Fields::root(&body).unwrap();
        let read = [
            f.opt_bool("a"),
            f.opt_bool("b"),
            f.opt_bool("c"),
            f.opt_bool("d"),
        ];
        assert_eq!(read, [Some(true), Some(false), None, None]);
        assert_eq!(f.opt_bool("absent"), None);
        let errors = f.finish();
        let named: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                ("c", "must be true or false"),
                ("d", "must be true or false")
            ]
        );
    }

    #[test]
    fn a_lone_id_is_checked_against_its_kinds_rule_naming_the_field() {
        assert_eq!(check_slug("id", "emea-1", SlugKind::Key), Ok(()));
        assert_eq!(check_slug("id", "005Ab@x.com", SlugKind::Id), Ok(()));
        for (value, kind) in [
            ("EMEA", SlugKind::Key),
            (".", SlugKind::Id),
            ("", SlugKind::Id),
        ] {
            let e = check_slug("lead_type", value, kind).unwrap_err();
            assert_eq!(
                (e.field.as_str(), e.message.as_str()),
                ("lead_type", kind.rule())
            );
        }
    }
}
