//! The binary form of stored documents: opportunity rows and listing snapshots.
//!
//! As JSON an opportunity is ~1.1 KB and a snapshot ~770 bytes, most of it field names and
//! digits written out; in this form they are ~250 and ~170 bytes: numbers as variable-length integers (money in minor units, times as
//! seconds and nanoseconds) or the 8 bytes of an `f64` (exact, so a row read back is the row
//! written, bit for bit), strings with their length, markets as their Keepa domain id, flags
//! by name. A document starts with its format version ([`VERSION`]), never `{`: a JSON
//! document (from a store written before) is still read (see [`decode_bytes`]).
//!
//! Encoding destructures the whole value, so a field added to [`Opportunity`] or
//! [`PriceSnapshot`] does not compile until it is stored here too (and [`VERSION`] says how
//! to read what was written before).
//! Decoding checks every length and tag: a damaged document is an error naming the row,
//! never a panic.

use rusqlite::types::ValueRef;

use super::codec::{Fail, Res, from_json};
use crate::domain::{
    Breakdown, BreakdownLine, Flag, FlagSet, Opportunity, PackageDims, PriceSnapshot, SellFacts,
};
use wire::{Reader, Writer};

mod wire;

/// The format version, the first byte of every binary document.
const VERSION: u8 = 1;

/// The stored form of `o`.
pub(super) fn encode_opportunity(o: &Opportunity) -> Vec<u8> {
    let Opportunity {
        asin,
        title,
        buy_market,
        sell_market,
        buy_price,
        sell_price,
        gross_margin,
        gross_margin_pct,
        net_profit,
        net_margin_pct,
        roi_pct,
        expected_monthly_profit,
        max_buy_price,
        target_sell_price,
        break_even_sell_price,
        ranked,
        flags,
        breakdown,
        updated_at,
        first_seen,
        sell_facts,
    } = o;
    let Breakdown {
        lines,
        fx_eur_per_gbp,
        fx_date,
        fx_rate,
        vat_table,
        fee_table,
        buy_observed_at,
        sell_observed_at,
        // Set when a row is explained, never stored.
        unexplained: _,
    } = breakdown;
    let SellFacts {
        brand,
        sales_rank,
        monthly_sold,
        rank_drops30,
    } = sell_facts;
    let mut w = Writer(Vec::with_capacity(256));
    w.byte(VERSION);
    w.str(asin.as_str());
    w.opt_str(title.as_deref());
    w.market(*buy_market);
    w.market(*sell_market);
    for m in [buy_price, sell_price, gross_margin] {
        w.money(*m);
    }
    w.f64(*gross_margin_pct);
    w.money(*net_profit);
    w.f64(*net_margin_pct);
    w.f64(*roi_pct);
    w.money(*expected_monthly_profit);
    for m in [max_buy_price, target_sell_price, break_even_sell_price] {
        w.opt(m.as_ref(), |w, m| w.money(*m));
    }
    w.byte(u8::from(*ranked));
    w.varint(flags.iter().count() as u64);
    for name in flags.names() {
        w.str(name);
    }
    w.varint(lines.len() as u64);
    for l in lines {
        w.str(&l.id);
        w.str(&l.label);
        w.money(l.amount);
        w.str(&l.source);
    }
    w.opt(fx_eur_per_gbp.as_ref(), |w, v| w.f64(*v));
    for s in [fx_date, fx_rate, vat_table, fee_table] {
        w.opt_str(s.as_deref());
    }
    for t in [buy_observed_at, sell_observed_at] {
        w.opt(t.as_ref(), |w, t| w.time(*t));
    }
    w.time(*updated_at);
    w.opt(first_seen.as_ref(), |w, t| w.time(*t));
    w.opt_str(brand.as_deref());
    for v in [sales_rank, monthly_sold, rank_drops30] {
        w.opt(v.as_ref(), |w, v| w.int(*v));
    }
    w.0
}

/// The stored form of a listing's snapshot.
pub(super) fn encode_snapshot(s: &PriceSnapshot) -> Vec<u8> {
    let PriceSnapshot {
        market,
        title,
        amazon,
        new,
        buy_box,
        amazon_avg90,
        new_avg90,
        buy_box_avg90,
        sales_rank,
        rank_drops30,
        monthly_sold,
        offers_new,
        offers_new_fba,
        offers_new_fbm,
        buy_box_is_amazon,
        amazon_buy_box_share_pct,
        referral_fee_pct,
        fba_fee,
        out_of_stock_pct90,
        eans,
        package_quantity,
        package,
        product_group,
        is_adult,
        is_hazmat,
        observed_at,
    } = s;
    let PackageDims {
        length_mm,
        width_mm,
        height_mm,
        weight_g,
    } = package;
    let mut w = Writer(Vec::with_capacity(192));
    w.byte(VERSION);
    w.market(*market);
    w.opt_str(title.as_deref());
    for m in [
        amazon,
        new,
        buy_box,
        amazon_avg90,
        new_avg90,
        buy_box_avg90,
        fba_fee,
    ] {
        w.opt(m.as_ref(), |w, m| w.money(*m));
    }
    for v in [
        sales_rank,
        rank_drops30,
        monthly_sold,
        offers_new,
        offers_new_fba,
        offers_new_fbm,
        out_of_stock_pct90,
        package_quantity,
        length_mm,
        width_mm,
        height_mm,
        weight_g,
    ] {
        w.opt(v.as_ref(), |w, v| w.int(*v));
    }
    w.opt(buy_box_is_amazon.as_ref(), |w, v| w.byte(u8::from(*v)));
    for v in [amazon_buy_box_share_pct, referral_fee_pct] {
        w.opt(v.as_ref(), |w, v| w.f64(*v));
    }
    w.varint(eans.len() as u64);
    for e in eans {
        w.str(e);
    }
    w.opt_str(product_group.as_deref());
    w.byte(u8::from(*is_adult));
    w.byte(u8::from(*is_hazmat));
    w.time(*observed_at);
    w.0
}

/// A binary snapshot back.
fn decode_snapshot(b: &[u8]) -> Result<PriceSnapshot, String> {
    let mut r = Reader::open(b)?;
    let market = r.market()?;
    let title = r.opt_string()?;
    let mut money = [None; 7];
    for m in &mut money {
        *m = r.opt(Reader::money)?;
    }
    let [
        amazon,
        new,
        buy_box,
        amazon_avg90,
        new_avg90,
        buy_box_avg90,
        fba_fee,
    ] = money;
    let mut ints = [None; 12];
    for v in &mut ints {
        *v = r.opt(Reader::int)?;
    }
    let [
        sales_rank,
        rank_drops30,
        monthly_sold,
        offers_new,
        offers_new_fba,
        offers_new_fbm,
        out_of_stock_pct90,
        package_quantity,
        length_mm,
        width_mm,
        height_mm,
        weight_g,
    ] = ints;
    let buy_box_is_amazon = r.opt(Reader::bool)?;
    let amazon_buy_box_share_pct = r.opt(Reader::f64)?;
    let referral_fee_pct = r.opt(Reader::f64)?;
    let count = r.len()?;
    let mut eans = Vec::with_capacity(count.min(16));
    for _ in 0..count {
        eans.push(r.str()?.to_string());
    }
    let product_group = r.opt_string()?;
    let is_adult = r.bool()?;
    let is_hazmat = r.bool()?;
    let observed_at = r.time()?;
    r.end()?;
    Ok(PriceSnapshot {
        market,
        title,
        amazon,
        new,
        buy_box,
        amazon_avg90,
        new_avg90,
        buy_box_avg90,
        sales_rank,
        rank_drops30,
        monthly_sold,
        offers_new,
        offers_new_fba,
        offers_new_fbm,
        buy_box_is_amazon,
        amazon_buy_box_share_pct,
        referral_fee_pct,
        fba_fee,
        out_of_stock_pct90,
        eans,
        package_quantity,
        package: PackageDims {
            length_mm,
            width_mm,
            height_mm,
            weight_g,
        },
        product_group,
        is_adult,
        is_hazmat,
        observed_at,
    })
}

/// What a stored document can be: an opportunity row or a listing's snapshot.
pub(super) trait Doc: serde::de::DeserializeOwned {
    /// The binary form back.
    fn decode(b: &[u8]) -> Result<Self, String>;
}

impl Doc for Opportunity {
    fn decode(b: &[u8]) -> Result<Self, String> {
        decode_opportunity(b)
    }
}

impl Doc for PriceSnapshot {
    fn decode(b: &[u8]) -> Result<Self, String> {
        decode_snapshot(b)
    }
}

/// A stored document back, binary or (written before) JSON; `what` names the row.
pub(super) fn decode_doc<T: Doc>(value: ValueRef<'_>, what: &dyn Fn() -> String) -> Res<T> {
    match value {
        // Text is JSON (SQLite also turns a number written here into text).
        ValueRef::Text(t) => json_doc(t, what),
        ValueRef::Blob(b) => decode_bytes(b, what),
        _ => Err(Fail::Corrupt(format!(
            "{}: stored document is {:?}, not a document",
            what(),
            value.data_type()
        ))),
    }
}

/// A document's bytes back: JSON starts with `{`, the binary form with [`VERSION`].
pub(super) fn decode_bytes<T: Doc>(b: &[u8], what: &dyn Fn() -> String) -> Res<T> {
    if b.first() == Some(&b'{') {
        json_doc(b, what)
    } else {
        T::decode(b).map_err(|e| Fail::Corrupt(format!("{}: stored document {e}", what())))
    }
}

/// A JSON document (as stores written before the binary form hold them) back.
fn json_doc<T: Doc>(b: &[u8], what: &dyn Fn() -> String) -> Res<T> {
    match std::str::from_utf8(b) {
        Ok(json) => from_json(json, what),
        Err(e) => Err(Fail::Corrupt(format!(
            "{}: stored document is not UTF-8 text: {e}",
            what()
        ))),
    }
}

/// The bytes of a stored document as SQLite holds it (text or blob), for comparing it with
/// a wanted one.
pub(super) fn doc_bytes<'a>(value: ValueRef<'a>) -> Option<&'a [u8]> {
    match value {
        ValueRef::Blob(b) | ValueRef::Text(b) => Some(b),
        _ => None,
    }
}

/// A binary document back.
fn decode_opportunity(b: &[u8]) -> Result<Opportunity, String> {
    let mut r = Reader::open(b)?;
    let asin = r.str()?;
    let asin = asin
        .parse()
        .map_err(|e| format!("holds an invalid ASIN: {e}"))?;
    let title = r.opt_str()?;
    let buy_market = r.market()?;
    let sell_market = r.market()?;
    let buy_price = r.money()?;
    let sell_price = r.money()?;
    let gross_margin = r.money()?;
    let gross_margin_pct = r.f64()?;
    let net_profit = r.money()?;
    let net_margin_pct = r.f64()?;
    let roi_pct = r.f64()?;
    let expected_monthly_profit = r.money()?;
    let max_buy_price = r.opt(Reader::money)?;
    let target_sell_price = r.opt(Reader::money)?;
    let break_even_sell_price = r.opt(Reader::money)?;
    let ranked = r.bool()?;
    let mut flags = FlagSet::default();
    for _ in 0..r.len()? {
        let name = r.str()?;
        let flag = Flag::from_name(name).ok_or_else(|| format!("has an unknown flag '{name}'"))?;
        flags.insert(flag);
    }
    let count = r.len()?;
    let mut lines = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        lines.push(BreakdownLine {
            id: r.str()?.to_string(),
            label: r.str()?.to_string(),
            amount: r.money()?,
            source: r.str()?.to_string(),
        });
    }
    let breakdown = Breakdown {
        lines,
        fx_eur_per_gbp: r.opt(Reader::f64)?,
        fx_date: r.opt_str()?,
        fx_rate: r.opt_str()?,
        vat_table: r.opt_str()?,
        fee_table: r.opt_str()?,
        buy_observed_at: r.opt(Reader::time)?,
        sell_observed_at: r.opt(Reader::time)?,
        unexplained: None,
    };
    let updated_at = r.time()?;
    let first_seen = r.opt(Reader::time)?;
    let sell_facts = SellFacts {
        brand: r.opt_str()?,
        sales_rank: r.opt(Reader::int)?,
        monthly_sold: r.opt(Reader::int)?,
        rank_drops30: r.opt(Reader::int)?,
    };
    r.end()?;
    Ok(Opportunity {
        asin,
        title,
        buy_market,
        sell_market,
        buy_price,
        sell_price,
        gross_margin,
        gross_margin_pct,
        net_profit,
        net_margin_pct,
        roi_pct,
        expected_monthly_profit,
        max_buy_price,
        target_sell_price,
        break_even_sell_price,
        ranked,
        flags,
        breakdown,
        updated_at,
        first_seen,
        sell_facts,
    })
}

#[cfg(test)]
mod tests;
