//! §4 in exact decimals: net proceeds `N` of the sell side, landed cost `L` of the buy side,
//! the route costs `Add`, profit, ROI, margins, max cost and the closed forms.
//!
//! Everything is generic over [`Num`]: exact decimals by default (the reference, and what
//! breakdown lines are built from), or the checked fast path the detector tries first.
//!
//! The split follows the data: `N` depends only on the sell market (and its price), the
//! purchase cost only on the buy market, and `Add` on the route (and, through customs, on
//! the purchase cost). The detector evaluates each side once per market and combines them
//! per pair. Nothing here rounds: callers round each shown figure once.

use rust_decimal::Decimal;

use super::fx::FxRate;
use super::num::Num;
use super::tables::{Category, Dsf, ReferralSchedule, Route};
use crate::domain::Currency;

/// What selling one unit in T costs, apart from the price.
#[derive(Debug, Clone, Copy)]
pub struct SellTerms<'a, N = Decimal> {
    /// T's currency.
    pub currency: Currency,
    /// v_T.
    pub vat: N,
    /// The referral category.
    pub category: &'a Category,
    /// The schedule (minimum fee).
    pub schedule: &'a ReferralSchedule,
    /// DSF in T.
    pub dsf: Dsf<N>,
    /// φ.
    pub fee_vat: N,
    /// F_T, in T's currency.
    pub fba_fee: N,
    /// Sto, in T's currency.
    pub storage: N,
    /// Ret, in T's currency.
    pub returns: N,
    /// a_T (0 for EUR).
    pub payout_fee: N,
}

/// The sell side evaluated at one price. Amounts in T's currency unless named `_eur`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SellSide<N = Decimal> {
    /// P_T, gross.
    pub price: N,
    /// P_T / (1 + v_T).
    pub net_price: N,
    /// P_T − net price.
    pub output_vat: N,
    /// ref(P_T).
    pub referral: N,
    /// ref · d_ref.
    pub referral_dsf: N,
    /// (F_T + Sto) · d_fba.
    pub fba_dsf: N,
    /// Fees before VAT · φ.
    pub fee_vat: N,
    /// Fees_T.
    pub fees: N,
    /// Net price − Fees_T − Ret.
    pub proceeds: N,
    /// Proceeds in EUR before the payout fee.
    pub proceeds_eur: N,
    /// The payout conversion fee, EUR.
    pub payout_fee_eur: N,
    /// N, EUR.
    pub net_eur: N,
}

impl<N: Num> SellTerms<'_, N> {
    /// The sell side at `price` (gross, in T's currency).
    pub fn evaluate(&self, price: N, fx: &FxRate) -> SellSide<N> {
        let net_price = price / (N::one() + self.vat);
        let referral = self.schedule.fee(self.category, price, self.currency);
        let referral_dsf = referral * self.dsf.referral;
        let fba_dsf = (self.fba_fee + self.storage) * self.dsf.fba;
        let before_vat = referral + referral_dsf + self.fba_fee + self.storage + fba_dsf;
        let fee_vat = before_vat * self.fee_vat;
        let fees = before_vat + fee_vat;
        let proceeds = net_price - fees - self.returns;
        let proceeds_eur = fx.to_eur(proceeds, self.currency);
        let payout_fee_eur = proceeds_eur * self.payout_fee;
        SellSide {
            price,
            net_price,
            output_vat: price - net_price,
            referral,
            referral_dsf,
            fba_dsf,
            fee_vat,
            fees,
            proceeds,
            proceeds_eur,
            payout_fee_eur,
            net_eur: proceeds_eur - payout_fee_eur,
        }
    }

    /// The closed-form price reaching `cost_target_eur` of net proceeds (`L·(1+ROI_t)`):
    /// only for a flat rate whose minimum fee does not bind at the answer.
    pub fn closed_form_price(&self, cost_target_eur: N, fx: &FxRate) -> Option<N> {
        self.closed_form()?.price(cost_target_eur, fx)
    }

    /// The price-independent part of the closed form, when the schedule is flat:
    /// `r' = r·(1+d_ref)·(1+φ)`, `F' = (F + Sto)·(1+d_fba)·(1+φ)` and `1/(1+v) − r'`.
    pub fn closed_form(&self) -> Option<ClosedForm<N>> {
        let r = N::of(self.category.flat_rate()?);
        let one = N::one();
        let r_eff = r * (one + self.dsf.referral) * (one + self.fee_vat);
        let f_eff = (self.fba_fee + self.storage) * (one + self.dsf.fba) * (one + self.fee_vat);
        let denom = one / (one + self.vat) - r_eff;
        (denom > N::zero() && self.payout_fee < one).then(|| ClosedForm {
            currency: self.currency,
            rate: r,
            min_fee: N::of(self.schedule.min_fee(self.currency)),
            fixed: f_eff + self.returns,
            denom,
            payout_fee: self.payout_fee,
        })
    }
}

/// `P_T* = (L·(1+ROI_t)/(fx_T·(1−a_T)) + F' + Ret) / (1/(1+v_T) − r')`, prepared once per
/// sell market.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClosedForm<N = Decimal> {
    currency: Currency,
    rate: N,
    min_fee: N,
    fixed: N,
    denom: N,
    payout_fee: N,
}

impl<N: Num> ClosedForm<N> {
    /// The gross price whose net proceeds are `cost_target_eur`, unless the minimum fee
    /// binds there (then only a search answers).
    pub fn price(&self, cost_target_eur: N, fx: &FxRate) -> Option<N> {
        let mut needed = fx.from_eur(cost_target_eur, self.currency);
        if !self.payout_fee.is_zero() {
            needed = needed.checked_div(N::one() - self.payout_fee)?;
        }
        let p = (needed + self.fixed).checked_div(self.denom)?;
        let binding = self.rate * p < self.min_fee;
        (p > N::zero() && !binding).then_some(p)
    }
}

/// What buying one unit in S costs, apart from the price.
#[derive(Debug, Clone, Copy)]
pub struct BuyTerms<N = Decimal> {
    /// S's currency.
    pub currency: Currency,
    /// v_S.
    pub vat: N,
    /// rec.
    pub recoverable: bool,
    /// κ_S (0 for EUR).
    pub spread: N,
}

/// The buy side at one price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BuySide<N = Decimal> {
    /// P_S, gross, S's currency.
    pub price: N,
    /// Input VAT recovered (0 when not recoverable), S's currency.
    pub vat_recovered: N,
    /// What the goods cost net of recovered VAT, in EUR before the spread.
    pub cost_eur: N,
    /// κ on it, EUR.
    pub spread_eur: N,
    /// (rec ? P/(1+v) : P) · fx · (1+κ): the purchase part of L, EUR.
    pub purchase_eur: N,
}

impl<N: Num> BuyTerms<N> {
    /// The buy side at `price` (gross, in S's currency).
    pub fn evaluate(&self, price: N, fx: &FxRate) -> BuySide<N> {
        let cost = if self.recoverable {
            price / (N::one() + self.vat)
        } else {
            price
        };
        let cost_eur = fx.to_eur(cost, self.currency);
        let spread_eur = cost_eur * self.spread;
        BuySide {
            price,
            vat_recovered: price - cost,
            cost_eur,
            spread_eur,
            purchase_eur: cost_eur + spread_eur,
        }
    }

    /// Max buy price in closed form: the gross shelf price whose purchase part is `budget_eur`
    /// (= L_max − Add), in S's currency.
    pub fn closed_form_price(&self, budget_eur: N, fx: &FxRate) -> N {
        let native = fx.from_eur(budget_eur / (N::one() + self.spread), self.currency);
        if self.recoverable {
            native * (N::one() + self.vat)
        } else {
            native
        }
    }
}

/// `Add`: the route's costs for one unit, EUR.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RouteCost<N = Decimal> {
    /// Delivery to the operator.
    pub ship_to_you: N,
    /// Prep and labels.
    pub prep: N,
    /// Inbound, fixed part.
    pub inbound: N,
    /// Inbound, per-kg part.
    pub inbound_weight: N,
    /// Import duty.
    pub duty: N,
    /// Broker fee share.
    pub broker: N,
    /// Unrecoverable import VAT.
    pub import_vat: N,
    /// The sum.
    pub total: N,
}

impl<N: Num> RouteCost<N> {
    /// `Add` for `route`, given the purchase part of L (the customs value) and T's VAT rate.
    pub fn of(route: &Route, purchase_eur: N, vat_t: N, weight_kg: N) -> Self {
        let inbound_weight = N::of(route.inbound_per_kg) * weight_kg;
        let (duty, broker, import_vat) = match &route.customs {
            None => (N::zero(), N::zero(), N::zero()),
            Some(c) => {
                let duty = purchase_eur * N::of(c.duty_rate);
                let import_vat = if c.import_vat_recoverable {
                    N::zero()
                } else {
                    (purchase_eur + duty) * vat_t
                };
                (duty, N::of(c.broker_per_unit), import_vat)
            }
        };
        let (ship_to_you, prep, inbound) = (
            N::of(route.ship_to_you),
            N::of(route.prep),
            N::of(route.inbound),
        );
        RouteCost {
            ship_to_you,
            prep,
            inbound,
            inbound_weight,
            duty,
            broker,
            import_vat,
            total: ship_to_you + prep + inbound + inbound_weight + duty + broker + import_vat,
        }
    }
}

/// The results of one route, unrounded, EUR.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures<N = Decimal> {
    /// N.
    pub net: N,
    /// L.
    pub landed: N,
    /// π = N − L.
    pub profit: N,
    /// π / L.
    pub roi: N,
    /// π / (P_T/(1+v_T) · fx_T).
    pub margin_net: N,
    /// π / (P_T · fx_T).
    pub margin_gross: N,
    /// L_max = min(N / (1 + ROI_min), N − π_min).
    pub max_cost: N,
}

/// π, ROI, margins and L_max from the sell side and L.
pub fn figures<N: Num>(
    sell: &SellSide<N>,
    currency_t: Currency,
    landed: N,
    fx: &FxRate,
    min_roi: N,
    min_profit: N,
) -> Figures<N> {
    let net = sell.net_eur;
    let profit = net - landed;
    let ratio = |den: N| {
        if den.is_zero() {
            N::zero()
        } else {
            profit / den
        }
    };
    Figures {
        net,
        landed,
        profit,
        roi: ratio(landed),
        margin_net: ratio(fx.to_eur(sell.net_price, currency_t)),
        margin_gross: ratio(fx.to_eur(sell.price, currency_t)),
        max_cost: (net / (N::one() + min_roi)).min(net - min_profit),
    }
}

/// Whether a route with net proceeds `net` and landed cost `landed` passes the profit and
/// ROI gates (unrounded).
pub fn passes_money_gates<N: Num>(net: N, landed: N, min_roi: N, min_profit: N) -> bool {
    let profit = net - landed;
    landed > N::zero() && profit >= min_profit && profit >= min_roi * landed
}
