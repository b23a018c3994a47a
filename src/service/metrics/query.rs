//! A report's query string read into a typed [`ReportRequest`]: the period, its zone, the
//! grouping and the filters, every bad parameter named at once.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use utoipa::IntoParams;

use super::{bound, report::ReportMeta};
use crate::{
    db::metrics::{DecidedBy, GroupBy, Scope},
    domain::{
        body::{Check, Field},
        metrics::{bucket_key, Period},
        validation::FieldError,
    },
};

/// Longest period a report may cover (bounds the number of day buckets).
pub const MAX_RANGE_DAYS: i64 = 3_660;

// Read as `domain::body` describes.
/// Query parameters shared by every report. Every figure counts cycles routed in
/// `[from, to)`.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// RFC 3339 instant, or a date (`YYYY-MM-DD`, midnight in `tz`). Default: 30 days before `to`.
    #[param(value_type = Option<String>)]
    from: Field,
    /// RFC 3339 instant or date, exclusive. Default: now.
    #[param(value_type = Option<String>)]
    to: Field,
    /// IANA time zone of dates and of day, week and month buckets. Default `UTC`.
    #[param(value_type = Option<String>)]
    tz: Field,
    /// source, campaign, channel, lead_type, queue, owner, account, decided_by (`person` or
    /// `rule`), day, week (ISO, from Monday) or month.
    #[param(value_type = Option<String>)]
    group_by: Field,
    #[param(value_type = Option<String>)]
    source: Field,
    #[param(value_type = Option<String>)]
    campaign: Field,
    #[param(value_type = Option<String>)]
    channel: Field,
    #[param(value_type = Option<String>)]
    lead_type: Field,
    #[param(value_type = Option<String>)]
    queue: Field,
    /// The cycle's owner: the rep that decided it, else its current owner.
    #[param(value_type = Option<String>)]
    owner: Field,
    /// An account's id (a merged account's cycles count under the account it was merged into).
    #[param(value_type = Option<String>, format = Uuid)]
    account: Field,
    /// `person` or `rule`: only the cycles whose gate decision a person (or an open cycle)
    /// or an ingest rule (history actor `rule:<id>`) made.
    #[param(value_type = Option<String>)]
    decided_by: Field,
}

/// A parsed report request.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    /// The period, its zone and the filters.
    pub scope: Scope,
    /// The grouping, if any.
    pub group: Option<GroupBy>,
}

impl ReportRequest {
    /// Reads a query string's parameters (`now` is the default end of the period).
    pub fn read(
        params: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<ReportRequest, Vec<FieldError>> {
        let value = Value::Object(
            params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        );
        let (query, mut f) = Check::read::<ReportQuery>(&value)?;
        let ReportQuery {
            from,
            to,
            tz,
            group_by,
            source,
            campaign,
            channel,
            lead_type,
            queue,
            owner,
            account,
            decided_by,
        } = query;
        let tz = read_tz(&mut f, tz);
        let before = f.errors.len();
        let from = read_instant(&mut f, "from", from, tz);
        let to = read_instant(&mut f, "to", to, tz);
        // The order of the ends is checked only when both are usable.
        let ends_ok = f.errors.len() == before;
        let group = read_group(&mut f, group_by);
        let account = read_account(&mut f, account);
        let decided_by = read_decided_by(&mut f, decided_by);
        let scope_dims = (
            f.opt_str("source", source, 200),
            f.opt_str("campaign", campaign, 200),
            f.opt_str("channel", channel, 200),
            f.opt_str("lead_type", lead_type, 200),
            f.opt_str("queue", queue, 200),
            f.opt_str("owner", owner, 200),
        );
        let to = to.unwrap_or(now);
        let from = from.unwrap_or(to - Duration::days(30));
        if ends_ok {
            check_period(&mut f, from, to);
        }
        f.done(Some(()))?;
        let (source, campaign, channel, lead_type, queue, owner) = scope_dims;
        Ok(ReportRequest {
            scope: Scope {
                from,
                to,
                tz,
                source,
                campaign,
                channel,
                lead_type,
                queue,
                owner,
                account,
                decided_by,
            },
            group,
        })
    }

    /// What the report says about itself.
    pub fn meta(&self) -> ReportMeta {
        let s = &self.scope;
        let filters = [
            ("source", &s.source),
            ("campaign", &s.campaign),
            ("channel", &s.channel),
            ("lead_type", &s.lead_type),
            ("queue", &s.queue),
            ("owner", &s.owner),
            ("account", &s.account),
            ("decided_by", &s.decided_by.map(|d| d.as_str().to_owned())),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
        .collect::<BTreeMap<_, _>>();
        ReportMeta {
            from: s.from,
            to: s.to,
            time_zone: s.tz.name().to_string(),
            group_by: self.group.map(|g| g.as_str().to_string()),
            filters,
            account_names: BTreeMap::new(),
        }
    }

    /// The keys of every time bucket of the period, when grouped by time.
    pub fn buckets(&self) -> Option<Vec<String>> {
        self.bucket_dates()
            .map(|dates| dates.into_iter().map(bucket_key).collect())
    }

    /// The instants every time bucket starts, in the same order as [`Self::buckets`].
    pub fn bucket_starts(&self) -> Option<Vec<DateTime<Utc>>> {
        self.bucket_dates().map(|dates| {
            dates
                .into_iter()
                .map(|d| Period::instant(d, self.scope.tz))
                .collect()
        })
    }

    fn bucket_dates(&self) -> Option<Vec<NaiveDate>> {
        match self.group {
            Some(GroupBy::Time(p)) => {
                Some(p.buckets(self.scope.from, self.scope.to, self.scope.tz))
            }
            _ => None,
        }
    }
}

/// `tz`, UTC when absent (and, after recording the error, when unknown).
fn read_tz(f: &mut Check, tz: Field) -> Tz {
    match f.opt_str("tz", tz, 64) {
        None => chrono_tz::UTC,
        Some(name) => name.parse::<Tz>().unwrap_or_else(|_| {
            f.error("tz", "must be an IANA time zone such as Europe/Berlin");
            chrono_tz::UTC
        }),
    }
}

/// An end of the period (`from` or `to`), dates read as midnight in `tz`.
fn read_instant(f: &mut Check, key: &'static str, v: Field, tz: Tz) -> Option<DateTime<Utc>> {
    let raw = f.opt_str(key, v, 40)?;
    bound::parse(&raw, tz)
        .map_err(|message| f.error(key, message))
        .ok()
}

fn read_group(f: &mut Check, group_by: Field) -> Option<GroupBy> {
    f.opt_str("group_by", group_by, 20).and_then(|g| {
        let parsed = GroupBy::parse(&g);
        if parsed.is_none() {
            f.error("group_by", format!("must be one of {}", GroupBy::NAMES));
        }
        parsed
    })
}

/// `account`: an account id (its canonical text, as the cycles store it).
fn read_account(f: &mut Check, v: Field) -> Option<String> {
    let raw = f.opt_str("account", v, 64)?;
    match raw.parse::<uuid::Uuid>() {
        Ok(id) => Some(id.to_string()),
        Err(_) => {
            f.error("account", "must be an account id");
            None
        }
    }
}

fn read_decided_by(f: &mut Check, v: Field) -> Option<DecidedBy> {
    let raw = f.opt_str("decided_by", v, 20)?;
    let parsed = DecidedBy::parse(&raw);
    if parsed.is_none() {
        f.error("decided_by", format!("must be one of {}", DecidedBy::NAMES));
    }
    parsed
}

/// `[from, to)` must be non-empty and at most [`MAX_RANGE_DAYS`] long.
fn check_period(f: &mut Check, from: DateTime<Utc>, to: DateTime<Utc>) {
    if from >= to {
        f.error("to", "must be after `from`");
    } else if to - from > Duration::days(MAX_RANGE_DAYS) {
        f.error(
            "from",
            format!("the period may be at most {MAX_RANGE_DAYS} days"),
        );
    }
}
