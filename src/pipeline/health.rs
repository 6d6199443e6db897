//! Health rules judged from the status snapshot: Keepa and its token bucket, the queue, the
//! pipeline, the FX rate and the economics tables.
//!
//! Pure functions, shared by `GET /health` and the console's health panel, so both say the
//! same thing about the same state.

use chrono::{DateTime, Utc};

use super::peers::Peer;
use super::{PipelineStatus, Source};
use crate::component::{ComponentHealth, HealthStatus};
use crate::domain::Currency;
use crate::domain::text::{count, signed_thousands, span, thousands};
use crate::keepa::ClientStatus;

/// Without a successful Keepa request for this long, failures make Keepa degraded.
const KEEPA_STALE_AFTER_MIN: i64 = 10;

/// Keepa requests failing, none succeeding, this long is degraded (a blip of a few failed
/// attempts that a retry gets through is not).
pub(super) const KEEPA_FAILING_AFTER_SECS: i64 = 60;
/// More than this share of Keepa's attempts of the last five minutes failing (percent) is
/// degraded though retries get the data through: late, and something is wrong.
const KEEPA_ERROR_PCT: u64 = 20;
/// A stage failing more than this share of its items (percent) is degraded.
const STAGE_ERROR_PCT: u64 = 5;
/// ... until its last failure is this old, items handled since (an outage at start-up,
/// over: a small watchlist would take hours to dilute its errors below the share).
const STAGE_ERRORS_FORGOTTEN_MIN: i64 = 10;

/// Failures in a row, with nothing handled between, that make a stage unhealthy whatever
/// its share of errors since start (a store retried with backoff fails ~3 times in 2 s).
const FAILING_NOW: u64 = 3;
/// A process that processes, with messages waiting and none taken for this long (the span
/// of the stage rates), is stalled.
const STALLED_AFTER_SECS: i64 = 60;

/// The store as its probe found it, degraded when the pipeline's writes to it fail now
/// although it answers (a full disk refuses a batch of listings while a probe, or a small
/// write in between, still succeeds).
pub fn store_component(probe: ComponentHealth, s: &PipelineStatus) -> ComponentHealth {
    let Some(st) = s.stage(super::Stage::Store) else {
        return probe;
    };
    if probe.status != HealthStatus::Ok || st.failing < FAILING_NOW {
        return probe;
    }
    ComponentHealth {
        status: HealthStatus::Degraded,
        detail: format!(
            "{}: the pipeline's last {} writes failed, last: {}",
            probe.detail,
            st.failing,
            st.last_error.as_deref().unwrap_or("unknown")
        ),
        ..probe
    }
}

/// Keepa as a process reports it: its client's health, or that it has none (no ingest role).
pub fn keepa_component(s: &PipelineStatus, now: DateTime<Utc>) -> ComponentHealth {
    if s.keepa_client {
        let mut h = keepa_health(&s.keepa, s.source, now);
        // Shown from another process's report: say whose.
        if let Some(ingest) = &s.shown_from.keepa {
            h.detail.push_str(&format!(" (as {ingest} reports it)"));
        }
        h
    } else {
        ComponentHealth::ok("none", "no Keepa client in this process (no ingest role)")
    }
}

/// Keepa: stopped (bad key, no plan) is down; failing with no success for a while is
/// degraded; waiting for tokens is normal.
pub fn keepa_health(k: &ClientStatus, source: Source, now: DateTime<Utc>) -> ComponentHealth {
    let kind = match source {
        Source::Live => "keepa",
        Source::Demo => "keepa-simulator",
    };
    if let Some(reason) = &k.stopped {
        return ComponentHealth::down(kind, format!("requests are stopped: {reason}"));
    }
    let last_error = k.last_error.as_deref().unwrap_or("unknown");
    // Failing for a minute and more, nothing succeeding: an outage, a wrong URL.
    if let Some(since) = k.failing_since
        && (now - since).num_seconds() >= KEEPA_FAILING_AFTER_SECS
    {
        return ComponentHealth::degraded(
            kind,
            format!(
                "requests failing for {}; last error: {last_error}",
                span((now - since).num_seconds())
            ),
        );
    }
    if k.errors > 0 {
        match k.last_success {
            None => {
                return ComponentHealth::degraded(
                    kind,
                    format!("no successful request yet; last error: {last_error}"),
                );
            }
            Some(t) if (now - t).num_minutes() >= KEEPA_STALE_AFTER_MIN => {
                return ComponentHealth::degraded(
                    kind,
                    format!(
                        "no successful request for {} min; last error: {last_error}",
                        (now - t).num_minutes()
                    ),
                );
            }
            Some(_) => {}
        }
    }
    if k.recent_errors >= 5 && k.recent_errors * 100 > k.recent_attempts.max(1) * KEEPA_ERROR_PCT {
        return ComponentHealth::degraded(
            kind,
            format!(
                "{} of the last 5 minutes' {} failed (last error: {last_error}); {}",
                thousands(k.recent_errors),
                count(k.recent_attempts, "attempt"),
                // Said only while true: with every attempt failing, nothing gets through.
                if k.recent_errors >= k.recent_attempts {
                    "none got through"
                } else {
                    "retries get the data through, late"
                }
            ),
        );
    }
    let tokens = match (k.tokens_left, k.refill_rate) {
        (Some(left), Some(rate)) => {
            format!(
                "{} tokens left, refill {}/min",
                signed_thousands(left),
                signed_thousands(rate)
            )
        }
        (Some(left), None) => format!("{} tokens left", signed_thousands(left)),
        _ => "token balance not seen yet".to_string(),
    };
    // Errors a retry got past leave the client ok: the last one says what they were.
    let errors = match k.last_error.as_deref().filter(|_| k.errors > 0) {
        Some(e) => format!("{} (last: {e})", count(k.errors, "error")),
        None => count(k.errors, "error"),
    };
    let mut detail = format!(
        "{tokens}; {}, {errors}, {} rate-limited",
        count(k.requests, "request"),
        thousands(k.rate_limited)
    );
    if let Some(until) = k.waiting_until.filter(|u| *u > now) {
        detail.push_str(&format!(
            "; waiting {} s for tokens or backoff",
            (until - now).num_seconds().max(1)
        ));
    }
    ComponentHealth::ok(kind, detail)
}

/// The queue's own report as the pipeline last refreshed it.
pub fn queue_health(s: &PipelineStatus) -> ComponentHealth {
    let counts = format!("depth {}, {} dead letters", s.queue_depth, s.dead_letters);
    match (&s.queue, s.running) {
        (Some(q), _) => {
            let mut q = q.clone();
            // Shown from another process's report: the queue as that one sees it, the
            // counts summed over every reporting process.
            if let Some(from) = &s.shown_from.queue
                && !q.detail.is_empty()
            {
                q.detail.push_str(&format!(" (as {from} reports it)"));
            }
            let counts = match &s.shown_from.queue {
                Some(_) => format!("{counts} in all"),
                None => counts,
            };
            q.detail = if q.detail.is_empty() {
                counts
            } else {
                format!("{}; {counts}", q.detail)
            };
            // Taken from reports that cannot be read now: unknown since, at best degraded.
            if let Some(since) = s.shown_from.unread_since
                && !s.peers.is_empty()
            {
                q.status = q.status.max(HealthStatus::Degraded);
                q.detail.push_str(&as_last_read(since));
            }
            q
        }
        (None, false) => ComponentHealth::ok("none", "no queue in this process"),
        (None, true) => ComponentHealth::degraded(
            "unknown",
            "the pipeline has not reported the queue's health yet",
        ),
    }
}

/// The pipeline: stopped after starting is down; a stage failing more than 5 % of its
/// items is degraded. In a process that runs no stage, as the processes that do report it,
/// named.
pub fn pipeline_health(s: &PipelineStatus) -> ComponentHealth {
    if s.peers.is_empty() {
        return judge_pipeline(s);
    }
    // The sums of several processes judge nothing: a stall or a failing stage is each
    // process's own verdict (the sums would hide a stalled worker among busy ones, or say
    // its fault a second time).
    let mut h = ComponentHealth::ok("pipeline", running_detail(s));
    let mut faults: Vec<String> = s
        .peers
        .iter()
        .filter(|p| p.pipeline.status != HealthStatus::Ok)
        .map(|p| format!("{}: {}", p.id, p.pipeline.detail))
        .collect();
    // A stage no live process runs is seen here alone (not while the reports cannot be
    // read: those of a stage may have aged out unread).
    if let Some(missing) =
        missing_stage(&s.peers, s.queue_depth).filter(|_| s.shown_from.unread_since.is_none())
    {
        faults.push(missing);
    }
    if !faults.is_empty() {
        h.status = HealthStatus::Degraded;
        h.detail = format!("{}; {}", faults.join("; "), h.detail);
    }
    h.detail.push_str(&format!("; {}", reported_by(&s.peers)));
    if let Some(since) = s.shown_from.unread_since {
        // What the processes do now is unknown: at best degraded.
        h.status = h.status.max(HealthStatus::Degraded);
        h.detail.push_str(&as_last_read(since));
    }
    h
}

/// ` (as last read: the reports cannot be read since 06:30:23 UTC, …)`.
fn as_last_read(since: DateTime<Utc>) -> String {
    format!(
        " (as last read: the reports cannot be read since {}, the store does not answer)",
        since.format("%H:%M:%S UTC")
    )
}

/// What is missing when the live reports run ingest but not the process stage, or the
/// other way round: one half of the pipeline with nothing to hand to, or nothing to take.
fn missing_stage(peers: &[Peer], waiting: u64) -> Option<String> {
    let runs = |stage: &str| peers.iter().any(|p| p.runs(stage));
    match (runs("ingest"), runs("process")) {
        (true, false) => Some(format!(
            "no process runs the process stage: fetched updates wait in the queue ({} \
             waiting) and nothing is stored; start a process with --role process",
            thousands(waiting)
        )),
        (false, true) => Some(
            "no process runs ingest: nothing is fetched from Keepa and stored prices age; \
             start a process with --role ingest"
                .to_string(),
        ),
        _ => None,
    }
}

/// `as reported by 2 processes: w-1:7 (process), i-1:9 (ingest)`, at most four named.
fn reported_by(peers: &[Peer]) -> String {
    const NAMED: usize = 4;
    let mut names: Vec<String> = peers
        .iter()
        .take(NAMED)
        .map(|p| format!("{} ({})", p.id, p.roles))
        .collect();
    if peers.len() > NAMED {
        names.push(format!("{} more", peers.len() - NAMED));
    }
    format!(
        "as reported by {}: {}",
        match peers.len() {
            1 => "1 process".to_string(),
            n => format!("{n} processes"),
        },
        names.join(", ")
    )
}

fn judge_pipeline(s: &PipelineStatus) -> ComponentHealth {
    let now = Utc::now();
    if !s.running
        && let Some(since) = s.shown_from.unread_since
    {
        return ComponentHealth::degraded(
            "pipeline",
            format!(
                "unknown: the other processes' reports cannot be read since {} (the store \
                 does not answer); they may be running and holding their work",
                since.format("%H:%M:%S UTC")
            ),
        );
    }
    if !s.running
        && let Some((id, at)) = &s.shown_from.stopped_reporting
    {
        return ComponentHealth::down(
            "pipeline",
            format!(
                "no process runs the pipeline: the last report, from {id}, is {} old \
                 ({}); nothing is fetched or stored until one starts (arbdesk --serve, or \
                 --role ingest and --role process)",
                crate::domain::text::span((now - *at).num_seconds()),
                at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        );
    }
    if !s.running {
        return match s.started_at {
            Some(t) => ComponentHealth::down(
                "pipeline",
                format!("stopped; it had been running since {}", t.to_rfc3339()),
            ),
            None => ComponentHealth::ok("pipeline", "not running in this process"),
        };
    }
    let stopped: Vec<String> = s
        .stages
        .iter()
        .filter_map(|(name, st)| Some(format!("{name} stopped: {}", st.stopped.as_deref()?)))
        .collect();
    if !stopped.is_empty() {
        return ComponentHealth::degraded("pipeline", stopped.join("; "));
    }
    let failing: Vec<String> = s
        .stages
        .iter()
        .filter_map(|(name, st)| {
            let last = st.last_error.as_deref().unwrap_or("unknown");
            if st.failing >= FAILING_NOW {
                // Failing now, however much it handled before.
                Some(format!(
                    "{name}: the last {} attempts failed and nothing was handled since, last: {last}",
                    st.failing
                ))
            } else if st.errors > 0
                && st.errors * 100 > st.processed.max(1) * STAGE_ERROR_PCT
                && st
                    .last_error_at
                    .is_none_or(|t| (now - t).num_minutes() < STAGE_ERRORS_FORGOTTEN_MIN)
            {
                Some(format!(
                    "{name}: {} of {} items failed, last: {last}",
                    thousands(st.errors),
                    thousands(st.errors.saturating_add(st.processed))
                ))
            } else {
                None
            }
        })
        .collect();
    if !failing.is_empty() {
        return ComponentHealth::degraded("pipeline", failing.join("; "));
    }
    // Messages waiting and none taken over the rates' whole span: nothing else may say so
    // (a Kafka worker left without a partition is as quiet as an idle one).
    let enriching = s
        .stage(super::Stage::Enrich)
        .map_or(0.0, |st| st.rate_per_s);
    let settled = s
        .started_at
        .is_some_and(|t| Utc::now() - t >= chrono::Duration::seconds(STALLED_AFTER_SECS));
    if s.processing && settled && s.queue_depth > 0 && enriching == 0.0 {
        return ComponentHealth::degraded(
            "pipeline",
            format!(
                "stalled: {} message(s) waiting and none taken in the last minute; see the \
                 queue's health and this process's log (a Kafka worker may have no partition \
                 assigned)",
                thousands(s.queue_depth)
            ),
        );
    }
    ComponentHealth::ok("pipeline", running_detail(s))
}

/// "running" and each stage's rate.
fn running_detail(s: &PipelineStatus) -> String {
    let rates: Vec<String> = s
        .stages
        .iter()
        .map(|(name, st)| format!("{name} {:.1}/s", st.rate_per_s))
        .collect();
    if rates.is_empty() {
        "running".to_string()
    } else {
        format!("running; {}", rates.join(", "))
    }
}

/// The GBP rate in use, once the pipeline has one. A stale rate is degraded: GBP routes
/// are not ranked until a current one arrives. Demo data runs offline on the shipped rate,
/// so there the detail says how to give it a current one. Without a market in GBP the
/// rate is used by nothing, and its age harms nothing.
pub fn fx_health(s: &PipelineStatus) -> Option<ComponentHealth> {
    let fx = s.fx.as_ref()?;
    // The rate as written first (the ECB publishes `1 EUR = x GBP`, as the log and the
    // rows' records say it), then what a pound is worth, which the console shows.
    let derived = format!("1 GBP = {:.4} EUR", fx.eur_per_gbp);
    let rate = match fx.record.split_once(": ") {
        Some((_, written)) if written.starts_with("1 EUR") => format!("{written} ({derived})"),
        _ => derived,
    };
    let mut detail = format!("{rate}, rate of {}", fx.date);
    if !fx.stale {
        return Some(ComponentHealth::ok(&fx.source, detail));
    }
    if !s.markets.is_empty() && !s.markets.iter().any(|m| m.currency() == Currency::GBP) {
        // No market in GBP: no route converts with it, no row is flagged for it.
        detail.push_str(" (stale, but unused: no market in GBP is tracked)");
        return Some(ComponentHealth::ok(&fx.source, detail));
    }
    detail.push_str(" (stale: rows flagged FX_STALE, GBP routes not ranked");
    detail.push_str(if fx.source == "config" {
        "; the [fx] override is older than fx.max_age_days: give it a current rate and date)"
    } else if s.source == Source::Demo {
        "; demo data is offline: a dated rate in [fx] override gives a current one)"
    } else {
        ")"
    });
    Some(ComponentHealth::degraded(&fx.source, detail))
}

/// The economics tables in force today. Without a VAT, referral or storage table rows have
/// gross figures only (`NO_TABLE`): degraded, saying which is missing.
pub fn tables_health(s: &PipelineStatus) -> Option<ComponentHealth> {
    let t = s.tables.as_ref()?;
    // `VAT of 2025-01-01`, or `no VAT table`.
    let named = |what: &str, d: &Option<String>| match d {
        Some(from) => format!("{what} of {from}"),
        None => format!("no {what} table"),
    };
    let detail = format!(
        "in force on {}: {}, {}, {}, {}",
        t.date,
        named("VAT", &t.vat),
        named("referral fees", &t.referral),
        match &t.fba {
            Some(from) => format!("FBA fees of {from}"),
            None => "no FBA fee table (Keepa's fee only)".into(),
        },
        named("storage", &t.storage)
    );
    let missing = t.missing();
    Some(if missing.is_empty() {
        ComponentHealth::ok("economics", detail)
    } else {
        ComponentHealth::degraded(
            "economics",
            format!(
                "no {} table in force: rows have gross figures only (NO_TABLE); give one an effective_from on or before {}. {detail}",
                missing.join(", "),
                t.date
            ),
        )
    })
}

#[cfg(test)]
mod tests;
mod tokens;

pub use tokens::{Watched, refresh_estimate, token_health};
