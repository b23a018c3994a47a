//! Request bodies read from the same structs that document them.
//!
//! Each body is one struct deriving `Deserialize` and `ToSchema` (or `IntoParams` for a query)
//! whose members are all [`Field`]s: a `Field` accepts any JSON value, so deserializing never
//! stops at the first bad member, and its documented type is given with
//! `#[schema(value_type = T)]` (a member whose type is not written down does not compile). A
//! `parse` function next to the struct then destructures it, naming every member (a member
//! added to the struct but not read there does not compile: E0027), and checks each one with a
//! [`Check`], which collects every problem so that a 422 names all bad fields at once. Members
//! the struct does not declare are reported by [`Check::finish`] as `is not a known field`, so
//! the set of documented members and the set of accepted ones are the same list.
//!
//! ```
//! use salgate::domain::body::{Check, Field};
//! use salgate::domain::validation::FieldError;
//!
//! #[derive(serde::Deserialize)]
//! struct NoteInput {
//!     text: Field,
//! }
//!
//! fn parse(body: &serde_json::Value) -> Result<String, Vec<FieldError>> {
//!     let (NoteInput { text }, mut c) = Check::read(body)?;
//!     let text = c.req_str("text", text, 10);
//!     c.done(text)
//! }
//!
//! let errors = parse(&serde_json::json!({"text": 1, "colour": "red"})).unwrap_err();
//! assert_eq!(errors.len(), 2);
//! ```
//!
//! The same body with a member its `parse` forgets does not build:
//!
//! ```compile_fail,E0027
//! use salgate::domain::body::{Check, Field};
//! use salgate::domain::validation::FieldError;
//!
//! #[derive(serde::Deserialize)]
//! struct NoteInput {
//!     text: Field,
//!     pinned: Field,
//! }
//!
//! fn parse(body: &serde_json::Value) -> Result<String, Vec<FieldError>> {
//!     let (NoteInput { text }, mut c) = Check::read(body)?;
//!     let text = c.req_str("text", text, 10);
//!     c.done(text)
//! }
//! ```

use serde::{de::DeserializeOwned, Deserialize, Deserializer};
use serde_json::Value;

use super::slug::{SlugKind, MAX_LEN};
use super::validation::FieldError;

/// One member of a body as it was sent: any JSON value, `null` read as absent. Checked (and
/// turned into its type) by the body's `parse`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Field(Option<Value>);

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through `Option`, so that a missing member is absent rather than an error.
        Option::<Value>::deserialize(d).map(Field)
    }
}

impl Field {
    pub fn get(&self) -> Option<&Value> {
        self.0.as_ref()
    }

    /// The value, `None` when absent or `null`.
    pub fn into_value(self) -> Option<Value> {
        self.0
    }
}

impl From<Option<&Value>> for Field {
    fn from(v: Option<&Value>) -> Self {
        Field(v.filter(|v| !v.is_null()).cloned())
    }
}

/// The member names of a body struct, as its `Deserialize` knows them.
pub fn member_names<T: Deserialize<'static>>() -> &'static [&'static str] {
    super::members::of::<T>()
}

/// Collects the problems of one body (or of one nested object of it).
#[derive(Debug)]
pub struct Check {
    prefix: String,
    unknown: Vec<String>,
    pub errors: Vec<FieldError>,
}

impl Check {
    /// Reads `value` into the body struct `T`; a value that is not an object is itself an
    /// error. Members `T` does not declare are remembered for [`Check::finish`].
    pub fn read<T: DeserializeOwned>(value: &Value) -> Result<(T, Check), Vec<FieldError>> {
        Check::read_at(String::new(), value).map_err(|e| vec![e])
    }

    fn read_at<T: DeserializeOwned>(
        prefix: String,
        value: &Value,
    ) -> Result<(T, Check), FieldError> {
        let fail = |message: String| FieldError {
            field: if prefix.is_empty() {
                "body".into()
            } else {
                prefix.clone()
            },
            message,
        };
        let Value::Object(obj) = value else {
            let what = if prefix.is_empty() {
                "a JSON object"
            } else {
                "an object"
            };
            return Err(fail(format!("must be {what}")));
        };
        let known = member_names::<T>();
        let mut unknown: Vec<String> = obj
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        unknown.sort();
        // Every member is a `Field`, which takes any value: only a non-object fails here.
        let body = T::deserialize(value).map_err(|e| fail(e.to_string()))?;
        let check = Check {
            prefix,
            unknown,
            errors: Vec::new(),
        };
        Ok((body, check))
    }

    /// A check of a body whose members were read some other way (`unknown`: the keys sent
    /// that the body struct does not declare).
    pub fn with_unknown(unknown: Vec<String>) -> Check {
        Check {
            prefix: String::new(),
            unknown,
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

    /// An optional string, trimmed, at most `max` characters; empty counts as absent.
    pub fn opt_str(&mut self, key: &str, v: Field, max: usize) -> Option<String> {
        match v.get() {
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

    /// `v`, or the error `is required` when it is absent and has no error of its own.
    fn required<T>(&mut self, key: &str, before: usize, v: Option<T>) -> Option<T> {
        if v.is_none() && self.errors.len() == before {
            self.error(key, "is required");
        }
        v
    }

    /// A required, non-empty string.
    pub fn req_str(&mut self, key: &str, v: Field, max: usize) -> Option<String> {
        let before = self.errors.len();
        let v = self.opt_str(key, v, max);
        self.required(key, before, v)
    }

    /// An optional id following `kind`'s rule (see [`SlugKind`]).
    pub fn opt_slug(&mut self, key: &str, v: Field, kind: SlugKind) -> Option<String> {
        let v = self.opt_str(key, v, MAX_LEN)?;
        match kind.parse(&v) {
            Ok(_) => Some(v),
            Err(message) => {
                self.error(key, message);
                None
            }
        }
    }

    /// A required id following `kind`'s rule.
    pub fn req_slug(&mut self, key: &str, v: Field, kind: SlugKind) -> Option<String> {
        let before = self.errors.len();
        let v = self.opt_slug(key, v, kind);
        self.required(key, before, v)
    }

    pub fn opt_bool(&mut self, key: &str, v: Field) -> Option<bool> {
        match v.get() {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.error(key, "must be true or false");
                None
            }
        }
    }

    pub fn opt_f64(&mut self, key: &str, v: Field) -> Option<f64> {
        match v.get() {
            None => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(_) => {
                self.error(key, "must be a number");
                None
            }
        }
    }

    /// A nested object read into its own body struct `T`, checked with its own `Check` whose
    /// problems are merged by [`Check::finish_child`].
    pub fn child<T: DeserializeOwned>(&mut self, key: &str, v: Field) -> Option<(T, Check)> {
        let value = v.get()?;
        match Check::read_at(self.path(key), value) {
            Ok(read) => Some(read),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    pub fn finish_child(&mut self, child: Check) {
        self.errors.extend(child.finish());
    }

    /// Reports the members the body struct does not declare, and returns all problems.
    pub fn finish(mut self) -> Vec<FieldError> {
        for k in std::mem::take(&mut self.unknown) {
            let field = self.path(&k);
            self.errors.push(FieldError {
                field,
                message: "is not a known field".into(),
            });
        }
        self.errors
    }

    /// `parsed` when the body had no problem (and `parsed` is complete), else every problem.
    pub fn done<T>(self, parsed: Option<T>) -> Result<T, Vec<FieldError>> {
        let errors = self.finish();
        match parsed {
            Some(p) if errors.is_empty() => Ok(p),
            _ => Err(errors),
        }
    }
}
