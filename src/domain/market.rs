//! The five European Amazon marketplaces that Keepa covers.
//!
//! Keepa has no EU locale beyond UK, DE, FR, IT and ES (NL, SE, PL and BE would need
//! Amazon's SP-API), so the set is closed and an enum. Each market knows its Keepa domain
//! id, its currency, its Amazon host and its standard VAT rate; the economics model reads
//! VAT from dated config tables, the rate here is the shipped default.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Asin, Currency};

/// A European Amazon marketplace covered by Keepa.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Market {
    /// amazon.co.uk (Keepa domain 2, GBP).
    UK,
    /// amazon.de (Keepa domain 3, EUR).
    DE,
    /// amazon.fr (Keepa domain 4, EUR).
    FR,
    /// amazon.it (Keepa domain 8, EUR).
    IT,
    /// amazon.es (Keepa domain 9, EUR).
    ES,
}

/// Why a string is not a market.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid market '{input}': expected one of UK, DE, FR, IT, ES")]
pub struct ParseMarketError {
    /// The rejected input.
    pub input: String,
}

impl Market {
    /// Every market, in display order.
    pub const ALL: [Market; 5] = [Market::UK, Market::DE, Market::FR, Market::IT, Market::ES];

    /// The two-letter code shown to people (`UK`, not Keepa's enum name `GB`).
    pub const fn code(self) -> &'static str {
        match self {
            Market::UK => "UK",
            Market::DE => "DE",
            Market::FR => "FR",
            Market::IT => "IT",
            Market::ES => "ES",
        }
    }

    /// Keepa's domain id: the ordinal of its `AmazonLocale` enum.
    pub const fn keepa_domain(self) -> u8 {
        match self {
            Market::UK => 2,
            Market::DE => 3,
            Market::FR => 4,
            Market::IT => 8,
            Market::ES => 9,
        }
    }

    /// The market for a Keepa domain id, if it is one of the five.
    pub const fn from_keepa_domain(id: i64) -> Option<Market> {
        match id {
            2 => Some(Market::UK),
            3 => Some(Market::DE),
            4 => Some(Market::FR),
            8 => Some(Market::IT),
            9 => Some(Market::ES),
            _ => None,
        }
    }

    /// The currency prices are quoted in (Keepa products carry no currency field).
    pub const fn currency(self) -> Currency {
        match self {
            Market::UK => Currency::GBP,
            _ => Currency::EUR,
        }
    }

    /// Whether the route `self → sell` converts pounds: the only routes the EUR/GBP rate,
    /// and so `FX_STALE` as a gate, concerns.
    pub const fn converts_gbp(self, sell: Market) -> bool {
        matches!(self.currency(), Currency::GBP) || matches!(sell.currency(), Currency::GBP)
    }

    /// The storefront host.
    pub const fn host(self) -> &'static str {
        match self {
            Market::UK => "www.amazon.co.uk",
            Market::DE => "www.amazon.de",
            Market::FR => "www.amazon.fr",
            Market::IT => "www.amazon.it",
            Market::ES => "www.amazon.es",
        }
    }

    /// Standard VAT rate in basis points (2000 = 20 %), 2025 rates.
    pub const fn standard_vat_bp(self) -> u32 {
        match self {
            Market::UK | Market::FR => 2000,
            Market::DE => 1900,
            Market::IT => 2200,
            Market::ES => 2100,
        }
    }

    /// The product page of `asin` in this market.
    pub fn product_url(self, asin: &Asin) -> String {
        format!("https://{}/dp/{}", self.host(), asin)
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Market {
    type Err = ParseMarketError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Market::ALL
            .into_iter()
            .find(|m| m.code().eq_ignore_ascii_case(t))
            .ok_or_else(|| ParseMarketError {
                input: t.chars().filter(|c| !c.is_control()).take(20).collect(),
            })
    }
}

/// Parses a comma-separated list such as `de,it`; duplicates collapse, order is kept. An
/// empty list is no markets; an empty item in a list (`de,,it`) is a typo, refused.
pub fn parse_market_list(s: &str) -> Result<Vec<Market>, ParseMarketError> {
    let mut out = Vec::new();
    if s.trim().is_empty() {
        return Ok(out);
    }
    for part in s.split(',') {
        let m: Market = part.parse()?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

impl Serialize for Market {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Market {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_case_insensitive_and_errors_list_the_choices() {
        assert_eq!("de".parse::<Market>().unwrap(), Market::DE);
        assert_eq!("UK".parse::<Market>().unwrap(), Market::UK);
        let err = "XX".parse::<Market>().unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid market 'XX': expected one of UK, DE, FR, IT, ES"
        );
    }

    #[test]
    fn domain_ids_round_trip() {
        for m in Market::ALL {
            assert_eq!(Market::from_keepa_domain(m.keepa_domain().into()), Some(m));
        }
        for bad in [0, 1, 5, 7, 13, 14] {
            assert_eq!(Market::from_keepa_domain(bad), None);
        }
    }

    #[test]
    fn lists_deduplicate() {
        let l = parse_market_list("de, IT,de").unwrap();
        assert_eq!(l, vec![Market::DE, Market::IT]);
        assert!(parse_market_list("de,nl").is_err());
        assert_eq!(parse_market_list(" "), Ok(vec![]));
        let e = parse_market_list("de,,it").unwrap_err();
        assert_eq!(e.input, "");
    }
}
