//! The `company` member of a lead body.

use serde::Deserialize;
use serde_json::Value;
use utoipa::{
    openapi::{schema::OneOfBuilder, ObjectBuilder, Schema, Type},
    ToSchema,
};

use super::Company;
use crate::domain::body::{Check, Field};

/// The `company` of a lead as posted.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CompanyInput {
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"^[^\u0000]*$")]
    pub name: Field,
    /// A domain name like `example.com` (stored lowercase).
    #[schema(value_type = Option<String>, max_length = 253, pattern = r"^[^\u0000]*$")]
    pub domain: Field,
    #[schema(value_type = Option<Value>, schema_with = company_size_schema)]
    pub size: Field,
    #[schema(value_type = Option<String>, max_length = 100, pattern = r"^[^\u0000]*$")]
    pub industry: Field,
    #[schema(value_type = Option<String>, max_length = 100, pattern = r"^[^\u0000]*$")]
    pub country: Field,
    #[schema(value_type = Option<String>, max_length = 100, pattern = r"^[^\u0000]*$")]
    pub region: Field,
}

/// OpenAPI schema of `company.size`, the values [`company_size`] accepts.
fn company_size_schema() -> Schema {
    let size = OneOfBuilder::new()
        .description(Some("Employee count (integer) or a band such as `51-200`."))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(50))
                .pattern(Some(r"^[^\u0000]*[^\s\u0000][^\u0000]*$")),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build();
    Schema::OneOf(size)
}

pub(super) fn parse_company(f: &mut Check, v: Field) -> Option<Company> {
    let (input, mut c) = f.child::<CompanyInput>("company", v)?;
    let CompanyInput {
        name,
        domain,
        size,
        industry,
        country,
        region,
    } = input;
    let company = Company {
        name: c.opt_str("name", name, 200),
        domain: c.opt_str("domain", domain, 253).map(|d| d.to_lowercase()),
        size: company_size(&mut c, size),
        industry: c.opt_str("industry", industry, 100),
        country: c.opt_str("country", country, 100),
        region: c.opt_str("region", region, 100),
    };
    if let Some(d) = &company.domain {
        if d.contains(char::is_whitespace) || !d.contains('.') || d.contains('/') {
            c.error("domain", "is not a domain name like example.com");
        }
    }
    f.finish_child(c);
    Some(company)
}

fn company_size(c: &mut Check, v: Field) -> Option<Value> {
    match v.get() {
        None => None,
        Some(Value::Number(n)) if n.is_u64() => Some(Value::Number(n.clone())),
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 50 && !s.contains('\0') => {
            Some(Value::String(s.trim().to_string()))
        }
        Some(_) => {
            c.error(
                "size",
                "must be a non-negative integer or a band like 51-200",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lead_input::NewLead;
    use serde_json::json;

    #[test]
    fn the_documented_company_size_is_what_the_parser_takes() {
        use utoipa::PartialSchema;
        let doc = serde_json::to_value(CompanyInput::schema()).unwrap();
        let kinds: Vec<&Value> = doc["properties"]["size"]["oneOf"]
            .as_array()
            .map(|a| a.iter().map(|s| &s["type"]).collect())
            .unwrap_or_default();
        assert_eq!(kinds, [&json!("integer"), &json!("string"), &json!("null")]);
        let company = |size: Value| json!({"source": "s", "external_id": "1", "lead_type": "t", "company": {"size": size}});
        for (size, ok) in [
            (json!(12), true),
            (json!("51-200"), true),
            (json!({}), false),
        ] {
            assert_eq!(
                NewLead::parse(
                    &company(size.clone()),
                    crate::domain::lead_input::tests::window()
                )
                .is_ok(),
                ok,
                "{size}"
            );
        }
    }
}
