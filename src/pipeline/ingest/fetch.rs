//! Fetching one market's batch: which products are asked with the Buy Box, the requests,
//! and each answered product published as a raw update.

use std::collections::HashSet;

use chrono::Utc;

use super::Ingest;
use crate::config::BuyBox;
use crate::domain::{Asin, Market};
use crate::keepa::ProductQuery;
use crate::keepa::answer::Answer;
use crate::keepa::client::MAX_ASINS_PER_REQUEST;
use crate::queue::{Message, RawUpdate, Topic};

impl Ingest {
    /// Which of `asins` are asked with the Buy Box in `market`, and which without. By
    /// route, a store that cannot say leaves them all without (a token saved; the next
    /// refresh asks again).
    async fn split_by_buybox(&self, market: Market, asins: Vec<Asin>) -> [(Vec<Asin>, bool); 2] {
        let open: HashSet<Asin> = match self.buybox {
            BuyBox::Off | BuyBox::All => HashSet::new(),
            BuyBox::Routes => match self.store.open_routes(market, asins.clone()).await {
                Ok(open) => {
                    self.failing.store(None);
                    open.into_iter().collect()
                }
                Err(e) => {
                    self.failing.store(Some(&e));
                    self.stats.record(
                        "ingest",
                        0,
                        1,
                        Some(format!("reading which products have routes failed: {e}")),
                    );
                    HashSet::new()
                }
            },
        };
        let (with, without) = asins
            .into_iter()
            .partition(|a| self.buybox.asks(open.contains(a)));
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
        for (asins, buybox) in queries {
            if asins.is_empty() {
                continue;
            }
            let mut q = ProductQuery::new(market, asins);
            q.buybox = buybox;
            self.fetch_query(&q, &mut failed, &mut unanswered).await;
        }
        (failed, unanswered)
    }

    /// Runs `q` and publishes every product it returns; adds the ASINs of the requests that
    /// failed to `failed`, and sets `unanswered` when Keepa did not answer one.
    async fn fetch_query(&self, q: &ProductQuery, failed: &mut Vec<Asin>, unanswered: &mut bool) {
        let market = q.market;
        let results = self.client.products_chunked(q).await;
        for (batch, asked) in results
            .into_iter()
            .zip(q.asins.chunks(MAX_ASINS_PER_REQUEST))
        {
            let batch = match batch {
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
                    self.stats.record("ingest", 0, 1, Some(e.to_string()));
                    failed.extend_from_slice(asked);
                    continue;
                }
            };
            let mut messages = Vec::with_capacity(batch.products.len());
            let mut answer = Answer::to(asked);
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
                    Ok((asin, m)) => match answer.take(asin) {
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
            match self.queue.publish(Topic::RawUpdates, messages).await {
                Ok(()) => {
                    self.failing.queue(None);
                    self.stats.record("ingest", count, 0, None);
                }
                Err(e) => {
                    self.failing.queue(Some(&e));
                    self.stats
                        .record("ingest", 0, count, Some(format!("publishing failed: {e}")));
                    failed.extend_from_slice(asked);
                }
            }
        }
    }
}

/// Wraps one raw Keepa product as a queue message keyed by its ASIN.
fn to_message(
    raw: &str,
    market: Market,
    fetched_at: chrono::DateTime<Utc>,
    source: crate::pipeline::Source,
) -> Result<(Asin, Message), String> {
    #[derive(serde::Deserialize)]
    struct Key {
        asin: String,
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
    Ok((asin, message))
}
