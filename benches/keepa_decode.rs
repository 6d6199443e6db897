//! Decoding throughput: a Keepa `/product` line with 90 days of history, the lines the
//! import benchmark reads, and the simulator's product generation.
#![allow(clippy::unwrap_used)]

use arbdesk::domain::Market;
use arbdesk::keepa::decode_product;
use arbdesk::keepa::sim::{Catalog, Options, asin_from};
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
    let opts = Options {
        history: true,
        days: 90,
        stats_days: Some(90),
        buybox: true,
    };
    // Lines as `examples/keepa_lines.rs` writes them for the import benchmark: a week of
    // history and 90-day stats, ~2.5 KB each, most of it `stats`.
    let import_opts = Options {
        history: true,
        days: 7,
        stats_days: Some(90),
        buybox: false,
    };
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
