//! The economics model, told through docs/economics.md: the §6 worked example to the cent,
//! then FX, fees, config validation and the detector's routes in the submodules.

mod config;
mod fast;
mod fees;
mod fx;
mod routes;

use std::collections::BTreeMap;
use std::sync::Arc;

use arbdesk::domain::{Currency, Market, Money, Opportunity, PackageDims, PriceSnapshot, Product};
use arbdesk::economics::model::{self, BuyTerms, RouteCost, SellTerms};
use arbdesk::economics::tables::market_index;
use arbdesk::economics::{Detector, Economics, EconomicsConfig, FxRate, round_cents};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;

/// When every story happens: a Wednesday in June (no peak storage), 17:00 UTC.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-10T17:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// The ECB rate of the day before: fresh.
pub fn ecb_fx() -> FxRate {
    FxRate::ecb(d("0.8653"), NaiveDate::from_ymd_opt(2026, 6, 9).unwrap())
}

/// The shipped defaults with a flat storage rate of 25/m³·month, so that the §6 parcel
/// (200 × 150 × 200 mm = 0.006 m³) costs exactly 0.15 to store for a month.
pub const STORAGE_25: &str = r#"
[[storage]]
effective_from = "2025-01-01"
per_m3_month = { UK = 25.0, DE = 25.0, FR = 25.0, IT = 25.0, ES = 25.0 }
"#;

pub fn econ(extra_toml: &str) -> Arc<Economics> {
    let cfg = EconomicsConfig::from_toml_str(&format!("{STORAGE_25}\n{extra_toml}")).unwrap();
    Arc::new(Economics::new(cfg).unwrap())
}

/// A healthy listing: the given Buy Box (also its 90-day average), demand, one EAN, the §6
/// parcel, Keepa's FBA fee 4.10 and referral 15 %, refreshed an hour ago.
pub fn snap(market: Market, buy_box_minor: i64) -> PriceSnapshot {
    let money = |v: i64| Money::new(v, market.currency());
    PriceSnapshot {
        market,
        title: Some("Espresso cups, set of 6".into()),
        amazon: None,
        new: Some(money(buy_box_minor)),
        buy_box: Some(money(buy_box_minor)),
        amazon_avg90: None,
        new_avg90: None,
        buy_box_avg90: Some(money(buy_box_minor)),
        sales_rank: Some(1200),
        rank_drops30: Some(60),
        monthly_sold: Some(100),
        offers_new: Some(5),
        offers_new_fba: Some(4),
        offers_new_fbm: Some(1),
        buy_box_is_amazon: Some(false),
        amazon_buy_box_share_pct: None,
        referral_fee_pct: Some(15.0),
        fba_fee: Some(money(410)),
        out_of_stock_pct90: Some(0),
        eans: vec!["4006381333931".into()],
        package_quantity: Some(1),
        package: PackageDims {
            length_mm: Some(200),
            width_mm: Some(150),
            height_mm: Some(200),
            weight_g: Some(600),
        },
        product_group: Some("Kitchen".into()),
        is_adult: false,
        is_hazmat: false,
        observed_at: now() - Duration::hours(1),
    }
}

pub fn product(snaps: Vec<PriceSnapshot>) -> Product {
    let markets: BTreeMap<Market, PriceSnapshot> =
        snaps.into_iter().map(|s| (s.market, s)).collect();
    Product {
        asin: "B0DEMO1234".parse().unwrap(),
        title: Some("Espresso cups, set of 6".into()),
        brand: Some("Demo".into()),
        image_url: None,
        eans: vec!["4006381333931".into()],
        package_quantity: Some(1),
        markets,
        not_listed: Some(Vec::new()),
    }
}

pub fn row(rows: &[Opportunity], buy: Market, sell: Market) -> &Opportunity {
    rows.iter()
        .find(|o| o.buy_market == buy && o.sell_market == sell)
        .unwrap_or_else(|| panic!("no row {buy}→{sell} among {}", rows.len()))
}

/// Every row of `p` as detection computes it, each explained (with its breakdown lines) and
/// checked against the row detection stores: the same figures, only the lines added.
pub fn detect_explained(
    det: &Detector,
    p: &Product,
    fx: &FxRate,
    at: DateTime<Utc>,
) -> Vec<Opportunity> {
    det.detect(p, fx, at)
        .into_iter()
        .map(|stored| {
            assert!(
                stored.breakdown.lines.is_empty(),
                "detection stores no lines"
            );
            let o = det
                .explain(p, fx, at, stored.buy_market, stored.sell_market)
                .expect("every detected route can be explained");
            let mut bare = o.clone();
            bare.breakdown.lines.clear();
            assert_eq!(bare, stored, "the explained row is the stored one");
            // Explained with the rate the row recorded, it is the same row again.
            let recorded = stored
                .breakdown
                .fx_rate
                .as_deref()
                .and_then(FxRate::from_record);
            assert_eq!(
                recorded.as_ref(),
                Some(fx),
                "the row records its exact rate"
            );
            assert_lines_add_up(&o);
            o
        })
        .collect()
}

/// What the breakdown shows adds up to the cent: each subtotal is the sum of the EUR lines
/// since the previous one, the lines in pounds add up to their own subtotal in pounds (which
/// the conversion line after it restates in EUR), and the profit is N + L, each with the
/// `rounding` line above it, if any.
pub fn assert_lines_add_up(o: &Opportunity) {
    let key = o.key();
    let (mut sum, mut subtotals, mut pounds) = (0, Vec::new(), 0);
    let fx = o.breakdown.fx_rate.as_deref().and_then(FxRate::from_record);
    let mut pound_subtotal = None;
    for l in &o.breakdown.lines {
        match l.id.as_str() {
            "proceeds" | "purchase_cost" => {
                assert_eq!(pounds, l.amount.minor, "{key}: lines above {}", l.id);
                assert_eq!(l.amount.currency, arbdesk::domain::Currency::GBP);
                pounds = 0;
                pound_subtotal = Some(l.amount);
            }
            // A conversion line is the pound subtotal above it, as shown, at the row's rate.
            "proceeds_eur" | "purchase_eur" => {
                let (Some(p), Some(fx)) = (pound_subtotal.take(), fx.as_ref()) else {
                    panic!("{key}: {} without a pound subtotal and rate above it", l.id);
                };
                let eur = fx.to_eur(Decimal::new(p.minor, 2), arbdesk::domain::Currency::GBP);
                assert_eq!(
                    l.amount,
                    arbdesk::economics::money(eur, arbdesk::domain::Currency::EUR),
                    "{key}: {} restates {p:?}",
                    l.id
                );
                sum += l.amount.minor;
            }
            "net_proceeds" | "landed_cost" => {
                assert_eq!(sum, l.amount.minor, "{key}: lines above {}", l.id);
                subtotals.push(l.amount.minor);
                sum = 0;
            }
            "profit" => assert_eq!(
                subtotals.iter().sum::<i64>() + sum,
                l.amount.minor,
                "{key}: N + L (+ rounding)"
            ),
            _ if l.amount.currency == arbdesk::domain::Currency::EUR => sum += l.amount.minor,
            _ => pounds += l.amount.minor,
        }
    }
}

#[test]
fn breakdown_lines_add_up_with_a_rounding_line_where_cents_do_not() {
    let det = Detector::new(econ(""));
    let mut rounded = 0;
    for price in (3_000..3_400).step_by(3) {
        let p = product(vec![
            snap(Market::UK, price),
            snap(Market::IT, price + 17),
            snap(Market::DE, price * 3 / 2),
        ]);
        for o in detect_explained(&det, &p, &ecb_fx(), now()) {
            assert_lines_add_up(&o);
            let n = o
                .breakdown
                .lines
                .iter()
                .filter(|l| l.id.starts_with("rounding_"));
            rounded += n.count();
            // Ids are unique within a row, so clients can key lines by them.
            let mut ids: Vec<&str> = o.breakdown.lines.iter().map(|l| l.id.as_str()).collect();
            let all = ids.len();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), all, "{:?}", o.breakdown.lines);
        }
    }
    assert!(rounded > 0, "some sums are a cent off and show it");
}

pub fn line(o: &Opportunity, id: &str) -> Money {
    o.breakdown
        .lines
        .iter()
        .find(|l| l.id == id)
        .unwrap_or_else(|| panic!("no breakdown line {id}"))
        .amount
}

fn r6(x: Decimal) -> Decimal {
    x.round_dp(6)
}

/// §6: buy IT €40.00, sell DE €59.90, Home & Kitchen, 600 g, German VAT-registered seller.
fn worked_example(extra: &str) -> Opportunity {
    let det = Detector::new(econ(extra));
    let p = product(vec![snap(Market::IT, 4000), snap(Market::DE, 5990)]);
    let rows = detect_explained(&det, &p, &ecb_fx(), now());
    row(&rows, Market::IT, Market::DE).clone()
}

#[test]
fn worked_example_case_a_matches_every_figure_to_the_cent() {
    let o = worked_example("");
    // The naive figure stays visible, labelled gross.
    assert_eq!(o.gross_margin, Money::eur(1990));
    assert_eq!(o.gross_margin_pct, 49.75);
    // Sell side.
    assert_eq!(line(&o, "sell_price"), Money::eur(5990));
    assert_eq!(line(&o, "output_vat"), Money::eur(-956));
    assert_eq!(
        line(&o, "referral_fee"),
        Money::eur(-899),
        "8.985 rounds half away from zero"
    );
    assert_eq!(line(&o, "fba_fee"), Money::eur(-410));
    assert_eq!(line(&o, "storage"), Money::eur(-15));
    assert_eq!(line(&o, "returns_reserve"), Money::eur(-60));
    assert_eq!(line(&o, "net_proceeds"), Money::eur(3650));
    // Buy side and route.
    assert_eq!(line(&o, "buy_price"), Money::eur(-4000));
    assert_eq!(line(&o, "input_vat"), Money::eur(721));
    assert_eq!(line(&o, "prep"), Money::eur(-50));
    assert_eq!(line(&o, "inbound"), Money::eur(-60));
    assert_eq!(line(&o, "landed_cost"), Money::eur(-3389));
    // Results.
    assert_eq!(o.net_profit, Money::eur(261));
    assert_eq!(line(&o, "profit"), Money::eur(261));
    assert_eq!(o.roi_pct, 7.71);
    assert_eq!(o.net_margin_pct, 5.19, "5.2 % of net revenue");
    assert_eq!(o.max_buy_price, Some(Money::eur(3577)));
    assert_eq!(o.target_sell_price, Some(Money::eur(6593)));
    assert_eq!(o.break_even_sell_price, Some(Money::eur(5611)));
    // It fails the 20 % ROI and €3 profit gates, and says so.
    assert!(!o.ranked);
    assert!(o.flags.contains_name("ROI") && o.flags.contains_name("PROFIT"));
    // Data honesty.
    assert_eq!(o.breakdown.vat_table.as_deref(), Some("2025-01-01"));
    assert_eq!(o.breakdown.fee_table.as_deref(), Some("2025-02-01"));
    assert_eq!(o.breakdown.fx_eur_per_gbp, None, "EUR-only route");
    let referral = o
        .breakdown
        .lines
        .iter()
        .find(|l| l.id == "referral_fee")
        .unwrap();
    assert_eq!(referral.source, "config:referral 2025-02-01");
    assert_eq!(
        o.breakdown
            .lines
            .iter()
            .find(|l| l.id == "fba_fee")
            .unwrap()
            .source,
        "keepa"
    );
    assert_eq!(o.updated_at, now());
}

#[test]
fn worked_example_case_b_bought_as_a_consumer_is_a_loss() {
    let o = worked_example("[economics]\npurchase_vat_invoice = false\n");
    assert_eq!(line(&o, "landed_cost"), Money::eur(-4110));
    assert_eq!(o.net_profit, Money::eur(-460));
    assert_eq!(o.roi_pct, -11.19, "ROI −11.2 %");
    assert_eq!(o.max_buy_price, Some(Money::eur(2932)));
}

#[test]
fn worked_example_unrounded_values_match_to_six_places() {
    let econ = econ("");
    let tab = econ.tables().at(now().date_naive()).unwrap();
    let schedule = &tab.referral.table;
    let fx = ecb_fx();
    let sell = SellTerms {
        currency: Market::DE.currency(),
        vat: tab.vat.table.rate(Market::DE, None).dec(),
        category: schedule.category("default"),
        schedule,
        dsf: schedule.dsf[market_index(Market::DE)].to(),
        fee_vat: Decimal::ZERO,
        fba_fee: d("4.10"),
        storage: d("0.15"),
        returns: econ.params().returns_reserve.dec(),
        payout_fee: Decimal::ZERO,
    };
    let side = sell.evaluate(d("59.90"), &fx);
    assert_eq!(r6(side.net_price), d("50.336134"));
    assert_eq!(r6(side.output_vat), d("9.563866"));
    assert_eq!(side.referral, d("8.985"));
    assert_eq!(round_cents(side.referral), d("8.99"));
    assert_eq!(r6(side.net_eur), d("36.501134"));

    let buy = BuyTerms {
        currency: Market::IT.currency(),
        vat: tab.vat.table.rate(Market::IT, None).dec(),
        recoverable: true,
        spread: Decimal::ZERO,
    };
    let bought = buy.evaluate(d("40.00"), &fx);
    let route = econ.tables().route(Market::IT, Market::DE);
    let add = RouteCost::of(route, bought.purchase_eur, sell.vat, d("0.6"));
    assert_eq!(add.total, d("1.10"));
    let landed = bought.purchase_eur + add.total;
    assert_eq!(r6(landed), d("33.886885"));
    let f = model::figures(
        &side,
        Market::DE.currency(),
        landed,
        &fx,
        d("0.20"),
        d("3.00"),
    );
    assert_eq!(r6(f.profit), d("2.614249"));
    assert_eq!((f.roi * Decimal::ONE_HUNDRED).round_dp(4), d("7.7146"));
    assert_eq!((f.margin_net * Decimal::ONE_HUNDRED).round_dp(1), d("5.2"));
    assert_eq!(
        (f.margin_gross * Decimal::ONE_HUNDRED).round_dp(1),
        d("4.4")
    );
    assert_eq!(r6(f.max_cost), d("30.417612"));
    let max_buy = buy.closed_form_price(f.max_cost - add.total, &fx);
    assert_eq!(round_cents(max_buy), d("35.77"));

    // Target sell for 20 %: 45.514262 / 0.690336 = 65.93; break-even 56.11.
    let target = sell.closed_form_price(landed * d("1.2"), &fx).unwrap();
    assert_eq!(round_cents(target), d("65.93"));
    let even = sell.closed_form_price(landed, &fx).unwrap();
    assert_eq!(round_cents(even), d("56.11"));
    // The search agrees: the smallest cent price reaching the target is the closed form
    // rounded up to the cent.
    use arbdesk::economics::solve::smallest_sell_price;
    let ceil = |x: Decimal| (x * Decimal::ONE_HUNDRED).ceil().try_into().unwrap();
    assert_eq!(
        smallest_sell_price(&sell, &fx, landed * d("1.2")),
        Some(ceil(target))
    );
    assert_eq!(smallest_sell_price(&sell, &fx, landed), Some(ceil(even)));

    // Case B: no invoice, the whole 40.00 is cost.
    let consumer = BuyTerms {
        recoverable: false,
        ..buy
    };
    let landed_b = consumer.evaluate(d("40.00"), &fx).purchase_eur + add.total;
    let fb = model::figures(
        &side,
        Market::DE.currency(),
        landed_b,
        &fx,
        d("0.20"),
        d("3.00"),
    );
    assert_eq!(r6(fb.profit), d("-4.598866"));
}

/// The sell price line says when the price is the 90-day average taken because it is
/// below today's Buy Box (economics.md §3), so it does not read as a wrong price.
#[test]
fn the_sell_price_line_says_when_it_is_the_90_day_average() {
    let det = Detector::new(econ(""));
    let mut de = snap(Market::DE, 5_000);
    de.buy_box_avg90 = Some(Money::new(4_600, Currency::EUR));
    let p = product(vec![snap(Market::IT, 3_000), de]);
    let rows = detect_explained(&det, &p, &ecb_fx(), now());
    let o = row(&rows, Market::IT, Market::DE);
    assert_eq!(o.sell_price, Money::new(4_600, Currency::EUR));
    let label = &o.breakdown.lines[0].label;
    assert_eq!(
        label,
        "Sell price in DE, Buy Box landed, 90-day average (below today's)"
    );
    // With no Buy Box today, the average is all there is, and the line says so.
    let mut de = snap(Market::DE, 5_000);
    de.buy_box = None;
    de.buy_box_avg90 = Some(Money::new(4_600, Currency::EUR));
    let p = product(vec![snap(Market::IT, 3_000), de]);
    let rows = detect_explained(&det, &p, &ecb_fx(), now());
    let o = row(&rows, Market::IT, Market::DE);
    assert_eq!(o.sell_price, Money::new(4_600, Currency::EUR));
    assert_eq!(
        o.breakdown.lines[0].label,
        "Sell price in DE, Buy Box landed, 90-day average (no Buy Box today)"
    );
    // Today's price, when it is the lower one, is just the Buy Box.
    let p = product(vec![snap(Market::IT, 3_000), snap(Market::DE, 5_000)]);
    let rows = detect_explained(&det, &p, &ecb_fx(), now());
    let o = row(&rows, Market::IT, Market::DE);
    assert_eq!(
        o.breakdown.lines[0].label,
        "Sell price in DE, Buy Box landed"
    );
}

/// A row carries the sell market's demand figures and the brand it was computed with (what
/// the console's `bsr`, `sold`, `drops30` and `brand` filters read), not the buy side's.
#[test]
fn a_row_carries_the_sell_markets_demand_and_the_brand() {
    let det = Detector::new(econ(""));
    let mut de = snap(Market::DE, 5_000);
    (de.sales_rank, de.monthly_sold, de.rank_drops30) = (Some(7_777), None, Some(12));
    let p = product(vec![snap(Market::IT, 3_000), de]);
    let rows = det.detect(&p, &ecb_fx(), now());
    let o = row(&rows, Market::IT, Market::DE);
    assert_eq!(o.sell_facts.brand.as_deref(), Some("Demo"));
    assert_eq!(
        (
            o.sell_facts.sales_rank,
            o.sell_facts.monthly_sold,
            o.sell_facts.rank_drops30
        ),
        (Some(7_777), None, Some(12))
    );
}
