//! An arbitrage opportunity: buy one ASIN in one market, sell it in another.
//!
//! Rows are keyed by `asin:buy:sell`, which is also the idempotency key of every store.
//! Gross figures (what the price gap alone says) and net figures (after VAT, fees, FX and
//! shipping) sit side by side; percentages are plain numbers computed once by the economics
//! model, money is minor units with a currency.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Asin, Market, Money};

/// The identity of an opportunity: one ASIN on one directed route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OpportunityKey {
    /// The product.
    pub asin: Asin,
    /// Where it is bought.
    pub buy: Market,
    /// Where it is sold.
    pub sell: Market,
}

impl fmt::Display for OpportunityKey {
    /// `B0DEMO1234:IT:DE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.asin, self.buy, self.sell)
    }
}

/// One directed route for one product, with its gross and net economics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Opportunity {
    /// The product.
    pub asin: Asin,
    /// Title for display.
    pub title: Option<String>,
    /// Market to buy in.
    pub buy_market: Market,
    /// Market to sell in.
    pub sell_market: Market,
    /// Buy price, gross, in the buy market's currency.
    pub buy_price: Money,
    /// Sell price, gross and landed, in the sell market's currency.
    pub sell_price: Money,
    /// Sell minus buy, both in EUR.
    pub gross_margin: Money,
    /// Gross margin over the buy price (EUR), in percent.
    pub gross_margin_pct: f64,
    /// Profit per unit after VAT, fees, FX and shipping, in EUR.
    pub net_profit: Money,
    /// Profit over net revenue, in percent.
    pub net_margin_pct: f64,
    /// Profit over landed cost, in percent.
    pub roi_pct: f64,
    /// Expected monthly profit in EUR, the ranking key.
    pub expected_monthly_profit: Money,
    /// Failed gates and data warnings (`ROI`, `FX_STALE`, `NO_BUYBOX`, …).
    pub flags: Vec<String>,
    /// When the row was last computed.
    pub updated_at: DateTime<Utc>,
}

impl Opportunity {
    /// The row's identity.
    pub fn key(&self) -> OpportunityKey {
        OpportunityKey {
            asin: self.asin,
            buy: self.buy_market,
            sell: self.sell_market,
        }
    }
}
