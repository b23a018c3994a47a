//! Downstream outcomes of a lead (docs/api.md "Outcomes"): what happened after the gate — a
//! meeting, an SQL, an opportunity, a win or a loss — and the body that reports one. No I/O.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    body::{Check, Field},
    routed_at::MAX_ROUTED_AT_SKEW,
    validation::FieldError,
};

/// What happened to a lead after the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutcomeKind {
    MeetingBooked,
    MeetingHeld,
    Sql,
    Opportunity,
    Won,
    Lost,
}

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 6] = [
        OutcomeKind::MeetingBooked,
        OutcomeKind::MeetingHeld,
        OutcomeKind::Sql,
        OutcomeKind::Opportunity,
        OutcomeKind::Won,
        OutcomeKind::Lost,
    ];
    pub const NAMES: &'static str = "meeting_booked, meeting_held, sql, opportunity, won, lost";

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::MeetingBooked => "meeting_booked",
            OutcomeKind::MeetingHeld => "meeting_held",
            OutcomeKind::Sql => "sql",
            OutcomeKind::Opportunity => "opportunity",
            OutcomeKind::Won => "won",
            OutcomeKind::Lost => "lost",
        }
    }

    pub fn parse(s: &str) -> Option<OutcomeKind> {
        OutcomeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The funnel stage this outcome proves the cycle reached; `None` for `lost`, which ends
    /// a cycle without proving any stage.
    pub fn stage(self) -> Option<Stage> {
        match self {
            OutcomeKind::MeetingBooked | OutcomeKind::MeetingHeld => Some(Stage::Meeting),
            OutcomeKind::Sql => Some(Stage::Sql),
            OutcomeKind::Opportunity => Some(Stage::Opportunity),
            OutcomeKind::Won => Some(Stage::Won),
            OutcomeKind::Lost => None,
        }
    }

    /// Whether an outcome of this kind may carry an amount (the deal's value).
    pub fn has_amount(self) -> bool {
        matches!(
            self,
            OutcomeKind::Opportunity | OutcomeKind::Won | OutcomeKind::Lost
        )
    }
}

/// The funnel's stages after acceptance, in order: a cycle that reached one reached every one
/// before it (an SQL without a logged meeting still had its meeting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Meeting = 0,
    Sql = 1,
    Opportunity = 2,
    Won = 3,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Meeting, Stage::Sql, Stage::Opportunity, Stage::Won];
}

/// ISO 4217 alphabetic codes of the active currencies (and the precious metals and special
/// drawing rights codes the standard lists).
const ISO_4217: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND \
    BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK \
    DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR \
    ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD \
    MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB \
    PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP \
    STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES \
    VND VUV WST XAF XAG XAU XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG ZWL";

/// Whether `code` is an ISO 4217 alphabetic currency code (upper case, as the standard
/// writes them).
pub fn is_currency(code: &str) -> bool {
    code.len() == 3 && ISO_4217.split_ascii_whitespace().any(|c| c == code)
}

/// The OpenAPI pattern of a currency code.
pub const CURRENCY_PATTERN: &str = "^[A-Z]{3}$";

/// Reads `key` as an optional ISO 4217 code.
pub fn opt_currency(f: &mut Check, key: &str, v: Field) -> Option<String> {
    let code = f.opt_str(key, v, 3)?;
    if is_currency(&code) {
        Some(code)
    } else {
        f.error(key, "must be an ISO 4217 currency code such as EUR or USD");
        None
    }
}

/// Largest amount accepted (a deal of a trillion is a typo, not a deal).
pub const MAX_AMOUNT: f64 = 1e12;

/// Reads `key` as an optional amount in `[0, MAX_AMOUNT]`.
pub fn opt_amount(f: &mut Check, key: &str, v: Field) -> Option<f64> {
    let a = f.opt_f64(key, v)?;
    if (0.0..=MAX_AMOUNT).contains(&a) {
        Some(a)
    } else {
        f.error(key, "must be a number from 0 to 1000000000000");
        None
    }
}

// Read as `domain::body` describes.
/// Body of `POST /v1/leads/{id}/outcomes`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OutcomeInput {
    #[schema(value_type = String, pattern = r"^\s*(meeting_booked|meeting_held|sql|opportunity|won|lost)\s*$")]
    pub kind: Field,
    /// When it happened (RFC 3339): not more than 5 minutes in the future, not before the
    /// lead's current cycle was routed.
    #[schema(value_type = String, format = DateTime)]
    pub at: Field,
    /// The deal's value (opportunity, won, lost only), with `currency`.
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 1_000_000_000_000_f64)]
    pub amount: Field,
    /// ISO 4217 code of `amount`; required with it.
    #[schema(value_type = Option<String>, pattern = r"^[A-Z]{3}$")]
    pub currency: Field,
    /// The sender's id of this outcome (e.g. the CRM's meeting or deal id). The same lead,
    /// kind and id is stored once; without one, once per cycle and kind.
    #[schema(value_type = Option<String>, max_length = 200)]
    pub external_id: Field,
}

/// An outcome as reported, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutcome {
    pub kind: OutcomeKind,
    pub at: DateTime<Utc>,
    /// Amount and currency, both or neither.
    pub amount: Option<(f64, String)>,
    pub external_id: Option<String>,
}

/// Reads an outcome body; `now` bounds `at` (the lead's own bound is the use case's).
pub fn parse(body: &Value, now: DateTime<Utc>) -> Result<NewOutcome, Vec<FieldError>> {
    let (input, mut f) = Check::read::<OutcomeInput>(body)?;
    let OutcomeInput {
        kind,
        at,
        amount,
        currency,
        external_id,
    } = input;
    let kind = f.req_str("kind", kind, 40).and_then(|k| {
        let parsed = OutcomeKind::parse(&k);
        if parsed.is_none() {
            f.error("kind", format!("must be one of {}", OutcomeKind::NAMES));
        }
        parsed
    });
    let at = read_at(&mut f, at, now);
    let before = f.errors.len();
    let amount = opt_amount(&mut f, "amount", amount);
    let currency = opt_currency(&mut f, "currency", currency);
    let amount_ok = f.errors.len() == before;
    let amount = match (amount, currency) {
        (Some(a), Some(c)) => Some((a, c)),
        (None, None) => None,
        (Some(_), None) => {
            if amount_ok {
                f.error("currency", "is required with `amount`");
            }
            None
        }
        (None, Some(_)) => {
            if amount_ok {
                f.error("currency", "is given only with `amount`");
            }
            None
        }
    };
    if let (Some(k), Some(_)) = (kind, &amount) {
        if !k.has_amount() {
            f.error(
                "amount",
                "only opportunity, won and lost outcomes carry an amount",
            );
        }
    }
    let external_id = f.opt_str("external_id", external_id, 200);
    let parsed = kind.zip(at).map(|(kind, at)| NewOutcome {
        kind,
        at,
        amount,
        external_id,
    });
    f.done(parsed)
}

/// `at`: required, RFC 3339, not beyond the clock skew ahead of `now`.
fn read_at(f: &mut Check, at: Field, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match at.get() {
        None => {
            f.error("at", "is required");
            None
        }
        Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s.trim()) {
            Ok(t) if t.with_timezone(&Utc) > now + MAX_ROUTED_AT_SKEW => {
                f.error("at", "must not be more than 5 minutes in the future");
                None
            }
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                f.error("at", "must be an RFC 3339 time like 2026-01-31T09:00:00Z");
                None
            }
        },
        Some(_) => {
            f.error("at", "must be an RFC 3339 time string");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-05-10T12:00:00Z".parse().unwrap()
    }

    fn fields(body: Value) -> Vec<String> {
        let mut v: Vec<String> = parse(&body, now())
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_full_opportunity_is_read() {
        let o = parse(
            &json!({"kind": "opportunity", "at": "2026-05-09T10:00:00Z", "amount": 1200.5,
                    "currency": "EUR", "external_id": "deal-9"}),
            now(),
        )
        .unwrap();
        assert_eq!(o.kind, OutcomeKind::Opportunity);
        assert_eq!(o.amount, Some((1200.5, "EUR".into())));
        assert_eq!(o.external_id.as_deref(), Some("deal-9"));
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        assert_eq!(
            fields(
                json!({"kind": "demo", "at": "yesterday", "amount": -1, "currency": "EURO",
                          "colour": 1})
            ),
            ["amount", "at", "colour", "currency", "kind"]
        );
        assert_eq!(
            fields(json!({"kind": "sql", "at": "2026-05-10T12:06:00Z"})),
            ["at"]
        );
        assert_eq!(
            fields(json!({"kind": "won", "at": "2026-05-10T12:00:00Z", "amount": 5})),
            ["currency"]
        );
        assert_eq!(
            fields(json!({"kind": "won", "at": "2026-05-10T12:00:00Z", "currency": "XYZ"})),
            ["currency"]
        );
        assert_eq!(
            fields(
                json!({"kind": "sql", "at": "2026-05-10T12:00:00Z", "amount": 5,
                          "currency": "USD"})
            ),
            ["amount"]
        );
        assert_eq!(fields(json!({})), ["at", "kind"]);
    }

    #[test]
    fn stages_follow_the_funnel_and_lost_proves_none() {
        assert_eq!(OutcomeKind::MeetingHeld.stage(), Some(Stage::Meeting));
        assert!(Stage::Sql < Stage::Opportunity);
        assert_eq!(OutcomeKind::Lost.stage(), None);
        assert!(is_currency("JPY") && !is_currency("jpy") && !is_currency("ABC"));
    }
}
