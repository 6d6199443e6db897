//! What became of ASINs just added to the watchlist: the console follows the ones the
//! store knew nothing of until their first fetch is stored, and says what it found (the
//! markets that list the product, its routes and the best of them), or, after a while,
//! that no fetch came and where to look. An add is not a promise the operator has to check.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::{Asin, Market, Opportunity};
use crate::store::{OpportunityFilter, OpportunitySort, Store};

/// At most this many added ASINs are followed; a longer list is a bulk add, whose progress
/// the table and the health view show.
pub const FOLLOWED_AT_MOST: usize = 5;

/// The added ASINs (of `asked`) the store has no product for yet: those whose first fetch
/// is worth a word. `None` when there are too many to follow one by one.
pub async fn worth_following(store: &dyn Store, asked: &[Asin]) -> Option<Vec<Asin>> {
    if asked.len() > FOLLOWED_AT_MOST {
        return None;
    }
    let mut unknown = Vec::new();
    for &asin in asked {
        if matches!(store.product(asin).await, Ok(None)) {
            unknown.push(asin);
        }
    }
    Some(unknown)
}

/// Polls the store every `every` until each of `asins` has a stored product or `give_up`
/// has passed, calling `say` once per ASIN with what was found (`false`) or that nothing
/// came (`true`, a warning). `tracked` names the markets the pipeline fetches.
pub async fn follow_added(
    store: Arc<dyn Store>,
    mut asins: Vec<Asin>,
    tracked: Vec<Market>,
    every: Duration,
    give_up: Duration,
    mut say: impl FnMut(String, bool),
) {
    let deadline = tokio::time::Instant::now() + give_up;
    // Stored in the poll before: its routes are read now, the detection that follows a
    // product's listings having had its moment.
    let mut seen: Vec<Asin> = Vec::new();
    while !asins.is_empty() {
        tokio::time::sleep(every).await;
        let mut waiting = Vec::new();
        for asin in asins {
            match store.product(asin).await {
                Ok(Some(p)) if seen.contains(&asin) => {
                    let listed: Vec<Market> = p.markets.keys().copied().collect();
                    let routes = routes_of(&*store, asin).await;
                    say(found(asin, &listed, &tracked, routes.as_deref()), false);
                }
                Ok(Some(_)) => {
                    seen.push(asin);
                    waiting.push(asin);
                }
                _ => waiting.push(asin),
            }
        }
        asins = waiting;
        if tokio::time::Instant::now() >= deadline {
            for asin in asins.drain(..) {
                say(
                    format!(
                        "{asin} not fetched yet after {}: the health view (g h) shows Keepa's \
                         tokens and what the refresh does next",
                        minutes(give_up)
                    ),
                    true,
                );
            }
        }
    }
}

/// The stored routes of `asin`, best net profit first (`None` when the store cannot say).
async fn routes_of(store: &dyn Store, asin: Asin) -> Option<Vec<Opportunity>> {
    let filter = OpportunityFilter {
        text: Some(asin.to_string()),
        sort: OpportunitySort::NetProfit,
        descending: true,
        limit: 20,
        ..OpportunityFilter::default()
    };
    let page = store.opportunities(filter).await.ok()?;
    Some(page.items.into_iter().filter(|o| o.asin == asin).collect())
}

/// The word on a first fetch: where the product is listed, and its routes.
pub fn found(
    asin: Asin,
    listed: &[Market],
    tracked: &[Market],
    routes: Option<&[Opportunity]>,
) -> String {
    let codes = |ms: &[Market]| ms.iter().map(|m| m.code()).collect::<Vec<_>>().join(" ");
    if listed.is_empty() {
        return format!(
            "{asin} fetched: Keepa lists it in none of {}; it stays watched",
            codes(tracked)
        );
    }
    let routes = match routes {
        None => String::new(),
        Some([]) => "; no route with a positive gross margin".to_string(),
        Some(all) => {
            let best = &all[0];
            let n = all.len();
            let routes = if n == 1 { "1 route" } else { "routes" };
            let routes = if n == 1 {
                routes.to_string()
            } else {
                format!("{n} {routes}")
            };
            let route = format!("{}→{}", best.buy_market, best.sell_market);
            match best.has_net().then_some(best.net_profit) {
                Some(net) if net.minor > 0 => format!("; {routes}, best net {net} {route}"),
                Some(net) => format!("; {routes}, none with a net profit (best {net} {route})"),
                None => format!("; {routes}, net unknown (best gross {route})"),
            }
        }
    };
    format!("{asin} fetched: listed in {}{routes}", codes(listed))
}

fn minutes(d: Duration) -> String {
    match d.as_secs() {
        s if s < 120 => format!("{s} s"),
        s => format!("{} min", s / 60),
    }
}
