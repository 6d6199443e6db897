//! The Kafka queue (rdkafka): with its submodules, the only code that names rdkafka.
//!
//! - Producer: `acks=all`, idempotence on, key = ASIN (one product stays on one partition).
//! - Topics `raw.keepa_updates` (3 partitions by default), `enriched.products`, `alerts` and
//!   `raw.keepa_updates.dlq`, created at start when missing (`create_topics = false` leaves
//!   that to the cluster's operators).
//! - Consumer group `enrichment-consumer`, joined lazily on the first `consume`, so an
//!   ingest-only process never takes partitions. Auto-commit is off: `ack` commits, per
//!   partition, up to the lowest offset still in flight, so a crash redelivers exactly what
//!   was not yet stored (at-least-once; the store's idempotent writes absorb repeats).
//! - A message that fails validation goes to the DLQ with the reason and its origin in
//!   headers, and is then acknowledged: never dropped silently, never blocking its partition.
//! - On a rebalance, offsets in flight on revoked partitions are forgotten: the new owner
//!   gets them again from the last commit. A commit is waited for 5 s at most, so a worker
//!   whose commit waits on a rebalance goes back to polling, which the rebalance needs.
//! - Consumer lag is the group's: high watermark − committed offset over every partition of
//!   the raw topic (a partition nobody holds counts in full), measured by `health` through a
//!   consumer that never joins the group, and reported by `depth`.
//! - Backpressure: publishing raw updates waits while the group is `max_lag` or more behind
//!   (measured at most every 5 s, every 2 s while waiting), as the in-process queue waits when
//!   full, so an ingest with no worker running stops fetching instead of spending tokens.

mod bounded;
mod lag;
mod offsets;
mod topics;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::util::Timeout;

use super::{Delivery, DeliveryTag, KafkaSettings, Message, Queue, QueueError, Topic};
use crate::component::{BoxFuture, ComponentHealth};
use bounded::{Bounded, Unfinished};
use offsets::{Context, InFlight};
use topics::brokers_shown;

/// A queue on a Kafka cluster.
pub struct KafkaQueue {
    settings: KafkaSettings,
    producer: FutureProducer,
    consumer: Arc<OnceLock<Result<Arc<StreamConsumer<Context>>, String>>>,
    in_flight: Arc<Mutex<InFlight>>,
    closed: AtomicBool,
    /// The group's lag as last measured, and when.
    lag: AtomicU64,
    lag_at: Mutex<Option<Instant>>,
    /// Reads committed offsets and watermarks for the lag; never joins the group.
    lag_probe: OnceLock<Result<Arc<BaseConsumer>, String>>,
    /// Publishing raw updates waits for the group to catch up.
    held: AtomicBool,
    /// Since when this consumer has had no partition, and when that was last logged.
    unassigned: Mutex<(Option<Instant>, Option<Instant>)>,
    dead_total: AtomicU64,
    /// Commits: one at a time, each waited for [`COMMIT_WAIT`] at most.
    commits: Bounded,
    /// Since when commits have failed (none taken since), and the last reason.
    uncommitted: Mutex<Option<(Instant, String)>>,
}

/// How long a consumer may wait for partitions before it says so (then every minute).
const UNASSIGNED_SAID_AFTER: Duration = Duration::from_secs(30);

/// Queued consumer errors taken by one read at most.
const ERRORS_TAKEN_AT_ONCE: u32 = 10_000;

/// The librdkafka property naming how a group's partitions are shared out.
const STRATEGY: &str = "partition.assignment.strategy";

/// How long commits may fail before the queue's health says so: a rebalance's commits fail
/// for a few seconds, routinely.
const COMMIT_STALL_SHOWN: Duration = Duration::from_secs(60);

/// The health's words for commits that have failed for `failing` (`None` below
/// [`COMMIT_STALL_SHOWN`]), the last because of `reason`.
fn commit_stall_said(failing: Duration, reason: &str) -> Option<String> {
    (failing >= COMMIT_STALL_SHOWN).then(|| {
        format!(
            "no offset committed for {} (last: {reason}); the batches stored meanwhile are \
             delivered again after a restart (stored once: harmless), and the lag grows. A \
             commit the group never answers holds its rebalance: restart this worker (the \
             README's Kafka section: the `range` strategy in [queue] options)",
            crate::domain::text::span(failing.as_secs() as i64)
        )
    })
}

/// How long `ack` waits for Kafka to take a commit (see [`bounded`]).
const COMMIT_WAIT: Duration = Duration::from_secs(5);

fn client_config(s: &KafkaSettings) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &s.brokers);
    for (k, v) in &s.options {
        c.set(k, v);
    }
    c
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(format!("{what}: {e}"))
}

impl KafkaQueue {
    /// Connects the producer and, when `create_topics` is set, creates missing topics.
    pub async fn connect(settings: KafkaSettings) -> Result<KafkaQueue, QueueError> {
        let producer: FutureProducer = client_config(&settings)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", "60000")
            .set("linger.ms", "5")
            .set("compression.type", "lz4")
            .create()
            .map_err(|e| match e {
                rdkafka::error::KafkaError::ClientConfig(..) => QueueError::Config(format!(
                    "{e}; check options in [queue]: they are librdkafka's properties \
                     (https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md)"
                )),
                e => unavailable("creating the Kafka producer", e),
            })?;
        let queue = KafkaQueue {
            producer,
            consumer: Arc::new(OnceLock::new()),
            in_flight: Arc::new(Mutex::new(InFlight::default())),
            closed: AtomicBool::new(false),
            lag: AtomicU64::new(0),
            lag_at: Mutex::new(None),
            lag_probe: OnceLock::new(),
            held: AtomicBool::new(false),
            unassigned: Mutex::new((None, None)),
            dead_total: AtomicU64::new(0),
            commits: Bounded::new(COMMIT_WAIT),
            uncommitted: Mutex::new(None),
            settings,
        };
        if queue.settings.create_topics {
            queue.create_topics().await?;
        }
        Ok(queue)
    }

    fn topic(&self, t: Topic) -> String {
        format!("{}{}", self.settings.topic_prefix, t.name())
    }

    fn consumer(&self) -> Result<&StreamConsumer<Context>, QueueError> {
        let c = self.consumer.get_or_init(|| {
            let ctx = Context {
                in_flight: self.in_flight.clone(),
                topic: self.topic(Topic::RawUpdates),
            };
            let mut config = client_config(&self.settings);
            // Cooperative rebalancing: a worker joining or leaving moves only the partitions
            // that change hands, and the others keep working meanwhile. `[queue] options`
            // can name another strategy (`range`, for a broker whose cooperative protocol
            // misbehaves).
            if !self.settings.options.contains_key(STRATEGY) {
                config.set(STRATEGY, "cooperative-sticky");
            }
            let consumer: StreamConsumer<Context> = config
                .set("group.id", &self.settings.group)
                .set("enable.auto.commit", "false")
                .set("enable.auto.offset.store", "false")
                .set("auto.offset.reset", "earliest")
                .create_with_context(ctx)
                .map_err(|e| format!("creating the Kafka consumer: {e}"))?;
            let topic = self.topic(Topic::RawUpdates);
            consumer
                .subscribe(&[&topic])
                .map_err(|e| format!("subscribing to {topic}: {e}"))?;
            Ok(Arc::new(consumer))
        });
        c.as_ref()
            .map(|c| &**c)
            .map_err(|e| QueueError::Unavailable(e.clone()))
    }

    async fn produce(
        &self,
        topic: &str,
        batch: Vec<Message>,
        headers: Option<OwnedHeaders>,
    ) -> Result<(), QueueError> {
        let mut pending = std::collections::VecDeque::new();
        for m in &batch {
            let mut record = FutureRecord::to(topic)
                .key(m.key.as_bytes())
                .payload(m.payload.as_ref());
            if let Some(h) = &headers {
                record = record.headers(h.clone());
            }
            loop {
                match self.producer.send_result(record) {
                    Ok(f) => {
                        pending.push_back(f);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        // The local buffer is full: wait for the oldest delivery (backpressure).
                        record = r;
                        match pending.pop_front() {
                            Some(f) => delivered(f.await)?,
                            None => tokio::time::sleep(Duration::from_millis(50)).await,
                        }
                    }
                    Err((e, _)) => return Err(unavailable(&format!("producing to {topic}"), e)),
                }
            }
        }
        for f in pending {
            delivered(f.await)?;
        }
        Ok(())
    }

    /// After an empty read: says when this consumer has waited long for the group to give
    /// it partitions (a worker that reads nothing and says nothing could be stuck).
    fn note_assignment(&self, consumer: &StreamConsumer<Context>) {
        let assigned = consumer.assignment().is_ok_and(|l| l.count() > 0);
        let mut u = self
            .unassigned
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if assigned {
            *u = (None, None);
            return;
        }
        let now = Instant::now();
        let since = *u.0.get_or_insert(now);
        let waited = now.duration_since(since);
        let due = match u.1 {
            None => waited >= UNASSIGNED_SAID_AFTER,
            Some(said) => now.duration_since(said) >= Duration::from_secs(60),
        };
        if due {
            u.1 = Some(now);
            tracing::warn!(
                waited_s = waited.as_secs(),
                group = %self.settings.group,
                topic = %self.topic(Topic::RawUpdates),
                "No partition of the raw topic is assigned to this worker yet: the group gives \
                 them out when it rebalances. If this goes on, the other members hold them all \
                 (more workers than partitions), the broker still counts a member that was \
                 killed until its session times out, or its cooperative protocol misbehaves \
                 (the README's Kafka section: the `range` strategy, set in [queue] options)."
            );
        }
    }

    /// What the health says of commits failing for [`COMMIT_STALL_SHOWN`] or longer at
    /// `now` (a worker storing batches whose offsets Kafka does not take: its lag grows,
    /// and a restart delivers them again), `None` while they are taken, or when this worker
    /// holds no partition.
    fn commit_stall(&self, now: Instant) -> Option<String> {
        // A worker holding no partition commits nothing (said as such elsewhere).
        let assigned = matches!(self.consumer.get(), Some(Ok(c))
            if c.assignment().is_ok_and(|l| l.count() > 0));
        if !assigned {
            return None;
        }
        let u = self
            .uncommitted
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (since, reason) = u.as_ref()?;
        commit_stall_said(now.saturating_duration_since(*since), reason)
    }

    /// Commits synchronously on a blocking thread: `ack` returns once Kafka has the offsets,
    /// or after [`COMMIT_WAIT`] with an error saying it has not yet (see [`bounded`]).
    async fn commit(&self, offsets: &[(i32, i64)]) -> Result<(), QueueError> {
        if offsets.is_empty() {
            return Ok(());
        }
        self.consumer()?;
        let Some(Ok(consumer)) = self.consumer.get().cloned() else {
            return Err(QueueError::Closed);
        };
        let topic = self.topic(Topic::RawUpdates);
        let mut tpl = TopicPartitionList::new();
        for (p, o) in offsets {
            tpl.add_partition_offset(&topic, *p, Offset::Offset(*o))
                .map_err(|e| unavailable("building the commit", e))?;
        }
        let wait = COMMIT_WAIT.as_secs();
        let reason = match self
            .commits
            .run(move || consumer.commit(&tpl, CommitMode::Sync))
            .await
        {
            Ok(Ok(())) => {
                *self
                    .uncommitted
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                return Ok(());
            }
            Ok(Err(e)) => {
                use rdkafka::types::RDKafkaErrorCode as Code;
                if matches!(
                    e.rdkafka_error_code(),
                    Some(
                        Code::IllegalGeneration | Code::RebalanceInProgress | Code::UnknownMemberId
                    )
                ) {
                    // The partitions moved: what this worker had to commit is its new
                    // owner's to commit now.
                    *self
                        .uncommitted
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = None;
                    return Err(QueueError::Moved(e.to_string()));
                }
                e.to_string()
            }
            Err(Unfinished::TimedOut) => format!(
                "Kafka did not take the commit within {wait} s (the group may be \
                 rebalancing); it goes on in the background"
            ),
            Err(Unfinished::Busy) => format!(
                "the previous commit has not finished after {wait} s (the group may be \
                 rebalancing); a later batch commits these partitions"
            ),
            Err(Unfinished::Lost(e)) => e,
        };
        let mut u = self
            .uncommitted
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let since = u.as_ref().map_or_else(Instant::now, |(t, _)| *t);
        *u = Some((since, reason.clone()));
        Err(unavailable("committing Kafka offsets", reason))
    }
}

fn delivered<E>(
    r: Result<rdkafka::producer::future_producer::OwnedDeliveryResult, E>,
) -> Result<(), QueueError> {
    match r {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((e, _))) => Err(unavailable("a Kafka delivery failed", e)),
        Err(_) => Err(QueueError::Closed),
    }
}

impl Queue for KafkaQueue {
    fn publish(&self, topic: Topic, batch: Vec<Message>) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            // Closing stops new raw updates; processing still drains what it holds, and
            // publishes its results and dead letters, as on the in-process queue.
            if topic == Topic::RawUpdates {
                if self.closed.load(Ordering::Relaxed) {
                    return Err(QueueError::Closed);
                }
                self.hold_while_behind().await?;
            }
            self.produce(&self.topic(topic), batch, None).await
        })
    }

    fn consume(
        &self,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'_, Result<Vec<Delivery>, QueueError>> {
        Box::pin(async move {
            if self.closed.load(Ordering::Relaxed) {
                return Err(QueueError::Closed);
            }
            let consumer = self.consumer()?;
            let mut out = Vec::new();
            let mut budget = wait;
            // Errors queued while the cluster was away come one a read: every one already
            // there is taken now, so a backlog left by an outage that is over does not
            // hold up the messages behind it (the caller waits between failed reads).
            let mut error = None;
            let mut errors = 0u32;
            while out.len() < max.max(1) {
                let next = match tokio::time::timeout(budget, consumer.recv()).await {
                    Err(_) => break,
                    Ok(Err(e)) => {
                        if !out.is_empty() {
                            break;
                        }
                        error = Some(e);
                        errors += 1;
                        if errors >= ERRORS_TAKEN_AT_ONCE {
                            break;
                        }
                        budget = Duration::from_millis(1);
                        continue;
                    }
                    Ok(Ok(m)) => m,
                };
                let key = next
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .unwrap_or_default();
                let payload = Bytes::copy_from_slice(next.payload().unwrap_or_default());
                let tag = DeliveryTag {
                    partition: next.partition(),
                    offset: next.offset(),
                };
                self.in_flight
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .delivered(tag.partition, tag.offset);
                out.push(Delivery {
                    tag,
                    message: Message { key, payload },
                });
                // After the first message, take only what is already there.
                budget = Duration::from_millis(5);
            }
            if out.is_empty() && error.is_none() {
                self.note_assignment(consumer);
            }
            match error {
                Some(e) if out.is_empty() => Err(unavailable("consuming from Kafka", e)),
                _ => Ok(out),
            }
        })
    }

    fn ack(&self, tags: Vec<DeliveryTag>) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            let offsets = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .acked(&tags);
            self.commit(&offsets).await
        })
    }

    fn dead_letter(
        &self,
        delivery: Delivery,
        reason: String,
    ) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            tracing::warn!(key = %delivery.message.key, reason = %reason, "Sent a raw update to the dead-letter topic.");
            let partition = delivery.tag.partition.to_string();
            let offset = delivery.tag.offset.to_string();
            let source = self.topic(Topic::RawUpdates);
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: "error",
                    value: Some(reason.as_str()),
                })
                .insert(Header {
                    key: "source.topic",
                    value: Some(source.as_str()),
                })
                .insert(Header {
                    key: "source.partition",
                    value: Some(partition.as_str()),
                })
                .insert(Header {
                    key: "source.offset",
                    value: Some(offset.as_str()),
                });
            self.produce(
                &self.topic(Topic::DeadLetter),
                vec![delivery.message],
                Some(headers),
            )
            .await?;
            self.dead_total.fetch_add(1, Ordering::Relaxed);
            self.ack(vec![delivery.tag]).await
        })
    }

    fn dead_lettered(&self) -> u64 {
        self.dead_total.load(Ordering::Relaxed)
    }

    fn shared(&self) -> bool {
        true
    }

    fn route(&self) -> Option<String> {
        Some(format!(
            "topic {}, group {}",
            self.topic(Topic::RawUpdates),
            self.settings.group
        ))
    }

    fn depth(&self) -> u64 {
        let in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .count();
        self.lag.load(Ordering::Relaxed).max(in_flight)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        let _ = rdkafka::producer::Producer::flush(
            &self.producer,
            Timeout::After(Duration::from_secs(10)),
        );
    }

    fn health(&self) -> BoxFuture<'_, ComponentHealth> {
        Box::pin(async move {
            if self.closed.load(Ordering::Relaxed) {
                return ComponentHealth::down("kafka", "closed");
            }
            let started = Instant::now();
            // The metadata call blocks: keep it off the async workers.
            let producer = self.producer.clone();
            let brokers = tokio::task::spawn_blocking(move || {
                rdkafka::producer::Producer::client(&producer)
                    .fetch_metadata(None, Timeout::After(Duration::from_secs(3)))
                    .map(|meta| meta.brokers().len())
                    .map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|e| Err(format!("the probe failed: {e}")));
            let probe = match brokers {
                Ok(n) => self.measure_lag().await.map(|lag| (n, lag)),
                Err(e) => Err(e),
            };
            let mut h = match probe {
                Ok((brokers, lag)) => {
                    let detail = format!(
                        "{brokers} broker(s) at {}; consumer lag {lag}",
                        self.settings.brokers
                    );
                    if self.held.load(Ordering::Relaxed) {
                        ComponentHealth::degraded(
                            "kafka",
                            format!(
                                "{detail}: raw updates held until the group {} is under \
                                 max_lag {} (is a --role process worker running?)",
                                self.settings.group, self.settings.max_lag
                            ),
                        )
                    } else if let Some(stall) = self.commit_stall(Instant::now()) {
                        ComponentHealth::degraded("kafka", format!("{detail}: {stall}"))
                    } else {
                        ComponentHealth::ok("kafka", detail)
                    }
                }
                Err(e) => ComponentHealth::down(
                    "kafka",
                    format!(
                        "brokers {} unreachable: {e}; publishing and reading wait and retry",
                        brokers_shown(&self.settings.brokers)
                    ),
                ),
            };
            h.latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
            h
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commits failing through a rebalance's few seconds are routine; a minute without one
    /// is said, with the last reason and what to do.
    #[test]
    fn commits_failing_for_a_minute_are_said() {
        let reason = "Kafka did not take the commit within 5 s";
        assert_eq!(commit_stall_said(Duration::from_secs(59), reason), None);
        let said = commit_stall_said(Duration::from_secs(7 * 60), reason).unwrap();
        assert!(
            said.starts_with("no offset committed for 7m (last: Kafka did not take"),
            "{said}"
        );
        assert!(said.contains("restart this worker"), "{said}");
    }
}
