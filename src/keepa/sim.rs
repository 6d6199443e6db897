//! A Keepa-compatible API server: demo mode's data source and the tests' counterpart.
//!
//! It answers `/product`, `/token`, `/bestsellers` and `/category` as Keepa does (same
//! parameters, same JSON, gzip on request, the token envelope on every response, 429 when the
//! bucket is empty), for a deterministic catalogue in which every well-formed ASIN exists
//! (`catalog`). Fault knobs (`Faults`) inject server errors, latency, truncated bodies and
//! malformed products. It runs on a socket (`arbdesk keepa-sim`) or in process
//! (`Simulator::transport`: demo mode, and tests that drive the real client through it on
//! a paused clock).
//!
//! This is a server, so unlike the rest of `keepa` it is built on axum.

mod catalog;
mod rng;
mod server;
mod tokens;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tower::ServiceExt;

pub use catalog::{Catalog, CategoryRef, HISTORY_DAYS, Options, ROOTS, SimProduct, asin_from};
pub use tokens::TokenBucket;

use super::transport::{HttpResponse, Transport, TransportError, TransportFuture};

/// Simulator settings.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Catalogue seed: same seed, same products.
    pub seed: u64,
    /// Tokens granted per minute (the bucket holds an hour's worth and starts full).
    pub refill_rate: i64,
    /// Unix ms the simulated clock starts at; `None` = the wall clock.
    pub start_unix_ms: Option<i64>,
    /// Length of every best-seller list.
    pub bestseller_len: usize,
    /// Keys accepted; `None` accepts any non-empty key.
    pub accepted_keys: Option<Vec<String>>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            refill_rate: 3_000,
            start_unix_ms: None,
            bestseller_len: 500,
            accepted_keys: None,
        }
    }
}

/// Failure injection.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Share of requests answered 500/502/503.
    pub error_rate: f64,
    /// Added to every response.
    pub latency: Duration,
    /// Share of 200 responses whose body is cut in half.
    pub malformed_body_rate: f64,
    /// Share of products made malformed (odd-length history, wrong types).
    pub malformed_product_rate: f64,
    /// Answer every request with 402 (the subscription lapsed).
    pub payment_required: bool,
}

/// A running or runnable simulator. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Simulator {
    state: Arc<State>,
}

struct State {
    config: SimConfig,
    catalog: Catalog,
    started: Instant,
    start_unix_ms: i64,
    bucket: Mutex<TokenBucket>,
    faults: Mutex<Faults>,
    requests: AtomicU64,
}

impl State {
    /// Simulated Unix milliseconds: the start plus tokio time elapsed.
    fn now_ms(&self) -> i64 {
        self.start_unix_ms + self.started.elapsed().as_millis() as i64
    }

    fn faults(&self) -> Faults {
        self.faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Simulator {
    /// A simulator with `config`; its clock starts now.
    pub fn new(config: SimConfig) -> Self {
        let started = Instant::now();
        let start_unix_ms = config
            .start_unix_ms
            .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        Simulator {
            state: Arc::new(State {
                catalog: Catalog::new(config.seed),
                bucket: Mutex::new(TokenBucket::new(config.refill_rate, started)),
                faults: Mutex::new(Faults::default()),
                requests: AtomicU64::new(0),
                started,
                start_unix_ms,
                config,
            }),
        }
    }

    /// The HTTP routes.
    pub fn router(&self) -> Router {
        server::router(self.state.clone())
    }

    /// Replaces the fault knobs.
    pub fn set_faults(&self, faults: Faults) {
        *self
            .state
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = faults;
    }

    /// Current token balance.
    pub fn tokens_left(&self) -> i64 {
        self.state
            .bucket
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .left(Instant::now())
    }

    /// Requests served so far.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Simulated Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.state.now_ms()
    }

    /// The catalogue.
    pub fn catalog(&self) -> Catalog {
        self.state.catalog
    }

    /// An in-process transport for `KeepaClient::with_transport`: no sockets, so it runs on
    /// tokio's paused clock.
    pub fn transport(&self) -> Arc<dyn Transport> {
        Arc::new(InProcess {
            router: self.router(),
        })
    }

    /// Serves on `listener` until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Binds `addr` and serves in a background task; returns the bound address.
    pub async fn spawn(self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        tokio::spawn(async move {
            if let Err(e) = self.serve(listener, std::future::pending()).await {
                tracing::error!(error = %e, "Keepa simulator stopped.");
            }
        });
        Ok(local)
    }
}

/// Calls the router directly, as a transport.
struct InProcess {
    router: Router,
}

impl Transport for InProcess {
    fn get<'a>(&'a self, url: &'a url::Url) -> TransportFuture<'a> {
        Box::pin(async move {
            let target = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            };
            let req = axum::http::Request::get(target)
                .body(axum::body::Body::empty())
                .map_err(|e| TransportError::Connect(e.to_string()))?;
            let resp = match self.router.clone().oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            let status = resp.status().as_u16();
            let body = axum::body::to_bytes(resp.into_body(), 256 << 20)
                .await
                .map_err(|e| TransportError::Body(e.to_string()))?;
            Ok(HttpResponse { status, body })
        })
    }
}
