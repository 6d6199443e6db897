//! Keepa's token bucket as health sees it: whether the watchlist can be refreshed within
//! the interval on the refill rate and balance, and what a refresh asked now costs and
//! when the balance allows it (the console's answer to `R`).

use chrono::{DateTime, Utc};

use super::super::RefreshPlan;
use super::KEEPA_FAILING_AFTER_SECS;
use crate::component::ComponentHealth;
use crate::domain::text::{count, signed_thousands, span, span_exact, thousands};
use crate::keepa::ClientStatus;

/// The size of the refresh a token bucket pays for: the watched ASINs and the markets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watched {
    /// ASINs on the watchlist.
    pub asins: u64,
    /// Markets each is refreshed in.
    pub markets: usize,
}

/// Keepa's token bucket: the balance, when it next refills, what one full refresh of the
/// watchlist costs and how long the refill rate makes it take. Degraded when the watchlist
/// cannot be refreshed within the interval and the balance no longer covers the difference
/// (products then get older than the interval), or while requests are stopped.
pub fn token_health(
    k: &ClientStatus,
    plan: Option<&RefreshPlan>,
    watched: Watched,
    now: DateTime<Utc>,
) -> ComponentHealth {
    const KIND: &str = "token bucket";
    let (Some(left), Some(rate)) = (k.tokens_left, k.refill_rate) else {
        return ComponentHealth::ok(
            KIND,
            "balance not seen yet (it comes with the first answer)",
        );
    };
    let mut parts = vec![format!(
        "{} left, +{}/min",
        signed_thousands(left),
        signed_thousands(rate)
    )];
    if let (Some(seen), Some(ms)) = (k.tokens_seen_at, k.refill_in_ms) {
        // Keepa refills once a minute from the time it gave.
        let mut next = seen + chrono::Duration::milliseconds(ms.max(0));
        if next <= now {
            let behind = (now - next).num_milliseconds() / 60_000 + 1;
            next += chrono::Duration::minutes(behind);
        }
        parts.push(format!(
            "next refill in {}",
            span((next - now).num_seconds().max(1))
        ));
    }
    if left < 0 && rate > 0 {
        parts.push(format!(
            "below zero: requests wait about {} for it to be positive",
            span(((-left) + rate - 1) / rate * 60)
        ));
    } else if let Some(until) = k.waiting_until.filter(|u| *u > now) {
        parts.push(format!(
            "waiting {} for tokens or a backoff",
            span((until - now).num_seconds().max(1))
        ));
    }
    let mut status = crate::component::HealthStatus::Ok;
    if let Some(plan) = plan.filter(|_| watched.asins > 0 && watched.markets > 0) {
        let per = plan.tokens_per_product.max(1);
        let product_markets = i64::try_from(watched.asins)
            .unwrap_or(i64::MAX)
            .saturating_mul(watched.markets as i64);
        // Before a fetch says how many have a profitable route, the lower bound: no verdict
        // on a guess.
        let (cost, high) = plan.cost(product_markets);
        let size = format!(
            "{} ASINs × {} × {per}",
            thousands(watched.asins),
            count(watched.markets as u64, "market"),
        );
        parts.push(match plan.buybox_by_route {
            None => format!("a full refresh costs {} ({size})", signed_thousands(cost)),
            Some(share) if share.asked > 0 => format!(
                "a full refresh costs about {} ({size}, +2 for the Buy Box of the {} % asked \
                 with it in recent fetches: a route there at a profit, or one its price closed)",
                signed_thousands(cost),
                (share.with_buybox * 100 + share.asked / 2) / share.asked
            ),
            Some(_) => format!(
                "a full refresh costs {} to {} ({size}, +2 for the Buy Box of each with a \
                 profitable route there)",
                signed_thousands(cost),
                signed_thousands(high)
            ),
        });
        if rate > 0 {
            let cycle_secs = cost.saturating_mul(60) / rate;
            let interval = i64::try_from(plan.interval_secs).unwrap_or(i64::MAX);
            let mut cycle = format!("at least {} at the refill rate", span(cycle_secs));
            if cycle_secs > interval {
                // Tokens a minute the interval asks for, beyond what refills.
                let deficit = cost.saturating_mul(60) / interval.max(1) - rate;
                let covered = if deficit > 0 {
                    left.max(0) / deficit
                } else {
                    i64::MAX
                };
                if covered >= 1 {
                    cycle.push_str(&format!(
                        ", longer than the {} refresh interval; the balance covers the difference for about {}",
                        span_exact(plan.interval_secs),
                        span(covered.saturating_mul(60))
                    ));
                } else {
                    status = crate::component::HealthStatus::Degraded;
                    cycle.push_str(&format!(
                        ", longer than the {} refresh interval: products are refreshed less often than that (a larger Keepa plan, fewer markets or ASINs, or a longer interval fixes it)",
                        span_exact(plan.interval_secs)
                    ));
                }
            }
            parts.push(cycle);
        }
    }
    parts.push(match k.estimator_drift {
        0 => "cost estimates exact".to_string(),
        d => format!(
            "cost estimates off by {} tokens in all",
            signed_thousands(d)
        ),
    });
    if let Some(reason) = &k.stopped {
        return ComponentHealth::down(
            KIND,
            format!("requests are stopped: {reason}; {}", parts.join(" · ")),
        );
    }
    ComponentHealth {
        status,
        kind: KIND.into(),
        detail: parts.join(" · "),
        latency_ms: None,
    }
}

/// What refreshing `asins` ASINs now costs in tokens and when the balance allows it, for
/// the console's answer to a refresh: `15 Keepa tokens, balance 170,800: fetched within
/// seconds`, or how long the refill takes when the balance is short.
pub fn refresh_estimate(
    k: &ClientStatus,
    plan: Option<&RefreshPlan>,
    asins: usize,
    markets: usize,
    now: DateTime<Utc>,
) -> String {
    let product_markets = (asins as i64).saturating_mul(markets as i64);
    // By route, the products asked for are often the ones on screen, with a route: the
    // range, and the wait for the higher.
    let (low, cost) = plan.map_or((product_markets, product_markets), |p| {
        p.bounds(product_markets)
    });
    let cost_text = if low == cost {
        format!("{} Keepa tokens", signed_thousands(cost))
    } else {
        format!(
            "{} to {} Keepa tokens",
            signed_thousands(low),
            signed_thousands(cost)
        )
    };
    // A balance seen before Keepa stopped answering promises nothing.
    if let Some(reason) = &k.stopped {
        return format!(
            "{cost_text}, but Keepa requests are stopped ({reason}): nothing is fetched until that is fixed"
        );
    }
    // Requests failing: the wait is a backoff, not tokens, and it lasts as long as Keepa
    // does not answer.
    if k.failing_since
        .is_some_and(|t| (now - t).num_seconds() >= KEEPA_FAILING_AFTER_SECS)
    {
        return format!(
            "{cost_text}; Keepa requests are failing (last error: {}) and retried after a \
             backoff: fetched once Keepa answers again (g h shows its health)",
            k.last_error.as_deref().unwrap_or("unknown")
        );
    }
    // Requests already wait for tokens (work queued before this one spent them): this
    // refresh waits at least as long, and at least as long as the refill of its own cost.
    if let Some(until) = k.waiting_until.filter(|u| *u > now) {
        let wait = (until - now).num_seconds().max(1);
        let refill = match (k.tokens_left, k.refill_rate) {
            (Some(left), Some(rate)) if rate > 0 => {
                cost.saturating_sub(left.max(0)).max(0).saturating_mul(60) / rate
            }
            _ => 0,
        };
        return format!(
            "{cost_text}; Keepa requests are already waiting {} for tokens: fetched in {} at the earliest",
            span(wait),
            span(wait.max(refill))
        );
    }
    // The balance now, with the refills since it was seen (it may be minutes old).
    match (k.tokens_at(now), k.refill_rate) {
        (Some(left), _) if left >= cost => format!(
            "{cost_text} of {}: fetched within seconds",
            signed_thousands(left)
        ),
        (Some(left), Some(rate)) if rate > 0 => format!(
            "{cost_text}, balance {}: fetched in about {} as tokens refill",
            signed_thousands(left),
            span((cost - left).saturating_mul(60) / rate + 1)
        ),
        (Some(left), _) => format!("{cost_text}, balance {}", signed_thousands(left)),
        (None, _) => cost_text,
    }
}

#[cfg(test)]
mod tests;
