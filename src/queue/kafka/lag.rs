//! The consumer group's lag and the backpressure on it: a probe consumer that never joins
//! the group reads its committed offsets and the watermarks of every partition of the raw
//! topic, and publishing raw updates waits while the group is `max_lag` or more behind.

use std::sync::Arc;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::util::Timeout;

use super::{KafkaQueue, client_config};
use crate::queue::{QueueError, Topic};

/// How old a lag measurement may be when publishing raw updates, and how often it is
/// measured again while they wait.
const LAG_FRESH: Duration = Duration::from_secs(5);
const LAG_RECHECK: Duration = Duration::from_secs(2);

impl KafkaQueue {
    /// The consumer that reads the group's committed offsets (created on first use).
    fn lag_probe(&self) -> Result<Arc<BaseConsumer>, String> {
        self.lag_probe
            .get_or_init(|| {
                client_config(&self.settings)
                    .set("group.id", &self.settings.group)
                    .set("enable.auto.commit", "false")
                    .create::<BaseConsumer>()
                    .map(Arc::new)
                    .map_err(|e| format!("creating the Kafka lag probe: {e}"))
            })
            .clone()
    }

    /// Measures the group's lag over every partition of the raw topic and records it.
    pub(super) async fn measure_lag(&self) -> Result<u64, String> {
        let probe = self.lag_probe()?;
        let topic = self.topic(Topic::RawUpdates);
        // Metadata, offset and watermark calls block: keep them off the async workers.
        let lag = tokio::task::spawn_blocking(move || group_lag(&probe, &topic))
            .await
            .unwrap_or_else(|e| Err(format!("the lag probe failed: {e}")))?;
        self.lag.store(lag, Ordering::Relaxed);
        *self.lag_at.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        Ok(lag)
    }

    /// Waits while the group is `max_lag` or more behind; logs when that starts and ends.
    /// A lag that cannot be measured holds nothing (the queue's health says why).
    pub(super) async fn hold_while_behind(&self) -> Result<(), QueueError> {
        let max = self.settings.max_lag;
        if max == 0 {
            return Ok(());
        }
        loop {
            let at = *self.lag_at.lock().unwrap_or_else(PoisonError::into_inner);
            let fresh = if self.held.load(Ordering::Relaxed) {
                LAG_RECHECK
            } else {
                LAG_FRESH
            };
            let lag = match at.filter(|t| t.elapsed() < fresh) {
                Some(_) => self.lag.load(Ordering::Relaxed),
                None => match self.measure_lag().await {
                    Ok(lag) => lag,
                    Err(_) => return Ok(()),
                },
            };
            if lag < max {
                if self.held.swap(false, Ordering::Relaxed) {
                    tracing::info!(lag, "The consumer group caught up; ingest goes on.");
                }
                return Ok(());
            }
            if !self.held.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    lag,
                    max_lag = max,
                    group = %self.settings.group,
                    "Holding raw updates: the consumer group is {lag} messages behind \
                     (max_lag {max}). Is a --role process worker running?"
                );
            }
            if self.closed.load(Ordering::Relaxed) {
                return Err(QueueError::Closed);
            }
            tokio::time::sleep(LAG_RECHECK).await;
        }
    }
}

/// The lag of `probe`'s group on `topic`: over every partition, the high watermark minus
/// the committed offset (the low watermark where nothing is committed). Blocking.
fn group_lag(probe: &BaseConsumer, topic: &str) -> Result<u64, String> {
    let timeout = Timeout::After(Duration::from_secs(5));
    let meta = probe
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| e.to_string())?;
    let mut partitions = TopicPartitionList::new();
    for t in meta.topics().iter().filter(|t| t.name() == topic) {
        for p in t.partitions() {
            partitions.add_partition(topic, p.id());
        }
    }
    if partitions.count() == 0 {
        return Ok(0);
    }
    let committed = probe
        .committed_offsets(partitions, timeout)
        .map_err(|e| e.to_string())?;
    let mut lag = 0u64;
    for e in committed.elements() {
        let (low, high) = probe
            .fetch_watermarks(e.topic(), e.partition(), timeout)
            .map_err(|e| e.to_string())?;
        let at = match e.offset() {
            Offset::Offset(o) => o,
            _ => low,
        };
        lag += u64::try_from(high - at).unwrap_or(0);
    }
    Ok(lag)
}
