//! The detector over whole products: which routes exist, how GBP is converted, which gates
//! fail, how rows are ranked, and that no input makes it panic.

use arbdesk::domain::{Currency, Market, Money, PriceSnapshot};
use arbdesk::economics::model::{self, BuyTerms, RouteCost, SellTerms};
use arbdesk::economics::tables::market_index;
use arbdesk::economics::{Detector, FxRate, cmp_rank, expected_monthly_profit, monthly_units};
use chrono::{Duration, NaiveDate};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::{d, detect_explained, ecb_fx, econ, line, now, product, row, snap};

fn eur(x: Decimal) -> Money {
    arbdesk::economics::money(x, Currency::EUR)
}

fn flags(o: &arbdesk::domain::Opportunity) -> Vec<&str> {
    o.flags.names().collect()
}

/// IT €30.00 → DE €59.90: profitable, every gate passes.
fn healthy() -> (PriceSnapshot, PriceSnapshot) {
    (snap(Market::IT, 3000), snap(Market::DE, 5990))
}

fn detect_it_de(it: PriceSnapshot, de: PriceSnapshot) -> arbdesk::domain::Opportunity {
    let det = Detector::new(econ(""));
    let rows = detect_explained(&det, &product(vec![it, de]), &ecb_fx(), now());
    row(&rows, Market::IT, Market::DE).clone()
}

#[test]
fn a_profitable_route_passes_every_gate_and_is_ranked() {
    let (it, de) = healthy();
    let o = detect_it_de(it, de);
    assert!(o.ranked, "{:?}", o.flags);
    assert!(o.flags.is_empty(), "{:?}", o.flags);
    assert_eq!(
        o.net_profit,
        Money::eur(1081),
        "36.501134 − (30/1.22 + 1.10)"
    );
    // q = 100 sales / (4 FBA offers + 1) = 20 = Q_buy: E = 20 π.
    assert_eq!(o.expected_monthly_profit, Money::eur(21622));
}

#[test]
fn only_pairs_with_a_positive_gross_gap_exist() {
    let det = Detector::new(econ(""));
    let rows = detect_explained(
        &det,
        &product(vec![
            snap(Market::IT, 4000),
            snap(Market::DE, 5990),
            snap(Market::FR, 5990),
        ]),
        &ecb_fx(),
        now(),
    );
    let routes: Vec<(Market, Market)> =
        rows.iter().map(|o| (o.buy_market, o.sell_market)).collect();
    // DE and FR are equal (gross 0): no pair between them; nothing is sold into IT.
    assert_eq!(
        routes,
        vec![(Market::IT, Market::DE), (Market::IT, Market::FR)]
    );
}

#[test]
fn an_out_of_stock_market_is_in_no_pair() {
    let mut it = snap(Market::IT, 4000);
    it.buy_box = None;
    it.new = None;
    it.amazon = None; // its 90-day average alone is no price
    let det = Detector::new(econ(""));
    let rows = detect_explained(
        &det,
        &product(vec![it, snap(Market::DE, 5990), snap(Market::ES, 4500)]),
        &ecb_fx(),
        now(),
    );
    assert!(
        rows.iter()
            .all(|o| o.buy_market != Market::IT && o.sell_market != Market::IT)
    );
    assert_eq!(rows.len(), 1, "ES→DE only");
}

#[test]
fn all_twenty_routes_exist_when_every_market_sells_above_its_cheapest_offer() {
    // No Buy Box data: sell at Amazon's price, buy at the lowest New — in every market.
    let snaps = Market::ALL
        .into_iter()
        .map(|m| {
            let mut s = snap(m, 0);
            s.buy_box = None;
            s.buy_box_avg90 = None;
            s.amazon = Some(Money::new(9_000, m.currency()));
            s.new = Some(Money::new(5_000, m.currency()));
            s
        })
        .collect();
    let det = Detector::new(econ(""));
    let rows = detect_explained(&det, &product(snaps), &ecb_fx(), now());
    assert_eq!(rows.len(), 20);
    assert!(
        rows.iter()
            .all(|o| o.flags.contains_name("NO_BUYBOX") && o.flags.contains_name("AMAZON"))
    );
    // UK→DE and DE→UK exist but stay unranked until customs are configured.
    assert!(flags(row(&rows, Market::UK, Market::DE)).contains(&"ROUTE_DISABLED"));
    assert!(flags(row(&rows, Market::DE, Market::UK)).contains(&"ROUTE_DISABLED"));
}

#[test]
fn gbp_is_converted_at_the_published_rate_never_taken_as_eur() {
    let det = Detector::new(econ(""));
    let fx = ecb_fx(); // 1 EUR = 0.8653 GBP
    let rows = detect_explained(
        &det,
        &product(vec![snap(Market::DE, 4000), snap(Market::UK, 5000)]),
        &fx,
        now(),
    );
    let o = row(&rows, Market::DE, Market::UK);
    assert_eq!(o.sell_price, Money::gbp(5000));
    assert_eq!(o.buy_price, Money::eur(4000));
    // £50.00 / 0.8653 = €57.7834…; taken as EUR it would be €10.00.
    assert_eq!(o.gross_margin, Money::eur(1778));
    assert_eq!(o.breakdown.fx_date.as_deref(), Some("2026-06-09"));
    assert!((o.breakdown.fx_eur_per_gbp.unwrap() - 1.155669).abs() < 1e-6);
    // The payout fee applies on the GBP sell side, no purchase spread on the EUR buy side.
    let ids: Vec<&str> = o.breakdown.lines.iter().map(|l| l.id.as_str()).collect();
    assert!(ids.contains(&"payout_fx_fee") && !ids.contains(&"purchase_fx_spread"));
    assert_eq!(line(o, "sell_price"), Money::gbp(5000));
    assert_eq!(line(o, "referral_fee"), Money::gbp(-750));
    let conversion = o
        .breakdown
        .lines
        .iter()
        .find(|l| l.id == "proceeds_eur")
        .unwrap();
    assert_eq!(conversion.source, "ecb 2026-06-09");

    // N by hand: (50/1.2 − (7.50·1.02 + (4.10 + 0.15)·1.02) − 0.60) / 0.8653 · (1 − 0.0075).
    let fees = d("7.50") * d("1.02") + (d("4.10") + d("0.15")) * d("1.02");
    let n = (d("50") / d("1.2") - fees - d("0.60")) / d("0.8653") * (Decimal::ONE - d("0.0075"));
    assert_eq!(line(o, "net_proceeds"), eur(n));
    let l = d("40") / d("1.19") + d("1.10");
    assert_eq!(o.net_profit, eur(n - l));

    // Other direction: the purchase spread applies on the GBP buy side, no payout fee.
    let rows = detect_explained(
        &det,
        &product(vec![snap(Market::UK, 3000), snap(Market::DE, 5990)]),
        &fx,
        now(),
    );
    let o = row(&rows, Market::UK, Market::DE);
    let ids: Vec<&str> = o.breakdown.lines.iter().map(|l| l.id.as_str()).collect();
    assert!(ids.contains(&"purchase_fx_spread") && !ids.contains(&"payout_fx_fee"));
    let purchase = d("30") / d("1.2") / d("0.8653") * d("1.015");
    assert_eq!(line(o, "landed_cost"), eur(-(purchase + d("1.10"))));
    assert!(flags(o).contains(&"ROUTE_DISABLED") && !o.ranked);

    // EUR-only rows carry no GBP rate at all.
    let rows = detect_explained(
        &det,
        &product(vec![snap(Market::IT, 3000), snap(Market::DE, 5990)]),
        &fx,
        now(),
    );
    let ids: Vec<&str> = rows[0]
        .breakdown
        .lines
        .iter()
        .map(|l| l.id.as_str())
        .collect();
    assert!(!ids.contains(&"purchase_fx_spread") && !ids.contains(&"payout_fx_fee"));
}

#[test]
fn a_stale_rate_unranks_gbp_routes_only() {
    let det = Detector::new(econ(CUSTOMS_UK_DE));
    let old = FxRate::ecb(d("0.8653"), NaiveDate::from_ymd_opt(2026, 6, 1).unwrap());
    let p = product(vec![
        snap(Market::UK, 2000),
        snap(Market::IT, 3000),
        snap(Market::DE, 5990),
    ]);
    let rows = detect_explained(&det, &p, &old, now());
    // A route between euro markets uses no rate: no flag to worry about.
    let eur = row(&rows, Market::IT, Market::DE);
    assert!(eur.ranked && eur.flags.is_empty(), "{:?}", eur.flags);
    let gbp = row(&rows, Market::UK, Market::DE);
    assert!(
        !gbp.ranked && flags(gbp).contains(&"FX_STALE"),
        "{:?}",
        gbp.flags
    );
    // With today's rate the same UK route is ranked.
    let rows = detect_explained(&det, &p, &ecb_fx(), now());
    assert!(
        row(&rows, Market::UK, Market::DE).ranked,
        "{:?}",
        row(&rows, Market::UK, Market::DE).flags
    );
}

const CUSTOMS_UK_DE: &str = r#"
[[route]]
from = "UK"
to = "DE"
prep = 0.50
inbound = 0.60
customs = { duty_rate = 0.04, import_vat_recoverable = false, broker_per_shipment = 35.00, units_per_shipment = 50 }
"#;

/// Recoverable import VAT is no cost, and its line says why it is 0.
#[test]
fn recoverable_import_vat_is_named_as_no_cost() {
    let config = CUSTOMS_UK_DE.replace(
        "import_vat_recoverable = false",
        "import_vat_recoverable = true",
    );
    let det = Detector::new(econ(&config));
    let rows = detect_explained(
        &det,
        &product(vec![snap(Market::UK, 2500), snap(Market::DE, 5990)]),
        &ecb_fx(),
        now(),
    );
    let o = row(&rows, Market::UK, Market::DE);
    let vat = o
        .breakdown
        .lines
        .iter()
        .find(|l| l.id == "import_vat")
        .unwrap();
    assert_eq!(vat.amount, Money::eur(0));
    assert_eq!(vat.label, "Import VAT, recovered: no cost");
}

#[test]
fn customs_add_duty_broker_and_import_vat_and_max_buy_is_found_by_search() {
    let econ = econ(CUSTOMS_UK_DE);
    let det = Detector::new(econ.clone());
    let fx = ecb_fx();
    let rows = detect_explained(
        &det,
        &product(vec![snap(Market::UK, 2500), snap(Market::DE, 5990)]),
        &fx,
        now(),
    );
    let o = row(&rows, Market::UK, Market::DE);
    // Purchase £25 net of 20 % UK VAT, in EUR, plus 1.5 % spread.
    let c = d("25") / d("1.2") / d("0.8653") * d("1.015");
    let duty = c * d("0.04");
    let import_vat = (c + duty) * d("0.19");
    assert_eq!(line(o, "duty"), eur(-duty));
    assert_eq!(line(o, "broker"), Money::eur(-70));
    assert_eq!(line(o, "import_vat"), eur(-import_vat));
    let landed = c + duty + import_vat + d("0.70") + d("1.10");
    assert_eq!(line(o, "landed_cost"), eur(-landed));

    // The max buy price is the highest passing price, found by search, rounded to the penny
    // half away from zero as every shown figure is: half a penny below it passes, half a
    // penny above it fails.
    let max = o.max_buy_price.unwrap();
    assert_eq!(max.currency, Currency::GBP);
    let tab = econ.tables().at(now().date_naive()).unwrap();
    let sched = &tab.referral.table;
    let sell = SellTerms {
        currency: Currency::EUR,
        vat: d("0.19"),
        category: sched.category("default"),
        schedule: sched,
        dsf: sched.dsf[market_index(Market::DE)].to(),
        fee_vat: Decimal::ZERO,
        fba_fee: d("4.10"),
        storage: d("0.15"),
        returns: d("0.60"),
        payout_fee: Decimal::ZERO,
    };
    let n = sell.evaluate(d("59.90"), &fx).net_eur;
    let buy = BuyTerms {
        currency: Currency::GBP,
        vat: d("0.20"),
        recoverable: true,
        spread: d("0.015"),
    };
    let route = econ.tables().route(Market::UK, Market::DE);
    let landed_at = |half_pence: i64| {
        let side = buy.evaluate(Decimal::new(half_pence * 5, 3), &fx);
        side.purchase_eur + RouteCost::of(route, side.purchase_eur, d("0.19"), d("0.6")).total
    };
    assert!(model::passes_money_gates(
        n,
        landed_at(2 * max.minor - 1),
        d("0.20"),
        d("3.00")
    ));
    assert!(!model::passes_money_gates(
        n,
        landed_at(2 * max.minor + 1),
        d("0.20"),
        d("3.00")
    ));
}

#[test]
fn each_failed_gate_is_a_flag_and_unranks_the_row() {
    type Tweak = fn(&mut PriceSnapshot, &mut PriceSnapshot);
    let cases: Vec<(&str, Tweak)> = vec![
        ("SPIKE", |_, de| de.buy_box_avg90 = Some(Money::eur(4500))),
        ("NO_HISTORY", |_, de| de.buy_box_avg90 = None),
        ("DEMAND", |_, de| {
            de.monthly_sold = None;
            de.rank_drops30 = Some(4);
        }),
        ("STALE", |it, _| {
            it.observed_at = now() - Duration::hours(25)
        }),
        ("IDENTITY", |it, _| it.eans = vec!["8001234567890".into()]),
        ("IDENTITY", |it, _| it.package_quantity = Some(2)),
        ("BLOCKED", |_, de| de.is_hazmat = true),
        ("BLOCKED", |it, _| it.is_adult = true),
        ("FBA_FEE_UNKNOWN", |_, de| {
            de.fba_fee = None;
            de.package.weight_g = Some(30_000);
        }),
        ("NO_PACKAGE", |it, de| {
            it.package = arbdesk::domain::PackageDims::default();
            de.package = arbdesk::domain::PackageDims::default();
        }),
    ];
    for (want, tweak) in cases {
        let (mut it, mut de) = healthy();
        tweak(&mut it, &mut de);
        let o = detect_it_de(it, de);
        assert!(o.flags.contains_name(want), "{want}: {:?}", o.flags);
        assert!(!o.ranked, "{want} must unrank");
    }
}

/// With no FBA fee known the net figures would count it as 0: they are unknown instead,
/// and so are the prices derived from them, while the breakdown says what it counted.
#[test]
fn an_unknown_fba_fee_leaves_the_net_figures_unknown() {
    let (it, mut de) = healthy();
    let known = detect_it_de(it.clone(), de.clone());
    assert!(known.has_net() && known.max_buy_price.is_some());
    de.fba_fee = None;
    de.package.weight_g = Some(30_000);
    let o = detect_it_de(it, de);
    assert!(o.flags.contains_name("FBA_FEE_UNKNOWN"), "{:?}", o.flags);
    assert!(!o.has_net(), "{:?}", o.flags);
    assert!(o.net_unknown().unwrap().contains("FBA_FEE_UNKNOWN"));
    assert_eq!(
        (
            o.max_buy_price,
            o.target_sell_price,
            o.break_even_sell_price
        ),
        (None, None, None)
    );
    assert!(
        o.breakdown
            .lines
            .iter()
            .any(|l| l.id == "fba_fee" && l.amount.minor == 0),
        "{:?}",
        o.breakdown.lines
    );
    // The line that reads as the profit says it is none.
    let profit = o.breakdown.lines.last().unwrap();
    assert!(
        profit.label.contains("not a profit") && !profit.label.contains("ROI"),
        "{profit:?}"
    );
    assert!(arbdesk::commands::export::csv_row(&o).contains(",,,,,,,"));
}

/// A marginal schedule charges each slice at its own rate, so the referral line names the
/// slices: "10 % at this price" would read as 10 % of the whole price.
#[test]
fn a_marginal_referral_line_names_its_slices() {
    let (it, mut de) = healthy();
    de.product_group = Some("Furniture".into());
    de.buy_box = Some(Money::eur(30_000));
    de.buy_box_avg90 = de.buy_box;
    let o = detect_it_de(it, de);
    let referral = o
        .breakdown
        .lines
        .iter()
        .find(|l| l.id == "referral_fee")
        .unwrap();
    assert!(
        referral.label.contains("tiered, 15 % to 200, 10 % above"),
        "{}",
        referral.label
    );
    assert_eq!(
        referral.amount,
        Money::eur(-4_000),
        "200 · 15 % + 100 · 10 %"
    );
}

#[test]
fn warnings_are_flags_that_do_not_unrank() {
    type Tweak = fn(&mut PriceSnapshot, &mut PriceSnapshot);
    let cases: Vec<(&str, Tweak)> = vec![
        ("FEE_MISMATCH", |_, de| de.referral_fee_pct = Some(7.0)),
        ("AMAZON", |_, de| de.buy_box_is_amazon = Some(true)),
        ("NO_BUYBOX", |_, de| {
            de.buy_box = None;
            de.buy_box_avg90 = None;
            de.new_avg90 = de.new;
        }),
    ];
    for (want, tweak) in cases {
        let (mut it, mut de) = healthy();
        tweak(&mut it, &mut de);
        let o = detect_it_de(it, de);
        assert!(o.flags.contains_name(want), "{want}: {:?}", o.flags);
        assert!(o.ranked, "{want} is a warning: {:?}", o.flags);
    }
    // Within a point of the table is no mismatch.
    let (it, mut de) = healthy();
    de.referral_fee_pct = Some(15.9);
    assert!(detect_it_de(it, de).flags.is_empty());
}

#[test]
fn without_keepa_fees_the_weight_table_prices_fulfilment() {
    let (it, mut de) = healthy();
    de.fba_fee = None; // 600 g → the DE tier up to 1000 g: €4.10
    let o = detect_it_de(it, de);
    assert_eq!(line(&o, "fba_fee"), Money::eur(-410));
    let src = &o
        .breakdown
        .lines
        .iter()
        .find(|l| l.id == "fba_fee")
        .unwrap()
        .source;
    assert_eq!(src, "config:fba 2025-10-15 (600 g)");
    assert!(o.ranked);
}

#[test]
fn the_section_4_1_example_ranks_x_before_y() {
    // X: 120 sales, no Amazon, 5 FBA offers → q = 20; Y: 30 sales, Amazon wins half the
    // Buy Boxes and offers itself among 5 FBA offers (4 others) → q = 3.
    let mut x = snap(Market::DE, 5990);
    x.monthly_sold = Some(120);
    x.offers_new_fba = Some(5);
    let mut y = snap(Market::DE, 5990);
    y.monthly_sold = Some(30);
    y.amazon = Some(Money::eur(5990));
    y.amazon_buy_box_share_pct = Some(50.0);
    y.offers_new_fba = Some(5);
    assert_eq!(monthly_units(&x), d("20"));
    assert_eq!(monthly_units(&y), d("3"));
    let q_buy = d("20");
    assert_eq!(
        expected_monthly_profit(d("6.00"), monthly_units(&x), q_buy),
        d("120")
    );
    assert_eq!(
        expected_monthly_profit(d("15.00"), monthly_units(&y), q_buy),
        d("45")
    );
    // Without buyBoxStats, Amazon holding the Buy Box counts as all of it.
    y.amazon_buy_box_share_pct = None;
    y.buy_box_is_amazon = Some(true);
    assert_eq!(monthly_units(&y), d("0"));
    // Rank drops stand in for missing monthly sales.
    x.monthly_sold = None;
    x.rank_drops30 = Some(12);
    assert_eq!(monthly_units(&x), d("2"));

    let (it, de) = healthy();
    let base = detect_it_de(it, de);
    let mut rx = base.clone();
    rx.net_profit = Money::eur(600);
    rx.roi_pct = 22.0;
    rx.expected_monthly_profit = Money::eur(12_000);
    let mut ry = base.clone();
    ry.net_profit = Money::eur(1500);
    ry.roi_pct = 45.0;
    ry.expected_monthly_profit = Money::eur(4_500);
    ry.asin = "B0AAAAAAAA".parse().unwrap();
    let mut list = [ry.clone(), rx.clone()];
    list.sort_by(cmp_rank);
    assert_eq!(
        list[0].expected_monthly_profit,
        Money::eur(12_000),
        "X first"
    );
    // Ties on E break by ROI, then π, then ASIN; unranked rows come last.
    let mut tie = ry.clone();
    tie.expected_monthly_profit = rx.expected_monthly_profit;
    let mut list = [rx.clone(), tie.clone()];
    list.sort_by(cmp_rank);
    assert_eq!(list[0].roi_pct, 45.0);
    let mut unranked = ry.clone();
    unranked.ranked = false;
    unranked.expected_monthly_profit = Money::eur(1_000_000);
    let mut list = [unranked, rx.clone()];
    list.sort_by(cmp_rank);
    assert!(list[0].ranked);
}

fn arb_money(currency: Currency) -> impl Strategy<Value = Option<Money>> {
    prop_oneof![
        Just(None),
        (-5i64..200_000).prop_map(move |v| Some(Money::new(v, currency))),
        any::<i64>().prop_map(move |v| Some(Money::new(v, currency))),
        any::<i64>().prop_map(|v| Some(Money::eur(v))),
    ]
}

fn arb_snap(m: Market) -> impl Strategy<Value = PriceSnapshot> {
    let c = m.currency();
    (
        (
            arb_money(c),
            arb_money(c),
            arb_money(c),
            arb_money(c),
            arb_money(c),
            arb_money(c),
        ),
        (
            any::<Option<i64>>(),
            any::<Option<i64>>(),
            any::<Option<i64>>(),
            any::<Option<i64>>(),
        ),
        (
            any::<Option<f64>>(),
            any::<Option<f64>>(),
            any::<Option<bool>>(),
            any::<Option<i64>>(),
            any::<Option<i64>>(),
        ),
        -100_000i64..100_000,
    )
        .prop_map(move |(prices, counts, misc, age_min)| {
            let mut s = snap(m, 1000);
            (
                s.amazon,
                s.new,
                s.buy_box,
                s.amazon_avg90,
                s.new_avg90,
                s.buy_box_avg90,
            ) = prices;
            (
                s.monthly_sold,
                s.rank_drops30,
                s.offers_new,
                s.offers_new_fba,
            ) = counts;
            let (share, referral, bb_amazon, weight, length) = misc;
            s.amazon_buy_box_share_pct = share;
            s.referral_fee_pct = referral;
            s.buy_box_is_amazon = bb_amazon;
            s.package.weight_g = weight;
            s.package.length_mm = length;
            s.fba_fee = if age_min % 3 == 0 { None } else { s.fba_fee };
            s.observed_at = now() - Duration::minutes(age_min);
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_input_panics_and_every_row_has_a_positive_gross_gap(
        uk in arb_snap(Market::UK), de in arb_snap(Market::DE), it in arb_snap(Market::IT),
        x in prop_oneof![Just("0.8653"), Just("0.0001"), Just("0"), Just("-1"), Just("99999")],
    ) {
        let det = Detector::new(econ(CUSTOMS_UK_DE));
        let fx = FxRate::ecb(d(x), NaiveDate::from_ymd_opt(2026, 6, 9).unwrap());
        for o in detect_explained(&det, &product(vec![uk, de, it]), &fx, now()) {
            prop_assert!(o.gross_margin.minor >= 0);
            prop_assert!(o.gross_margin_pct >= 0.0);
            prop_assert!(o.buy_market != o.sell_market);
        }
    }
}

#[test]
fn a_decoded_keepa_listing_feeds_the_detector() {
    let raw = super::super::util::fixture("product_de.json");
    let products = arbdesk::keepa::decode::product_list(raw.as_bytes()).unwrap();
    let de = arbdesk::keepa::decode_product(&products[0])
        .unwrap()
        .snapshot;
    // Package size and weight come through from Keepa's packageLength/Width/Height/Weight.
    assert_eq!(
        de.package,
        arbdesk::domain::PackageDims {
            length_mm: Some(215),
            width_mm: Some(190),
            height_mm: Some(95),
            weight_g: Some(412),
        }
    );
    // The same item, listed cheaper in IT.
    let mut it = de.clone();
    it.market = Market::IT;
    it.buy_box = Some(Money::eur(5000));
    let at = de.observed_at + Duration::hours(1);
    let det = Detector::new(econ(""));
    let rows = detect_explained(&det, &product(vec![de.clone(), it]), &ecb_fx(), at);
    let o = row(&rows, Market::IT, Market::DE);
    let referral = o
        .breakdown
        .lines
        .iter()
        .find(|l| l.id == "referral_fee")
        .unwrap();
    assert!(
        referral.label.contains("consumer_electronics"),
        "{}",
        referral.label
    );
    assert_eq!(o.breakdown.sell_observed_at, Some(de.observed_at));
    // 215 × 190 × 95 mm = 0.00388075 m³ at 25/m³·month for one month.
    assert_eq!(
        line(o, "storage"),
        arbdesk::economics::money(d("-0.09701875"), Currency::EUR)
    );
}

#[test]
fn selling_where_the_operator_has_no_vat_number_is_flagged() {
    let det = Detector::new(econ("[economics]\nvat_registered_in = [\"DE\"]\n"));
    let p = product(vec![
        snap(Market::IT, 3000),
        snap(Market::DE, 5990),
        snap(Market::FR, 5990),
    ]);
    let rows = detect_explained(&det, &p, &ecb_fx(), now());
    assert!(!flags(row(&rows, Market::IT, Market::DE)).contains(&"VAT_REGISTRATION"));
    let fr = row(&rows, Market::IT, Market::FR);
    assert!(
        flags(fr).contains(&"VAT_REGISTRATION") && fr.ranked,
        "a warning: {:?}",
        fr.flags
    );
    // Not registered anywhere: every row says so, and input VAT is cost.
    let det = Detector::new(econ(
        "[economics]\nvat_scheme = \"not_registered\"\nfee_vat_rate = 0.19\n",
    ));
    let rows = detect_explained(&det, &p, &ecb_fx(), now());
    let de = row(&rows, Market::IT, Market::DE);
    assert!(flags(de).contains(&"VAT_REGISTRATION"));
    assert_eq!(line(de, "input_vat"), Money::eur(0));
    assert_eq!(
        line(de, "fee_vat"),
        eur(-(d("8.985") + d("4.10") + d("0.15")) * d("0.19"))
    );
}

/// Input VAT is recovered only where the operator can reclaim it: UK VAT needs a UK VAT
/// number, an EU purchase needs one in some EU market (intra-EU B2B); unlisted, every
/// invoice counts.
#[test]
fn input_vat_is_recovered_only_where_a_vat_number_reclaims_it() {
    let p = product(vec![
        snap(Market::UK, 2500),
        snap(Market::IT, 3000),
        snap(Market::DE, 5990),
    ]);
    let detect = |registered: &str| {
        let det = Detector::new(econ(&format!(
            "[economics]\n{registered}\n[[route]]\nfrom = \"UK\"\nto = \"DE\"\n\
             customs = {{ duty_rate = 0.0, import_vat_recoverable = true, \
             broker_per_shipment = 0.0, units_per_shipment = 1 }}\n"
        )));
        detect_explained(&det, &p, &ecb_fx(), now())
    };
    let input_vat = |registered: &str, buy: Market| {
        line(row(&detect(registered), buy, Market::DE), "input_vat")
    };
    let none = Money::new(0, Currency::GBP);
    // £25.00 with 20 % VAT: £4.17 of it is VAT.
    let uk_vat = Money::new(417, Currency::GBP);
    assert_eq!(input_vat("", Market::UK), uk_vat, "not listed: recovered");
    // ... and said to need a UK VAT number (a warning: the ranking is the gates'), which
    // a UK number listed, or UK VAT not recovered, does not need.
    let flagged = |registered: &str, buy: Market| {
        flags(row(&detect(registered), buy, Market::DE)).contains(&"VAT_REGISTRATION")
    };
    assert!(flagged("", Market::UK));
    assert!(!flagged("", Market::IT), "intra-EU B2B needs any EU number");
    assert!(!flagged("vat_registered_in = [\"DE\", \"UK\"]", Market::UK));
    assert!(!flagged(
        "vat_registered_in = [\"DE\"]\npurchase_vat_invoice = false",
        Market::UK
    ));
    assert_eq!(
        input_vat("vat_registered_in = [\"DE\"]", Market::UK),
        none,
        "a German VAT number does not reclaim UK VAT"
    );
    assert_eq!(
        input_vat("vat_registered_in = [\"DE\", \"UK\"]", Market::UK),
        uk_vat
    );
    // €30.00 with 22 % VAT in IT: intra-EU B2B with the German number.
    let it_vat = Money::eur(541);
    assert_eq!(
        input_vat("vat_registered_in = [\"DE\"]", Market::IT),
        it_vat
    );
    assert_eq!(
        input_vat("vat_registered_in = [\"UK\"]", Market::IT),
        Money::eur(0),
        "a UK number alone is no EU VAT number"
    );
}
