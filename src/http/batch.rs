//! `POST /v1/leads/batch`: up to 1,000 leads per request with a result per item; a bad item
//! fails only itself. New leads for an explicit, known-available owner (or for nobody) are
//! written with one multi-row statement; the others (queue routing, new owners, re-sent or
//! re-routed leads) take the one-lead path.

use std::collections::HashMap;

use axum::{extract::State, http::StatusCode, Json};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    error::{ApiError, ApiResult, Problem},
    extract::{JsonBody, Principal},
    leads::{ingest, Ingested},
    AppState,
};
use crate::{
    db::leads::{self, BatchItem, CycleSla, Lead, Who},
    domain::{
        lead_input::NewLead,
        validation::{FieldError, Fields},
        Role,
    },
};

/// Most leads per batch (SPEC §5).
pub const MAX_LEADS: usize = 1000;
/// Largest batch body (SPEC §5).
pub const BATCH_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// The route (the idempotency middleware and the batch gate pick it out by path).
pub const PATH: &str = "/v1/leads/batch";

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(create_lead_batch))
}

/// Body of `POST /v1/leads/batch`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the body; it is read through `Fields`
pub struct BatchInput {
    /// 1 to 1,000 leads, each as for `POST /v1/leads`.
    leads: Vec<crate::domain::lead_input::LeadInput>,
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
    pub state: Option<String>,
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
            state: Some(lead.state.clone()),
            owner: lead.owner.clone(),
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
/// independent: a bad one fails alone, and what was stored stays stored.
#[utoipa::path(post, path = "/v1/leads/batch", tag = "leads", request_body = BatchInput,
    responses(
        (status = 200, body = BatchResult),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_lead_batch(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<BATCH_BODY_LIMIT>,
) -> ApiResult<Json<BatchResult>> {
    principal.require(&[Role::Ingest, Role::Admin])?;
    let now = state.clock.now();
    let items = batch_items(&body)?;
    let label = principal.label();
    let actor = principal.actor();
    let who = Who::new(&label, &actor);
    let policies = state.policies.get(&state.db).await?;

    let mut results: Vec<Option<ItemResult>> = (0..items.len()).map(|_| None).collect();
    // (index, lead, sla) of items for the multi-row insert, and of the others.
    let mut fast: Vec<(usize, NewLead, CycleSla)> = Vec::new();
    let mut slow: Vec<(usize, NewLead)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let lead = match NewLead::parse(item, now) {
            Ok(l) => l,
            Err(errors) => {
                results[i] = Some(ItemResult::failed(i, &ApiError::Validation(errors)));
                continue;
            }
        };
        let simple = match &lead.owner {
            Some(o) => state.reps.is_available(o),
            None => lead.queue.is_none(),
        };
        if !simple {
            slow.push((i, lead));
            continue;
        }
        let policy = policies
            .resolve(&lead.lead_type, lead.queue.as_deref())
            .ok_or_else(|| anyhow::anyhow!("the default SLA policy is missing"))?;
        let deadlines = policy.deadlines(lead.routed_at);
        let sla = CycleSla {
            policy: policy.name.clone(),
            due_at: deadlines.due_at,
            at_risk_at: deadlines.at_risk_at,
            routing_note: lead
                .owner
                .as_ref()
                .map(|_| serde_json::json!({"assigned_by": "crm"})),
        };
        fast.push((i, lead, sla));
    }

    if !fast.is_empty() {
        let batch: Vec<BatchItem> = fast
            .iter()
            .map(|(_, lead, sla)| BatchItem { lead, sla })
            .collect();
        let inserted = leads::insert_many(&state.db, &batch, &who, now).await?;
        let mut by_key: HashMap<(String, String), Lead> = inserted
            .into_iter()
            .map(|l| ((l.source.clone(), l.external_id.clone()), l))
            .collect();
        for (i, lead, _) in fast {
            // The first item with a key got the insert; the rest (re-sent, re-routed, or a
            // repeat within the batch) go through the one-lead path, in order.
            match by_key.remove(&(lead.source.clone(), lead.external_id.clone())) {
                Some(l) => results[i] = Some(ItemResult::stored(i, StatusCode::CREATED, &l)),
                None => slow.push((i, lead)),
            }
        }
        slow.sort_by_key(|(i, _)| *i);
    }
    for (i, lead) in slow {
        results[i] = Some(match ingest(&state, lead, &who, now).await {
            Ok(done) => ItemResult::ingested(i, &done),
            // A database failure is the service's, not the item's: the whole request fails
            // (what was stored stays; re-sending the batch is safe).
            Err(e) if e.is_server_side() => return Err(e),
            Err(e) => ItemResult::failed(i, &e),
        });
    }
    let results: Vec<ItemResult> = results.into_iter().flatten().collect();
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

/// The `leads` array of a batch body.
fn batch_items(body: &Value) -> ApiResult<&Vec<Value>> {
    let mut f = Fields::root(body).map_err(ApiError::Validation)?;
    let leads = f.raw("leads");
    let mut errors = f.finish();
    match leads {
        Some(Value::Array(a)) if (1..=MAX_LEADS).contains(&a.len()) && errors.is_empty() => Ok(a),
        Some(Value::Array(_)) | None | Some(_) => {
            if !matches!(leads, Some(Value::Array(a)) if (1..=MAX_LEADS).contains(&a.len())) {
                errors.insert(
                    0,
                    FieldError {
                        field: "leads".into(),
                        message: format!("must be an array of 1 to {MAX_LEADS} leads"),
                    },
                );
            }
            Err(ApiError::Validation(errors))
        }
    }
}
