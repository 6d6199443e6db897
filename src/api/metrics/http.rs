//! HTTP request counters and latency histograms per route, lock-free.
//!
//! Fixed arrays of atomics indexed by route and status code: recording a request takes no
//! lock and no allocation. The route set is closed (the router's paths plus `other` for
//! unmatched ones) and status codes are 100–599.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{header, num};

/// Route labels; the last one stands for every unmatched path.
const ROUTES: [&str; 13] = [
    "/health",
    "/products",
    "/products/{asin}",
    "/opportunities",
    "/stats",
    "/watchlist",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/jobs/{name}",
    "/actions",
    "/actions/{id}",
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

/// An answer with a 5xx status: the server's fault, not the client's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerError {
    /// When it was answered.
    pub at: DateTime<Utc>,
    /// The status code.
    pub status: u16,
    /// The route (`other` for an unmatched path).
    pub route: &'static str,
}

/// What the API has answered, for the console's health view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiActivity {
    /// Requests answered since start.
    pub requests: u64,
    /// Of them, answers with a 5xx status.
    pub server_errors: u64,
    /// The latest 5xx answer.
    pub last_server_error: Option<ServerError>,
}

/// Lock-free HTTP request counters and latency histograms per route.
pub(crate) struct HttpMetrics {
    routes: Box<[RouteMetrics]>,
    /// The latest 5xx answer (locked only to record one).
    last_server_error: Mutex<Option<ServerError>>,
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
            last_server_error: Mutex::new(None),
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
        if status >= 500 {
            let error = ServerError {
                at: Utc::now(),
                status,
                route: ROUTES.get(route).copied().unwrap_or("other"),
            };
            *self
                .last_server_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(error);
        }
    }

    /// Requests answered, 5xx answers among them and the latest one.
    pub fn activity(&self) -> ApiActivity {
        let server_errors = self
            .routes
            .iter()
            .flat_map(|r| r.statuses.iter().skip(400))
            .map(|c| c.load(Ordering::Relaxed))
            .sum();
        ApiActivity {
            requests: self.total(),
            server_errors,
            last_server_error: *self
                .last_server_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Requests answered on every route.
    pub fn total(&self) -> u64 {
        self.routes
            .iter()
            .map(|r| r.count.load(Ordering::Relaxed))
            .sum()
    }

    pub fn render(&self, out: &mut String) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path the API documents has its own label: one left out would be counted as
    /// `other`, with the unmatched paths.
    #[test]
    fn every_documented_path_has_a_route_label() {
        let doc: serde_json::Value =
            serde_json::from_slice(&crate::api::docs::openapi_bytes("test")).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() >= 12, "{paths:?}");
        for path in paths.keys() {
            assert!(ROUTES.contains(&path.as_str()), "{path} has no route label");
        }
    }

    #[test]
    fn activity_counts_server_errors_and_keeps_the_latest() {
        let m = HttpMetrics::new();
        let ms = Duration::from_millis(1);
        assert_eq!(m.activity(), ApiActivity::default());
        m.record(HttpMetrics::route_index(Some("/health")), 200, ms);
        m.record(HttpMetrics::route_index(Some("/products/{asin}")), 404, ms);
        m.record(HttpMetrics::route_index(Some("/stats")), 500, ms);
        m.record(HttpMetrics::route_index(Some("/opportunities")), 503, ms);
        let a = m.activity();
        assert_eq!((a.requests, a.server_errors), (4, 2));
        let last = a.last_server_error.map(|e| (e.status, e.route));
        assert_eq!(last, Some((503, "/opportunities")));
    }

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
}
