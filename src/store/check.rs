//! Rules every store applies the same way: what a valid listing and opportunity are, and
//! how text is searched (one lower-cased search string per row, matched as a literal
//! substring, never across two fields).

use crate::domain::{Asin, Currency, Listing, Opportunity};

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

#[cfg(test)]
mod tests {
    use super::*;

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
