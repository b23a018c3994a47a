//! `from` and `to` of a report: an RFC 3339 instant or a date (midnight in the report's zone),
//! within the dates salgate accepts.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::domain::{dates, metrics::Period};

/// Parses one end of the period; the error is the message for the field.
pub fn parse(raw: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    let out_of_range = || format!("must be {}", dates::RANGE);
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        let t = t.with_timezone(&Utc);
        return if dates::instant_in_range(t) {
            Ok(t)
        } else {
            Err(out_of_range())
        };
    }
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        // Checked before the zone is applied: far dates overflow that arithmetic.
        Ok(d) if dates::date_in_range(d) => Ok(Period::instant(d, tz)),
        Ok(_) => Err(out_of_range()),
        Err(_) => {
            Err("must be an RFC 3339 time (2026-01-05T00:00:00Z) or a date (2026-01-05)".into())
        }
    }
}
