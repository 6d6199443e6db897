//! §4.1: the gates a route must pass to be ranked, the expected monthly profit it is ranked
//! by, and the one ordering every list uses.
//!
//! Gates never decide whether a row exists: a failed gate is a flag, and a row is ranked
//! when none of its flags is a failed gate. Flags that only warn (`NO_BUYBOX`,
//! `FEE_MISMATCH`, …) live in the same list, so the set of gate flags is defined here once.

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::num::Num;
use crate::domain::{Opportunity, PriceSnapshot};

/// Flag names, as stored and shown.
pub mod flag {
    /// Profit below `min_profit`.
    pub const PROFIT: &str = "PROFIT";
    /// ROI below `min_roi`.
    pub const ROI: &str = "ROI";
    /// The sell price is far from its 90-day average.
    pub const SPIKE: &str = "SPIKE";
    /// No 90-day average (or no current value) to check stability against.
    pub const NO_HISTORY: &str = "NO_HISTORY";
    /// Below the demand floor in the sell market.
    pub const DEMAND: &str = "DEMAND";
    /// Keepa data older than allowed on either side.
    pub const STALE: &str = "STALE";
    /// FX rate older than allowed (a failed gate on GBP routes, a warning elsewhere).
    pub const FX_STALE: &str = "FX_STALE";
    /// The two records may not be the same item.
    pub const IDENTITY: &str = "IDENTITY";
    /// Hazmat or adult listing.
    pub const BLOCKED: &str = "BLOCKED";
    /// No VAT, referral or storage table in force on the computation date.
    pub const NO_TABLE: &str = "NO_TABLE";
    /// A UK↔EU route without customs configured.
    pub const ROUTE_DISABLED: &str = "ROUTE_DISABLED";
    /// No Keepa FBA fee and no weight (or an oversize weight) for the fallback table.
    pub const FBA_FEE_UNKNOWN: &str = "FBA_FEE_UNKNOWN";
    /// Package dimensions or weight unknown where storage or inbound cost needs them.
    pub const NO_PACKAGE: &str = "NO_PACKAGE";
    /// Warning: sell price from Amazon or lowest New, not the Buy Box.
    pub const NO_BUYBOX: &str = "NO_BUYBOX";
    /// Warning: a lowest-New sell price from before Keepa included shipping in it.
    pub const NO_SHIPPING: &str = "NO_SHIPPING";
    /// Warning: Keepa's referral % is more than the tolerance away from the table.
    pub const FEE_MISMATCH: &str = "FEE_MISMATCH";
    /// Warning: selling from FBA stock in this market needs a VAT registration there.
    pub const VAT_REGISTRATION: &str = "VAT_REGISTRATION";
    /// Warning: Amazon sells the item or holds the Buy Box in the sell market.
    pub const AMAZON: &str = "AMAZON";

    /// Every flag in its canonical order: the 13 failed gates, then the warnings.
    pub const ORDER: [&str; 18] = [
        PROFIT,
        ROI,
        SPIKE,
        NO_HISTORY,
        DEMAND,
        STALE,
        FX_STALE,
        IDENTITY,
        BLOCKED,
        NO_TABLE,
        ROUTE_DISABLED,
        FBA_FEE_UNKNOWN,
        NO_PACKAGE,
        NO_BUYBOX,
        NO_SHIPPING,
        FEE_MISMATCH,
        VAT_REGISTRATION,
        AMAZON,
    ];

    /// How many of `ORDER` are gates (`FX_STALE` only on GBP routes).
    pub const GATES: usize = 13;
}

/// One flag; its discriminant is its position in [`flag::ORDER`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum Flag {
    Profit,
    Roi,
    Spike,
    NoHistory,
    Demand,
    Stale,
    FxStale,
    Identity,
    Blocked,
    NoTable,
    RouteDisabled,
    FbaFeeUnknown,
    NoPackage,
    NoBuybox,
    NoShipping,
    FeeMismatch,
    VatRegistration,
    Amazon,
}

impl Flag {
    /// The name stored and shown, e.g. `ROI`.
    pub const fn name(self) -> &'static str {
        flag::ORDER[self as usize]
    }
}

/// A set of flags as bits, so collecting them per pair allocates nothing; [`names`]
/// lists them in canonical order.
///
/// [`names`]: FlagSet::names
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlagSet(u32);

impl FlagSet {
    /// Adds `f`.
    pub fn insert(&mut self, f: Flag) {
        self.0 |= 1 << (f as u32);
    }

    /// Adds `f` when `cond` holds.
    pub fn insert_if(&mut self, cond: bool, f: Flag) {
        if cond {
            self.insert(f);
        }
    }

    /// Whether `f` is in the set.
    pub fn contains(self, f: Flag) -> bool {
        self.0 & (1 << (f as u32)) != 0
    }

    /// Both sets.
    pub fn union(self, other: FlagSet) -> FlagSet {
        FlagSet(self.0 | other.0)
    }

    /// True when no failed gate is in the set (`FX_STALE` counts only on GBP routes).
    pub fn ranked(self, gbp_route: bool) -> bool {
        let mut gates = (1u32 << flag::GATES) - 1;
        if !gbp_route {
            gates &= !(1 << (Flag::FxStale as u32));
        }
        self.0 & gates == 0
    }

    /// The names, in canonical order.
    pub fn names(self) -> Vec<Cow<'static, str>> {
        flag::ORDER
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, n)| Cow::Borrowed(*n))
            .collect()
    }
}

/// `q_T = sales_T · (1 − s_AMZ) / (n_FBA + 1)`: the units a new FBA seller can expect to
/// sell per month in this market.
pub fn monthly_units(t: &PriceSnapshot) -> Decimal {
    monthly_units_in(t)
}

/// [`monthly_units`] computed in `N`.
pub fn monthly_units_in<N: Num>(t: &PriceSnapshot) -> N {
    let sales = match (t.monthly_sold, t.rank_drops30) {
        (Some(m), _) if m > 0 => m,
        (_, Some(d)) if d > 0 => d,
        _ => 0,
    };
    let amazon_share = match t.amazon_buy_box_share_pct {
        Some(p) if p.is_finite() => {
            N::from_float(p.clamp(0.0, 100.0)).map_or(N::zero(), |p| p / N::from_i64(100))
        }
        _ if t.buy_box_is_amazon == Some(true) => N::one(),
        _ => N::zero(),
    };
    let amazon_offer = i64::from(t.amazon.is_some());
    let offers = t.offers_new_fba.or(t.offers_new).unwrap_or(0);
    let competitors = offers.saturating_sub(amazon_offer).max(0);
    N::from_i64(sales) * (N::one() - amazon_share) / (N::from_i64(competitors) + N::one())
}

/// `E = π · min(Q_buy, q_T)`.
pub fn expected_monthly_profit<N: Num>(profit: N, q_t: N, max_units: N) -> N {
    profit * q_t.min(max_units)
}

/// The ranking order: ranked rows first, then expected monthly profit, ROI and profit, all
/// descending, then ASIN and route ascending, so the order is total and stable.
pub fn cmp_rank(a: &Opportunity, b: &Opportunity) -> Ordering {
    b.ranked
        .cmp(&a.ranked)
        .then(
            b.expected_monthly_profit
                .minor
                .cmp(&a.expected_monthly_profit.minor),
        )
        .then(b.roi_pct.total_cmp(&a.roi_pct))
        .then(b.net_profit.minor.cmp(&a.net_profit.minor))
        .then(a.asin.cmp(&b.asin))
        .then(a.buy_market.cmp(&b.buy_market))
        .then(a.sell_market.cmp(&b.sell_market))
}

/// Whether `observed_at` is older than `max_hours` at `now`.
pub fn is_stale(observed_at: DateTime<Utc>, now: DateTime<Utc>, max_hours: i64) -> bool {
    (now - observed_at).num_minutes() > max_hours.saturating_mul(60)
}

/// Identity: the two records share an EAN and their package quantities are equal (both
/// unknown counts as equal; the EAN is the main evidence).
pub fn same_item(s: &PriceSnapshot, t: &PriceSnapshot) -> bool {
    s.package_quantity == t.package_quantity && s.eans.iter().any(|e| t.eans.contains(e))
}

/// Whether a failed gate among `flags` keeps the row unranked; `gbp_route` makes
/// `FX_STALE` one.
pub fn is_ranked<S: AsRef<str>>(flags: &[S], gbp_route: bool) -> bool {
    !flags
        .iter()
        .map(AsRef::as_ref)
        .any(|f| flag::ORDER[..flag::GATES].contains(&f) && (f != flag::FX_STALE || gbp_route))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_sets_list_in_canonical_order_and_rank_by_gates_only() {
        let mut f = FlagSet::default();
        assert!(f.ranked(true));
        f.insert(Flag::Amazon);
        f.insert(Flag::FeeMismatch);
        assert!(f.ranked(true), "warnings never unrank");
        f.insert(Flag::FxStale);
        assert!(
            f.ranked(false),
            "a stale rate does not touch EUR-only routes"
        );
        assert!(!f.ranked(true));
        f.insert(Flag::Profit);
        assert_eq!(f.names(), ["PROFIT", "FX_STALE", "FEE_MISMATCH", "AMAZON"]);
        assert!(!is_ranked(&f.names(), false));
        assert!(is_ranked(
            &["AMAZON".to_string(), "FX_STALE".to_string()],
            false
        ));
        for (i, name) in flag::ORDER.iter().enumerate() {
            assert_eq!(
                flag::ORDER.iter().position(|n| n == name),
                Some(i),
                "unique names"
            );
        }
        assert_eq!(Flag::Amazon.name(), flag::AMAZON);
        assert_eq!(
            Flag::NoPackage as usize + 1,
            flag::GATES,
            "gates come first"
        );
    }
}
