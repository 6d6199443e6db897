//! The store seam: where products, opportunities, the watchlist and job runs live.
//!
//! One object-safe trait, `Store`, read by the console and the API through the same query
//! types and written by the pipeline. Every write is idempotent: listings are keyed by
//! `(ASIN, market)`, products by ASIN, opportunities by `asin:buy:sell`, so a redelivered
//! batch changes nothing. `upsert_listings` returns the merged products it touched, which is
//! what detection needs; `replace_opportunities` makes an ASIN's set of opportunities exactly
//! the given one (rows that vanished are retired). The implementation is chosen by config
//! (`sqlite` or `elasticsearch`), built in one place (`build`); nothing else names
//! a concrete backend. `tests/` runs one conformance story against every implementation.

mod check;
#[cfg(feature = "elasticsearch")]
pub mod elasticsearch;
mod es_settings;
pub(crate) mod file_id;
mod history;
pub mod sqlite;
mod varint;
mod watchlist;
mod write_error;

pub use es_settings::EsSettings;
pub use watchlist::{WatchEdit, WatchEntry, WatchSource, unchanged, watch_change};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::component::{BoxFuture, ComponentHealth};
use crate::domain::{Asin, Listing, Market, Opportunity, OpportunityKey, PriceSeries, Product};

/// Which store to use, as written in the config file (`[store] type = "sqlite"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum StoreConfig {
    /// The embedded SQLite file.
    Sqlite {
        /// The database file; relative paths are inside the data dir. Default
        /// `<data dir>/arbdesk.sqlite`.
        #[serde(default)]
        path: Option<PathBuf>,
        /// Days of price history kept per series (default 90).
        #[serde(default)]
        history_days: Option<u32>,
    },
    /// An Elasticsearch 8 cluster (needs the `elasticsearch` cargo feature, on by default).
    Elasticsearch(EsSettings),
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig::Sqlite {
            path: None,
            history_days: None,
        }
    }
}

impl StoreConfig {
    /// The database file of the SQLite store in `data_dir` (`None` for a remote store).
    pub fn local_file(&self, data_dir: &Path) -> Option<PathBuf> {
        match self {
            StoreConfig::Sqlite { path, .. } => Some(sqlite_file(data_dir, path.as_deref())),
            StoreConfig::Elasticsearch(_) => None,
        }
    }
}

/// The SQLite database file: `path` (relative to `data_dir`), else `arbdesk.sqlite` there.
fn sqlite_file(data_dir: &Path, path: Option<&Path>) -> PathBuf {
    data_dir.join(path.unwrap_or(Path::new("arbdesk.sqlite")))
}

/// Opens the configured store; `data_dir` holds its files unless the config says otherwise.
pub fn build(config: &StoreConfig, data_dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
    match config {
        StoreConfig::Sqlite { history_days, path } => {
            let path = sqlite_file(data_dir, path.as_deref());
            let mut options = sqlite::SqliteOptions::default();
            if let Some(days) = history_days {
                options.history_days = *days;
            }
            Ok(Arc::new(sqlite::SqliteStore::open_with(&path, options)?))
        }
        #[cfg(feature = "elasticsearch")]
        StoreConfig::Elasticsearch(settings) => {
            Ok(Arc::new(elasticsearch::EsStore::connect(settings)?))
        }
        #[cfg(not(feature = "elasticsearch"))]
        StoreConfig::Elasticsearch(_) => Err(StoreError::Invalid(
            "this arbdesk was built without the Elasticsearch store: rebuild with \
             `--features elasticsearch` (on by default), or use type = \"sqlite\""
                .into(),
        )),
    }
}

/// A page of results with the total number of matches.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Page<T> {
    /// Matches in all pages.
    pub total: u64,
    /// This page.
    pub items: Vec<T>,
}

/// Why a store operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or is broken; retry later.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The data on disk is newer than this binary understands, or corrupt.
    #[error("the store's data is not usable: {0}")]
    Corrupt(String),
    /// The caller asked for something invalid.
    #[error("invalid store request: {0}")]
    Invalid(String),
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// The two ends of a bulk load ([`Store::bulk_load`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkLoad {
    /// Many writes follow.
    Begin,
    /// They are done: upkeep deferred until now is due.
    End,
}

/// How opportunities are sorted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpportunitySort {
    /// Gross margin percent.
    GrossMarginPct,
    /// Net margin percent.
    NetMarginPct,
    /// Net profit per unit.
    NetProfit,
    /// Return on investment.
    RoiPct,
    /// Last computed.
    UpdatedAt,
    /// Expected monthly profit, ranked rows first; equal profits by ROI, then net profit
    /// (economics.md §4.1).
    #[default]
    ExpectedMonthlyProfit,
}

impl OpportunitySort {
    /// Every order by the name the API's `sort` and `export --sort` take.
    pub const NAMES: [(&'static str, OpportunitySort); 6] = [
        ("gross_margin_pct", OpportunitySort::GrossMarginPct),
        ("net_margin_pct", OpportunitySort::NetMarginPct),
        ("net_profit", OpportunitySort::NetProfit),
        ("roi_pct", OpportunitySort::RoiPct),
        ("updated_at", OpportunitySort::UpdatedAt),
        (
            "expected_monthly_profit",
            OpportunitySort::ExpectedMonthlyProfit,
        ),
    ];

    /// The order's name, e.g. `roi_pct`.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("expected_monthly_profit", |(n, _)| n)
    }

    /// The order in words, for a sentence: "ROI", "expected monthly profit".
    pub fn words(self) -> &'static str {
        match self {
            OpportunitySort::GrossMarginPct => "gross margin",
            OpportunitySort::NetMarginPct => "net margin",
            OpportunitySort::NetProfit => "net profit",
            OpportunitySort::RoiPct => "ROI",
            OpportunitySort::UpdatedAt => "time computed",
            OpportunitySort::ExpectedMonthlyProfit => "expected monthly profit",
        }
    }

    /// The row fields this order compares, most significant first, all in the query's
    /// direction (every store names its columns or fields after them). Ties after these
    /// break by ASIN, then buy and sell market, always ascending.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            OpportunitySort::GrossMarginPct => &["gross_margin_pct"],
            OpportunitySort::NetMarginPct => &["net_margin_pct"],
            OpportunitySort::NetProfit => &["net_profit"],
            OpportunitySort::RoiPct => &["roi_pct"],
            OpportunitySort::UpdatedAt => &["updated_at"],
            OpportunitySort::ExpectedMonthlyProfit => {
                &["ranked", "expected_monthly_profit", "roi_pct", "net_profit"]
            }
        }
    }
}

/// Which way an opportunity order runs: the API's `order` and `export --order`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortOrder {
    /// Smallest first.
    Asc,
    /// Largest first (the default).
    #[default]
    Desc,
}

impl SortOrder {
    /// Both directions by the names the API's `order` and `export --order` take.
    pub const NAMES: [(&'static str, SortOrder); 2] =
        [("asc", SortOrder::Asc), ("desc", SortOrder::Desc)];

    /// The direction's name, `asc` or `desc`.
    pub fn name(self) -> &'static str {
        match self {
            SortOrder::Asc => "asc",
            SortOrder::Desc => "desc",
        }
    }

    /// Whether the largest come first ([`OpportunityFilter::descending`]).
    pub fn is_descending(self) -> bool {
        self == SortOrder::Desc
    }
}

/// Filters, order and page of an opportunity query. Empty market lists mean all markets.
#[derive(Clone, Debug, PartialEq)]
pub struct OpportunityFilter {
    /// Minimum gross margin percent.
    pub min_gross_margin_pct: Option<f64>,
    /// Minimum net margin percent.
    pub min_net_margin_pct: Option<f64>,
    /// Minimum net profit, EUR cents.
    pub min_profit_cents: Option<i64>,
    /// Minimum ROI percent.
    pub min_roi_pct: Option<f64>,
    /// Buy markets allowed.
    pub buy: Vec<Market>,
    /// Sell markets allowed.
    pub sell: Vec<Market>,
    /// Case-insensitive literal substring (no wildcards) of the title or ASIN; blank = all.
    pub text: Option<String>,
    /// `Some(true)`: only rows that pass every gate; `Some(false)`: only rows that fail one;
    /// `None`: both.
    pub ranked: Option<bool>,
    /// Only these routes (empty = every route); at most [`MAX_FILTER_KEYS`]. What the
    /// console asks to learn which rows that left its page still match elsewhere.
    pub keys: Vec<OpportunityKey>,
    /// Sort key; ties break by ASIN, then buy market, then sell market, always ascending
    /// (markets in display order: UK, DE, FR, IT, ES). A net figure that is unknown
    /// ([`Opportunity::has_net`]) sorts after every known one, in either direction.
    pub sort: OpportunitySort,
    /// Descending order.
    pub descending: bool,
    /// Page size (at most 1000 through the API).
    pub limit: usize,
    /// Rows to skip.
    pub offset: usize,
}

impl Default for OpportunityFilter {
    fn default() -> Self {
        OpportunityFilter {
            min_gross_margin_pct: None,
            min_net_margin_pct: None,
            min_profit_cents: None,
            min_roi_pct: None,
            buy: Vec::new(),
            sell: Vec::new(),
            text: None,
            ranked: None,
            keys: Vec::new(),
            sort: OpportunitySort::default(),
            descending: true,
            limit: 50,
            offset: 0,
        }
    }
}

/// The most routes one [`OpportunityFilter::keys`] may name.
pub const MAX_FILTER_KEYS: usize = 500;

impl OpportunityFilter {
    /// The filter checked, and its percentage minimums set, as (field, value): a value that
    /// is not a finite number is refused, naming the parameter, and so are too many
    /// [keys](Self::check_keys). Every store reads the filter's limits through here.
    pub(crate) fn pct_minimums(&self) -> Result<Vec<(&'static str, f64)>, String> {
        self.check_keys()?;
        let mut out = Vec::new();
        for (name, field, min) in [
            (
                "min_gross_margin_pct",
                "gross_margin_pct",
                self.min_gross_margin_pct,
            ),
            (
                "min_net_margin_pct",
                "net_margin_pct",
                self.min_net_margin_pct,
            ),
            ("min_roi_pct", "roi_pct", self.min_roi_pct),
        ] {
            match min {
                Some(v) if !v.is_finite() => {
                    return Err(format!("{name} is {v}: pass a finite number"));
                }
                Some(v) => out.push((field, v)),
                None => {}
            }
        }
        Ok(out)
    }

    /// Refuses more than [`MAX_FILTER_KEYS`] keys.
    fn check_keys(&self) -> Result<(), String> {
        if self.keys.len() > MAX_FILTER_KEYS {
            return Err(format!(
                "{} keys asked for: at most {MAX_FILTER_KEYS}; split the list",
                self.keys.len()
            ));
        }
        Ok(())
    }
}

/// Filters and page of a product query.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProductFilter {
    /// Words, each a case-insensitive substring of the title, brand or ASIN, all of which a
    /// product must hold (a "quoted phrase" is one word), as the opportunities' `q` takes
    /// plain words.
    pub text: Option<String>,
    /// Only products listed in at least one of these markets (empty = any market).
    pub markets: Vec<Market>,
    /// Only products whose ASIN sorts before this one: with a `limit` of 0, `total` is its
    /// position among the others (where a list by ASIN has it, or would).
    pub before: Option<Asin>,
    /// Page size.
    pub limit: usize,
    /// Rows to skip.
    pub offset: usize,
}

/// Totals for `/stats` and the console's tiles.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StoreStats {
    /// Products known.
    pub total_products: u64,
    /// Opportunity rows (all routes with a positive gross margin).
    pub opportunities: u64,
    /// Rows passing every gate.
    pub ranked_opportunities: u64,
    /// Best gross margin percent.
    pub best_gross_margin_pct: Option<f64>,
    /// Average gross margin percent (a store may round it to the millionth).
    pub avg_gross_margin_pct: Option<f64>,
    /// Products listed per market (every market, zeros included).
    pub products_per_market: BTreeMap<Market, u64>,
    /// Latest listing fetch.
    pub last_update: Option<DateTime<Utc>>,
    /// ASINs on the watchlist.
    pub watchlist: u64,
}

/// One run of a scheduled job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRun {
    /// Job name (`discovery`, `fx`, `recompute`).
    pub job: String,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub finished_at: DateTime<Utc>,
    /// `ok` or the error.
    pub result: String,
    /// What it did, e.g. `found 412 ASINs, 37 new`.
    pub detail: String,
}

/// How current one market's Keepa data is: the health view's row per marketplace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MarketFreshness {
    /// The market.
    pub market: Market,
    /// Products listed in it.
    pub listed: u64,
    /// The oldest Keepa update (`observed_at`) among them.
    pub oldest: Option<DateTime<Utc>>,
    /// How many of them Keepa last updated before the cut-off asked for.
    pub stale: u64,
}

/// A named number the store keeps: an import's progress (the bytes of its file fully
/// imported, committed with the data they cover), its line counts, or the mark of which
/// source fills the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Its name (for an import, e.g. the canonical file path and size).
    pub key: String,
    /// Its value.
    pub offset: u64,
}

/// What a process that runs a pipeline stage reported last: its status snapshot, so a
/// process that runs none (an API or a console beside the workers) can show the pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessReport {
    /// Which process (`host:pid`).
    pub id: String,
    /// When it reported.
    pub updated_at: DateTime<Utc>,
    /// Its status snapshot as JSON (the pipeline's `PipelineStatus`).
    pub body: String,
}

/// Where products, opportunities, the watchlist and job runs live.
pub trait Store: Send + Sync {
    /// Probes the store (a cheap round trip) and reports.
    fn health(&self) -> BoxFuture<'_, ComponentHealth>;

    /// Adds ASINs to the watchlist; returns those that were new, in the order given (an
    /// ASIN named twice once).
    fn watch_add(
        &self,
        asins: Vec<Asin>,
        source: WatchSource,
    ) -> BoxFuture<'_, StoreResult<Vec<Asin>>>;
    /// Removes ASINs from the watchlist (their data stays); returns those that were on it,
    /// in the order given (an ASIN named twice once).
    fn watch_remove(&self, asins: Vec<Asin>) -> BoxFuture<'_, StoreResult<Vec<Asin>>>;
    /// The whole watchlist, oldest addition first (ties by ASIN).
    fn watchlist(&self) -> BoxFuture<'_, StoreResult<Vec<WatchEntry>>>;
    /// Up to `limit` watched ASINs to refresh in `market`: never fetched there first (oldest
    /// addition first, ties by ASIN), then those with an opportunity buying or selling there,
    /// then the rest; the stalest fetch first within the last two tiers, ties by ASIN.
    fn refresh_candidates(
        &self,
        market: Market,
        limit: usize,
    ) -> BoxFuture<'_, StoreResult<Vec<Asin>>>;

    /// Of `asins`, those with a route (a stored row) buying or selling in `market`, in the
    /// order given, each with whether one of them is at a net profit (a known one: not
    /// `NO_TABLE`): what a refresh decides the Buy Box by when `keepa.buybox = "routes"`
    /// (a route with a gross gap only, which nearly every product listed at two prices has,
    /// is not worth 2 tokens a market, unless the Buy Box is what closed it).
    fn routes_in(
        &self,
        market: Market,
        asins: Vec<Asin>,
    ) -> BoxFuture<'_, StoreResult<Vec<(Asin, bool)>>>;

    /// Writes listings (identity, snapshot, history) in one transaction, with an optional
    /// import checkpoint; returns the merged product of every ASIN touched, in batch order.
    ///
    /// Per (ASIN, market) the newest Keepa observation (`lastUpdate`) wins, the latest
    /// `fetched_at` on a tie, so neither a stale redelivery nor an old dump rolls prices
    /// back, while history is always merged, deduplicated by time. A listing of Keepa
    /// type other than 0 or without a title records the fetch but lists nothing: the product
    /// then has no snapshot for that market. Identity (title, brand, image, package quantity)
    /// comes from the first listed market in display order; EANs are merged in that order.
    fn upsert_listings(
        &self,
        listings: Vec<Listing>,
        fetched_at: DateTime<Utc>,
        checkpoint: Option<Checkpoint>,
    ) -> BoxFuture<'_, StoreResult<Vec<Product>>>;
    /// Makes each ASIN's opportunities exactly the given set, in one transaction.
    fn replace_opportunities(
        &self,
        sets: Vec<(Asin, Vec<Opportunity>)>,
    ) -> BoxFuture<'_, StoreResult<()>>;
    /// The last checkpoint committed for an import key.
    fn checkpoint(&self, key: String) -> BoxFuture<'_, StoreResult<Option<u64>>>;
    /// Commits a checkpoint on its own (with no listings).
    fn set_checkpoint(&self, checkpoint: Checkpoint) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move {
            self.upsert_listings(Vec::new(), Utc::now(), Some(checkpoint))
                .await
                .map(drop)
        })
    }
    /// Starts or ends a bulk load: many writes, few reads. A store may defer upkeep until
    /// the end, as long as every read stays correct meanwhile and a load that never ends
    /// (the process was killed) is finished when the store is next opened. The default
    /// does nothing.
    fn bulk_load(&self, phase: BulkLoad) -> BoxFuture<'_, StoreResult<()>> {
        let _ = phase;
        Box::pin(async { Ok(()) })
    }

    /// Products listed in at least one market and matching a filter, ordered by ASIN.
    fn products(&self, filter: ProductFilter) -> BoxFuture<'_, StoreResult<Page<Product>>>;
    /// One product, if it was ever fetched (with no markets if none lists it now).
    fn product(&self, asin: Asin) -> BoxFuture<'_, StoreResult<Option<Product>>>;
    /// Several products as [`product`](Self::product) reads them, in the order asked, in
    /// one read (one transaction, or one request).
    fn products_by_asin(
        &self,
        asins: Vec<Asin>,
    ) -> BoxFuture<'_, StoreResult<Vec<Option<Product>>>>;
    /// Price history of one product in every market.
    fn history(&self, asin: Asin) -> BoxFuture<'_, StoreResult<Vec<PriceSeries>>>;
    /// Opportunities matching a filter.
    fn opportunities(
        &self,
        filter: OpportunityFilter,
    ) -> BoxFuture<'_, StoreResult<Page<Opportunity>>>;
    /// Totals.
    fn stats(&self) -> BoxFuture<'_, StoreResult<StoreStats>>;
    /// Per market (in display order): listed products, the oldest Keepa update among them,
    /// and how many were last updated before `stale_before`.
    fn freshness(
        &self,
        stale_before: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<Vec<MarketFreshness>>>;

    /// Records a job run.
    fn record_job(&self, run: JobRun) -> BoxFuture<'_, StoreResult<()>>;
    /// The latest run (by start) of each job, ordered by job name.
    fn jobs(&self) -> BoxFuture<'_, StoreResult<Vec<JobRun>>>;

    /// Records a process's report in place of its previous one, and forgets reports not
    /// renewed for a day (processes that ended; a store may look for them only hourly).
    fn report_process(&self, report: ProcessReport) -> BoxFuture<'_, StoreResult<()>>;
    /// The reports made at or after `since`, ordered by process id.
    fn process_reports(
        &self,
        since: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<Vec<ProcessReport>>>;
}

/// How long a process's report is kept without being renewed.
pub const REPORTS_KEPT_FOR: chrono::TimeDelta = chrono::TimeDelta::days(1);

#[cfg(test)]
mod tests {
    use super::*;

    fn asins(names: &[&str]) -> Vec<Asin> {
        names.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn a_watchlist_change_names_what_did_not_change() {
        let asked = asins(&["B0AAAAAAA1", "B0AAAAAAA2"]);
        assert_eq!(
            watch_change(WatchEdit::Add, &asked, &asked),
            "2 added to the watchlist"
        );
        assert_eq!(
            watch_change(WatchEdit::Remove, &asked[1..], &asked),
            "1 of 2 removed from the watchlist (B0AAAAAAA1 was not on it)"
        );
        assert_eq!(
            watch_change(WatchEdit::Add, &[], &asked[..1]),
            "B0AAAAAAA1 was on the watchlist already: the watchlist is unchanged"
        );
        let many = asins(&[
            "B0AAAAAAA1",
            "B0AAAAAAA2",
            "B0AAAAAAA3",
            "B0AAAAAAA4",
            "B0AAAAAAA5",
            "B0AAAAAAA6",
            "B0AAAAAAA7",
        ]);
        assert_eq!(
            watch_change(WatchEdit::Add, &many[..1], &many),
            "1 of 7 added to the watchlist (B0AAAAAAA2, B0AAAAAAA3, B0AAAAAAA4, B0AAAAAAA5, \
             B0AAAAAAA6 and 1 more were on it already)"
        );
    }
}
