//! The domain model: markets, money, products, price snapshots and opportunities.
//!
//! Pure values with no I/O. Everything else in arbdesk (the Keepa client, the store, the
//! console, the API) speaks in these types, so they carry the invariants that matter for
//! money: amounts are integer minor units tagged with their currency, markets are a closed
//! set, ASINs are validated once at the edge.

mod asin;
mod flags;
mod market;
mod money;
mod opportunity;
mod product;
pub mod text;

pub use asin::{Asin, ParseAsinError};
pub use flags::{Flag, FlagSet, flag};
pub use market::{Market, ParseMarketError, parse_market_list};
pub use money::{Currency, Money, MoneyError, parse_euro_cents, parse_percent};
pub use opportunity::{Breakdown, BreakdownLine, Opportunity, OpportunityKey, SellFacts};
pub use product::{
    Listing, PackageDims, PricePoint, PriceSeries, PriceSnapshot, Product, SeriesKind,
};

/// The current time to the microsecond: the precision every store keeps, so a time written
/// and read back is the same time, and the API's times in one row are written alike.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound as _;
    chrono::Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_whole_microseconds() {
        for _ in 0..100 {
            assert_eq!(super::now().timestamp_subsec_nanos() % 1_000, 0);
        }
    }
}
