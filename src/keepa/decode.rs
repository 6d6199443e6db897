//! From Keepa's wire product to arbdesk's domain: one market's listing of one ASIN.
//!
//! Decoding is strict about meaning and lenient about shape: unknown fields are ignored,
//! missing ones are `None`, but a wrong type, an odd-length history or an absurd value is a
//! `DecodeError` naming the ASIN and the field. Errors are per product, so one bad product
//! never poisons its batch. Every string from Keepa is sanitized here, once.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::csv::{self, Point};
use super::time::keepa_to_utc;
use super::wire;
use crate::domain::text::sanitize;
use crate::domain::{
    Asin, Listing, Market, Money, PackageDims, PricePoint, PriceSeries, PriceSnapshot, SeriesKind,
};

/// A product that could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct DecodeError {
    /// The ASIN, or `?` when even that could not be read.
    pub asin: String,
    /// The Keepa domain id, or `?`.
    pub domain: String,
    /// Path of the offending field, e.g. `csv[18]` or `stats.current[3]`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for DecodeError {
    /// `malformed Keepa product B0… (domain 3): field `csv[1]`: …`; a line that is no
    /// product at all says only what it is.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.asin == "?" && self.domain == "?" && self.field == "(product)" {
            return write!(f, "not a Keepa product: {}", self.reason);
        }
        let asin = if self.asin.trim().is_empty() {
            "(empty ASIN)"
        } else {
            &self.asin
        };
        write!(
            f,
            "malformed Keepa product {asin} (domain {}): ",
            self.domain
        )?;
        // A whole-object failure (a missing field) names the field in its reason.
        if self.field != "(product)" {
            write!(f, "field `{}`: ", self.field)?;
        }
        f.write_str(&self.reason)
    }
}

/// serde_json's message for one line of JSON: its position as a column (the line is the
/// caller's to name; within one product object it is always line 1).
fn json_reason(e: &serde_json::Error) -> String {
    let text = whole_number_words(&e.to_string());
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&suffix) {
        Some(msg) if e.line() == 1 => format!("{msg} at column {}", e.column()),
        Some(msg) => format!(
            "{msg} at line {} column {} of the object",
            e.line(),
            e.column()
        ),
        None => text,
    }
}

/// serde_json reads an integer too large for 64 bits (or one with a fraction) as a float,
/// and then says `invalid type: floating point `1e+20`, expected i64`: said plainly.
fn whole_number_words(text: &str) -> String {
    let Some(rest) = text.strip_prefix("invalid type: floating point `") else {
        return text.to_string();
    };
    let Some((value, tail)) = rest.split_once("`, expected ") else {
        return text.to_string();
    };
    let int = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"]
        .iter()
        .find(|t| {
            tail.starts_with(*t) && !tail[t.len()..].starts_with(|c: char| c.is_alphanumeric())
        });
    match int {
        Some(t) => format!(
            "{value} is not a whole number that fits here (Keepa sends integers){}",
            &tail[t.len()..]
        ),
        None => text.to_string(),
    }
}

/// Longest title or brand kept, in characters. Real titles run to a few hundred at most;
/// a longer one is noise or an attack, and it would be stored, cached and drawn with every
/// row.
const MAX_TEXT_CHARS: usize = 1000;

/// The most EANs kept of a listing (Keepa lists a handful at most).
const MAX_EANS: usize = 32;

/// A title or brand as shown: its markup read as text (`super::html`), inert (see
/// `sanitize`) and at most `MAX_TEXT_CHARS` long.
fn text_field(raw: &str) -> String {
    let head = match raw.char_indices().nth(MAX_TEXT_CHARS * 4) {
        // Escape sequences take room before sanitizing; look at enough of the text.
        Some((cut, _)) => &raw[..cut],
        None => raw,
    };
    let mut text = sanitize(&super::html::to_text(head));
    if let Some((cut, _)) = text.char_indices().nth(MAX_TEXT_CHARS) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// Amazon's own seller id per market: a community convention, not Keepa documentation.
pub const fn amazon_seller_id(m: Market) -> &'static str {
    match m {
        Market::UK => "A3P5ROKL5A1OLE",
        Market::DE => "A3JWKAKR8XB7XF",
        Market::FR => "A1X6FK5RDHNB96",
        Market::IT => "A11IL2PNWYJU7H",
        Market::ES => "A1AT7YVPFBWXBL",
    }
}

/// The image URL for a Keepa image file name.
pub fn image_url(file: &str) -> String {
    format!("https://m.media-amazon.com/images/I/{file}")
}

/// A product as decoding reads it: what a document that carries one (a queue message)
/// parses its product into, in the same pass, before [`decode_parsed`].
pub type Product = wire::Product<wire::StatsRead>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ident {
    #[serde(default)]
    asin: Option<serde_json::Value>,
    #[serde(default)]
    domain_id: Option<serde_json::Value>,
}

/// Decodes one raw product object.
pub fn decode_product(raw: &str) -> Result<Listing, DecodeError> {
    // The fast path parses plainly; only a failure is parsed again to find the field.
    let p: Product = match serde_json::from_str(raw) {
        Ok(p) => p,
        Err(plain) => return Err(parse_error(raw, plain)),
    };
    decode_parsed(&p)
}

/// Decodes a product already parsed from JSON; the same listing and errors as
/// [`decode_product`] of its text, except for JSON-level failures, which parsing reported.
pub fn decode_parsed(p: &Product) -> Result<Listing, DecodeError> {
    decode_wire(p).map_err(|(field, reason)| DecodeError {
        asin: sanitize(&p.asin).chars().take(20).collect(),
        domain: p.domain_id.to_string(),
        field,
        reason,
    })
}

/// How far past the time a product was fetched (or read) Keepa's `lastUpdate` may lie:
/// clocks differ by minutes, not by a day.
const UPDATED_AHEAD: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// `listing`, unless Keepa's `lastUpdate` lies more than a day after `seen`, when it was
/// `how` (`fetched`, `read`): Keepa cannot have updated it later, and a price dated in the
/// future would count as current for ever. A corrupted value, or a clock far off.
pub fn updated_by(
    listing: Listing,
    seen: DateTime<Utc>,
    how: &str,
) -> Result<Listing, DecodeError> {
    let at = listing.snapshot.observed_at;
    // A difference, not `seen + a day`: a `seen` at the end of time must not overflow.
    if at.signed_duration_since(seen) <= UPDATED_AHEAD {
        return Ok(listing);
    }
    let time = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    Err(DecodeError {
        asin: listing.asin.to_string(),
        domain: listing.market.keepa_domain().to_string(),
        field: "lastUpdate".to_string(),
        reason: format!(
            "{} is after the product was {how} ({}): Keepa cannot have updated it later \
             (a corrupted value, or this machine's clock is far off)",
            time(at),
            time(seen)
        ),
    })
}

/// Names the product and the field of a JSON-level failure.
fn parse_error(raw: &str, plain: serde_json::Error) -> DecodeError {
    let not_product = |what: &str, reason: String| DecodeError {
        asin: "?".to_string(),
        domain: "?".to_string(),
        field: "(product)".to_string(),
        reason: format!("{what}: {reason}"),
    };
    if !raw.trim_start().starts_with('{') {
        let kind = match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(serde_json::Value::Array(_)) => "a JSON array",
            Ok(serde_json::Value::String(_)) => "a JSON string",
            Ok(serde_json::Value::Number(_)) => "a JSON number",
            Ok(serde_json::Value::Bool(_)) => "a JSON true or false",
            Ok(serde_json::Value::Null) => "JSON null",
            Ok(_) => "a JSON value",
            // serde_json stops at 128 levels; Keepa's objects nest four deep.
            Err(e) if e.to_string().starts_with("recursion limit exceeded") => {
                "JSON nested too deeply (over 128 levels)"
            }
            Err(_) => "",
        };
        let what = if kind.is_empty() {
            "not JSON".to_string()
        } else {
            format!("{kind}, not a JSON object")
        };
        return not_product(
            &what,
            "expected one Keepa product object such as {\"asin\": \"B0…\", \"domainId\": 3, …}"
                .to_string(),
        );
    }
    if plain.is_eof() {
        return not_product(
            "the JSON object ends early",
            format!("{} (a truncated or split line?)", json_reason(&plain)),
        );
    }
    if plain.is_syntax() {
        return not_product("not valid JSON", json_reason(&plain));
    }
    if let Some(what) = other_object(raw) {
        return not_product(what.0, what.1.to_string());
    }
    // Read the identity leniently, so the error can still name the product.
    let ident: Option<Ident> = serde_json::from_str(raw).ok();
    let show = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => sanitize(s).chars().take(20).collect(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => "?".to_string(),
    };
    let mut de = serde_json::Deserializer::from_str(raw);
    let (field, reason) = match serde_path_to_error::deserialize::<_, Product>(&mut de) {
        Err(e) => {
            let path = e.path().to_string();
            let path = if path == "." {
                "(product)".to_string()
            } else {
                path
            };
            (path, json_reason(&e.into_inner()))
        }
        Ok(_) => ("(product)".to_string(), json_reason(&plain)),
    };
    DecodeError {
        asin: show(ident.as_ref().and_then(|i| i.asin.as_ref())),
        domain: show(ident.as_ref().and_then(|i| i.domain_id.as_ref())),
        field,
        reason,
    }
}

/// What a JSON object that failed as a product is instead, when it is one of the two
/// things people put in such a file by mistake: a whole Keepa answer (its products inside
/// it), or arbdesk's own decoded listing (`arbdesk fetch --json`).
fn other_object(raw: &str) -> Option<(&'static str, &'static str)> {
    let serde_json::Value::Object(o) = serde_json::from_str(raw).ok()? else {
        return None;
    };
    if o.get("products").is_some_and(serde_json::Value::is_array) {
        return Some((
            "a whole Keepa answer, not one product",
            "put each object of its `products` array on a line of its own \
             (`jq -c '.products[]' answer.json > products.jsonl`)",
        ));
    }
    if o.contains_key("market") && o.contains_key("snapshot") && !o.contains_key("domainId") {
        return Some((
            "arbdesk's own listing (what `arbdesk fetch --json` prints), not a Keepa product",
            "import reads Keepa's product objects as the API sends them, each with its \
             `domainId`",
        ));
    }
    None
}

type FieldError = (String, String);

/// Decodes an already-parsed wire product. Errors are `(field, reason)`.
fn decode_wire(p: &Product) -> Result<Listing, FieldError> {
    let asin: Asin = p
        .asin
        .parse()
        .map_err(|e: crate::domain::ParseAsinError| ("asin".to_string(), e.to_string()))?;
    let market = Market::from_keepa_domain(p.domain_id).ok_or_else(|| {
        (
            "domainId".to_string(),
            format!(
                "{} is not a covered market: expected 2 (UK), 3 (DE), 4 (FR), 8 (IT) or 9 (ES)",
                p.domain_id
            ),
        )
    })?;
    let currency = market.currency();
    let money = |v: i64| Money::new(v, currency);

    let (last, history) = read_history(p, market)?;
    let last_of =
        |i: usize| -> Option<i64> { last.get(i).copied().flatten().and_then(|pt| pt.value) };

    let no_stats = wire::StatsRead::default();
    let stats = p.stats.as_ref().unwrap_or(&no_stats);
    let stat = |name: &str,
                arr: &Option<Vec<i64>>,
                i: usize,
                max: i64|
     -> Result<Option<i64>, FieldError> {
        match arr.as_ref().and_then(|a| a.get(i)) {
            None => Ok(None),
            Some(&v) if v < 0 => Ok(None),
            Some(&v) if v > max => Err((
                format!("stats.{name}[{i}]"),
                format!("value {v} is above the plausible {max}"),
            )),
            Some(&v) => Ok(Some(v)),
        }
    };
    let current = |i: usize, max: i64| -> Result<Option<i64>, FieldError> {
        if stats.current.is_some() {
            stat("current", &stats.current, i, max)
        } else {
            Ok(last_of(i))
        }
    };
    let price_max = csv::MAX_PRICE_MINOR;
    let rank_max = csv::MAX_RANK;

    let last_update = match p.last_update {
        Some(m) if (0..=csv::MAX_KEEPA_MINUTE).contains(&m) => keepa_to_utc(m),
        Some(m) => {
            return Err((
                "lastUpdate".into(),
                format!("{m} is not a plausible Keepa minute"),
            ));
        }
        None => None,
    };
    let observed_at: DateTime<Utc> = last_update.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);

    let amazon_share = amazon_buy_box_share(stats, market);
    let (fba_fee, referral) = fees_of(p, market)?;
    let positive = |v: Option<i64>| v.filter(|x| *x >= 0);
    // Keepa writes 0 or −1 for an unknown size; a side over 10 m is not a parcel.
    let dim = |v: Option<i64>| v.filter(|x| (1..=10_000_000).contains(x));

    let title = p.title.as_deref().map(text_field).filter(|s| !s.is_empty());
    let eans = gtins(p);
    let is_hazmat = matches!(&p.hazardous_materials, Some(v) if !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()));
    let snapshot = PriceSnapshot {
        market,
        title: title.clone(),
        amazon: current(csv::AMAZON, price_max)?.map(money),
        new: current(csv::NEW, price_max)?.map(money),
        buy_box: current(csv::BUY_BOX_SHIPPING, price_max)?.map(money),
        amazon_avg90: stat("avg90", &stats.avg90, csv::AMAZON, price_max)?.map(money),
        new_avg90: stat("avg90", &stats.avg90, csv::NEW, price_max)?.map(money),
        buy_box_avg90: stat("avg90", &stats.avg90, csv::BUY_BOX_SHIPPING, price_max)?.map(money),
        sales_rank: current(csv::SALES, rank_max)?,
        rank_drops30: positive(stats.sales_rank_drops30),
        monthly_sold: positive(p.monthly_sold),
        offers_new: current(csv::COUNT_NEW, rank_max)?,
        offers_new_fba: current(csv::COUNT_NEW_FBA, rank_max)?,
        offers_new_fbm: current(csv::COUNT_NEW_FBM, rank_max)?,
        buy_box_is_amazon: stats.buy_box_is_amazon,
        amazon_buy_box_share_pct: amazon_share,
        referral_fee_pct: referral,
        fba_fee,
        eans: eans.clone(),
        package_quantity: positive(p.package_quantity),
        package: PackageDims {
            length_mm: dim(p.package_length),
            width_mm: dim(p.package_width),
            height_mm: dim(p.package_height),
            weight_g: dim(p.package_weight),
        },
        product_group: p
            .product_group
            .as_deref()
            .map(sanitize)
            .filter(|s| !s.is_empty()),
        is_adult: p.is_adult_product.unwrap_or(false),
        is_hazmat,
        out_of_stock_pct90: stat(
            "outOfStockPercentage90",
            &stats.out_of_stock_percentage90,
            csv::BUY_BOX_SHIPPING,
            100,
        )?,
        observed_at,
    };

    let image_url = image_of(p);

    Ok(Listing {
        asin,
        market,
        product_type: p.product_type.unwrap_or(0),
        title,
        brand: p.brand.as_deref().map(text_field).filter(|s| !s.is_empty()),
        image_url,
        eans,
        package_quantity: positive(p.package_quantity),
        root_category: p.root_category,
        is_adult: p.is_adult_product.unwrap_or(false),
        is_hazmat,
        snapshot,
        history,
    })
}

/// Validates every history array of `p`: the last point of each (by csv index), and the
/// series a listing keeps, decoded as they are read (the rest only leave their last point).
fn read_history(
    p: &Product,
    market: Market,
) -> Result<([Option<Point>; 36], Vec<PriceSeries>), FieldError> {
    let mut last = [None::<Point>; 36];
    let mut history = Vec::new();
    let Some(csv_arrays) = &p.csv else {
        return Ok((last, history));
    };
    for (i, a) in csv_arrays.iter().enumerate() {
        let Some(a) = a else { continue };
        let field = |e: csv::CsvError| (format!("csv[{i}]"), e.to_string());
        let end = match series_kind(i) {
            Some(kind) => {
                let mut points = Vec::with_capacity(a.len() / 2);
                let end = csv::visit(i, a, |pt| {
                    if let Some(at) = keepa_to_utc(pt.minute) {
                        points.push(PricePoint {
                            at,
                            value: pt.value,
                        });
                    }
                })
                .map_err(field)?;
                history.push(PriceSeries {
                    market,
                    kind,
                    points,
                });
                end
            }
            None => csv::visit(i, a, |_| {}).map_err(field)?,
        };
        if let Some(slot) = last.get_mut(i) {
            *slot = end;
        }
    }
    Ok((last, history))
}

/// Amazon's share of the Buy Box in percent (economics.md §4.1): its `percentageWon` in
/// `buyBoxStats`, and 0 when the stats name only other sellers. Without stats (or with an
/// implausible share) it is unknown, and demand falls back to `buyBoxIsAmazon`. Amazon's
/// seller id is Keepa's own word where it says Amazon holds the Buy Box now (the holder's
/// id), else the community convention (keepa-api.md §10).
fn amazon_buy_box_share(stats: &wire::StatsRead, market: Market) -> Option<f64> {
    let amazon_id = match (stats.buy_box_is_amazon, stats.buy_box_seller_id.as_deref()) {
        (Some(true), Some(holder)) if !holder.is_empty() => holder,
        _ => amazon_seller_id(market),
    };
    let sellers = stats.buy_box_stats.as_ref().filter(|s| !s.is_empty())?;
    match sellers.get(amazon_id) {
        Some(amazon) => {
            Some(amazon.percentage_won).filter(|v| v.is_finite() && (0.0..=100.0).contains(v))
        }
        None => Some(0.0),
    }
}

/// The product's GTINs (EAN-8, UPC-A, EAN-13, GTIN-14: 8 to 14 digits), at most
/// `MAX_EANS`: anything else could not match another market's code, and would be stored
/// and served as it came.
fn gtins(p: &Product) -> Vec<String> {
    p.ean_list
        .iter()
        .flatten()
        .map(|e| e.trim())
        .filter(|e| (8..=14).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_digit()))
        .take(MAX_EANS)
        .map(str::to_string)
        .collect()
}

/// The FBA pick-and-pack fee and the referral fee percentage Keepa gives, when plausible
/// (a negative one is "unknown"; one above the plausible is an error naming the field).
fn fees_of(p: &Product, market: Market) -> Result<(Option<Money>, Option<f64>), FieldError> {
    let price_max = csv::MAX_PRICE_MINOR;
    let fba_fee = match p.fba_fees.as_ref().and_then(|f| f.pick_and_pack_fee) {
        Some(v) if (0..=price_max).contains(&v) => Some(Money::new(v, market.currency())),
        Some(v) if v < 0 => None,
        Some(v) => {
            return Err((
                "fbaFees.pickAndPackFee".into(),
                format!("value {v} is above the plausible {price_max} (in cents)"),
            ));
        }
        None => None,
    };
    let referral = match p.referral_fee_percentage {
        Some(v) if v.is_finite() && (0.0..=100.0).contains(&v) => Some(v),
        Some(v) if v < 0.0 => None,
        Some(v) => {
            return Err((
                "referralFeePercentage".into(),
                format!("{v} is not a percentage"),
            ));
        }
        None => None,
    };
    Ok((fba_fee, referral))
}

/// The history series a listing keeps of csv type `index`: Amazon, New, sales rank and
/// Buy Box; the other types are validated and read for their last value only.
fn series_kind(index: usize) -> Option<SeriesKind> {
    match index {
        csv::AMAZON => Some(SeriesKind::Amazon),
        csv::NEW => Some(SeriesKind::New),
        csv::SALES => Some(SeriesKind::SalesRank),
        csv::BUY_BOX_SHIPPING => Some(SeriesKind::BuyBox),
        _ => None,
    }
}

/// The product's first image (large, else medium; else the first of `imagesCSV`) as a
/// URL, when its file name is one (no path, no query, nothing to escape).
fn image_of(p: &Product) -> Option<String> {
    p.images
        .as_ref()
        .and_then(|imgs| imgs.first())
        .and_then(|i| i.l.as_deref().or(i.m.as_deref()))
        .or_else(|| p.images_csv.as_deref().and_then(|s| s.split(',').next()))
        .map(sanitize)
        .filter(|f| {
            !f.is_empty()
                && f.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-+%".contains(c))
        })
        .map(|f| image_url(&f))
}

/// The raw product objects of a `/product` body, whatever its envelope holds (the client
/// reads the envelope on its own, and keeps a payload whose token fields are missing).
pub fn product_list(body: &[u8]) -> Result<Vec<String>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Body<'a> {
        #[serde(borrow, default)]
        products: Option<Vec<&'a serde_json::value::RawValue>>,
    }
    let parsed: Body<'_> = serde_json::from_slice(body)?;
    Ok(parsed
        .products
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.get().to_string())
        .collect())
}
