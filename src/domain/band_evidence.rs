//! Evidence for an acceptance band from what happened downstream (docs/api.md "Band
//! evidence"): a group accepting above the band whose accepted leads become SQLs less often
//! than the period's is rubber-stamping for sure; a group below range whose accepted leads
//! convert at least as well as the period's may be rejecting good leads. No I/O.

use serde::Serialize;
use utoipa::ToSchema;

use super::metrics::{rate, Band};

/// Fewest accepted cycles a group needs before its accepted→SQL rate is read as evidence:
/// below it one SQL more or less swings the rate by 10 points or more.
pub const MIN_ACCEPTED: i64 = 10;

/// What the downstream outcomes say about a group's band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// Above the band, and accepted leads reach SQL less often than the period's.
    RubberStampingConfirmed,
    /// Above the band, but accepted leads reach SQL at least as often as the period's.
    RubberStampingNotConfirmed,
    /// Below range, and accepted leads reach SQL at least as often as the period's: sales may
    /// be rejecting good leads.
    RejectingGoodLeads,
    /// Fewer than [`MIN_ACCEPTED`] accepted cycles: too few to tell.
    InsufficientSupport,
}

/// A group's evidence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct BandEvidence {
    /// The group's accepted cycles that reached SQL (or a later stage).
    pub sql: i64,
    /// sql / accepted of the group.
    pub accepted_to_sql_rate: Option<f64>,
    /// sql / accepted of the whole period (the report's total).
    pub period_accepted_to_sql_rate: Option<f64>,
    /// Null when the outcomes neither confirm nor question the band, or when the period has
    /// no SQL at all (its outcomes are not in yet).
    pub finding: Option<Finding>,
}

/// The evidence for a group in `band` with `accepted` cycles of which `sql` reached SQL,
/// against the period's `period_accepted` and `period_sql`; `None` for the bands it does not
/// speak to (healthy, elevated, or no band).
pub fn evidence(
    band: Option<Band>,
    accepted: i64,
    sql: i64,
    period_accepted: i64,
    period_sql: i64,
) -> Option<BandEvidence> {
    let band = band.filter(|b| matches!(b, Band::RubberStamping | Band::BelowRange))?;
    let own = rate(sql, accepted);
    let period = rate(period_sql, period_accepted);
    // Compared as exact fractions, not as the rounded rates.
    let at_least_period = sql * period_accepted >= period_sql * accepted;
    // No SQL at all in the period: the outcomes are not in yet, and say nothing.
    let finding = if period_sql == 0 {
        None
    } else if accepted < MIN_ACCEPTED {
        Some(Finding::InsufficientSupport)
    } else {
        match (band, at_least_period) {
            (Band::RubberStamping, false) => Some(Finding::RubberStampingConfirmed),
            (Band::RubberStamping, true) => Some(Finding::RubberStampingNotConfirmed),
            (_, true) => Some(Finding::RejectingGoodLeads),
            (_, false) => None,
        }
    };
    Some(BandEvidence {
        sql,
        accepted_to_sql_rate: own,
        period_accepted_to_sql_rate: period,
        finding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(band: Band, accepted: i64, sql: i64) -> Option<Finding> {
        evidence(Some(band), accepted, sql, 100, 30).and_then(|e| e.finding)
    }

    #[test]
    fn findings_follow_the_band_and_the_periods_conversion() {
        assert_eq!(
            finding(Band::RubberStamping, 20, 2),
            Some(Finding::RubberStampingConfirmed)
        );
        assert_eq!(
            finding(Band::RubberStamping, 20, 6),
            Some(Finding::RubberStampingNotConfirmed),
            "exactly the period's rate does not confirm"
        );
        assert_eq!(
            finding(Band::BelowRange, 20, 6),
            Some(Finding::RejectingGoodLeads)
        );
        assert_eq!(finding(Band::BelowRange, 20, 5), None);
        assert_eq!(
            finding(Band::RubberStamping, 9, 0),
            Some(Finding::InsufficientSupport)
        );
        assert!(evidence(Some(Band::Healthy), 50, 1, 100, 30).is_none());
        let silent = evidence(Some(Band::BelowRange), 20, 0, 100, 0).unwrap();
        assert_eq!(silent.finding, None, "no SQL in the period says nothing");
    }
}
