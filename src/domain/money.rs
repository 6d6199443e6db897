//! Money as integer minor units plus a currency: no floats, no silent currency mixing.
//!
//! Arithmetic is checked: adding pounds to euros or overflowing an `i64` is an error the
//! caller must handle, never a wrong number. Conversion between currencies is not here; it
//! needs a dated FX rate and lives in the economics model.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An ISO 4217 currency used by the covered markets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Currency {
    /// Euro (cents).
    EUR,
    /// Pound sterling (pence).
    GBP,
}

impl Currency {
    /// The ISO code.
    pub const fn code(self) -> &'static str {
        match self {
            Currency::EUR => "EUR",
            Currency::GBP => "GBP",
        }
    }

    /// The symbol used in the console.
    pub const fn symbol(self) -> &'static str {
        match self {
            Currency::EUR => "€",
            Currency::GBP => "£",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "EUR" => Ok(Currency::EUR),
            "GBP" => Ok(Currency::GBP),
            _ => Err(format!("invalid currency '{s}': expected EUR or GBP")),
        }
    }
}

/// Why a money operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The operands are in different currencies.
    #[error("cannot combine {left} with {right}: convert with a dated FX rate first")]
    CurrencyMismatch {
        /// Currency of the left operand.
        left: Currency,
        /// Currency of the right operand.
        right: Currency,
    },
    /// The result does not fit in 64 bits of minor units.
    #[error("amount overflow")]
    Overflow,
}

/// An amount in minor units (cents, pence) of one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units: 1999 is 19.99.
    #[serde(rename = "amount")]
    pub minor: i64,
    /// The currency of `minor`.
    pub currency: Currency,
}

/// Parses a finite number of percent (`10`, `12.5`, `-5`, and `10%` as people write it).
/// The error says what is wrong with the value, for the caller to put after its name.
pub fn parse_percent(v: &str) -> Result<f64, &'static str> {
    let v = v.strip_suffix('%').unwrap_or(v);
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && v.bytes().any(|b| b.is_ascii_digit()) => Ok(x),
        Ok(x) if x.is_infinite() && v.bytes().any(|b| b.is_ascii_digit()) => {
            Err("is out of range: give a percentage such as 10 or 12.5")
        }
        _ => Err("is not a number: give a percentage such as 10 or 12.5"),
    }
}

/// Parses an amount of euros with at most two decimals (`3`, `3.5`, `-0.25`, `.25`) into
/// cents, up to 1,000,000,000 euros either way. The error says what is wrong with the
/// value, for the caller to put after its name.
pub fn parse_euro_cents(v: &str) -> Result<i64, &'static str> {
    let (neg, unsigned) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let (whole, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !all_digits(whole) || !all_digits(frac) {
        if unsigned.contains(['e', 'E']) && unsigned.parse::<f64>().is_ok_and(f64::is_finite) {
            return Err("has an exponent: write the amount in digits, such as 3.5 or 1000");
        }
        return Err("is not an amount of euros such as 3.5");
    }
    if frac.len() > 2 {
        return Err("has more than 2 decimals: give whole cents, e.g. 3.55");
    }
    let euros: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse::<i64>().unwrap_or(i64::MAX).min(1_000_000_001)
    };
    let cents: i64 = format!("{frac:0<2}").parse().unwrap_or(0);
    let total = euros * 100 + cents;
    match total {
        t if t > 100_000_000_000 && neg => Err("is below the minimum -1000000000"),
        t if t > 100_000_000_000 => Err("is above the maximum 1000000000"),
        t => Ok(if neg { -t } else { t }),
    }
}

impl Money {
    /// An amount of `minor` units of `currency`.
    pub const fn new(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    /// Euros from cents.
    pub const fn eur(cents: i64) -> Self {
        Money::new(cents, Currency::EUR)
    }

    /// Pounds from pence.
    pub const fn gbp(pence: i64) -> Self {
        Money::new(pence, Currency::GBP)
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// `self + other`, same currency only.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// `self - other`, same currency only.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// `self × n` for a whole number of units.
    pub fn checked_mul(self, n: i64) -> Result<Money, MoneyError> {
        let minor = self.minor.checked_mul(n).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// The amount as a plain decimal string with a dot, e.g. `-12.05`.
    pub fn decimal_string(self) -> String {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Display for Money {
    /// `€12.34`, `-£0.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.decimal_string();
        match s.strip_prefix('-') {
            Some(rest) => write!(f, "-{}{rest}", self.currency.symbol()),
            None => write!(f, "{}{s}", self.currency.symbol()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percentage_may_carry_its_sign() {
        assert_eq!(parse_percent("10"), Ok(10.0));
        assert_eq!(parse_percent("12.5%"), Ok(12.5));
        assert_eq!(parse_percent("-5%"), Ok(-5.0));
        for bad in ["%", "10%%", "ten%", "% 10", ""] {
            assert!(parse_percent(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(
            Money::eur(1999).checked_add(Money::eur(1)).unwrap(),
            Money::eur(2000)
        );
        assert_eq!(
            Money::eur(1).checked_add(Money::gbp(1)).unwrap_err(),
            MoneyError::CurrencyMismatch {
                left: Currency::EUR,
                right: Currency::GBP
            }
        );
        assert_eq!(
            Money::eur(i64::MAX).checked_add(Money::eur(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::eur(i64::MIN).checked_sub(Money::eur(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(Money::gbp(250).checked_mul(3).unwrap(), Money::gbp(750));
    }

    #[test]
    fn displays_with_symbol_and_sign() {
        assert_eq!(Money::eur(5990).to_string(), "€59.90");
        assert_eq!(Money::gbp(-5).to_string(), "-£0.05");
        assert_eq!(Money::eur(-1205).decimal_string(), "-12.05");
    }

    #[test]
    fn serializes_as_amount_and_currency() {
        let j = serde_json::to_string(&Money::gbp(1299)).unwrap();
        assert_eq!(j, r#"{"amount":1299,"currency":"GBP"}"#);
    }
}
