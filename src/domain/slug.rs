//! Ids a person types or reads: in URLs, reports, CSV cells and history. Plain ASCII only, so
//! no control, whitespace, bidirectional or other invisible format character can make two ids
//! look alike or an id look like something else (`a\u{202e}b` once became a rep).

use utoipa::openapi::{
    schema::{ArrayBuilder, SchemaType},
    ObjectBuilder, Type,
};

/// Which rule an id follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlugKind {
    /// Names RevOps gives: sources, lead types, rejection codes, recycle reasons, channels,
    /// calendars. Lowercase, so `Demo` and `demo` are not two lead types.
    Key,
    /// Reps and queues, often a CRM's own ids: Salesforce's mixed-case `005…`, HubSpot's
    /// numbers, an email address.
    Id,
}

/// Longest id of either kind.
pub const MAX_LEN: usize = 64;
/// [`SlugKind::Key`] as a regular expression (the OpenAPI `pattern`).
pub const KEY_PATTERN: &str = r"^[a-z0-9][a-z0-9_.-]{0,63}$";
/// [`SlugKind::Id`] as a regular expression.
pub const ID_PATTERN: &str = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$";

impl SlugKind {
    fn allows(self, c: char) -> bool {
        match self {
            SlugKind::Key => c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c),
            SlugKind::Id => c.is_ascii_alphanumeric() || "_.@-".contains(c),
        }
    }

    /// Whether `s` follows the rule: 1 to 64 allowed characters, the first a letter or digit
    /// (so `.` and `..` are no ids in a URL path).
    pub fn matches(self, s: &str) -> bool {
        let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        first_ok && s.len() <= MAX_LEN && s.chars().all(|c| self.allows(c))
    }

    /// Why a value is refused (the message of the field's error).
    pub fn rule(self) -> &'static str {
        match self {
            SlugKind::Key => {
                "must be 1 to 64 lowercase letters, digits, `_`, `-` or `.`, starting with a \
                 letter or digit"
            }
            SlugKind::Id => {
                "must be 1 to 64 ASCII letters, digits, `_`, `-`, `.` or `@`, starting with a \
                 letter or digit"
            }
        }
    }

    /// `Ok(s)` when it follows the rule, else the message.
    pub fn parse(self, s: &str) -> Result<&str, &'static str> {
        if self.matches(s) {
            Ok(s)
        } else {
            Err(self.rule())
        }
    }

    fn pattern(self) -> &'static str {
        match self {
            SlugKind::Key => KEY_PATTERN,
            SlugKind::Id => ID_PATTERN,
        }
    }

    fn schema(self, nullable: bool) -> utoipa::openapi::Object {
        let ty = if nullable {
            SchemaType::from_iter([Type::String, Type::Null])
        } else {
            SchemaType::new(Type::String)
        };
        ObjectBuilder::new()
            .schema_type(ty)
            .min_length(Some(1))
            .max_length(Some(MAX_LEN))
            .pattern(Some(self.pattern()))
            .build()
    }
}

/// OpenAPI schema of a [`SlugKind::Key`] field (`#[schema(schema_with = key_schema)]`).
pub fn key_schema() -> utoipa::openapi::Object {
    SlugKind::Key.schema(false)
}

/// Of an optional [`SlugKind::Key`] field (null is absent).
pub fn opt_key_schema() -> utoipa::openapi::Object {
    SlugKind::Key.schema(true)
}

/// Of an optional [`SlugKind::Id`] field.
pub fn opt_id_schema() -> utoipa::openapi::Object {
    SlugKind::Id.schema(true)
}

/// Of an optional list of [`SlugKind::Id`]s.
pub fn opt_id_list_schema() -> utoipa::openapi::Array {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(SlugKind::Id.schema(false))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_crms_and_people_pass() {
        for id in [
            "rep-1",
            "emea",
            "12345678",
            "005Dn000002AbCdEFG",
            "sam.o@example.com",
        ] {
            assert!(SlugKind::Id.matches(id), "{id}");
        }
        for key in ["demo_request", "out_of_icp", "hubspot", "v1.2", "berlin"] {
            assert!(SlugKind::Key.matches(key), "{key}");
        }
    }

    #[test]
    fn control_bidi_whitespace_and_format_characters_are_refused() {
        for bad in [
            "a\u{202e}b",
            "a\u{200b}b",
            "a\u{2066}b",
            "a\u{feff}",
            "a b",
            "a\tb",
            "a\nb",
            "a\u{0}b",
            "a\u{7f}",
            "ré",
            "а",
            "",
            ".",
            "..",
            "-x",
            "a/b",
            "a?b",
        ] {
            assert!(!SlugKind::Id.matches(bad), "{bad:?}");
            assert!(!SlugKind::Key.matches(bad), "{bad:?}");
        }
        assert!(!SlugKind::Key.matches("Demo"));
        assert!(!SlugKind::Key.matches("a@b"));
        assert!(SlugKind::Id.matches(&"x".repeat(64)));
        assert!(!SlugKind::Id.matches(&"x".repeat(65)));
    }

    /// The OpenAPI patterns say what `matches` does.
    #[test]
    fn the_patterns_agree_with_the_rule() {
        let long = ["y".repeat(64), "y".repeat(65)];
        let samples = [
            "rep-1",
            "Rep_1",
            "a@b.c",
            "",
            ".",
            "_x",
            "a b",
            "a\u{202e}b",
            "Demo",
            "demo",
            "x-",
            "9",
            "é",
            &long[0],
            &long[1],
        ];
        for kind in [SlugKind::Key, SlugKind::Id] {
            let re = regex::Regex::new(kind.pattern()).unwrap();
            for s in samples {
                assert_eq!(re.is_match(s), kind.matches(s), "{kind:?} {s:?}");
            }
        }
    }
}
