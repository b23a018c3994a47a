//! The SQL forms of domain rules, checked against the Rust ones on a real database, and the
//! places that read them agreeing with each other.

use chrono::{DateTime, Duration, Utc};
use salgate::domain::{
    sla::{self, SlaFacts},
    LeadState,
};
use serde_json::{json, Value};

use crate::helpers::{lead, spawn_app};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Issue: the `/metrics` gauge counted a routed lead without deadlines as `on_track` while
/// `?sla_status=on_track` left it out. Such a lead shows no `sla` object (docs/api.md §3), so
/// it has no status: neither lists nor gauges count it under any.
#[tokio::test]
async fn a_routed_lead_without_deadlines_is_in_no_sla_status_listed_or_gauged() {
    let app = spawn_app().await;
    app.clock.set(t("2026-03-02T10:00:00Z"));
    app.ingest(&lead("with-sla")).await;
    let bare = app.ingest(&lead("no-sla")).await;
    let id = bare["id"].as_str().unwrap();
    // As a lead stored before SLA policies existed.
    sqlx::query(
        "UPDATE leads SET sla_policy = NULL, sla_due_at = NULL, sla_at_risk_at = NULL \
         WHERE id = $1::uuid",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(app.lead(id).await["sla"], Value::Null);
    let mut listed = Vec::new();
    for status in ["on_track", "at_risk", "breached"] {
        let page: Value = app
            .get(&format!("/v1/leads?sla_status={status}"), &app.admin)
            .await
            .json()
            .await
            .unwrap();
        let ids: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["external_id"].as_str().unwrap().to_string())
            .collect();
        listed.push((status, ids.len()));
        if status == "on_track" {
            assert_eq!(ids, ["with-sla"]);
        }
    }
    let text = app.get("/metrics", "").await.text().await.unwrap();
    let gauged: Vec<(&str, usize)> = ["on_track", "at_risk", "breached"]
        .into_iter()
        .map(|status| {
            let prefix = format!("salgate_open_leads{{sla_status=\"{status}\"}} ");
            let line = text
                .lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap_or_else(|| panic!("no `{prefix}` in\n{text}"));
            (status, line.parse::<f64>().unwrap() as usize)
        })
        .collect();
    assert_eq!(gauged, listed);
}

/// One case: a lead's SLA columns and the time the status is asked at.
struct Case {
    state: LeadState,
    deadlines: Option<(DateTime<Utc>, DateTime<Utc>)>,
    breached_at: Option<DateTime<Utc>>,
    /// (accepted_at, rejected_at, recycled_at)
    decisions: [Option<DateTime<Utc>>; 3],
    now: DateTime<Utc>,
}

impl Case {
    fn row(&self) -> Value {
        let (due, at_risk) = self.deadlines.unzip();
        let [accepted, rejected, recycled] = self.decisions;
        json!({
            "lead": {
                "state": self.state.as_str(),
                "sla_policy": self.deadlines.map(|_| "demo_request"),
                "sla_due_at": due,
                "sla_at_risk_at": at_risk,
                "sla_breached_at": self.breached_at,
                "accepted_at": accepted,
                "rejected_at": rejected,
                "recycled_at": recycled,
            },
            "now": self.now,
        })
    }

    /// What the domain says, from the columns as `db::leads::Lead::with_sla` reads them.
    fn expected(&self) -> Option<String> {
        let (due_at, at_risk_at) = self.deadlines?;
        let [accepted, rejected, recycled] = self.decisions;
        let facts = SlaFacts {
            state: self.state,
            due_at,
            at_risk_at,
            breached_at: self.breached_at,
            decided_at: accepted.or(rejected).or(recycled),
        };
        // The name the API gives the status.
        let status = serde_json::to_value(sla::status(facts, self.now)).unwrap();
        Some(status.as_str().unwrap().to_string())
    }
}

/// Every state × deadlines (apart, equal, none) × breach flag × decision (none, each column
/// just before, at and just after the due time, an accept later recycled) × a time just
/// before, at and just after each deadline.
fn cases() -> Vec<Case> {
    let due = t("2026-03-02T11:00:00Z");
    let at_risk = t("2026-03-02T10:45:00Z");
    let us = Duration::microseconds(1);
    let around = |x: DateTime<Utc>| [x - us, x, x + us];
    let mut decisions = vec![[None, None, None]];
    for at in around(due) {
        decisions.extend([
            [Some(at), None, None],
            [None, Some(at), None],
            [None, None, Some(at)],
        ]);
    }
    decisions.push([Some(due - us), None, Some(due + Duration::hours(1))]);
    let nows: Vec<DateTime<Utc>> = around(at_risk).into_iter().chain(around(due)).collect();
    let states = [
        LeadState::Routed,
        LeadState::Accepted,
        LeadState::Rejected,
        LeadState::Recycled,
    ];
    let mut cases = Vec::new();
    for state in states {
        for deadlines in [Some((due, at_risk)), Some((due, due)), None] {
            for breached_at in [None, Some(due)] {
                for d in &decisions {
                    for now in &nows {
                        cases.push(Case {
                            state,
                            deadlines,
                            breached_at,
                            decisions: *d,
                            now: *now,
                        });
                    }
                }
            }
        }
    }
    cases
}

#[tokio::test]
async fn the_sql_sla_status_is_the_domains_case_by_case() {
    let app = spawn_app().await;
    let cases = cases();
    let rows: Vec<Value> = cases.iter().map(Case::row).collect();
    let got: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT lead_sla_status(jsonb_populate_record(NULL::leads, c->'lead'), \
           (c->>'now')::timestamptz) \
         FROM unnest($1::jsonb[]) WITH ORDINALITY AS t(c, i) ORDER BY i",
    )
    .bind(&rows)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(got.len(), cases.len());
    let wrong: Vec<String> = cases
        .iter()
        .zip(&got)
        .filter(|(c, g)| c.expected() != **g)
        .map(|(c, g)| format!("{} → SQL {g:?}, domain {:?}", c.row(), c.expected()))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} cases differ:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn the_sql_round_robin_pick_is_the_domains_for_every_turn() {
    let app = spawn_app().await;
    let mut cases = Vec::new();
    for n in 0..=5 {
        let eligible: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
        let turns = (-12i64..=24).chain([i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX]);
        for turn in turns {
            cases.push((eligible.clone(), turn));
        }
    }
    let rows: Vec<Value> = cases
        .iter()
        .map(|(eligible, turn)| json!({"eligible": eligible, "turn": turn}))
        .collect();
    let got: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT round_robin_pick(ARRAY(SELECT e FROM jsonb_array_elements_text(c->'eligible') \
           WITH ORDINALITY AS x(e, k) ORDER BY k), (c->>'turn')::bigint) \
         FROM unnest($1::jsonb[]) WITH ORDINALITY AS t(c, i) ORDER BY i",
    )
    .bind(&rows)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let want: Vec<Option<String>> = cases
        .iter()
        .map(|(eligible, turn)| salgate::domain::routing::round_robin(eligible, *turn).cloned())
        .collect();
    assert_eq!(got, want);
}
