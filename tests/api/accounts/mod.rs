//! Accounts: matching at ingest, the accounts API (list, read, owner, acceptance, merge) and
//! the reports' account and decided-by dimensions.

mod api;
mod matching;
mod merge;
mod metrics;

use reqwest::Method;
use salgate::{clock::Clock, domain::Role};
use serde_json::{json, Value};

use crate::helpers::{lead, TestApp};

/// A lead `external_id` of `company` (name and domain as given) with `email`.
pub fn lead_of(external_id: &str, name: Option<&str>, domain: Option<&str>, email: &str) -> Value {
    let mut body = lead(external_id);
    body["email"] = json!(email);
    body["company"] = json!({"name": name, "domain": domain});
    body
}

/// Ingests `body` and returns its `account_id` (null when it has none).
pub async fn account_of(app: &TestApp, body: &Value) -> Value {
    app.ingest(body).await["account_id"].clone()
}

/// GET /v1/accounts/{id} as revops.
pub async fn get_account(app: &TestApp, id: &str) -> Value {
    let revops = app.key(Role::Revops, None).await;
    let res = app.get(&format!("/v1/accounts/{id}"), &revops).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

pub async fn patch(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.request(Method::PATCH, path, token, Some(body)).await
}

/// The rows of `accounts` and `account_events`, to show a refused request changed nothing.
pub async fn snapshot(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT row_to_json(a)::text FROM accounts a \
         UNION ALL SELECT row_to_json(e)::text FROM account_events e \
         UNION ALL SELECT format('%s %s', id, account_id) FROM leads ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

/// Rejects lead `id` as ingest rule `rule` would: the lead row and its history entry written
/// together, the entry's actor `rule:<rule>`. `false` when the lead was not routed.
pub async fn reject_by_rule(app: &TestApp, id: &str, code: &str, rule: &str) -> bool {
    let now = app.clock.now();
    let actor = format!("rule:{rule}");
    let n = sqlx::query(
        "WITH l AS ( \
           UPDATE leads SET state = 'rejected', rejected_by = owner, rejected_at = $3, \
             rejection_code = $2, version = version + 1, updated_at = $3 \
           WHERE id = $1::uuid AND state = 'routed' RETURNING id, cycle, owner) \
         INSERT INTO lead_history (lead_id, cycle, kind, from_state, to_state, actor, \
           actor_role, rep_id, code, occurred_at) \
         SELECT id, cycle, 'rejected', 'routed', 'rejected', $4, 'revops', owner, $2, $3 FROM l",
    )
    .bind(id)
    .bind(code)
    .bind(now)
    .bind(actor)
    .execute(&app.pool)
    .await
    .unwrap()
    .rows_affected();
    n == 1
}
