//! Detection in machine arithmetic: every row it keeps is the exact decimal model's row.
//!
//! `Detector::detect` tries each product in checked floats first and falls back to decimals
//! when a cent, a percentage or a gate is too close to call. These stories feed it the
//! inputs most likely to land on such a boundary — whole-cent prices in every market and
//! referral mode, both ways of quoting the pound, customs routes, minimum fees — then
//! listings that differ in every fact detection reads, under settings that change the
//! price rule, the VAT scheme, the fees and the gates, and compare with
//! `Detector::detect_exact`, which computes in decimals only.

use arbdesk::domain::{Currency, Market, Money, PriceSnapshot, Product};
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

/// Cases per property: `default`, or `FAST_CASES` for a deeper run by hand (400,000 of each
/// agree).
fn cases(default: u32) -> u32 {
    std::env::var("FAST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

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

/// Settings that change which price is picked, what VAT is recovered and what the fees
/// and gates are: each a TOML overlay on the shipped defaults.
const SETTINGS: [&str; 6] = [
    "",
    "[economics]\nsell_price = \"current\"\nfee_vat_rate = 0.2\npayout_fx_fee = 0.02\n",
    "[economics]\nsell_price = \"avg90\"\nvat_scheme = \"not_registered\"\nfee_vat_rate = 0.19\n",
    "[economics]\npurchase_vat_invoice = false\nvat_registered_in = [\"DE\", \"UK\"]\npurchase_fx_spread = 0.0\n[economics.gates]\nmin_profit = 0.0\nmin_roi = 0.0\n",
    "[economics]\nreturn_rate = 0.0\nmonths_to_sell = 2.5\n[economics.gates]\nmin_profit = 10.0\nmin_roi = 0.5\nmax_keepa_age_hours = 2\n",
    "[economics]\nmax_units_per_month = 1\nloss_per_return = 0.01\nvat_registered_in = [\"FR\"]\n",
];

/// Keepa groups across every referral mode, a reduced VAT class and none at all.
const MORE_GROUPS: [Option<&str>; 8] = [
    Some("Kitchen"),
    Some("Consumer Electronics"),
    Some("Health and Beauty"),
    Some("Furniture"),
    Some("Watch"),
    Some("Book"),
    Some("No such group"),
    None,
];

/// A listing whose every price, fee, fact and age varies on its own.
fn arb_listing(m: Market) -> impl Strategy<Value = PriceSnapshot> {
    let price = || prop::option::of(1i64..80_000);
    (
        (price(), price(), price(), price(), price(), price()),
        (
            prop::option::of(0i64..2_000),
            any::<bool>(),
            0usize..MORE_GROUPS.len(),
            prop::option::of(1i64..40_000),
            prop::option::of((1i64..900, 1i64..900, 1i64..900)),
        ),
        (
            prop::option::of(1i64..2_000_000),
            prop::option::of(0i64..300),
            prop::option::of(0i64..2_000),
            prop::option::of(any::<bool>()),
            (any::<bool>(), any::<bool>(), 0i64..(72 * 60), any::<bool>()),
            prop::option::of(0.0..40.0f64),
        ),
    )
        .prop_map(
            move |(
                (amazon, new, bb, amazon90, new90, bb90),
                (fba, fba_other_currency, group, weight, dims),
                (rank, drops, sold, bb_amazon, (adult, hazmat, age_min, other_ean), referral),
            )| {
                let mut s = snap(m, 1000);
                let money = |v: i64| Money::new(v, m.currency());
                let (amazon, new, bb) = (amazon.map(money), new.map(money), bb.map(money));
                s.amazon = amazon;
                s.new = new;
                s.buy_box = bb;
                s.amazon_avg90 = amazon90.map(money);
                s.new_avg90 = new90.map(money);
                s.buy_box_avg90 = bb90.map(money);
                s.fba_fee = fba.map(|f| {
                    if fba_other_currency {
                        let other = match m.currency() {
                            Currency::EUR => Currency::GBP,
                            _ => Currency::EUR,
                        };
                        Money::new(f, other)
                    } else {
                        money(f)
                    }
                });
                s.product_group = MORE_GROUPS[group].map(str::to_string);
                s.package.weight_g = weight;
                (s.package.length_mm, s.package.width_mm, s.package.height_mm) = match dims {
                    Some((l, w, h)) => (Some(l), Some(w), Some(h)),
                    None => (None, None, None),
                };
                s.sales_rank = rank;
                s.rank_drops30 = drops;
                s.monthly_sold = sold;
                s.buy_box_is_amazon = bb_amazon;
                s.is_adult = adult;
                s.is_hazmat = hazmat;
                s.observed_at = now() - chrono::Duration::minutes(age_min);
                if other_ean {
                    s.eans = vec!["5012345678900".into()];
                }
                s.referral_fee_pct = referral;
                s
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(128)))]

    /// The same agreement on listings that differ in every fact detection reads, under
    /// settings that change the sell price rule, the VAT scheme, the fees and the gates.
    #[test]
    fn fast_detection_gives_the_exact_rows_on_varied_listings_and_settings(
        listings in (
            prop::option::of(arb_listing(Market::UK)),
            prop::option::of(arb_listing(Market::DE)),
            prop::option::of(arb_listing(Market::FR)),
            prop::option::of(arb_listing(Market::IT)),
            prop::option::of(arb_listing(Market::ES)),
        ),
        settings in 0usize..SETTINGS.len(),
        quote in 0u8..2,
        rate in prop_oneof![8000u32..9000, Just(8800)],
    ) {
        let (a, b, c, d, e) = listings;
        let p = product([a, b, c, d, e].into_iter().flatten().collect());
        // Without a VAT number import VAT is a cost: the routes say so, or the settings
        // are refused.
        let routes = if SETTINGS[settings].contains("not_registered") {
            ROUTES.replace("import_vat_recoverable = true", "import_vat_recoverable = false")
        } else {
            ROUTES.to_string()
        };
        let det = Detector::new(econ(&format!("{}{routes}", SETTINGS[settings])));
        let fx = fx(quote, rate);
        let mut exact = Vec::new();
        det.detect_exact(&p, &fx, now(), &mut exact);
        prop_assert_eq!(det.detect(&p, &fx, now()), exact);
    }
}
