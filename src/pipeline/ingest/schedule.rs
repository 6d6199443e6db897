//! When each watched product is due: the schedule of refreshes, the wait while Keepa does
//! not answer, and how many products one request asks for.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::domain::{Asin, Market};

/// When each (ASIN, market) is next due for a scheduled refresh.
pub(super) type DueAt = HashMap<(Asin, Market), Instant>;

/// Marks `asins` of `market` fetched now: due again a refresh interval after the answer
/// (those that failed are then set to [`retry_soon`]).
pub(super) fn fetched(due_at: &mut DueAt, market: Market, asins: &[Asin], interval: Duration) {
    let next = Instant::now() + interval;
    due_at.extend(asins.iter().map(|a| ((*a, market), next)));
}

/// Of `asins`, those of `market` that no fetch answered after `asked`: one that did is due
/// a refresh interval after its answer, so no earlier than `asked + interval`.
pub(super) fn unanswered_since(
    due_at: &DueAt,
    market: Market,
    asins: &[Asin],
    asked: Instant,
    interval: Duration,
) -> Vec<Asin> {
    asins
        .iter()
        .copied()
        .filter(|a| {
            due_at
                .get(&(*a, market))
                .is_none_or(|t| *t < asked + interval)
        })
        .collect()
}

/// While Keepa does not answer (every attempt of a request failed), scheduled fetching
/// waits between tries, from [`OUTAGE_MIN`] doubling to [`OUTAGE_MAX`], rather than going
/// on at once to the next market's batch (a connection attempt every few seconds and two
/// log lines each, for as long as the outage lasts). Refreshes on command still try.
#[derive(Debug, Default)]
pub(super) struct Outage {
    /// Until when, and the wait that set it.
    paused: Option<(Instant, Duration)>,
}

const OUTAGE_MIN: Duration = Duration::from_secs(30);
const OUTAGE_MAX: Duration = Duration::from_secs(300);

impl Outage {
    /// Whether scheduled fetching waits now.
    pub(super) fn holds(&self) -> bool {
        self.paused.is_some_and(|(until, _)| Instant::now() < until)
    }

    /// After a scheduled fetch: a success ends the wait; Keepa not answering (every
    /// attempt of a request failed) starts or doubles it (said once, when it starts: the
    /// client says when Keepa answers again).
    pub(super) fn after_fetch(&mut self, ok: bool, unanswered: bool) {
        if ok {
            self.paused = None;
            return;
        }
        if !unanswered {
            return;
        }
        let wait = match self.paused {
            None => {
                tracing::warn!(
                    "Keepa does not answer: scheduled fetching waits {} between tries (up to {}) \
                     until it does; refreshes on command still try.",
                    crate::domain::text::span(OUTAGE_MIN.as_secs() as i64),
                    crate::domain::text::span(OUTAGE_MAX.as_secs() as i64)
                );
                OUTAGE_MIN
            }
            Some((_, last)) => (last * 2).min(OUTAGE_MAX),
        };
        self.paused = Some((Instant::now() + wait, wait));
    }
}

/// How soon products whose fetch failed are due again: soon, rather than a refresh
/// interval later, but not at once (the client has already retried with backoff).
pub(super) const RETRY_FAILED: Duration = Duration::from_secs(60);

/// Makes `failed` products of `market` due again after [`RETRY_FAILED`].
pub(super) fn retry_soon(due_at: &mut DueAt, market: Market, failed: Vec<Asin>) {
    let at = Instant::now() + RETRY_FAILED;
    due_at.extend(failed.into_iter().map(|a| ((a, market), at)));
}

/// Products a refresh asks for in one request: `fetch_batch`, but within half the token
/// bucket (an hour of `refill_rate`) at `per_product` tokens each, as keepa-api.md §3
/// advises, so a small plan's balance does not sink far below zero; at least one.
pub(super) fn request_size(
    fetch_batch: usize,
    refill_rate: Option<i64>,
    per_product: i64,
) -> usize {
    match refill_rate {
        Some(rate) if rate > 0 => {
            let half_bucket = rate.saturating_mul(30);
            let fits = usize::try_from(half_bucket / per_product.max(1)).unwrap_or(usize::MAX);
            fetch_batch.min(fits.max(1))
        }
        // Not known yet (before the first answer): the configured size.
        _ => fetch_batch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetch_answered_after_a_refresh_was_asked_answers_it() {
        let hour = Duration::from_secs(3600);
        let (a, b, c): (Asin, Asin, Asin) = (
            "B0AAAAAAAA".parse().unwrap(),
            "B0BBBBBBBB".parse().unwrap(),
            "B0CCCCCCCC".parse().unwrap(),
        );
        let mut due_at = DueAt::new();
        // `a` fetched before the refresh was asked, `b` after; `c` failed after (retried soon).
        fetched(&mut due_at, Market::DE, &[a], hour);
        let asked = Instant::now();
        std::thread::sleep(Duration::from_millis(5));
        fetched(&mut due_at, Market::DE, &[b, c], hour);
        retry_soon(&mut due_at, Market::DE, vec![c]);
        assert_eq!(
            unanswered_since(&due_at, Market::DE, &[a, b, c], asked, hour),
            [a, c]
        );
        assert_eq!(
            unanswered_since(&due_at, Market::FR, &[a, b, c], asked, hour),
            [a, b, c],
            "fetched in another market only"
        );
    }

    #[test]
    fn scheduled_fetching_waits_while_keepa_does_not_answer() {
        let mut outage = Outage::default();
        outage.after_fetch(false, false);
        assert!(!outage.holds(), "a batch Keepa refused is no outage");
        outage.after_fetch(false, true);
        assert!(outage.holds());
        assert_eq!(outage.paused.map(|(_, w)| w), Some(OUTAGE_MIN));
        for _ in 0..5 {
            outage.after_fetch(false, true);
        }
        assert_eq!(outage.paused.map(|(_, w)| w), Some(OUTAGE_MAX));
        outage.after_fetch(true, false);
        assert!(!outage.holds());
    }

    #[test]
    fn a_request_stays_within_half_the_token_bucket() {
        // 20 tokens a minute (the smallest plan): a bucket of 1,200, 100 products of 3.
        assert_eq!(request_size(100, Some(20), 3), 100);
        // 5 a minute: half the bucket is 150 tokens, 50 products with the Buy Box.
        assert_eq!(request_size(100, Some(5), 3), 50);
        assert_eq!(request_size(100, Some(5), 1), 100);
        assert_eq!(request_size(100, Some(1), 3), 10);
        assert_eq!(request_size(100, None, 3), 100, "before the first answer");
        assert_eq!(
            request_size(20, Some(3_000), 3),
            20,
            "the configured size bounds it"
        );
        assert_eq!(request_size(100, Some(0), 3), 100);
    }
}
