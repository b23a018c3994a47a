//! Property: for random lead histories driven through the real API and scanner, every report
//! equals a straightforward recomputation from the raw history log (`lead_history`), done here
//! in Rust without `lead_cycles`.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::{
    collection::vec,
    prelude::*,
    test_runner::{Config, FileFailurePersistence},
};
use salgate::{
    clock::ManualClock,
    domain::Role,
    jobs::{cycle_compactor::CycleCompactor, sla_scanner::SlaScanner},
};
use serde_json::{json, Value};
use sqlx::Row;

use crate::{
    helpers::{lead, spawn_app, TestApp},
    metrics::{report, t},
};

const LEAD_TYPES: [&str; 2] = ["demo_request", "content_download"];
const CAMPAIGNS: [&str; 2] = ["spring", "fall"];
const CODES: [&str; 3] = ["out_of_icp", "no_budget", "duplicate"];
const REASONS: [&str; 2] = ["not_ready", "no_response"];
/// Companies of the leads (name, domain): a domain account, a name account.
const COMPANIES: [(&str, Option<&str>); 2] = [("Acme", Some("acme.io")), ("Globex Inc.", None)];

#[derive(Debug, Clone)]
enum Step {
    Accept,
    Reject(usize),
    /// Rejected by an ingest rule: its history actor is `rule:<id>`.
    RuleReject(usize),
    Recycle(usize),
    Touch,
    Reingest,
    Wait(i64),
    Scan,
    /// Compact every hour now: later changes to compacted hours must mark them again.
    Compact,
}

#[derive(Debug, Clone)]
struct Script {
    /// Compact every hour after this script.
    compact_after: bool,
    start_min: i64,
    lead_type: usize,
    campaign: Option<usize>,
    company: Option<usize>,
    steps: Vec<Step>,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Accept),
        2 => (0..CODES.len()).prop_map(Step::Reject),
        1 => (0..CODES.len()).prop_map(Step::RuleReject),
        1 => (0..REASONS.len()).prop_map(Step::Recycle),
        2 => Just(Step::Touch),
        2 => Just(Step::Reingest),
        4 => (1i64..600).prop_map(Step::Wait),
        2 => Just(Step::Scan),
        2 => Just(Step::Compact),
    ]
}

fn script() -> impl Strategy<Value = Script> {
    (
        0i64..(4 * 24 * 60),
        0..LEAD_TYPES.len(),
        proptest::option::of(0..CAMPAIGNS.len()),
        vec(step(), 0..10),
        proptest::bool::weighted(0.3),
        proptest::option::of(0..COMPANIES.len()),
    )
        .prop_map(
            |(start_min, lead_type, campaign, steps, compact_after, company)| Script {
                compact_after,
                start_min,
                lead_type,
                campaign,
                company,
                steps,
            },
        )
}

/// Plays the scripts through the API; every answer must be a success or a 409.
async fn play(app: &TestApp, source: &str, base: DateTime<Utc>, scripts: &[Script]) {
    let ingest = app.key(Role::Ingest, None).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let scanner = SlaScanner::new(app.pool.clone(), Arc::new(app.clock.clone()));
    // Compacts every hour up to well after the last step, the current one included (the
    // running compactor leaves the current hour alone; here it must not matter): every later
    // change then has to mark its hour again.
    let ahead = ManualClock::new(base + Duration::days(30));
    let compactor = CycleCompactor::new(app.pool.clone(), Arc::new(ahead));
    for (i, s) in scripts.iter().enumerate() {
        app.clock.set(base + Duration::minutes(s.start_min));
        let mut body = lead(&format!("{source}-{i}"));
        body["source"] = json!(source);
        body["lead_type"] = json!(LEAD_TYPES[s.lead_type]);
        body["campaign"] = json!(s.campaign.map(|c| CAMPAIGNS[c]));
        // A free-mail address: the company alone decides the account (none without one).
        body["email"] = json!("ada@gmail.com");
        body["company"] = match s.company.map(|c| COMPANIES[c]) {
            Some((name, domain)) => json!({"name": name, "domain": domain}),
            None => json!({}),
        };
        let res = app.post("/v1/leads", &ingest, &body).await;
        assert_eq!(res.status(), 201);
        let id = res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        for step in &s.steps {
            let res = match step {
                Step::Wait(m) => {
                    app.clock.advance(Duration::minutes(*m));
                    continue;
                }
                Step::Scan => {
                    scanner.run_once().await.unwrap();
                    continue;
                }
                Step::Compact => {
                    compactor.drain(&Default::default()).await.unwrap();
                    continue;
                }
                Step::Accept => app.decide(&id, "accept", &sdr, &json!({})).await,
                Step::Reject(c) => {
                    app.decide(&id, "reject", &sdr, &json!({"code": CODES[*c]}))
                        .await
                }
                Step::RuleReject(c) => {
                    crate::accounts::reject_by_rule(app, &id, CODES[*c], "r1").await;
                    continue;
                }
                Step::Recycle(r) => {
                    let body = json!({"reason": REASONS[*r], "note": "back to nurture"});
                    app.decide(&id, "recycle", &sdr, &body).await
                }
                Step::Touch => {
                    app.post(
                        &format!("/v1/leads/{id}/touches"),
                        &sdr,
                        &json!({"channel": "call"}),
                    )
                    .await
                }
                Step::Reingest => app.post("/v1/leads", &ingest, &body).await,
            };
            let status = res.status().as_u16();
            assert!(
                matches!(status, 200 | 201 | 409),
                "{step:?} answered {status}: {}",
                res.text().await.unwrap()
            );
        }
        if s.compact_after {
            compactor.drain(&Default::default()).await.unwrap();
        }
    }
}

/// One cycle, rebuilt from its history entries.
#[derive(Debug, Default, Clone)]
struct Cycle {
    lead: String,
    cycle: i32,
    routed_at: DateTime<Utc>,
    campaign: Option<String>,
    due: Option<DateTime<Utc>>,
    outcome: Option<String>,
    decided_at: Option<DateTime<Utc>>,
    within_sla: bool,
    code: Option<String>,
    recycle_reason: Option<String>,
    breached: bool,
    first_touch_due: Option<DateTime<Utc>>,
    first_touch: Option<DateTime<Utc>>,
    /// The gate decision's actor was a rule.
    by_rule: bool,
    account: Option<String>,
}

async fn cycles_from_log(app: &TestApp, source: &str) -> Vec<Cycle> {
    let rows = sqlx::query(
        "SELECT h.lead_id::text AS lead, h.cycle, h.kind, h.from_state, h.code, h.data, \
         h.occurred_at, h.actor FROM lead_history h JOIN leads l ON l.id = h.lead_id \
         WHERE l.source = $1 ORDER BY h.id",
    )
    .bind(source)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let mut cycles: BTreeMap<(String, i32), Cycle> = BTreeMap::new();
    for r in rows {
        let lead: String = r.get("lead");
        let cycle: i32 = r.get("cycle");
        let kind: String = r.get("kind");
        let from: Option<String> = r.get("from_state");
        let code: Option<String> = r.get("code");
        let data: Value = r.get::<Option<Value>, _>("data").unwrap_or(Value::Null);
        let at: DateTime<Utc> = r.get("occurred_at");
        let actor: String = r.get("actor");
        let time = |k: &str| {
            data[k]
                .as_str()
                .map(|s| s.parse::<DateTime<Utc>>().unwrap())
        };
        if kind == "routed" {
            cycles.insert(
                (lead.clone(), cycle),
                Cycle {
                    lead: lead.clone(),
                    cycle,
                    routed_at: at,
                    campaign: data["campaign"].as_str().map(String::from),
                    due: time("sla_due_at"),
                    account: data["account_id"].as_str().map(String::from),
                    ..Cycle::default()
                },
            );
            continue;
        }
        let c = cycles.get_mut(&(lead, cycle)).expect("routed comes first");
        let gate = from.as_deref() == Some("routed");
        match kind.as_str() {
            "accepted" | "rejected" | "recycled" if gate => {
                c.outcome = Some(kind.clone());
                c.decided_at = Some(at);
                c.by_rule = actor.starts_with("rule:");
                c.within_sla = kind == "accepted" && c.due.is_some_and(|d| at <= d);
                if kind == "accepted" {
                    c.first_touch_due = time("first_touch_due_at");
                }
                if kind == "rejected" {
                    c.code = code.clone();
                }
            }
            _ => {}
        }
        match kind.as_str() {
            "recycled" => c.recycle_reason = code,
            "sla_breached" => c.breached = true,
            "touched" if data["first"] == true && c.first_touch.is_none() => {
                c.first_touch = Some(at)
            }
            _ => {}
        }
    }
    cycles.into_values().collect()
}

fn seconds(later: DateTime<Utc>, earlier: DateTime<Utc>) -> f64 {
    (later - earlier).num_microseconds().unwrap() as f64 / 1e6
}

// docs/api.md §6's figures in plain code of their own (not the product's metrics functions): rates in
// whole basis points, so rounding, bands and trends are integer comparisons.

/// `num / den` in basis points, rounded half up; none for an empty group.
fn rate_bp(num: i64, den: i64) -> Option<i64> {
    (den > 0).then(|| (2 * 10_000 * num + den) / (2 * den))
}

/// A rate in [0, 1] rounded to 4 places.
fn rate(num: i64, den: i64) -> Option<f64> {
    rate_bp(num, den).map(|bp| bp as f64 / 10_000.0)
}

/// PostgreSQL's `percentile_disc(tenths / 10)`: the first value, in ascending order, whose
/// position (from 1) reaches that fraction of the values.
fn percentile(sorted: &[f64], tenths: usize) -> Option<f64> {
    let n = sorted.len();
    (1..=n)
        .find(|i| i * 10 >= tenths * n)
        .map(|i| sorted[i - 1])
}

fn percentiles(mut v: Vec<f64>) -> Value {
    v.sort_by(f64::total_cmp);
    json!({"p50": percentile(&v, 5), "p90": percentile(&v, 9)})
}

/// The acceptance band at the default limits: < 60 %, 60-75 %, 75-85 %, > 85 %.
fn band(bp: i64) -> &'static str {
    match bp {
        ..6_000 => "below_range",
        6_000..7_500 => "healthy",
        7_500..=8_500 => "elevated",
        _ => "rubber_stamping",
    }
}

fn acceptance(cs: &[&Cycle]) -> Value {
    let n = cs.len() as i64;
    let count = |o: &str| {
        cs.iter()
            .filter(|c| c.outcome.as_deref() == Some(o))
            .count() as i64
    };
    let accepted = count("accepted");
    let within = cs.iter().filter(|c| c.within_sla).count() as i64;
    let acceptance_rate = rate(accepted, n);
    let band = rate_bp(accepted, n).map(band);
    json!({
        "routed": n, "accepted": accepted, "rejected": count("rejected"),
        "recycled": count("recycled"),
        "open": cs.iter().filter(|c| c.outcome.is_none()).count(),
        "accepted_within_sla": within, "acceptance_rate": acceptance_rate,
        "accepted_within_sla_rate": rate(within, n),
        "time_to_decision": percentiles(
            cs.iter().filter_map(|c| c.decided_at.map(|d| seconds(d, c.routed_at))).collect()),
        "band": band,
    })
}

fn sla(cs: &[&Cycle], now: DateTime<Utc>) -> Value {
    let n = cs.len() as i64;
    let breached = cs.iter().filter(|c| c.breached).count() as i64;
    let met = cs
        .iter()
        .filter(|c| matches!((c.first_touch, c.first_touch_due), (Some(t), Some(d)) if t <= d))
        .count() as i64;
    let missed = cs
        .iter()
        .filter(|c| match (c.first_touch, c.first_touch_due) {
            (Some(t), Some(d)) => t > d,
            (None, Some(d)) => d <= now,
            _ => false,
        })
        .count() as i64;
    json!({
        "routed": n, "breached": breached, "breach_rate": rate(breached, n),
        "open_past_due": cs.iter()
            .filter(|c| c.outcome.is_none() && c.due.is_some_and(|d| d <= now)).count(),
        "first_touch_met": met, "first_touch_missed": missed,
        "first_touch_compliance_rate": rate(met, met + missed),
        "time_to_first_touch": percentiles(
            cs.iter().filter_map(|c| c.first_touch.map(|t| seconds(t, c.routed_at))).collect()),
    })
}

fn recycling(cs: &[&Cycle], all: &[Cycle]) -> Value {
    let recycled: Vec<&&Cycle> = cs.iter().filter(|c| c.recycle_reason.is_some()).collect();
    let later = |c: &Cycle, accepted: bool| {
        all.iter().any(|n| {
            n.lead == c.lead
                && n.cycle > c.cycle
                && (!accepted || n.outcome.as_deref() == Some("accepted"))
        })
    };
    let r = recycled.len() as i64;
    let rerouted = recycled.iter().filter(|c| later(c, false)).count() as i64;
    let accepted_later = recycled.iter().filter(|c| later(c, true)).count() as i64;
    let mut reasons: BTreeMap<String, i64> = BTreeMap::new();
    for c in &recycled {
        *reasons
            .entry(c.recycle_reason.clone().unwrap())
            .or_default() += 1;
    }
    let mut reasons: Vec<(String, i64)> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    json!({
        "routed": cs.len(), "recycled": r, "recycle_rate": rate(r, cs.len() as i64),
        "rerouted": rerouted, "accepted_later": accepted_later,
        "reroute_rate": rate(rerouted, r), "recycle_conversion_rate": rate(accepted_later, r),
        "reasons": reasons.iter()
            .map(|(reason, count)| json!({"reason": reason, "count": count, "share": rate(*count, r)}))
            .collect::<Vec<_>>(),
    })
}

fn rejection_codes(cs: &[&Cycle]) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for c in cs
        .iter()
        .filter(|c| c.outcome.as_deref() == Some("rejected"))
    {
        *m.entry(c.code.clone().unwrap()).or_default() += 1;
    }
    m
}

fn rejections(now: &BTreeMap<String, i64>, before: &BTreeMap<String, i64>) -> Value {
    let total: i64 = now.values().sum();
    let prev: i64 = before.values().sum();
    let codes: BTreeSet<&String> = now.keys().chain(before.keys()).collect();
    let mut rows: Vec<(i64, String, Value)> = codes
        .into_iter()
        .map(|code| {
            let count = now.get(code).copied().unwrap_or(0);
            let before = before.get(code).copied().unwrap_or(0);
            // Flagged when its share rose by 10 points or more (no previous rejections: no).
            let rising = match (rate_bp(before, prev), rate_bp(count, total)) {
                (Some(p), Some(c)) => c - p >= 1_000,
                _ => false,
            };
            let row = json!({"code": code, "count": count, "share": rate(count, total),
                "previous_share": rate(before, prev), "rising": rising});
            (count, code.clone(), row)
        })
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    json!({"rejections": total, "previous_rejections": prev,
           "codes": rows.into_iter().map(|r| r.2).collect::<Vec<_>>()})
}

fn within(all: &[Cycle], from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<&Cycle> {
    all.iter()
        .filter(|c| c.routed_at >= from && c.routed_at < to)
        .collect()
}

/// Groups `cs` by campaign in report order (null last).
fn by_campaign<'a>(cs: &[&'a Cycle]) -> Vec<(Option<String>, Vec<&'a Cycle>)> {
    let keys: BTreeSet<Option<String>> = cs.iter().map(|c| c.campaign.clone()).collect();
    let (nulls, mut keys): (Vec<_>, Vec<_>) = keys.into_iter().partition(Option::is_none);
    keys.extend(nulls);
    keys.into_iter()
        .map(|k| {
            let members = cs.iter().copied().filter(|c| c.campaign == k).collect();
            (k, members)
        })
        .collect()
}

/// Groups `cs` by `key` in report order (null last).
fn grouped<'a>(
    cs: &[&'a Cycle],
    key: impl Fn(&Cycle) -> Option<String>,
) -> Vec<(Option<String>, Vec<&'a Cycle>)> {
    let keys: BTreeSet<Option<String>> = cs.iter().map(|c| key(c)).collect();
    let (nulls, mut keys): (Vec<_>, Vec<_>) = keys.into_iter().partition(Option::is_none);
    keys.extend(nulls);
    keys.into_iter()
        .map(|k| {
            let members = cs.iter().copied().filter(|c| key(c) == k).collect();
            (k, members)
        })
        .collect()
}

fn decided_by(c: &Cycle) -> Option<String> {
    Some(if c.by_rule { "rule" } else { "person" }.to_owned())
}

/// An acceptance report without its groups' `band_evidence`: it comes from downstream
/// outcomes, which these histories have none of (`tests/api/funnel.rs` checks it).
fn without_band_evidence(mut report: Value) -> Value {
    for g in report["groups"].as_array_mut().into_iter().flatten() {
        g.as_object_mut().map(|g| g.remove("band_evidence"));
    }
    report
}

fn with_key(key: Option<String>, mut figures: Value) -> Value {
    figures["key"] = json!(key);
    figures
}

proptest! {
    // Each case is a database and a few hundred requests: few cases, a bounded shrink, and the
    // failures kept under proptest-regressions/ to be replayed first.
    #![proptest_config(Config {
        cases: 24,
        max_shrink_iters: 64,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/api/metrics_log.txt",
        ))),
        ..Config::default()
    })]
    #[test]
    fn every_report_equals_a_recomputation_from_the_history_log(scripts in vec(script(), 1..10)) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(check_reports(&scripts));
    }
}

/// Plays `scripts` on a database of their own and checks every report against the log.
async fn check_reports(scripts: &[Script]) {
    let base = t("2026-03-02T00:00:00Z");
    // A database per case: the unfiltered acceptance report (compacted hours) covers
    // exactly this case's leads.
    let app = spawn_app().await;
    let source = "prop".to_string();
    play(&app, &source, base, scripts).await;
    // A last scan flags every deadline that passed, as the running service would have.
    let now = base + Duration::days(5);
    app.clock.set(now);
    SlaScanner::new(app.pool.clone(), Arc::new(app.clock.clone()))
        .run_once()
        .await
        .unwrap();
    let all = cycles_from_log(&app, &source).await;
    let (from, to) = (base + Duration::days(2), base + Duration::days(4));
    let day = |d: i64| base + Duration::days(d);
    let cs = within(&all, from, to);
    let days = [within(&all, day(2), day(3)), within(&all, day(3), day(4))];
    let q = |path: &str, extra: &str| {
        format!("/v1/metrics/{path}?from=2026-03-04&to=2026-03-06&source={source}{extra}")
    };
    let ctx = format!("{scripts:?}");

    let r = report(&app, &q("acceptance", "")).await;
    assert_eq!(r["total"], acceptance(&cs), "{ctx}");
    let r = without_band_evidence(report(&app, &q("acceptance", "&group_by=day")).await);
    let expected: Vec<Value> = days
        .iter()
        .zip(["2026-03-04", "2026-03-05"])
        .map(|(d, k)| with_key(Some(k.into()), acceptance(d)))
        .collect();
    assert_eq!(r["groups"], json!(expected), "{ctx}");
    // Unfiltered: served from compacted hours where the compactor ran, raw elsewhere.
    let unfiltered = "/v1/metrics/acceptance?from=2026-03-04&to=2026-03-06";
    let r = without_band_evidence(report(&app, &format!("{unfiltered}&group_by=day")).await);
    assert_eq!(r["total"], acceptance(&cs), "{ctx}");
    let expected: Vec<Value> = days
        .iter()
        .zip(["2026-03-04", "2026-03-05"])
        .map(|(d, k)| with_key(Some(k.into()), acceptance(d)))
        .collect();
    assert_eq!(r["groups"], json!(expected), "{ctx}");
    let r = report(
        &app,
        "/v1/metrics/acceptance?from=2026-03-03T22:30:00Z&to=2026-03-05T01:15:00Z",
    )
    .await;
    let odd = within(&all, t("2026-03-03T22:30:00Z"), t("2026-03-05T01:15:00Z"));
    assert_eq!(r["total"], acceptance(&odd), "{ctx}");
    let r = without_band_evidence(report(&app, &q("acceptance", "&group_by=campaign")).await);
    let expected: Vec<Value> = by_campaign(&cs)
        .into_iter()
        .map(|(k, g)| with_key(k, acceptance(&g)))
        .collect();
    assert_eq!(r["groups"], json!(expected), "{ctx}");

    // Who decided: a rule's decisions apart from people's (open cycles are people's), from
    // blocks (the flag) and raw cycles alike.
    for (by, rule) in [("person", false), ("rule", true)] {
        let r = report(&app, &q("acceptance", &format!("&decided_by={by}"))).await;
        let mine: Vec<&Cycle> = cs.iter().copied().filter(|c| c.by_rule == rule).collect();
        assert_eq!(r["total"], acceptance(&mine), "{by} {ctx}");
        let r = report(&app, &format!("{unfiltered}&decided_by={by}&group_by=day")).await;
        assert_eq!(r["total"], acceptance(&mine), "{by} {ctx}");
    }
    for (group, key) in [
        (
            "decided_by",
            &decided_by as &dyn Fn(&Cycle) -> Option<String>,
        ),
        ("account", &|c: &Cycle| c.account.clone()),
    ] {
        let r =
            without_band_evidence(report(&app, &format!("{unfiltered}&group_by={group}")).await);
        let expected: Vec<Value> = grouped(&cs, key)
            .into_iter()
            .map(|(k, g)| with_key(k, acceptance(&g)))
            .collect();
        assert_eq!(r["groups"], json!(expected), "{group} {ctx}");
    }
    for (account, members) in grouped(&cs, |c| c.account.clone()) {
        let Some(account) = account else { continue };
        let r = report(&app, &q("sla", &format!("&account={account}"))).await;
        assert_eq!(r["total"], sla(&members, now), "{account} {ctx}");
    }

    let r = report(&app, &q("sla", "&group_by=day")).await;
    assert_eq!(r["total"], sla(&cs, now), "{ctx}");
    let expected: Vec<Value> = days
        .iter()
        .zip(["2026-03-04", "2026-03-05"])
        .map(|(d, k)| with_key(Some(k.into()), sla(d, now)))
        .collect();
    assert_eq!(r["groups"], json!(expected), "{ctx}");

    let r = report(&app, &q("recycling", "&group_by=campaign")).await;
    assert_eq!(r["total"], recycling(&cs, &all), "{ctx}");
    let expected: Vec<Value> = by_campaign(&cs)
        .into_iter()
        .map(|(k, g)| with_key(k, recycling(&g, &all)))
        .collect();
    assert_eq!(r["groups"], json!(expected), "{ctx}");

    // Zones whose midnight is not on a UTC hour (:30 and :45): the local days, from blocks
    // whose hours hold a local midnight as well as from whole ones.
    for tz in [chrono_tz::Asia::Kolkata, chrono_tz::Asia::Kathmandu] {
        let local = |d: u32| {
            tz.with_ymd_and_hms(2026, 3, d, 0, 0, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        let days = [
            within(&all, local(4), local(5)),
            within(&all, local(5), local(6)),
        ];
        let zone = format!("&group_by=day&tz={}", tz.name());
        let keys = ["2026-03-04", "2026-03-05"];
        let r = without_band_evidence(report(&app, &q("acceptance", &zone)).await);
        let expected: Vec<Value> = days
            .iter()
            .zip(keys)
            .map(|(d, k)| with_key(Some(k.into()), acceptance(d)))
            .collect();
        assert_eq!(r["groups"], json!(expected), "{tz} {ctx}");
        let r = report(&app, &q("sla", &zone)).await;
        let expected: Vec<Value> = days
            .iter()
            .zip(keys)
            .map(|(d, k)| with_key(Some(k.into()), sla(d, now)))
            .collect();
        assert_eq!(r["groups"], json!(expected), "{tz} {ctx}");
        let r = report(&app, &q("recycling", &zone)).await;
        let whole = within(&all, local(4), local(6));
        assert_eq!(r["total"], recycling(&whole, &all), "{tz} {ctx}");
    }
    // Filters on top of blocks: one campaign, grouped by day.
    let spring: Vec<&Cycle> = cs
        .iter()
        .copied()
        .filter(|c| c.campaign.as_deref() == Some("spring"))
        .collect();
    let r = without_band_evidence(
        report(&app, &q("acceptance", "&campaign=spring&group_by=day")).await,
    );
    assert_eq!(r["total"], acceptance(&spring), "{ctx}");
    let r = report(&app, &q("sla", "&campaign=spring")).await;
    assert_eq!(r["total"], sla(&spring, now), "{ctx}");

    // The dashboard's past-due list: the open cycles past their due time, longest overdue
    // first, at most the limit (3 here, so the cut is exercised too).
    let req = salgate::service::metrics::ReportRequest {
        scope: salgate::db::metrics::Scope {
            from,
            to,
            tz: chrono_tz::UTC,
            source: Some(source.clone()),
            campaign: None,
            channel: None,
            lead_type: None,
            queue: None,
            owner: None,
            account: None,
            decided_by: None,
        },
        group: None,
    };
    let listed: Vec<(String, DateTime<Utc>)> =
        salgate::service::metrics::past_due(&app.pool, &req, now, 3)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.lead_id.to_string(), r.sla_due_at))
            .collect();
    let mut expected: Vec<(String, DateTime<Utc>)> = cs
        .iter()
        .filter(|c| c.outcome.is_none())
        .filter_map(|c| c.due.filter(|d| *d <= now).map(|d| (c.lead.clone(), d)))
        .collect();
    expected.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    expected.truncate(3);
    assert_eq!(listed, expected, "{ctx}");

    // Rejections: the total against the two days before; day 2 against day 1, and day 1
    // against the day before the period.
    let r = report(&app, &q("rejections", "&group_by=day")).await;
    let before = within(&all, base, from);
    assert_eq!(
        r["total"],
        rejections(&rejection_codes(&cs), &rejection_codes(&before)),
        "{ctx}"
    );
    let lead_in = within(&all, day(1), day(2));
    let expected = json!([
        with_key(
            Some("2026-03-04".into()),
            rejections(&rejection_codes(&days[0]), &rejection_codes(&lead_in))
        ),
        with_key(
            Some("2026-03-05".into()),
            rejections(&rejection_codes(&days[1]), &rejection_codes(&days[0]))
        ),
    ]);
    assert_eq!(r["groups"], expected, "{ctx}");
}
