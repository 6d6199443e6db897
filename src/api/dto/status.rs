//! `/health` and `/stats` bodies: component health, totals, pipeline throughput, Keepa
//! tokens, jobs and FX, copied from the pipeline's status snapshot and the store.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::component::{ComponentHealth, HealthStatus};
use crate::domain::Market;
use crate::keepa::ClientStatus;
use crate::pipeline::{FxStatus, JobStatus, Source, StageStatus};
use crate::store::JobRun;

/// One component's health.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ComponentOut {
    /// `ok`, `degraded` or `down`.
    pub status: HealthStatus,
    /// Which implementation (`sqlite`, `memory`, `keepa`, …).
    pub kind: String,
    /// One line for an operator: what is wrong and what to do, or a summary.
    pub detail: String,
    /// Round-trip time of the probe, if one was made.
    pub latency_ms: Option<f64>,
}

impl From<ComponentHealth> for ComponentOut {
    fn from(h: ComponentHealth) -> Self {
        ComponentOut {
            status: h.status,
            kind: h.kind,
            detail: h.detail,
            // Microsecond resolution; more digits are float noise.
            latency_ms: h.latency_ms.map(|v| (v * 1000.0).round() / 1000.0),
        }
    }
}

/// The components `/health` reports: always `keepa`, `queue`, `store` and `pipeline`; `fx`
/// and `tables` in a process that computes or explains rows.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Components {
    /// The Keepa client: tokens, errors, backoff.
    pub keepa: ComponentOut,
    /// Keepa's token bucket (in a process that fetches): the balance, the next refill, what a
    /// full refresh of the watchlist costs and whether the refill rate keeps up with the
    /// refresh interval (`degraded` when it does not and the balance no longer covers it,
    /// `down` while requests are stopped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<ComponentOut>,
    /// The queue between ingest and enrichment.
    pub queue: ComponentOut,
    /// The store the API reads.
    pub store: ComponentOut,
    /// The pipeline's stages.
    pub pipeline: ComponentOut,
    /// The GBP rate in use (once the pipeline has one): `degraded` while it is older than
    /// `fx.max_age_days` (GBP routes are then not ranked). Demo data runs offline on the
    /// shipped rate, so it is `degraded` there until an `[fx] override` gives a current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fx: Option<ComponentOut>,
    /// The economics tables in force today (in a process that computes or explains rows): `degraded`
    /// when a VAT, referral or storage table is missing and rows have gross figures only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<ComponentOut>,
}

/// `/health`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Health {
    /// `down` when the store is down (HTTP 503), `degraded` when any component has
    /// problems, else `ok`.
    pub status: HealthStatus,
    /// `live` Keepa data or `demo` (simulated) data.
    pub source: Source,
    /// arbdesk's version.
    pub version: String,
    /// Per-component health (paths, token balance, error counts). When the server has a
    /// bearer token and the request did not send it, each component's status and kind
    /// only: a probe sees which one is at fault, callers with the token the details.
    pub components: Components,
}

impl Components {
    /// Each component's status and kind, its detail saying that the token shows it.
    pub fn without_details(self) -> Components {
        let hide = |c: ComponentOut| ComponentOut {
            detail: "details need the API token".to_string(),
            latency_ms: None,
            ..c
        };
        Components {
            keepa: hide(self.keepa),
            tokens: self.tokens.map(hide),
            queue: hide(self.queue),
            store: hide(self.store),
            pipeline: hide(self.pipeline),
            fx: self.fx.map(hide),
            tables: self.tables.map(hide),
        }
    }
}

/// One pipeline stage's counters.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StageOut {
    /// Items handled since start.
    pub processed: u64,
    /// Items that failed.
    pub errors: u64,
    /// Items per second over the last minute.
    pub rate_per_s: f64,
    /// Last error, if any.
    pub last_error: Option<String>,
    /// When the stage last handled an item.
    pub last_at: Option<DateTime<Utc>>,
    /// Why the stage stopped for good while the rest runs on (ingest refused the store or
    /// the lease on fetching); absent while it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl From<&StageStatus> for StageOut {
    fn from(s: &StageStatus) -> Self {
        StageOut {
            processed: s.processed,
            errors: s.errors,
            rate_per_s: s.rate_per_s,
            last_error: s.last_error.clone(),
            last_at: s.last_at,
            stopped: s.stopped.clone(),
        }
    }
}

/// The pipeline's state.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PipelineOut {
    /// What this process runs (`--role`): `ingest`, `process` and `api`, in that order.
    pub roles: Vec<&'static str>,
    /// Whether the pipeline runs: in this process, or in the processes of `reported_by`.
    pub running: bool,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// Per-stage counters and rates: `ingest`, `enrich`, `store`, `detect`, and the
    /// publications `enriched` (to `enriched.products`) and `alerts` (to `alerts`).
    pub stages: BTreeMap<String, StageOut>,
    /// Messages queued or in flight; on Kafka the consumer group's lag over the raw
    /// topic, or the messages this process holds, whichever is larger.
    pub queue_depth: u64,
    /// Messages this process sent to the dead-letter topic since it started (in a process
    /// that runs no stage, the sum of what the reporting processes sent since theirs); the
    /// topic keeps them all.
    pub dead_letters: u64,
    /// In a process that runs no stage (`--role api`): the processes whose reports these
    /// figures merge (stage counters and rates summed, Keepa from the ingest process),
    /// latest report first. Empty when the figures are this process's own.
    pub reported_by: Vec<ReporterOut>,
}

/// A process whose report `/stats` shows.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReporterOut {
    /// `host:pid`.
    pub id: String,
    /// The stages it runs: `ingest`, `process` or `ingest,process`.
    pub roles: String,
    /// When it reported (every 10 s; reports older than 30 s are left out).
    pub updated_at: Option<DateTime<Utc>>,
}

/// The Keepa token budget and request counters.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct KeepaOut {
    /// Last known token balance.
    pub tokens_left: Option<i64>,
    /// Tokens refilled per minute.
    pub refill_rate: Option<i64>,
    /// Milliseconds to the next refill, as of `tokens_seen_at`.
    pub refill_in_ms: Option<i64>,
    /// When the token state was observed.
    pub tokens_seen_at: Option<DateTime<Utc>>,
    /// Requests sent.
    pub requests: u64,
    /// Failed attempts.
    pub errors: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// Tokens consumed as reported by Keepa.
    pub tokens_consumed: i64,
    /// Last successful response.
    pub last_success: Option<DateTime<Utc>>,
    /// Last error.
    pub last_error: Option<String>,
    /// Waiting for tokens or backing off until then.
    pub waiting_until: Option<DateTime<Utc>>,
    /// Why traffic is stopped (bad key, no subscription), if it is.
    pub stopped: Option<String>,
}

impl From<&ClientStatus> for KeepaOut {
    fn from(k: &ClientStatus) -> Self {
        KeepaOut {
            tokens_left: k.tokens_left,
            refill_rate: k.refill_rate,
            refill_in_ms: k.refill_in_ms,
            tokens_seen_at: k.tokens_seen_at,
            requests: k.requests,
            errors: k.errors,
            rate_limited: k.rate_limited,
            tokens_consumed: k.tokens_consumed,
            last_success: k.last_success,
            last_error: k.last_error.clone(),
            waiting_until: k.waiting_until,
            stopped: k.stopped.clone(),
        }
    }
}

/// A completed job run.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct JobRunOut {
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub finished_at: DateTime<Utc>,
    /// `ok` or the error.
    pub result: String,
    /// What it did.
    pub detail: String,
}

impl From<&JobRun> for JobRunOut {
    fn from(r: &JobRun) -> Self {
        JobRunOut {
            started_at: r.started_at,
            finished_at: r.finished_at,
            result: r.result.clone(),
            detail: r.detail.clone(),
        }
    }
}

/// A scheduled job.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct JobOut {
    /// Job name (`refresh`, `discovery`, `fx`).
    pub name: String,
    /// Whether it is running now.
    pub running: bool,
    /// The last completed run.
    pub last_run: Option<JobRunOut>,
    /// When it runs next.
    pub next_run: Option<DateTime<Utc>>,
}

/// Jobs from the live status, completed by the store's last runs (which survive restarts
/// and come from other processes), sorted by name.
pub fn merge_jobs(live: &[JobStatus], stored: &[JobRun]) -> Vec<JobOut> {
    let mut out: BTreeMap<String, JobOut> = BTreeMap::new();
    for j in live {
        out.insert(
            j.name.clone(),
            JobOut {
                name: j.name.clone(),
                running: j.running,
                last_run: j.last_run.as_ref().map(JobRunOut::from),
                next_run: j.next_run,
            },
        );
    }
    for r in stored {
        let entry = out.entry(r.job.clone()).or_insert_with(|| JobOut {
            name: r.job.clone(),
            running: false,
            last_run: None,
            next_run: None,
        });
        let newer = entry
            .last_run
            .as_ref()
            .is_none_or(|l| l.finished_at < r.finished_at);
        if newer {
            entry.last_run = Some(JobRunOut::from(r));
        }
    }
    out.into_values().collect()
}

/// The FX rate in use.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FxOut {
    /// EUR per GBP.
    pub eur_per_gbp: f64,
    /// Publication date of the rate.
    pub date: String,
    /// `ecb`, `config` or `default`.
    pub source: String,
    /// Older than the configured maximum age.
    pub stale: bool,
    /// The rate exactly as written, with source and date, as each row's breakdown
    /// `fx_rate` names it (`ecb 2026-06-09: 1 EUR = 0.8653 GBP`).
    pub record: String,
}

impl From<&FxStatus> for FxOut {
    fn from(f: &FxStatus) -> Self {
        FxOut {
            eur_per_gbp: f.eur_per_gbp,
            date: f.date.clone(),
            source: f.source.clone(),
            stale: f.stale,
            record: f.record.clone(),
        }
    }
}

/// `/stats`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Stats {
    /// Products known.
    pub total_products: u64,
    /// Opportunity rows (routes with a positive gross margin).
    pub opportunities: u64,
    /// Rows passing every gate.
    pub ranked_opportunities: u64,
    /// The markets covered.
    pub markets: Vec<Market>,
    /// Best gross margin, percent.
    pub best_gross_margin_pct: Option<f64>,
    /// Average gross margin, percent.
    pub avg_gross_margin_pct: Option<f64>,
    /// Products listed per market (every market present, zero included).
    pub products_per_market: BTreeMap<Market, u64>,
    /// ASINs on the watchlist.
    pub watchlist: u64,
    /// Latest listing fetch.
    pub last_update: Option<DateTime<Utc>>,
    /// `live` or `demo` data.
    pub source: Source,
    /// Pipeline throughput per stage, queue depth, dead letters.
    pub pipeline: PipelineOut,
    /// Keepa token state and request counters.
    pub keepa: KeepaOut,
    /// Scheduled jobs.
    pub jobs: Vec<JobOut>,
    /// The GBP rate detection uses: this process's, or in a process that does not detect
    /// (`--role api`) the last one recorded in the store by the process that does (each
    /// row's breakdown names the rate it was computed with).
    pub fx: Option<FxOut>,
}
