//! The RevOps dashboard shows the numbers `/v1/metrics/*` report for the same period and
//! filters, reads the reference case as "62 % — healthy", filters like the API, downloads each
//! table as CSV, draws its charts without CSP errors and is refused to an sdr.

use chrono::{DateTime, Duration, Utc};
use salgate::domain::Role;
use serde_json::{json, Value};

use super::Browser;
use crate::helpers::{lead, spawn_app, TestApp};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

const WEEK: &str = "from=2026-03-01&to=2026-03-08&group_by=week";

/// Ingests `n` demo requests for rep-1 at the clock's time with `patch` applied.
async fn ingest(app: &TestApp, prefix: &str, n: usize, patch: Value) -> Vec<String> {
    let token = app.key(Role::Ingest, None).await;
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let mut body = lead(&format!("{prefix}-{i}"));
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = app.post("/v1/leads", &token, &body).await;
        assert_eq!(res.status(), 201);
        let v: Value = res.json().await.unwrap();
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    ids
}

/// Accepts the first `accepted` of `ids` and rejects the rest, one minute apart.
async fn decide(app: &TestApp, ids: &[String], accepted: usize, code: &str) {
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    for (i, id) in ids.iter().enumerate() {
        app.clock.advance(Duration::minutes(1));
        let (action, body) = if i < accepted {
            ("accept", json!({}))
        } else {
            ("reject", json!({"code": code}))
        };
        let res = app.decide(id, action, &sdr, &body).await;
        assert_eq!(res.status(), 200, "{action} {id}");
    }
}

async fn api(app: &TestApp, report: &str, query: &str) -> Value {
    let revops = app.key(Role::Revops, None).await;
    let res = app
        .get(&format!("/v1/metrics/{report}?{query}"), &revops)
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The headline figures' raw values (`data-value`), by element id.
async fn headline(b: &Browser) -> Value {
    b.eval(
        "return Object.fromEntries([...document.querySelectorAll('dl.headline dd[id]')]\
         .map(e => [e.id, e.dataset.value]));",
    )
    .await
}

/// A `data-value` as the API writes the same figure: a number, or null for no data.
fn num(v: &Value) -> Option<f64> {
    v.as_str().and_then(|s| s.parse().ok())
}

/// Every headline figure is the one the API reports for `query`.
async fn assert_headline_is_the_apis(app: &TestApp, b: &Browser, query: &str) {
    let h = headline(b).await;
    let acc = &api(app, "acceptance", query).await["total"];
    let sla = &api(app, "sla", query).await["total"];
    let rec = &api(app, "recycling", query).await["total"];
    let pairs = [
        ("routed", &acc["routed"]),
        ("acceptance-rate", &acc["acceptance_rate"]),
        ("accepted-within-sla", &acc["accepted_within_sla"]),
        ("open-past-due", &sla["open_past_due"]),
        ("decision-p50", &acc["time_to_decision"]["p50"]),
        ("decision-p90", &acc["time_to_decision"]["p90"]),
        (
            "first-touch-compliance",
            &sla["first_touch_compliance_rate"],
        ),
        ("recycle-conversion", &rec["recycle_conversion_rate"]),
    ];
    for (id, expected) in pairs {
        assert_eq!(num(&h[id]), expected.as_f64(), "{id}: page {h} vs API");
    }
}

/// Each row of a per-field table (group, routed, accepted, rejected, rate) is the API's for
/// the same query grouped by that field, the total last.
async fn assert_table_is_the_apis(app: &TestApp, b: &Browser, table: &str, query: &str) {
    let page = b
        .eval(&format!(
            "return [...document.querySelectorAll('#{table}-table tbody tr')].map(tr => [\
             tr.dataset.key, tr.querySelector('.routed').textContent,\
             tr.querySelector('.accepted').textContent, tr.querySelector('.rejected').textContent,\
             tr.querySelector('.rate').dataset.value]);"
        ))
        .await;
    let grouped = format!("{}&group_by={table}", query.replace("&group_by=week", ""));
    let r = api(app, "acceptance", &grouped).await;
    let row = |key: &str, f: &Value| {
        let rate = f["acceptance_rate"]
            .as_f64()
            .map_or(String::new(), |v| v.to_string());
        json!([
            key,
            f["routed"].to_string(),
            f["accepted"].to_string(),
            f["rejected"].to_string(),
            rate
        ])
    };
    let mut want: Vec<Value> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| row(g["key"].as_str().unwrap_or("(none)"), g))
        .collect();
    want.push(row("Total", &r["total"]));
    assert_eq!(page, Value::Array(want), "{table}");
}

async fn signed_in_revops(app: &TestApp) -> Browser {
    let b = Browser::open(app).await;
    b.sign_in_with_key(&app.key(Role::Revops, None).await).await;
    b
}

#[tokio::test]
async fn the_reference_case_reads_62_percent_healthy_with_the_apis_numbers() {
    let app = spawn_app().await;
    app.clock.set(t("2026-03-02T09:00:00Z"));
    let ids = ingest(&app, "ref", 400, json!({})).await;
    decide(&app, &ids, 248, "out_of_icp").await;
    let b = signed_in_revops(&app).await;
    b.goto(&format!("/app/dashboard?{WEEK}")).await;
    assert_eq!(b.text("#acceptance-rate").await, "62 % — healthy");
    assert_eq!(b.text("#routed").await, "400");
    assert_headline_is_the_apis(&app, &b, WEEK).await;
    assert!(b.unlabelled_inputs().await.is_empty());
    // Both charts drew (uPlot puts a canvas in each) and nothing was refused by the CSP.
    let canvases = b
        .eval("return document.querySelectorAll('#acceptance-chart canvas, #rejections-chart canvas').length;")
        .await;
    assert_eq!(canvases, 2);
    assert_eq!(b.eval("return window.__errors;").await, json!([]));
    b.screenshot("dashboard").await;
    b.eval("document.getElementById('acceptance-title').scrollIntoView(); return 0;")
        .await;
    b.screenshot("dashboard-charts").await;
    b.close().await;
}

#[tokio::test]
async fn a_filter_changes_the_figures_as_it_changes_the_apis_and_lists_leads_past_due() {
    let app = spawn_app().await;
    app.clock.set(t("2026-03-02T09:00:00Z"));
    let spring = ingest(&app, "spring", 8, json!({"campaign": "spring"})).await;
    let autumn = ingest(&app, "autumn", 5, json!({"campaign": "autumn"})).await;
    decide(&app, &spring[..6], 3, "no_budget").await;
    decide(&app, &autumn, 5, "no_budget").await;
    // Two spring leads stay open past their one-hour SLA.
    app.clock.advance(Duration::hours(3));
    let b = signed_in_revops(&app).await;
    b.goto(&format!("/app/dashboard?{WEEK}")).await;
    assert_headline_is_the_apis(&app, &b, WEEK).await;
    assert_eq!(b.text("#routed").await, "13");
    for table in ["owner", "queue", "campaign"] {
        assert_table_is_the_apis(&app, &b, table, WEEK).await;
    }
    b.fill("#campaign", "spring").await;
    b.click("form.filters button[type=submit]").await;
    // The old page has the same elements: wait for the new one's address.
    b.wait_path_containing("campaign=spring").await;
    b.find("#period").await;
    let filtered = format!("{WEEK}&campaign=spring");
    assert_headline_is_the_apis(&app, &b, &filtered).await;
    assert_eq!(b.text("#routed").await, "8");
    assert_eq!(b.text("#open-past-due").await, "2");
    let links = b
        .eval("return [...document.querySelectorAll('#past-due-table tbody a')].map(a => a.getAttribute('href'));")
        .await;
    let mut expected: Vec<String> = spring[6..]
        .iter()
        .map(|id| format!("/app/leads/{id}"))
        .collect();
    let mut got: Vec<String> = serde_json::from_value(links).unwrap();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
    b.close().await;
}

#[tokio::test]
async fn each_table_downloads_as_the_apis_csv() {
    let app = spawn_app().await;
    app.clock.set(t("2026-03-02T09:00:00Z"));
    let ids = ingest(&app, "csv", 6, json!({})).await;
    decide(&app, &ids, 4, "duplicate").await;
    let b = signed_in_revops(&app).await;
    b.goto(&format!("/app/dashboard?{WEEK}")).await;
    let revops = app.key(Role::Revops, None).await;
    for (table, api_query) in [
        ("time", WEEK.to_string()),
        ("owner", WEEK.replace("group_by=week", "group_by=owner")),
        ("rejections", WEEK.to_string()),
    ] {
        let report = if table == "rejections" {
            "rejections"
        } else {
            "acceptance"
        };
        // The link's own response, fetched by the page's session.
        let got = b
            .eval(&format!(
                "const a = document.querySelector('a.csv[data-table={table}]');\
                 const x = new XMLHttpRequest(); x.open('GET', a.href, false); x.send();\
                 return [x.status, x.getResponseHeader('content-type'), x.responseText];"
            ))
            .await;
        let want = reqwest::Client::new()
            .get(app.url(&format!("/v1/metrics/{report}?{api_query}")))
            .bearer_auth(&revops)
            .header("accept", "text/csv")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(got[0], 200, "{table}");
        assert_eq!(got[1], "text/csv; charset=utf-8", "{table}");
        assert_eq!(got[2], want.as_str(), "{table}");
        assert!(want.lines().count() >= 2, "{table}: {want}");
    }
    b.close().await;
}

#[tokio::test]
async fn a_period_that_ends_before_it_starts_is_refused_next_to_its_field() {
    let app = spawn_app().await;
    let b = signed_in_revops(&app).await;
    b.goto("/app/dashboard?from=2026-03-08&to=2026-03-01").await;
    assert_eq!(b.text("#to-error").await, "must be after `from`");
    assert_eq!(
        b.eval("return document.querySelectorAll('#headline-title').length;")
            .await,
        0
    );
    b.close().await;
}

#[tokio::test]
async fn an_sdr_is_refused_the_dashboard() {
    let app = spawn_app().await;
    let b = Browser::open(&app).await;
    b.sign_in_with_key(&app.key(Role::Sdr, Some("rep-1")).await)
        .await;
    b.goto("/app/dashboard").await;
    let notice = b.text(".notice.error").await;
    assert!(
        notice.contains("this page is for revops or admin"),
        "{notice}"
    );
    let res = reqwest::Client::new()
        .get(app.url("/app/dashboard/csv/time"))
        .send()
        .await
        .unwrap();
    // Without a session the CSV is not served either (a redirect to sign-in).
    assert!(res.url().path().starts_with("/app/login"), "{}", res.url());
    b.close().await;
}
