use super::*;

#[test]
fn wilson_bounds_match_hand_computed_values() {
    // 3 of 10: p = 0.3, z² = 3.8415; centre (0.3 + 0.19207) / 1.38415 = 0.35551, half
    // 1.95996 / 1.38415 · √(0.021 + 0.0096037) = 0.24772.
    let (low, high) = wilson(3, 10, Z95).unwrap();
    assert!((low - 0.10779).abs() < 1e-4, "{low}");
    assert!((high - 0.60322).abs() < 1e-4, "{high}");
    // 0 of 10 and 10 of 10: one end on the boundary, the other z² / (n + z²) from it.
    let (low, high) = wilson(0, 10, Z95).unwrap();
    assert_eq!(low, 0.0);
    assert!((high - 0.27753).abs() < 1e-4, "{high}");
    let (low, high) = wilson(10, 10, Z95).unwrap();
    assert!((low - 0.72247).abs() < 1e-4, "{low}");
    assert!((high - 1.0).abs() < 1e-12);
    // 50 of 100: symmetric about 0.5, half 0.0962.
    let (low, high) = wilson(50, 100, Z95).unwrap();
    assert!((low - 0.40383).abs() < 1e-4 && (high - 0.59617).abs() < 1e-4);
    assert_eq!(wilson(0, 0, Z95), None);
}

type Cell = (&'static str, bool, Option<&'static str>, i64);

fn cell(features: &'static str, rejected: bool, code: Option<&'static str>, cycles: i64) -> Cell {
    (features, rejected, code, cycles)
}

fn drivers(cells: &[Cell], min_support: i64) -> Drivers {
    let mut c = Counter::new();
    for (features, rejected, code, cycles) in cells {
        c.add(&features.replace(';', "\u{1f}"), *rejected, *code, *cycles);
    }
    c.finish(min_support)
}

/// 200 cycles, 60 rejected (rate 0.3). hr: 50 cycles, 40 rejected; size <50: 50 cycles,
/// 30 rejected, 10 of them also hr; sales everything else.
fn cells() -> Vec<Cell> {
    vec![
        cell(
            "title_function=hr;company_size=<50",
            true,
            Some("out_of_icp"),
            10,
        ),
        cell(
            "title_function=hr;company_size=50-199",
            true,
            Some("title_mismatch"),
            25,
        ),
        cell(
            "title_function=hr;company_size=50-199",
            true,
            Some("no_budget"),
            5,
        ),
        cell("title_function=hr;company_size=50-199", false, None, 10),
        cell(
            "title_function=sales;company_size=<50",
            true,
            Some("out_of_icp"),
            20,
        ),
        cell("title_function=sales;company_size=<50", false, None, 20),
        cell("title_function=sales;company_size=50-199", false, None, 105),
        cell(
            "title_function=sales;company_size=50-199",
            true,
            Some("no_budget"),
            5,
        ),
        // Under the support: 4 cycles.
        cell("title_function=it;company_size=50-199", false, None, 4),
    ]
}

#[test]
fn figures_per_value_and_the_union_share() {
    let d = drivers(&cells(), 30);
    assert_eq!(d.total.cycles, 204);
    assert_eq!(d.total.rejected, 65);
    let function = &d.dimensions[0];
    assert_eq!(function.dimension, Dimension::TitleFunction);
    assert_eq!(function.suppressed, 1, "it has 4 cycles");
    let hr = &function.values[0];
    assert_eq!((hr.value.as_str(), hr.cycles, hr.rejected), ("hr", 50, 40));
    assert_eq!(hr.rejection_rate, Some(0.8));
    // lift 0.8 / (65 / 204) = 2.5108; share 40 / 65 = 0.6154.
    assert_eq!(hr.lift, Some(2.5108));
    assert_eq!(hr.share, Some(0.6154));
    assert_eq!(
        hr.codes,
        [
            CodeCount {
                code: "title_mismatch".into(),
                count: 25
            },
            CodeCount {
                code: "out_of_icp".into(),
                count: 10
            },
            CodeCount {
                code: "no_budget".into(),
                count: 5
            },
        ]
    );
    let size = &d.dimensions[1];
    assert_eq!(size.dimension, Dimension::CompanySize);
    // 50-199: 154 cycles, 35 rejected, before <50 (30 rejected).
    assert_eq!(size.values[0].value, "50-199");
    assert_eq!((size.values[1].cycles, size.values[1].rejected), (50, 30));
    assert_eq!(size.values[1].value, "<50");
    // hr ∪ <50: 40 + 20 (the <50 rejections not hr) = 60 of 65, not 40 + 30.
    let s = d.summary.unwrap();
    assert_eq!(
        s.features,
        [
            Feature::new(Dimension::TitleFunction, "hr"),
            Feature::new(Dimension::CompanySize, "<50")
        ]
    );
    assert_eq!(s.rejected, 60);
    assert_eq!(s.share, Some(0.9231));
    assert_eq!(
        s.text,
        "title function = hr and company size = <50 explain 92 % of rejections"
    );
}

#[test]
fn nothing_above_the_period_gives_no_summary() {
    let even = vec![
        cell("source=a", true, Some("x"), 30),
        cell("source=a", false, None, 70),
        cell("source=b", true, Some("x"), 30),
        cell("source=b", false, None, 70),
    ];
    let d = drivers(&even, 30);
    assert_eq!(d.summary, None);
    assert_eq!(d.dimensions[0].values.len(), 2);
    assert_eq!(d.dimensions[0].values[0].lift, Some(1.0));
    let none = drivers(&[], 30);
    assert_eq!(none.total, Totals::default());
    assert!(none.dimensions.is_empty() && none.summary.is_none());
}
