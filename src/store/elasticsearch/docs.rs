//! Index names, explicit mappings, document ids and the fields documents carry.
//!
//! Every index is `dynamic: strict`: a field not mapped here is refused, so a typo cannot
//! grow the mapping. The domain value a document stands for (a product, a listing, an
//! opportunity, a job run) is kept whole under `doc`, which is stored but not indexed; the
//! other fields exist to filter, sort and aggregate on. Times are `long` microseconds (the
//! stores keep microseconds, and Elasticsearch's `date` holds milliseconds); percentages are
//! `scaled_float` to the millionth; money is `long` minor units.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::domain::{Asin, Market};
use crate::store::StoreError;

/// The indices of one installation (names are the prefix plus the suffix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ix {
    /// One document per ASIN: the merged product, its listed markets, search text and the
    /// routes it has opportunities on.
    Products,
    /// One document per (ASIN, market): the last fetch there.
    Listings,
    /// One document per (ASIN, market): the compact price history.
    History,
    /// One document per `asin:buy:sell`.
    Opportunities,
    /// One document per watched ASIN, with its fetch times and opportunity markets copied in
    /// for refresh scheduling.
    Watchlist,
    /// One document per job: its latest run.
    Jobs,
    /// One document per import key.
    Checkpoints,
    /// One document per process running a pipeline stage: its last report.
    Processes,
}

impl Ix {
    pub const ALL: [Ix; 8] = [
        Ix::Products,
        Ix::Listings,
        Ix::History,
        Ix::Opportunities,
        Ix::Watchlist,
        Ix::Jobs,
        Ix::Checkpoints,
        Ix::Processes,
    ];

    pub fn suffix(self) -> &'static str {
        match self {
            Ix::Products => "products",
            Ix::Listings => "listings",
            Ix::History => "price_history",
            Ix::Opportunities => "opportunities",
            Ix::Watchlist => "watchlist",
            Ix::Jobs => "jobs",
            Ix::Checkpoints => "checkpoints",
            Ix::Processes => "processes",
        }
    }
}

/// The index-creation body of `ix`.
pub(crate) fn mapping(ix: Ix) -> Value {
    let keyword = json!({"type": "keyword"});
    let long = json!({"type": "long"});
    let boolean = json!({"type": "boolean"});
    let stored = json!({"type": "object", "enabled": false});
    let pct = json!({"type": "scaled_float", "scaling_factor": 1_000_000});
    let mut p = Map::new();
    let mut put = |name: &str, v: &Value| {
        p.insert(name.to_string(), v.clone());
    };
    match ix {
        Ix::Products => {
            for f in ["asin", "markets", "search", "routes"] {
                put(f, &keyword);
            }
            put("updated_at", &long);
            put("doc", &stored);
        }
        Ix::Listings => {
            put("asin", &keyword);
            put("market", &keyword);
            put("listed", &boolean);
            put("fetched_at", &long);
            put("observed_at", &long);
            put("doc", &stored);
        }
        Ix::History => {
            put("asin", &keyword);
            put("market", &keyword);
            put("history", &json!({"type": "binary"}));
        }
        Ix::Opportunities => {
            for f in ["asin", "buy_market", "sell_market", "search"] {
                put(f, &keyword);
            }
            put("buy_rank", &json!({"type": "byte"}));
            put("sell_rank", &json!({"type": "byte"}));
            for f in ["gross_margin_pct", "net_margin_pct", "roi_pct"] {
                put(f, &pct);
            }
            for f in ["net_profit", "expected_monthly_profit", "updated_at"] {
                put(f, &long);
            }
            put("ranked", &boolean);
            put("doc", &stored);
        }
        Ix::Watchlist => {
            put("asin", &keyword);
            put("source", &keyword);
            put("added_at", &long);
            put("opp_markets", &keyword);
            for m in Market::ALL {
                put(&fetched_field(m), &long);
            }
        }
        Ix::Jobs => {
            put("job", &keyword);
            put("started_at", &long);
            put("doc", &stored);
        }
        Ix::Checkpoints => {
            put("key", &json!({"type": "keyword", "index": false}));
            put("offset", &long);
            put("updated_at", &long);
        }
        Ix::Processes => {
            put("id", &keyword);
            put("updated_at", &long);
            put("doc", &stored);
        }
    }
    json!({"mappings": {"dynamic": "strict", "properties": p}})
}

/// The id of an (ASIN, market) document.
pub(crate) fn listing_id(asin: Asin, m: Market) -> String {
    format!("{asin}:{}", m.code())
}

/// The id of an opportunity document.
pub(crate) fn opportunity_id(asin: Asin, buy: Market, sell: Market) -> String {
    format!("{asin}:{}:{}", buy.code(), sell.code())
}

/// A route as kept in a product's `routes`: `BUY:SELL`.
pub(crate) fn route(buy: Market, sell: Market) -> String {
    format!("{}:{}", buy.code(), sell.code())
}

/// The watchlist field with the last fetch in `m`.
pub(crate) fn fetched_field(m: Market) -> String {
    format!("fetched_{}", m.code().to_ascii_lowercase())
}

/// A time as stored.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A stored time back, or a corrupt-data error naming the document.
pub(crate) fn time(v: &Value, what: &dyn Fn() -> String) -> Result<DateTime<Utc>, StoreError> {
    v.as_i64()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(|| corrupt(what(), format!("time {v} is not microseconds since 1970")))
}

/// The market of a stored code.
pub(crate) fn market(v: &Value, what: &dyn Fn() -> String) -> Result<Market, StoreError> {
    v.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| {
        corrupt(
            what(),
            format!("market {v} is not one of UK, DE, FR, IT, ES"),
        )
    })
}

/// The ASIN of a stored document.
pub(crate) fn asin(v: &Value, what: &dyn Fn() -> String) -> Result<Asin, StoreError> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| corrupt(what(), format!("ASIN {v} is not valid")))
}

/// A stored domain value (`doc`) back.
pub(crate) fn value<T: serde::de::DeserializeOwned>(
    v: &Value,
    what: &dyn Fn() -> String,
) -> Result<T, StoreError> {
    T::deserialize(v).map_err(|e| corrupt(what(), e.to_string()))
}

/// A domain value as a document field.
pub(crate) fn to_value<T: serde::Serialize>(
    v: &T,
    what: &dyn Fn() -> String,
) -> Result<Value, StoreError> {
    serde_json::to_value(v)
        .map_err(|e| StoreError::Invalid(format!("{} cannot be stored: {e}", what())))
}

/// A document that cannot be read back.
pub(crate) fn corrupt(what: String, why: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!(
        "{what} in Elasticsearch cannot be read: {why}; it was not written by this version \
         of arbdesk, or was edited by hand — delete it, and the next refresh writes it again"
    ))
}

/// A wildcard query matching `q` (already lower case) anywhere in the `search` field,
/// with the wildcard characters of `q` escaped so it is a literal substring.
pub(crate) fn substring(q: &str) -> Value {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('*');
    for c in q.chars() {
        if matches!(c, '*' | '?' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('*');
    json!({"wildcard": {"search": {"value": pattern}}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_is_strict_and_names_are_stable() {
        for ix in Ix::ALL {
            let m = mapping(ix);
            assert_eq!(m["mappings"]["dynamic"], "strict", "{ix:?}");
        }
        let a: Asin = "B0STORY00A".parse().unwrap();
        assert_eq!(listing_id(a, Market::DE), "B0STORY00A:DE");
        assert_eq!(
            opportunity_id(a, Market::FR, Market::UK),
            "B0STORY00A:FR:UK"
        );
        assert_eq!(fetched_field(Market::UK), "fetched_uk");
    }

    #[test]
    fn substrings_are_literal() {
        assert_eq!(
            substring("a*b?c\\")["wildcard"]["search"]["value"],
            "*a\\*b\\?c\\\\*"
        );
    }
}
