//! What the retention job deletes, one bounded batch per call. Each batch locks only the rows
//! it deletes and skips rows another replica is deleting, so any number of replicas may purge
//! at once and a batch never waits long. The history log (`lead_history`, `leads`,
//! `lead_cycles`) is never touched.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// What a batch deletes. Its name is the `table` label of the purge counter (a closed set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// Delivered webhook deliveries (a full lead snapshot each) delivered before the cutoff,
    /// with their attempts.
    DeliveredWebhooks,
    /// Deliveries that gave up, created and last attempted before the cutoff, with their
    /// attempts.
    DeadWebhooks,
    /// Inbound CRM message ids (redelivery dedupe) received before the cutoff.
    Receipts,
    /// Idempotency records created (or, in flight, last renewed) before the cutoff.
    IdempotencyKeys,
    /// Signatures of signed `POST /v1/leads` requests seen before the cutoff.
    InboundSignatures,
    /// Sessions of the pages that expired or were signed out before the cutoff.
    Sessions,
    /// Sign-in links that expired or were used before the cutoff.
    SignInLinks,
    /// Notifications (a lead summary each) sent before the cutoff (the webhooks' retention).
    SentNotifications,
    /// Notifications that gave up, created before the cutoff (the dead webhooks' retention).
    DeadNotifications,
    /// Auto-registered reps untouched since the cutoff that nothing refers to: no lead, no
    /// history entry, no cycle, no queue membership, no API key.
    AutoRegisteredReps,
}

impl Purge {
    /// The `table` label of `salgate_retention_purged_rows_total`.
    pub fn label(self) -> &'static str {
        match self {
            Purge::DeliveredWebhooks | Purge::DeadWebhooks => "webhook_deliveries",
            Purge::Receipts => "integration_receipts",
            Purge::IdempotencyKeys => "idempotency_keys",
            Purge::InboundSignatures => "inbound_signatures",
            Purge::AutoRegisteredReps => "reps",
            Purge::Sessions => "sessions",
            Purge::SignInLinks => "sign_in_links",
            Purge::SentNotifications | Purge::DeadNotifications => "notifications",
        }
    }
}

/// Rows one batch deleted: of its own table, and webhook attempts with deliveries.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    pub rows: u64,
    pub attempts: u64,
}

/// Deletes at most `limit` rows of `what` older than `cutoff`.
pub async fn purge_batch(
    pool: &PgPool,
    what: Purge,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Deleted, sqlx::Error> {
    let sql = match what {
        Purge::DeliveredWebhooks => DELIVERED_WEBHOOKS,
        Purge::DeadWebhooks => DEAD_WEBHOOKS,
        Purge::Receipts => RECEIPTS,
        Purge::IdempotencyKeys => IDEMPOTENCY_KEYS,
        Purge::InboundSignatures => INBOUND_SIGNATURES,
        Purge::AutoRegisteredReps => AUTO_REGISTERED_REPS,
        Purge::Sessions => SESSIONS,
        Purge::SignInLinks => SIGN_IN_LINKS,
        Purge::SentNotifications => SENT_NOTIFICATIONS,
        Purge::DeadNotifications => DEAD_NOTIFICATIONS,
    };
    let (rows, attempts): (i64, i64) = sqlx::query_as(sql)
        .bind(cutoff)
        .bind(limit)
        .fetch_one(pool)
        .await?;
    Ok(Deleted {
        rows: rows as u64,
        attempts: attempts as u64,
    })
}

/// Deliveries matching `filter` (over `d`) and their attempts, in one statement (the foreign
/// key is checked at its end, when both are gone).
macro_rules! deliveries {
    ($filter:literal) => {
        concat!(
            "WITH d AS (SELECT d.id FROM webhook_deliveries d WHERE ",
            $filter,
            " LIMIT $2 FOR UPDATE SKIP LOCKED), \
              a AS (DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM d) \
                    RETURNING 1), \
              x AS (DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM d) RETURNING 1) \
             SELECT (SELECT count(*) FROM x), (SELECT count(*) FROM a)"
        )
    };
}

/// Rows of `table` (as `t`, keyed by `key`) matching `filter`.
macro_rules! simple {
    ($table:literal, $key:literal, $filter:literal) => {
        concat!(
            "WITH x AS (DELETE FROM ",
            $table,
            " WHERE (",
            $key,
            ") IN (SELECT ",
            $key,
            " FROM ",
            $table,
            " t WHERE ",
            $filter,
            " LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING 1) SELECT count(*), 0::bigint FROM x"
        )
    };
}

const DELIVERED_WEBHOOKS: &str = deliveries!("d.status = 'delivered' AND d.delivered_at < $1");
const DEAD_WEBHOOKS: &str = deliveries!(
    "d.status = 'dead' AND d.created_at < $1 AND NOT EXISTS \
     (SELECT 1 FROM webhook_attempts a WHERE a.delivery_id = d.id AND a.attempted_at >= $1)"
);
const RECEIPTS: &str = simple!("integration_receipts", "provider, key", "received_at < $1");
const IDEMPOTENCY_KEYS: &str = simple!("idempotency_keys", "api_key_id, key", "created_at < $1");
const INBOUND_SIGNATURES: &str = simple!("inbound_signatures", "source, t, mac", "seen_at < $1");
const SESSIONS: &str = simple!(
    "sessions",
    "id",
    "t.expires_at < $1 OR t.signed_out_at < $1"
);
// A session keeps pointing at nothing (`ON DELETE SET NULL`) once its link is gone.
const SIGN_IN_LINKS: &str = simple!("sign_in_links", "id", "t.expires_at < $1 OR t.used_at < $1");
const SENT_NOTIFICATIONS: &str = simple!(
    "notifications",
    "id",
    "t.status = 'sent' AND t.sent_at < $1"
);
const DEAD_NOTIFICATIONS: &str = simple!(
    "notifications",
    "id",
    "t.status = 'dead' AND t.next_attempt_at < $1 AND t.created_at < $1"
);
const AUTO_REGISTERED_REPS: &str = simple!(
    "reps",
    "id",
    "auto_registered AND updated_at < $1 \
     AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.owner = t.id) \
     AND NOT EXISTS (SELECT 1 FROM lead_history h WHERE h.rep_id = t.id) \
     AND NOT EXISTS (SELECT 1 FROM lead_cycles c WHERE c.owner = t.id) \
     AND NOT EXISTS (SELECT 1 FROM queue_members m WHERE m.rep_id = t.id) \
     AND NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.rep_id = t.id)"
);

statements!(
    DELIVERED_WEBHOOKS,
    DEAD_WEBHOOKS,
    RECEIPTS,
    IDEMPOTENCY_KEYS,
    INBOUND_SIGNATURES,
    AUTO_REGISTERED_REPS,
    SESSIONS,
    SIGN_IN_LINKS,
    SENT_NOTIFICATIONS,
    DEAD_NOTIFICATIONS,
);
