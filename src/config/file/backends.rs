//! `[queue]` and `[store]`: the backends, with the flags that choose them over the file.

use super::super::ConfigError;
use super::super::invalid;
use crate::cli::{GlobalArgs, QueueKind, StoreKind};
use crate::queue::{KafkaSettings, QueueConfig};
use crate::store::{EsSettings, StoreConfig};

/// The most days of price history a store keeps (a century).
const MAX_HISTORY_DAYS: u32 = 36_500;

/// `[queue]` with `--queue` and `--kafka-brokers` over it.
pub(super) fn queue_config(
    file: Option<QueueConfig>,
    a: &GlobalArgs,
) -> Result<QueueConfig, ConfigError> {
    let q = match (a.queue, file) {
        (Some(QueueKind::Memory), Some(q @ QueueConfig::Memory { .. })) => q,
        (Some(QueueKind::Memory), _) => QueueConfig::default(),
        (Some(QueueKind::Kafka), Some(q @ QueueConfig::Kafka(_))) => q,
        (Some(QueueKind::Kafka), _) => match &a.kafka_brokers {
            Some(b) => QueueConfig::Kafka(KafkaSettings::new(b.clone())),
            None => {
                return Err(invalid(
                    "queue",
                    "kafka",
                    "Kafka bootstrap servers: add --kafka-brokers HOST:9092 (or ARBDESK_KAFKA_BROKERS, or brokers in [queue])",
                ));
            }
        },
        (None, Some(q)) => q,
        // Brokers alone say which queue.
        (None, None) => match &a.kafka_brokers {
            Some(b) => QueueConfig::Kafka(KafkaSettings::new(b.clone())),
            None => QueueConfig::default(),
        },
    };
    if let (QueueConfig::Memory { .. }, Some(b)) = (&q, &a.kafka_brokers) {
        // The in-process queue would leave the named cluster unused without a word.
        let chosen = if a.queue.is_some() {
            "--queue memory (or ARBDESK_QUEUE)"
        } else {
            "[queue] in the config file (its type is not \"kafka\")"
        };
        return Err(invalid(
            "queue",
            "memory",
            &format!(
                "{chosen} chose the in-process queue, but --kafka-brokers (or \
                 ARBDESK_KAFKA_BROKERS) names Kafka brokers ('{}'): add --queue kafka to use \
                 them, or drop the brokers",
                b.escape_debug()
            ),
        ));
    }
    Ok(match q {
        QueueConfig::Kafka(mut k) => {
            if let Some(b) = &a.kafka_brokers {
                k.brokers = b.clone();
            }
            // Named as the operator gave it: a flag or variable, else the file's key.
            let field = if a.kafka_brokers.is_some() {
                "--kafka-brokers (or ARBDESK_KAFKA_BROKERS)"
            } else {
                "queue.brokers"
            };
            check_brokers(&k.brokers, field)?;
            check_topic_prefix(&k.topic_prefix)?;
            if k.group.trim().is_empty() {
                return Err(invalid("queue.group", "''", "a consumer group name"));
            }
            if !(1..=10_000).contains(&k.partitions) || !(1..=10).contains(&k.replication) {
                return Err(invalid(
                    "queue.partitions/replication",
                    format!("{}/{}", k.partitions, k.replication),
                    "1–10000 partitions and a replication factor of 1–10",
                ));
            }
            QueueConfig::Kafka(k)
        }
        QueueConfig::Memory { capacity: 0 } => {
            return Err(invalid(
                "queue.capacity",
                "0",
                "at least 1 raw update held before ingest waits (the default is 10000)",
            ));
        }
        memory => memory,
    })
}

/// A bootstrap list as librdkafka takes it: `HOST[:PORT]` entries (port 9092 when left
/// out), comma-separated, optionally with a Kafka listener name (`SSL://host:9093`). An
/// `http://` URL or a bad port would only show as a minute of silence and a timeout later.
fn check_brokers(brokers: &str, field: &str) -> Result<(), ConfigError> {
    const EXPECTED: &str = "HOST:PORT[,HOST:PORT…], e.g. kafka-1:9092,kafka-2:9092";
    if brokers.trim().is_empty() {
        return Err(invalid(field, "''", EXPECTED));
    }
    for entry in brokers.split(',').map(str::trim) {
        let shown = || {
            if entry == brokers.trim() {
                format!("'{}'", entry.escape_debug())
            } else {
                format!("'{}' in '{}'", entry.escape_debug(), brokers.escape_debug())
            }
        };
        let lower = entry.to_ascii_lowercase();
        let bare = match lower.split_once("://") {
            Some(("http" | "https", _)) => {
                return Err(invalid(
                    field,
                    shown(),
                    "Kafka broker addresses (HOST:PORT), not HTTP URLs",
                ));
            }
            Some(("plaintext" | "ssl" | "sasl_plaintext" | "sasl_ssl", rest)) => rest,
            Some(_) => {
                return Err(invalid(
                    field,
                    shown(),
                    "HOST:PORT, optionally after a listener's security protocol \
                     (PLAINTEXT://, SSL://, SASL_PLAINTEXT://, SASL_SSL://)",
                ));
            }
            None => lower.as_str(),
        };
        let (host, port) = crate::queue::broker_host_port(bare);
        if let Some(p) = port
            && p.bytes().all(|b| b.is_ascii_digit())
            && !p.is_empty()
            && !p.parse::<u16>().is_ok_and(|p| p > 0)
        {
            return Err(invalid(
                field,
                shown(),
                &format!("a port from 1 to 65535 ({p} is out of range): {EXPECTED}"),
            ));
        }
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
        if host.is_empty() || host.contains(char::is_whitespace) || !port_ok {
            return Err(invalid(field, shown(), EXPECTED));
        }
    }
    Ok(())
}

/// Kafka topic names take ASCII letters, digits, `.`, `_` and `-`, up to 249 characters;
/// the prefix goes before each of arbdesk's (the longest is `raw.keepa_updates.dlq`).
fn check_topic_prefix(prefix: &str) -> Result<(), ConfigError> {
    let longest = crate::queue::Topic::DeadLetter.name().len();
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !prefix.chars().all(legal) || prefix.len() + longest > 249 {
        return Err(invalid(
            "queue.topic_prefix",
            format!("'{}'", prefix.escape_debug()),
            "ASCII letters, digits, '.', '_' and '-', at most 228 characters (e.g. 'staging.')",
        ));
    }
    Ok(())
}

/// `[store]` with `--store` and `--es-url` over it.
pub(super) fn store_config(
    file: Option<StoreConfig>,
    a: &GlobalArgs,
) -> Result<StoreConfig, ConfigError> {
    let s = match (a.store, file) {
        (Some(StoreKind::Sqlite), Some(s @ StoreConfig::Sqlite { .. })) => s,
        (Some(StoreKind::Sqlite), _) => StoreConfig::default(),
        (Some(StoreKind::Elasticsearch), Some(s @ StoreConfig::Elasticsearch(_))) => s,
        (Some(StoreKind::Elasticsearch), _) => match &a.es_url {
            Some(u) => StoreConfig::Elasticsearch(EsSettings::new(u.clone())),
            None => {
                return Err(invalid(
                    "store",
                    "elasticsearch",
                    "an Elasticsearch URL: add --es-url http://HOST:9200 (or ARBDESK_ES_URL, or url in [store])",
                ));
            }
        },
        (None, Some(s)) => s,
        // A cluster's address alone says which store.
        (None, None) => match &a.es_url {
            Some(u) => StoreConfig::Elasticsearch(EsSettings::new(u.clone())),
            None => StoreConfig::default(),
        },
    };
    if let (StoreConfig::Sqlite { .. }, Some(u)) = (&s, &a.es_url) {
        // The SQLite file would take the writes meant for the named cluster.
        let chosen = if a.store.is_some() {
            "--store sqlite (or ARBDESK_STORE)"
        } else {
            "[store] in the config file (its type is not \"elasticsearch\")"
        };
        return Err(invalid(
            "store",
            "sqlite",
            &format!(
                "{chosen} chose the SQLite file, but --es-url (or ARBDESK_ES_URL) names \
                 Elasticsearch nodes ('{}'): add --store elasticsearch to use them, or drop \
                 the URL",
                u.escape_debug()
            ),
        ));
    }
    Ok(match s {
        StoreConfig::Elasticsearch(mut e) => {
            if let Some(u) = &a.es_url {
                e.url = u.clone();
            }
            e.validate()
                .map_err(|why| invalid("store", "elasticsearch", &why))?;
            StoreConfig::Elasticsearch(e)
        }
        StoreConfig::Sqlite { path: Some(p), .. }
            if p.as_os_str().is_empty() || p.file_name().is_none() =>
        {
            return Err(invalid(
                "store.path",
                format!("'{}'", p.display()),
                "a file name (e.g. \"arbdesk.sqlite\", inside the data dir) or a path to a file; \
                 remove the line for the default",
            ));
        }
        StoreConfig::Sqlite {
            history_days: Some(d),
            ..
        } if !(1..=MAX_HISTORY_DAYS).contains(&d) => {
            return Err(invalid(
                "store.history_days",
                d,
                "1 to 36500 days of price history",
            ));
        }
        StoreConfig::Sqlite { path, history_days } => StoreConfig::Sqlite {
            path: path.map(super::super::home_path),
            history_days,
        },
    })
}
