//! Wrong bearer tokens, counted per client: a client that sends [`MAX_WRONG`] wrong tokens
//! within [`WINDOW`] gets 429 for every request carrying a token for the next [`LOCK`] — the
//! right token included, so that the answers tell a guesser nothing while it lasts. At ten
//! guesses a minute a 32-character token is out of reach.
//!
//! A client is its IPv4 address, or its IPv6 /64 (one host is usually given a whole /64, so
//! its addresses are one client); behind a reverse proxy that is the proxy's, so one guesser
//! locks out everyone behind it for a minute: the price of refusing the guesses. The table
//! is bounded: past [`MAX_TRACKED`] clients, the records that ran out are forgotten; while
//! it is still full (thousands of guessers within the minute), the clients it cannot track
//! share one record, as if they were one client: their tenth wrong token between them locks
//! out, for [`LOCK`], every one of them that sent a wrong token meanwhile (a client that
//! only ever sent the right one is not among them, so keeping the table full does not lock
//! out the operator). Who they are is kept in fixed memory ([`Strikers`], 2 MiB), which
//! may take a client for one of them that is not (about once in 25 at worst, however long
//! the flood), never the reverse. No record is given up for a newcomer's (its wrong tokens would be
//! forgotten), so filling the table buys no free guesses.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Wrong tokens from one client that lock it out.
pub(crate) const MAX_WRONG: u32 = 10;
/// The time within which they count.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// How long the lock lasts.
pub(crate) const LOCK: Duration = Duration::from_secs(60);
/// Clients tracked at once.
const MAX_TRACKED: usize = 4096;
/// Bits of each of the two filters of [`Strikers`]: 1 MiB.
const STRIKER_BITS: usize = 1 << 23;

/// One client's record: wrong tokens since `since`, and the end of its lock.
#[derive(Debug, Clone, Copy)]
struct Record {
    since: Instant,
    wrong: u32,
    locked_until: Option<Instant>,
}

impl Record {
    /// Whether it holds a lock at `now`.
    fn locks(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }

    /// Whether nothing in it counts any more at `now`.
    fn lapsed(&self, now: Instant) -> bool {
        !self.locks(now) && now.duration_since(self.since) >= WINDOW
    }
}

/// The wrong-token records of the clients (`None`: a request without a known address, as
/// in tests that call the router directly; they share one record).
#[derive(Debug, Default)]
pub(crate) struct Lockout {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    records: HashMap<Option<IpAddr>, Record>,
    /// The wrong tokens of the clients the full table could not track, as one record.
    untracked: Option<Record>,
    /// Those clients that sent a wrong token (made when the table first fills).
    strikers: Option<Strikers>,
    /// Set when they locked themselves out: each of them is locked until then.
    full_until: Option<Instant>,
}

/// A set of clients in fixed memory: two Bloom filters of [`STRIKER_BITS`] bits (four bits
/// a client, at places a hash keyed at random picks, so no one can choose addresses that
/// share them), the one filled now and the one filled before it. It may take a client for
/// a member that is not — about 1 in a million at 65,536 members, at most about 1 in 25
/// however many — and never misses one of the last [`STRIKERS_KEPT`] or more. Past that
/// many the older filter is given up for a new one (a flood that long outlives the
/// strikes it forgets).
struct Strikers {
    now: Vec<u64>,
    before: Vec<u64>,
    /// Clients put into `now`.
    in_now: usize,
    hasher: std::collections::hash_map::RandomState,
}

/// Clients a filter takes before a new one is begun: 1 in 50 taken for one at most.
const STRIKERS_KEPT: usize = 1 << 20;

impl std::fmt::Debug for Strikers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Strikers").finish_non_exhaustive()
    }
}

impl Strikers {
    fn new() -> Self {
        Strikers {
            now: vec![0; STRIKER_BITS / 64],
            before: vec![0; STRIKER_BITS / 64],
            in_now: 0,
            hasher: Default::default(),
        }
    }

    /// The four bits of `client`.
    fn places(&self, client: &Option<IpAddr>) -> [usize; 4] {
        let h = self.hasher.hash_one(client);
        let (a, b) = (h as usize, (h >> 32) as usize | 1);
        std::array::from_fn(|i| a.wrapping_add(i.wrapping_mul(b)) % STRIKER_BITS)
    }

    fn insert(&mut self, client: &Option<IpAddr>) {
        if self.in_now >= STRIKERS_KEPT {
            std::mem::swap(&mut self.now, &mut self.before);
            self.now.fill(0);
            self.in_now = 0;
        }
        for p in self.places(client) {
            self.now[p / 64] |= 1 << (p % 64);
        }
        self.in_now += 1;
    }

    fn contains(&self, client: &Option<IpAddr>) -> bool {
        let places = self.places(client);
        let has = |bits: &[u64]| places.iter().all(|p| bits[p / 64] & (1 << (p % 64)) != 0);
        has(&self.now) || has(&self.before)
    }

    fn clear(&mut self) {
        self.now.fill(0);
        self.before.fill(0);
        self.in_now = 0;
    }
}

/// What a wrong token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strike {
    /// Counted; the client may try again.
    Counted,
    /// It was the last one allowed: the client is locked out for [`LOCK`] from now.
    Locked,
    /// It was the last one allowed the clients the full table cannot track: every one of
    /// them that sent a wrong token is locked out for [`LOCK`] from now.
    LockedUntracked,
}

/// The client an address belongs to: an IPv4 address (also when written as IPv6), or the
/// /64 of an IPv6 one.
fn client_of(ip: Option<IpAddr>) -> Option<IpAddr> {
    ip.map(|ip| match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    })
}

impl Lockout {
    /// How long the client of `ip` stays locked out at `now` (`None`: it is not).
    pub fn locked(&self, ip: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let client = client_of(ip);
        let until = match table.records.get(&client) {
            Some(r) => r.locked_until,
            None if table.strikers.as_ref().is_some_and(|s| s.contains(&client)) => {
                table.full_until
            }
            None => None,
        };
        until.filter(|&t| t > now).map(|t| t - now)
    }

    /// Counts a wrong token from the client of `ip` at `now`.
    pub fn strike(&self, ip: Option<IpAddr>, now: Instant) -> Strike {
        let client = client_of(ip);
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let Table {
            records,
            untracked,
            strikers,
            full_until,
        } = &mut *table;
        if records.len() >= MAX_TRACKED && !records.contains_key(&client) {
            records.retain(|_, r| !r.lapsed(now));
            if records.len() >= MAX_TRACKED {
                // Still full: counted with every other client the table cannot track, and
                // named among them. Who struck is forgotten with their count, not while
                // their lock lasts.
                let shared = untracked.get_or_insert(Record::fresh(now));
                let strikers = strikers.get_or_insert_with(Strikers::new);
                if shared.lapsed(now) && full_until.is_none_or(|t| t <= now) {
                    strikers.clear();
                }
                strikers.insert(&client);
                return match count(shared, now) {
                    Strike::Locked => {
                        *full_until = Some(now + LOCK);
                        Strike::LockedUntracked
                    }
                    other => other,
                };
            }
        }
        count(records.entry(client).or_insert(Record::fresh(now)), now)
    }
}

impl Record {
    /// No wrong token yet, counting from `now`.
    fn fresh(now: Instant) -> Self {
        Record {
            since: now,
            wrong: 0,
            locked_until: None,
        }
    }
}

/// Counts a wrong token at `now` in `record`.
fn count(record: &mut Record, now: Instant) -> Strike {
    if record.lapsed(now) {
        *record = Record::fresh(now);
    }
    record.wrong += 1;
    if record.wrong >= MAX_WRONG {
        // The next lock needs as many wrong tokens again.
        *record = Record {
            locked_until: Some(now + LOCK),
            ..Record::fresh(now)
        };
        return Strike::Locked;
    }
    Strike::Counted
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
    fn the_table_stays_bounded_and_filling_it_buys_no_free_guesses() {
        let l = Lockout::default();
        let t0 = Instant::now();
        let len = |l: &Lockout| l.table.lock().unwrap().records.len();
        for i in 0..MAX_TRACKED {
            let addr = IpAddr::from(std::net::Ipv4Addr::from(i as u32));
            l.strike(Some(addr), t0);
        }
        // Full of live records: the clients it cannot track count as one, so guessers
        // that each send a few wrong tokens from new addresses are locked out together at
        // their tenth; the tracked ones keep their own counts.
        for i in 0..MAX_WRONG - 1 {
            assert_eq!(l.strike(ip(&format!("203.0.113.{i}")), t0), Strike::Counted);
        }
        let new = ip("203.0.113.200");
        assert_eq!(l.locked(new, t0), None);
        assert_eq!(l.strike(new, t0), Strike::LockedUntracked);
        assert_eq!(l.locked(new, t0), Some(LOCK));
        assert_eq!(l.locked(ip("203.0.113.3"), t0), Some(LOCK), "one of them");
        // A client that sent no wrong token is not locked with them, nor a tracked one.
        assert_eq!(l.locked(ip("203.0.113.201"), t0), None);
        assert_eq!(l.locked(ip("0.0.0.1"), t0), None, "a tracked client");
        assert_eq!(len(&l), MAX_TRACKED);
        // A minute on, the old records lapsed and are forgotten.
        let later = t0 + WINDOW;
        l.strike(ip("198.51.100.9"), later);
        assert_eq!(len(&l), 1);
    }

    #[test]
    fn a_table_full_of_locks_locks_out_every_client_it_cannot_track() {
        let l = Lockout::default();
        let t0 = Instant::now();
        for i in 0..MAX_TRACKED {
            let addr = Some(IpAddr::from(std::net::Ipv4Addr::from(i as u32)));
            for _ in 0..MAX_WRONG {
                l.strike(addr, t0);
            }
        }
        let new = ip("203.0.113.200");
        assert_eq!(l.locked(new, t0), None);
        for _ in 0..MAX_WRONG - 1 {
            assert_eq!(l.strike(new, t0), Strike::Counted);
        }
        assert_eq!(l.strike(new, t0), Strike::LockedUntracked);
        assert_eq!(l.locked(new, t0), Some(LOCK));
        assert_eq!(
            l.locked(ip("203.0.113.201"), t0),
            None,
            "sent no wrong token"
        );
        assert_eq!(l.locked(new, t0 + LOCK), None, "for a minute");
    }

    #[test]
    fn a_flood_of_guessers_from_many_addresses_does_not_lock_out_the_operator() {
        let l = Lockout::default();
        let t0 = Instant::now();
        for i in 0..MAX_TRACKED {
            l.strike(Some(IpAddr::from(std::net::Ipv4Addr::from(i as u32))), t0);
        }
        // 70,000 more guessers (past what a set of addresses would hold in bounded memory),
        // one wrong token each: locked out together.
        let guesser = |i: u32| Some(IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i)));
        for i in 0..70_000 {
            l.strike(guesser(i), t0);
        }
        assert!((0..70_000).all(|i| l.locked(guesser(i), t0) == Some(LOCK)));
        // Of 10,000 clients that sent no wrong token, nearly all are let in.
        let operator = |i: u32| Some(IpAddr::from(std::net::Ipv4Addr::from(0xc000_0000 + i)));
        let shut_out = (0..10_000)
            .filter(|&i| l.locked(operator(i), t0).is_some())
            .count();
        assert!(shut_out < 50, "{shut_out} of 10,000 locked out");
    }

    /// A flood longer than one filter holds: the last million strikers or more are kept,
    /// and the older ones given up, so the share of others taken for them stays bounded.
    #[test]
    fn the_strikers_set_stays_bounded_over_a_long_flood() {
        let mut s = Strikers::new();
        let client = |i: usize| Some(IpAddr::from(std::net::Ipv4Addr::from(i as u32)));
        for i in 0..STRIKERS_KEPT + 1000 {
            s.insert(&client(i));
        }
        assert!(
            (0..1000).all(|i| s.contains(&client(i))),
            "kept a filter longer"
        );
        for i in STRIKERS_KEPT + 1000..2 * STRIKERS_KEPT + 2000 {
            s.insert(&client(i));
        }
        let last = STRIKERS_KEPT + 1000..2 * STRIKERS_KEPT + 2000;
        assert!(last.step_by(997).all(|i| s.contains(&client(i))));
        let others = (0..10_000)
            .filter(|i| s.contains(&client(0x8000_0000 + i)))
            .count();
        assert!(
            others < 1_000,
            "{others} of 10,000 others taken for strikers"
        );
        let first = (0..1000).filter(|&i| s.contains(&client(i))).count();
        assert!(first < 100, "{first} of the first 1,000 still held");
    }

    #[test]
    fn an_ipv6_host_is_one_client_across_its_slash_64() {
        let l = Lockout::default();
        let t0 = Instant::now();
        for i in 0..MAX_WRONG {
            let addr = ip(&format!("2001:db8:1:2::{:x}", i + 1));
            let strike = l.strike(addr, t0);
            assert_eq!(strike == Strike::Locked, i == MAX_WRONG - 1, "{i}");
        }
        assert_eq!(l.locked(ip("2001:db8:1:2:ffff::1"), t0), Some(LOCK));
        assert_eq!(l.locked(ip("2001:db8:1:3::1"), t0), None, "another /64");
        // An IPv4 client seen through an IPv6 socket is the IPv4 one.
        for _ in 0..MAX_WRONG {
            l.strike(ip("::ffff:192.0.2.7"), t0);
        }
        assert_eq!(l.locked(ip("192.0.2.7"), t0), Some(LOCK));
    }
}
