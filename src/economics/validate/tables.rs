//! Validation of the dated tables: `[[vat]]`, `[[referral]]` (categories, tiers, minimum
//! fees, DSF), `[[fba]]` and `[[storage]]`. Each function turns one raw table into its
//! validated form or names the first bad value; `validate.rs` sorts them by date.

use std::collections::{HashMap, HashSet};

use rust_decimal::Decimal;

use super::super::config::{
    CategoryConfig, FbaTable, ReferralTable, StorageTable, TierMode, VatTable,
};
use super::super::num::Const;
use super::super::tables::{
    Category, Dated, Dsf, FbaSchedule, ReferralSchedule, StorageSchedule, Tier, VatRates,
    market_index,
};
use super::{R, amount, bad, date, per_market, rate};
use crate::domain::{Currency, Market};

pub(super) fn vat_table(t: &VatTable) -> R<Dated<VatRates>> {
    let from = date("[[vat]] effective_from", &t.effective_from)?;
    let ctx = format!("[[vat]] {}", t.effective_from);
    for (m, v) in &t.rates {
        rate(&format!("{ctx} rates.{m}"), *v)?;
    }
    let standard = per_market(&format!("{ctx} rates"), &t.rates)?;
    let mut reduced = HashMap::new();
    for (class, rates) in &t.reduced {
        if class.trim().is_empty() {
            return Err(bad(
                format!("{ctx} reduced"),
                class,
                "is a class without a name: name it as [product_groups] vat names it, e.g. \
                 reduced = { books = { UK = 0.0, DE = 0.07, … } }",
            ));
        }
        for (m, v) in rates {
            rate(&format!("{ctx} reduced.{class}.{m}"), *v)?;
        }
        reduced.insert(
            class.clone(),
            per_market(&format!("{ctx} reduced.{class}"), rates)?.map(Const::new),
        );
    }
    Ok(Dated {
        from,
        table: VatRates {
            standard: standard.map(Const::new),
            reduced,
        },
    })
}

fn category(ctx: &str, c: &CategoryConfig) -> R<Category> {
    let ctx = format!("{ctx} category '{}'", c.id);
    if c.tiers.is_empty() {
        return Err(bad(
            format!("{ctx} tiers"),
            "[]",
            "is empty: give at least one { rate = … }",
        ));
    }
    if c.mode == TierMode::Flat && c.tiers.len() != 1 {
        return Err(bad(
            format!("{ctx} tiers"),
            c.tiers.len(),
            "tiers given for mode \"flat\", which takes exactly one",
        ));
    }
    let mut tiers = Vec::with_capacity(c.tiers.len());
    let mut prev: Option<Decimal> = None;
    for (i, t) in c.tiers.iter().enumerate() {
        let last = i + 1 == c.tiers.len();
        rate(&format!("{ctx} tiers[{i}].rate"), t.rate)?;
        match (t.upto, last) {
            (Some(u), false) => {
                if u <= Decimal::ZERO || prev.is_some_and(|p| u <= p) {
                    return Err(bad(
                        format!("{ctx} tiers[{i}].upto"),
                        u,
                        "must be positive and above the previous tier's (tiers ascend)",
                    ));
                }
                prev = Some(u);
            }
            (None, true) => {}
            (Some(u), true) => {
                return Err(bad(
                    format!("{ctx} tiers[{i}].upto"),
                    u,
                    "is set on the last tier, which must be open (no upto)",
                ));
            }
            (None, false) => {
                return Err(bad(
                    format!("{ctx} tiers[{i}].upto"),
                    "(none)",
                    "is missing: only the last tier is open",
                ));
            }
        }
        tiers.push(Tier {
            upto: t.upto.map(Const::new),
            rate: Const::new(t.rate),
        });
    }
    Ok(Category::new(c.id.clone(), c.mode, tiers))
}

pub(super) fn referral_table(t: &ReferralTable) -> R<Dated<ReferralSchedule>> {
    let from = date("[[referral]] effective_from", &t.effective_from)?;
    let ctx = format!("[[referral]] {}", t.effective_from);
    let min_fee = |cur: Currency| -> R<Decimal> {
        let v = t.min_fee.get(cur.code()).ok_or_else(|| {
            bad(
                format!("{ctx} min_fee"),
                cur,
                "is missing: give min_fee = { EUR = …, GBP = … }",
            )
        })?;
        amount(&format!("{ctx} min_fee.{cur}"), *v)
    };
    if let Some(k) = t.min_fee.keys().find(|k| k.parse::<Currency>().is_err()) {
        return Err(bad(
            format!("{ctx} min_fee"),
            k,
            "is not a currency: expected EUR or GBP",
        ));
    }
    let mut seen = HashSet::new();
    let mut default = None;
    let mut categories = Vec::new();
    for c in &t.categories {
        if !seen.insert(c.id.as_str()) {
            return Err(bad(format!("{ctx} categories"), &c.id, "appears twice"));
        }
        let cat = category(&ctx, c)?;
        if cat.id == "default" {
            default = Some(cat);
        } else {
            categories.push(cat);
        }
    }
    let default = default.ok_or_else(|| {
        bad(
            format!("{ctx} categories"),
            "default",
            "is missing: every referral table needs a \"default\" category",
        )
    })?;
    let mut dsf = [Dsf::default(); 5];
    for (m, d) in &t.dsf {
        dsf[market_index(*m)] = Dsf {
            referral: rate(&format!("{ctx} dsf.{m}.referral"), d.referral)?.into(),
            fba: rate(&format!("{ctx} dsf.{m}.fba"), d.fba)?.into(),
        };
    }
    Ok(Dated {
        from,
        table: ReferralSchedule::new(
            (
                min_fee(Currency::EUR)?.into(),
                min_fee(Currency::GBP)?.into(),
            ),
            default,
            categories,
            dsf,
        ),
    })
}

pub(super) fn fba_table(t: &FbaTable) -> R<Dated<FbaSchedule>> {
    let from = date("[[fba]] effective_from", &t.effective_from)?;
    let ctx = format!("[[fba]] {}", t.effective_from);
    let mut tiers: [Vec<(Option<i64>, Const)>; 5] = Default::default();
    for m in Market::ALL {
        let list = t.tiers.get(&m).ok_or_else(|| {
            bad(
                format!("{ctx} tiers"),
                m,
                "is missing: every market UK, DE, FR, IT, ES needs weight tiers",
            )
        })?;
        let mut prev = 0;
        for (i, tier) in list.iter().enumerate() {
            amount(&format!("{ctx} tiers.{m}[{i}].fee"), tier.fee)?;
            match tier.upto_g {
                Some(u) if u > prev => prev = u,
                Some(u) => {
                    return Err(bad(
                        format!("{ctx} tiers.{m}[{i}].upto_g"),
                        u,
                        "must be above the previous tier's (tiers ascend, grams > 0)",
                    ));
                }
                None if i + 1 == list.len() => {}
                None => {
                    return Err(bad(
                        format!("{ctx} tiers.{m}[{i}].upto_g"),
                        "(none)",
                        "is missing: only the last tier may be open",
                    ));
                }
            }
            tiers[market_index(m)].push((tier.upto_g, Const::new(tier.fee)));
        }
        if list.is_empty() {
            return Err(bad(format!("{ctx} tiers.{m}"), "[]", "is empty"));
        }
    }
    Ok(Dated {
        from,
        table: FbaSchedule { tiers },
    })
}

pub(super) fn storage_table(t: &StorageTable) -> R<Dated<StorageSchedule>> {
    let from = date("[[storage]] effective_from", &t.effective_from)?;
    let ctx = format!("[[storage]] {}", t.effective_from);
    for (m, v) in t.per_m3_month.iter().chain(&t.peak_per_m3_month) {
        amount(&format!("{ctx} rate {m}"), *v)?;
    }
    let base = per_market(&format!("{ctx} per_m3_month"), &t.per_m3_month)?;
    let mut peak = [None; 5];
    for (m, v) in &t.peak_per_m3_month {
        peak[market_index(*m)] = Some(Const::new(*v));
    }
    let mut peak_months = 0u16;
    for &month in &t.peak_months {
        if !(1..=12).contains(&month) {
            return Err(bad(
                format!("{ctx} peak_months"),
                month,
                "is not a month (1–12)",
            ));
        }
        peak_months |= 1 << month;
    }
    Ok(Dated {
        from,
        table: StorageSchedule {
            base: base.map(Const::new),
            peak,
            peak_months,
        },
    })
}
