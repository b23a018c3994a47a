//! Campaign spend (docs/api.md "Campaigns"): the body of `PUT /v1/campaigns/{id}`, and a
//! campaign's monthly spend prorated to a period. No I/O.

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    body::{Check, Field},
    metrics::Period,
    outcome::{opt_amount, opt_currency},
    validation::FieldError,
};

/// Most months one campaign's spend may list (twenty years).
pub const MAX_MONTHS: usize = 240;

// Read as `domain::body` describes, as is each month.
/// Body of `PUT /v1/campaigns/{id}`: replaces the campaign's spend.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CampaignInput {
    /// One entry per month (1 to 240), all in one currency.
    #[schema(value_type = Vec<MonthSpendInput>, min_items = 1, max_items = 240)]
    pub spend: Field,
}

/// What a campaign spent in one calendar month.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MonthSpendInput {
    /// `YYYY-MM`.
    #[schema(value_type = String, pattern = r"^\s*[0-9]{4}-(0[1-9]|1[0-2])\s*$")]
    pub month: Field,
    #[schema(value_type = f64, minimum = 0, maximum = 1_000_000_000_000_f64)]
    pub amount: Field,
    /// ISO 4217 code.
    #[schema(value_type = String, pattern = r"^[A-Z]{3}$")]
    pub currency: Field,
}

/// A campaign's spend, checked: its currency and each month's first day with its amount,
/// in month order.
#[derive(Debug, Clone, PartialEq)]
pub struct Spend {
    pub currency: String,
    pub months: Vec<(NaiveDate, f64)>,
}

/// Reads a campaign body: every month valid, no month twice, one currency.
pub fn parse(body: &Value) -> Result<Spend, Vec<FieldError>> {
    let (CampaignInput { spend }, mut f) = Check::read(body)?;
    let items = match spend.into_value() {
        Some(Value::Array(items)) if items.is_empty() => {
            f.error("spend", "must list at least one month");
            Vec::new()
        }
        Some(Value::Array(items)) if items.len() <= MAX_MONTHS => items,
        Some(Value::Array(_)) => {
            f.error("spend", format!("may list at most {MAX_MONTHS} months"));
            Vec::new()
        }
        Some(_) => {
            f.error("spend", "must be an array");
            Vec::new()
        }
        None => {
            f.error("spend", "is required");
            Vec::new()
        }
    };
    let mut months: Vec<(NaiveDate, f64)> = Vec::with_capacity(items.len());
    let mut currency: Option<String> = None;
    for (i, item) in items.iter().enumerate() {
        let Some((
            MonthSpendInput {
                month,
                amount,
                currency: cur,
            },
            mut c,
        )) = f.child::<MonthSpendInput>(&format!("spend[{i}]"), Field::from(Some(item)))
        else {
            continue;
        };
        let month = read_month(&mut c, month);
        let before = c.errors.len();
        let amount = opt_amount(&mut c, "amount", amount);
        if amount.is_none() && c.errors.len() == before {
            c.error("amount", "is required");
        }
        let before = c.errors.len();
        let cur = opt_currency(&mut c, "currency", cur);
        match (&cur, &currency) {
            (None, _) if c.errors.len() == before => c.error("currency", "is required"),
            (Some(x), Some(first)) if x != first => {
                c.error("currency", format!("must be {first}, as every month's"));
            }
            (Some(x), None) => currency = Some(x.clone()),
            _ => {}
        }
        if let Some(m) = month {
            if months.iter().any(|(seen, _)| *seen == m) {
                c.error("month", "is listed twice");
            } else if let Some(a) = amount {
                months.push((m, a));
            }
        }
        f.finish_child(c);
    }
    months.sort_by_key(|(m, _)| *m);
    let spend = Some(Spend {
        currency: currency.unwrap_or_default(),
        months,
    });
    f.done(spend)
}

fn read_month(c: &mut Check, v: Field) -> Option<NaiveDate> {
    let before = c.errors.len();
    let raw = c.opt_str("month", v, 7);
    let parsed = raw.as_deref().and_then(|s| {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)
    });
    if parsed.is_none() && c.errors.len() == before {
        c.error("month", "must be a month like 2026-05");
    }
    parsed
}

/// The month `YYYY-MM` of a first day.
pub fn month_key(first: NaiveDate) -> String {
    first.format("%Y-%m").to_string()
}

/// The spend of `months` that falls in `[from, to)`: each month's amount times the share of
/// the month's length (midnight to midnight in `tz`) inside the period, so a period of 10 days
/// of a 31-day month carries 10/31 of it.
pub fn prorate(months: &[(NaiveDate, f64)], from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> f64 {
    months
        .iter()
        .filter_map(|&(first, amount)| {
            let next = first.checked_add_months(Months::new(1))?;
            let (start, end) = (Period::instant(first, tz), Period::instant(next, tz));
            let overlap = (end.min(to) - start.max(from)).num_seconds();
            let length = (end - start).num_seconds();
            (overlap > 0 && length > 0).then(|| amount * overlap as f64 / length as f64)
        })
        .sum()
}

/// The first day of the month `d` falls in.
pub fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_period_carries_its_days_share_of_each_month() {
        let months = [(d("2026-05-01"), 3100.0), (d("2026-06-01"), 3000.0)];
        let utc = chrono_tz::UTC;
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // 10 days of May (31) and 5 of June (30).
        let v = prorate(
            &months,
            t("2026-05-22T00:00:00Z"),
            t("2026-06-06T00:00:00Z"),
            utc,
        );
        assert!((v - (1000.0 + 500.0)).abs() < 1e-9, "{v}");
        assert_eq!(
            prorate(
                &months,
                t("2026-07-01T00:00:00Z"),
                t("2026-08-01T00:00:00Z"),
                utc
            ),
            0.0
        );
    }

    #[test]
    fn bad_months_are_named_each() {
        let errors = parse(&json!({"spend": [
            {"month": "2026-13", "amount": 1, "currency": "EUR"},
            {"month": "2026-05", "amount": -1, "currency": "EUR"},
            {"month": "2026-06", "amount": 1, "currency": "USD"},
            {"month": "2026-06", "amount": 1, "currency": "EUR"},
        ]}))
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spend[0].month",
                "spend[1].amount",
                "spend[2].currency",
                "spend[3].month"
            ]
        );
        let ok = parse(&json!({"spend": [{"month": "2026-05", "amount": 10, "currency": "EUR"}]}));
        assert_eq!(ok.unwrap().months, [(d("2026-05-01"), 10.0)]);
    }
}
