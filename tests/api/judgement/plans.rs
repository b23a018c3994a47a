//! The judgement's statement keeps the plan PostgreSQL cached for it. Planned again on every
//! run, it cost more than it ran (docs/scaling.md, "The judgement's plan").

use salgate::db;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

/// `n` input rows as `JUDGE` takes them, for leads nobody stored.
fn rows(run: usize, n: usize) -> Value {
    (0..n)
        .map(|i| {
            json!({
                "source": "web", "external_id": format!("plan-{run}-{i}"),
                "email_key": format!("p{run}-{i}@plans.example"), "phone_key": null,
                "person_key": null, "match_key": format!("domain:plans{i}.example"),
                "name": "plans", "domain": format!("plans{i}.example"),
                "new_id": uuid::Uuid::now_v7(),
            })
        })
        .collect()
}

#[tokio::test]
async fn the_judgement_keeps_its_generic_plan_whatever_the_size_of_its_group() {
    let app = spawn_app().await;
    let judge = db::statements()
        .find(|s| s.name == "salgate::db::judge::JUDGE")
        .unwrap()
        .sql;
    let mut conn = app.pool.acquire().await.unwrap();
    sqlx::raw_sql(&format!(
        "PREPARE judge(jsonb, timestamptz, timestamptz) AS {judge}"
    ))
    .execute(&mut *conn)
    .await
    .unwrap();
    // Groups of one to eight leads, as concurrent ingests make them.
    for run in 0..24 {
        let input = rows(run, run % 8 + 1).to_string();
        let sql = format!(
            "EXECUTE judge('{}', now(), now() - interval '90 days')",
            input.replace('\'', "''")
        );
        sqlx::raw_sql(&sql).execute(&mut *conn).await.unwrap();
    }
    let (generic, custom): (i64, i64) = sqlx::query_as(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'judge'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    // PostgreSQL plans the first five runs for their own parameters, then compares.
    assert!(custom <= 5, "planned {custom} times for its parameters");
    assert_eq!(generic + custom, 24);
}
