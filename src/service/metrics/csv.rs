//! `Accept: text/csv` renderings of the reports, one row per group and a `total` row last.

use super::report::{
    AcceptanceFigures, AcceptanceReport, Percentiles, RecyclingFigures, RecyclingReport,
    RejectionFigures, RejectionReport, SlaFigures, SlaReport,
};

/// A text cell: quoted when needed, and defused when a spreadsheet would read it as a formula
/// (keys and codes come from CRM data).
pub fn text(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn pct(p: &Percentiles) -> [String; 2] {
    [opt(p.p50), opt(p.p90)]
}

/// The first two cells of a row: `scope` (`group` or `total`) and the group key.
fn lead(key: Option<&Option<String>>) -> [String; 2] {
    match key {
        Some(k) => ["group".into(), text(k.as_deref().unwrap_or(""))],
        None => ["total".into(), String::new()],
    }
}

fn render(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut out = header.join(",");
    out.push('\n');
    for row in rows {
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

pub fn acceptance(r: &AcceptanceReport) -> String {
    let row = |key: Option<&Option<String>>, f: &AcceptanceFigures| {
        let mut v = lead(key).to_vec();
        v.extend([
            f.routed.to_string(),
            f.accepted.to_string(),
            f.rejected.to_string(),
            f.recycled.to_string(),
            f.open.to_string(),
            f.accepted_within_sla.to_string(),
            opt(f.acceptance_rate),
            opt(f.accepted_within_sla_rate),
        ]);
        v.extend(pct(&f.time_to_decision));
        v.push(opt(f.band.map(|b| b.as_str())));
        v
    };
    let mut rows: Vec<Vec<String>> = r
        .groups
        .iter()
        .map(|g| row(Some(&g.key), &g.figures))
        .collect();
    rows.push(row(None, &r.total));
    render(
        &[
            "scope",
            "key",
            "routed",
            "accepted",
            "rejected",
            "recycled",
            "open",
            "accepted_within_sla",
            "acceptance_rate",
            "accepted_within_sla_rate",
            "time_to_decision_p50",
            "time_to_decision_p90",
            "band",
        ],
        rows,
    )
}

/// One row per group and code.
pub fn rejections(r: &RejectionReport) -> String {
    let rows_of = |key: Option<&Option<String>>, f: &RejectionFigures| -> Vec<Vec<String>> {
        f.codes
            .iter()
            .map(|c| {
                let mut v = lead(key).to_vec();
                v.extend([
                    f.rejections.to_string(),
                    text(&c.code),
                    c.count.to_string(),
                    opt(c.share),
                    opt(c.previous_share),
                    c.rising.to_string(),
                ]);
                v
            })
            .collect()
    };
    let mut rows: Vec<Vec<String>> = r
        .groups
        .iter()
        .flat_map(|g| rows_of(Some(&g.key), &g.figures))
        .collect();
    rows.extend(rows_of(None, &r.total));
    render(
        &[
            "scope",
            "key",
            "rejections",
            "code",
            "count",
            "share",
            "previous_share",
            "rising",
        ],
        rows,
    )
}

pub fn sla(r: &SlaReport) -> String {
    let row = |key: Option<&Option<String>>, f: &SlaFigures| {
        let mut v = lead(key).to_vec();
        v.extend([
            f.routed.to_string(),
            f.breached.to_string(),
            opt(f.breach_rate),
            f.open_past_due.to_string(),
            f.first_touch_met.to_string(),
            f.first_touch_missed.to_string(),
            opt(f.first_touch_compliance_rate),
        ]);
        v.extend(pct(&f.time_to_first_touch));
        v
    };
    let mut rows: Vec<Vec<String>> = r
        .groups
        .iter()
        .map(|g| row(Some(&g.key), &g.figures))
        .collect();
    rows.push(row(None, &r.total));
    render(
        &[
            "scope",
            "key",
            "routed",
            "breached",
            "breach_rate",
            "open_past_due",
            "first_touch_met",
            "first_touch_missed",
            "first_touch_compliance_rate",
            "time_to_first_touch_p50",
            "time_to_first_touch_p90",
        ],
        rows,
    )
}

/// Recycle reasons are left out of the CSV (their set varies by group); the JSON has them.
pub fn recycling(r: &RecyclingReport) -> String {
    let row = |key: Option<&Option<String>>, f: &RecyclingFigures| {
        let mut v = lead(key).to_vec();
        v.extend([
            f.routed.to_string(),
            f.recycled.to_string(),
            opt(f.recycle_rate),
            f.rerouted.to_string(),
            f.accepted_later.to_string(),
            opt(f.reroute_rate),
            opt(f.recycle_conversion_rate),
        ]);
        v
    };
    let mut rows: Vec<Vec<String>> = r
        .groups
        .iter()
        .map(|g| row(Some(&g.key), &g.figures))
        .collect();
    rows.push(row(None, &r.total));
    render(
        &[
            "scope",
            "key",
            "routed",
            "recycled",
            "recycle_rate",
            "rerouted",
            "accepted_later",
            "reroute_rate",
            "recycle_conversion_rate",
        ],
        rows,
    )
}

mod drivers;
mod funnel;
pub use drivers::drivers;
pub use funnel::funnel;

#[cfg(test)]
mod tests {
    use super::text;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(text("plain"), "plain");
        assert_eq!(text("a,b"), "\"a,b\"");
        assert_eq!(text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(text("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(text("@x,y"), "\"'@x,y\"");
    }
}
