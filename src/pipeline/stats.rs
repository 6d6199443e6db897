//! Counters the stages update and the task that turns them into `PipelineStatus`.
//!
//! Stages call `record` and the job methods; once a second `publish` adds the Keepa
//! client's state, the queue's depth and health and the FX rate, computes per-stage rates
//! over the last minute, and sends the snapshot on the `watch` channel.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Detect, FxStatus, JobStatus, PipelineStatus, RefreshPlan, Source, Stage, StageStatus};
use crate::domain::{Currency, Market};
use crate::keepa::KeepaClient;
use crate::queue::Queue;
use crate::store::{JobRun, Store};

/// The span a stage's rate is averaged over.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// How often (in seconds) a process running stages logs what they did, at info: running
/// steadily it logs nothing else, and the log of a headless run should show that it works.
const SUMMARY_EVERY: u64 = 600;

/// One stage's counters, with the samples its rate is computed over.
#[derive(Default)]
struct Counters {
    status: StageStatus,
    samples: VecDeque<(Instant, u64)>,
}

/// About how many fetched products (each in one market) the Buy Box share counts.
pub const BUYBOX_SHARE_WINDOW: u64 = 20_000;

/// Shared counters.
pub struct Stats {
    /// When counting began: a stage's first sample is a zero from here (or from a minute
    /// before its first batch, if later), so that batch, counted before any snapshot, is
    /// in its rate.
    started: Instant,
    tx: watch::Sender<PipelineStatus>,
    stages: Mutex<BTreeMap<&'static str, Counters>>,
    jobs: Mutex<BTreeMap<String, JobStatus>>,
}

impl Stats {
    /// Counters for a pipeline over `markets` from `source`, running the ingest stage (with
    /// a Keepa client) and the process stage as said.
    pub fn new(source: Source, markets: Vec<Market>, keepa_client: bool, processing: bool) -> Self {
        let running = keepa_client || processing;
        let status = PipelineStatus {
            source,
            markets,
            running,
            keepa_client,
            processing,
            started_at: running.then(Utc::now),
            ..Default::default()
        };
        Stats {
            started: Instant::now(),
            tx: watch::channel(status).0,
            stages: Mutex::default(),
            jobs: Mutex::default(),
        }
    }

    /// Records how the ingest stage refreshes the watchlist.
    pub fn set_refresh_plan(&self, plan: RefreshPlan) {
        self.tx.send_modify(|s| s.refresh = Some(plan));
    }

    /// Counts `asked` products fetched, `with_buybox` of them with the Buy Box, over about
    /// the last [`BUYBOX_SHARE_WINDOW`] (kept only when the plan asks it by route).
    pub fn buybox_asked(&self, asked: u64, with_buybox: u64) {
        self.tx.send_modify(|s| {
            if let Some(share) = s.refresh.as_mut().and_then(|p| p.buybox_by_route.as_mut()) {
                share.asked += asked;
                share.with_buybox += with_buybox;
                // The recent fetches count most: a first pass, which has no routes to go
                // by, fades rather than weighing on the share for the whole run.
                if share.asked > BUYBOX_SHARE_WINDOW {
                    share.asked /= 2;
                    share.with_buybox /= 2;
                }
            }
        });
    }

    /// The refresh plan's interval, changed while the pipeline runs.
    pub fn set_refresh_interval(&self, secs: u64) {
        self.tx.send_modify(|s| {
            if let Some(plan) = &mut s.refresh {
                plan.interval_secs = secs;
            }
        });
    }

    pub fn subscribe(&self) -> watch::Receiver<PipelineStatus> {
        self.tx.subscribe()
    }

    /// Counts `ok` items handled and `failed` failures of `stage`.
    pub fn record(&self, stage: Stage, ok: u64, failed: u64, error: Option<String>) {
        self.with_stage(stage, |s| {
            s.processed += ok;
            s.errors += failed;
            s.failing = if ok > 0 { failed } else { s.failing + failed };
            if error.is_some() {
                s.last_error = error;
            }
            if failed > 0 {
                s.last_error_at = Some(Utc::now());
            }
        });
    }

    /// Counts a failed attempt of `stage` that was no item's (reading the queue failed):
    /// one more failure in a row, with its error, but no item counted as failed, so the
    /// stage's share of failed items is its items' alone once the attempts work again.
    pub fn attempt_failed(&self, stage: Stage, error: String) {
        // Not `last_error_at`: that is when an item last failed, which the share of failed
        // items is judged by.
        self.with_stage(stage, |s| {
            s.failing += 1;
            s.last_error = Some(error);
        });
    }

    /// Records that what `stage` failed at works again, though it may have had nothing to
    /// handle since: its failures in a row end (its counts and last error stay).
    pub fn recovered(&self, stage: Stage) {
        self.with_stage(stage, |s| s.failing = 0);
    }

    /// Records that `stage` stopped for good, and why (the rest of the pipeline runs on).
    pub fn stop(&self, stage: Stage, why: String) {
        self.with_stage(stage, |s| {
            s.last_error = Some(why.clone());
            s.stopped = Some(why);
        });
    }

    /// Records that `stage`, shown as stopped while it waited, runs.
    pub fn resume(&self, stage: Stage) {
        self.with_stage(stage, |s| {
            s.last_error = None;
            s.stopped = None;
        });
    }

    /// Applies `f` to the status of `stage` (created on first use) and marks it as seen now.
    fn with_stage(&self, stage: Stage, f: impl FnOnce(&mut StageStatus)) {
        let mut stages = self.stages.lock().unwrap_or_else(PoisonError::into_inner);
        let s = stages.entry(stage.name()).or_insert_with(|| {
            let now = Instant::now();
            let from = now
                .checked_sub(RATE_WINDOW)
                .map_or(self.started, |t| t.max(self.started));
            Counters {
                samples: VecDeque::from([(from, 0)]),
                ..Counters::default()
            }
        });
        f(&mut s.status);
        s.status.last_at = Some(Utc::now());
    }

    /// Applies `f` to the status of job `name`, creating it on first use.
    fn with_job(&self, name: &str, f: impl FnOnce(&mut JobStatus)) {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        f(job_entry(&mut jobs, name));
    }

    pub fn job_started(&self, name: &str) {
        self.with_job(name, |j| j.running = true);
    }

    pub fn job_finished(&self, run: JobRun, next: Option<DateTime<Utc>>) {
        self.with_job(&run.job.clone(), |j| {
            j.running = false;
            j.next_run = next;
            j.last_run = Some(run);
        });
    }

    pub fn job_scheduled(&self, name: &str, next: DateTime<Utc>) {
        self.with_job(name, |j| j.next_run = Some(next));
    }

    fn stage_snapshot(&self) -> BTreeMap<String, StageStatus> {
        let now = Instant::now();
        let mut stages = self.stages.lock().unwrap_or_else(PoisonError::into_inner);
        stages
            .iter_mut()
            .map(|(name, s)| {
                s.samples.push_back((now, s.status.processed));
                // The oldest sample kept is the newest one at least a window old.
                while s.samples.len() > 2
                    && s.samples
                        .get(1)
                        .is_some_and(|(t, _)| now - *t >= RATE_WINDOW)
                {
                    s.samples.pop_front();
                }
                if let (Some((t0, n0)), Some((t1, n1))) = (s.samples.front(), s.samples.back()) {
                    let secs = (*t1 - *t0).as_secs_f64();
                    s.status.rate_per_s = if secs > 0.0 {
                        (n1 - n0) as f64 / secs
                    } else {
                        0.0
                    };
                }
                (name.to_string(), s.status.clone())
            })
            .collect()
    }
}

fn job_entry<'a>(jobs: &'a mut BTreeMap<String, JobStatus>, name: &str) -> &'a mut JobStatus {
    jobs.entry(name.to_string()).or_insert_with(|| JobStatus {
        name: name.to_string(),
        ..Default::default()
    })
}

/// Publishes a fresh snapshot every second until cancelled. With `follow_fx`, `detect`
/// takes the FX rate another process records in the store, read with the job history. In
/// a process that runs no stage, the snapshot shows the fresh reports of `peers`.
#[allow(clippy::too_many_arguments)] // what a snapshot is made of, each from its own part
pub async fn publish(
    stats: Arc<Stats>,
    client: Option<KeepaClient>,
    queue: Option<Arc<dyn Queue>>,
    store: Arc<dyn Store>,
    follow_fx: bool,
    detect: Arc<dyn Detect>,
    peers: watch::Receiver<super::peers::Reports>,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut n: u64 = 0;
    let mut fx_was_stale = false;
    let mut tables_were_missing = false;
    // The queue's health: asked every second while answering is quick (the in-process
    // queue), every 10 s when it takes a round trip (a broker's metadata and watermarks),
    // so a slow broker does not hold back every snapshot.
    let mut queue_health = None;
    let mut probe_slow = false;
    // A process that runs no stage shows the reports of those that do (`peers.rs`).
    let runs_stages = stats.tx.borrow().running;
    let mut summarized = stats.tx.borrow().clone();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        // Job history from the store every 10 s, for jobs run by other processes too.
        if n.is_multiple_of(10)
            && let Ok(runs) = store.jobs().await
        {
            if follow_fx {
                super::fx::restore_fx_from(&runs, &*detect);
            }
            let mut jobs = stats.jobs.lock().unwrap_or_else(PoisonError::into_inner);
            for run in runs {
                let j = job_entry(&mut jobs, &run.job);
                if j.last_run
                    .as_ref()
                    .is_none_or(|l| l.finished_at < run.finished_at)
                {
                    j.last_run = Some(run);
                }
            }
        }
        n += 1;
        if let Some(q) = &queue
            && (!probe_slow || n.is_multiple_of(10))
        {
            let asked = std::time::Instant::now();
            queue_health = Some(q.health().await);
            probe_slow = asked.elapsed() > Duration::from_millis(20);
        }
        let fx = detect.fx();
        let tables = detect.tables();
        let absent = tables.as_ref().map(|t| t.missing()).unwrap_or_default();
        let missing = !absent.is_empty();
        if missing != tables_were_missing {
            if missing {
                tracing::warn!(
                    tables = %absent.join(", "),
                    "{} no version in force today (none listed, or every one dated later): \
                     rows get gross figures only and are flagged NO_TABLE; give {} a version \
                     with an effective_from on or before today (arbdesk config show lists \
                     them).",
                    match absent.as_slice() {
                        [one] => format!("The {one} table has"),
                        more => format!("The {} tables have", more.join(" and ")),
                    },
                    if absent.len() == 1 { "it" } else { "each" }
                );
            } else {
                tracing::info!("Every economics table has a version in force again.");
            }
            tables_were_missing = missing;
        }
        if let Some(fx) = &fx {
            let (source, gbp) = {
                let s = stats.tx.borrow();
                let gbp = s.markets.iter().any(|m| m.currency() == Currency::GBP);
                (s.source, gbp)
            };
            // No market in GBP tracked: no row uses the rate, and the health says so.
            if gbp {
                log_fx_change(fx, fx_was_stale, source);
            }
            fx_was_stale = fx.stale;
        }
        let stages = stats.stage_snapshot();
        let jobs: Vec<JobStatus> = stats
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        stats.tx.send_modify(|s| {
            s.dead_letters = queue.as_ref().map_or(0, |q| q.dead_lettered());
            s.stages = stages;
            s.queue_depth = queue.as_ref().map_or(0, |q| q.depth());
            s.queue = queue_health.clone();
            s.queue_route = queue.as_ref().and_then(|q| q.route());
            s.jobs = jobs;
            if let Some(c) = &client {
                s.keepa = c.status();
            }
            s.fx = fx;
            s.tables = tables;
            if !runs_stages {
                let reports = peers.borrow();
                // While the reports cannot be read, those last read are shown as they were
                // then (not dropped as they age: the processes may be running).
                let as_of = reports.unread_since.unwrap_or_else(Utc::now);
                super::peers::merge(s, &reports.peers, as_of);
                s.shown_from.unread_since = reports.unread_since;
                if !s.running {
                    s.shown_from.stopped_reporting = reports.last_report.clone();
                }
            }
        });
        if runs_stages && n.is_multiple_of(SUMMARY_EVERY) {
            let now = stats.tx.borrow().clone();
            tracing::info!("{}.", summary(&summarized, &now, SUMMARY_EVERY / 60));
            summarized = now;
        }
    }
}

/// What the stages did between two snapshots `minutes` apart, as one line: items and
/// failures per stage in pipeline order, then Keepa's requests and tokens, the queue.
fn summary(before: &PipelineStatus, now: &PipelineStatus, minutes: u64) -> String {
    use crate::domain::text::thousands;
    let mut names: Vec<&String> = now.stages.keys().collect();
    let order = |n: &str| Stage::ALL.iter().position(|s| s.name() == n);
    names.sort_by_key(|n| (order(n).unwrap_or(Stage::ALL.len()), *n));
    let mut parts = Vec::new();
    let mut failed = 0;
    for name in names {
        let (was, is) = (before.stages.get(name), &now.stages[name]);
        let done = is.processed - was.map_or(0, |w| w.processed.min(is.processed));
        failed += is.errors - was.map_or(0, |w| w.errors.min(is.errors));
        parts.push(format!("{name} {}", thousands(done)));
    }
    let mut line = format!("Past {minutes} min: ");
    if parts.is_empty() {
        line.push_str("no items yet");
    } else {
        line.push_str(&parts.join(", "));
        line.push_str(" items");
    }
    if failed > 0 {
        line.push_str(&format!(" ({} failed)", thousands(failed)));
    }
    if now.keepa_client {
        let (k, was) = (&now.keepa, &before.keepa);
        let failed = k.errors.saturating_sub(was.errors);
        line.push_str(&format!(
            "; Keepa {} requests{}, {} tokens used",
            thousands(k.requests.saturating_sub(was.requests)),
            if failed > 0 {
                format!(" ({} failed attempts)", thousands(failed))
            } else {
                String::new()
            },
            thousands(u64::try_from(k.tokens_consumed - was.tokens_consumed).unwrap_or(0)),
        ));
        // The balance may be below zero (Keepa lets a request overdraw it).
        if let Some(left) = k.tokens_left {
            line.push_str(&format!(
                ", {} left",
                crate::domain::text::signed_thousands(left)
            ));
        }
        if let Some(why) = &k.stopped {
            line.push_str(&format!(", stopped: {why}"));
        }
    }
    if now.processing || now.keepa_client {
        line.push_str(&format!("; queue {} waiting", thousands(now.queue_depth)));
    }
    let dead = now.dead_letters.saturating_sub(before.dead_letters);
    if dead > 0 {
        line.push_str(&format!(", {} dead-lettered", thousands(dead)));
    }
    line
}

/// Says when the FX rate in use turns stale (rows on GBP routes then fail their gate) or
/// fresh again: the Health panel shows it, the log keeps when it happened.
fn log_fx_change(fx: &FxStatus, was_stale: bool, source: Source) {
    match (was_stale, fx.stale) {
        (false, true) if source == Source::Live => tracing::warn!(
            "FX rate {} is older than [fx] max_age_days: rows are flagged FX_STALE and GBP \
             routes are not ranked until a newer rate is fetched; check that the ECB daily \
             file ([fx] url) is reachable, or set [fx.override] to a rate you trust.",
            fx.record
        ),
        (false, true) => tracing::info!(
            "FX rate {} (demo data) is older than [fx] max_age_days: rows are flagged FX_STALE.",
            fx.record
        ),
        (true, false) => tracing::info!("FX rate {} is current again.", fx.record),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
