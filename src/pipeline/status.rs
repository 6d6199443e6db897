//! The pipeline's status snapshot: what the console's health panel, `/health` and `/stats`
//! show. Published on a `watch` channel; readers never block the pipeline.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::component::ComponentHealth;
use crate::domain::Market;
use crate::keepa::ClientStatus;
use crate::store::JobRun;

/// A stage of the pipeline, by the name its counters are kept and shown under (`/stats`,
/// the health view, the log's summary).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Fetching from Keepa and publishing to the queue.
    Ingest,
    /// Reading the queue, validating and decoding.
    Enrich,
    /// Writing listings and opportunities.
    Store,
    /// Computing the routes.
    Detect,
    /// Publishing the merged products (`enriched.products`, on Kafka).
    Enriched,
    /// Publishing routes that crossed into the ranking (`alerts`, on Kafka).
    Alerts,
}

impl Stage {
    /// The stages in pipeline order.
    pub const ALL: [Stage; 6] = [
        Stage::Ingest,
        Stage::Enrich,
        Stage::Store,
        Stage::Detect,
        Stage::Enriched,
        Stage::Alerts,
    ];

    /// The name its counters are kept under, e.g. `enrich`.
    pub const fn name(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Enrich => "enrich",
            Stage::Store => "store",
            Stage::Detect => "detect",
            Stage::Enriched => "enriched",
            Stage::Alerts => "alerts",
        }
    }
}

/// Where Keepa data comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The real Keepa API (or a proxy of it).
    Live,
    /// The built-in simulator: simulated prices, never to be mistaken for live ones.
    #[default]
    Demo,
}

impl Source {
    /// The store's key for the mark of whose prices it holds (see `commands::data_source`).
    pub const MARK_KEY: &'static str = "arbdesk:data-source";

    /// The mark's value for this source.
    pub fn mark(self) -> u64 {
        match self {
            Source::Demo => 1,
            Source::Live => 2,
        }
    }

    /// The source a mark's value names.
    pub fn from_mark(mark: u64) -> Option<Source> {
        match mark {
            1 => Some(Source::Demo),
            2 => Some(Source::Live),
            _ => None,
        }
    }

    /// The source whose prices `store` holds, if a process has fetched into it.
    pub async fn held_by(
        store: &dyn crate::store::Store,
    ) -> crate::store::StoreResult<Option<Source>> {
        Ok(store
            .checkpoint(Self::MARK_KEY.to_string())
            .await?
            .and_then(Source::from_mark))
    }

    /// `demo (simulated)` or `live (Keepa)`, for messages.
    pub fn word(self) -> &'static str {
        match self {
            Source::Demo => "demo (simulated)",
            Source::Live => "live (Keepa)",
        }
    }

    /// `LIVE` or `DEMO`, as the console's header shows it.
    pub fn label(self) -> &'static str {
        match self {
            Source::Live => "LIVE",
            Source::Demo => "DEMO",
        }
    }
}

/// Counters of one stage (`ingest`, `enrich`, `detect`, `store`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StageStatus {
    /// Items handled since start.
    pub processed: u64,
    /// Items that failed.
    pub errors: u64,
    /// Items per second over the last minute (since start, in the first minute).
    pub rate_per_s: f64,
    /// Last error, if any.
    pub last_error: Option<String>,
    /// When the last item failed.
    pub last_error_at: Option<DateTime<Utc>>,
    /// Failures since the stage last handled an item: a stage failing now (a store that
    /// went away) with many items handled before.
    pub failing: u64,
    /// When the stage last handled an item.
    pub last_at: Option<DateTime<Utc>>,
    /// Why the stage stopped for good while the rest runs on (ingest refused the store or
    /// the lease on fetching).
    pub stopped: Option<String>,
}

/// A scheduled job's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobStatus {
    /// Job name (`discovery`, `fx`).
    pub name: String,
    /// Whether it is running now.
    pub running: bool,
    /// The last completed run.
    pub last_run: Option<JobRun>,
    /// When it runs next.
    pub next_run: Option<DateTime<Utc>>,
}

/// The FX rate in use.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FxStatus {
    /// EUR per GBP.
    pub eur_per_gbp: f64,
    /// Publication date of the rate.
    pub date: String,
    /// `ecb`, `config` or `default`.
    pub source: String,
    /// Older than the configured maximum age.
    pub stale: bool,
    /// The rate exactly as written, with its source and date
    /// (`ecb 2026-06-09: 1 EUR = 0.8653 GBP`).
    pub record: String,
}

/// The `effective_from` date of each economics table in force today (`None`: no table of
/// that kind applies).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TablesStatus {
    /// The date the tables were looked up for.
    pub date: String,
    /// VAT rates.
    pub vat: Option<String>,
    /// Referral fees and the digital services fee.
    pub referral: Option<String>,
    /// FBA fees for products Keepa has no fee for.
    pub fba: Option<String>,
    /// Monthly storage fees.
    pub storage: Option<String>,
}

impl TablesStatus {
    /// The tables without which rows have gross figures only (`NO_TABLE`) and that have no
    /// version in force: `VAT`, `referral fee`, `storage` (an FBA table is optional).
    pub fn missing(&self) -> Vec<&'static str> {
        [
            ("VAT", &self.vat),
            ("referral fee", &self.referral),
            ("storage", &self.storage),
        ]
        .into_iter()
        .filter(|(_, d)| d.is_none())
        .map(|(name, _)| name)
        .collect()
    }
}

/// What refreshing the watchlist costs, as the ingest stage runs it: the console's token
/// row multiplies it by the watchlist and the markets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RefreshPlan {
    /// Tokens one product costs in one market (1, plus 2 with Buy Box data; with it by
    /// route, what a product without it costs).
    pub tokens_per_product: i64,
    /// With Buy Box data by route (`keepa.buybox = "routes"`): how many products were
    /// fetched in this run, and how many of them with it (2 tokens more each).
    pub buybox_by_route: Option<BuyBoxShare>,
    /// Each product is refreshed at most once in this many seconds.
    pub interval_secs: u64,
    /// Best-seller discovery adds ASINs (`[discovery] categories` names lists).
    pub discovery: bool,
}

/// Products fetched, and those asked with the Buy Box among them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BuyBoxShare {
    /// Products (in one market each) fetched.
    pub asked: u64,
    /// Of those, the ones asked with the Buy Box.
    pub with_buybox: u64,
}

impl RefreshPlan {
    /// Tokens a product costs in one market on average: with the Buy Box by route, the
    /// share asked with it so far (`None` before any fetch: the cost is then between
    /// `tokens_per_product` and 2 more).
    pub fn average_cost(&self) -> Option<f64> {
        let base = self.tokens_per_product.max(1) as f64;
        match self.buybox_by_route {
            None => Some(base),
            Some(s) if s.asked == 0 => None,
            Some(s) => Some(base + 2.0 * s.with_buybox as f64 / s.asked as f64),
        }
    }

    /// What refreshing `product_markets` products (each in one market) costs: the low and
    /// the high estimate, equal unless the Buy Box by route has no fetch to go by yet.
    pub fn cost(&self, product_markets: i64) -> (i64, i64) {
        match self.average_cost() {
            Some(avg) => {
                let c = (product_markets as f64 * avg).round();
                let c = if c >= i64::MAX as f64 {
                    i64::MAX
                } else {
                    c as i64
                };
                (c, c)
            }
            None => self.bounds(product_markets),
        }
    }

    /// The least and the most refreshing `product_markets` products can cost: none or all
    /// of them with the Buy Box, by route; the same otherwise.
    pub fn bounds(&self, product_markets: i64) -> (i64, i64) {
        let base = self.tokens_per_product.max(1);
        let most = base + if self.buybox_by_route.is_some() { 2 } else { 0 };
        (
            product_markets.saturating_mul(base),
            product_markets.saturating_mul(most),
        )
    }
}

/// Everything the pipeline reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelineStatus {
    /// Live or demo data.
    pub source: Source,
    /// The markets this process tracks (`--markets`).
    pub markets: Vec<Market>,
    /// When the pipeline started.
    pub started_at: Option<DateTime<Utc>>,
    /// Whether the pipeline runs in this process (false for `--role api`).
    pub running: bool,
    /// Per-stage counters.
    pub stages: BTreeMap<String, StageStatus>,
    /// Messages queued or in flight.
    pub queue_depth: u64,
    /// The queue's own health report, refreshed by the pipeline.
    pub queue: Option<ComponentHealth>,
    /// On a shared queue, the topic and group this process uses ([`Queue::route`]).
    ///
    /// [`Queue::route`]: crate::queue::Queue::route
    pub queue_route: Option<String>,
    /// Messages sent to the dead-letter topic.
    pub dead_letters: u64,
    /// The Keepa client's state (tokens, errors, backoff).
    pub keepa: ClientStatus,
    /// This process runs a Keepa client (the ingest role); without one, `keepa` means nothing.
    pub keepa_client: bool,
    /// This process enriches, stores and detects (the process role).
    pub processing: bool,
    /// Scheduled jobs.
    pub jobs: Vec<JobStatus>,
    /// FX rate in use.
    pub fx: Option<FxStatus>,
    /// Economics tables in force (with a detector in this process).
    pub tables: Option<TablesStatus>,
    /// How the watchlist is refreshed (with an ingest stage in this process).
    pub refresh: Option<RefreshPlan>,
    /// In a process that runs no stage: the processes whose reports this status shows
    /// (latest first); see `pipeline::peers`. Not part of a report (only processes that
    /// run a stage report, and theirs is always empty).
    #[serde(skip)]
    pub peers: Vec<super::peers::Peer>,
    /// In a process that runs no stage: whose reports `keepa` and `queue` are taken from.
    #[serde(skip)]
    pub shown_from: super::peers::ShownFrom,
}

impl PipelineStatus {
    /// The counters of `stage`, once it has counted anything.
    pub fn stage(&self, stage: Stage) -> Option<&StageStatus> {
        self.stages.get(stage.name())
    }

    /// This process fetches from Keepa itself (its status is its own, not one merged from
    /// other processes' reports, and it runs a Keepa client).
    pub fn fetches_here(&self) -> bool {
        self.peers.is_empty() && self.keepa_client
    }

    /// The markets this process tracks; all of them when it does not say (a status built
    /// before the pipeline started, or by a test).
    pub fn tracked_markets(&self) -> Vec<Market> {
        if self.markets.is_empty() {
            Market::ALL.to_vec()
        } else {
            self.markets.clone()
        }
    }
}
