//! The ingest stage: what Airflow and the Keepa producer did.
//!
//! It refreshes the watchlist market by market in the store's order (never fetched first,
//! then products with an open opportunity, then the stalest), skipping products refreshed
//! within `refresh_interval`, in requests of up to 100 ASINs. The Keepa client paces every
//! request to the token budget, so this loop never needs its own rate limit. Discovery pulls
//! best-seller lists every `discovery_interval` (and on command) and adds their top ASINs to
//! the watchlist, except products already stored (a product taken off the watchlist stays
//! off). Each fetched product is published as one `RawUpdate` keyed by ASIN.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

mod discovery;
mod fetch;
mod schedule;

use super::stats::Stats;
use super::{Command, REFRESH_AGAIN_AFTER, Stage};
use crate::config::{BuyBox, PipelineSettings};
use crate::domain::{Asin, Market};
use crate::keepa::{KeepaClient, ProductQuery};
use crate::queue::Queue;
use crate::store::Store;
use schedule::{DueAt, Outage, RETRY_FAILED, fetched, request_size, retry_soon, unanswered_since};

/// The job name of best-seller discovery in job runs and the status.
pub const DISCOVERY_JOB: &str = "discovery";

pub struct Ingest {
    pub client: KeepaClient,
    pub queue: Arc<dyn Queue>,
    pub store: Arc<dyn Store>,
    pub markets: Vec<Market>,
    pub settings: PipelineSettings,
    /// Which products are asked with the Buy Box.
    pub buybox: BuyBox,
    /// Whose prices it fetches: each update says so.
    pub source: super::Source,
    pub stats: Arc<Stats>,
    /// The refreshes the console and the API sent: a refresh of the whole watchlist enters
    /// its products here once they are read.
    pub ledger: super::commands::Ledger,
    /// Whether reading the store and publishing to the queue are failing: logged when a
    /// streak starts and when it ends (the stage's counters hold every failure).
    pub failing: Failing,
    /// The products (in one market each) asked with the Buy Box at their last fetch here:
    /// by route, they are asked with it again while they have a route there, profitable
    /// or not, so a route the Buy Box's price closed is not reopened by the price the
    /// next fetch falls back to without it (and closed again by the fetch after).
    pub buybox_held: std::sync::Mutex<std::collections::HashSet<(Market, Asin)>>,
}

/// Failure streaks of what ingest depends on besides Keepa (whose client logs its own).
#[derive(Debug, Default)]
pub struct Failing {
    store: std::sync::atomic::AtomicBool,
    queue: std::sync::atomic::AtomicBool,
    /// When publishing began to fail (the queue unavailable), until a publish works.
    queue_since: std::sync::Mutex<Option<Instant>>,
}

impl Failing {
    /// Records how reading the store went (`None`: it worked); logs a change, and ends
    /// ingest's failure streak in `stats` when it works again after failing.
    fn store(&self, error: Option<&dyn std::fmt::Display>, stats: &Stats) {
        Self::note(
            &self.store,
            &self.queue,
            error,
            stats,
            "the store",
            "reading what to fetch",
        );
    }

    /// Records how publishing to the queue went (`None`: it worked), as `store` does.
    fn queue(&self, error: Option<&dyn std::fmt::Display>, stats: &Stats) {
        Self::note(
            &self.queue,
            &self.store,
            error,
            stats,
            "the queue",
            "publishing fetched products",
        );
    }

    /// Records an outcome in `flag`; the stage's streak ends once neither `flag` nor
    /// `other` (the other dependency) fails.
    fn note(
        flag: &std::sync::atomic::AtomicBool,
        other: &std::sync::atomic::AtomicBool,
        error: Option<&dyn std::fmt::Display>,
        stats: &Stats,
        what: &str,
        doing: &str,
    ) {
        use std::sync::atomic::Ordering::Relaxed;
        match error {
            Some(e) if !flag.swap(true, Relaxed) => tracing::warn!(
                error = %e,
                "Ingest: {doing} failed; fetching goes on as {what} answers (failures are \
                 counted in /stats and the health view; this is said again when it works)."
            ),
            None if flag.swap(false, Relaxed) => {
                tracing::info!("Ingest: {doing} works again.");
                if !other.load(Relaxed) {
                    stats.recovered(Stage::Ingest);
                }
            }
            _ => {}
        }
    }
}

/// Shortest and longest wait of an idle ingest loop before it looks for due ASINs again.
const IDLE_MIN: Duration = Duration::from_secs(1);
const IDLE_MAX: Duration = Duration::from_secs(5);

/// How long an accepted refresh of the whole watchlist waits for a store that does not
/// answer before it is given up.
const REFRESH_ALL_WAIT: Duration = Duration::from_secs(300);

/// How long a refresh on command is remembered, to skip requests made before it finished
/// or soon after. Requests wait in the command queue behind at most a few fetches, far
/// less than this.
const REFRESHED_KEPT: Duration = Duration::from_secs(600);

/// How long ingest waits for its store to be claimed before the wait shows in the
/// pipeline's health (a cluster still starting answers within it).
const GATE_WAIT_SHOWN: Duration = Duration::from_secs(30);

impl Ingest {
    /// Runs until `cancel`, once `gate` (if any) lets it.
    pub async fn run(
        mut self,
        gate: Option<super::IngestGate>,
        mut commands: mpsc::Receiver<Command>,
        cancel: CancellationToken,
    ) {
        if self.settings.discovery.is_empty()
            && let Ok(stats) = self.store.stats().await
            && stats.watchlist == 0
        {
            tracing::warn!(
                "The watchlist is empty and discovery is off ([discovery] categories = []): \
                 nothing will be fetched. Add ASINs (a in the console, `arbdesk watch add \
                 ASIN…`, or POST /actions/watch), or name best-seller lists in [discovery] \
                 categories."
            );
        }
        if let Some(super::IngestGate {
            open: mut gate,
            mut waiting_for,
        }) = gate
        {
            // A wait of more than a moment shows in the pipeline's health until it ends, in
            // the words of what it waits for.
            let waiting = tokio::time::sleep(GATE_WAIT_SHOWN);
            tokio::pin!(waiting);
            let mut shown = false;
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    () = &mut waiting, if !shown => {
                        shown = true;
                        self.stats.stop(Stage::Ingest, waiting_for.borrow_and_update().clone());
                    }
                    Ok(()) = waiting_for.changed(), if shown => {
                        self.stats.stop(Stage::Ingest, waiting_for.borrow_and_update().clone());
                    }
                    passed = &mut gate => match passed {
                        Err(why) => {
                            self.stats.stop(Stage::Ingest, why);
                            return;
                        }
                        Ok(()) => {
                            if shown {
                                self.stats.resume(Stage::Ingest);
                            }
                            break;
                        }
                    },
                }
            }
        }
        // When each (ASIN, market) is next due: a refresh interval after its last fetch,
        // or `RETRY_FAILED` after a fetch that failed. Seeded from the store's fetch
        // times, so a restart does not fetch the whole watchlist again at once.
        let mut due_at: DueAt = self.due_from_store().await;
        // When each ASIN's latest refresh on command finished (entries older than
        // `REFRESHED_KEPT` are dropped).
        let mut refreshed: HashMap<Asin, Instant> = HashMap::new();
        // When the next discovery is due, and when the latest one finished: as the store
        // recorded them, so a restart does not spend the lists' tokens again early.
        let (mut next_discovery, mut discovered) = self.discovery_schedule().await;
        // How long to wait when nothing is due: doubling from 1 s to 5 s while idle, so an
        // idle pipeline asks the store for candidates (three queries per market) about once
        // every 5 s, and a newly watched ASIN is fetched within that.
        let mut idle = IDLE_MIN;
        let mut outage = Outage::default();
        loop {
            if cancel.is_cancelled() {
                break;
            }
            while let Ok(cmd) = commands.try_recv() {
                match cmd {
                    Command::Discover => self.discovery_asked(&mut next_discovery, discovered),
                    cmd => {
                        if !self
                            .refresh(cmd, &mut due_at, &mut refreshed, &cancel)
                            .await
                        {
                            return;
                        }
                    }
                }
            }
            if !self.settings.discovery.is_empty() && Instant::now() >= next_discovery {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = self.discover() => {}
                }
                discovered = Some(Instant::now());
                next_discovery = Instant::now() + self.settings.discovery_interval;
                self.stats
                    .job_scheduled(DISCOVERY_JOB, Utc::now() + self.settings.discovery_interval);
                // Requests for a discovery made while this one ran joined it: each would
                // spend the same tokens again for the same lists.
                let mut refreshes = Vec::new();
                while let Ok(cmd) = commands.try_recv() {
                    if cmd != Command::Discover {
                        refreshes.push(cmd);
                    }
                }
                self.ledger.discovery_settled();
                for cmd in refreshes {
                    if !self
                        .refresh(cmd, &mut due_at, &mut refreshed, &cancel)
                        .await
                    {
                        return;
                    }
                }
            }
            let mut did_work = false;
            for &m in &self.markets {
                if outage.holds() {
                    break;
                }
                let due = self.due(m, &mut due_at).await;
                if due.is_empty() {
                    continue;
                }
                did_work = true;
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    (failed, unanswered) = self.fetch(m, due.clone()) => {
                        fetched(&mut due_at, m, &due, self.settings.refresh_interval);
                        outage.after_fetch(failed.is_empty(), unanswered);
                        retry_soon(&mut due_at, m, failed);
                    }
                }
            }
            if did_work {
                idle = IDLE_MIN;
            } else {
                // Nothing due: wait a little, or for a command or shutdown.
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    cmd = commands.recv() => match cmd {
                        Some(Command::Discover) => {
                            self.discovery_asked(&mut next_discovery, discovered);
                        }
                        Some(cmd) => {
                            if !self.refresh(cmd, &mut due_at, &mut refreshed, &cancel).await {
                                break;
                            }
                        }
                        None => tokio::time::sleep(idle).await,
                    },
                    _ = tokio::time::sleep(idle) => {}
                }
                idle = (idle * 2).min(IDLE_MAX);
            }
        }
        tracing::info!("Ingest stopped.");
    }

    /// Runs a refresh command (the whole watchlist for `RefreshAll`; a new interval for
    /// `SetRefresh`); false when cancelled on the way.
    async fn refresh(
        &mut self,
        cmd: Command,
        due_at: &mut DueAt,
        refreshed: &mut HashMap<Asin, Instant>,
        cancel: &CancellationToken,
    ) -> bool {
        let (asins, asked) = match cmd {
            Command::Discover => return true,
            Command::SetRefresh { interval } => {
                self.set_interval(interval, due_at);
                return true;
            }
            Command::Refresh { asins, asked } => (asins, asked),
            Command::RefreshAll { asked } => match self.watchlist_to_refresh(cancel).await {
                Some(list) => {
                    let asins: Vec<Asin> = list.into_iter().map(|w| w.asin).collect();
                    self.ledger.covered(&asins, asked);
                    (asins, asked)
                }
                None => return !cancel.is_cancelled(),
            },
        };
        self.refresh_now(asins, asked, due_at, refreshed, cancel)
            .await
    }

    /// The watchlist, for a refresh of all of it: a refresh accepted (the API answered 202)
    /// waits for a store that does not answer, read again every 5 s for up to
    /// [`REFRESH_ALL_WAIT`], rather than being dropped. `None` when cancelled, or given up
    /// (said).
    async fn watchlist_to_refresh(
        &self,
        cancel: &CancellationToken,
    ) -> Option<Vec<crate::store::WatchEntry>> {
        let started = Instant::now();
        let mut waiting = false;
        loop {
            let read = tokio::select! {
                _ = cancel.cancelled() => return None,
                read = self.store.watchlist() => read,
            };
            let e = match read {
                Ok(list) => {
                    if waiting {
                        tracing::info!(
                            "The store answers again: refreshing the whole watchlist as asked."
                        );
                        self.stats.recovered(Stage::Ingest);
                    }
                    return Some(list);
                }
                Err(e) => e,
            };
            if started.elapsed() >= REFRESH_ALL_WAIT {
                tracing::warn!(error = %e, "Gave up the refresh of the whole watchlist: the store did not answer for {}. Ask again once it does.", crate::domain::text::span(REFRESH_ALL_WAIT.as_secs() as i64));
                return None;
            }
            if !waiting {
                waiting = true;
                tracing::warn!(error = %e, "Could not read the watchlist to refresh it; the refresh waits for the store (read again every 5 s).");
                self.stats.attempt_failed(
                    Stage::Ingest,
                    format!("refresh all waits for the store: {e}"),
                );
            }
            tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    }

    /// Refreshes each product once in `interval` from now on. What was scheduled a refresh
    /// interval after its fetch moves by the change (never to before now); retries of failed
    /// fetches, due within [`RETRY_FAILED`], stay.
    fn set_interval(&mut self, interval: Duration, due_at: &mut DueAt) {
        let old = std::mem::replace(&mut self.settings.refresh_interval, interval);
        let now = Instant::now();
        let retries_until = now + RETRY_FAILED;
        for at in due_at.values_mut().filter(|at| **at > retries_until) {
            *at = if interval >= old {
                *at + (interval - old)
            } else {
                at.checked_sub(old - interval).map_or(now, |t| t.max(now))
            };
        }
        self.stats.set_refresh_interval(interval.as_secs());
        let span = |d: Duration| crate::domain::text::span(d.as_secs() as i64);
        tracing::info!(
            "Refresh interval set to {} (was {}) for this run; the configured one \
             (pipeline.refresh_interval_secs) applies at the next start.",
            span(interval),
            span(old)
        );
    }

    /// Refreshes `asins` in every market now, except repeats and those whose refresh on
    /// command finished less than [`REFRESH_AGAIN_AFTER`] before `asked` or after it (a
    /// second request made while the first was queued, in flight or just done: Keepa would
    /// answer the same for the same tokens); false when cancelled on the way.
    async fn refresh_now(
        &self,
        asins: Vec<Asin>,
        asked: Instant,
        due_at: &mut DueAt,
        refreshed: &mut HashMap<Asin, Instant>,
        cancel: &CancellationToken,
    ) -> bool {
        let mut seen = std::collections::HashSet::new();
        let (todo, done): (Vec<Asin>, Vec<Asin>) = asins
            .into_iter()
            .filter(|a| seen.insert(*a))
            .partition(|a| {
                refreshed
                    .get(a)
                    .is_none_or(|t| *t + REFRESH_AGAIN_AFTER <= asked)
            });
        if !done.is_empty() {
            tracing::info!(
                asins = %crate::domain::text::list_first(&done, 3),
                "Refresh skipped: these products were refreshed on command in the last {}.",
                crate::domain::text::span(REFRESH_AGAIN_AFTER.as_secs() as i64)
            );
        }
        if todo.is_empty() {
            return true;
        }
        // A product whose fetch failed in any market was not refreshed: asking again
        // soon is asking for what it did not get, not a repeat.
        let mut failed_any = std::collections::HashSet::new();
        let interval = self.settings.refresh_interval;
        for &m in &self.markets {
            // A scheduled fetch answered after the request was made answers it too (a
            // refresh of the whole watchlist asked while a pass waited for tokens would
            // otherwise fetch that pass's products twice): its due time is a refresh
            // interval after its answer.
            let todo = unanswered_since(due_at, m, &todo, asked, interval);
            if todo.is_empty() {
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => return false,
                (failed, _) = self.fetch(m, todo.clone()) => {
                    // Not due again on schedule until the refresh interval has passed.
                    fetched(due_at, m, &todo, interval);
                    failed_any.extend(failed.iter().copied());
                    retry_soon(due_at, m, failed);
                }
            }
        }
        let now = Instant::now();
        refreshed.retain(|_, t| now.duration_since(*t) < REFRESHED_KEPT);
        refreshed.extend(
            todo.into_iter()
                .filter(|a| !failed_any.contains(a))
                .map(|a| (a, now)),
        );
        let failed: Vec<Asin> = failed_any.into_iter().collect();
        self.ledger.forget(&failed);
        true
    }

    /// When each watched product is next due by the store's record of its fetches: a
    /// refresh interval after its oldest fetch (in every market it was fetched in; the
    /// others are never-fetched and due now). Only those not due yet are entered. A store
    /// that cannot be read leaves everything due, as before this process knew anything.
    async fn due_from_store(&self) -> DueAt {
        let entries = match self.store.watchlist().await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(
                    "Reading when the watchlist was last fetched failed ({e}); every watched \
                     product counts as due"
                );
                return DueAt::new();
            }
        };
        let (now, wall) = (Instant::now(), Utc::now());
        let interval = chrono::Duration::from_std(self.settings.refresh_interval)
            .unwrap_or(chrono::Duration::MAX);
        let mut due = DueAt::new();
        // Of those, how many were never fetched in a market tracked now (`--markets` grew).
        let mut partly = 0;
        for e in entries {
            let Some(left) = e
                .oldest_fetch
                .and_then(|t| t.checked_add_signed(interval))
                .and_then(|at| (at - wall).to_std().ok())
            else {
                continue;
            };
            for m in e.fetched.iter().filter(|m| self.markets.contains(m)) {
                due.insert((e.asin, *m), now + left);
            }
            if self.markets.iter().any(|m| !e.fetched.contains(m)) {
                partly += 1;
            }
        }
        if !due.is_empty() {
            let asins: std::collections::HashSet<Asin> = due.keys().map(|(a, _)| *a).collect();
            let never = match partly {
                0 => String::new(),
                n => format!(
                    " ({n} of them in the tracked markets they were never fetched in, which \
                     are fetched now)"
                ),
            };
            tracing::info!(
                "{} watched products were fetched within the refresh interval ({}): they are \
                 fetched again when it has passed, not at start{never}",
                asins.len(),
                crate::domain::text::span_exact(self.settings.refresh_interval.as_secs())
            );
        }
        due
    }

    /// Watched ASINs of `market` not refreshed within the interval, at most one request's worth.
    async fn due(&self, market: Market, due_at: &mut DueAt) -> Vec<Asin> {
        let batch = request_size(
            self.settings.fetch_batch,
            self.client.status().refill_rate,
            // With the Buy Box by route, a request may be all of it.
            ProductQuery::product_cost(self.buybox.asks(true), None),
        );
        let mut limit = batch * 4;
        let mut most = None;
        loop {
            let candidates = match self.store.refresh_candidates(market, limit).await {
                Ok(c) => {
                    self.failing.store(None, &self.stats);
                    c
                }
                Err(e) => {
                    self.failing.store(Some(&e), &self.stats);
                    self.stats.record(
                        Stage::Ingest,
                        0,
                        1,
                        Some(format!("reading the watchlist failed: {e}")),
                    );
                    return Vec::new();
                }
            };
            let now = Instant::now();
            let full = candidates.len() >= limit;
            let due: Vec<Asin> = candidates
                .into_iter()
                .filter(|a| due_at.get(&(*a, market)).is_none_or(|t| now >= *t))
                .take(batch)
                .collect();
            // A window of products none of which is due: the products behind it come next.
            // Either the store has not caught up with the fetches (their updates still wait
            // in the queue: no worker, or a slow one), so its stalest are the ones just
            // fetched; or the window is all products with a route in the market (listed
            // first), fetched this round, while others this process fetched are due behind
            // them (those would otherwise wait a whole interval for the routes' next
            // round). At most as far as there are products fetched and not due: past those,
            // everything is due.
            if !due.is_empty() || !full {
                if due.is_empty() && !full {
                    // Every candidate was read and none is due: a product this process
                    // knows as due is off the watchlist now, and forgotten.
                    due_at.retain(|(_, m), t| *m != market || *t > now);
                }
                return due;
            }
            let known_due = || due_at.iter().any(|((_, m), t)| *m == market && *t <= now);
            if self.queue.depth() == 0 && !known_due() {
                return due;
            }
            let most = *most.get_or_insert_with(|| {
                batch
                    + due_at
                        .iter()
                        .filter(|((_, m), t)| *m == market && **t > now)
                        .count()
            });
            if limit >= most {
                return due;
            }
            limit = (limit * 4).min(most);
        }
    }
}
