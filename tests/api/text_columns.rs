//! The enums kept in text columns (src/db/text_enum.rs) against a real PostgreSQL: each value
//! goes in and comes back as itself, and a text outside the enum fails the query instead of
//! being read as some default.

use salgate::{
    db,
    domain::{routing::Strategy, LeadState, Role},
};

use crate::helpers::fresh_database;

async fn unknown<T>(pool: &sqlx::PgPool, text: &str) -> String
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    let err = sqlx::query_scalar::<_, T>("SELECT $1::text")
        .bind(text)
        .fetch_one(pool)
        .await
        .err()
        .unwrap_or_else(|| panic!("`{text}` was decoded"));
    assert!(matches!(err, sqlx::Error::ColumnDecode { .. }), "{err}");
    err.to_string()
}

#[tokio::test]
async fn states_strategies_and_roles_round_trip_and_unknown_text_fails_the_query() {
    let pool = db::connect(&fresh_database().await, 1).await.unwrap();
    for state in LeadState::ALL {
        let back: LeadState = sqlx::query_scalar("SELECT $1::text")
            .bind(state)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(back, state);
    }
    for strategy in Strategy::ALL {
        let back: Strategy = sqlx::query_scalar("SELECT $1::text")
            .bind(strategy)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(back, strategy);
    }
    for role in Role::ALL {
        let back: Role = sqlx::query_scalar("SELECT $1::text")
            .bind(role)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(back, role);
    }
    let e = unknown::<LeadState>(&pool, "Routed").await;
    assert!(e.contains("unknown lead state `Routed`"), "{e}");
    let e = unknown::<Strategy>(&pool, "round-robin").await;
    assert!(e.contains("unknown queue strategy `round-robin`"), "{e}");
    // History rows carry `system` as a role; an API key never does.
    let e = unknown::<Role>(&pool, "system").await;
    assert!(e.contains("unknown role `system`"), "{e}");
    pool.close().await;
}
