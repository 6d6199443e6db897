//! What every pluggable component shares: a health report and boxed futures.
//!
//! The queue and the store are trait objects chosen at start-up (`Arc<dyn Queue>`,
//! `Arc<dyn Store>`); their async methods return `BoxFuture` so the traits stay object-safe.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

/// A boxed, sendable future: the return type of async methods on object-safe traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a component is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Working.
    Ok,
    /// Working with problems (retries, lag, stale data).
    Degraded,
    /// Not working.
    Down,
}

/// A component's health for `/health` and the console.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentHealth {
    /// Overall state.
    pub status: HealthStatus,
    /// Which implementation (`sqlite`, `memory`, `kafka`, …).
    pub kind: String,
    /// One line for an operator: what is wrong and what to do, or a summary.
    pub detail: String,
    /// Round-trip time of the health probe, if one was made.
    pub latency_ms: Option<f64>,
}

impl ComponentHealth {
    /// A healthy component.
    pub fn ok(kind: &str, detail: impl Into<String>) -> Self {
        ComponentHealth {
            status: HealthStatus::Ok,
            kind: kind.into(),
            detail: detail.into(),
            latency_ms: None,
        }
    }

    /// A component that is down.
    pub fn down(kind: &str, detail: impl Into<String>) -> Self {
        ComponentHealth {
            status: HealthStatus::Down,
            kind: kind.into(),
            detail: detail.into(),
            latency_ms: None,
        }
    }

    /// A component that works with problems.
    pub fn degraded(kind: &str, detail: impl Into<String>) -> Self {
        ComponentHealth {
            status: HealthStatus::Degraded,
            kind: kind.into(),
            detail: detail.into(),
            latency_ms: None,
        }
    }
}
