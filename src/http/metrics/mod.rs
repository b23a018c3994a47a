//! `/v1/metrics/*`: the RevOps reports of docs/api.md §6, as JSON or (`Accept: text/csv`) CSV.

mod bound;
mod csv;
pub mod report;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use axum::{
    extract::{rejection::QueryRejection, Query, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    error::{ApiError, ApiResult, Problem},
    extract::Principal,
    AppState,
};
use crate::{
    db::{
        cycle_hours,
        metrics::{self as db, GroupBy, Scope},
    },
    domain::{
        body::{Check, Field},
        metrics::{bucket_key, Period},
        validation::FieldError,
        Role,
    },
};
use report::{
    AcceptanceReport, RecyclingReport, RejectionFigures, RejectionGroup, RejectionReport,
    ReportMeta, SlaReport,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_acceptance_metrics))
        .routes(routes!(get_rejection_metrics))
        .routes(routes!(get_sla_metrics))
        .routes(routes!(get_recycling_metrics))
}

const READERS: &[Role] = &[Role::Revops, Role::Admin];

/// Longest period a report may cover (bounds the number of day buckets).
const MAX_RANGE_DAYS: i64 = 3_660;

// Read as `domain::body` describes.
/// Query parameters shared by every report. Every figure counts cycles routed in
/// `[from, to)`.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// RFC 3339 instant, or a date (`YYYY-MM-DD`, midnight in `tz`). Default: 30 days before `to`.
    #[param(value_type = Option<String>)]
    from: Field,
    /// RFC 3339 instant or date, exclusive. Default: now.
    #[param(value_type = Option<String>)]
    to: Field,
    /// IANA time zone of dates and of day, week and month buckets. Default `UTC`.
    #[param(value_type = Option<String>)]
    tz: Field,
    /// source, campaign, channel, lead_type, queue, owner, day, week (ISO, from Monday) or month.
    #[param(value_type = Option<String>)]
    group_by: Field,
    #[param(value_type = Option<String>)]
    source: Field,
    #[param(value_type = Option<String>)]
    campaign: Field,
    #[param(value_type = Option<String>)]
    channel: Field,
    #[param(value_type = Option<String>)]
    lead_type: Field,
    #[param(value_type = Option<String>)]
    queue: Field,
    /// The cycle's owner: the rep that decided it, else its current owner.
    #[param(value_type = Option<String>)]
    owner: Field,
}

/// A parsed report request.
struct ReportRequest {
    scope: Scope,
    group: Option<GroupBy>,
}

impl ReportRequest {
    fn parse(
        params: Result<Query<HashMap<String, String>>, QueryRejection>,
        now: DateTime<Utc>,
    ) -> ApiResult<ReportRequest> {
        let Query(params) = params.map_err(|e| {
            ApiError::Validation(vec![FieldError {
                field: "query".into(),
                message: e.body_text(),
            }])
        })?;
        let value = Value::Object(
            params
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        );
        let (query, mut f) = Check::read::<ReportQuery>(&value).map_err(ApiError::Validation)?;
        let ReportQuery {
            from,
            to,
            tz,
            group_by,
            source,
            campaign,
            channel,
            lead_type,
            queue,
            owner,
        } = query;
        let tz = match f.opt_str("tz", tz, 64) {
            None => chrono_tz::UTC,
            Some(name) => name.parse::<Tz>().unwrap_or_else(|_| {
                f.error("tz", "must be an IANA time zone such as Europe/Berlin");
                chrono_tz::UTC
            }),
        };
        let instant = |f: &mut Check, key: &'static str, v: Field| {
            let raw = f.opt_str(key, v, 40)?;
            bound::parse(&raw, tz)
                .map_err(|message| f.error(key, message))
                .ok()
        };
        let before = f.errors.len();
        let from = instant(&mut f, "from", from);
        let to = instant(&mut f, "to", to);
        // The order of the ends is checked only when both are usable.
        let ends_ok = f.errors.len() == before;
        let group = f.opt_str("group_by", group_by, 20).and_then(|g| {
            let parsed = GroupBy::parse(&g);
            if parsed.is_none() {
                f.error("group_by", format!("must be one of {}", GroupBy::NAMES));
            }
            parsed
        });
        let scope_dims = (
            f.opt_str("source", source, 200),
            f.opt_str("campaign", campaign, 200),
            f.opt_str("channel", channel, 200),
            f.opt_str("lead_type", lead_type, 200),
            f.opt_str("queue", queue, 200),
            f.opt_str("owner", owner, 200),
        );
        let to = to.unwrap_or(now);
        let from = from.unwrap_or(to - Duration::days(30));
        if ends_ok && from >= to {
            f.error("to", "must be after `from`");
        } else if ends_ok && to - from > Duration::days(MAX_RANGE_DAYS) {
            f.error(
                "from",
                format!("the period may be at most {MAX_RANGE_DAYS} days"),
            );
        }
        f.done(Some(())).map_err(ApiError::Validation)?;
        let (source, campaign, channel, lead_type, queue, owner) = scope_dims;
        Ok(ReportRequest {
            scope: Scope {
                from,
                to,
                tz,
                source,
                campaign,
                channel,
                lead_type,
                queue,
                owner,
            },
            group,
        })
    }

    fn meta(&self) -> ReportMeta {
        let s = &self.scope;
        let filters = [
            ("source", &s.source),
            ("campaign", &s.campaign),
            ("channel", &s.channel),
            ("lead_type", &s.lead_type),
            ("queue", &s.queue),
            ("owner", &s.owner),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
        .collect::<BTreeMap<_, _>>();
        ReportMeta {
            from: s.from,
            to: s.to,
            time_zone: s.tz.name().to_string(),
            group_by: self.group.map(|g| g.as_str().to_string()),
            filters,
        }
    }

    /// The keys of every time bucket of the period, when grouped by time.
    fn buckets(&self) -> Option<Vec<String>> {
        self.bucket_dates()
            .map(|dates| dates.into_iter().map(bucket_key).collect())
    }

    /// The instants every time bucket starts, in the same order as [`Self::buckets`].
    fn bucket_starts(&self) -> Option<Vec<DateTime<Utc>>> {
        self.bucket_dates().map(|dates| {
            dates
                .into_iter()
                .map(|d| Period::instant(d, self.scope.tz))
                .collect()
        })
    }

    fn bucket_dates(&self) -> Option<Vec<NaiveDate>> {
        match self.group {
            Some(GroupBy::Time(p)) => {
                Some(p.buckets(self.scope.from, self.scope.to, self.scope.tz))
            }
            _ => None,
        }
    }
}

/// Whether the client asked for CSV.
fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            range
                .split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv"))
        })
}

fn respond<T: Serialize>(
    headers: &HeaderMap,
    report: T,
    csv: impl FnOnce(&T) -> String,
) -> Response {
    if wants_csv(headers) {
        let mut res = csv(&report).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        res
    } else {
        Json(report).into_response()
    }
}

/// Acceptance: routed, accepted, rejected, recycled, open, acceptance rate and band,
/// accepted-within-SLA rate, time to decision.
#[utoipa::path(get, path = "/v1/metrics/acceptance", tag = "metrics", params(ReportQuery),
    responses(
        (status = 200, content((AcceptanceReport = "application/json"), (String = "text/csv"))),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_acceptance_metrics(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Response> {
    principal.require(READERS)?;
    let req = ReportRequest::parse(params, state.clock.now())?;
    let buckets = req.buckets();
    let rows = match compacted_acceptance(&state, &req, buckets.as_deref()).await? {
        Some(rows) => rows,
        None => db::acceptance(&state.db, &req.scope, req.group).await?,
    };
    let report = report::acceptance(
        req.meta(),
        state.acceptance_bands,
        buckets.as_deref(),
        &rows,
    );
    Ok(respond(&headers, report, csv::acceptance))
}

/// The unfiltered acceptance report, ungrouped or by time, from compacted hours (see
/// `db::cycle_hours`); `None` when it cannot be: filters, grouping by a field, buckets that do
/// not start on whole UTC hours (zones offset by :30 or :45), or a period under an hour.
async fn compacted_acceptance(
    state: &AppState,
    req: &ReportRequest,
    buckets: Option<&[String]>,
) -> ApiResult<Option<Vec<db::AcceptanceRow>>> {
    let s = &req.scope;
    let filtered = [
        &s.source,
        &s.campaign,
        &s.channel,
        &s.lead_type,
        &s.queue,
        &s.owner,
    ]
    .iter()
    .any(|f| f.is_some());
    if filtered || !matches!(req.group, None | Some(GroupBy::Time(_))) {
        return Ok(None);
    }
    let starts = req.bucket_starts();
    if let Some(starts) = &starts {
        if starts.iter().any(|t| t.timestamp() % 3600 != 0) {
            return Ok(None);
        }
    }
    let Some(pieces) = cycle_hours::pieces(&state.db, s.from, s.to).await? else {
        return Ok(None);
    };
    let keys = buckets.zip(starts.as_deref());
    Ok(Some(cycle_hours::fold(&pieces, keys)))
}

/// Rejections: count and share per code, each compared with the previous equal period; codes
/// whose share rose by 10 points or more are flagged `rising`.
#[utoipa::path(get, path = "/v1/metrics/rejections", tag = "metrics", params(ReportQuery),
    responses(
        (status = 200, content((RejectionReport = "application/json"), (String = "text/csv"))),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_rejection_metrics(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Response> {
    principal.require(READERS)?;
    let req = ReportRequest::parse(params, state.clock.now())?;
    let scope = &req.scope;
    let previous_from = scope.from - (scope.to - scope.from);
    let previous = scope.with_range(previous_from, scope.from);
    let current = report::code_table(&db::rejections(&state.db, scope, req.group).await?);
    let before = report::code_table(&db::rejections(&state.db, &previous, req.group).await?);
    let total = RejectionFigures::new(
        &report::code_totals(&current),
        &report::code_totals(&before),
    );
    let empty = BTreeMap::new();
    let groups = match (req.group, req.buckets()) {
        (Some(GroupBy::Time(_)), Some(buckets)) => {
            // Each bucket against the one before; the first against as long a stretch just
            // before `from` (buckets are cut by the period's ends).
            let first_end = req
                .bucket_starts()
                .and_then(|starts| starts.get(1).copied())
                .map_or(scope.to, |t| t.min(scope.to));
            let lead_in = scope.with_range(scope.from - (first_end - scope.from), scope.from);
            let lead_in = report::code_totals(&report::code_table(
                &db::rejections(&state.db, &lead_in, None).await?,
            ));
            let mut prev = &lead_in;
            let mut out = Vec::with_capacity(buckets.len());
            for key in buckets {
                let now = current.get(&Some(key.clone())).unwrap_or(&empty);
                out.push(RejectionGroup {
                    key: Some(key),
                    figures: RejectionFigures::new(now, prev),
                });
                prev = now;
            }
            out
        }
        (Some(_), _) => report::group_keys(None, current.keys())
            .into_iter()
            .map(|key| RejectionGroup {
                figures: RejectionFigures::new(
                    current.get(&key).unwrap_or(&empty),
                    before.get(&key).unwrap_or(&empty),
                ),
                key,
            })
            .collect(),
        (None, _) => Vec::new(),
    };
    let report = RejectionReport {
        meta: req.meta(),
        previous_from,
        total,
        groups,
    };
    Ok(respond(&headers, report, csv::rejections))
}

/// SLA: breaches and breach rate, cycles open past due now (silent non-acceptance),
/// first-touch compliance, time to first touch.
#[utoipa::path(get, path = "/v1/metrics/sla", tag = "metrics", params(ReportQuery),
    responses(
        (status = 200, content((SlaReport = "application/json"), (String = "text/csv"))),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_sla_metrics(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Response> {
    principal.require(READERS)?;
    let now = state.clock.now();
    let req = ReportRequest::parse(params, now)?;
    let rows = db::sla(&state.db, &req.scope, req.group, now).await?;
    let buckets = req.buckets();
    let report = report::sla(req.meta(), now, buckets.as_deref(), &rows);
    Ok(respond(&headers, report, csv::sla))
}

/// Recycling: recycled cycles, how many of their leads were routed again and accepted later
/// (recycle conversion), and the reasons.
#[utoipa::path(get, path = "/v1/metrics/recycling", tag = "metrics", params(ReportQuery),
    responses(
        (status = 200, content((RecyclingReport = "application/json"), (String = "text/csv"))),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_recycling_metrics(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Response> {
    principal.require(READERS)?;
    let req = ReportRequest::parse(params, state.clock.now())?;
    let rows = db::recycling(&state.db, &req.scope, req.group).await?;
    let reasons = report::code_table(&db::recycle_reasons(&state.db, &req.scope, req.group).await?);
    let buckets = req.buckets();
    let report = report::recycling(req.meta(), buckets.as_deref(), &rows, &reasons);
    Ok(respond(&headers, report, csv::recycling))
}
