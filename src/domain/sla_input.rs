//! Request bodies of `PUT /v1/calendars/{id}` and `PUT /v1/sla-policies/{lead_type}`, parsed
//! with every bad field named.

use chrono::{Duration, NaiveDate, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{
    body::{Check, Field},
    sla::OnBreach,
    validation::FieldError,
    working_time::{format_iso_duration, parse_iso_duration, Calendar, WorkingWindow},
};

// Read by `parse_policy` (see `super::body`).
/// Body of `PUT /v1/sla-policies/{lead_type}`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = PolicyInputDoc)]
pub struct PolicyBody {
    /// ISO 8601 working-time duration, e.g. `PT1H`.
    #[schema(value_type = String)]
    pub accept_within: Field,
    #[schema(value_type = String)]
    pub first_touch_within: Field,
    /// Share of `accept_within` after which an open lead is at risk; default 0.75.
    #[schema(value_type = Option<f64>, exclusive_minimum = 0.0, exclusive_maximum = 1.0)]
    pub at_risk_ratio: Field,
    /// `notify` (default), `return_to_queue` or `reassign`.
    #[schema(value_type = Option<String>, pattern = r"^\s*(notify|return_to_queue|reassign)\s*$")]
    pub on_breach: Field,
    /// Calendar id; null or absent = 24×7.
    #[schema(value_type = Option<String>, schema_with = super::slug::opt_key_schema)]
    pub calendar: Field,
}

// Read by `parse_calendar` (see `super::body`).
/// Body of `PUT /v1/calendars/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = CalendarInputDoc)]
pub struct CalendarBody {
    #[schema(value_type = Option<String>)]
    pub name: Field,
    /// IANA zone, e.g. `Europe/Berlin`.
    #[schema(value_type = String)]
    pub time_zone: Field,
    /// `[{"weekday": "mon", "start": "09:00", "end": "17:00"}]`; several per day allowed.
    #[schema(value_type = Vec<Object>)]
    pub windows: Field,
    /// Local dates: `["2026-12-25"]`.
    #[schema(value_type = Option<Vec<String>>)]
    pub holidays: Field,
}

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

/// A valid calendar and its canonical JSON parts, ready to store.
#[derive(Debug)]
pub struct CalendarInput {
    pub name: String,
    pub time_zone: String,
    pub windows: Value,
    pub holidays: Value,
    pub calendar: Calendar,
}

fn field_error(field: String, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// Builds the calendar from stored or requested parts; errors name `windows[i]…` fields.
pub fn build_calendar(
    time_zone: &str,
    windows: &Value,
    holidays: &Value,
) -> Result<Calendar, Vec<FieldError>> {
    let mut errors = Vec::new();
    let tz: Option<Tz> = time_zone.parse().ok();
    if tz.is_none() {
        errors.push(field_error(
            "time_zone".into(),
            "is not an IANA time zone like Europe/Berlin",
        ));
    }
    let parsed = parse_windows(windows, &mut errors);
    let dates = parse_holidays(holidays, &mut errors);
    let (Some(tz), true) = (tz, errors.is_empty()) else {
        return Err(errors);
    };
    Calendar::new(tz, parsed, dates).map_err(|e| vec![field_error("windows".into(), e.to_string())])
}

/// The working windows; each bad one adds an error naming `windows[i]…`.
fn parse_windows(windows: &Value, errors: &mut Vec<FieldError>) -> Vec<WorkingWindow> {
    let mut parsed = Vec::new();
    match windows.as_array() {
        Some(list) if !list.is_empty() => {
            for (i, w) in list.iter().enumerate() {
                match parse_window(i, w) {
                    Ok(win) => parsed.push(win),
                    Err(e) => errors.push(e),
                }
            }
        }
        _ => errors.push(field_error(
            "windows".into(),
            "must be a non-empty list of {weekday, start, end}",
        )),
    }
    parsed
}

/// Window `i`: `{weekday, start, end}`.
fn parse_window(i: usize, w: &Value) -> Result<WorkingWindow, FieldError> {
    let day = w["weekday"].as_str().and_then(|d| {
        WEEKDAYS
            .iter()
            .find(|(n, _)| *n == d.to_ascii_lowercase())
            .map(|(_, wd)| *wd)
    });
    let Some(day) = day else {
        return Err(field_error(
            format!("windows[{i}].weekday"),
            "must be one of mon, tue, wed, thu, fri, sat, sun",
        ));
    };
    let (Some(start), Some(end)) = (w["start"].as_str(), w["end"].as_str()) else {
        return Err(field_error(
            format!("windows[{i}]"),
            "needs start and end times like 09:00",
        ));
    };
    WorkingWindow::parse(day, start, end)
        .map_err(|e| field_error(format!("windows[{i}]"), e.to_string()))
}

/// The holiday dates; each bad one adds an error naming `holidays[i]`.
fn parse_holidays(holidays: &Value, errors: &mut Vec<FieldError>) -> Vec<NaiveDate> {
    let mut dates = Vec::new();
    match holidays.as_array() {
        Some(list) => {
            for (i, d) in list.iter().enumerate() {
                match d.as_str().and_then(|s| s.parse::<NaiveDate>().ok()) {
                    Some(date) => dates.push(date),
                    None => errors.push(field_error(
                        format!("holidays[{i}]"),
                        "must be a date like 2026-12-25",
                    )),
                }
            }
        }
        None => errors.push(field_error("holidays".into(), "must be a list of dates")),
    }
    dates
}

pub fn parse_calendar(id: &str, body: &Value) -> Result<CalendarInput, Vec<FieldError>> {
    let (
        CalendarBody {
            name,
            time_zone,
            windows,
            holidays,
        },
        mut f,
    ) = Check::read(body)?;
    let name = f
        .opt_str("name", name, 200)
        .unwrap_or_else(|| id.to_string());
    let time_zone = f.req_str("time_zone", time_zone, 64);
    let windows = windows.into_value().unwrap_or(Value::Null);
    let holidays = holidays.into_value().unwrap_or_else(|| json!([]));
    let mut errors = f.finish();
    let Some(time_zone) = time_zone else {
        return Err(errors);
    };
    match build_calendar(&time_zone, &windows, &holidays) {
        // Store the canonical form, not the request's JSON (which may carry extra keys).
        Ok(calendar) if errors.is_empty() => Ok(CalendarInput {
            name,
            time_zone,
            windows: canonical_windows(&windows),
            holidays: canonical_holidays(&holidays),
            calendar,
        }),
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(more);
            Err(errors)
        }
    }
}

fn canonical_windows(windows: &Value) -> Value {
    let list = windows.as_array().map(Vec::as_slice).unwrap_or_default();
    Value::Array(
        list.iter()
            .map(|w| {
                json!({
                    "weekday": w["weekday"].as_str().unwrap_or_default().to_ascii_lowercase(),
                    "start": w["start"],
                    "end": w["end"],
                })
            })
            .collect(),
    )
}

fn canonical_holidays(holidays: &Value) -> Value {
    let mut dates: Vec<NaiveDate> = holidays
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|d| d.as_str()?.parse().ok())
        .collect();
    dates.sort();
    dates.dedup();
    Value::Array(dates.iter().map(|d| json!(d.to_string())).collect())
}

/// A valid policy body.
#[derive(Debug)]
pub struct PolicyInput {
    pub accept_within: Duration,
    pub first_touch_within: Duration,
    pub at_risk_ratio: f64,
    pub on_breach: OnBreach,
    pub calendar: Option<String>,
}

impl PolicyInput {
    pub fn accept_within_text(&self) -> String {
        format_iso_duration(self.accept_within)
    }
    pub fn first_touch_within_text(&self) -> String {
        format_iso_duration(self.first_touch_within)
    }
}

pub fn parse_policy(body: &Value) -> Result<PolicyInput, Vec<FieldError>> {
    let (
        PolicyBody {
            accept_within,
            first_touch_within,
            at_risk_ratio,
            on_breach,
            calendar,
        },
        mut f,
    ) = Check::read(body)?;
    let duration = |f: &mut Check, key: &'static str, v: Field| {
        let text = f.req_str(key, v, 40)?;
        match parse_iso_duration(&text) {
            Ok(d) if d > Duration::zero() => Some(d),
            Ok(_) => {
                f.error(key, "must be longer than zero");
                None
            }
            Err(e) => {
                f.error(key, e);
                None
            }
        }
    };
    let accept_within = duration(&mut f, "accept_within", accept_within);
    let first_touch_within = duration(&mut f, "first_touch_within", first_touch_within);
    let at_risk_ratio = f.opt_f64("at_risk_ratio", at_risk_ratio).unwrap_or(0.75);
    if !(at_risk_ratio > 0.0 && at_risk_ratio < 1.0) {
        f.error("at_risk_ratio", "must be between 0 and 1 (exclusive)");
    }
    let on_breach = match f.opt_str("on_breach", on_breach, 30).as_deref() {
        None => Some(OnBreach::Notify),
        Some(s) => {
            let v = OnBreach::parse(s);
            if v.is_none() {
                f.error("on_breach", "must be notify, return_to_queue or reassign");
            }
            v
        }
    };
    let calendar = f.opt_str("calendar", calendar, 100);
    let policy = match (accept_within, first_touch_within, on_breach) {
        (Some(accept_within), Some(first_touch_within), Some(on_breach)) => Some(PolicyInput {
            accept_within,
            first_touch_within,
            at_risk_ratio,
            on_breach,
            calendar,
        }),
        _ => None,
    };
    f.done(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calendar_with_bad_parts_names_each() {
        let body = json!({
            "time_zone": "Mars/Olympus",
            "windows": [{"weekday": "mon", "start": "09:00", "end": "17:00"}, {"weekday": "funday", "start": "09:00", "end": "10:00"}, {"weekday": "tue", "start": "17:00", "end": "09:00"}],
            "holidays": ["2026-12-25", "xmas"]
        });
        let fields: Vec<String> = parse_calendar("eu", &body)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "time_zone",
                "windows[1].weekday",
                "windows[2]",
                "holidays[1]"
            ]
        );
    }

    #[test]
    fn a_policy_needs_positive_iso_durations_and_a_ratio_below_one() {
        let e = parse_policy(&json!({"accept_within": "1 hour", "first_touch_within": "PT0S", "at_risk_ratio": 1.5, "on_breach": "escalate"})).unwrap_err();
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "accept_within",
                "first_touch_within",
                "at_risk_ratio",
                "on_breach"
            ]
        );
        let p =
            parse_policy(&json!({"accept_within": "PT2H", "first_touch_within": "P1D"})).unwrap();
        assert_eq!(
            (p.accept_within_text(), p.first_touch_within_text()),
            ("PT2H".into(), "P1D".into())
        );
        assert_eq!(p.on_breach, OnBreach::Notify);
    }

    #[test]
    fn a_valid_calendar_is_stored_in_canonical_form_unless_another_field_is_bad() {
        let mut body = json!({
            "time_zone": "Europe/Berlin",
            "windows": [{"weekday": "MON", "start": "09:00", "end": "17:00", "x": 1}],
            "holidays": ["2026-12-26", "2026-12-25", "2026-12-25"]
        });
        let c = parse_calendar("berlin", &body).unwrap();
        assert_eq!(
            (c.name.as_str(), c.time_zone.as_str()),
            ("berlin", "Europe/Berlin")
        );
        assert_eq!(
            c.windows,
            json!([{"weekday": "mon", "start": "09:00", "end": "17:00"}])
        );
        assert_eq!(c.holidays, json!(["2026-12-25", "2026-12-26"]));
        body["name"] = json!("x".repeat(201));
        let fields: Vec<String> = parse_calendar("berlin", &body)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["name"]);
    }
}
