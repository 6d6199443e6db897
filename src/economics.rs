//! The economics model and the detector: what one ASIN earns on each directed route.
//!
//! docs/economics.md is the specification. The module is split the way the money flows:
//! `config` is the TOML as written (shipped defaults in `defaults.toml`, user overlays);
//! `validate` turns it into an [`Economics`] once at startup, so nothing downstream
//! re-checks a rate; `tables` holds the validated dated tables and the referral, FBA and
//! storage lookups; `fx` owns the GBP rate (ECB parsing and fetching, staleness); `model` is
//! §4 (sell side `N`, buy side `L`, route costs `Add`, closed forms), written once over the
//! number types of `num`: exact decimals, and the checked floats detection tries first;
//! `solve` finds cent prices by search where no closed form applies; `gates` is §4.1 (gates,
//! expected monthly profit, the ranking order); `detector` assembles `Opportunity` rows, and
//! their breakdown lines (`breakdown`) when a row is explained. All of that is pure and
//! synchronous except [`fx::fetch_ecb`]. `live` is the stateful part: [`LiveDetector`], the
//! pipeline's `Detect`, holds the FX rate in force and fetches new ones.

mod breakdown;
pub mod config;
pub mod detector;
pub mod fx;
pub mod gates;
pub mod live;
pub mod model;
pub mod num;
pub mod solve;
pub mod tables;
mod validate;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

pub use breakdown::money;
pub use config::{EconomicsConfig, EconomicsOverlay, SellPriceRule, VatScheme};
pub use detector::Detector;
pub use fx::{FxError, FxRate, FxSource, GbpQuote, fetch_ecb, parse_ecb_daily};
pub use gates::{Demand, Flag, FlagSet, cmp_rank, expected_monthly_profit, flag, monthly_units};
pub use live::LiveDetector;
pub use num::Const;
pub use tables::Tables;

/// Why an economics configuration was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EconomicsError {
    /// A value is out of range, unparsable or inconsistent.
    #[error("{field} '{value}' {problem}")]
    Invalid {
        /// Where, e.g. `[[vat]] effective_from` or `[economics] return_rate`.
        field: String,
        /// The offending value as written.
        value: String,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// The TOML itself could not be read into the economics sections.
    #[error("invalid economics config: {0}")]
    Toml(String),
}

/// The validated economics: scalar parameters, dated tables, routes and the FX fallback.
///
/// Built once by [`Economics::new`]; share it as `Arc<Economics>`.
#[derive(Debug, Clone)]
pub struct Economics {
    pub(crate) config: EconomicsConfig,
    pub(crate) params: Params,
    pub(crate) tables: Tables,
    pub(crate) shipped_fx: FxRate,
    pub(crate) override_fx: Option<FxRate>,
}

/// Scalar parameters of `[economics]`, validated.
#[derive(Debug, Clone)]
pub struct Params {
    /// φ.
    pub fee_vat: Const,
    /// κ on non-EUR purchases.
    pub purchase_spread: Const,
    /// a on non-EUR payouts.
    pub payout_fee: Const,
    /// Sell price rule.
    pub sell_price: SellPriceRule,
    /// Q_buy.
    pub max_units: Const,
    /// rec.
    pub recoverable: bool,
    /// VAT scheme.
    pub scheme: VatScheme,
    /// Storage months.
    pub months_to_sell: Const,
    /// Ret = return_rate × loss_per_return, in the sell currency.
    pub returns_reserve: Const,
    /// Return rate (for labels).
    pub return_rate: Decimal,
    /// Loss per return (for labels).
    pub loss_per_return: Decimal,
    /// FEE_MISMATCH tolerance in percentage points.
    pub fee_mismatch_points: Const,
    /// Markets with a VAT number, when configured.
    pub vat_registered_in: Option<Vec<crate::domain::Market>>,
    /// π_min.
    pub min_profit: Const,
    /// ROI_min (and the target sell price's ROI).
    pub min_roi: Const,
    /// Spike tolerance.
    pub max_dev_avg90: Const,
    /// Demand floor on monthly sold.
    pub min_monthly_sold: i64,
    /// Demand floor on 30-day rank drops.
    pub min_drops30: i64,
    /// Keepa freshness, hours.
    pub max_keepa_age_hours: i64,
    /// Block hazmat listings.
    pub block_hazmat: bool,
    /// Block adult listings.
    pub block_adult: bool,
    /// FX freshness, days.
    pub fx_max_age_days: i64,
}

impl Params {
    /// `rec` for a purchase in `s`: the standard scheme with an invoice and, when the VAT
    /// numbers held are listed (`vat_registered_in`), VAT the operator can reclaim — on its
    /// own return in `s`, or as an EU purchase zero-rated intra-EU B2B against a VAT number
    /// held in another EU market (§5). UK VAT paid by a business registered only in the EU
    /// is cost (§1.6).
    pub fn recoverable_in(&self, s: crate::domain::Market) -> bool {
        use crate::domain::Market;
        self.recoverable
            && self.vat_registered_in.as_ref().is_none_or(|held| {
                held.contains(&s) || (s != Market::UK && held.iter().any(|m| *m != Market::UK))
            })
    }
}

impl Economics {
    /// Validates `config` (every table, date, rate and reference) into a ready model.
    pub fn new(config: EconomicsConfig) -> Result<Self, EconomicsError> {
        validate::build(config)
    }

    /// The shipped defaults, validated.
    pub fn shipped() -> Result<Self, EconomicsError> {
        Self::new(EconomicsConfig::default())
    }

    /// The configuration this was built from.
    pub fn config(&self) -> &EconomicsConfig {
        &self.config
    }

    /// The validated scalar parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The validated dated tables and routes.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// The rate to compute with: a configured override wins, then the latest fetched ECB
    /// rate, then the shipped one.
    pub fn fx_rate(&self, fetched: Option<&FxRate>) -> FxRate {
        match (&self.override_fx, fetched) {
            (Some(o), _) => o.clone(),
            (None, Some(f)) => f.clone(),
            (None, None) => self.shipped_fx.clone(),
        }
    }

    /// Whether the pipeline should fetch the ECB file at all (`fx.source = "ecb"` and no
    /// override).
    pub fn fx_fetch_enabled(&self) -> bool {
        self.override_fx.is_none() && self.config.fx.source == config::FxSourceSetting::Ecb
    }

    /// The ECB daily file URL.
    pub fn fx_url(&self) -> &str {
        &self.config.fx.url
    }

    /// The `effective_from` of each table in force on `today`.
    pub fn tables_status(&self, today: NaiveDate) -> crate::pipeline::TablesStatus {
        self.tables.in_force(today)
    }

    /// The parsed `[fx] fetch_after` (validated at startup).
    pub fn fx_schedule(&self) -> Option<fx::FetchSchedule> {
        fx::FetchSchedule::parse(&self.config.fx.fetch_after)
    }

    /// Maximum FX age in days.
    pub fn fx_max_age_days(&self) -> i64 {
        self.params.fx_max_age_days
    }
}

/// Rounds once, for display: to the cent, half away from zero.
pub fn round_cents(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// A percentage for display: `ratio × 100`, rounded to 2 dp half away from zero, as `f64`
/// (the nearest `f64` to that two-place decimal).
pub fn pct(ratio: Decimal) -> f64 {
    num::Num::pct(ratio)
}

/// `d` in units of 10^-`places`, rounded half away from zero (exactly what
/// `round_dp_with_strategy(places, MidpointAwayFromZero)` gives, as an integer mantissa);
/// `None` if that does not fit an `i64`. Rounding is the hot path of detection, and on the
/// mantissa it is two integer divisions instead of decimal rescaling.
pub(crate) fn scaled_away_from_zero(d: Decimal, places: u32) -> Option<i64> {
    let (m, scale) = (d.mantissa(), d.scale());
    let q = if scale <= places {
        m.checked_mul(10i128.checked_pow(places - scale)?)?
    } else {
        // scale ≤ 28, so the divisor fits an i128.
        let p = 10i128.checked_pow(scale - places)?;
        let (q, r) = (m / p, m % p);
        if r.unsigned_abs() * 2 >= p.unsigned_abs() {
            q + r.signum()
        } else {
            q
        }
    };
    i64::try_from(q).ok()
}

/// Parses `YYYY-MM-DD`.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}
