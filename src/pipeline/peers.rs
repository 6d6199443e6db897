//! The pipeline as the processes that run it report it.
//!
//! Scaled out, the process an operator asks (`--role api`, or a console beside the
//! workers) runs no stage: its own counters say nothing. Every process that runs a stage
//! writes its status snapshot into the store every [`REPORT_EVERY_SECS`]; one that runs
//! none reads the fresh reports and shows their merge: stage counters and rates summed,
//! Keepa's state from the ingest process, the queue from the latest worker's report, and
//! each process's own verdict beside them. The reports it shows are named in
//! [`PipelineStatus::peers`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::PipelineStatus;
use crate::component::ComponentHealth;
use crate::keepa::ClientStatus;
use crate::store::{ProcessReport, Store};

/// How often a process that runs a stage reports.
pub const REPORT_EVERY_SECS: u64 = 10;

/// A report older than this is not shown: its process stopped, or cannot reach the store.
pub const FRESH_FOR: TimeDelta = TimeDelta::seconds(3 * REPORT_EVERY_SECS as i64);

/// A process whose report a status shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Peer {
    /// `host:pid`.
    pub id: String,
    /// The stages it runs: `ingest`, `process` or `ingest,process`.
    pub roles: String,
    /// When it reported.
    pub updated_at: DateTime<Utc>,
    /// Its pipeline as its own `/health` judges it (a stalled worker among busy ones).
    pub pipeline: ComponentHealth,
}

impl Peer {
    /// Whether it runs `stage` (`ingest` or `process`).
    pub fn runs(&self, stage: &str) -> bool {
        self.roles.split(',').any(|r| r == stage)
    }
}

/// The processes (`host:pid`) whose reports a merged status took Keepa and the queue from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShownFrom {
    /// The ingest process whose Keepa client is shown.
    pub keepa: Option<String>,
    /// The process whose view of the queue is shown.
    pub queue: Option<String>,
    /// Since when the reports cannot be read (the store does not answer), if they cannot:
    /// what is shown is then the last read, and what has aged out of it is unknown, not
    /// stopped.
    pub unread_since: Option<DateTime<Utc>>,
    /// With no process reporting now: the last that did (within a day), and when.
    pub stopped_reporting: Option<(String, DateTime<Utc>)>,
}

/// What a process that runs no stage has read of the others' reports.
#[derive(Clone, Debug, Default)]
pub struct Reports {
    /// The reporting processes and their status, as last read.
    pub peers: Vec<(Peer, PipelineStatus)>,
    /// Since when reading them fails, if it does.
    pub unread_since: Option<DateTime<Utc>>,
    /// The latest report read (within [`crate::store::REPORTS_KEPT_FOR`]), fresh or not,
    /// running or stopped: which process, and when.
    pub last_report: Option<(String, DateTime<Utc>)>,
}

/// This process's id in reports: `host:pid`.
pub fn process_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    format!("{host}:{}", std::process::id())
}

/// This process's report of `status`.
pub fn report(id: &str, status: &PipelineStatus, now: DateTime<Utc>) -> Option<ProcessReport> {
    let body = serde_json::to_string(status).ok()?;
    Some(ProcessReport {
        id: id.to_string(),
        updated_at: now,
        body,
    })
}

/// The reports of other processes (not `own`) that run a stage, read; a report that
/// cannot be read is left out, with the reason.
pub fn read(reports: Vec<ProcessReport>, own: &str) -> (Vec<(Peer, PipelineStatus)>, Vec<String>) {
    let r = read_reports(reports, own);
    (r.peers, r.unreadable)
}

/// What one reading of the reports found, each report parsed once.
struct Reading {
    /// The running processes, as [`read`] gives them.
    peers: Vec<(Peer, PipelineStatus)>,
    /// Why each unreadable report cannot be read.
    unreadable: Vec<String>,
    /// The latest report that can be read, running or stopped: its process and when.
    latest: Option<(String, DateTime<Utc>)>,
    /// When the latest report that cannot be read was made.
    unreadable_at: Option<DateTime<Utc>>,
}

fn read_reports(reports: Vec<ProcessReport>, own: &str) -> Reading {
    let mut out = Reading {
        peers: Vec::new(),
        unreadable: Vec::new(),
        latest: None,
        unreadable_at: None,
    };
    for r in reports.into_iter().filter(|r| r.id != own) {
        let status = match serde_json::from_str::<PipelineStatus>(&r.body) {
            Ok(s) => s,
            Err(e) => {
                out.unreadable
                    .push(format!("the report of process {}: {e}", r.id));
                out.unreadable_at = out.unreadable_at.max(Some(r.updated_at));
                continue;
            }
        };
        if out.latest.as_ref().is_none_or(|(_, at)| r.updated_at > *at) {
            out.latest = Some((r.id.clone(), r.updated_at));
        }
        if status.running {
            let roles = [
                ("ingest", status.keepa_client),
                ("process", status.processing),
            ]
            .into_iter()
            .filter_map(|(name, on)| on.then_some(name))
            .collect::<Vec<_>>()
            .join(",");
            let peer = Peer {
                id: r.id,
                roles,
                updated_at: r.updated_at,
                pipeline: super::health::pipeline_health(&status),
            };
            out.peers.push((peer, status));
        }
    }
    out
}

/// Reports this process's `status` to the store (when it runs a stage), or reads the
/// others' reports into `view` (when it runs none): a second after start, then every
/// [`REPORT_EVERY_SECS`], until cancelled. A task of its own, so a store that answers
/// slowly delays reports, never the status snapshots.
pub async fn run(
    store: Arc<dyn Store>,
    status: watch::Receiver<PipelineStatus>,
    runs_stages: bool,
    view: watch::Sender<Reports>,
    cancel: CancellationToken,
) {
    // A request the store never answers is given up after a report's interval and more.
    const WAIT: Duration = Duration::from_secs(3 * REPORT_EVERY_SECS);
    let id = process_id();
    let mut unreadable_said = false;
    let mut last_seen: Option<(String, DateTime<Utc>)> = None;
    let mut next = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => {
                // A clean stop says so, rather than leave a running report to age out:
                // the others show this process gone at their next read.
                if runs_stages {
                    let mut last = status.borrow().clone();
                    last.running = false;
                    send_report(&*store, &id, &last, Duration::from_secs(2)).await;
                }
                return;
            }
            _ = tokio::time::sleep_until(next) => {}
        }
        next += Duration::from_secs(REPORT_EVERY_SECS);
        let now = Utc::now();
        if runs_stages {
            let snapshot = status.borrow().clone();
            send_report(&*store, &id, &snapshot, WAIT).await;
            continue;
        }
        // A day of them: those no longer fresh still say that a pipeline ran here.
        let asked = store.process_reports(now - crate::store::REPORTS_KEPT_FOR);
        // Unanswered: the reports read before stay, as fresh as they were then (see
        // `merge`), and the view says since when they could not be read.
        let Ok(Ok(reports)) = tokio::time::timeout(WAIT, asked).await else {
            view.send_modify(|r| {
                r.unread_since.get_or_insert(now);
            });
            continue;
        };
        // The latest report that can be read, kept while this process runs (a day on, the
        // store forgets it; the pipeline has not come back for that). None while a fresh
        // report cannot be read: its process may be running.
        let Reading {
            peers: read,
            unreadable,
            latest,
            unreadable_at,
        } = read_reports(reports, &id);
        if let Some(latest) =
            latest.filter(|(_, at)| last_seen.as_ref().is_none_or(|(_, seen)| at >= seen))
        {
            last_seen = Some(latest);
        }
        let unread_fresh = unreadable_at.is_some_and(|t| now - t < FRESH_FOR);
        let last_report = last_seen.clone().filter(|_| !unread_fresh);
        if !unreadable.is_empty() && !unreadable_said {
            tracing::warn!(
                reports = %unreadable.join("; "),
                "Some processes' reports cannot be read (written by another version of \
                 arbdesk?); the pipeline is shown without them."
            );
            unreadable_said = true;
        }
        view.send_replace(Reports {
            peers: read,
            unread_since: None,
            last_report,
        });
    }
}

/// Records this process's report of `status` in the store, giving up after `wait`.
async fn send_report(store: &dyn Store, id: &str, status: &PipelineStatus, wait: Duration) {
    let Some(r) = report(id, status, Utc::now()) else {
        return;
    };
    match tokio::time::timeout(wait, store.report_process(r)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "Could not record this process's report in the store.")
        }
        Err(_) => tracing::debug!("The store did not take this process's report in time."),
    }
}

/// Shows in `s` (the status of a process that runs no stage, published anew every
/// second) the pipeline as the reports of `peers` made within [`FRESH_FOR`] of `now` have
/// it (`now` is when they could last be read, while they cannot). With none, `s` says that
/// no pipeline runs in this process.
pub fn merge(s: &mut PipelineStatus, peers: &[(Peer, PipelineStatus)], now: DateTime<Utc>) {
    // This process's own state (it runs no stage), then the reports over it.
    s.running = false;
    s.processing = false;
    s.keepa_client = false;
    s.started_at = None;
    s.keepa = ClientStatus::default();
    s.refresh = None;
    s.peers.clear();
    s.shown_from = ShownFrom::default();
    // Latest report first: its queue, Keepa and refresh plan are the ones shown.
    let mut by_age: Vec<&(Peer, PipelineStatus)> = peers
        .iter()
        .filter(|(peer, _)| now - peer.updated_at < FRESH_FOR)
        .collect();
    if by_age.is_empty() {
        return;
    }
    by_age.sort_by_key(|(peer, _)| std::cmp::Reverse(peer.updated_at));
    s.running = true;
    s.started_at = by_age.iter().filter_map(|(_, p)| p.started_at).min();
    s.processing = by_age.iter().any(|(_, p)| p.processing);
    s.stages.clear();
    // Per stage, the last error of the process that handled an item last among those
    // with one.
    let mut error_at: BTreeMap<&str, Option<DateTime<Utc>>> = BTreeMap::new();
    for (_, p) in &by_age {
        for (name, st) in &p.stages {
            let sum = s.stages.entry(name.clone()).or_default();
            sum.processed += st.processed;
            sum.errors += st.errors;
            sum.rate_per_s += st.rate_per_s;
            sum.last_at = sum.last_at.max(st.last_at);
            sum.last_error_at = sum.last_error_at.max(st.last_error_at);
            if st.last_error.is_some() {
                let at = error_at.entry(name).or_insert(None);
                if sum.last_error.is_none() || st.last_at > *at {
                    sum.last_error = st.last_error.clone();
                    *at = st.last_at;
                }
            }
            if sum.stopped.is_none() {
                sum.stopped = st.stopped.clone();
            }
        }
    }
    // Consumer lag is the group's: every process sees the same; take the largest.
    s.queue_depth = by_age.iter().map(|(_, p)| p.queue_depth).max().unwrap_or(0);
    // The queue as the process that judges it worst has it (an ingest whose updates are
    // held for a group no worker is in, beside workers that see nothing wrong); among
    // equal verdicts, the latest report of a processing process (their view of the group),
    // else the ingest process's.
    let queue = by_age
        .iter()
        .filter(|(_, p)| p.processing)
        .chain(by_age.iter().filter(|(_, p)| !p.processing))
        .filter_map(|(peer, p)| Some((&peer.id, p.queue.clone()?)))
        .enumerate()
        .max_by_key(|(i, (_, q))| (q.status, std::cmp::Reverse(*i)))
        .map(|(_, found)| found);
    (s.shown_from.queue, s.queue) = queue.map(|(id, q)| (id.clone(), q)).unzip();
    if let Some(split) = split_queue(&by_age) {
        s.shown_from.queue = None;
        s.queue = Some(ComponentHealth::degraded(
            s.queue.as_ref().map_or("kafka", |q| q.kind.as_str()),
            split,
        ));
    }
    s.dead_letters = by_age.iter().map(|(_, p)| p.dead_letters).sum();
    if let Some((peer, ingest)) = by_age.iter().find(|(_, p)| p.keepa_client) {
        s.shown_from.keepa = Some(peer.id.clone());
        s.keepa_client = true;
        s.keepa = ingest.keepa.clone();
        s.refresh = ingest.refresh;
    }
    for (_, p) in &by_age {
        for job in &p.jobs {
            match s.jobs.iter_mut().find(|j| j.name == job.name) {
                Some(j) => {
                    j.running |= job.running;
                    if j.next_run.is_none() {
                        j.next_run = job.next_run;
                    }
                }
                None => s.jobs.push(job.clone()),
            }
        }
    }
    s.peers = by_age.iter().map(|(peer, _)| peer.clone()).collect();
}

/// When the reporting processes do not use one queue (a `topic_prefix` or `group` set
/// for some of them only), which uses which: updates published where no worker reads them
/// wait for ever, and each side's own view looks healthy.
fn split_queue(by_age: &[&(Peer, PipelineStatus)]) -> Option<String> {
    // Each route with its processes, in the order of their latest reports.
    let mut routes: Vec<(&str, Vec<String>)> = Vec::new();
    for (peer, p) in by_age {
        let Some(route) = p.queue_route.as_deref() else {
            continue;
        };
        let named = format!("{} ({})", peer.id, peer.roles);
        match routes.iter_mut().find(|(r, _)| *r == route) {
            Some((_, peers)) => peers.push(named),
            None => routes.push((route, vec![named])),
        }
    }
    if routes.len() < 2 {
        return None;
    }
    let uses: Vec<String> = routes
        .iter()
        .map(|(route, peers)| format!("{} on {route}", peers.join(", ")))
        .collect();
    Some(format!(
        "the processes do not share one queue (give each the same [queue] topic_prefix and \
         group): {}",
        uses.join("; ")
    ))
}

#[cfg(test)]
mod tests;
