//! Fetching one market's batch: which products are asked with the Buy Box, the requests,
//! and each answered product published as a raw update.

use std::collections::{HashMap, HashSet};

use chrono::Utc;

use super::Ingest;
use crate::config::BuyBox;
use crate::domain::{Asin, Market};
use crate::keepa::ProductQuery;
use crate::keepa::answer::Answer;
use crate::pipeline::Stage;
use crate::queue::{Message, QueueError, RawUpdate, Topic};
use std::time::Duration;
use tokio::time::Instant;

impl Ingest {
    /// Which of `asins` are asked with the Buy Box in `market`, and which without. By
    /// route: those with a route there at a net profit, and those asked with it at their
    /// last fetch that still have a route there (see `Ingest::buybox_held`); a store that
    /// cannot say leaves them all without (tokens saved; the next refresh asks again, the
    /// products held kept for it).
    async fn split_by_buybox(&self, market: Market, asins: Vec<Asin>) -> [(Vec<Asin>, bool); 2] {
        let routes: HashMap<Asin, bool> = match self.buybox {
            BuyBox::Off | BuyBox::All => HashMap::new(),
            BuyBox::Routes => match self.store.routes_in(market, asins.clone()).await {
                Ok(routes) => {
                    self.failing.store(None, &self.stats);
                    routes.into_iter().collect()
                }
                Err(e) => {
                    self.failing.store(Some(&e), &self.stats);
                    self.stats.record(
                        Stage::Ingest,
                        0,
                        1,
                        Some(format!("reading which products have routes failed: {e}")),
                    );
                    // Which ones the Buy Box was asked for stays as it was.
                    return [(Vec::new(), true), (asins, false)];
                }
            },
        };
        let mut held = self
            .buybox_held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (with, without) = split(self.buybox, market, asins, &routes, &mut held);
        [(with, true), (without, false)]
    }

    /// Fetches one batch and publishes every product it returns; returns the ASINs of the
    /// requests that failed, and whether Keepa did not answer one (its retries ran out).
    pub(super) async fn fetch(&self, market: Market, asins: Vec<Asin>) -> (Vec<Asin>, bool) {
        let mut failed = Vec::new();
        let mut unanswered = false;
        if asins.is_empty() {
            return (failed, unanswered);
        }
        let queries = self.split_by_buybox(market, asins).await;
        let with = queries[0].0.len() as u64;
        self.stats
            .buybox_asked(with + queries[1].0.len() as u64, with);
        let mut published = true;
        for (asins, buybox) in queries {
            if asins.is_empty() {
                continue;
            }
            if !published {
                // The queue did not take the last batch: no tokens spent on more.
                failed.extend(asins);
                continue;
            }
            let mut q = ProductQuery::new(market, asins);
            q.buybox = buybox;
            published = self.fetch_query(&q, &mut failed, &mut unanswered).await;
        }
        (failed, unanswered)
    }

    /// Runs `q`, one request of at most 100 ASINs at a time, and publishes what each returns
    /// before the next is made: a refresh of the whole watchlist streams into the store as
    /// its tokens allow, and a queue that goes away costs one request's tokens, not a
    /// market's. Adds the ASINs of the requests that failed (or were not made) to `failed`
    /// and sets `unanswered` when Keepa did not answer one; false when the queue did not
    /// take a batch (the requests left are then not made: asked again in a minute).
    async fn fetch_query(
        &self,
        q: &ProductQuery,
        failed: &mut Vec<Asin>,
        unanswered: &mut bool,
    ) -> bool {
        let market = q.market;
        let mut requests = q.requests();
        while let Some(sub) = requests.next() {
            let asked = &sub.asins[..];
            let batch = match self.client.products(&sub).await {
                Ok(b) => b,
                Err(e) => {
                    // Stopped traffic (a refused key, no plan) was said once, as an error,
                    // when it stopped; the batches it holds back are not news each minute.
                    if matches!(e, crate::keepa::Error::Stopped { .. }) {
                        tracing::debug!(%market, asins = asked.len(), error = %e, "Keepa traffic is stopped; the batch waits.");
                    } else if matches!(
                        e,
                        crate::keepa::Error::Auth { .. } | crate::keepa::Error::Payment
                    ) {
                        // Traffic stops with it: said as an error by the client, once.
                        tracing::debug!(%market, asins = asked.len(), error = %e, "Keepa refused the key; the batch waits.");
                    } else if matches!(e, crate::keepa::Error::Unavailable { .. }) {
                        // The client logged the failure; the outage is said once.
                        *unanswered = true;
                        tracing::debug!(%market, asins = asked.len(), error = %e, "Fetching a batch from Keepa failed; it is retried.");
                    } else {
                        tracing::warn!(%market, asins = asked.len(), error = %e, "Fetching a batch from Keepa failed; it is retried in a minute.");
                    }
                    self.stats.record(Stage::Ingest, 0, 1, Some(e.to_string()));
                    failed.extend_from_slice(asked);
                    continue;
                }
            };
            let mut messages = Vec::with_capacity(batch.products.len());
            let mut answer = Answer::to(market, asked);
            // Unparseable JSON, no valid `asin`, or a product not asked for (or asked once
            // and sent twice): published raw with the reason, which processing gives the
            // dead-letter topic.
            let dead = |key: String, e: String, raw: &str| Message {
                key,
                payload: serde_json::json!({ "error": e, "raw": raw })
                    .to_string()
                    .into(),
            };
            for raw in batch.products {
                match to_message(&raw, market, batch.fetched_at, self.source) {
                    Ok((asin, domain, m)) => match answer.take(asin, domain) {
                        Ok(()) => messages.push(m),
                        Err(e) => {
                            tracing::warn!(%market, %asin, "{e}.");
                            messages.push(dead(asin.to_string(), e, &raw));
                        }
                    },
                    Err(e) => messages.push(dead("unknown".into(), e, &raw)),
                }
            }
            let missing = answer.missing(asked);
            if !missing.is_empty() {
                // One object per asked ASIN is what Keepa sends. Asking again at once would
                // spend tokens every minute on an ASIN Keepa keeps leaving out: they are
                // asked again at the next refresh, and named each time.
                tracing::warn!(
                    %market,
                    left_out = missing.len(),
                    asins = %crate::domain::text::list_first(&missing, 5),
                    "Keepa's answer left out products it was asked for; they are asked again at the next refresh."
                );
            }
            let count = messages.len() as u64;
            match self.publish_held(messages).await {
                Ok(()) => {
                    self.failing.queue(None, &self.stats);
                    self.stats.record(Stage::Ingest, count, 0, None);
                }
                Err(e) => {
                    self.failing.queue(Some(&e), &self.stats);
                    self.stats.record(
                        Stage::Ingest,
                        0,
                        count,
                        Some(format!("publishing failed: {e}")),
                    );
                    failed.extend_from_slice(asked);
                    failed.extend(requests.flat_map(|r| r.asins));
                    return false;
                }
            }
        }
        true
    }
}

impl Ingest {
    /// Publishes `messages`, holding them while the queue is unavailable (a broker away, a
    /// delivery timed out): they cost Keepa tokens, and fetching more that cannot be
    /// published would spend more. Tried again after 1 s, doubling to 30 s, while the
    /// outage is younger than [`PUBLISH_HELD_FOR`] (counted from its first failure, for
    /// every batch held in it); the stage shows as waiting meanwhile. A closed queue or
    /// refused settings end it at once. Stopping ingest drops them, said in the log (the
    /// products are due again at the next start, as the store has no newer fetch of them).
    async fn publish_held(&self, messages: Vec<Message>) -> Result<(), QueueError> {
        let mut wait = Duration::from_secs(1);
        let mut held = Held {
            products: messages.len(),
            on: false,
        };
        loop {
            let out = self
                .queue
                .publish(Topic::RawUpdates, messages.clone())
                .await;
            let since = {
                let mut since = self
                    .failing
                    .queue_since
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match &out {
                    Err(QueueError::Unavailable(_)) => {
                        Some(*since.get_or_insert_with(Instant::now))
                    }
                    Ok(()) => {
                        *since = None;
                        None
                    }
                    Err(_) => None,
                }
            };
            match out {
                Err(QueueError::Unavailable(e))
                    if since.is_some_and(|t| t.elapsed() < PUBLISH_HELD_FOR) =>
                {
                    if !held.on {
                        held.on = true;
                        self.failing.queue(Some(&e), &self.stats);
                        self.stats.stop(
                            Stage::Ingest,
                            format!(
                                "holding {} fetched product(s) until the queue takes them \
                                 (fetching waits meanwhile): {e}",
                                messages.len()
                            ),
                        );
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
                out => {
                    if std::mem::take(&mut held.on) {
                        self.stats.resume(Stage::Ingest);
                    }
                    return out;
                }
            }
        }
    }
}

/// Fetched products held for the queue: said in the log if ingest stops while it holds
/// them (its future is dropped).
struct Held {
    products: usize,
    on: bool,
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.on {
            tracing::warn!(
                products = self.products,
                "Stopping with fetched products the queue did not take: they were not \
                 published, and are fetched again when due at the next start."
            );
        }
    }
}

/// How long into an outage of the queue fetched products are held for it; past that, a
/// batch that cannot be published is given up at once (its products are fetched again a
/// minute later), until a publish works again.
const PUBLISH_HELD_FOR: Duration = Duration::from_secs(600);

/// Wraps one raw Keepa product as a queue message keyed by its ASIN.
fn to_message(
    raw: &str,
    market: Market,
    fetched_at: chrono::DateTime<Utc>,
    source: crate::pipeline::Source,
) -> Result<(Asin, Option<i64>, Message), String> {
    #[derive(serde::Deserialize)]
    struct Key {
        asin: String,
        /// Read leniently: a `domainId` that is no number is enrichment's to name.
        #[serde(rename = "domainId", default)]
        domain_id: Option<serde_json::Value>,
    }
    let key: Key = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    let asin: Asin = key
        .asin
        .parse()
        .map_err(|e: crate::domain::ParseAsinError| e.to_string())?;
    let product =
        serde_json::value::RawValue::from_string(raw.to_string()).map_err(|e| e.to_string())?;
    let message = RawUpdate {
        asin,
        market,
        fetched_at,
        product,
        source: Some(source),
    }
    .to_message()
    .map_err(|e| e.to_string())?;
    Ok((asin, key.domain_id.and_then(|d| d.as_i64()), message))
}

/// `asins` split into those asked with the Buy Box in `market` and those asked without,
/// given their `routes` there (a route at a net profit or not; no entry: none) and the
/// products asked with it at their last fetch (`held`, brought up to date).
fn split(
    buybox: BuyBox,
    market: Market,
    asins: Vec<Asin>,
    routes: &HashMap<Asin, bool>,
    held: &mut HashSet<(Market, Asin)>,
) -> (Vec<Asin>, Vec<Asin>) {
    let (with, without): (Vec<Asin>, Vec<Asin>) = asins.into_iter().partition(|a| {
        let worth = match routes.get(a) {
            Some(open) => *open || held.contains(&(market, *a)),
            None => false,
        };
        buybox.asks(worth)
    });
    if buybox == BuyBox::Routes {
        held.extend(with.iter().map(|a| (market, *a)));
        for a in &without {
            held.remove(&(market, *a));
        }
    }
    (with, without)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By route, a product is asked with the Buy Box while its route there is at a net
    /// profit, and after the Buy Box's price closed it, for as long as it has a route there:
    /// asked without, the fallback price would reopen it, and the next fetch close it again.
    #[test]
    fn a_route_the_buy_box_closed_keeps_being_asked_with_it() {
        let (p, q): (Asin, Asin) = ("B0HELD0001".parse().unwrap(), "B0HELD0002".parse().unwrap());
        let mut held = HashSet::new();
        let mut refresh = |routes: &[(Asin, bool)]| {
            let routes: HashMap<Asin, bool> = routes.iter().copied().collect();
            split(BuyBox::Routes, Market::DE, vec![p, q], &routes, &mut held).0
        };
        // P at a profit: asked with it; Q's route is at a loss and was never asked with it.
        assert_eq!(refresh(&[(p, true), (q, false)]), [p]);
        // The Buy Box's price closed P's route: asked with it again, Q still not.
        assert_eq!(refresh(&[(p, false), (q, false)]), [p]);
        assert_eq!(refresh(&[(p, false), (q, false)]), [p]);
        // No route left there: not asked, and no longer held.
        assert!(refresh(&[(q, false)]).is_empty());
        assert!(refresh(&[(p, false), (q, false)]).is_empty());
        // Held per market: P in DE says nothing of P in FR.
        refresh(&[(p, true)]);
        let routes = HashMap::from([(p, false)]);
        let (with, _) = split(BuyBox::Routes, Market::FR, vec![p], &routes, &mut held);
        assert!(with.is_empty());
        // Asked with it always, or never, nothing is held.
        let mut none = HashSet::new();
        let routes = HashMap::from([(p, true)]);
        for b in [BuyBox::All, BuyBox::Off] {
            split(b, Market::DE, vec![p], &routes, &mut none);
        }
        assert!(none.is_empty());
    }
}
