//! Decoding throughput: a Keepa `/product` line with 90 days of history, and the simulator's
//! product generation.
#![allow(clippy::unwrap_used)]

use arbdesk::domain::Market;
use arbdesk::keepa::decode_product;
use arbdesk::keepa::sim::{Catalog, Options, asin_from};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let cat = Catalog::new(42);
    let opts = Options {
        history: true,
        days: 90,
        stats_days: Some(90),
        buybox: true,
    };
    let products: Vec<String> = (0..100)
        .map(|i| {
            serde_json::to_string(&cat.product(
                &asin_from(i).parse().unwrap(),
                Market::DE,
                1_795_586_400_000,
                opts,
            ))
            .unwrap()
        })
        .collect();
    let bytes: usize = products.iter().map(String::len).sum();
    let mut g = c.benchmark_group("keepa");
    g.throughput(Throughput::Elements(products.len() as u64));
    g.bench_function(
        format!("decode 100 products ({} B avg)", bytes / products.len()),
        |b| {
            b.iter(|| {
                products
                    .iter()
                    .filter(|p| decode_product(p).is_ok())
                    .count()
            })
        },
    );
    // Lines as `examples/keepa_lines.rs` writes them for the import benchmark: a week of
    // history and 90-day stats, ~2.6 KB each, most of it `stats`.
    let import_opts = Options {
        history: true,
        days: 7,
        stats_days: Some(90),
        buybox: false,
    };
    let lines: Vec<String> = (0..100)
        .map(|i| {
            serde_json::to_string(&cat.product(
                &asin_from(i).parse().unwrap(),
                Market::ALL[i as usize % 5],
                1_795_586_400_000,
                import_opts,
            ))
            .unwrap()
        })
        .collect();
    let line_bytes: usize = lines.iter().map(String::len).sum();
    g.bench_function(
        format!(
            "decode 100 import lines ({} B avg)",
            line_bytes / lines.len()
        ),
        |b| b.iter(|| lines.iter().filter(|p| decode_product(p).is_ok()).count()),
    );
    g.bench_function("simulate 100 products", |b| {
        b.iter(|| {
            (0..100)
                .map(|i| {
                    cat.product(
                        &asin_from(i).parse().unwrap(),
                        Market::DE,
                        1_795_586_400_000,
                        opts,
                    )
                })
                .collect::<Vec<_>>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
