use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::*;
use crate::domain::lead_input::Company;

#[test]
fn titles_as_seniority_and_function() {
    let cases = [
        ("VP Sales", "vp", "sales"),
        ("HR Generalist", "individual", "hr"),
        ("Vice President, Marketing", "vp", "marketing"),
        ("Chief Executive Officer", "c_level", "executive"),
        ("CEO & Founder", "c_level", "executive"),
        ("CTO", "c_level", "engineering"),
        ("Head of People", "director", "hr"),
        ("Director of IT", "director", "it"),
        ("Sales Engineer", "individual", "sales"),
        ("Senior Software Engineer", "individual", "engineering"),
        ("Marketing Operations Manager", "manager", "marketing"),
        ("Finance Manager", "manager", "finance"),
        ("Managing Director", "director", "executive"),
        ("Talent Acquisition Specialist", "individual", "hr"),
        ("SVP, Revenue Operations", "vp", "operations"),
        ("Operations Lead", "manager", "operations"),
        ("Customer Success Manager", "manager", "support"),
        ("General Counsel", "individual", "legal"),
        ("Dentist", "individual", "other"),
    ];
    for (title, level, function_) in cases {
        assert_eq!(seniority(Some(title)), level, "{title}");
        assert_eq!(function(Some(title)), function_, "{title}");
    }
    for none in [None, Some(""), Some("  -- ")] {
        assert_eq!(seniority(none), UNKNOWN);
        assert_eq!(function(none), UNKNOWN);
    }
}

#[test]
fn company_sizes_as_bands() {
    let cases: [(Value, Option<&str>); 16] = [
        (json!(0), Some("<50")),
        (json!(49), Some("<50")),
        (json!(50), Some("50-199")),
        (json!(199), Some("50-199")),
        (json!(200), Some("200-999")),
        (json!(4999), Some("1000-4999")),
        (json!(5000), Some("5000+")),
        (json!("11-50"), Some("<50")),
        (json!("51-200"), Some("50-199")),
        (json!("201 - 500"), Some("200-999")),
        (json!("1,001-5,000"), Some("1000-4999")),
        (json!("10,001+"), Some("5000+")),
        (json!("1k-5k"), Some("1000-4999")),
        (json!("under 50"), Some("<50")),
        (json!("many"), None),
        (json!(-3), None),
    ];
    for (size, band) in cases {
        assert_eq!(size_band(&size), band, "{size}");
    }
    assert_eq!(size_band(&json!("<50")), Some("<50"));
    assert_eq!(size_band(&json!(null)), None);
}

#[test]
fn scores_countries_and_regions() {
    assert_eq!(score_band(19.9), Some("<20"));
    assert_eq!(score_band(-5.0), Some("<20"));
    assert_eq!(score_band(20.0), Some("20-39"));
    assert_eq!(score_band(100.0), Some("80+"));
    assert_eq!(score_band(f64::NAN), None);
    assert_eq!(country(" Germany ").as_deref(), Some("de"));
    assert_eq!(country("DE").as_deref(), Some("de"));
    assert_eq!(country("United  States").as_deref(), Some("us"));
    assert_eq!(country("Atlantis").as_deref(), Some("atlantis"));
    assert_eq!(country("  "), None);
    assert_eq!(region("de"), Some("emea"));
    assert_eq!(region("atlantis"), None);
}

fn company(size: Value, country: &str, industry: &str) -> Company {
    Company {
        size: Some(size),
        country: Some(country.into()),
        industry: Some(industry.into()),
        ..Company::default()
    }
}

#[test]
fn a_lead_has_one_value_per_dimension_and_configured_key() {
    let c = company(json!(40), "Germany", "  Computer   SOFTWARE ");
    let mut attrs = Map::new();
    attrs.insert("plan".into(), json!("Free Trial"));
    attrs.insert("seats".into(), json!(3));
    attrs.insert("ignored".into(), json!("x"));
    let inputs = LeadInputs {
        title: Some("VP Sales"),
        company: Some(&c),
        campaign: Some("spring-24"),
        channel: None,
        source: "hubspot",
        score: Some(72.0),
        lead_type: "demo_request",
        attributes: Some(&attrs),
    };
    let keys = ["plan".to_string(), "seats".into(), "missing".into()];
    let v = extract(&inputs, &keys);
    let got: Vec<String> = v.iter().map(Feature::describe).collect();
    assert_eq!(
        got,
        [
            "title seniority = vp",
            "title function = sales",
            "company size = <50",
            "country = de",
            "region = emea",
            "industry = computer software",
            "campaign = spring-24",
            "channel = unknown",
            "source = hubspot",
            "score band = 60-79",
            "lead type = demo_request",
            "attribute plan = free trial",
            "attribute seats = 3",
            "attribute missing = unknown",
        ]
    );
    assert_eq!(FeatureVector::decode(&v.encode()), v);
    // A region given wins over the country's.
    let c = Company {
        region: Some("DACH".into()),
        ..company(json!("51-200"), "de", "x")
    };
    let v = extract(
        &LeadInputs {
            company: Some(&c),
            ..inputs
        },
        &[],
    );
    assert_eq!(v.0[4], Feature::new(Dimension::Region, "dach"));
    assert_eq!(v.0.len(), Dimension::FIXED.len());
}

#[test]
fn attribute_keys_setting() {
    assert_eq!(
        parse_attribute_keys(" plan, seats ,,plan").unwrap(),
        ["plan", "seats"]
    );
    assert!(parse_attribute_keys("").unwrap().is_empty());
    assert!(parse_attribute_keys("Plan").is_err());
    assert!(parse_attribute_keys("a=b").is_err());
}

#[test]
fn decode_skips_unknown_entries() {
    let v = FeatureVector::decode("source=a\u{1f}future=1\u{1f}noequals\u{1f}attribute=x");
    assert_eq!(v.0, [Feature::new(Dimension::Source, "a")]);
    assert_eq!(FeatureVector::decode(""), FeatureVector::default());
}

fn any_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,30}".prop_map(Value::from),
        Just(json!({"a": 1})),
    ]
}

proptest! {
    #[test]
    fn any_inputs_give_a_full_vector_that_round_trips(
        title in proptest::option::of(".{0,60}"),
        size in any_json(),
        country_ in proptest::option::of(".{0,20}"),
        region_ in proptest::option::of(".{0,20}"),
        industry in proptest::option::of(".{0,40}"),
        campaign in proptest::option::of(".{0,30}"),
        source in ".{0,20}",
        score in proptest::option::of(any::<f64>()),
        attr in any_json(),
    ) {
        let c = Company {
            size: Some(size),
            country: country_,
            region: region_,
            industry,
            ..Company::default()
        };
        let mut attrs = Map::new();
        attrs.insert("k".into(), attr);
        let inputs = LeadInputs {
            title: title.as_deref(),
            company: Some(&c),
            campaign: campaign.as_deref(),
            channel: None,
            source: &source,
            score,
            lead_type: "t",
            attributes: Some(&attrs),
        };
        let v = extract(&inputs, &["k".to_string()]);
        prop_assert_eq!(v.0.len(), Dimension::FIXED.len() + 1);
        for (f, d) in v.iter().zip(Dimension::ALL) {
            prop_assert_eq!(f.dimension, d);
            prop_assert!(!f.value.is_empty());
            prop_assert!(f.value.chars().count() <= MAX_VALUE_CHARS);
            prop_assert!(!f.value.chars().any(char::is_control));
        }
        prop_assert_eq!(FeatureVector::decode(&v.encode()), v);
    }

    #[test]
    fn folding_is_idempotent(s in ".{0,120}") {
        if let Some(once) = fold(&s) {
            prop_assert_eq!(fold(&once), Some(once.clone()));
            prop_assert_eq!(once.to_lowercase(), once);
        }
    }

    #[test]
    fn size_bands_rise_with_the_count(a in 0u32..20_000, b in 0u32..20_000) {
        let order = |n: u32| SIZE_ORDER.iter().position(|x| Some(*x) == size_band(&json!(n)));
        let (lo, hi) = (a.min(b), a.max(b));
        prop_assert!(order(lo) <= order(hi));
        prop_assert_eq!(size_band(&json!(lo.to_string())), size_band(&json!(lo)));
    }
}

const SIZE_ORDER: [&str; 5] = ["<50", "50-199", "200-999", "1000-4999", "5000+"];
