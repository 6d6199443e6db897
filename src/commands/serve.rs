//! Running arbdesk: the pipeline and the REST API in one process, until Ctrl-C or SIGTERM.
//!
//! Which parts run follows the roles (`--role ingest,process,api`, all by default). The API
//! address is checked before anything starts, so a refused bind fails fast with a clear
//! message. On a signal, the API stops accepting, ingest stops, processing drains what was
//! already fetched, and the process exits.

use std::sync::Arc;

use anyhow::Result;

use crate::api::{self, ApiState};
use crate::cli::Role;
use crate::config::Settings;
use crate::pipeline::{IngestGate, Pipeline, PipelineDeps, Source};
use crate::queue;
use crate::store::Store;

/// The parts of a running arbdesk: the pipeline and, when this process serves it, the API.
pub struct Runtime {
    /// The running pipeline.
    pub pipeline: Pipeline,
    /// The store everything reads and writes.
    pub store: Arc<dyn Store>,
    /// Explains stored rows (their breakdown lines).
    pub explainer: Arc<dyn crate::pipeline::Detect>,
    /// Live or demo.
    pub source: Source,
    /// The API's state and address, when it is served.
    pub api: Option<(ApiState, std::net::SocketAddr)>,
    api_task: Option<tokio::task::JoinHandle<()>>,
    /// Why the store was not claimed, when start-up had to wait for it and it then said it
    /// holds the other source's prices.
    refused: Option<Refused>,
    /// This process fetches into the local store: no other may.
    _fetch_lock: Option<super::fetch_lock::FetchLock>,
    /// This process fetches into the shared store: given back at the stop.
    fetch_lease: Option<super::fetch_lock::FetchLease>,
    /// Why this process lost the lease on fetching to another.
    lease_lost: Option<tokio::sync::oneshot::Receiver<anyhow::Error>>,
}

impl Runtime {
    /// Waits until the store, claimed late, refuses this process (never when the claim
    /// was made at start-up, or is made later), or another process turns out to hold the
    /// lease on fetching.
    pub async fn refused(&mut self) -> anyhow::Error {
        refusal(self.refused.take(), self.lease_lost.take()).await
    }

    /// For a process that goes on without fetching (the console): when another process
    /// turns out to hold the lease, its ingest stops with the reason in its status, and the
    /// rest runs on. (A store claimed late that refuses this process already stops ingest
    /// through its gate, with the same reason.)
    pub fn stop_fetching_when_refused(&mut self) {
        if let Some(lost) = self.lease_lost.take() {
            self.pipeline.stop_ingest_when(Box::pin(async move {
                format!("{:#}", reason(Some(lost)).await)
            }));
        }
    }

    /// Stops the API, drains the pipeline, gives back the lease on fetching.
    pub async fn stop(self) {
        self.pipeline.shutdown().await;
        if let Some(t) = self.api_task {
            let _ = t.await;
        }
        if let Some(lease) = self.fetch_lease {
            lease.release().await;
        }
    }
}

/// A refusal, once it comes (never, when none is given or its sender is gone).
async fn reason(rx: Option<tokio::sync::oneshot::Receiver<anyhow::Error>>) -> anyhow::Error {
    match rx {
        Some(rx) => match rx.await {
            Ok(e) => e,
            Err(_) => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// The first of the two refusals to come (never, for those not given).
async fn refusal(
    refused: Option<Refused>,
    lost: Option<tokio::sync::oneshot::Receiver<anyhow::Error>>,
) -> anyhow::Error {
    tokio::select! {
        e = reason(refused) => e,
        e = reason(lost) => e,
    }
}

/// Runs arbdesk headless.
pub async fn serve(settings: Settings) -> Result<()> {
    let mut runtime = start(&settings).await?;
    // What runs: the API role without an address serves nothing.
    let roles: Vec<Role> = settings
        .roles
        .iter()
        .copied()
        .filter(|r| *r != Role::Api || runtime.api.is_some())
        .collect();
    tracing::info!(
        source = runtime.source.label(),
        data_dir = %settings.data_dir.display(),
        roles = ?roles,
        api = %runtime.api.as_ref().map_or("off".to_string(), |(_, a)| a.to_string()),
        "arbdesk is running; Ctrl-C stops it."
    );
    let outcome = tokio::select! {
        _ = wait_for_signal() => Ok(()),
        e = runtime.refused() => Err(e),
    };
    // Asked again while stopping: stop at once (what is committed is in the store).
    tokio::spawn(async {
        wait_for_signal().await;
        tracing::warn!(
            "Stopping at once (a second signal): updates not yet stored are fetched again next run."
        );
        std::process::exit(130);
    });
    if runtime.pipeline.runs_stages() {
        tracing::info!("Stopping: draining in-flight updates.");
    } else {
        tracing::info!("Stopping.");
    }
    runtime.stop().await;
    outcome
}

/// The token `docker-compose.yml` falls back to when `ARBDESK_API_TOKEN` is unset: public,
/// so a process guarded by it says so.
pub const COMPOSE_FALLBACK_TOKEN: &str = "change-me-before-going-live";

/// The API this process serves, if its roles and address say it serves one; refuses a
/// listener the settings do not allow (a non-loopback address without a token).
pub fn api_settings(settings: &Settings) -> Result<Option<api::ApiSettings>> {
    let Some(addr) = settings.api.addr.filter(|_| settings.has_role(Role::Api)) else {
        return Ok(None);
    };
    let c = &settings.api;
    let token = match &c.token {
        Some(t) => Some(api::BearerToken::new(t.expose()).map_err(super::BadValue)?),
        None => None,
    };
    if c.token
        .as_ref()
        .is_some_and(|t| t.expose() == COMPOSE_FALLBACK_TOKEN)
    {
        tracing::warn!(
            "The API token is docker-compose.yml's fallback, which anyone who has read that \
             file knows: set ARBDESK_API_TOKEN (e.g. to the output of `openssl rand -hex 16`) \
             before this API is reachable from other machines."
        );
    }
    let s = api::ApiSettings {
        addr,
        bearer_token: token,
        cors_origins: c.cors_origins.clone(),
        allowed_hosts: c.allowed_hosts.clone(),
        request_timeout: c.request_timeout,
        body_limit: c.body_limit,
        insecure_no_auth: c.insecure_no_auth,
        read_only: settings.read_only,
        ..api::ApiSettings::default()
    };
    s.validate().map_err(super::BadValue)?;
    Ok(Some(s))
}

/// Starts the pipeline and the API as the settings and roles say.
pub async fn start(settings: &Settings) -> Result<Runtime> {
    let api_settings = api_settings(settings)?;
    // A process that only serves reads a store others fill: a data dir without one is a
    // mistake to report, not an empty catalogue to serve.
    let store = if settings.runs_pipeline() {
        super::open_store(settings)?
    } else {
        super::open_existing_store(settings).await?
    };
    // One process fetches into a store (see `fetch_lock`): a lock beside a local file, a
    // lease in a shared store, held until this process ends.
    let (fetch_lock, fetch_lease) = match settings.store.local_file(&settings.data_dir) {
        _ if !settings.has_role(Role::Ingest) => (None, None),
        Some(db) => (super::fetch_lock::take(&db)?, None),
        None => (
            None,
            Some(super::fetch_lock::lease(store.clone(), "the Elasticsearch store").await?),
        ),
    };
    let queue = if settings.runs_pipeline() {
        Some(queue::build(&settings.queue).await.map_err(|e| match e {
            // A mistake in the config: exit 2, not the outage's 1 that a supervisor
            // retries for ever.
            queue::QueueError::Config(_) => {
                anyhow::Error::new(super::BadValue(format!("Could not open the queue: {e}")))
            }
            e => anyhow::anyhow!("Could not open the queue: {e}"),
        })?)
    } else {
        None
    };
    // Bound before the store is claimed for a source: a start that fails here has fetched
    // nothing, and leaves the store as it found it.
    let listener = match &api_settings {
        Some(s) => Some(tokio::net::TcpListener::bind(s.addr).await.map_err(|e| {
            super::listen_failed(
                s.addr,
                " for the REST API",
                "pick another with --api-addr, or --api-addr off",
                e,
            )
        })?),
        None => None,
    };

    let (client, source) = price_source(settings, store.as_ref()).await?;
    let (ingest_gate, refused) =
        claim_before_ingest(settings, &store, source, fetch_lease.as_ref()).await?;
    // Every role explains rows (breakdowns for the API and the console); only processing
    // detects.
    let explainer = super::detector(settings);

    let pipeline = Pipeline::start(PipelineDeps {
        client,
        source,
        queue,
        store: store.clone(),
        detector: explainer.clone(),
        processes: settings.has_role(Role::Process),
        markets: settings.markets.clone(),
        settings: settings.pipeline.clone(),
        buybox: settings.keepa.buybox,
        ingest_gate,
    });

    let (api, api_task) = match listener.zip(api_settings) {
        Some((listener, api_settings)) => {
            let (api, task) = spawn_api(
                settings,
                &store,
                &pipeline,
                &explainer,
                listener,
                api_settings,
            );
            (api, Some(task))
        }
        None => (None, None),
    };
    let mut fetch_lease = fetch_lease;
    let lease_lost = fetch_lease.as_mut().and_then(|l| l.lost());
    Ok(Runtime {
        pipeline,
        store,
        explainer,
        source,
        api,
        api_task,
        refused,
        _fetch_lock: fetch_lock,
        fetch_lease,
        lease_lost,
    })
}

/// Serves the REST API on `listener` until the pipeline is cancelled: its state and
/// address (unknown if the socket cannot say), and the task serving it.
fn spawn_api(
    settings: &Settings,
    store: &Arc<dyn Store>,
    pipeline: &Pipeline,
    explainer: &Arc<dyn crate::pipeline::Detect>,
    listener: tokio::net::TcpListener,
    api_settings: api::ApiSettings,
) -> (
    Option<(ApiState, std::net::SocketAddr)>,
    tokio::task::JoinHandle<()>,
) {
    let mut state = ApiState::new(
        store.clone(),
        pipeline.status(),
        pipeline.generation(),
        api_settings,
        env!("CARGO_PKG_VERSION"),
    )
    .with_detector(explainer.clone());
    // Jobs run in the ingest role; without it `POST /jobs/…` says where to send them.
    if settings.has_role(Role::Ingest) {
        state = state.with_commands(pipeline.commands());
    }
    let api = match listener.local_addr() {
        Ok(addr) => {
            tracing::info!("REST API listening on http://{addr}");
            Some((state.clone(), addr))
        }
        Err(e) => {
            tracing::warn!(error = %e, "REST API listening; its address is unknown.");
            None
        }
    };
    let stop = pipeline.cancel_token();
    let task = tokio::spawn(async move {
        if let Err(e) = api::serve(state, listener, async move { stop.cancelled().await }).await {
            tracing::error!(error = %e, "The REST API stopped.");
        }
    });
    (api, task)
}

/// Where prices come from: with the ingest role, the Keepa client (or the simulator) it
/// fetches with, whose balance is asked at once; without it, no client, and the source the
/// store says filled it (as configured while it cannot say).
async fn price_source(
    settings: &Settings,
    store: &dyn Store,
) -> Result<(Option<crate::keepa::KeepaClient>, Source)> {
    Ok(if settings.has_role(Role::Ingest) {
        let (c, s) = super::keepa_source(settings, false)?;
        if s == Source::Live {
            tokio::spawn(check_keepa(c.clone()));
        } else {
            // The simulator's balance too is shown from the start, not from the first
            // product due (after a restart, up to a refresh interval later).
            let c = c.clone();
            tokio::spawn(async move { c.seed().await.ok() });
        }
        (Some(c), s)
    } else {
        // Not fetching: the prices are whoever's the store says filled it (as configured
        // while it cannot say).
        let configured = if settings.keepa.is_demo() {
            Source::Demo
        } else {
            Source::Live
        };
        let held = match super::data_source::of(store).await {
            Ok(Some(held)) => held,
            Ok(None) => {
                tracing::warn!(
                    "The store has no record of whose prices it holds (it was filled by \
                     `import` only, or by nothing yet): they are served as {} ones, as this \
                     process is configured ({}).",
                    configured.label().to_lowercase(),
                    if configured == Source::Demo {
                        "no Keepa key"
                    } else {
                        "a Keepa key"
                    }
                );
                configured
            }
            Err(e) if super::data_source::unreachable(&e) => {
                tracing::warn!(
                    "{e:#}. Taking the prices for {} ones, as configured; the store is \
                     used when it answers.",
                    configured.label().to_lowercase()
                );
                configured
            }
            Err(e) => return Err(e),
        };
        (None, held)
    })
}

/// The refusal a pending claim sends when the store turns out to hold the other source's
/// prices.
type Refused = tokio::sync::oneshot::Receiver<anyhow::Error>;

/// Claims the store for `source` before this process fetches into it: the process that
/// fetches decides whose prices the store holds, never both. A store that cannot say yet
/// (or a lease not held yet) is claimed when it answers, and nothing is fetched before:
/// then the gate the ingest stage waits on, and the receiver told if the claim is refused.
async fn claim_before_ingest(
    settings: &Settings,
    store: &Arc<dyn Store>,
    source: Source,
    fetch_lease: Option<&super::fetch_lock::FetchLease>,
) -> Result<(Option<IngestGate>, Option<Refused>)> {
    if !settings.has_role(Role::Ingest) {
        return Ok((None, None));
    }
    let place = super::data_source::place(settings);
    let db = settings.store.local_file(&settings.data_dir);
    let lease = fetch_lease.and_then(|l| l.pending());
    let wait = match super::data_source::claim(store.as_ref(), source, &place, db.as_deref()).await
    {
        Ok(()) => lease.is_some(),
        Err(e) if super::data_source::unreachable(&e) => {
            tracing::warn!(
                "{e:#}. Fetching starts when the store answers; the rest runs meanwhile."
            );
            true
        }
        Err(e) => return Err(e),
    };
    if !wait {
        return Ok((None, None));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let gate =
        super::data_source::claim_when_reachable(store.clone(), source, place, db, lease, tx);
    Ok((Some(gate), Some(rx)))
}

/// Whether this process was started with SIGHUP ignored (`nohup`), from the kernel's
/// record of ignored signals (Linux `/proc`; elsewhere taken as not ignored).
#[cfg(unix)]
fn hangup_ignored() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        // SIGHUP is signal 1: bit 0.
        .is_some_and(|mask| mask & 1 == 1)
}

/// Waits for Ctrl-C, SIGTERM or SIGHUP. A hangup (the terminal or SSH session it ran in
/// closed) stops it as SIGTERM does, draining what was fetched, where the default action
/// killed it on the spot; under `nohup` it is left alone.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let hangup = async {
            // Under `nohup` (SIGHUP ignored) a handler would undo what the operator asked.
            let handler = if hangup_ignored() {
                Err(std::io::Error::other("ignored"))
            } else {
                signal(SignalKind::hangup())
            };
            match handler {
                Ok(mut hup) => {
                    hup.recv().await;
                    tracing::info!("Hangup (SIGHUP): stopping as for SIGTERM.");
                }
                Err(_) => std::future::pending().await,
            }
        };
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                    () = hangup => {}
                }
            }
            Err(_) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    () = hangup => {}
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Asks Keepa for the token balance once at start (`/token` costs nothing; Keepa asks
/// clients not to poll it), so a wrong URL or key is in the log at once rather than when
/// the first product is due, which with an empty watchlist may be never. The pipeline's
/// first refresh needs the same answer and shares it (one request, not two).
async fn check_keepa(client: crate::keepa::KeepaClient) {
    match client.seed().await {
        Ok(()) => {
            let s = client.status();
            let known = |v: Option<i64>| v.map_or_else(|| "unknown".to_string(), |v| v.to_string());
            tracing::info!(
                tokens_left = s.tokens_left,
                refill_per_min = s.refill_rate,
                "Keepa answered: {} tokens left, refill {} per minute.",
                known(s.tokens_left),
                known(s.refill_rate)
            )
        }
        // Refused: traffic stops until a restart with another key or plan.
        Err(e) if e.is_fatal() => tracing::error!(
            "Keepa refused the start-up token check: {e}. Nothing is fetched until arbdesk \
             is restarted with a working keepa.key (KEEPA_API_KEY); stored data is still \
             served."
        ),
        Err(e) => tracing::warn!(
            "Keepa did not answer the start-up token check: {e}. Check keepa.url, keepa.key \
             (KEEPA_API_KEY) and the network; the pipeline keeps trying."
        ),
    }
}
