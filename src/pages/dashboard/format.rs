//! How the dashboard writes figures: rates as whole percents, bands in words, seconds as
//! durations. An absent figure (no data) is a dash.

use crate::domain::metrics::Band;

/// What an absent figure reads as.
pub const NONE: &str = "—";

/// `0.62` → "62 %".
pub fn percent(rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{:.0} %", r * 100.0),
        None => NONE.into(),
    }
}

/// A band in words.
pub fn band(band: Option<Band>) -> &'static str {
    match band {
        Some(Band::BelowRange) => "below range",
        Some(Band::Healthy) => "healthy",
        Some(Band::Elevated) => "elevated",
        Some(Band::RubberStamping) => "rubber-stamping",
        None => "no data",
    }
}

/// The CSS class of a band (its colour; the words carry the meaning too).
pub fn band_class(band: Option<Band>) -> &'static str {
    band.map_or("band-none", |b| match b {
        Band::BelowRange => "band-below_range",
        Band::Healthy => "band-healthy",
        Band::Elevated => "band-elevated",
        Band::RubberStamping => "band-rubber_stamping",
    })
}

/// "62 % — healthy": the acceptance rate with its band, as read at a glance.
pub fn rate_with_band(rate: Option<f64>, b: Option<Band>) -> String {
    match rate {
        Some(_) => format!("{} — {}", percent(rate), band(b)),
        None => NONE.into(),
    }
}

/// Seconds as "45 s", "12 min", "3 h 20 min", "2 d 4 h".
pub fn duration(seconds: Option<f64>) -> String {
    let Some(s) = seconds else {
        return NONE.into();
    };
    let s = s.max(0.0).round() as i64;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        _ if s < 60 => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// A raw figure for a `data-value` attribute: what tests and scripts compare with the API.
pub fn raw(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::metrics::BandLimits;

    #[test]
    fn the_reference_case_reads_62_percent_healthy() {
        // 400 routed, 248 accepted, 152 rejected (the seed's reference case).
        let rate = crate::domain::metrics::rate(248, 400);
        let b = rate.map(|r| BandLimits::default().band(r));
        assert_eq!(rate_with_band(rate, b), "62 % — healthy");
    }

    #[test]
    fn durations_read_in_the_largest_two_units() {
        assert_eq!(duration(Some(42.4)), "42 s");
        assert_eq!(duration(Some(720.0)), "12 min");
        assert_eq!(duration(Some(3.0 * 3600.0 + 1200.0)), "3 h 20 min");
        assert_eq!(duration(Some(7200.0)), "2 h");
        assert_eq!(
            duration(Some(2.0 * 86_400.0 + 4.0 * 3600.0 + 59.0)),
            "2 d 4 h"
        );
        assert_eq!(duration(None), NONE);
    }

    #[test]
    fn no_rate_reads_as_a_dash_not_as_zero() {
        assert_eq!(percent(None), NONE);
        assert_eq!(rate_with_band(None, None), NONE);
        assert_eq!(percent(Some(0.0)), "0 %");
    }
}
