//! Startup validation: raw config → [`Economics`], or an error naming the bad value.
//!
//! Everything the model later relies on without checking is established here: dates parse,
//! rates are fractions in [0, 1), tiers ascend, every market has a VAT rate and FBA tiers,
//! the `default` referral category exists, every route and group names something real, and
//! the FX fallback is a plausible positive rate. One function per section keeps each rule
//! next to the message it produces.

mod tables;

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::config::{EconomicsConfig, VatScheme};
use super::fx::{FetchSchedule, FxRate, FxSource, GbpQuote};
use super::tables::{Customs, Dated, Route, Tables, market_index};
use super::{Economics, EconomicsError, Params, parse_date};
use crate::domain::Market;
use tables::{fba_table, referral_table, storage_table, vat_table};

type R<T> = Result<T, EconomicsError>;

fn bad(
    field: impl Into<String>,
    value: impl ToString,
    problem: impl Into<String>,
) -> EconomicsError {
    EconomicsError::Invalid {
        field: field.into(),
        value: value.to_string(),
        problem: problem.into(),
    }
}

/// A fraction in [0, 1).
fn rate(field: &str, v: Decimal) -> R<Decimal> {
    if v >= Decimal::ZERO && v < Decimal::ONE {
        Ok(v)
    } else {
        Err(bad(field, v, "is not a rate in [0, 1) (0.19 means 19 %)"))
    }
}

/// An amount ≥ 0 and below a million.
fn amount(field: &str, v: Decimal) -> R<Decimal> {
    if v >= Decimal::ZERO && v < Decimal::from(1_000_000) {
        Ok(v)
    } else {
        Err(bad(field, v, "is not an amount in [0, 1000000)"))
    }
}

fn date(field: &str, s: &str) -> R<NaiveDate> {
    parse_date(s).ok_or_else(|| bad(field, s, "is not a date (YYYY-MM-DD)"))
}

fn per_market(field: &str, m: &BTreeMap<Market, Decimal>) -> R<[Decimal; 5]> {
    let mut out = [Decimal::ZERO; 5];
    for market in Market::ALL {
        let v = m.get(&market).ok_or_else(|| {
            bad(
                field,
                market,
                "is missing: every market UK, DE, FR, IT, ES needs a value",
            )
        })?;
        out[market_index(market)] = *v;
    }
    Ok(out)
}

/// Sorted by date, no two tables on the same date.
fn dated<T>(kind: &str, mut v: Vec<Dated<T>>) -> R<Vec<Dated<T>>> {
    v.sort_by_key(|d| d.from);
    for w in v.windows(2) {
        if w[0].from == w[1].from {
            return Err(bad(
                format!("[[{kind}]] effective_from"),
                w[0].from,
                "appears twice: each table needs its own date",
            ));
        }
    }
    Ok(v)
}

pub(super) fn build(config: EconomicsConfig) -> R<Economics> {
    let params = params(&config)?;
    let vat = dated("vat", config.vat.iter().map(vat_table).collect::<R<_>>()?)?;
    let referral = dated(
        "referral",
        config
            .referral
            .iter()
            .map(referral_table)
            .collect::<R<_>>()?,
    )?;
    let fba = dated("fba", config.fba.iter().map(fba_table).collect::<R<_>>()?)?;
    let storage = dated(
        "storage",
        config.storage.iter().map(storage_table).collect::<R<_>>()?,
    )?;
    let routes = routes(&config)?;
    let groups = groups(&config)?;
    let (shipped_fx, override_fx) = fx(&config)?;
    Ok(Economics {
        params,
        tables: Tables {
            vat,
            referral,
            fba,
            storage,
            routes,
            groups,
        },
        shipped_fx,
        override_fx,
        config,
    })
}

fn params(c: &EconomicsConfig) -> R<Params> {
    let e = &c.economics;
    let g = &e.gates;
    if e.base_currency != "EUR" {
        return Err(bad(
            "[economics] base_currency",
            &e.base_currency,
            "is not supported: results are computed in EUR",
        ));
    }
    if e.max_units_per_month == 0 || e.max_units_per_month > 1_000_000 {
        return Err(bad(
            "[economics] max_units_per_month",
            e.max_units_per_month,
            "must be between 1 and 1000000",
        ));
    }
    if e.months_to_sell < Decimal::ZERO || e.months_to_sell > Decimal::from(120) {
        return Err(bad(
            "[economics] months_to_sell",
            e.months_to_sell,
            "must be between 0 and 120",
        ));
    }
    if e.fee_mismatch_points < Decimal::ZERO || e.fee_mismatch_points > Decimal::ONE_HUNDRED {
        return Err(bad(
            "[economics] fee_mismatch_points",
            e.fee_mismatch_points,
            "must be between 0 and 100 percentage points",
        ));
    }
    // A ratio: above 10 (1,000 %) it is surely a percentage written as one (20 for 0.20).
    if g.min_roi < Decimal::ZERO || g.min_roi > Decimal::TEN {
        let as_pct = (g.min_roi > Decimal::TEN)
            .then(|| g.min_roi.checked_mul(Decimal::ONE_HUNDRED))
            .flatten()
            .map_or_else(String::new, |p| {
                format!("; {} would be an ROI of {} %", g.min_roi, p.normalize())
            });
        return Err(bad(
            "[economics.gates] min_roi",
            g.min_roi,
            format!(
                "must be a ratio between 0 and 10 (0.20 means an ROI of 20 %, 1.5 means 150 %{as_pct})"
            ),
        ));
    }
    if g.min_profit < Decimal::ZERO {
        return Err(bad(
            "[economics.gates] min_profit",
            g.min_profit,
            "must be ≥ 0 EUR: a negative floor would rank routes that lose money",
        ));
    }
    if g.min_profit >= Decimal::from(1_000_000) {
        return Err(bad(
            "[economics.gates] min_profit",
            g.min_profit,
            "is not a plausible profit in EUR",
        ));
    }
    if g.min_profit.normalize().scale() > 2 {
        return Err(bad(
            "[economics.gates] min_profit",
            g.min_profit,
            "has more than 2 decimals: write it in whole cents (e.g. 4.00), as the API's \
             min_profit and the profit figures are",
        ));
    }
    for (name, v) in [
        ("min_monthly_sold", g.min_monthly_sold),
        ("min_drops30", g.min_drops30),
    ] {
        if v < 0 {
            return Err(bad(format!("[economics.gates] {name}"), v, "must be ≥ 0"));
        }
    }
    if g.max_keepa_age_hours <= 0 {
        return Err(bad(
            "[economics.gates] max_keepa_age_hours",
            g.max_keepa_age_hours,
            "must be > 0",
        ));
    }
    let (mut block_hazmat, mut block_adult) = (false, false);
    for b in &g.block {
        match b.as_str() {
            "hazmat" => block_hazmat = true,
            "adult" => block_adult = true,
            other => {
                return Err(bad(
                    "[economics.gates] block",
                    other,
                    "is not a flag: expected hazmat or adult",
                ));
            }
        }
    }
    if c.fx.max_age_days < 0 {
        return Err(bad("[fx] max_age_days", c.fx.max_age_days, "must be ≥ 0"));
    }
    // §5: without a VAT number the seller reclaims no VAT on Amazon's fees, so φ is the
    // rate Amazon charges on them; 0 would understate every fee.
    if e.vat_scheme == VatScheme::NotRegistered && e.fee_vat_rate.is_zero() {
        return Err(bad(
            "[economics] fee_vat_rate",
            e.fee_vat_rate,
            "is 0 with vat_scheme = \"not_registered\": without a VAT number the VAT Amazon \
             adds to its fees is a cost; set the rate Amazon's fee invoices show (e.g. 0.19)",
        ));
    }
    Ok(Params {
        fee_vat: rate("[economics] fee_vat_rate", e.fee_vat_rate)?.into(),
        purchase_spread: rate("[economics] purchase_fx_spread", e.purchase_fx_spread)?.into(),
        payout_fee: rate("[economics] payout_fx_fee", e.payout_fx_fee)?.into(),
        sell_price: e.sell_price,
        max_units: Decimal::from(e.max_units_per_month).into(),
        recoverable: e.vat_scheme == VatScheme::Standard && e.purchase_vat_invoice,
        scheme: e.vat_scheme,
        months_to_sell: e.months_to_sell.into(),
        returns_reserve: (rate("[economics] return_rate", e.return_rate)?
            * amount("[economics] loss_per_return", e.loss_per_return)?)
        .into(),
        return_rate: e.return_rate,
        loss_per_return: e.loss_per_return,
        fee_mismatch_points: e.fee_mismatch_points.into(),
        vat_registered_in: e.vat_registered_in.clone(),
        min_profit: g.min_profit.into(),
        min_roi: g.min_roi.into(),
        max_dev_avg90: rate("[economics.gates] max_dev_avg90", g.max_dev_avg90)?.into(),
        min_monthly_sold: g.min_monthly_sold,
        min_drops30: g.min_drops30,
        max_keepa_age_hours: g.max_keepa_age_hours,
        block_hazmat,
        block_adult,
        fx_max_age_days: c.fx.max_age_days,
    })
}

fn route_from(
    ctx: &str,
    s: Market,
    t: Market,
    costs: [Decimal; 4],
    customs: Option<&super::config::CustomsConfig>,
    source: String,
) -> R<Route> {
    let names = ["ship_to_you", "prep", "inbound", "inbound_per_kg"];
    for (n, v) in names.iter().zip(costs) {
        amount(&format!("{ctx} {n}"), v)?;
    }
    let border = (s == Market::UK) != (t == Market::UK);
    let customs = match customs {
        None => None,
        Some(_) if !border => {
            return Err(bad(
                format!("{ctx} customs"),
                format!("{s}→{t}"),
                "is set on an EU-internal route: customs apply to UK↔EU routes only",
            ));
        }
        Some(c) => {
            if c.units_per_shipment == 0 {
                return Err(bad(
                    format!("{ctx} customs.units_per_shipment"),
                    0,
                    "must be at least 1",
                ));
            }
            Some(Customs {
                duty_rate: rate(&format!("{ctx} customs.duty_rate"), c.duty_rate)?.into(),
                import_vat_recoverable: c.import_vat_recoverable,
                broker_per_unit: (amount(
                    &format!("{ctx} customs.broker_per_shipment"),
                    c.broker_per_shipment,
                )? / Decimal::from(c.units_per_shipment))
                .into(),
            })
        }
    };
    Ok(Route {
        ship_to_you: costs[0].into(),
        prep: costs[1].into(),
        inbound: costs[2].into(),
        inbound_per_kg: costs[3].into(),
        disabled: border && customs.is_none(),
        customs,
        source,
    })
}

fn routes(c: &EconomicsConfig) -> R<[[Route; 5]; 5]> {
    let d = &c.route_defaults;
    let default_costs = [d.ship_to_you, d.prep, d.inbound, d.inbound_per_kg];
    // Checked first, under their own name: a `[[route]]` that leaves one out inherits it.
    let names = ["ship_to_you", "prep", "inbound", "inbound_per_kg"];
    for (n, v) in names.iter().zip(default_costs) {
        amount(&format!("[route_defaults] {n}"), v)?;
    }
    let mut out: [[Option<Route>; 5]; 5] = Default::default();
    for r in &c.route {
        let ctx = format!("[[route]] {}→{}", r.from, r.to);
        if r.from == r.to {
            return Err(bad(
                "[[route]] to",
                r.to,
                "equals `from`: a route joins two different markets",
            ));
        }
        let slot = &mut out[market_index(r.from)][market_index(r.to)];
        if slot.is_some() {
            return Err(bad(
                "[[route]]",
                format!("{}→{}", r.from, r.to),
                "appears twice",
            ));
        }
        // Import VAT is recovered on a VAT return (postponed accounting included): a seller
        // with no VAT number pays it as a cost (economics.md §5, customs).
        if let Some(customs) = &r.customs
            && customs.import_vat_recoverable
            && c.economics.vat_scheme == VatScheme::NotRegistered
        {
            return Err(bad(
                format!("{ctx} customs.import_vat_recoverable"),
                true,
                "with vat_scheme = \"not_registered\": import VAT is recovered only on a VAT \
                 return, so without a VAT number it is a cost; set import_vat_recoverable = \
                 false, or vat_scheme = \"standard\" if the business is VAT-registered",
            ));
        }
        // What the entry leaves out, `[route_defaults]` says.
        let costs = [
            r.ship_to_you.unwrap_or(d.ship_to_you),
            r.prep.unwrap_or(d.prep),
            r.inbound.unwrap_or(d.inbound),
            r.inbound_per_kg.unwrap_or(d.inbound_per_kg),
        ];
        *slot = Some(route_from(
            &ctx,
            r.from,
            r.to,
            costs,
            r.customs.as_ref(),
            format!("config:route {}→{}", r.from, r.to),
        )?);
    }
    let mut routes: [[Route; 5]; 5] = Default::default();
    for s in Market::ALL {
        for t in Market::ALL {
            let (i, j) = (market_index(s), market_index(t));
            routes[i][j] = match out[i][j].take() {
                Some(r) => r,
                None => route_from(
                    "[route_defaults]",
                    s,
                    t,
                    default_costs,
                    None,
                    "config:route_defaults".to_string(),
                )?,
            };
        }
    }
    Ok(routes)
}

fn groups(c: &EconomicsConfig) -> R<HashMap<String, (String, Option<String>)>> {
    let mut out = HashMap::new();
    for (group, m) in &c.product_groups {
        if group.trim().is_empty() {
            return Err(bad(
                "[product_groups]",
                group,
                "is a group without a name: name it as Keepa's productGroup is written, e.g. \
                 [product_groups.\"Kitchen\"]",
            ));
        }
        for t in &c.referral {
            if m.referral != "default" && !t.categories.iter().any(|cat| cat.id == m.referral) {
                let ids: Vec<&str> = t.categories.iter().map(|cat| cat.id.as_str()).collect();
                return Err(bad(
                    format!("[product_groups] \"{group}\" referral"),
                    &m.referral,
                    format!(
                        "is not a category of [[referral]] {} (its categories: {}); a \
                         [[referral]] list given replaces the shipped one whole: start from \
                         the shipped tables as `arbdesk config show` prints them and change \
                         what differs",
                        t.effective_from,
                        ids.join(", ")
                    ),
                ));
            }
        }
        if let Some(class) = &m.vat {
            for t in &c.vat {
                if !t.reduced.contains_key(class) {
                    return Err(bad(
                        format!("[product_groups] \"{group}\" vat"),
                        class,
                        format!(
                            "is not a reduced class of [[vat]] {}; a [[vat]] list replaces \
                             the shipped one whole: start from the shipped tables as `arbdesk \
                             config show` prints them and change what differs",
                            t.effective_from
                        ),
                    ));
                }
            }
        }
        out.insert(group.clone(), (m.referral.clone(), m.vat.clone()));
    }
    Ok(out)
}

fn fx(c: &EconomicsConfig) -> R<(FxRate, Option<FxRate>)> {
    let web = url::Url::parse(&c.fx.url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if web.is_none() {
        return Err(bad(
            "[fx] url",
            &c.fx.url,
            "is not an http:// or https:// URL (the ECB's daily file is \
             https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml)",
        ));
    }
    if FetchSchedule::parse(&c.fx.fetch_after).is_none() {
        return Err(bad(
            "[fx] fetch_after",
            &c.fx.fetch_after,
            format!(
                "is not 'HH:MM Zone' with a zone among {}",
                FetchSchedule::accepted_zones()
            ),
        ));
    }
    let plausible = |v: Decimal| v > Decimal::new(1, 2) && v < Decimal::ONE_HUNDRED;
    let s = &c.fx.shipped;
    if !plausible(s.gbp_per_eur) {
        return Err(bad(
            "[fx] shipped.gbp_per_eur",
            s.gbp_per_eur,
            "is not a plausible rate (1 EUR = x GBP, e.g. 0.8653)",
        ));
    }
    let shipped = FxRate {
        gbp: GbpQuote::GbpPerEur(s.gbp_per_eur.into()),
        date: date("[fx] shipped.date", &s.date)?,
        source: FxSource::Shipped,
    };
    let mut over = None;
    for (cur, o) in c.fx.r#override.iter().flatten() {
        if cur != "GBP" {
            return Err(bad(
                "[fx] override",
                cur,
                "is not overridable: only GBP needs a rate",
            ));
        }
        if !plausible(o.eur_per_unit) {
            return Err(bad(
                "[fx] override.GBP.eur_per_unit",
                o.eur_per_unit,
                "is not a plausible rate (EUR per GBP, e.g. 1.1500)",
            ));
        }
        over = Some(FxRate {
            gbp: GbpQuote::EurPerGbp(o.eur_per_unit.into()),
            date: date("[fx] override.GBP.date", &o.date)?,
            source: FxSource::Override,
        });
    }
    // A rate dated ahead would read as current for as long (FX_STALE, and GBP routes not
    // ranked, would stay off): one typo in a year. A day ahead is time zones.
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Days::new(1);
    for (key, rate) in [
        ("[fx] shipped.date", Some(&shipped)),
        ("[fx] override.GBP.date", over.as_ref()),
    ] {
        if let Some(r) = rate.filter(|r| r.date > tomorrow) {
            return Err(bad(
                key,
                r.date,
                "is in the future: date the rate by the day it was published",
            ));
        }
    }
    Ok((shipped, over))
}
