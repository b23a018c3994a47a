//! Acceptance-model benchmark (docs/api.md §6 "Acceptance model"; bars: training on 1 M cycles
//! < 30 s and < 200 MiB). On the metrics data set (`bench/metrics_seed.rs`: 1,000,000 leads over
//! a year, about 950,000 labelled cycles), one training run as the retrain job makes it: the
//! counts by one GROUP BY, the holdout streamed and scored, the row stored. Memory is the
//! peak of this process's heap during the run (a counting allocator; the counts and the
//! holdout's scores are what it holds) and its VmHWM. Then the cost of one prediction as a lead
//! read computes it (decode the stored features, score, top factors, likely code), timed over
//! a loop.
//!
//! Run: `cargo bench --bench model_train` (env `METRICS_BENCH_LEADS` to resize).

// Shared with the report benchmarks; this one uses the data set, not the HTTP helpers.
#[allow(dead_code)]
mod metrics_seed;

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use metrics_seed::seed;
use salgate::{
    db::model,
    domain::features::FeatureVector,
    service::model::{named, train, ModelSettings, Served, Trained},
};

/// Counts the bytes allocated now and at most since the last reset.
struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = NOW.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        NOW.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

const MIB: f64 = 1024.0 * 1024.0;

const FILL_FEATURES: &str = "\
    UPDATE lead_cycles c SET features = concat_ws(chr(31), \
      'title_seniority=' || (ARRAY['c_level','vp','director','manager','individual','unknown'])[1 + abs(hashtext(c.lead_id::text)) % 6], \
      'title_function=' || CASE WHEN c.outcome = 'rejected' AND abs(hashtext(c.lead_id::text || 'f')) % 3 > 0 THEN 'hr' \
           ELSE (ARRAY['sales','marketing','hr','it','engineering','finance','operations'])[1 + abs(hashtext(c.lead_id::text || 'g')) % 7] END, \
      'company_size=' || (ARRAY['<50','50-199','200-999','1000-4999','5000+','unknown'])[1 + abs(hashtext(c.lead_id::text || 's')) % 6], \
      'country=' || (ARRAY['de','fr','us','gb','in','jp','br','unknown'])[1 + abs(hashtext(c.lead_id::text || 'c')) % 8], \
      'region=' || (ARRAY['emea','amer','apac'])[1 + abs(hashtext(c.lead_id::text || 'r')) % 3], \
      'industry=' || 'industry ' || abs(hashtext(c.lead_id::text || 'i')) % 40, \
      'campaign=' || COALESCE(c.campaign, 'unknown'), 'channel=' || COALESCE(c.channel, 'unknown'), \
      'source=' || c.source, \
      'score_band=' || (ARRAY['<20','20-39','40-59','60-79','80+'])[1 + abs(hashtext(c.lead_id::text || 'b')) % 5], \
      'lead_type=' || c.lead_type); \
    UPDATE leads l SET features = c.features FROM lead_cycles c \
      WHERE c.lead_id = l.id AND c.cycle = l.cycle";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seeded = seed("model").await?;
    let (pool, now) = (&seeded.pool, seeded.now);
    // The shared data set has no titles or companies: give every cycle (and its lead) twelve
    // features in the encoded form ingest stores, derived from its id, one of them (title
    // function) tied to its decision so the model has something to find.
    let t = Instant::now();
    sqlx::raw_sql(FILL_FEATURES).execute(pool).await?;
    for table in ["lead_cycles", "leads"] {
        sqlx::raw_sql(&format!("VACUUM ANALYZE {table}"))
            .execute(pool)
            .await?;
    }
    println!("features filled in {:.1} s", t.elapsed().as_secs_f64());
    let settings = ModelSettings {
        retrain_interval: Duration::from_secs(3600),
        min_cycles: 200,
        min_support: 20,
    };
    let before_hwm = vm_hwm_kib();
    let base = NOW.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let started = Instant::now();
    // The service's own trainer may hold the lock (its first run is a minute after start).
    let trained = loop {
        match train(pool, now, &settings, true).await? {
            Trained::Busy => tokio::time::sleep(Duration::from_millis(200)).await,
            t => break t,
        }
    };
    let took = started.elapsed();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let Trained::Stored {
        cycles, quality, ..
    } = trained
    else {
        anyhow::bail!("nothing was trained: {trained:?}");
    };
    println!();
    println!("| training ({} leads) | figure |", seeded.leads);
    println!("| --- | --- |");
    println!("| labelled cycles | {cycles} |");
    println!("| holdout cycles | {} |", quality.cycles);
    println!("| time | {:.2} s |", took.as_secs_f64());
    println!(
        "| peak heap during the run | {:.1} MiB |",
        peak as f64 / MIB
    );
    println!(
        "| process VmHWM before / after | {:.0} / {:.0} MiB |",
        before_hwm as f64 / 1024.0,
        vm_hwm_kib() as f64 / 1024.0
    );
    println!(
        "| holdout AUC, Brier | {:?}, {:?} |",
        quality.auc, quality.brier
    );

    // One prediction per stored feature vector, as a lead read computes it.
    let row = model::latest(pool).await?.expect("a model was stored");
    let served = Served::from_row(&row);
    let m = served.model.as_ref().expect("ready");
    let vectors: Vec<String> =
        sqlx::query_scalar("SELECT features FROM leads WHERE features IS NOT NULL LIMIT 10000")
            .fetch_all(pool)
            .await?;
    let rounds = 20;
    let t = Instant::now();
    let mut sum = 0.0;
    for _ in 0..rounds {
        for v in &vectors {
            let features = named(&FeatureVector::decode(v));
            let p = m.predict(features.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            sum += p.p_accept;
        }
    }
    let per = t.elapsed().as_secs_f64() / (rounds * vectors.len()) as f64;
    println!(
        "| one prediction (decode, score, factors, code; mean of {}) | {:.1} µs |",
        rounds * vectors.len(),
        per * 1e6
    );
    println!(
        "(mean p_accept {:.3})",
        sum / (rounds * vectors.len()) as f64
    );
    let fit = Instant::now();
    let _ = Served::from_row(&row);
    println!(
        "| refitting the served model from its row | {:.2} ms |",
        fit.elapsed().as_secs_f64() * 1e3
    );
    seeded.stop().await
}
