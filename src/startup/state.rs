//! The application state and the notification and CRM-writer jobs built from the settings and
//! the open database (moved out of `startup.rs` unchanged).

use std::sync::Arc;

use super::Database;
use crate::{
    clock::Clock,
    config::Settings,
    http::{
        self, auth::KeyCache, integrations::IntegrationSettings, rate_limit::RateLimiter, AppState,
        Shared,
    },
    jobs::{crm_writer::CrmWriter, notifier::Notifier},
    notify::{
        email::EmailTransport,
        slack::{Slack, SlackTransport},
        Transport,
    },
    outbound,
    pages::PageSettings,
    policy_cache::{PolicyCache, QueueCache, RepCache},
    service::{group_commit::GroupCommit, Service},
};

/// The notification dispatcher with this replica's transports: email when `SALGATE_SMTP_URL`
/// is set; Slack when `SALGATE_SLACK_BOT_TOKEN` is.
pub(super) fn notifier(settings: &Settings, state: &AppState) -> anyhow::Result<Notifier> {
    let email = match (&settings.smtp_url, &settings.email_from) {
        (Some(url), Some(from)) => {
            let s = crate::notify::email::EmailSettings {
                url: url.clone(),
                from: from.clone(),
                allow_plaintext: settings.smtp_allow_plaintext,
            };
            let t = EmailTransport::new(&s, &state.pages.link_base).map_err(|why| {
                anyhow::anyhow!("invalid setting smtp_url (SALGATE_SMTP_URL): {why}")
            })?;
            Some(Arc::new(t) as Arc<dyn Transport>)
        }
        _ => None,
    };
    // A bot token makes a Slack transport; without one no Slack rows are written.
    let policy = outbound::Policy {
        allow_private: settings.webhook_allow_private_networks,
    };
    let slack = SlackTransport::from_settings(
        &settings.slack,
        policy,
        &state.pages.link_base,
        state.clock.clone(),
    )
    .map_err(|e| anyhow::anyhow!("invalid Slack settings: {e}"))?
    .map(|t| Arc::new(t) as Arc<dyn Transport>);
    Ok(Notifier::new(
        state.db.clone(),
        state.clock.clone(),
        slack,
        email,
    ))
}

/// The CRM writer with the CRMs whose credentials are set (none: it writes nothing, and the
/// trigger writes no rows).
pub(super) fn crm_writer(settings: &Settings, state: &AppState) -> anyhow::Result<CrmWriter> {
    let targets = settings
        .crm
        .targets(state.outbound)
        .map_err(|e| anyhow::anyhow!("invalid CRM settings: {e}"))?;
    Ok(CrmWriter::new(
        state.db.clone(),
        state.clock.clone(),
        targets,
    ))
}

/// The request handlers' shared state, from the settings and the open database.
pub(super) fn app_state(
    settings: &Settings,
    database: &Database,
    clock: Arc<dyn Clock>,
    bound: Option<std::net::SocketAddr>,
) -> anyhow::Result<AppState> {
    let outbound = outbound::Policy {
        allow_private: settings.webhook_allow_private_networks,
    };
    let link_base = crate::pages::link_base(settings, bound);
    let slack = Slack::new(&settings.slack, outbound, &link_base)
        .map_err(|e| anyhow::anyhow!("invalid Slack settings: {e}"))?
        .map(Arc::new);
    Ok(AppState::new(Shared {
        service: Service {
            db: database.pool.clone(),
            lane: database.lane.clone(),
            group_commit: GroupCommit::new(database.lane.clone()),
            group_judge: crate::service::judge::GroupJudge::new(database.pool.clone()),
            clock,
            policies: Arc::new(PolicyCache::new(settings.cache_ttl)),
            reps: Arc::new(RepCache::new(settings.cache_ttl)),
            queues: Arc::new(QueueCache::new(settings.cache_ttl)),
            rule_cache: Arc::new(crate::service::rules::RuleCache::new(settings.cache_ttl)),
            // Longer than chrono can count means "no limit but 1970".
            routed_at_max_age: chrono::Duration::from_std(settings.routed_at_max_age)
                .unwrap_or(chrono::Duration::MAX),
            model: Arc::new(crate::service::model::ModelCache::new(settings.cache_ttl)),
            model_settings: settings.model,
            feature_attributes: settings.feature_attributes.clone().into(),
            replica: database.replica.clone(),
        },
        keys: Arc::new(KeyCache::new(settings.cache_ttl)),
        rate_limit: RateLimiter::new(settings.rate_limit_per_second, settings.rate_limit_burst)
            .map(Arc::new),
        unauthenticated_limit: RateLimiter::new(
            settings.unauthenticated_rate_limit_per_second,
            settings.unauthenticated_rate_limit_burst,
        )
        .map(Arc::new),
        integration_limit: RateLimiter::new(
            settings.rate_limit_per_second,
            settings.rate_limit_burst,
        )
        .map(Arc::new),
        inbound_secrets: Arc::new(settings.inbound_secrets.clone()),
        integrations: Arc::new(IntegrationSettings {
            public_url: settings.public_url.clone(),
            hubspot_client_secret: settings.hubspot_client_secret.clone(),
            salesforce_org_id: settings.salesforce_org_id.clone(),
            salesforce_token: settings.salesforce_token.clone(),
            salesforce_allowed_networks: settings.salesforce_allowed_networks.clone(),
        }),
        acceptance_bands: settings.acceptance_bands,
        driver_min_support: settings.driver_min_support,
        outbound,
        batch_gate: Arc::new(tokio::sync::Semaphore::new(
            settings.batch_concurrency * (http::batch::BATCH_BODY_LIMIT / http::batch::GATE_UNIT),
        )),
        batch_wait: settings.batch_wait,
        pages: PageSettings::new(settings, bound),
        slack,
        crm: Arc::new(settings.crm.clone()),
    }))
}
