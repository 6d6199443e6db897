//! The console's action vocabulary: one registry of ids, one parser.
//!
//! A key binding's `run`, the `:` command line and the help overlay all use the same
//! strings (`sort roi`, `copy link`, `min-margin +1`), parsed here into [`Action`]. Help and
//! the hint bar are generated from [`REGISTRY`], never written by hand.

mod parse;
mod registry;

use crate::domain::{Asin, Market};

pub use parse::{MAX_MIN_MARGIN, ParseError, REFRESH_WORDS, complete, nearest_id, parse};
pub use registry::{ActionSpec, REGISTRY, spec_of};

/// Where an action applies. Lookup goes from the focused context to `Global`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    /// Everywhere.
    Global,
    /// The filter sidebar.
    Sidebar,
    /// The opportunities table.
    Table,
    /// The detail pane.
    Detail,
    /// The health panel or view.
    Health,
    /// The log view.
    Logs,
    /// The products view.
    Products,
}

impl Context {
    /// Every context, in keymap file order.
    pub const ALL: [Context; 7] = [
        Context::Global,
        Context::Sidebar,
        Context::Table,
        Context::Detail,
        Context::Health,
        Context::Logs,
        Context::Products,
    ];

    /// The section name in a keymap file.
    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Sidebar => "sidebar",
            Context::Table => "table",
            Context::Detail => "detail",
            Context::Health => "health",
            Context::Logs => "logs",
            Context::Products => "products",
        }
    }

    /// The context named `s`.
    pub fn from_name(s: &str) -> Option<Context> {
        Context::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// A table column: what the table shows and sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    /// ASIN.
    Asin,
    /// Title.
    Title,
    /// Buy market.
    Buy,
    /// Sell market.
    Sell,
    /// Buy price (native currency).
    BuyPrice,
    /// Sell price (native currency).
    SellPrice,
    /// Gross margin in EUR.
    Gross,
    /// Gross margin %.
    Margin,
    /// Net profit in EUR.
    Profit,
    /// Net margin %.
    Net,
    /// Return on investment %.
    Roi,
    /// Expected monthly profit.
    Emp,
    /// Time since the prices were seen.
    Age,
}

impl Column {
    /// Table order; `s` cycles through it.
    pub const ALL: [Column; 13] = [
        Column::Asin,
        Column::Title,
        Column::Buy,
        Column::Sell,
        Column::BuyPrice,
        Column::SellPrice,
        Column::Gross,
        Column::Margin,
        Column::Profit,
        Column::Net,
        Column::Roi,
        Column::Emp,
        Column::Age,
    ];

    /// The `sort` argument.
    pub fn id(self) -> &'static str {
        match self {
            Column::Asin => "asin",
            Column::Title => "title",
            Column::Buy => "buy",
            Column::Sell => "sell",
            Column::BuyPrice => "buy-price",
            Column::SellPrice => "sell-price",
            Column::Gross => "gross",
            Column::Margin => "margin",
            Column::Profit => "profit",
            Column::Net => "net",
            Column::Roi => "roi",
            Column::Emp => "emp",
            Column::Age => "age",
        }
    }

    /// The header label.
    pub fn label(self) -> &'static str {
        match self {
            Column::Asin => "ASIN",
            Column::Title => "Title",
            Column::Buy => "Buy",
            Column::Sell => "Sell",
            Column::BuyPrice => "Buy price",
            Column::SellPrice => "Sell price",
            Column::Gross => "Gross €",
            Column::Margin => "Gross %",
            Column::Profit => "Net €",
            Column::Net => "Net %",
            Column::Roi => "ROI %",
            Column::Emp => "EMP €",
            Column::Age => "Age",
        }
    }

    /// The column for a `sort` argument (`gross-margin`, `net_profit` and the REST names too).
    pub fn parse(s: &str) -> Option<Column> {
        let s = s.to_ascii_lowercase().replace('_', "-");
        Some(match s.as_str() {
            "asin" => Column::Asin,
            "title" => Column::Title,
            "buy" | "src" => Column::Buy,
            "sell" | "dst" => Column::Sell,
            "buy-price" | "price" => Column::BuyPrice,
            "sell-price" => Column::SellPrice,
            "gross" | "gross-margin" => Column::Gross,
            "margin" | "gross-margin-pct" => Column::Margin,
            "profit" | "net-profit" => Column::Profit,
            "net" | "net-margin-pct" => Column::Net,
            "roi" | "roi-pct" => Column::Roi,
            "emp" => Column::Emp,
            "age" | "updated-at" => Column::Age,
            _ => return None,
        })
    }

    /// Whether larger values come first by default.
    pub fn descending_by_default(self) -> bool {
        !matches!(
            self,
            Column::Asin | Column::Title | Column::Buy | Column::Sell | Column::Age
        )
    }
}

/// Views reached with `goto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// The dashboard: sidebar, tiles, table, detail, health.
    Opportunities,
    /// Health, full screen.
    Health,
    /// The log file's tail.
    Logs,
    /// Every stored product, its Buy Box per market and whether it is watched.
    Products,
}

/// Selection moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Motion {
    /// By this many rows.
    By(i64),
    /// By this many pages.
    Pages(i64),
    /// First row.
    Top,
    /// Last row.
    Bottom,
}

/// Clipboard targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyTarget {
    /// The sell market's product page.
    Link,
    /// The buy market's product page: where the operator buys.
    BuyLink,
    /// The ASIN.
    Asin,
    /// The row as tab-separated values.
    Row,
    /// The selected row's P&L as text, as the detail shows it.
    Breakdown,
}

/// The formats `e` and `:export` write, as `arbdesk export --format` does.
pub use crate::commands::export::ExportFormat as Format;

/// How to sort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    /// By this column; `Some(true)` descending; `None` = default or reverse if already sorted.
    Column(Column, Option<bool>),
    /// The next column in table order.
    Next,
    /// Reverse the current order.
    Reverse,
}

/// Minimum-margin change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MarginChange {
    /// Add this many percentage points.
    By(f64),
    /// Set to this value.
    To(f64),
}

/// Margin basis of the minimum-margin filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// Gross margin % (sell − buy over buy, in EUR).
    Gross,
    /// Net margin % (after VAT, fees, shipping).
    Net,
}

impl Basis {
    /// The name shown and typed (`basis net`).
    pub fn id(self) -> &'static str {
        match self {
            Basis::Gross => "gross",
            Basis::Net => "net",
        }
    }
}

/// Which side a market toggle applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Where to buy.
    Buy,
    /// Where to sell.
    Sell,
    /// Both.
    Both,
}

/// Row limits offered in the sidebar.
pub const ROW_LIMITS: [Option<usize>; 5] = [Some(25), Some(50), Some(100), Some(250), None];

/// A row limit as the sidebar and `:limit` write it: `50`, or `all`.
pub fn limit_label(limit: Option<usize>) -> String {
    limit.map_or_else(|| "all".to_string(), |n| n.to_string())
}

/// Log levels, most severe first.
pub const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// Something the operator (a key, the command line) asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Toggle help.
    Help,
    /// Open the command line, optionally pre-filled.
    Command(String),
    /// Open the filter prompt, or set the filter.
    Filter(Option<String>),
    /// Back or clear.
    Back,
    /// Switch view.
    Goto(View),
    /// Freeze or unfreeze.
    Freeze,
    /// Next theme (`None`) or a named one.
    Theme(Option<String>),
    /// Focus the next (`true`) or previous panel.
    Focus(bool),
    /// Change the minimum margin.
    MinMargin(MarginChange),
    /// Margin basis.
    Basis(Basis),
    /// Row limit (`None` = all).
    Limit(Option<usize>),
    /// Restrict markets.
    Markets(Side, Vec<Market>),
    /// Quit.
    Quit,
    /// Stop the process as a shell's Ctrl-Z does; `fg` resumes it.
    Suspend,
    /// Paint the whole screen afresh, as Ctrl-L does in other terminal programs.
    Redraw,
    /// Move the selection.
    Move(Motion),
    /// Open the detail.
    Open,
    /// Mark the selected row.
    Mark,
    /// Table full screen.
    Zoom,
    /// Sort.
    Sort(SortBy),
    /// Copy.
    Copy(CopyTarget),
    /// Export the view.
    Export(Format),
    /// Refresh the selected product now (the marked ones, if any).
    Refresh,
    /// Refresh the whole watchlist now.
    RefreshAll,
    /// Refresh these products now.
    RefreshAsins(Vec<Asin>),
    /// Run discovery now (Keepa's best-seller lists of the configured categories).
    Discover,
    /// Refresh each product once in this many seconds from now on, for this run (`None`:
    /// say what it is).
    SetRefresh(Option<u64>),
    /// Add ASINs to the watchlist; with none, open a prompt for them.
    WatchAdd(Vec<Asin>),
    /// Remove ASINs (none = the selected one) from the watchlist.
    WatchRemove(Vec<Asin>),
    /// Toggle the sidebar item under the cursor.
    Toggle,
    /// Health: faults only.
    FaultsOnly,
    /// Logs: minimum level (index into [`LOG_LEVELS`]).
    LogLevel(usize),
    /// Does nothing (unbinds a key).
    None,
}

impl Action {
    /// Changes stored data: what `--read-only` hides and refuses (the registry's
    /// `dangerous` actions).
    pub fn changes_stored_data(&self) -> bool {
        matches!(
            self,
            Action::WatchAdd(_) | Action::WatchRemove(_) | Action::Discover
        )
    }

    /// Asks Keepa for data now: what a console whose process does not ingest (`--role
    /// api`) hides, having no ingest stage to ask.
    pub fn fetches(&self) -> bool {
        matches!(
            self,
            Action::Refresh | Action::RefreshAll | Action::RefreshAsins(_) | Action::Discover
        )
    }
}

#[cfg(test)]
mod tests;
