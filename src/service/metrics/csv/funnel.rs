//! The funnel report as CSV: one row per group, then `total`; cost columns empty where the
//! spend is not known.

use super::{lead, opt, pct, render};
use crate::service::metrics::report::{FunnelFigures, FunnelReport, StageRate};

fn rate_cells(r: &StageRate) -> [String; 2] {
    [opt(r.of_previous), opt(r.of_routed)]
}

pub fn funnel(r: &FunnelReport) -> String {
    let currency = r.currency.clone().unwrap_or_default();
    let row = |key: Option<&Option<String>>, f: &FunnelFigures| {
        let mut v = lead(key).to_vec();
        v.extend(
            [
                f.routed,
                f.accepted,
                f.meeting,
                f.sql,
                f.opportunity,
                f.won,
                f.lost,
            ]
            .map(|n| n.to_string()),
        );
        let x = &f.rates;
        for s in [&x.accepted, &x.meeting, &x.sql, &x.opportunity, &x.won] {
            v.extend(rate_cells(s));
        }
        v.extend([
            currency.clone(),
            opt(f.pipeline_amount),
            opt(f.pipeline_per_accepted),
            opt(f.won_amount),
        ]);
        let t = &f.time_from_acceptance;
        for p in [&t.meeting, &t.sql, &t.opportunity, &t.won] {
            v.extend(pct(p));
        }
        let c = f.cost.as_ref();
        v.extend([
            opt(c.map(|c| c.spend)),
            c.map(|c| c.currency.clone()).unwrap_or_default(),
            opt(c.and_then(|c| c.per_routed)),
            opt(c.and_then(|c| c.per_accepted)),
            opt(c.and_then(|c| c.per_sql)),
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
            "accepted",
            "meeting",
            "sql",
            "opportunity",
            "won",
            "lost",
            "accepted_of_previous",
            "accepted_of_routed",
            "meeting_of_accepted",
            "meeting_of_routed",
            "sql_of_meeting",
            "sql_of_routed",
            "opportunity_of_sql",
            "opportunity_of_routed",
            "won_of_opportunity",
            "won_of_routed",
            "currency",
            "pipeline_amount",
            "pipeline_per_accepted",
            "won_amount",
            "to_meeting_p50_s",
            "to_meeting_p90_s",
            "to_sql_p50_s",
            "to_sql_p90_s",
            "to_opportunity_p50_s",
            "to_opportunity_p90_s",
            "to_won_p50_s",
            "to_won_p90_s",
            "spend",
            "spend_currency",
            "cost_per_routed",
            "cost_per_accepted",
            "cost_per_sql",
        ],
        rows,
    )
}
