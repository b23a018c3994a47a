//! Report parameters from any client: odd dates, zones and groupings are refused with 422 or
//! answered, never a panic.

use std::collections::HashMap;

use axum::extract::Query;
use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::ReportRequest;
use crate::{db::cycle_blocks::whole_hours, domain::validation::FieldError, http::error::ApiError};

fn now() -> DateTime<Utc> {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

fn parse(pairs: &[(&str, &str)]) -> Result<ReportRequest, Vec<FieldError>> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match ReportRequest::parse(Ok(Query(map)), now()) {
        Ok(r) => Ok(r),
        Err(ApiError::Validation(errors)) => Err(errors),
        Err(e) => panic!("not a validation error: {e:?}"),
    }
}

fn fields(errors: &[FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}

#[test]
fn dates_outside_1970_to_2199_name_their_field() {
    for (from, to) in [
        ("1600-01-01", "1600-02-01"),
        ("-4800-01-01", "-4800-02-01"),
        ("1969-12-31T23:59:59Z", "1970-01-05"),
    ] {
        let e = parse(&[("from", from), ("to", to)]).err().unwrap();
        assert!(fields(&e).contains(&"from"), "{from}: {e:?}");
    }
    let e = parse(&[("from", "2199-12-01"), ("to", "2200-01-01")])
        .err()
        .unwrap();
    assert_eq!(fields(&e), ["to"]);
    let e = parse(&[("from", "2026-01-01"), ("to", "+99999-01-01")])
        .err()
        .unwrap();
    assert_eq!(fields(&e), ["to"]);
    let ok = parse(&[
        ("from", "1970-01-01"),
        ("to", "1970-02-01"),
        ("group_by", "week"),
    ]);
    assert_eq!(ok.unwrap().buckets().unwrap().len(), 5);
    let e = parse(&[("from", "2026-03-02"), ("to", "2026-03-02")])
        .err()
        .unwrap();
    assert_eq!(fields(&e), ["to"]);
}

/// Dates of any year (chrono's whole range and beyond), instants, and rubbish.
fn bound() -> impl Strategy<Value = String> {
    prop_oneof![
        (-300_000i32..300_000, 0u32..14, 0u32..33)
            .prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        (1900i32..2300, 1u32..13, 1u32..29, 0u32..24, -14i32..15)
            .prop_map(|(y, m, d, h, o)| { format!("{y:04}-{m:02}-{d:02}T{h:02}:30:00{o:+03}:00") }),
        "[0-9:TZ+-]{0,30}",
    ]
}

proptest! {
    #[test]
    fn report_parameters_never_panic(
        from in proptest::option::of(bound()),
        to in proptest::option::of(bound()),
        tz in proptest::option::of(prop::sample::select(vec![
            "UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu",
            "America/Havana", "America/St_Johns", "Australia/Lord_Howe", "Mars/Olympus", "",
        ])),
        group in proptest::option::of(prop::sample::select(vec![
            "day", "week", "month", "source", "owner", "year", "",
        ])),
    ) {
        let mut pairs = Vec::new();
        for (k, v) in [("from", &from), ("to", &to)] {
            if let Some(v) = v {
                pairs.push((k, v.as_str()));
            }
        }
        if let Some(tz) = tz {
            pairs.push(("tz", tz));
        }
        if let Some(g) = group {
            pairs.push(("group_by", g));
        }
        if let Ok(req) = parse(&pairs) {
            let keys = req.buckets();
            let starts = req.bucket_starts();
            prop_assert_eq!(keys.map(|k| k.len()), starts.map(|s| s.len()));
            let _ = req.meta();
            let _ = whole_hours(req.scope.from, req.scope.to);
            let span = req.scope.to - req.scope.from;
            let _ = req.scope.with_range(req.scope.from - span, req.scope.from);
        }
    }
}
