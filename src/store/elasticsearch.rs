//! The Elasticsearch store: the same `Store` contract as SQLite, on an Elasticsearch 8
//! cluster, for when several processes share one store.
//!
//! `client` is the only file that names the `elasticsearch` crate: `Es` wraps a client per
//! node given (credentials, TLS, timeouts; requests go round the nodes, passing over for
//! 30 s one that did not answer) behind a handful of JSON requests — search,
//! count, multi-get and bulk — and turns every failure into a `StoreError` that says what to
//! do. The other submodules work in JSON documents only: `bulk` (building bulk requests, their
//! per-item results), `docs` (index names, explicit mappings, document ids and shapes), `ingest` (listings, history and the merged products), `write`
//! (opportunities, the watchlist, jobs) and `query` (every read, and the paging walk).
//!
//! Indices are created with explicit mappings on first use, so a store whose cluster is down
//! at start-up opens anyway, reports itself down, and starts working when the cluster comes
//! back. Writes go in bulk requests with per-item results: a refused item fails the call
//! (nothing is acknowledged upstream, the batch is retried, and every write is idempotent),
//! while the few outcomes that are expected (a watchlist entry that already exists, a job run
//! older than the stored one) are tolerated by name. Reads that a write depends on use
//! real-time multi-gets, never searches, so correctness does not hang on index refreshes.

mod bulk;
mod client;
mod docs;
mod ingest;
mod query;
mod write;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{
    Checkpoint, EsSettings, JobRun, MarketFreshness, OpportunityFilter, Page, ProcessReport,
    ProductFilter, Store, StoreError, StoreResult, StoreStats, WatchEntry, WatchSource,
};
use crate::component::{BoxFuture, ComponentHealth};
use crate::domain::{Asin, Listing, Market, Opportunity, PriceSeries, Product};
pub(crate) use bulk::Bulk;
use client::Es;

/// The store on an Elasticsearch cluster.
#[derive(Clone)]
pub struct EsStore {
    es: Arc<Es>,
    history_days: u32,
}

impl std::fmt::Debug for EsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsStore")
            .field("url", &self.es.url)
            .field("prefix", &self.es.prefix)
            .finish_non_exhaustive()
    }
}

impl EsStore {
    /// Builds the client; no request is made until the store is first used.
    pub fn connect(settings: &EsSettings) -> Result<EsStore, StoreError> {
        settings.validate().map_err(StoreError::Invalid)?;
        let es = Es::connect(settings)?;
        Ok(EsStore {
            es: Arc::new(es),
            history_days: settings.history_days.unwrap_or(90),
        })
    }

    /// Whether anything was ever stored under this index prefix (its products index
    /// exists), asked without creating an index: what a process that only serves checks
    /// before it serves, as it checks that a SQLite file exists.
    pub async fn holds_a_store(&self) -> StoreResult<bool> {
        self.es.has_products_index().await
    }

    /// Runs `f` once the indices exist, recording the outcome of writes for `health`.
    async fn run<T, F, Fut>(&self, write: bool, f: F) -> StoreResult<T>
    where
        F: FnOnce(Arc<Es>) -> Fut,
        Fut: Future<Output = StoreResult<T>>,
    {
        self.es.ensure_indices().await?;
        let out = f(Arc::clone(&self.es)).await;
        if write {
            self.es.note_write(&out);
        }
        out
    }
}

impl Store for EsStore {
    fn health(&self) -> BoxFuture<'_, ComponentHealth> {
        Box::pin(async move { self.es.health().await })
    }

    fn watch_add(
        &self,
        asins: Vec<Asin>,
        source: WatchSource,
    ) -> BoxFuture<'_, StoreResult<Vec<Asin>>> {
        let now = Utc::now();
        Box::pin(self.run(true, move |es| async move {
            write::watch_add(&es, asins, source, now).await
        }))
    }

    fn watch_remove(&self, asins: Vec<Asin>) -> BoxFuture<'_, StoreResult<Vec<Asin>>> {
        Box::pin(self.run(true, move |es| async move {
            write::watch_remove(&es, asins).await
        }))
    }

    fn watchlist(&self) -> BoxFuture<'_, StoreResult<Vec<WatchEntry>>> {
        Box::pin(self.run(false, |es| async move { query::watchlist(&es).await }))
    }

    fn refresh_candidates(
        &self,
        market: Market,
        limit: usize,
    ) -> BoxFuture<'_, StoreResult<Vec<Asin>>> {
        Box::pin(self.run(false, move |es| async move {
            query::refresh_candidates(&es, market, limit).await
        }))
    }

    fn routes_in(
        &self,
        market: Market,
        asins: Vec<Asin>,
    ) -> BoxFuture<'_, StoreResult<Vec<(Asin, bool)>>> {
        Box::pin(self.run(false, move |es| async move {
            query::routes_in(&es, market, asins).await
        }))
    }

    fn upsert_listings(
        &self,
        listings: Vec<Listing>,
        fetched_at: DateTime<Utc>,
        checkpoint: Option<Checkpoint>,
    ) -> BoxFuture<'_, StoreResult<Vec<Product>>> {
        let days = self.history_days;
        Box::pin(self.run(true, move |es| async move {
            ingest::upsert_listings(&es, days, listings, fetched_at, checkpoint).await
        }))
    }

    fn replace_opportunities(
        &self,
        sets: Vec<(Asin, Vec<Opportunity>)>,
    ) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(self.run(true, move |es| async move {
            write::replace_opportunities(&es, sets).await
        }))
    }

    fn checkpoint(&self, key: String) -> BoxFuture<'_, StoreResult<Option<u64>>> {
        Box::pin(self.run(false, move |es| async move {
            query::checkpoint(&es, &key).await
        }))
    }

    fn products(&self, filter: ProductFilter) -> BoxFuture<'_, StoreResult<Page<Product>>> {
        Box::pin(self.run(false, move |es| async move {
            query::products(&es, &filter).await
        }))
    }

    fn product(&self, asin: Asin) -> BoxFuture<'_, StoreResult<Option<Product>>> {
        Box::pin(self.run(
            false,
            move |es| async move { query::product(&es, asin).await },
        ))
    }

    fn products_by_asin(
        &self,
        asins: Vec<Asin>,
    ) -> BoxFuture<'_, StoreResult<Vec<Option<Product>>>> {
        Box::pin(self.run(false, move |es| async move {
            query::products_by_asin(&es, &asins).await
        }))
    }

    fn history(&self, asin: Asin) -> BoxFuture<'_, StoreResult<Vec<PriceSeries>>> {
        Box::pin(self.run(
            false,
            move |es| async move { query::history(&es, asin).await },
        ))
    }

    fn opportunities(
        &self,
        filter: OpportunityFilter,
    ) -> BoxFuture<'_, StoreResult<Page<Opportunity>>> {
        Box::pin(self.run(false, move |es| async move {
            query::opportunities(&es, &filter).await
        }))
    }

    fn stats(&self) -> BoxFuture<'_, StoreResult<StoreStats>> {
        Box::pin(self.run(false, |es| async move { query::stats(&es).await }))
    }

    fn freshness(
        &self,
        stale_before: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<Vec<MarketFreshness>>> {
        Box::pin(self.run(false, move |es| async move {
            query::freshness(&es, stale_before).await
        }))
    }

    fn record_job(&self, run: JobRun) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(self.run(
            true,
            move |es| async move { write::record_job(&es, run).await },
        ))
    }

    fn jobs(&self) -> BoxFuture<'_, StoreResult<Vec<JobRun>>> {
        Box::pin(self.run(false, |es| async move { query::jobs(&es).await }))
    }

    fn report_process(&self, report: ProcessReport) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(self.run(true, move |es| async move {
            write::report_process(&es, report).await
        }))
    }

    fn process_reports(
        &self,
        since: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<Vec<ProcessReport>>> {
        Box::pin(self.run(false, move |es| async move {
            query::process_reports(&es, since).await
        }))
    }
}
