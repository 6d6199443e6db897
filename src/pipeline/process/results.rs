//! What the process stage publishes after the store has written: the routes that crossed
//! into the ranking (`alerts`) and the stored products (`enriched.products`), both derived
//! data (see the parent module).

use std::collections::HashMap;

use bytes::Bytes;
use serde::Serialize;

use super::Process;
use crate::domain::{Asin, Opportunity, OpportunityKey};
use crate::pipeline::Stage;
use crate::queue::{Message, Topic};
use crate::store::{MAX_FILTER_KEYS, OpportunityFilter};

impl Process {
    /// The routes of `sets` that pass every gate but are not stored as passing: read before
    /// the write, so what is stored is the previous state. Each carries the `first_seen`
    /// the write keeps: the stored one, or its own time for a route not stored yet. Empty,
    /// with a warning, when the store cannot answer (the write that follows will say more).
    pub(super) async fn crossings(&self, sets: &[(Asin, Vec<Opportunity>)]) -> Vec<Opportunity> {
        let ranked: Vec<&Opportunity> = sets
            .iter()
            .flat_map(|(_, rows)| rows)
            .filter(|o| o.ranked)
            .collect();
        let keys: Vec<OpportunityKey> = ranked.iter().map(|o| o.key()).collect();
        let mut stored = HashMap::new();
        for chunk in keys.chunks(MAX_FILTER_KEYS) {
            let filter = OpportunityFilter {
                keys: chunk.to_vec(),
                limit: chunk.len(),
                ..OpportunityFilter::default()
            };
            match self.store.opportunities(filter).await {
                Ok(page) => stored.extend(page.items.into_iter().map(|o| (o.key(), o))),
                Err(e) => {
                    tracing::warn!(error = %e, "Could not read the stored routes; no alerts for this batch.");
                    self.stats.record(Stage::Alerts, 0, 1, Some(e.to_string()));
                    return Vec::new();
                }
            }
        }
        ranked
            .into_iter()
            .filter_map(|o| {
                let before = stored.get(&o.key());
                if before.is_some_and(|b| b.ranked) {
                    return None;
                }
                Some(Opportunity {
                    first_seen: before.map_or(Some(o.updated_at), |b| b.first_seen),
                    ..o.clone()
                })
            })
            .collect()
    }

    /// Publishes `items` to `topic` as JSON keyed by ASIN, counted as `stage`. Nothing is
    /// encoded for a topic no one can hear (an in-process queue without subscribers), which
    /// would drop the messages anyway.
    pub(super) async fn publish<T: Serialize>(
        &self,
        topic: Topic,
        stage: Stage,
        items: &[T],
        asin: impl Fn(&T) -> Asin,
    ) {
        if items.is_empty() {
            return;
        }
        if !self.queue.listened(topic) {
            self.stats.record(stage, items.len() as u64, 0, None);
            return;
        }
        let mut batch = Vec::with_capacity(items.len());
        for item in items {
            match serde_json::to_vec(item) {
                Ok(json) => batch.push(Message {
                    key: asin(item).to_string(),
                    payload: Bytes::from(json),
                }),
                Err(e) => self.stats.record(stage, 0, 1, Some(e.to_string())),
            }
        }
        let n = batch.len() as u64;
        match self.queue.publish(topic, batch).await {
            Ok(()) => self.stats.record(stage, n, 0, None),
            Err(e) => {
                tracing::warn!(error = %e, topic = topic.name(), "Publishing results failed; they are in the store.");
                self.stats.record(stage, 0, n, Some(e.to_string()));
            }
        }
    }
}
