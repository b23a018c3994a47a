//! Who may see a lead: the list query's SQL predicate (`db::visibility`) and the single-lead
//! reads agree with the pure rule (`domain::visibility::may_see`), case by case.

use std::collections::BTreeSet;

use chrono::Duration;
use reqwest::Method;
use salgate::{
    clock::Clock,
    db::{
        leads::{self, CycleSla, LeadFilter, Who},
        routing,
    },
    domain::{
        lead_input::{NewLead, RoutedAtWindow},
        visibility::{may_see, Audience},
        Actor, Role,
    },
};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp};

const OWNERS: [Option<&str>; 4] = [None, Some("ada"), Some("bob"), Some("cy")];
/// `ghost` is a queue nobody defined (leads may name one).
const QUEUES: [Option<&str>; 6] = [
    None,
    Some("a"),
    Some("ab"),
    Some("b"),
    Some("empty"),
    Some("ghost"),
];

/// Queues `a` (ada), `ab` (ada, bob), `b` (bob), `empty` (nobody); rep `cy` in none. One lead
/// for each owner and queue, stored as given (no routing), so unassigned leads stay so.
async fn setup(app: &TestApp) -> Vec<(Uuid, Option<&'static str>, Option<&'static str>)> {
    define_queues(app).await;
    let now = app.clock.now();
    let who = Who {
        actor: "test",
        role: salgate::domain::Role::Ingest,
    };
    let mut stored = Vec::new();
    for owner in OWNERS {
        for queue in QUEUES {
            let mut body = json!({
                "source": "test", "lead_type": "mql",
                "external_id": format!("{}-{}", owner.unwrap_or("none"), queue.unwrap_or("none")),
            });
            if let Some(owner) = owner {
                body["owner"] = json!(owner);
            }
            if let Some(queue) = queue {
                body["queue"] = json!(queue);
            }
            let lead = NewLead::parse(&body, RoutedAtWindow::new(now, Duration::days(1)))
                .expect("a valid lead");
            let sla = CycleSla {
                policy: "default".into(),
                due_at: now + Duration::hours(1),
                at_risk_at: now + Duration::minutes(30),
                routing_note: None,
                identity: Default::default(),
                found: Default::default(),
                features: String::new(),
            };
            let row = leads::insert_new(&app.pool, &lead, &sla, &who, now)
                .await
                .unwrap()
                .expect("a new lead");
            stored.push((row.id, owner, queue));
        }
    }
    stored
}

async fn define_queues(app: &TestApp) {
    for q in ["a", "ab", "b", "empty"] {
        let body = json!({"strategy": "claim"});
        let res = app
            .request(
                Method::PUT,
                &format!("/v1/queues/{q}"),
                &app.admin,
                Some(&body),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    for (rep, queues) in [
        ("ada", vec!["a", "ab"]),
        ("bob", vec!["ab", "b"]),
        ("cy", vec![]),
    ] {
        let body = json!({"queues": queues});
        let res = app
            .request(
                Method::PUT,
                &format!("/v1/reps/{rep}"),
                &app.admin,
                Some(&body),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
}

fn actors() -> Vec<Actor> {
    let actor = |role, rep: Option<&str>| Actor {
        role,
        rep: rep.map(str::to_string),
    };
    vec![
        actor(Role::Sdr, Some("ada")),
        actor(Role::Sdr, Some("bob")),
        actor(Role::Sdr, Some("cy")),
        // A rep salgate has no row for, and (impossible in the database) an SDR without one.
        actor(Role::Sdr, Some("dee")),
        actor(Role::Sdr, None),
        actor(Role::Revops, None),
        actor(Role::Admin, None),
        actor(Role::Ingest, None),
    ]
}

/// What the pure rule allows `actor`, membership read from the database.
async fn expected(
    app: &TestApp,
    actor: &Actor,
    stored: &[(Uuid, Option<&str>, Option<&str>)],
) -> BTreeSet<Uuid> {
    let mut allowed = BTreeSet::new();
    for (id, owner, queue) in stored {
        let rep_in_queue = match (&actor.rep, queue) {
            (Some(rep), Some(q)) => routing::is_member(&app.pool, q, rep).await.unwrap(),
            _ => false,
        };
        let lead = Audience {
            owner: *owner,
            rep_in_queue,
        };
        if may_see(actor, lead) {
            allowed.insert(*id);
        }
    }
    allowed
}

#[tokio::test]
async fn the_list_predicate_shows_each_caller_exactly_the_leads_the_pure_rule_allows() {
    let app = spawn_app().await;
    let stored = setup(&app).await;
    let now = app.clock.now();
    for actor in actors() {
        let filter = LeadFilter {
            visible_to: Some(actor.clone()),
            ..LeadFilter::default()
        };
        let listed: BTreeSet<Uuid> = leads::list(&app.pool, &filter, 1000, now)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.id)
            .collect();
        let allowed = expected(&app, &actor, &stored).await;
        for (id, owner, queue) in &stored {
            assert_eq!(
                listed.contains(id),
                allowed.contains(id),
                "{actor:?} and the lead of owner {owner:?} in queue {queue:?}"
            );
        }
    }
    // The cases tell the branches apart: ada sees her 6 leads and the unassigned ones of `a`
    // and `ab`; bob those of `ab` and `b`; cy only his own; managers all 24.
    let count = |rep: &str| {
        let actor = Actor {
            role: Role::Sdr,
            rep: Some(rep.into()),
        };
        let stored = &stored;
        let app = &app;
        async move { expected(app, &actor, stored).await.len() }
    };
    assert_eq!(
        (count("ada").await, count("bob").await, count("cy").await),
        (8, 8, 6)
    );
}

#[tokio::test]
async fn an_sdr_reads_one_lead_exactly_when_the_list_shows_it() {
    let app = spawn_app().await;
    let stored = setup(&app).await;
    for rep in ["ada", "bob", "cy"] {
        let token = app.key(Role::Sdr, Some(rep)).await;
        let page: serde_json::Value = app
            .get("/v1/leads?limit=500", &token)
            .await
            .json()
            .await
            .unwrap();
        let listed: BTreeSet<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_string())
            .collect();
        for (id, owner, queue) in &stored {
            let status = app.get(&format!("/v1/leads/{id}"), &token).await.status();
            let shown = listed.contains(&id.to_string());
            assert_eq!(
                (status.as_u16(), shown),
                if shown { (200, true) } else { (403, false) },
                "sdr {rep} and the lead of owner {owner:?} in queue {queue:?}"
            );
        }
    }
}
