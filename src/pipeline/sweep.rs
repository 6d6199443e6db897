//! The ranking kept true as time passes. A route is ranked when it passes every gate at
//! the moment it is computed, and two gates depend on that moment: `STALE` (Keepa's data
//! older than `max_keepa_age_hours`) and `FX_STALE` (a rate older than `fx_max_age_days`).
//! A product the pipeline refreshes is computed again every refresh, so its gates follow
//! the clock; one it no longer refreshes (taken off the watchlist, or Keepa out of reach
//! for a day) would keep its routes ranked for ever on data the gates now refuse.
//!
//! So every ten minutes a task of its own, beside the process stage, reads the ranked
//! routes computed longest ago
//! (more than an hour ago: newer ones belong to products being refreshed), computes their
//! products again from the store at the current time, and writes the products whose
//! ranked routes changed. Nothing is written for a product whose ranking holds.
//!
//! Stored rows are also out of date when the economics settings change (an edited config,
//! a new version of arbdesk): at start the same task compares the settings' id
//! ([`Detect::settings_id`]) with the one the store's last `recompute` job run recorded,
//! and when they differ computes every stored product again and records the new id.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{Detect, detect_all};
use crate::domain::{Asin, OpportunityKey};
use crate::store::{JobRun, OpportunityFilter, OpportunitySort, ProductFilter, Store, StoreError};

/// The job run that records which settings the stored rows were computed with.
pub const RECOMPUTE_JOB: &str = "recompute";

/// How often the ranking is checked against the clock.
pub const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Routes computed more recently than this belong to products being refreshed.
const RECENT: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Ranked routes read a page at a time, and at most this many a sweep (the oldest first;
/// the next sweep goes on from there, as those it changed have left the ranking).
const PAGE: usize = 1_000;
const MOST: usize = 20_000;

/// [`detect_all`], its failure (the blocking pool shutting down) as the store's kind.
async fn compute(
    detect: Arc<dyn Detect>,
    products: Vec<crate::domain::Product>,
    now: DateTime<Utc>,
) -> Result<Vec<(Asin, Vec<crate::domain::Opportunity>)>, StoreError> {
    detect_all(detect, products, now)
        .await
        .map_err(|e| StoreError::Unavailable(format!("detection did not run: {e}")))
}

/// Computes again, at `now`, the products of ranked routes computed more than an hour
/// before `now`, and writes those whose ranked routes changed; returns how many.
pub async fn sweep(
    store: &dyn Store,
    detect: Arc<dyn Detect>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut ranked: HashMap<Asin, BTreeSet<OpportunityKey>> = HashMap::new();
    let mut offset = 0;
    'pages: while offset < MOST {
        let page = store
            .opportunities(OpportunityFilter {
                ranked: Some(true),
                sort: OpportunitySort::UpdatedAt,
                descending: false,
                limit: PAGE,
                offset,
                ..OpportunityFilter::default()
            })
            .await?;
        let n = page.items.len();
        for o in page.items {
            if o.updated_at > now - RECENT {
                break 'pages;
            }
            ranked.entry(o.asin).or_default().insert(o.key());
        }
        if n < PAGE {
            break;
        }
        offset += n;
    }
    if ranked.is_empty() {
        return Ok(0);
    }
    let products: Vec<_> = store
        .products_by_asin(ranked.keys().copied().collect())
        .await?
        .into_iter()
        .flatten()
        .collect();
    let sets = compute(detect, products, now).await?;
    let changed: Vec<_> = sets
        .into_iter()
        .filter(|(asin, rows)| {
            let still: BTreeSet<OpportunityKey> =
                rows.iter().filter(|o| o.ranked).map(|o| o.key()).collect();
            ranked.get(asin) != Some(&still)
        })
        .collect();
    let n = changed.len();
    if n > 0 {
        store.replace_opportunities(changed).await?;
    }
    Ok(n)
}

/// The settings id the stored rows were computed with, as the last `recompute` run that
/// finished recorded it (`settings <id>: …`).
fn recorded_settings(runs: &[JobRun]) -> Option<&str> {
    let run = runs
        .iter()
        .find(|r| r.job == RECOMPUTE_JOB && r.result == "ok")?;
    run.detail.strip_prefix("settings ")?.split(':').next()
}

/// Computes every stored product again at `now` and writes its rows; returns how many.
/// By ASIN, a page at a time: products stored meanwhile are computed by the stage that
/// stores them.
pub async fn recompute_all(
    store: &dyn Store,
    detect: Arc<dyn Detect>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut done = 0;
    loop {
        let page = store
            .products(ProductFilter {
                text: None,
                markets: Vec::new(),
                before: None,
                limit: PAGE,
                offset: done,
            })
            .await?;
        let n = page.items.len();
        if n > 0 {
            let sets = compute(detect.clone(), page.items, now).await?;
            store.replace_opportunities(sets).await?;
        }
        done += n;
        if n < PAGE {
            return Ok(done);
        }
    }
}

/// When the stored rows were computed under other settings than `detect`'s (or under
/// none recorded), computes every stored product again at `now`, writes its rows and
/// records the settings; returns how many products, `None` when the rows are current.
pub async fn recompute_if_settings_changed(
    store: &dyn Store,
    detect: Arc<dyn Detect>,
    now: DateTime<Utc>,
) -> Result<Option<usize>, StoreError> {
    let id = detect.settings_id().to_string();
    let runs = store.jobs().await?;
    let before = recorded_settings(&runs).map(str::to_string);
    if before.as_deref() == Some(id.as_str()) {
        return Ok(None);
    }
    let started_at = crate::domain::now();
    let done = recompute_all(store, detect, now).await?;
    // After the id (which the next start reads back), in words: why it ran.
    let was = before.map_or_else(
        || "the first economics settings this store records".to_string(),
        |b| format!("the economics settings changed since the rows were computed (under {b})"),
    );
    store
        .record_job(JobRun {
            job: RECOMPUTE_JOB.into(),
            started_at,
            finished_at: crate::domain::now(),
            result: "ok".into(),
            detail: format!(
                "settings {id}: {} computed again ({was})",
                crate::domain::text::count(done as u64, "product")
            ),
        })
        .await?;
    Ok(Some(done))
}

/// At start, brings the stored rows up to the settings in force; then sweeps every
/// [`SWEEP_EVERY`] until `cancel`. Either counts as new data for whoever watches
/// `generation` (the console, the API's cache) when it changed anything.
pub(super) async fn run(
    store: Arc<dyn Store>,
    detect: Arc<dyn Detect>,
    generation: Arc<watch::Sender<u64>>,
    cancel: CancellationToken,
) {
    let first = recompute_if_settings_changed(&*store, detect.clone(), crate::domain::now());
    tokio::select! {
        _ = cancel.cancelled() => return,
        done = first => match done {
            Ok(Some(0) | None) => {}
            Ok(Some(n)) => {
                tracing::info!(
                    products = n,
                    "The economics settings changed since the stored rows were computed: every product was computed again."
                );
                generation.send_modify(|g| *g += 1);
            }
            Err(e) => tracing::warn!(error = %e, "Computing the stored products again under the current economics settings failed; rows computed under the old ones stay until their products are refreshed."),
        }
    }
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        match sweep(&*store, detect.clone(), crate::domain::now()).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(
                    products = n,
                    "Ranked routes computed on data that has since gone stale (or on a rate \
                     that has) were computed again: their ranking changed."
                );
                generation.send_modify(|g| *g += 1);
            }
            Err(e) => {
                tracing::warn!(error = %e, "Checking the ranking against the clock failed; it is tried again in ten minutes.")
            }
        }
    }
}
