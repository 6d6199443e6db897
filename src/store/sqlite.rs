//! The embedded store: one SQLite file in WAL mode, the default backend.
//!
//! `SqliteStore` is the `Store` trait over blocking SQLite code: every method hands its work
//! to tokio's blocking pool, writes to the one writer connection and reads to a pool of
//! reader connections (`pool`), so readers never block the writer and the async runtime is
//! never blocked by disk I/O. The submodules own one concern each: `schema` (tables, indexes,
//! migrations), `pool` (connections), `checkpointer` (WAL checkpoints off the writer's
//! thread), `codec` (columns and errors), `binary` (the compact encoding of stored documents and
//! snapshots),
//! `ingest` (listings and the merged products), `write` (opportunities, watchlist, jobs),
//! `totals` (the running counts behind `stats`),
//! `query` (filtered, sorted, paged opportunities and products) and `read` (the rest).

mod binary;
mod checkpointer;
mod codec;
mod ingest;
mod pool;
mod query;
mod read;
mod schema;
mod sidecars;
mod totals;
mod write;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::{
    BulkLoad, Checkpoint, JobRun, MarketFreshness, OpportunityFilter, Page, ProcessReport,
    ProductFilter, Store, StoreError, StoreResult, StoreStats, WatchEntry, WatchSource,
};
use crate::component::{BoxFuture, ComponentHealth};
use crate::domain::{Asin, Listing, Market, Opportunity, PriceSeries, Product};
use codec::Res;
use pool::Db;

/// Settings of the SQLite store.
#[derive(Clone, Debug, PartialEq)]
pub struct SqliteOptions {
    /// Days of price history kept per series (the last point before the window is kept too).
    pub history_days: u32,
    /// Idle reader connections kept open.
    pub readers: usize,
    /// How long a statement waits for a lock held by another process before failing.
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            history_days: 90,
            readers: 4,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The SQLite implementation of `Store`.
#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<Db>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.db.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the database at `path` with default options, creating the file and its parent
    /// directories if needed and migrating the schema.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, SqliteOptions::default())
    }

    /// Opens the database at `path` with `options`.
    pub fn open_with(path: &Path, options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        if options.history_days == 0 {
            return Err(StoreError::Invalid(
                "history_days is 0: keep at least 1 day of price history".into(),
            ));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::config::create_private_dir(dir).map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot create the directory {} for the store: {e}; check its permissions \
                     or set the store path",
                    dir.display()
                ))
            })?;
        }
        let db = Db::open(path, options).map_err(|e| e.into_store(path))?;
        Ok(SqliteStore { db: Arc::new(db) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.db.path
    }

    fn read<T, F>(&self, f: F) -> BoxFuture<'_, StoreResult<T>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Res<T> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        Box::pin(blocking(move || {
            db.read(f).map_err(|e| e.into_store(&db.path))
        }))
    }

    fn write<T, F>(&self, f: F) -> BoxFuture<'_, StoreResult<T>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &SqliteOptions) -> Res<T> + Send + 'static,
    {
        self.write_prepared(|| Ok(()), move |c, o, ()| f(c, o))
    }

    /// Like [`write`](Self::write), with CPU work (`prepare`: validating, encoding) done on
    /// the same blocking thread before the writer is taken, so it overlaps whatever write
    /// holds the writer now.
    fn write_prepared<P, T, W, F>(&self, prepare: W, f: F) -> BoxFuture<'_, StoreResult<T>>
    where
        P: Send + 'static,
        T: Send + 'static,
        W: FnOnce() -> Res<P> + Send + 'static,
        F: FnOnce(&Connection, &SqliteOptions, P) -> Res<T> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        Box::pin(blocking(move || {
            prepare()
                .and_then(|p| db.write(|c| f(c, &db.options, p)))
                .map_err(|e| e.into_store(&db.path))
        }))
    }
}

/// Listings in a batch from which its leftovers are freed on a thread of their own.
const LARGE_BATCH: usize = 1_000;

/// Runs blocking store work off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> StoreResult<T> + Send + 'static,
) -> StoreResult<T> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(StoreError::Unavailable(format!(
            "a store task did not finish: {e}; retry, and report it if it persists"
        )))
    })
}

impl Store for SqliteStore {
    fn health(&self) -> BoxFuture<'_, ComponentHealth> {
        let db = Arc::clone(&self.db);
        Box::pin(async move {
            let path = db.path.display().to_string();
            let probe = blocking(move || db.probe().map_err(|e| e.into_store(&db.path))).await;
            match probe {
                Ok((latency, None)) => ComponentHealth {
                    latency_ms: Some(latency),
                    ..ComponentHealth::ok("sqlite", path)
                },
                Ok((latency, Some(failed))) => ComponentHealth {
                    latency_ms: Some(latency),
                    ..ComponentHealth::degraded("sqlite", format!("{path}: {failed}"))
                },
                Err(e) => ComponentHealth::down("sqlite", e.to_string()),
            }
        })
    }

    fn watch_add(
        &self,
        asins: Vec<Asin>,
        source: WatchSource,
    ) -> BoxFuture<'_, StoreResult<Vec<Asin>>> {
        let now = Utc::now();
        self.write(move |c, _| write::watch_add(c, &asins, source, now))
    }

    fn watch_remove(&self, asins: Vec<Asin>) -> BoxFuture<'_, StoreResult<Vec<Asin>>> {
        self.write(move |c, _| write::watch_remove(c, &asins))
    }

    fn watchlist(&self) -> BoxFuture<'_, StoreResult<Vec<WatchEntry>>> {
        self.read(read::watchlist)
    }

    fn refresh_candidates(
        &self,
        market: Market,
        limit: usize,
    ) -> BoxFuture<'_, StoreResult<Vec<Asin>>> {
        self.read(move |c| read::refresh_candidates(c, market, limit))
    }

    fn routes_in(
        &self,
        market: Market,
        asins: Vec<Asin>,
    ) -> BoxFuture<'_, StoreResult<Vec<(Asin, bool)>>> {
        self.read(move |c| read::routes_in(c, market, asins))
    }

    fn upsert_listings(
        &self,
        listings: Vec<Listing>,
        fetched_at: DateTime<Utc>,
        checkpoint: Option<Checkpoint>,
    ) -> BoxFuture<'_, StoreResult<Vec<Product>>> {
        let days = self.db.options.history_days;
        let large = listings.len() >= LARGE_BATCH;
        let written = self.write_prepared(
            move || ingest::prepare(listings, fetched_at, days),
            move |c, _, prepared| ingest::upsert_listings(c, prepared, checkpoint),
        );
        Box::pin(async move {
            let (products, leftovers) = written.await?;
            // Freeing a large batch's listings takes milliseconds of a core: not on the
            // runtime's threads, nor before this returns (the caller's next write waits).
            // A thread of its own (which, if it cannot be started, frees them here).
            if large {
                let _ = std::thread::Builder::new()
                    .name("arbdesk-free".into())
                    .spawn(move || drop(leftovers));
            }
            Ok(products)
        })
    }

    fn replace_opportunities(
        &self,
        sets: Vec<(Asin, Vec<Opportunity>)>,
    ) -> BoxFuture<'_, StoreResult<()>> {
        self.write_prepared(
            move || write::prepare(sets),
            |c, _, prepared| write::replace_opportunities(c, &prepared),
        )
    }

    fn checkpoint(&self, key: String) -> BoxFuture<'_, StoreResult<Option<u64>>> {
        self.read(move |c| read::checkpoint(c, &key))
    }

    fn products(&self, filter: ProductFilter) -> BoxFuture<'_, StoreResult<Page<Product>>> {
        self.read(move |c| query::products(c, &filter))
    }

    fn product(&self, asin: Asin) -> BoxFuture<'_, StoreResult<Option<Product>>> {
        self.read(move |c| read::product(c, asin))
    }

    fn products_by_asin(
        &self,
        asins: Vec<Asin>,
    ) -> BoxFuture<'_, StoreResult<Vec<Option<Product>>>> {
        self.read(move |c| asins.iter().map(|a| read::product(c, *a)).collect())
    }

    fn history(&self, asin: Asin) -> BoxFuture<'_, StoreResult<Vec<PriceSeries>>> {
        self.read(move |c| read::history(c, asin))
    }

    fn opportunities(
        &self,
        filter: OpportunityFilter,
    ) -> BoxFuture<'_, StoreResult<Page<Opportunity>>> {
        self.read(move |c| query::opportunities(c, &filter))
    }

    fn stats(&self) -> BoxFuture<'_, StoreResult<StoreStats>> {
        self.read(read::stats)
    }

    fn freshness(
        &self,
        stale_before: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<Vec<MarketFreshness>>> {
        self.read(move |c| read::freshness(c, stale_before))
    }

    fn record_job(&self, run: JobRun) -> BoxFuture<'_, StoreResult<()>> {
        self.write(move |c, _| write::record_job(c, &run))
    }

    fn jobs(&self) -> BoxFuture<'_, StoreResult<Vec<JobRun>>> {
        self.read(read::jobs)
    }

    fn report_process(&self, report: ProcessReport) -> BoxFuture<'_, StoreResult<()>> {
        self.write(move |c, _| write::report_process(c, &report))
    }

    fn process_reports(
        &self,
        since: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<Vec<ProcessReport>>> {
        self.read(move |c| read::process_reports(c, since))
    }

    /// Drops the opportunity sort indexes at the start and builds them at the end: one
    /// sorted build instead of a random insert into each for every row. Sorted pages read
    /// meanwhile are still right, only slower (see `query.rs`). A marker file locked for
    /// the duration keeps stores opened by other processes from building them early
    /// (`pool.rs`).
    fn bulk_load(&self, phase: BulkLoad) -> BoxFuture<'_, StoreResult<()>> {
        let db = Arc::clone(&self.db);
        Box::pin(blocking(move || {
            match phase {
                BulkLoad::Begin => db.begin_bulk_load(),
                BulkLoad::End => db.end_bulk_load(),
            }
            .map_err(|e| e.into_store(&db.path))
        }))
    }
}
