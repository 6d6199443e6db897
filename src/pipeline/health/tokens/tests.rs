//! The Keepa token verdict and the refresh estimate: the rules of each, case by case.

use super::*;
use crate::component::HealthStatus;
use crate::pipeline::{BuyBoxShare, RefreshPlan};

#[test]
fn token_rules() {
    let now = Utc::now();
    let mut k = ClientStatus::default();
    let plan = RefreshPlan {
        tokens_per_product: 1,
        buybox_by_route: None,
        interval_secs: 1800,
        discovery: true,
    };
    let w = Watched {
        asins: 400,
        markets: 5,
    };
    let h = token_health(&k, Some(&plan), w, now);
    assert!(h.detail.contains("not seen yet"), "{}", h.detail);
    k.tokens_left = Some(300);
    k.refill_rate = Some(20);
    // Refilled 50 s ago (seen 70 s ago, 20 s before that refill): the next is in 10 s.
    k.tokens_seen_at = Some(now - chrono::Duration::seconds(70));
    k.refill_in_ms = Some(20_000);
    let h = token_health(&k, Some(&plan), w, now);
    assert!(h.detail.contains("next refill in 10s"), "{}", h.detail);
    // 2,000 tokens a refresh at 20/min: 100 min, longer than the 30 min interval; 300
    // tokens cover the 46/min that are missing for 6 minutes.
    assert!(
        h.detail
            .contains("a full refresh costs 2,000 (400 ASINs × 5 markets × 1)"),
        "{}",
        h.detail
    );
    assert!(h.detail.contains("at least 1h 40m at the refill rate, longer than the 30m refresh interval; the balance covers the difference for about 6m"), "{}", h.detail);
    assert_eq!(h.status, HealthStatus::Ok);
    k.tokens_left = Some(10);
    let h = token_health(&k, Some(&plan), w, now);
    assert_eq!(h.status, HealthStatus::Degraded);
    assert!(h.detail.contains("refreshed less often"), "{}", h.detail);
    // A watchlist the refill keeps up with: no warning.
    let small = Watched {
        asins: 100,
        markets: 5,
    };
    let h = token_health(&k, Some(&plan), small, now);
    assert_eq!(h.status, HealthStatus::Ok);
    assert!(
        h.detail.contains("at least 25m at the refill rate · "),
        "{}",
        h.detail
    );
    k.tokens_left = Some(-100);
    k.estimator_drift = 12;
    let h = token_health(&k, Some(&plan), small, now);
    assert!(h.detail.contains("requests wait about 5m"), "{}", h.detail);
    assert!(
        h.detail.ends_with("cost estimates off by 12 tokens in all"),
        "{}",
        h.detail
    );
    k.stopped = Some("invalid API key".into());
    assert_eq!(
        token_health(&k, None, small, now).status,
        HealthStatus::Down
    );
}

#[test]
fn refresh_estimates() {
    let mut k = ClientStatus::default();
    let plan = RefreshPlan {
        tokens_per_product: 3,
        buybox_by_route: None,
        interval_secs: 60,
        discovery: true,
    };
    let now = Utc::now();
    assert_eq!(
        refresh_estimate(&k, Some(&plan), 2, 5, now),
        "30 Keepa tokens"
    );
    k.tokens_left = Some(1_200);
    k.refill_rate = Some(20);
    assert_eq!(
        refresh_estimate(&k, Some(&plan), 2, 5, now),
        "30 Keepa tokens of 1,200: fetched within seconds"
    );
    k.tokens_left = Some(-10);
    assert_eq!(
        refresh_estimate(&k, Some(&plan), 2, 5, now),
        "30 Keepa tokens, balance -10: fetched in about 2m as tokens refill"
    );
    // A balance seen 11 minutes ago has had refills since (Keepa's, once a minute from the
    // time it gave): 60 then, 20 a minute, is 260 now, capped at a full bucket.
    k.tokens_left = Some(60);
    k.tokens_seen_at = Some(now - chrono::Duration::minutes(11));
    k.refill_in_ms = Some(30_000);
    assert_eq!(k.tokens_at(now), Some(60 + 11 * 20));
    assert_eq!(k.tokens_at(now + chrono::Duration::hours(5)), Some(1_200));
    assert_eq!(
        refresh_estimate(&k, Some(&plan), 2, 5, now),
        "30 Keepa tokens of 280: fetched within seconds"
    );
    k.tokens_seen_at = None;
    // Other work already waits for tokens: the balance does not say "within seconds".
    k.tokens_left = Some(220);
    k.waiting_until = Some(now + chrono::Duration::seconds(39));
    assert_eq!(
        refresh_estimate(&k, Some(&plan), 2, 5, now),
        "30 Keepa tokens; Keepa requests are already waiting 39s for tokens: fetched in 39s at the earliest"
    );
    // A refresh that costs more than the balance waits for the refill of its cost too:
    // 7,575 tokens at 100 a minute with 44 left is 1h 15m, not the 32 s queued work waits.
    k.tokens_left = Some(44);
    k.refill_rate = Some(100);
    k.waiting_until = Some(now + chrono::Duration::seconds(32));
    assert_eq!(
        refresh_estimate(&k, Some(&plan), 505, 5, now),
        "7,575 Keepa tokens; Keepa requests are already waiting 32s for tokens: fetched in 1h 15m at the earliest"
    );
    // Failing requests wait for a backoff, not tokens, however many are left.
    k.failing_since = Some(now - chrono::Duration::seconds(70));
    k.last_error = Some("HTTP 503".into());
    k.tokens_left = Some(179_988);
    assert_eq!(
        refresh_estimate(&k, Some(&plan), 2, 5, now),
        "30 Keepa tokens; Keepa requests are failing (last error: HTTP 503) and retried after \
         a backoff: fetched once Keepa answers again (g h shows its health)"
    );
    k.failing_since = None;
    k.last_error = None;
    k.tokens_left = Some(44);
    k.refill_rate = Some(20);
    // Stopped requests fetch nothing, whatever balance was seen before.
    k.stopped = Some("the key was refused (HTTP 401)".into());
    assert_eq!(
        refresh_estimate(&k, Some(&plan), 2, 5, now),
        "30 Keepa tokens, but Keepa requests are stopped (the key was refused (HTTP 401)): nothing is fetched until that is fixed"
    );
}

#[test]
fn the_buy_box_by_route_costs_what_the_fetches_so_far_say() {
    let now = Utc::now();
    let k = ClientStatus {
        tokens_left: Some(1_000),
        refill_rate: Some(20),
        ..Default::default()
    };
    let mut plan = RefreshPlan {
        tokens_per_product: 1,
        buybox_by_route: Some(BuyBoxShare::default()),
        interval_secs: 3600,
        discovery: false,
    };
    let w = Watched {
        asins: 400,
        markets: 5,
    };
    // Before a fetch: between 1 and 3 tokens a product, and no verdict on the higher.
    let h = token_health(&k, Some(&plan), w, now);
    assert!(
        h.detail.contains(
            "a full refresh costs 2,000 to 6,000 (400 ASINs × 5 markets × 1, +2 for the Buy Box \
             of each with a profitable route there)"
        ),
        "{}",
        h.detail
    );
    assert_eq!(h.status, HealthStatus::Ok);
    assert_eq!(
        refresh_estimate(&k, Some(&plan), 2, 5, now),
        "10 to 30 Keepa tokens of 1,000: fetched within seconds"
    );
    // A quarter asked with it: 1.5 tokens a product.
    plan.buybox_by_route = Some(BuyBoxShare {
        asked: 200,
        with_buybox: 50,
    });
    let h = token_health(&k, Some(&plan), w, now);
    assert!(
        h.detail.contains(
            "a full refresh costs about 3,000 (400 ASINs × 5 markets × 1, +2 for the Buy Box \
             of the 25 % asked with it in recent fetches: a route there at a profit, or one its \
             price closed)"
        ),
        "{}",
        h.detail
    );
    assert!(
        h.detail.contains("at least 2h 30m at the refill rate"),
        "{}",
        h.detail
    );
    // A refresh on command is often of products on screen, with a route: the range.
    assert_eq!(
        refresh_estimate(&k, Some(&plan), 2, 5, now),
        "10 to 30 Keepa tokens of 1,000: fetched within seconds"
    );
}
