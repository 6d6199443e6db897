//! A product as arbdesk knows it: identity, one price snapshot per market, and history.
//!
//! `PriceSnapshot` holds what the detector and the console need about one listing at one
//! moment: the three prices that matter (Amazon's own offer, the lowest New offer, the Buy
//! Box landed with shipping), their 90-day averages, demand and competition signals, and the
//! fee facts Keepa reports. A missing price is `None`, never zero.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Asin, Market, Money};

/// One listing's state in one market at `observed_at` (Keepa's `lastUpdate`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceSnapshot {
    /// The marketplace.
    pub market: Market,
    /// Title as listed in this market (titles differ by language).
    pub title: Option<String>,
    /// Amazon's own offer, if Amazon sells it now.
    pub amazon: Option<Money>,
    /// Lowest New offer (including Amazon's).
    pub new: Option<Money>,
    /// New Buy Box price, landed (price plus shipping).
    pub buy_box: Option<Money>,
    /// 90-day average of Amazon's price.
    pub amazon_avg90: Option<Money>,
    /// 90-day average of the lowest New offer.
    pub new_avg90: Option<Money>,
    /// 90-day average of the landed Buy Box price.
    pub buy_box_avg90: Option<Money>,
    /// Current sales rank in the root category.
    pub sales_rank: Option<i64>,
    /// Sales-rank drops in the last 30 days (each is at least one sale).
    pub rank_drops30: Option<i64>,
    /// Amazon's "bought in past month", when Amazon shows it.
    pub monthly_sold: Option<i64>,
    /// Number of New offers.
    pub offers_new: Option<i64>,
    /// Number of New FBA offers, Amazon's own included.
    pub offers_new_fba: Option<i64>,
    /// Number of New FBM offers.
    pub offers_new_fbm: Option<i64>,
    /// Whether Amazon holds the Buy Box now.
    pub buy_box_is_amazon: Option<bool>,
    /// Amazon's share of the Buy Box over the stats interval, in percent.
    pub amazon_buy_box_share_pct: Option<f64>,
    /// Keepa's referral fee percentage for this listing.
    pub referral_fee_pct: Option<f64>,
    /// FBA pick-and-pack fee, net of VAT.
    pub fba_fee: Option<Money>,
    /// Out-of-stock share of the last 90 days for the Buy Box, in percent.
    pub out_of_stock_pct90: Option<i64>,
    /// EANs of this market's record, primary first (cross-market identity).
    pub eans: Vec<String>,
    /// Units per package in this market's record.
    pub package_quantity: Option<i64>,
    /// Package size and weight in this market's record (storage and FBA fee fallbacks).
    #[serde(default)]
    pub package: PackageDims,
    /// Keepa product group, e.g. `Kitchen` (maps to a referral fee category).
    pub product_group: Option<String>,
    /// Adult product.
    pub is_adult: bool,
    /// Hazardous material records present.
    pub is_hazmat: bool,
    /// When Keepa last refreshed this listing.
    pub observed_at: DateTime<Utc>,
}

/// Package size and weight as Keepa reports them; each is `None` when unknown (Keepa 0/−1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageDims {
    /// Length, mm.
    pub length_mm: Option<i64>,
    /// Width, mm.
    pub width_mm: Option<i64>,
    /// Height, mm.
    pub height_mm: Option<i64>,
    /// Weight, grams.
    pub weight_g: Option<i64>,
}

impl PackageDims {
    /// Volume in mm³ when all three sides are known.
    pub fn volume_mm3(&self) -> Option<i128> {
        let (l, w, h) = (self.length_mm?, self.width_mm?, self.height_mm?);
        Some(i128::from(l) * i128::from(w) * i128::from(h))
    }
}

impl PriceSnapshot {
    /// True when the listing has any current New offer (Amazon, lowest New or Buy Box).
    pub fn in_stock(&self) -> bool {
        self.amazon.is_some() || self.new.is_some() || self.buy_box.is_some()
    }
}

/// Which price a history series tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesKind {
    /// Amazon's own offer (Keepa csv 0).
    Amazon,
    /// Lowest New offer (csv 1).
    New,
    /// Sales rank (csv 3); values are ranks, not money.
    SalesRank,
    /// New Buy Box landed (csv 18).
    BuyBox,
}

/// One step of a step function: `value` holds from `at` until the next point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricePoint {
    /// When the value took effect.
    pub at: DateTime<Utc>,
    /// Minor units (or rank); `None` means no offer / out of stock.
    pub value: Option<i64>,
}

/// A history series of one kind in one market.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceSeries {
    /// The market.
    pub market: Market,
    /// What is tracked.
    pub kind: SeriesKind,
    /// Points in ascending time.
    pub points: Vec<PricePoint>,
}

/// A product across the markets where it is listed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// The ASIN.
    pub asin: Asin,
    /// The best title known (the first market's, in display order).
    pub title: Option<String>,
    /// Brand.
    pub brand: Option<String>,
    /// Image URL (Amazon's media host).
    pub image_url: Option<String>,
    /// EAN codes, primary first.
    pub eans: Vec<String>,
    /// Units per package.
    pub package_quantity: Option<i64>,
    /// Current snapshot per market.
    pub markets: BTreeMap<Market, PriceSnapshot>,
    /// Markets Keepa was asked about where the product is not listed. A market in neither
    /// this nor `markets` has not been fetched yet. `None` when the store cannot tell: an
    /// Elasticsearch document without the field (it is written at each refresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_listed: Option<Vec<Market>>,
}

impl Product {
    /// Whether `m`, where the product has no listing, was not fetched yet (rather than
    /// fetched and not listed there). A store that cannot tell the two apart (`not_listed`
    /// is `None`) says not listed.
    pub fn not_fetched(&self, m: Market) -> bool {
        self.not_listed.as_ref().is_some_and(|l| !l.contains(&m))
    }
}

/// One market's view of one product, decoded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    /// The ASIN.
    pub asin: Asin,
    /// The market (from `domainId`).
    pub market: Market,
    /// Keepa product type: only 0 has usable prices.
    pub product_type: i64,
    /// Sanitized title.
    pub title: Option<String>,
    /// Sanitized brand.
    pub brand: Option<String>,
    /// Large image URL on Amazon's media host.
    pub image_url: Option<String>,
    /// EANs, primary first.
    pub eans: Vec<String>,
    /// Units per package.
    pub package_quantity: Option<i64>,
    /// Root category node id.
    pub root_category: Option<i64>,
    /// Adult product.
    pub is_adult: bool,
    /// Hazardous material records present.
    pub is_hazmat: bool,
    /// Current prices and signals.
    pub snapshot: PriceSnapshot,
    /// Amazon, New, sales rank and Buy Box histories (only those present).
    pub history: Vec<PriceSeries>,
}

impl Listing {
    /// Whether the product is listed in this market: Keepa knows it there as a product with
    /// prices (type 0) and a title. Otherwise it is stored for refresh scheduling only.
    pub fn is_listed(&self) -> bool {
        self.product_type == 0 && self.title.is_some()
    }

    /// The product page in this listing's market.
    pub fn product_url(&self) -> String {
        self.market.product_url(&self.asin)
    }
}
