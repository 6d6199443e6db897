//! Watchlist changes from the console, and what became of ASINs just added: the console
//! follows the ones the store knew nothing of until their first fetch is stored, and says
//! what it found (the markets that list the product, its routes and the best of them), or,
//! after a while, that no fetch came and where to look. An add is not a promise the
//! operator has to check.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Msg;
use crate::domain::text::{list, list_first};
use crate::domain::{Asin, Market, Opportunity};
use crate::store::{OpportunityFilter, OpportunitySort, Store, WatchSource};

/// `:watch add` (and `a`): adds `asins`, says what changed, then follows those new to the
/// store to their first fetch in the markets `tracked`.
pub(super) async fn add(
    store: Arc<dyn Store>,
    asins: Vec<Asin>,
    tracked: Vec<Market>,
    tx: mpsc::Sender<Msg>,
) {
    let (names, asked) = (list(&asins), asins.len());
    let follow = worth_following(&*store, &asins).await;
    let added = store.watch_add(asins, WatchSource::User).await;
    let text = match &added {
        Ok(0) if asked == 1 => format!("{names} was already on the watchlist"),
        Ok(0) => format!("All of {names} were already on the watchlist"),
        Ok(n) => {
            let then = match &follow {
                Some(f) if !f.is_empty() => "; what the first fetch finds follows",
                Some(_) => "",
                None => "; the table and the health view (g h) show the fetches",
            };
            format!("Watching {names} ({n} new){then}")
        }
        Err(e) => format!("Could not add {names}: {e}"),
    };
    let _ = tx.send(Msg::Toast(text, added.is_err())).await;
    if matches!(added, Ok(n) if n > 0) {
        let _ = tx.send(Msg::WatchChanged).await;
    }
    let Some(follow) = follow.filter(|f| !f.is_empty() && matches!(added, Ok(n) if n > 0)) else {
        return;
    };
    let (every, give_up) = (Duration::from_secs(2), Duration::from_secs(600));
    follow_added(store, follow, tracked, every, give_up, |m, bad| {
        let _ = tx.try_send(Msg::Toast(m, bad));
    })
    .await;
}

/// `:watch remove` (and `d`, once confirmed): removes `asins` and says what changed, with
/// the command that undoes it while the ASINs are few enough to type back.
pub(super) async fn remove(store: Arc<dyn Store>, asins: Vec<Asin>, tx: mpsc::Sender<Msg>) {
    let (names, asked) = (list_first(&asins, 3), asins.len());
    let undo = if asked <= 3 {
        let words: Vec<String> = asins.iter().map(ToString::to_string).collect();
        let them = if asked == 1 { "it" } else { "them" };
        format!("; `:watch add {}` puts {them} back", words.join(" "))
    } else {
        String::new()
    };
    let removed = store.watch_remove(asins).await;
    if matches!(removed, Ok(n) if n > 0) {
        let _ = tx.send(Msg::WatchChanged).await;
    }
    let (text, bad) = match removed {
        Ok(0) if asked == 1 => (format!("{names} was not on the watchlist"), true),
        Ok(0) => (format!("None of {names} was on the watchlist"), true),
        Ok(n) if n == asked => (
            format!(
                "Removed {names} from the watchlist: not refreshed any more; stored rows stay \
                 with their last prices{undo}"
            ),
            false,
        ),
        Ok(n) => (
            format!(
                "Removed {n} of {asked} from the watchlist ({} not on it): {names}",
                asked - n
            ),
            false,
        ),
        Err(e) => (format!("Could not remove {names}: {e}"), true),
    };
    let _ = tx.send(Msg::Toast(text, bad)).await;
}

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
