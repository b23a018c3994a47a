//! A lead as a CRM posts it, parsed into a `NewLead` that is valid by construction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

pub use super::routed_at::{RoutedAtWindow, MAX_ROUTED_AT_SKEW};
mod company;
use super::slug::{key_schema, opt_id_schema};
use super::{
    body::{Check, Field},
    lead_size::{self, Attributes},
    validation::{contains_nul, FieldError, SlugKind},
};
use company::parse_company;
pub use company::CompanyInput;

/// The company a lead works for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Company {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Employee count (integer) or a band such as `51-200`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub size: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

// Read by `NewLead::parse` (see `super::body`).
/// The request body of `POST /v1/leads`. Unknown fields are refused: put custom data in
/// `attributes`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LeadInput {
    /// CRM or system the lead comes from, e.g. `hubspot`. Lowercase letters, digits, `_-.`.
    #[schema(value_type = String, schema_with = key_schema)]
    pub source: Field,
    /// The lead's id in that source (string or integer).
    #[schema(value_type = String, max_length = 255, pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$")]
    pub external_id: Field,
    /// e.g. `demo_request`, `pricing_request`, `content_download`; selects the SLA policy.
    #[schema(value_type = String, schema_with = key_schema)]
    pub lead_type: Field,
    #[schema(value_type = Option<String>, format = Email, max_length = 320)]
    pub email: Field,
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"^[^\u0000]*$")]
    pub first_name: Field,
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"^[^\u0000]*$")]
    pub last_name: Field,
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"^[^\u0000]*$")]
    pub title: Field,
    #[schema(value_type = Option<String>, max_length = 50, pattern = r"^[^\u0000]*$")]
    pub phone: Field,
    #[schema(value_type = Option<CompanyInput>)]
    pub company: Field,
    #[schema(value_type = Option<f64>)]
    pub score: Field,
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"^[^\u0000]*$")]
    pub campaign: Field,
    #[schema(value_type = Option<String>, max_length = 100, pattern = r"^[^\u0000]*$")]
    pub channel: Field,
    /// Queue the lead is routed to.
    #[schema(value_type = Option<String>, schema_with = opt_id_schema)]
    pub queue: Field,
    /// Rep id chosen by the CRM (e.g. its owner id); wins over the queue's strategy.
    #[schema(value_type = Option<String>, schema_with = opt_id_schema)]
    pub owner: Field,
    /// When the CRM routed the lead (default now; at most 5 minutes in the future, not older
    /// than `SALGATE_ROUTED_AT_MAX_AGE`, default 400 days).
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub routed_at: Field,
    /// Free-form JSON object kept with the lead. The whole lead, attributes included, may be at
    /// most 32 KiB of JSON (whitespace outside strings not counted); over it is a 422 naming
    /// the largest field.
    #[schema(value_type = Option<Object>)]
    pub attributes: Field,
}

/// A lead that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLead {
    pub source: String,
    pub external_id: String,
    pub lead_type: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub company: Option<Company>,
    pub score: Option<f64>,
    pub campaign: Option<String>,
    pub channel: Option<String>,
    pub queue: Option<String>,
    pub owner: Option<String>,
    pub routed_at: DateTime<Utc>,
    pub attributes: Attributes,
}

impl NewLead {
    /// Parses a request body; `window` holds the injected clock reading (the default
    /// `routed_at`) and the accepted `routed_at` times.
    pub fn parse(body: &Value, window: RoutedAtWindow) -> Result<NewLead, Vec<FieldError>> {
        let (input, mut f) = Check::read::<LeadInput>(body)?;
        lead_size::check_value(body)?;
        let lead = NewLead::check(&mut f, input, window);
        f.done(lead)
    }

    /// Every member of `input` checked in order, problems in `f`; `None` when one is bad.
    fn check(f: &mut Check, input: LeadInput, window: RoutedAtWindow) -> Option<NewLead> {
        let LeadInput {
            source,
            external_id,
            lead_type,
            email,
            first_name,
            last_name,
            title,
            phone,
            company,
            score,
            campaign,
            channel,
            queue,
            owner,
            routed_at,
            attributes,
        } = input;
        let source = f.req_slug("source", source, SlugKind::Key);
        let external_id = parse_external_id(f, external_id);
        let lead_type = f.req_slug("lead_type", lead_type, SlugKind::Key);
        let email = f.opt_str("email", email, 320).map(|e| e.to_lowercase());
        if email.as_deref().is_some_and(|e| !looks_like_email(e)) {
            f.error("email", "is not an email address");
        }
        let first_name = f.opt_str("first_name", first_name, 200);
        let last_name = f.opt_str("last_name", last_name, 200);
        let title = f.opt_str("title", title, 200);
        let phone = f.opt_str("phone", phone, 50);
        let company = parse_company(f, company);
        let score = f.opt_f64("score", score);
        let campaign = f.opt_str("campaign", campaign, 200);
        let channel = f.opt_str("channel", channel, 100);
        let queue = f.opt_slug("queue", queue, SlugKind::Id);
        let owner = f.opt_slug("owner", owner, SlugKind::Id);
        let routed_at = parse_routed_at(f, routed_at, window);
        let attributes = parse_attributes(f, attributes);
        Some(NewLead {
            source: source?,
            external_id: external_id?,
            lead_type: lead_type?,
            email,
            first_name,
            last_name,
            title,
            phone,
            company,
            score,
            campaign,
            channel,
            queue,
            owner,
            routed_at: routed_at?,
            attributes: attributes?,
        })
    }
}

fn parse_external_id(f: &mut Check, v: Field) -> Option<String> {
    match v.get() {
        // CRMs such as HubSpot use numeric ids; keep them as their decimal text.
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        Some(Value::Number(_)) => {
            f.error("external_id", "must be a string or an integer");
            None
        }
        _ => f.req_str("external_id", v, 255),
    }
}

fn parse_routed_at(f: &mut Check, v: Field, window: RoutedAtWindow) -> Option<DateTime<Utc>> {
    match v.get() {
        None => Some(window.now),
        Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => {
                let t = t.with_timezone(&Utc);
                window
                    .check(t)
                    .map_err(|message| f.error("routed_at", message))
                    .ok()
                    .map(|()| t)
            }
            Err(_) => {
                f.error(
                    "routed_at",
                    "must be an RFC 3339 time like 2026-01-31T09:00:00Z",
                );
                None
            }
        },
        Some(_) => {
            f.error("routed_at", "must be an RFC 3339 time string");
            None
        }
    }
}

fn parse_attributes(f: &mut Check, v: Field) -> Option<Attributes> {
    match v.get() {
        None => Some(Attributes::default()),
        Some(v @ Value::Object(_)) if contains_nul(v) => {
            f.error("attributes", "must not contain NUL characters");
            None
        }
        Some(Value::Object(m)) => {
            let a = Attributes::from_map(m);
            if a.is_none() {
                f.error("attributes", "could not be serialized");
            }
            a
        }
        Some(_) => {
            f.error("attributes", "must be a JSON object");
            None
        }
    }
}

fn looks_like_email(e: &str) -> bool {
    let mut parts = e.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.contains(char::is_whitespace)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-03-02T10:00:00Z".parse().unwrap()
    }

    pub(super) fn window() -> RoutedAtWindow {
        RoutedAtWindow::new(now(), crate::domain::routed_at::DEFAULT_MAX_AGE)
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_minimal_lead_parses_and_defaults_routed_at_to_now() {
        let lead = NewLead::parse(
            &json!({"source": "hubspot", "external_id": 42, "lead_type": "demo_request"}),
            window(),
        )
        .unwrap();
        assert_eq!(lead.external_id, "42");
        assert_eq!(lead.routed_at, now());
        assert!(lead.attributes.is_empty());
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let errors = NewLead::parse(
            &json!({
                "source": "Hub Spot", "lead_type": "", "email": "nope",
                "company": {"domain": "not a domain", "size": -3, "ceo": "x"},
                "score": "high", "routed_at": "yesterday", "attributes": [1], "colour": "red"
            }),
            window(),
        )
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "source",
                "external_id",
                "lead_type",
                "email",
                "company.size",
                "company.domain",
                "company.ceo",
                "score",
                "routed_at",
                "attributes",
                "colour"
            ]
        );
    }

    #[test]
    fn routed_at_may_not_be_more_than_five_minutes_ahead() {
        let body =
            |t: &str| json!({"source": "s", "external_id": "1", "lead_type": "t", "routed_at": t});
        assert!(NewLead::parse(&body("2026-03-02T10:05:00Z"), window()).is_ok());
        let e = NewLead::parse(&body("2026-03-02T10:05:01Z"), window()).unwrap_err();
        assert_eq!(fields(&e), ["routed_at"]);
        let past = NewLead::parse(&body("2026-03-01T12:00:00+02:00"), window()).unwrap();
        assert_eq!(past.routed_at.to_rfc3339(), "2026-03-01T10:00:00+00:00");
        // Issue: `0000-01-01` was accepted (a cycle routed before 1970, breached at once).
        for old in [
            "0000-01-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "2025-01-26T09:59:59Z",
        ] {
            let e = NewLead::parse(&body(old), window()).unwrap_err();
            assert_eq!(fields(&e), ["routed_at"], "{old}");
        }
        assert!(NewLead::parse(&body("2025-01-26T10:00:00Z"), window()).is_ok());
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        assert_eq!(
            fields(&NewLead::parse(&json!([1, 2]), window()).unwrap_err()),
            ["body"]
        );
    }

    fn with(extra: Value) -> Result<NewLead, Vec<FieldError>> {
        let mut body = json!({"source": "s", "external_id": "1", "lead_type": "t"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        NewLead::parse(&body, window())
    }

    #[test]
    fn a_company_size_is_a_count_or_a_short_band() {
        let size = |v: Value| with(json!({"company": {"size": v}}));
        let ok = |v: Value| size(v).unwrap().company.unwrap().size.unwrap();
        assert_eq!(ok(json!(40)), json!(40));
        assert_eq!(ok(json!(" 51-200 ")), json!("51-200"), "trimmed");
        assert_eq!(ok(json!("x".repeat(50))), json!("x".repeat(50)));
        for bad in [
            json!(""),
            json!("   "),
            json!("x".repeat(51)),
            json!("51\u{0}200"),
            json!(-3),
            json!(1.5),
        ] {
            let e = size(bad.clone()).unwrap_err();
            assert_eq!(fields(&e), ["company.size"], "{bad}");
        }
    }

    #[test]
    fn an_email_has_one_at_a_local_part_and_a_dotted_domain() {
        for good in ["ada@example.com", "a.b+c@mail.example.co.uk"] {
            assert!(looks_like_email(good), "{good}");
        }
        for bad in [
            "nope",
            "@example.com",
            "ada@",
            "ada@localhost",
            ".@.",
            "ada@.example.com",
            "ada@example.com.",
            "a da@example.com",
            "ada@example.com ",
            "ada@b@example.com",
        ] {
            assert!(!looks_like_email(bad), "{bad}");
        }
        let e = with(json!({"email": "ada@localhost"})).unwrap_err();
        assert_eq!(fields(&e), ["email"]);
    }
}
