//! The simulator's token bucket, with Keepa's semantics.
//!
//! `rate` tokens are granted every minute; tokens expire after an hour, so the balance is
//! capped at `rate × 60`. A request that costs tokens runs while the balance is positive and
//! may drive it negative; at or below zero it gets HTTP 429. Requests that cost nothing
//! (`/token`) always run. Time is tokio's, so tests on a paused clock see refills instantly.

use std::time::Duration;

use tokio::time::Instant;

const MINUTE: Duration = Duration::from_secs(60);

/// A Keepa-style token bucket.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    left: i64,
    rate: i64,
    next_refill: Instant,
}

impl TokenBucket {
    /// A full bucket refilling `rate` tokens per minute, starting at `now`.
    pub fn new(rate: i64, now: Instant) -> Self {
        let rate = rate.max(0);
        TokenBucket {
            left: rate * 60,
            rate,
            next_refill: now + MINUTE,
        }
    }

    /// Tokens per minute.
    pub fn rate(&self) -> i64 {
        self.rate
    }

    fn refresh(&mut self, now: Instant) {
        if now >= self.next_refill {
            let n = 1 + (now - self.next_refill).as_secs() / 60;
            let cap = self.rate * 60;
            self.left = (self.left + self.rate * n as i64).min(cap.max(self.left));
            self.next_refill += MINUTE * n as u32;
        }
    }

    /// Charges `cost` if the balance is positive (or the request is free); otherwise
    /// refuses. Returns whether the request may run.
    pub fn try_spend(&mut self, cost: i64, now: Instant) -> bool {
        self.refresh(now);
        if cost > 0 && self.left <= 0 {
            return false;
        }
        self.left -= cost;
        true
    }

    /// Balance at `now`.
    pub fn left(&mut self, now: Instant) -> i64 {
        self.refresh(now);
        self.left
    }

    /// Milliseconds until the next refill.
    pub fn refill_in_ms(&mut self, now: Instant) -> i64 {
        self.refresh(now);
        (self.next_refill - now).as_millis() as i64
    }

    /// Sets the balance (tests).
    #[cfg(test)]
    fn set_left(&mut self, left: i64) {
        self.left = left;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spends_into_the_negative_then_refuses_until_refilled() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(20, t0);
        assert_eq!(b.left(t0), 1200);
        assert!(b.try_spend(1199, t0));
        assert!(b.try_spend(100, t0)); // balance 1 > 0: runs, goes to −99
        assert_eq!(b.left(t0), -99);
        assert!(!b.try_spend(1, t0));
        assert!(b.try_spend(0, t0));
        // Five refills bring it to +1.
        let t = t0 + MINUTE * 5;
        assert_eq!(b.left(t), 1);
        assert_eq!(b.refill_in_ms(t), 60_000);
        assert!(b.try_spend(1, t));
    }

    #[tokio::test(start_paused = true)]
    async fn caps_at_an_hour_of_tokens() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(20, t0);
        b.set_left(0);
        assert_eq!(b.left(t0 + Duration::from_secs(5 * 3600)), 1200);
    }
}
