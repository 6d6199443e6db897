//! Detection in machine arithmetic: every row it keeps is the exact decimal model's row.
//!
//! `Detector::detect` tries each product in checked floats first and falls back to decimals
//! when a cent, a percentage or a gate is too close to call. These stories feed it the
//! inputs most likely to land on such a boundary — whole-cent prices in every market and
//! referral mode, both ways of quoting the pound, customs routes, minimum fees — and compare
//! with `Detector::detect_exact`, which computes in decimals only.

use arbdesk::domain::{Market, Money, Product};
use arbdesk::economics::{Detector, FxRate, GbpQuote};
use chrono::NaiveDate;
use proptest::prelude::*;

use super::{econ, now, product, snap};

/// UK↔DE through customs both ways, import VAT not recovered on one of them.
const ROUTES: &str = r#"
[[route]]
from = "UK"
to = "DE"
prep = 0.5
inbound = 0.6
inbound_per_kg = 0.35
customs = { duty_rate = 0.04, import_vat_recoverable = false, broker_per_shipment = 35.0, units_per_shipment = 50 }

[[route]]
from = "DE"
to = "UK"
ship_to_you = 4.99
customs = { duty_rate = 0.025, import_vat_recoverable = true, broker_per_shipment = 20.0, units_per_shipment = 30 }
"#;

/// A later referral table at the edge of decimal precision: a 0 % category, a 1e-20 rate
/// against a 1e-19 minimum fee, and any difference from Keepa's percentage a mismatch.
const TINY_RATES: &str = r#"
[economics]
fee_mismatch_points = 0.0

[[referral]]
effective_from = "2026-01-01"
source = "edge cases"
min_fee = { EUR = 0.0000000000000000001, GBP = 0.25 }
categories = [
  { id = "default", mode = "flat", tiers = [{ rate = 0.0 }] },
  { id = "consumer_electronics", mode = "flat", tiers = [{ rate = 0.00000000000000000001 }] },
  { id = "beauty_health_grocery", mode = "threshold", tiers = [{ upto = 10.00, rate = 0.08 }, { rate = 0.15 }] },
  { id = "furniture", mode = "marginal", tiers = [{ upto = 200.00, rate = 0.15 }, { rate = 0.10 }] },
  { id = "jewellery", mode = "marginal", tiers = [{ upto = 250.00, rate = 0.20 }, { rate = 0.05 }] },
  { id = "watches", mode = "marginal", tiers = [{ upto = 250.00, rate = 0.15 }, { rate = 0.05 }] },
  { id = "car_motorbike", mode = "marginal", tiers = [{ upto = 50.00, rate = 0.15 }, { rate = 0.09 }] },
  { id = "diy_tools", mode = "flat", tiers = [{ rate = 0.13 }] },
  { id = "clothing_shoes_bags", mode = "marginal", tiers = [{ upto = 45.00, rate = 0.15 }, { rate = 0.07 }] },
  { id = "amazon_device_accessories", mode = "flat", tiers = [{ rate = 0.45 }] },
]
"#;

/// Keepa product groups that map to every referral mode (flat, threshold, marginal).
const GROUPS: [&str; 6] = [
    "Kitchen",
    "Consumer Electronics",
    "Health and Beauty",
    "Furniture",
    "Jewelry",
    "Shoes",
];

fn arb_product() -> impl Strategy<Value = Product> {
    let market = |m: Market| {
        (
            prop::option::of(1i64..60_000),
            prop::option::of(1i64..60_000),
            prop::option::of(0i64..1_500),
            0usize..GROUPS.len(),
            prop::option::of(1i64..30_000),
            prop_oneof![
                Just(None),
                Just(Some(1e-30)),
                Just(Some(1e-15)),
                Just(Some(7.0)),
                Just(Some(15.0)),
                (0.0..100.0f64).prop_map(Some),
            ],
        )
            .prop_map(move |(bb, avg, fba, group, weight, referral)| {
                let mut s = snap(m, 1000);
                let money = |v: i64| Money::new(v, m.currency());
                s.buy_box = bb.map(money);
                s.new = bb.map(money);
                s.buy_box_avg90 = avg.map(money);
                s.fba_fee = fba.map(money);
                s.product_group = Some(GROUPS[group].to_string());
                s.package.weight_g = weight;
                s.referral_fee_pct = referral;
                s
            })
    };
    (
        market(Market::UK),
        market(Market::DE),
        market(Market::FR),
        market(Market::IT),
        market(Market::ES),
    )
        .prop_map(|(a, b, c, d, e)| product(vec![a, b, c, d, e]))
}

fn fx(quote: u8, rate: u32) -> FxRate {
    let date = NaiveDate::from_ymd_opt(2026, 6, 9).unwrap();
    let x = rust_decimal::Decimal::new(i64::from(rate), 4);
    let mut fx = FxRate::ecb(x, date);
    if quote == 1 {
        fx.gbp = GbpQuote::EurPerGbp((x + rust_decimal::Decimal::new(3000, 4)).into());
    }
    fx
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fast_detection_gives_the_exact_rows(
        p in arb_product(),
        quote in 0u8..2,
        // Short rates too (0.88, 0.875, 0.80; quoted the other way, 0.3 more: 1.18, …):
        // many GBP prices then convert to exact half cents.
        rate in prop_oneof![8000u32..9000, Just(8800), Just(8750), Just(8000)],
        edge in any::<bool>(),
    ) {
        let extra = if edge { TINY_RATES } else { "" };
        let det = Detector::new(econ(&format!("{extra}{ROUTES}")));
        let fx = fx(quote, rate);
        let mut exact = Vec::new();
        det.detect_exact(&p, &fx, now(), &mut exact);
        prop_assert_eq!(det.detect(&p, &fx, now()), exact.clone());
        let mut fast = Vec::new();
        if det.detect_fast(&p, &fx, now(), &mut fast) {
            prop_assert_eq!(fast, exact);
        } else {
            prop_assert!(fast.is_empty(), "an unsettled product leaves no rows behind");
        }
    }
}

#[test]
fn the_fast_path_settles_nearly_every_product() {
    // Without this, a fast path that always gave up would pass every test above. A short
    // rate (0.88, the shipped one) turns one GBP price in 22 into an exact half cent of EUR:
    // the gross margin is worked out exactly, so those settle too.
    for rate in [8653, 8800, 8750] {
        settles_nearly_all(fx(0, rate));
        settles_nearly_all(fx(1, rate));
    }
}

fn settles_nearly_all(fx: FxRate) {
    let det = Detector::new(econ(ROUTES));
    let mut settled = 0;
    let n = 500;
    for i in 0..n {
        let base = 500 + (i * 7919) % 40_000;
        let p = product(
            Market::ALL
                .into_iter()
                .enumerate()
                .map(|(k, m)| {
                    let mut s = snap(m, base + (k as i64 * 613 + i * 37) % 2_000);
                    s.product_group = Some(GROUPS[(i as usize + k) % GROUPS.len()].to_string());
                    s
                })
                .collect(),
        );
        let mut rows = Vec::new();
        if det.detect_fast(&p, &fx, now(), &mut rows) {
            settled += 1;
        }
    }
    assert!(
        settled * 100 >= n * 99,
        "only {settled} of {n} settled in floats at {:?}",
        fx.gbp
    );
}
