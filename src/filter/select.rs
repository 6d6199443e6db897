//! A filter over the store: the part of it the store answers ([`Filter::narrow`]), then
//! the rest matched here over every row the store selects ([`select`]).

use chrono::{DateTime, Utc};

use super::{Filter, MarketField, NumField, Op, TermKind};
use crate::domain::{Market, Opportunity};
use crate::store::{OpportunityFilter, Page, Store, StoreResult};

impl Filter {
    /// Narrows `query` by the terms the store can answer itself (a lower bound on ROI,
    /// margins or profit; the buy and sell markets), so that fewer rows are read to be
    /// matched here. What the store then selects includes every row this filter matches;
    /// `false` when no row can match (the markets asked for exclude each other).
    pub fn narrow(&self, query: &mut OpportunityFilter) -> bool {
        fn raise(bound: &mut Option<f64>, v: f64) {
            if v.is_finite() {
                *bound = Some(bound.map_or(v, |b| b.max(v)));
            }
        }
        /// Keeps the markets of `allowed` in `list` (empty `list`: every market).
        fn keep(list: &mut Vec<Market>, allowed: &[Market]) -> bool {
            if list.is_empty() {
                list.extend(Market::ALL.iter().filter(|m| allowed.contains(m)));
            } else {
                list.retain(|m| allowed.contains(m));
            }
            !list.is_empty()
        }
        for t in self.terms.iter().filter(|t| !t.negate) {
            match &t.kind {
                TermKind::Num(f, op @ (Op::Ge | Op::Gt | Op::Eq), v) => {
                    // `=` matches within half a hundredth: the bound is that much lower.
                    let lo = if *op == Op::Eq { v - 0.005 } else { *v };
                    match f {
                        NumField::Roi => raise(&mut query.min_roi_pct, lo),
                        NumField::Margin => raise(&mut query.min_gross_margin_pct, lo),
                        NumField::Net => raise(&mut query.min_net_margin_pct, lo),
                        NumField::Profit if lo.is_finite() && lo.abs() < 1e15 => {
                            // Whole cents at least a cent below: never above the bound.
                            let cents = (lo * 100.0).floor() as i64 - 1;
                            query.min_profit_cents =
                                Some(query.min_profit_cents.map_or(cents, |c| c.max(cents)));
                        }
                        _ => {}
                    }
                }
                TermKind::Markets(f, true, list) => {
                    let side = match f {
                        MarketField::Src => &mut query.buy,
                        MarketField::Dst => &mut query.sell,
                    };
                    if !keep(side, list) {
                        return false;
                    }
                }
                TermKind::Routes(true, routes) => {
                    let buys: Vec<Market> = routes.iter().map(|r| r.0).collect();
                    let sells: Vec<Market> = routes.iter().map(|r| r.1).collect();
                    if !keep(&mut query.buy, &buys) || !keep(&mut query.sell, &sells) {
                        return false;
                    }
                }
                _ => {}
            }
        }
        true
    }
}

/// Rows scanned per store read when a filter has terms the store cannot answer.
const SCAN_CHUNK: usize = 10_000;

/// The page of `query` (its sort, `limit` and `offset`) among the store's opportunities
/// that also pass `filter` at `now`, with the total that pass. A filter of one plain word
/// is the store's own text search; any other is applied here to every row the rest of
/// `query` selects, read in chunks in `query`'s order, so totals and pages are exact.
pub async fn select(
    store: &dyn Store,
    query: OpportunityFilter,
    filter: &Filter,
    now: DateTime<Utc>,
) -> StoreResult<Page<Opportunity>> {
    select_in_chunks(store, query, filter, now, SCAN_CHUNK).await
}

/// [`select`], reading at most `chunk` rows per store read.
pub async fn select_in_chunks(
    store: &dyn Store,
    mut query: OpportunityFilter,
    filter: &Filter,
    now: DateTime<Utc>,
    chunk: usize,
) -> StoreResult<Page<Opportunity>> {
    let chunk = chunk.max(1);
    query.text = filter.store_text();
    if filter.is_empty() || filter.is_store_text() {
        return store.opportunities(query).await;
    }
    if !filter.narrow(&mut query) {
        return Ok(Page {
            total: 0,
            items: Vec::new(),
        });
    }
    let (skip, take) = (query.offset, query.limit);
    let mut page = Page {
        total: 0,
        items: Vec::with_capacity(take.min(1_000)),
    };
    query.limit = chunk;
    query.offset = 0;
    loop {
        let rows = store.opportunities(query.clone()).await?.items;
        let read = rows.len();
        for row in rows {
            if !filter.matches(&row, now) {
                continue;
            }
            let at = page.total as usize;
            if at >= skip && at - skip < take {
                page.items.push(row);
            }
            page.total += 1;
        }
        if read < chunk {
            return Ok(page);
        }
        query.offset += read;
    }
}
