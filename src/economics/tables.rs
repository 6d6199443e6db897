//! The validated dated tables (VAT, referral with DSF, FBA fallback, storage), the routes and
//! the product-group mapping, with the lookups the model needs.
//!
//! Tables are stored per kind in ascending `effective_from`; [`Tables::at`] picks, for one
//! computation date, the latest of each kind on or before it, or reports which kind has
//! none (`NO_TABLE`). Per-market values are arrays indexed by [`market_index`], so the hot
//! path never hashes a market.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use super::config::TierMode;
use super::num::{Const, Num};
use crate::domain::{Currency, Market};

/// Position of `m` in [`Market::ALL`].
pub const fn market_index(m: Market) -> usize {
    match m {
        Market::UK => 0,
        Market::DE => 1,
        Market::FR => 2,
        Market::IT => 3,
        Market::ES => 4,
    }
}

/// A table with its effective date.
#[derive(Debug, Clone)]
pub struct Dated<T> {
    /// First day the table applies.
    pub from: NaiveDate,
    /// The table.
    pub table: T,
}

/// VAT rates of one dated table.
#[derive(Debug, Clone)]
pub struct VatRates {
    /// Standard rate per market.
    pub standard: [Const; 5],
    /// Reduced classes per market.
    pub reduced: HashMap<String, [Const; 5]>,
}

impl VatRates {
    /// The rate for `m`, in `class` when one applies.
    pub fn rate(&self, m: Market, class: Option<&str>) -> Const {
        let i = market_index(m);
        class
            .and_then(|c| self.reduced.get(c))
            .map_or(self.standard[i], |r| r[i])
    }
}

/// One referral tier.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    /// Inclusive upper bound in the sell currency; `None` on the last tier.
    pub upto: Option<Const>,
    /// Rate.
    pub rate: Const,
}

/// One referral category.
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    /// Id, e.g. `default`.
    pub id: String,
    /// How the tiers apply.
    pub mode: TierMode,
    /// Ascending tiers; the last is open.
    pub tiers: Vec<Tier>,
    /// First cents of the price ranges on which the fee is affine, in EUR and in GBP
    /// markets, each with the minimum fee they were worked out for: set by
    /// [`ReferralSchedule::new`], so searches need not work them out per product.
    breakpoints: [(Decimal, Vec<i64>); 2],
}

impl Category {
    /// A category with `tiers` applied as `mode` (its search breakpoints are worked out
    /// when it goes into a [`ReferralSchedule`]).
    pub fn new(id: String, mode: TierMode, tiers: Vec<Tier>) -> Self {
        Category {
            id,
            mode,
            tiers,
            breakpoints: Default::default(),
        }
    }

    /// First cents of the price ranges on which the referral fee with minimum `min_fee` is
    /// affine in `currency`, ascending from 1: those worked out with the schedule when they
    /// are for this minimum fee, else worked out now (a category used outside its schedule).
    pub fn breakpoints(&self, currency: Currency, min_fee: Const) -> Cow<'_, [i64]> {
        match &self.breakpoints[usize::from(currency == Currency::GBP)] {
            (fee, points) if *fee == min_fee.dec() && !points.is_empty() => Cow::Borrowed(points),
            _ => Cow::Owned(super::solve::breakpoints(self, min_fee.dec())),
        }
    }

    /// The fee before the minimum: Σ rate·slice (marginal) or rate(P)·P (flat, threshold).
    pub fn fee_before_min<N: Num>(&self, price: N) -> N {
        match self.mode {
            TierMode::Flat | TierMode::Threshold => self.rate_at(price) * price,
            TierMode::Marginal => {
                let mut lower = N::zero();
                let mut fee = N::zero();
                for t in &self.tiers {
                    let upto = t.upto.map(N::of);
                    let upper = upto.map_or(price, |u| u.min(price));
                    if upper > lower {
                        fee = fee + N::of(t.rate) * (upper - lower);
                    }
                    match upto {
                        Some(u) if u < price => lower = u,
                        _ => break,
                    }
                }
                fee
            }
        }
    }

    /// The rate of the tier `price` falls in (for marginal tiers: the rate of its slice).
    pub fn rate_at<N: Num>(&self, price: N) -> N {
        self.tiers
            .iter()
            .find(|t| t.upto.is_none_or(|u| price <= N::of(u)))
            .or(self.tiers.last())
            .map_or(N::zero(), |t| N::of(t.rate))
    }

    /// The single rate of a flat schedule.
    pub fn flat_rate(&self) -> Option<Const> {
        match (self.mode, self.tiers.as_slice()) {
            (TierMode::Flat, [t]) => Some(t.rate),
            _ => None,
        }
    }
}

/// DSF surcharges of one market.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Dsf<N = Const> {
    /// On referral fees.
    pub referral: N,
    /// On FBA fees and storage.
    pub fba: N,
}

impl Dsf {
    /// The same surcharges as `N`.
    pub fn to<N: Num>(self) -> Dsf<N> {
        Dsf {
            referral: N::of(self.referral),
            fba: N::of(self.fba),
        }
    }
}

/// One dated referral schedule.
#[derive(Debug, Clone)]
pub struct ReferralSchedule {
    /// Minimum fee in EUR markets.
    pub min_fee_eur: Const,
    /// Minimum fee in GBP markets.
    pub min_fee_gbp: Const,
    /// The `default` category.
    pub default: Category,
    /// The other categories.
    pub categories: Vec<Category>,
    /// DSF per market.
    pub dsf: [Dsf; 5],
}

impl ReferralSchedule {
    /// A schedule of `default` and `categories` with these minimum fees and surcharges.
    pub fn new(
        (min_fee_eur, min_fee_gbp): (Const, Const),
        default: Category,
        categories: Vec<Category>,
        dsf: [Dsf; 5],
    ) -> Self {
        let mut s = ReferralSchedule {
            min_fee_eur,
            min_fee_gbp,
            default,
            categories,
            dsf,
        };
        for c in std::iter::once(&mut s.default).chain(&mut s.categories) {
            c.breakpoints = [min_fee_eur.dec(), min_fee_gbp.dec()]
                .map(|fee| (fee, super::solve::breakpoints(c, fee)));
        }
        s
    }

    /// The category with `id`, else `default`.
    pub fn category(&self, id: &str) -> &Category {
        self.categories
            .iter()
            .find(|c| c.id == id)
            .unwrap_or(&self.default)
    }

    /// The minimum fee in `currency`.
    pub fn min_fee(&self, currency: Currency) -> Const {
        match currency {
            Currency::EUR => self.min_fee_eur,
            Currency::GBP => self.min_fee_gbp,
        }
    }

    /// ref(P) = max(min fee, tiered fee).
    pub fn fee<N: Num>(&self, category: &Category, price: N, currency: Currency) -> N {
        category
            .fee_before_min(price)
            .max(N::of(self.min_fee(currency)))
    }
}

/// One dated FBA fallback table: weight tiers per market.
#[derive(Debug, Clone)]
pub struct FbaSchedule {
    /// `(upto grams inclusive, fee)` ascending per market; `None` = open.
    pub tiers: [Vec<(Option<i64>, Const)>; 5],
}

impl FbaSchedule {
    /// The fee for a unit of `weight_g` in `m`, or `None` beyond the last tier.
    pub fn fee(&self, m: Market, weight_g: i64) -> Option<Const> {
        self.tiers[market_index(m)]
            .iter()
            .find(|(upto, _)| upto.is_none_or(|u| weight_g <= u))
            .map(|(_, fee)| *fee)
    }
}

/// One dated storage table.
#[derive(Debug, Clone)]
pub struct StorageSchedule {
    /// Rate per m³·month per market.
    pub base: [Const; 5],
    /// Peak rate per market, when configured.
    pub peak: [Option<Const>; 5],
    /// Bit `m` set when month `m` (1–12) is a peak month.
    pub peak_months: u16,
}

impl StorageSchedule {
    /// The rate per m³·month in `m` on `date`.
    pub fn rate(&self, m: Market, date: NaiveDate) -> Const {
        let i = market_index(m);
        let peak = self.peak_months & (1 << date.month()) != 0;
        match (peak, self.peak[i]) {
            (true, Some(p)) => p,
            _ => self.base[i],
        }
    }
}

/// Customs of a UK↔EU route, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Customs {
    /// Duty on the customs value.
    pub duty_rate: Const,
    /// Import VAT reclaimed.
    pub import_vat_recoverable: bool,
    /// Broker fee per unit (per shipment ÷ units), EUR.
    pub broker_per_unit: Const,
}

/// Logistics of one directed route, validated, EUR per unit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Route {
    /// Delivery to the operator.
    pub ship_to_you: Const,
    /// Prep and labels.
    pub prep: Const,
    /// Inbound to FBA.
    pub inbound: Const,
    /// Inbound per kg.
    pub inbound_per_kg: Const,
    /// Customs (UK↔EU).
    pub customs: Option<Customs>,
    /// A UK↔EU route without customs: shown, never ranked.
    pub disabled: bool,
    /// `config:route IT→DE` or `config:route_defaults`.
    pub source: String,
}

/// Everything dated or per route, validated.
#[derive(Debug, Clone)]
pub struct Tables {
    /// VAT tables, ascending.
    pub vat: Vec<Dated<VatRates>>,
    /// Referral schedules, ascending.
    pub referral: Vec<Dated<ReferralSchedule>>,
    /// FBA fallback tables, ascending.
    pub fba: Vec<Dated<FbaSchedule>>,
    /// Storage tables, ascending.
    pub storage: Vec<Dated<StorageSchedule>>,
    /// Route per `[from][to]` (the diagonal is unused).
    pub routes: [[Route; 5]; 5],
    /// Keepa product group → (referral category id, VAT class).
    pub groups: HashMap<String, (String, Option<String>)>,
}

/// The tables in force on one date.
#[derive(Debug, Clone, Copy)]
pub struct TablesAt<'a> {
    /// VAT.
    pub vat: &'a Dated<VatRates>,
    /// Referral and DSF.
    pub referral: &'a Dated<ReferralSchedule>,
    /// FBA fallback (needed only where Keepa has no fee).
    pub fba: Option<&'a Dated<FbaSchedule>>,
    /// Storage.
    pub storage: &'a Dated<StorageSchedule>,
}

/// Which kind of table has nothing in force on the computation date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingTable {
    /// No VAT table.
    Vat,
    /// No referral table.
    Referral,
    /// No storage table.
    Storage,
}

fn latest<T>(tables: &[Dated<T>], date: NaiveDate) -> Option<&Dated<T>> {
    let n = tables.partition_point(|t| t.from <= date);
    n.checked_sub(1).and_then(|i| tables.get(i))
}

impl Tables {
    /// The tables in force on `date`: the latest `effective_from` on or before it.
    pub fn at(&self, date: NaiveDate) -> Result<TablesAt<'_>, MissingTable> {
        Ok(TablesAt {
            vat: latest(&self.vat, date).ok_or(MissingTable::Vat)?,
            referral: latest(&self.referral, date).ok_or(MissingTable::Referral)?,
            fba: latest(&self.fba, date),
            storage: latest(&self.storage, date).ok_or(MissingTable::Storage)?,
        })
    }

    /// The `effective_from` of each kind of table in force on `date`.
    pub fn in_force(&self, date: NaiveDate) -> crate::pipeline::TablesStatus {
        fn from<T>(tables: &[Dated<T>], date: NaiveDate) -> Option<String> {
            latest(tables, date).map(|t| t.from.to_string())
        }
        crate::pipeline::TablesStatus {
            date: date.to_string(),
            vat: from(&self.vat, date),
            referral: from(&self.referral, date),
            fba: from(&self.fba, date),
            storage: from(&self.storage, date),
        }
    }

    /// The route from `s` to `t`.
    pub fn route(&self, s: Market, t: Market) -> &Route {
        &self.routes[market_index(s)][market_index(t)]
    }

    /// The referral category id and VAT class of a Keepa product group.
    pub fn group(&self, product_group: Option<&str>) -> (&str, Option<&str>) {
        match product_group.and_then(|g| self.groups.get(g)) {
            Some((id, vat)) => (id.as_str(), vat.as_deref()),
            None => ("default", None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Const {
        Const::new(s.parse().unwrap_or_default())
    }

    #[test]
    fn breakpoints_are_those_of_the_minimum_fee_asked_for() {
        let tiers = vec![
            Tier {
                upto: Some(c("10.00")),
                rate: c("0.08"),
            },
            Tier {
                upto: None,
                rate: c("0.15"),
            },
        ];
        let loose = Category::new("beauty".into(), TierMode::Threshold, tiers);
        let s = ReferralSchedule::new(
            (c("0.30"), c("0.25")),
            loose.clone(),
            Vec::new(),
            Default::default(),
        );
        let held = &s.default;
        // Where each tier's fee line meets the 0.30 minimum (2.00, 3.75), and the bound.
        let at_030 = [1, 201, 376, 1001];
        assert!(
            matches!(held.breakpoints(Currency::EUR, c("0.30")), Cow::Borrowed(p) if p == at_030)
        );
        // Outside its schedule, or with another minimum fee, they are worked out anew.
        assert_eq!(*loose.breakpoints(Currency::EUR, c("0.30")), at_030);
        assert_eq!(
            *held.breakpoints(Currency::GBP, c("0.25")),
            [1, 167, 313, 1001]
        );
        assert_eq!(
            *held.breakpoints(Currency::EUR, c("1.00")),
            [1, 667, 1001, 1251]
        );
    }
}
