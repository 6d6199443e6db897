//! The two sides of every route, evaluated once per market and product: the sell side
//! (`N` with its fees, the market-level gates and warnings, and its breakdown lines) and the
//! buy side (the purchase part of `L`). Kept apart from the pair loop in `detector.rs`
//! because this is where Keepa's facts meet the tables, one snapshot at a time.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::super::breakdown::{self, SellSources};
use super::super::config::TierMode;
use super::super::fx::FxRate;
use super::super::gates::{self, Flag, FlagSet};
use super::super::model::{BuySide, BuyTerms, ClosedForm, SellSide, SellTerms};
use super::super::num::Num;
use super::super::solve::Segments;
use super::super::tables::{Category, TablesAt, market_index};
use super::super::{SellPriceRule, VatScheme};
use super::Detector;
use crate::domain::{BreakdownLine, Currency, Money, PriceSnapshot, Product};
use crate::keepa::csv::MAX_PRICE_MINOR;

/// Keepa's lowest-New price includes shipping only from this day on (docs/economics.md §3).
const NEW_INCLUDES_SHIPPING_FROM: (i32, u32, u32) = (2026, 2, 16);

/// Which series the sell price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Basis {
    BuyBox,
    Amazon,
    New,
}

/// A market's sell price and the series it came from.
#[derive(Debug, Clone, Copy)]
pub(super) struct SellQuote<N> {
    pub(super) money: Money,
    pub(super) price: N,
    basis: Basis,
    pub(super) now: Option<Money>,
    pub(super) avg: Option<Money>,
}

/// A market's buy price.
#[derive(Debug, Clone, Copy)]
pub(super) struct BuyQuote<N> {
    pub(super) money: Money,
    pub(super) price: N,
}

/// Where the FBA fee of a sell side came from; a label only when a breakdown is asked for.
#[derive(Debug, Clone, Copy)]
enum FbaOrigin {
    Keepa,
    Table(NaiveDate, i64),
    Beyond(NaiveDate, i64),
    NoTable,
    NoWeight,
}

impl FbaOrigin {
    fn label(self) -> String {
        match self {
            FbaOrigin::Keepa => "keepa".to_string(),
            FbaOrigin::Table(from, w) => format!("config:fba {from} ({w} g)"),
            FbaOrigin::Beyond(from, w) => format!("unknown: {w} g is beyond config:fba {from}"),
            FbaOrigin::NoTable => {
                "unknown: no Keepa fee and no config:fba table in force".to_string()
            }
            FbaOrigin::NoWeight => "unknown: no Keepa fee and no package weight".to_string(),
        }
    }
}

/// The sell side of one market, evaluated (with its breakdown lines only when explaining).
pub(super) struct SellCalc<'a, N> {
    pub(super) terms: SellTerms<'a, N>,
    pub(super) side: SellSide<N>,
    pub(super) flags: FlagSet,
    pub(super) lines: Vec<BreakdownLine>,
    pub(super) q_t: N,
    pub(super) closed: Option<ClosedForm<N>>,
    /// Where `N` is affine in the price, for searches (empty when the closed form serves).
    pub(super) segments: Segments<N>,
}

/// The buy side of one market, evaluated (lines only when explaining).
pub(super) struct BuyCalc<N> {
    pub(super) terms: BuyTerms<N>,
    pub(super) side: BuySide<N>,
    pub(super) lines: Vec<BreakdownLine>,
    pub(super) flags: FlagSet,
}

/// A price in minor units if it is present, positive, plausible and in the market's currency.
fn valid(m: Option<Money>, currency: Currency) -> Option<Money> {
    m.filter(|m| m.currency == currency && (1..=MAX_PRICE_MINOR).contains(&m.minor))
}

fn num<N: Num>(m: Money) -> N {
    N::from_cents(m.minor)
}

pub(super) fn sell_quote<N: Num>(s: &PriceSnapshot, rule: SellPriceRule) -> Option<SellQuote<N>> {
    let cur = s.market.currency();
    let (bb, bb90) = (valid(s.buy_box, cur), valid(s.buy_box_avg90, cur));
    let picked = match rule {
        SellPriceRule::MinCurrentAvg90 => match (bb, bb90) {
            (Some(a), Some(b)) => Some(if b.minor < a.minor { b } else { a }),
            (a, b) => a.or(b),
        },
        SellPriceRule::Current => bb,
        SellPriceRule::Avg90 => bb90,
    };
    let (money, basis, now, avg) = match picked {
        Some(p) => (p, Basis::BuyBox, bb, bb90),
        None => match (valid(s.amazon, cur), valid(s.new, cur)) {
            (Some(a), _) => (a, Basis::Amazon, Some(a), valid(s.amazon_avg90, cur)),
            (None, Some(n)) => (n, Basis::New, Some(n), valid(s.new_avg90, cur)),
            (None, None) => return None,
        },
    };
    Some(SellQuote {
        money,
        price: num(money),
        basis,
        now,
        avg,
    })
}

pub(super) fn buy_quote<N: Num>(s: &PriceSnapshot) -> Option<BuyQuote<N>> {
    let cur = s.market.currency();
    let money =
        valid(s.buy_box, cur).or_else(|| match (valid(s.amazon, cur), valid(s.new, cur)) {
            (Some(a), Some(n)) => Some(if n.minor < a.minor { n } else { a }),
            (a, n) => a.or(n),
        })?;
    Some(BuyQuote {
        money,
        price: num(money),
    })
}

/// Package facts for one product: a market's own record first, else any other market's.
pub(super) struct Package {
    pub(super) weight_g: [Option<i64>; 5],
    pub(super) volume_mm3: [Option<i128>; 5],
}

impl Package {
    pub(super) fn of(product: &Product) -> Self {
        // A size or weight that is not positive is unknown, whoever built the snapshot.
        let weight = |s: &PriceSnapshot| s.package.weight_g.filter(|g| *g > 0);
        let volume = |s: &PriceSnapshot| s.package.volume_mm3().filter(|v| *v > 0);
        let mut p = Package {
            weight_g: [None; 5],
            volume_mm3: [None; 5],
        };
        let (mut any_weight, mut any_volume) = (None, None);
        for (m, s) in &product.markets {
            let i = market_index(*m);
            p.weight_g[i] = weight(s);
            p.volume_mm3[i] = volume(s);
            any_weight = any_weight.or(p.weight_g[i]);
            any_volume = any_volume.or(p.volume_mm3[i]);
        }
        for i in 0..5 {
            p.weight_g[i] = p.weight_g[i].or(any_weight);
            p.volume_mm3[i] = p.volume_mm3[i].or(any_volume);
        }
        p
    }
}

impl Detector {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn sell_side<'a, N: Num>(
        &self,
        snap: &PriceSnapshot,
        q: &SellQuote<N>,
        (category, vat_class): (&'a Category, Option<&str>),
        tab: &TablesAt<'a>,
        package: &Package,
        fx: &FxRate,
        fx_src: &str,
        now: DateTime<Utc>,
        date: NaiveDate,
        explain: bool,
    ) -> SellCalc<'a, N> {
        let p = &self.econ.params;
        let t = snap.market;
        let ti = market_index(t);
        let cur = t.currency();
        let mut flags = FlagSet::default();
        let schedule = &tab.referral.table;

        let (fba_fee, fba_origin) = match snap
            .fba_fee
            .filter(|f| f.currency == cur && (0..=MAX_PRICE_MINOR).contains(&f.minor))
        {
            Some(f) => (num(f), FbaOrigin::Keepa),
            None => match (tab.fba, package.weight_g[ti]) {
                (Some(table), Some(w)) => match table.table.fee(t, w) {
                    Some(fee) => (N::of(fee), FbaOrigin::Table(table.from, w)),
                    None => {
                        flags.insert(Flag::FbaFeeUnknown);
                        (N::zero(), FbaOrigin::Beyond(table.from, w))
                    }
                },
                (None, _) => {
                    flags.insert(Flag::FbaFeeUnknown);
                    (N::zero(), FbaOrigin::NoTable)
                }
                (Some(_), None) => {
                    flags.insert(Flag::FbaFeeUnknown);
                    (N::zero(), FbaOrigin::NoWeight)
                }
            },
        };
        let rate = tab.storage.table.rate(t, date);
        let volume_m3 =
            package.volume_mm3[ti].and_then(|v| Decimal::try_from_i128_with_scale(v, 9).ok());
        let storage = match volume_m3 {
            Some(m3) => N::of(rate) * N::from_dec(m3) * N::of(p.months_to_sell),
            None => {
                if !rate.is_zero() && !p.months_to_sell.is_zero() {
                    flags.insert(Flag::NoPackage);
                }
                N::zero()
            }
        };
        let terms = SellTerms {
            currency: cur,
            vat: N::of(tab.vat.table.rate(t, vat_class)),
            category,
            schedule,
            dsf: schedule.dsf[ti].to(),
            fee_vat: N::of(p.fee_vat),
            fba_fee,
            storage,
            returns: N::of(p.returns_reserve),
            payout_fee: if cur == Currency::EUR {
                N::zero()
            } else {
                N::of(p.payout_fee)
            },
        };
        let side = terms.evaluate(q.price, fx);

        // Data warnings and the market-level gates, then the fee check that needs the table.
        flags = flags.union(self.sell_market_flags(snap, q, now));
        if let Some(keepa) = snap.referral_fee_pct.and_then(N::from_float) {
            let points = N::of(p.fee_mismatch_points);
            let off = |r: N| (r * N::from_i64(100) - keepa).abs() > points;
            let mismatch = match category.mode {
                TierMode::Marginal => category.tiers.iter().all(|tier| off(N::of(tier.rate))),
                _ => off(category.rate_at(q.price)),
            };
            if mismatch {
                flags.insert(Flag::FeeMismatch);
            }
        }

        let closed = terms.closed_form();
        let lines = if explain {
            // The rule may have taken the 90-day average, below today's price: say so,
            // or the line reads as a different price from the one the market shows.
            let averaged = q.avg == Some(q.money) && q.now.is_none_or(|n| n.minor > q.money.minor);
            let basis = match q.basis {
                Basis::BuyBox if averaged && q.now.is_none() => {
                    "Buy Box landed, 90-day average (no Buy Box today)"
                }
                Basis::BuyBox if averaged => "Buy Box landed, 90-day average (below today's)",
                Basis::BuyBox => "Buy Box landed",
                Basis::Amazon => "Amazon's offer (no Buy Box data)",
                Basis::New => "lowest New (no Buy Box data)",
            };
            let storage_label = match volume_m3 {
                Some(m3) => format!(
                    "{}/m³·month × {} m³ × {} month(s)",
                    breakdown::money_label(rate.dec(), cur),
                    m3.normalize(),
                    p.months_to_sell.dec().normalize()
                ),
                None if snap.package.volume_mm3().is_some_and(|v| v > 0) => {
                    "unknown: package dimensions out of range".to_string()
                }
                None => "unknown: no package dimensions".to_string(),
            };
            let vat_src = format!("config:vat {}", tab.vat.from);
            let referral_src = format!("config:referral {}", tab.referral.from);
            let storage_src = format!("config:storage {}", tab.storage.from);
            let fba_src = fba_origin.label();
            let src = SellSources {
                market: t,
                price_basis: basis,
                vat: &vat_src,
                referral: &referral_src,
                fba: &fba_src,
                storage: &storage_src,
                storage_label: &storage_label,
                fx: if cur == Currency::EUR { "-" } else { fx_src },
            };
            breakdown::sell_lines(&src, &terms, &side, fx)
        } else {
            Vec::new()
        };
        SellCalc {
            lines,
            terms,
            side,
            flags,
            q_t: gates::monthly_units_in(snap),
            closed,
            segments: if closed.is_some() {
                Segments::default()
            } else {
                Segments::of(&terms, fx)
            },
        }
    }

    /// The sell side's data warnings and market-level gates that need no table in force
    /// (a row with no table still carries them).
    pub(super) fn sell_market_flags<N: Num>(
        &self,
        snap: &PriceSnapshot,
        q: &SellQuote<N>,
        now: DateTime<Utc>,
    ) -> FlagSet {
        let p = &self.econ.params;
        let t = snap.market;
        let mut flags = FlagSet::default();
        match q.basis {
            Basis::BuyBox => {}
            Basis::Amazon => flags.insert(Flag::NoBuybox),
            Basis::New => {
                flags.insert(Flag::NoBuybox);
                let (y, m, d) = NEW_INCLUDES_SHIPPING_FROM;
                if NaiveDate::from_ymd_opt(y, m, d)
                    .is_some_and(|cut| snap.observed_at.date_naive() < cut)
                {
                    flags.insert(Flag::NoShipping);
                }
            }
        }
        match (q.now, q.avg) {
            (Some(now_p), Some(avg)) => {
                // The gap is whole cents, exact in any `N` (and zero when nothing moved).
                let gap = N::from_cents((now_p.minor - avg.minor).abs());
                if gap > N::of(p.max_dev_avg90) * num(avg) {
                    flags.insert(Flag::Spike);
                }
            }
            _ => flags.insert(Flag::NoHistory),
        }
        let demand = snap
            .monthly_sold
            .is_some_and(|m| m > 0 && m >= p.min_monthly_sold)
            || snap.rank_drops30.is_some_and(|d| d >= p.min_drops30);
        if !demand {
            flags.insert(Flag::Demand);
        }
        if gates::is_stale(snap.observed_at, now, p.max_keepa_age_hours) {
            flags.insert(Flag::Stale);
        }
        if (p.block_hazmat && snap.is_hazmat) || (p.block_adult && snap.is_adult) {
            flags.insert(Flag::Blocked);
        }
        let unregistered = p.scheme == VatScheme::NotRegistered
            || p.vat_registered_in
                .as_ref()
                .is_some_and(|l| !l.contains(&t));
        if unregistered {
            flags.insert(Flag::VatRegistration);
        }
        if snap.amazon.is_some() || snap.buy_box_is_amazon == Some(true) {
            flags.insert(Flag::Amazon);
        }
        flags
    }

    /// The buy side's market-level gates (stale data, blocked product, UK VAT needing a
    /// registration), which need no table in force.
    pub(super) fn buy_market_flags(&self, snap: &PriceSnapshot, now: DateTime<Utc>) -> FlagSet {
        let p = &self.econ.params;
        let s = snap.market;
        let mut flags = FlagSet::default();
        if gates::is_stale(snap.observed_at, now, p.max_keepa_age_hours) {
            flags.insert(Flag::Stale);
        }
        if (p.block_hazmat && snap.is_hazmat) || (p.block_adult && snap.is_adult) {
            flags.insert(Flag::Blocked);
        }
        // UK input VAT is recovered only with a UK VAT number (§1.6), which an EU seller
        // seldom holds: with no `vat_registered_in` to say so, the row recovers it but
        // says that it needs one (§5: conservative, flagged).
        if p.recoverable_in(s) && s == crate::domain::Market::UK && p.vat_registered_in.is_none() {
            flags.insert(Flag::VatRegistration);
        }
        flags
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn buy_side<N: Num>(
        &self,
        snap: &PriceSnapshot,
        q: &BuyQuote<N>,
        vat_class: Option<&str>,
        tab: &TablesAt<'_>,
        fx: &FxRate,
        fx_src: &str,
        now: DateTime<Utc>,
        explain: bool,
    ) -> BuyCalc<N> {
        let p = &self.econ.params;
        let s = snap.market;
        let cur = s.currency();
        let terms = BuyTerms {
            currency: cur,
            vat: N::of(tab.vat.table.rate(s, vat_class)),
            recoverable: p.recoverable_in(s),
            spread: if cur == Currency::EUR {
                N::zero()
            } else {
                N::of(p.purchase_spread)
            },
        };
        let side = terms.evaluate(q.price, fx);
        let flags = self.buy_market_flags(snap, now);
        let lines = if explain {
            let vat_src = format!("config:vat {}", tab.vat.from);
            // Why input VAT is cost here, when it is.
            let why = if !p.recoverable {
                "no invoice or not VAT-registered: vat_scheme, purchase_vat_invoice".to_string()
            } else if s == crate::domain::Market::UK {
                "no UK VAT number: vat_registered_in does not list UK".to_string()
            } else {
                "no EU VAT number: vat_registered_in lists none".to_string()
            };
            breakdown::buy_lines(s, (&vat_src, fx_src), fx, &terms, &side, &why)
        } else {
            Vec::new()
        };
        BuyCalc {
            lines,
            terms,
            side,
            flags,
        }
    }
}
