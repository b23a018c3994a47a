//! The settings pages: a change made there takes effect in the API, a refused form changes
//! nothing and says why next to its field, sign-in links and API keys are shown once, and
//! only the right roles (and forms of this session) get in.

use reqwest::{redirect, StatusCode};
use salgate::domain::Role;
use serde_json::{json, Value};

use super::Browser;
use crate::helpers::{lead, problem, spawn_app, TestApp};

/// Chooses `value` in the select `css`.
async fn choose(b: &Browser, css: &str, value: &str) {
    b.find(css)
        .await
        .select_by_value(value)
        .await
        .expect("select an option");
}

/// The text of `css` once it satisfies `want` (a page reached by a click may still be the
/// old one for a moment); waits up to 10 s.
async fn until(b: &Browser, css: &str, want: impl Fn(&str) -> bool) -> String {
    let start = std::time::Instant::now();
    let mut last = String::new();
    while start.elapsed() < std::time::Duration::from_secs(10) {
        if let Ok(el) = b.client.find(fantoccini::Locator::Css(css)).await {
            if let Ok(t) = el.text().await {
                if want(&t) {
                    return t;
                }
                last = t;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{css} never read as wanted; last: {last:?}")
}

async fn api(app: &TestApp, path: &str) -> Value {
    app.get(path, &app.admin).await.json().await.unwrap()
}

/// The page's text (to check what is and is not on it).
async fn page_text(b: &Browser) -> String {
    b.eval("return document.body.innerText")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_rejection_code_added_on_the_page_is_taken_by_the_api_and_refused_once_retired() {
    let app = spawn_app().await;
    let revops = app.key(Role::Revops, None).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let b = Browser::open(&app).await;
    b.sign_in_with_key(&revops).await;
    b.goto("/app/settings/rejection-codes").await;
    b.fill("#code", "budget_frozen").await;
    b.fill("#label", "Budget frozen this quarter").await;
    b.click("form.settings-form button[type=submit]").await;
    let row = b.text("tr[data-code='budget_frozen']").await;
    assert!(
        row.contains("Budget frozen this quarter") && row.contains("active"),
        "{row}"
    );
    assert_eq!(b.text("main [role=status]").await, "Saved.");
    assert!(b.unlabelled_inputs().await.is_empty());
    b.screenshot("settings-rejection-codes").await;

    let first = app.ingest(&lead("s-1")).await;
    let res = app
        .decide(
            first["id"].as_str().unwrap(),
            "reject",
            &sdr,
            &json!({"code": "budget_frozen"}),
        )
        .await;
    assert_eq!(
        res.status(),
        200,
        "the new code is offered to the API at once"
    );

    b.click("tr[data-code='budget_frozen'] button").await;
    until(&b, "tr[data-code='budget_frozen']", |t| {
        t.contains("retired")
    })
    .await;
    let second = app.ingest(&lead("s-2")).await;
    let id = second["id"].as_str().unwrap();
    let res = app
        .decide(id, "reject", &sdr, &json!({"code": "budget_frozen"}))
        .await;
    problem(res, 422, "unknown_rejection_code").await;
    assert_eq!(app.lead(id).await["state"], "routed");

    b.goto("/app/settings/recycle-reasons").await;
    b.fill("#code", "nurture_q3").await;
    b.fill("#label", "Nurture until Q3").await;
    b.click("form.settings-form button[type=submit]").await;
    b.find("tr[data-code='nurture_q3']").await;
    let reasons = api(&app, "/v1/recycle-reasons").await;
    assert!(reasons["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["code"] == "nurture_q3"));
    b.screenshot("settings-recycle-reasons").await;
    b.close().await;
}

#[tokio::test]
async fn a_refused_form_shows_the_parsers_message_next_to_its_field_and_changes_nothing() {
    let app = spawn_app().await;
    let b = Browser::open(&app).await;
    b.sign_in_with_key(&app.admin).await;
    let before = api(&app, "/v1/rejection-codes").await["items"]
        .as_array()
        .unwrap()
        .len();
    b.goto("/app/settings/rejection-codes").await;
    b.fill("#code", "Not A Slug!").await;
    b.fill("#label", "Bad").await;
    b.click("form.settings-form button[type=submit]").await;
    let error = b.text("#code-error").await;
    assert!(error.contains("lowercase"), "{error}");
    assert_eq!(
        b.find("#code")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("Not A Slug!")
    );
    let after = api(&app, "/v1/rejection-codes").await["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(after, before, "a refused code is not stored");

    let res = app
        .request(
            reqwest::Method::PUT,
            "/v1/reps/rep-7",
            &app.admin,
            Some(&json!({"name": "Sam", "capacity": 5})),
        )
        .await;
    assert_eq!(res.status(), 200);
    b.goto("/app/settings/reps?edit=rep-7").await;
    assert_eq!(
        b.find("#capacity")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("5")
    );
    b.fill("#capacity", "abc").await;
    b.fill("#away_until", "2026-12-24T09:00:00Z").await;
    b.click("form.settings-form button[type=submit]").await;
    let error = b.text("#capacity-error").await;
    assert!(!page_text(&b).await.contains("Saved."));
    assert!(error.contains("whole number"), "{error}");
    assert_eq!(
        b.find("#capacity")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("abc")
    );
    b.screenshot("settings-reps-refused").await;
    let rep = api(&app, "/v1/reps/rep-7").await;
    assert_eq!(
        (&rep["capacity"], &rep["away_until"]),
        (&json!(5), &Value::Null),
        "{rep}"
    );

    // Corrected, the same form is taken and the API reads the change.
    b.fill("#capacity", "7").await;
    b.click("form.settings-form button[type=submit]").await;
    until(&b, "tr[data-rep='rep-7'] td.capacity", |t| t == "7").await;
    let rep = api(&app, "/v1/reps/rep-7").await;
    assert_eq!(rep["capacity"], 7);
    assert_eq!(rep["away_until"], "2026-12-24T09:00:00Z");
    assert!(b.unlabelled_inputs().await.is_empty());
    b.screenshot("settings-reps").await;
    b.close().await;
}

#[tokio::test]
async fn a_sign_in_link_made_on_the_page_signs_a_second_browser_in_as_that_rep_once() {
    let app = spawn_app().await;
    let b = Browser::open(&app).await;
    b.sign_in_with_key(&app.admin).await;
    b.goto("/app/settings/links").await;
    choose(&b, "#role", "sdr").await;
    b.fill("#rep", "rep-2").await;
    b.click("form.settings-form button[type=submit]").await;
    let link = b
        .find("#new-link")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(
        link.starts_with(&format!("{}/app/login/sl_", app.address)),
        "{link}"
    );
    assert!(b.unlabelled_inputs().await.is_empty());
    b.screenshot("settings-links").await;

    let other = Browser::open(&app).await;
    other.client.goto(&link).await.unwrap();
    other.click("form.sign-in-link button").await;
    assert_eq!(other.text(".who").await, "rep-2 (sdr)");
    assert_eq!(other.path().await, "/app");
    other.close().await;

    b.goto("/app/settings/links").await;
    assert!(b.text("td.status").await.starts_with("used"));
    assert!(
        !page_text(&b).await.contains(&link),
        "the link is shown only once"
    );
    b.close().await;
}

#[tokio::test]
async fn an_api_key_made_on_the_page_is_shown_once_works_and_stops_when_revoked() {
    let app = spawn_app().await;
    let b = Browser::open(&app).await;
    b.sign_in_with_key(&app.admin).await;
    b.goto("/app/settings/keys").await;
    choose(&b, "#role", "revops").await;
    b.fill("#name", "ops laptop").await;
    b.click("form.settings-form button[type=submit]").await;
    let token = b.text("#new-token").await;
    assert!(b.unlabelled_inputs().await.is_empty());
    b.screenshot("settings-keys").await;
    assert_eq!(app.get("/v1/reps", &token).await.status(), 200);

    b.goto("/app/settings/keys").await;
    assert!(
        !page_text(&b).await.contains(&token),
        "the token is shown only once"
    );
    let keys = api(&app, "/v1/api-keys").await;
    let id = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "ops laptop")
        .map(|k| k["id"].as_str().unwrap().to_string())
        .expect("the key is listed");
    b.click(&format!("tr[data-key='{id}'] button")).await;
    let status = format!("tr[data-key='{id}'] td.status");
    until(&b, &status, |t| t.starts_with("revoked")).await;
    problem(app.get("/v1/reps", &token).await, 401, "unauthorized").await;
    b.close().await;
}

#[tokio::test]
async fn revops_gets_settings_without_the_keys_and_links_and_an_sdr_is_refused() {
    let app = spawn_app().await;
    let revops = app.key(Role::Revops, None).await;
    let b = Browser::open(&app).await;
    b.sign_in_with_key(&revops).await;
    b.goto("/app/settings").await;
    let nav = b.text("nav.settings-nav").await;
    assert!(
        nav.contains("Reps") && !nav.contains("API keys") && !nav.contains("Sign-in links"),
        "{nav}"
    );
    b.goto("/app/settings/keys").await;
    assert_eq!(b.text("main h1").await, "Forbidden");
    b.goto("/app/settings/links").await;
    assert_eq!(b.text("main h1").await, "Forbidden");
    b.close().await;

    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let b = Browser::open(&app).await;
    b.sign_in_with_key(&sdr).await;
    for path in [
        "/app/settings",
        "/app/settings/reps",
        "/app/settings/rejection-codes",
    ] {
        b.goto(path).await;
        assert_eq!(b.text("main h1").await, "Forbidden", "{path}");
    }
    let session = b.client.get_named_cookie("salgate_session").await.unwrap();
    let res = app
        .client
        .get(app.url("/app/settings/reps"))
        .header("cookie", format!("salgate_session={}", session.value()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    b.close().await;
}

#[tokio::test]
async fn a_settings_form_without_this_sessions_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let b = Browser::open(&app).await;
    b.sign_in_with_key(&app.admin).await;
    b.goto("/app/settings/rejection-codes").await;
    let session = b.client.get_named_cookie("salgate_session").await.unwrap();
    let csrf = b
        .eval("return document.querySelector('form.settings-form input[name=_csrf]').value")
        .await;
    let csrf = csrf.as_str().unwrap().to_string();
    let client = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let post = |form: String| {
        client
            .post(app.url("/app/settings/rejection-codes"))
            .header("cookie", format!("salgate_session={}", session.value()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    let res = post("code=no_token&label=None".into()).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = post(format!("code=no_token&label=None&_csrf=x{csrf}"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = post(format!("code=Bad!&label=Bad&_csrf={csrf}"))
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a refused form is 422"
    );
    let codes = api(&app, "/v1/rejection-codes").await;
    assert!(!codes.to_string().contains("no_token"), "{codes}");
    let res = post(format!("code=with_token&label=Taken&_csrf={csrf}"))
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "the same form with its token is taken"
    );

    // In the browser too: the form without its hidden token is refused.
    b.goto("/app/settings/rejection-codes").await;
    b.eval("document.querySelector('form.settings-form input[name=_csrf]').remove(); return null")
        .await;
    b.fill("#code", "stripped").await;
    b.fill("#label", "Stripped").await;
    b.click("form.settings-form button[type=submit]").await;
    until(&b, "main h1", |t| t == "Forbidden").await;
    let codes = api(&app, "/v1/rejection-codes").await;
    assert!(!codes.to_string().contains("stripped"), "{codes}");
    b.close().await;
}

#[tokio::test]
async fn calendars_sla_policies_queues_and_webhooks_set_on_their_pages_are_what_the_api_reads() {
    let app = spawn_app().await;
    let b = Browser::open(&app).await;
    b.sign_in_with_key(&app.admin).await;
    b.goto("/app/settings").await;
    b.screenshot("settings").await;

    b.goto("/app/settings/calendars").await;
    b.fill("#id", "emea-hours").await;
    b.fill("#name", "EMEA office hours").await;
    b.fill("#time_zone", "Europe/Berlin").await;
    b.fill("#windows", "mon 09:00-17:00\ntue 9-17").await;
    b.fill("#holidays", "2026-12-25").await;
    b.click("form.settings-form button[type=submit]").await;
    let error = b.text("#windows-error").await;
    assert!(error.starts_with("windows"), "{error}");
    b.fill("#windows", "mon 09:00-17:00\ntue 09:00-17:00").await;
    b.click("form.settings-form button[type=submit]").await;
    b.find("tr[data-calendar='emea-hours']").await;
    assert!(b.unlabelled_inputs().await.is_empty());
    b.screenshot("settings-calendars").await;
    let cal = api(&app, "/v1/calendars/emea-hours").await;
    assert_eq!(
        (&cal["time_zone"], &cal["holidays"]),
        (&json!("Europe/Berlin"), &json!(["2026-12-25"])),
        "{cal}"
    );

    b.goto("/app/settings/sla").await;
    b.fill("#lead_type", "demo_request").await;
    b.fill("#accept_within", "PT2H").await;
    b.fill("#first_touch_within", "P1D").await;
    b.fill("#at_risk_ratio", "0.5").await;
    choose(&b, "#calendar", "emea-hours").await;
    b.click("form.settings-form button[type=submit]").await;
    b.find("tr[data-policy='demo_request']").await;
    assert!(b.unlabelled_inputs().await.is_empty());
    b.screenshot("settings-sla").await;
    let policy = api(&app, "/v1/sla-policies/demo_request").await;
    assert_eq!(
        (
            &policy["accept_within"],
            &policy["at_risk_ratio"],
            &policy["calendar"]
        ),
        (&json!("PT2H"), &json!(0.5), &json!("emea-hours")),
        "{policy}"
    );

    b.goto("/app/settings/queues").await;
    b.fill("#id", "emea").await;
    choose(&b, "#strategy", "claim").await;
    choose(&b, "#claim_order", "likely_accepted").await;
    b.click("form.settings-form button[type=submit]").await;
    b.find("tr[data-queue='emea']").await;
    assert!(b.unlabelled_inputs().await.is_empty());
    b.screenshot("settings-queues").await;
    let queue = api(&app, "/v1/queues/emea").await;
    assert_eq!(
        (&queue["strategy"], &queue["claim_order"]),
        (&json!("claim"), &json!("likely_accepted"))
    );

    b.goto("/app/settings/webhooks").await;
    b.fill("#url", "https://hooks.example.com/salgate").await;
    b.fill("#events", "lead.accepted, lead.nope").await;
    b.click("form.settings-form button[type=submit]").await;
    assert!(b.text("#events-error").await.contains("may contain only"));
    assert_eq!(
        api(&app, "/v1/webhook-subscriptions").await["items"],
        json!([])
    );
    b.fill("#events", "lead.accepted, lead.rejected").await;
    b.click("form.settings-form button[type=submit]").await;
    assert!(b.text("#new-secret").await.starts_with("whsec_"));
    assert!(b.unlabelled_inputs().await.is_empty());
    b.screenshot("settings-webhooks").await;
    let subs = api(&app, "/v1/webhook-subscriptions").await;
    assert_eq!(
        subs["items"][0]["events"],
        json!(["lead.accepted", "lead.rejected"])
    );
    b.click("tr[data-subscription] td a").await;
    until(&b, "main", |t| {
        t.contains("Deliveries to https://hooks.example.com")
    })
    .await;
    b.goto("/app/settings/webhooks").await;
    b.click("tr[data-subscription] button[aria-label^='Delete']")
        .await;
    until(&b, "main", |t| !t.contains("hooks.example.com")).await;
    assert_eq!(
        api(&app, "/v1/webhook-subscriptions").await["items"],
        json!([])
    );
    b.close().await;
}

#[tokio::test]
async fn a_dead_delivery_is_sent_again_and_a_paused_subscription_resumed_from_the_page() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/v1/webhook-subscriptions",
            &app.admin,
            &json!({"url": "https://hooks.example.com/in"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let sub: Value = res.json().await.unwrap();
    let id = sub["id"].as_str().unwrap();
    app.ingest(&lead("w-1")).await;
    // No dispatcher runs in this app: make the delivery dead and the subscription paused,
    // as failing attempts and the circuit breaker would.
    sqlx::query("UPDATE webhook_deliveries SET status = 'dead'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE webhook_subscriptions SET paused_at = now(), pause_reason = 'test: 5 failures'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let deliveries = format!("/v1/webhook-subscriptions/{id}/deliveries");
    let statuses = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["status"].as_str().unwrap().to_string())
            .collect()
    };
    let before = statuses(api(&app, &deliveries).await);
    assert!(
        !before.is_empty() && before.iter().all(|s| s == "dead"),
        "{before:?}"
    );

    let b = Browser::open(&app).await;
    b.sign_in_with_key(&app.admin).await;
    b.goto(&format!("/app/settings/webhooks/{id}")).await;
    until(&b, "tr[data-delivery] td.status", |t| t == "dead").await;
    b.screenshot("settings-webhook-deliveries").await;
    b.click("tr[data-delivery] button").await;
    until(&b, "tr[data-delivery] td.status", |t| t == "pending").await;
    assert!(statuses(api(&app, &deliveries).await).contains(&"pending".to_string()));

    b.goto("/app/settings/webhooks").await;
    let row = format!("tr[data-subscription='{id}'] td.status");
    assert!(b.text(&row).await.starts_with("paused"));
    b.click(&format!(
        "tr[data-subscription='{id}'] button[aria-label^='Resume']"
    ))
    .await;
    until(&b, &row, |t| t == "active").await;
    assert_eq!(
        api(&app, &format!("/v1/webhook-subscriptions/{id}")).await["status"],
        "active"
    );
    b.close().await;
}
