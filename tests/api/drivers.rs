//! The rejection-drivers report against a history planted here through the API: a driver in
//! one title function (hr) and one size band (<50) is found with its hand-computed figures
//! and union share, a value under the minimum support is suppressed, the features are stored
//! per cycle (a new cycle from the merged inputs), cycles stored without features count the
//! same, and bad parameters are refused naming the field.

use chrono::{DateTime, Duration, Utc};
use salgate::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{fields, lead, problem, spawn_app_with, TestApp};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

const T0: &str = "2026-03-02T09:00:00Z";
const PERIOD: &str = "from=2026-03-01&to=2026-03-11";

/// Ingests `n` leads titled `title` at a company of `size`, rejects the first `rejected` with
/// `code` and accepts the rest.
async fn plant(
    app: &TestApp,
    prefix: &str,
    title: &str,
    size: i64,
    n: usize,
    rejected: usize,
    code: &str,
) {
    let ingest = app.key(Role::Ingest, None).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    for i in 0..n {
        let mut body = lead(&format!("{prefix}-{i}"));
        body["title"] = json!(title);
        body["company"] = json!({"name": "Acme", "size": size});
        body["routed_at"] = json!(T0);
        let res = app.post("/v1/leads", &ingest, &body).await;
        assert_eq!(res.status(), 201);
        let id = res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let (action, body) = if i < rejected {
            ("reject", json!({"code": code}))
        } else {
            ("accept", json!({}))
        };
        let res = app.decide(&id, action, &sdr, &body).await;
        assert_eq!(res.status(), 200, "{action} {prefix}-{i}");
    }
}

/// 105 decided cycles, 41 rejected (rate 41/105 = 0.3905):
/// - HR Generalist and HR Manager at 500 employees: 10 each, 8 of each rejected (title_mismatch);
/// - VP Sales at 20 employees: 20, 14 rejected (out_of_icp);
/// - VP Sales at 500: 60, 6 rejected (no_budget);
/// - IT Manager at 20: 5, all rejected (company_size_mismatch): function `it` has 5 cycles,
///   under the support of 10.
async fn planted() -> TestApp {
    let app = spawn_app_with(|s| s.driver_min_support = 10).await;
    app.clock.set(t(T0) + Duration::minutes(10));
    plant(&app, "hrg", "HR Generalist", 500, 10, 8, "title_mismatch").await;
    plant(&app, "hrm", "HR Manager", 500, 10, 8, "title_mismatch").await;
    plant(&app, "vps", "VP Sales", 20, 20, 14, "out_of_icp").await;
    plant(&app, "vpl", "VP Sales", 500, 60, 6, "no_budget").await;
    plant(&app, "it", "IT Manager", 20, 5, 5, "company_size_mismatch").await;
    app
}

async fn report(app: &TestApp, query: &str) -> Value {
    let res = app
        .get(
            &format!("/v1/metrics/rejection-drivers?{PERIOD}&{query}"),
            &app.admin,
        )
        .await;
    assert_eq!(res.status(), 200, "{query}");
    res.json().await.unwrap()
}

fn dimension<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dimension"] == name)
        .unwrap_or_else(|| panic!("no {name} in {r}"))
}

fn value<'a>(r: &'a Value, dim: &str, v: &str) -> &'a Value {
    dimension(r, dim)["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["value"] == v)
        .unwrap_or_else(|| panic!("no {dim} = {v}"))
}

#[tokio::test]
async fn a_planted_driver_is_found_with_its_share() {
    let app = planted().await;
    let r = report(&app, "").await;
    assert_eq!(
        r["total"],
        json!({"cycles": 105, "rejected": 41, "rejection_rate": 0.3905})
    );
    assert_eq!(r["min_support"], 10);
    // hr: 20 cycles, 16 rejected: rate 0.8, lift 0.8 / (41/105) = 2.0488, share 16/41 =
    // 0.3902, Wilson 16/20 = [0.584, 0.9193].
    let hr = value(&r, "title_function", "hr");
    assert_eq!(hr["cycles"], 20);
    assert_eq!(hr["rejected"], 16);
    assert_eq!(hr["rejection_rate"], 0.8);
    assert_eq!(hr["lift"], 2.0488);
    assert_eq!(hr["share"], 0.3902);
    assert_eq!(hr["interval"], json!({"low": 0.584, "high": 0.9193}));
    assert_eq!(
        hr["codes"],
        json!([{"code": "title_mismatch", "count": 16}])
    );
    // <50: VP Sales at 20 and IT Manager: 25 cycles, 19 rejected: lift 0.76 / 0.390476 =
    // 1.9463, share 19/41 = 0.4634, Wilson 19/25 = [0.5657, 0.885].
    let small = value(&r, "company_size", "<50");
    assert_eq!(
        (small["cycles"].as_i64(), small["rejected"].as_i64()),
        (Some(25), Some(19))
    );
    assert_eq!(small["lift"], 1.9463);
    assert_eq!(small["share"], 0.4634);
    assert_eq!(small["interval"], json!({"low": 0.5657, "high": 0.885}));
    assert_eq!(
        small["codes"],
        json!([{"code": "out_of_icp", "count": 14}, {"code": "company_size_mismatch", "count": 5}])
    );
    // Values largest share first: sales (20 rejected) before hr (16).
    let function = dimension(&r, "title_function");
    let names: Vec<&str> = function["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sales", "hr"]);
    // IT Manager's 5 cycles are under the support: not listed, counted as suppressed.
    assert_eq!(function["suppressed"], 1);
    // Union of <50 (19) and hr (16, none of them <50): 35 of 41 = 0.8537; manager and
    // individual add nothing once both are taken.
    let s = &r["summary"];
    assert_eq!(
        s["features"],
        json!([{"dimension": "company_size", "value": "<50"},
               {"dimension": "title_function", "value": "hr"}])
    );
    assert_eq!(s["rejected"], 35);
    assert_eq!(s["share"], 0.8537);
    assert_eq!(
        s["text"],
        "company size = <50 and title function = hr explain 85 % of rejections"
    );

    // Filters: no rule decided anything; a person decided everything.
    let by_rule = report(&app, "decided_by=rule").await;
    assert_eq!(by_rule["total"]["cycles"], 0);
    assert_eq!(by_rule["summary"], Value::Null);
    let by_person = report(&app, "decided_by=person").await;
    assert_eq!(by_person["dimensions"], r["dimensions"]);
    assert_eq!(report(&app, "source=webform").await["total"]["cycles"], 0);

    // CSV: one row per listed value, then the total.
    let res = app
        .client
        .get(app.url(&format!("/v1/metrics/rejection-drivers?{PERIOD}")))
        .bearer_auth(&app.admin)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(res.starts_with("dimension,attribute,value,cycles,rejected,rejection_rate,lift,share,"));
    assert!(
        res.contains(
            "\ntitle_function,,hr,20,16,0.8,2.0488,0.3902,0.584,0.9193,title_mismatch:16,,\n"
        ),
        "{res}"
    );
    assert!(res.ends_with("\ntotal,,,105,41,0.3905,,,,,,,\n"), "{res}");

    // Cycles stored without features count the same (from their leads' stored inputs).
    sqlx::query("UPDATE lead_cycles SET features = NULL")
        .execute(&app.pool)
        .await
        .unwrap();
    let again = report(&app, "").await;
    assert_eq!(again["dimensions"], r["dimensions"]);
    assert_eq!(again["summary"], r["summary"]);
}

#[tokio::test]
async fn features_are_stored_per_cycle_and_a_new_cycle_merges_the_inputs() {
    let app = spawn_app_with(|_| {}).await;
    app.clock.set(t(T0) + Duration::minutes(10));
    let mut body = lead("x");
    body["title"] = json!("VP Sales");
    body["company"] = json!({"name": "Acme", "size": "51-200", "country": "Germany"});
    let id = app.ingest(&body).await["id"].as_str().unwrap().to_string();
    let features = |cycle: i32| {
        let pool = app.pool.clone();
        let id: uuid::Uuid = id.parse().unwrap();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT features FROM lead_cycles WHERE lead_id = $1 AND cycle = $2",
            )
            .bind(id)
            .bind(cycle)
            .fetch_one(&pool)
            .await
            .unwrap()
            .unwrap()
        }
    };
    let first = features(1).await;
    assert!(first.contains("title_seniority=vp\u{1f}title_function=sales\u{1f}company_size=50-199\u{1f}country=de\u{1f}region=emea"), "{first}");
    let routed = &app.history(&id).await[0];
    assert_eq!(routed["data"]["features"], json!(first));
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let res = app
        .decide(&id, "reject", &sdr, &json!({"code": "no_budget"}))
        .await;
    assert_eq!(res.status(), 200);
    // The MQL comes back without a title and with another company: the title is kept.
    let mut again = lead("x");
    again["company"] = json!({"name": "Acme", "size": 7000});
    app.ingest(&again).await;
    let second = features(2).await;
    assert!(second.contains("title_function=sales"), "{second}");
    assert!(
        second.contains("company_size=5000+\u{1f}country=unknown"),
        "{second}"
    );
    assert_eq!(features(1).await, first);
}

#[tokio::test]
async fn bad_parameters_are_refused_naming_the_field() {
    let app = spawn_app_with(|_| {}).await;
    for (query, field) in [
        ("group_by=week", "group_by"),
        ("from=yesterday", "from"),
        ("decided_by=robot", "decided_by"),
        ("from=2026-03-02&to=2026-03-01", "to"),
        ("account=42", "account"),
        ("tz=Mars/Olympus", "tz"),
    ] {
        let res = app
            .get(
                &format!("/v1/metrics/rejection-drivers?{query}"),
                &app.admin,
            )
            .await;
        let p = problem(res, 422, "validation_failed").await;
        assert_eq!(fields(&p), [field], "{query}");
    }
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let res = app.get("/v1/metrics/rejection-drivers", &sdr).await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn compacted_hours_give_the_same_drivers_as_raw_cycles() {
    let app = planted().await;
    let queries = ["", "decided_by=person", "source=webform", "tz=Asia/Kolkata"];
    let mut raw = Vec::new();
    for q in queries {
        raw.push(report(&app, q).await);
    }
    assert_eq!(raw[0]["total"]["cycles"], 105);
    assert!(app.compact().await > 0, "nothing was compacted");
    let blocks: i64 =
        sqlx::query_scalar("SELECT count(*) FROM cycle_blocks WHERE features IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(blocks > 0);
    for (q, before) in queries.iter().zip(&raw) {
        assert_eq!(&report(&app, q).await, before, "{q}");
    }
}
