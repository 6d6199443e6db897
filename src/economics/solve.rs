//! Cent prices found by search, where §4 has no closed form.
//!
//! Max buy price on UK↔EU routes: customs make `Add` depend on `P_S`, so the answer is the
//! largest cent price that still passes the profit and ROI gates (`L` grows with `P_S`, so
//! the passing prices are a prefix and bisection finds its end; `L` is affine in `P_S`, so
//! a closed form's estimate usually settles it in two checks). Target sell and break-even
//! for tiered or min-fee-bound schedules: the smallest cent price whose net proceeds reach
//! the target. `N` is not monotone across a threshold tier (the rate jumps), but between
//! consecutive breakpoints — tier bounds and the prices where the minimum fee stops binding —
//! it is affine in `P_T`, so each segment is settled by its ends and one bisection.
//!
//! The searches find whole cents (the largest that passes, the smallest that reaches); the
//! prices shown are the exact thresholds rounded to the cent like every other figure
//! ([`shown_max_buy`], [`shown_sell_price`]), which is what the closed forms give.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::config::TierMode;
use super::fx::FxRate;
use super::model::SellTerms;
use super::num::{Const, Num};
use super::tables::Category;
use crate::keepa::csv::MAX_PRICE_MINOR;

/// The highest price searched, in minor units (Keepa's own plausibility bound).
pub const PRICE_CAP: i64 = MAX_PRICE_MINOR;

/// The largest cent in `[1, hi]` for which `passes` holds, assuming the passing cents form a
/// prefix of that range.
pub fn largest_passing(hi: i64, passes: impl Fn(i64) -> bool) -> Option<i64> {
    let hi = hi.min(PRICE_CAP);
    if hi < 1 || !passes(1) {
        return None;
    }
    if passes(hi) {
        return Some(hi);
    }
    let (mut ok, mut fail) = (1, hi);
    while fail - ok > 1 {
        let mid = ok + (fail - ok) / 2;
        if passes(mid) { ok = mid } else { fail = mid }
    }
    Some(ok)
}

/// [`largest_passing`], starting from `hint`, a closed form's estimate of the answer: when
/// the answer is `hint` or the cent below it, two or three checks settle it; otherwise
/// bisection does, so a poor hint costs time, never correctness.
pub fn largest_passing_near(
    hint: Option<i64>,
    hi: i64,
    passes: impl Fn(i64) -> bool,
) -> Option<i64> {
    let hi = hi.min(PRICE_CAP);
    if let Some(h) = hint.filter(|h| (1..=hi).contains(h)) {
        if passes(h) {
            if h == hi || !passes(h + 1) {
                return Some(h);
            }
        } else if h > 1 && passes(h - 1) {
            return Some(h - 1);
        }
    }
    largest_passing(hi, passes)
}

/// `c` cents plus `halves` half cents, as a price.
fn half_cents<N: Num>(c: i64, halves: i64) -> N {
    N::from_dec(Decimal::new((2 * c + halves) * 5, 3))
}

/// A target or break-even price as shown: the exact threshold price rounded to the cent,
/// half away from zero, as every shown figure is (economics.md §3) and as the closed form
/// gives it for flat rates, so flat and tiered schedules show one kind of figure. `c` is
/// the smallest cent whose net proceeds (`net` of a price) reach `target`: the threshold
/// lies in `(c − 1, c]`, where `N` is continuous and increasing (tier bounds are whole cents
/// and belong to the tier below them), so it rounds down to `c − 1` exactly when `N` half a
/// cent below `c` is already above the target. At the shown price the target can be missed
/// by less than half a cent's worth, as at the rounded closed form.
pub fn shown_sell_price<N: Num>(c: i64, target: N, net: impl Fn(N) -> N) -> i64 {
    if c > 1 && net(half_cents(c, -1)) > target {
        c - 1
    } else {
        c
    }
}

/// A max buy price found by search as shown: the exact highest passing price rounded to the
/// cent, half away from zero, as the closed form's is. `c` is the largest passing cent
/// (below `hi`, the search's bound), so the threshold lies in `[c, c + 1)` and rounds up to
/// `c + 1` exactly when the price half a cent above `c` still passes.
pub fn shown_max_buy<N: Num>(c: i64, hi: i64, passes: impl Fn(N) -> bool) -> i64 {
    if c < hi.min(PRICE_CAP) && passes(half_cents(c, 1)) {
        c + 1
    } else {
        c
    }
}

/// The smallest cent price in T's currency whose net proceeds `N` reach `target_eur`.
pub fn smallest_sell_price<N: Num>(
    terms: &SellTerms<'_, N>,
    fx: &FxRate,
    target_eur: N,
) -> Option<i64> {
    Segments::of(terms, fx).smallest_sell_price(terms, fx, target_eur)
}

/// A range of cent prices on which `N` is affine, with `N` at both ends.
#[derive(Debug, Clone, Copy)]
struct Segment<N> {
    lo: i64,
    hi: i64,
    n_lo: N,
    n_hi: N,
}

impl<N: Num> Segment<N> {
    /// The first cent of the segment reaching `target`, if any.
    fn first_reaching(&self, target: N, net: &impl Fn(i64) -> N) -> Option<i64> {
        if self.n_lo >= target {
            Some(self.lo)
        } else if self.n_hi >= target {
            // Affine, below the target at lo and reaching it at hi: increasing.
            let at = |c: i64| self.at(2 * c).unwrap_or_else(|| net(c));
            Some(first_reaching(
                self.lo, self.n_lo, self.hi, self.n_hi, target, &at,
            ))
        } else {
            None
        }
    }

    /// `N` at `halves` half cents from the segment's ends, where the number type can
    /// enclose the model's value that way (see [`Num::affine_at`]) and the price is in the
    /// segment.
    fn at(&self, halves: i64) -> Option<N> {
        N::affine_at(self.lo, self.n_lo, self.hi, self.n_hi, halves)
    }
}

/// The segments of one sell side with `N` at their ends: they depend on the sell market's
/// terms only, so a detector evaluates them once per market and answers every target and
/// break-even search of that market from them with one interpolation and its check.
#[derive(Debug, Clone)]
pub struct Segments<N = Decimal>(Vec<Segment<N>>);

impl<N> Default for Segments<N> {
    fn default() -> Self {
        Segments(Vec::new())
    }
}

impl<N: Num> Segments<N> {
    /// The segments of `terms` at `fx`.
    pub fn of(terms: &SellTerms<'_, N>, fx: &FxRate) -> Self {
        let net = |c: i64| terms.evaluate(N::from_cents(c), fx).net_eur;
        let points = terms
            .category
            .breakpoints(terms.currency, terms.schedule.min_fee(terms.currency));
        Segments(
            points
                .iter()
                .enumerate()
                .map(|(i, &lo)| {
                    let hi = points.get(i + 1).map_or(PRICE_CAP, |next| next - 1);
                    Segment {
                        lo,
                        hi,
                        n_lo: net(lo),
                        n_hi: net(hi),
                    }
                })
                .collect(),
        )
    }

    /// No segments (the closed form answers instead).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What [`smallest_sell_price`] answers, found from the stored ends.
    pub fn smallest_sell_price(
        &self,
        terms: &SellTerms<'_, N>,
        fx: &FxRate,
        target_eur: N,
    ) -> Option<i64> {
        let net = |c: i64| terms.evaluate(N::from_cents(c), fx).net_eur;
        self.0
            .iter()
            .find_map(|seg| seg.first_reaching(target_eur, &net))
    }

    /// The price [`shown_sell_price`] shows for the one [`smallest_sell_price`] finds.
    pub fn shown_sell_price(
        &self,
        terms: &SellTerms<'_, N>,
        fx: &FxRate,
        target_eur: N,
    ) -> Option<i64> {
        let c = self.smallest_sell_price(terms, fx, target_eur)?;
        Some(shown_sell_price(c, target_eur, |price: N| {
            // Half a cent below `c`: inside `c`'s segment unless `c` begins it.
            let seg = self.0.iter().find(|s| s.lo < c && c <= s.hi);
            seg.and_then(|s| s.at(2 * c - 1))
                .unwrap_or_else(|| terms.evaluate(price, fx).net_eur)
        }))
    }
}

/// The first cent in `(lo, hi]` reaching `target` where `net` is affine and increasing:
/// interpolate, then confirm with exact evaluations (bisection if interpolation misleads).
fn first_reaching<N: Num>(
    lo: i64,
    n_lo: N,
    hi: i64,
    n_hi: N,
    target: N,
    net: &impl Fn(i64) -> N,
) -> i64 {
    let (mut below, mut above) = (lo, hi);
    let guess = (target - n_lo)
        .checked_mul(N::from_i64(hi - lo))
        .and_then(|x| x.checked_div(n_hi - n_lo))
        .and_then(N::ceil_hint)
        .map(|step| (lo + step).clamp(lo + 1, hi));
    if let Some(g) = guess {
        // The guess is exact up to decimal precision: check it and its neighbour.
        if net(g) >= target {
            above = g;
            if g - 1 > below && net(g - 1) < target {
                below = g - 1;
            }
        } else {
            below = g;
            if g < hi && net(g + 1) >= target {
                above = g + 1;
            }
        }
    }
    while above - below > 1 {
        let mid = below + (above - below) / 2;
        if net(mid) >= target {
            above = mid
        } else {
            below = mid
        }
    }
    above
}

/// First cents of the segments on which `N` is affine for `cat` with minimum fee `min_fee`,
/// ascending, starting at 1 (worked out once per table, see [`Category::breakpoints`]).
pub(super) fn breakpoints(cat: &Category, min_fee: Decimal) -> Vec<i64> {
    let to_cent_after = |d: Decimal| -> Option<i64> {
        d.checked_mul(Decimal::ONE_HUNDRED)?
            .floor()
            .to_i64()?
            .checked_add(1)
    };
    let mut points = vec![1];
    let mut lower = Decimal::ZERO;
    for t in &cat.tiers {
        if !t.rate.is_zero() {
            // Where the tier's own fee line crosses the minimum fee.
            let kink = match cat.mode {
                TierMode::Marginal => (min_fee - cat.fee_before_min(lower))
                    .checked_div(t.rate.dec())
                    .and_then(|d| d.checked_add(lower)),
                TierMode::Flat | TierMode::Threshold => min_fee.checked_div(t.rate.dec()),
            };
            points.extend(kink.and_then(to_cent_after));
        }
        if let Some(u) = t.upto.map(Const::dec) {
            points.extend(to_cent_after(u));
            lower = u;
        }
    }
    points.retain(|p| (1..=PRICE_CAP).contains(p));
    points.sort_unstable();
    points.dedup();
    points
}
