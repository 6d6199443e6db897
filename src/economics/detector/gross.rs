//! A route's gross margin, exactly: the figure that decides whether a route exists.

use super::num;
use crate::domain::Money;
use crate::economics::fx::ExactRate;

/// A route's gross margin in EUR cents (rounded half away from zero) and, when that is
/// positive (the only routes that become rows), its gross margin % (2 places; otherwise 0),
/// from its buy and sell prices, computed exactly: between EUR markets the gap is whole
/// cents; across currencies both sides are exact fractions over one denominator
/// ([`ExactRate`], `None` when the rate has none). Rounding them as converted decimals
/// instead leaves exact half cents, common with a short rate such as 0.88, to a tie the
/// checked floats cannot settle. `None` when the numbers do not fit (then the model's own
/// arithmetic answers).
pub(super) fn gross_exact(buy: Money, sell: Money, rate: Option<ExactRate>) -> Option<(i64, f64)> {
    if buy.currency == sell.currency {
        let cents = sell.minor.checked_sub(buy.minor)?;
        let pct = if cents > 0 {
            num::ratio_pct(cents, buy.minor)
        } else {
            0.0
        };
        return Some((cents, pct));
    }
    let rate = rate?;
    let b = rate.numerator(buy)?;
    let gross = rate.numerator(sell)?.checked_sub(b)?;
    let cents = num::div_round(gross, rate.den())?;
    let pct = if cents > 0 {
        num::ratio_pct_exact(gross, b)?
    } else {
        0.0
    };
    Some((cents, pct))
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use chrono::NaiveDate;

    use super::*;
    use crate::domain::Currency;
    use crate::economics::fx::{FxRate, GbpQuote};
    use crate::economics::num::Num;

    fn rate(quote: GbpQuote) -> FxRate {
        let mut fx = FxRate::ecb(Decimal::ONE, NaiveDate::from_ymd_opt(2026, 6, 9).unwrap());
        fx.gbp = quote;
        fx
    }

    #[test]
    fn gross_margins_across_currencies_are_exact_cents_and_percentages() {
        let gbp = |c| Money::new(c, Currency::GBP);
        let at_088 = rate(GbpQuote::GbpPerEur(Decimal::new(88, 2).into()));
        // 0.11 GBP at 1 EUR = 0.88 GBP is exactly 0.125 EUR: half a cent, rounded away
        // from zero, as the decimal model rounds it.
        assert_eq!(
            gross_exact(gbp(11), Money::eur(100), at_088.exact()),
            Some((88, 700.0))
        );
        // 0.99 GBP is 1.125 EUR: 0.125 over 1.00, 12.5 %.
        assert_eq!(
            gross_exact(Money::eur(100), gbp(99), at_088.exact()),
            Some((13, 12.5))
        );
        // 3.97 EUR over 0.64 GBP is exactly 445.875 %: rounded away from zero.
        assert_eq!(
            gross_exact(gbp(64), Money::eur(397), at_088.exact()),
            Some((324, 445.88))
        );
        // A loss rounds away from zero too; no route is kept for it, so it has no
        // percentage.
        assert_eq!(
            gross_exact(gbp(11), Money::eur(12), at_088.exact()),
            Some((-1, 0.0))
        );
        // Against exact decimals, both ways of quoting: each EUR amount as a fraction
        // `num / den` of exact decimals, so each figure is one division, exact or clear of
        // any rounding tie. (Converting each side first, as decimals would, can miss a tie
        // by the 28th digit: 0.64 GBP at 0.88 against 3.97 EUR is exactly 445.875 %, which
        // that computes as 445.87.)
        for quote in [
            GbpQuote::GbpPerEur(Decimal::new(8653, 4).into()),
            GbpQuote::GbpPerEur(Decimal::new(88, 2).into()),
            GbpQuote::EurPerGbp(Decimal::new(11628, 4).into()),
            GbpQuote::EurPerGbp(Decimal::new(1175, 3).into()),
        ] {
            let fx = rate(quote);
            for c in (1..20_000).step_by(7) {
                for (buy, sell) in [(gbp(c), Money::eur(c + 333)), (Money::eur(c), gbp(c + 91))] {
                    let eur = |m: Money| {
                        let v = Decimal::new(m.minor, 2);
                        match (m.currency, fx.gbp) {
                            (Currency::GBP, GbpQuote::GbpPerEur(x)) => (v, x.dec()),
                            (Currency::GBP, GbpQuote::EurPerGbp(y)) => (v * y.dec(), Decimal::ONE),
                            (Currency::EUR, _) => (v, Decimal::ONE),
                        }
                    };
                    let ((sn, sd), (bn, bd)) = (eur(sell), eur(buy));
                    let gap = sn * bd - bn * sd;
                    let cents = (gap / (sd * bd)).money(Currency::EUR).minor;
                    let pct = if cents > 0 {
                        (gap / (bn * sd)).pct()
                    } else {
                        0.0
                    };
                    let want = (cents, pct);
                    assert_eq!(
                        gross_exact(buy, sell, fx.exact()),
                        Some(want),
                        "{buy:?} → {sell:?} at {quote:?}"
                    );
                }
            }
        }
    }
}
