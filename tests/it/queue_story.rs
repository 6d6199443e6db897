//! The queue conformance story, generic over `Queue`: what the pipeline relies on, told
//! once and run against every backend: the in-process queue, rdkafka's mock cluster, and
//! an external Kafka broker when `ARBDESK_TEST_KAFKA` names one.

use std::collections::BTreeMap;
use std::time::Duration;

use arbdesk::queue::{Delivery, Message, Queue, QueueError, Topic};
use bytes::Bytes;

fn batch(prefix: &str, products: usize, per_product: usize) -> Vec<Message> {
    let mut out = Vec::new();
    for n in 0..per_product {
        for p in 0..products {
            out.push(Message {
                key: format!("B0{prefix}{p:06}"),
                payload: Bytes::from(format!("{prefix}:{p}:{n}")),
            });
        }
    }
    out
}

/// Consumes until `n` deliveries arrived (or the deadline passed).
async fn take(q: &dyn Queue, n: usize, deadline: Duration) -> Vec<Delivery> {
    let start = std::time::Instant::now();
    let mut out = Vec::new();
    while out.len() < n && start.elapsed() < deadline {
        out.extend(
            q.consume(n - out.len(), Duration::from_millis(500))
                .await
                .unwrap(),
        );
    }
    out
}

/// Publish, consume everything exactly once, per-key order, ack, dead-letter.
pub async fn story(q: &dyn Queue, prefix: &str) {
    let sent = batch(prefix, 10, 3);
    q.publish(Topic::RawUpdates, sent.clone()).await.unwrap();
    let got = take(q, sent.len(), Duration::from_secs(60)).await;
    assert_eq!(
        got.len(),
        sent.len(),
        "every published message is delivered"
    );
    let mut payloads: Vec<&Bytes> = got.iter().map(|d| &d.message.payload).collect();
    payloads.sort();
    payloads.dedup();
    assert_eq!(payloads.len(), sent.len(), "no message is delivered twice");
    // Messages of one key (one product) arrive in the order they were published.
    let mut per_key: BTreeMap<&str, Vec<&Bytes>> = BTreeMap::new();
    for d in &got {
        per_key
            .entry(&d.message.key)
            .or_default()
            .push(&d.message.payload);
    }
    for (key, seq) in per_key {
        let expected: Vec<&Bytes> = sent
            .iter()
            .filter(|m| m.key == key)
            .map(|m| &m.payload)
            .collect();
        assert_eq!(seq, expected, "order of {key}");
    }
    // A poison message goes to the dead-letter topic and counts as handled.
    let (poison, rest) = got.split_first().unwrap();
    q.dead_letter(
        poison.clone(),
        "not a Keepa product: expected value at line 1".into(),
    )
    .await
    .unwrap();
    q.ack(rest.iter().map(|d| d.tag).collect()).await.unwrap();
    let _ = q.health().await;
    assert_eq!(
        q.depth(),
        0,
        "nothing left after everything was acknowledged"
    );
    // Nothing more to read.
    assert!(
        q.consume(10, Duration::from_millis(1500))
            .await
            .unwrap()
            .is_empty()
    );
    // Alerts and enriched products can be published too.
    q.publish(Topic::Alerts, batch(prefix, 1, 1)).await.unwrap();
    q.publish(Topic::Enriched, batch(prefix, 2, 1))
        .await
        .unwrap();
}

/// After `close`: no more raw updates, while processing, draining what it holds, can still
/// publish its results and dead letters.
pub async fn closed(q: &dyn Queue, prefix: &str) {
    q.close();
    assert_eq!(
        q.publish(Topic::RawUpdates, batch(prefix, 1, 1)).await,
        Err(QueueError::Closed)
    );
    q.publish(Topic::Alerts, batch(prefix, 1, 1)).await.unwrap();
    q.publish(Topic::Enriched, batch(prefix, 1, 1))
        .await
        .unwrap();
}

#[tokio::test]
async fn memory_queue_story() {
    let q = arbdesk::queue::memory::MemoryQueue::new(1_000);
    story(&q, "MEM").await;
    closed(&q, "MEM").await;
    assert_eq!(q.dead_letters().len(), 1);
    assert!(q.dead_letters()[0].reason.contains("not a Keepa product"));
}

#[cfg(feature = "kafka")]
mod kafka {
    use std::time::Duration;

    use super::{batch, story, take};
    use crate::it::util::mock_cluster;
    use arbdesk::queue::kafka::KafkaQueue;
    use arbdesk::queue::{KafkaSettings, Queue, Topic};
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Headers, Message as _};

    fn settings(brokers: &str, prefix: &str) -> KafkaSettings {
        let mut s = KafkaSettings::new(brokers);
        // The mock cluster has its topics made through its own API (below).
        s.create_topics = !prefix.starts_with("mock");
        // A dead worker's partitions move on after the session timeout: keep it short.
        s.options.insert("session.timeout.ms".into(), "6000".into());
        s.options
            .insert("heartbeat.interval.ms".into(), "500".into());
        s.topic_prefix = format!("{prefix}.");
        s.group = format!("{prefix}-group");
        s
    }

    /// Everything the pipeline needs, then crash safety and the dead-letter record.
    async fn full_story(brokers: &str, prefix: &str) {
        let q = KafkaQueue::connect(settings(brokers, prefix))
            .await
            .unwrap();
        story(&q, prefix).await;
        let h = q.health().await;
        assert_eq!(h.kind, "kafka");
        assert!(h.detail.contains("consumer lag 0"), "{}", h.detail);
        super::closed(&q, prefix).await;
        drop(q);

        // The dead letter carries the original bytes and the reason.
        let dlq: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", format!("{prefix}-dlq-reader"))
            .set("auto.offset.reset", "earliest")
            .create()
            .unwrap();
        dlq.subscribe(&[&format!("{prefix}.{}", Topic::DeadLetter.name())])
            .unwrap();
        let start = std::time::Instant::now();
        let record = loop {
            if let Some(Ok(m)) = dlq.poll(Duration::from_millis(200)) {
                break m.detach();
            }
            assert!(start.elapsed() < Duration::from_secs(30), "no dead letter");
        };
        let reason = record
            .headers()
            .and_then(|h| h.iter().find(|x| x.key == "error"))
            .and_then(|x| x.value)
            .map(|v| String::from_utf8_lossy(v).to_string());
        assert!(reason.unwrap().contains("not a Keepa product"));
        assert!(String::from_utf8_lossy(record.payload().unwrap()).starts_with(prefix));

        // At-least-once: a worker that dies before acknowledging leaves its messages to
        // the next member of the group; acknowledged ones are not read again.
        let a = KafkaQueue::connect(settings(brokers, prefix))
            .await
            .unwrap();
        a.publish(Topic::RawUpdates, batch(prefix, 6, 2))
            .await
            .unwrap();
        let got = take(&a, 12, Duration::from_secs(60)).await;
        assert_eq!(got.len(), 12);
        // Acknowledge the first delivery of each partition only.
        let mut acked = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for d in &got {
            if seen.insert(d.tag.partition) {
                acked.push(d.clone());
            }
        }
        a.ack(acked.iter().map(|d| d.tag).collect()).await.unwrap();
        a.close();
        drop(a); // a crash: no more acks
        let b = KafkaQueue::connect(settings(brokers, prefix))
            .await
            .unwrap();
        let again = take(&b, 12 - acked.len(), Duration::from_secs(90)).await;
        let again: std::collections::BTreeSet<_> =
            again.iter().map(|d| d.message.payload.clone()).collect();
        let expected: std::collections::BTreeSet<_> = got
            .iter()
            .filter(|d| !acked.iter().any(|a| a.tag == d.tag))
            .map(|d| d.message.payload.clone())
            .collect();
        assert_eq!(
            again, expected,
            "exactly the unacknowledged messages come back"
        );
    }

    /// A second worker joins while the first is working: the group shares the partitions
    /// out again, every message is still taken (a redelivery after the move is allowed),
    /// and afterwards both workers take messages: neither is left holding nothing.
    async fn a_worker_joining_shares_the_work(brokers: &str, prefix: &str) {
        let a = KafkaQueue::connect(settings(brokers, prefix))
            .await
            .unwrap();
        let first = batch(prefix, 30, 2);
        a.publish(Topic::RawUpdates, first.clone()).await.unwrap();
        let got = take(&a, 10, Duration::from_secs(60)).await;
        assert_eq!(got.len(), 10);
        a.ack(got.iter().map(|d| d.tag).collect()).await.unwrap();
        let mut seen: std::collections::BTreeSet<_> =
            got.iter().map(|d| d.message.payload.clone()).collect();

        let b = KafkaQueue::connect(settings(brokers, prefix))
            .await
            .unwrap();
        let second = batch(&format!("{prefix}x"), 30, 2);
        let (mut by_a, mut by_b) = (0, 0);
        let mut published = false;
        let start = std::time::Instant::now();
        while seen.len() < first.len() + second.len() || by_a == 0 || by_b == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "after a worker joined, {} of {} messages were taken (after the join: {by_a} \
                 by the first worker, {by_b} by the second)",
                seen.len(),
                first.len() + second.len(),
            );
            // Once the first batch is in, a second one shows who holds what now.
            if !published && seen.len() >= first.len() {
                a.publish(Topic::RawUpdates, second.clone()).await.unwrap();
                published = true;
            }
            for (q, count) in [(&a, &mut by_a), (&b, &mut by_b)] {
                let got = q.consume(20, Duration::from_millis(200)).await.unwrap();
                if published {
                    *count += got
                        .iter()
                        .filter(|d| {
                            d.message
                                .payload
                                .starts_with(format!("{prefix}x").as_bytes())
                        })
                        .count();
                }
                seen.extend(got.iter().map(|d| d.message.payload.clone()));
                if !got.is_empty() {
                    // Storing the batch takes a moment, in which the group may rebalance.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                // A commit while the group rebalances is refused; what it would have
                // committed is redelivered, as after a crash (the pipeline logs it).
                if let Err(e) = q.ack(got.iter().map(|d| d.tag).collect()).await {
                    let e = e.to_string();
                    assert!(
                        e.contains("RebalanceInProgress") || e.contains("IllegalGeneration"),
                        "{e}"
                    );
                }
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_worker_joining_on_the_mock_cluster_shares_the_work() {
        let cluster = mock_cluster(3, "mockjoin");
        a_worker_joining_shares_the_work(&cluster.bootstrap_servers(), "mockjoin").await;
    }

    /// The broker `ARBDESK_TEST_KAFKA` names; without one, the test says it is skipped.
    fn external_broker() -> Option<String> {
        let brokers = std::env::var("ARBDESK_TEST_KAFKA").ok();
        if brokers.is_none() {
            eprintln!(
                "skipped: set ARBDESK_TEST_KAFKA=HOST:PORT to run the Kafka story on a broker"
            );
        }
        brokers
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_worker_joining_on_an_external_broker_shares_the_work() {
        let Some(brokers) = external_broker() else {
            return;
        };
        let prefix = format!("j{}", std::process::id());
        a_worker_joining_shares_the_work(&brokers, &prefix).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kafka_queue_story_on_the_mock_cluster() {
        let cluster = mock_cluster(3, "mock");
        full_story(&cluster.bootstrap_servers(), "mock").await;
    }

    /// Raw updates wait while the consumer group is `max_lag` behind, counting partitions
    /// no worker holds (here: no worker at all), and go on once a worker catches up.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn publishing_waits_while_the_group_is_max_lag_behind() {
        let cluster = mock_cluster(1, "mockheld");
        let brokers = cluster.bootstrap_servers();
        let mut s = settings(&brokers, "mockheld");
        s.max_lag = 6;
        let ingest = std::sync::Arc::new(KafkaQueue::connect(s.clone()).await.unwrap());
        ingest
            .publish(Topic::RawUpdates, batch("mockheld", 3, 2))
            .await
            .unwrap();
        let h = ingest.health().await;
        assert!(h.detail.contains("consumer lag 6"), "{}", h.detail);
        // Six behind: the next batch waits (no worker has read anything).
        let next = tokio::spawn({
            let ingest = ingest.clone();
            async move {
                ingest
                    .publish(Topic::RawUpdates, batch("mockheld", 1, 1))
                    .await
            }
        });
        let start = std::time::Instant::now();
        let held = loop {
            let h = ingest.health().await;
            if h.status == arbdesk::component::HealthStatus::Degraded {
                break h;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the queue never said it holds: {}",
                h.detail
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(held.detail.contains("max_lag 6"), "{}", held.detail);
        assert!(!next.is_finished(), "published while the group was behind");
        // A worker reads and stores the six: the held batch goes out.
        let worker = KafkaQueue::connect(s).await.unwrap();
        let got = take(&worker, 6, Duration::from_secs(60)).await;
        assert_eq!(got.len(), 6);
        worker
            .ack(got.iter().map(|d| d.tag).collect())
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(60), next)
            .await
            .expect("the held batch went out once the group caught up")
            .unwrap()
            .unwrap();
        let h = ingest.health().await;
        assert_eq!(
            h.status,
            arbdesk::component::HealthStatus::Ok,
            "{}",
            h.detail
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kafka_queue_story_on_an_external_broker() {
        let Some(brokers) = external_broker() else {
            return;
        };
        let prefix = format!("t{}", std::process::id());
        full_story(&brokers, &prefix).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreachable_cluster_is_reported_down() {
        let mut s = KafkaSettings::new("127.0.0.1:1");
        s.create_topics = false;
        s.options
            .insert("socket.connection.setup.timeout.ms".into(), "1000".into());
        let q = KafkaQueue::connect(s.clone()).await.unwrap();
        let h = q.health().await;
        assert_eq!(h.status, arbdesk::component::HealthStatus::Down);
        assert!(h.detail.contains("127.0.0.1:1"), "{}", h.detail);
        // Creating topics there fails as a broker that does not answer, not as a timeout of
        // the topic creation.
        s.create_topics = true;
        let e = KafkaQueue::connect(s).await.err().unwrap().to_string();
        assert!(
            e.contains("no Kafka broker at 127.0.0.1:1 answered within 10 s"),
            "{e}"
        );
    }
}
