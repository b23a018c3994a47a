use chrono::Duration;

use super::*;
use crate::notify::Channel;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn notification(kind: NotificationKind) -> Notification {
    Notification {
        id: Uuid::now_v7(),
        event_id: Uuid::now_v7(),
        kind,
        channel: Channel::Slack,
        recipient: "U012AB3CD".into(),
        lead_id: Uuid::parse_str("0190a000-0000-7000-8000-000000000001").unwrap(),
        cycle: 2,
        attempts: 0,
        payload: json!({
            "name": "Ada <Lovelace>", "title": "CTO", "company": "Analytical & Engines",
            "company_size": 40, "country": "GB", "source": "hubspot", "campaign": "q4-demo",
            "owner": "rep-1", "queue": "emea", "sla_due_at": "2026-03-02T10:42:00Z",
        }),
    }
}

fn buttons(msg: &Value) -> Vec<Value> {
    let blocks = msg["blocks"].as_array().unwrap();
    let actions = blocks.iter().find(|b| b["type"] == "actions").unwrap();
    actions["elements"].as_array().unwrap().clone()
}

#[test]
fn a_routed_lead_has_its_summary_the_sla_and_four_buttons() {
    let n = notification(NotificationKind::Routed);
    let url = "https://salgate.example.com/app/leads/0190a000-0000-7000-8000-000000000001";
    let msg = message(&n, t("2026-03-02T09:37:00Z"), url);
    assert_eq!(msg["blocks"][0]["type"], "header");
    assert_eq!(msg["blocks"][0]["text"]["text"], "New lead for you");
    let who = msg["blocks"][1]["text"]["text"].as_str().unwrap();
    // mrkdwn control characters are escaped, so a lead's name cannot inject a link or mention.
    assert_eq!(
        who,
        "*Ada &lt;Lovelace&gt;*, CTO at *Analytical &amp; Engines*"
    );
    let fields: Vec<&str> = msg["blocks"][1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    for want in [
        "*Company size*\n40",
        "*Country*\nGB",
        "*Source*\nhubspot",
        "*Campaign*\nq4-demo",
    ] {
        assert!(fields.contains(&want), "{want} in {fields:?}");
    }
    let sla = msg["blocks"][2]["elements"][0]["text"].as_str().unwrap();
    assert!(sla.starts_with("SLA due in 1 h 5 min (<!date^"), "{sla}");
    let b = buttons(&msg);
    let ids: Vec<&str> = b.iter().map(|b| b["action_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [ACCEPT, REJECT, RECYCLE, OPEN]);
    let texts: Vec<&str> = b
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Accept", "Reject…", "Recycle…", "Open"]);
    for b in &b {
        let target = Target::parse(b["value"].as_str().unwrap()).unwrap();
        assert_eq!((target.lead, target.cycle), (n.lead_id, 2));
    }
    assert_eq!(b[3]["url"], url);
    assert!(msg["text"]
        .as_str()
        .unwrap()
        .starts_with("New lead for you: Ada"));
}

#[test]
fn each_kind_has_its_headline_and_accepted_leads_offer_no_accept() {
    for (kind, head) in [
        (NotificationKind::AtRisk, "SLA at risk"),
        (NotificationKind::Breached, "SLA breached"),
        (
            NotificationKind::Unassigned,
            "Lead waiting in your queue, unassigned",
        ),
        (NotificationKind::FirstTouchMissed, "First touch missed"),
    ] {
        let msg = message(&notification(kind), t("2026-03-02T09:00:00Z"), "u");
        assert_eq!(msg["blocks"][0]["text"]["text"], head);
    }
    let msg = message(
        &notification(NotificationKind::FirstTouchDue),
        t("2026-03-02T09:00:00Z"),
        "u",
    );
    let ids: Vec<String> = buttons(&msg)
        .iter()
        .map(|b| b["action_id"].to_string())
        .collect();
    assert_eq!(ids, ["\"recycle\"", "\"open\""]);
    let mut breach = notification(NotificationKind::Breached);
    breach.payload["escalated_to"] = json!("rep-lead");
    let msg = message(&breach, t("2026-03-02T11:00:00Z"), "u");
    let fields = msg["blocks"][1]["fields"].to_string();
    assert!(fields.contains("Escalated to*\\nrep-lead"), "{fields}");
    let sla = msg["blocks"][2]["elements"][0]["text"].as_str().unwrap();
    assert!(sla.starts_with("SLA overdue by 18 min"), "{sla}");
}

#[test]
fn due_in_counts_minutes_and_hours() {
    let now = t("2026-03-02T09:00:00Z");
    assert!(due_in(now + Duration::seconds(20), now).starts_with("SLA due in 1 min ("));
    assert!(due_in(now + Duration::minutes(120), now).starts_with("SLA due in 2 h ("));
    assert!(due_in(now - Duration::minutes(61), now).starts_with("SLA overdue by 1 h 1 min"));
    assert_eq!(
        slack_time(t("2026-03-02T10:42:00Z")),
        "<!date^1772448120^{time}|10:42 UTC>"
    );
}

#[test]
fn targets_round_trip_and_nothing_else_parses() {
    let target = Target {
        lead: Uuid::now_v7(),
        cycle: 3,
    };
    assert_eq!(Target::parse(&target.value()), Some(target));
    for bad in [
        "",
        "x:1",
        "0190a000-0000-7000-8000-000000000001",
        "0190a000-0000-7000-8000-000000000001:0",
        "0190a000-0000-7000-8000-000000000001:-1",
    ] {
        assert_eq!(Target::parse(bad), None, "{bad}");
    }
}

#[test]
fn the_decided_message_has_the_outcome_and_no_buttons() {
    let n = notification(NotificationKind::Routed);
    let msg = decided(
        "Accepted",
        "Sam",
        t("2026-03-02T10:42:00Z"),
        &n.payload,
        "https://x/app/leads/1",
    );
    let head = msg["blocks"][0]["text"]["text"].as_str().unwrap();
    assert_eq!(
        head,
        "*Accepted by Sam*, <!date^1772448120^{time}|10:42 UTC>"
    );
    assert!(!msg.to_string().contains("\"actions\""));
    assert_eq!(msg["text"], "Accepted by Sam");
}

#[test]
fn the_modal_lists_the_codes_and_carries_its_context() {
    let ctx = ModalContext {
        lead: Uuid::now_v7(),
        cycle: 1,
        channel: Some("C1".into()),
        ts: Some("1.2".into()),
    };
    let codes = vec![
        ("bad_fit".to_string(), "Bad fit".to_string()),
        ("other".into(), "Other".into()),
    ];
    let view = modal(false, &codes, &ctx);
    assert_eq!(view["callback_id"], REJECT_VIEW);
    assert_eq!(view["type"], "modal");
    let back: ModalContext =
        serde_json::from_str(view["private_metadata"].as_str().unwrap()).unwrap();
    assert_eq!(back, ctx);
    let options = view["blocks"][0]["element"]["options"].as_array().unwrap();
    assert_eq!(
        options[1],
        json!({"text": {"type": "plain_text", "text": "Other"}, "value": "other"})
    );
    assert_eq!(view["blocks"][1]["optional"], true);
    assert_eq!(modal(true, &codes, &ctx)["callback_id"], RECYCLE_VIEW);
    let values = json!({
        "code": {"code": {"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": "Other"}, "value": "other"}}},
        "note": {"note": {"type": "plain_text_input", "value": "spam"}},
    });
    assert_eq!(
        submitted(&values),
        (Some("other".into()), Some("spam".into()))
    );
    let blank =
        json!({"code": {"code": {"selected_option": null}}, "note": {"note": {"value": "  "}}});
    assert_eq!(submitted(&blank), (None, None));
}
