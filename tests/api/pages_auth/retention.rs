//! The retention job purges ended sessions and spent sign-in links once they are a month old,
//! and keeps live ones and recent ones.

use std::sync::Arc;

use chrono::Duration;
use salgate::{
    clock::Clock,
    db::sessions::{create_link, create_session, sign_out, use_link, NewSession},
    domain::Role,
    jobs::retention::{Retention, RetentionJob, SIGN_IN_KEEP},
    service::people::{LINK_TTL, SESSION_TTL},
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{link, Visitor};
use crate::helpers::spawn_app;

fn admin() -> NewSession<'static> {
    NewSession {
        role: Role::Admin,
        rep: None,
        api_key_id: None,
        sign_in_link_id: None,
    }
}

async fn ids(pool: &sqlx::PgPool, table: &str) -> Vec<Uuid> {
    let sql = format!("SELECT id FROM {table} ORDER BY id");
    sqlx::query_scalar(&sql).fetch_all(pool).await.unwrap()
}

#[tokio::test]
async fn ended_sessions_and_spent_links_are_purged_a_month_on_and_live_ones_stay() {
    let app = spawn_app().await;
    let pool = &app.pool;
    let sdr = Some("rep-1");
    let t0 = app.clock.now();
    // Made and used 40 days ago, so its session expired long since.
    let (old_used, token) = create_link(pool, Role::Sdr, sdr, "test", t0, t0 + LINK_TTL)
        .await
        .unwrap();
    use_link(pool, &token, t0, t0 + SESSION_TTL).await.unwrap();
    let (old_unused, _) = create_link(pool, Role::Admin, None, "test", t0, t0 + LINK_TTL)
        .await
        .unwrap();
    // Signed out 40 days ago though valid for longer (the signing out is what counts).
    let (signed_out, _) = create_session(pool, &admin(), t0, t0 + Duration::days(365))
        .await
        .unwrap();
    sign_out(pool, signed_out.id, t0).await.unwrap();

    app.clock.advance(Duration::days(40));
    let now = app.clock.now();
    // Ended two days ago: kept for now.
    let (recent_link, _) = create_link(
        pool,
        Role::Revops,
        None,
        "test",
        now - Duration::days(5),
        now - Duration::days(2),
    )
    .await
    .unwrap();
    let (recent_session, _) = create_session(
        pool,
        &admin(),
        now - Duration::days(3),
        now - Duration::days(2),
    )
    .await
    .unwrap();
    let (live, _) = create_session(pool, &admin(), now, now + SESSION_TTL)
        .await
        .unwrap();
    // Signed in by a browser now: a live session, and its link used just now. Both kept.
    Visitor::new(&app)
        .sign_in_with_link(&link(&app, Role::Sdr, sdr).await)
        .await;
    let before = (
        ids(pool, "sessions").await,
        ids(pool, "sign_in_links").await,
    );
    assert_eq!((before.0.len(), before.1.len()), (5, 4));

    let job = RetentionJob::new(
        pool.clone(),
        Arc::new(app.clock.clone()),
        Retention {
            webhooks: None,
            dead_webhooks: None,
            receipts: None,
            auto_reps: None,
        },
    );
    let purged = job.run_once(&CancellationToken::new()).await.unwrap();
    assert!(purged.contains(&("sessions", 2)), "{purged:?}");
    assert!(purged.contains(&("sign_in_links", 2)), "{purged:?}");
    let sessions = ids(pool, "sessions").await;
    assert!(!sessions.contains(&signed_out.id));
    assert!(sessions.contains(&recent_session.id) && sessions.contains(&live.id));
    let links = ids(pool, "sign_in_links").await;
    assert!(!links.contains(&old_used.id) && !links.contains(&old_unused.id));
    assert!(links.contains(&recent_link.id));
    assert_eq!((sessions.len(), links.len()), (3, 2));

    // A month after the live ones end, they go as well.
    app.clock
        .advance(SIGN_IN_KEEP + SESSION_TTL + Duration::minutes(1));
    let purged = job.run_once(&CancellationToken::new()).await.unwrap();
    assert!(purged.contains(&("sessions", 3)), "{purged:?}");
    assert!(purged.contains(&("sign_in_links", 2)), "{purged:?}");
    assert_eq!(
        app.count("sessions").await + app.count("sign_in_links").await,
        0
    );
}
