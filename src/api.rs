//! The REST API: what scripts, spreadsheets, dashboards and Prometheus see.
//!
//! axum over the same store the console reads, never the other way round: the engine does
//! not know this module exists. Handlers are thin — parse the query strictly, ask the store,
//! shape the answer — and the hot list endpoints answer from a cache of pre-serialized
//! bodies that the pipeline's generation counter invalidates after every store write. One
//! `ApiError` answers every failure that reaches the router as problem+json (the HTTP layer
//! itself answers a malformed or oversized request line or headers with an empty 400, 414
//! or 431). Layers, outermost first: tracing, CORS
//! (allow-list; none configured = no CORS headers), gzip, then one `Front` layer for
//! request metrics, bearer auth, body limit, request timeout and error shaping.

mod actions;
mod cache;
mod docs;
pub(crate) mod dto;
mod error;
mod health;
mod jobs;
mod lockout;
mod metrics;
mod middleware;
mod opportunities;
mod params;
mod products;
mod respond;
mod schema;
mod server;
mod settings;
mod stats;
mod watchlist;

use std::future::Future;
use std::io;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceBuilder;

use crate::pipeline::Detect;
use tower::util::option_layer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

pub use cache::CacheStats;
pub use error::{ApiError, PROBLEM_JSON, Problem};
pub use metrics::{ApiActivity, ServerError};
pub use settings::{ApiSettings, BearerToken, check_bind};

use crate::pipeline::PipelineStatus;
use crate::store::Store;

/// Everything a request handler may read. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    status: watch::Receiver<PipelineStatus>,
    generation: watch::Receiver<u64>,
    settings: ApiSettings,
    version: &'static str,
    cache: cache::ResponseCache,
    metrics: metrics::HttpMetrics,
    /// `/openapi.json` and `/docs`, built once (they change with the binary only).
    openapi: Arc<cache::Entry>,
    docs: Arc<cache::Entry>,
    commands: std::sync::OnceLock<crate::pipeline::Commands>,
    /// Explains rows for `breakdown=true` (without one, rows come without lines).
    detect: std::sync::OnceLock<Arc<dyn Detect>>,
    /// The last store probe found the store down: cached bodies are not served then.
    store_down: std::sync::atomic::AtomicBool,
    /// Why, as the last probe that found it down said.
    store_down_detail: std::sync::Mutex<String>,
    /// The last store probe did not answer within its deadline.
    store_slow: std::sync::atomic::AtomicBool,
    /// Wrong bearer tokens since the last warning about them, and when that was.
    bad_tokens: std::sync::Mutex<(u64, Option<std::time::Instant>)>,
    /// Wrong bearer tokens per client address, and who is locked out for them.
    lockout: lockout::Lockout,
    /// The watchlist's size for `/health`'s token verdict, and when it was read.
    watched: std::sync::Mutex<Option<(std::time::Instant, u64)>>,
    /// The last store probe and when it ended; held while a probe runs, so that callers
    /// arriving meanwhile wait for its answer rather than probe beside it.
    last_probe: tokio::sync::Mutex<Option<(tokio::time::Instant, health::StoreProbe)>>,
}

impl ApiState {
    /// State over `store`, reporting the pipeline's `status`, with cached bodies dropped
    /// whenever `generation` changes (the pipeline bumps it after every store write).
    pub fn new(
        store: Arc<dyn Store>,
        status: watch::Receiver<PipelineStatus>,
        generation: watch::Receiver<u64>,
        settings: ApiSettings,
        version: &'static str,
    ) -> Self {
        let cache = cache::ResponseCache::new(settings.cache_max_entries, settings.cache_max_bytes);
        ApiState {
            inner: Arc::new(Inner {
                store,
                status,
                generation,
                cache,
                metrics: metrics::HttpMetrics::new(),
                openapi: Arc::new(cache::Entry::new(docs::openapi_bytes(version), 0)),
                docs: Arc::new(cache::Entry::new(
                    Bytes::from_static(docs::PAGE.as_bytes()),
                    0,
                )),
                settings,
                version,
                commands: std::sync::OnceLock::new(),
                detect: std::sync::OnceLock::new(),
                store_down: std::sync::atomic::AtomicBool::new(false),
                store_down_detail: std::sync::Mutex::new(String::new()),
                store_slow: std::sync::atomic::AtomicBool::new(false),
                bad_tokens: std::sync::Mutex::new((0, None)),
                lockout: lockout::Lockout::default(),
                watched: std::sync::Mutex::new(None),
                last_probe: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// Lets `POST /jobs/{name}` queue commands for the pipeline's ingest stage.
    /// A state's command channel is set once; later calls keep the first.
    /// Refreshes share the channel's ledger with everything else that holds it (the
    /// console of the same process).
    pub fn with_commands(self, commands: impl Into<crate::pipeline::Commands>) -> Self {
        let _ = self.inner.commands.set(commands.into());
        self
    }

    /// Lets `breakdown=true` rebuild each row's breakdown lines from its stored product.
    /// Set once; later calls keep the first.
    pub fn with_detector(self, detect: Arc<dyn Detect>) -> Self {
        let _ = self.inner.detect.set(detect);
        self
    }

    fn detector(&self) -> Option<Arc<dyn Detect>> {
        self.inner.detect.get().cloned()
    }

    fn commands(&self) -> Option<&crate::pipeline::Commands> {
        self.inner.commands.get()
    }

    /// The settings in force.
    pub fn settings(&self) -> &ApiSettings {
        &self.inner.settings
    }

    /// Requests answered since start and the server errors among them (the console's
    /// health view shows them).
    pub fn activity(&self) -> ApiActivity {
        self.inner.metrics.activity()
    }

    /// Response cache counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.cache.stats()
    }

    fn store(&self) -> Arc<dyn Store> {
        self.inner.store.clone()
    }

    fn status_snapshot(&self) -> PipelineStatus {
        self.inner.status.borrow().clone()
    }

    /// The last store probe (by `/health` or the background watch) found it down.
    fn store_down(&self) -> bool {
        self.inner
            .store_down
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records whether the store's probe ran past its deadline; returns whether the one
    /// before did.
    fn swap_store_slow(&self, slow: bool) -> bool {
        self.inner
            .store_slow
            .swap(slow, std::sync::atomic::Ordering::Relaxed)
    }

    /// The last store probe, locked (see [`health::probe_store`]).
    async fn last_probe(
        &self,
    ) -> tokio::sync::MutexGuard<'_, Option<(tokio::time::Instant, health::StoreProbe)>> {
        self.inner.last_probe.lock().await
    }

    /// The watchlist's size as last read, and when.
    fn watched(&self) -> std::sync::MutexGuard<'_, Option<(std::time::Instant, u64)>> {
        self.inner
            .watched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Why the last store probe found it down (while it is).
    fn store_down_detail(&self) -> String {
        self.inner
            .store_down_detail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Records what a store probe found: down (with why) or not. Going down is logged as
    /// an error with its reason, coming back as news: a store found damaged at start is
    /// otherwise only in `/health`.
    fn set_store_down(&self, down: Option<&str>) {
        if let Some(why) = down {
            why.clone_into(
                &mut self
                    .inner
                    .store_down_detail
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
        }
        let was = self
            .inner
            .store_down
            .swap(down.is_some(), std::sync::atomic::Ordering::Relaxed);
        match (was, down) {
            (false, Some(why)) => tracing::error!(
                "The store is down: {why}. The API answers 503 to what needs it until it is \
                 back."
            ),
            (true, None) => tracing::info!("The store answers again."),
            _ => {}
        }
    }

    /// Counts a request with a wrong bearer token from `client` at `now`: towards its
    /// lockout, and in a warning at most once a minute with how many there were.
    fn bad_token(&self, client: Option<std::net::IpAddr>, now: std::time::Instant) {
        match self.inner.lockout.strike(client, now) {
            lockout::Strike::Counted => {}
            lockout::Strike::Locked => tracing::warn!(
                client = client.map_or_else(|| "unknown".to_string(), |ip| ip.to_string()),
                lock_s = lockout::LOCK.as_secs(),
                "An API client sent {} wrong bearer tokens within {} s: its requests with a \
                 token are refused (429) until the lock ends.",
                lockout::MAX_WRONG,
                lockout::WINDOW.as_secs(),
            ),
            lockout::Strike::LockedUntracked => tracing::warn!(
                last_client = client.map_or_else(|| "unknown".to_string(), |ip| ip.to_string()),
                lock_s = lockout::LOCK.as_secs(),
                "Wrong bearer tokens from more clients than the lockout tracks: the {} last \
                 between them lock out every one of them that sent a wrong token (429 for \
                 requests with a token) until the lock ends. Someone is likely guessing from \
                 many addresses: keep the API behind a firewall.",
                lockout::MAX_WRONG,
            ),
        }
        let mut seen = self
            .inner
            .bad_tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.0 += 1;
        let due = seen
            .1
            .is_none_or(|t| now.duration_since(t) >= std::time::Duration::from_secs(60));
        if due {
            tracing::warn!(
                requests = seen.0,
                "API requests with a wrong bearer token (since the last such warning); if they \
                 are not yours, someone may be guessing it: keep the API on loopback or behind \
                 a firewall, and use a long token."
            );
            *seen = (0, Some(now));
        }
    }

    fn lockout(&self) -> &lockout::Lockout {
        &self.inner.lockout
    }

    fn generation(&self) -> u64 {
        *self.inner.generation.borrow()
    }

    fn version(&self) -> &'static str {
        self.inner.version
    }

    fn cache(&self) -> &cache::ResponseCache {
        &self.inner.cache
    }

    fn http_metrics(&self) -> &metrics::HttpMetrics {
        &self.inner.metrics
    }

    fn openapi(&self) -> &cache::Entry {
        &self.inner.openapi
    }

    fn docs(&self) -> &cache::Entry {
        &self.inner.docs
    }
}

/// The API's routes with every layer applied.
pub fn router(state: ApiState) -> Router {
    let settings = state.settings();
    let cors = cors_layer(&settings.cors_origins);
    let layers = ServiceBuilder::new()
        // Failures are logged where they are understood (`ApiError`), not again as "5xx".
        .layer(TraceLayer::new_for_http().on_failure(()))
        .layer(option_layer(cors))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::map_response(no_sniffing))
        .layer(middleware::FrontLayer::new(state.clone()));
    Router::new()
        .route("/health", get(health::health))
        .route("/products", get(products::list))
        .route("/products/{asin}", get(products::detail))
        .route("/opportunities", get(opportunities::list))
        .route("/stats", get(stats::stats))
        .route("/watchlist", get(watchlist::list))
        .route("/jobs/{name}", axum::routing::post(jobs::run))
        .route("/actions", get(actions::list))
        .route("/actions/{id}", axum::routing::post(actions::run))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(docs::openapi_json))
        .route("/docs", get(docs::docs_page))
        .fallback(not_found)
        .layer(layers)
        .with_state(state)
}

/// Every answer says its content type is the one to go by: an error's `detail` repeats
/// what the client sent (JSON-escaped), which a browser must never read as a page.
async fn no_sniffing(mut res: axum::response::Response) -> axum::response::Response {
    res.headers_mut().insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    res
}

/// Serves the API on `listener` until `shutdown` completes, then drains open requests.
/// Refuses (`PermissionDenied`) a non-loopback listener without a token, like `check_bind`.
pub async fn serve(
    state: ApiState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    settings::check_addr(addr, state.settings())
        .map_err(|msg| io::Error::new(io::ErrorKind::PermissionDenied, msg))?;
    tracing::info!(
        %addr,
        auth = state.settings().bearer_token.is_some(),
        "Serving the REST API."
    );
    if !settings::is_loopback(addr) && state.settings().bearer_token.is_none() {
        tracing::warn!(
            %addr,
            "The API is open to the network without a token (--insecure-no-auth): anyone who \
             can reach {addr} can read every opportunity and start jobs that spend Keepa \
             tokens. Set api.token / ARBDESK_API_TOKEN to require one."
        );
    }
    if let Some(token) = &state.settings().bearer_token
        && !settings::is_loopback(addr)
        && token.expose().len() < settings::MIN_NETWORK_TOKEN
    {
        // Allowed only with --insecure-no-auth (see `check_addr`).
        tracing::warn!(
            %addr,
            "The API's token has {} characters, fewer than the {} a token reachable from other \
             machines needs; served because of --insecure-no-auth. `openssl rand -hex 32` makes \
             a strong one.",
            token.expose().len(),
            settings::MIN_NETWORK_TOKEN
        );
    }
    tokio::spawn(probe_store_loop(Arc::downgrade(&state.inner)));
    // Open requests get as long to finish as one request may take.
    let drain = state.settings().request_timeout;
    server::run(listener, router(state), shutdown, drain).await
}

/// Probes the store every few seconds while the API's state lives, so that queries answer
/// 503 while it says it is down even when a cached body would do (a cached body is only as
/// good as the store behind it) and resume as soon as it is back. (A store that is only
/// slow to answer the probe is asked by each query.)
async fn probe_store_loop(state: std::sync::Weak<Inner>) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(2);
    loop {
        let Some(inner) = state.upgrade() else { return };
        let state = ApiState { inner };
        // The probe records what it found.
        health::probe_store(&state).await;
        drop(state);
        tokio::time::sleep(EVERY).await;
    }
}

/// CORS for the configured origins; `None` (no CORS headers at all) when there are none.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let mut list = Vec::new();
        for o in origins {
            match settings::check_origin(o).and_then(|()| {
                HeaderValue::from_str(o).map_err(|e| format!("invalid CORS origin '{o}': {e}"))
            }) {
                Ok(v) => list.push(v),
                Err(msg) => tracing::warn!(error = %msg, "Ignoring a CORS origin."),
            }
        }
        AllowOrigin::list(list)
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::HEAD, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_NONE_MATCH,
            ])
            .expose_headers([header::ETAG, header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// The GET endpoints, as a 404 lists them (the test below checks them against the OpenAPI
/// document).
const ENDPOINTS: [&str; 10] = [
    "/health",
    "/actions",
    "/products",
    "/products/{asin}",
    "/opportunities",
    "/stats",
    "/watchlist",
    "/metrics",
    "/openapi.json",
    "/docs",
];

/// The POST endpoints.
const POST_ENDPOINTS: [&str; 2] = ["/jobs/{name}", "/actions/{id}"];

/// Whether `path` is one of the endpoints (a route pattern's `{…}` matches one segment).
fn is_endpoint(path: &str) -> bool {
    ENDPOINTS
        .iter()
        .chain(&POST_ENDPOINTS)
        .any(|pattern| route_matches(pattern, path))
}

/// The methods `path` takes, as an `Allow` value (the routes of [`router`]).
fn allowed_methods(path: &str) -> &'static str {
    if POST_ENDPOINTS.iter().any(|p| route_matches(p, path)) {
        "POST"
    } else {
        "GET, HEAD"
    }
}

/// Whether `path` is one `pattern` routes, a `{name}` segment matching any one segment.
fn route_matches(pattern: &str, path: &str) -> bool {
    let (mut p, mut q) = (pattern.split('/'), path.split('/'));
    loop {
        match (p.next(), q.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == b || (a.starts_with('{') && !b.is_empty()) => {}
            _ => return false,
        }
    }
}

async fn not_found(req: Request) -> Response {
    let path = req.uri().path();
    let trimmed = path.trim_end_matches('/');
    let known = is_endpoint(trimmed);
    let hint = if trimmed != path && !trimmed.is_empty() && known {
        format!(" (did you mean '{trimmed}', without the trailing slash?)")
    } else {
        String::new()
    };
    let post: Vec<String> = POST_ENDPOINTS.iter().map(|p| format!("POST {p}")).collect();
    ApiError::not_found(format!(
        "no endpoint at '{}'{hint}; the endpoints are {}, {}",
        error::shorten(path),
        ENDPOINTS.join(", "),
        post.join(" and ")
    ))
    .into_response()
}

#[cfg(test)]
mod endpoint_tests {
    use super::{ENDPOINTS, POST_ENDPOINTS, docs};

    #[test]
    fn the_404_lists_every_documented_endpoint() {
        let doc: serde_json::Value =
            serde_json::from_slice(&docs::openapi_bytes("test")).expect("OpenAPI JSON");
        let paths = doc["paths"].as_object().expect("paths");
        for (path, item) in paths {
            if item.get("get").is_some() {
                assert!(ENDPOINTS.contains(&path.as_str()), "GET {path} not listed");
            }
            if item.get("post").is_some() {
                assert!(
                    POST_ENDPOINTS.contains(&path.as_str()),
                    "POST {path} not listed"
                );
            }
        }
        for path in ENDPOINTS.iter().chain(&POST_ENDPOINTS) {
            assert!(paths.contains_key(*path), "{path} is not documented");
        }
    }
}
