//! Every SQL statement of the service against the migrated schema: each static one is
//! prepared (a renamed column or table fails here, naming the statement's const), and every
//! branch of the dynamic ones (the lead list's filters, the reports' groupings and filters) is
//! executed. `src/db/registry_tests.rs` keeps a `sqlx::query*` call from bypassing the registry.

use chrono::Duration;
use salgate::{
    clock::Clock,
    db::{
        self,
        leads::LeadFilter,
        metrics::{GroupBy, Scope},
    },
    domain::{metrics::Period, sla::SlaStatus, Actor, LeadState, Role},
    service,
};
use sqlx::{Either, Executor, PgPool};

use crate::helpers::{lead, spawn_app};

#[tokio::test]
async fn every_static_statement_prepares_against_the_migrated_schema() {
    let app = spawn_app().await;
    let mut failed = Vec::new();
    let mut count = 0;
    for s in db::statements() {
        count += 1;
        if let Err(e) = (&app.pool).describe(s.sql).await {
            failed.push(format!("{}: {e}", s.name));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {count} statements do not prepare:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// The parameter types of a registered statement, as PostgreSQL infers them.
async fn parameter_types(pool: &PgPool, name: &str) -> Vec<String> {
    let full = format!("salgate::db::leads::{name}");
    let s = db::statements().find(|s| s.name == full).unwrap();
    match pool.describe(s.sql).await.unwrap().parameters() {
        Some(Either::Left(types)) => types.iter().map(|t| t.to_string()).collect(),
        other => panic!("{name}: no parameter types: {other:?}"),
    }
}

/// `bind_cycle` binds `$4`…`$24` of three statements; the multi-row ones (a batch, a group
/// commit) bind arrays of the same values at the same places. The positions cannot drift apart in type unnoticed.
#[tokio::test]
async fn the_statements_sharing_binds_4_to_24_take_the_same_types_there() {
    let app = spawn_app().await;
    let shared = |types: Vec<String>| types[3..24].to_vec();
    let insert = shared(parameter_types(&app.pool, "cycle::INSERT_NEW").await);
    let reroute = shared(parameter_types(&app.pool, "cycle::REROUTE").await);
    let round_robin = shared(parameter_types(&app.pool, "cycle::INSERT_ROUND_ROBIN_CACHED").await);
    assert_eq!(insert, reroute);
    assert_eq!(insert, round_robin);
    for name in [
        "many::INSERT_MANY",
        "many::INSERT_MANY_ROWS",
        "many::INSERT_MANY_ROUND_ROBIN",
    ] {
        let many = shared(parameter_types(&app.pool, name).await);
        let elements: Vec<String> = many
            .iter()
            .map(|t| t.trim_end_matches("[]").to_string())
            .collect();
        assert_eq!(insert, elements, "{name}");
    }
}

/// The three decisions bind the same thirteen values in the same places.
#[tokio::test]
async fn the_three_decision_statements_take_the_same_parameter_types() {
    let app = spawn_app().await;
    let accept = parameter_types(&app.pool, "ACCEPT").await;
    assert_eq!(accept.len(), 13);
    assert_eq!(accept, parameter_types(&app.pool, "REJECT").await);
    assert_eq!(accept, parameter_types(&app.pool, "RECYCLE").await);
}

/// Each filter of `GET /v1/leads` alone (every value of the closed ones), then all together
/// matching the one stored lead.
#[tokio::test]
async fn every_lead_list_filter_executes_alone_and_all_together() {
    let app = spawn_app().await;
    let stored = app.ingest(&lead("l-1")).await;
    let now = app.clock.now();
    let id: uuid::Uuid = stored["id"].as_str().unwrap().parse().unwrap();
    let text = |s: &str| Some(s.to_string());
    let mut filters = vec![LeadFilter::default()];
    for role in Role::ALL {
        for rep in [None, text("rep-1")] {
            let visible_to = Some(Actor { role, rep });
            filters.push(LeadFilter {
                visible_to,
                ..Default::default()
            });
        }
    }
    for state in LeadState::ALL {
        filters.push(LeadFilter {
            state: Some(state),
            ..Default::default()
        });
    }
    let statuses = [
        SlaStatus::OnTrack,
        SlaStatus::AtRisk,
        SlaStatus::Breached,
        SlaStatus::Met,
        SlaStatus::Missed,
    ];
    for status in statuses {
        filters.push(LeadFilter {
            sla_status: Some(status),
            ..Default::default()
        });
    }
    filters.extend([
        LeadFilter {
            owner: text("rep-1"),
            ..Default::default()
        },
        LeadFilter {
            queue: text("emea"),
            ..Default::default()
        },
        LeadFilter {
            source: text("hubspot"),
            ..Default::default()
        },
        LeadFilter {
            lead_type: text("demo_request"),
            ..Default::default()
        },
        LeadFilter {
            after: Some(uuid::Uuid::nil()),
            ..Default::default()
        },
    ]);
    for filter in &filters {
        let listed = db::leads::list(&app.pool, filter, 10, now).await;
        assert!(listed.is_ok(), "{filter:?}: {listed:?}");
    }
    let all = LeadFilter {
        visible_to: Some(Actor {
            role: Role::Sdr,
            rep: text("rep-1"),
        }),
        state: Some(LeadState::Routed),
        sla_status: Some(SlaStatus::OnTrack),
        owner: text("rep-1"),
        queue: text("emea"),
        source: text("hubspot"),
        lead_type: text("demo_request"),
        after: Some(uuid::Uuid::nil()),
    };
    let listed = db::leads::list(&app.pool, &all, 10, now).await.unwrap();
    assert_eq!(listed.iter().map(|l| l.id).collect::<Vec<_>>(), [id]);
}

/// Every report and the dashboard × every grouping (none, each column, each time bucket) × no
/// filter, each filter alone and all six together.
#[tokio::test]
async fn every_report_executes_for_each_grouping_and_filter() {
    let app = spawn_app().await;
    app.ingest(&lead("r-1")).await;
    let now = app.clock.now();
    let base = Scope {
        from: now - Duration::days(1),
        to: now + Duration::days(1),
        tz: chrono_tz::Europe::Berlin,
        source: None,
        campaign: None,
        channel: None,
        lead_type: None,
        queue: None,
        owner: None,
        account: None,
        decided_by: None,
    };
    let v = || Some("x".to_string());
    let scopes = [
        base.clone(),
        Scope {
            source: v(),
            ..base.clone()
        },
        Scope {
            campaign: v(),
            ..base.clone()
        },
        Scope {
            channel: v(),
            ..base.clone()
        },
        Scope {
            lead_type: v(),
            ..base.clone()
        },
        Scope {
            queue: v(),
            ..base.clone()
        },
        Scope {
            owner: v(),
            ..base.clone()
        },
        Scope {
            source: v(),
            campaign: v(),
            channel: v(),
            lead_type: v(),
            queue: v(),
            owner: v(),
            account: v(),
            decided_by: Some(salgate::db::metrics::DecidedBy::Rule),
            ..base.clone()
        },
        Scope {
            account: v(),
            ..base.clone()
        },
        Scope {
            decided_by: Some(salgate::db::metrics::DecidedBy::Person),
            ..base.clone()
        },
    ];
    let mut groups = vec![None];
    for g in [
        GroupBy::Source,
        GroupBy::Campaign,
        GroupBy::Channel,
        GroupBy::LeadType,
    ] {
        groups.push(Some(g));
    }
    groups.extend(
        [
            GroupBy::Queue,
            GroupBy::Owner,
            GroupBy::Account,
            GroupBy::DecidedBy,
        ]
        .map(Some),
    );
    groups.extend([Period::Day, Period::Week, Period::Month].map(|p| Some(GroupBy::Time(p))));
    let pool = &app.pool;
    let bands = Default::default();
    for scope in &scopes {
        let at = format!("{scope:?}");
        for &group in &groups {
            let at = format!("{group:?} {scope:?}");
            let req = service::metrics::ReportRequest {
                scope: scope.clone(),
                group,
            };
            let m = |e| format!("{at}: {e:?}");
            service::metrics::acceptance(pool, bands, &req)
                .await
                .map_err(m)
                .unwrap();
            service::metrics::rejections(pool, &req)
                .await
                .map_err(m)
                .unwrap();
            service::metrics::sla(pool, &req, now)
                .await
                .map_err(m)
                .unwrap();
            service::metrics::recycling(pool, &req)
                .await
                .map_err(m)
                .unwrap();
        }
        let req = service::metrics::ReportRequest {
            scope: scope.clone(),
            group: Some(GroupBy::Time(Period::Week)),
        };
        service::metrics::dashboard(pool, bands, &req, now)
            .await
            .map_err(|e| format!("{at}: {e:?}"))
            .unwrap();
    }
}
