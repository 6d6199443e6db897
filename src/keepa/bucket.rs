//! The client's model of Keepa's token bucket.
//!
//! Keepa grants `refillRate` tokens per minute; each token expires after 60 minutes, so the
//! balance never exceeds `rate × 60`. A request runs while the balance is positive and may
//! drive it negative. The client keeps the envelope of the last response with the local
//! monotonic instant it arrived, so `refillIn` is measured on our clock, not the server's.
//! The algorithm is the one in `docs/keepa-api.md` §5.1.

use std::time::Duration;

use tokio::time::Instant;

use super::wire::Envelope;

const MINUTE: Duration = Duration::from_secs(60);

/// Projected token state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// Balance at `seen`.
    pub left: i64,
    /// Effective refill per minute (at least 1).
    pub rate: i64,
    /// Time from `seen` to the next refill.
    pub refill_in: Duration,
    /// Local instant of the observation.
    pub seen: Instant,
}

impl Bucket {
    /// The bucket an envelope describes, observed at `seen`. `None` when the effective
    /// rate is below one token per minute (the plan never refills).
    pub fn from_envelope(env: &Envelope, seen: Instant) -> Option<Bucket> {
        let rate = net_refill(env.refill_rate, env.token_flow_reduction);
        if rate < 1 {
            return None;
        }
        let refill_in = Duration::from_millis(env.refill_in.clamp(0, 3_600_000) as u64);
        Some(Bucket {
            left: env.tokens_left,
            rate,
            refill_in,
            seen,
        })
    }

    /// Most tokens the bucket can hold.
    pub fn capacity(&self) -> i64 {
        self.rate.saturating_mul(60)
    }

    /// Balance expected at `now`.
    pub fn projected(&self, now: Instant) -> i64 {
        let first = self.seen + self.refill_in;
        if now < first {
            return self.left;
        }
        let refills = 1 + ((now - first).as_secs() / 60) as i64;
        self.left
            .saturating_add(refills.saturating_mul(self.rate))
            .min(self.capacity().max(self.left))
    }

    /// Earliest instant a request costing `cost` should start. Never waits for more than
    /// half a bucket, so an expensive request is not starved forever.
    pub fn ready_at(&self, cost: i64) -> Instant {
        let need = cost.min(self.capacity() / 2).max(1);
        if self.left >= need {
            return self.seen;
        }
        // Refills to wait for; a balance a server reports deeper than a day of refills in
        // debt waits a day, then the bucket is observed again.
        let k = need.saturating_sub(self.left).saturating_add(self.rate - 1) / self.rate;
        let minutes = k.clamp(1, 24 * 60) as u32 - 1;
        self.seen + self.refill_in + MINUTE * minutes + Duration::from_secs(1)
    }

    /// Moves the observation to `now`, applying refills that happened in between.
    pub fn advance(&mut self, now: Instant) {
        if now <= self.seen {
            return;
        }
        let first = self.seen + self.refill_in;
        if now >= first {
            let n = 1 + (now - first).as_secs() / 60;
            self.left = self.projected(now);
            let next = first + MINUTE * n as u32;
            self.refill_in = next - now;
        } else {
            self.refill_in = first - now;
        }
        self.seen = now;
    }

    /// Reserves `cost` tokens for a request that is about to be sent at `now`.
    pub fn reserve(&mut self, cost: i64, now: Instant) {
        self.advance(now);
        self.left = self.left.saturating_sub(cost);
    }

    /// Takes back a reservation of `cost` for a request that was never sent.
    pub fn give_back(&mut self, cost: i64, now: Instant) {
        self.advance(now);
        self.left = self.left.saturating_add(cost);
    }
}

/// Tokens a minute a plan refills once Keepa's `tokenFlowReduction` is held back.
pub fn net_refill(refill_rate: i64, token_flow_reduction: f64) -> i64 {
    refill_rate.saturating_sub(held_back(token_flow_reduction))
}

/// Keepa's `tokenFlowReduction` as whole tokens a minute held back from the refill, rounded
/// up (a fraction held back is a token not there to spend); 0 when it is not a number.
pub fn held_back(token_flow_reduction: f64) -> i64 {
    if token_flow_reduction.is_finite() {
        token_flow_reduction.max(0.0).ceil() as i64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(left: i64, refill_in: i64, rate: i64) -> Envelope {
        Envelope {
            timestamp: 0,
            tokens_left: left,
            refill_in,
            refill_rate: rate,
            token_flow_reduction: 0.0,
            tokens_consumed: 0,
            processing_time_in_ms: 0,
            error: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_enough_refills() {
        let now = Instant::now();
        let b = Bucket::from_envelope(&env(0, 38_205, 20), now).unwrap();
        // 100 tokens at 20/min: five refills, the first in 38.2 s.
        assert_eq!(
            b.ready_at(100),
            now + Duration::from_millis(38_205) + MINUTE * 4 + Duration::from_secs(1)
        );
        assert_eq!(
            b.ready_at(0),
            now + Duration::from_millis(38_205) + Duration::from_secs(1)
        );
        let rich = Bucket::from_envelope(&env(1183, 42_817, 20), now).unwrap();
        assert_eq!(rich.ready_at(3), now);
    }

    /// A server may report any balance: the extremes wait at most a day, never overflow.
    #[tokio::test(start_paused = true)]
    async fn an_absurd_balance_waits_a_day_at_most() {
        let now = Instant::now();
        for (left, rate) in [(i64::MIN, 20), (i64::MIN, i64::MAX), (-1_000_000_000, 1)] {
            let b = Bucket::from_envelope(&env(left, 1_000, rate), now).unwrap();
            let at = b.ready_at(i64::MAX);
            assert!(
                at > now && at <= now + Duration::from_secs(24 * 3600 + 2),
                "{left} {rate}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn projection_caps_at_an_hour_of_tokens() {
        let now = Instant::now();
        let b = Bucket::from_envelope(&env(-50, 1_000, 20), now).unwrap();
        assert_eq!(b.projected(now), -50);
        assert_eq!(b.projected(now + Duration::from_secs(1)), -30);
        assert_eq!(b.projected(now + Duration::from_secs(10 * 3600)), 1200);
    }

    #[tokio::test(start_paused = true)]
    async fn advance_and_reserve_keep_the_refill_phase() {
        let now = Instant::now();
        let mut b = Bucket::from_envelope(&env(10, 30_000, 20), now).unwrap();
        b.reserve(5, now + Duration::from_secs(100));
        // One refill at 30 s, next at 90 s, then 150 s: at 100 s two refills happened.
        assert_eq!(b.left, 10 + 40 - 5);
        assert_eq!(b.refill_in, Duration::from_secs(50));
    }

    #[test]
    fn no_refill_is_reported() {
        let now = Instant::now();
        assert!(Bucket::from_envelope(&env(5, 1000, 0), now).is_none());
    }
}
