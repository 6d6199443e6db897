//! The detector: one product in, every route with a positive gross margin out.
//!
//! Pure and synchronous. Per product it reads each market's sell and buy price once, checks
//! the gross gap of every ordered pair (the cheap test that decides existence), and only for
//! pairs that exist evaluates the net model — the sell side `N` once per sell market, the
//! purchase side once per buy market (both memoised), the route costs per pair. Gates never
//! decide existence; they become flags. With no table in force the row still exists, with
//! its gross figures, zero net figures and `NO_TABLE`, so nothing is invented; with no FBA
//! fee known its net figures count the fee as 0 for the breakdown, and it is flagged
//! `FBA_FEE_UNKNOWN`, which makes them unknown on every screen (`Opportunity::has_net`).
//!
//! Detection builds no breakdown lines (their labels and sources are most of a row's cost
//! and size); `explain` runs the same code for one route with them.
//!
//! The code is generic over the number type (see [`super::num`]): detection runs each
//! product in checked machine arithmetic ([`Bound`]) and again in exact decimals only when
//! that could not settle every cent, percentage and gate, so its rows are always the
//! decimal model's rows. `explain` and [`Detector::detect_exact`] compute in decimals only.

mod gross;
mod sides;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::Economics;
use super::breakdown::{self, pct_label};
use super::fx::{FxRate, FxSource, GbpQuote};
use super::gates::{self, Flag, FlagSet};
use super::model::{self, RouteCost};
use super::num::{self, Bound, Num};
use super::solve::{self, Segments};
use super::tables::{TablesAt, market_index};
use crate::domain::{
    Breakdown, Currency, Market, Money, Opportunity, PriceSnapshot, Product, SellFacts,
};
use gross::gross_exact;
use sides::{BuyCalc, BuyQuote, Package, SellCalc, SellQuote, buy_quote, sell_quote};

/// The detection stage. Cheap to clone; share one per pipeline.
#[derive(Debug, Clone)]
pub struct Detector {
    econ: Arc<Economics>,
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
    ///
    /// Rows come without breakdown lines: those are for the few rows someone looks at, and
    /// [`explain`](Self::explain) rebuilds them exactly from the same inputs.
    pub fn detect_into(
        &self,
        product: &Product,
        fx: &FxRate,
        now: DateTime<Utc>,
        out: &mut Vec<Opportunity>,
    ) {
        if !self.detect_fast(product, fx, now, out) {
            self.detect_exact(product, fx, now, out);
        }
    }

    /// The rows of `product` in checked machine arithmetic, appended to `out`, if that
    /// settles every figure exactly as decimals would; otherwise appends nothing and
    /// returns `false` (then [`detect_exact`](Self::detect_exact) answers).
    pub fn detect_fast(
        &self,
        product: &Product,
        fx: &FxRate,
        now: DateTime<Utc>,
        out: &mut Vec<Opportunity>,
    ) -> bool {
        let start = out.len();
        let _ = num::take_unsure();
        self.run::<Bound>(product, fx, now, None, out);
        if num::take_unsure() {
            out.truncate(start);
            return false;
        }
        true
    }

    /// Like [`detect_into`](Self::detect_into), computing every figure in exact decimals
    /// only: the reference that `detect_into` agrees with, row for row.
    pub fn detect_exact(
        &self,
        product: &Product,
        fx: &FxRate,
        now: DateTime<Utc>,
        out: &mut Vec<Opportunity>,
    ) {
        self.run::<Decimal>(product, fx, now, None, out);
    }

    /// The route `buy → sell` of `product` as [`detect`](Self::detect) computes it at `now`
    /// with `fx`, with its breakdown lines; `None` when the route has no positive gross
    /// margin (or no price on a side). Given a stored row's own time and FX rate (see
    /// [`FxRate::from_record`]) and the product it was computed from, the figures are the
    /// stored ones, so the lines add up to what the row shows.
    pub fn explain(
        &self,
        product: &Product,
        fx: &FxRate,
        now: DateTime<Utc>,
        buy: Market,
        sell: Market,
    ) -> Option<Opportunity> {
        let mut out = Vec::with_capacity(1);
        self.run::<Decimal>(product, fx, now, Some((buy, sell)), &mut out);
        out.pop()
    }

    /// Every route (or only `only`, with breakdown lines) of `product` into `out`,
    /// computed in `N`.
    fn run<N: Num>(
        &self,
        product: &Product,
        fx: &FxRate,
        now: DateTime<Utc>,
        only: Option<(Market, Market)>,
        out: &mut Vec<Opportunity>,
    ) {
        let explain = only.is_some();
        let p = &self.econ.params;
        let date = now.date_naive();
        let tables = self.econ.tables.at(date).ok();
        let Quotes {
            sells,
            buys,
            snaps,
            groups,
        } = self.quotes::<N>(product, fx);
        let package = Package::of(product);
        let labels = Labels::of(fx, date, p.fx_max_age_days, tables.as_ref());
        let Labels {
            fx_stale,
            ref fx_src,
            ref fx_record,
            ref fx_date,
            fx_shown,
            ref versions,
            ..
        } = *labels;
        let title: Option<Arc<str>> = product.title.as_deref().map(Arc::from);
        let brand: Option<Arc<str>> = product.brand.as_deref().map(Arc::from);
        let mut sell_calc: [Option<SellCalc<'_, N>>; 5] = Default::default();
        let mut buy_calc: [Option<BuyCalc<N>>; 5] = Default::default();
        let mut last_category = None;

        let (pairs, n) = routes(&buys, &sells, fx, only);
        out.reserve(n);
        // Identity is symmetric: each unordered pair of markets is compared once.
        let mut same_item = [[None::<bool>; 5]; 5];
        for &(s, t, gross, gross_pct) in &pairs[..n] {
            let (si, ti) = (market_index(s), market_index(t));
            let (Some(bq), Some(s_snap), Some(sq), Some(t_snap)) =
                (buys[si], snaps[si], sells[ti], snaps[ti])
            else {
                continue;
            };
            let gbp_route = s.converts_gbp(t);
            let mut flags = FlagSet::default();
            // A stale rate says nothing about a route between euro markets: no FX in it.
            flags.insert_if(fx_stale && gbp_route, Flag::FxStale);
            let same = *same_item[si][ti].get_or_insert_with(|| gates::same_item(s_snap, t_snap));
            same_item[ti][si] = Some(same);
            flags.insert_if(!same, Flag::Identity);
            let mut row = Opportunity {
                asin: product.asin,
                title: title.clone(),
                buy_market: s,
                sell_market: t,
                buy_price: bq.money,
                sell_price: sq.money,
                gross_margin: Money::eur(gross),
                gross_margin_pct: gross_pct,
                net_profit: Money::eur(0),
                net_margin_pct: 0.0,
                roi_pct: 0.0,
                expected_monthly_profit: Money::eur(0),
                max_buy_price: None,
                target_sell_price: None,
                break_even_sell_price: None,
                ranked: false,
                flags: FlagSet::default(),
                breakdown: Breakdown {
                    lines: Vec::new(),
                    fx_eur_per_gbp: gbp_route.then_some(fx_shown),
                    fx_date: Some(fx_date.clone()),
                    fx_rate: Some(fx_record.clone()),
                    vat_table: None,
                    fee_table: None,
                    buy_observed_at: Some(s_snap.observed_at),
                    sell_observed_at: Some(t_snap.observed_at),
                    unexplained: None,
                },
                updated_at: now,
                first_seen: None,
                sell_facts: SellFacts {
                    brand: brand.clone(),
                    sales_rank: t_snap.sales_rank,
                    monthly_sold: t_snap.monthly_sold,
                    rank_drops30: t_snap.rank_drops30,
                },
            };
            let (Some(tab), Some((vat_v, fee_v))) = (tables, versions) else {
                // No net figures, but the gates that need no table still say what they
                // know of the route and its two markets.
                flags.insert(Flag::NoTable);
                flags.insert_if(self.econ.tables.route(s, t).disabled, Flag::RouteDisabled);
                flags = flags
                    .union(self.sell_market_flags(t_snap, &sq, now))
                    .union(self.buy_market_flags(s_snap, now));
                row.flags = flags;
                out.push(row);
                continue;
            };
            row.breakdown.vat_table = Some(vat_v.clone());
            row.breakdown.fee_table = Some(fee_v.clone());
            let sell = sell_calc[ti].get_or_insert_with(|| {
                let (id, vat_class) = groups[ti];
                // One lookup by id per product (its markets nearly always share one).
                let category = match last_category {
                    Some((seen, c)) if seen == id => c,
                    _ => tab.referral.table.category(id),
                };
                last_category = Some((id, category));
                self.sell_side(
                    t_snap,
                    &sq,
                    (category, vat_class),
                    &tab,
                    &package,
                    fx,
                    fx_src,
                    now,
                    date,
                    explain,
                )
            });
            let buy = buy_calc[si].get_or_insert_with(|| {
                self.buy_side(s_snap, &bq, groups[si].1, &tab, fx, fx_src, now, explain)
            });
            self.combine(&mut row, &mut flags, sell, buy, &package, fx, explain);
            row.flags = flags;
            row.ranked = flags.ranked(gbp_route);
            out.push(row);
        }
    }

    /// Each market's quotes of `product`: the markets that are in no pair (out of stock, a
    /// GBP market without a usable rate) have none.
    fn quotes<'a, N: Num>(&'a self, product: &'a Product, fx: &FxRate) -> Quotes<'a, N> {
        let mut q = Quotes {
            sells: [None; 5],
            buys: [None; 5],
            snaps: [None; 5],
            groups: [("default", None); 5],
        };
        // One group lookup per distinct Keepa group (a product's markets nearly always
        // share one).
        let mut last_group: Option<(&str, (&str, Option<&str>))> = None;
        for (m, s) in &product.markets {
            if s.market != *m || !s.in_stock() || (m.currency() == Currency::GBP && !fx.is_usable())
            {
                continue;
            }
            let i = market_index(*m);
            q.snaps[i] = Some(s);
            let name = s.product_group.as_deref();
            q.groups[i] = match (name, last_group) {
                (Some(n), Some((seen, g))) if n == seen => g,
                _ => {
                    let g = self.econ.tables.group(name);
                    last_group = name.map(|n| (n, g));
                    g
                }
            };
            q.sells[i] = sell_quote(s, self.econ.params.sell_price);
            q.buys[i] = buy_quote(s);
        }
        q
    }

    /// Fills the net figures of `row` from the two sides and the route (and its breakdown
    /// lines when explaining).
    #[allow(clippy::too_many_arguments)]
    fn combine<N: Num>(
        &self,
        row: &mut Opportunity,
        flags: &mut FlagSet,
        sell: &SellCalc<'_, N>,
        buy: &BuyCalc<N>,
        package: &Package,
        fx: &FxRate,
        explain: bool,
    ) {
        let p = &self.econ.params;
        let (s, t) = (row.buy_market, row.sell_market);
        let route = self.econ.tables.route(s, t);
        *flags = flags.union(sell.flags).union(buy.flags);
        flags.insert_if(route.disabled, Flag::RouteDisabled);
        let weight_kg =
            match package.weight_g[market_index(s)].or(package.weight_g[market_index(t)]) {
                Some(g) => N::from_dec(Decimal::new(g, 3)),
                None => {
                    flags.insert_if(!route.inbound_per_kg.is_zero(), Flag::NoPackage);
                    N::zero()
                }
            };
        let add = RouteCost::of(route, buy.side.purchase_eur, sell.terms.vat, weight_kg);
        let landed = buy.side.purchase_eur + add.total;
        let (min_roi, min_profit) = (N::of(p.min_roi), N::of(p.min_profit));
        let fig = model::figures(&sell.side, t.currency(), landed, fx, min_roi, min_profit);
        flags.insert_if(fig.profit < min_profit, Flag::Profit);
        flags.insert_if(
            landed <= N::zero() || fig.profit < min_roi * landed,
            Flag::Roi,
        );

        // Max buy price: closed form unless customs make Add depend on P_S. Not with an
        // unknown FBA fee: counted as 0, it would raise all three prices.
        let fee_known = !flags.contains(Flag::FbaFeeUnknown);
        let no_customs = add.ship_to_you + add.prep + add.inbound + add.inbound_weight;
        let budget = fig.max_cost - no_customs;
        row.max_buy_price = if !fee_known || budget <= N::zero() {
            None
        } else {
            let closed = buy.terms.closed_form_price(budget, fx);
            match &route.customs {
                None => Some(closed.money(s.currency())).filter(|m| m.minor > 0),
                Some(customs) => {
                    let hi = closed.money(s.currency()).minor.saturating_add(1);
                    // L is affine in the purchase: (1 + duty)(1 + unrecovered import VAT) a
                    // euro, plus the broker's share; its closed form is the search's hint.
                    let import_vat = if customs.import_vat_recoverable {
                        N::zero()
                    } else {
                        sell.terms.vat
                    };
                    let per_eur = (N::one() + N::of(customs.duty_rate)) * (N::one() + import_vat);
                    let hint = (budget - N::of(customs.broker_per_unit))
                        .checked_div(per_eur)
                        .map(|b| buy.terms.closed_form_price(b, fx) * N::from_i64(100))
                        .and_then(N::ceil_hint)
                        .map(|c| c - 1);
                    let passes = |price: N| {
                        let side = buy.terms.evaluate(price, fx);
                        let add =
                            RouteCost::of(route, side.purchase_eur, sell.terms.vat, weight_kg);
                        model::passes_money_gates(
                            fig.net,
                            side.purchase_eur + add.total,
                            min_roi,
                            min_profit,
                        )
                    };
                    solve::largest_passing_near(hint, hi, |c| passes(N::from_cents(c)))
                        .map(|c| solve::shown_max_buy(c, hi, passes))
                        .map(|c| Money::new(c, s.currency()))
                }
            }
        };
        let reach = |target: N| -> Option<Money> {
            if !fee_known {
                return None;
            }
            if let Some(price) = sell.closed.and_then(|c| c.price(target, fx)) {
                return Some(price.money(t.currency()));
            }
            let found = if sell.segments.is_empty() {
                Segments::of(&sell.terms, fx).shown_sell_price(&sell.terms, fx, target)
            } else {
                sell.segments.shown_sell_price(&sell.terms, fx, target)
            };
            found.map(|c| Money::new(c, t.currency()))
        };
        row.target_sell_price = reach(landed * (N::one() + min_roi));
        row.break_even_sell_price = reach(landed);

        let e = gates::expected_monthly_profit(fig.profit, sell.q_t, N::of(p.max_units));
        row.net_profit = fig.profit.money(Currency::EUR);
        row.net_margin_pct = fig.margin_net.pct();
        row.roi_pct = fig.roi.pct();
        row.expected_monthly_profit = e.money(Currency::EUR);
        if !explain {
            return;
        }

        let mut lines = Vec::with_capacity(sell.lines.len() + buy.lines.len() + 8);
        lines.extend_from_slice(&sell.lines);
        lines.extend_from_slice(&buy.lines);
        // With no FBA fee known the figures count it as 0: the row shows no net figures,
        // and the line that would read as its profit says what it leaves out.
        let profit_label = if fee_known {
            format!(
                "Profit π: {:.2} % of net revenue, {:.2} % of gross; ROI {:.2} % (target {})",
                row.net_margin_pct,
                fig.margin_gross.pct(),
                row.roi_pct,
                pct_label(p.min_roi.dec())
            )
        } else {
            "Profit π before the FBA fee, which is unknown (FBA_FEE_UNKNOWN): not a profit"
                .to_string()
        };
        breakdown::route_lines(&mut lines, route, &add, landed, profit_label, fig.profit);
        breakdown::reconcile(&mut lines);
        row.breakdown.lines = lines;
    }
}

/// A product's quotes per market (by [`market_index`]).
struct Quotes<'a, N> {
    sells: [Option<SellQuote<N>>; 5],
    buys: [Option<BuyQuote<N>>; 5],
    snaps: [Option<&'a PriceSnapshot>; 5],
    /// Referral category and VAT class.
    groups: [(&'a str, Option<&'a str>); 5],
}

/// A route that exists: buy and sell market, gross margin in EUR cents and percent.
type Route = (Market, Market, i64, f64);

/// The routes that exist (both sides priced and a positive gross gap; only `only` if
/// given) and how many, counted first so the rows take one allocation.
fn routes<N: Num>(
    buys: &[Option<BuyQuote<N>>; 5],
    sells: &[Option<SellQuote<N>>; 5],
    fx: &FxRate,
    only: Option<(Market, Market)>,
) -> ([Route; 20], usize) {
    let exact = fx.exact();
    let mut pairs = [(Market::UK, Market::UK, 0, 0.0); 20];
    let mut n = 0;
    for s in Market::ALL {
        let Some(bq) = buys[market_index(s)] else {
            continue;
        };
        for t in Market::ALL {
            let Some(sq) = sells[market_index(t)] else {
                continue;
            };
            if s == t || only.is_some_and(|o| o != (s, t)) {
                continue;
            }
            let (gross, pct) = gross_exact(bq.money, sq.money, exact).unwrap_or_else(|| {
                let buy_eur = fx.to_eur(bq.price, s.currency());
                let gross = fx.to_eur(sq.price, t.currency()) - buy_eur;
                (gross.money(Currency::EUR).minor, (gross / buy_eur).pct())
            });
            // Positive as the row shows it: a GBP gap of a fraction of a cent rounds to a
            // gross margin of 0.00, which is no margin.
            if gross > 0 {
                pairs[n] = (s, t, gross, pct);
                n += 1;
            }
        }
    }
    (pairs, n)
}

/// What every row computed with one FX rate, on one day, with one set of tables shares:
/// the rate's labels and the table versions. Rather than format them (five strings) for
/// every product, each thread keeps the last set and reuses it while its inputs are the
/// same.
struct Labels {
    key: LabelsKey,
    fx_stale: bool,
    fx_src: String,
    fx_record: Arc<str>,
    fx_date: Arc<str>,
    fx_shown: f64,
    versions: Option<(Arc<str>, Arc<str>)>,
}

/// What the labels depend on. The rate is compared as written (`0.8653` and `0.86530` are
/// one number, but two records), so its decimal is kept with its scale.
#[derive(PartialEq)]
struct LabelsKey {
    /// Quoted as GBP per EUR (else EUR per GBP).
    gbp_per_eur: bool,
    /// The rate's decimal, serialized (with its scale).
    rate: [u8; 16],
    source: FxSource,
    fx_date: NaiveDate,
    /// The day the rows are computed on.
    date: NaiveDate,
    fx_max_age_days: i64,
    /// The VAT and fee tables' `effective_from`, when tables are in force.
    tables: Option<(NaiveDate, NaiveDate)>,
}

thread_local! {
    static LABELS: RefCell<Option<Rc<Labels>>> = const { RefCell::new(None) };
}

impl Labels {
    /// The labels for `fx` on `date` with `tables` (this thread's last set if it matches).
    fn of(
        fx: &FxRate,
        date: NaiveDate,
        fx_max_age_days: i64,
        tables: Option<&TablesAt<'_>>,
    ) -> Rc<Self> {
        let (per_eur, rate) = match fx.gbp {
            GbpQuote::GbpPerEur(x) => (true, x),
            GbpQuote::EurPerGbp(y) => (false, y),
        };
        let key = LabelsKey {
            gbp_per_eur: per_eur,
            rate: rate.dec().serialize(),
            source: fx.source,
            fx_date: fx.date,
            date,
            fx_max_age_days,
            tables: tables.map(|t| (t.vat.from, t.referral.from)),
        };
        LABELS.with(|cell| {
            let mut cached = cell.borrow_mut();
            if let Some(l) = cached.as_ref().filter(|l| l.key == key) {
                return l.clone();
            }
            let labels = Rc::new(Labels {
                fx_stale: fx.is_stale(date, fx_max_age_days),
                fx_src: fx.source_label(),
                fx_record: fx.record().into(),
                fx_date: fx.date.to_string().into(),
                fx_shown: fx.eur_per_gbp_display(),
                versions: key
                    .tables
                    .map(|(vat, fee)| (vat.to_string().into(), fee.to_string().into())),
                key,
            });
            *cached = Some(labels.clone());
            labels
        })
    }
}
