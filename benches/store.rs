//! SQLite store throughput and latency.
//!
//! - `upsert_listings`: batches of 1,000 simulated listings (200 products × 5 markets, 90
//!   days of history each), into a growing store (`fresh`, the import case) and as the next
//!   hour's fetch of products already stored (`refetch`, history merged).
//! - Queries over a store of 100,000 products (500,000 listings, about 500,000 opportunity
//!   rows, all watched): the API's hot query `opportunities(min_gross_margin_pct = 10,
//!   limit 50)` and its neighbours, `product`, `stats`, `refresh_candidates`.
//!
//! The 100k fixture replicates 2,000 simulated products under fresh ASINs (simulating 100k
//! products hour by hour would dominate the run), written in batches of 10,000 listings as a
//! bulk import would, with opportunities derived from the merged products by a simplified
//! margin model; building it prints the bulk write rates. It takes a few minutes; set
//! `ARBDESK_BENCH_STORE=/path/file.sqlite` to keep it between runs.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbdesk::domain::{Asin, Breakdown, Listing, Market, Money, Opportunity, Product};
use arbdesk::keepa::decode_product;
use arbdesk::keepa::sim::{Catalog, Options, asin_from};
use arbdesk::store::sqlite::SqliteStore;
use arbdesk::store::{Checkpoint, OpportunityFilter, OpportunitySort, Store, WatchSource};
use chrono::{DateTime, TimeDelta, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const NOW_MS: i64 = 1_795_586_400_000;
const BATCH_PRODUCTS: u64 = 200;
/// Products per batch when building the 100k fixture, as a bulk import would write them.
const FIXTURE_BATCH: u64 = 2_000;
const TEMPLATES: u64 = 2_000;
const PRODUCTS: u64 = 100_000;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(NOW_MS).unwrap()
}

/// Simulated listings of products `first..first + n` in every market at `at_ms`.
fn simulate(first: u64, n: u64, at_ms: i64) -> Vec<Listing> {
    let cat = Catalog::new(42);
    let opts = Options::new().with_history(90).with_stats(90).with_buybox();
    let mut out = Vec::with_capacity(n as usize * 5);
    for i in first..first + n {
        let asin: Asin = asin_from(i).parse().unwrap();
        for m in Market::ALL {
            let raw = serde_json::to_string(&cat.product(&asin, m, at_ms, opts)).unwrap();
            out.push(decode_product(&raw).unwrap());
        }
    }
    out
}

/// `template` under the ASINs of products `first..` (five listings per product).
fn renamed(template: &[Listing], first: u64) -> Vec<Listing> {
    template
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut l = l.clone();
            l.asin = asin_from(first + i as u64 / 5).parse().unwrap();
            l
        })
        .collect()
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn upserts(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("upsert.sqlite")).unwrap();
    let template = simulate(0, BATCH_PRODUCTS, NOW_MS);
    let points: usize = template
        .iter()
        .flat_map(|l| &l.history)
        .map(|s| s.points.len())
        .sum();
    let mut g = c.benchmark_group("store");
    g.sample_size(20);
    g.throughput(Throughput::Elements(template.len() as u64));
    let mut next = 1_000_000u64;
    g.bench_function(
        format!(
            "upsert_listings fresh, 1000 listings ({} history points/listing)",
            points / template.len()
        ),
        |b| {
            b.iter_batched(
                || {
                    next += BATCH_PRODUCTS;
                    renamed(&template, next)
                },
                |batch| {
                    rt.block_on(store.upsert_listings(batch, now(), None))
                        .unwrap()
                },
                BatchSize::PerIteration,
            )
        },
    );
    // The same products an hour later, and so on: snapshots replaced, history merged.
    rt.block_on(store.upsert_listings(template.clone(), now(), None))
        .unwrap();
    let mut hour = 0;
    g.bench_function("upsert_listings refetch, 1000 listings", |b| {
        b.iter_batched(
            || {
                hour += 1;
                let at = NOW_MS + hour * 3_600_000;
                (
                    simulate(0, BATCH_PRODUCTS, at),
                    now() + TimeDelta::hours(hour),
                )
            },
            |(batch, at)| rt.block_on(store.upsert_listings(batch, at, None)).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// Buy-side price of a snapshot in EUR cents (a fixed FX rate: this is a fixture).
fn eur_cents(p: &Product, m: Market) -> Option<f64> {
    let s = p.markets.get(&m)?;
    let price = s.buy_box.or(s.new)?;
    Some(match m {
        Market::UK => price.minor as f64 / 0.86,
        _ => price.minor as f64,
    })
}

/// Up to five routes with a positive gross margin, by a simplified margin model.
fn routes(p: &Product, at: DateTime<Utc>) -> Vec<Opportunity> {
    let mut out = Vec::new();
    for buy in Market::ALL {
        for sell in Market::ALL {
            let (Some(b), Some(s)) = (eur_cents(p, buy), eur_cents(p, sell)) else {
                continue;
            };
            if buy == sell || s <= b {
                continue;
            }
            let gross = (s - b) / b * 100.0;
            let profit = ((s - b) * 0.55 - 250.0).round() as i64;
            let net = profit as f64 / s * 100.0;
            let sold = p.markets[&sell].monthly_sold.unwrap_or(20);
            out.push(Opportunity {
                sell_facts: Default::default(),
                asin: p.asin,
                title: p.title.as_deref().map(Into::into),
                buy_market: buy,
                sell_market: sell,
                buy_price: p.markets[&buy].buy_box.unwrap_or(Money::eur(0)),
                sell_price: p.markets[&sell].buy_box.unwrap_or(Money::eur(0)),
                gross_margin: Money::eur((s - b).round() as i64),
                gross_margin_pct: gross,
                net_profit: Money::eur(profit),
                net_margin_pct: net,
                roi_pct: profit as f64 / b * 100.0,
                expected_monthly_profit: Money::eur(profit.max(0) * sold / 10),
                max_buy_price: None,
                target_sell_price: None,
                break_even_sell_price: None,
                ranked: profit > 200 && net > 5.0,
                flags: Default::default(),
                breakdown: Breakdown::default(),
                updated_at: at,
                first_seen: None,
            });
        }
    }
    out.sort_by(|a, b| b.gross_margin_pct.total_cmp(&a.gross_margin_pct));
    out.truncate(5);
    out
}

/// A store of `PRODUCTS` watched products with their opportunities.
fn fixture(rt: &Runtime) -> (SqliteStore, Option<tempfile::TempDir>) {
    let (path, dir) = match std::env::var_os("ARBDESK_BENCH_STORE") {
        Some(p) => (PathBuf::from(p), None),
        None => {
            let dir = tempfile::tempdir().unwrap();
            (dir.path().join("fixture.sqlite"), Some(dir))
        }
    };
    let store = SqliteStore::open(&path).unwrap();
    let done = rt.block_on(store.checkpoint("fixture".into())).unwrap();
    if done == Some(PRODUCTS) {
        return (store, dir);
    }
    let started = Instant::now();
    let template = simulate(0, TEMPLATES, NOW_MS);
    eprintln!(
        "Simulated {} template listings in {:.1?}.",
        template.len(),
        started.elapsed()
    );
    let (mut listings, mut rows) = (0usize, 0usize);
    let (mut upserting, mut replacing) = (Duration::ZERO, Duration::ZERO);
    for first in (0..PRODUCTS).step_by(FIXTURE_BATCH as usize) {
        let mut batch = Vec::new();
        for part in (first..first + FIXTURE_BATCH).step_by(TEMPLATES as usize) {
            let n = (first + FIXTURE_BATCH - part).min(TEMPLATES) as usize * 5;
            batch.extend(renamed(&template[..n], part));
        }
        listings += batch.len();
        let asins: Vec<Asin> = batch.iter().step_by(5).map(|l| l.asin).collect();
        let cp = Checkpoint {
            key: "fixture".into(),
            offset: first + FIXTURE_BATCH,
        };
        rt.block_on(store.watch_add(asins, WatchSource::Import))
            .unwrap();
        let t = Instant::now();
        let products = rt
            .block_on(store.upsert_listings(batch, now(), Some(cp)))
            .unwrap();
        upserting += t.elapsed();
        let sets: Vec<_> = products
            .iter()
            .map(|p| (p.asin, routes(p, now())))
            .collect();
        rows += sets.iter().map(|(_, r)| r.len()).sum::<usize>();
        let t = Instant::now();
        rt.block_on(store.replace_opportunities(sets)).unwrap();
        replacing += t.elapsed();
    }
    eprintln!(
        "Fixture in batches of {} listings: upsert_listings {:.0} listings/s, \
         replace_opportunities {:.0} rows/s ({listings} listings, {rows} rows).",
        FIXTURE_BATCH * 5,
        listings as f64 / upserting.as_secs_f64(),
        rows as f64 / replacing.as_secs_f64()
    );
    (store, dir)
}

fn queries(c: &mut Criterion) {
    let rt = runtime();
    let (store, _dir) = fixture(&rt);
    let store: Arc<dyn Store> = Arc::new(store);
    let stats = rt.block_on(store.stats()).unwrap();
    eprintln!(
        "Fixture: {} products, {} opportunities ({} ranked).",
        stats.total_products, stats.opportunities, stats.ranked_opportunities
    );
    let hot = OpportunityFilter {
        min_gross_margin_pct: Some(10.0),
        limit: 50,
        ..OpportunityFilter::default()
    };
    let matches = rt.block_on(store.opportunities(hot.clone())).unwrap().total;
    let cases = [
        (
            format!("min_gross_margin_pct=10 limit 50 ({matches} matches)"),
            hot.clone(),
        ),
        (
            "min_gross_margin_pct=10 sort gross asc limit 50".into(),
            OpportunityFilter {
                sort: OpportunitySort::GrossMarginPct,
                descending: false,
                ..hot.clone()
            },
        ),
        (
            "min_gross_margin_pct=10 limit 50 offset 5000".into(),
            OpportunityFilter {
                offset: 5_000,
                ..hot.clone()
            },
        ),
        (
            "min_gross_margin_pct=40 sell DE,FR ranked limit 50".into(),
            OpportunityFilter {
                min_gross_margin_pct: Some(40.0),
                sell: vec![Market::DE, Market::FR],
                ranked: Some(true),
                ..hot.clone()
            },
        ),
        (
            "text 'kettle' limit 50".into(),
            OpportunityFilter {
                text: Some("kettle".into()),
                ..OpportunityFilter::default()
            },
        ),
    ];
    let mut g = c.benchmark_group("store 100k");
    g.sample_size(20);
    for (name, filter) in cases {
        g.bench_function(format!("opportunities {name}"), |b| {
            b.iter(|| rt.block_on(store.opportunities(filter.clone())).unwrap())
        });
    }
    let asin: Asin = asin_from(54_321).parse().unwrap();
    g.bench_function("product", |b| {
        b.iter(|| rt.block_on(store.product(asin)).unwrap())
    });
    g.bench_function("stats", |b| b.iter(|| rt.block_on(store.stats()).unwrap()));
    g.bench_function("refresh_candidates DE 100", |b| {
        b.iter(|| {
            rt.block_on(store.refresh_candidates(Market::DE, 100))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, upserts, queries);
criterion_main!(benches);
