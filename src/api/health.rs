//! `GET /health`: is arbdesk usable, and if not, which part is at fault.
//!
//! The store is probed on every call (with a short deadline; calls that come while a probe
//! runs share it); Keepa, the queue and the
//! pipeline are judged from the pipeline's status snapshot, so a health check never waits on
//! them. The token verdict also needs the watchlist's size, read from the store at most
//! once a minute. The answer is 503 exactly when the store is down — the API cannot serve data then —
//! and `degraded` when anything else has problems. The rules for each component are the
//! pure functions of `pipeline::health`, shared with the console.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::ApiState;
use super::dto::{Components, Health};
use super::middleware::authorized;
use crate::component::{ComponentHealth, HealthStatus};
use crate::pipeline::health::{
    Watched, fx_health, keepa_component, pipeline_health, queue_health, store_component,
    tables_health, token_health,
};

/// Longest the store's health probe may take before it counts as slow.
const STORE_PROBE_DEADLINE: Duration = Duration::from_secs(2);

/// The store's health, as [`probe_now`] finds it. One probe runs at a time: callers that
/// come while it runs take its answer. (Probes side by side would queue on the store's
/// connections past their deadline under a flood of `/health` requests, and report a store
/// that serves every query as down.) A caller never takes an answer that was given before
/// it came.
pub(crate) async fn probe_store(state: &ApiState) -> StoreProbe {
    let came = tokio::time::Instant::now();
    let mut last = state.last_probe().await;
    if let Some((ended, probe)) = last.as_ref()
        && *ended > came
    {
        return probe.clone();
    }
    let probe = probe_now(state).await;
    *last = Some((tokio::time::Instant::now(), probe.clone()));
    probe
}

/// The store's health, within `STORE_PROBE_DEADLINE`, timed. A probe past the deadline is
/// `degraded` (a store busy with a large write is slow, not gone: a 503 would take this
/// instance out of a load balancer for nothing), and `down` when the probe before it was
/// past the deadline too, so a store that hangs is down from its second probe on.
async fn probe_now(state: &ApiState) -> StoreProbe {
    let started = Instant::now();
    let answer = tokio::time::timeout(STORE_PROBE_DEADLINE, state.store().health()).await;
    let answered = answer.is_ok();
    let slow_before = state.swap_store_slow(!answered);
    let mut store = answer.unwrap_or_else(|_| {
        let detail = format!(
            "the store did not answer its health probe within {} s",
            STORE_PROBE_DEADLINE.as_secs()
        );
        if slow_before {
            ComponentHealth::down("store", format!("{detail}, nor the probe before"))
        } else {
            ComponentHealth::degraded("store", format!("{detail} (busy?)"))
        }
    });
    if store.latency_ms.is_none() {
        store.latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    }
    let probe = StoreProbe {
        health: store,
        answered,
    };
    state.set_store_down(
        probe
            .answered_down()
            .then_some(probe.health.detail.as_str()),
    );
    probe
}

/// How long `/health` reuses the watchlist's size it read.
const WATCHED_FOR: Duration = Duration::from_secs(60);

/// What a full refresh covers, for the token verdict: the watchlist's size and the markets
/// refreshed. The size is read from the store's counters at most once a minute (a health
/// probe stays cheap), within a second; a store that does not answer in time leaves the
/// size last read, if any.
async fn watched(state: &ApiState, markets: usize) -> Option<Watched> {
    let known = *state.watched();
    let asins = match known {
        Some((at, n)) if at.elapsed() < WATCHED_FOR => n,
        _ => match tokio::time::timeout(Duration::from_secs(1), state.store().stats()).await {
            Ok(Ok(stats)) => {
                *state.watched() = Some((Instant::now(), stats.watchlist));
                stats.watchlist
            }
            _ => known?.1,
        },
    };
    Some(Watched { asins, markets })
}

/// A store health probe: what it found, and whether the store answered it in time.
#[derive(Clone)]
pub(crate) struct StoreProbe {
    pub health: ComponentHealth,
    pub answered: bool,
}

impl StoreProbe {
    /// The store answered that it is down. (A store down for not answering two probes in
    /// time is down to `/health` and load balancers, but the data endpoints still ask it:
    /// a slow store that answers their queries serves them.)
    pub fn answered_down(&self) -> bool {
        self.answered && self.health.status == HealthStatus::Down
    }
}

/// Overall and per-component health; 503 when the store is down.
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    responses(
        (status = 200, description = "The store answers; `status` is `ok` or `degraded`. Served without a token; when the server has one, the components' details only with it.", body = Health),
        (status = 503, description = "The store is down; `status` is `down`.", body = Health),
    )
)]
pub(crate) async fn health(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let probe = probe_store(&state).await;
    let status = state.status_snapshot();
    let now = Utc::now();
    let shown = authorized(&state, &headers);
    // Only with a store that answers (its watchlist is what a refresh costs).
    let tokens = match (&status.refresh, status.keepa_client && probe.answered) {
        (Some(plan), true) => watched(&state, status.markets.len())
            .await
            .map(|w| token_health(&status.keepa, Some(plan), w, now)),
        _ => None,
    };
    let store = probe.health;
    let components = Components {
        keepa: keepa_component(&status, now).into(),
        tokens: tokens.map(Into::into),
        queue: queue_health(&status).into(),
        pipeline: pipeline_health(&status).into(),
        store: store_component(store, &status).into(),
        fx: fx_health(&status).map(Into::into),
        tables: tables_health(&status).map(Into::into),
    };
    let overall = if components.store.status == HealthStatus::Down {
        HealthStatus::Down
    } else if [&components.keepa, &components.queue, &components.pipeline]
        .into_iter()
        .chain(components.tokens.as_ref())
        .chain(components.fx.as_ref())
        .chain(components.tables.as_ref())
        .any(|c| c.status != HealthStatus::Ok)
    {
        HealthStatus::Degraded
    } else {
        HealthStatus::Ok
    };
    let code = if overall == HealthStatus::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = Health {
        status: overall,
        source: status.source,
        version: state.version().to_string(),
        components: if shown {
            components
        } else {
            components.without_details()
        },
    };
    let mut res = (code, Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
