//! Making the Kafka topics at start, and naming the brokers in messages.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;

use super::{KafkaQueue, client_config, unavailable};
use crate::queue::{QueueError, Topic};

impl KafkaQueue {
    pub(super) async fn create_topics(&self) -> Result<(), QueueError> {
        let admin: AdminClient<DefaultClientContext> = client_config(&self.settings)
            .create()
            .map_err(|e| unavailable("creating the Kafka admin client", e))?;
        // A broker that does not answer is said as that, within seconds, not as a topic
        // creation that timed out a minute later.
        let producer = self.producer.clone();
        let reached = tokio::task::spawn_blocking(move || {
            rdkafka::producer::Producer::client(&producer)
                .fetch_metadata(None, Timeout::After(Duration::from_secs(10)))
                .map(|_| ())
        })
        .await
        .map_err(|e| unavailable("asking Kafka for its metadata", e))?;
        if let Err(e) = reached {
            return Err(QueueError::Unavailable(format!(
                "no Kafka broker at {} answered within 10 s ({e}); check --kafka-brokers or \
                 brokers in [queue], and that the cluster is up and reachable from here",
                brokers_shown(&self.settings.brokers)
            )));
        }
        let names: Vec<(String, i32)> = [
            (Topic::RawUpdates, self.settings.partitions),
            (Topic::Enriched, self.settings.partitions),
            (Topic::Alerts, 1),
            (Topic::DeadLetter, 1),
        ]
        .into_iter()
        .map(|(t, p)| (self.topic(t), p))
        .collect();
        let topics: Vec<NewTopic<'_>> = names
            .iter()
            .map(|(n, p)| NewTopic::new(n, *p, TopicReplication::Fixed(self.settings.replication)))
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = admin
            .create_topics(topics.iter(), &opts)
            .await
            .map_err(|e| {
                unavailable(
                    &format!(
                        "creating Kafka topics on {} (check --kafka-brokers or brokers in \
                         [queue], or set create_topics = false where topics are made by hand)",
                        brokers_shown(&self.settings.brokers)
                    ),
                    e,
                )
            })?;
        for r in results {
            match r {
                Ok(name) => tracing::info!(topic = %name, "Created the Kafka topic."),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(unavailable(
                        &format!("creating the Kafka topic {name}"),
                        code,
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The bootstrap list as messages name it: librdkafka takes port 9092 for an entry that
/// gives none, which is said, since a broker listening elsewhere then never answers.
pub(super) fn brokers_shown(brokers: &str) -> String {
    let portless = brokers
        .split(',')
        .any(|entry| crate::queue::broker_host_port(entry.trim()).1.is_none());
    if portless {
        format!("{brokers} (port 9092 where none is given)")
    } else {
        brokers.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::brokers_shown;

    #[test]
    fn a_broker_without_a_port_is_named_with_the_one_librdkafka_takes() {
        for given in ["kafka", "a:9092,b", "SSL://kafka", "[::1]"] {
            assert_eq!(
                brokers_shown(given),
                format!("{given} (port 9092 where none is given)")
            );
        }
        for given in [
            "kafka:9093",
            "a:9092, b:9094",
            "SASL_SSL://k:9093",
            "[::1]:9092",
        ] {
            assert_eq!(brokers_shown(given), given);
        }
    }
}
