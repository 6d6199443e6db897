//! `GET /metrics`: Prometheus text format 0.0.4, written by hand.
//!
//! HTTP counters live in fixed arrays of atomics indexed by route and status code, so
//! recording a request takes no lock and no allocation: the route set is closed (the
//! router's paths plus `other` for unmatched ones) and status codes are 100–599. Everything
//! else — store totals, pipeline stages, queue, Keepa, FX, the response cache — is read at
//! scrape time. A store that cannot answer does not fail the scrape: it reports
//! `arbdesk_store_up 0`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::ApiState;
use crate::domain::Market;

/// Route labels; the last one stands for every unmatched path.
pub(crate) const ROUTES: [&str; 9] = [
    "/health",
    "/products",
    "/products/{asin}",
    "/opportunities",
    "/stats",
    "/metrics",
    "/openapi.json",
    "/docs",
    "other",
];

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

struct RouteMetrics {
    /// Requests by status code − 100.
    statuses: Box<[AtomicU64]>,
    /// Non-cumulative bucket counts; the last slot is above every bound.
    buckets: Box<[AtomicU64]>,
    sum_ns: AtomicU64,
    count: AtomicU64,
}

fn zeros(n: usize) -> Box<[AtomicU64]> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

/// Lock-free HTTP request counters and latency histograms per route.
pub(crate) struct HttpMetrics {
    routes: Box<[RouteMetrics]>,
}

impl HttpMetrics {
    pub fn new() -> Self {
        HttpMetrics {
            routes: ROUTES
                .iter()
                .map(|_| RouteMetrics {
                    statuses: zeros(500),
                    buckets: zeros(BUCKETS.len() + 1),
                    sum_ns: AtomicU64::new(0),
                    count: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    /// The index of a matched path (`None` or unknown = `other`).
    pub fn route_index(path: Option<&str>) -> usize {
        path.and_then(|p| ROUTES.iter().position(|r| *r == p))
            .unwrap_or(ROUTES.len() - 1)
    }

    /// Counts one answered request.
    pub fn record(&self, route: usize, status: u16, elapsed: Duration) {
        let Some(r) = self.routes.get(route) else {
            return;
        };
        if let Some(c) = r.statuses.get(usize::from(status).wrapping_sub(100)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        if let Some(b) = r.buckets.get(bucket) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        r.sum_ns.fetch_add(ns, Ordering::Relaxed);
        r.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String) {
        header(
            out,
            "arbdesk_http_requests_total",
            "counter",
            "HTTP requests answered, by route and status.",
        );
        for (name, r) in ROUTES.iter().zip(self.routes.iter()) {
            for (i, c) in r.statuses.iter().enumerate() {
                let n = c.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "arbdesk_http_requests_total{{route=\"{name}\",status=\"{}\"}} {n}",
                        i + 100
                    );
                }
            }
        }
        header(
            out,
            "arbdesk_http_request_duration_seconds",
            "histogram",
            "Time to answer HTTP requests, by route.",
        );
        for (name, r) in ROUTES.iter().zip(self.routes.iter()) {
            let count = r.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let mut cumulative = 0;
            for (i, b) in r.buckets.iter().enumerate() {
                cumulative += b.load(Ordering::Relaxed);
                let le = BUCKETS.get(i).map_or("+Inf".to_string(), |b| b.to_string());
                let _ = writeln!(
                    out,
                    "arbdesk_http_request_duration_seconds_bucket{{route=\"{name}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let sum = r.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "arbdesk_http_request_duration_seconds_sum{{route=\"{name}\"}} {}",
                num(sum)
            );
            let _ = writeln!(
                out,
                "arbdesk_http_request_duration_seconds_count{{route=\"{name}\"}} {count}"
            );
        }
    }
}

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

/// Prometheus metrics: HTTP, store, pipeline, queue, Keepa, FX, response cache.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses((status = 200, description = "Prometheus text format 0.0.4.", content_type = "text/plain", body = String)),
    security(("bearer" = []))
)]
pub(crate) async fn metrics(State(state): State<ApiState>) -> Response {
    let mut out = String::with_capacity(16 * 1024);
    state.http_metrics().render(&mut out);

    let c = state.cache().stats();
    header(
        &mut out,
        "arbdesk_api_cache_requests_total",
        "counter",
        "Cacheable API requests, by result.",
    );
    let _ = writeln!(
        out,
        "arbdesk_api_cache_requests_total{{result=\"hit\"}} {}",
        c.hits
    );
    let _ = writeln!(
        out,
        "arbdesk_api_cache_requests_total{{result=\"miss\"}} {}",
        c.misses
    );
    single(
        &mut out,
        "arbdesk_api_cache_evictions_total",
        "counter",
        "Response cache entries evicted to stay within bounds.",
        c.evictions as f64,
    );
    single(
        &mut out,
        "arbdesk_api_cache_entries",
        "gauge",
        "Responses held in the cache.",
        c.entries as f64,
    );
    single(
        &mut out,
        "arbdesk_api_cache_bytes",
        "gauge",
        "Body bytes held in the response cache.",
        c.bytes as f64,
    );

    let totals = tokio::time::timeout(Duration::from_secs(2), state.store().stats()).await;
    match totals {
        Ok(Ok(t)) => {
            single(
                &mut out,
                "arbdesk_store_up",
                "gauge",
                "1 when the store answered this scrape.",
                1.0,
            );
            single(
                &mut out,
                "arbdesk_store_products",
                "gauge",
                "Products in the store.",
                t.total_products as f64,
            );
            single(
                &mut out,
                "arbdesk_store_opportunities",
                "gauge",
                "Opportunity rows in the store.",
                t.opportunities as f64,
            );
            single(
                &mut out,
                "arbdesk_store_ranked_opportunities",
                "gauge",
                "Opportunity rows passing every gate.",
                t.ranked_opportunities as f64,
            );
            single(
                &mut out,
                "arbdesk_store_watchlist",
                "gauge",
                "ASINs on the watchlist.",
                t.watchlist as f64,
            );
            header(
                &mut out,
                "arbdesk_store_market_products",
                "gauge",
                "Products listed per market.",
            );
            for m in Market::ALL {
                let n = t.products_per_market.get(&m).copied().unwrap_or(0);
                let _ = writeln!(out, "arbdesk_store_market_products{{market=\"{m}\"}} {n}");
            }
            if let Some(best) = t.best_gross_margin_pct {
                single(
                    &mut out,
                    "arbdesk_store_best_gross_margin_percent",
                    "gauge",
                    "Best gross margin, percent.",
                    best,
                );
            }
            if let Some(at) = t.last_update {
                single(
                    &mut out,
                    "arbdesk_store_last_update_timestamp_seconds",
                    "gauge",
                    "Latest listing fetch, Unix time.",
                    at.timestamp() as f64,
                );
            }
        }
        _ => single(
            &mut out,
            "arbdesk_store_up",
            "gauge",
            "1 when the store answered this scrape.",
            0.0,
        ),
    }

    let s = state.status_snapshot();
    single(
        &mut out,
        "arbdesk_pipeline_running",
        "gauge",
        "1 when the pipeline runs in this process.",
        f64::from(u8::from(s.running)),
    );
    header(
        &mut out,
        "arbdesk_pipeline_processed_total",
        "counter",
        "Items handled per pipeline stage.",
    );
    for (name, st) in &s.stages {
        let _ = writeln!(
            out,
            "arbdesk_pipeline_processed_total{{stage=\"{}\"}} {}",
            label(name),
            st.processed
        );
    }
    header(
        &mut out,
        "arbdesk_pipeline_errors_total",
        "counter",
        "Items that failed per pipeline stage.",
    );
    for (name, st) in &s.stages {
        let _ = writeln!(
            out,
            "arbdesk_pipeline_errors_total{{stage=\"{}\"}} {}",
            label(name),
            st.errors
        );
    }
    header(
        &mut out,
        "arbdesk_pipeline_rate_per_second",
        "gauge",
        "Items per second per stage over the last minute.",
    );
    for (name, st) in &s.stages {
        let _ = writeln!(
            out,
            "arbdesk_pipeline_rate_per_second{{stage=\"{}\"}} {}",
            label(name),
            num(st.rate_per_s)
        );
    }
    single(
        &mut out,
        "arbdesk_queue_depth",
        "gauge",
        "Messages queued or in flight.",
        s.queue_depth as f64,
    );
    single(
        &mut out,
        "arbdesk_dead_letters_total",
        "counter",
        "Messages sent to the dead-letter topic.",
        s.dead_letters as f64,
    );

    let k = &s.keepa;
    if let Some(left) = k.tokens_left {
        single(
            &mut out,
            "arbdesk_keepa_tokens_left",
            "gauge",
            "Last known Keepa token balance.",
            left as f64,
        );
    }
    if let Some(rate) = k.refill_rate {
        single(
            &mut out,
            "arbdesk_keepa_refill_rate_per_minute",
            "gauge",
            "Keepa tokens refilled per minute.",
            rate as f64,
        );
    }
    single(
        &mut out,
        "arbdesk_keepa_requests_total",
        "counter",
        "Requests sent to Keepa.",
        k.requests as f64,
    );
    single(
        &mut out,
        "arbdesk_keepa_errors_total",
        "counter",
        "Failed Keepa attempts (5xx, transport, unparseable).",
        k.errors as f64,
    );
    single(
        &mut out,
        "arbdesk_keepa_rate_limited_total",
        "counter",
        "Keepa 429 answers.",
        k.rate_limited as f64,
    );
    single(
        &mut out,
        "arbdesk_keepa_tokens_consumed_total",
        "counter",
        "Keepa tokens consumed, as Keepa reports.",
        k.tokens_consumed as f64,
    );
    single(
        &mut out,
        "arbdesk_keepa_stopped",
        "gauge",
        "1 when Keepa traffic is stopped (bad key, no plan).",
        f64::from(u8::from(k.stopped.is_some())),
    );
    if let Some(fx) = &s.fx {
        single(
            &mut out,
            "arbdesk_fx_eur_per_gbp",
            "gauge",
            "EUR per GBP in use.",
            fx.eur_per_gbp,
        );
        single(
            &mut out,
            "arbdesk_fx_stale",
            "gauge",
            "1 when the FX rate is older than allowed.",
            f64::from(u8::from(fx.stale)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_statuses() {
        let m = HttpMetrics::new();
        let r = HttpMetrics::route_index(Some("/opportunities"));
        m.record(r, 200, Duration::from_micros(300));
        m.record(r, 200, Duration::from_millis(3));
        m.record(r, 400, Duration::from_secs(60));
        m.record(HttpMetrics::route_index(Some("/nope")), 404, Duration::ZERO);
        m.record(r, 42, Duration::ZERO); // out of range: counted in the histogram only
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains(
                "arbdesk_http_requests_total{route=\"/opportunities\",status=\"200\"} 2\n"
            )
        );
        assert!(out.contains("arbdesk_http_requests_total{route=\"other\",status=\"404\"} 1\n"));
        assert!(out.contains("_bucket{route=\"/opportunities\",le=\"0.0005\"} 2\n"));
        assert!(out.contains("_bucket{route=\"/opportunities\",le=\"0.005\"} 3\n"));
        assert!(out.contains("_bucket{route=\"/opportunities\",le=\"+Inf\"} 4\n"));
        assert!(out.contains("_count{route=\"/opportunities\"} 4\n"));
    }

    #[test]
    fn labels_and_numbers_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(num(f64::INFINITY), "+Inf");
        assert_eq!(num(0.5), "0.5");
    }
}
