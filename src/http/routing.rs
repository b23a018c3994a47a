//! `/v1/queues` and `/v1/reps`: who leads can be routed to.

use axum::{
    extract::{Path, State},
    Json,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    error::{ApiError, ApiResult, Problem},
    extract::{JsonBody, Principal},
    AppState,
};
use crate::{
    db::{
        self,
        routing::{self, Queue, Rep, RepWrite},
        sla,
    },
    domain::{
        body::{Check, Field},
        routing::Strategy,
        slug::{opt_id_list_schema, opt_key_schema},
        validation::{check_slug, FieldError, SlugKind},
        Role,
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_queues))
        .routes(routes!(get_queue, put_queue))
        .routes(routes!(list_reps))
        .routes(routes!(get_rep, put_rep))
        .routes(routes!(claim_lead))
}

/// Take the most urgent unassigned lead of a queue (earliest due). SDR keys only, for a rep of
/// the queue. Concurrent claimers never receive the same lead; 204 when none is waiting.
#[utoipa::path(post, path = "/v1/queues/{id}/claim", tag = "routing", params(("id" = String, Path)),
    responses(
        (status = 200, body = crate::views::lead::Lead),
        (status = 204, description = "no unassigned lead is waiting"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn claim_lead(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    principal.require(&[Role::Sdr])?;
    check_id(&id).map_err(|_| ApiError::NotFound("no queue with this id"))?;
    match state.service.claim(&principal.caller(), &id).await? {
        Some(lead) => Ok(Json(lead).into_response()),
        None => Ok(axum::http::StatusCode::NO_CONTENT.into_response()),
    }
}

const WRITERS: &[Role] = &[Role::Revops, Role::Admin];

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueList {
    pub items: Vec<Queue>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RepList {
    pub items: Vec<Rep>,
}

// Read as `domain::body` describes, as is the rep body.
/// Body of `PUT /v1/queues/{id}`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct QueueInput {
    #[schema(value_type = Option<String>)]
    pub name: Field,
    /// `round_robin`, `least_loaded` or `claim`.
    #[schema(value_type = String, pattern = r"^\s*(round_robin|least_loaded|claim)\s*$")]
    pub strategy: Field,
    /// Calendar id used when the lead's SLA policy has none.
    #[schema(value_type = Option<String>, schema_with = opt_key_schema)]
    pub calendar: Field,
}

/// Body of `PUT /v1/reps/{id}`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct RepInput {
    #[schema(value_type = Option<String>)]
    pub name: Field,
    #[schema(value_type = Option<String>)]
    pub email: Field,
    /// Queue ids (replaces the rep's memberships).
    #[schema(value_type = Option<Vec<String>>, schema_with = opt_id_list_schema)]
    pub queues: Field,
    /// Default true.
    #[schema(value_type = Option<bool>)]
    pub active: Field,
    /// Maximum open leads; null = no cap.
    #[schema(value_type = Option<i32>)]
    pub capacity: Field,
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub away_until: Field,
}

/// A queue or rep id in the path.
fn check_id(id: &str) -> ApiResult<()> {
    check_slug("id", id, SlugKind::Id).map_err(|e| ApiError::Validation(vec![e]))
}

/// Every queue with its members.
#[utoipa::path(get, path = "/v1/queues", tag = "routing",
    responses((status = 200, body = QueueList)), security(("bearer" = [])))]
pub async fn list_queues(
    State(state): State<AppState>,
    _: Principal,
) -> ApiResult<Json<QueueList>> {
    Ok(Json(QueueList {
        items: routing::queues(&state.db).await?,
    }))
}

/// One queue.
#[utoipa::path(get, path = "/v1/queues/{id}", tag = "routing", params(("id" = String, Path)),
    responses((status = 200, body = Queue), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_queue(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Queue>> {
    check_id(&id).map_err(|_| ApiError::NotFound("no queue with this id"))?;
    routing::queue(&state.db, &id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("no queue with this id"))
}

/// Create or replace a queue (revops, admin). Members are set on the reps.
#[utoipa::path(put, path = "/v1/queues/{id}", tag = "routing", params(("id" = String, Path)),
    request_body = QueueInput,
    responses((status = 200, body = Queue), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn put_queue(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Queue>> {
    principal.require(WRITERS)?;
    check_id(&id)?;
    let (
        QueueInput {
            name,
            strategy,
            calendar,
        },
        mut f,
    ) = Check::read(&body).map_err(ApiError::Validation)?;
    let name = f.opt_str("name", name, 200).unwrap_or_else(|| id.clone());
    let strategy = f.req_str("strategy", strategy, 20).and_then(|s| {
        let strategy = Strategy::parse(&s);
        if strategy.is_none() {
            f.error("strategy", "must be round_robin, least_loaded or claim");
        }
        strategy
    });
    let calendar = f.opt_slug("calendar", calendar, SlugKind::Key);
    if let Some(c) = &calendar {
        if !sla::calendars(&state.db)
            .await?
            .iter()
            .any(|row| &row.id == c)
        {
            f.error("calendar", format!("no calendar `{c}`"));
        }
    }
    let strategy = f.done(strategy).map_err(ApiError::Validation)?;
    let queue = routing::upsert_queue(
        &state.db,
        &id,
        &name,
        calendar.as_deref(),
        strategy,
        state.clock.now(),
    )
    .await?;
    state.policies.invalidate();
    state.queues.clear();
    Ok(Json(queue))
}

/// Every rep.
#[utoipa::path(get, path = "/v1/reps", tag = "routing",
    responses((status = 200, body = RepList)), security(("bearer" = [])))]
pub async fn list_reps(State(state): State<AppState>, _: Principal) -> ApiResult<Json<RepList>> {
    Ok(Json(RepList {
        items: routing::reps(&state.db).await?,
    }))
}

/// One rep, with its queues and open-lead count.
#[utoipa::path(get, path = "/v1/reps/{id}", tag = "routing", params(("id" = String, Path)),
    responses((status = 200, body = Rep), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_rep(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Rep>> {
    check_id(&id).map_err(|_| ApiError::NotFound("no rep with this id"))?;
    routing::rep(&state.db, &id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("no rep with this id"))
}

/// Create or replace a rep and its queue memberships (revops, admin).
#[utoipa::path(put, path = "/v1/reps/{id}", tag = "routing", params(("id" = String, Path)),
    request_body = RepInput,
    responses((status = 200, body = Rep), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn put_rep(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Rep>> {
    principal.require(WRITERS)?;
    check_id(&id)?;
    let (input, mut f) = Check::read::<RepInput>(&body).map_err(ApiError::Validation)?;
    let RepInput {
        name,
        email,
        queues,
        active,
        capacity,
        away_until,
    } = input;
    let name = f.opt_str("name", name, 200).unwrap_or_else(|| id.clone());
    let email = f.opt_str("email", email, 320);
    let active = f.opt_bool("active", active).unwrap_or(true);
    let capacity = rep_capacity(&mut f, capacity);
    let away_until = rep_away_until(&mut f, away_until);
    let queues = rep_queues(&state, &mut f, queues).await?;
    f.done(Some(())).map_err(ApiError::Validation)?;
    let write = RepWrite {
        id: &id,
        name: &name,
        email: email.as_deref(),
        queues: &queues,
        active,
        capacity,
        away_until,
    };
    let stored = routing::upsert_rep(&state.db, &write, state.clock.now()).await;
    state.reps.forget(&id);
    state.queues.clear();
    stored.map(Json).map_err(rep_write_error)
}

/// `capacity`: a whole number of leads up to `i32::MAX`; null or absent for no cap.
fn rep_capacity(f: &mut Check, capacity: Field) -> Option<i32> {
    match capacity.get() {
        None => None,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|c| c <= i32::MAX as u64) => {
            n.as_u64().map(|c| c as i32)
        }
        Some(_) => {
            f.error(
                "capacity",
                "must be a whole number of leads, or null for no cap",
            );
            None
        }
    }
}

/// `away_until`: an RFC 3339 time, or null or absent.
fn rep_away_until(f: &mut Check, away_until: Field) -> Option<DateTime<Utc>> {
    match away_until.get() {
        None => None,
        Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                f.error("away_until", "must be an RFC 3339 time");
                None
            }
        },
        Some(_) => {
            f.error("away_until", "must be an RFC 3339 time string or null");
            None
        }
    }
}

fn rep_write_error(e: sqlx::Error) -> ApiError {
    // A queue that vanished between the check and the write.
    if db::is_constraint(&e, "queue_members_queue_id_fkey") {
        return ApiError::Validation(vec![FieldError {
            field: "queues".into(),
            message: "names a queue that does not exist".into(),
        }]);
    }
    e.into()
}

/// The `queues` of a rep body: known queue ids, sorted, each once.
async fn rep_queues(state: &AppState, f: &mut Check, v: Field) -> ApiResult<Vec<String>> {
    let mut queues: Vec<String> = Vec::new();
    match v.get() {
        None => {}
        Some(Value::Array(list)) => {
            let known: Vec<String> = routing::queues(&state.db)
                .await?
                .into_iter()
                .map(|q| q.id)
                .collect();
            for (i, q) in list.iter().enumerate() {
                match q.as_str() {
                    Some(q) if known.iter().any(|k| k == q) => queues.push(q.to_string()),
                    Some(q) => f.error("queues", format!("queues[{i}]: no queue `{q}`")),
                    None => f.error("queues", format!("queues[{i}] must be a queue id")),
                }
            }
            queues.sort();
            queues.dedup();
        }
        Some(_) => f.error("queues", "must be a list of queue ids"),
    }
    Ok(queues)
}
