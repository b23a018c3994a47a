//! The dashboard's funnel and rejection-drivers panels: the `/v1/metrics/funnel` report for
//! the page's period, filters and time grouping, and `/v1/metrics/rejection-drivers` for its
//! period and filters, read through the same use cases, so the page shows the API's numbers.
//! Server-rendered tables; shares as `<meter>` bars (no script, no inline style).

use maud::{html, Markup};
use sqlx::PgPool;

use super::format as fmt;
use crate::{
    domain::drivers::DimensionFigures,
    service::{
        metrics::{
            drivers::{rejection_drivers, DriversReport},
            funnel::{funnel, FunnelRequest},
            report::{FunnelFigures, FunnelReport},
            ReportRequest,
        },
        Result,
    },
};

/// Values of a dimension the panel lists (the API and its CSV list them all).
const VALUES_SHOWN: usize = 5;

/// The two reports the panels show.
pub struct Insights {
    pub funnel: FunnelReport,
    pub drivers: DriversReport,
}

/// Reads both reports for the page's request.
pub async fn load(
    pool: &PgPool,
    req: &ReportRequest,
    min_support: i64,
    feature_attributes: &[String],
) -> Result<Insights> {
    let funnel = funnel(
        pool,
        &FunnelRequest {
            report: req.clone(),
            currency: None,
        },
    )
    .await?;
    let ungrouped = ReportRequest {
        scope: req.scope.clone(),
        group: None,
    };
    let drivers = rejection_drivers(pool, &ungrouped, min_support, feature_attributes).await?;
    Ok(Insights { funnel, drivers })
}

/// Both panels.
pub fn panels(i: &Insights) -> Markup {
    html! {
        (funnel_panel(&i.funnel))
        (drivers_panel(&i.drivers))
    }
}

fn count_and_rate(n: i64, rate: Option<f64>) -> Markup {
    html! { (n) @if rate.is_some() { " (" (fmt::percent(rate)) ")" } }
}

fn funnel_cells(f: &FunnelFigures) -> Markup {
    let r = &f.rates;
    html! {
        td.routed { (f.routed) }
        td.accepted data-value=(f.accepted) { (count_and_rate(f.accepted, r.accepted.of_previous)) }
        td.meeting data-value=(f.meeting) { (count_and_rate(f.meeting, r.meeting.of_previous)) }
        td.sql data-value=(f.sql) { (count_and_rate(f.sql, r.sql.of_previous)) }
        td.opportunity data-value=(f.opportunity) { (count_and_rate(f.opportunity, r.opportunity.of_previous)) }
        td.won data-value=(f.won) { (count_and_rate(f.won, r.won.of_previous)) }
        td.pipeline data-value=(fmt::raw(f.pipeline_per_accepted)) {
            (f.pipeline_per_accepted.map_or_else(String::new, |v| format!("{v:.2}")))
        }
        td.cost data-value=(fmt::raw(f.cost.as_ref().and_then(|c| c.per_accepted))) {
            (f.cost.as_ref().and_then(|c| c.per_accepted.map(|v| format!("{v:.2} {}", c.currency))).unwrap_or_default())
        }
    }
}

fn funnel_panel(r: &FunnelReport) -> Markup {
    let currency = r.currency.as_deref().unwrap_or("");
    html! {
        section aria-labelledby="funnel-title" {
            h2 #funnel-title { "Funnel" }
            p.legend { "Routed → accepted → meeting → SQL → opportunity → won; each stage's "
                "share of the stage before it in brackets. Pipeline per accepted lead in "
                (if currency.is_empty() { "the report's currency" } else { currency }) "." }
            div.table-wrap {
                table #funnel-table {
                    caption { "Funnel per " (r.meta.group_by.as_deref().unwrap_or("period")) }
                    thead { tr {
                        th scope="col" { "Bucket" } th scope="col" { "Routed" }
                        th scope="col" { "Accepted" } th scope="col" { "Meeting" }
                        th scope="col" { "SQL" } th scope="col" { "Opportunity" }
                        th scope="col" { "Won" } th scope="col" { "Pipeline / accepted" }
                        th scope="col" { "Cost / accepted" }
                    } }
                    tbody {
                        @for g in &r.groups {
                            @let key = g.key.as_deref().unwrap_or("(none)");
                            tr data-key=(key) { th scope="row" { (key) } (funnel_cells(&g.figures)) }
                        }
                        tr data-key="Total" { th scope="row" { "Total" } (funnel_cells(&r.total)) }
                    }
                }
            }
        }
    }
}

fn dimension_rows(d: &DimensionFigures) -> Markup {
    let name = match &d.attribute {
        Some(key) => format!("attribute {key}"),
        None => d.dimension.label().to_owned(),
    };
    html! {
        @for v in d.values.iter().take(VALUES_SHOWN) {
            tr data-dimension=(d.dimension.as_str()) data-value=(v.value) {
                th scope="row" { (name) " = " (v.value) }
                td.cycles { (v.cycles) }
                td.rejected { (v.rejected) }
                td.rate data-value=(fmt::raw(v.rejection_rate)) { (fmt::percent(v.rejection_rate)) }
                td.lift data-value=(fmt::raw(v.lift)) { (v.lift.map_or_else(String::new, |l| format!("{l:.2}×"))) }
                td.share data-value=(fmt::raw(v.share)) {
                    meter min="0" max="1" value=(v.share.unwrap_or(0.0)) {}
                    " " (fmt::percent(v.share))
                }
                td.interval { @if let Some(i) = v.interval { (fmt::percent(Some(i.low))) "–" (fmt::percent(Some(i.high))) } }
                td.codes { @for (n, c) in v.codes.iter().enumerate() { @if n > 0 { ", " } (c.code) " " (c.count) } }
            }
        }
    }
}

fn drivers_panel(r: &DriversReport) -> Markup {
    let suppressed: i64 = r.dimensions.iter().map(|d| d.suppressed).sum();
    html! {
        section aria-labelledby="drivers-title" {
            h2 #drivers-title { "Rejection drivers" }
            @if let Some(s) = &r.summary {
                p #drivers-summary data-share=(fmt::raw(s.share)) { (s.text) "." }
            } @else {
                p #drivers-summary { "No input concentrates the rejections of this period." }
            }
            p.legend { "Per input value: decided cycles, rejection rate, lift over the period's "
                (fmt::percent(r.total.rejection_rate)) ", share of its " (r.total.rejected)
                " rejections with the 95 % interval of the rate, and the top codes. Values with "
                "fewer than " (r.min_support) " cycles are left out (" (suppressed) " here); the "
                "API lists every value." }
            div.table-wrap {
                table #drivers-table {
                    caption { "The " (VALUES_SHOWN) " values with most rejections of each input" }
                    thead { tr {
                        th scope="col" { "Value" } th scope="col" { "Cycles" }
                        th scope="col" { "Rejected" } th scope="col" { "Rate" }
                        th scope="col" { "Lift" } th scope="col" { "Share" }
                        th scope="col" { "95 % interval" } th scope="col" { "Top codes" }
                    } }
                    tbody { @for d in &r.dimensions { (dimension_rows(d)) } }
                }
            }
        }
    }
}
