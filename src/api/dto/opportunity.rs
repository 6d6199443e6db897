//! An opportunity as `/opportunities` returns it: gross and net figures, Amazon links, and
//! the net breakdown only when asked for (it is most of the row's size).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Asin, Breakdown, BreakdownLine, Market, Money, Opportunity};

/// One directed route for one product.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OpportunityItem {
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
    /// Gross margin over the buy price (EUR), in percent (what `min_margin` filters).
    pub gross_margin_pct: f64,
    /// Profit per unit after VAT, fees, FX and shipping, in EUR. `null` (like the other
    /// net figures) when no VAT, referral or storage table was in force for the row's date
    /// (flag `NO_TABLE`), or when the FBA fee is unknown (flag `FBA_FEE_UNKNOWN`): the row
    /// has gross figures only.
    pub net_profit: Option<Money>,
    /// Net profit over net revenue, in percent. Like every percentage here, it is the
    /// ratio of the unrounded figures, rounded once (economics.md §4), so a ratio of the
    /// rounded amounts shown may differ in the last place.
    pub net_margin_pct: Option<f64>,
    /// Net profit over landed cost, in percent (of the unrounded figures, like
    /// `net_margin_pct`).
    pub roi_pct: Option<f64>,
    /// Expected monthly profit in EUR, the ranking key.
    pub expected_monthly_profit: Option<Money>,
    /// Highest buy-market shelf price (gross, in the buy market's currency) that still
    /// passes the ROI and profit gates. `null` when no positive price does, or the row has
    /// no net figures.
    pub max_buy_price: Option<Money>,
    /// Sell price (gross, in the sell market's currency) needed for the target ROI
    /// (`min_roi` in the config). `null` when no price up to Keepa's cap reaches it, or the
    /// row has no net figures.
    pub target_sell_price: Option<Money>,
    /// Sell price (gross, in the sell market's currency) at which the net profit is zero.
    /// `null` as for `target_sell_price`.
    pub break_even_sell_price: Option<Money>,
    /// True when every gate passes.
    pub ranked: bool,
    /// Failed gates and data warnings, in canonical order. Gates (the row is not ranked):
    /// `PROFIT` and `ROI` (below the minimums), `SPIKE` (sell price far from its 90-day
    /// average), `NO_HISTORY`, `DEMAND` (below the demand floor), `STALE` (Keepa data too
    /// old), `FX_STALE` (the EUR/GBP rate is stale: only routes with a GBP side use it and
    /// carry it), `IDENTITY`
    /// (the two listings may not be one item), `BLOCKED` (hazmat or adult), `NO_TABLE`,
    /// `ROUTE_DISABLED` (a UK↔EU route without customs configured: its net figures leave
    /// out duty, broker and import VAT, so they are approximate), `FBA_FEE_UNKNOWN`,
    /// `NO_PACKAGE`. Warnings: `NO_BUYBOX` (sell price from Amazon's offer or the lowest
    /// New), `NO_SHIPPING`, `FEE_MISMATCH`, `VAT_REGISTRATION`, `AMAZON`.
    pub flags: Vec<String>,
    /// Amazon product page in the buy market.
    pub buy_url: String,
    /// Amazon product page in the sell market.
    pub sell_url: String,
    /// When the row was last computed (RFC 3339).
    pub updated_at: DateTime<Utc>,
    /// When the store first recorded this route (RFC 3339); `null` for rows stored before
    /// the store kept it.
    pub first_seen: Option<DateTime<Utc>>,
    /// The product's brand, as Keepa gives it.
    pub brand: Option<String>,
    /// Sales rank in the sell market's root category when the row was computed.
    pub sales_rank: Option<i64>,
    /// Units bought last month in the sell market, as Amazon shows it.
    pub monthly_sold: Option<i64>,
    /// Sales-rank drops in the sell market in the last 30 days (each roughly a sale).
    pub rank_drops30: Option<i64>,
    /// How the net figures were computed; present only with `breakdown=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<BreakdownOut>,
}

impl OpportunityItem {
    /// The wire form of `o`, with its breakdown if `with_breakdown`.
    pub fn from_domain(o: &Opportunity, with_breakdown: bool) -> Self {
        let net = o.has_net();
        OpportunityItem {
            asin: o.asin,
            title: o.title.as_deref().map(str::to_string),
            buy_market: o.buy_market,
            sell_market: o.sell_market,
            buy_price: o.buy_price,
            sell_price: o.sell_price,
            gross_margin: o.gross_margin,
            gross_margin_pct: o.gross_margin_pct,
            net_profit: net.then_some(o.net_profit),
            net_margin_pct: net.then_some(o.net_margin_pct),
            roi_pct: net.then_some(o.roi_pct),
            expected_monthly_profit: net.then_some(o.expected_monthly_profit),
            max_buy_price: o.max_buy_price,
            target_sell_price: o.target_sell_price,
            break_even_sell_price: o.break_even_sell_price,
            ranked: o.ranked,
            flags: o.flags.names().map(String::from).collect(),
            buy_url: o.buy_url(),
            sell_url: o.sell_url(),
            updated_at: o.updated_at,
            first_seen: o.first_seen,
            brand: o.sell_facts.brand.as_deref().map(str::to_string),
            sales_rank: o.sell_facts.sales_rank,
            monthly_sold: o.sell_facts.monthly_sold,
            rank_drops30: o.sell_facts.rank_drops30,
            breakdown: with_breakdown.then(|| BreakdownOut::from(&o.breakdown)),
        }
    }
}

/// One term of the net calculation.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BreakdownLineOut {
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
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BreakdownOut {
    /// The terms, in calculation order.
    pub lines: Vec<BreakdownLineOut>,
    /// EUR per GBP used (absent on EUR-only routes).
    pub fx_eur_per_gbp: Option<f64>,
    /// Date of the FX rate.
    pub fx_date: Option<String>,
    /// The GBP rate exactly as used, with source and date (`ecb 2026-06-09: 1 EUR = 0.8653 GBP`).
    pub fx_rate: Option<String>,
    /// `effective_from` of the VAT table used.
    pub vat_table: Option<String>,
    /// `effective_from` of the referral fee table used.
    pub fee_table: Option<String>,
    /// Keepa `lastUpdate` of the buy side.
    pub buy_observed_at: Option<DateTime<Utc>>,
    /// Keepa `lastUpdate` of the sell side.
    pub sell_observed_at: Option<DateTime<Utc>>,
    /// Why `lines` is empty, when it is: computed again now the route gives other figures
    /// than the row (the product's data or the economics settings changed since it was
    /// computed), and lines that do not add up to the row's figures are not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unexplained: Option<String>,
}

impl From<&BreakdownLine> for BreakdownLineOut {
    fn from(l: &BreakdownLine) -> Self {
        BreakdownLineOut {
            id: l.id.clone(),
            label: l.label.clone(),
            amount: l.amount,
            source: l.source.clone(),
        }
    }
}

impl From<&Breakdown> for BreakdownOut {
    fn from(b: &Breakdown) -> Self {
        BreakdownOut {
            lines: b.lines.iter().map(BreakdownLineOut::from).collect(),
            fx_eur_per_gbp: b.fx_eur_per_gbp,
            fx_date: b.fx_date.as_deref().map(str::to_string),
            fx_rate: b.fx_rate.as_deref().map(str::to_string),
            vat_table: b.vat_table.as_deref().map(str::to_string),
            fee_table: b.fee_table.as_deref().map(str::to_string),
            buy_observed_at: b.buy_observed_at,
            sell_observed_at: b.sell_observed_at,
            unexplained: b.unexplained.clone(),
        }
    }
}
