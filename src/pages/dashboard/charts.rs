//! The charts' data, written into the page as a JSON data island
//! (`<script type="application/json">`, not executed, so the strict CSP allows it) that
//! `assets/dashboard.js` draws with uPlot. The tables under each chart say the same in text.

use maud::{html, Markup, PreEscaped};
use serde::Serialize;

use crate::service::metrics::Dashboard;

#[derive(Serialize)]
struct Acceptance<'a> {
    /// Bucket starts, Unix seconds (uPlot's x axis).
    x: Vec<i64>,
    /// Acceptance rate per bucket, percent; null for a bucket with nothing routed.
    rate: Vec<Option<f64>>,
    /// Band limits, percent.
    healthy_from: f64,
    elevated_from: f64,
    rubber_stamping_above: f64,
    labels: Vec<&'a str>,
}

#[derive(Serialize)]
struct Code {
    code: String,
    /// Rejections per bucket.
    counts: Vec<i64>,
    /// Whether the code's share rose by 10 points or more, per bucket.
    rising: Vec<bool>,
    /// Rising in the period as a whole, against the previous period.
    rising_total: bool,
}

#[derive(Serialize)]
struct Data<'a> {
    acceptance: Acceptance<'a>,
    rejections: Vec<Code>,
}

/// The codes rejected in the period, most frequent first (the report's order).
fn codes(d: &Dashboard) -> Vec<Code> {
    d.rejections
        .total
        .codes
        .iter()
        .filter(|c| c.count > 0)
        .map(|total| {
            let per_bucket = |f: &dyn Fn(&crate::service::metrics::report::CodeShare) -> i64| {
                d.rejections
                    .groups
                    .iter()
                    .map(|g| {
                        g.figures
                            .codes
                            .iter()
                            .find(|c| c.code == total.code)
                            .map_or(0, f)
                    })
                    .collect::<Vec<i64>>()
            };
            Code {
                code: total.code.clone(),
                counts: per_bucket(&|c| c.count),
                rising: per_bucket(&|c| i64::from(c.rising))
                    .into_iter()
                    .map(|r| r == 1)
                    .collect(),
                rising_total: total.rising,
            }
        })
        .collect()
}

/// The data island both charts read.
pub fn data_island(d: &Dashboard, starts: &[i64]) -> Markup {
    let a = &d.acceptance;
    let data = Data {
        acceptance: Acceptance {
            x: starts.to_vec(),
            rate: a
                .groups
                .iter()
                .map(|g| g.figures.acceptance_rate.map(|r| r * 100.0))
                .collect(),
            healthy_from: a.bands.healthy_from * 100.0,
            elevated_from: a.bands.elevated_from * 100.0,
            rubber_stamping_above: a.bands.rubber_stamping_above * 100.0,
            labels: a.groups.iter().filter_map(|g| g.key.as_deref()).collect(),
        },
        rejections: codes(d),
    };
    // `<` escaped so that no string in the data can close the script element.
    let json = serde_json::to_string(&data)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c");
    html! {
        script type="application/json" id="dashboard-data" { (PreEscaped(json)) }
    }
}
