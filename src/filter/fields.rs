//! What the filter reads of a row ([`Filterable`]), for the console's rows and the store's
//! opportunities alike, and the text forms both build their search from.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::domain::text::sanitize;
use crate::domain::{Currency, Money, Opportunity, OpportunityKey};

/// What a filter reads of a row.
pub trait Filterable {
    /// ASIN and route.
    fn key(&self) -> OpportunityKey;
    /// Lower-case `asin title`: what a word or phrase searches.
    fn search(&self) -> Cow<'_, str>;
    /// The title as shown (may be empty).
    fn title(&self) -> Cow<'_, str>;
    /// The lower-case brand, if known.
    fn brand(&self) -> Option<Cow<'_, str>>;
    /// Failed gates and warnings by name, space-separated.
    fn flags(&self) -> Cow<'_, str>;
    /// Whether it passes every gate.
    fn ranked(&self) -> bool;
    /// The figures the number fields compare.
    fn figures(&self) -> Figures;
}

/// The figures of a row that number fields compare.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figures {
    /// Gross margin, EUR.
    pub gross: Money,
    /// Gross margin %.
    pub gross_pct: f64,
    /// Net profit, EUR.
    pub net: Money,
    /// Net margin %.
    pub net_pct: f64,
    /// ROI %.
    pub roi: f64,
    /// Expected monthly profit, EUR.
    pub emp: Money,
    /// The net figures were computed (else no comparison of them matches).
    pub has_net: bool,
    /// Buy price, EUR.
    pub buy_eur: Money,
    /// Sales rank where it is sold.
    pub bsr: Option<i64>,
    /// Units sold last month where it is sold.
    pub sold: Option<i64>,
    /// Rank drops in 30 days where it is sold.
    pub drops30: Option<i64>,
    /// When the row was computed.
    pub updated_at: DateTime<Utc>,
}

/// The buy price in EUR: as it is on a euro market; from a GBP one, the sell price (then
/// in EUR) less the gross margin, which is how the row converted it.
pub fn buy_eur(buy: Money, sell: Money, gross: Money) -> Money {
    match buy.currency {
        Currency::EUR => buy,
        Currency::GBP => Money::eur(sell.minor - gross.minor),
    }
}

/// Longest title kept for display and search (a table truncates it long before that).
pub const MAX_TITLE: usize = 240;

/// A title as shown: sanitized, at most [`MAX_TITLE`] characters.
pub fn shown_title(title: Option<&str>) -> String {
    let mut title = title.map(sanitize).unwrap_or_default();
    if let Some((cut, _)) = title.char_indices().nth(MAX_TITLE) {
        title.truncate(cut);
    }
    title
}

/// What a word searches: lower-case `asin title` (the title as shown).
pub fn search_text(asin: &str, shown_title: &str) -> String {
    format!(
        "{} {}",
        asin.to_ascii_lowercase(),
        shown_title.to_lowercase()
    )
}

/// A brand as the `brand` field compares it.
pub fn brand_key(brand: &str) -> String {
    sanitize(brand).to_lowercase()
}

impl Filterable for Opportunity {
    fn key(&self) -> OpportunityKey {
        Opportunity::key(self)
    }
    fn search(&self) -> Cow<'_, str> {
        search_text(self.asin.as_str(), &shown_title(self.title.as_deref())).into()
    }
    fn title(&self) -> Cow<'_, str> {
        shown_title(self.title.as_deref()).into()
    }
    fn brand(&self) -> Option<Cow<'_, str>> {
        self.sell_facts
            .brand
            .as_deref()
            .map(|b| brand_key(b).into())
    }
    fn flags(&self) -> Cow<'_, str> {
        self.flags.join(" ").into()
    }
    fn ranked(&self) -> bool {
        self.ranked
    }
    fn figures(&self) -> Figures {
        Figures {
            gross: self.gross_margin,
            gross_pct: self.gross_margin_pct,
            net: self.net_profit,
            net_pct: self.net_margin_pct,
            roi: self.roi_pct,
            emp: self.expected_monthly_profit,
            has_net: self.has_net(),
            buy_eur: buy_eur(self.buy_price, self.sell_price, self.gross_margin),
            bsr: self.sell_facts.sales_rank,
            sold: self.sell_facts.monthly_sold,
            drops30: self.sell_facts.rank_drops30,
            updated_at: self.updated_at,
        }
    }
}
