//! New data: the store query the view asks for, store answers swapped in, change marks,
//! and the sorted, filtered view.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::{
    Change, Column, Effect, FILTER_ROWS, Feed, MAX_ROWS, Market, OpportunityKey, OpportunitySort,
    Query, ROW_LIMITS, Row, RowDelta, UiState, store_sort,
};
use crate::domain::Currency;
use crate::store::OpportunityFilter;
use crate::tui::model::Bounds;

/// How long before the previous answer a route may have been first recorded and still
/// count as new: a detection stamps its rows before its write commits, so a row stamped
/// just before one answer can first become visible in the next.
const NEW_GRACE: TimeDelta = TimeDelta::seconds(30);

impl UiState {
    /// The store query the filters and sort ask for.
    pub fn query(&self) -> Query {
        // A column whose store order is fixed (age: newest first) is sorted in memory in
        // the table's direction, so it needs the rows a filter would search too.
        let (sort, forced, in_memory) = match store_sort(self.sort) {
            Some((sort, forced)) => (sort, forced, forced.is_some()),
            None => (OpportunitySort::GrossMarginPct, Some(true), true),
        };
        let all = |v: &Vec<Market>| {
            if self.session.markets.iter().all(|m| v.contains(m)) {
                Vec::new()
            } else {
                v.clone()
            }
        };
        // What the `/` filter states that the store can answer narrows the rows loaded, so
        // the rows it searches are those that can match (not just the top of the sort).
        let mut narrowed = OpportunityFilter {
            buy: all(&self.buy),
            sell: all(&self.sell),
            ..OpportunityFilter::default()
        };
        let (buy, sell, bounds) = if self.filter.narrow(&mut narrowed) {
            let bounds = Bounds {
                roi_pct: narrowed.min_roi_pct,
                gross_margin_pct: narrowed.min_gross_margin_pct,
                net_margin_pct: narrowed.min_net_margin_pct,
                profit_cents: narrowed.min_profit_cents,
            };
            (narrowed.buy, narrowed.sell, bounds)
        } else {
            // No row can match: the filter says so over whatever is loaded.
            (all(&self.buy), all(&self.sell), Bounds::default())
        };
        Query {
            min_margin: self.min_margin,
            basis: self.basis,
            buy,
            sell,
            bounds,
            // A `/` filter narrows rows in memory, and a column the store cannot order by
            // is sorted in memory, so both need more than a screenful.
            limit: match ROW_LIMITS.get(self.limit).copied().flatten() {
                Some(n) if self.filter.is_empty() && !in_memory => n,
                Some(n) => n.max(FILTER_ROWS),
                None => MAX_ROWS,
            },
            sort,
            descending: forced.unwrap_or(self.descending),
            text: self.filter.store_text(),
        }
    }

    /// The effect that reloads rows when the query changed.
    pub(super) fn requery(&mut self) -> Vec<Effect> {
        let q = self.query();
        if self.last_query.as_ref() == Some(&q) {
            return Vec::new();
        }
        // When every matching row is loaded, a new sort order is applied in memory only.
        let complete = self.feed.error.is_none()
            && self.feed.rows.len() as u64 >= self.feed.total
            && self.feed.query.as_ref().is_some_and(|f| {
                Query {
                    sort: q.sort,
                    descending: q.descending,
                    ..f.clone()
                } == q
            });
        self.last_query = Some(q.clone());
        if complete {
            return Vec::new();
        }
        self.loading = true;
        vec![Effect::Query(q)]
    }

    /// The keys and time of the answer on screen if it answered `q` (empty otherwise): what
    /// the next answer to `q` counts the rows that left against.
    pub fn answer_to(&self, q: &Query) -> (Vec<OpportunityKey>, Option<DateTime<Utc>>) {
        if self.feed.query.as_ref() == Some(q) {
            (self.feed.rows.iter().map(|r| r.key).collect(), self.feed.at)
        } else {
            (Vec::new(), None)
        }
    }

    /// A store answer. While frozen, a newer answer to the query on screen (incoming
    /// data) is held back; an answer to another query is the operator's own change (a
    /// filter, sort or margin typed while frozen) and is shown at once, replacing what was
    /// held for the old query.
    pub fn on_feed(&mut self, feed: Feed) {
        let feed = Arc::new(feed);
        if self.frozen.is_some() {
            if feed.query == self.feed.query {
                self.pending = Some(feed);
                self.frozen_pending += 1;
                self.dirty = true;
                return;
            }
            self.pending = None;
            self.frozen_pending = 0;
        }
        self.swap_in(feed);
    }

    pub(super) fn swap_in(&mut self, feed: Arc<Feed>) {
        if feed.query.is_some() && feed.query == self.last_query {
            self.loading = false;
        }
        if feed.error.is_some() && feed.rows.is_empty() && !self.feed.rows.is_empty() {
            // Keep the last good rows; show the error.
            let mut kept = (*self.feed).clone();
            kept.error = feed.error.clone();
            self.feed = Arc::new(kept);
            self.dirty = true;
            return;
        }
        let same_query = self.feed.query.is_some() && self.feed.query == feed.query;
        self.compute_deltas(&feed, same_query);
        self.note_refreshed(&feed);
        self.keys = feed.rows.iter().map(|r| r.key).collect();
        let mut order: Vec<(OpportunityKey, u32)> = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, i as u32))
            .collect();
        order.sort_unstable();
        self.key_rank = vec![0; order.len()];
        for (rank, (_, i)) in order.into_iter().enumerate() {
            self.key_rank[i as usize] = rank as u32;
        }
        self.feed = feed;
        self.rebuild_view();
    }

    /// Says which products asked for with `r` have come back recomputed: their rows in
    /// `feed` were computed after the ask. (The operator otherwise sees nothing of a
    /// refresh that changed no price.)
    fn note_refreshed(&mut self, feed: &Feed) {
        if self.refresh_pending.is_empty() {
            return;
        }
        let now = self.now;
        self.refresh_pending
            .retain(|_, asked| now - *asked < super::REFRESH_SEEN_WITHIN);
        let mut done: Vec<crate::domain::Asin> = Vec::new();
        for r in &feed.rows {
            let asin = r.key.asin;
            if self
                .refresh_pending
                .get(&asin)
                .is_some_and(|asked| r.fig.updated_at >= *asked)
                && !done.contains(&asin)
            {
                done.push(asin);
            }
        }
        if done.is_empty() {
            return;
        }
        for a in &done {
            self.refresh_pending.remove(a);
        }
        let text = match done.as_slice() {
            [one] => {
                let routes = feed.rows.iter().filter(|r| r.key.asin == *one).count();
                format!(
                    "Refreshed {one}: {} recomputed",
                    crate::domain::text::count(routes as u64, "route")
                )
            }
            many => {
                let routes = feed
                    .rows
                    .iter()
                    .filter(|r| many.contains(&r.key.asin))
                    .count();
                format!(
                    "Refreshed {}: {} recomputed",
                    crate::domain::text::list_first(many, 3),
                    crate::domain::text::count(routes as u64, "route")
                )
            }
        };
        self.push_toast(text, false, false);
    }

    /// Marks what changed since the previous answer to the same query: a row that was
    /// not in it is new only if the store first recorded it since that answer (less
    /// [`NEW_GRACE`]); a row that only moved into the loaded window is not.
    fn compute_deltas(&mut self, new: &Feed, same_query: bool) {
        let Some(previous) = self.feed.at else {
            return;
        };
        let recent = |r: &Row| r.first_seen.is_some_and(|t| t > previous - NEW_GRACE);
        let old: HashMap<OpportunityKey, &Row> =
            self.feed.rows.iter().map(|r| (r.key, r)).collect();
        let mut alerts = Vec::new();
        for r in &new.rows {
            match old.get(&r.key) {
                None if same_query && recent(r) => {
                    self.deltas.insert(
                        r.key,
                        RowDelta {
                            new: true,
                            cells: Vec::new(),
                            at: self.now,
                        },
                    );
                    // Toasts are for routes worth acting on: every gate passed (so the
                    // net profit is positive) and the margin at the threshold.
                    if r.ranked && r.fig.gross_pct >= self.session.alert_margin_pct {
                        alerts.push(r);
                    }
                }
                None => {}
                Some(prev) => {
                    let mut cells = Vec::new();
                    let mut diff = |c: Column, a: i64, b: i64, rising_is_good: bool| {
                        if a != b {
                            let up = b > a;
                            cells.push((
                                c,
                                Change {
                                    up,
                                    good: up == rising_is_good,
                                },
                            ));
                        }
                    };
                    diff(
                        Column::BuyPrice,
                        prev.buy_price.minor,
                        r.buy_price.minor,
                        false,
                    );
                    diff(
                        Column::SellPrice,
                        prev.sell_price.minor,
                        r.sell_price.minor,
                        true,
                    );
                    diff(Column::Gross, prev.fig.gross.minor, r.fig.gross.minor, true);
                    diff(Column::Profit, prev.fig.net.minor, r.fig.net.minor, true);
                    let bp = |v: f64| (v * 10.0).round() as i64;
                    diff(Column::Roi, bp(prev.fig.roi), bp(r.fig.roi), true);
                    diff(
                        Column::Margin,
                        bp(prev.fig.gross_pct),
                        bp(r.fig.gross_pct),
                        true,
                    );
                    if !cells.is_empty() {
                        self.deltas.insert(
                            r.key,
                            RowDelta {
                                new: false,
                                cells,
                                at: self.now,
                            },
                        );
                    }
                }
            }
        }
        if same_query {
            // Rows that left the answer, not the page; counted from the page only when the
            // store was not asked. A count measured against another answer (a held-back one
            // was swapped in meanwhile) says nothing about this one.
            self.dropped = match new.left {
                Some(n) if new.left_of == self.feed.at => n,
                Some(_) => 0,
                None => {
                    let keys: HashSet<OpportunityKey> = new.rows.iter().map(|r| r.key).collect();
                    self.feed
                        .rows
                        .iter()
                        .filter(|r| !keys.contains(&r.key))
                        .count()
                }
            };
        }
        let alerts = alerts
            .into_iter()
            .map(|r| super::Alerted {
                key: r.key,
                gross_pct: r.fig.gross_pct,
                net: r.fig.net,
            })
            .collect();
        self.toast_alerts(alerts);
    }

    /// A new sort or filter: the selection goes to the first row and stays there as the
    /// answer to the new query arrives, until the operator moves it.
    pub(super) fn pin_to_top(&mut self) {
        self.pinned_top = true;
        self.rebuild_view();
    }

    /// Recomputes `view` from the rows, the filter and the sort, keeping the selected row
    /// (or the first, while the selection is pinned there).
    pub fn rebuild_view(&mut self) {
        let rows = &self.feed.rows;
        let col = self.sort;
        let desc = self.descending;
        // Sort keys are copied out in one sequential pass, then sorted as a contiguous
        // array: comparing through the row structs would miss the cache on every access.
        // Ties fall back to the row's rank in (ASIN, route) order, so rows never jump.
        let ranked_titles = self.feed.title_rank.len() == rows.len();
        let view: Vec<u32> = if col == Column::Title && !ranked_titles {
            let mut keyed: Vec<(&str, u32, u32)> = (0..rows.len())
                .filter(|&i| self.filter.matches(&rows[i], self.now))
                .map(|i| {
                    (
                        rows[i].search.get(11..).unwrap_or(""),
                        self.key_rank[i],
                        i as u32,
                    )
                })
                .collect();
            keyed.sort_unstable_by(|a, b| {
                let ord = if desc { b.0.cmp(a.0) } else { a.0.cmp(b.0) };
                ord.then(a.1.cmp(&b.1))
            });
            keyed.into_iter().map(|(_, _, i)| i).collect()
        } else {
            let mut keyed: Vec<(SortKey, u32, u32)> = (0..rows.len())
                .filter(|&i| self.filter.matches(&rows[i], self.now))
                .map(|i| {
                    let k = match col {
                        Column::Asin => SortKey::of(i64::from(self.key_rank[i])),
                        Column::Title => SortKey::of(i64::from(self.feed.title_rank[i])),
                        _ => sort_key(&rows[i], col),
                    };
                    (
                        if desc { k.reversed() } else { k },
                        self.key_rank[i],
                        i as u32,
                    )
                })
                .collect();
            keyed.sort_unstable();
            keyed.into_iter().map(|(_, _, i)| i).collect()
        };
        // The best margin of every loaded row, whatever the sort and the row limit, and of
        // those the `/` filter matches: the tiles describe the rows the table can show.
        self.best_margin = rows.iter().map(|r| r.fig.gross_pct).reduce(f64::max);
        self.best_matching = view
            .iter()
            .map(|&i| rows[i as usize].fig.gross_pct)
            .reduce(f64::max);
        self.unranked = self
            .filter
            .without_ranked()
            .filter(|_| view.is_empty())
            .map(|f| failed_gates(rows.iter().filter(|r| f.matches(*r, self.now))));
        self.shown = ROW_LIMITS
            .get(self.limit)
            .copied()
            .flatten()
            .map_or(view.len(), |n| n.min(view.len()));
        self.matching = view;
        if self.pinned_top {
            self.selected = 0;
            self.offset = 0;
        } else if let Some(key) = self.selected_key
            && let Some(row) = self.keys.iter().position(|k| *k == key)
            && let Some(pos) = self.view().iter().position(|&i| i as usize == row)
        {
            self.selected = pos;
        }
        self.clamp();
        self.dirty = true;
    }
}

/// A row's place in a sort, compared field by field, ascending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct SortKey {
    /// Whether the row is ranked, for expected monthly profit (0 otherwise).
    lead: i64,
    /// The row has no net figures and the column is one of them: after every row that
    /// has them whichever way the sort runs, as the stores order them.
    unknown: bool,
    /// The column's value, then its tie-breaks.
    value: [i64; 3],
}

impl SortKey {
    fn of(value: i64) -> Self {
        SortKey {
            lead: 0,
            unknown: false,
            value: [value, 0, 0],
        }
    }

    /// The key for a descending sort (an unknown value stays last).
    fn reversed(self) -> Self {
        SortKey {
            lead: !self.lead,
            unknown: self.unknown,
            value: self.value.map(|v| !v),
        }
    }
}

/// A row's sort key for a column; text columns other than the title sort by their rank in
/// (ASIN, route) order or by market code. Expected monthly profit puts ranked rows first
/// and orders equal profits by ROI, then profit (economics.md §4.1), as the store does.
fn sort_key(r: &Row, c: Column) -> SortKey {
    // Total order of f64 as i64 (negatives flipped), so NaN cannot break the sort.
    let f = |x: f64| {
        let b = x.to_bits() as i64;
        if b < 0 { b ^ i64::MAX } else { b }
    };
    let code = |m: Market| {
        let b = m.code().as_bytes();
        i64::from(b[0]) << 8 | i64::from(b[1])
    };
    let unknown = !r.fig.has_net;
    let k = match c {
        Column::Emp => {
            return SortKey {
                lead: i64::from(r.ranked),
                unknown,
                value: [r.fig.emp.minor, f(r.fig.roi), r.fig.net.minor],
            };
        }
        Column::Asin | Column::Title => 0,
        Column::Buy => code(r.key.buy),
        Column::Sell => code(r.key.sell),
        // Prices compare in EUR. A UK side is in GBP and the other side in EUR, and the
        // gross margin is their difference in EUR, so the UK side's EUR value follows.
        Column::BuyPrice => r.buy_eur().minor,
        Column::SellPrice if r.sell_price.currency == Currency::GBP => {
            r.buy_price.minor + r.fig.gross.minor
        }
        Column::SellPrice => r.sell_price.minor,
        Column::Gross => r.fig.gross.minor,
        Column::Margin => f(r.fig.gross_pct),
        Column::Profit => r.fig.net.minor,
        Column::Net => f(r.fig.net_pct),
        Column::Roi => f(r.fig.roi),
        // Age ascending = newest first.
        Column::Age => -r.fig.updated_at.timestamp_micros(),
    };
    SortKey {
        unknown: unknown && matches!(c, Column::Profit | Column::Net | Column::Roi),
        ..SortKey::of(k)
    }
}

/// How many `rows` there are, and the gates they fail with how many fail each, most often
/// failed first.
fn failed_gates<'a>(
    rows: impl Iterator<Item = &'a crate::tui::model::Row>,
) -> (usize, Vec<(&'static str, usize)>) {
    use crate::domain::{Flag, FlagSet};
    let mut n = 0;
    let mut counts = [0usize; Flag::ALL.len()];
    for r in rows {
        n += 1;
        let mut set = FlagSet::default();
        for name in r.flags.split_whitespace() {
            if let Some(f) = Flag::from_name(name) {
                set.insert(f);
            }
        }
        let gbp = r.key.buy.converts_gbp(r.key.sell);
        for f in set.failed_gates(gbp).iter() {
            if let Some(i) = Flag::ALL.iter().position(|g| *g == f) {
                counts[i] += 1;
            }
        }
    }
    let mut gates: Vec<(&'static str, usize)> = Flag::ALL
        .iter()
        .zip(counts)
        .filter(|(_, c)| *c > 0)
        .map(|(f, c)| (f.name(), c))
        .collect();
    gates.sort_by_key(|g| std::cmp::Reverse(g.1));
    (n, gates)
}
