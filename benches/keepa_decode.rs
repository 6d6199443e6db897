//! Decoding throughput: a Keepa `/product` line with 90 days of history, the lines the
//! import benchmark reads, and the simulator's product generation; and the process stage's
//! CPU work without the store: enrich (queue payload to listing) and detect, per product.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use arbdesk::domain::{Asin, Listing, Market, Product};
use arbdesk::economics::{Economics, EconomicsConfig, LiveDetector};
use arbdesk::keepa::decode_product;
use arbdesk::keepa::sim::{Catalog, Options, asin_from};
use arbdesk::pipeline::{Detect, Enricher};
use arbdesk::queue::RawUpdate;
use chrono::DateTime;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const NOW_MS: i64 = 1_795_586_400_000;

/// 100 simulated products as JSON, the `i`-th in `market(i)`.
fn products(cat: &Catalog, opts: Options, market: impl Fn(u64) -> Market) -> Vec<String> {
    (0..100)
        .map(|i| {
            let p = cat.product(&asin_from(i).parse().unwrap(), market(i), NOW_MS, opts);
            serde_json::to_string(&p).unwrap()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let cat = Catalog::new(42);
    let opts = Options::new().with_history(90).with_stats(90).with_buybox();
    // Lines as `examples/keepa_lines.rs` writes them for the import benchmark: a week of
    // history and 90-day stats, ~4.5 KB each, most of it `stats`.
    let import_opts = Options::new().with_history(7).with_stats(90);
    let mut g = c.benchmark_group("keepa");
    for (what, lines) in [
        ("products", products(&cat, opts, |_| Market::DE)),
        (
            "import lines",
            products(&cat, import_opts, |i| Market::ALL[i as usize % 5]),
        ),
    ] {
        let bytes: usize = lines.iter().map(String::len).sum();
        g.throughput(Throughput::Elements(lines.len() as u64));
        g.bench_function(
            format!("decode 100 {what} ({} B avg)", bytes / lines.len()),
            |b| b.iter(|| lines.iter().filter(|p| decode_product(p).is_ok()).count()),
        );
    }
    g.bench_function("simulate 100 products", |b| {
        b.iter(|| {
            (0..100)
                .map(|i| cat.product(&asin_from(i).parse().unwrap(), Market::DE, NOW_MS, opts))
                .collect::<Vec<_>>()
        })
    });
    g.finish();

    // The process stage without the store: 100 products, each fetched in all five markets
    // as `RawUpdate` payloads (the import lines' shape), enriched, put together per ASIN
    // (identity from the first listed market, as the store merges it) and detected.
    let now = DateTime::from_timestamp_millis(NOW_MS).unwrap();
    let payloads: Vec<Vec<u8>> = (0..500)
        .map(|i| {
            let asin: Asin = asin_from(i / 5).parse().unwrap();
            let market = Market::ALL[i as usize % 5];
            let p = cat.product(&asin, market, NOW_MS, import_opts);
            let raw = RawUpdate {
                asin,
                market,
                fetched_at: now,
                product: serde_json::value::to_raw_value(&p).unwrap(),
                source: None,
            };
            serde_json::to_vec(&raw).unwrap()
        })
        .collect();
    let econ = Arc::new(Economics::new(EconomicsConfig::from_toml_str("").unwrap()).unwrap());
    let detect = LiveDetector::new(econ);
    let pass = || {
        let listings: Vec<Listing> = payloads
            .iter()
            .map(|p| Enricher::default().enrich(p).unwrap())
            .collect();
        let mut products: BTreeMap<Asin, Product> = BTreeMap::new();
        for l in listings {
            if l.product_type != 0 || l.title.is_none() {
                continue;
            }
            let p = products.entry(l.asin).or_insert_with(|| Product {
                asin: l.asin,
                title: l.title.clone(),
                brand: l.brand.clone(),
                image_url: l.image_url.clone(),
                eans: l.eans.clone(),
                package_quantity: l.package_quantity,
                markets: BTreeMap::new(),
                not_listed: Some(Vec::new()),
            });
            p.markets.insert(l.market, l.snapshot);
        }
        products
            .values()
            .map(|p| detect.detect(p, now).len())
            .sum::<usize>()
    };
    let rows = pass();
    let mut g = c.benchmark_group("process");
    g.throughput(Throughput::Elements(100));
    g.bench_function(
        format!("enrich + detect 100 products (500 payloads, {rows} rows)"),
        |b| b.iter(pass),
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
