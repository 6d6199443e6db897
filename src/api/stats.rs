//! `GET /stats`: store totals next to the pipeline's throughput, Keepa tokens, jobs and FX.
//!
//! Totals come from the store (one `stats` and one `jobs` query, run concurrently); the
//! rest is the pipeline's status snapshot. Jobs merge both: the live status knows what is
//! running and when it runs next, the store remembers last runs across restarts and
//! processes.

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};

use super::dto::{FxOut, KeepaOut, PipelineOut, ReporterOut, StageOut, Stats};
use super::error::{ApiError, Problem};
use super::params::Params;
use super::{ApiState, respond};
use crate::domain::Market;
use crate::store::StoreError;

/// Totals, margins, per-market counts, pipeline rates, token state, jobs and FX.
#[utoipa::path(
    get,
    path = "/stats",
    tag = "stats",
    responses(
        (status = 200, description = "Current totals and pipeline state.", body = Stats),
        (status = 400, description = "A query parameter was given (there are none).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn stats(State(state): State<ApiState>, RawQuery(query): RawQuery) -> Response {
    match build(&state, query.as_deref()).await {
        Ok(stats) => respond::fresh(&stats),
        Err(e) => e.into_response(),
    }
}

async fn build(state: &ApiState, query: Option<&str>) -> Result<Stats, ApiError> {
    Params::parse(query, &[])?;
    let store = state.store();
    let (totals, jobs, health) = tokio::join!(
        store.stats(),
        store.jobs(),
        super::health::probe_store(state)
    );
    // Totals can still come from pages a damaged database has not lost: a probe that
    // answered "down" decides, as for the cached endpoints, so they never disagree.
    if health.answered_down() {
        let health = health.health;
        // The probe's detail is the store's error as it says it: not prefixed again.
        let detail = health
            .detail
            .strip_prefix("the store is unavailable: ")
            .unwrap_or(&health.detail);
        return Err(ApiError::store(&StoreError::Unavailable(
            detail.to_string(),
        )));
    }
    let totals = totals.map_err(|e| ApiError::store(&e))?;
    let jobs = jobs.map_err(|e| ApiError::store(&e))?;
    let status = state.status_snapshot();
    let own = status.peers.is_empty();
    let mut per_market: BTreeMap<Market, u64> = Market::ALL.iter().map(|m| (*m, 0)).collect();
    per_market.extend(totals.products_per_market.iter().map(|(m, n)| (*m, *n)));
    Ok(Stats {
        total_products: totals.total_products,
        opportunities: totals.opportunities,
        ranked_opportunities: totals.ranked_opportunities,
        markets: status.tracked_markets(),
        best_gross_margin_pct: totals.best_gross_margin_pct,
        // Shown like every percentage of a row: two decimals.
        avg_gross_margin_pct: totals
            .avg_gross_margin_pct
            .map(|v| (v * 100.0).round() / 100.0),
        products_per_market: per_market,
        watchlist: totals.watchlist,
        last_update: totals.last_update,
        source: status.source,
        pipeline: PipelineOut {
            // The API role is this answer's own; the stages are other processes' when
            // their reports are shown.
            roles: [
                (status.fetches_here(), "ingest"),
                (own && status.processing, "process"),
                (true, "api"),
            ]
            .into_iter()
            .filter_map(|(runs, role)| runs.then_some(role))
            .collect(),
            running: status.running,
            started_at: status.started_at,
            stages: status
                .stages
                .iter()
                .map(|(k, v)| (k.clone(), StageOut::from(v)))
                .collect(),
            queue_depth: status.queue_depth,
            dead_letters: status.dead_letters,
            reported_by: status
                .peers
                .iter()
                .map(|p| ReporterOut {
                    id: p.id.clone(),
                    roles: p.roles.clone(),
                    updated_at: Some(p.updated_at),
                })
                .collect(),
        },
        keepa: KeepaOut::from(&status.keepa),
        jobs: super::dto::merge_jobs(&status.jobs, &jobs),
        fx: status.fx.as_ref().map(FxOut::from),
    })
}
