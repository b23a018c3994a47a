//! Clicks and modal submissions decide as the mapped rep under the API's rules.

use serde_json::{json, Value};

use super::{app_with_lead, click, entries, interact, value_of, MockSlack, DM, TS};

#[tokio::test]
async fn the_owner_accepts_from_slack_and_a_double_click_decides_once() {
    let mock = MockSlack::start().await;
    let (app, lead) = app_with_lead(&mock).await;
    let id = lead["id"].as_str().unwrap();
    let res = interact(
        &app,
        &click(&mock, "USAM", "accept", &value_of(&lead), "1.1"),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.text().await.unwrap(),
        "",
        "a click is acked with an empty 200"
    );
    let now = app.lead(id).await;
    assert_eq!(
        (now["state"].as_str(), now["accepted_by"].as_str()),
        (Some("accepted"), Some("rep-1"))
    );
    let accepted = entries(&app, id, "accepted").await;
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0]["rep"], "rep-1");
    assert_eq!(accepted[0]["actor"], "slack:USAM");
    assert_eq!(accepted[0]["actor_role"], "sdr");

    let update = &mock.wait_for("chat.update", 1).await[0].body;
    assert_eq!(
        (update["channel"].as_str(), update["ts"].as_str()),
        (Some(DM), Some(TS))
    );
    assert_eq!(update["text"], "Accepted by Sam");
    let blocks = update["blocks"].to_string();
    assert!(blocks.contains("*Accepted by Sam*, <!date^"), "{blocks}");
    assert!(!blocks.contains("\"actions\""), "buttons removed: {blocks}");

    // The second click of a double click: a new request (its own action_ts), the same lead.
    let again = interact(
        &app,
        &click(&mock, "USAM", "accept", &value_of(&lead), "1.2"),
    )
    .await;
    assert_eq!(again.status(), 200);
    let reply = &mock.wait_for("respond", 1).await[0].body;
    assert_eq!(reply["response_type"], "ephemeral");
    let text = reply["text"].as_str().unwrap();
    assert!(text.contains("already accepted"), "{text}");
    assert_eq!(entries(&app, id, "accepted").await.len(), 1, "decided once");
    assert_eq!(mock.calls("chat.update").len(), 1);
}

#[tokio::test]
async fn a_rep_who_is_not_the_owner_is_told_so_and_nothing_changes() {
    let mock = MockSlack::start().await;
    let (app, lead) = app_with_lead(&mock).await;
    let id = lead["id"].as_str().unwrap();
    let res = interact(
        &app,
        &click(&mock, "UKIM", "accept", &value_of(&lead), "1.1"),
    )
    .await;
    assert_eq!(res.status(), 200);
    let reply = &mock.wait_for("respond", 1).await[0].body;
    assert_eq!(reply["response_type"], "ephemeral");
    assert_eq!(reply["replace_original"], false);
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .contains("assigned to someone else"),
        "{reply}"
    );
    // Reject… opens no modal for a decision that would be refused.
    let res = interact(
        &app,
        &click(&mock, "UKIM", "reject", &value_of(&lead), "1.2"),
    )
    .await;
    assert_eq!(res.status(), 200);
    let reply = &mock.wait_for("respond", 2).await[1].body;
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .contains("assigned to someone else"),
        "{reply}"
    );
    assert!(mock.calls("views.open").is_empty());
    assert_eq!(app.lead(id).await["state"], "routed");
    assert!(entries(&app, id, "accepted").await.is_empty());
    assert!(mock.calls("chat.update").is_empty());
}

#[tokio::test]
async fn an_unmapped_slack_user_changes_nothing() {
    let mock = MockSlack::start().await;
    let (app, lead) = app_with_lead(&mock).await;
    let id = lead["id"].as_str().unwrap();
    for (n, action) in [(1, "accept"), (2, "reject")] {
        let res = interact(
            &app,
            &click(&mock, "UNOBODY", action, &value_of(&lead), "1.1"),
        )
        .await;
        assert_eq!(res.status(), 200);
        let reply = &mock.wait_for("respond", n).await[n - 1].body;
        assert!(
            reply["text"]
                .as_str()
                .unwrap()
                .contains("not linked to a salgate rep"),
            "{reply}"
        );
    }
    assert_eq!(app.lead(id).await["state"], "routed");
    assert!(
        mock.calls("views.open").is_empty(),
        "no modal for an unmapped user"
    );
    assert!(mock.calls("chat.update").is_empty());
}

/// The submission of the modal `views.open` received, choosing `code` with `note`.
fn submission(opened: &Value, user: &str, code: &str, note: Option<&str>) -> Value {
    let view = &opened["view"];
    json!({
        "type": "view_submission",
        "team": {"id": "T0MOCK", "domain": "acme"},
        "user": {"id": user, "username": "sam", "name": "sam", "team_id": "T0MOCK"},
        "api_app_id": "A0MOCK", "token": "legacy-verification-token",
        "trigger_id": "12345.98765.efgh",
        "view": {
            "id": "V0MOCK1", "type": "modal", "team_id": "T0MOCK",
            "callback_id": view["callback_id"], "private_metadata": view["private_metadata"],
            "blocks": view["blocks"], "hash": "156772938.1827394",
            "state": {"values": {
                "code": {"code": {"type": "static_select",
                    "selected_option": {"text": {"type": "plain_text", "text": code}, "value": code}}},
                "note": {"note": {"type": "plain_text_input", "value": note}},
            }},
        },
        "response_urls": [],
    })
}

#[tokio::test]
async fn reject_opens_a_modal_of_live_codes_whose_submission_rejects_with_the_code() {
    let mock = MockSlack::start().await;
    let (app, lead) = app_with_lead(&mock).await;
    let id = lead["id"].as_str().unwrap();
    // A retired code is not offered.
    sqlx::query(
        "UPDATE reason_codes SET active = false WHERE kind = 'rejection' AND code = 'duplicate'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let res = interact(
        &app,
        &click(&mock, "USAM", "reject", &value_of(&lead), "1.1"),
    )
    .await;
    assert_eq!(res.status(), 200);
    let opened = mock.calls("views.open");
    assert_eq!(
        opened.len(),
        1,
        "views.open is called before the ack (the trigger id lives 3 s)"
    );
    let opened = opened[0].body.clone();
    assert_eq!(opened["trigger_id"], "12345.98765.abcd2358fdea");
    assert_eq!(opened["view"]["type"], "modal");
    let options: Vec<&str> = opened["view"]["blocks"][0]["element"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    assert!(
        options.contains(&"out_of_icp") && options.contains(&"other"),
        "{options:?}"
    );
    assert!(
        !options.contains(&"duplicate"),
        "retired codes are not offered"
    );

    // `other` without a note: Slack's errors shape, at the note, and nothing changes.
    let res = interact(&app, &submission(&opened, "USAM", "other", None)).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["response_action"], "errors");
    assert!(
        body["errors"]["note"]
            .as_str()
            .unwrap()
            .contains("note is required"),
        "{body}"
    );
    assert_eq!(app.lead(id).await["state"], "routed");

    let res = interact(
        &app,
        &submission(&opened, "USAM", "out_of_icp", Some("too small")),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.text().await.unwrap(),
        "",
        "an empty 200 closes the modal"
    );
    let now = app.lead(id).await;
    assert_eq!(now["state"], "rejected");
    assert_eq!(now["rejection_code"], "out_of_icp");
    let rejected = entries(&app, id, "rejected").await;
    assert_eq!(
        (rejected[0]["code"].as_str(), rejected[0]["actor"].as_str()),
        (Some("out_of_icp"), Some("slack:USAM"))
    );
    assert_eq!(rejected[0]["note"], "too small");
    let update = &mock.wait_for("chat.update", 1).await[0].body;
    assert_eq!(update["text"], "Rejected (out_of_icp) by Sam");
    assert_eq!(update["ts"], TS);

    // Submitting again: already decided, said in the modal.
    let res = interact(&app, &submission(&opened, "USAM", "out_of_icp", None)).await;
    let body: Value = res.json().await.unwrap();
    assert!(
        body["errors"]["code"]
            .as_str()
            .unwrap()
            .contains("already rejected"),
        "{body}"
    );
}

#[tokio::test]
async fn recycle_offers_the_recycle_reasons() {
    let mock = MockSlack::start().await;
    let (app, lead) = app_with_lead(&mock).await;
    let res = interact(
        &app,
        &click(&mock, "USAM", "recycle", &value_of(&lead), "1.1"),
    )
    .await;
    assert_eq!(res.status(), 200);
    let opened = mock.calls("views.open")[0].body.clone();
    assert_eq!(opened["view"]["callback_id"], "salgate_recycle");
    let reason = opened["view"]["blocks"][0]["element"]["options"][0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT code FROM reason_codes WHERE kind = 'recycle' AND active")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert!(reasons.contains(&reason), "{reason} in {reasons:?}");
    let res = interact(&app, &submission(&opened, "USAM", &reason, None)).await;
    assert_eq!(res.status(), 200);
    let id = lead["id"].as_str().unwrap();
    assert_eq!(app.lead(id).await["recycle_reason"], reason.as_str());
}

#[tokio::test]
async fn slack_is_answered_before_the_message_update_is_sent() {
    let mock = MockSlack::start().await;
    let (app, lead) = app_with_lead(&mock).await;
    mock.hold_updates
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let started = std::time::Instant::now();
    let res = interact(
        &app,
        &click(&mock, "USAM", "accept", &value_of(&lead), "1.1"),
    )
    .await;
    assert_eq!(res.status(), 200);
    // Answered while Slack still holds the chat.update: the ack does not wait for it.
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert!(
        mock.calls("chat.update").is_empty(),
        "the update is still held"
    );
    assert_eq!(
        app.lead(lead["id"].as_str().unwrap()).await["state"],
        "accepted"
    );
    mock.release_updates();
    assert_eq!(
        mock.wait_for("chat.update", 1).await[0].body["text"],
        "Accepted by Sam"
    );
}
