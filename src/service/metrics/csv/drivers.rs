//! The rejection-drivers report as CSV: one row per listed value, dimensions in order, each
//! dimension's values largest share first, then the period's `total`; the three top codes as
//! `code:count` cells.

use super::{opt, render, text};
use crate::service::metrics::drivers::DriversReport;

pub fn drivers(r: &DriversReport) -> String {
    let mut rows = Vec::new();
    for d in &r.dimensions {
        for v in &d.values {
            let mut row = vec![
                d.dimension.as_str().to_owned(),
                text(d.attribute.as_deref().unwrap_or("")),
                text(&v.value),
                v.cycles.to_string(),
                v.rejected.to_string(),
                opt(v.rejection_rate),
                opt(v.lift),
                opt(v.share),
                opt(v.interval.map(|i| i.low)),
                opt(v.interval.map(|i| i.high)),
            ];
            for i in 0..3 {
                row.push(text(
                    &v.codes
                        .get(i)
                        .map(|c| format!("{}:{}", c.code, c.count))
                        .unwrap_or_default(),
                ));
            }
            rows.push(row);
        }
    }
    let t = &r.total;
    let mut total = vec!["total".to_owned(), String::new(), String::new()];
    total.extend([
        t.cycles.to_string(),
        t.rejected.to_string(),
        opt(t.rejection_rate),
    ]);
    total.extend(std::iter::repeat_n(String::new(), 7));
    rows.push(total);
    render(
        &[
            "dimension",
            "attribute",
            "value",
            "cycles",
            "rejected",
            "rejection_rate",
            "lift",
            "share",
            "interval_low",
            "interval_high",
            "code_1",
            "code_2",
            "code_3",
        ],
        rows,
    )
}
