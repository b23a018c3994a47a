//! `POST /v1/leads/batch`: up to 1,000 leads per request with a result per item; a bad item
//! fails only itself. New leads for an explicit, known-available owner (or for nobody) are
//! written with one multi-row statement; the others (queue routing, new owners, re-sent or
//! re-routed leads) take the one-lead path.

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;
use serde::Serialize;
use serde_json::{value::RawValue, Value};
use tokio::sync::OwnedSemaphorePermit;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    error::{ApiError, ApiResult, Problem},
    extract::{JsonBytes, Principal},
    AppState,
};
use crate::{
    db::leads::{InsertedLead, Who},
    domain::{
        body::{member_names, Check},
        lead_input::{NewLead, RoutedAtWindow},
        lead_size,
        validation::FieldError,
        LeadState, Role,
    },
    service::{BatchOutcome, Ingested},
    views::lead::Lead,
};

/// Most leads per batch (docs/api.md §5).
pub const MAX_LEADS: usize = 1000;
/// Largest batch body (docs/api.md §5).
pub const BATCH_BODY_LIMIT: usize = 16 * 1024 * 1024;
mod chunks;
use chunks::chunks;

/// The route (the idempotency middleware and the batch gate pick it out by path).
pub const PATH: &str = "/v1/leads/batch";

/// Admits at most `SALGATE_BATCH_CONCURRENCY` batches per replica at a time, before their
/// bodies are read (a waiting request holds only its connection): up to 16 MiB each, they are
/// what bounds the service's memory. One that waits longer than `SALGATE_BATCH_WAIT` gets 503
/// with Retry-After: the replica is busy, not the client over a quota (429), and a load balancer
/// may send the retry to another replica.
pub async fn gate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if req.uri().path() != PATH || req.method() != Method::POST {
        return next.run(req).await;
    }
    let acquire = state
        .batch_gate
        .clone()
        .acquire_many_owned(budget_share(req.headers()));
    match tokio::time::timeout(state.batch_wait, acquire).await {
        Ok(Ok(permit)) => {
            // Travels with the request, so work that outlives the connection (idempotency
            // finishes a request whose client left) keeps it too.
            let permit = BatchPermit(Arc::new(permit));
            req.extensions_mut().insert(permit.clone());
            let res = next.run(req).await;
            drop(permit);
            res
        }
        _ => ApiError::Unavailable(
            "this replica is ingesting as many batches as it may; retry shortly",
        )
        .into_response(),
    }
}

/// The batch gate's budget is `SALGATE_BATCH_CONCURRENCY` full-size bodies, counted in MiB: a
/// batch takes its declared length rounded up (at least 1 MiB; the whole limit when it declares
/// none), so small batches run side by side while the 16 MiB ones that bound memory take turns.
pub const GATE_UNIT: usize = 1024 * 1024;

/// How many MiB of the gate's budget a batch with these headers takes.
fn budget_share(headers: &axum::http::HeaderMap) -> u32 {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(BATCH_BODY_LIMIT);
    let mib = declared.min(BATCH_BODY_LIMIT).div_ceil(GATE_UNIT).max(1);
    // At most BATCH_BODY_LIMIT / GATE_UNIT = 16: always fits a u32.
    u32::try_from(mib).unwrap_or(u32::MAX)
}

/// One of the batch gate's permits, held until the batch is done.
#[derive(Clone)]
pub struct BatchPermit(#[allow(dead_code)] Arc<OwnedSemaphorePermit>);

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(create_lead_batch))
}

// Read as `domain::body` describes, except that each lead is kept as its text (a 16 MiB body
// is never one JSON tree) and parsed on its own.
/// Body of `POST /v1/leads/batch`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct BatchInput<'a> {
    /// 1 to 1,000 leads, each as for `POST /v1/leads`.
    #[serde(borrow)]
    #[schema(value_type = Vec<crate::domain::lead_input::LeadInput>)]
    leads: Option<&'a RawValue>,
}

/// The outcome of one item, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemResult {
    /// Position of the item in `leads`.
    pub index: usize,
    /// What `POST /v1/leads` would have answered: 201 new lead or new cycle, 200 unchanged,
    /// 4xx for a bad item.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cycle: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub state: Option<LeadState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The problem of a failed item (as `POST /v1/leads` would return it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

impl ItemResult {
    fn stored(index: usize, status: StatusCode, lead: &Lead) -> Self {
        ItemResult {
            index,
            status: status.as_u16(),
            id: Some(lead.id),
            cycle: Some(lead.cycle),
            state: Some(lead.state),
            owner: lead.owner.clone(),
            problem: None,
        }
    }

    fn inserted(index: usize, lead: InsertedLead) -> Self {
        ItemResult {
            index,
            status: StatusCode::CREATED.as_u16(),
            id: Some(lead.id),
            cycle: Some(lead.cycle),
            state: Some(lead.state),
            owner: lead.owner,
            problem: None,
        }
    }

    fn failed(index: usize, e: &ApiError) -> Self {
        ItemResult {
            index,
            status: e.status().as_u16(),
            id: None,
            cycle: None,
            state: None,
            owner: None,
            problem: Some(e.problem()),
        }
    }

    fn ingested(index: usize, i: &Ingested) -> Self {
        match i {
            Ingested::Created(l) => Self::stored(index, StatusCode::CREATED, l),
            Ingested::Unchanged(l) => Self::stored(index, StatusCode::OK, l),
        }
    }
}

/// Response of `POST /v1/leads/batch`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    /// Items with status 201.
    pub created: usize,
    /// Items with status 200 (already open or accepted).
    pub unchanged: usize,
    /// Items with a 4xx status.
    pub failed: usize,
    pub results: Vec<ItemResult>,
}

/// Ingest up to 1,000 routed MQLs at once.
///
/// Always 200 with one result per item (its `status` is what `POST /v1/leads` would have
/// answered); 422 only when the body itself is not a list of 1 to 1,000 objects. Items are
/// independent: a bad one (such as one over 32 KiB of JSON) fails alone, and what was stored
/// stays stored. When an item's `source` is in `SALGATE_INBOUND_SECRETS`, the whole body must
/// carry that source's `Salgate-Signature` (401 and nothing stored otherwise).
#[utoipa::path(post, path = "/v1/leads/batch", tag = "leads", request_body = BatchInput,
    responses(
        (status = 200, body = BatchResult),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "an item's source must be signed and the batch is not (nothing stored)"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "this replica is busy with other batches; retry after Retry-After", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_lead_batch(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBytes(body): JsonBytes<BATCH_BODY_LIMIT>,
) -> ApiResult<Json<BatchResult>> {
    principal.require(&[Role::Ingest, Role::Admin])?;
    let now = state.clock.now();
    let items = batch_items(&body)?;
    super::inbound_signature::check_batch(&state, &items, &headers, &body, now).await?;
    let caller = principal.caller();
    let who = caller.who();
    let mut results = Vec::with_capacity(items.len());
    // A chunk at a time, so that only one chunk of parsed leads is in memory next to the body.
    let mut offset = 0;
    for chunk in chunks(&items) {
        ingest_chunk(&state, &who, now, offset, chunk, &mut results).await?;
        offset += chunk.len();
    }
    let count = |s: u16| results.iter().filter(|r| r.status == s).count();
    let (created, unchanged) = (count(201), count(200));
    metrics::counter!("salgate_leads_routed_total", "result" => "batch").increment(created as u64);
    Ok(Json(BatchResult {
        created,
        unchanged,
        failed: results.len() - created - unchanged,
        results,
    }))
}

/// Ingests the items `offset..offset + items.len()`, appending their results in order: each is
/// parsed here, and the parsed ones go to the batch use case together.
async fn ingest_chunk(
    state: &AppState,
    who: &Who<'_>,
    now: DateTime<Utc>,
    offset: usize,
    items: &[&RawValue],
    out: &mut Vec<ItemResult>,
) -> ApiResult<()> {
    let mut results: Vec<Option<ItemResult>> = (0..items.len()).map(|_| None).collect();
    let mut leads = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match parse_item(item, state.routed_at_window(now)) {
            Ok(lead) => leads.push((i, lead)),
            Err(errors) => {
                let e = ApiError::Validation(errors);
                results[i] = Some(ItemResult::failed(offset + i, &e));
            }
        }
    }
    for (i, outcome) in state.service.ingest_batch(leads, who, now).await? {
        results[i] = Some(match outcome {
            BatchOutcome::Inserted(l) => ItemResult::inserted(offset + i, l),
            BatchOutcome::Ingested(done) => ItemResult::ingested(offset + i, &done),
            BatchOutcome::Failed(e) => ItemResult::failed(offset + i, &e.into()),
        });
    }
    out.extend(results.into_iter().flatten());
    Ok(())
}

/// One item: refused by size before its JSON tree is built, then parsed like `POST /v1/leads`
/// (the tree is dropped; the lead keeps its attributes as text).
fn parse_item(item: &RawValue, window: RoutedAtWindow) -> Result<NewLead, Vec<FieldError>> {
    lead_size::check_raw(item)?;
    let value: Value = serde_json::from_str(item.get()).map_err(|e| {
        vec![FieldError {
            field: "body".into(),
            message: e.to_string(),
        }]
    })?;
    NewLead::parse(&value, window)
}

/// The `leads` array of a batch body, each item as its text (a slice of `body`).
fn batch_items(body: &[u8]) -> ApiResult<Vec<&RawValue>> {
    let malformed = |e: serde_json::Error| ApiError::MalformedJson(e.to_string());
    let root: &RawValue = serde_json::from_slice(body).map_err(malformed)?;
    if !root.get().starts_with('{') {
        return Err(ApiError::Validation(vec![FieldError {
            field: "body".into(),
            message: "must be a JSON object".into(),
        }]));
    }
    let sent: BTreeMap<String, IgnoredAny> = serde_json::from_str(root.get()).map_err(malformed)?;
    let known = member_names::<BatchInput>();
    let unknown = sent.into_keys().filter(|k| !known.contains(&k.as_str()));
    let mut f = Check::with_unknown(unknown.collect());
    let BatchInput { leads } = serde_json::from_str(root.get()).map_err(malformed)?;
    let leads = leads
        .and_then(|l| serde_json::from_str::<Vec<&RawValue>>(l.get()).ok())
        .filter(|l| (1..=MAX_LEADS).contains(&l.len()));
    if leads.is_none() {
        f.error(
            "leads",
            format!("must be an array of 1 to {MAX_LEADS} leads"),
        );
    }
    f.done(leads).map_err(ApiError::Validation)
}
