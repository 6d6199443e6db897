//! The process stage: consume → enrich → store → detect → store → acknowledge.
//!
//! A batch is acknowledged only after both store writes were answered (at-least-once; the
//! store's writes are idempotent, so a redelivered batch is harmless). A message that fails
//! enrichment goes to the dead-letter topic with its reason. When the store is down the
//! batch is kept and retried with backoff — nothing accepted is dropped — until the store
//! answers or the process is told to stop. When the store refuses a batch for what is in it
//! (an invalid listing, or a stored product it cannot read), asking again would never end:
//! its listings are written one at a time and only those refused go to the dead-letter
//! topic, with the store's reason. Opportunities are derived from stored listings, so a
//! product whose routes the store refuses, or whose detection fails (a defect), is logged
//! and counted in the stage's errors, its stored routes kept as they were, and the batch is
//! acknowledged: its listings are stored, and the next refresh detects it again.
//! On the in-process queue, a process killed between a batch's two writes leaves a mark
//! written with the listings ([`DETECT_PENDING`]): the next start computes every stored
//! product's routes again before it takes updates, since none of those products is due for
//! a refresh soon (on Kafka the batch is delivered again).
//!
//! Two topics carry results to whoever listens, keyed by ASIN, as JSON: `enriched.products`
//! gets every product a batch stored, merged across its markets; `alerts` gets every route
//! that crossed into the ranking with this batch (it passes every gate now, and was not
//! stored as passing before). Both are derived data: they are published once, after the
//! store has written, and a failed publish is logged and counted, never retried at the
//! cost of the data itself. A crash between the write and the publish loses those
//! messages, since the redelivered batch finds the routes already stored as ranked.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::stats::Stats;
use super::{Detect, Enricher, Source, Stage};
use crate::domain::{Listing, Opportunity};
use crate::queue::{Queue, QueueError, Topic};
use crate::store::{Checkpoint, Store, StoreError};

mod results;

pub struct Process {
    pub queue: Arc<dyn Queue>,
    pub store: Arc<dyn Store>,
    pub detect: Arc<dyn Detect>,
    pub batch: usize,
    pub stats: Arc<Stats>,
    pub generation: Arc<watch::Sender<u64>>,
    /// Set when the stage stops with updates the store did not take.
    pub left_behind: Arc<std::sync::atomic::AtomicBool>,
    /// Whether updates wait until an ingest process has claimed the store (a worker on a
    /// shared queue whose process does not ingest; see [`Process::store_answers`]).
    pub awaits_ingest: bool,
}

/// Whose prices the store holds, as its mark says (see `commands::data_source`): read at
/// every batch while the store has none (its ingest process claims it at start-up), and
/// then again at most every [`HELD_READ_EVERY`]. A store that cannot say leaves the last
/// answer.
#[derive(Debug)]
struct HeldSource {
    source: Option<Source>,
    read_at: Option<std::time::Instant>,
}

/// The checkpoint each batch's listings are written with (the batch's time, in
/// microseconds), cleared once its routes are written. Found set at start, the last run
/// stopped between the two writes (killed, or its machine went down): some stored products
/// have no routes, or old ones, and none of them is due for a refresh that would compute
/// them (they were just fetched), so every stored product is computed again first. Only on
/// the in-process queue, which loses what was in flight: on Kafka the batch, never
/// acknowledged, is delivered again (and workers beside this one set and clear the mark
/// all the time).
pub const DETECT_PENDING: &str = "pipeline:detect-pending";

/// The [`DETECT_PENDING`] checkpoint at `value` (0: cleared).
fn detect_pending(value: u64) -> Checkpoint {
    Checkpoint {
        key: DETECT_PENDING.to_string(),
        offset: value,
    }
}

/// How often the store's mark is read again.
const HELD_READ_EVERY: Duration = Duration::from_secs(30);

impl HeldSource {
    async fn read(&mut self, store: &dyn Store) -> Option<Source> {
        let now = std::time::Instant::now();
        if self.source.is_none()
            || self
                .read_at
                .is_none_or(|at| now.duration_since(at) >= HELD_READ_EVERY)
        {
            if let Ok(source) = Source::held_by(store).await {
                self.source = source;
            }
            self.read_at = Some(now);
        }
        self.source
    }
}

/// How often a worker waiting for its store to answer asks again.
const STORE_ASKED_EVERY: Duration = Duration::from_secs(5);

/// Why a worker takes no updates from a shared queue while its store was never claimed.
const UNCLAIMED: &str = "No ingest process has fetched into this store: this worker takes no \
     updates from the queue until one has. If the ingest process is running, this worker is \
     on another store than it: check [store] url and index_prefix (or --data-dir) against the \
     ingest process's config";

/// How often the wait for an ingest process is said again in the log.
const UNCLAIMED_SAID_EVERY: Duration = Duration::from_secs(300);

/// How long a batch that is not full waits for more messages before it is written.
const LINGER: Duration = Duration::from_millis(500);

/// How long reads must go without a failure (and without a message) before reading the
/// queue is said to work again.
const QUIET_AFTER_FAILURES: Duration = Duration::from_secs(15);

/// Failures in a row of one operation (reading the queue, acknowledging), and when the
/// last one was.
#[derive(Debug, Default)]
struct FailStreak {
    failed: u64,
    last: Option<std::time::Instant>,
}

impl FailStreak {
    /// Counts a failure at `now`; returns the streak's length.
    fn failed(&mut self, now: std::time::Instant) -> u64 {
        self.failed += 1;
        self.last = Some(now);
        self.failed
    }

    /// A read that did not fail at `now`, with or without messages: ends a streak (and
    /// returns its length) once a message arrives or reads have gone without a failure for
    /// [`QUIET_AFTER_FAILURES`]. Between the errors of an outage, reads come back empty.
    fn read(&mut self, messages: bool, now: std::time::Instant) -> Option<u64> {
        let quiet = self
            .last
            .is_none_or(|t| now.duration_since(t) >= QUIET_AFTER_FAILURES);
        if self.failed == 0 || !(messages || quiet) {
            return None;
        }
        Some(std::mem::take(&mut self.failed))
    }
}

impl Process {
    /// Waits up to [`LINGER`] for more messages to join a batch that is not full. Ingest
    /// publishes one Keepa request's products at a time (at most 100), and a batch written
    /// as soon as it came rewrote the same store pages once a request: a round of demo
    /// refreshes wrote ~40 MB a minute for a 5 MB store. A failed read ends the wait, and
    /// the batch goes as it is.
    async fn fill(&self, mut batch: Vec<crate::queue::Delivery>) -> Vec<crate::queue::Delivery> {
        let until = tokio::time::Instant::now() + LINGER;
        while batch.len() < self.batch {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            match self.queue.consume(self.batch - batch.len(), left).await {
                Ok(more) if !more.is_empty() => batch.extend(more),
                Ok(_) | Err(QueueError::Closed) => break,
                Err(e) => {
                    self.stats
                        .attempt_failed(Stage::Enrich, format!("reading the queue: {e}"));
                    break;
                }
            }
        }
        batch
    }

    /// Waits until the store answers before taking work from the queue: a worker whose
    /// store does not (a wrong URL, a cluster still starting) would otherwise join the
    /// consumer group and hold its share of the partitions unprocessed while the others
    /// idle, unseen (its reports go to that store). With [`awaits_ingest`](Self::awaits_ingest)
    /// it also waits until an ingest process has claimed the store: a worker on another
    /// store than the ingest's (a mistyped `index_prefix` or data dir) would take its share
    /// of the updates into a store nobody reads. Whose prices it holds, as read then; `None`
    /// when cancelled meanwhile.
    async fn store_answers(&self, cancel: &CancellationToken) -> Option<HeldSource> {
        let mut waiting = false;
        let mut unclaimed_since: Option<std::time::Instant> = None;
        loop {
            let asked = std::time::Instant::now();
            match Source::held_by(self.store.as_ref()).await {
                Ok(None) if self.awaits_ingest => {
                    // Said at once, then every few minutes while it lasts.
                    if unclaimed_since
                        .is_none_or(|t| asked.duration_since(t) >= UNCLAIMED_SAID_EVERY)
                    {
                        tracing::warn!("{UNCLAIMED}");
                        unclaimed_since = Some(asked);
                    }
                    // A wait, not failed items: shown as the stage held, until it runs.
                    self.stats.stop(Stage::Store, UNCLAIMED.to_string());
                }
                Err(StoreError::Unavailable(e)) => {
                    if !waiting {
                        tracing::warn!(
                            error = %e,
                            "The store does not answer: this process takes no updates from the \
                             queue until it does (other workers take them meanwhile)."
                        );
                        waiting = true;
                    }
                    self.stats.record(
                        Stage::Store,
                        0,
                        1,
                        Some(format!("waiting for the store before taking updates: {e}")),
                    );
                }
                answer => {
                    if waiting {
                        tracing::info!("The store answers: taking updates from the queue.");
                    }
                    if unclaimed_since.is_some() {
                        tracing::info!(
                            "An ingest process has fetched into this store: taking updates from \
                             the queue."
                        );
                        self.stats.resume(Stage::Store);
                    }
                    return Some(HeldSource {
                        source: answer.ok().flatten(),
                        read_at: Some(asked),
                    });
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = tokio::time::sleep(STORE_ASKED_EVERY) => {}
            }
        }
    }

    pub async fn run(self, cancel: CancellationToken) {
        let Some(mut held) = self.store_answers(&cancel).await else {
            // Stopped before the store answered: what waits in the queue is delivered or
            // fetched again, as when the store does not take a batch.
            self.left_behind
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return;
        };
        if !self.catch_up(&cancel).await {
            return;
        }
        // Failed reads in a row. A client may hold a backlog of errors from an outage
        // that is already over (librdkafka returns them one a read): the first reads of a
        // streak are retried at once, so the backlog drains, and only a streak that goes
        // on waits a second between reads. It is logged when it starts, every 30 failed
        // reads, and when reading works again.
        let mut streak = FailStreak::default();
        // Failed acknowledgements in a row, logged the same way; one that works ends them.
        let mut ack_streak = FailStreak::default();
        loop {
            let batch = match self
                .queue
                .consume(self.batch, Duration::from_millis(250))
                .await
            {
                Ok(b) => {
                    if let Some(failed) = streak.read(!b.is_empty(), std::time::Instant::now()) {
                        tracing::info!(failed, "Reading the queue works again.");
                        self.stats.recovered(Stage::Enrich);
                    }
                    b
                }
                Err(QueueError::Closed) => break,
                Err(e) => {
                    let failed = streak.failed(std::time::Instant::now());
                    if failed == 1 || failed.is_multiple_of(30) {
                        tracing::warn!(error = %e, failed, "Reading the queue failed; retrying.");
                    }
                    self.stats
                        .attempt_failed(Stage::Enrich, format!("reading the queue: {e}"));
                    if failed > 20 {
                        tokio::select! {
                            _ = cancel.cancelled() => break,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                    continue;
                }
            };
            if batch.is_empty() {
                continue;
            }
            let batch = self.fill(batch).await;
            let enricher = Enricher::holding(held.read(self.store.as_ref()).await);
            let mut listings = Vec::with_capacity(batch.len());
            let mut accepted = Vec::with_capacity(batch.len());
            let mut rejected = 0;
            for d in batch {
                match enricher.enrich(&d.message.payload) {
                    Ok(l) => {
                        listings.push(l);
                        accepted.push(d);
                    }
                    Err(e) => {
                        rejected += 1;
                        self.stats.record(Stage::Enrich, 0, 1, Some(e.to_string()));
                        self.dead_letter(d, e.to_string()).await;
                    }
                }
            }
            self.stats
                .record(Stage::Enrich, listings.len() as u64, 0, None);
            if listings.is_empty() {
                continue;
            }
            let Some(refused) = self.store_and_detect(listings, &cancel).await else {
                // Not lost: unacknowledged, they go to the next worker on Kafka, and on the
                // in-process queue their products are still due and fetched again.
                self.left_behind
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(
                    updates = accepted.len(),
                    "Stopping with updates not stored (the store did not take them): they \
                     were not acknowledged, so they are delivered or fetched again."
                );
                break;
            };
            // Updates the store refused one by one go to the dead-letter topic with the
            // store's reason; the rest are acknowledged.
            let mut tags = Vec::with_capacity(accepted.len());
            let mut refused = refused.into_iter().peekable();
            for (i, d) in accepted.into_iter().enumerate() {
                match refused.next_if(|(j, _)| *j == i) {
                    Some((_, reason)) => self.dead_letter(d, reason).await,
                    None => tags.push(d.tag),
                }
            }
            // Logged when a run of failures starts and every 30th after (a commit the
            // cluster leaves unanswered fails every batch until it answers).
            match self.queue.ack(tags).await {
                Ok(()) => {
                    if let Some(failed) = ack_streak.read(true, std::time::Instant::now()) {
                        tracing::info!(failed, "Acknowledging batches works again.");
                    }
                }
                Err(e @ QueueError::Moved(_)) => tracing::info!("{e}."),
                Err(e) => {
                    let failed = ack_streak.failed(std::time::Instant::now());
                    if failed == 1 || failed.is_multiple_of(30) {
                        tracing::warn!(error = %e, failed, "Acknowledging a stored batch failed; it may be redelivered (harmless).");
                    }
                }
            }
            self.generation.send_modify(|g| *g += 1);
            tracing::debug!(rejected, "Processed a batch.");
        }
        tracing::info!("Processing stopped.");
    }

    /// Computes every stored product's routes again when the last run stopped between a
    /// batch's two writes ([`DETECT_PENDING`]), then clears the mark; a store that cannot
    /// do it leaves the mark for the next start (the products' next refresh computes them
    /// meanwhile). `false` when cancelled meanwhile.
    async fn catch_up(&self, cancel: &CancellationToken) -> bool {
        if self.queue.shared() {
            return true;
        }
        let pending = match self.store.checkpoint(DETECT_PENDING.to_string()).await {
            Ok(p) => p.unwrap_or(0),
            Err(e) => {
                tracing::warn!(error = %e, "Could not read whether the last run stored every batch's routes; going on.");
                return true;
            }
        };
        if pending == 0 {
            return true;
        }
        tracing::warn!(
            "The last run stopped between storing a batch of products and their routes: \
             computing every stored product's routes again before taking updates."
        );
        let run = super::sweep::recompute_all(
            self.store.as_ref(),
            self.detect.clone(),
            crate::domain::now(),
        );
        let done = tokio::select! {
            _ = cancel.cancelled() => return false,
            done = run => done,
        };
        let cleared = match done {
            Ok(n) => {
                tracing::info!(
                    products = n,
                    "Every stored product's routes were computed again."
                );
                self.generation.send_modify(|g| *g += 1);
                self.store.set_checkpoint(detect_pending(0)).await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = cleared {
            tracing::warn!(error = %e, "Computing the stored products' routes again failed; it is tried at the next start, and each product's next refresh computes it meanwhile.");
        }
        true
    }

    /// Sends a delivery to the dead-letter topic with `reason` (which acknowledges it).
    async fn dead_letter(&self, d: crate::queue::Delivery, reason: String) {
        if let Err(q) = self.queue.dead_letter(d, reason).await {
            tracing::error!(error = %q, "Could not dead-letter a rejected update.");
        }
    }

    /// Writes listings, detects, writes opportunities; retries while the store is down.
    /// Returns the listings the store refused (by index, with the reason), or `None` when
    /// cancelled before the writes succeeded, or when detection could not run at all (the
    /// runtime is stopping).
    async fn store_and_detect(
        &self,
        listings: Vec<Listing>,
        cancel: &CancellationToken,
    ) -> Option<Vec<(usize, String)>> {
        let now = crate::domain::now();
        let (products, refused) = self.store_listings(listings, now, cancel).await?;
        self.publish(Topic::Enriched, Stage::Enriched, &products, |p| p.asin)
            .await;
        let count = products.len();
        let sets = match super::detect_all(self.detect.clone(), products, now).await {
            Ok(s) => s,
            Err(e) => {
                // The blocking pool is shutting down: leave the batch unacknowledged.
                tracing::error!(error = %e, "Detection did not run.");
                return None;
            }
        };
        let found: usize = sets.iter().map(|(_, v)| v.len()).sum();
        let failed = (count - sets.len()) as u64;
        let error = (failed > 0).then(|| {
            format!("detection failed on {failed} product(s); their stored routes are kept (see the log)")
        });
        self.stats
            .record(Stage::Detect, sets.len() as u64, failed, error);
        tracing::debug!(products = sets.len(), opportunities = found, "Detected.");
        let crossing = self.crossings(&sets).await;
        let refused_sets = match self
            .retry(Stage::Store, cancel, || {
                self.store.replace_opportunities(sets.clone())
            })
            .await?
        {
            Ok(()) => Vec::new(),
            Err(e) => {
                tracing::warn!(error = %e, "The store refused a batch of opportunities; writing them product by product.");
                let mut refused = Vec::new();
                for set in sets {
                    let asin = set.0;
                    let one = vec![set];
                    let write = self.retry(Stage::Store, cancel, || {
                        self.store.replace_opportunities(one.clone())
                    });
                    if let Err(e) = write.await? {
                        tracing::error!(%asin, error = %e, "The store refused this product's opportunities; its stored ones are kept.");
                        refused.push(asin);
                    }
                }
                refused
            }
        };
        let crossing: Vec<Opportunity> = crossing
            .into_iter()
            .filter(|o| !refused_sets.contains(&o.asin))
            .collect();
        self.publish(Topic::Alerts, Stage::Alerts, &crossing, |o| o.asin)
            .await;
        // Not retried: a mark left set costs a recomputation at the next start, no more.
        if !self.queue.shared()
            && let Err(e) = self.store.set_checkpoint(detect_pending(0)).await
        {
            tracing::debug!(error = %e, "Clearing the pending-routes mark failed.");
        }
        Some(refused)
    }

    /// Writes the listings in one transaction, retried while the store is down. When the
    /// store refuses the batch for what is in it (an invalid listing, or stored data of one
    /// of its products it cannot read), retrying would never end: the listings are then
    /// written one at a time, and those refused are returned by index with the reason,
    /// the rest stored. Returns the stored products, one per ASIN in first-seen order.
    async fn store_listings(
        &self,
        listings: Vec<Listing>,
        now: chrono::DateTime<chrono::Utc>,
        cancel: &CancellationToken,
    ) -> Option<(Vec<crate::domain::Product>, Vec<(usize, String)>)> {
        let n = listings.len() as u64;
        // Written with the listings: set until the batch's routes are.
        let pending = (!self.queue.shared())
            .then(|| detect_pending(u64::try_from(now.timestamp_micros()).unwrap_or(1).max(1)));
        let whole = self
            .retry(Stage::Store, cancel, || {
                self.store
                    .upsert_listings(listings.clone(), now, pending.clone())
            })
            .await?;
        let e = match whole {
            Ok(products) => {
                self.stats.record(Stage::Store, n, 0, None);
                return Some((products, Vec::new()));
            }
            Err(e) => e,
        };
        tracing::warn!(error = %e, "The store refused a batch of listings; writing them one by one to set aside those it refuses.");
        let mut products: Vec<crate::domain::Product> = Vec::new();
        let mut refused = Vec::new();
        for (i, l) in listings.into_iter().enumerate() {
            let (asin, market) = (l.asin, l.market);
            let one = vec![l];
            match self
                .retry(Stage::Store, cancel, || {
                    self.store
                        .upsert_listings(one.clone(), now, pending.clone())
                })
                .await?
            {
                Ok(got) => {
                    // A later write of the same ASIN returns its product merged further.
                    for p in got {
                        match products.iter_mut().find(|q| q.asin == p.asin) {
                            Some(q) => *q = p,
                            None => products.push(p),
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(%asin, %market, error = %e, "The store refused this update; it goes to the dead-letter topic.");
                    refused.push((i, format!("the store refused {asin}:{market}: {e}")));
                }
            }
        }
        let failed = refused.len() as u64;
        let error = refused.last().map(|(_, r)| r.clone());
        self.stats.record(Stage::Store, n - failed, failed, error);
        Some((products, refused))
    }

    /// Runs a store write until it succeeds or the store refuses it for what it holds
    /// (`Invalid`, `Corrupt`: returned, since asking again gets the same answer), waiting
    /// with backoff while the store is unavailable. `None` when cancelled meanwhile.
    async fn retry<T, F, Fut>(
        &self,
        stage: Stage,
        cancel: &CancellationToken,
        mut op: F,
    ) -> Option<Result<T, StoreError>>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let mut wait = Duration::from_millis(250);
        let mut failed = 0u32;
        loop {
            match op().await {
                Ok(v) => {
                    if failed > 0 {
                        tracing::info!(failed, "The store takes writes again.");
                    }
                    return Some(Ok(v));
                }
                Err(e @ (StoreError::Invalid(_) | StoreError::Corrupt(_))) => return Some(Err(e)),
                Err(e) => {
                    failed += 1;
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "A store write failed (the store is unavailable); retrying.");
                    self.stats.record(stage, 0, 1, Some(e.to_string()));
                    tokio::select! {
                        _ = cancel.cancelled() => return None,
                        _ = tokio::time::sleep(wait) => {}
                    }
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
