//! The pipeline: ingest → queue → enrich → store → detect → store.
//!
//! This module is the only place that spawns the pipeline's stages and wires them together
//! (the API server, the console and the store run tasks of their own). The
//! stages themselves are plain values (`Enricher`, and a `Detect` implementation from the
//! economics model) tested on their own. One `CancellationToken` stops everything: ingest
//! stops fetching, the queue is closed, processing drains what was already published, and
//! only then does `shutdown` return, so an accepted update is never lost.
//!
//! Status is published on a `watch` channel (`PipelineStatus`) and a data generation
//! counter is bumped after every store write, which the API uses to invalidate its cache.
//!
//! Beside the process stage runs `sweep`: stored rows computed under other economics
//! settings, or ranked on data the freshness gates have since come to refuse, are
//! computed again from their stored products.

mod commands;
pub mod enrich;
mod fx;
pub mod health;
mod ingest;
pub mod peers;
mod process;
mod stats;
pub mod status;
pub mod sweep;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use commands::{
    Command, Commands, DiscoveryAsked, NO_DISCOVERY, REFRESH_AGAIN_AFTER, Refresh, RunInHand,
    not_taken,
};
pub use enrich::{EnrichError, Enricher};
use fx::{Restored, fx_job};
pub use fx::{restore_fx, restore_fx_from};
pub use process::DETECT_PENDING;
pub use status::{
    BuyBoxShare, FxStatus, JobStatus, PipelineStatus, RefreshPlan, Source, Stage, StageStatus,
    TablesStatus,
};

use crate::component::BoxFuture;
use crate::config::{BuyBox, PipelineSettings};
use crate::domain::{Asin, Market, Opportunity, Product};
use crate::keepa::KeepaClient;
use crate::queue::Queue;
use crate::store::Store;

/// Computes the opportunities of a merged product (the economics model, with its FX state).
pub trait Detect: Send + Sync {
    /// Every route of `product` with a positive gross margin, evaluated at `now`.
    fn detect(&self, product: &Product, now: DateTime<Utc>) -> Vec<Opportunity>;
    /// `row` with its breakdown lines, recomputed from `product` at the row's own time and
    /// FX rate (so its figures are the stored ones while the product is unchanged), keeping
    /// the row's `first_seen`. When that gives other figures, or no route (the product or
    /// the settings changed since), the stored row without lines and with
    /// `breakdown.unexplained` saying why; `None` only where no explanation is possible.
    fn explain(&self, product: &Product, row: &Opportunity) -> Option<Opportunity>;
    /// The FX rate in use, for the status snapshot.
    fn fx(&self) -> Option<FxStatus>;
    /// The economics tables in force today, for the status snapshot.
    fn tables(&self) -> Option<TablesStatus>;
    /// Takes a rate fetched elsewhere (by an earlier run, or by another process), given as
    /// its record (what `refresh_fx` reports), if this detector fetches rates and the rate
    /// is newer than the one it has (and not older than the shipped one); `true` if it did.
    /// A restart without network then goes on with the last rate fetched rather than the
    /// older shipped one, and a process that does not detect shows the rate that is used.
    fn restore_fx(&self, record: &str) -> bool;
    /// Fetches a fresh FX rate, if this detector fetches rates at all; `Ok` is the rate's
    /// record (`ecb 2026-06-09: 1 EUR = 0.8653 GBP`), which `restore_fx` takes back.
    fn refresh_fx<'a>(
        &'a self,
        client: &'a reqwest::Client,
    ) -> Option<BoxFuture<'a, Result<String, String>>>;
    /// When the next fetch is due after one attempted at `last_attempt` (`[fx]
    /// fetch_after`: the next working day's publication); `None` when there is no schedule.
    fn fx_next_fetch(&self, last_attempt: DateTime<Utc>) -> Option<DateTime<Utc>>;
    /// What the rows this detector computes depend on besides the product, the time and
    /// the fetched rate (the economics settings and the program's version), as an id:
    /// rows stored under another id are out of date.
    fn settings_id(&self) -> &str;
}

/// Runs detection over merged products on the blocking pool (it is CPU work), on every core
/// for large batches, returning each ASIN with its complete set of opportunities in input
/// order, ready for `Store::replace_opportunities`.
///
/// A product whose detection panics (a defect, never bad input: detection takes any stored
/// product) is logged with its ASIN and left out, so its stored routes stay as they were
/// and the rest of the batch goes on; redelivering the batch would only fail again.
pub async fn detect_all(
    detect: Arc<dyn Detect>,
    products: Vec<Product>,
    now: DateTime<Utc>,
) -> Result<Vec<(Asin, Vec<Opportunity>)>, tokio::task::JoinError> {
    /// Below this many products a second thread costs more than it saves.
    const PER_THREAD: usize = 256;
    tokio::task::spawn_blocking(move || {
        let run = |part: &[Product]| -> Vec<(Asin, Vec<Opportunity>)> {
            part.iter()
                .filter_map(|p| {
                    let rows = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        detect.detect(p, now)
                    }));
                    match rows {
                        Ok(rows) => Some((p.asin, rows)),
                        Err(_) => {
                            tracing::error!(
                                asin = %p.asin,
                                "Detection failed on this product (a defect in arbdesk: please \
                                 report it with `arbdesk export` of the product); its stored \
                                 opportunities are kept as they were."
                            );
                            None
                        }
                    }
                })
                .collect()
        };
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(products.len() / PER_THREAD)
            .max(1);
        if threads == 1 {
            return run(&products);
        }
        let chunk = products.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = products
                .chunks(chunk)
                .map(|part| s.spawn(move || run(part)))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    })
    .await
}

/// `rows` with their breakdown lines, each explained from its product as stored now (one
/// store read for all their products). A row whose product is gone is returned as it is,
/// without lines; one whose product no longer gives its figures, without lines and with
/// `breakdown.unexplained` saying why ([`Detect::explain`]); a store error is returned as
/// such.
pub async fn explain_all(
    store: &dyn Store,
    detect: &dyn Detect,
    rows: Vec<Opportunity>,
) -> Result<Vec<Opportunity>, crate::store::StoreError> {
    let mut asins: Vec<Asin> = rows.iter().map(|r| r.asin).collect();
    asins.sort_unstable();
    asins.dedup();
    let found = store.products_by_asin(asins.clone()).await?;
    let products: std::collections::HashMap<Asin, Product> = asins
        .into_iter()
        .zip(found)
        .filter_map(|(a, p)| Some((a, p?)))
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| {
            products
                .get(&row.asin)
                .and_then(|p| detect.explain(p, &row))
                .unwrap_or(row)
        })
        .collect())
}

/// Bumps the data generation when another process has written the store (its latest
/// update or its counts moved, the watchlist's included: what a refresh round costs
/// follows it), so cached answers built before are dropped. In a process that writes
/// itself, its own writes move them too: one more rebuild of a cached answer.
async fn follow_other_writers(
    store: Arc<dyn Store>,
    generation: Arc<watch::Sender<u64>>,
    cancel: CancellationToken,
) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(2);
    let mut last = None;
    loop {
        if let Ok(s) = store.stats().await {
            let marker = (
                s.last_update,
                s.opportunities,
                s.total_products,
                s.watchlist,
            );
            if last.as_ref() != Some(&marker) {
                if last.is_some() {
                    generation.send_modify(|g| *g += 1);
                }
                last = Some(marker);
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// What ingest waits for before its first fetch. Start-up uses it when the store cannot say
/// yet which source filled it, or a killed process's lease on fetching is being waited out.
pub struct IngestGate {
    /// Ends `Ok` to go on, `Err(why)` to fetch nothing (the ingest status then says why).
    pub open: BoxFuture<'static, Result<(), String>>,
    /// What it waits for meanwhile, as the pipeline's health says it.
    pub waiting_for: tokio::sync::watch::Receiver<String>,
}

/// What the pipeline is built from.
pub struct PipelineDeps {
    /// Where data comes from (`None` when this process does not ingest).
    pub client: Option<KeepaClient>,
    /// Live or demo.
    pub source: Source,
    /// The queue between ingest and processing (`None` when this process does neither:
    /// an API-only process needs no broker).
    pub queue: Option<Arc<dyn Queue>>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The economics of this process: it computes the routes where this process runs the
    /// process stage, and everywhere explains rows and holds the FX rate the status shows
    /// (a process that does not detect follows the rate the detecting one records).
    pub detector: Arc<dyn Detect>,
    /// Whether this process runs the process stage (enrich, store, detect): the `process`
    /// role.
    pub processes: bool,
    /// Markets to refresh.
    pub markets: Vec<Market>,
    /// Intervals and batch sizes.
    pub settings: PipelineSettings,
    /// Which products Keepa is asked Buy Box data for.
    pub buybox: BuyBox,
    /// What ingest waits for first, if anything.
    pub ingest_gate: Option<IngestGate>,
}

/// A running pipeline.
pub struct Pipeline {
    /// Processing stopped with updates the store did not take.
    left_behind: Arc<std::sync::atomic::AtomicBool>,
    status: watch::Receiver<PipelineStatus>,
    generation: watch::Receiver<u64>,
    commands: Commands,
    cancel: CancellationToken,
    queue: Option<Arc<dyn Queue>>,
    ingest: JoinSet<()>,
    /// Stops ingest alone (a child of `cancel`).
    ingest_cancel: CancellationToken,
    process: JoinSet<()>,
    background: JoinSet<()>,
    stats: Arc<stats::Stats>,
}

impl Pipeline {
    /// Starts the stages this process runs: ingest when a client is given, processing when
    /// a detector is given. Must be called inside a tokio runtime.
    pub fn start(deps: PipelineDeps) -> Pipeline {
        let cancel = CancellationToken::new();
        let stats = Arc::new(stats::Stats::new(
            deps.source,
            deps.markets.clone(),
            deps.client.is_some(),
            deps.processes,
        ));
        let (gen_tx, generation) = watch::channel(0u64);
        let gen_tx = Arc::new(gen_tx);
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let commands = Commands::from(cmd_tx);
        let mut ingest = JoinSet::new();
        let ingest_cancel = cancel.child_token();
        let mut process = JoinSet::new();
        let mut background = JoinSet::new();
        let restored = Restored::default();
        let left_behind = Arc::new(std::sync::atomic::AtomicBool::new(false));

        if deps.queue.is_none() && (deps.client.is_some() || deps.processes) {
            tracing::error!("Ingest and processing need a queue; neither stage runs.");
        }
        if let (Some(client), Some(queue)) = (deps.client.clone(), deps.queue.clone()) {
            let stage = ingest::Ingest {
                client,
                queue,
                store: deps.store.clone(),
                markets: deps.markets.clone(),
                settings: deps.settings.clone(),
                buybox: deps.buybox,
                source: deps.source,
                stats: stats.clone(),
                ledger: commands.ledger(),
                failing: ingest::Failing::default(),
                buybox_held: Default::default(),
            };
            let plan = RefreshPlan {
                // The refresh's query (`ingest::Ingest::fetch`): no `update`.
                tokens_per_product: crate::keepa::ProductQuery::product_cost(
                    deps.buybox.asks(false),
                    None,
                ),
                buybox_by_route: (deps.buybox == BuyBox::Routes).then(Default::default),
                interval_secs: deps.settings.refresh_interval.as_secs(),
                discovery: !deps.settings.discovery.is_empty(),
            };
            stats.set_refresh_plan(plan);
            ingest.spawn(stage.run(deps.ingest_gate, cmd_rx, ingest_cancel.clone()));
        }
        if deps.processes
            && let Some(queue) = deps.queue.clone()
        {
            let detect = deps.detector.clone();
            // Live, the first batch is computed with the last rate fetched, not the shipped
            // one: the rate is taken back before the stage starts.
            let restore =
                (deps.source == Source::Live).then(|| (deps.store.clone(), restored.clone()));
            let stage = process::Process {
                awaits_ingest: deps.client.is_none() && queue.shared(),
                queue,
                store: deps.store.clone(),
                detect: detect.clone(),
                batch: deps.settings.process_batch,
                stats: stats.clone(),
                generation: gen_tx.clone(),
                left_behind: left_behind.clone(),
            };
            background.spawn(sweep::run(
                deps.store.clone(),
                detect.clone(),
                gen_tx.clone(),
                cancel.clone(),
            ));
            let cancel = cancel.clone();
            process.spawn(async move {
                if let Some((store, restored)) = restore {
                    restored.get_or_init(|| restore_fx(&*store, &*detect)).await;
                }
                stage.run(cancel).await;
            });
        }
        // Other processes write the store too (roles across processes, an `import`): their
        // writes drop cached answers here as well.
        background.spawn(follow_other_writers(
            deps.store.clone(),
            gen_tx,
            cancel.clone(),
        ));
        if deps.source == Source::Live && deps.processes {
            let detect = deps.detector.clone();
            background.spawn(fx_job(
                detect,
                stats.clone(),
                deps.store.clone(),
                restored,
                cancel.clone(),
            ));
        }
        let status = stats.subscribe();
        // Processes that run a stage report to the store; one that runs none shows them.
        let (peers_tx, peers_rx) = watch::channel(peers::Reports::default());
        background.spawn(peers::run(
            deps.store.clone(),
            status.clone(),
            // As the status says from the start (and `stats::publish` reads it); the reports'
            // merge later sets `running` in a process that runs no stage.
            status.borrow().running,
            peers_tx,
            cancel.clone(),
        ));
        background.spawn(stats::publish(
            stats.clone(),
            deps.client,
            deps.queue.clone(),
            deps.store.clone(),
            // A process that does not detect follows the FX rate the detecting one records
            // (live only: that process takes it back only live; demo data is computed with
            // the shipped rate).
            !deps.processes && deps.source == Source::Live,
            deps.detector,
            peers_rx,
            cancel.clone(),
        ));
        Pipeline {
            left_behind,
            status,
            generation,
            commands,
            cancel,
            queue: deps.queue,
            ingest,
            ingest_cancel,
            process,
            background,
            stats,
        }
    }

    /// Stops ingest for good once `why` resolves (this process lost the right to fetch),
    /// with the reason in its status; processing, the API and the console go on.
    pub fn stop_ingest_when(&mut self, why: BoxFuture<'static, String>) {
        if self.ingest.is_empty() {
            return;
        }
        let (stop, stats, cancel) = (
            self.ingest_cancel.clone(),
            self.stats.clone(),
            self.cancel.clone(),
        );
        self.background.spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                why = why => {
                    stop.cancel();
                    stats.stop(Stage::Ingest, why);
                }
            }
        });
    }

    /// The status snapshot channel.
    pub fn status(&self) -> watch::Receiver<PipelineStatus> {
        self.status.clone()
    }

    /// The data generation channel, bumped after every store write.
    pub fn generation(&self) -> watch::Receiver<u64> {
        self.generation.clone()
    }

    /// Sends commands to the ingest stage (clones share one ledger of refreshes).
    pub fn commands(&self) -> Commands {
        self.commands.clone()
    }

    /// A token that stops the pipeline when cancelled.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Whether this process runs a stage (ingest or processing): one that runs none (an
    /// API or a console beside the processes that do) has nothing in flight to drain.
    pub fn runs_stages(&self) -> bool {
        !self.ingest.is_empty() || !self.process.is_empty()
    }

    /// Stops ingest, lets processing drain what was published, then stops the rest.
    pub async fn shutdown(mut self) {
        let staged = self.runs_stages();
        self.cancel.cancel();
        while self.ingest.join_next().await.is_some() {}
        if let Some(queue) = &self.queue {
            queue.close();
        }
        while self.process.join_next().await.is_some() {}
        while self.background.join_next().await.is_some() {}
        if self.left_behind.load(std::sync::atomic::Ordering::Relaxed) {
            tracing::info!(
                "Pipeline stopped; the updates the store did not take (see above) are delivered \
                 or fetched again."
            );
        } else if staged {
            tracing::info!("Pipeline stopped; in-flight updates were drained.");
        }
    }
}
