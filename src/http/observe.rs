//! Prometheus `/metrics`: HTTP request counts and latency by matched route and status (a
//! middleware), counters the domain increments where things happen, and gauges of the open
//! queue read from the database at scrape time.

use std::{sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{header, HeaderValue, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;

/// The process-wide recorder (installed once; every `Application` in a process shares it).
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("duration_seconds".into()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    ],
                )
                // Fails only for an empty bucket list; this one is a constant.
                .expect("bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; ours then stays unused.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The request methods counted by name; any other method is counted as `_OTHER`, so that
/// clients cannot add label values (and series) at will.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
];

/// The `method` label: one of [`METHODS`] or `_OTHER`.
fn method_label(method: &Method) -> &'static str {
    METHODS
        .into_iter()
        .find(|m| *m == method.as_str())
        .unwrap_or("_OTHER")
}

/// Counts and times every request by method, matched route (`unmatched` for 404s) and status.
/// Every label comes from a closed set: the methods above, the router's route templates, and
/// status codes.
pub async fn record_requests(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method()).to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let res = next.run(req).await;
    let labels = [
        ("method", method),
        ("route", route),
        ("status", res.status().as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    res
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_metrics))
}

/// Prometheus text exposition. Answers even when the database is down, since that is when the
/// request counters matter most: `salgate_database_up` is then 0 and the gauges read from the
/// database keep their last values.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn get_metrics(State(state): State<AppState>) -> Response {
    let up = match set_database_gauges(&state).await {
        Ok(()) => 1.0,
        Err(e) => {
            tracing::warn!(error = %e, "/metrics could not read the database gauges");
            0.0
        }
    };
    metrics::gauge!("salgate_database_up").set(up);
    set_replica_gauges(&state);
    let mut res = prometheus().render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    res
}

/// The read replica's last measured lag and where reports read now; from memory (the lag
/// probe's last reading), so they answer even when a database does not.
fn set_replica_gauges(state: &AppState) {
    use crate::service::replica::{ReadSource, Reading};
    let Some(replica) = &state.replica else {
        return;
    };
    let lag = match replica.reading() {
        Reading::Measured { lag: Some(s), .. } => s,
        // Unknown: not a number a dashboard could mistake for "caught up".
        _ => f64::NAN,
    };
    metrics::gauge!("salgate_replica_lag_seconds").set(lag);
    let source = state.read_pool().freshness.source;
    for (label, is) in [
        ("primary", ReadSource::Primary),
        ("replica", ReadSource::Replica),
    ] {
        let v = if source == is { 1.0 } else { 0.0 };
        metrics::gauge!("salgate_reads_from", "source" => label).set(v);
    }
}

/// The gauges read from the shared database at scrape time.
async fn set_database_gauges(state: &AppState) -> Result<(), sqlx::Error> {
    let now = state.clock.now();
    let open = crate::db::sla_status::open_leads(&state.db, now).await?;
    for (status, n) in [
        ("on_track", open.on_track),
        ("at_risk", open.at_risk),
        ("breached", open.breached),
    ] {
        metrics::gauge!("salgate_open_leads", "sla_status" => status).set(n as f64);
    }
    metrics::gauge!("salgate_unassigned_leads").set(open.unassigned as f64);
    metrics::gauge!("salgate_sla_scan_lag_seconds").set(open.scan_lag);
    metrics::gauge!("salgate_metrics_dirty_hours").set(open.dirty_hours as f64);
    let (pending, dead) = crate::db::webhooks::backlog(&state.db).await?;
    metrics::gauge!("salgate_outbox_pending_deliveries").set(pending as f64);
    metrics::gauge!("salgate_outbox_dead_deliveries").set(dead as f64);
    Ok(())
}
