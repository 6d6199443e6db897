//! The queue seam: how raw Keepa updates travel from ingest to processing.
//!
//! Messages are bytes with a key (the ASIN), exactly as they would be on Kafka, so the
//! in-process queue and Kafka behave alike: processing validates every payload, and one that
//! fails goes to the dead-letter topic with the reason instead of being dropped. Consumers
//! acknowledge deliveries only after the store has written them (at-least-once; the store's
//! idempotent writes make redelivery harmless). `publish` applies backpressure by waiting
//! for room.

#[cfg(feature = "kafka")]
pub mod kafka;
pub mod memory;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::component::{BoxFuture, ComponentHealth};
use crate::domain::{Asin, Market};

/// Which queue to use: `[queue]` in the config file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum QueueConfig {
    /// Bounded in-process channels.
    Memory {
        /// Raw updates held before `publish` waits.
        #[serde(default = "default_capacity")]
        capacity: usize,
    },
    /// A Kafka cluster (needs the `kafka` cargo feature, on by default).
    Kafka(KafkaSettings),
}

/// `[queue] type = "kafka"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// Bootstrap servers, comma-separated (`host:9092,host2:9092`).
    pub brokers: String,
    /// Consumer group of the processing workers.
    #[serde(default = "default_group")]
    pub group: String,
    /// Partitions of the raw and enriched topics when arbdesk creates them.
    #[serde(default = "default_partitions")]
    pub partitions: i32,
    /// Replication factor when arbdesk creates topics.
    #[serde(default = "default_replication")]
    pub replication: i32,
    /// Create missing topics at start.
    #[serde(default = "default_true")]
    pub create_topics: bool,
    /// Prefix of every topic name (e.g. `staging.`).
    #[serde(default)]
    pub topic_prefix: String,
    /// Ingest holds its raw updates while the consumer group is this many messages behind
    /// (0: never), as the in-process queue holds them when full: with no worker running, a
    /// Keepa key would otherwise spend its tokens on fetches that nothing stores.
    #[serde(default = "default_max_lag")]
    pub max_lag: u64,
    /// librdkafka properties for real clusters: `security.protocol`, `sasl.mechanism`,
    /// `sasl.username`, `ssl.ca.location`, …
    #[serde(default)]
    pub options: std::collections::BTreeMap<String, String>,
}

impl KafkaSettings {
    /// Defaults for `brokers`.
    pub fn new(brokers: impl Into<String>) -> KafkaSettings {
        KafkaSettings {
            brokers: brokers.into(),
            group: default_group(),
            partitions: default_partitions(),
            replication: default_replication(),
            create_topics: true,
            topic_prefix: String::new(),
            max_lag: default_max_lag(),
            options: std::collections::BTreeMap::new(),
        }
    }
}

fn default_group() -> String {
    "enrichment-consumer".into()
}

fn default_partitions() -> i32 {
    3
}

fn default_replication() -> i32 {
    1
}

fn default_true() -> bool {
    true
}

fn default_max_lag() -> u64 {
    10_000
}

fn default_capacity() -> usize {
    10_000
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig::Memory {
            capacity: default_capacity(),
        }
    }
}

/// Builds the configured queue.
pub async fn build(config: &QueueConfig) -> Result<Arc<dyn Queue>, QueueError> {
    match config {
        QueueConfig::Memory { capacity } => Ok(Arc::new(memory::MemoryQueue::new(*capacity))),
        #[cfg(feature = "kafka")]
        QueueConfig::Kafka(k) => Ok(Arc::new(kafka::KafkaQueue::connect(k.clone()).await?)),
        #[cfg(not(feature = "kafka"))]
        QueueConfig::Kafka(_) => Err(QueueError::Unavailable(
            "this arbdesk was built without the `kafka` feature; rebuild with default features or use [queue] type = \"memory\"".into(),
        )),
    }
}

/// The topics arbdesk uses (names as on Kafka).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Raw Keepa products from ingest: `raw.keepa_updates`.
    RawUpdates,
    /// Enriched products for downstream consumers: `enriched.products`.
    Enriched,
    /// Routes that newly pass every gate (ranked now, not stored as ranked before): `alerts`.
    Alerts,
    /// Raw updates that failed validation: `raw.keepa_updates.dlq`.
    DeadLetter,
}

impl Topic {
    /// The topic name.
    pub const fn name(self) -> &'static str {
        match self {
            Topic::RawUpdates => "raw.keepa_updates",
            Topic::Enriched => "enriched.products",
            Topic::Alerts => "alerts",
            Topic::DeadLetter => "raw.keepa_updates.dlq",
        }
    }
}

/// A message: key (the ASIN) and payload bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Partitioning key.
    pub key: String,
    /// Payload.
    pub payload: Bytes,
}

/// Identifies a delivery for acknowledgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryTag {
    /// Partition (0 for the in-process queue).
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
}

/// A consumed message awaiting acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// For `ack`.
    pub tag: DeliveryTag,
    /// The message.
    pub message: Message,
}

/// Why a queue operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The queue is closed (shutdown).
    #[error("the queue is closed")]
    Closed,
    /// The broker cannot be reached; retry later.
    #[error("the queue is unavailable: {0}")]
    Unavailable(String),
    /// The queue's settings are refused by its client (an unknown librdkafka property, a
    /// bad value): a mistake in the config, which retrying will not mend.
    #[error("the queue's settings are refused: {0}")]
    Config(String),
    /// An acknowledgement came after the batch's partitions moved to another member of the
    /// group (a rebalance): its messages go to their new owner again, which stores them
    /// again, to the same effect. Routine, not an outage.
    #[error(
        "the group rebalanced before the batch was acknowledged ({0}): its messages are \
         delivered again to the worker that has their partitions now (stored writes are \
         idempotent)"
    )]
    Moved(String),
}

/// Moves messages between pipeline stages.
pub trait Queue: Send + Sync {
    /// Publishes a batch to `topic`, waiting for room when the queue is full.
    fn publish(&self, topic: Topic, batch: Vec<Message>) -> BoxFuture<'_, Result<(), QueueError>>;
    /// Takes up to `max` raw updates, waiting at most `wait` for the first one. Returns an
    /// empty batch on timeout and `Closed` once the queue is closed and drained.
    fn consume(
        &self,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'_, Result<Vec<Delivery>, QueueError>>;
    /// Acknowledges deliveries whose effects the store has written.
    fn ack(&self, tags: Vec<DeliveryTag>) -> BoxFuture<'_, Result<(), QueueError>>;
    /// Sends a delivery that failed validation to the dead-letter topic, with the reason,
    /// and acknowledges it.
    fn dead_letter(
        &self,
        delivery: Delivery,
        reason: String,
    ) -> BoxFuture<'_, Result<(), QueueError>>;
    /// Whether a message published to `topic` can reach anyone. On Kafka it always can (a
    /// consumer may read it later); the in-process queue knows its subscribers, so
    /// publishers can skip encoding what would be dropped.
    fn listened(&self, _topic: Topic) -> bool {
        true
    }
    /// Whether other processes publish to and consume from this queue too (Kafka): a
    /// worker on it takes updates that another worker would otherwise store.
    fn shared(&self) -> bool {
        false
    }
    /// On a shared queue, where raw updates go and who reads them (`topic
    /// raw.keepa_updates, group arbdesk`): processes that are to work together name the
    /// same, and a merged status says when they do not.
    fn route(&self) -> Option<String> {
        None
    }
    /// Messages waiting or in flight (consumer lag on Kafka).
    fn depth(&self) -> u64;
    /// Messages this process has sent to the dead-letter topic since it started.
    fn dead_lettered(&self) -> u64;
    /// Stops accepting messages; consumers drain what is left.
    fn close(&self);
    /// Reports health.
    fn health(&self) -> BoxFuture<'_, ComponentHealth>;
}

/// The payload of `raw.keepa_updates`: one Keepa product as fetched. `P` is the product
/// as ingest sends it, verbatim; enrich reads it parsed (`P` a decoded Keepa product) in the
/// same pass as the rest.
#[derive(Debug, Serialize, Deserialize)]
pub struct RawUpdate<P = Box<RawValue>> {
    /// The ASIN (also the message key).
    pub asin: Asin,
    /// The market asked.
    pub market: Market,
    /// When it was fetched.
    pub fetched_at: DateTime<Utc>,
    /// The Keepa product object.
    pub product: P,
    /// Whose prices these are, as the ingest process that fetched them says: a worker
    /// refuses an update from another source than its store holds (an ingest process
    /// with a store of its own, publishing to a shared topic). Absent from updates sent
    /// before it was kept.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_source"
    )]
    pub source: Option<crate::pipeline::Source>,
}

/// A Kafka bootstrap entry's host and port, after any listener's `PROTOCOL://`; the port is
/// `None` when the entry gives none (librdkafka then takes 9092). A bracketed IPv6 address
/// without a port ends in `]`.
pub(crate) fn broker_host_port(entry: &str) -> (&str, Option<&str>) {
    let bare = entry.rsplit_once("://").map_or(entry, |(_, rest)| rest);
    match bare.rsplit_once(':') {
        Some((host, port)) if !port.ends_with(']') => (host, Some(port)),
        _ => (bare, None),
    }
}

/// A source this version does not know (a later one's) is read as none said, so the update
/// is not dead-lettered for it.
fn lenient_source<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<crate::pipeline::Source>, D::Error> {
    use serde::Deserialize;
    use serde::de::IntoDeserializer;
    let said = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
    Ok(said.and_then(|name| {
        let name: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            name.as_ref().into_deserializer();
        crate::pipeline::Source::deserialize(name).ok()
    }))
}

impl RawUpdate {
    /// Encodes as a queue message keyed by ASIN.
    pub fn to_message(&self) -> Result<Message, serde_json::Error> {
        Ok(Message {
            key: self.asin.to_string(),
            payload: Bytes::from(serde_json::to_vec(self)?),
        })
    }
}
