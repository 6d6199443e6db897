//! The detector: one product in, every route with a positive gross margin out.
//!
//! Pure and synchronous. Per product it reads each market's sell and buy price once, checks
//! the gross gap of every ordered pair (the cheap test that decides existence), and only for
//! pairs that exist evaluates the net model — the sell side `N` once per sell market, the
//! purchase side once per buy market (both memoised), the route costs per pair. Gates never
//! decide existence; they become flags. With no table in force the row still exists, with
//! its gross figures, zero net figures and `NO_TABLE`, so nothing is invented.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

use super::breakdown::{self, SellSources, money, pct_label};
use super::fx::FxRate;
use super::gates::{self, flag};
use super::model::{self, BuySide, BuyTerms, RouteCost, SellSide, SellTerms};
use super::solve::{self, cents_to_decimal};
use super::tables::{TablesAt, market_index};
use super::{Economics, SellPriceRule, VatScheme, pct};
use crate::domain::{
    Breakdown, BreakdownLine, Currency, Market, Money, Opportunity, PriceSnapshot, Product,
};
use crate::keepa::csv::MAX_PRICE_MINOR;

/// Keepa's lowest-New price includes shipping only from this day on (docs/economics.md §3).
const NEW_INCLUDES_SHIPPING_FROM: (i32, u32, u32) = (2026, 2, 16);

/// The detection stage. Cheap to clone; share one per pipeline.
#[derive(Debug, Clone)]
pub struct Detector {
    econ: Arc<Economics>,
}

/// Which series the sell price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Basis {
    BuyBox,
    Amazon,
    New,
}

/// A market's sell price and the series it came from.
#[derive(Debug, Clone, Copy)]
struct SellQuote {
    money: Money,
    price: Decimal,
    eur: Decimal,
    basis: Basis,
    now: Option<Decimal>,
    avg: Option<Decimal>,
}

/// A market's buy price.
#[derive(Debug, Clone, Copy)]
struct BuyQuote {
    money: Money,
    price: Decimal,
    eur: Decimal,
}

/// The sell side of one market, evaluated.
struct SellCalc<'a> {
    terms: SellTerms<'a>,
    side: SellSide,
    flags: Vec<&'static str>,
    lines: Vec<BreakdownLine>,
    q_t: Decimal,
}

/// The buy side of one market, evaluated.
struct BuyCalc {
    terms: BuyTerms,
    side: BuySide,
    lines: Vec<BreakdownLine>,
    flags: Vec<&'static str>,
}

/// A price in minor units if it is present, positive, plausible and in the market's currency.
fn valid(m: Option<Money>, currency: Currency) -> Option<Money> {
    m.filter(|m| m.currency == currency && (1..=MAX_PRICE_MINOR).contains(&m.minor))
}

fn dec(m: Money) -> Decimal {
    cents_to_decimal(m.minor)
}

fn sell_quote(s: &PriceSnapshot, rule: SellPriceRule, fx: &FxRate) -> Option<SellQuote> {
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
    let price = dec(money);
    Some(SellQuote {
        money,
        price,
        eur: fx.to_eur(price, cur),
        basis,
        now: now.map(dec),
        avg: avg.map(dec),
    })
}

fn buy_quote(s: &PriceSnapshot, fx: &FxRate) -> Option<BuyQuote> {
    let cur = s.market.currency();
    let money =
        valid(s.buy_box, cur).or_else(|| match (valid(s.amazon, cur), valid(s.new, cur)) {
            (Some(a), Some(n)) => Some(if n.minor < a.minor { n } else { a }),
            (a, n) => a.or(n),
        })?;
    let price = dec(money);
    Some(BuyQuote {
        money,
        price,
        eur: fx.to_eur(price, cur),
    })
}

/// Flags in one canonical order: failed gates first, then warnings.
fn ordered(mut flags: Vec<&'static str>) -> Vec<String> {
    const ORDER: [&str; 18] = [
        flag::PROFIT,
        flag::ROI,
        flag::SPIKE,
        flag::NO_HISTORY,
        flag::DEMAND,
        flag::STALE,
        flag::FX_STALE,
        flag::IDENTITY,
        flag::BLOCKED,
        flag::NO_TABLE,
        flag::ROUTE_DISABLED,
        flag::FBA_FEE_UNKNOWN,
        flag::NO_PACKAGE,
        flag::NO_BUYBOX,
        flag::NO_SHIPPING,
        flag::FEE_MISMATCH,
        flag::VAT_REGISTRATION,
        flag::AMAZON,
    ];
    flags.sort_by_key(|f| ORDER.iter().position(|o| o == f).unwrap_or(ORDER.len()));
    flags.dedup();
    flags.into_iter().map(str::to_string).collect()
}

/// Package facts for one product: a market's own record first, else any other market's.
struct Package {
    weight_g: [Option<i64>; 5],
    volume_mm3: [Option<i128>; 5],
}

impl Package {
    fn of(product: &Product) -> Self {
        let any_weight = product.markets.values().find_map(|s| s.package.weight_g);
        let any_volume = product
            .markets
            .values()
            .find_map(|s| s.package.volume_mm3());
        let mut p = Package {
            weight_g: [any_weight; 5],
            volume_mm3: [any_volume; 5],
        };
        for (m, s) in &product.markets {
            let i = market_index(*m);
            p.weight_g[i] = s.package.weight_g.or(any_weight);
            p.volume_mm3[i] = s.package.volume_mm3().or(any_volume);
        }
        p
    }
}

impl Detector {
    /// A detector computing with `econ`.
    pub fn new(econ: Arc<Economics>) -> Self {
        Detector { econ }
    }

    /// The economics in use.
    pub fn economics(&self) -> &Economics {
        &self.econ
    }

    /// Every route of `product` with a positive gross margin, computed at `now` with `fx`.
    pub fn detect(&self, product: &Product, fx: &FxRate, now: DateTime<Utc>) -> Vec<Opportunity> {
        let mut out = Vec::new();
        self.detect_into(product, fx, now, &mut out);
        out
    }

    /// Like [`detect`](Self::detect), appending to `out` (reuse it across products).
    pub fn detect_into(
        &self,
        product: &Product,
        fx: &FxRate,
        now: DateTime<Utc>,
        out: &mut Vec<Opportunity>,
    ) {
        let p = &self.econ.params;
        let date = now.date_naive();
        let mut sells: [Option<SellQuote>; 5] = [None; 5];
        let mut buys: [Option<BuyQuote>; 5] = [None; 5];
        let mut snaps: [Option<&PriceSnapshot>; 5] = [None; 5];
        for (m, s) in &product.markets {
            if s.market != *m || !s.in_stock() || (m.currency() == Currency::GBP && !fx.is_usable())
            {
                continue;
            }
            let i = market_index(*m);
            snaps[i] = Some(s);
            sells[i] = sell_quote(s, p.sell_price, fx);
            buys[i] = buy_quote(s, fx);
        }
        let tables = self.econ.tables.at(date).ok();
        let package = Package::of(product);
        let fx_stale = fx.is_stale(date, p.fx_max_age_days);
        let fx_src = fx.source_label();
        let fx_date = fx.date.to_string();
        let fx_shown = fx.eur_per_gbp_display();
        let versions = tables.map(|t| (t.vat.from.to_string(), t.referral.from.to_string()));
        let mut sell_calc: [Option<SellCalc<'_>>; 5] = Default::default();
        let mut buy_calc: [Option<BuyCalc>; 5] = Default::default();

        for s in Market::ALL {
            let si = market_index(s);
            let (Some(bq), Some(s_snap)) = (buys[si], snaps[si]) else {
                continue;
            };
            for t in Market::ALL {
                let ti = market_index(t);
                let (Some(sq), Some(t_snap)) = (sells[ti], snaps[ti]) else {
                    continue;
                };
                let gross = sq.eur - bq.eur;
                if s == t || gross <= Decimal::ZERO {
                    continue;
                }
                let gbp_route = s.currency() == Currency::GBP || t.currency() == Currency::GBP;
                let mut flags: Vec<&'static str> = Vec::with_capacity(8);
                if fx_stale {
                    flags.push(flag::FX_STALE);
                }
                if !gates::same_item(s_snap, t_snap) {
                    flags.push(flag::IDENTITY);
                }
                let mut row = Opportunity {
                    asin: product.asin,
                    title: product.title.clone(),
                    buy_market: s,
                    sell_market: t,
                    buy_price: bq.money,
                    sell_price: sq.money,
                    gross_margin: money(gross, Currency::EUR),
                    gross_margin_pct: pct(gross / bq.eur),
                    net_profit: Money::eur(0),
                    net_margin_pct: 0.0,
                    roi_pct: 0.0,
                    expected_monthly_profit: Money::eur(0),
                    max_buy_price: None,
                    target_sell_price: None,
                    break_even_sell_price: None,
                    ranked: false,
                    flags: Vec::new(),
                    breakdown: Breakdown {
                        lines: Vec::new(),
                        fx_eur_per_gbp: gbp_route.then_some(fx_shown),
                        fx_date: Some(fx_date.clone()),
                        vat_table: None,
                        fee_table: None,
                        buy_observed_at: Some(s_snap.observed_at),
                        sell_observed_at: Some(t_snap.observed_at),
                    },
                    updated_at: now,
                };
                let (Some(tab), Some((vat_v, fee_v))) = (tables, &versions) else {
                    flags.push(flag::NO_TABLE);
                    row.flags = ordered(flags);
                    out.push(row);
                    continue;
                };
                row.breakdown.vat_table = Some(vat_v.clone());
                row.breakdown.fee_table = Some(fee_v.clone());
                let sell = sell_calc[ti].get_or_insert_with(|| {
                    self.sell_side(t_snap, &sq, &tab, &package, fx, &fx_src, now, date)
                });
                let buy = buy_calc[si]
                    .get_or_insert_with(|| self.buy_side(s_snap, &bq, &tab, fx, &fx_src, now));
                self.combine(&mut row, &mut flags, sell, buy, &package, fx);
                row.flags = ordered(flags);
                row.ranked = gates::is_ranked(&row.flags, gbp_route);
                out.push(row);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn sell_side<'a>(
        &self,
        snap: &PriceSnapshot,
        q: &SellQuote,
        tab: &TablesAt<'a>,
        package: &Package,
        fx: &FxRate,
        fx_src: &str,
        now: DateTime<Utc>,
        date: NaiveDate,
    ) -> SellCalc<'a> {
        let p = &self.econ.params;
        let t = snap.market;
        let ti = market_index(t);
        let cur = t.currency();
        let mut flags: Vec<&'static str> = Vec::new();
        let (group, vat_class) = self.econ.tables.group(snap.product_group.as_deref());
        let schedule = &tab.referral.table;
        let category = schedule.category(group);

        let (fba_fee, fba_src) = match snap
            .fba_fee
            .filter(|f| f.currency == cur && (0..=MAX_PRICE_MINOR).contains(&f.minor))
        {
            Some(f) => (dec(f), "keepa".to_string()),
            None => match (tab.fba, package.weight_g[ti]) {
                (Some(table), Some(w)) => match table.table.fee(t, w) {
                    Some(fee) => (fee, format!("config:fba {} ({w} g)", table.from)),
                    None => {
                        flags.push(flag::FBA_FEE_UNKNOWN);
                        (
                            Decimal::ZERO,
                            format!("unknown: {w} g is beyond config:fba {}", table.from),
                        )
                    }
                },
                (None, _) => {
                    flags.push(flag::FBA_FEE_UNKNOWN);
                    (
                        Decimal::ZERO,
                        "unknown: no Keepa fee and no config:fba table in force".to_string(),
                    )
                }
                (Some(_), None) => {
                    flags.push(flag::FBA_FEE_UNKNOWN);
                    (
                        Decimal::ZERO,
                        "unknown: no Keepa fee and no package weight".to_string(),
                    )
                }
            },
        };
        let rate = tab.storage.table.rate(t, date);
        let (storage, storage_label) = match package.volume_mm3[ti]
            .and_then(|v| Decimal::try_from_i128_with_scale(v, 9).ok())
        {
            Some(m3) => (
                rate * m3 * p.months_to_sell,
                format!(
                    "{}/m³·month × {} m³ × {} month(s)",
                    breakdown::amount_label(rate),
                    m3.normalize(),
                    p.months_to_sell.normalize()
                ),
            ),
            None => {
                if !(rate * p.months_to_sell).is_zero() {
                    flags.push(flag::NO_PACKAGE);
                }
                (Decimal::ZERO, "unknown: no package dimensions".to_string())
            }
        };
        let terms = SellTerms {
            currency: cur,
            vat: tab.vat.table.rate(t, vat_class),
            category,
            schedule,
            dsf: schedule.dsf[ti],
            fee_vat: p.fee_vat,
            fba_fee,
            storage,
            returns: p.returns_reserve,
            payout_fee: if cur == Currency::EUR {
                Decimal::ZERO
            } else {
                p.payout_fee
            },
        };
        let side = terms.evaluate(q.price, fx);

        // Data warnings and the market-level gates.
        match q.basis {
            Basis::BuyBox => {}
            Basis::Amazon => flags.push(flag::NO_BUYBOX),
            Basis::New => {
                flags.push(flag::NO_BUYBOX);
                let (y, m, d) = NEW_INCLUDES_SHIPPING_FROM;
                if NaiveDate::from_ymd_opt(y, m, d)
                    .is_some_and(|cut| snap.observed_at.date_naive() < cut)
                {
                    flags.push(flag::NO_SHIPPING);
                }
            }
        }
        match (q.now, q.avg) {
            (Some(now_p), Some(avg)) => {
                if (now_p - avg).abs() > p.max_dev_avg90 * avg {
                    flags.push(flag::SPIKE);
                }
            }
            _ => flags.push(flag::NO_HISTORY),
        }
        let demand = snap
            .monthly_sold
            .is_some_and(|m| m > 0 && m >= p.min_monthly_sold)
            || snap.rank_drops30.is_some_and(|d| d >= p.min_drops30);
        if !demand {
            flags.push(flag::DEMAND);
        }
        if gates::is_stale(snap.observed_at, now, p.max_keepa_age_hours) {
            flags.push(flag::STALE);
        }
        if (p.block_hazmat && snap.is_hazmat) || (p.block_adult && snap.is_adult) {
            flags.push(flag::BLOCKED);
        }
        if let Some(keepa) = snap.referral_fee_pct.and_then(Decimal::from_f64) {
            let off = |r: Decimal| (r * Decimal::ONE_HUNDRED - keepa).abs() > p.fee_mismatch_points;
            let mismatch = match category.mode {
                super::config::TierMode::Marginal => {
                    category.tiers.iter().all(|tier| off(tier.rate))
                }
                _ => off(category.rate_at(q.price)),
            };
            if mismatch {
                flags.push(flag::FEE_MISMATCH);
            }
        }
        let unregistered = p.scheme == VatScheme::NotRegistered
            || p.vat_registered_in
                .as_ref()
                .is_some_and(|l| !l.contains(&t));
        if unregistered {
            flags.push(flag::VAT_REGISTRATION);
        }
        if snap.amazon.is_some() || snap.buy_box_is_amazon == Some(true) {
            flags.push(flag::AMAZON);
        }

        let basis = match q.basis {
            Basis::BuyBox => "Buy Box landed",
            Basis::Amazon => "Amazon's offer (no Buy Box data)",
            Basis::New => "lowest New (no Buy Box data)",
        };
        let vat_src = format!("config:vat {}", tab.vat.from);
        let referral_src = format!("config:referral {}", tab.referral.from);
        let storage_src = format!("config:storage {}", tab.storage.from);
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
        SellCalc {
            lines: breakdown::sell_lines(&src, &terms, &side),
            terms,
            side,
            flags,
            q_t: gates::monthly_units(snap),
        }
    }

    fn buy_side(
        &self,
        snap: &PriceSnapshot,
        q: &BuyQuote,
        tab: &TablesAt<'_>,
        fx: &FxRate,
        fx_src: &str,
        now: DateTime<Utc>,
    ) -> BuyCalc {
        let p = &self.econ.params;
        let s = snap.market;
        let cur = s.currency();
        let (_, vat_class) = self.econ.tables.group(snap.product_group.as_deref());
        let terms = BuyTerms {
            currency: cur,
            vat: tab.vat.table.rate(s, vat_class),
            recoverable: p.recoverable,
            spread: if cur == Currency::EUR {
                Decimal::ZERO
            } else {
                p.purchase_spread
            },
        };
        let side = terms.evaluate(q.price, fx);
        let mut flags = Vec::new();
        if gates::is_stale(snap.observed_at, now, p.max_keepa_age_hours) {
            flags.push(flag::STALE);
        }
        if (p.block_hazmat && snap.is_hazmat) || (p.block_adult && snap.is_adult) {
            flags.push(flag::BLOCKED);
        }
        let vat_src = format!("config:vat {}", tab.vat.from);
        BuyCalc {
            lines: breakdown::buy_lines(s, &vat_src, fx_src, &terms, &side),
            terms,
            side,
            flags,
        }
    }

    /// Fills the net figures of `row` from the two sides and the route.
    fn combine(
        &self,
        row: &mut Opportunity,
        flags: &mut Vec<&'static str>,
        sell: &SellCalc<'_>,
        buy: &BuyCalc,
        package: &Package,
        fx: &FxRate,
    ) {
        let p = &self.econ.params;
        let (s, t) = (row.buy_market, row.sell_market);
        let route = self.econ.tables.route(s, t);
        flags.extend_from_slice(&sell.flags);
        flags.extend_from_slice(&buy.flags);
        if route.disabled {
            flags.push(flag::ROUTE_DISABLED);
        }
        let weight_kg =
            match package.weight_g[market_index(s)].or(package.weight_g[market_index(t)]) {
                Some(g) => Decimal::new(g, 3),
                None => {
                    if !route.inbound_per_kg.is_zero() {
                        flags.push(flag::NO_PACKAGE);
                    }
                    Decimal::ZERO
                }
            };
        let add = RouteCost::of(route, buy.side.purchase_eur, sell.terms.vat, weight_kg);
        let landed = buy.side.purchase_eur + add.total;
        let fig = model::figures(
            &sell.side,
            t.currency(),
            landed,
            fx,
            p.min_roi,
            p.min_profit,
        );
        if fig.profit < p.min_profit {
            flags.push(flag::PROFIT);
        }
        if landed <= Decimal::ZERO || fig.profit < p.min_roi * landed {
            flags.push(flag::ROI);
        }

        // Max buy price: closed form unless customs make Add depend on P_S.
        let no_customs = add.ship_to_you + add.prep + add.inbound + add.inbound_weight;
        let budget = fig.max_cost - no_customs;
        row.max_buy_price = if budget <= Decimal::ZERO {
            None
        } else {
            let closed = buy.terms.closed_form_price(budget, fx);
            match &route.customs {
                None => Some(money(closed, s.currency())).filter(|m| m.minor > 0),
                Some(_) => {
                    let hi = breakdown::money(closed, s.currency())
                        .minor
                        .saturating_add(1);
                    solve::largest_passing(hi, |c| {
                        let side = buy.terms.evaluate(cents_to_decimal(c), fx);
                        let add =
                            RouteCost::of(route, side.purchase_eur, sell.terms.vat, weight_kg);
                        model::passes_money_gates(
                            fig.net,
                            side.purchase_eur + add.total,
                            p.min_roi,
                            p.min_profit,
                        )
                    })
                    .map(|c| Money::new(c, s.currency()))
                }
            }
        };
        let reach = |target: Decimal| -> Option<Money> {
            match sell.terms.closed_form_price(target, fx) {
                Some(price) => Some(money(price, t.currency())),
                None => solve::smallest_sell_price(&sell.terms, fx, target)
                    .map(|c| Money::new(c, t.currency())),
            }
        };
        row.target_sell_price = reach(landed * (Decimal::ONE + p.min_roi));
        row.break_even_sell_price = reach(landed);

        let e = gates::expected_monthly_profit(fig.profit, sell.q_t, p.max_units);
        row.net_profit = money(fig.profit, Currency::EUR);
        row.net_margin_pct = pct(fig.margin_net);
        row.roi_pct = pct(fig.roi);
        row.expected_monthly_profit = money(e, Currency::EUR);

        let mut lines = Vec::with_capacity(sell.lines.len() + buy.lines.len() + 8);
        lines.extend_from_slice(&sell.lines);
        lines.extend_from_slice(&buy.lines);
        let profit_label = format!(
            "Profit π: {} % of net revenue, {} % of gross; ROI {} % (target {})",
            row.net_margin_pct,
            pct(fig.margin_gross),
            row.roi_pct,
            pct_label(p.min_roi)
        );
        breakdown::route_lines(
            &mut lines,
            &route.source,
            &add,
            landed,
            profit_label,
            fig.profit,
        );
        row.breakdown.lines = lines;
    }
}
