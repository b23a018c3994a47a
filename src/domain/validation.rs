//! The error of one bad field, and checks shared by the request parsers (see
//! [`super::body`] for how bodies are read).

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::body::{Check, Field};
pub use super::slug::SlugKind;

/// One bad field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Dotted path of the field, e.g. `company.domain`.
    pub field: String,
    pub message: String,
}

/// Walks a JSON object of query parameters (for the listing, whose parameters have no body
/// struct), with the checks of [`Check`].
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    seen: Vec<&'static str>,
    check: Check,
}

impl<'a> Fields<'a> {
    /// Starts on the parameters; a value that is not an object is itself an error.
    pub fn root(value: &'a Value) -> Result<Self, Vec<FieldError>> {
        match value {
            Value::Object(obj) => Ok(Fields {
                obj,
                seen: Vec::new(),
                check: Check::with_unknown(Vec::new()),
            }),
            _ => Err(vec![FieldError {
                field: "body".into(),
                message: "must be a JSON object".into(),
            }]),
        }
    }

    pub fn error(&mut self, key: &str, message: impl Into<String>) {
        self.check.error(key, message);
    }

    /// An optional string, as [`Check::opt_str`].
    pub fn opt_str(&mut self, key: &'static str, max: usize) -> Option<String> {
        self.seen.push(key);
        let v = Field::from(self.obj.get(key));
        self.check.opt_str(key, v, max)
    }

    /// Reports keys that were never read, and returns all errors.
    pub fn finish(self) -> Vec<FieldError> {
        let mut unknown: Vec<String> = self
            .obj
            .keys()
            .filter(|k| !self.seen.contains(&k.as_str()))
            .cloned()
            .collect();
        unknown.sort();
        let mut check = self.check;
        check
            .errors
            .extend(unknown.into_iter().map(|field| FieldError {
                field,
                message: "is not a known field".into(),
            }));
        check.errors
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
        use crate::domain::body::{Check, Field};
        let body = json!({"a": true, "b": false, "c": "yes", "d": 1});
        let mut f = Check::with_unknown(Vec::new());
        let mut read = |key: &str| f.opt_bool(key, Field::from(body.get(key)));
        let read = [read("a"), read("b"), read("c"), read("d"), read("absent")];
        assert_eq!(read, [Some(true), Some(false), None, None, None]);
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
