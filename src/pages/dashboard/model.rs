//! The dashboard's acceptance-model panel: the model `GET /v1/model` describes (status, holdout
//! AUC and Brier score, the calibration buckets as a table, the strongest feature values).

use maud::{html, Markup};

use super::format as fmt;
use crate::service::model::{ModelReport, ModelStatus};

/// A probability or score to three places; a dash when absent.
fn places(v: Option<f64>) -> String {
    v.map_or_else(|| fmt::NONE.into(), |v| format!("{v:.3}"))
}

fn status_words(report: &ModelReport) -> String {
    match report.status {
        ModelStatus::Ready => "ready".into(),
        ModelStatus::NotEnoughData => format!(
            "not enough data: {} labelled cycles, {} needed",
            report.training_cycles, report.min_cycles
        ),
        ModelStatus::NotTrained => "not trained yet".into(),
    }
}

pub fn section(report: &ModelReport) -> Markup {
    let holdout = report.holdout.as_ref();
    html! {
        section aria-labelledby="model-title" {
            h2 #model-title { "Acceptance model" }
            p.legend { "Naive Bayes over the lead features, trained on the accepted and rejected "
                "cycles of the last year; quality measured on the newest fifth of that period, "
                "which the measured model did not see." }
            dl.headline {
                div.figure { dt { "Status" } dd #model-status data-value=(format!("{:?}", report.status)) { (status_words(report)) } }
                div.figure { dt { "Labelled cycles" } dd #model-cycles data-value=(report.training_cycles) { (report.training_cycles) } }
                div.figure { dt { "Holdout AUC" } dd #model-auc data-value=(fmt::raw(holdout.and_then(|h| h.auc))) { (places(holdout.and_then(|h| h.auc))) }
                    dd.note { "0.5 is a coin toss, 1 a perfect ranking" } }
                div.figure { dt { "Holdout Brier score" } dd #model-brier data-value=(fmt::raw(holdout.and_then(|h| h.brier))) { (places(holdout.and_then(|h| h.brier))) }
                    dd.note { "0 is perfect; lower is better" } }
            }
            @if let Some(h) = holdout {
                div.table-wrap {
                    table #model-calibration-table {
                        caption { "Calibration on " (h.cycles) " holdout cycles" }
                        thead { tr { th scope="col" { "Predicted" } th scope="col" { "Cycles" }
                            th scope="col" { "Mean prediction" } th scope="col" { "Accepted" } } }
                        tbody {
                            @for b in &h.calibration {
                                tr data-key=(format!("{:.1}", b.lower)) {
                                    th scope="row" { (fmt::percent(Some(b.lower))) "–" (fmt::percent(Some(b.upper))) }
                                    td.count { (b.count) }
                                    td { (fmt::percent(b.predicted_mean)) }
                                    td.observed data-value=(fmt::raw(b.observed_rate)) { (fmt::percent(b.observed_rate)) }
                                }
                            }
                        }
                    }
                }
            }
            @if !report.top_features.is_empty() {
                div.table-wrap {
                    table #model-features-table {
                        caption { "Strongest feature values" }
                        thead { tr { th scope="col" { "Feature" } th scope="col" { "Value" }
                            th scope="col" { "Effect" } th scope="col" { "Cycles" } } }
                        tbody {
                            @for f in &report.top_features {
                                tr {
                                    th scope="row" { (f.dimension) }
                                    td { (f.value) }
                                    td data-value=(f.effect) { (format!("{:+.2}", f.effect)) }
                                    td { (f.cycles) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
