//! Rules every store applies the same way: what a valid listing and opportunity are; how
//! listings merge (whether one replaces the stored one, a batch grouped by ASIN, the
//! product built from an ASIN's listed markets); and how text is searched (one lower-cased
//! search string per row, matched as a literal substring, never across two fields).

use std::collections::{BTreeMap, HashMap};

use crate::domain::{Asin, Currency, Listing, Market, Opportunity, PriceSnapshot, Product};

/// A listing must describe one market throughout.
pub(crate) fn listing(l: &Listing) -> Result<(), String> {
    let wrong = std::iter::once(l.snapshot.market)
        .chain(l.history.iter().map(|s| s.market))
        .find(|m| *m != l.market);
    match wrong {
        Some(m) => Err(format!(
            "listing {}:{} carries data for market {m}: a listing's snapshot and history \
             must be for its own market",
            l.asin, l.market
        )),
        None => Ok(()),
    }
}

/// Whether a listing replaces the stored one of its (ASIN, market). Times are microseconds
/// since the epoch; an observation time of 0 is unknown (Keepa sent no `lastUpdate`).
///
/// The newer Keepa observation wins, so neither a redelivered message nor an old dump
/// imported after newer fetches rolls prices back. An observation of unknown time cannot
/// be shown newer than a dated one, so it never replaces one (a bare line imported over a
/// full listing would otherwise wipe its prices), and a dated one always replaces it; on a
/// tie, or when both times are unknown, the later fetch wins.
pub(crate) fn replaces(
    observed: i64,
    fetched: i64,
    stored_observed: i64,
    stored_fetched: i64,
) -> bool {
    match (observed > 0, stored_observed > 0) {
        (true, true) if observed != stored_observed => observed > stored_observed,
        (true, false) => true,
        (false, true) => false,
        _ => fetched >= stored_fetched,
    }
}

/// ASINs in first-seen order, and each one's items.
pub(crate) type Grouped<L> = (Vec<Asin>, HashMap<Asin, Vec<L>>);

/// A batch's listings checked and grouped by ASIN: the ASINs in the order they first
/// appear, and each one's listings in batch order.
pub(crate) fn by_asin<L: std::borrow::Borrow<Listing>>(
    listings: impl IntoIterator<Item = L>,
) -> Result<Grouped<L>, String> {
    let listings = listings.into_iter();
    // A batch holds up to five listings an ASIN; most hold all five.
    let asins = listings.size_hint().0 / 4;
    let mut order = Vec::with_capacity(asins);
    let mut groups: HashMap<Asin, Vec<L>> = HashMap::with_capacity(asins);
    for l in listings {
        listing(l.borrow())?;
        let asin = l.borrow().asin;
        groups
            .entry(asin)
            .or_insert_with(|| {
                order.push(asin);
                Vec::new()
            })
            .push(l);
    }
    Ok((order, groups))
}

/// Refuses rows that would be stored under the wrong ASIN or sort and filter wrongly.
pub(crate) fn opportunity(asin: Asin, o: &Opportunity) -> Result<(), String> {
    let key = o.key();
    if o.asin != asin {
        return Err(format!(
            "opportunity {key} was given in the set of {asin}: each set holds only its own \
             ASIN's rows"
        ));
    }
    for (name, v) in [
        ("gross_margin_pct", o.gross_margin_pct),
        ("net_margin_pct", o.net_margin_pct),
        ("roi_pct", o.roi_pct),
    ] {
        if !v.is_finite() {
            return Err(format!(
                "opportunity {key} has {name} = {v}: percentages must be finite numbers"
            ));
        }
    }
    for (name, m) in [
        ("net_profit", o.net_profit),
        ("expected_monthly_profit", o.expected_monthly_profit),
    ] {
        if m.currency != Currency::EUR {
            return Err(format!(
                "opportunity {key} has {name} in {}: profits are stored in EUR, convert first",
                m.currency
            ));
        }
    }
    Ok(())
}

/// What one listed market says of a product's identity.
pub(crate) struct Identity<'a> {
    pub title: Option<&'a String>,
    pub brand: Option<&'a String>,
    pub image_url: Option<&'a String>,
    pub package_quantity: Option<i64>,
    pub eans: &'a [String],
}

/// The product of `asin` from its listed markets, given in display order: each identity
/// field from the first market that has it, EANs merged in that order; and the markets
/// where Keepa says it is not listed.
pub(crate) fn merged_product<'a>(
    asin: Asin,
    listed: impl IntoIterator<Item = (Market, Identity<'a>, PriceSnapshot)>,
    not_listed: impl IntoIterator<Item = Market>,
) -> Product {
    let mut p = Product {
        asin,
        title: None,
        brand: None,
        image_url: None,
        eans: Vec::new(),
        package_quantity: None,
        markets: BTreeMap::new(),
        not_listed: Some(not_listed.into_iter().collect()),
    };
    for (market, id, snapshot) in listed {
        p.title = p.title.or_else(|| id.title.cloned());
        p.brand = p.brand.or_else(|| id.brand.cloned());
        p.image_url = p.image_url.or_else(|| id.image_url.cloned());
        p.package_quantity = p.package_quantity.or(id.package_quantity);
        for e in id.eans {
            if !p.eans.contains(e) {
                p.eans.push(e.clone());
            }
        }
        p.markets.insert(market, snapshot);
    }
    p
}

/// Lower-cased search text: the parts joined by a separator no sanitized text contains,
/// so a query never matches across two fields.
pub(crate) fn search_text<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for p in parts {
        if !out.is_empty() {
            out.push('\u{1f}');
        }
        out.push_str(&p.to_lowercase());
    }
    out
}

/// A user's text filter normalised for a substring match on the search text: lower case,
/// no control characters, trimmed; `None` when nothing is left (no filter).
pub(crate) fn search_query(text: Option<&str>) -> Option<String> {
    let q: String = text?
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_lowercase();
    (!q.is_empty()).then_some(q)
}

/// A product search as words: each a case-insensitive substring the product must hold
/// (all of them, in any order); a "quoted phrase" is one word, an unclosed quote runs to
/// the end.
pub(crate) fn search_words(text: Option<&str>) -> Vec<String> {
    let (words, _) = crate::domain::text::words(text.unwrap_or_default());
    words.iter().filter_map(|w| search_query(Some(w))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_product_search_is_words_and_quoted_phrases() {
        assert_eq!(
            search_words(Some(" Kestrel  SSD \"usb c\" \"open")),
            ["kestrel", "ssd", "usb c", "open"]
        );
        assert!(search_words(Some("  ")).is_empty());
        assert!(search_words(None).is_empty());
    }

    #[test]
    fn search_text_is_lower_case_and_queries_are_normalised() {
        assert_eq!(
            search_text(["Kopfhörer ÜBER", "B0DEMO1234"]),
            "kopfhörer über\u{1f}b0demo1234"
        );
        assert_eq!(search_query(Some("  ÜBer\u{1f} ")), Some("über".into()));
        assert_eq!(search_query(Some(" \t ")), None);
        assert_eq!(search_query(None), None);
    }
}
