//! Company size and score as bands.

use serde_json::Value;

/// Size bands by their smallest employee count.
const SIZE_BANDS: [(f64, &str); 5] = [
    (5000.0, "5000+"),
    (1000.0, "1000-4999"),
    (200.0, "200-999"),
    (50.0, "50-199"),
    (0.0, "<50"),
];

/// The band of `company.size`: an employee count, or a range text whose lower end decides
/// ("51-200" → `50-199`, "10,001+" → `5000+`, "1k-5k" → `1000-4999`); "<50" or "under 50" is
/// below 50. `None` for anything else (negative, no number).
pub fn size_band(size: &Value) -> Option<&'static str> {
    let n = match size {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => lower_end(s)?,
        _ => return None,
    };
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    SIZE_BANDS
        .iter()
        .find(|(from, _)| n >= *from)
        .map(|(_, band)| *band)
}

/// The first number of a range text (thousands separators and spaces ignored, a `k`
/// multiplies by 1,000); below it when the text starts with `<`, "under" or "less than".
fn lower_end(s: &str) -> Option<f64> {
    let t = s.trim().to_lowercase();
    let below = t.starts_with('<') || t.starts_with("under") || t.starts_with("less than");
    let start = t.find(|c: char| c.is_ascii_digit())?;
    let rest = &t[start..];
    let mut digits = String::new();
    let mut tail = "";
    for (i, c) in rest.char_indices() {
        match c {
            '0'..='9' | '.' => digits.push(c),
            ',' | '_' | '\'' => {}
            ' ' if rest[i..]
                .trim_start()
                .starts_with(|d: char| d.is_ascii_digit()) => {}
            _ => {
                tail = &rest[i..];
                break;
            }
        }
    }
    let mut n: f64 = digits.parse().ok()?;
    if tail.starts_with('k') {
        n *= 1000.0;
    }
    Some(if below { (n - 1.0).max(0.0) } else { n })
}

/// Score bands of 20 points (scores are read on a 0–100 scale).
const SCORE_BANDS: [(f64, &str); 5] = [
    (80.0, "80+"),
    (60.0, "60-79"),
    (40.0, "40-59"),
    (20.0, "20-39"),
    (f64::NEG_INFINITY, "<20"),
];

/// The band of a lead's `score`; `None` for a score that is not a finite number.
pub fn score_band(score: f64) -> Option<&'static str> {
    if !score.is_finite() {
        return None;
    }
    SCORE_BANDS
        .iter()
        .find(|(from, _)| score >= *from)
        .map(|(_, band)| *band)
}
