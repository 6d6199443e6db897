//! The Keepa API client: token-aware, retrying, typed.
//!
//! Every request queues through one async mutex that owns the token bucket, so requests
//! start in order and none is sent before the bucket can pay for it (`bucket::Bucket`). The
//! bucket is seeded once from `/token` and then replaced from the envelope of every response,
//! 429s included; `/token` is never polled. 429 waits and retries without counting as a
//! failure; 5xx, timeouts, resets and unparseable bodies retry with capped exponential
//! backoff and jitter; 400/402/404/405 are final. A bad key or a lapsed subscription stops
//! all traffic until `resume` is called. The status (`ClientStatus`) is published on a
//! `watch` channel for the console and `/health`.

mod query;
mod settings;
mod tokens;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;
use url::Url;

use super::bucket::Bucket;
use super::decode::product_list;
use super::error::Error;
use super::transport::{ReqwestTransport, Transport, TransportError};
use super::wire::{self, Envelope};
use crate::domain::{Asin, Market};

pub use query::{BestSellers, ProductBatch, ProductQuery};
pub use settings::{ApiKey, ClientConfig, ClientStatus, RetryPolicy};

/// Most ASINs Keepa takes in one `/product` request.
pub const MAX_ASINS_PER_REQUEST: usize = 100;

/// The log target of a request that failed for good (its error goes to the caller too):
/// under the client's own, so a filter on `arbdesk::keepa::client` still takes it.
pub const FAILED_TARGET: &str = "arbdesk::keepa::client::failed";

/// The log target of a failed attempt that is tried again: a server's log keeps them, a
/// one-shot command (which reports the last failure as its error) leaves them out.
pub const RETRY_TARGET: &str = "arbdesk::keepa::client::retry";

/// The Keepa client. Cheap to clone; clones share the bucket and status.
#[derive(Clone)]
pub struct KeepaClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    transport: Arc<dyn Transport>,
    bucket: Mutex<Option<Bucket>>,
    /// Held while `/token` seeds the bucket, so that callers at the same time (the start-up
    /// check and the first refresh) share one request.
    seeding: Mutex<()>,
    status: watch::Sender<ClientStatus>,
    /// The attempts of the last [`RECENT`]: when, and whether each failed.
    recent: std::sync::Mutex<std::collections::VecDeque<(Instant, bool)>>,
}

/// The span over which `ClientStatus::recent_attempts` and `recent_errors` count.
const RECENT: std::time::Duration = std::time::Duration::from_secs(300);

impl fmt::Debug for KeepaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeepaClient")
            .field("base_url", &self.inner.config.base_url.as_str())
            .field("key", &self.inner.config.key)
            .finish_non_exhaustive()
    }
}

impl KeepaClient {
    /// A client over HTTP(S) with reqwest.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let t = ReqwestTransport::new(config.connect_timeout, config.read_timeout, config.timeout)
            .map_err(|e| Error::InvalidRequest(e.to_string()))?;
        Ok(Self::with_transport(config, Arc::new(t)))
    }

    /// A client over any transport (the simulator's in-process one, in tests).
    pub fn with_transport(config: ClientConfig, transport: Arc<dyn Transport>) -> Self {
        let (status, _) = watch::channel(ClientStatus::default());
        KeepaClient {
            inner: Arc::new(Inner {
                config,
                transport,
                bucket: Mutex::new(None),
                seeding: Mutex::new(()),
                status,
                recent: std::sync::Mutex::default(),
            }),
        }
    }

    /// Subscribes to status changes.
    pub fn subscribe(&self) -> watch::Receiver<ClientStatus> {
        self.inner.status.subscribe()
    }

    /// The current status.
    pub fn status(&self) -> ClientStatus {
        self.inner.status.borrow().clone()
    }

    /// Clears a stop caused by a bad key or a lapsed subscription.
    pub fn resume(&self) {
        self.inner.status.send_modify(|s| s.stopped = None);
    }

    /// `/token`: costs nothing; seeds the bucket.
    pub async fn token(&self) -> Result<Envelope, Error> {
        let (env, _) = self.call("token", &[], 0).await?;
        Ok(env)
    }

    /// `/product` for at most 100 ASINs of one market.
    pub async fn products(&self, q: &ProductQuery) -> Result<ProductBatch, Error> {
        if q.asins.is_empty() || q.asins.len() > MAX_ASINS_PER_REQUEST {
            return Err(Error::InvalidRequest(format!(
                "/product takes 1 to {MAX_ASINS_PER_REQUEST} ASINs per request, got {}",
                q.asins.len()
            )));
        }
        let asins = q
            .asins
            .iter()
            .map(Asin::as_str)
            .collect::<Vec<_>>()
            .join(",");
        let mut params = vec![
            ("domain", q.market.keepa_domain().to_string()),
            ("asin", asins),
        ];
        if let Some(s) = q.stats_days {
            params.push(("stats", s.to_string()));
        }
        if !q.history {
            params.push(("history", "0".into()));
        }
        if let Some(d) = q.days {
            params.push(("days", d.to_string()));
        }
        if q.buybox {
            params.push(("buybox", "1".into()));
        }
        if let Some(u) = q.update {
            params.push(("update", u.to_string()));
        }
        let (envelope, body) = self.call("product", &params, q.estimated_cost()).await?;
        // `call` has already checked that the body parses.
        let products =
            product_list(&body).map_err(|e| self.unavailable("product", 1, e.to_string()))?;
        Ok(ProductBatch {
            market: q.market,
            envelope,
            products,
            fetched_at: Utc::now(),
        })
    }

    /// `/product` for any number of ASINs: one request per 100, one result per request.
    pub async fn products_chunked(&self, q: &ProductQuery) -> Vec<Result<ProductBatch, Error>> {
        let mut out = Vec::new();
        for sub in q.requests() {
            out.push(self.products(&sub).await);
        }
        out
    }

    /// `/bestsellers` for a category node id or product group (costs 50, 0 if no list).
    pub async fn bestsellers(
        &self,
        market: Market,
        category: &str,
        range: u32,
    ) -> Result<BestSellers, Error> {
        let params = [
            ("domain", market.keepa_domain().to_string()),
            ("category", category.to_string()),
            ("range", range.to_string()),
        ];
        let (_, body) = self.call("bestsellers", &params, 50).await?;
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Body {
            #[serde(default)]
            best_sellers_list: Option<wire::BestSellersList>,
        }
        let parsed: Body = serde_json::from_slice(&body)
            .map_err(|e| self.unavailable("bestsellers", 1, e.to_string()))?;
        let list = parsed.best_sellers_list;
        Ok(BestSellers {
            market,
            listed: list.is_some(),
            category_id: list.as_ref().map_or(0, |l| l.category_id),
            asins: list
                .map(|l| l.asin_list.iter().filter_map(|a| a.parse().ok()).collect())
                .unwrap_or_default(),
        })
    }

    /// `/category` for up to 10 node ids (`0` = the roots). Costs 1.
    pub async fn categories(
        &self,
        market: Market,
        ids: &[i64],
        parents: bool,
    ) -> Result<Vec<wire::Category>, Error> {
        if ids.is_empty() || ids.len() > 10 {
            return Err(Error::InvalidRequest(format!(
                "/category takes 1 to 10 ids, got {}",
                ids.len()
            )));
        }
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let params = [
            ("domain", market.keepa_domain().to_string()),
            ("category", list),
            ("parents", if parents { "1" } else { "0" }.to_string()),
        ];
        let (_, body) = self.call("category", &params, 1).await?;
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(default)]
            categories: Option<std::collections::BTreeMap<String, wire::Category>>,
        }
        let parsed: Body = serde_json::from_slice(&body)
            .map_err(|e| self.unavailable("category", 1, e.to_string()))?;
        Ok(parsed
            .categories
            .map(|m| m.into_values().collect())
            .unwrap_or_default())
    }

    fn url(&self, endpoint: &str, params: &[(&str, String)]) -> Result<Url, Error> {
        // The endpoint goes under the base's path (a proxy's `/keepa`), with or without
        // its trailing slash: a plain join would replace the path's last segment.
        let base = &self.inner.config.base_url;
        let mut dir = base.clone();
        if !base.path().ends_with('/') {
            dir.set_path(&format!("{}/", base.path()));
        }
        let mut url = dir
            .join(endpoint)
            .map_err(|e| Error::InvalidRequest(format!("bad Keepa base URL: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("key", self.inner.config.key.expose());
            for (k, v) in params {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Replaces the key in server-provided text, in case a server echoes it.
    /// Text from a Keepa answer (or about one) fit for a log line, an error or a terminal:
    /// the key masked (before anything is cut, so no part of it is left), escape sequences
    /// and control characters removed (a server could otherwise write to the operator's
    /// terminal or clipboard), at most 300 characters.
    fn redact(&self, text: &str) -> String {
        let key = self.inner.config.key.expose();
        let masked = if key.is_empty() {
            std::borrow::Cow::Borrowed(text)
        } else {
            std::borrow::Cow::Owned(text.replace(key, "***"))
        };
        crate::domain::text::sanitize(&masked)
            .chars()
            .take(300)
            .collect()
    }

    fn unavailable(&self, endpoint: &str, attempts: u32, last: String) -> Error {
        Error::Unavailable {
            endpoint: endpoint.to_string(),
            url: self.endpoint_url(endpoint),
            attempts,
            last: self.redact(&last),
        }
    }

    /// The URL of `endpoint` without its query (which holds the key), for an error.
    fn endpoint_url(&self, endpoint: &str) -> String {
        self.url(endpoint, &[]).map_or_else(
            |_| format!("/{endpoint}"),
            |mut u| {
                u.set_query(None);
                // A proxy's credentials are no more shown than the key.
                let _ = u.set_password(None);
                let _ = u.set_username("");
                u.to_string()
            },
        )
    }

    /// One failed attempt, in the counts `/health` reads.
    fn count_failure(&self, last_error: String) {
        self.inner.status.send_modify(|s| {
            s.errors += 1;
            s.failing_since.get_or_insert_with(Utc::now);
            s.last_error = Some(last_error);
        });
        self.note_attempt(true);
    }

    /// Counts an attempt's outcome among those of the last [`RECENT`].
    fn note_attempt(&self, failed: bool) {
        let now = Instant::now();
        let (attempts, errors) = {
            let mut recent = self
                .inner
                .recent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            recent.push_back((now, failed));
            while recent
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > RECENT)
                || recent.len() > 10_000
            {
                recent.pop_front();
            }
            let errors = recent.iter().filter(|(_, f)| *f).count();
            (recent.len() as u64, errors as u64)
        };
        self.inner.status.send_modify(|s| {
            s.recent_attempts = attempts;
            s.recent_errors = errors;
        });
    }

    /// A request that failed without retries (refused, or too many 429s): counted, then
    /// reported.
    fn fail(&self, err: &Error) {
        self.count_failure(err.to_string());
        self.report(err);
    }

    /// A request failed for good: logged, and published as the last error (and as why
    /// traffic stops, when it must).
    fn report(&self, err: &Error) {
        let msg = err.to_string();
        let fatal = err.is_fatal();
        // Its own target: a one-shot command returns the error and says it itself.
        tracing::error!(target: FAILED_TARGET, error = %msg, "Keepa request failed.");
        self.inner.status.send_modify(|s| {
            s.last_error = Some(msg.clone());
            if fatal {
                s.stopped = Some(msg);
            }
        });
    }

    /// The error of a request Keepa refused (400, 402, 404, 405): no retry changes it.
    async fn refused(
        &self,
        endpoint: &str,
        status: u16,
        env: Option<&Envelope>,
        body: &[u8],
    ) -> Error {
        let (kind, message) = env
            .and_then(|e| e.error.as_ref())
            .map(|e| {
                (
                    e.kind.clone().unwrap_or_default(),
                    e.message.clone().unwrap_or_default(),
                )
            })
            .unwrap_or_else(|| (String::new(), String::from_utf8_lossy(body).into_owned()));
        if let Some(env) = env {
            self.observe(env).await;
        }
        let message = self.redact(&message);
        match status {
            402 => Error::Payment,
            404 => Error::NotFound {
                endpoint: endpoint.to_string(),
                url: self.endpoint_url(endpoint),
            },
            400 if endpoint == "token"
                || kind.to_ascii_lowercase().contains("key")
                || message.to_ascii_lowercase().contains("key") =>
            {
                Error::Auth { status, message }
            }
            // Not in Keepa's documented codes, but what an HTTP server says of a key it
            // will not serve: retrying cannot help.
            401 | 403 => Error::Auth { status, message },
            status => Error::BadRequest {
                endpoint: endpoint.to_string(),
                status,
                message,
            },
        }
    }

    /// Sends one request with budgeting and retries; returns the envelope and raw body.
    async fn call(
        &self,
        endpoint: &str,
        params: &[(&str, String)],
        cost: i64,
    ) -> Result<(Envelope, Bytes), Error> {
        if let Some(reason) = self.inner.status.borrow().stopped.clone() {
            return Err(Error::Stopped { reason });
        }
        let url = self.url(endpoint, params)?;
        let policy = self.inner.config.retry;
        let mut attempts = 0u32;
        let mut limited = 0u32;
        loop {
            self.reserve(cost).await?;
            attempts += 1;
            self.inner.status.send_modify(|s| s.requests += 1);
            let started = Instant::now();
            let result = self.inner.transport.get(&url).await;
            let failure: String = match result {
                // Never sent: Keepa charged nothing, so the reservation goes back (a small
                // plan would otherwise wait minutes for tokens it still has).
                Err(e @ TransportError::Connect(_)) => {
                    self.give_back(cost).await;
                    e.to_string()
                }
                // Sent: the server may have charged for it.
                Err(
                    e @ (TransportError::Timeout
                    | TransportError::Body(_)
                    | TransportError::Dropped(_)),
                ) => e.to_string(),
                Ok(resp) => {
                    let env: Option<Envelope> = serde_json::from_slice(&resp.body).ok();
                    match resp.status {
                        200 => match env.map(|e| (e, true)).or_else(|| {
                            self.partial_envelope(endpoint, &resp.body, cost)
                                .map(|e| (e, false))
                        }) {
                            Some((env, whole)) => {
                                // An envelope short of its token fields says nothing of
                                // the balance: the client's own estimate stands.
                                if whole {
                                    self.observe(&env).await;
                                }
                                // A category without a best-seller list costs nothing
                                // (keepa-api.md §2.3): as Keepa says, not a misestimate.
                                let drift = if endpoint == "bestsellers" && env.tokens_consumed == 0
                                {
                                    0
                                } else {
                                    env.tokens_consumed - cost
                                };
                                if let Some(e) = &env.error {
                                    tracing::warn!(endpoint, kind = ?e.kind, message = %self.redact(e.message.as_deref().unwrap_or("")), "Keepa reported an error on a successful response.");
                                }
                                tracing::debug!(
                                    endpoint,
                                    cost,
                                    consumed = env.tokens_consumed,
                                    left = env.tokens_left,
                                    ms = started.elapsed().as_millis() as u64,
                                    "Keepa request done."
                                );
                                if let Some(since) = self.inner.status.borrow().failing_since
                                    && Utc::now() - since >= chrono::Duration::minutes(1)
                                {
                                    tracing::info!(
                                        "Keepa answers again, after failing for {}.",
                                        crate::domain::text::span(
                                            (Utc::now() - since).num_seconds()
                                        )
                                    );
                                }
                                self.note_attempt(false);
                                self.inner.status.send_modify(|s| {
                                    s.last_success = Some(Utc::now());
                                    s.failing_since = None;
                                    s.tokens_consumed += env.tokens_consumed;
                                    s.estimator_drift += drift;
                                });
                                return Ok((env, resp.body));
                            }
                            None => format!(
                                "unparseable response body ({} bytes): {}",
                                resp.body.len(),
                                serde_json::from_slice::<Envelope>(&resp.body)
                                    .err()
                                    .map_or_else(
                                        || "not a Keepa answer".to_string(),
                                        |e| e.to_string()
                                    )
                            ),
                        },
                        429 => {
                            limited += 1;
                            attempts -= 1; // a 429 is not a failure
                            self.inner.status.send_modify(|s| s.rate_limited += 1);
                            if limited > policy.max_rate_limited {
                                let e = self.unavailable(
                                    endpoint,
                                    attempts + limited,
                                    format!("{limited} HTTP 429 answers to one request"),
                                );
                                self.fail(&e);
                                return Err(e);
                            }
                            if let Err(e) = self.wait_after_429(endpoint, env.as_ref()).await {
                                self.fail(&e);
                                return Err(e);
                            }
                            continue;
                        }
                        400..=405 => {
                            let err = self
                                .refused(endpoint, resp.status, env.as_ref(), &resp.body)
                                .await;
                            self.fail(&err);
                            return Err(err);
                        }
                        500 | 502 | 503 | 504 => {
                            // Its token state counts like any other answer's (§5.1).
                            if let Some(env) = &env {
                                self.observe(env).await;
                            }
                            format!("HTTP {}", resp.status)
                        }
                        status => {
                            if let Some(env) = &env {
                                self.observe(env).await;
                            }
                            let said = env
                                .as_ref()
                                .and_then(|e| e.error.as_ref())
                                .and_then(|e| e.message.clone())
                                .unwrap_or_else(|| {
                                    String::from_utf8_lossy(&resp.body).into_owned()
                                });
                            let err = Error::Unexpected {
                                endpoint: endpoint.to_string(),
                                status,
                                message: self.redact(&said),
                            };
                            self.fail(&err);
                            return Err(err);
                        }
                    }
                }
            };
            // Otherwise a retryable failure keeps its reservation: whether the server
            // charged for it cannot be known.
            let failure = self.redact(&failure);
            self.count_failure(format!("/{endpoint}: {failure}"));
            if attempts >= policy.max_attempts {
                let e = self.unavailable(endpoint, attempts, failure);
                self.report(&e);
                return Err(e);
            }
            let wait = policy.jittered(attempts);
            tracing::warn!(target: RETRY_TARGET, endpoint, attempt = attempts, wait_ms = wait.as_millis() as u64, error = %failure, "Keepa request failed; retrying.");
            self.inner
                .status
                .send_modify(|s| s.waiting_until = Some(Utc::now() + wait));
            tokio::time::sleep(wait).await;
        }
    }
}
