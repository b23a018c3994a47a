//! The use cases: ingest (one lead, a batch, a CRM delivery), decide, touch, assign, claim, and
//! reading leads under the visibility rule. They know `db` and `domain`, never axum or HTTP
//! types, so the JSON handlers of `src/http` and later callers (web pages, Slack) run the same
//! code: a handler extracts its input, calls one use case, and renders the outcome.
//!
//! Which error type belongs where:
//! - `sqlx::Error` in `src/db` (queries);
//! - `domain::DecisionError` and `Vec<FieldError>` in `src/domain` (pure rules, input parsing);
//! - [`Error`] here: what a use case can refuse or fail with, in the product's terms;
//! - `http::error::ApiError` at the HTTP edge only: it renders a [`Error`] (and the edge's own
//!   failures: auth, bodies, idempotency, rate limits) as problem+json with a stable code.

pub mod account_bodies;
pub mod accounts;
mod assign;
mod batch;
pub mod batching;
pub mod campaigns;
mod claim;
pub mod crm;
pub mod cursor;
mod decide;
mod error;
pub mod features;
pub mod group_commit;
pub mod inbox;
mod ingest;
pub mod judge;
pub mod lead_bodies;
pub mod metrics;
pub mod model;
pub mod outcomes;
pub mod people;
mod read;
mod receipt;
pub mod replica;
mod retry;
pub mod rules;
pub mod settings;
pub mod slack;
mod touch;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

pub use assign::Assignment;
pub use batch::BatchOutcome;
pub use decide::Decision;
pub use error::{Error, Result};
pub use ingest::Ingested;
pub use read::LeadPage;
pub use receipt::Received;
pub use retry::{retry_on_race, MAX_ATTEMPTS};

use crate::{
    clock::Clock,
    db::{lane::Lane, leads::Who},
    domain::{routed_at::RoutedAtWindow, Actor},
    policy_cache::{PolicyCache, QueueCache, RepCache},
    service::group_commit::GroupCommit,
};

/// What the use cases share, one per replica (the HTTP `AppState` holds it).
pub struct Service {
    /// The PostgreSQL pool; every query goes through it.
    pub db: PgPool,
    /// Connections of `db` kept checked out for the hot paths (one-lead ingest, accept,
    /// reject), reused without the pool's round trip on every release.
    pub lane: Arc<Lane>,
    /// Concurrent one-lead ingests' new leads, committed in groups.
    pub group_commit: Arc<GroupCommit>,
    /// Concurrent one-lead ingests' judgements (account, duplicates), made in groups.
    pub group_judge: Arc<judge::GroupJudge>,
    /// The injected clock: nothing reads the system time directly. A use case reads it once
    /// and computes every time it writes and the `sla` view of the leads it returns from that
    /// one reading; ingest takes `now` from its caller instead, so that a batch or a CRM
    /// delivery, and the signature checked before it, share one reading.
    pub clock: Arc<dyn Clock>,
    /// Per-replica cache of SLA policies and calendars (deadlines at ingest and accept).
    pub policies: Arc<PolicyCache>,
    /// Per-replica cache of reps known to be available (explicit owners at ingest).
    pub reps: Arc<RepCache>,
    /// Per-replica cache of queues and their members (round-robin ingest).
    pub queues: Arc<QueueCache>,
    /// Per-replica cache of the ingest rules (read for every ingested lead).
    pub rule_cache: Arc<rules::RuleCache>,
    /// `SALGATE_ROUTED_AT_MAX_AGE`: how old a lead's `routed_at` may be.
    pub routed_at_max_age: chrono::Duration,
    /// The read replica (`DATABASE_READ_URL`) that reports and listings read while it is fresh
    /// enough ([`Service::read_pool`]); `None`: they read `db`.
    pub replica: Option<Arc<replica::ReadReplica>>,
    /// The served acceptance model (predictions on the leads returned) and how it is trained.
    pub model: Arc<model::ModelCache>,
    pub model_settings: model::ModelSettings,
    /// `SALGATE_FEATURE_ATTRIBUTES`: the `attributes` keys that are lead features.
    pub feature_attributes: Arc<[String]>,
}

impl Service {
    /// The `routed_at` times a lead received at `now` may carry.
    pub fn routed_at_window(&self, now: DateTime<Utc>) -> RoutedAtWindow {
        RoutedAtWindow::new(now, self.routed_at_max_age)
    }
}

/// Who calls a use case: the domain's actor (role, and the rep of an SDR) and how the history
/// log names it (`key:<id>` for an API key, `integration:<crm>` for an adapter).
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub label: String,
}

impl Caller {
    /// The actor columns of the history rows this caller writes.
    pub fn who(&self) -> Who<'_> {
        Who::new(&self.label, &self.actor)
    }
}
