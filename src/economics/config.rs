//! The economics configuration as written in TOML: `[economics]`, `[fx]`, `[[vat]]`,
//! `[[referral]]`, `[[fba]]`, `[[storage]]`, `[route_defaults]`, `[[route]]` and
//! `[product_groups]` (docs/economics.md §5).
//!
//! These are raw, unvalidated values: dates stay strings so that `Economics::new` can name a
//! bad one in its own words, and every amount is a `Decimal` read exactly from the TOML
//! literal. The shipped defaults are `defaults.toml`, embedded in the binary. A user's file is
//! an overlay: tables (`[economics]`, its `gates`, `[fx]`, `[route_defaults]`) merge key by
//! key over the defaults, while lists of dated tables and `[product_groups]` replace the
//! shipped ones whole, because half a fee schedule is never what anyone means.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::EconomicsError;
use crate::domain::Market;

mod by_market;

/// The shipped defaults, §5 as data.
pub const DEFAULTS_TOML: &str = include_str!("defaults.toml");

/// Every economics section of a config file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EconomicsConfig {
    /// `[economics]`: scheme, spreads, reserves and gates.
    pub economics: EconomicsSection,
    /// `[fx]`: where the GBP rate comes from.
    pub fx: FxSection,
    /// `[[vat]]`: dated VAT tables.
    pub vat: Vec<VatTable>,
    /// `[[referral]]`: dated referral fee schedules with DSF rates.
    pub referral: Vec<ReferralTable>,
    /// `[[fba]]`: dated FBA fee fallback tables by weight.
    pub fba: Vec<FbaTable>,
    /// `[[storage]]`: dated storage rates per m³ and month.
    pub storage: Vec<StorageTable>,
    /// `[route_defaults]`: logistics of routes without a `[[route]]` entry.
    pub route_defaults: RouteCosts,
    /// `[[route]]`: per-route logistics and customs.
    #[serde(default)]
    pub route: Vec<RouteConfig>,
    /// `[product_groups]`: Keepa `productGroup` → referral category and VAT class.
    #[serde(default)]
    pub product_groups: BTreeMap<String, GroupMapping>,
}

/// `[economics]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EconomicsSection {
    /// The currency results are in; only `EUR` is supported.
    pub base_currency: String,
    /// VAT-registered (`standard`) or not.
    pub vat_scheme: VatScheme,
    /// φ: VAT Amazon adds to its fees.
    pub fee_vat_rate: Decimal,
    /// κ: spread on non-EUR purchases.
    pub purchase_fx_spread: Decimal,
    /// a: conversion fee on non-EUR payouts.
    pub payout_fx_fee: Decimal,
    /// Which Buy Box figure is the sell price.
    pub sell_price: SellPriceRule,
    /// Q_buy.
    pub max_units_per_month: u32,
    /// Whether purchases come with a VAT invoice.
    pub purchase_vat_invoice: bool,
    /// Months of storage per unit.
    pub months_to_sell: Decimal,
    /// Share of units returned.
    pub return_rate: Decimal,
    /// Loss per returned unit, in the sell market's currency.
    pub loss_per_return: Decimal,
    /// Allowed distance, in percentage points, between Keepa's referral % and the table's.
    pub fee_mismatch_points: Decimal,
    /// Markets where the operator holds a VAT number; `None` means not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vat_registered_in: Option<Vec<Market>>,
    /// The gates of §4.1.
    pub gates: GatesConfig,
}

/// The VAT scheme of §5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VatScheme {
    /// VAT-registered: output VAT deducted, input VAT recoverable with an invoice.
    Standard,
    /// Not registered: input VAT is cost, output VAT is still deducted.
    NotRegistered,
}

/// Which Buy Box figure is the sell price `P_T`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SellPriceRule {
    /// The lower of now and the 90-day average (the default).
    MinCurrentAvg90,
    /// Now only.
    Current,
    /// The 90-day average only.
    Avg90,
}

/// `[economics.gates]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatesConfig {
    /// π ≥ this, EUR.
    pub min_profit: Decimal,
    /// ROI ≥ this (0.20 = 20 %); also the ROI target of the target sell price.
    pub min_roi: Decimal,
    /// |P_now − avg90| / avg90 ≤ this.
    pub max_dev_avg90: Decimal,
    /// Demand floor: monthly sold ≥ this …
    pub min_monthly_sold: i64,
    /// … or sales-rank drops in 30 days ≥ this.
    pub min_drops30: i64,
    /// Keepa data older than this on either side is `STALE`.
    pub max_keepa_age_hours: i64,
    /// Listing flags that block a route: `hazmat`, `adult`.
    pub block: Vec<String>,
}

/// `[fx]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FxSection {
    /// Where the daily rate comes from.
    pub source: FxSourceSetting,
    /// The ECB daily reference-rate file.
    pub url: String,
    /// `HH:MM Zone`, e.g. `16:30 Europe/Berlin`.
    pub fetch_after: String,
    /// Older rates make rows `FX_STALE`.
    pub max_age_days: i64,
    /// The offline rate, in the ECB's convention.
    pub shipped: ShippedRate,
    /// A manual rate per currency, used as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#override: Option<BTreeMap<String, OverrideRate>>,
}

/// `fx.source`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FxSourceSetting {
    /// Fetch the ECB daily file once per working day.
    Ecb,
    /// Never fetch: use the shipped (or override) rate.
    Shipped,
}

/// `fx.shipped`: "1 EUR = x GBP" on a date.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippedRate {
    /// x.
    pub gbp_per_eur: Decimal,
    /// `YYYY-MM-DD`.
    pub date: String,
}

/// `fx.override.GBP`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a rate per currency, written [fx.override.GBP] with eur_per_unit = 1.1628 and date = \"YYYY-MM-DD\""
)]
pub struct OverrideRate {
    /// EUR per unit of the currency, used as written.
    pub eur_per_unit: Decimal,
    /// `YYYY-MM-DD`.
    pub date: String,
}

/// `[[vat]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VatTable {
    /// `YYYY-MM-DD`.
    pub effective_from: String,
    /// Standard rate per market.
    #[serde(deserialize_with = "by_market::deserialize")]
    pub rates: BTreeMap<Market, Decimal>,
    /// Reduced classes (e.g. `books`) per market.
    #[serde(default, deserialize_with = "by_market::classes")]
    pub reduced: BTreeMap<String, BTreeMap<Market, Decimal>>,
}

/// `[[referral]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralTable {
    /// `YYYY-MM-DD`.
    pub effective_from: String,
    /// Where the numbers come from.
    #[serde(default)]
    pub source: String,
    /// Minimum referral fee per currency (`EUR`, `GBP`).
    pub min_fee: BTreeMap<String, Decimal>,
    /// Categories; `default` must exist.
    pub categories: Vec<CategoryConfig>,
    /// Digital Services Fee surcharge per market.
    #[serde(default, deserialize_with = "by_market::deserialize")]
    pub dsf: BTreeMap<Market, DsfRates>,
}

/// One referral category.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryConfig {
    /// Category id, e.g. `consumer_electronics`.
    pub id: String,
    /// How tiers apply.
    pub mode: TierMode,
    /// Tiers in ascending `upto`; the last has none.
    pub tiers: Vec<TierConfig>,
}

/// How a category's tiers apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierMode {
    /// One rate.
    Flat,
    /// The total picks one rate.
    Threshold,
    /// Each rate applies to its slice.
    Marginal,
}

/// One tier: `rate` up to `upto` (inclusive, in the sell market's currency).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    /// Upper bound, inclusive; `None` on the last tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upto: Option<Decimal>,
    /// The rate.
    pub rate: Decimal,
}

/// DSF rates of one market.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DsfRates {
    /// On referral fees.
    #[serde(default)]
    pub referral: Decimal,
    /// On FBA fees (and storage).
    #[serde(default)]
    pub fba: Decimal,
}

/// `[[fba]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FbaTable {
    /// `YYYY-MM-DD`.
    pub effective_from: String,
    /// Where the numbers come from.
    #[serde(default)]
    pub source: String,
    /// Weight tiers per market, ascending.
    #[serde(deserialize_with = "by_market::deserialize")]
    pub tiers: BTreeMap<Market, Vec<FbaTier>>,
}

/// One FBA weight tier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FbaTier {
    /// Unit weight up to (inclusive), grams; `None` = no upper bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upto_g: Option<i64>,
    /// Fee, net of VAT, in the market's currency.
    pub fee: Decimal,
}

/// `[[storage]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageTable {
    /// `YYYY-MM-DD`.
    pub effective_from: String,
    /// Where the numbers come from.
    #[serde(default)]
    pub source: String,
    /// Rate per m³ and month, per market, in its currency.
    #[serde(deserialize_with = "by_market::deserialize")]
    pub per_m3_month: BTreeMap<Market, Decimal>,
    /// Rate in the peak months, per market.
    #[serde(default, deserialize_with = "by_market::deserialize")]
    pub peak_per_m3_month: BTreeMap<Market, Decimal>,
    /// Months (1–12) charged at the peak rate.
    #[serde(default)]
    pub peak_months: Vec<u32>,
}

/// Per-unit logistics in EUR (`[route_defaults]`, and the cost part of a `[[route]]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteCosts {
    /// Delivery to the operator.
    #[serde(default)]
    pub ship_to_you: Decimal,
    /// Prep and labels.
    #[serde(default)]
    pub prep: Decimal,
    /// Inbound to the FBA warehouse.
    #[serde(default)]
    pub inbound: Decimal,
    /// Inbound per kg of unit weight.
    #[serde(default)]
    pub inbound_per_kg: Decimal,
}

/// `[[route]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Buy market.
    pub from: Market,
    /// Sell market.
    pub to: Market,
    /// Delivery to the operator; `[route_defaults]`' when not given (as for the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_to_you: Option<Decimal>,
    /// Prep and labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prep: Option<Decimal>,
    /// Inbound to the FBA warehouse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound: Option<Decimal>,
    /// Inbound per kg of unit weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_per_kg: Option<Decimal>,
    /// Customs, UK↔EU only; without it such a route is disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customs: Option<CustomsConfig>,
}

/// Customs of a UK↔EU route.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomsConfig {
    /// Duty on the customs value.
    pub duty_rate: Decimal,
    /// Whether import VAT is reclaimed (registered importer, postponed accounting).
    pub import_vat_recoverable: bool,
    /// Broker fee per shipment, EUR.
    pub broker_per_shipment: Decimal,
    /// Units sharing one broker fee.
    pub units_per_shipment: u32,
}

/// One `[product_groups]` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupMapping {
    /// Referral category id.
    pub referral: String,
    /// Reduced VAT class, if one applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vat: Option<String>,
}

/// The sections of a user's config.toml that override the shipped economics defaults.
///
/// Embed it in the application's config with `#[serde(flatten)]`; every section is optional.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct EconomicsOverlay {
    /// Merged key by key over the shipped `[economics]` (and `gates`).
    pub economics: Option<toml::Table>,
    /// Merged key by key over the shipped `[fx]`.
    pub fx: Option<toml::Table>,
    /// Replaces the shipped VAT tables.
    pub vat: Option<toml::value::Array>,
    /// Replaces the shipped referral tables.
    pub referral: Option<toml::value::Array>,
    /// Replaces the shipped FBA tables.
    pub fba: Option<toml::value::Array>,
    /// Replaces the shipped storage tables.
    pub storage: Option<toml::value::Array>,
    /// Merged key by key over the shipped `[route_defaults]`.
    pub route_defaults: Option<toml::Table>,
    /// Replaces the shipped routes.
    pub route: Option<toml::value::Array>,
    /// Replaces the shipped product group mapping.
    pub product_groups: Option<toml::Table>,
}

impl EconomicsConfig {
    /// The shipped defaults overlaid with a user's sections; the result is not validated yet.
    pub fn with_overlay(overlay: EconomicsOverlay) -> Result<Self, EconomicsError> {
        let mut base: toml::Table = toml::from_str(DEFAULTS_TOML)
            .map_err(|e| EconomicsError::Toml(format!("shipped defaults: {e}")))?;
        let merge = |base: &mut toml::Table, key: &str, user: Option<toml::Table>| {
            if let Some(user) = user {
                match base.get_mut(key) {
                    Some(toml::Value::Table(b)) => merge_tables(b, user),
                    _ => {
                        base.insert(key.to_string(), toml::Value::Table(user));
                    }
                }
            }
        };
        merge(&mut base, "economics", overlay.economics);
        merge(&mut base, "fx", overlay.fx);
        merge(&mut base, "route_defaults", overlay.route_defaults);
        // An empty list of a table every net figure needs would flag every row NO_TABLE:
        // more likely a list emptied by mistake than a wish.
        for (key, list, what) in [
            ("vat", &overlay.vat, "VAT"),
            ("referral", &overlay.referral, "referral fee"),
            ("storage", &overlay.storage, "storage"),
        ] {
            if list.as_ref().is_some_and(Vec::is_empty) {
                return Err(EconomicsError::Invalid {
                    field: key.to_string(),
                    value: "[]".to_string(),
                    problem: format!(
                        "leaves no {what} table, and without one no row has net figures \
                         (every one would be NO_TABLE): leave `{key}` out to use the shipped \
                         tables, or give at least one [[{key}]] with its effective_from"
                    ),
                });
            }
        }
        for (key, list) in [
            ("vat", overlay.vat),
            ("referral", overlay.referral),
            ("fba", overlay.fba),
            ("storage", overlay.storage),
            ("route", overlay.route),
        ] {
            if let Some(list) = list {
                base.insert(key.to_string(), toml::Value::Array(list));
            }
        }
        if let Some(groups) = overlay.product_groups {
            base.insert("product_groups".to_string(), toml::Value::Table(groups));
        }
        base.try_into()
            .map_err(|e: toml::de::Error| EconomicsError::Toml(e.to_string()))
    }

    /// The shipped defaults overlaid with the economics sections of a whole config file
    /// (other sections are ignored).
    pub fn from_toml_str(text: &str) -> Result<Self, EconomicsError> {
        let overlay: EconomicsOverlay =
            toml::from_str(text).map_err(|e| EconomicsError::Toml(e.to_string()))?;
        Self::with_overlay(overlay)
    }
}

impl Default for EconomicsConfig {
    /// The shipped defaults (`defaults.toml`).
    fn default() -> Self {
        // The embedded file is covered by a test; should it ever fail to parse, the typed
        // error surfaces through `with_overlay`, which callers use for user files.
        Self::with_overlay(EconomicsOverlay::default())
            .unwrap_or_else(|e| unreachable!("the embedded defaults.toml is tested to parse: {e}"))
    }
}

/// Merges `user` into `base`: nested tables key by key, anything else replaced.
fn merge_tables(base: &mut toml::Table, user: toml::Table) {
    for (k, v) in user {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(u)) => merge_tables(b, u),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}
