//! [`Bound`]: machine floats carried as an interval that always holds the decimal result,
//! and the thread's mark for what the interval could not settle (see the parent module).

use std::cell::Cell;
use std::ops::{Add, Div, Mul, Neg, Sub};

use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

use super::{Const, Num};

thread_local! {
    static UNSURE: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread's current computation as not settled by [`Bound`].
fn unsure() {
    UNSURE.with(|u| u.set(true));
}

/// Whether a [`Bound`] computation on this thread was unsure since the last call, clearing
/// the mark.
pub fn take_unsure() -> bool {
    UNSURE.with(|u| u.replace(false))
}

/// A real number known to lie in `[lo, hi]`: machine floats with outward rounding.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    lo: f64,
    hi: f64,
}

/// Far more than a decimal's rounding step (1e-28), far less than anything shown.
const TINY: f64 = 1e-27;

/// The relative widening of an operation's result: two machine epsilons.
const WIDEN: f64 = 2.0 * f64::EPSILON;

/// 2^53: integers below it are exact in an `f64`.
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

impl Bound {
    /// The one-point interval `[v, v]` (`v` exact).
    fn point(v: f64) -> Self {
        Bound { lo: v, hi: v }
    }

    /// `[lo, hi]` widened by at least one unit in the last place on each side: the exact result of an
    /// operation whose rounded results are `lo` and `hi` lies inside.
    ///
    /// The ends also move by at least `TINY`: decimals keep 28 places, so below about 1e-12
    /// their rounding step is larger than a float's last place.
    fn widened(lo: f64, hi: f64) -> Self {
        // |x|·2ε is at least one unit in the last place of x, so the subtraction, even
        // rounded, moves the end by at least half a unit: past the exact result.
        Bound {
            lo: lo - (lo.abs() * WIDEN + TINY),
            hi: hi + (hi.abs() * WIDEN + TINY),
        }
    }

    /// The interval's ends.
    pub fn ends(self) -> (f64, f64) {
        (self.lo, self.hi)
    }

    /// `x / 10^scale` for an integer mantissa, a point when that is a whole number.
    fn from_scaled(mantissa: i128, scale: u32) -> Self {
        if mantissa == 0 {
            return Bound::point(0.0); // a zero written with many places is still zero
        }
        if let (Ok(m), Some(&p)) = (i64::try_from(mantissa), POW10.get(scale as usize))
            && m.unsigned_abs() < EXACT_INT as u64
        {
            // Both parts exact, so the quotient is correctly rounded. Whole numbers are
            // exact, and stay points: a price on a tier bound or a zero rate must compare
            // equal. (Constant divisors for the usual scales.)
            let whole = match scale {
                0 => true,
                1 => m % 10 == 0,
                2 => m % 100 == 0,
                3 => m % 1_000 == 0,
                4 => m % 10_000 == 0,
                s => s < 19 && m % 10i64.pow(s) == 0,
            };
            let v = m as f64 / p;
            return if whole {
                Bound::point(v)
            } else {
                Bound::widened(v, v)
            };
        }
        // Not exact in either part: a generous margin.
        let v = mantissa as f64 / 10f64.powi(scale as i32);
        let pad = v.abs() * 8.0 * f64::EPSILON;
        Bound {
            lo: v - pad,
            hi: v + pad,
        }
    }

    fn is_point_zero(self) -> bool {
        self.lo == 0.0 && self.hi == 0.0
    }
}

/// 10^0 … 10^22, every one exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `x` rounded half away from zero, for `|x| < 2^53` (integer work: no libm call).
fn round_away(x: f64) -> i64 {
    let t = x as i64; // truncates toward zero
    let frac = x - t as f64; // exact
    // Without branches: which way a price rounds is a coin toss a predictor cannot learn.
    t + i64::from(frac >= 0.5) - i64::from(frac <= -0.5)
}

impl Add for Bound {
    type Output = Bound;
    fn add(self, o: Bound) -> Bound {
        if self.lo == self.hi && o.lo == o.hi {
            // Exact when the rounding error (TwoSum) is zero.
            let s = self.lo + o.lo;
            let bb = s - self.lo;
            let err = (self.lo - (s - bb)) + (o.lo - bb);
            if err == 0.0 {
                return Bound::point(s);
            }
        }
        Bound::widened(self.lo + o.lo, self.hi + o.hi)
    }
}

impl Sub for Bound {
    type Output = Bound;
    fn sub(self, o: Bound) -> Bound {
        self + (-o)
    }
}

impl Neg for Bound {
    type Output = Bound;
    fn neg(self) -> Bound {
        Bound {
            lo: -self.hi,
            hi: -self.lo,
        }
    }
}

impl Mul for Bound {
    type Output = Bound;
    fn mul(self, o: Bound) -> Bound {
        if self.is_point_zero() || o.is_point_zero() {
            return Bound::point(0.0);
        }
        if self.lo >= 0.0 && o.lo >= 0.0 {
            return Bound::widened(self.lo * o.lo, self.hi * o.hi);
        }
        let c = [
            self.lo * o.lo,
            self.lo * o.hi,
            self.hi * o.lo,
            self.hi * o.hi,
        ];
        Bound::widened(
            c.into_iter().fold(f64::INFINITY, f64::min),
            c.into_iter().fold(f64::NEG_INFINITY, f64::max),
        )
    }
}

impl Div for Bound {
    type Output = Bound;
    fn div(self, o: Bound) -> Bound {
        self.checked_div(o).unwrap_or_else(|| {
            // Division by zero: the decimal model never gets here on inputs it accepts.
            unsure();
            Bound::point(0.0)
        })
    }
}

impl PartialEq for Bound {
    fn eq(&self, o: &Bound) -> bool {
        self.partial_cmp(o) == Some(std::cmp::Ordering::Equal)
    }
}

impl PartialOrd for Bound {
    /// Certain when the intervals do not overlap (or are the same point); otherwise unsure,
    /// answering by the midpoints.
    fn partial_cmp(&self, o: &Bound) -> Option<std::cmp::Ordering> {
        use std::cmp::Ordering::*;
        if self.hi < o.lo {
            Some(Less)
        } else if self.lo > o.hi {
            Some(Greater)
        } else if self.lo == self.hi && o.lo == o.hi && self.lo == o.lo {
            Some(Equal)
        } else {
            unsure();
            let (a, b) = (self.lo + self.hi, o.lo + o.hi);
            Some(if a < b { Less } else { Greater })
        }
    }
}

impl Num for Bound {
    fn zero() -> Self {
        Bound::point(0.0)
    }
    fn one() -> Self {
        Bound::point(1.0)
    }
    fn from_dec(d: Decimal) -> Self {
        Bound::from_scaled(d.mantissa(), d.scale())
    }
    fn of(c: Const) -> Self {
        c.bound
    }
    fn from_cents(cents: i64) -> Self {
        Bound::from_scaled(i128::from(cents), 2)
    }
    fn from_i64(v: i64) -> Self {
        Bound::from_scaled(i128::from(v), 0)
    }
    fn from_float(v: f64) -> Option<Self> {
        if !v.is_finite() {
            return None;
        }
        if v.abs() >= 1e28 {
            // Near or past the largest decimal: whether it converts is for decimals to say.
            unsure();
            return None;
        }
        if v.abs() < EXACT_INT && v == (v as i64) as f64 {
            return Some(Bound::point(v)); // a whole number converts exactly
        }
        // `Decimal::from_f64` keeps at least 15 significant digits, and 28 places: both far
        // inside this margin (a value below 1e-28 reads as 0).
        let pad = (v.abs() * 1e-13).max(TINY);
        Some(Bound {
            lo: v - pad,
            hi: v + pad,
        })
    }
    fn checked_div(self, o: Bound) -> Option<Bound> {
        if o.lo == 0.0 && o.hi == 0.0 {
            return None;
        }
        if o.lo <= 0.0 && o.hi >= 0.0 {
            unsure();
            return Some(Bound::point(0.0));
        }
        if self.is_point_zero() {
            return Some(Bound::point(0.0));
        }
        if self.lo >= 0.0 && o.lo > 0.0 {
            return Some(Bound::widened(self.lo / o.hi, self.hi / o.lo));
        }
        let c = [
            self.lo / o.lo,
            self.lo / o.hi,
            self.hi / o.lo,
            self.hi / o.hi,
        ];
        Some(Bound::widened(
            c.into_iter().fold(f64::INFINITY, f64::min),
            c.into_iter().fold(f64::NEG_INFINITY, f64::max),
        ))
    }
    // The interval of a min, max or |x| is known without deciding which operand it is.
    fn min(self, o: Bound) -> Bound {
        Bound {
            lo: self.lo.min(o.lo),
            hi: self.hi.min(o.hi),
        }
    }
    fn max(self, o: Bound) -> Bound {
        Bound {
            lo: self.lo.max(o.lo),
            hi: self.hi.max(o.hi),
        }
    }
    fn abs(self) -> Bound {
        if self.lo >= 0.0 {
            self
        } else if self.hi <= 0.0 {
            -self
        } else {
            Bound {
                lo: 0.0,
                hi: self.hi.max(-self.lo),
            }
        }
    }
    fn affine_at(c0: i64, y0: Bound, c1: i64, y1: Bound, halves: i64) -> Option<Bound> {
        let (span, off) = (2 * (c1 - c0), halves - 2 * c0);
        if span <= 0 || !(0..=span).contains(&off) {
            return None;
        }
        // Both integers exact, so the quotient is enclosed; the line through the ends then
        // encloses the real value of the affine function there.
        let v = y0 + (y1 - y0) * (Bound::from_i64(off) / Bound::from_i64(span));
        // The decimal model rounds at 28 digits, so its value lies within ~1e-20 of its
        // magnitude of the real one: a margin far wider than that, and far below a cent.
        let scale = [v, y0, y1]
            .iter()
            .fold(1.0, |m: f64, b| m.max(b.lo.abs()).max(b.hi.abs()));
        let pad = scale * 1e-16;
        Some(Bound {
            lo: v.lo - pad,
            hi: v.hi + pad,
        })
    }
    fn checked_mul(self, o: Bound) -> Option<Bound> {
        // Overflow shows as an infinite end, which rounding reports as unsure.
        Some(self * o)
    }
    fn is_zero(self) -> bool {
        if self.lo == 0.0 && self.hi == 0.0 {
            true
        } else if self.lo > 0.0 || self.hi < 0.0 {
            false
        } else {
            unsure();
            false
        }
    }
    fn scaled_round(self, places: u32) -> Option<i64> {
        // `× 10^places` (positive, exact): the ends scale in order, then widen.
        let s = match POW10.get(places as usize) {
            Some(&p) => Bound::widened(self.lo * p, self.hi * p),
            None => Bound::point(f64::NAN),
        };
        // Beyond exact integers (or not finite): let the decimal model say what it is.
        if !(s.lo.abs() < EXACT_INT && s.hi.abs() < EXACT_INT) {
            unsure();
            return None;
        }
        let (lo, hi) = (round_away(s.lo), round_away(s.hi));
        if lo != hi {
            unsure();
            return None;
        }
        Some(lo)
    }
    fn ceil_hint(self) -> Option<i64> {
        let c = ((self.lo + self.hi) / 2.0).ceil();
        (c.is_finite() && c.abs() < EXACT_INT).then_some(c as i64)
    }
    fn to_dec(self) -> Decimal {
        <Decimal as FromPrimitive>::from_f64((self.lo + self.hi) / 2.0).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;
    use rust_decimal::Decimal;
    use rust_decimal::prelude::ToPrimitive;

    use super::super::{Num, ratio_pct};

    fn d(s: &str) -> Decimal {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn exact_values_stay_points_and_inexact_ones_enclose_the_decimal() {
        assert_eq!(Bound::from_dec(d("2")).ends(), (2.0, 2.0));
        assert_eq!(Bound::from_dec(d("0.00")).ends(), (0.0, 0.0));
        let (lo, hi) = Bound::from_dec(d("0.25")).ends();
        assert!(lo < 0.25 && 0.25 < hi);
        assert_eq!(Bound::from_cents(1500).ends(), (15.0, 15.0));
        let (lo, hi) = Bound::from_dec(d("0.19")).ends();
        assert!(lo < 0.19 && 0.19 < hi, "{lo} {hi}");
        let q = Bound::from_cents(1999) / (Bound::one() + Bound::from_dec(d("0.19")));
        let exact = (d("19.99") / d("1.19")).to_f64().unwrap_or_default();
        assert!(q.lo <= exact && exact <= q.hi);
        assert!(!take_unsure());
    }

    #[test]
    fn overlapping_comparisons_and_rounding_ties_are_unsure() {
        let _ = take_unsure();
        let a = Bound::from_dec(d("0.1")) + Bound::from_dec(d("0.2"));
        let b = Bound::from_dec(d("0.3"));
        let _ = a < b;
        assert!(
            take_unsure(),
            "0.1 + 0.2 against 0.3 cannot be settled in floats"
        );
        // 1.005 rounds to 1.01 in decimals; in floats it sits on the tie.
        assert_eq!(Bound::from_dec(d("1.005")).scaled_round(2), None);
        assert!(take_unsure());
        assert_eq!(Bound::from_dec(d("1.004")).scaled_round(2), Some(100));
        assert_eq!(Bound::from_cents(-1234).money(Currency::EUR).minor, -1234);
        assert!(!take_unsure());
        assert_eq!(Decimal::from_dec(d("1.005")).scaled_round(2), Some(101));
    }

    #[test]
    fn tiny_values_keep_the_decimal_inside() {
        let _ = take_unsure();
        // Decimal reads 1e-30 as 0: the interval must hold 0 too.
        let k = Bound::from_float(1e-30).unwrap_or(Bound::one());
        let _ = k.abs() > Bound::zero();
        assert!(
            take_unsure(),
            "1e-30 against zero is for decimals to settle"
        );
        // 1e-20 × 1e-20 is 0 in 28 places.
        let p = Bound::from_dec(d("0.00000000000000000001"))
            * Bound::from_dec(d("0.00000000000000000001"));
        let _ = p > Bound::zero();
        assert!(take_unsure());
        assert_eq!(Bound::from_dec(Decimal::new(0, 25)).ends(), (0.0, 0.0));
    }

    #[test]
    fn whole_cent_ratios_round_like_decimals() {
        for (n, d) in [
            (1, 32),
            (1, 3),
            (2, 3),
            (-1, 32),
            (599, 1999),
            (12345, 100000),
            (7, 80000),
        ] {
            let exact = (Decimal::from(n) / Decimal::from(d)).pct();
            assert_eq!(ratio_pct(n, d), exact, "{n}/{d}");
        }
    }

    #[test]
    fn division_by_an_interval_around_zero_is_unsure() {
        let _ = take_unsure();
        assert!(Bound::zero().is_zero() && !Bound::from_cents(1).is_zero());
        assert!(!take_unsure());
        let near =
            Bound::from_dec(d("0.3")) - (Bound::from_dec(d("0.1")) + Bound::from_dec(d("0.2")));
        let _ = Bound::one() / near;
        assert!(take_unsure());
        assert_eq!(Bound::one().checked_div(Bound::zero()), None);
    }
}
