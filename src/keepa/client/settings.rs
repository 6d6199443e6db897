//! The client's settings and its published status: the key (never shown), the retry
//! schedule, timeouts, and what the console and `/health` read about Keepa.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

/// A Keepa API key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for the query string only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Retry schedule for server and transport failures.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Most attempts per request (429s do not count).
    pub max_attempts: u32,
    /// First backoff; doubles per attempt.
    pub base: Duration,
    /// Backoff cap.
    pub cap: Duration,
    /// Jitter, as a fraction of the backoff (0.2 = ±20 %).
    pub jitter: f64,
    /// Most 429s one request may get (between any other answers) before it is given up.
    pub max_rate_limited: u32,
}

impl Default for RetryPolicy {
    /// 1, 2, 4 … s, capped at 60 s, ±20 %, at most 5 attempts (`docs/keepa-api.md` §5).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            jitter: 0.2,
            max_rate_limited: 50,
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based), before jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.base.saturating_mul(factor).min(self.cap)
    }

    pub(super) fn jittered(&self, attempt: u32) -> Duration {
        let d = self.backoff(attempt).as_secs_f64();
        let unit = (random_u64() % 10_001) as f64 / 10_000.0; // 0..=1
        let factor = 1.0 + self.jitter * (2.0 * unit - 1.0);
        Duration::from_secs_f64((d * factor).max(0.0))
    }
}

fn random_u64() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// What the console and `/health` show about Keepa.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientStatus {
    /// Last known token balance.
    pub tokens_left: Option<i64>,
    /// Tokens per minute.
    pub refill_rate: Option<i64>,
    /// Tokens a minute Keepa holds back from the refill (`tokenFlowReduction`).
    pub token_flow_reduction: Option<f64>,
    /// Milliseconds to the next refill, as of `tokens_seen_at`.
    pub refill_in_ms: Option<i64>,
    /// When the token state was observed.
    pub tokens_seen_at: Option<DateTime<Utc>>,
    /// Requests sent.
    pub requests: u64,
    /// Failed attempts (5xx, transport, unparseable) and requests refused (4xx).
    pub errors: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// Tokens consumed as reported by Keepa.
    pub tokens_consumed: i64,
    /// `tokensConsumed − estimate`, summed: how far the cost estimator is off.
    pub estimator_drift: i64,
    /// Last successful response.
    pub last_success: Option<DateTime<Utc>>,
    /// Last error, without the key.
    pub last_error: Option<String>,
    /// Attempts in the last five minutes, and how many of them failed.
    pub recent_attempts: u64,
    /// See `recent_attempts`.
    pub recent_errors: u64,
    /// Since when requests fail, none having succeeded since (cleared by a success).
    pub failing_since: Option<DateTime<Utc>>,
    /// Waiting until this time (token budget or backoff).
    pub waiting_until: Option<DateTime<Utc>>,
    /// Why traffic is stopped (bad key, no subscription), if it is.
    pub stopped: Option<String>,
}

impl ClientStatus {
    /// The balance expected at `now`: the last one seen, plus Keepa's refills since (once a
    /// minute from the time it gave), at most a full bucket (an hour of refill). `None`
    /// before the first answer.
    pub fn tokens_at(&self, now: DateTime<Utc>) -> Option<i64> {
        let left = self.tokens_left?;
        let (Some(rate), Some(seen)) = (self.refill_rate.filter(|r| *r > 0), self.tokens_seen_at)
        else {
            return Some(left);
        };
        let first = seen + chrono::Duration::milliseconds(self.refill_in_ms.unwrap_or(0).max(0));
        if now < first {
            return Some(left);
        }
        let refills = 1 + (now - first).num_minutes();
        Some(
            left.saturating_add(refills.saturating_mul(rate))
                .min(rate.saturating_mul(60).max(left)),
        )
    }
}

/// Client settings.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Base URL, `https://api.keepa.com` by default.
    pub base_url: Url,
    /// The key.
    pub key: ApiKey,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Longest silence while a response is awaited or read: a server that accepts the
    /// connection and then says nothing fails the attempt after this, not after `timeout`.
    pub read_timeout: Duration,
    /// Whole-request timeout (a large `/product` answer may stream for a while).
    pub timeout: Duration,
}

impl ClientConfig {
    /// Defaults for `key` against `base_url`.
    pub fn new(base_url: Url, key: ApiKey) -> Self {
        ClientConfig {
            base_url,
            key,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            // Keepa refreshes a product whose copy is stale before answering, so a large
            // `/product` answer can take a while to begin: its Java client reads for 120 s.
            // An attempt that times out is retried, and Keepa may charge each one.
            read_timeout: Duration::from_secs(120),
            timeout: Duration::from_secs(180),
        }
    }
}
