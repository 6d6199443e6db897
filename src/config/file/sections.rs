//! The sections of the config file, as written: every one rejects unknown keys.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::cli::Role;
use crate::config::BuyBox;
use crate::domain::Market;
use crate::queue::QueueConfig;
use crate::store::StoreConfig;

/// A `[queue]` or `[store]` table with its `type` defaulted to the embedded kind, as the
/// template promises every key is optional.
fn typed_section<'de, D, T>(d: D, default_type: &str) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let mut table = toml::Table::deserialize(d)?;
    table
        .entry("type")
        .or_insert_with(|| toml::Value::String(default_type.to_string()));
    toml::Value::Table(table)
        .try_into()
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn queue_section<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<QueueConfig>, D::Error> {
    typed_section(d, "memory")
}

fn store_section<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<StoreConfig>, D::Error> {
    typed_section(d, "sqlite")
}

/// `keepa.buybox`: `true`, `false` or `"routes"`.
fn buybox<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<BuyBox>, D::Error> {
    let v = toml::Value::deserialize(d)?;
    BuyBox::from_toml(&v)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// A URL, or an error that says what one looks like (the `url` crate's own says only
/// "relative URL without a base").
fn http_url<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<url::Url>, D::Error> {
    let text = String::deserialize(d)?;
    url::Url::parse(text.trim()).map(Some).map_err(|e| {
        serde::de::Error::custom(format!(
            "'{text}' is not a URL ({e}): give an absolute http:// or https:// URL, such as \
             https://api.keepa.com"
        ))
    })
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// Markets tracked.
    pub markets: Option<Vec<Market>>,
    /// Roles of this process.
    pub roles: Option<Vec<Role>>,
    /// Log filter.
    pub log: Option<String>,
    /// Refuse what changes stored data from the console and the API.
    pub read_only: Option<bool>,
    /// `[keepa]`.
    #[serde(default)]
    pub keepa: KeepaSection,
    /// `[api]`.
    #[serde(default)]
    pub api: ApiSection,
    /// `[queue]`; without `type` it is `memory`.
    #[serde(default, deserialize_with = "queue_section")]
    pub queue: Option<QueueConfig>,
    /// `[store]`; without `type` it is `sqlite`.
    #[serde(default, deserialize_with = "store_section")]
    pub store: Option<StoreConfig>,
    /// `[pipeline]`.
    #[serde(default)]
    pub pipeline: PipelineSection,
    /// `[discovery]`.
    #[serde(default)]
    pub discovery: DiscoverySection,
    /// `[console]`.
    #[serde(default)]
    pub console: ConsoleSection,
    /// Economics sections, validated by the economics model.
    pub economics: Option<toml::Value>,
    /// `[fx]`.
    pub fx: Option<toml::Value>,
    /// `[[vat]]`.
    pub vat: Option<toml::Value>,
    /// `[[referral]]`.
    pub referral: Option<toml::Value>,
    /// `[[route]]`.
    pub route: Option<toml::Value>,
    /// `[route_defaults]`.
    pub route_defaults: Option<toml::Value>,
    /// `[[fba]]`.
    pub fba: Option<toml::Value>,
    /// `[[storage]]`.
    pub storage: Option<toml::Value>,
    /// `[product_groups]`.
    pub product_groups: Option<toml::Value>,
}

/// `[keepa]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepaSection {
    /// API key (prefer `KEEPA_API_KEY`).
    pub key: Option<String>,
    /// Base URL.
    #[serde(default, deserialize_with = "http_url")]
    pub url: Option<url::Url>,
    /// Simulator seed.
    pub demo_seed: Option<u64>,
    /// Which products Buy Box data is asked for: `true`, `false` or `"routes"`.
    #[serde(default, deserialize_with = "buybox")]
    pub buybox: Option<BuyBox>,
}

/// `[api]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// `HOST:PORT` or `off`.
    pub addr: Option<String>,
    /// Bearer token.
    pub token: Option<String>,
    /// CORS allow-list.
    pub cors_origins: Option<Vec<String>>,
    /// Host names served without a token besides IP addresses and localhost.
    pub allowed_hosts: Option<Vec<String>>,
    /// Allow non-loopback without a token.
    pub insecure_no_auth: Option<bool>,
    /// Request timeout, seconds.
    pub request_timeout_secs: Option<f64>,
    /// Body limit, bytes.
    pub body_limit_bytes: Option<usize>,
}

/// `[pipeline]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSection {
    /// Refresh interval, seconds (live data).
    pub refresh_interval_secs: Option<u64>,
    /// Refresh interval, seconds (demo data).
    pub demo_refresh_interval_secs: Option<u64>,
    /// ASINs per Keepa request.
    pub fetch_batch: Option<usize>,
    /// Raw updates per processing batch.
    pub process_batch: Option<usize>,
}

/// One best-seller list to follow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryCategory {
    /// The market.
    pub market: Market,
    /// Category node id or product group.
    pub category: String,
}

/// `[console]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSection {
    /// Theme: dark, light, mono, ansi16, a user theme, or auto.
    pub theme: Option<String>,
    /// Base keymap: default or vim.
    pub keymap: Option<String>,
    /// auto, osc52, native or off.
    pub clipboard: Option<String>,
    /// auto, on or off.
    pub hyperlinks: Option<String>,
    /// Toast new opportunities at or above this gross margin %.
    pub alert_margin_pct: Option<f64>,
    /// Clicks and the wheel (off: capturing the mouse takes the terminal's own selection).
    pub mouse: Option<bool>,
}

/// `[discovery]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverySection {
    /// Lists to follow (live data; demo follows the simulator's roots).
    pub categories: Option<Vec<DiscoveryCategory>>,
    /// Hours between runs.
    pub interval_hours: Option<f64>,
    /// ASINs taken from the top of each list.
    pub take: Option<usize>,
}
