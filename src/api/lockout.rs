//! Wrong bearer tokens, counted per client address: a client that sends
//! [`MAX_WRONG`] wrong tokens within [`WINDOW`] gets 429 for every request carrying a token
//! for the next [`LOCK`] — the right token included, so that the answers tell a guesser
//! nothing while it lasts. At ten guesses a minute a 32-character token is out of reach.
//!
//! Clients are told apart by their IP address (behind a reverse proxy that is the proxy's,
//! so one guesser locks out everyone behind it for a minute: the price of refusing the
//! guesses). The table is bounded: past [`MAX_TRACKED`] addresses, the ones whose records
//! ran out are forgotten, and when none did, the new address is not counted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Wrong tokens from one address that lock it out.
pub(crate) const MAX_WRONG: u32 = 10;
/// The time within which they count.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// How long the lock lasts.
pub(crate) const LOCK: Duration = Duration::from_secs(60);
/// Addresses tracked at once.
const MAX_TRACKED: usize = 4096;

/// One address's record: wrong tokens since `since`, and the end of its lock.
#[derive(Debug, Clone, Copy)]
struct Record {
    since: Instant,
    wrong: u32,
    locked_until: Option<Instant>,
}

impl Record {
    /// Whether nothing in it counts any more at `now`.
    fn lapsed(&self, now: Instant) -> bool {
        self.locked_until.is_none_or(|t| t <= now) && now.duration_since(self.since) >= WINDOW
    }
}

/// The wrong-token records of the clients (`None`: a request without a known address, as
/// in tests that call the router directly; they share one record).
#[derive(Debug, Default)]
pub(crate) struct Lockout {
    records: Mutex<HashMap<Option<IpAddr>, Record>>,
}

/// What a wrong token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strike {
    /// Counted; the client may try again.
    Counted,
    /// It was the last one allowed: the client is locked out for [`LOCK`] from now.
    Locked,
}

impl Lockout {
    /// How long `client` stays locked out at `now` (`None`: it is not).
    pub fn locked(&self, client: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records
            .get(&client)?
            .locked_until
            .filter(|&t| t > now)
            .map(|t| t - now)
    }

    /// Counts a wrong token from `client` at `now`.
    pub fn strike(&self, client: Option<IpAddr>, now: Instant) -> Strike {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if records.len() >= MAX_TRACKED && !records.contains_key(&client) {
            records.retain(|_, r| !r.lapsed(now));
            if records.len() >= MAX_TRACKED {
                return Strike::Counted;
            }
        }
        let fresh = Record {
            since: now,
            wrong: 0,
            locked_until: None,
        };
        let record = records.entry(client).or_insert(fresh);
        if record.lapsed(now) {
            *record = fresh;
        }
        record.wrong += 1;
        if record.wrong >= MAX_WRONG {
            // The next lock needs as many wrong tokens again.
            *record = Record {
                locked_until: Some(now + LOCK),
                ..fresh
            };
            return Strike::Locked;
        }
        Strike::Counted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn the_tenth_wrong_token_in_a_minute_locks_that_address_out_for_a_minute() {
        let l = Lockout::default();
        let t0 = Instant::now();
        let guesser = ip("203.0.113.7");
        for i in 0..MAX_WRONG - 1 {
            assert_eq!(
                l.strike(guesser, t0 + Duration::from_secs(i.into())),
                Strike::Counted
            );
        }
        assert_eq!(l.locked(guesser, t0 + Duration::from_secs(9)), None);
        let t = t0 + Duration::from_secs(10);
        assert_eq!(l.strike(guesser, t), Strike::Locked);
        assert_eq!(l.locked(guesser, t), Some(LOCK));
        assert_eq!(
            l.locked(guesser, t + Duration::from_secs(59)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(l.locked(guesser, t + LOCK), None);
        // Another address is not affected.
        assert_eq!(l.locked(ip("198.51.100.1"), t), None);
        // After the lock, as many wrong tokens again lock it again.
        let after = t + LOCK;
        for i in 0..MAX_WRONG - 1 {
            assert_eq!(
                l.strike(guesser, after + Duration::from_millis(i.into())),
                Strike::Counted
            );
        }
        assert_eq!(
            l.strike(guesser, after + Duration::from_secs(1)),
            Strike::Locked
        );
    }

    #[test]
    fn wrong_tokens_spread_over_more_than_a_minute_do_not_lock() {
        let l = Lockout::default();
        let t0 = Instant::now();
        let client = ip("192.0.2.1");
        for i in 0..3 * MAX_WRONG {
            let at = t0 + Duration::from_secs(u64::from(i) * 7);
            assert_eq!(l.strike(client, at), Strike::Counted, "strike {i}");
        }
    }

    #[test]
    fn the_table_stays_bounded_and_forgets_lapsed_records_first() {
        let l = Lockout::default();
        let t0 = Instant::now();
        for i in 0..MAX_TRACKED {
            let addr = IpAddr::from(std::net::Ipv4Addr::from(i as u32));
            l.strike(Some(addr), t0);
        }
        // Full of live records: a new address is not counted, the table does not grow.
        let new = ip("203.0.113.200");
        for _ in 0..MAX_WRONG {
            assert_eq!(l.strike(new, t0), Strike::Counted);
        }
        assert_eq!(l.records.lock().unwrap().len(), MAX_TRACKED);
        // A minute on, the old records lapsed and make room.
        let later = t0 + WINDOW;
        for _ in 0..MAX_WRONG - 1 {
            l.strike(new, later);
        }
        assert_eq!(l.strike(new, later), Strike::Locked);
        assert_eq!(l.records.lock().unwrap().len(), 1);
    }
}
