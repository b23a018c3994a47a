//! Who a Slack user is here: the rep whose `slack_user_id` it is (issue 17).

use sqlx::{FromRow, PgPool};

/// The rep a Slack user decides as.
#[derive(Debug, Clone, FromRow)]
pub struct SlackRep {
    pub id: String,
    pub name: String,
}

const REP_BY_SLACK_USER: &str = "SELECT id, name FROM reps WHERE slack_user_id = $1";

/// The rep mapped to Slack user `user_id`, if any (one at most: the column is unique).
pub async fn rep_by_slack_user(
    pool: &PgPool,
    user_id: &str,
) -> Result<Option<SlackRep>, sqlx::Error> {
    sqlx::query_as(REP_BY_SLACK_USER)
        .bind(user_id)
        .fetch_optional(pool)
        .await
}

statements!(REP_BY_SLACK_USER);
