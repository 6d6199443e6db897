//! Products as `/products` and `/products/{asin}` return them: prices in each market's own
//! currency with when they were observed, demand and competition signals, Amazon links and,
//! on request, the price history.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{
    Asin, Currency, Market, Money, PricePoint, PriceSeries, PriceSnapshot, Product, SeriesKind,
};

/// The three prices that matter in one market, in its currency; absent = no such offer.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Prices {
    /// Amazon's own offer.
    pub amazon: Option<Money>,
    /// Lowest New offer (including Amazon's).
    pub new: Option<Money>,
    /// New Buy Box price, landed (price plus shipping).
    pub buy_box: Option<Money>,
}

/// A market's current prices in a product list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MarketPrices {
    /// Amazon's own offer.
    pub amazon: Option<Money>,
    /// Lowest New offer.
    pub new: Option<Money>,
    /// New Buy Box price, landed.
    pub buy_box: Option<Money>,
    /// When Keepa last refreshed this listing.
    pub observed_at: DateTime<Utc>,
}

/// A product in a list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProductSummary {
    /// The ASIN.
    pub asin: Asin,
    /// Best title known.
    pub title: Option<String>,
    /// Brand.
    pub brand: Option<String>,
    /// Image URL on Amazon's media host.
    pub image_url: Option<String>,
    /// Current prices per market where it is listed.
    pub markets: BTreeMap<Market, MarketPrices>,
    /// Markets Keepa was asked about where it is not listed; a market in neither this nor
    /// `markets` has not been fetched yet. `null` when the store cannot tell (a product an
    /// Elasticsearch store saved before it kept this, until its next refresh).
    pub not_listed: Option<Vec<Market>>,
    /// Latest observation across its markets.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<&Product> for ProductSummary {
    fn from(p: &Product) -> Self {
        ProductSummary {
            asin: p.asin,
            title: p.title.clone(),
            brand: p.brand.clone(),
            image_url: p.image_url.clone(),
            markets: p
                .markets
                .iter()
                .map(|(m, s)| {
                    let prices = MarketPrices {
                        amazon: s.amazon,
                        new: s.new,
                        buy_box: s.buy_box,
                        observed_at: s.observed_at,
                    };
                    (*m, prices)
                })
                .collect(),
            not_listed: p.not_listed.clone(),
            updated_at: latest(p),
        }
    }
}

fn latest(p: &Product) -> Option<DateTime<Utc>> {
    p.markets.values().map(|s| s.observed_at).max()
}

/// Demand and competition signals of one listing.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ListingStats {
    /// Sales rank in the root category.
    pub sales_rank: Option<i64>,
    /// Sales-rank drops in the last 30 days (each is at least one sale).
    pub rank_drops30: Option<i64>,
    /// Amazon's "bought in past month".
    pub monthly_sold: Option<i64>,
    /// Number of New offers.
    pub offers_new: Option<i64>,
    /// New FBA offers, Amazon's own included.
    pub offers_new_fba: Option<i64>,
    /// New FBM offers.
    pub offers_new_fbm: Option<i64>,
    /// Whether Amazon holds the Buy Box now.
    pub buy_box_is_amazon: Option<bool>,
    /// Amazon's share of the Buy Box, in percent.
    pub amazon_buy_box_share_pct: Option<f64>,
    /// Out-of-stock share of the last 90 days for the Buy Box, in percent.
    pub out_of_stock_pct90: Option<i64>,
    /// Keepa's referral fee percentage for this listing.
    pub referral_fee_pct: Option<f64>,
    /// FBA pick-and-pack fee, net of VAT.
    pub fba_fee: Option<Money>,
}

/// One market's full view of a product.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MarketDetail {
    /// Title as listed in this market.
    pub title: Option<String>,
    /// Amazon product page.
    pub url: String,
    /// Currency of every price in this market.
    pub currency: Currency,
    /// Whether any New offer exists now.
    pub in_stock: bool,
    /// Current prices.
    pub prices: Prices,
    /// 90-day averages.
    pub avg90: Prices,
    /// Demand, competition and fee facts.
    pub stats: ListingStats,
    /// Keepa product group, e.g. `Kitchen`.
    pub product_group: Option<String>,
    /// EAN codes as this market lists them: routes between markets that share none are
    /// flagged `IDENTITY`.
    pub eans: Vec<String>,
    /// Units per package as this market lists them (a route between markets that differ is
    /// flagged `IDENTITY`).
    pub package_quantity: Option<i64>,
    /// Package size and weight as this market lists them: the FBA size tier, storage and
    /// inbound weight come from them.
    pub package: PackageOut,
    /// Adult product.
    pub is_adult: bool,
    /// Hazardous material records present.
    pub is_hazmat: bool,
    /// When Keepa last refreshed this listing.
    pub observed_at: DateTime<Utc>,
}

impl MarketDetail {
    fn new(asin: &Asin, s: &PriceSnapshot) -> Self {
        MarketDetail {
            title: s.title.clone(),
            url: s.market.product_url(asin),
            currency: s.market.currency(),
            in_stock: s.in_stock(),
            prices: Prices {
                amazon: s.amazon,
                new: s.new,
                buy_box: s.buy_box,
            },
            avg90: Prices {
                amazon: s.amazon_avg90,
                new: s.new_avg90,
                buy_box: s.buy_box_avg90,
            },
            stats: ListingStats {
                sales_rank: s.sales_rank,
                rank_drops30: s.rank_drops30,
                monthly_sold: s.monthly_sold,
                offers_new: s.offers_new,
                offers_new_fba: s.offers_new_fba,
                offers_new_fbm: s.offers_new_fbm,
                buy_box_is_amazon: s.buy_box_is_amazon,
                amazon_buy_box_share_pct: s.amazon_buy_box_share_pct,
                out_of_stock_pct90: s.out_of_stock_pct90,
                referral_fee_pct: s.referral_fee_pct,
                fba_fee: s.fba_fee,
            },
            product_group: s.product_group.clone(),
            eans: s.eans.clone(),
            package_quantity: s.package_quantity,
            package: PackageOut {
                length_mm: s.package.length_mm,
                width_mm: s.package.width_mm,
                height_mm: s.package.height_mm,
                weight_g: s.package.weight_g,
            },
            is_adult: s.is_adult,
            is_hazmat: s.is_hazmat,
            observed_at: s.observed_at,
        }
    }
}

/// A package's size and weight; absent = Keepa gave none.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PackageOut {
    /// Length, millimetres.
    pub length_mm: Option<i64>,
    /// Width, millimetres.
    pub width_mm: Option<i64>,
    /// Height, millimetres.
    pub height_mm: Option<i64>,
    /// Weight, grams.
    pub weight_g: Option<i64>,
}

/// One history series: a step function, each value holding until the next point.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SeriesOut {
    /// The market.
    pub market: Market,
    /// `amazon`, `new`, `buy_box` (money) or `sales_rank`.
    pub kind: SeriesKind,
    /// `EUR`/`GBP` for prices (values are minor units), `rank` for sales rank.
    pub unit: String,
    /// Points in ascending time; a null `value` means no offer then.
    pub points: Vec<PricePoint>,
}

impl From<&PriceSeries> for SeriesOut {
    fn from(s: &PriceSeries) -> Self {
        let unit = match s.kind {
            SeriesKind::SalesRank => "rank".to_string(),
            _ => s.market.currency().code().to_string(),
        };
        SeriesOut {
            market: s.market,
            kind: s.kind,
            unit,
            points: s.points.clone(),
        }
    }
}

/// One product with everything known about it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProductDetail {
    /// The ASIN.
    pub asin: Asin,
    /// Best title known.
    pub title: Option<String>,
    /// Brand.
    pub brand: Option<String>,
    /// Image URL on Amazon's media host.
    pub image_url: Option<String>,
    /// EAN codes of all its markets, primary first (each market's own are under
    /// `markets`).
    pub eans: Vec<String>,
    /// Units per package, as the first market in display order that gives one lists it
    /// (each market's own is under `markets`: they can differ).
    pub package_quantity: Option<i64>,
    /// Latest observation across its markets.
    pub updated_at: Option<DateTime<Utc>>,
    /// Amazon product page per market where it is listed.
    pub urls: BTreeMap<Market, String>,
    /// Full view per market where it is listed.
    pub markets: BTreeMap<Market, MarketDetail>,
    /// Markets Keepa was asked about where it is not listed; a market in neither this nor
    /// `markets` has not been fetched yet. `null` when the store cannot tell (a product an
    /// Elasticsearch store saved before it kept this, until its next refresh).
    pub not_listed: Option<Vec<Market>>,
    /// Price and rank history per market; present only with `history=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<SeriesOut>>,
}

impl ProductDetail {
    /// The wire form of `p`, with `history` if it was asked for.
    pub fn new(p: &Product, history: Option<&[PriceSeries]>) -> Self {
        ProductDetail {
            asin: p.asin,
            title: p.title.clone(),
            brand: p.brand.clone(),
            image_url: p.image_url.clone(),
            eans: p.eans.clone(),
            package_quantity: p.package_quantity,
            updated_at: latest(p),
            urls: p
                .markets
                .keys()
                .map(|m| (*m, m.product_url(&p.asin)))
                .collect(),
            markets: p
                .markets
                .iter()
                .map(|(m, s)| (*m, MarketDetail::new(&p.asin, s)))
                .collect(),
            not_listed: p.not_listed.clone(),
            history: history.map(|h| h.iter().map(SeriesOut::from).collect()),
        }
    }
}
