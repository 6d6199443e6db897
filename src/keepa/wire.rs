//! Serde types for Keepa's JSON, as it is on the wire.
//!
//! Field names follow Keepa's Java client (`structs/Product.java`, `structs/Stats.java`).
//! Everything optional is `Option` and unknown fields are ignored, because Keepa adds fields
//! and omits or nulls others without notice. These types are the simulator's output format
//! too, so both sides of the loopback tests agree by construction.
//!
//! A `/product` response is read in two passes: its [`Envelope`] on its own, and its
//! `products` kept as raw JSON, one string each (`decode::product_list`), so that one
//! malformed product becomes one decode error instead of failing the whole batch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The token envelope every JSON response carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// Server time, Unix epoch milliseconds.
    pub timestamp: i64,
    /// Token balance after this request; may be negative.
    pub tokens_left: i64,
    /// Milliseconds until the next refill.
    pub refill_in: i64,
    /// Tokens granted per minute.
    pub refill_rate: i64,
    /// Refill reduction per minute from trackings.
    #[serde(default)]
    pub token_flow_reduction: f64,
    /// What this request cost.
    #[serde(default)]
    pub tokens_consumed: i64,
    /// Server processing time.
    #[serde(default)]
    pub processing_time_in_ms: i64,
    /// An error object, on failures and sometimes on partial successes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

/// Keepa's `error` object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Machine-readable type, e.g. `invalidParameter`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Human-readable message.
    #[serde(default)]
    pub message: Option<String>,
    /// Details, sometimes JSON text.
    #[serde(default)]
    pub details: Option<serde_json::Value>,
}

/// `/bestsellers` payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BestSellersList {
    /// Keepa domain id.
    pub domain_id: i64,
    /// When the list was last updated, Keepa minutes.
    #[serde(default)]
    pub last_update: i64,
    /// Category node id (0 for product-group lists).
    #[serde(default)]
    pub category_id: i64,
    /// ASINs, best seller first. An entry that is not a string (a `null`) is left out
    /// rather than costing the whole list, which the request has already paid for.
    #[serde(default, deserialize_with = "strings_only")]
    pub asin_list: Vec<String>,
}

fn strings_only<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let items: Vec<serde_json::Value> = Deserialize::deserialize(d)?;
    Ok(items
        .into_iter()
        .filter_map(|v| match v {
            serde_json::Value::String(s) => Some(s),
            _ => None,
        })
        .collect())
}

/// One category of `/category`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    /// Node id (64-bit: ids such as 9091159011 overflow i32).
    pub cat_id: i64,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Context-free name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_free_name: Option<String>,
    /// Child node ids.
    #[serde(default)]
    pub children: Vec<i64>,
    /// Parent node id, 0 for a root.
    #[serde(default)]
    pub parent: i64,
    /// Products in the category.
    #[serde(default)]
    pub product_count: i64,
}

/// One image of a product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Large image file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l: Option<String>,
    /// Medium image file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m: Option<String>,
}

/// FBA fees Keepa collected for a listing (minor units).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FbaFees {
    /// Pick-and-pack fee.
    #[serde(default)]
    pub pick_and_pack_fee: Option<i64>,
    /// VAT on the pick-and-pack fee.
    #[serde(default)]
    pub pick_and_pack_fee_tax: Option<i64>,
    /// Storage fee.
    #[serde(default)]
    pub storage_fee: Option<i64>,
    /// VAT on the storage fee.
    #[serde(default)]
    pub storage_fee_tax: Option<i64>,
}

/// Per-seller Buy Box statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuyBoxStat {
    /// Share of the interval this seller held the Buy Box, percent (a float).
    #[serde(default)]
    pub percentage_won: f64,
    /// Average price while winning.
    #[serde(default)]
    pub avg_price: i64,
    /// Average number of New offers.
    #[serde(default)]
    pub avg_new_offer_count: i64,
    /// Whether the seller ships with FBA.
    #[serde(default, rename = "isFBA")]
    pub is_fba: bool,
    /// Last seen, Keepa minutes.
    #[serde(default)]
    pub last_seen: i64,
}

/// The `stats` object (`structs/Stats.java`); arrays are indexed like `csv`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Current value per csv type (−1 = none).
    #[serde(default)]
    pub current: Option<Vec<i64>>,
    /// Average over the requested interval.
    #[serde(default)]
    pub avg: Option<Vec<i64>>,
    /// 30-day average.
    #[serde(default)]
    pub avg30: Option<Vec<i64>>,
    /// 90-day average.
    #[serde(default)]
    pub avg90: Option<Vec<i64>>,
    /// 180-day average.
    #[serde(default)]
    pub avg180: Option<Vec<i64>>,
    /// Minimum in the interval, `[keepaTime, value]` or null.
    #[serde(default)]
    pub min_in_interval: Option<Vec<Option<Vec<i64>>>>,
    /// Maximum in the interval, `[keepaTime, value]` or null.
    #[serde(default)]
    pub max_in_interval: Option<Vec<Option<Vec<i64>>>>,
    /// Out-of-stock share over 30 days, percent.
    #[serde(default)]
    pub out_of_stock_percentage30: Option<Vec<i64>>,
    /// Out-of-stock share over 90 days, percent.
    #[serde(default)]
    pub out_of_stock_percentage90: Option<Vec<i64>>,
    /// Sales-rank drops in 30 days (−1 = unknown).
    #[serde(default)]
    pub sales_rank_drops30: Option<i64>,
    /// Sales-rank drops in 90 days.
    #[serde(default)]
    pub sales_rank_drops90: Option<i64>,
    /// Current Buy Box price (with `buybox`).
    #[serde(default)]
    pub buy_box_price: Option<i64>,
    /// Current Buy Box shipping (−2 = none).
    #[serde(default)]
    pub buy_box_shipping: Option<i64>,
    /// Current Buy Box seller.
    #[serde(default)]
    pub buy_box_seller_id: Option<String>,
    /// Whether Amazon holds the Buy Box.
    #[serde(default)]
    pub buy_box_is_amazon: Option<bool>,
    /// Whether the Buy Box offer is FBA.
    #[serde(default, rename = "buyBoxIsFBA")]
    pub buy_box_is_fba: Option<bool>,
    /// Buy Box share per seller.
    #[serde(default)]
    pub buy_box_stats: Option<BTreeMap<String, BuyBoxStat>>,
    /// Total offers (only with `offers`, else −2).
    #[serde(default)]
    pub total_offer_count: Option<i64>,
    /// 365-day average (Keepa shortens the window to the history it has).
    #[serde(default)]
    pub avg365: Option<Vec<i64>>,
    /// Each value at the start of the interval.
    #[serde(default)]
    pub at_interval_start: Option<Vec<i64>>,
    /// All-time minimum, `[keepaTime, value]` or null.
    #[serde(default)]
    pub min: Option<Vec<Option<Vec<i64>>>>,
    /// All-time maximum, `[keepaTime, value]` or null.
    #[serde(default)]
    pub max: Option<Vec<Option<Vec<i64>>>>,
    /// Whether the current value is the all-time lowest.
    #[serde(default)]
    pub is_lowest: Option<Vec<bool>>,
    /// Whether the current value is the lowest of 90 days.
    #[serde(default)]
    pub is_lowest90: Option<Vec<bool>>,
    /// Out-of-stock share over the interval, percent (−1 for non-price types).
    #[serde(default)]
    pub out_of_stock_percentage_in_interval: Option<Vec<i64>>,
    /// Times Amazon went out of stock in 30 days.
    #[serde(default)]
    pub out_of_stock_count_amazon30: Option<i64>,
    /// Times Amazon went out of stock in 90 days.
    #[serde(default)]
    pub out_of_stock_count_amazon90: Option<i64>,
    /// Sales-rank drops in 180 days.
    #[serde(default)]
    pub sales_rank_drops180: Option<i64>,
    /// Sales-rank drops in 365 days.
    #[serde(default)]
    pub sales_rank_drops365: Option<i64>,
    /// Change of `monthlySold` over 90 days, percent.
    #[serde(default, rename = "deltaPercent90_monthlySold")]
    pub delta_percent90_monthly_sold: Option<i64>,
    /// When the Buy Box was last updated, Keepa minutes (with `buybox`).
    #[serde(default)]
    pub last_buy_box_update: Option<i64>,
    /// Whether the Buy Box offer is unqualified (with `buybox`).
    #[serde(default)]
    pub buy_box_is_unqualified: Option<bool>,
    /// Whether the Buy Box offer is a preorder (with `buybox`).
    #[serde(default)]
    pub buy_box_is_preorder: Option<bool>,
    /// Whether the Buy Box offer is back-ordered (with `buybox`).
    #[serde(default)]
    pub buy_box_is_backorder: Option<bool>,
    /// Amazon's availability message for the Buy Box offer (with `buybox`).
    #[serde(default)]
    pub buy_box_availability_message: Option<String>,
    /// FBA offers (only with `offers`, else −2).
    #[serde(default, rename = "offerCountFBA")]
    pub offer_count_fba: Option<i64>,
    /// FBM offers (only with `offers`, else −2).
    #[serde(default, rename = "offerCountFBM")]
    pub offer_count_fbm: Option<i64>,
    /// Offers retrieved (only with `offers`, else −2).
    #[serde(default)]
    pub retrieved_offer_count: Option<i64>,
    /// Amazon's stock (only with `offers` and `stock`).
    #[serde(default)]
    pub stock_amazon: Option<i64>,
    /// The Buy Box seller's stock (only with `offers` and `stock`).
    #[serde(default)]
    pub stock_buy_box: Option<i64>,
    /// When offers were last fetched, Keepa minutes (−1 = never: no `offers`).
    #[serde(default)]
    pub last_offers_update: Option<i64>,
}

/// What decoding reads of `stats`: the fields a listing is built from. The other arrays
/// (`avg`, `avg30`, `avg180`, `minInInterval`, …) are well over half of a product line
/// Keepa sends with `stats`; reading them into [`Stats`] only to drop them made parsing
/// such a line ~40 % slower (11–12 µs against 8 µs for a 2.5 KB line), so
/// [`crate::keepa::decode_product`] parses a product with this instead, and serde skips
/// the rest without allocating (still checking that it is JSON).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsRead {
    /// Current value per csv type (−1 = none).
    #[serde(default)]
    pub current: Option<Vec<i64>>,
    /// 90-day average.
    #[serde(default)]
    pub avg90: Option<Vec<i64>>,
    /// Out-of-stock share over 90 days, percent.
    #[serde(default)]
    pub out_of_stock_percentage90: Option<Vec<i64>>,
    /// Sales-rank drops in 30 days (−1 = unknown).
    #[serde(default)]
    pub sales_rank_drops30: Option<i64>,
    /// The seller holding the Buy Box.
    #[serde(default)]
    pub buy_box_seller_id: Option<String>,
    /// Whether Amazon holds the Buy Box.
    #[serde(default)]
    pub buy_box_is_amazon: Option<bool>,
    /// Buy Box share per seller.
    #[serde(default)]
    pub buy_box_stats: Option<BTreeMap<String, BuyBoxStat>>,
}

/// A product as Keepa sends it, the fields arbdesk reads; `S` is the `stats` object in full
/// ([`Stats`], what the simulator writes) or as decoding reads it ([`StatsRead`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product<S = Stats> {
    /// ASIN.
    pub asin: String,
    /// Keepa domain id.
    pub domain_id: i64,
    /// 0 standard, 1 downloadable, 2 ebook, 3 unaccessible, 4 invalid, 5 variation parent.
    #[serde(default)]
    pub product_type: Option<i64>,
    /// Title (may contain HTML or control characters).
    #[serde(default)]
    pub title: Option<String>,
    /// Brand.
    #[serde(default)]
    pub brand: Option<String>,
    /// Product group.
    #[serde(default)]
    pub product_group: Option<String>,
    /// Parent ASIN of a variation.
    #[serde(default)]
    pub parent_asin: Option<String>,
    /// EANs, primary first.
    #[serde(default)]
    pub ean_list: Option<Vec<String>>,
    /// Images.
    #[serde(default)]
    pub images: Option<Vec<Image>>,
    /// Deprecated comma-separated image names.
    #[serde(default, rename = "imagesCSV")]
    pub images_csv: Option<String>,
    /// Root category node id.
    #[serde(default)]
    pub root_category: Option<i64>,
    /// Category node ids.
    #[serde(default)]
    pub categories: Option<Vec<i64>>,
    /// Last refresh, Keepa minutes.
    #[serde(default)]
    pub last_update: Option<i64>,
    /// Last price change, Keepa minutes.
    #[serde(default)]
    pub last_price_change: Option<i64>,
    /// −1 no Amazon offer, 0 in stock, 1 preorder, 2 unknown, 3 backorder, 4 delayed.
    #[serde(default)]
    pub availability_amazon: Option<i64>,
    /// Package weight, grams.
    #[serde(default)]
    pub package_weight: Option<i64>,
    /// Package length, mm.
    #[serde(default)]
    pub package_length: Option<i64>,
    /// Package width, mm.
    #[serde(default)]
    pub package_width: Option<i64>,
    /// Package height, mm.
    #[serde(default)]
    pub package_height: Option<i64>,
    /// Units per package.
    #[serde(default)]
    pub package_quantity: Option<i64>,
    /// Amazon's "bought in past month".
    #[serde(default)]
    pub monthly_sold: Option<i64>,
    /// Referral fee percentage.
    #[serde(default)]
    pub referral_fee_percentage: Option<f64>,
    /// FBA fees.
    #[serde(default)]
    pub fba_fees: Option<FbaFees>,
    /// Adult product flag.
    #[serde(default)]
    pub is_adult_product: Option<bool>,
    /// Heat-sensitive flag.
    #[serde(default)]
    pub is_heat_sensitive: Option<bool>,
    /// Hazardous-material records (null when none).
    #[serde(default)]
    pub hazardous_materials: Option<serde_json::Value>,
    /// History arrays by csv type; null entries when no data.
    #[serde(default)]
    pub csv: Option<Vec<Option<Vec<i64>>>>,
    /// Statistics.
    #[serde(default)]
    pub stats: Option<S>,
}
