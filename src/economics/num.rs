//! The numbers the model computes with: exact decimals, or a fast enclosure that knows when
//! it cannot be trusted. (A route's gross margin and its percentage are exact fractions in
//! integers instead, whatever the number type: see [`div_round`] and [`ratio_pct_exact`].)
//!
//! §4 is written once, generic over [`Num`]. [`Decimal`] is the reference: every figure the
//! model defines, in 28-digit decimal arithmetic. [`Bound`] runs the same code in machine
//! floats, each value carried as an interval `[lo, hi]` that is widened by two units in the
//! last place (and at least 1e-27) after every operation, so the decimal result always lies inside it. Whenever
//! the interval cannot settle a question on its own — a comparison whose operands overlap,
//! a cent or percentage whose rounding differs between the two ends, anything not finite —
//! it marks the thread's computation [unsure](take_unsure) and answers as best it can. The
//! detector runs each product on `Bound` first and, when that is unsure, again on `Decimal`:
//! every row it keeps is exactly the row the decimal model gives, at a fraction of the cost
//! (the property test in `tests/it/economics/fast.rs` checks this on random products).

use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Neg, Sub};

mod bound;

pub use bound::{Bound, take_unsure};

use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

use crate::domain::{Currency, Money};

/// What the model needs of a number.
pub trait Num:
    Copy
    + Debug
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// 0.
    fn zero() -> Self;
    /// 1.
    fn one() -> Self;
    /// A decimal constant (a rate or amount from the tables).
    fn from_dec(d: Decimal) -> Self;
    /// A constant converted ahead of time (what `from_dec` gives for its decimal).
    fn of(c: Const) -> Self;
    /// `cents` / 100.
    fn from_cents(cents: i64) -> Self;
    /// An integer.
    fn from_i64(v: i64) -> Self;
    /// A float from Keepa (a percentage), as `Decimal::from_f64` reads it.
    fn from_float(v: f64) -> Option<Self>;
    /// `self / rhs`, `None` when `rhs` is zero (or the quotient does not fit).
    fn checked_div(self, rhs: Self) -> Option<Self>;
    /// `self × rhs`, `None` when the product does not fit.
    fn checked_mul(self, rhs: Self) -> Option<Self>;
    /// Whether the value is zero.
    fn is_zero(self) -> bool;
    /// The smaller of the two.
    fn min(self, other: Self) -> Self {
        if other < self { other } else { self }
    }
    /// The larger of the two.
    fn max(self, other: Self) -> Self {
        if other > self { other } else { self }
    }
    /// |self|.
    fn abs(self) -> Self {
        if self < Self::zero() { -self } else { self }
    }
    /// `self × 10^places`, rounded half away from zero; `None` if it does not fit an `i64`.
    fn scaled_round(self, places: u32) -> Option<i64>;
    /// The smallest integer ≥ `self` if it fits an `i64`, as a hint for searches that
    /// check their answer anyway: exact for `Decimal`; `Bound` gives its midpoint's ceiling
    /// and is never unsure here.
    fn ceil_hint(self) -> Option<i64>;
    /// The value at `halves` half cents of the affine function that is `y0` at cent `c0`
    /// and `y1` at cent `c1` (`c0 < c1`, `2·c0 ≤ halves ≤ 2·c1`), when this number type can
    /// enclose from the two ends alone what the model itself would compute there; `None`
    /// means evaluate the model (as decimals always do: they are the reference).
    fn affine_at(_c0: i64, _y0: Self, _c1: i64, _y1: Self, _halves: i64) -> Option<Self> {
        None
    }
    /// The decimal value, for breakdown lines (exact for `Decimal`, which is the only
    /// number lines are built from).
    fn to_dec(self) -> Decimal;

    /// The amount rounded to the cent (saturating), as `Money`.
    fn money(self, currency: Currency) -> Money {
        let minor = self.scaled_round(2).unwrap_or_else(|| {
            if self < Self::zero() {
                i64::MIN
            } else {
                i64::MAX
            }
        });
        Money::new(minor, currency)
    }
    /// A ratio as a percentage rounded to 2 places (0 if out of range).
    fn pct(self) -> f64 {
        // ratio × 100 to 2 places is the ratio to 4 places, shifted.
        self.scaled_round(4).map_or(0.0, |q| q as f64 / 100.0)
    }
}

impl Num for Decimal {
    fn zero() -> Self {
        Decimal::ZERO
    }
    fn one() -> Self {
        Decimal::ONE
    }
    fn from_dec(d: Decimal) -> Self {
        d
    }
    fn of(c: Const) -> Self {
        c.dec
    }
    fn from_cents(cents: i64) -> Self {
        Decimal::new(cents, 2)
    }
    fn from_i64(v: i64) -> Self {
        Decimal::from(v)
    }
    fn from_float(v: f64) -> Option<Self> {
        <Decimal as FromPrimitive>::from_f64(v)
    }
    fn checked_div(self, rhs: Self) -> Option<Self> {
        Decimal::checked_div(self, rhs)
    }
    fn checked_mul(self, rhs: Self) -> Option<Self> {
        Decimal::checked_mul(self, rhs)
    }
    fn is_zero(self) -> bool {
        Decimal::is_zero(&self)
    }
    fn min(self, other: Self) -> Self {
        Ord::min(self, other)
    }
    fn max(self, other: Self) -> Self {
        Ord::max(self, other)
    }
    fn abs(self) -> Self {
        Decimal::abs(&self)
    }
    fn scaled_round(self, places: u32) -> Option<i64> {
        super::scaled_away_from_zero(self, places)
    }
    fn ceil_hint(self) -> Option<i64> {
        self.ceil().to_i64()
    }
    fn to_dec(self) -> Decimal {
        self
    }
}

/// A decimal constant of the tables or parameters, converted once for every number type:
/// the model reads rates and amounts many times per product, and converting at each use
/// made ~300 conversions to intervals a product (prices included). Equal when the
/// decimals are.
#[derive(Clone, Copy)]
pub struct Const {
    dec: Decimal,
    bound: Bound,
}

impl Const {
    /// `dec`, ready for every number type.
    pub fn new(dec: Decimal) -> Self {
        Const {
            dec,
            bound: Bound::from_dec(dec),
        }
    }

    /// The decimal as written.
    pub fn dec(self) -> Decimal {
        self.dec
    }

    /// Whether it is zero.
    pub fn is_zero(self) -> bool {
        self.dec.is_zero()
    }
}

impl From<Decimal> for Const {
    fn from(dec: Decimal) -> Self {
        Const::new(dec)
    }
}

impl Default for Const {
    fn default() -> Self {
        Const::new(Decimal::ZERO)
    }
}

impl PartialEq for Const {
    fn eq(&self, o: &Const) -> bool {
        self.dec == o.dec
    }
}

impl Eq for Const {}

impl Debug for Const {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Debug::fmt(&self.dec, f)
    }
}

impl std::fmt::Display for Const {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.dec, f)
    }
}

/// `num / den` as a percentage rounded to 2 places, half away from zero, in integers: what
/// [`Num::pct`] gives for the decimal quotient of two whole-cent amounts (the quotient
/// is never within decimal precision of a rounding tie it is not on); 0 if it does not fit,
/// as `pct` says. `den` must be positive.
pub fn ratio_pct(num: i64, den: i64) -> f64 {
    ratio_pct_exact(i128::from(num), i128::from(den)).unwrap_or(0.0)
}

/// `num / den` as a percentage rounded to 2 places, half away from zero, for exact
/// fractions over one denominator; `None` if it does not fit. `den` must be positive.
pub fn ratio_pct_exact(num: i128, den: i128) -> Option<f64> {
    let q = div_round(num.checked_mul(10_000)?, den)?;
    Some(q as f64 / 100.0)
}

/// `num / den` rounded half away from zero, exactly; `None` if it does not fit an `i64`.
/// `den` must be positive.
pub fn div_round(num: i128, den: i128) -> Option<i64> {
    let q = num
        .unsigned_abs()
        .checked_mul(2)?
        .checked_add(den.unsigned_abs())?
        / den.unsigned_abs().checked_mul(2)?;
    let q = i64::try_from(q).ok()?;
    Some(if num < 0 { -q } else { q })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_fractions_round_half_away_from_zero() {
        assert_eq!(div_round(3, 2), Some(2));
        assert_eq!(div_round(-3, 2), Some(-2));
        assert_eq!(div_round(-1, 4), Some(0));
        assert_eq!(div_round(-5, 10), Some(-1));
        assert_eq!(div_round(7, 7), Some(1));
        assert_eq!(
            div_round(i128::from(i64::MAX) * 4, 2),
            None,
            "beyond an i64"
        );
        assert_eq!(ratio_pct_exact(1, 8), Some(12.5));
        assert_eq!(ratio_pct_exact(-1, 20_000), Some(-0.01), "-0.005 %, a tie");
        assert_eq!(ratio_pct_exact(i128::MAX, 1), None);
    }
}
