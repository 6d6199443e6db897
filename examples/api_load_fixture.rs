//! The API load-test fixture: a SQLite store with a large synthetic catalogue, served.
//!
//! `scripts/api-load.sh` runs this in release mode and points `wrk` at it; the numbers it
//! prints are the API's performance targets (≥ 40k req/s, p99 ≤ 5 ms for
//! `/opportunities?min_margin=10&limit=50` over 100k products on 2 cores). The catalogue is
//! deterministic (a fixed-seed generator), so runs are comparable.
//!
//! ```text
//! cargo run --release --example api_load_fixture -- [PRODUCTS] [ADDR] [DB]
//! ```
//! Defaults: 100000 products, 127.0.0.1:8088, `target/api-load.sqlite` (reused when it
//! already holds the same number of products).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use arbdesk::api::{ApiSettings, ApiState, serve};
use arbdesk::domain::{Asin, Breakdown, Listing, Market, Money, Opportunity, PriceSnapshot};
use arbdesk::pipeline::PipelineStatus;
use arbdesk::store::sqlite::SqliteStore;
use arbdesk::store::{ProductFilter, Store};
use chrono::{Duration, Utc};
use tokio::sync::watch;

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn snapshot(market: Market, title: &str, price: i64, rng: &mut Rng) -> PriceSnapshot {
    let m = |v: i64| Some(Money::new(v, market.currency()));
    PriceSnapshot {
        market,
        title: Some(title.to_string()),
        amazon: m(price),
        new: m(price - 30),
        buy_box: m(price + 50),
        amazon_avg90: m(price + 20),
        new_avg90: m(price),
        buy_box_avg90: m(price + 60),
        sales_rank: Some(rng.below(200_000) as i64 + 1),
        rank_drops30: Some(rng.below(120) as i64),
        monthly_sold: Some(rng.below(500) as i64),
        offers_new: Some(rng.below(20) as i64 + 1),
        offers_new_fba: Some(rng.below(8) as i64),
        offers_new_fbm: Some(rng.below(8) as i64),
        buy_box_is_amazon: Some(rng.below(2) == 0),
        amazon_buy_box_share_pct: Some(rng.below(100) as f64),
        referral_fee_pct: Some(15.0),
        fba_fee: m(300 + rng.below(200) as i64),
        out_of_stock_pct90: Some(rng.below(30) as i64),
        eans: vec![format!("40{:011}", rng.below(99_999_999_999))],
        package_quantity: Some(1),
        package: Default::default(),
        product_group: Some("Kitchen".into()),
        is_adult: false,
        is_hazmat: false,
        observed_at: Utc::now() - Duration::minutes(rng.below(600) as i64),
    }
}

fn pct2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn opportunity(asin: Asin, title: &str, buy: Market, sell: Market, rng: &mut Rng) -> Opportunity {
    let buy_cents = 1000 + rng.below(9000) as i64;
    let gross_pct = rng.below(6000) as f64 / 100.0;
    let gross = (buy_cents as f64 * gross_pct / 100.0) as i64;
    let net = gross - 400 - rng.below(300) as i64;
    let ranked = net > 300;
    Opportunity {
        sell_facts: Default::default(),
        asin,
        title: Some(title.into()),
        buy_market: buy,
        sell_market: sell,
        buy_price: Money::new(buy_cents, buy.currency()),
        sell_price: Money::new(buy_cents + gross, sell.currency()),
        gross_margin: Money::eur(gross),
        gross_margin_pct: gross_pct,
        net_profit: Money::eur(net),
        // Percentages to 2 places, as detection rounds them.
        net_margin_pct: pct2(net as f64 * 100.0 / (buy_cents + gross) as f64),
        roi_pct: pct2(net as f64 * 100.0 / buy_cents as f64),
        expected_monthly_profit: Money::eur(net * rng.below(40) as i64),
        max_buy_price: Some(Money::new(buy_cents + net.max(0), buy.currency())),
        target_sell_price: None,
        break_even_sell_price: Some(Money::new(buy_cents + 500, sell.currency())),
        ranked,
        flags: if ranked {
            arbdesk::domain::FlagSet::default()
        } else {
            [arbdesk::domain::Flag::Profit].into_iter().collect()
        },
        breakdown: Breakdown::default(),
        updated_at: Utc::now(),
        first_seen: None,
    }
}

async fn seed(store: &SqliteStore, products: usize) -> Result<()> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let now = Utc::now();
    for chunk_start in (0..products).step_by(1000) {
        let mut listings = Vec::new();
        let mut sets = Vec::new();
        for i in chunk_start..(chunk_start + 1000).min(products) {
            let asin: Asin = format!("B{i:09}").parse()?;
            let title = format!("Product {i} kitchen steel {}", rng.below(1000));
            let mut markets: Vec<Market> = Market::ALL
                .into_iter()
                .filter(|_| rng.below(3) != 0)
                .collect();
            if markets.len() < 2 {
                markets = vec![Market::DE, Market::IT];
            }
            for m in &markets {
                let price = 1000 + rng.below(9000) as i64;
                listings.push(Listing {
                    asin,
                    market: *m,
                    product_type: 0,
                    title: Some(title.clone()),
                    brand: Some("Loadtest".into()),
                    image_url: Some(format!("https://m.media-amazon.com/images/I/{asin}.jpg")),
                    eans: vec![],
                    package_quantity: Some(1),
                    root_category: Some(1),
                    is_adult: false,
                    is_hazmat: false,
                    snapshot: snapshot(*m, &title, price, &mut rng),
                    history: vec![],
                });
            }
            let routes = (0..rng.below(4))
                .map(|k| {
                    let buy = markets[k as usize % markets.len()];
                    let sell = markets[(k as usize + 1) % markets.len()];
                    opportunity(asin, &title, buy, sell, &mut rng)
                })
                .filter(|o| o.buy_market != o.sell_market)
                .collect::<Vec<_>>();
            sets.push((asin, routes));
        }
        store.upsert_listings(listings, now, None).await?;
        store.replace_opportunities(sets).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let products: usize = args.next().map_or(Ok(100_000), |s| s.parse())?;
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8088".into());
    let db = args
        .next()
        .map_or_else(|| PathBuf::from("target/api-load.sqlite"), PathBuf::from);

    let store =
        Arc::new(SqliteStore::open(&db).with_context(|| format!("opening {}", db.display()))?);
    let have = store
        .products(ProductFilter {
            limit: 1,
            ..ProductFilter::default()
        })
        .await?
        .total;
    if have != products as u64 {
        drop(store);
        std::fs::remove_file(&db).ok();
        for ext in ["-wal", "-shm"] {
            std::fs::remove_file(format!("{}{ext}", db.display())).ok();
        }
        let store = SqliteStore::open(&db)?;
        let started = std::time::Instant::now();
        seed(&store, products).await?;
        eprintln!(
            "Seeded {products} products in {:.1} s.",
            started.elapsed().as_secs_f64()
        );
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db)?);
    let stats = store.stats().await?;
    eprintln!(
        "Store: {} products, {} opportunities.",
        stats.total_products, stats.opportunities
    );
    let (_status_tx, status) = watch::channel(PipelineStatus::default());
    let (_gen_tx, generation) = watch::channel(1u64);
    let settings = ApiSettings {
        addr: addr.parse()?,
        ..ApiSettings::default()
    };
    let state = ApiState::new(
        store,
        status,
        generation,
        settings.clone(),
        env!("CARGO_PKG_VERSION"),
    );
    let listener = tokio::net::TcpListener::bind(settings.addr).await?;
    eprintln!("Listening on http://{}.", listener.local_addr()?);
    serve(state, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
