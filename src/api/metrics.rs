//! `GET /metrics`: Prometheus text format 0.0.4, written by hand.
//!
//! HTTP counters (`http`) are recorded on every request without a lock. Everything
//! else — store totals, pipeline stages, queue, Keepa, FX, the response cache — is read at
//! scrape time. A store that cannot answer does not fail the scrape: it reports
//! `arbdesk_store_up 0`.

use std::fmt::Write;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::ApiState;
use crate::domain::Market;
use crate::keepa::ClientStatus;
use crate::pipeline::PipelineStatus;

mod http;

pub(crate) use http::HttpMetrics;
pub use http::{ApiActivity, ServerError};

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One metric with its HELP/TYPE lines and unlabelled value.
fn single(out: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    header(out, name, kind, help);
    let _ = writeln!(out, "{name} {}", num(value));
}

/// A float as Prometheus spells it.
fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        v.to_string()
    }
}

/// A label value escaped per the text format: backslash, double quote, newline.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes one unlabelled sample per `(name, kind, help, value)`.
fn singles(out: &mut String, rows: &[(&str, &str, &str, f64)]) {
    for (name, kind, help, value) in rows {
        single(out, name, kind, help, *value);
    }
}

/// Writes one family with a sample per `(label value, value)`.
fn labelled(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    label_name: &str,
    rows: &[(String, f64)],
) {
    header(out, name, kind, help);
    for (l, v) in rows {
        let _ = writeln!(out, "{name}{{{label_name}=\"{}\"}} {}", label(l), num(*v));
    }
}

fn flag(b: bool) -> f64 {
    f64::from(u8::from(b))
}

/// Prometheus metrics: HTTP, store, pipeline, queue, Keepa, FX, response cache.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses((status = 200, description = "Prometheus text format 0.0.4.", content_type = "text/plain", body = String))
)]
pub(crate) async fn metrics(State(state): State<ApiState>) -> Response {
    let mut out = String::with_capacity(16 * 1024);
    state.http_metrics().render(&mut out);
    cache(&mut out, &state);
    store(&mut out, &state).await;
    let s = state.status_snapshot();
    pipeline(&mut out, &s);
    keepa(&mut out, &s.keepa);
    if let Some(fx) = &s.fx {
        singles(
            &mut out,
            &[
                (
                    "arbdesk_fx_eur_per_gbp",
                    "gauge",
                    "EUR per GBP in use.",
                    fx.eur_per_gbp,
                ),
                (
                    "arbdesk_fx_stale",
                    "gauge",
                    "1 when the FX rate is older than allowed.",
                    flag(fx.stale),
                ),
            ],
        );
    }
    header(
        &mut out,
        "arbdesk_build_info",
        "gauge",
        "Version and data source of this process.",
    );
    let _ = writeln!(
        out,
        "arbdesk_build_info{{version=\"{}\",source=\"{}\"}} 1",
        label(state.version()),
        s.source.label().to_ascii_lowercase()
    );

    let mut res = out.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

/// The response cache's counters.
fn cache(out: &mut String, state: &ApiState) {
    let c = state.cache().stats();
    labelled(
        out,
        "arbdesk_api_cache_requests_total",
        "counter",
        "Cacheable API requests, by result.",
        "result",
        &[
            ("hit".into(), c.hits as f64),
            ("miss".into(), c.misses as f64),
        ],
    );
    singles(
        out,
        &[
            (
                "arbdesk_api_cache_evictions_total",
                "counter",
                "Response cache entries evicted to stay within bounds.",
                c.evictions as f64,
            ),
            (
                "arbdesk_api_cache_entries",
                "gauge",
                "Responses held in the cache.",
                c.entries as f64,
            ),
            (
                "arbdesk_api_cache_bytes",
                "gauge",
                "Body bytes held in the response cache.",
                c.bytes as f64,
            ),
        ],
    );
}

/// The store's totals, asked now (`arbdesk_store_up` 0 when it does not answer in 2 s).
async fn store(out: &mut String, state: &ApiState) {
    let up = "1 when the store's health probe passed and its totals answered this scrape.";
    let store = state.store();
    let (totals, health) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(2), store.stats()),
        super::health::probe_store(state)
    );
    match totals {
        Ok(Ok(t)) if !health.answered_down() => {
            singles(
                out,
                &[
                    ("arbdesk_store_up", "gauge", up, 1.0),
                    (
                        "arbdesk_store_products",
                        "gauge",
                        "Products in the store.",
                        t.total_products as f64,
                    ),
                    (
                        "arbdesk_store_opportunities",
                        "gauge",
                        "Opportunity rows in the store.",
                        t.opportunities as f64,
                    ),
                    (
                        "arbdesk_store_ranked_opportunities",
                        "gauge",
                        "Opportunity rows passing every gate.",
                        t.ranked_opportunities as f64,
                    ),
                    (
                        "arbdesk_store_watchlist",
                        "gauge",
                        "ASINs on the watchlist.",
                        t.watchlist as f64,
                    ),
                ],
            );
            let per_market: Vec<(String, f64)> = Market::ALL
                .iter()
                .map(|m| {
                    (
                        m.code().to_string(),
                        t.products_per_market.get(m).copied().unwrap_or(0) as f64,
                    )
                })
                .collect();
            labelled(
                out,
                "arbdesk_store_market_products",
                "gauge",
                "Products listed per market.",
                "market",
                &per_market,
            );
            if let Some(best) = t.best_gross_margin_pct {
                single(
                    out,
                    "arbdesk_store_best_gross_margin_percent",
                    "gauge",
                    "Best gross margin, percent.",
                    best,
                );
            }
            if let Some(at) = t.last_update {
                single(
                    out,
                    "arbdesk_store_last_update_timestamp_seconds",
                    "gauge",
                    "Latest listing fetch, Unix time.",
                    at.timestamp() as f64,
                );
            }
        }
        _ => single(out, "arbdesk_store_up", "gauge", up, 0.0),
    }
}

/// The pipeline's stages, queue and dead letters.
fn pipeline(out: &mut String, s: &PipelineStatus) {
    let per_stage = |f: &dyn Fn(&crate::pipeline::StageStatus) -> f64| -> Vec<(String, f64)> {
        s.stages.iter().map(|(n, st)| (n.clone(), f(st))).collect()
    };
    labelled(
        out,
        "arbdesk_pipeline_processed_total",
        "counter",
        "Items handled per pipeline stage.",
        "stage",
        &per_stage(&|st| st.processed as f64),
    );
    labelled(
        out,
        "arbdesk_pipeline_errors_total",
        "counter",
        "Items that failed per pipeline stage.",
        "stage",
        &per_stage(&|st| st.errors as f64),
    );
    labelled(
        out,
        "arbdesk_pipeline_rate_per_second",
        "gauge",
        "Items per second per stage over the last minute.",
        "stage",
        &per_stage(&|st| st.rate_per_s),
    );
    labelled(
        out,
        "arbdesk_pipeline_stage_stopped",
        "gauge",
        "1 when a stage stopped for good while the rest runs (ingest refused the store or the lease on fetching).",
        "stage",
        &per_stage(&|st| flag(st.stopped.is_some())),
    );
    singles(
        out,
        &[
            (
                "arbdesk_pipeline_running",
                "gauge",
                "1 when the pipeline runs in this process, or (in a process that runs no stage) in the processes that report to the store.",
                flag(s.running),
            ),
            (
                "arbdesk_reporting_processes",
                "gauge",
                "In a process that runs no stage: the processes whose reports of the last 30 s the pipeline figures merge (0 elsewhere).",
                s.peers.len() as f64,
            ),
            (
                "arbdesk_queue_depth",
                "gauge",
                "Messages queued or in flight.",
                s.queue_depth as f64,
            ),
            (
                "arbdesk_dead_letters_total",
                "counter",
                "Messages sent to the dead-letter topic.",
                s.dead_letters as f64,
            ),
        ],
    );
}

/// The Keepa client's counters and token state.
fn keepa(out: &mut String, k: &ClientStatus) {
    singles(
        out,
        &[
            (
                "arbdesk_keepa_requests_total",
                "counter",
                "Requests sent to Keepa.",
                k.requests as f64,
            ),
            (
                "arbdesk_keepa_errors_total",
                "counter",
                "Failed Keepa attempts (5xx, transport, unparseable).",
                k.errors as f64,
            ),
            (
                "arbdesk_keepa_rate_limited_total",
                "counter",
                "Keepa 429 answers.",
                k.rate_limited as f64,
            ),
            (
                "arbdesk_keepa_tokens_consumed_total",
                "counter",
                "Keepa tokens consumed, as Keepa reports.",
                k.tokens_consumed as f64,
            ),
            (
                "arbdesk_keepa_stopped",
                "gauge",
                "1 when Keepa traffic is stopped (bad key, no plan).",
                flag(k.stopped.is_some()),
            ),
        ],
    );
    if let Some(left) = k.tokens_left {
        single(
            out,
            "arbdesk_keepa_tokens_left",
            "gauge",
            "Last known Keepa token balance.",
            left as f64,
        );
    }
    if let Some(rate) = k.refill_rate {
        single(
            out,
            "arbdesk_keepa_refill_rate_per_minute",
            "gauge",
            "Keepa tokens refilled per minute.",
            rate as f64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_numbers_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(num(f64::INFINITY), "+Inf");
        assert_eq!(num(0.5), "0.5");
    }
}
