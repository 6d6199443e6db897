//! An arbitrage opportunity: buy one ASIN in one market, sell it in another.
//!
//! Rows are keyed by `asin:buy:sell`, which is also the idempotency key of every store.
//! Gross figures (what the price gap alone says) and net figures (after VAT, fees, FX and
//! shipping) sit side by side; percentages are plain numbers computed once by the economics
//! model, money is minor units with a currency. Every row carries its breakdown and the
//! versions of the data it was computed from, so a number can always be explained.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Asin, FlagSet, Market, Money};

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

impl FromStr for OpportunityKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(c), None) => Ok(OpportunityKey {
                asin: a.parse().map_err(|e| format!("{e}"))?,
                buy: b.parse().map_err(|e| format!("{e}"))?,
                sell: c.parse().map_err(|e| format!("{e}"))?,
            }),
            _ => Err(format!(
                "invalid opportunity key '{s}': expected ASIN:BUY:SELL, e.g. B0DEMO1234:IT:DE"
            )),
        }
    }
}

/// One term of the net calculation, with where its value came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BreakdownLine {
    /// Stable id, e.g. `output_vat`, `referral_fee`, `fba_fee`, `landed_cost`.
    pub id: String,
    /// Human label, e.g. `Referral fee 15 % of 59.90 gross`.
    pub label: String,
    /// The amount (negative for costs), in the currency it is charged in.
    pub amount: Money,
    /// Where the input came from: `keepa`, `config:referral 2025-02-01`, `ecb 2026-11-24`, …
    pub source: String,
}

/// The net breakdown of one row and the data versions behind it.
///
/// Detection records the versions, the FX rate and the Keepa times of every row, and leaves
/// `lines` empty: the lines are rebuilt exactly, from the stored product and these inputs,
/// for the rows someone asks about (`Detect::explain`). Stored rows stay small that way.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// The terms, in calculation order (empty until the row is explained).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<BreakdownLine>,
    /// EUR per GBP used (`None` on EUR-only routes).
    pub fx_eur_per_gbp: Option<f64>,
    /// Date of the FX rate.
    pub fx_date: Option<Arc<str>>,
    /// The GBP rate exactly as used, with its source and date
    /// (`ecb 2026-06-09: 1 EUR = 0.8653 GBP`), so the row can be explained with it later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fx_rate: Option<Arc<str>>,
    /// `effective_from` of the VAT table used.
    pub vat_table: Option<Arc<str>>,
    /// `effective_from` of the referral fee table used.
    pub fee_table: Option<Arc<str>>,
    /// Keepa `lastUpdate` of the buy side.
    pub buy_observed_at: Option<DateTime<Utc>>,
    /// Keepa `lastUpdate` of the sell side.
    pub sell_observed_at: Option<DateTime<Utc>>,
    /// Why a row someone asked to explain has no lines: computed again now, the route
    /// gives other figures than the row (the product's data or the economics settings
    /// changed since), and lines that do not add up to the row's figures would mislead.
    /// Set by `Detect::explain`, never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexplained: Option<String>,
}

/// One directed route for one product, with its gross and net economics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Opportunity {
    /// The product.
    pub asin: Asin,
    /// Title for display (shared by the rows of one product).
    pub title: Option<Arc<str>>,
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
    /// Highest gross shelf price in the buy market that still passes the ROI and profit
    /// gates, in the buy market's currency (`None` when no price passes).
    pub max_buy_price: Option<Money>,
    /// Sell price needed for the target ROI, in the sell market's currency.
    pub target_sell_price: Option<Money>,
    /// Sell price at which profit is zero, in the sell market's currency.
    pub break_even_sell_price: Option<Money>,
    /// True when every gate passes; only ranked rows compete on expected monthly profit.
    pub ranked: bool,
    /// Failed gates (`PROFIT`, `ROI`, `SPIKE`, `DEMAND`, `STALE`, `IDENTITY`, `BLOCKED`) and
    /// data warnings (`NO_BUYBOX`, `FX_STALE`, `FEE_MISMATCH`, `VAT_REGISTRATION`, …),
    /// stored and shown as their names.
    pub flags: FlagSet,
    /// How the net figures were computed.
    pub breakdown: Breakdown,
    /// When the row was last computed.
    pub updated_at: DateTime<Utc>,
    /// When the store first recorded this route of this product; later detections of the
    /// same route keep it. `None` on a row not stored yet, and on rows stored before the
    /// store kept this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    /// What Keepa said of the product where it is sold, when the row was computed (rows
    /// stored before the store kept this have none).
    #[serde(default, skip_serializing_if = "SellFacts::is_empty")]
    pub sell_facts: SellFacts,
}

/// Keepa's demand figures for the sell market and the product's brand, as the row was
/// computed with them: what the console's `/` filter (`bsr`, `sold`, `drops30`, `brand`)
/// and API clients select on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellFacts {
    /// The brand (shared by the rows of one product).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<Arc<str>>,
    /// Sales rank in the sell market's root category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sales_rank: Option<i64>,
    /// Units Amazon says were bought there last month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_sold: Option<i64>,
    /// Sales-rank drops there in the last 30 days (each roughly a sale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_drops30: Option<i64>,
}

impl SellFacts {
    /// Nothing known.
    pub fn is_empty(&self) -> bool {
        *self == SellFacts::default()
    }
}

impl Opportunity {
    /// Whether the net figures are known: not when a VAT, referral or storage table was
    /// missing (`NO_TABLE`: the net fields hold zeros), nor when the FBA fee is unknown
    /// (`FBA_FEE_UNKNOWN`: the net fields count the fee as 0, which overstates the profit
    /// by one of the largest costs). Every screen and file shows such a row's net figures
    /// as unknown; its max buy, target and break-even prices are not computed.
    pub fn has_net(&self) -> bool {
        self.net_unknown().is_none()
    }

    /// Why the net figures are unknown, in words for a screen, if they are.
    pub fn net_unknown(&self) -> Option<&'static str> {
        if self.flags.contains(super::Flag::NoTable) {
            Some("no fee or VAT table in force (NO_TABLE)")
        } else if self.flags.contains(super::Flag::FbaFeeUnknown) {
            Some(
                "no FBA fee: Keepa gave none and the size-tier table has none for this package (FBA_FEE_UNKNOWN); the lines count it as 0",
            )
        } else {
            None
        }
    }

    /// The row's identity.
    pub fn key(&self) -> OpportunityKey {
        OpportunityKey {
            asin: self.asin,
            buy: self.buy_market,
            sell: self.sell_market,
        }
    }

    /// Amazon product page where it is bought.
    pub fn buy_url(&self) -> String {
        self.buy_market.product_url(&self.asin)
    }

    /// Amazon product page where it is sold.
    pub fn sell_url(&self) -> String {
        self.sell_market.product_url(&self.asin)
    }
}
