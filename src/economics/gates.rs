//! §4.1: the gates a route must pass to be ranked, the expected monthly profit it is ranked
//! by, and the one ordering every list uses.
//!
//! Gates never decide whether a row exists: a failed gate is a flag, and a row is ranked
//! when none of its flags is a failed gate. Flags that only warn (`NO_BUYBOX`,
//! `FEE_MISMATCH`, …) live in the same set ([`FlagSet`], defined with the domain types, since
//! every row carries one).

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::num::Num;
pub use crate::domain::{Flag, FlagSet, flag};
use crate::domain::{Opportunity, PriceSnapshot};

/// `q_T = sales_T · (1 − s_AMZ) / (n_FBA + 1)`: the units a new FBA seller can expect to
/// sell per month in this market.
pub fn monthly_units(t: &PriceSnapshot) -> Decimal {
    monthly_units_in(t)
}

/// [`monthly_units`] computed in `N`.
pub fn monthly_units_in<N: Num>(t: &PriceSnapshot) -> N {
    let d = Demand::of(t);
    let amazon_share =
        N::from_float(d.amazon_share_pct).map_or(N::zero(), |p| p / N::from_i64(100));
    N::from_i64(d.sales) * (N::one() - amazon_share) / (N::from_i64(d.rivals) + N::one())
}

/// What `q_T` rests on (§4.1), read from the sell market's snapshot: the console shows it
/// beside expected monthly profit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Demand {
    /// Sales a month: `monthlySold` when set, else the rank drops of 30 days, else 0.
    pub sales: i64,
    /// Whether `sales` are rank drops (a lower bound) rather than `monthlySold`.
    pub from_rank_drops: bool,
    /// Amazon's share of the Buy Box, 0–100: from `buyBoxStats`, else 100 or 0 by
    /// `buyBoxIsAmazon`.
    pub amazon_share_pct: f64,
    /// FBA offers other than Amazon's (`n_FBA`).
    pub rivals: i64,
}

impl Demand {
    /// The demand facts of sell-side snapshot `t`.
    pub fn of(t: &PriceSnapshot) -> Demand {
        let (sales, from_rank_drops) = match (t.monthly_sold, t.rank_drops30) {
            (Some(m), _) if m > 0 => (m, false),
            (_, Some(d)) if d > 0 => (d, true),
            _ => (0, false),
        };
        let amazon_share_pct = match t.amazon_buy_box_share_pct {
            Some(p) if p.is_finite() => p.clamp(0.0, 100.0),
            _ if t.buy_box_is_amazon == Some(true) => 100.0,
            _ => 0.0,
        };
        let amazon_offer = i64::from(t.amazon.is_some());
        let offers = t.offers_new_fba.or(t.offers_new).unwrap_or(0);
        Demand {
            sales,
            from_rank_drops,
            amazon_share_pct,
            rivals: offers.saturating_sub(amazon_offer).max(0),
        }
    }
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

/// Whether `observed_at` is older than `max_hours` at `now`, to the instant: Keepa's times
/// are whole minutes, the clock's are not, and 24 h and 20 s is more than 24 h.
pub fn is_stale(observed_at: DateTime<Utc>, now: DateTime<Utc>, max_hours: i64) -> bool {
    chrono::TimeDelta::try_hours(max_hours).is_some_and(|max| now - observed_at > max)
}

/// Identity: the two records share an EAN and their package quantities are equal (both
/// unknown counts as equal; the EAN is the main evidence).
pub fn same_item(s: &PriceSnapshot, t: &PriceSnapshot) -> bool {
    s.package_quantity == t.package_quantity && s.eans.iter().any(|e| t.eans.contains(e))
}

#[cfg(test)]
mod tests {
    use super::is_stale;
    use chrono::{DateTime, Duration, Utc};

    #[test]
    fn data_is_stale_past_the_limit_to_the_second() {
        let seen: DateTime<Utc> = "2026-12-05T12:35:00Z".parse().unwrap();
        let at = |d: Duration| seen + d;
        assert!(!is_stale(seen, at(Duration::hours(24)), 24), "24 h exactly");
        assert!(is_stale(
            seen,
            at(Duration::hours(24) + Duration::seconds(20)),
            24
        ));
        assert!(is_stale(
            seen,
            at(Duration::hours(24) + Duration::milliseconds(1)),
            24
        ));
        assert!(
            !is_stale(seen, at(Duration::hours(-3)), 24),
            "observed after now"
        );
        assert!(
            !is_stale(seen, at(Duration::days(400)), i64::MAX),
            "no limit to speak of"
        );
    }
}
