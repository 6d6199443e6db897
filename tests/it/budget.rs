//! The token budget, end to end: the real client through the real simulator on tokio's
//! paused clock, so an hour of Keepa time passes in a moment and is measured exactly.

use arbdesk::domain::{Asin, Market};
use arbdesk::keepa::sim::{SimConfig, Simulator, asin_from};
use arbdesk::keepa::{KeepaClient, ProductQuery};
use tokio::time::Instant;

use super::util::config;

#[tokio::test(start_paused = true)]
async fn five_hundred_asins_in_five_markets_take_the_time_the_budget_implies() {
    let rate = 20;
    let sim = Simulator::new(SimConfig {
        refill_rate: rate,
        start_unix_ms: Some(1_795_586_400_000),
        ..SimConfig::default()
    });
    let client = KeepaClient::with_transport(config("http://sim.invalid/"), sim.transport());
    let asins: Vec<Asin> = (0..500).map(|i| asin_from(i).parse().unwrap()).collect();

    let started = Instant::now();
    let mut products = 0;
    for m in Market::ALL {
        let mut q = ProductQuery::new(m, asins.clone());
        // The cheap pass: no history, so the test spends its time on the budget.
        q.history = false;
        for batch in client.products_chunked(&q).await {
            products += batch.unwrap().products.len();
        }
    }
    let elapsed = started.elapsed().as_secs_f64() / 60.0;

    assert_eq!(products, 2500);
    // 2,500 tokens, 1,200 in the full bucket, the rest at 20 a minute: 65 minutes.
    let implied = (2500.0 - 1200.0) / rate as f64;
    assert!(
        (elapsed - implied).abs() <= implied * 0.10,
        "took {elapsed:.1} simulated minutes, the budget implies {implied:.1}"
    );
    let st = client.status();
    assert!(st.rate_limited <= 1, "{} HTTP 429s", st.rate_limited);
    assert!(
        sim.tokens_left() >= -100,
        "the balance never goes deep negative"
    );
}
