//! The visibility rule of `domain::visibility::may_see` as an SQL predicate over `leads`, for
//! the list query (a test checks it against the pure function case by case).

use sqlx::{Postgres, QueryBuilder};

use crate::domain::{Actor, Role};

/// Appends ` AND <what actor may see>` to a query over `leads`.
pub fn push_visible_to(q: &mut QueryBuilder<'_, Postgres>, actor: &Actor) {
    match (actor.role, &actor.rep) {
        (Role::Revops | Role::Admin, _) => {}
        (Role::Sdr, Some(rep)) => {
            q.push(" AND (owner = ")
                .push_bind(rep.clone())
                .push(
                    " OR (owner IS NULL AND queue IN \
                     (SELECT queue_id FROM queue_members WHERE rep_id = ",
                )
                .push_bind(rep.clone())
                .push(")))");
        }
        (Role::Sdr, None) | (Role::Ingest, _) => {
            q.push(" AND false");
        }
    }
}
