//! Health rules judged from the status snapshot: Keepa, the queue, the pipeline and the
//! FX rate.
//!
//! Pure functions, shared by `GET /health` and the console's health panel, so both say the
//! same thing about the same state.

use chrono::{DateTime, Utc};

use super::{PipelineStatus, Source};
use crate::component::ComponentHealth;
use crate::domain::text::signed_thousands;
use crate::keepa::ClientStatus;

/// Without a successful Keepa request for this long, failures make Keepa degraded.
const KEEPA_STALE_AFTER_MIN: i64 = 10;
/// A stage failing more than this share of its items (percent) is degraded.
const STAGE_ERROR_PCT: u64 = 5;

/// Keepa as a process reports it: its client's health, or that it has none (no ingest role).
pub fn keepa_component(s: &PipelineStatus, now: DateTime<Utc>) -> ComponentHealth {
    if s.keepa_client {
        keepa_health(&s.keepa, s.source, now)
    } else {
        ComponentHealth::ok("none", "no Keepa client in this process (no ingest role)")
    }
}

/// Keepa: stopped (bad key, no plan) is down; failing with no success for a while is
/// degraded; waiting for tokens is normal.
pub fn keepa_health(k: &ClientStatus, source: Source, now: DateTime<Utc>) -> ComponentHealth {
    let kind = match source {
        Source::Live => "keepa",
        Source::Demo => "keepa-simulator",
    };
    if let Some(reason) = &k.stopped {
        return ComponentHealth::down(kind, format!("requests are stopped: {reason}"));
    }
    let last_error = k.last_error.as_deref().unwrap_or("unknown");
    if k.errors > 0 {
        match k.last_success {
            None => {
                return ComponentHealth::degraded(
                    kind,
                    format!("no successful request yet; last error: {last_error}"),
                );
            }
            Some(t) if (now - t).num_minutes() >= KEEPA_STALE_AFTER_MIN => {
                return ComponentHealth::degraded(
                    kind,
                    format!(
                        "no successful request for {} min; last error: {last_error}",
                        (now - t).num_minutes()
                    ),
                );
            }
            Some(_) => {}
        }
    }
    let tokens = match (k.tokens_left, k.refill_rate) {
        (Some(left), Some(rate)) => {
            format!("{} tokens left, refill {rate}/min", signed_thousands(left))
        }
        (Some(left), None) => format!("{} tokens left", signed_thousands(left)),
        _ => "token balance not seen yet".to_string(),
    };
    let mut detail = format!(
        "{tokens}; {} requests, {} errors, {} rate-limited",
        k.requests, k.errors, k.rate_limited
    );
    if let Some(until) = k.waiting_until.filter(|u| *u > now) {
        detail.push_str(&format!(
            "; waiting {} s for tokens or backoff",
            (until - now).num_seconds().max(1)
        ));
    }
    ComponentHealth::ok(kind, detail)
}

/// The queue's own report as the pipeline last refreshed it.
pub fn queue_health(s: &PipelineStatus) -> ComponentHealth {
    let counts = format!("depth {}, {} dead letters", s.queue_depth, s.dead_letters);
    match (&s.queue, s.running) {
        (Some(q), _) => {
            let mut q = q.clone();
            q.detail = if q.detail.is_empty() {
                counts
            } else {
                format!("{}; {counts}", q.detail)
            };
            q
        }
        (None, false) => ComponentHealth::ok("none", "no queue in this process"),
        (None, true) => ComponentHealth::degraded(
            "unknown",
            "the pipeline has not reported the queue's health yet",
        ),
    }
}

/// The pipeline: stopped after starting is down; a stage failing more than 5 % of its
/// items is degraded.
pub fn pipeline_health(s: &PipelineStatus) -> ComponentHealth {
    if !s.running {
        return match s.started_at {
            Some(t) => ComponentHealth::down(
                "pipeline",
                format!("stopped; it had been running since {}", t.to_rfc3339()),
            ),
            None => ComponentHealth::ok("pipeline", "not running in this process"),
        };
    }
    let failing: Vec<String> = s
        .stages
        .iter()
        .filter(|(_, st)| st.errors > 0 && st.errors * 100 > st.processed.max(1) * STAGE_ERROR_PCT)
        .map(|(name, st)| {
            format!(
                "{name}: {} errors in {} items, last: {}",
                st.errors,
                st.processed,
                st.last_error.as_deref().unwrap_or("unknown")
            )
        })
        .collect();
    if !failing.is_empty() {
        return ComponentHealth::degraded("pipeline", failing.join("; "));
    }
    let rates: Vec<String> = s
        .stages
        .iter()
        .map(|(name, st)| format!("{name} {:.1}/s", st.rate_per_s))
        .collect();
    let detail = if rates.is_empty() {
        "running".to_string()
    } else {
        format!("running; {}", rates.join(", "))
    };
    ComponentHealth::ok("pipeline", detail)
}

/// The GBP rate in use, once the pipeline has one. A stale rate is degraded: GBP routes
/// are not ranked until a current one arrives. Demo data runs offline on the shipped rate,
/// so there the detail says how to give it a current one.
pub fn fx_health(s: &PipelineStatus) -> Option<ComponentHealth> {
    let fx = s.fx.as_ref()?;
    let mut detail = format!("1 GBP = {:.4} EUR, rate of {}", fx.eur_per_gbp, fx.date);
    if !fx.stale {
        return Some(ComponentHealth::ok(&fx.source, detail));
    }
    detail.push_str(" (stale: rows flagged FX_STALE, GBP routes not ranked");
    detail.push_str(if fx.source == "config" {
        "; the [fx] override is older than fx.max_age_days: give it a current rate and date)"
    } else if s.source == Source::Demo {
        "; demo data is offline: a dated rate in [fx] override gives a current one)"
    } else {
        ")"
    });
    Some(ComponentHealth::degraded(&fx.source, detail))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::HealthStatus;
    use crate::pipeline::StageStatus;

    #[test]
    fn keepa_rules() {
        let now = Utc::now();
        let mut k = ClientStatus::default();
        assert_eq!(keepa_health(&k, Source::Demo, now).status, HealthStatus::Ok);
        k.errors = 2;
        k.last_error = Some("/product: HTTP 502".into());
        let h = keepa_health(&k, Source::Live, now);
        assert_eq!(
            (h.status, h.kind.as_str()),
            (HealthStatus::Degraded, "keepa")
        );
        assert!(h.detail.contains("HTTP 502"));
        k.last_success = Some(now - chrono::Duration::minutes(1));
        assert_eq!(keepa_health(&k, Source::Live, now).status, HealthStatus::Ok);
        k.last_success = Some(now - chrono::Duration::minutes(30));
        assert_eq!(
            keepa_health(&k, Source::Live, now).status,
            HealthStatus::Degraded
        );
        k.stopped = Some("invalid API key".into());
        assert_eq!(
            keepa_health(&k, Source::Live, now).status,
            HealthStatus::Down
        );
    }

    #[test]
    fn pipeline_rules() {
        let mut s = PipelineStatus::default();
        assert_eq!(pipeline_health(&s).status, HealthStatus::Ok);
        s.started_at = Some(Utc::now());
        assert_eq!(pipeline_health(&s).status, HealthStatus::Down);
        s.running = true;
        let stage = StageStatus {
            processed: 100,
            errors: 3,
            ..StageStatus::default()
        };
        s.stages.insert("enrich".into(), stage);
        assert_eq!(pipeline_health(&s).status, HealthStatus::Ok);
        if let Some(st) = s.stages.get_mut("enrich") {
            st.errors = 30;
        }
        let h = pipeline_health(&s);
        assert_eq!(h.status, HealthStatus::Degraded);
        assert!(h.detail.starts_with("enrich: 30 errors"));
    }

    #[test]
    fn queue_rules() {
        let mut s = PipelineStatus::default();
        assert_eq!(queue_health(&s).status, HealthStatus::Ok);
        s.running = true;
        assert_eq!(queue_health(&s).status, HealthStatus::Degraded);
        s.queue = Some(ComponentHealth::ok("memory", "bounded channels"));
        s.queue_depth = 7;
        let h = queue_health(&s);
        assert_eq!(h.detail, "bounded channels; depth 7, 0 dead letters");
    }
}
