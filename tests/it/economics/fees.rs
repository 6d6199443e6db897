//! Referral fees as the schedules define them: marginal slices, threshold rates, the minimum
//! fee, and the Digital Services Fee; and searches that agree with the closed forms.

use arbdesk::domain::{Currency, Market};
use arbdesk::economics::model::SellTerms;
use arbdesk::economics::num::{Bound, Num, take_unsure};
use arbdesk::economics::solve::{
    Segments, largest_passing, largest_passing_near, shown_max_buy, shown_sell_price,
    smallest_sell_price,
};
use arbdesk::economics::tables::{Dsf, market_index};
use arbdesk::economics::{Economics, round_cents};
use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{d, ecb_fx};

fn shipped() -> Economics {
    Economics::shipped().unwrap()
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 10).unwrap()
}

#[test]
fn marginal_tiers_charge_each_rate_on_its_slice() {
    let econ = shipped();
    let tab = econ.tables().at(day()).unwrap();
    let s = &tab.referral.table;
    let car = s.category("car_motorbike");
    // €100 in Car & Motorbike: 50 · 15 % + 50 · 9 % = €12.00.
    assert_eq!(s.fee(car, d("100"), Currency::EUR), d("12.00"));
    assert_eq!(
        s.fee(car, d("50"), Currency::EUR),
        d("7.50"),
        "upto is inclusive"
    );
    assert_eq!(s.fee(car, d("40"), Currency::EUR), d("6.00"));
    let jewellery = s.category("jewellery");
    assert_eq!(
        s.fee(jewellery, d("300"), Currency::EUR),
        d("52.50"),
        "250·20 % + 50·5 %"
    );
}

#[test]
fn threshold_tiers_pick_one_rate_by_the_total() {
    let econ = shipped();
    let tab = econ.tables().at(day()).unwrap();
    let s = &tab.referral.table;
    let beauty = s.category("beauty_health_grocery");
    assert_eq!(
        s.fee(beauty, d("10.00"), Currency::EUR),
        d("0.80"),
        "8 % up to and including 10.00"
    );
    assert_eq!(
        s.fee(beauty, d("10.01"), Currency::EUR),
        d("1.5015"),
        "15 % of the whole price above"
    );
}

#[test]
fn the_minimum_fee_applies_per_currency() {
    let econ = shipped();
    let tab = econ.tables().at(day()).unwrap();
    let s = &tab.referral.table;
    let ce = s.category("consumer_electronics");
    // 7 % of €3.00 is €0.21: the €0.30 minimum applies; £0.25 in GBP markets.
    assert_eq!(s.fee(ce, d("3.00"), Currency::EUR), d("0.30"));
    assert_eq!(s.fee(ce, d("3.00"), Currency::GBP), d("0.25"));
    assert_eq!(s.fee(ce, d("10.00"), Currency::EUR), d("0.70"));
}

#[test]
fn dsf_surcharges_referral_and_fba_fees_where_configured() {
    let econ = shipped();
    let tab = econ.tables().at(day()).unwrap();
    let s = &tab.referral.table;
    assert_eq!(
        s.dsf[market_index(Market::FR)],
        Dsf {
            referral: d("0.03").into(),
            fba: d("0.03").into()
        }
    );
    assert_eq!(
        s.dsf[market_index(Market::IT)],
        Dsf {
            referral: d("0.03").into(),
            fba: Decimal::ZERO.into()
        }
    );
    assert_eq!(s.dsf[market_index(Market::DE)], Dsf::default());
    let terms = SellTerms {
        currency: Currency::EUR,
        vat: d("0.20"),
        category: s.category("default"),
        schedule: s,
        dsf: s.dsf[market_index(Market::FR)].to(),
        fee_vat: Decimal::ZERO,
        fba_fee: d("4.00"),
        storage: d("0.20"),
        returns: Decimal::ZERO,
        payout_fee: Decimal::ZERO,
    };
    let side = terms.evaluate(d("60.00"), &ecb_fx());
    assert_eq!(side.referral, d("9.00"));
    assert_eq!(side.referral_dsf, d("0.27"));
    assert_eq!(side.fba_dsf, d("0.126"));
    assert_eq!(side.fees, d("13.596"));
    assert_eq!(side.net_eur, d("50") - d("13.596"));
}

/// Sell terms in T for one category, with fee VAT and a payout fee to exercise every factor.
fn terms<'a>(econ: &'a Economics, category: &str, currency: Currency) -> SellTerms<'a> {
    let tab = econ.tables().at(day()).unwrap();
    let s = &tab.referral.table;
    SellTerms {
        currency,
        vat: d("0.20"),
        category: s.category(category),
        schedule: s,
        dsf: s.dsf[market_index(Market::UK)].to(),
        fee_vat: d("0.19"),
        fba_fee: d("3.10"),
        storage: d("0.12"),
        returns: d("0.60"),
        payout_fee: if currency == Currency::GBP {
            d("0.0075")
        } else {
            Decimal::ZERO
        },
    }
}

#[test]
fn search_agrees_with_the_closed_form_where_the_closed_form_applies() {
    let econ = shipped();
    let fx = ecb_fx();
    for currency in [Currency::EUR, Currency::GBP] {
        for cat in ["default", "consumer_electronics", "diy_tools"] {
            let t = terms(&econ, cat, currency);
            for landed in ["5.00", "12.34", "33.886885", "99.99", "250.00"] {
                for roi in ["0", "0.2", "0.35"] {
                    let target = d(landed) * (Decimal::ONE + d(roi));
                    let closed = t
                        .closed_form_price(target, &fx)
                        .expect("flat, min fee not binding");
                    let searched = smallest_sell_price(&t, &fx, target).unwrap();
                    let ceil: i64 = (closed * Decimal::ONE_HUNDRED).ceil().try_into().unwrap();
                    assert_eq!(searched, ceil, "{cat} {currency} L={landed} ROI={roi}");
                    // Shown, both are the threshold rounded to the cent: the same figure.
                    let shown: i64 = (round_cents(closed) * Decimal::ONE_HUNDRED)
                        .try_into()
                        .unwrap();
                    let net = |p: Decimal| t.evaluate(p, &fx).net_eur;
                    assert_eq!(
                        shown_sell_price(searched, target, net),
                        shown,
                        "{cat} {currency} L={landed} ROI={roi}"
                    );
                }
            }
        }
    }
}

#[test]
fn search_finds_the_cheapest_price_across_a_threshold_jump() {
    let econ = shipped();
    let fx = ecb_fx();
    let t = terms(&econ, "beauty_health_grocery", Currency::EUR);
    assert_eq!(
        t.closed_form_price(d("1"), &fx),
        None,
        "no closed form for tiers"
    );
    // N just below the 10.00 threshold is higher than just above it; every target is
    // reached first at the smallest price that reaches it, whichever side that is on.
    let n = |c: i64| t.evaluate(Decimal::new(c, 2), &fx).net_eur;
    assert!(n(1000) > n(1001));
    for target in ["0.50", "1.00", "2.00", "2.50", "4.00"] {
        let target = d(target);
        let found = smallest_sell_price(&t, &fx, target).unwrap();
        assert!(n(found) >= target);
        assert!(
            (1..found).all(|c| n(c) < target),
            "a cheaper price reaches {target}"
        );
    }
}

#[test]
fn shown_prices_are_the_thresholds_rounded_to_the_cent() {
    let half = |c: i64, halves: i64| Decimal::new((2 * c + halves) * 5, 3);
    // Max buy: the highest passing price rounded half away from zero, as §6's closed forms
    // are (€35.767487 shows as €35.77, case B's €29.317612 as €29.32).
    for (threshold, largest_passing_cent, shown) in [
        ("35.767487", 3_576, 3_577),
        ("29.317612", 2_931, 2_932),
        ("12.345", 1_234, 1_235),
        ("12.3449", 1_234, 1_234),
    ] {
        let passes = |p: Decimal| p <= d(threshold);
        assert_eq!(
            largest_passing(100_000, |c| passes(Decimal::new(c, 2))),
            Some(largest_passing_cent)
        );
        assert_eq!(
            shown_max_buy(largest_passing_cent, 100_000, passes),
            shown,
            "{threshold}"
        );
    }
    // At the search's bound nothing beyond it is claimed.
    assert_eq!(shown_max_buy(500, 500, |_: Decimal| true), 500);

    // Target and break-even on a threshold-tiered schedule: the smallest price reaching the
    // target, rounded. N is increasing within a tier, so the rounded threshold `s` has N
    // above the target half a cent above it and at most the target half a cent below it
    // (unless the threshold is a tier's first price, where N jumps).
    let econ = shipped();
    let fx = ecb_fx();
    let t = terms(&econ, "beauty_health_grocery", Currency::EUR);
    let n = |p: Decimal| t.evaluate(p, &fx).net_eur;
    let (mut rounded_up, mut rounded_down) = (0, 0);
    for (i, cents) in (100..40_000).step_by(37).enumerate() {
        // Thresholds a little below a cent: by under half a cent, or by over half.
        let below = ["0.001", "0.006"][i % 2];
        let target = n(Decimal::new(cents, 2)) - d(below);
        let found = smallest_sell_price(&t, &fx, target).unwrap();
        let s = shown_sell_price(found, target, n);
        assert!(s == found || s == found - 1);
        rounded_down += usize::from(s < found);
        rounded_up += usize::from(s == found);
        assert!(n(half(s, 1)) > target, "target {target}: {s}");
        let tier_start = [1_001].contains(&s) || [1_001].contains(&found);
        assert!(
            tier_start || n(half(s, -1)) <= target,
            "target {target}: {s}"
        );
    }
    assert!(
        rounded_down > 100 && rounded_up > 100,
        "{rounded_down} / {rounded_up}"
    );
}

/// Categories whose referral fee has tiers, a minimum fee that binds, or both.
const TIERED: [&str; 5] = [
    "beauty_health_grocery",
    "furniture",
    "jewellery",
    "car_motorbike",
    "clothing_shoes_bags",
];

#[test]
fn stored_segment_ends_answer_every_search_as_the_search_does() {
    // A detector keeps each sell market's segments with N at their ends and answers the
    // target and break-even searches of all its routes from them.
    let econ = shipped();
    let fx = ecb_fx();
    for currency in [Currency::EUR, Currency::GBP] {
        for cat in TIERED.into_iter().chain(["default"]) {
            let t = terms(&econ, cat, currency);
            let segments = Segments::of(&t, &fx);
            for target in [
                "-3.00",
                "0.01",
                "0.50",
                "2.00",
                "4.99",
                "17.55",
                "33.886885",
                "180.00",
                "260.00",
                "5000.00",
            ] {
                let target = d(target);
                assert_eq!(
                    segments.smallest_sell_price(&t, &fx, target),
                    smallest_sell_price(&t, &fx, target),
                    "{cat} {currency} target {target}"
                );
            }
        }
    }
}

/// `t` in checked floats.
fn in_bound<'a>(t: &SellTerms<'a>) -> SellTerms<'a, Bound> {
    let b = |x: Decimal| Bound::from_dec(x);
    SellTerms {
        currency: t.currency,
        vat: b(t.vat),
        category: t.category,
        schedule: t.schedule,
        dsf: Dsf {
            referral: b(t.dsf.referral),
            fba: b(t.dsf.fba),
        },
        fee_vat: b(t.fee_vat),
        fba_fee: b(t.fba_fee),
        storage: b(t.storage),
        returns: b(t.returns),
        payout_fee: b(t.payout_fee),
    }
}

#[test]
fn checked_floats_read_net_proceeds_inside_a_segment_from_its_ends() {
    // Within a segment N is affine, so the fast path takes N between its ends from the
    // line through them instead of evaluating the model: its shown target prices are the
    // decimal ones wherever it settles them, and it settles nearly all.
    let econ = shipped();
    let fx = ecb_fx();
    let (mut settled, mut all) = (0, 0);
    for currency in [Currency::EUR, Currency::GBP] {
        for cat in TIERED {
            let t = terms(&econ, cat, currency);
            let exact = Segments::of(&t, &fx);
            let tb = in_bound(&t);
            let _ = take_unsure();
            let fast = Segments::of(&tb, &fx);
            assert!(!take_unsure(), "{cat} {currency}: segment ends");
            for cents in (50..60_000).step_by(53) {
                // Targets on, just above and just below the net proceeds of a cent price.
                let on = t.evaluate(Decimal::new(cents, 2), &fx).net_eur;
                for target in [on, on + d("0.0001"), on - d("0.004"), on - d("0.006")] {
                    let want = exact.shown_sell_price(&t, &fx, target);
                    let got = fast.shown_sell_price(&tb, &fx, Bound::from_dec(target));
                    all += 1;
                    if !take_unsure() {
                        settled += 1;
                        assert_eq!(got, want, "{cat} {currency} target {target}");
                    }
                }
            }
        }
    }
    assert!(settled * 10 >= all * 7, "{settled} of {all} settled");
}

#[test]
fn max_buy_by_search_is_the_largest_passing_cent() {
    // Passing prices form a prefix; the search returns its last cent.
    assert_eq!(largest_passing(100_000, |c| c <= 3_576), Some(3_576));
    assert_eq!(largest_passing(100_000, |_| false), None);
    assert_eq!(largest_passing(500, |_| true), Some(500));
    assert_eq!(largest_passing(0, |_| true), None);
}

proptest::proptest! {
    /// A hint changes how many checks the search makes, never its answer.
    #[test]
    fn a_hinted_search_gives_the_plain_answer(
        hi in -5i64..20_000,
        threshold in -5i64..20_000,
        hint in proptest::option::of(-5i64..20_005),
    ) {
        let passes = |c: i64| c <= threshold;
        proptest::prop_assert_eq!(
            largest_passing_near(hint, hi, passes),
            largest_passing(hi, passes)
        );
    }

    /// Every shown figure is rounded on the decimal's integer mantissa: exactly what
    /// `rust_decimal` rounding half away from zero gives, for any magnitude and scale.
    #[test]
    fn cent_and_percent_rounding_agree_with_decimal_rounding(
        mantissa in proptest::num::i64::ANY,
        wide in proptest::prelude::any::<bool>(),
        scale in 0u32..=28,
    ) {
        use rust_decimal::RoundingStrategy::MidpointAwayFromZero;
        use rust_decimal::prelude::ToPrimitive;
        let m = if wide { i128::from(mantissa) * 1_000_003 } else { i128::from(mantissa) };
        let x = Decimal::from_i128_with_scale(m, scale);
        let cents = (x.round_dp_with_strategy(2, MidpointAwayFromZero) * Decimal::ONE_HUNDRED)
            .to_i64();
        if let Some(c) = cents {
            proptest::prop_assert_eq!(arbdesk::economics::money(x, Currency::EUR).minor, c);
        }
        if let Some(hundred) = x.checked_mul(Decimal::ONE_HUNDRED) {
            let shown = hundred.round_dp_with_strategy(2, MidpointAwayFromZero).to_f64();
            if let Some(p) = shown.filter(|p| p.abs() < 1e13) {
                proptest::prop_assert_eq!(arbdesk::economics::pct(x), p);
            }
        }
    }
}

#[test]
fn halves_round_away_from_zero_in_both_directions() {
    assert_eq!(
        arbdesk::economics::money(d("8.985"), Currency::EUR).minor,
        899
    );
    assert_eq!(
        arbdesk::economics::money(d("-8.985"), Currency::EUR).minor,
        -899
    );
    assert_eq!(
        arbdesk::economics::money(d("8.98499999"), Currency::EUR).minor,
        898
    );
    assert_eq!(arbdesk::economics::pct(d("0.077146")), 7.71);
    assert_eq!(arbdesk::economics::pct(d("-0.00005")), -0.01);
    assert_eq!(arbdesk::economics::pct(d("0.12345")), 12.35);
}
