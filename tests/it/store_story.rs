//! The store conformance story: the whole `Store` contract as one narrative, run against
//! every implementation (`story(store)`), with exact expected results.
//!
//! It starts from an empty store and tells what the pipeline, the console and the API do:
//! watch some ASINs, fetch listings in batches (a redelivered batch, a stale one, an invalid
//! one), detect opportunities, query them every way the API can, retire vanished ones,
//! delist a product, browse products, record jobs and checkpoints. Nothing here knows which
//! backend it talks to; backend-specific checks live next to the backend's own tests.
//!
//! Contract points this story fixes, beyond the trait's signatures: timestamps round-trip to
//! the microsecond; a listing only counts as "listed" when Keepa type is 0 and it has a
//! title; the newest fetch wins per (ASIN, market) while history is always merged; product
//! identity comes from the listed markets in display order; equal expected monthly profits
//! sort by ROI, then profit; other ties by ASIN, then buy and sell market in display order
//! (UK, DE, FR, IT, ES); `products_per_market` names all five markets; text filters are
//! literal substrings and never match across two fields.

pub mod fixtures;
mod listings;
mod opportunities;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arbdesk::component::HealthStatus;
use arbdesk::domain::{Asin, Listing, Market, Product};
use arbdesk::store::{
    Checkpoint, JobRun, OpportunityFilter, ProcessReport, ProductFilter, Store, StoreStats,
    WatchSource,
};

use Market::DE;
use fixtures::{a, asins, b, c, d, t};

/// Runs the story against `store`, which must be empty.
pub async fn story(store: Arc<dyn Store>) {
    let s = store.as_ref();
    empty_store(s).await;
    watchlist(s).await;
    let batch1 = listings::ingest(s).await;
    let rows = opportunities::query(s).await;
    opportunities::ties(s).await;
    opportunities::first_seen(s).await;
    opportunities::gross_only(s).await;
    opportunities::retire(s, &rows).await;
    listings::products(s, &batch1).await;
    bookkeeping(s).await;
    let h = s.health().await;
    assert_eq!(h.status, HealthStatus::Ok, "{h:?}");
}

fn per_market(counts: [u64; 5]) -> BTreeMap<Market, u64> {
    Market::ALL.into_iter().zip(counts).collect()
}

/// The expected product of listings in one ASIN: identity from the first listed market in
/// display order, EANs merged in that order; `not_listed` the markets fetched where it is
/// not listed, in display order.
fn product_of(asin: Asin, listings: &[&Listing], not_listed: &[Market]) -> Product {
    let mut sorted: Vec<&Listing> = listings.to_vec();
    sorted.sort_by_key(|l| l.market);
    let mut eans: Vec<String> = Vec::new();
    for e in sorted.iter().flat_map(|l| l.eans.iter()) {
        if !eans.contains(e) {
            eans.push(e.clone());
        }
    }
    let first = sorted.first();
    Product {
        asin,
        title: first.and_then(|l| l.title.clone()),
        brand: first.and_then(|l| l.brand.clone()),
        image_url: first.and_then(|l| l.image_url.clone()),
        eans,
        package_quantity: first.and_then(|l| l.package_quantity),
        markets: sorted
            .iter()
            .map(|l| (l.market, l.snapshot.clone()))
            .collect(),
        not_listed: Some(not_listed.to_vec()),
    }
}

async fn empty_store(s: &dyn Store) {
    let h = s.health().await;
    assert_eq!(h.status, HealthStatus::Ok, "{h:?}");
    assert!(!h.kind.is_empty());
    assert!(h.latency_ms.is_some(), "the probe is timed");
    let stats = s.stats().await.unwrap();
    assert_eq!(
        stats,
        StoreStats {
            products_per_market: per_market([0; 5]),
            ..StoreStats::default()
        }
    );
    assert!(s.watchlist().await.unwrap().is_empty());
    assert!(s.jobs().await.unwrap().is_empty());
    assert_eq!(s.product(a()).await.unwrap(), None);
    assert!(s.history(a()).await.unwrap().is_empty());
    assert_eq!(s.checkpoint("story-import".into()).await.unwrap(), None);
    let page = s.opportunities(OpportunityFilter::default()).await.unwrap();
    assert_eq!((page.total, page.items.len()), (0, 0));
    let page = s
        .products(ProductFilter {
            limit: 10,
            ..ProductFilter::default()
        })
        .await
        .unwrap();
    assert_eq!((page.total, page.items.len()), (0, 0));
    assert!(s.refresh_candidates(DE, 10).await.unwrap().is_empty());
}

/// Waits long enough for the next watchlist addition to get a later timestamp.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

async fn watchlist(s: &dyn Store) {
    assert_eq!(
        s.watch_add(vec![a(), b(), a()], WatchSource::User)
            .await
            .unwrap(),
        [a(), b()],
        "a duplicate in one call counts once"
    );
    tick().await;
    assert_eq!(
        s.watch_add(vec![b(), c()], WatchSource::Discovery)
            .await
            .unwrap(),
        [c()],
        "an ASIN already watched is not new"
    );
    let w = s.watchlist().await.unwrap();
    assert_eq!(asins(&w, |x| x.asin), ["A", "B", "C"]);
    let sources: Vec<WatchSource> = w.iter().map(|x| x.source).collect();
    assert_eq!(
        sources,
        [WatchSource::User, WatchSource::User, WatchSource::Discovery],
        "re-adding keeps the first source"
    );
    assert_eq!(w[0].added_at, w[1].added_at);
    assert!(w[2].added_at > w[0].added_at);
    assert!(w.iter().all(|x| x.oldest_fetch.is_none()));

    assert_eq!(s.watch_remove(vec![c(), d()]).await.unwrap(), [c()]);
    let w = s.watchlist().await.unwrap();
    assert_eq!(asins(&w, |x| x.asin), ["A", "B"]);
    tick().await;
    assert_eq!(
        s.watch_add(vec![c()], WatchSource::Import).await.unwrap(),
        [c()]
    );
    let w = s.watchlist().await.unwrap();
    assert_eq!(w[2].asin, c());
    assert_eq!(w[2].source, WatchSource::Import);

    // Nothing fetched yet: oldest addition first, ties by ASIN.
    let ids = strings;
    assert_eq!(
        ids(s.refresh_candidates(DE, 10).await.unwrap()),
        ["A", "B", "C"]
    );
    assert_eq!(ids(s.refresh_candidates(DE, 2).await.unwrap()), ["A", "B"]);
    assert!(s.refresh_candidates(DE, 0).await.unwrap().is_empty());
}

/// ASIN labels of refresh candidates.
fn strings(v: Vec<Asin>) -> Vec<String> {
    v.into_iter().map(fixtures::label).collect()
}

async fn bookkeeping(s: &dyn Store) {
    let run = |job: &str, start, end, result: &str, detail: &str| JobRun {
        job: job.into(),
        started_at: t(start),
        finished_at: t(end),
        result: result.into(),
        detail: detail.into(),
    };
    let latest_refresh = run(
        "refresh",
        120,
        122,
        "error: Keepa answered 429",
        "retrying in 60 s",
    );
    let discovery = run("discovery", 62, 63, "ok", "found 2 ASINs, 2 new");
    for r in [
        run("refresh", 60, 61, "ok", "refreshed 3 ASINs"),
        discovery.clone(),
        latest_refresh.clone(),
        run("refresh", 0, 1, "ok", "a late report of an older run"),
    ] {
        s.record_job(r).await.unwrap();
    }
    assert_eq!(s.jobs().await.unwrap(), vec![discovery, latest_refresh]);

    // A checkpoint can be committed alone, and only its key moves.
    assert_eq!(
        s.checkpoint("story-import".into()).await.unwrap(),
        Some(250)
    );
    assert_eq!(s.checkpoint("another-file".into()).await.unwrap(), None);
    let cp = Checkpoint {
        key: "story-import".into(),
        offset: 300,
    };
    assert!(
        s.upsert_listings(vec![], t(200), Some(cp))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.checkpoint("story-import".into()).await.unwrap(),
        Some(300)
    );
    assert_eq!(s.stats().await.unwrap().last_update, Some(t(180)));

    // Process reports: one per process, each replacing its last, read from a time on.
    let report = |id: &str, at: i64, body: &str| ProcessReport {
        id: id.into(),
        updated_at: t(at),
        body: body.into(),
    };
    assert!(s.process_reports(t(0)).await.unwrap().is_empty());
    let first = report("ingest-1:7", 100, r#"{"running":true,"stages":{}}"#);
    let worker = report("worker-2:9", 110, r#"{"processing":true}"#);
    let again = report(
        "ingest-1:7",
        130,
        r#"{"running":true,"stages":{"ingest":{}}}"#,
    );
    for r in [&first, &worker, &again] {
        s.report_process(r.clone()).await.unwrap();
    }
    assert_eq!(
        s.process_reports(t(105)).await.unwrap(),
        vec![again.clone(), worker.clone()]
    );
    assert_eq!(
        s.process_reports(t(120)).await.unwrap(),
        vec![again.clone()]
    );
    // A report not renewed for a day is forgotten (its process ended).
    let later = report("worker-2:9", 131 + 24 * 60, r#"{"processing":false}"#);
    s.report_process(later.clone()).await.unwrap();
    assert_eq!(s.process_reports(t(0)).await.unwrap(), vec![later]);

    // Unwatching keeps the data.
    assert_eq!(
        s.watch_remove(vec![c(), a(), c()]).await.unwrap(),
        [c(), a()],
        "in the order given, a repeat once"
    );
    assert!(s.product(a()).await.unwrap().is_some());
    let w = s.watchlist().await.unwrap();
    assert_eq!(asins(&w, |x| x.asin), ["B", "D", "E"]);
    let oldest: Vec<_> = w.iter().map(|x| x.oldest_fetch).collect();
    assert_eq!(oldest, [Some(t(60)), Some(t(60)), Some(t(60))]);
    assert_eq!(s.stats().await.unwrap().watchlist, 3);
}
