//! The hot-path connection lane (src/db/lane.rs) against a real PostgreSQL: a connection comes
//! back to the lane only when its statement completed; anything else goes to the pool.

use std::time::Duration;

use salgate::db::{self, lane::Lane};
use sqlx::PgPool;

use crate::helpers::fresh_database;

/// Long enough to notice a hang, never reached when the lane works.
const HANG: Duration = Duration::from_secs(20);

async fn pool(max: u32) -> PgPool {
    db::connect(&fresh_database().await, max).await.unwrap()
}

async fn backend_pid(lane: &Lane) -> Result<i32, sqlx::Error> {
    let mut conn = lane.acquire().await?;
    let pid = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await;
    conn.release_after(pid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lane_reuses_the_connection_of_a_completed_statement() {
    let pool = pool(4).await;
    let lane = Lane::new(pool.clone(), 3);
    let first = backend_pid(&lane).await.unwrap();
    assert_eq!(lane.idle(), 1, "the connection came back to the lane");
    assert_eq!(backend_pid(&lane).await.unwrap(), first);
    // An error PostgreSQL sent about the statement leaves the connection usable: kept.
    let mut conn = lane.acquire().await.unwrap();
    let failed = sqlx::query("SELECT 1/0").execute(&mut *conn).await;
    assert!(conn.release_after(failed).is_err());
    assert_eq!(lane.idle(), 1);
    assert_eq!(backend_pid(&lane).await.unwrap(), first);
    lane.close();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_dropped_mid_statement_goes_to_the_pool_not_the_lane() {
    let pool = pool(4).await;
    let lane = Lane::new(pool.clone(), 3);
    let busy = {
        let mut conn = lane.acquire().await.unwrap();
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        // The request is cancelled while PostgreSQL still runs its statement.
        let cancelled = tokio::time::timeout(
            Duration::from_millis(200),
            sqlx::query("SELECT pg_sleep(60)").execute(&mut *conn),
        )
        .await;
        assert!(cancelled.is_err());
        pid
    };
    assert_eq!(
        lane.idle(),
        0,
        "a connection in the middle of a statement was kept"
    );
    // The next user gets another connection at once, not the busy one (which would make it
    // wait for the sleep to end).
    let next = tokio::time::timeout(HANG, backend_pid(&lane))
        .await
        .expect("the lane handed out the busy connection")
        .unwrap();
    assert_ne!(next, busy);
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(busy)
        .execute(&pool)
        .await
        .unwrap();
    lane.close();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_that_broke_in_the_lane_fails_once_as_unavailable_and_is_replaced() {
    let pool = pool(4).await;
    let lane = Lane::new(pool.clone(), 3);
    let first = backend_pid(&lane).await.unwrap();
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(first)
        .execute(&pool)
        .await
        .unwrap();
    // The lane does not test a recently used connection: the statement fails, as unavailable
    // (the API answers 503 with Retry-After), and the connection is not kept.
    let err = backend_pid(&lane).await.unwrap_err();
    assert!(db::is_unavailable(&err), "{err:?}");
    assert_eq!(lane.idle(), 0);
    let next = backend_pid(&lane).await.unwrap();
    assert_ne!(next, first);
    lane.close();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_lane_holds_at_most_its_capacity_and_the_next_user_waits_for_one() {
    let pool = pool(6).await;
    let lane = Lane::new(pool.clone(), 2);
    let a = lane.acquire().await.unwrap();
    let b = lane.acquire().await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), lane.acquire())
            .await
            .is_err(),
        "a third connection was handed out by a lane of two"
    );
    // The pool itself still has connections for everyone else.
    sqlx::query("SELECT 1").execute(&pool).await.unwrap();
    a.release(true);
    let c = tokio::time::timeout(HANG, lane.acquire())
        .await
        .expect("the released connection was not handed out")
        .unwrap();
    drop((b, c));
    lane.close();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn closing_the_lane_gives_its_connections_back_so_the_pool_can_close() {
    let pool = pool(4).await;
    let lane = Lane::new(pool.clone(), 3);
    backend_pid(&lane).await.unwrap();
    assert_eq!(lane.idle(), 1);
    lane.close();
    assert_eq!(lane.idle(), 0);
    assert!(matches!(
        lane.acquire().await.err(),
        Some(sqlx::Error::PoolClosed)
    ));
    tokio::time::timeout(HANG, pool.close())
        .await
        .expect("the pool waited for a connection the lane kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_idle_longer_than_the_limit_go_back_to_the_pool() {
    let pool = pool(4).await;
    // Every idle connection is stale at once.
    let lane = Lane::with_max_idle(pool.clone(), 3, Duration::ZERO);
    let a = lane.acquire().await.unwrap();
    let b = lane.acquire().await.unwrap();
    a.release(true);
    assert_eq!(lane.idle(), 1);
    // Giving `b` back sends the stale `a` to the pool.
    b.release(true);
    assert_eq!(lane.idle(), 1);
    // Taking one finds only stale ones: they go to the pool and a pool connection is used.
    let c = lane.acquire().await.unwrap();
    assert_eq!(lane.idle(), 0);
    c.release(true);
    lane.close();

    let lane = Lane::new(pool.clone(), 3);
    let (a, b) = (lane.acquire().await.unwrap(), lane.acquire().await.unwrap());
    a.release(true);
    b.release(true);
    assert_eq!(lane.idle(), 2, "fresh connections are kept");
    lane.close();
    pool.close().await;
}
