//! Bodies of the account routes (`PATCH /v1/accounts/{id}`, `accept`, `merge`), read as
//! `domain::body` describes: every bad member named at once.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{
    body::{Check, Field},
    slug::opt_id_schema,
    validation::{FieldError, SlugKind},
};

/// How far ahead an acceptance may run: a year (ABM plans are quarterly or yearly; a longer
/// one is a setting nobody will remember to end).
pub const MAX_ACCEPTANCE_DAYS: i64 = 366;

/// Body of `PATCH /v1/accounts/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AccountPatch {
    /// The rep the account's leads go to (a known rep); `null` clears it. Required.
    #[schema(value_type = Option<String>, schema_with = opt_id_schema)]
    pub owner: Field,
}

/// Body of `POST /v1/accounts/{id}/accept`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AccountAcceptInput {
    /// RFC 3339 instant the acceptance ends: in the future, at most 366 days ahead.
    #[schema(value_type = String, format = DateTime)]
    pub until: Field,
    /// The rep working the account (a known rep). Revops and admin keys must give it when the
    /// account has no owner; an SDR key may only name its own rep. Default: the account's
    /// owner, else the SDR key's rep.
    #[schema(value_type = Option<String>, schema_with = opt_id_schema)]
    pub owner: Field,
}

/// Body of `POST /v1/accounts/{id}/merge`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AccountMergeInput {
    /// The surviving account's id.
    #[schema(value_type = String, format = Uuid)]
    pub into: Field,
}

/// The new owner of a patch: `Some(None)` clears it.
pub fn parse_patch(body: &Value) -> Result<Option<String>, Vec<FieldError>> {
    // `null` is the documented way to clear, and `Field` reads null as absent: tell the two
    // apart on the body itself.
    let cleared = body.get("owner").is_some_and(Value::is_null);
    let (AccountPatch { owner }, mut f) = Check::read(body)?;
    let given = owner.get().is_some();
    let owner = f.opt_slug("owner", owner, SlugKind::Id);
    if !given && !cleared {
        f.error("owner", "is required (null clears the owner)");
    }
    f.done(Some(owner))
}

/// `until` and the optional owner of an acceptance, `until` checked against `now`.
pub fn parse_accept(
    body: &Value,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, Option<String>), Vec<FieldError>> {
    let (AccountAcceptInput { until, owner }, mut f) = Check::read(body)?;
    let owner = f.opt_slug("owner", owner, SlugKind::Id);
    let until = match until.get() {
        None => {
            f.error("until", "is required");
            None
        }
        Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => {
                let t = t.with_timezone(&Utc);
                if t <= now {
                    f.error("until", "must be in the future");
                } else if t > now + Duration::days(MAX_ACCEPTANCE_DAYS) {
                    f.error(
                        "until",
                        format!("must be at most {MAX_ACCEPTANCE_DAYS} days ahead"),
                    );
                }
                Some(t)
            }
            Err(_) => {
                f.error(
                    "until",
                    "must be an RFC 3339 time like 2026-01-31T09:00:00Z",
                );
                None
            }
        },
        Some(_) => {
            f.error("until", "must be an RFC 3339 time string");
            None
        }
    };
    let parsed = until.map(|u| (u, owner));
    f.done(parsed)
}

/// The surviving account of a merge.
pub fn parse_merge(body: &Value) -> Result<Uuid, Vec<FieldError>> {
    let (AccountMergeInput { into }, mut f) = Check::read(body)?;
    let into = f.req_str("into", into, 64).and_then(|s| {
        s.parse::<Uuid>()
            .map_err(|_| f.error("into", "must be an account id"))
            .ok()
    });
    f.done(into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_patch_needs_the_owner_member_and_null_clears_it() {
        assert_eq!(parse_patch(&json!({"owner": null})).unwrap(), None);
        assert_eq!(
            parse_patch(&json!({"owner": "ann"})).unwrap(),
            Some("ann".to_owned())
        );
        assert_eq!(fields(parse_patch(&json!({})).unwrap_err()), ["owner"]);
        assert_eq!(
            fields(parse_patch(&json!({"owner": 3, "x": 1})).unwrap_err()),
            ["owner", "x"]
        );
    }

    #[test]
    fn an_acceptance_ends_in_the_future_within_the_bound() {
        let now: DateTime<Utc> = "2026-03-01T00:00:00Z".parse().unwrap();
        let ok = parse_accept(&json!({"until": "2026-06-01T00:00:00Z"}), now).unwrap();
        assert_eq!(
            ok.0,
            "2026-06-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        for until in [
            json!("2026-03-01T00:00:00Z"),
            json!("2027-03-03T00:00:00Z"),
            json!("soon"),
            json!(5),
            Value::Null,
        ] {
            let e = parse_accept(&json!({"until": until}), now).unwrap_err();
            assert_eq!(fields(e), ["until"], "{until}");
        }
    }

    #[test]
    fn a_merge_names_an_account_id() {
        let id = Uuid::now_v7();
        assert_eq!(parse_merge(&json!({"into": id.to_string()})).unwrap(), id);
        assert_eq!(
            fields(parse_merge(&json!({"into": "acme"})).unwrap_err()),
            ["into"]
        );
        assert_eq!(fields(parse_merge(&json!({})).unwrap_err()), ["into"]);
    }
}
