//! The FX rate job: the ECB reference rate at start and once per working day, recorded as
//! the `fx` job, and the last recorded rate taken back at start (so work done before the
//! next fetch, or without network, computes with the last rate fetched).

use std::sync::Arc;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::{Detect, stats};
use crate::store::Store;

/// How the detail of a failed `fx` run begins, before the record of the rate kept.
const FX_KEPT: &str = "kept ";

/// Gives `detect` the ECB rate of the latest `fx` job run in `store` (the store keeps the
/// latest run of each job: a successful run's detail is the rate fetched, a failed run's
/// the rate it kept), see [`Detect::restore_fx`]; so work done before the next fetch, or
/// without network, computes with the last rate fetched.
pub async fn restore_fx(store: &dyn Store, detect: &dyn Detect) {
    match store.jobs().await {
        Ok(runs) => restore_fx_from(&runs, detect),
        Err(e) => {
            tracing::warn!(error = %e, "Could not read the last FX run; computing with the shipped rate until a fetch succeeds.");
        }
    }
}

/// [`restore_fx`] from job runs already read (the latest of each job, as `Store::jobs`
/// gives them).
pub fn restore_fx_from(runs: &[crate::store::JobRun], detect: &dyn Detect) {
    // A successful run's detail is the rate fetched; a failed one's, the rate kept.
    let record = runs
        .iter()
        .find(|r| r.job == "fx")
        .map(|r| r.detail.strip_prefix(FX_KEPT).unwrap_or(&r.detail));
    if let Some(record) = record
        && detect.restore_fx(record)
    {
        tracing::info!(rate = %record, "Using the last ECB rate recorded in the store.");
    }
}

/// The start-up [`restore_fx`], run once by whichever of the process stage and the fx job
/// asks first; the other waits for it.
pub(super) type Restored = Arc<tokio::sync::OnceCell<()>>;

/// Refreshes the FX rate at start and then once per working day, when `[fx] fetch_after`
/// says the ECB has published (around 16:00 CET), recording each run as the `fx` job; a
/// failed fetch is tried again within the hour. The last recorded rate is taken back first
/// (as the process stage does before its first batch), so a failed first fetch keeps, and
/// records, that rate.
pub(super) async fn fx_job(
    detect: Arc<dyn Detect>,
    stats: Arc<stats::Stats>,
    store: Arc<dyn Store>,
    restored: Restored,
    cancel: CancellationToken,
) {
    // Without a schedule, the publication's rhythm; after a failure, sooner.
    const EVERY: chrono::Duration = chrono::Duration::hours(6);
    const RETRY: chrono::Duration = chrono::Duration::hours(1);
    restored.get_or_init(|| restore_fx(&*store, &*detect)).await;
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "Cannot build an HTTP client for FX rates; using the configured rate.");
            return;
        }
    };
    loop {
        let started = Utc::now();
        let Some(fetch) = detect.refresh_fx(&client) else {
            return;
        };
        stats.job_started("fx");
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return,
            r = fetch => r,
        };
        let next = detect.fx_next_fetch(started).unwrap_or(started + EVERY);
        let (result, detail, next) = match outcome {
            Ok(d) => ("ok".to_string(), d, next),
            Err(e) => {
                tracing::warn!(error = %e, "Fetching ECB rates failed; keeping the last rate (rows are flagged when it is stale).");
                let kept = detect
                    .fx()
                    .map_or_else(|| "the last rate".to_string(), |fx| fx.record);
                (
                    format!("error: {e}"),
                    format!("{FX_KEPT}{kept}"),
                    next.min(started + RETRY),
                )
            }
        };
        let run = crate::store::JobRun {
            job: "fx".into(),
            started_at: started,
            finished_at: Utc::now(),
            result,
            detail,
        };
        if let Err(e) = store.record_job(run.clone()).await {
            tracing::warn!(error = %e, "Could not record the FX run.");
        }
        stats.job_finished(run, Some(next));
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
