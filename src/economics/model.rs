//! §4 in exact decimals: net proceeds `N` of the sell side, landed cost `L` of the buy side,
//! the route costs `Add`, profit, ROI, margins, max cost and the closed forms.
//!
//! The split follows the data: `N` depends only on the sell market (and its price), the
//! purchase cost only on the buy market, and `Add` on the route (and, through customs, on
//! the purchase cost). The detector evaluates each side once per market and combines them
//! per pair. Nothing here rounds: callers round each shown figure once.

use rust_decimal::Decimal;

use super::fx::FxRate;
use super::tables::{Category, Dsf, ReferralSchedule, Route};
use crate::domain::Currency;

/// What selling one unit in T costs, apart from the price.
#[derive(Debug, Clone, Copy)]
pub struct SellTerms<'a> {
    /// T's currency.
    pub currency: Currency,
    /// v_T.
    pub vat: Decimal,
    /// The referral category.
    pub category: &'a Category,
    /// The schedule (minimum fee).
    pub schedule: &'a ReferralSchedule,
    /// DSF in T.
    pub dsf: Dsf,
    /// φ.
    pub fee_vat: Decimal,
    /// F_T, in T's currency.
    pub fba_fee: Decimal,
    /// Sto, in T's currency.
    pub storage: Decimal,
    /// Ret, in T's currency.
    pub returns: Decimal,
    /// a_T (0 for EUR).
    pub payout_fee: Decimal,
}

/// The sell side evaluated at one price. Amounts in T's currency unless named `_eur`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SellSide {
    /// P_T, gross.
    pub price: Decimal,
    /// P_T / (1 + v_T).
    pub net_price: Decimal,
    /// P_T − net price.
    pub output_vat: Decimal,
    /// ref(P_T).
    pub referral: Decimal,
    /// ref · d_ref.
    pub referral_dsf: Decimal,
    /// (F_T + Sto) · d_fba.
    pub fba_dsf: Decimal,
    /// Fees before VAT · φ.
    pub fee_vat: Decimal,
    /// Fees_T.
    pub fees: Decimal,
    /// Net price − Fees_T − Ret.
    pub proceeds: Decimal,
    /// Proceeds in EUR before the payout fee.
    pub proceeds_eur: Decimal,
    /// The payout conversion fee, EUR.
    pub payout_fee_eur: Decimal,
    /// N, EUR.
    pub net_eur: Decimal,
}

impl SellTerms<'_> {
    /// The sell side at `price` (gross, in T's currency).
    pub fn evaluate(&self, price: Decimal, fx: &FxRate) -> SellSide {
        let net_price = price / (Decimal::ONE + self.vat);
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
    pub fn closed_form_price(&self, cost_target_eur: Decimal, fx: &FxRate) -> Option<Decimal> {
        self.closed_form()?.price(cost_target_eur, fx)
    }

    /// The price-independent part of the closed form, when the schedule is flat:
    /// `r' = r·(1+d_ref)·(1+φ)`, `F' = (F + Sto)·(1+d_fba)·(1+φ)` and `1/(1+v) − r'`.
    pub fn closed_form(&self) -> Option<ClosedForm> {
        let r = self.category.flat_rate()?;
        let one = Decimal::ONE;
        let r_eff = r * (one + self.dsf.referral) * (one + self.fee_vat);
        let f_eff = (self.fba_fee + self.storage) * (one + self.dsf.fba) * (one + self.fee_vat);
        let denom = one / (one + self.vat) - r_eff;
        (denom > Decimal::ZERO && self.payout_fee < one).then(|| ClosedForm {
            currency: self.currency,
            rate: r,
            min_fee: self.schedule.min_fee(self.currency),
            fixed: f_eff + self.returns,
            denom,
            payout_fee: self.payout_fee,
        })
    }
}

/// `P_T* = (L·(1+ROI_t)/(fx_T·(1−a_T)) + F' + Ret) / (1/(1+v_T) − r')`, prepared once per
/// sell market.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClosedForm {
    currency: Currency,
    rate: Decimal,
    min_fee: Decimal,
    fixed: Decimal,
    denom: Decimal,
    payout_fee: Decimal,
}

impl ClosedForm {
    /// The gross price whose net proceeds are `cost_target_eur`, unless the minimum fee
    /// binds there (then only a search answers).
    pub fn price(&self, cost_target_eur: Decimal, fx: &FxRate) -> Option<Decimal> {
        let mut needed = fx.from_eur(cost_target_eur, self.currency);
        if !self.payout_fee.is_zero() {
            needed = needed.checked_div(Decimal::ONE - self.payout_fee)?;
        }
        let p = (needed + self.fixed).checked_div(self.denom)?;
        let binding = self.rate * p < self.min_fee;
        (p > Decimal::ZERO && !binding).then_some(p)
    }
}

/// What buying one unit in S costs, apart from the price.
#[derive(Debug, Clone, Copy)]
pub struct BuyTerms {
    /// S's currency.
    pub currency: Currency,
    /// v_S.
    pub vat: Decimal,
    /// rec.
    pub recoverable: bool,
    /// κ_S (0 for EUR).
    pub spread: Decimal,
}

/// The buy side at one price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BuySide {
    /// P_S, gross, S's currency.
    pub price: Decimal,
    /// Input VAT recovered (0 when not recoverable), S's currency.
    pub vat_recovered: Decimal,
    /// What the goods cost net of recovered VAT, in EUR before the spread.
    pub cost_eur: Decimal,
    /// κ on it, EUR.
    pub spread_eur: Decimal,
    /// (rec ? P/(1+v) : P) · fx · (1+κ): the purchase part of L, EUR.
    pub purchase_eur: Decimal,
}

impl BuyTerms {
    /// The buy side at `price` (gross, in S's currency).
    pub fn evaluate(&self, price: Decimal, fx: &FxRate) -> BuySide {
        let cost = if self.recoverable {
            price / (Decimal::ONE + self.vat)
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
    pub fn closed_form_price(&self, budget_eur: Decimal, fx: &FxRate) -> Decimal {
        let native = fx.from_eur(budget_eur / (Decimal::ONE + self.spread), self.currency);
        if self.recoverable {
            native * (Decimal::ONE + self.vat)
        } else {
            native
        }
    }
}

/// `Add`: the route's costs for one unit, EUR.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RouteCost {
    /// Delivery to the operator.
    pub ship_to_you: Decimal,
    /// Prep and labels.
    pub prep: Decimal,
    /// Inbound, fixed part.
    pub inbound: Decimal,
    /// Inbound, per-kg part.
    pub inbound_weight: Decimal,
    /// Import duty.
    pub duty: Decimal,
    /// Broker fee share.
    pub broker: Decimal,
    /// Unrecoverable import VAT.
    pub import_vat: Decimal,
    /// The sum.
    pub total: Decimal,
}

impl RouteCost {
    /// `Add` for `route`, given the purchase part of L (the customs value) and T's VAT rate.
    pub fn of(route: &Route, purchase_eur: Decimal, vat_t: Decimal, weight_kg: Decimal) -> Self {
        let inbound_weight = route.inbound_per_kg * weight_kg;
        let (duty, broker, import_vat) = match &route.customs {
            None => (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO),
            Some(c) => {
                let duty = purchase_eur * c.duty_rate;
                let import_vat = if c.import_vat_recoverable {
                    Decimal::ZERO
                } else {
                    (purchase_eur + duty) * vat_t
                };
                (duty, c.broker_per_unit, import_vat)
            }
        };
        RouteCost {
            ship_to_you: route.ship_to_you,
            prep: route.prep,
            inbound: route.inbound,
            inbound_weight,
            duty,
            broker,
            import_vat,
            total: route.ship_to_you
                + route.prep
                + route.inbound
                + inbound_weight
                + duty
                + broker
                + import_vat,
        }
    }
}

/// The results of one route, unrounded, EUR.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// N.
    pub net: Decimal,
    /// L.
    pub landed: Decimal,
    /// π = N − L.
    pub profit: Decimal,
    /// π / L.
    pub roi: Decimal,
    /// π / (P_T/(1+v_T) · fx_T).
    pub margin_net: Decimal,
    /// π / (P_T · fx_T).
    pub margin_gross: Decimal,
    /// L_max = min(N / (1 + ROI_min), N − π_min).
    pub max_cost: Decimal,
}

/// π, ROI, margins and L_max from the sell side and L.
pub fn figures(
    sell: &SellSide,
    currency_t: Currency,
    landed: Decimal,
    fx: &FxRate,
    min_roi: Decimal,
    min_profit: Decimal,
) -> Figures {
    let net = sell.net_eur;
    let profit = net - landed;
    let ratio = |den: Decimal| {
        if den.is_zero() {
            Decimal::ZERO
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
        max_cost: (net / (Decimal::ONE + min_roi)).min(net - min_profit),
    }
}

/// Whether a route with net proceeds `net` and landed cost `landed` passes the profit and
/// ROI gates (unrounded).
pub fn passes_money_gates(
    net: Decimal,
    landed: Decimal,
    min_roi: Decimal,
    min_profit: Decimal,
) -> bool {
    let profit = net - landed;
    landed > Decimal::ZERO && profit >= min_profit && profit >= min_roi * landed
}
