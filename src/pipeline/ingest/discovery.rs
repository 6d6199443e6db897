//! Discovery: new ASINs from Keepa's best-seller lists of the configured categories, every
//! `discovery_interval` and on request, recorded as the `discovery` job.

use chrono::Utc;
use tokio::time::Instant;

use super::{DISCOVERY_JOB, Ingest};
use crate::domain::Asin;
use crate::pipeline::REFRESH_AGAIN_AFTER;
use crate::store::{JobRun, WatchSource};

impl Ingest {
    /// When the next discovery is due after a start, going by the last run that finished
    /// well in the store (a crash loop or a redeploy every few minutes would otherwise run
    /// every list again each time), and when that run finished. Due now without one.
    pub(super) async fn discovery_schedule(&self) -> (Instant, Option<Instant>) {
        let now = Instant::now();
        if self.settings.discovery.is_empty() {
            return (now, None);
        }
        let last = match self.store.jobs().await {
            // The store keeps the latest run of each job.
            Ok(runs) => runs
                .into_iter()
                .find(|r| r.job == DISCOVERY_JOB && r.result == "ok")
                .map(|r| r.finished_at),
            Err(e) => {
                tracing::warn!(error = %e, "Could not read when discovery last ran; it runs now.");
                None
            }
        };
        let Some(at) = last else {
            return (now, None);
        };
        // A run recorded in the future (a clock set back) counts as just finished.
        let ago = (Utc::now() - at).to_std().unwrap_or_default();
        let wait = self.settings.discovery_interval.saturating_sub(ago);
        if !wait.is_zero() {
            tracing::info!(
                next_in_s = wait.as_secs(),
                "Discovery ran {} ago: the next run is due in {}.",
                crate::domain::text::span(ago.as_secs() as i64),
                crate::domain::text::span(wait.as_secs() as i64)
            );
            self.stats.job_scheduled(DISCOVERY_JOB, Utc::now() + wait);
        }
        (now + wait, now.checked_sub(ago))
    }

    /// A discovery asked for by hand: due at once if it runs ([`discovery_runs`] and
    /// categories to list); otherwise the request is settled here.
    pub(super) fn discovery_asked(&self, next: &mut Instant, finished: Option<Instant>) {
        if discovery_runs(finished) && !self.settings.discovery.is_empty() {
            *next = Instant::now();
        } else {
            self.ledger.discovery_settled();
        }
    }

    pub(super) async fn discover(&self) {
        let started = Utc::now();
        self.stats.job_started(DISCOVERY_JOB);
        let mut found = 0usize;
        let mut added = 0usize;
        let mut errors = Vec::new();
        for cat in &self.settings.discovery {
            match self.client.bestsellers(cat.market, &cat.category, 0).await {
                // Most likely a wrong id in the config: a fault to show, not a list that
                // found nothing.
                Ok(list) if !list.listed => {
                    tracing::warn!(market = %cat.market, category = %cat.category,
                        "Keepa has no best-seller list for this category: check its id in [discovery] categories.");
                    errors.push(format!(
                        "{} {}: Keepa has no best-seller list for it (check its id in [discovery] categories)",
                        cat.market, cat.category
                    ));
                }
                Ok(list) => {
                    let top: Vec<Asin> = list
                        .asins
                        .into_iter()
                        .take(self.settings.discovery_take)
                        .collect();
                    found += top.len();
                    // Only products never stored: a stored product that is not watched
                    // was removed from the watchlist (or imported without `--watch`) and
                    // stays off it until someone adds it.
                    let known = match self.store.products_by_asin(top.clone()).await {
                        Ok(known) => known,
                        Err(e) => {
                            errors.push(format!("{} {}: {e}", cat.market, cat.category));
                            continue;
                        }
                    };
                    let top: Vec<Asin> = top
                        .into_iter()
                        .zip(known)
                        .filter_map(|(a, p)| p.is_none().then_some(a))
                        .collect();
                    match self.store.watch_add(top, WatchSource::Discovery).await {
                        Ok(new) => added += new.len(),
                        Err(e) => errors.push(format!("{} {}: {e}", cat.market, cat.category)),
                    }
                }
                Err(e) => errors.push(format!("{} {}: {e}", cat.market, cat.category)),
            }
        }
        let result = if errors.is_empty() {
            "ok".to_string()
        } else {
            format!("error: {}", errors.join("; "))
        };
        let run = JobRun {
            job: DISCOVERY_JOB.into(),
            started_at: started,
            finished_at: Utc::now(),
            result,
            detail: format!(
                "{} lists, {found} ASINs, {added} new",
                self.settings.discovery.len()
            ),
        };
        tracing::info!(found, added, errors = errors.len(), "Discovery finished.");
        if let Err(e) = self.store.record_job(run.clone()).await {
            tracing::warn!(error = %e, "Could not record the discovery run.");
        }
        self.stats
            .job_finished(run, Some(Utc::now() + self.settings.discovery_interval));
    }
}

/// Whether a discovery asked for by hand runs (at once): not when one finished less than
/// [`REFRESH_AGAIN_AFTER`] ago, which answers for it, as `POST /jobs/discovery` says
/// (`done`). The API decides from a status published once a second, so a request made
/// just as a run ends can still be queued; it joins that run here instead of spending the
/// same tokens on the same lists again.
fn discovery_runs(finished: Option<Instant>) -> bool {
    finished.is_none_or(|t| t.elapsed() >= REFRESH_AGAIN_AFTER)
}
