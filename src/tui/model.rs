//! What the console shows, prepared once per data refresh: rows with their cells already
//! formatted, and the queries that fetch them.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::action::{Basis, Column};
use crate::domain::{Asin, Flag, Money, Opportunity, OpportunityKey, PriceSeries, Product};
use crate::filter::{Figures, Filterable, brand_key, search_text, shown_title};
use crate::store::{OpportunityFilter, OpportunitySort, StoreStats};

/// The most rows loaded for "all" (the tile still shows the full count).
pub const MAX_ROWS: usize = 100_000;
/// Rows a `/` filter searches: the best rows under the sidebar filters, in the store's order.
pub const FILTER_ROWS: usize = 10_000;

/// Cells formatted once per refresh, in [`Column::ALL`] order except `Age` (formatted per
/// frame for the visible rows only, since it changes every second).
pub const CELLS: usize = 12;

/// One opportunity as the table shows it. Compact on purpose (about 400 bytes with its
/// text): the console may hold 100,000 of them, so the cells live in one string.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// ASIN and route.
    pub key: OpportunityKey,
    /// Buy price, native currency.
    pub buy_price: Money,
    /// Sell price, native currency.
    pub sell_price: Money,
    /// The figures the columns sort on and the `/` filter compares (also `Filterable`'s).
    pub fig: Figures,
    /// When the store first recorded the route (`None` for rows stored before it kept this).
    pub first_seen: Option<DateTime<Utc>>,
    /// Failed gates and warnings, space-separated (empty when none).
    pub flags: Box<str>,
    /// Passed every gate.
    pub ranked: bool,
    /// The pre-formatted cells, concatenated; `ends[i]` is where cell `i` ends.
    text: Box<str>,
    ends: [u16; CELLS],
    /// Lower-case `asin title` for the `/` filter and the title sort.
    pub search: Box<str>,
    /// Lower-case brand, for the `/` filter.
    pub brand: Option<Box<str>>,
}

/// A stored percentage as stored: to the hundredth. One place fewer would round a rounded
/// figure again (41.948 % is stored as 41.95 and would show as 42.0, not 41.9).
fn pct(v: f64) -> String {
    if v.abs() >= 10_000.0 {
        format!("{:.0}", v)
    } else {
        format!("{v:.2}")
    }
}

impl Row {
    /// Builds a row from a stored opportunity.
    pub fn from_opportunity(o: &Opportunity) -> Row {
        let title = shown_title(o.title.as_deref());
        // A UK↔EU route without customs in the config: its net leaves out duty, broker and
        // import VAT, so its net cells say they are approximate (≈), in the table as in the
        // detail.
        let approx = if o.flags.contains(Flag::RouteDisabled) {
            "≈"
        } else {
            ""
        };
        // Net figures unknown (`NO_TABLE`, `FBA_FEE_UNKNOWN`): shown as such, not as zero.
        let net = |text: String| {
            if o.has_net() {
                format!("{approx}{text}")
            } else {
                "–".to_string()
            }
        };
        let cells = [
            o.asin.to_string(),
            title,
            o.buy_market.code().to_string(),
            o.sell_market.code().to_string(),
            o.buy_price.to_string(),
            o.sell_price.to_string(),
            o.gross_margin.decimal_string(),
            pct(o.gross_margin_pct),
            net(o.net_profit.decimal_string()),
            net(pct(o.net_margin_pct)),
            net(pct(o.roi_pct)),
            net(o.expected_monthly_profit.decimal_string()),
        ];
        let mut text = String::with_capacity(cells.iter().map(String::len).sum());
        let mut ends = [0u16; CELLS];
        for (end, c) in ends.iter_mut().zip(&cells) {
            text.push_str(c);
            *end = u16::try_from(text.len()).unwrap_or(u16::MAX);
        }
        Row {
            brand: o
                .sell_facts
                .brand
                .as_deref()
                .map(|b| brand_key(b).into_boxed_str()),
            search: search_text(o.asin.as_str(), &cells[1]).into_boxed_str(),
            key: o.key(),
            buy_price: o.buy_price,
            sell_price: o.sell_price,
            fig: o.figures(),
            first_seen: o.first_seen,
            flags: o.flags.join(" ").into_boxed_str(),
            ranked: o.ranked,
            text: text.into_boxed_str(),
            ends,
        }
    }

    /// The pre-formatted cell of a column (`Age` has none).
    pub fn cell(&self, c: Column) -> &str {
        let i = match c {
            Column::Asin => 0,
            Column::Title => 1,
            Column::Buy => 2,
            Column::Sell => 3,
            Column::BuyPrice => 4,
            Column::SellPrice => 5,
            Column::Gross => 6,
            Column::Margin => 7,
            Column::Profit => 8,
            Column::Net => 9,
            Column::Roi => 10,
            Column::Emp => 11,
            Column::Age => return "",
        };
        let start = if i == 0 {
            0
        } else {
            usize::from(self.ends[i - 1])
        };
        self.text
            .get(start..usize::from(self.ends[i]))
            .unwrap_or("")
    }

    /// The buy price in EUR: as it is on a euro market; from a GBP one, the sell price
    /// (then in EUR) less the gross margin, which is how the row converted it.
    pub fn buy_eur(&self) -> Money {
        self.fig.buy_eur
    }

    /// The sanitized title (may be empty).
    pub fn title(&self) -> &str {
        self.cell(Column::Title)
    }

    /// The sell market's product page.
    pub fn sell_url(&self) -> String {
        self.key.sell.product_url(&self.key.asin)
    }

    /// The buy market's product page.
    pub fn buy_url(&self) -> String {
        self.key.buy.product_url(&self.key.asin)
    }

    /// A net figure as copied: empty when unknown (see `Opportunity::has_net`), as in a CSV export.
    fn net_cell(&self, text: String) -> String {
        if self.fig.has_net {
            text
        } else {
            String::new()
        }
    }

    /// The names of [`tsv`](Self::tsv)'s columns, as `export` names them.
    pub const TSV_HEADER: &'static str = "asin\ttitle\tbuy_market\tsell_market\tbuy_price\tbuy_currency\tsell_price\tsell_currency\tgross_margin_eur\tgross_margin_pct\tnet_profit_eur\tnet_margin_pct\troi_pct\texpected_monthly_profit_eur\tupdated_at";

    /// The row as one tab-separated line for a spreadsheet: raw numbers (dot decimal, no
    /// currency symbols; currencies in their own columns), and a title that a spreadsheet
    /// would run as a formula made inert, as exports write them.
    pub fn tsv(&self) -> String {
        let k = self.key;
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.2}\t{}\t{}\t{}\t{}\t{}",
            k.asin,
            crate::domain::text::inert_cell(&self.title().replace('\t', " ")),
            k.buy,
            k.sell,
            self.buy_price.decimal_string(),
            self.buy_price.currency,
            self.sell_price.decimal_string(),
            self.sell_price.currency,
            self.fig.gross.decimal_string(),
            self.fig.gross_pct,
            self.net_cell(self.fig.net.decimal_string()),
            self.net_cell(format!("{:.2}", self.fig.net_pct)),
            self.net_cell(format!("{:.2}", self.fig.roi)),
            self.net_cell(self.fig.emp.decimal_string()),
            self.fig
                .updated_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
    }
}

impl Filterable for Row {
    fn key(&self) -> OpportunityKey {
        self.key
    }
    fn search(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.search)
    }
    fn title(&self) -> Cow<'_, str> {
        Cow::Borrowed(Row::title(self))
    }
    fn brand(&self) -> Option<Cow<'_, str>> {
        self.brand.as_deref().map(Cow::Borrowed)
    }
    fn flags(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.flags)
    }
    fn ranked(&self) -> bool {
        self.ranked
    }
    fn figures(&self) -> Figures {
        self.fig
    }
}

/// What the store is asked for: the sidebar filters and the sort, pushed down.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// Minimum margin %.
    pub min_margin: f64,
    /// On gross or net margin.
    pub basis: Basis,
    /// Buy markets (empty = all).
    pub buy: Vec<crate::domain::Market>,
    /// Sell markets (empty = all).
    pub sell: Vec<crate::domain::Market>,
    /// Rows wanted.
    pub limit: usize,
    /// The store's order (the table may re-sort the page by other columns).
    pub sort: OpportunitySort,
    /// Descending.
    pub descending: bool,
    /// A word the store can pre-filter on (title, brand or ASIN).
    pub text: Option<String>,
    /// Lower bounds a `/` filter states, which the store applies before the filter
    /// matches rows in memory (see [`crate::filter::Filter::narrow`]).
    pub bounds: Bounds,
}

/// The lower bounds of a [`Query`] beyond the sidebar's minimum margin.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bounds {
    /// Minimum ROI %.
    pub roi_pct: Option<f64>,
    /// Minimum gross margin %.
    pub gross_margin_pct: Option<f64>,
    /// Minimum net margin %.
    pub net_margin_pct: Option<f64>,
    /// Minimum net profit, EUR cents.
    pub profit_cents: Option<i64>,
}

impl Query {
    /// The store filter.
    pub fn filter(&self) -> OpportunityFilter {
        let mut f = OpportunityFilter {
            buy: self.buy.clone(),
            sell: self.sell.clone(),
            text: self.text.clone(),
            sort: self.sort,
            descending: self.descending,
            limit: self.limit,
            offset: 0,
            ..OpportunityFilter::default()
        };
        let max = |a: Option<f64>, b: f64| Some(a.map_or(b, |a| a.max(b)));
        let b = &self.bounds;
        f.min_gross_margin_pct = b.gross_margin_pct;
        f.min_net_margin_pct = b.net_margin_pct;
        match self.basis {
            Basis::Gross => f.min_gross_margin_pct = max(f.min_gross_margin_pct, self.min_margin),
            Basis::Net => f.min_net_margin_pct = max(f.min_net_margin_pct, self.min_margin),
        }
        f.min_roi_pct = b.roi_pct;
        f.min_profit_cents = b.profit_cents;
        f
    }
}

/// The store order for a table column, so a row limit keeps the top rows of that column;
/// `None` for the columns the store cannot order by, which are sorted in memory over the
/// rows a `/` filter would search ([`FILTER_ROWS`]).
pub fn store_sort(c: Column) -> Option<(OpportunitySort, Option<bool>)> {
    match c {
        Column::Margin => Some((OpportunitySort::GrossMarginPct, None)),
        Column::Net => Some((OpportunitySort::NetMarginPct, None)),
        Column::Profit => Some((OpportunitySort::NetProfit, None)),
        Column::Roi => Some((OpportunitySort::RoiPct, None)),
        Column::Age => Some((OpportunitySort::UpdatedAt, Some(true))),
        Column::Emp => Some((OpportunitySort::ExpectedMonthlyProfit, None)),
        _ => None,
    }
}

/// One answer of the store.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Feed {
    /// Rows in the store's order.
    pub rows: Vec<Row>,
    /// How many opportunities match the query (may exceed `rows`).
    pub total: u64,
    /// Store totals.
    pub stats: StoreStats,
    /// What was asked.
    pub query: Option<Query>,
    /// Set when the store could not answer; the last good rows stay on screen.
    pub error: Option<String>,
    /// When the answer arrived.
    pub at: Option<DateTime<Utc>>,
    /// How many rows of the previous answer to the same query no longer match it (gone
    /// from the store, or below a minimum now), as opposed to rows that only moved out of
    /// the loaded page; `None` when that was not asked.
    pub left: Option<usize>,
    /// The `at` of the answer `left` was measured against.
    pub left_of: Option<DateTime<Utc>>,
    /// Each row's position in title order, computed where the feed is loaded (off the
    /// key path), so sorting by title is as fast as sorting by a number.
    pub title_rank: Vec<u32>,
    /// The best gross margin % of every row the query matches (loaded or not).
    pub best_gross: Option<f64>,
    /// How many of the rows the query matches pass every gate (loaded or not).
    pub ranked: Option<u64>,
}

impl Feed {
    /// Fills `title_rank`.
    pub fn rank_titles(&mut self) {
        let mut order: Vec<u32> = (0..self.rows.len() as u32).collect();
        order.sort_by(|&a, &b| {
            let (ra, rb) = (&self.rows[a as usize], &self.rows[b as usize]);
            ra.search
                .get(11..)
                .cmp(&rb.search.get(11..))
                .then(ra.key.cmp(&rb.key))
        });
        self.title_rank = vec![0; order.len()];
        for (rank, i) in order.into_iter().enumerate() {
            self.title_rank[i as usize] = rank as u32;
        }
    }
}

/// The selected row's product, loaded on demand.
#[derive(Clone, Debug, PartialEq)]
pub struct Detail {
    /// Which row.
    pub key: OpportunityKey,
    /// The product, when found.
    pub product: Option<Product>,
    /// Its price history.
    pub history: Vec<PriceSeries>,
    /// The opportunity with its breakdown.
    pub opportunity: Option<Opportunity>,
    /// Why it could not be loaded.
    pub error: Option<String>,
}

/// The products view's selected product, loaded on demand: the product whole, its
/// price history and every route stored for it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductDetail {
    /// Which product.
    pub asin: Asin,
    /// The store's data changes counted when it was asked for
    /// ([`crate::tui::state::ProductsView::changes`]): newer data asks again.
    pub changes: u64,
    /// The product, when found.
    pub product: Option<Product>,
    /// Its price history.
    pub history: Vec<PriceSeries>,
    /// Its stored routes, ranked rows first, by expected monthly profit (the table's
    /// first order); `None` when they could not be read.
    pub routes: Option<Vec<Opportunity>>,
    /// Why it could not be loaded (wholly or in part).
    pub error: Option<String>,
}
