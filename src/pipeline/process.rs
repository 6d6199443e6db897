//! The process stage: consume → enrich → store → detect → store → acknowledge.
//!
//! A batch is acknowledged only after both store writes succeeded (at-least-once; the
//! store's writes are idempotent, so a redelivered batch is harmless). A message that fails
//! enrichment goes to the dead-letter topic with its reason. When the store is down the
//! batch is kept and retried with backoff — nothing accepted is dropped — until the store
//! answers or the process is told to stop.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::stats::Stats;
use super::{Detect, Enricher};
use crate::domain::Listing;
use crate::queue::{Queue, QueueError};
use crate::store::{Store, StoreError};

pub struct Process {
    pub queue: Arc<dyn Queue>,
    pub store: Arc<dyn Store>,
    pub detect: Arc<dyn Detect>,
    pub batch: usize,
    pub stats: Arc<Stats>,
    pub generation: Arc<watch::Sender<u64>>,
}

impl Process {
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            let batch = match self
                .queue
                .consume(self.batch, Duration::from_millis(250))
                .await
            {
                Ok(b) => b,
                Err(QueueError::Closed) => break,
                Err(e) => {
                    self.stats.record("enrich", 0, 0, Some(e.to_string()));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if batch.is_empty() {
                continue;
            }
            let mut listings = Vec::with_capacity(batch.len());
            let mut tags = Vec::with_capacity(batch.len());
            let mut rejected = 0;
            for d in batch {
                match Enricher.enrich(&d.message.payload) {
                    Ok(l) => {
                        listings.push(l);
                        tags.push(d.tag);
                    }
                    Err(e) => {
                        rejected += 1;
                        self.stats.record("enrich", 0, 1, Some(e.to_string()));
                        if let Err(q) = self.queue.dead_letter(d, e.to_string()).await {
                            tracing::error!(error = %q, "Could not dead-letter a rejected update.");
                        }
                    }
                }
            }
            self.stats.record("enrich", listings.len() as u64, 0, None);
            if listings.is_empty() {
                continue;
            }
            if !self.store_and_detect(listings, &cancel).await {
                tracing::error!(
                    updates = tags.len(),
                    "Stopping with updates not stored; they were not acknowledged."
                );
                break;
            }
            if let Err(e) = self.queue.ack(tags).await {
                tracing::warn!(error = %e, "Acknowledging a stored batch failed; it may be redelivered (harmless).");
            }
            self.generation.send_modify(|g| *g += 1);
            tracing::debug!(rejected, "Processed a batch.");
        }
        tracing::info!("Processing stopped.");
    }

    /// Writes listings, detects, writes opportunities; retries while the store is down.
    /// Returns false only when cancelled before the writes succeeded.
    async fn store_and_detect(&self, listings: Vec<Listing>, cancel: &CancellationToken) -> bool {
        let now = Utc::now();
        let n = listings.len() as u64;
        let products = match self
            .retry("store", cancel, || {
                self.store.upsert_listings(listings.clone(), now, None)
            })
            .await
        {
            Some(p) => p,
            None => return false,
        };
        self.stats.record("store", n, 0, None);
        let sets = match super::detect_all(self.detect.clone(), products, now).await {
            Ok(s) => s,
            Err(e) => {
                self.stats
                    .record("detect", 0, 1, Some(format!("detection failed: {e}")));
                return true;
            }
        };
        let found: usize = sets.iter().map(|(_, v)| v.len()).sum();
        self.stats.record("detect", sets.len() as u64, 0, None);
        tracing::debug!(products = sets.len(), opportunities = found, "Detected.");
        self.retry("store", cancel, || {
            self.store.replace_opportunities(sets.clone())
        })
        .await
        .is_some()
    }

    async fn retry<T, F, Fut>(
        &self,
        stage: &'static str,
        cancel: &CancellationToken,
        mut op: F,
    ) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let mut wait = Duration::from_millis(250);
        loop {
            match op().await {
                Ok(v) => return Some(v),
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "The store refused a write; retrying.");
                    self.stats.record(stage, 0, 1, Some(e.to_string()));
                    tokio::select! {
                        _ = cancel.cancelled() => return None,
                        _ = tokio::time::sleep(wait) => {}
                    }
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
}
