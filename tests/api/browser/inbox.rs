//! The SDR inbox and the lead page in a real browser: order by due time, the decisions, a
//! conflict between two browsers, claim next, the keyboard, labels, polling, a phone.

use std::time::Duration;

use chrono::{Duration as Span, SecondsFormat};
use fantoccini::{key::Key, Locator};
use salgate::{clock::Clock, domain::Role};
use serde_json::{json, Value};

use super::Browser;
use crate::helpers::{lead, spawn_app, TestApp};

/// A browser signed in as `rep`'s SDR.
async fn signed_in(app: &TestApp, rep: &str) -> Browser {
    let b = Browser::open(app).await;
    b.sign_in_with_key(&app.key(Role::Sdr, Some(rep)).await)
        .await;
    b
}

/// A lead of rep-1 of `lead_type`, routed `ago` before the app's clock.
async fn routed(app: &TestApp, ext: &str, lead_type: &str, ago: Span) -> Value {
    let mut body = lead(ext);
    body["lead_type"] = json!(lead_type);
    let at = app.clock.now() - ago;
    body["routed_at"] = json!(at.to_rfc3339_opts(SecondsFormat::Micros, true));
    app.ingest(&body).await
}

fn id(lead: &Value) -> String {
    lead["id"].as_str().unwrap().to_string()
}

/// Presses `keys` on whatever has the focus, as a person at the keyboard would.
async fn press(b: &Browser, keys: &str) {
    let el = b.client.active_element().await.expect("focused element");
    el.send_keys(keys).await.expect("keys");
}

/// The lead ids of the rows of table `css`, top to bottom.
async fn row_ids(b: &Browser, table: &str) -> Vec<String> {
    let v = b
        .eval(&format!(
            "return [...document.querySelectorAll('{table} tr.row')].map(r => r.dataset.lead)"
        ))
        .await;
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn the_inbox_lists_my_routed_leads_by_due_time_with_a_live_countdown() {
    let app = spawn_app().await;
    // default: 24 h, demo_request: 1 h; the earlier routed_at of the same type is due first.
    let later = routed(&app, "later", "default", Span::minutes(5)).await;
    let soon = routed(&app, "soon", "demo_request", Span::seconds(3570)).await;
    let mid = routed(&app, "mid", "demo_request", Span::minutes(10)).await;
    let late = routed(&app, "late", "demo_request", Span::minutes(70)).await;
    let b = signed_in(&app, "rep-1").await;
    b.goto("/app").await;
    let mut by_api = Vec::new();
    for l in [&later, &soon, &mid, &late] {
        let now = app.lead(&id(l)).await;
        by_api.push((now["sla"]["due_at"].as_str().unwrap().to_string(), id(l)));
    }
    by_api.sort();
    let expected: Vec<String> = by_api.into_iter().map(|(_, id)| id).collect();
    assert_eq!(row_ids(&b, "#mine").await, expected);
    assert_eq!(expected[0], id(&late), "the breached one comes first");
    let late_row = format!("#mine tr[data-lead='{}'] .sla", id(&late));
    assert!(b.text(&late_row).await.contains("breached 10 min ago"));
    let cls = b.find(&late_row).await.attr("class").await.unwrap();
    assert!(cls.unwrap_or_default().contains("sla-breached"));
    // Due in about 30 s: the countdown ticks without a reload, then reads breached.
    let soon_row = format!("#mine tr[data-lead='{}'] .sla", id(&soon));
    let first = b.text(&soon_row).await;
    assert!(first.contains("at risk · due in"), "{first}");
    let mut ticked = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if b.text(&soon_row).await != first {
            ticked = true;
            break;
        }
    }
    assert!(ticked, "the countdown did not move from {first}");
    assert!(b.unlabelled_inputs().await.is_empty());
    b.screenshot("inbox").await;
    b.close().await;
}

#[tokio::test]
async fn accepting_from_the_lead_page_moves_the_lead_to_waiting_for_a_first_touch() {
    let app = spawn_app().await;
    let l = routed(&app, "a1", "demo_request", Span::minutes(1)).await;
    let b = signed_in(&app, "rep-1").await;
    b.goto("/app").await;
    b.click(&format!("#mine tr[data-lead='{}'] a", id(&l)))
        .await;
    b.find("#accept-form").await;
    assert!(b.unlabelled_inputs().await.is_empty());
    assert!(b.text(".timeline").await.contains("routed"));
    b.screenshot("lead-page").await;
    b.fill("#accept-note", "good fit").await;
    b.fill("#accept-next_action", "call Tuesday").await;
    b.click("#accept-submit").await;
    assert_eq!(b.text(".notice.ok").await, "Lead accepted.");
    assert_eq!(b.path().await, "/app?done=accept");
    let now = app.lead(&id(&l)).await;
    assert_eq!(now["state"], "accepted");
    assert_eq!(now["next_action"], "call Tuesday");
    assert_eq!(row_ids(&b, "#untouched").await, vec![id(&l)]);
    assert!(b.text("#untouched").await.contains("call Tuesday"));
    // Logging the first touch takes it off that list.
    b.click(&format!("#untouched tr[data-lead='{}'] a", id(&l)))
        .await;
    b.click("#touch-submit").await;
    assert_eq!(b.text(".notice.ok").await, "Touch logged.");
    let now = app.lead(&id(&l)).await;
    assert!(now["sla"]["first_touch"]["touched_at"].is_string(), "{now}");
    b.goto("/app").await;
    assert!(row_ids(&b, "#untouched").await.is_empty());
    b.close().await;
}

#[tokio::test]
async fn a_reject_without_a_code_is_refused_at_the_code_field_and_changes_nothing() {
    let app = spawn_app().await;
    let l = routed(&app, "r1", "demo_request", Span::minutes(1)).await;
    let b = signed_in(&app, "rep-1").await;
    b.goto(&format!("/app/leads/{}", id(&l))).await;
    b.click("#reject-submit").await;
    let error = b.text("#reject-code-error").await;
    assert!(error.contains("required"), "{error}");
    assert_eq!(
        b.find("#reject-code")
            .await
            .attr("aria-describedby")
            .await
            .unwrap()
            .as_deref(),
        Some("reject-code-error")
    );
    let now = app.lead(&id(&l)).await;
    assert_eq!(
        (now["state"].as_str(), now["version"].as_i64()),
        (Some("routed"), l["version"].as_i64())
    );
    // `other` needs a note: the domain's message lands at the note.
    b.find("#reject-code")
        .await
        .select_by_value("other")
        .await
        .unwrap();
    b.click("#reject-submit").await;
    assert!(b
        .text("#reject-note-error")
        .await
        .contains("note is required"));
    assert_eq!(app.lead(&id(&l)).await["state"], "routed");
    assert!(b.unlabelled_inputs().await.is_empty());
    b.screenshot("lead-page-refused").await;
    b.find("#reject-code")
        .await
        .select_by_value("out_of_icp")
        .await
        .unwrap();
    b.click("#reject-submit").await;
    assert_eq!(b.text(".notice.ok").await, "Lead rejected.");
    let now = app.lead(&id(&l)).await;
    assert_eq!(
        (now["state"].as_str(), now["rejection_code"].as_str()),
        (Some("rejected"), Some("out_of_icp"))
    );
    b.close().await;
}

#[tokio::test]
async fn recycling_offers_the_active_reasons_and_records_the_chosen_one() {
    let app = spawn_app().await;
    let l = routed(&app, "c1", "demo_request", Span::minutes(1)).await;
    let b = signed_in(&app, "rep-1").await;
    b.goto(&format!("/app/leads/{}", id(&l))).await;
    let options = b.text("#recycle-reason").await;
    assert!(options.contains("needs_nurture"), "{options}");
    b.find("#recycle-reason")
        .await
        .select_by_value("needs_nurture")
        .await
        .unwrap();
    b.fill("#recycle-note", "next quarter").await;
    b.click("#recycle-submit").await;
    assert_eq!(b.text(".notice.ok").await, "Lead recycled to nurture.");
    let now = app.lead(&id(&l)).await;
    assert_eq!(
        (now["state"].as_str(), now["recycle_reason"].as_str()),
        (Some("recycled"), Some("needs_nurture"))
    );
    assert_eq!(now["decision_note"], "next quarter");
    b.close().await;
}

#[tokio::test]
async fn when_two_browsers_decide_one_lead_the_second_sees_who_decided_first() {
    let app = spawn_app().await;
    let l = routed(&app, "x1", "demo_request", Span::minutes(1)).await;
    let laptop = signed_in(&app, "rep-1").await;
    let phone = signed_in(&app, "rep-1").await;
    let page = format!("/app/leads/{}", id(&l));
    laptop.goto(&page).await;
    phone.goto(&page).await;
    laptop.click("#accept-submit").await;
    assert_eq!(laptop.text(".notice.ok").await, "Lead accepted.");
    app.clock.advance(Span::minutes(2));
    phone
        .find("#reject-code")
        .await
        .select_by_value("duplicate")
        .await
        .unwrap();
    phone.click("#reject-submit").await;
    let notice = phone.text(".notice.conflict").await;
    assert!(
        notice.contains("Already accepted by rep-1 2 min ago"),
        "{notice}"
    );
    assert_eq!(phone.path().await, page.clone() + "/reject");
    // The page is the lead page again (its state now), not an error page.
    assert!(phone.text(".lead-summary").await.contains("accepted"));
    let now = app.lead(&id(&l)).await;
    assert_eq!(
        (now["state"].as_str(), now["rejection_code"].as_str()),
        (Some("accepted"), None)
    );
    phone.screenshot("lead-page-conflict").await;
    laptop.close().await;
    phone.close().await;
}

#[tokio::test]
async fn claim_next_takes_the_most_urgent_unassigned_lead_of_my_queue() {
    let app = spawn_app().await;
    let put = |path: &str, body: Value| {
        app.client
            .put(app.url(path))
            .bearer_auth(&app.admin)
            .json(&body)
            .send()
    };
    assert_eq!(
        put(
            "/v1/queues/pool",
            json!({"strategy": "claim", "name": "Pool"})
        )
        .await
        .unwrap()
        .status(),
        200
    );
    assert_eq!(
        put("/v1/reps/rep-1", json!({"queues": ["pool"]}))
            .await
            .unwrap()
            .status(),
        200
    );
    let queued = |ext: &str, ago: i64| {
        let mut l = lead(ext);
        l["owner"] = Value::Null;
        l["queue"] = json!("pool");
        let at = app.clock.now() - Span::minutes(ago);
        l["routed_at"] = json!(at.to_rfc3339_opts(SecondsFormat::Micros, true));
        l
    };
    let newer = app.ingest(&queued("q-new", 1)).await;
    let older = app.ingest(&queued("q-old", 20)).await;
    let b = signed_in(&app, "rep-1").await;
    b.goto("/app").await;
    assert_eq!(row_ids(&b, "#queued").await, vec![id(&older), id(&newer)]);
    assert!(b.text("#queued").await.contains("Pool"));
    // `c` goes to "Claim next", Enter presses it.
    press(&b, "c").await;
    let focused = b
        .eval("return document.activeElement.hasAttribute('data-claim')")
        .await;
    assert_eq!(focused, json!(true));
    press(&b, &char::from(Key::Enter).to_string()).await;
    assert_eq!(b.text(".notice.ok").await, "Lead claimed: it is yours now.");
    assert_eq!(
        b.path().await,
        format!("/app/leads/{}?done=claim", id(&older))
    );
    assert_eq!(app.lead(&id(&older)).await["owner"], "rep-1");
    b.goto("/app").await;
    assert_eq!(row_ids(&b, "#queued").await, vec![id(&newer)]);
    assert_eq!(row_ids(&b, "#mine").await, vec![id(&older)]);
    b.close().await;
}

/// Whether the focused element shows its focus (`:focus-visible` and an outline drawn).
async fn focus_shows(b: &Browser) -> bool {
    b.eval(
        "const e = document.activeElement; \
         return e.matches(':focus-visible') && getComputedStyle(e).outlineStyle !== 'none';",
    )
    .await
        == json!(true)
}

#[tokio::test]
async fn a_keyboard_alone_accepts_one_lead_and_rejects_another() {
    let app = spawn_app().await;
    let first = routed(&app, "k1", "demo_request", Span::minutes(30)).await;
    let second = routed(&app, "k2", "demo_request", Span::minutes(10)).await;
    let b = signed_in(&app, "rep-1").await;
    b.goto("/app").await;
    let enter = char::from(Key::Enter).to_string();
    press(&b, "jjk").await;
    let focused = b
        .eval("return document.activeElement.dataset.lead || null")
        .await;
    assert_eq!(focused, json!(id(&first)));
    assert!(focus_shows(&b).await, "the selected row shows its focus");
    press(&b, &enter).await;
    b.find("#accept-form").await;
    assert_eq!(b.path().await, format!("/app/leads/{}", id(&first)));
    press(&b, "a").await;
    assert_eq!(
        b.eval("return document.activeElement.id").await,
        json!("accept-note")
    );
    assert!(focus_shows(&b).await);
    press(&b, &format!("keyboard only{enter}")).await;
    b.find(".notice.ok").await;
    assert_eq!(app.lead(&id(&first)).await["state"], "accepted");
    // Back on the inbox: the next lead, and reject it with a code chosen from the keyboard.
    press(&b, "j").await;
    assert_eq!(
        b.eval("return document.activeElement.dataset.lead || null")
            .await,
        json!(id(&second))
    );
    press(&b, &enter).await;
    b.find("#reject-form").await;
    press(&b, "r").await;
    assert_eq!(
        b.eval("return document.activeElement.id").await,
        json!("reject-code")
    );
    assert!(focus_shows(&b).await);
    // Typing a label's first letters picks it in a select; Tab moves to the note.
    press(&b, "Duplicate").await;
    press(&b, &char::from(Key::Tab).to_string()).await;
    assert_eq!(
        b.eval("return document.activeElement.id").await,
        json!("reject-note")
    );
    press(&b, &format!("seen twice{enter}")).await;
    b.find(".notice.ok").await;
    let now = app.lead(&id(&second)).await;
    assert_eq!(
        (now["state"].as_str(), now["rejection_code"].as_str()),
        (Some("rejected"), Some("duplicate"))
    );
    b.close().await;
}

#[tokio::test]
async fn a_new_lead_appears_in_the_open_inbox_without_a_reload() {
    let app = spawn_app().await;
    routed(&app, "n0", "demo_request", Span::minutes(1)).await;
    let b = signed_in(&app, "rep-1").await;
    b.goto("/app").await;
    b.find("#mine").await;
    // A mark on the window: a reload would lose it.
    b.eval("window.stillHere = true; return null").await;
    let fresh = routed(&app, "n1", "demo_request", Span::minutes(50)).await;
    let row = format!("#mine tr[data-lead='{}']", id(&fresh));
    b.client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(&row))
        .await
        .expect("the new lead appears within two polls");
    assert_eq!(
        b.eval("return window.stillHere === true").await,
        json!(true)
    );
    assert_eq!(row_ids(&b, "#mine").await[0], id(&fresh), "it is due first");
    b.close().await;
}

#[tokio::test]
async fn on_a_phone_the_inbox_and_the_lead_page_fit_the_screen() {
    let app = spawn_app().await;
    let l = routed(&app, "p1", "demo_request", Span::minutes(20)).await;
    routed(&app, "p2", "default", Span::minutes(20)).await;
    let b = Browser::sized(&app, 390).await;
    b.sign_in_with_key(&app.key(Role::Sdr, Some("rep-1")).await)
        .await;
    // Nothing wider than the screen, and no badge or button cut off at its edge.
    let overflow = "return document.documentElement.scrollWidth > window.innerWidth || \
        [...document.querySelectorAll('.sla, button, input, select')] \
        .some(e => e.getBoundingClientRect().right > window.innerWidth)";
    b.goto("/app").await;
    b.find("#mine").await;
    assert_eq!(b.eval("return window.innerWidth").await, json!(390));
    assert_eq!(
        b.eval(overflow).await,
        json!(false),
        "no sideways scrolling"
    );
    b.screenshot("inbox-phone").await;
    b.goto(&format!("/app/leads/{}", id(&l))).await;
    b.find("#accept-form").await;
    assert_eq!(
        b.eval(overflow).await,
        json!(false),
        "no sideways scrolling"
    );
    assert!(b.unlabelled_inputs().await.is_empty());
    b.screenshot("lead-page-phone").await;
    b.close().await;
}

#[tokio::test]
async fn revops_sees_the_inbox_of_a_rep_they_pick_and_an_sdr_only_their_own() {
    let app = spawn_app().await;
    let l = routed(&app, "v1", "demo_request", Span::minutes(5)).await;
    let b = Browser::open(&app).await;
    b.sign_in_with_key(&app.key(Role::Revops, None).await).await;
    b.goto("/app").await;
    assert_eq!(
        row_ids(&b, "#mine").await,
        vec![id(&l)],
        "every owner's by default"
    );
    b.fill("#rep", "rep-2").await;
    b.click(".rep-picker button").await;
    b.wait_path("/app?rep=rep-2").await;
    assert!(row_ids(&b, "#mine").await.is_empty());
    assert!(b.text("#mine-h").await.starts_with("rep-2's routed leads"));
    b.goto("/app?rep=rep-1").await;
    assert_eq!(row_ids(&b, "#mine").await, vec![id(&l)]);
    assert!(b.unlabelled_inputs().await.is_empty());
    b.close().await;
    let sdr = signed_in(&app, "rep-2").await;
    sdr.goto("/app?rep=rep-1").await;
    assert!(sdr.text(".notice.error").await.contains("only their own"));
    sdr.close().await;
}

#[tokio::test]
async fn a_decision_posted_without_the_sessions_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let l = routed(&app, "f1", "demo_request", Span::minutes(1)).await;
    let b = signed_in(&app, "rep-1").await;
    b.goto(&format!("/app/leads/{}", id(&l))).await;
    let session = b.client.get_named_cookie("salgate_session").await.unwrap();
    let post = |form: Vec<(&'static str, String)>| {
        app.client
            .post(app.url(&format!("/app/leads/{}/accept", id(&l))))
            .header("cookie", format!("salgate_session={}", session.value()))
            .form(&form)
            .send()
    };
    let version = l["version"].to_string();
    let res = post(vec![("version", version.clone())]).await.unwrap();
    assert_eq!(res.status(), 403);
    let res = post(vec![
        ("version", version.clone()),
        ("_csrf", "forged".into()),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.lead(&id(&l)).await["state"], "routed");
    // The page's own token works, from the same client.
    let csrf = b
        .eval("return document.querySelector('#accept-form input[name=_csrf]').value")
        .await;
    let res = post(vec![
        ("version", version),
        ("_csrf", csrf.as_str().unwrap().into()),
    ])
    .await
    .unwrap();
    assert!(
        res.status().is_redirection() || res.status() == 200,
        "{}",
        res.status()
    );
    assert_eq!(app.lead(&id(&l)).await["state"], "accepted");
    b.close().await;
}
