//! The console's state and its reducer.
//!
//! `UiState::apply(Action) -> Vec<Effect>` is synchronous and does no I/O: effects (queries,
//! clipboard, export, watchlist changes) run outside it and report back as messages. The
//! table's `matching` holds indices into the loaded rows, filtered and sorted, recomputed
//! only when data, the filter or the sort change; `view()` is its part within the row
//! limit, and rendering slices that to the visible window.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

mod apply;
mod data;
mod input;
mod meters;
mod motion;
mod mouse;
mod product_detail;
mod products;
mod saved;
mod toasts;
mod watching;

pub use input::{Prompt, PromptKind};
pub use products::{
    MarketCell, PRODUCTS_PAGE, ProductLine, ProductsPage, ProductsQuery, ProductsView,
    SearchOrigin, Watched, seek_page_offset,
};
pub use toasts::{Alerted, Toast};

use super::action::{
    Action, Basis, Column, Context, CopyTarget, Format, LOG_LEVELS, MarginChange, Motion,
    ROW_LIMITS, Side, SortBy, View, limit_label,
};
pub use meters::{ApiMeter, FrameTimes, TokenTrail};

use super::keymap::{Key, Keymap, Lookup};
use super::model::{Detail, FILTER_ROWS, Feed, MAX_ROWS, Query, Row, store_sort};
use crate::component::ComponentHealth;
use crate::domain::{Asin, Market, OpportunityKey};
use crate::filter::Filter;
use crate::pipeline::{PipelineStatus, Source};
use crate::store::OpportunitySort;

/// How long a changed cell keeps its arrow.
pub const CHANGE_TTL: Duration = Duration::seconds(60);
/// How long a refresh asked for here is watched for in the rows: a product without a
/// route in view never shows, and is forgotten after this.
pub const REFRESH_SEEN_WITHIN: Duration = Duration::minutes(5);

/// Panels that take the focus, in `Tab` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    /// Filters.
    Sidebar,
    /// Opportunities.
    Table,
    /// The selected product.
    Detail,
    /// Components.
    Health,
}

const FOCUS_ORDER: [Focus; 4] = [Focus::Sidebar, Focus::Table, Focus::Detail, Focus::Health];

/// Direction of a changed value, and whether the change is good for profit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// The value rose.
    pub up: bool,
    /// The change raises profit.
    pub good: bool,
}

/// Changes of one row since the previous refresh.
#[derive(Clone, Debug, PartialEq)]
pub struct RowDelta {
    /// The row was not there before.
    pub new: bool,
    /// Per column that can change.
    pub cells: Vec<(Column, Change)>,
    /// When it was seen.
    pub at: DateTime<Utc>,
}

/// What the console's store probe says when the store did not answer within its deadline.
pub const STORE_PROBE_TIMEOUT: &str = "no answer to its health probe within 2 s";

/// A yes/no question.
#[derive(Clone, Debug, PartialEq)]
pub struct Confirm {
    /// The question, naming the target.
    pub question: String,
    /// What `y` does.
    pub action: Effect,
    /// What any other key says it left as it was.
    pub declined: String,
    /// Asked about rows (`d`), not about ASINs named on the command line: a watchlist
    /// read that comes meanwhile narrows it to the products it holds.
    pub from_rows: bool,
}

/// Modal layers over the screen.
#[derive(Clone, Debug, PartialEq)]
pub enum Overlay {
    /// `?`: actions and keys; typing filters.
    Help {
        /// Filter text.
        filter: String,
        /// Selected line.
        selected: usize,
    },
    /// `:` or `/`.
    Prompt(Prompt),
    /// `y/N`.
    Confirm(Confirm),
}

/// Work for the event loop.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Ask the store for rows.
    Query(Query),
    /// Copy text; `what` names it in the toast.
    Copy {
        /// The text.
        text: String,
        /// What it is.
        what: &'static str,
    },
    /// Write every matching row to a file.
    Export(Format),
    /// Refresh these ASINs now.
    Refresh(Vec<Asin>),
    /// Refresh the whole watchlist now.
    RefreshAll,
    /// Run discovery now.
    Discover,
    /// Show (`None`) or set the refresh interval, in seconds.
    SetRefresh(Option<u64>),
    /// Add to the watchlist.
    WatchAdd(Vec<Asin>),
    /// Remove from the watchlist.
    WatchRemove(Vec<Asin>),
    /// Switch to a theme by name (`None` = next).
    Theme(Option<String>),
    /// Read the log tail now.
    LoadLogs,
    /// Read the watchlist for the products view.
    LoadWatchlist,
    /// Keep this command line in the history file.
    SaveHistory(String),
    /// Give the terminal back and stop until the shell's `fg`.
    Suspend,
    /// Paint the whole screen afresh, not only what changed since the last frame.
    Redraw,
}

/// Fixed facts about this console session.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// Live or demo.
    pub source: Source,
    /// Markets tracked.
    pub markets: Vec<Market>,
    /// Where the REST API listens.
    pub api_addr: Option<String>,
    /// Toast new rows at or above this gross margin %.
    pub alert_margin_pct: f64,
    /// Wrap links in OSC 8.
    pub hyperlinks: bool,
    /// Actions that change stored data are hidden and refused (`--read-only`).
    pub read_only: bool,
    /// Keepa data older than this many hours is stale (the STALE gate's limit).
    pub stale_after_hours: i64,
    /// This process ingests: a refresh has a stage to go to (not with `--role api`,
    /// where the refresh actions are hidden as read-only hides the watchlist's).
    pub fetches: bool,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            source: Source::Demo,
            markets: Market::ALL.to_vec(),
            api_addr: None,
            alert_margin_pct: 30.0,
            hyperlinks: false,
            read_only: false,
            stale_after_hours: 24,
            fetches: true,
        }
    }
}

/// Everything the screen shows.
#[derive(Debug)]
pub struct UiState {
    /// Session facts.
    pub session: Session,
    /// "Now", set on each tick (rendering never reads the clock).
    pub now: DateTime<Utc>,
    /// Pipeline status.
    pub status: PipelineStatus,
    /// Store health, probed periodically.
    pub store_health: Option<ComponentHealth>,
    /// Per market: how current its Keepa data is (read with the store's health).
    pub freshness: Vec<crate::store::MarketFreshness>,
    /// What the REST API answered.
    pub api: ApiMeter,
    /// How long the last frames took to draw.
    pub frames: FrameTimes,
    /// The Keepa token balance over the last hour.
    pub tokens: TokenTrail,
    /// The rows on screen.
    pub feed: Arc<Feed>,
    /// A newer feed held back while frozen.
    pending: Option<Arc<Feed>>,
    /// Snapshots that arrived while frozen.
    pub frozen_pending: u32,
    /// Frozen since.
    pub frozen: Option<DateTime<Utc>>,
    /// Filtered and sorted indices into `feed.rows`: every loaded row that matches, what
    /// `N matching` counts and an export writes. The screen shows the first `shown` of
    /// them ([`view`](Self::view)): the row limit is a limit of the screen, not a filter.
    pub matching: Vec<u32>,
    /// How many of `matching` the row limit lets the table show.
    shown: usize,
    /// The best gross margin % of the loaded rows (computed with `matching`, not per frame).
    pub best_margin: Option<f64>,
    /// The best gross margin % of the rows the `/` filter matches.
    pub best_matching: Option<f64>,
    /// When a filter with `ranked` matches nothing: how many rows it matches without
    /// `ranked`, and the gates they fail, most often failed first (computed with
    /// `matching`, not per frame).
    pub unranked: Option<(usize, Vec<(&'static str, usize)>)>,
    /// Keys of `feed.rows`, contiguous for fast lookups.
    keys: Vec<OpportunityKey>,
    /// Each row's rank in (ASIN, route) order: the sort's final tie-breaker.
    key_rank: Vec<u32>,
    /// Changes per row.
    pub deltas: HashMap<OpportunityKey, RowDelta>,
    /// Rows that left since the previous refresh.
    pub dropped: usize,
    /// Minimum margin %.
    pub min_margin: f64,
    /// Gross or net.
    pub basis: Basis,
    /// Buy markets on.
    pub buy: Vec<Market>,
    /// Sell markets on.
    pub sell: Vec<Market>,
    /// Index into [`ROW_LIMITS`].
    pub limit: usize,
    /// `/` filter text and its parse.
    pub filter_text: String,
    filter: Filter,
    /// Sort column.
    pub sort: Column,
    /// Descending.
    pub descending: bool,
    /// Selected position in `view`.
    pub selected: usize,
    /// First visible position.
    pub offset: usize,
    selected_key: Option<OpportunityKey>,
    /// The selection is on the first row and stays there as rows arrive, until the operator
    /// moves it: at start-up, and after a new sort or filter (which ask "what is on top
    /// now?"). Otherwise the selection follows its row across refreshes.
    pinned_top: bool,
    /// Marked rows.
    pub marked: HashSet<OpportunityKey>,
    /// Products whose refresh this console asked for and has not yet seen arrive: a toast
    /// says when their rows are recomputed (dropped unseen after [`REFRESH_SEEN_WITHIN`]).
    pub refresh_pending: HashMap<Asin, DateTime<Utc>>,
    /// Focused panel.
    pub focus: Focus,
    /// Sidebar cursor.
    pub sidebar_cursor: usize,
    /// The current view.
    pub view_kind: View,
    /// Table full screen.
    pub zoom: bool,
    /// The detail shown instead of the table on narrow screens.
    pub detail_open: bool,
    /// The selected product.
    pub detail: Option<Detail>,
    /// Overlay, if any.
    pub overlay: Option<Overlay>,
    /// Keys of a chord in progress.
    pub pending_keys: Vec<Key>,
    /// Toasts, oldest first.
    pub toasts: VecDeque<Toast>,
    /// Health view: faults only.
    pub faults_only: bool,
    /// Log tail lines.
    pub logs: Vec<String>,
    /// Minimum log level (index into [`LOG_LEVELS`]).
    pub log_level: usize,
    /// The most detailed level the log file records (index into [`LOG_LEVELS`]; the
    /// `--log` filter): a view level past it shows nothing more, and the title says so.
    pub log_recorded: usize,
    /// Log scroll from the bottom (0 = follow).
    pub log_scroll: usize,
    /// Health view: rows scrolled off the top (clamped when drawn).
    pub health_scroll: usize,
    /// Log view: only lines containing this (any case); empty = every line.
    pub log_search: String,
    /// The products view.
    pub products: ProductsView,
    /// Lines the detail drawer's P&L is scrolled down (the drawer of a small terminal).
    pub detail_scroll: u16,
    /// The largest scroll that still shows more of the P&L, as last drawn (the drawing
    /// knows how the lines wrap; the keys stop there).
    pub detail_scroll_max: std::cell::Cell<u16>,
    /// P&L lines on screen at once, as last drawn: what PgDn/PgUp move.
    pub detail_page: std::cell::Cell<u16>,
    /// Theme name.
    pub theme: String,
    /// The theme chosen with `T` or `:theme` (this run or a saved one), kept in
    /// `ui-state.toml`; `None` while the settings and the terminal choose.
    pub chosen_theme: Option<String>,
    /// Command history, oldest first.
    pub history: Vec<String>,
    /// Rows of the table that fit (set from the layout).
    pub page: usize,
    /// The table's scroll and page before an action took rows from it (the drawer opened
    /// on a small screen), put back when they return.
    scroll_before: Option<(usize, usize)>,
    /// Terminal size.
    pub size: (u16, u16),
    /// The last query sent.
    pub last_query: Option<Query>,
    /// A query was sent and its rows have not arrived: counts shown are of the old rows.
    pub loading: bool,
    /// Something changed since the last frame.
    pub dirty: bool,
    /// Leave the loop.
    pub quit: bool,
}

impl UiState {
    /// A fresh state.
    pub fn new(session: Session, now: DateTime<Utc>) -> UiState {
        let markets = session.markets.clone();
        UiState {
            status: PipelineStatus {
                source: session.source,
                ..PipelineStatus::default()
            },
            session,
            now,
            store_health: None,
            freshness: Vec::new(),
            api: ApiMeter::default(),
            frames: FrameTimes::default(),
            tokens: TokenTrail::default(),
            feed: Arc::new(Feed::default()),
            pending: None,
            frozen_pending: 0,
            frozen: None,
            matching: Vec::new(),
            shown: 0,
            best_margin: None,
            best_matching: None,
            unranked: None,
            keys: Vec::new(),
            key_rank: Vec::new(),
            deltas: HashMap::new(),
            dropped: 0,
            // economics.md §4.1: the net-revenue margin floor defaults to 0.
            min_margin: 0.0,
            basis: Basis::Net,
            buy: markets.clone(),
            sell: markets,
            limit: 1,
            filter_text: String::new(),
            filter: Filter::default(),
            sort: Column::Emp,
            descending: true,
            selected: 0,
            offset: 0,
            selected_key: None,
            pinned_top: true,
            marked: HashSet::new(),
            refresh_pending: HashMap::new(),
            focus: Focus::Table,
            sidebar_cursor: 0,
            view_kind: View::Opportunities,
            zoom: false,
            detail_open: false,
            detail: None,
            overlay: None,
            pending_keys: Vec::new(),
            toasts: VecDeque::new(),
            faults_only: false,
            logs: Vec::new(),
            log_level: 2,
            log_recorded: LOG_LEVELS.len() - 1,
            log_scroll: 0,
            health_scroll: 0,
            log_search: String::new(),
            products: ProductsView::default(),
            detail_scroll: 0,
            detail_scroll_max: std::cell::Cell::new(0),
            detail_page: std::cell::Cell::new(1),
            theme: "dark".into(),
            chosen_theme: None,
            history: Vec::new(),
            page: 10,
            scroll_before: None,
            size: (80, 24),
            last_query: None,
            loading: false,
            dirty: true,
            quit: false,
        }
    }

    /// The context keys are looked up in.
    pub fn context(&self) -> Context {
        match self.view_kind {
            View::Logs => Context::Logs,
            View::Health => Context::Health,
            View::Products => Context::Products,
            View::Opportunities => match self.focus {
                Focus::Sidebar => Context::Sidebar,
                Focus::Table if self.detail_open => Context::Detail,
                Focus::Table => Context::Table,
                Focus::Detail => Context::Detail,
                Focus::Health => Context::Health,
            },
        }
    }

    /// The rows the table shows: indices into `feed.rows`, filtered, sorted and cut at the
    /// row limit.
    pub fn view(&self) -> &[u32] {
        &self.matching[..self.shown.min(self.matching.len())]
    }

    /// Whether the store was last seen down.
    pub fn store_down(&self) -> bool {
        self.store_health
            .as_ref()
            .is_some_and(|h| h.status == crate::component::HealthStatus::Down)
    }

    /// The selected row.
    pub fn selected_row(&self) -> Option<&Row> {
        let i = *self.view().get(self.selected)?;
        self.feed.rows.get(i as usize)
    }

    /// Whether the detail pane is on screen (wide layouts always show it).
    pub fn detail_visible(&self) -> bool {
        self.view_kind == View::Opportunities
            && !self.zoom
            && (self.detail_open || super::ui::shows_detail_beside(self.size))
    }

    /// The row whose detail should be loaded, if it is not already.
    pub fn wanted_detail(&self) -> Option<OpportunityKey> {
        if !self.detail_visible() {
            return None;
        }
        let row = self.selected_row()?;
        match &self.detail {
            // Loaded, and no newer than the row: a refresh that recomputed the row (new
            // prices, a market added) loads it again.
            Some(d)
                if d.key == row.key
                    && d.opportunity
                        .as_ref()
                        .is_none_or(|o| o.updated_at >= row.fig.updated_at) =>
            {
                None
            }
            _ => Some(row.key),
        }
    }

    /// The clock moved: expire toasts and arrows.
    pub fn on_tick(&mut self, now: DateTime<Utc>) {
        self.now = now;
        self.toasts.retain(|t| t.until > now);
        self.deltas.retain(|_, d| now - d.at < CHANGE_TTL);
        // An `age` term's matches move with the clock, not only with new data.
        if self.filter.uses_clock() {
            self.rebuild_view();
        }
        self.dirty = true;
    }

    /// A resize: keep the selection visible.
    pub fn on_resize(&mut self, w: u16, h: u16) {
        self.size = (w, h);
        // A drawer opened on a small screen becomes the detail in focus once the screen
        // has room for it beside the table: the keys then do what they do at that size
        // when the detail is opened there.
        let beside = super::ui::shows_detail_beside(self.size);
        if self.detail_open && beside {
            self.detail_open = false;
            self.focus = Focus::Detail;
        } else if self.focus == Focus::Detail && !beside {
            // And back: the detail in focus, with no room beside the table, is the drawer.
            self.focus = Focus::Table;
            self.detail_open = true;
        }
        self.page = super::ui::table_rows(self).max(1);
        self.scroll_before = None;
        // A scroll forced by a smaller screen is undone when the first page fits again.
        if self.selected < self.page {
            self.offset = 0;
        }
        self.clamp();
        self.clamp_products();
        self.dirty = true;
    }

    /// The console's store probe. One probe past its deadline is a busy store (degraded),
    /// not a dead one: down from the second in a row, as the API's `/health` says.
    pub fn on_store_health(&mut self, mut h: ComponentHealth) {
        let slow = |h: &ComponentHealth| h.detail == STORE_PROBE_TIMEOUT;
        if slow(&h) && !self.store_health.as_ref().is_some_and(slow) {
            h.status = crate::component::HealthStatus::Degraded;
        }
        self.store_health = Some(h);
        self.dirty = true;
    }

    /// New pipeline status.
    pub fn on_status(&mut self, status: PipelineStatus) {
        if let Some(t) = status.keepa.tokens_left {
            self.tokens.record(self.now, t);
        }
        self.status = status;
        self.dirty = true;
    }

    fn clamp(&mut self) {
        let n = self.view().len();
        self.selected = self.selected.min(n.saturating_sub(1));
        let page = self.page.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + page {
            self.offset = self.selected + 1 - page;
        }
        self.offset = self.offset.min(n.saturating_sub(page));
        self.selected_key = self.selected_row().map(|r| r.key);
    }

    /// The product behind the selected row arrived.
    pub fn on_detail(&mut self, detail: Detail) {
        // Another row (after a sort, a filter or new data as well as a move): its P&L is
        // read from the top.
        if self.detail.as_ref().is_none_or(|d| d.key != detail.key) {
            self.detail_scroll = 0;
        }
        self.detail = Some(detail);
        self.dirty = true;
    }
}
