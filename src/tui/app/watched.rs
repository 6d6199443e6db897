//! Watchlist changes from the console, and what became of ASINs just added: the console
//! follows the ones the store knew nothing of until their first fetch is stored, and says
//! what it found (the markets that list the product, its routes and the best of them), or,
//! after a while, that no fetch came and where to look. An add is not a promise the
//! operator has to check.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Msg;
use crate::domain::text::{list, list_first, subject};
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
    let asins = Asin::distinct(&asins);
    let (names, asked) = (list(&asins), asins.len());
    let follow = worth_following(&*store, &asins).await;
    let added = store.watch_add(asins.clone(), WatchSource::User).await;
    let text = match &added {
        Ok(new) if new.is_empty() && asked == 1 => format!("{names} was already on the watchlist"),
        Ok(new) if new.is_empty() => format!("All of {names} were already on the watchlist"),
        Ok(new) => {
            let then = match &follow {
                Some(f) if !f.is_empty() => "; what the first fetch finds follows",
                Some(_) => "",
                None => "; the table and the health view (g h) show the fetches",
            };
            let already = crate::store::unchanged(new, &asins);
            let of = if already.is_empty() {
                format!("{} added", new.len())
            } else {
                format!(
                    "{} added; {} on it already",
                    new.len(),
                    subject(&already, 3, "was", "were")
                )
            };
            format!("Watching {names} ({of}){then}")
        }
        Err(e) => format!("Could not add {names}: {e}"),
    };
    let _ = tx.send(Msg::Toast(text, added.is_err())).await;
    let new = added.unwrap_or_default();
    if new.is_empty() {
        return;
    }
    let _ = tx.send(Msg::WatchChanged).await;
    let Some(follow) = follow.filter(|f| !f.is_empty()) else {
        return;
    };
    let (every, give_up) = (Duration::from_secs(2), Duration::from_secs(600));
    follow_added(store, follow, tracked, every, give_up, |m, bad| {
        let _ = tx.try_send(Msg::Toast(m, bad));
    })
    .await;
}

/// `:watch remove` (and `d`, once confirmed): removes `asins` and says what changed, naming
/// those that were not on the watchlist, with the command that undoes it while the ASINs
/// removed are few enough to type back.
pub(super) async fn remove(store: Arc<dyn Store>, asins: Vec<Asin>, tx: mpsc::Sender<Msg>) {
    let asins = Asin::distinct(&asins);
    let (names, asked) = (list_first(&asins, 3), asins.len());
    let removed = match store.watch_remove(asins.clone()).await {
        Ok(removed) => removed,
        Err(e) => {
            let _ = tx
                .send(Msg::Toast(format!("Could not remove {names}: {e}"), true))
                .await;
            return;
        }
    };
    if !removed.is_empty() {
        let _ = tx.send(Msg::WatchChanged).await;
    }
    let undo = match removed.len() {
        n @ 1..=3 => {
            let words: Vec<String> = removed.iter().map(ToString::to_string).collect();
            let them = if n == 1 { "it" } else { "them" };
            format!("; `:watch add {}` puts {them} back", words.join(" "))
        }
        _ => String::new(),
    };
    let missing = crate::store::unchanged(&removed, &asins);
    let (text, bad) = match (removed.len(), missing.len()) {
        (0, 1) => (format!("{names} was not on the watchlist"), true),
        (0, _) => (format!("None of {names} was on the watchlist"), true),
        (_, 0) => (
            format!(
                "Removed {names} from the watchlist: not refreshed any more; stored rows stay \
                 with their last prices{undo}"
            ),
            false,
        ),
        (n, _) => (
            format!(
                "Removed {n} of {asked} from the watchlist ({}); {} not on it{undo}",
                list_first(&removed, 3),
                subject(&missing, 3, "was", "were"),
            ),
            false,
        ),
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
                    let mut said = found(asin, &listed, &tracked, routes.as_deref());
                    // A market whose answer has not come (or did not decode) is not called
                    // unlisted by leaving it out.
                    let missing: Vec<&str> = tracked
                        .iter()
                        .filter(|m| !p.markets.contains_key(m) && p.not_fetched(**m))
                        .map(|m| m.code())
                        .collect();
                    if !missing.is_empty() {
                        said.push_str(&format!(
                            "; nothing usable from {} yet (the log, g l, says why)",
                            missing.join(" ")
                        ));
                    }
                    say(said, false);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    async fn toast(rx: &mut mpsc::Receiver<Msg>) -> (String, bool) {
        loop {
            match rx.recv().await {
                Some(Msg::Toast(text, bad)) => return (text, bad),
                Some(_) => {}
                None => panic!("no toast"),
            }
        }
    }

    /// A removal that finds some of the ASINs not watched names them, and offers back only
    /// those it removed.
    #[tokio::test]
    async fn a_removal_names_the_asins_that_were_not_watched() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
        let [on, off]: [Asin; 2] = ["B0WATCHED1", "B0NOTWATCH"].map(|a| a.parse().unwrap());
        store.watch_add(vec![on], WatchSource::User).await.unwrap();
        let (tx, mut rx) = mpsc::channel(8);
        remove(store.clone(), vec![on, off, on], tx.clone()).await;
        assert!(matches!(rx.recv().await, Some(Msg::WatchChanged)));
        assert_eq!(
            toast(&mut rx).await,
            (
                "Removed 1 of 2 from the watchlist (B0WATCHED1); B0NOTWATCH was not on it; \
                 `:watch add B0WATCHED1` puts it back"
                    .to_string(),
                false
            )
        );
        remove(store.clone(), vec![off], tx.clone()).await;
        assert_eq!(
            toast(&mut rx).await,
            ("B0NOTWATCH was not on the watchlist".to_string(), true)
        );
        // It then follows the new ASIN to its first fetch, which never comes here.
        let adding = tokio::spawn(add(store.clone(), vec![off, off], Vec::new(), tx));
        let (text, bad) = toast(&mut rx).await;
        adding.abort();
        assert!(text.starts_with("Watching B0NOTWATCH (1 added)"), "{text}");
        assert!(!bad);
    }
}
