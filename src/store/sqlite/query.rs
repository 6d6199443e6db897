//! The filtered, sorted, paged queries: opportunities and products.
//!
//! An opportunity query counts its matches, then reads one page of row ids and the page's
//! documents. The leading sort keys have an index ordered `key DESC, asin, buy, sell`, so a
//! descending page is a walk down that index that stops after `offset + limit` matches.
//! Which plan is cheaper depends on how many rows match, which the count has just told us:
//! with many matches the page walks the sort index (`INDEXED BY`), with few the planner is
//! left to find them through a filter index and sort them. Sorts without an index scan the
//! narrow table and keep the top `offset + limit`. Text filters compare a
//! lower-cased search column with `instr`, so `%` and `_` in a query are plain characters.

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::binary::decode_doc;
use super::codec::{Doing, Fail, Res, count_from, count_param, from_micros, market_bit, market_id};
use super::read::load_product;
use super::schema;
use crate::domain::{Asin, Market, Opportunity, Product};
use crate::store::check::{search_query, search_words};
use crate::store::{OpportunityFilter, OpportunitySort, Page, ProductFilter};

/// Matches per page row above which walking the sort index beats sorting the matches.
const WALK_RATIO: u64 = 100;

/// Opportunities matching `f`.
pub(super) fn opportunities(c: &Connection, f: &OpportunityFilter) -> Res<Page<Opportunity>> {
    let (where_sql, params) = opportunity_where(f)?;
    let total: i64 = c
        .prepare_cached(&format!("SELECT count(*) FROM opportunities {where_sql}"))
        .and_then(|mut st| st.query_row(params_from_iter(&params), |r| r.get(0)))
        .doing("counting opportunities")?;
    let total = count_from(total);
    let wanted = f.offset.saturating_add(f.limit) as u64;
    if f.limit == 0 || total <= f.offset as u64 {
        return Ok(Page {
            total,
            items: Vec::new(),
        });
    }
    let index = sort_index(f.sort);
    // Rows without net figures (NULL) come last in either direction, as in Elasticsearch
    // (SQLite's NULLs are the smallest values, so only an ascending sort needs saying so).
    let dir = if f.descending {
        "DESC"
    } else {
        "ASC NULLS LAST"
    };
    let order: Vec<String> = f.sort.keys().iter().map(|k| format!("{k} {dir}")).collect();
    // During a bulk load the sort indexes are gone (`schema::SORT_INDEXES`); the planner
    // then sorts the matches, which is slower and just as right.
    let indexed = match index {
        Some(index)
            if total >= wanted.saturating_mul(WALK_RATIO) && schema::has_index(c, index)? =>
        {
            format!("INDEXED BY {index}")
        }
        _ => String::new(),
    };
    let sql = format!(
        "SELECT id FROM opportunities {indexed} {where_sql}
         ORDER BY {}, asin, buy, sell LIMIT ? OFFSET ?",
        order.join(", ")
    );
    let mut page_params = params;
    page_params.push(Value::Integer(count_param(f.limit)));
    page_params.push(Value::Integer(count_param(f.offset)));
    let ids: Vec<i64> = c
        .prepare_cached(&sql)
        .and_then(|mut st| {
            st.query_map(params_from_iter(&page_params), |r| r.get(0))?
                .collect()
        })
        .doing("reading a page of opportunities")?;
    let mut doc = c
        .prepare_cached(
            "SELECT d.body, o.first_seen FROM opportunity_docs d
             JOIN opportunities o ON o.id = d.id WHERE d.id = ?1",
        )
        .doing("preparing the opportunity document read")?;
    let mut items = Vec::with_capacity(ids.len());
    for id in ids {
        let what = || format!("opportunity row {id}");
        let doing = "reading an opportunity document";
        let mut rows = doc.query([id]).doing(doing)?;
        let Some(r) = rows.next().doing(doing)? else {
            return Err(Fail::Corrupt(format!(
                "{}: its document is missing",
                what()
            )));
        };
        // Decoded where SQLite holds it: no copy first.
        let mut o: Opportunity = decode_doc(r.get_ref(0).doing(doing)?, &what)?;
        let first_seen: Option<i64> = r.get(1).doing(doing)?;
        o.first_seen = first_seen.map(|v| from_micros(v, &what)).transpose()?;
        items.push(o);
    }
    Ok(Page { total, items })
}

/// The index that holds rows in the order of `sort` (`schema::SORT_INDEXES`), if any.
fn sort_index(sort: OpportunitySort) -> Option<&'static str> {
    match sort {
        OpportunitySort::GrossMarginPct => Some("opp_gross"),
        OpportunitySort::NetMarginPct => Some("opp_net"),
        OpportunitySort::ExpectedMonthlyProfit => Some("opp_emp"),
        OpportunitySort::NetProfit | OpportunitySort::RoiPct | OpportunitySort::UpdatedAt => None,
    }
}

/// The `WHERE` clause of an opportunity filter and its parameters.
fn opportunity_where(f: &OpportunityFilter) -> Res<(String, Vec<Value>)> {
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    for (column, v) in f.pct_minimums().map_err(Fail::Invalid)? {
        conds.push(format!("{column} >= ?"));
        params.push(Value::Real(v));
    }
    if let Some(v) = f.min_profit_cents {
        conds.push("net_profit >= ?".into());
        params.push(Value::Integer(v));
    }
    for (column, markets) in [("buy", &f.buy), ("sell", &f.sell)] {
        if let Some(list) = market_list(markets) {
            conds.push(format!("{column} IN ({list})"));
        }
    }
    if let Some(q) = search_query(f.text.as_deref()) {
        conds.push("instr(search, ?) > 0".into());
        params.push(Value::Text(q));
    }
    if let Some(ranked) = f.ranked {
        conds.push(format!("ranked = {}", i64::from(ranked)));
    }
    if !f.keys.is_empty() {
        let rows = vec!["(?, ?, ?)"; f.keys.len()].join(", ");
        conds.push(format!("(asin, buy, sell) IN (VALUES {rows})"));
        for k in &f.keys {
            params.push(Value::Text(k.asin.as_str().to_string()));
            params.push(Value::Integer(market_id(k.buy)));
            params.push(Value::Integer(market_id(k.sell)));
        }
    }
    let sql = if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    };
    Ok((sql, params))
}

/// A market list as SQL integer literals (they come from a closed enum), `None` for all.
fn market_list(markets: &[Market]) -> Option<String> {
    let mut ids: Vec<i64> = markets.iter().map(|m| market_id(*m)).collect();
    ids.sort_unstable();
    ids.dedup();
    (!ids.is_empty()).then(|| {
        ids.iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// Products listed in at least one market and matching `f`, by ASIN.
pub(super) fn products(c: &Connection, f: &ProductFilter) -> Res<Page<Product>> {
    let mut conds = vec!["markets != 0".to_string()];
    let mut params: Vec<Value> = Vec::new();
    if !f.markets.is_empty() {
        let mask: i64 = f.markets.iter().map(|m| market_bit(*m)).sum();
        conds.push(format!("(markets & {mask}) != 0"));
    }
    for w in search_words(f.text.as_deref()) {
        conds.push("instr(search, ?) > 0".into());
        params.push(Value::Text(w));
    }
    if let Some(before) = f.before {
        conds.push("asin < ?".into());
        params.push(Value::Text(before.as_str().to_string()));
    }
    let where_sql = conds.join(" AND ");
    let total: i64 = c
        .prepare_cached(&format!("SELECT count(*) FROM products WHERE {where_sql}"))
        .and_then(|mut st| st.query_row(params_from_iter(&params), |r| r.get(0)))
        .doing("counting products")?;
    let mut items = Vec::new();
    if f.limit > 0 {
        params.push(Value::Integer(count_param(f.limit)));
        params.push(Value::Integer(count_param(f.offset)));
        let asins: Vec<String> = c
            .prepare_cached(&format!(
                "SELECT asin FROM products WHERE {where_sql} ORDER BY asin LIMIT ? OFFSET ?"
            ))
            .and_then(|mut st| {
                st.query_map(params_from_iter(&params), |r| r.get(0))?
                    .collect()
            })
            .doing("reading a page of products")?;
        for a in asins {
            let asin: Asin = a
                .parse()
                .map_err(|e| Fail::Corrupt(format!("product row '{a}': {e}")))?;
            if let Some(p) = load_product(c, asin)? {
                items.push(p);
            }
        }
    }
    Ok(Page {
        total: count_from(total),
        items,
    })
}
