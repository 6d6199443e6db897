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

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::types::ValueRef;

use super::codec::{Fail, Res, from_json};
use crate::domain::{
    Breakdown, BreakdownLine, Currency, Flag, FlagSet, Market, Money, Opportunity, PackageDims,
    PriceSnapshot, SellFacts,
};

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
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(json) => from_json(json, what),
            Err(e) => Err(Fail::Corrupt(format!(
                "{}: stored document is not UTF-8 text: {e}",
                what()
            ))),
        },
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
        let json = std::str::from_utf8(b).map_err(|e| {
            Fail::Corrupt(format!(
                "{}: stored document is not UTF-8 text: {e}",
                what()
            ))
        })?;
        from_json(json, what)
    } else {
        T::decode(b).map_err(|e| Fail::Corrupt(format!("{}: stored document {e}", what())))
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

/// Appends values to a document.
struct Writer(Vec<u8>);

impl Writer {
    fn byte(&mut self, v: u8) {
        self.0.push(v);
    }

    /// LEB128: seven bits a byte, low first.
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    /// Zigzag, so small negative numbers are short too.
    fn int(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.varint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }

    /// A tag (0 absent, 1 present), then the value.
    fn opt<T: ?Sized>(&mut self, v: Option<&T>, f: impl FnOnce(&mut Self, &T)) {
        match v {
            None => self.byte(0),
            Some(v) => {
                self.byte(1);
                f(self, v);
            }
        }
    }

    fn opt_str(&mut self, s: Option<&str>) {
        self.opt(s, |w, s| w.str(s));
    }

    fn market(&mut self, m: Market) {
        self.byte(m.keepa_domain());
    }

    fn money(&mut self, m: Money) {
        self.int(m.minor);
        self.byte(match m.currency {
            Currency::EUR => 0,
            Currency::GBP => 1,
        });
    }

    fn time(&mut self, t: DateTime<Utc>) {
        self.int(t.timestamp());
        self.varint(u64::from(t.timestamp_subsec_nanos()));
    }
}

/// Reads values back, checking each against what is left.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader past the version byte, which must be [`VERSION`].
    fn open(b: &'a [u8]) -> Result<Self, String> {
        let mut r = Reader { b, at: 0 };
        let version = r.byte()?;
        if version != VERSION {
            return Err(format!(
                "has format version {version}, which this arbdesk does not know (it writes \
                 {VERSION}); run the arbdesk that wrote it, or a newer one"
            ));
        }
        Ok(r)
    }

    /// Checks that nothing is left.
    fn end(&self) -> Result<(), String> {
        match self.b.len().saturating_sub(self.at) {
            0 => Ok(()),
            n => Err(format!("goes on past its end ({n} bytes more)")),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.b.len())
            .ok_or_else(|| format!("ends early (at byte {} of {})", self.at, self.b.len()))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("has an over-long number at byte {}", self.at))
    }

    fn int(&mut self) -> Result<i64, String> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// A count of items or bytes, at most what is left (every item takes a byte or more).
    fn len(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.b.len() - self.at)
            .ok_or_else(|| format!("has a length {n} past its end at byte {}", self.at))
    }

    fn bool(&mut self) -> Result<bool, String> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            t => Err(format!(
                "has {t} where a yes/no goes at byte {}",
                self.at - 1
            )),
        }
    }

    fn f64(&mut self) -> Result<f64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(f64::from_le_bytes(a))
    }

    fn str(&mut self) -> Result<&'a str, String> {
        let n = self.len()?;
        let at = self.at;
        std::str::from_utf8(self.take(n)?).map_err(|e| format!("has bad text at byte {at}: {e}"))
    }

    fn opt<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        if self.bool()? {
            f(self).map(Some)
        } else {
            Ok(None)
        }
    }

    fn opt_str(&mut self) -> Result<Option<Arc<str>>, String> {
        self.opt(|r| r.str().map(Arc::from))
    }

    fn opt_string(&mut self) -> Result<Option<String>, String> {
        self.opt(|r| r.str().map(str::to_string))
    }

    fn market(&mut self) -> Result<Market, String> {
        let id = self.byte()?;
        Market::from_keepa_domain(i64::from(id))
            .ok_or_else(|| format!("has an unknown market id {id}"))
    }

    fn money(&mut self) -> Result<Money, String> {
        let minor = self.int()?;
        let currency = match self.byte()? {
            0 => Currency::EUR,
            1 => Currency::GBP,
            c => return Err(format!("has an unknown currency code {c}")),
        };
        Ok(Money::new(minor, currency))
    }

    fn time(&mut self) -> Result<DateTime<Utc>, String> {
        let secs = self.int()?;
        let nanos = self.varint()?;
        u32::try_from(nanos)
            .ok()
            .and_then(|n| DateTime::from_timestamp(secs, n))
            .ok_or_else(|| format!("has a time out of range ({secs} s, {nanos} ns)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Opportunity {
        let t = |s: i64, n: u32| DateTime::from_timestamp(s, n).unwrap();
        let mut flags = FlagSet::default();
        flags.insert(Flag::Profit);
        flags.insert(Flag::FxStale);
        Opportunity {
            asin: "B0DEMO1234".parse().unwrap(),
            title: Some("Zentro Cast Iron Skillet 28 cm — Ø, «Silver»".into()),
            buy_market: Market::UK,
            sell_market: Market::DE,
            buy_price: Money::new(3749, Currency::GBP),
            sell_price: Money::eur(5999),
            gross_margin: Money::eur(1_666),
            gross_margin_pct: 38.517_3,
            net_profit: Money::eur(-1889),
            net_margin_pct: -58.9,
            roi_pct: f64::MIN_POSITIVE,
            expected_monthly_profit: Money::eur(i64::MIN),
            max_buy_price: Some(Money::new(1144, Currency::GBP)),
            target_sell_price: None,
            break_even_sell_price: Some(Money::eur(i64::MAX)),
            ranked: true,
            flags,
            breakdown: Breakdown {
                lines: vec![BreakdownLine {
                    id: "fba_fee".into(),
                    label: "FBA fee".into(),
                    amount: Money::eur(-343),
                    source: "keepa".into(),
                }],
                fx_eur_per_gbp: Some(1.1556),
                fx_date: Some("2026-06-09".into()),
                fx_rate: Some("ecb 2026-06-09: 1 EUR = 0.8653 GBP".into()),
                vat_table: None,
                fee_table: Some("2025-02-01".into()),
                buy_observed_at: Some(t(1_795_586_400, 0)),
                sell_observed_at: None,
            },
            updated_at: t(1_795_586_400, 762_402_123),
            first_seen: Some(t(-5, 1)),
            sell_facts: SellFacts {
                brand: Some("Zentro".into()),
                sales_rank: Some(14_387),
                monthly_sold: None,
                rank_drops30: Some(-1),
            },
        }
    }

    #[test]
    fn a_row_round_trips_exactly_in_a_quarter_of_its_json() {
        let o = row();
        let b = encode_opportunity(&o);
        assert_eq!(decode_opportunity(&b).unwrap(), o);
        let json = serde_json::to_string(&o).unwrap();
        assert!(
            b.len() * 4 < json.len(),
            "{} bytes against {}",
            b.len(),
            json.len()
        );
        // The same row, the same bytes: an unchanged row is found unchanged.
        assert_eq!(encode_opportunity(&o.clone()), b);
        // Every field absent.
        let bare = Opportunity {
            title: None,
            max_buy_price: None,
            break_even_sell_price: None,
            flags: FlagSet::default(),
            breakdown: Breakdown::default(),
            first_seen: None,
            sell_facts: SellFacts::default(),
            ..o
        };
        assert_eq!(
            decode_opportunity(&encode_opportunity(&bare)).unwrap(),
            bare
        );
    }

    fn snapshot() -> PriceSnapshot {
        let m = |v| Some(Money::new(v, Currency::GBP));
        PriceSnapshot {
            market: Market::UK,
            title: Some("Maribel Smart Plug, 4-Pack".into()),
            amazon: m(5999),
            new: m(5999),
            buy_box: None,
            amazon_avg90: m(5942),
            new_avg90: m(-1),
            buy_box_avg90: None,
            sales_rank: Some(944),
            rank_drops30: Some(0),
            monthly_sold: Some(6684),
            offers_new: Some(9),
            offers_new_fba: None,
            offers_new_fbm: Some(3),
            buy_box_is_amazon: Some(false),
            amazon_buy_box_share_pct: Some(37.5),
            referral_fee_pct: Some(7.0),
            fba_fee: m(343),
            out_of_stock_pct90: None,
            eans: vec!["4026863157817".into(), "0123456789012".into()],
            package_quantity: Some(1),
            package: PackageDims {
                length_mm: Some(171),
                width_mm: None,
                height_mm: Some(47),
                weight_g: Some(i64::MAX),
            },
            product_group: Some("Consumer Electronics".into()),
            is_adult: false,
            is_hazmat: true,
            observed_at: DateTime::from_timestamp(1_795_586_460, 0).unwrap(),
        }
    }

    #[test]
    fn a_snapshot_round_trips_exactly_in_a_quarter_of_its_json() {
        let s = snapshot();
        let b = encode_snapshot(&s);
        let what = || "listing B0DEMO1234:UK".to_string();
        assert_eq!(decode_bytes::<PriceSnapshot>(&b, &what).unwrap(), s);
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            b.len() * 4 < json.len(),
            "{} bytes against {}",
            b.len(),
            json.len()
        );
        assert_eq!(
            decode_bytes::<PriceSnapshot>(json.as_bytes(), &what).unwrap(),
            s
        );
        let bare = PriceSnapshot {
            title: None,
            eans: Vec::new(),
            package: PackageDims::default(),
            product_group: None,
            buy_box_is_amazon: None,
            ..s
        };
        assert_eq!(decode_snapshot(&encode_snapshot(&bare)).unwrap(), bare);
        for end in 0..b.len() {
            let e = decode_bytes::<PriceSnapshot>(&b[..end], &what).unwrap_err();
            assert!(
                matches!(&e, Fail::Corrupt(m) if m.starts_with("listing B0DEMO1234:UK: stored document")),
                "{e:?}"
            );
        }
    }

    #[test]
    fn json_documents_written_before_are_read() {
        let o = row();
        let json = serde_json::to_string(&o).unwrap();
        let what = || "opportunity row 7".to_string();
        assert_eq!(
            decode_doc::<Opportunity>(ValueRef::Text(json.as_bytes()), &what).unwrap(),
            o
        );
        let b = encode_opportunity(&o);
        assert_eq!(
            decode_doc::<Opportunity>(ValueRef::Blob(&b), &what).unwrap(),
            o
        );
    }

    #[test]
    fn a_damaged_document_is_an_error_naming_the_row_never_a_panic() {
        let b = encode_opportunity(&row());
        let what = || "opportunity row 7".to_string();
        // Cut anywhere, or with any byte changed: an error or another valid row.
        for end in 0..b.len() {
            let e = decode_doc::<Opportunity>(ValueRef::Blob(&b[..end]), &what).unwrap_err();
            assert!(
                matches!(&e, Fail::Corrupt(m) if m.starts_with("opportunity row 7: stored document")),
                "{e:?}"
            );
        }
        for i in 0..b.len() {
            for v in [0u8, 1, 0x7F, 0x80, 0xFF] {
                let mut d = b.clone();
                d[i] = v;
                let _ = decode_opportunity(&d);
            }
        }
        let mut newer = b.clone();
        newer[0] = VERSION + 1;
        let e = decode_opportunity(&newer).unwrap_err();
        assert!(e.contains("format version 2"), "{e}");
        let mut longer = b;
        longer.push(0);
        assert_eq!(
            decode_opportunity(&longer).unwrap_err(),
            "goes on past its end (1 bytes more)"
        );
        assert!(matches!(
            decode_doc::<Opportunity>(ValueRef::Integer(3), &what),
            Err(Fail::Corrupt(m)) if m.contains("Integer")
        ));
    }
}
