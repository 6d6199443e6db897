//! Offsets handed out by the Kafka consumer and not yet acknowledged, and the rebalance hook
//! that forgets those of revoked partitions: what `ack` commits up to.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};

use super::super::DeliveryTag;

/// Offsets handed out and not yet acknowledged, per partition of the raw topic.
#[derive(Default)]
pub(super) struct InFlight {
    /// Partition → offsets delivered and not acknowledged.
    pending: BTreeMap<i32, BTreeSet<i64>>,
    /// Partition → highest offset delivered.
    highest: BTreeMap<i32, i64>,
}

impl InFlight {
    pub(super) fn delivered(&mut self, partition: i32, offset: i64) {
        self.pending.entry(partition).or_default().insert(offset);
        let h = self.highest.entry(partition).or_insert(offset);
        *h = (*h).max(offset);
    }

    /// Marks offsets done; returns `(partition, next offset to commit)` for each partition
    /// touched: the lowest offset still pending, or one past the highest delivered.
    pub(super) fn acked(&mut self, tags: &[DeliveryTag]) -> Vec<(i32, i64)> {
        let mut touched = BTreeSet::new();
        for t in tags {
            if let Some(p) = self.pending.get_mut(&t.partition) {
                p.remove(&t.offset);
                touched.insert(t.partition);
            }
        }
        touched
            .into_iter()
            .filter_map(|p| {
                let next = match self.pending.get(&p).and_then(|s| s.first()) {
                    Some(lowest) => *lowest,
                    None => self.highest.get(&p)? + 1,
                };
                Some((p, next))
            })
            .collect()
    }

    pub(super) fn revoke(&mut self, partition: i32) {
        self.pending.remove(&partition);
        self.highest.remove(&partition);
    }

    pub(super) fn count(&self) -> u64 {
        self.pending.values().map(|s| s.len() as u64).sum()
    }
}

/// Forgets in-flight offsets of revoked partitions.
pub(super) struct Context {
    pub(super) in_flight: Arc<Mutex<InFlight>>,
    pub(super) topic: String,
}

impl ClientContext for Context {}

impl ConsumerContext for Context {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let mut f = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for e in list.elements_for_topic(&self.topic) {
                f.revoke(e.partition());
            }
            tracing::info!(
                partitions = list.count(),
                "Kafka rebalance: partitions revoked."
            );
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => {
                tracing::info!(
                    partitions = list.count(),
                    "Kafka rebalance: partitions assigned."
                )
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "Kafka rebalance failed."),
            Rebalance::Revoke(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_stop_at_the_lowest_offset_in_flight() {
        let mut f = InFlight::default();
        for o in 10..15 {
            f.delivered(0, o);
        }
        f.delivered(1, 3);
        let tag = |partition, offset| DeliveryTag { partition, offset };
        // 11 and 12 done, 10 still out: nothing past 10 may be committed.
        assert_eq!(f.acked(&[tag(0, 11), tag(0, 12)]), vec![(0, 10)]);
        assert_eq!(f.acked(&[tag(0, 10)]), vec![(0, 13)]);
        assert_eq!(
            f.acked(&[tag(0, 13), tag(0, 14), tag(1, 3)]),
            vec![(0, 15), (1, 4)]
        );
        assert_eq!(f.count(), 0);
        // Revoked partitions are forgotten; late acks for them commit nothing.
        f.delivered(2, 7);
        f.revoke(2);
        assert!(f.acked(&[tag(2, 7)]).is_empty());
    }
}
