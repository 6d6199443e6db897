//! Detection throughput: 100,000 synthetic products listed in all five markets, prices
//! scattered ±30 % around a base so that roughly half of the 20 routes have a positive gross
//! gap (and so are priced in full: net model, gates, max buy, target and break-even prices;
//! breakdown lines are built only when a row is explained).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use arbdesk::domain::{Market, Money, PackageDims, PriceSnapshot, Product};
use arbdesk::economics::{Detector, Economics, EconomicsConfig, FxRate, LiveDetector};
use arbdesk::pipeline::{Detect, detect_all};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const PRODUCTS: usize = 100_000;

/// Products per `detect_all` call: what one `import` batch of 10,000 lines holds.
const BATCH: usize = 2_000;

/// SplitMix64: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo) as u64) as i64
    }
}

const GROUPS: [&str; 6] = [
    "Kitchen",
    "Consumer Electronics",
    "Health and Beauty",
    "Tools",
    "Toy",
    "Furniture",
];

fn products(now: DateTime<Utc>) -> Vec<Product> {
    let mut rng = Rng(42);
    (0..PRODUCTS)
        .map(|i| {
            let base = rng.range(800, 30_000);
            let group = GROUPS[i % GROUPS.len()];
            let ean = format!("400{i:010}");
            let markets: BTreeMap<Market, PriceSnapshot> = Market::ALL
                .into_iter()
                .map(|m| {
                    let mut p = base * rng.range(70, 130) / 100;
                    if m == Market::UK {
                        p = p * 86 / 100;
                    }
                    let money = |v: i64| Money::new(v, m.currency());
                    let snap = PriceSnapshot {
                        market: m,
                        title: Some(format!("Product {i}")),
                        amazon: rng.next().is_multiple_of(4).then(|| money(p)),
                        new: Some(money(p * 97 / 100)),
                        buy_box: Some(money(p)),
                        amazon_avg90: None,
                        new_avg90: None,
                        buy_box_avg90: Some(money(p * rng.range(90, 115) / 100)),
                        sales_rank: Some(rng.range(100, 200_000)),
                        rank_drops30: Some(rng.range(0, 120)),
                        monthly_sold: rng.next().is_multiple_of(2).then(|| rng.range(0, 600)),
                        offers_new: Some(rng.range(1, 30)),
                        offers_new_fba: Some(rng.range(0, 15)),
                        offers_new_fbm: Some(rng.range(0, 15)),
                        buy_box_is_amazon: Some(rng.next().is_multiple_of(5)),
                        amazon_buy_box_share_pct: None,
                        referral_fee_pct: Some(15.0),
                        fba_fee: (!rng.next().is_multiple_of(8))
                            .then(|| money(rng.range(250, 700))),
                        out_of_stock_pct90: Some(0),
                        eans: vec![ean.clone()],
                        package_quantity: Some(1),
                        package: PackageDims {
                            length_mm: Some(rng.range(100, 500)),
                            width_mm: Some(rng.range(50, 300)),
                            height_mm: Some(rng.range(20, 200)),
                            weight_g: Some(rng.range(80, 4_000)),
                        },
                        product_group: Some(group.to_string()),
                        is_adult: false,
                        is_hazmat: false,
                        observed_at: now - Duration::minutes(rng.range(0, 2_000)),
                    };
                    (m, snap)
                })
                .collect();
            Product {
                asin: format!("B0{i:08}").parse().unwrap(),
                title: Some(format!("Product {i}")),
                brand: None,
                image_url: None,
                eans: vec![ean],
                package_quantity: Some(1),
                markets,
                not_listed: Some(Vec::new()),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let now = DateTime::parse_from_rfc3339("2026-06-10T17:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    // UK↔DE with customs, so a share of rows exercises the max-buy search.
    let cfg = EconomicsConfig::from_toml_str(
        "[[route]]\nfrom = \"UK\"\nto = \"DE\"\nprep = 0.5\ninbound = 0.6\ncustoms = { duty_rate = 0.04, import_vat_recoverable = true, broker_per_shipment = 35.0, units_per_shipment = 50 }\n",
    )
    .unwrap();
    let econ = Arc::new(Economics::new(cfg).unwrap());
    let det = Detector::new(econ.clone());
    let fx = FxRate::ecb(
        "0.8653".parse().unwrap(),
        NaiveDate::from_ymd_opt(2026, 6, 9).unwrap(),
    );
    let products = products(now);
    let mut out = Vec::new();
    let pass = |out: &mut Vec<_>| {
        // Rows go to the store and are dropped, product by product, as in the pipeline.
        let mut n = 0;
        for p in &products {
            out.clear();
            det.detect_into(p, &fx, now, out);
            n += out.len();
        }
        n
    };
    // One pass timed by the wall clock and by this thread's time on a CPU: on a shared
    // 2-core machine the two differ by the time spent waiting for a core.
    let (wall, cpu) = (std::time::Instant::now(), on_cpu_ns());
    let rows = pass(&mut out);
    let (wall, cpu) = (wall.elapsed(), on_cpu_ns().zip(cpu).map(|(b, a)| b - a));
    eprintln!(
        "detect: {PRODUCTS} products, {rows} rows: one pass {:.2} s wall, {} on a CPU",
        wall.as_secs_f64(),
        cpu.map_or("unknown".to_string(), |ns| format!(
            "{:.2} s",
            ns as f64 / 1e9
        )),
    );
    // How many products the checked float path settles without decimals.
    let settled = products
        .iter()
        .filter(|p| {
            out.clear();
            det.detect_fast(p, &fx, now, &mut out)
        })
        .count();
    eprintln!("detect: {settled} of {PRODUCTS} products settled in checked floats");
    // The pipeline's own entry point, on every core, as `import` calls it: a batch of 10,000
    // lines is about 2,000 products, and each batch's rows go to the store and are dropped.
    let live: Arc<dyn Detect> = Arc::new(LiveDetector::new(econ.clone()));
    let rt = tokio::runtime::Builder::new_multi_thread().build().unwrap();
    for _ in 0..3 {
        let batches: Vec<Vec<Product>> = products.chunks(BATCH).map(<[_]>::to_vec).collect();
        let wall = std::time::Instant::now();
        let mut rows = 0;
        for batch in batches {
            let sets = rt.block_on(detect_all(live.clone(), batch, now)).unwrap();
            rows += sets.iter().map(|(_, r)| r.len()).sum::<usize>();
        }
        eprintln!(
            "detect_all: {PRODUCTS} products in batches of {BATCH}, {rows} rows on {} cores: {:.2} s wall",
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            wall.elapsed().as_secs_f64()
        );
    }
    let mut g = c.benchmark_group("detect");
    g.sample_size(10);
    g.throughput(Throughput::Elements(PRODUCTS as u64));
    g.bench_function(format!("{PRODUCTS} products, {rows} rows"), |b| {
        b.iter(|| pass(&mut out))
    });
    g.finish();
}

/// Nanoseconds this thread has spent on a CPU (Linux `schedstat`), if readable.
fn on_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

criterion_group!(benches, bench);
criterion_main!(benches);
