//! The breakdown of a row: every term of §4 as a line with its amount and its source.
//!
//! Signs follow the money: revenue positive, costs negative. Each line is rounded once, to
//! the cent, and so is each subtotal; where the rounded lines of a subtotal do not add up to
//! it, [`reconcile`] shows the difference as a `rounding_…` line, so that what is on screen
//! adds up. Sell-side and buy-side lines are built once per market and copied into each
//! pair; only the route lines are per pair.

use rust_decimal::Decimal;

use super::config::TierMode;
use super::fx::FxRate;
use super::model::{BuySide, BuyTerms, RouteCost, SellSide, SellTerms};
use super::num::Num;
use super::tables::Route;
use crate::domain::{BreakdownLine, Currency, Market, Money};

/// `d` rounded once to the cent (half away from zero), as money (saturating far beyond any
/// real price).
pub fn money(d: Decimal, currency: Currency) -> Money {
    Num::money(d, currency)
}

/// A rate as a percentage label: `0.19` → `19 %`, `0.0075` → `0.75 %`.
pub fn pct_label(rate: Decimal) -> String {
    format!("{} %", (rate * Decimal::ONE_HUNDRED).normalize())
}

/// An amount in `currency` as a label: `€59.90`, `£32.00`.
pub fn money_label(d: Decimal, currency: Currency) -> String {
    money(d, currency).to_string()
}

fn line<N: Num>(
    id: &str,
    label: String,
    amount: N,
    currency: Currency,
    source: &str,
) -> BreakdownLine {
    BreakdownLine {
        id: id.to_string(),
        label,
        amount: money(amount.to_dec(), currency),
        source: source.to_string(),
    }
}

/// Where each sell-side input came from, as shown.
pub struct SellSources<'a> {
    /// The sell market.
    pub market: Market,
    /// `Buy Box (lower of now and 90-day average)`, `Amazon offer`, …
    pub price_basis: &'a str,
    /// `config:vat 2025-01-01`.
    pub vat: &'a str,
    /// `config:referral 2025-02-01`.
    pub referral: &'a str,
    /// `keepa`, `config:fba 2025-10-15`, or why it is unknown.
    pub fba: &'a str,
    /// `config:storage 2025-01-01`.
    pub storage: &'a str,
    /// What the storage figure is made of.
    pub storage_label: &'a str,
    /// `ecb 2026-11-24` (GBP) or `-`.
    pub fx: &'a str,
}

/// The sell-side lines: price, output VAT, fees and reserves, conversion, `N`.
pub fn sell_lines<N: Num>(
    src: &SellSources<'_>,
    terms: &SellTerms<'_, N>,
    side: &SellSide<N>,
    fx: &FxRate,
) -> Vec<BreakdownLine> {
    let cur = terms.currency;
    let m = src.market;
    let mut v = Vec::with_capacity(12);
    v.push(line(
        "sell_price",
        format!("Sell price in {m}, {}", src.price_basis),
        side.price,
        cur,
        "keepa",
    ));
    v.push(line(
        "output_vat",
        format!("Output VAT {} to {m}", pct_label(terms.vat.to_dec())),
        -side.output_vat,
        cur,
        src.vat,
    ));
    let referral_label = if side.referral > terms.category.fee_before_min(side.price) {
        format!("Referral fee: minimum fee ({})", terms.category.id)
    } else {
        format!(
            "Referral fee on {} gross ({}, {})",
            money_label(side.price.to_dec(), cur),
            terms.category.id,
            mode_label(terms, side.price)
        )
    };
    v.push(line(
        "referral_fee",
        referral_label,
        -side.referral,
        cur,
        src.referral,
    ));
    if !terms.dsf.referral.is_zero() {
        v.push(line(
            "referral_dsf",
            format!(
                "Digital Services Fee {} on the referral fee",
                pct_label(terms.dsf.referral.to_dec())
            ),
            -side.referral_dsf,
            cur,
            src.referral,
        ));
    }
    v.push(line(
        "fba_fee",
        "FBA fulfilment fee".to_string(),
        -terms.fba_fee,
        cur,
        src.fba,
    ));
    v.push(line(
        "storage",
        format!("Storage {}", src.storage_label),
        -terms.storage,
        cur,
        src.storage,
    ));
    if !terms.dsf.fba.is_zero() {
        v.push(line(
            "fba_dsf",
            format!(
                "Digital Services Fee {} on FBA fee and storage",
                pct_label(terms.dsf.fba.to_dec())
            ),
            -side.fba_dsf,
            cur,
            src.referral,
        ));
    }
    if !terms.fee_vat.is_zero() {
        v.push(line(
            "fee_vat",
            format!("VAT {} on Amazon's fees", pct_label(terms.fee_vat.to_dec())),
            -side.fee_vat,
            cur,
            "config:economics fee_vat_rate",
        ));
    }
    v.push(line(
        "returns_reserve",
        "Returns reserve (return rate × loss per return)".to_string(),
        -terms.returns,
        cur,
        "config:economics",
    ));
    if cur != Currency::EUR {
        // The sum in pounds first, and the conversion of that figure as shown, so a
        // reader can follow it into euros; the model converts the unrounded sum, and
        // `net_proceeds`'s rounding line takes up the cent where the two differ.
        let shown = converted(side.proceeds, cur, fx);
        v.push(line(
            "proceeds",
            format!("Proceeds in {cur}"),
            side.proceeds,
            cur,
            "model",
        ));
        v.push(line(
            "proceeds_eur",
            format!("Proceeds converted from {cur}"),
            shown,
            Currency::EUR,
            src.fx,
        ));
        v.push(line(
            "payout_fx_fee",
            format!(
                "Payout conversion fee {}",
                pct_label(terms.payout_fee.to_dec())
            ),
            -side.payout_fee_eur,
            Currency::EUR,
            "config:economics payout_fx_fee",
        ));
    }
    v.push(line(
        "net_proceeds",
        "Net proceeds N".to_string(),
        side.net_eur,
        Currency::EUR,
        "model",
    ));
    v
}

fn mode_label<N: Num>(terms: &SellTerms<'_, N>, price: N) -> String {
    let category = terms.category;
    match (category.flat_rate(), category.mode) {
        (Some(r), _) => pct_label(r.dec()),
        // Each slice of the price at its own rate: name them all, as no one rate is "the" rate.
        (None, TierMode::Marginal) => {
            let slices: Vec<String> = category
                .tiers
                .iter()
                .map(|t| match t.upto {
                    Some(u) => format!("{} to {}", pct_label(t.rate.dec()), u.dec().normalize()),
                    None => format!("{} above", pct_label(t.rate.dec())),
                })
                .collect();
            format!("tiered, {}", slices.join(", "))
        }
        (None, _) => format!(
            "tiered, {} at this price",
            pct_label(category.rate_at(price.to_dec()))
        ),
    }
}

/// `amount` in `currency` rounded to the cent as a line shows it, then in EUR (unrounded).
fn converted<N: Num>(amount: N, currency: Currency, fx: &FxRate) -> Decimal {
    let cents = money(amount.to_dec(), currency).minor;
    fx.to_eur(Decimal::new(cents, 2), currency)
}

/// The buy-side lines: price, recovered input VAT, conversion and spread.
pub fn buy_lines<N: Num>(
    market: Market,
    (vat_src, fx_src): (&str, &str),
    fx: &FxRate,
    terms: &BuyTerms<N>,
    side: &BuySide<N>,
    not_recovered: &str,
) -> Vec<BreakdownLine> {
    let cur = terms.currency;
    let mut v = Vec::with_capacity(5);
    v.push(line(
        "buy_price",
        format!("Buy price in {market} (gross)"),
        -side.price,
        cur,
        "keepa",
    ));
    if terms.recoverable {
        v.push(line(
            "input_vat",
            format!("Input VAT {} recovered", pct_label(terms.vat.to_dec())),
            side.vat_recovered,
            cur,
            vat_src,
        ));
    } else {
        v.push(line(
            "input_vat",
            format!(
                "Input VAT {} not recoverable ({not_recovered})",
                pct_label(terms.vat.to_dec())
            ),
            Decimal::ZERO,
            cur,
            vat_src,
        ));
    }
    if cur != Currency::EUR {
        let cost = side.price - side.vat_recovered;
        v.push(line(
            "purchase_cost",
            format!("Purchase cost in {cur}"),
            -cost,
            cur,
            "model",
        ));
        // As on the sell side: the figure shown, converted (`landed_cost` rounds).
        v.push(line(
            "purchase_eur",
            format!("Purchase converted from {cur}"),
            -converted(cost, cur, fx),
            Currency::EUR,
            fx_src,
        ));
        v.push(line(
            "purchase_fx_spread",
            format!("Purchase FX spread {}", pct_label(terms.spread.to_dec())),
            -side.spread_eur,
            Currency::EUR,
            "config:economics purchase_fx_spread",
        ));
    }
    v
}

/// The route lines and the subtotal `L`, then the profit line.
pub fn route_lines<N: Num>(
    out: &mut Vec<BreakdownLine>,
    route: &Route,
    add: &RouteCost<N>,
    landed: N,
    profit_label: String,
    profit: N,
) {
    let e = Currency::EUR;
    let (disabled, source) = (route.disabled, route.source.as_str());
    for (id, label, amount) in [
        ("ship_to_you", "Shipping to you", add.ship_to_you),
        ("prep", "Prep and labels", add.prep),
        ("inbound", "Inbound to FBA", add.inbound),
    ] {
        out.push(line(id, label.to_string(), -amount, e, source));
    }
    if !add.inbound_weight.is_zero() {
        out.push(line(
            "inbound_weight",
            "Inbound per kg".to_string(),
            -add.inbound_weight,
            e,
            source,
        ));
    }
    if disabled {
        // Said where the costs would be, so a reader of the P&L does not take it as whole.
        out.push(line(
            "customs_missing",
            "Customs not configured for this UK↔EU route: no duty, broker or import VAT \
             counted (ROUTE_DISABLED)"
                .to_string(),
            Decimal::ZERO,
            e,
            source,
        ));
    } else if !add.duty.is_zero() || !add.broker.is_zero() || !add.import_vat.is_zero() {
        out.push(line(
            "duty",
            "Import duty".to_string(),
            -add.duty,
            e,
            source,
        ));
        out.push(line(
            "broker",
            "Customs broker, share per unit".to_string(),
            -add.broker,
            e,
            source,
        ));
        out.push(line(
            "import_vat",
            if route
                .customs
                .as_ref()
                .is_some_and(|c| c.import_vat_recoverable)
            {
                "Import VAT, recovered: no cost".to_string()
            } else if add.import_vat.is_zero() {
                "Import VAT not recovered, at a 0 % rate here: no cost".to_string()
            } else {
                "Import VAT not recovered".to_string()
            },
            -add.import_vat,
            e,
            source,
        ));
    }
    out.push(line(
        "landed_cost",
        "Landed cost L".to_string(),
        -landed,
        e,
        "model",
    ));
    out.push(line("profit", profit_label, profit, e, "model"));
}

/// The subtotals, each with the lines it sums: in a GBP market `proceeds` and
/// `purchase_cost` (the lines in pounds above them, restated in EUR by the conversion line
/// that follows), `net_proceeds` (the sell lines in EUR), `landed_cost` (the buy and route
/// lines in EUR), then `profit` (the two EUR subtotals).
const SUBTOTALS: [&str; 5] = [
    "proceeds",
    "purchase_cost",
    "net_proceeds",
    "landed_cost",
    "profit",
];

/// Adds a rounding line (`rounding_net_proceeds`, `rounding_landed_cost`,
/// `rounding_profit`: ids stay unique within a row) before each subtotal whose lines, rounded
/// one by one, do not add up to the subtotal (itself rounded once from the exact sum): at
/// most a cent or two.
pub fn reconcile(lines: &mut Vec<BreakdownLine>) {
    let mut start = 0;
    let mut subtotals: Vec<i64> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let id = lines[i].id.as_str();
        if !SUBTOTALS.contains(&id) {
            i += 1;
            continue;
        }
        let total = lines[i].amount;
        let parts: i64 = if id == "profit" {
            subtotals.iter().sum()
        } else {
            lines[start..i]
                .iter()
                .filter(|l| l.amount.currency == total.currency)
                .map(|l| l.amount.minor)
                .sum()
        };
        let diff = total.minor - parts;
        if diff != 0 {
            lines.insert(
                i,
                BreakdownLine {
                    id: format!("rounding_{id}"),
                    label: "Rounding of the lines to the cent".to_string(),
                    amount: Money::new(diff, total.currency),
                    source: "model".to_string(),
                },
            );
            i += 1;
        }
        if total.currency == Currency::EUR {
            subtotals.push(total.minor);
        }
        i += 1;
        start = i;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::economics::num::Const;
    use crate::economics::tables::Customs;

    /// The import VAT line says why it costs nothing: recovered, or a 0 % rate where it is
    /// not recovered (books into the UK).
    #[test]
    fn an_import_vat_of_nothing_says_why() {
        let label = |recoverable: bool, vat_t: &str| {
            let route = Route {
                customs: Some(Customs {
                    duty_rate: Const::new(Decimal::new(4, 2)),
                    import_vat_recoverable: recoverable,
                    broker_per_unit: Const::new(Decimal::new(70, 2)),
                }),
                source: "config:route DE→UK".to_string(),
                ..Route::default()
            };
            let vat_t: Decimal = vat_t.parse().unwrap();
            let add = RouteCost::of(&route, Decimal::new(2000, 2), vat_t, Decimal::ZERO);
            let mut lines = Vec::new();
            route_lines(
                &mut lines,
                &route,
                &add,
                add.total,
                String::new(),
                Decimal::ZERO,
            );
            let l = lines.iter().find(|l| l.id == "import_vat").unwrap();
            (l.label.clone(), l.amount)
        };
        assert_eq!(
            label(true, "0.2"),
            ("Import VAT, recovered: no cost".to_string(), Money::eur(0))
        );
        assert_eq!(
            label(false, "0"),
            (
                "Import VAT not recovered, at a 0 % rate here: no cost".to_string(),
                Money::eur(0)
            )
        );
        // (20.00 + 0.80 duty) × 20 %.
        assert_eq!(
            label(false, "0.2"),
            ("Import VAT not recovered".to_string(), Money::eur(-416))
        );
    }
}
