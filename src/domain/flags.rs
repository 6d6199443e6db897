//! Flags: the gates a row failed and the warnings on its data, as a bit set.
//!
//! A row is ranked when none of its flags is a failed gate (economics §4.1); warnings
//! (`NO_BUYBOX`, `FEE_MISMATCH`, …) live in the same set. Rows carry the set itself, so
//! detecting allocates nothing for them, and no row can hold a flag that does not exist;
//! stores, the API and exports see the names, in canonical order.

use std::borrow::Cow;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

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
    /// Every flag, in canonical order.
    pub const ALL: [Flag; 18] = [
        Flag::Profit,
        Flag::Roi,
        Flag::Spike,
        Flag::NoHistory,
        Flag::Demand,
        Flag::Stale,
        Flag::FxStale,
        Flag::Identity,
        Flag::Blocked,
        Flag::NoTable,
        Flag::RouteDisabled,
        Flag::FbaFeeUnknown,
        Flag::NoPackage,
        Flag::NoBuybox,
        Flag::NoShipping,
        Flag::FeeMismatch,
        Flag::VatRegistration,
        Flag::Amazon,
    ];

    /// The name stored and shown, e.g. `ROI`.
    pub const fn name(self) -> &'static str {
        flag::ORDER[self as usize]
    }

    /// The flag named `name` (as stored: `ROI`, `FX_STALE`, …).
    pub fn from_name(name: &str) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.name() == name)
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

    /// The failed gates in the set (`FX_STALE` is a gate only on GBP routes); the rest
    /// are warnings.
    pub fn failed_gates(self, gbp_route: bool) -> FlagSet {
        let mut gates = (1u32 << flag::GATES) - 1;
        if !gbp_route {
            gates &= !(1 << (Flag::FxStale as u32));
        }
        FlagSet(self.0 & gates)
    }

    /// The flags that are not failed gates: data warnings.
    pub fn warnings(self, gbp_route: bool) -> FlagSet {
        FlagSet(self.0 & !self.failed_gates(gbp_route).0)
    }

    /// True when no failed gate is in the set (`FX_STALE` counts only on GBP routes).
    pub fn ranked(self, gbp_route: bool) -> bool {
        self.failed_gates(gbp_route).is_empty()
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The flags, in canonical order.
    pub fn iter(self) -> impl Iterator<Item = Flag> {
        Flag::ALL.into_iter().filter(move |f| self.contains(*f))
    }

    /// The names, in canonical order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        self.iter().map(Flag::name)
    }

    /// Whether the flag named `name` is in the set (`false` for a name that is no flag).
    pub fn contains_name(self, name: &str) -> bool {
        Flag::from_name(name).is_some_and(|f| self.contains(f))
    }

    /// The names joined by `sep`, e.g. `ROI, STALE`.
    pub fn join(self, sep: &str) -> String {
        self.names().collect::<Vec<_>>().join(sep)
    }
}

impl FromIterator<Flag> for FlagSet {
    fn from_iter<I: IntoIterator<Item = Flag>>(iter: I) -> Self {
        let mut set = FlagSet::default();
        for f in iter {
            set.insert(f);
        }
        set
    }
}

/// Stored and shown as the list of names, in canonical order.
impl Serialize for FlagSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

impl<'de> Deserialize<'de> for FlagSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<Cow<'de, str>>::deserialize(d)?;
        names
            .iter()
            .map(|n| {
                Flag::from_name(n).ok_or_else(|| {
                    de::Error::custom(format!(
                        "unknown flag '{n}': expected one of {}",
                        flag::ORDER.join(", ")
                    ))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_sets_list_in_canonical_order_and_rank_by_gates_only() {
        let mut f = FlagSet::default();
        assert!(f.ranked(true) && f.is_empty());
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
        assert_eq!(
            f.names().collect::<Vec<_>>(),
            ["PROFIT", "FX_STALE", "FEE_MISMATCH", "AMAZON"]
        );
        assert_eq!(f.join(" "), "PROFIT FX_STALE FEE_MISMATCH AMAZON");
        assert!(f.contains_name("AMAZON") && !f.contains_name("ROI"));
        assert!(!f.contains_name("NOT_A_FLAG"));
        for (i, flag) in Flag::ALL.into_iter().enumerate() {
            assert_eq!(flag as usize, i, "ALL is in canonical order");
            assert_eq!(Flag::from_name(flag.name()), Some(flag));
        }
        assert_eq!(Flag::Amazon.name(), flag::AMAZON);
        assert_eq!(
            Flag::NoPackage as usize + 1,
            flag::GATES,
            "gates come first"
        );
    }

    #[test]
    fn flag_sets_are_stored_as_names_and_unknown_names_are_refused() {
        let f: FlagSet = [Flag::Stale, Flag::Roi].into_iter().collect();
        let json = serde_json::to_string(&f).unwrap_or_default();
        assert_eq!(json, r#"["ROI","STALE"]"#);
        assert_eq!(serde_json::from_str::<FlagSet>(&json).ok(), Some(f));
        let err = serde_json::from_str::<FlagSet>(r#"["ROI","NEGATIVE_NET"]"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("unknown flag 'NEGATIVE_NET'") && err.contains("FX_STALE"),
            "{err}"
        );
    }
}
