//! `/v1/leads`: ingest, read, list, history, and the three decisions.

use std::collections::HashMap;

use axum::{
    extract::{rejection::QueryRejection, Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    error::{ApiError, ApiResult, Problem},
    extract::{JsonBody, Principal, RawJsonBody},
    AppState,
};
use crate::{
    db::{
        history::{self, HistoryEntry},
        leads::{self, CycleSla, DecisionWrite, LeadFilter, LeadRow, Who},
        reason_codes::{self, ReasonKind},
        routing::{self, QueuePick},
    },
    domain::{
        lead::{decide, route, LeadFacts, Routing},
        lead_input::{LeadInput, NewLead, MAX_ROUTED_AT_SKEW},
        routing::{pick, Strategy},
        sla::SlaStatus,
        slug::opt_id_schema,
        validation::{FieldError, Fields, SlugKind},
        Command, LeadState, Role,
    },
    views::lead::Lead,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_lead, list_leads))
        .routes(routes!(get_lead))
        .routes(routes!(get_lead_history))
        .routes(routes!(accept_lead))
        .routes(routes!(reject_lead))
        .routes(routes!(recycle_lead))
        .routes(routes!(create_lead_touch))
        .routes(routes!(assign_lead))
}

const READERS: &[Role] = &[Role::Sdr, Role::Revops, Role::Admin];
const DECIDERS: &[Role] = &[Role::Sdr, Role::Revops, Role::Admin];
/// A guarded write that loses a race re-reads and decides again; after this many losses in a
/// row the request gives up with 409 rather than spin.
const MAX_ATTEMPTS: usize = 5;

fn with_etag(status: StatusCode, lead: LeadRow, now: DateTime<Utc>) -> Response {
    let lead = lead.into_view(now);
    let mut res = (status, Json(&lead)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", lead.version)) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

fn created(lead: LeadRow, now: DateTime<Utc>) -> Response {
    let result = if lead.cycle == 1 { "new" } else { "new_cycle" };
    metrics::counter!("salgate_leads_routed_total", "result" => result).increment(1);
    let location = format!("/v1/leads/{}", lead.id);
    let mut res = with_etag(StatusCode::CREATED, lead, now);
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// Ingest a routed MQL.
///
/// 201 for a new lead or a new cycle of a rejected/recycled one (with `Location`); 200 with the
/// lead unchanged when it is already open (routed) or accepted.
#[utoipa::path(post, path = "/v1/leads", tag = "leads", request_body = LeadInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "replay protection (24 h)")),
    responses(
        (status = 201, description = "new lead or new cycle", body = Lead),
        (status = 200, description = "already open or accepted: unchanged", body = Lead),
        (status = 401, description = "no or bad API key; or the source is signed and Salgate-Signature is missing, malformed, wrong, stale or replayed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_lead(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    RawJsonBody(body, raw): RawJsonBody,
) -> ApiResult<Response> {
    principal.require(&[Role::Ingest, Role::Admin])?;
    let now = state.clock.now();
    let lead = NewLead::parse(&body, state.routed_at_window(now)).map_err(ApiError::Validation)?;
    if let Some(secret) = state.inbound_secrets.get(&lead.source) {
        super::inbound_signature::check(&state, &lead.source, secret, &headers, &raw, now).await?;
    }
    let label = principal.label();
    let actor = principal.actor();
    let who = Who::new(&label, &actor);
    Ok(ingest(&state, lead, &who, now).await?.into_response(now))
}

/// What ingesting one lead did.
pub enum Ingested {
    /// A new lead, or a new cycle of a rejected or recycled one.
    Created(LeadRow),
    /// The lead is open or accepted: nothing changed.
    Unchanged(LeadRow),
}

impl Ingested {
    fn into_response(self, now: DateTime<Utc>) -> Response {
        match self {
            Ingested::Created(lead) => created(lead, now),
            Ingested::Unchanged(lead) => with_etag(StatusCode::OK, lead, now),
        }
    }
}

/// Ingests one parsed lead: owner, queue routing, SLA deadlines, new lead or new cycle.
pub async fn ingest(
    state: &AppState,
    lead: NewLead,
    who: &Who<'_>,
    now: DateTime<Utc>,
) -> ApiResult<Ingested> {
    let policies = state.policies.get(&state.db).await?;
    let policy = policies
        .resolve(&lead.lead_type, lead.queue.as_deref())
        .ok_or_else(|| anyhow::anyhow!("the default SLA policy is missing"))?;
    let deadlines = policy.deadlines(lead.routed_at);
    let mut sla = CycleSla {
        policy: policy.name.clone(),
        due_at: deadlines.due_at,
        at_risk_at: deadlines.at_risk_at,
        routing_note: None,
    };
    // Who owns it: the CRM's choice wins; an unknown owner is registered; an unavailable one
    // defers to the queue when there is one (else SLA escalation deals with it).
    let mut lead = lead;
    let mut note = serde_json::Map::new();
    let mut from_queue = lead.owner.is_none() && lead.queue.is_some();
    if lead.owner.is_some() {
        note.insert("assigned_by".into(), "crm".into());
    }
    if let Some(owner) = lead.owner.clone().filter(|o| !state.reps.is_available(o)) {
        let status = routing::register_owner(&state.db, &owner, now).await?;
        if status.available {
            state.reps.remember_available(&owner);
        }
        if status.registered {
            note.insert("owner_registered".into(), true.into());
        }
        if !status.available {
            note.insert("owner_unavailable".into(), owner.into());
            if lead.queue.is_some() {
                from_queue = true;
                lead.owner = None;
            }
        }
    }
    if from_queue {
        return ingest_through_queue(state, lead, sla, note, who, now).await;
    }
    sla.routing_note = (!note.is_empty()).then_some(Value::Object(note));
    for _ in 0..MAX_ATTEMPTS {
        if let Some(res) = store_once(state, &lead, &sla, who, now).await? {
            return Ok(res);
        }
    }
    Err(ApiError::Conflict {
        code: "concurrent_update",
        detail: "the lead kept changing while it was being ingested; retry".into(),
    })
}

/// Ingest whose owner comes from the lead's queue: the pick, the round-robin position and the
/// lead are written in one transaction, so concurrent ingests are exactly fair and a lead that
/// turns out to exist already (open or accepted) moves nothing.
async fn ingest_through_queue(
    state: &AppState,
    mut lead: NewLead,
    mut sla: CycleSla,
    note: serde_json::Map<String, Value>,
    who: &Who<'_>,
    now: DateTime<Utc>,
) -> ApiResult<Ingested> {
    let queue = lead.queue.clone().unwrap_or_default();
    // The common case in one statement: round robin over reps without a capacity, from the
    // replica's queue cache.
    if let Some(info) = state.queues.get(&state.db, &queue).await? {
        let uncapped = info.members.iter().all(|m| m.capacity.is_none());
        let eligible: Vec<&str> = info
            .members
            .iter()
            .filter(|m| m.eligible(now))
            .map(|m| m.id.as_str())
            .collect();
        if let (true, true, Some(seq), false) = (
            info.strategy == Strategy::RoundRobin,
            uncapped,
            &info.rr_seq,
            eligible.is_empty(),
        ) {
            let mut note = note.clone();
            note.insert("assigned_by".into(), Strategy::RoundRobin.as_str().into());
            sla.routing_note = Some(Value::Object(note));
            let mut conn = state.lane.acquire().await?;
            let inserted = leads::insert_new_round_robin_cached(
                &mut *conn, &lead, &sla, who, now, seq, &eligible,
            )
            .await;
            if let Some(l) = conn.release_after(inserted)? {
                return Ok(Ingested::Created(l));
            }
        }
    }
    for _ in 0..MAX_ATTEMPTS {
        let Some(snapshot) =
            routing::snapshot(&state.db, &queue, &lead.source, &lead.external_id).await?
        else {
            return ingest_unassigned(state, lead, sla, note, "unknown queue", who, now).await;
        };
        // Round robin over reps without a capacity needs no lock: the turn decides.
        let uncapped = snapshot.members.iter().all(|m| m.capacity.is_none());
        if snapshot.strategy == Strategy::RoundRobin && uncapped {
            let mut note = note.clone();
            let turn = snapshot.turn.unwrap_or(0);
            match pick(Strategy::RoundRobin, &snapshot.members, turn, now, &[]) {
                Some(p) => {
                    lead.owner = Some(p.rep);
                    note.insert("assigned_by".into(), Strategy::RoundRobin.as_str().into());
                }
                None => {
                    lead.owner = None;
                    note.insert("assigned_by".into(), Strategy::RoundRobin.as_str().into());
                    note.insert("unassigned".into(), "no eligible rep".into());
                }
            }
            sla.routing_note = Some(Value::Object(note));
            if let Some(res) = store_once(state, &lead, &sla, who, now).await? {
                return Ok(res);
            }
            continue;
        }
        let turn = snapshot.turn;
        let mut tx = state.db.begin().await?;
        let mut note = note.clone();
        match routing::pick_from_queue(&mut tx, &queue, turn, now, &[]).await? {
            QueuePick::Rep { rep, strategy } => {
                lead.owner = Some(rep);
                note.insert("assigned_by".into(), strategy.as_str().into());
            }
            QueuePick::Nobody { strategy } => {
                lead.owner = None;
                note.insert("assigned_by".into(), strategy.as_str().into());
                note.insert(
                    "unassigned".into(),
                    "no eligible rep or a claim queue".into(),
                );
            }
            QueuePick::UnknownQueue => {
                lead.owner = None;
                note.insert("unassigned".into(), "unknown queue".into());
            }
        }
        sla.routing_note = Some(Value::Object(note));
        if let Some(created_lead) = leads::insert_new(&mut *tx, &lead, &sla, who, now).await? {
            tx.commit().await?;
            return Ok(Ingested::Created(created_lead));
        }
        let Some(current) =
            leads::get_by_external(&mut *tx, &lead.source, &lead.external_id).await?
        else {
            continue;
        };
        match route(Some(current.state)) {
            // Rolling back leaves the round-robin position where it was.
            Routing::Unchanged => return Ok(Ingested::Unchanged(current)),
            Routing::New | Routing::NewCycle => {
                if let Some(rerouted) =
                    leads::reroute(&mut *tx, &current, &lead, &sla, who, now).await?
                {
                    tx.commit().await?;
                    return Ok(Ingested::Created(rerouted));
                }
            }
        }
    }
    Err(ApiError::Conflict {
        code: "concurrent_update",
        detail: "the lead kept changing while it was being ingested; retry".into(),
    })
}

/// One attempt to store an ingested lead: a new lead (201), a new cycle of a rejected or
/// recycled one (201), or nothing for an open or accepted one (200). `None` when a concurrent
/// change got in between; the caller tries again.
async fn store_once(
    state: &AppState,
    lead: &NewLead,
    sla: &CycleSla,
    who: &Who<'_>,
    now: DateTime<Utc>,
) -> ApiResult<Option<Ingested>> {
    let mut conn = state.lane.acquire().await?;
    let inserted = leads::insert_new(&mut *conn, lead, sla, who, now).await;
    if let Some(created_lead) = conn.release_after(inserted)? {
        return Ok(Some(Ingested::Created(created_lead)));
    }
    let Some(current) = leads::get_by_external(&state.db, &lead.source, &lead.external_id).await?
    else {
        return Ok(None);
    };
    Ok(match route(Some(current.state)) {
        Routing::Unchanged => Some(Ingested::Unchanged(current)),
        Routing::New | Routing::NewCycle => {
            leads::reroute(&state.db, &current, lead, sla, who, now)
                .await?
                .map(Ingested::Created)
        }
    })
}

/// Stores a lead nobody owns yet (its queue is unknown), noting why.
async fn ingest_unassigned(
    state: &AppState,
    mut lead: NewLead,
    mut sla: CycleSla,
    mut note: serde_json::Map<String, Value>,
    why: &str,
    who: &Who<'_>,
    now: DateTime<Utc>,
) -> ApiResult<Ingested> {
    lead.owner = None;
    note.insert("unassigned".into(), why.into());
    sla.routing_note = Some(Value::Object(note));
    for _ in 0..MAX_ATTEMPTS {
        if let Some(res) = store_once(state, &lead, &sla, who, now).await? {
            return Ok(res);
        }
    }
    Err(ApiError::Conflict {
        code: "concurrent_update",
        detail: "the lead kept changing while it was being ingested; retry".into(),
    })
}

/// A page of leads.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadPage {
    pub items: Vec<Lead>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// List leads, oldest first. SDR keys see their rep's leads and the unassigned leads of its
/// queues.
#[utoipa::path(get, path = "/v1/leads", tag = "leads",
    params(
        ("state" = Option<LeadState>, Query, description = "routed, accepted, rejected, recycled"),
        ("owner" = Option<String>, Query, description = "rep id"),
        ("queue" = Option<String>, Query),
        ("source" = Option<String>, Query),
        ("lead_type" = Option<String>, Query),
        ("sla_status" = Option<SlaStatus>, Query, description = "on_track, at_risk, breached, met, missed"),
        ("limit" = Option<u32>, Query, description = "1 to 500, default 100"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = LeadPage), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_leads(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Json<LeadPage>> {
    principal.require(READERS)?;
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
    let mut f = Fields::root(&value).map_err(ApiError::Validation)?;
    let mut filter = LeadFilter {
        visible_to_rep: None,
        sla_status: None,
        state: None,
        owner: f.opt_str("owner", 100),
        queue: f.opt_str("queue", 100),
        source: f.opt_str("source", 64),
        lead_type: f.opt_str("lead_type", 64),
        after: None,
    };
    if let Some(s) = f.opt_str("state", 20) {
        filter.state = LeadState::parse(&s);
        if filter.state.is_none() {
            f.error(
                "state",
                "must be one of routed, accepted, rejected, recycled",
            );
        }
    }
    if let Some(s) = f.opt_str("sla_status", 20) {
        filter.sla_status = SlaStatus::parse(&s);
        if filter.sla_status.is_none() {
            f.error(
                "sla_status",
                "must be one of on_track, at_risk, breached, met, missed",
            );
        }
    }
    let limit = match f.opt_str("limit", 10) {
        None => 100,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => {
                f.error("limit", "must be a whole number from 1 to 500");
                100
            }
        },
    };
    if let Some(c) = f.opt_str("cursor", 100) {
        filter.after = decode_cursor(&c);
        if filter.after.is_none() {
            f.error("cursor", "is not a cursor returned by this endpoint");
        }
    }
    let errors = f.finish();
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    if principal.role == Role::Sdr {
        if filter.owner.is_some() && filter.owner != principal.rep {
            return Err(ApiError::Forbidden(
                "an sdr key lists only its own rep's leads".into(),
            ));
        }
        filter.visible_to_rep = principal.rep.clone();
    }
    let now = state.clock.now();
    let mut items = leads::list(&state.db, &filter, limit + 1, now).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|l| encode_cursor(l.id))
    } else {
        None
    };
    let items = items.into_iter().map(|l| l.into_view(now)).collect();
    Ok(Json(LeadPage { items, next_cursor }))
}

fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{id}"))
}

fn decode_cursor(c: &str) -> Option<Uuid> {
    let bytes = URL_SAFE_NO_PAD.decode(c).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("v1:")?.parse().ok()
}

fn lead_id(raw: &str) -> ApiResult<Uuid> {
    raw.parse()
        .map_err(|_| ApiError::NotFound("no lead with this id"))
}

/// Whether the SDR key's rep belongs to the queue of an unassigned lead.
async fn sdr_of_its_queue(
    state: &AppState,
    principal: &Principal,
    lead: &LeadRow,
) -> ApiResult<bool> {
    match (principal.role, &principal.rep, &lead.owner, &lead.queue) {
        (Role::Sdr, Some(rep), None, Some(queue)) => {
            Ok(routing::is_member(&state.db, queue, rep).await?)
        }
        _ => Ok(false),
    }
}

/// Loads a lead the caller may see: 404 if missing; an SDR sees its own leads and the
/// unassigned leads of its queues (403 otherwise).
async fn visible_lead(state: &AppState, principal: &Principal, id: Uuid) -> ApiResult<LeadRow> {
    let lead = leads::get(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound("no lead with this id"))?;
    if principal.role == Role::Sdr
        && lead.owner != principal.rep
        && !sdr_of_its_queue(state, principal, &lead).await?
    {
        return Err(ApiError::Forbidden(
            "this lead is not assigned to the rep of this key".into(),
        ));
    }
    Ok(lead)
}

/// Get one lead; the `ETag` is its version.
#[utoipa::path(get, path = "/v1/leads/{id}", tag = "leads",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Lead), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_lead(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    principal.require(READERS)?;
    let lead = visible_lead(&state, &principal, lead_id(&id)?).await?;
    Ok(with_etag(StatusCode::OK, lead, state.clock.now()))
}

/// The lead's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub items: Vec<HistoryEntry>,
}

/// Every transition and event of a lead, oldest first.
#[utoipa::path(get, path = "/v1/leads/{id}/history", tag = "leads",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = History), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_lead_history(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<History>> {
    principal.require(READERS)?;
    let lead = visible_lead(&state, &principal, lead_id(&id)?).await?;
    Ok(Json(History {
        items: history::for_lead(&state.db, lead.id).await?,
    }))
}

/// Body of `accept`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct AcceptInput {
    pub note: Option<String>,
    /// What the rep will do next, e.g. "call Tuesday".
    pub next_action: Option<String>,
    /// Rep the decision is for (revops/admin keys only; required for them).
    #[schema(schema_with = opt_id_schema)]
    pub on_behalf_of: Option<String>,
}

/// Body of `reject`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct RejectInput {
    /// An active rejection code; `other` needs a note.
    pub code: String,
    pub note: Option<String>,
    #[schema(schema_with = opt_id_schema)]
    pub on_behalf_of: Option<String>,
}

/// Body of `recycle`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct RecycleInput {
    /// An active recycle reason.
    pub reason: String,
    /// Required when recycling an accepted lead.
    pub note: Option<String>,
    #[schema(schema_with = opt_id_schema)]
    pub on_behalf_of: Option<String>,
}

/// A decision request after parsing.
struct DecisionInput {
    command: Command,
    note: Option<String>,
    next_action: Option<String>,
    on_behalf_of: Option<String>,
}

fn parse_decision(kind: &str, body: &Value) -> Result<DecisionInput, Vec<FieldError>> {
    let mut f = Fields::root(body)?;
    let note = f.opt_str("note", 2000);
    let on_behalf_of = f.opt_slug("on_behalf_of", SlugKind::Id);
    let (command, next_action) = match kind {
        "accept" => (Some(Command::Accept), f.opt_str("next_action", 500)),
        "reject" => (
            f.req_str("code", 64).map(|code| Command::Reject {
                code,
                note: note.clone(),
            }),
            None,
        ),
        _ => (
            f.req_str("reason", 64).map(|reason| Command::Recycle {
                reason,
                note: note.clone(),
            }),
            None,
        ),
    };
    let errors = f.finish();
    match command {
        Some(command) if errors.is_empty() => Ok(DecisionInput {
            command,
            note,
            next_action,
            on_behalf_of,
        }),
        _ => Err(errors),
    }
}

/// `If-Match: "3"` (or `W/"3"`, or `*`). `Some(None)` is `*`.
fn if_match(headers: &HeaderMap) -> Option<Option<String>> {
    let v = headers.get(header::IF_MATCH)?.to_str().unwrap_or("").trim();
    if v == "*" {
        return Some(None);
    }
    Some(Some(
        v.trim_start_matches("W/").trim_matches('"').to_string(),
    ))
}

async fn decide_lead(
    state: AppState,
    principal: Principal,
    id: String,
    headers: HeaderMap,
    kind: &str,
    body: Value,
) -> ApiResult<Response> {
    principal.require(DECIDERS)?;
    let id = lead_id(&id)?;
    let input = parse_decision(kind, &body).map_err(ApiError::Validation)?;
    let expected_version = if_match(&headers);
    let actor = principal.actor();
    let label = principal.label();
    let who = Who::new(&label, &actor);
    for _ in 0..MAX_ATTEMPTS {
        // The lane's connection is released after each statement: none is held while the
        // checks below read from the pool.
        let mut conn = state.lane.acquire().await?;
        let read = leads::get(&mut *conn, id).await;
        let lead = conn
            .release_after(read)?
            .ok_or(ApiError::NotFound("no lead with this id"))?;
        if let Some(Some(v)) = &expected_version {
            if *v != lead.version.to_string() {
                return Err(ApiError::StaleVersion {
                    current: lead.version,
                });
            }
        }
        let facts = LeadFacts {
            state: lead.state,
            owner: lead.owner.as_deref(),
            queue_member: sdr_of_its_queue(&state, &principal, &lead).await?,
        };
        let decided = decide(facts, &actor, &input.command, input.on_behalf_of.as_deref())?;
        check_code(&state, &input.command).await?;
        let now = state.clock.now();
        let first_touch_due_at = match input.command {
            Command::Accept => {
                let policies = state.policies.get(&state.db).await?;
                let name = lead.sla_policy.as_deref().unwrap_or(&lead.lead_type);
                policies
                    .resolve(name, lead.queue.as_deref())
                    .map(|p| p.first_touch_due(now))
            }
            _ => None,
        };
        let write = DecisionWrite {
            decided: &decided,
            command: &input.command,
            note: input.note.as_deref(),
            next_action: input.next_action.as_deref(),
            first_touch_due_at,
        };
        let mut conn = state.lane.acquire().await?;
        let applied = leads::apply_decision(&mut *conn, &lead, &write, &who, now).await;
        if let Some(updated) = conn.release_after(applied)? {
            metrics::counter!("salgate_decisions_total", "outcome" => decided.to.as_str())
                .increment(1);
            return Ok(with_etag(StatusCode::OK, updated, now));
        }
        // Lost a race: the next read sees the winner's state (409) or version (412).
    }
    Err(ApiError::Conflict {
        code: "concurrent_update",
        detail: "the lead kept changing while this decision was being applied; retry".into(),
    })
}

async fn check_code(state: &AppState, command: &Command) -> ApiResult<()> {
    let (kind, field, code, err) = match command {
        Command::Accept => return Ok(()),
        Command::Reject { code, .. } => (
            ReasonKind::Rejection,
            "code",
            code,
            "unknown_rejection_code",
        ),
        Command::Recycle { reason, .. } => (
            ReasonKind::Recycle,
            "reason",
            reason,
            "unknown_recycle_reason",
        ),
    };
    if reason_codes::is_active(&state.db, kind, code).await? {
        Ok(())
    } else {
        Err(ApiError::UnknownCode {
            code: err,
            field,
            detail: format!("`{code}` is not an active {} code", kind.as_str()),
        })
    }
}

/// Accept a routed lead. The deciding rep comes from the key (or `on_behalf_of` for
/// revops/admin keys) and becomes the owner.
#[utoipa::path(post, path = "/v1/leads/{id}/accept", tag = "decisions", request_body = AcceptInput,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "expected version (ETag)")),
    responses(
        (status = 200, body = Lead),
        (status = 409, description = "invalid transition; the body lists the allowed ones", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "stale If-Match", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn accept_lead(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    decide_lead(state, principal, id, headers, "accept", body).await
}

/// Reject a routed lead with an active rejection code.
#[utoipa::path(post, path = "/v1/leads/{id}/reject", tag = "decisions", request_body = RejectInput,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses(
        (status = 200, body = Lead),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid fields or unknown_rejection_code", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn reject_lead(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    decide_lead(state, principal, id, headers, "reject", body).await
}

/// Recycle a routed lead (or reverse an accept, with a note) back to marketing nurture.
#[utoipa::path(post, path = "/v1/leads/{id}/recycle", tag = "decisions", request_body = RecycleInput,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses(
        (status = 200, body = Lead),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn recycle_lead(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    decide_lead(state, principal, id, headers, "recycle", body).await
}

/// Body of `touches`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct TouchInput {
    /// How the rep reached out: `call`, `email`, `linkedin`, `meeting`, … (lowercase slug).
    #[schema(schema_with = crate::domain::slug::key_schema)]
    pub channel: String,
    /// When it happened (default now; not before the cycle was routed, not in the future).
    pub at: Option<DateTime<Utc>>,
}

/// Log a touch (call, email, …) on a routed or accepted lead. The first touch of a cycle meets
/// (or misses) its first-touch SLA.
#[utoipa::path(post, path = "/v1/leads/{id}/touches", tag = "decisions", request_body = TouchInput,
    params(("id" = Uuid, Path)),
    responses(
        (status = 201, body = Lead),
        (status = 409, description = "the lead is rejected or recycled", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_lead_touch(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    principal.require(DECIDERS)?;
    let id = lead_id(&id)?;
    let now = state.clock.now();
    let mut f = Fields::root(&body).map_err(ApiError::Validation)?;
    let channel = f.req_slug("channel", SlugKind::Key);
    let at = match f.raw("at") {
        None => Some(now),
        Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) if t.with_timezone(&Utc) > now + MAX_ROUTED_AT_SKEW => {
                f.error("at", "must not be in the future");
                None
            }
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                f.error("at", "must be an RFC 3339 time like 2026-01-31T09:00:00Z");
                None
            }
        },
        Some(_) => {
            f.error("at", "must be an RFC 3339 time string");
            None
        }
    };
    let errors = f.finish();
    let (Some(channel), Some(at), true) = (channel, at, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let label = principal.label();
    let actor = principal.actor();
    let who = Who::new(&label, &actor);
    for _ in 0..MAX_ATTEMPTS {
        let lead = visible_lead(&state, &principal, id).await?;
        if !matches!(lead.state, LeadState::Routed | LeadState::Accepted) {
            return Err(ApiError::Conflict {
                code: "lead_closed",
                detail: format!(
                    "the lead is {}; touches are logged on routed or accepted leads",
                    lead.state
                ),
            });
        }
        if at < lead.routed_at {
            return Err(ApiError::Validation(vec![FieldError {
                field: "at".into(),
                message: "is before this cycle was routed".into(),
            }]));
        }
        let rep = principal.rep.as_deref().or(lead.owner.as_deref());
        if let Some(updated) =
            leads::record_touch(&state.db, &lead, &channel, at, &who, rep, now).await?
        {
            return Ok(with_etag(StatusCode::CREATED, updated, now));
        }
    }
    Err(ApiError::Conflict {
        code: "concurrent_update",
        detail: "the lead kept changing while the touch was being logged; retry".into(),
    })
}

/// Body of `assign`: exactly one of `owner` and `queue`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct AssignInput {
    /// Give the lead to this rep (registered if salgate has never seen it).
    #[schema(schema_with = opt_id_schema)]
    pub owner: Option<String>,
    /// Move the lead to this queue; its strategy picks the owner (none for `claim`).
    #[schema(schema_with = opt_id_schema)]
    pub queue: Option<String>,
}

/// Reassign a routed lead (revops, admin). The cycle's SLA due time does not move.
#[utoipa::path(post, path = "/v1/leads/{id}/assign", tag = "routing", request_body = AssignInput,
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = Lead),
        (status = 409, description = "the lead is not routed", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn assign_lead(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    principal.require(&[Role::Revops, Role::Admin])?;
    let id = lead_id(&id)?;
    let mut f = Fields::root(&body).map_err(ApiError::Validation)?;
    let owner = f.opt_slug("owner", SlugKind::Id);
    let queue = f.opt_slug("queue", SlugKind::Id);
    if f.errors.is_empty() && owner.is_some() == queue.is_some() {
        f.error("owner", "give exactly one of owner and queue");
    }
    let errors = f.finish();
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let now = state.clock.now();
    let label = principal.label();
    if let Some(owner) = &owner {
        routing::register_owner(&state.db, owner, now).await?;
    }
    for _ in 0..MAX_ATTEMPTS {
        let lead = visible_lead(&state, &principal, id).await?;
        if lead.state != LeadState::Routed {
            return Err(ApiError::Conflict {
                code: "lead_not_routed",
                detail: format!("the lead is {}; only routed leads are assigned", lead.state),
            });
        }
        let turn = match &queue {
            Some(q) => routing::take_turn(&state.db, q).await?,
            None => None,
        };
        let mut tx = state.db.begin().await?;
        let (new_owner, note) = match (&owner, &queue) {
            (Some(o), _) => (
                Some(o.clone()),
                serde_json::json!({"from": lead.owner, "by": "revops"}),
            ),
            (None, Some(q)) => match routing::pick_from_queue(&mut tx, q, turn, now, &[]).await? {
                QueuePick::Rep { rep, strategy } => (
                    Some(rep),
                    serde_json::json!({"from": lead.owner, "queue": q, "assigned_by": strategy}),
                ),
                QueuePick::Nobody { strategy } => (
                    None,
                    serde_json::json!({"from": lead.owner, "queue": q, "assigned_by": strategy}),
                ),
                QueuePick::UnknownQueue => {
                    return Err(ApiError::Validation(vec![FieldError {
                        field: "queue".into(),
                        message: format!("no queue `{q}`"),
                    }]))
                }
            },
            (None, None) => {
                return Err(ApiError::Validation(vec![FieldError {
                    field: "owner".into(),
                    message: "give exactly one of owner and queue".into(),
                }]))
            }
        };
        if let Some(updated) = routing::assign(
            &mut *tx,
            &lead,
            new_owner.as_deref(),
            queue.as_deref(),
            &note,
            &label,
            principal.role,
            now,
        )
        .await?
        {
            tx.commit().await?;
            return Ok(with_etag(StatusCode::OK, updated, now));
        }
    }
    Err(ApiError::Conflict {
        code: "concurrent_update",
        detail: "the lead kept changing while it was being assigned; retry".into(),
    })
}
