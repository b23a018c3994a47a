//! The HTTP edge: routing, auth, idempotency, problem+json errors, OpenAPI.

pub mod accounts;
pub mod api_keys;
pub mod auth;
pub mod batch;
pub mod campaigns;
pub mod client;
pub mod crm_writebacks;
pub mod error;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod inbound_signature;
pub mod integrations;
pub mod leads;
pub mod metrics;
pub mod model;
pub mod notifications;
pub mod observe;
pub mod outcomes;
pub mod rate_limit;
pub mod reason_codes;
pub mod routing;
pub mod rules;
pub mod sla;
pub mod webhooks;

use std::sync::Arc;

use axum::{
    extract::DefaultBodyLimit,
    http::{HeaderName, Request},
    middleware, Router,
};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use utoipa::{
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::{domain::metrics::BandLimits, service::Service};
use error::ApiError;

/// Shared by every handler. Cloned for every request by each middleware and extractor that
/// takes it, so it is one reference-counted pointer to [`Shared`].
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What the handlers share: the use cases' state, caches and configuration.
pub struct Shared {
    /// The use cases and what they share (pool, lane, clock, policy/rep/queue caches); the
    /// handlers also reach those fields through it (`state.db`, `state.clock`: see the `Deref`
    /// below).
    pub service: Service,
    /// Per-replica cache of authenticated API keys.
    pub keys: Arc<auth::KeyCache>,
    /// Per-key request limiter of this replica; `None` when disabled.
    pub rate_limit: Option<Arc<rate_limit::RateLimiter>>,
    /// Per-client-address limiters: of requests that fail authentication, and of the CRM
    /// integrations (which carry no key); `None` when disabled.
    pub unauthenticated_limit: Option<Arc<rate_limit::AddressLimiter>>,
    pub integration_limit: Option<Arc<rate_limit::AddressLimiter>>,
    /// Sources whose `POST /v1/leads` must be signed, with their secrets (configured).
    pub inbound_secrets: Arc<std::collections::BTreeMap<String, String>>,
    /// Secrets and ids of the CRM adapters (configured).
    pub integrations: Arc<integrations::IntegrationSettings>,
    /// Health-band limits of the acceptance report (configured).
    pub acceptance_bands: BandLimits,
    /// `SALGATE_DRIVER_MIN_SUPPORT`: cycles a value needs in the rejection-drivers report.
    pub driver_min_support: i64,
    /// What outbound URLs (webhook subscriptions) may reach (configured).
    pub outbound: crate::outbound::Policy,
    /// Batch requests this replica handles at once, and how long one waits for its turn
    /// (configured; see [`batch::gate`]).
    pub batch_gate: Arc<tokio::sync::Semaphore>,
    pub batch_wait: std::time::Duration,
    /// How the pages under `/app` hand out cookies and links (configured).
    pub pages: crate::pages::PageSettings,
    /// Slack interactivity (`SALGATE_SLACK_SIGNING_SECRET` set), else `None`.
    pub slack: Option<Arc<crate::notify::slack::Slack>>,
    /// The CRM mappings, which the adapters read decisions made in the CRM with (configured).
    pub crm: Arc<crate::crm::CrmSettings>,
}

/// The pool, the clock and the caches belong to the use cases; handlers that run a single
/// query of their own read them from there.
impl std::ops::Deref for Shared {
    type Target = Service;

    fn deref(&self) -> &Service {
        &self.service
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "salgate",
        description = "The Sales Accepted Lead gate: CRMs post routed MQLs, SDRs accept or reject them with a coded reason within an SLA, every decision is logged."
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::domain::sla::SlaStatus, crate::domain::LeadState)),
    tags(
        (name = "leads", description = "Ingest and read leads"),
        (name = "decisions", description = "Accept, reject, recycle"),
        (name = "taxonomy", description = "Rejection codes and recycle reasons"),
        (name = "sla", description = "SLA policies and business calendars"),
        (name = "routing", description = "Queues and reps"),
        (name = "accounts", description = "Accounts leads are matched to: owners, account-level acceptance, merges"),
        (name = "rules", description = "Ingest rules (dry run, live) and their backtest on the log"),
        (name = "metrics", description = "RevOps reports computed from the history log"),
        (name = "outcomes", description = "What happened after the gate: meetings, SQLs, opportunities, wins, losses; campaign spend"),
        (name = "webhooks", description = "Outbound webhooks: subscriptions and deliveries"),
        (name = "notifications", description = "Slack and email notifications to people: what became of each"),
        (name = "crm", description = "Write-backs to HubSpot and Salesforce: what became of each"),
        (name = "integrations", description = "Native CRM adapters, authenticated by the CRM's signature"),
        (name = "api-keys", description = "API keys (admin)"),
        (name = "operations", description = "Probes")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// A request's path as the logs show it: a sign-in link carries its token in the path
/// (`/app/login/<token>`), which no log may hold.
pub fn loggable_path(path: &str) -> &str {
    match path.strip_prefix("/app/login/") {
        Some(token) if !token.is_empty() => "/app/login/<token>",
        _ => path,
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let (v1, v1_api) = OpenApiRouter::new()
        .merge(leads::router())
        .merge(accounts::router())
        .merge(batch::router())
        .merge(reason_codes::router())
        .merge(api_keys::router())
        .merge(sla::router())
        .merge(routing::router())
        .merge(rules::router())
        .merge(metrics::router())
        .merge(model::router())
        .merge(webhooks::router())
        .merge(notifications::router())
        .merge(crm_writebacks::router())
        .merge(outcomes::router())
        .merge(campaigns::router())
        .split_for_parts();
    // Layers run outside-in in reverse order of `.layer` calls: auth, the batch gate (before
    // any body is read), then idempotency.
    let v1 = v1
        .layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotency,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), batch::gate))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));

    let (crm, crm_api) = integrations::router().split_for_parts();
    let crm = crm.layer(middleware::from_fn_with_state(
        state.clone(),
        client::limit_integrations,
    ));
    let (ops, ops_api) = health::router().merge(observe::router()).split_for_parts();
    let mut api = ApiDoc::openapi();
    api.merge(v1_api);
    api.merge(ops_api);
    api.merge(crm_api);

    Router::new()
        .merge(v1)
        .merge(ops)
        .merge(crm)
        .merge(crate::pages::router(state.clone()))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", api))
        .fallback(|| async { ApiError::NotFound("no such endpoint") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn(observe::record_requests))
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                // The path only: a query may carry a secret (Salesforce's `?token=`), and a
                // sign-in link's token is masked.
                let path = loggable_path(req.uri().path());
                tracing::info_span!("request", method = %req.method(), path = %path, request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn a_sign_in_links_token_never_reaches_the_logs_and_other_paths_do_unchanged() {
        assert_eq!(loggable_path("/app/login/sl_secret"), "/app/login/<token>");
        assert_eq!(loggable_path("/app/login"), "/app/login");
        assert_eq!(loggable_path("/app/login/"), "/app/login/");
        assert_eq!(loggable_path("/v1/leads/1"), "/v1/leads/1");
    }
}
