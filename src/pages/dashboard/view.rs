//! The dashboard's HTML: the period and filter form, the headline figures, the two charts
//! with their tables, the per-rep, per-queue and per-campaign tables, and the cycles open
//! past due now. Every table has a CSV link (`csv.rs`).

use chrono::{DateTime, SecondsFormat, Utc};
use maud::{html, Markup};

use super::{
    charts, format as fmt,
    insights::{self, Insights},
    Filters, TIME_GROUPS,
};
use crate::{
    pages::{
        form::{field, Errors},
        layout::{self, Extras, Nav},
        Viewer,
    },
    service::{
        metrics::{
            report::{AcceptanceReport, RejectionFigures},
            Dashboard, PAST_DUE_LIMIT,
        },
        model::ModelReport,
    },
};

const EXTRAS: Extras = Extras {
    styles: &["uPlot.min.css"],
    scripts: &["uPlot.iife.min.js", "dashboard.js"],
};

/// The whole page; `shown` is `None` when the form was refused.
pub fn page(
    viewer: &Viewer,
    filters: &Filters,
    errors: &Errors,
    shown: Option<(&Dashboard, &[i64], &Insights)>,
    model: Option<&ModelReport>,
) -> Markup {
    let content = html! {
        (filter_form(filters, errors))
        @if let Some((d, starts, more)) = shown {
            (period(d))
            (headline(d))
            (charts::data_island(d, starts))
            (acceptance_section(d, filters))
            (rejection_section(d, filters))
            (group_table("owner", "Per rep", &d.by_owner, filters))
            (group_table("queue", "Per queue", &d.by_queue, filters))
            (group_table("campaign", "Per campaign", &d.by_campaign, filters))
            (insights::panels(more))
            (past_due_section(d, filters))
        }
        @if let Some(m) = model { (super::model::section(m)) }
    };
    layout::page_with(Some(viewer), "Dashboard", Nav::Dashboard, &EXTRAS, content)
}

fn text_input(id: &str, label: &str, filters: &Filters, errors: &Errors, kind: &str) -> Markup {
    let input = html! {
        input id=(id) name=(id) type=(kind) value=(filters.get(id))
            aria-describedby=[errors.get(id).map(|_| format!("{id}-error"))];
    };
    field(id, id, label, input, errors)
}

fn filter_form(filters: &Filters, errors: &Errors) -> Markup {
    let group = filters.get("group_by");
    let select = html! {
        select id="group_by" name="group_by" {
            @for g in TIME_GROUPS {
                option value=(g) selected[*g == group] { (g) }
            }
        }
    };
    html! {
        form.filters method="get" action="/app/dashboard" aria-label="Period and filters" {
            fieldset {
                legend { "Period" }
                (text_input("from", "From (date, default 30 days before To)", filters, errors, "date"))
                (text_input("to", "To (exclusive, default now)", filters, errors, "date"))
                (field("group_by", "group_by", "Per", select, errors))
                (text_input("tz", "Time zone (IANA, default UTC)", filters, errors, "text"))
            }
            fieldset {
                legend { "Filters" }
                (text_input("queue", "Queue", filters, errors, "text"))
                (text_input("owner", "Rep", filters, errors, "text"))
                (text_input("campaign", "Campaign", filters, errors, "text"))
                (text_input("source", "Source", filters, errors, "text"))
                (text_input("channel", "Channel", filters, errors, "text"))
                (text_input("lead_type", "Lead type", filters, errors, "text"))
            }
            button type="submit" { "Show" }
        }
    }
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn period(d: &Dashboard) -> Markup {
    let m = &d.acceptance.meta;
    html! {
        p.period #period data-from=(instant(m.from)) data-to=(instant(m.to)) {
            "Cycles routed from " time datetime=(instant(m.from)) { (instant(m.from)) }
            " up to " time datetime=(instant(m.to)) { (instant(m.to)) }
            " (" (m.time_zone) " " (m.group_by.as_deref().unwrap_or("")) "s)"
            @for (k, v) in &m.filters { ", " (k) " = " (v) }
            "."
        }
    }
}

/// One headline figure: its words, and the raw value in `data-value`.
fn figure(id: &str, label: &str, shown: String, raw: String, note: Markup) -> Markup {
    html! {
        div.figure {
            dt { (label) }
            dd id=(id) data-value=(raw) { (shown) }
            @if !note.0.is_empty() { dd.note { (note) } }
        }
    }
}

fn headline(d: &Dashboard) -> Markup {
    let a = &d.acceptance.total;
    let s = &d.sla.total;
    let r = &d.recycling.total;
    let t = &a.time_to_decision;
    html! {
        section aria-labelledby="headline-title" {
            h2 #headline-title { "Headline" }
            dl.headline {
                (figure("routed", "Routed", a.routed.to_string(), a.routed.to_string(),
                    html! { (a.accepted) " accepted, " (a.rejected) " rejected, "
                            (a.recycled) " recycled, " (a.open) " open" }))
                div.figure.(fmt::band_class(a.band)) {
                    dt { "Acceptance rate" }
                    dd #acceptance-rate data-value=(fmt::raw(a.acceptance_rate))
                        data-band=(a.band.map_or("", |b| b.as_str())) {
                        (fmt::rate_with_band(a.acceptance_rate, a.band))
                    }
                }
                (figure("accepted-within-sla", "Accepted within SLA",
                    fmt::percent(a.accepted_within_sla_rate), a.accepted_within_sla.to_string(),
                    html! { (a.accepted_within_sla) " of " (a.routed) " routed" }))
                (figure("open-past-due", "Open past due now", s.open_past_due.to_string(),
                    s.open_past_due.to_string(), html! {}))
                (figure("decision-p50", "Time to decision, p50", fmt::duration(t.p50),
                    fmt::raw(t.p50), html! {}))
                (figure("decision-p90", "Time to decision, p90", fmt::duration(t.p90),
                    fmt::raw(t.p90), html! {}))
                (figure("first-touch-compliance", "First-touch compliance",
                    fmt::percent(s.first_touch_compliance_rate),
                    fmt::raw(s.first_touch_compliance_rate),
                    html! { (s.first_touch_met) " met, " (s.first_touch_missed) " missed" }))
                (figure("recycle-conversion", "Recycle conversion",
                    fmt::percent(r.recycle_conversion_rate), fmt::raw(r.recycle_conversion_rate),
                    html! { (r.accepted_later) " of " (r.recycled) " recycled accepted later" }))
            }
        }
    }
}

fn csv_link(table: &str, filters: &Filters) -> Markup {
    let href = format!("/app/dashboard/csv/{table}?{}", filters.query_string());
    html! { a.csv href=(href) download data-table=(table) { "Download CSV" } }
}

fn acceptance_section(d: &Dashboard, filters: &Filters) -> Markup {
    let b = &d.acceptance.bands;
    html! {
        section aria-labelledby="acceptance-title" {
            h2 #acceptance-title { "Acceptance rate per " (filters.get("group_by")) }
            p.legend {
                "Healthy from " (fmt::percent(Some(b.healthy_from))) ", elevated from "
                (fmt::percent(Some(b.elevated_from))) ", rubber-stamping above "
                (fmt::percent(Some(b.rubber_stamping_above))) " (dashed lines)."
            }
            div.chart #acceptance-chart aria-hidden="true" {}
            (acceptance_rows("time", &d.acceptance, filters))
        }
    }
}

fn rejection_section(d: &Dashboard, filters: &Filters) -> Markup {
    let codes: Vec<&str> = d
        .rejections
        .total
        .codes
        .iter()
        .filter(|c| c.count > 0)
        .map(|c| c.code.as_str())
        .collect();
    let rows: Vec<(&str, &RejectionFigures)> = d
        .rejections
        .groups
        .iter()
        .map(|g| (g.key.as_deref().unwrap_or("(none)"), &g.figures))
        .chain(std::iter::once(("Total", &d.rejections.total)))
        .collect();
    html! {
        section aria-labelledby="rejections-title" {
            h2 #rejections-title { "Rejection reasons per " (filters.get("group_by")) }
            p.legend { "Stacked; ▲ marks a code whose share rose by 10 points or more against the "
                "bucket before (in the total row: against the previous equal period)." }
            div.chart #rejections-chart aria-hidden="true" {}
            div.table-wrap {
                table #rejections-table {
                    caption { "Rejections per code " (csv_link("rejections", filters)) }
                    thead { tr { th scope="col" { "Bucket" } th scope="col" { "Rejections" }
                        @for c in &codes { th scope="col" { (c) } } } }
                    tbody {
                        @for (key, f) in &rows {
                            tr data-key=(key) {
                                th scope="row" { (key) }
                                td { (f.rejections) }
                                @for c in &codes {
                                    @let share = f.codes.iter().find(|s| s.code == *c);
                                    td.rising[share.is_some_and(|s| s.rising)] {
                                        (share.map_or(0, |s| s.count))
                                        @if share.is_some_and(|s| s.rising) { " ▲" span.visually-hidden { " rising" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn group_table(table: &str, title: &str, report: &AcceptanceReport, filters: &Filters) -> Markup {
    html! {
        section aria-labelledby=(format!("{table}-title")) {
            h2 id=(format!("{table}-title")) { (title) }
            (acceptance_rows(table, report, filters))
        }
    }
}

/// An acceptance report as a table: one row per group, the total last.
fn acceptance_rows(table: &str, report: &AcceptanceReport, filters: &Filters) -> Markup {
    let rows = report
        .groups
        .iter()
        .map(|g| (g.key.as_deref().unwrap_or("(none)"), &g.figures))
        .chain(std::iter::once(("Total", &report.total)));
    html! {
        div.table-wrap {
            table id=(format!("{table}-table")) {
                caption { (report.groups.len()) " groups " (csv_link(table, filters)) }
                thead { tr {
                    th scope="col" { "Group" } th scope="col" { "Routed" }
                    th scope="col" { "Accepted" } th scope="col" { "Rejected" }
                    th scope="col" { "Recycled" } th scope="col" { "Open" }
                    th scope="col" { "Acceptance" } th scope="col" { "Within SLA" }
                    th scope="col" { "Decision p50" } th scope="col" { "Decision p90" }
                } }
                tbody {
                    @for (key, f) in rows {
                        tr data-key=(key) {
                            th scope="row" { (key) }
                            td.routed { (f.routed) } td.accepted { (f.accepted) }
                            td.rejected { (f.rejected) } td { (f.recycled) } td { (f.open) }
                            td.rate.(fmt::band_class(f.band)) data-value=(fmt::raw(f.acceptance_rate)) {
                                (fmt::rate_with_band(f.acceptance_rate, f.band))
                            }
                            td { (fmt::percent(f.accepted_within_sla_rate)) }
                            td { (fmt::duration(f.time_to_decision.p50)) }
                            td { (fmt::duration(f.time_to_decision.p90)) }
                        }
                    }
                }
            }
        }
    }
}

fn past_due_section(d: &Dashboard, filters: &Filters) -> Markup {
    let total = d.sla.total.open_past_due;
    html! {
        section aria-labelledby="past-due-title" {
            h2 #past-due-title { "Silent non-acceptance: open past due now" }
            @if d.past_due.is_empty() {
                p #past-due-empty { "No lead of this period is open past its due time." }
            } @else {
                div.table-wrap {
                    table #past-due-table {
                        caption {
                            (total) " open past due"
                            @if usize::try_from(total).is_ok_and(|t| t > PAST_DUE_LIMIT) { ", the " (PAST_DUE_LIMIT) " longest overdue shown" }
                            " " (csv_link("past-due", filters))
                        }
                        thead { tr { th scope="col" { "Lead" } th scope="col" { "Owner" }
                            th scope="col" { "Queue" } th scope="col" { "Due" }
                            th scope="col" { "Overdue by" } } }
                        tbody {
                            @for r in &d.past_due {
                                tr {
                                    td { a href=(format!("/app/leads/{}", r.lead_id)) { (r.lead_id) } }
                                    td { (r.owner.as_deref().unwrap_or("unassigned")) }
                                    td { (r.queue.as_deref().unwrap_or("")) }
                                    td { time datetime=(instant(r.sla_due_at)) { (instant(r.sla_due_at)) } }
                                    td { (fmt::duration(Some((d.as_of - r.sla_due_at).num_seconds() as f64))) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
