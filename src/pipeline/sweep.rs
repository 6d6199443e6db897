//! The ranking kept true as time passes. A route is ranked when it passes every gate at
//! the moment it is computed, and two gates depend on that moment: `STALE` (Keepa's data
//! older than `max_keepa_age_hours`) and `FX_STALE` (a rate older than `fx_max_age_days`).
//! A product the pipeline refreshes is computed again every refresh, so its gates follow
//! the clock; one it no longer refreshes (taken off the watchlist, or Keepa out of reach
//! for a day) would keep its routes ranked for ever on data the gates now refuse.
//!
//! So every ten minutes the process stage reads the ranked routes computed longest ago
//! (more than an hour ago: newer ones belong to products being refreshed), computes their
//! products again from the store at the current time, and writes the products whose
//! ranked routes changed. Nothing is written for a product whose ranking holds.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{Detect, detect_all};
use crate::domain::{Asin, OpportunityKey};
use crate::store::{OpportunityFilter, OpportunitySort, Store, StoreError};

/// How often the ranking is checked against the clock.
pub const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Routes computed more recently than this belong to products being refreshed.
const RECENT: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Ranked routes read a page at a time, and at most this many a sweep (the oldest first;
/// the next sweep goes on from there, as those it changed have left the ranking).
const PAGE: usize = 1_000;
const MOST: usize = 20_000;

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
    let sets = detect_all(detect, products, now)
        .await
        .map_err(|e| StoreError::Unavailable(format!("detection did not run: {e}")))?;
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

/// Sweeps every [`SWEEP_EVERY`] until `cancel`; a sweep that changed anything counts as
/// new data for whoever watches `generation` (the console, the API's cache).
pub(super) async fn run(
    store: Arc<dyn Store>,
    detect: Arc<dyn Detect>,
    generation: Arc<watch::Sender<u64>>,
    cancel: CancellationToken,
) {
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
