//! The client's token state: reserving tokens before a request, taking the envelope of
//! every answer (an answer short of its token fields, and a 429's, by their own rules), and
//! waiting after a 429.

use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use super::{Bucket, Envelope, Error, KeepaClient};

impl KeepaClient {
    /// Waits until the bucket can pay `cost`, then reserves it. Seeds the bucket from
    /// `/token` the first time.
    pub(super) async fn reserve(&self, cost: i64) -> Result<(), Error> {
        if cost <= 0 {
            return Ok(());
        }
        self.seed().await?;
        let mut guard = self.inner.bucket.lock().await;
        loop {
            let now = Instant::now();
            let Some(bucket) = guard.as_mut() else {
                let st = self.inner.status.borrow();
                return Err(Error::no_refill(
                    st.refill_rate.unwrap_or(0),
                    st.token_flow_reduction.unwrap_or(0.0),
                ));
            };
            let at = bucket.ready_at(cost);
            if at <= now {
                bucket.reserve(cost, now);
                let left = bucket.left;
                self.inner.status.send_modify(|s| {
                    s.tokens_left = Some(left);
                    s.waiting_until = None;
                });
                return Ok(());
            }
            let wait = at - now;
            self.inner
                .status
                .send_modify(|s| s.waiting_until = Some(Utc::now() + wait));
            // A minute or more is worth a line: the refresh is visibly slower meanwhile.
            if wait >= std::time::Duration::from_secs(60) {
                tracing::info!(
                    cost,
                    left = bucket.left,
                    "Waiting {} for Keepa tokens (a request costs {cost}, {} left).",
                    crate::domain::text::span(wait.as_secs() as i64),
                    bucket.left
                );
            } else {
                tracing::debug!(
                    cost,
                    wait_ms = wait.as_millis() as u64,
                    "Waiting for Keepa tokens."
                );
            }
            tokio::time::sleep_until(at).await;
            let now = Instant::now();
            if let Some(b) = guard.as_mut() {
                b.advance(now);
            }
        }
    }

    /// Gives back `cost` tokens reserved for a request that was never sent.
    pub(super) async fn give_back(&self, cost: i64) {
        if cost <= 0 {
            return;
        }
        let mut guard = self.inner.bucket.lock().await;
        if let Some(bucket) = guard.as_mut() {
            bucket.give_back(cost, Instant::now());
            let left = bucket.left;
            self.inner
                .status
                .send_modify(|s| s.tokens_left = Some(left));
        }
    }

    /// Asks `/token` unless an answer has already seeded the bucket. Callers at the same
    /// time share one request: the second waits for the first and finds the bucket seeded.
    /// A plan that never refills leaves no bucket, so it is asked again at the next call.
    pub async fn seed(&self) -> Result<(), Error> {
        let _one_at_a_time = self.inner.seeding.lock().await;
        if self.inner.bucket.lock().await.is_some() {
            return Ok(());
        }
        // Boxed: `token` goes through `call`, which comes back to `reserve` with cost 0.
        Box::pin(self.token()).await.map(drop)
    }

    /// Records an envelope: replaces the bucket and publishes the token state. A plan that
    /// never refills leaves no bucket, and requests that cost tokens then fail with `NoRefill`.
    pub(super) async fn observe(&self, env: &Envelope) {
        let now = Instant::now();
        let bucket = Bucket::from_envelope(env, now);
        *self.inner.bucket.lock().await = bucket;
        self.inner.status.send_modify(|s| {
            s.tokens_left = Some(env.tokens_left);
            s.refill_rate = Some(env.refill_rate);
            s.token_flow_reduction = Some(env.token_flow_reduction);
            s.refill_in_ms = Some(env.refill_in);
            s.tokens_seen_at = Some(Utc::now());
        });
        if bucket.is_none() {
            tracing::error!(
                refill_rate = env.refill_rate,
                token_flow_reduction = env.token_flow_reduction,
                "The Keepa plan refills no tokens (its refill rate less what Keepa holds back); requests that cost tokens cannot run."
            );
        }
    }

    /// The envelope of a 200 whose token fields are missing or not numbers (a proxy or a
    /// Keepa-like server; Keepa itself always sends them): the answer is kept and the
    /// fields are named in a warning, with the client's last known token state standing in.
    /// `None` when the body is not a JSON object at all.
    pub(super) fn partial_envelope(
        &self,
        endpoint: &str,
        body: &[u8],
        cost: i64,
    ) -> Option<Envelope> {
        use serde_json::Value;
        // `/token` is asked for nothing but the token state: without it, it is no answer.
        if endpoint == "token" {
            return None;
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Loose {
            timestamp: Option<Value>,
            tokens_left: Option<Value>,
            refill_in: Option<Value>,
            refill_rate: Option<Value>,
            tokens_consumed: Option<Value>,
        }
        let loose: Loose = serde_json::from_slice(body).ok()?;
        let num = |v: &Option<Value>| v.as_ref().and_then(Value::as_i64);
        let why = serde_json::from_slice::<Envelope>(body)
            .err()
            .map_or_else(String::new, |e| e.to_string());
        // Every token field that is missing or not a whole number, by name.
        let unusable: Vec<&str> = [
            ("tokensLeft", &loose.tokens_left),
            ("refillIn", &loose.refill_in),
            ("refillRate", &loose.refill_rate),
        ]
        .into_iter()
        .filter(|(_, v)| num(v).is_none())
        .map(|(name, _)| name)
        .collect();
        let known = self.status();
        tracing::warn!(
            endpoint,
            fields = %unusable.join(", "),
            problem = %self.redact(&why),
            "Keepa's answer lacks these token fields or has them of the wrong type; its payload is kept, and the token balance stays the client's own estimate."
        );
        Some(Envelope {
            timestamp: num(&loose.timestamp).unwrap_or_else(|| Utc::now().timestamp_millis()),
            tokens_left: num(&loose.tokens_left)
                .or(known.tokens_left)
                .unwrap_or_default(),
            refill_in: num(&loose.refill_in)
                .or(known.refill_in_ms)
                .unwrap_or(60_000),
            refill_rate: num(&loose.refill_rate)
                .or(known.refill_rate)
                .unwrap_or_default(),
            token_flow_reduction: 0.0,
            tokens_consumed: num(&loose.tokens_consumed).unwrap_or(cost),
            processing_time_in_ms: 0,
            error: None,
        })
    }

    /// After a 429: the bucket is observed again, and without an envelope to say when
    /// tokens come, the client waits for the last known refill + 1 s (or a minute).
    ///
    /// A 429 whose envelope leaves no refill (a `refillRate` of 0, or all of it held back
    /// by `tokenFlowReduction`) is `NoRefill`: asking `/token` and trying again would only
    /// meet another 429, at once and over and over.
    pub(super) async fn wait_after_429(
        &self,
        endpoint: &str,
        env: Option<&Envelope>,
    ) -> Result<(), Error> {
        let wait = match env {
            Some(env) => {
                // A 429 means the balance is spent (keepa-api.md §5), whatever the body
                // says: a positive `tokensLeft` would make the same request look
                // affordable at once, and the client would ask again and again.
                // A refill "now" or in the past would let the request go again at once
                // against a spent balance: Keepa refills once a minute.
                let spent = Envelope {
                    tokens_left: env.tokens_left.min(0),
                    refill_in: if env.refill_in > 0 {
                        env.refill_in
                    } else {
                        60_000
                    },
                    ..env.clone()
                };
                self.observe(&spent).await;
                if self.inner.bucket.lock().await.is_none() {
                    return Err(Error::no_refill(env.refill_rate, env.token_flow_reduction));
                }
                None
            }
            None => {
                let mut g = self.inner.bucket.lock().await;
                let now = Instant::now();
                let wait = g.as_ref().map_or(Duration::from_secs(60), |b| {
                    b.refill_in + Duration::from_secs(1)
                });
                if let Some(b) = g.as_mut() {
                    b.left = b.left.min(0);
                    b.seen = now;
                }
                Some(wait)
            }
        };
        tracing::info!(
            endpoint,
            "Keepa token balance exhausted (HTTP 429); waiting for a refill."
        );
        if let Some(w) = wait {
            tokio::time::sleep(w).await;
        }
        Ok(())
    }
}
