//! Shared helpers: fixtures, a scripted transport, raw HTTP servers.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arbdesk::keepa::client::ClientConfig;
use arbdesk::keepa::transport::{HttpResponse, Transport, TransportError, TransportFuture};
use arbdesk::keepa::{ApiKey, KeepaClient, RetryPolicy};
use bytes::Bytes;
use tokio::time::Instant;

/// The key used in tests; it must never appear in any output.
pub const SECRET_KEY: &str = "s3cr3t-k3y-0123456789abcdef0123456789abcdef0123456789abcdef01";

pub fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keepa")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

/// A token envelope as JSON text, with optional extra payload fields.
pub fn envelope(left: i64, refill_in: i64, rate: i64, extra: &str) -> String {
    let sep = if extra.is_empty() { "" } else { "," };
    format!(
        r#"{{"timestamp":1795586403000,"tokensLeft":{left},"refillIn":{refill_in},"refillRate":{rate},"tokenFlowReduction":0.0,"tokensConsumed":1,"processingTimeInMs":5{sep}{extra}}}"#
    )
}

pub fn product_payload(asin: &str) -> String {
    format!(
        r#""products":[{{"asin":"{asin}","domainId":3,"title":"T","lastUpdate":8362000,"csv":[[8300000,1999]]}}]"#
    )
}

/// One scripted answer.
pub enum Step {
    Http(u16, String),
    Fail(TransportError),
}

/// A transport that plays back a script and records when each request was made.
#[derive(Clone, Default)]
pub struct Scripted {
    steps: Arc<Mutex<VecDeque<Step>>>,
    pub calls: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl Scripted {
    pub fn new(steps: Vec<Step>) -> Self {
        Scripted {
            steps: Arc::new(Mutex::new(steps.into())),
            calls: Arc::default(),
        }
    }

    /// Paths called, in order (without the query).
    pub fn paths(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }

    pub fn times(&self) -> Vec<Instant> {
        self.calls.lock().unwrap().iter().map(|(_, t)| *t).collect()
    }
}

impl Transport for Scripted {
    fn get<'a>(&'a self, url: &'a url::Url) -> TransportFuture<'a> {
        Box::pin(async move {
            self.calls
                .lock()
                .unwrap()
                .push((url.path().to_string(), Instant::now()));
            match self.steps.lock().unwrap().pop_front() {
                Some(Step::Http(status, body)) => Ok(HttpResponse {
                    status,
                    body: Bytes::from(body),
                }),
                Some(Step::Fail(e)) => Err(e),
                None => panic!("script exhausted at {}", url.path()),
            }
        })
    }
}

pub fn config(base: &str) -> ClientConfig {
    ClientConfig::new(url::Url::parse(base).unwrap(), ApiKey::new(SECRET_KEY))
}

pub fn scripted_client(steps: Vec<Step>) -> (KeepaClient, Scripted) {
    let t = Scripted::new(steps);
    let client = KeepaClient::with_transport(config("https://api.keepa.com"), Arc::new(t.clone()));
    (client, t)
}

/// A fast retry policy for tests on the real clock.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        base: std::time::Duration::from_millis(5),
        cap: std::time::Duration::from_millis(20),
        ..RetryPolicy::default()
    }
}

/// A raw HTTP/1.1 server on loopback that answers each connection with the next of
/// `responses` (raw bytes, written as is, then the connection closes).
pub async fn raw_server(responses: Vec<Vec<u8>>) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for resp in responses {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 8192];
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let _ = sock.write_all(&resp).await;
            let _ = sock.shutdown().await;
        }
    });
    addr
}

/// A loopback server (on a thread of its own, for tests with no runtime) that answers
/// every connection, after one read of whatever the client sent, with `answer` and closes
/// it: a server that answers, but not as the client hopes. Its port.
pub fn answer_every(answer: &'static [u8]) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(answer);
        }
    });
    port
}

pub fn http_response(status: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nconnection: close\r\n").into_bytes();
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// rdkafka's in-process mock cluster with arbdesk's topics (named `PREFIX.topic`) created.
#[cfg(feature = "kafka")]
pub fn mock_cluster(
    brokers: i32,
    prefix: &str,
) -> rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    use arbdesk::queue::Topic;
    let cluster = rdkafka::mocking::MockCluster::new(brokers).unwrap();
    for (t, partitions) in [
        (Topic::RawUpdates, 3),
        (Topic::Enriched, 3),
        (Topic::Alerts, 1),
        (Topic::DeadLetter, 1),
    ] {
        cluster
            .create_topic(&format!("{prefix}.{}", t.name()), partitions, 1)
            .unwrap();
    }
    cluster
}

/// A Keepa simulator with `config` serving on an ephemeral loopback port.
pub async fn spawn_sim(
    config: arbdesk::keepa::sim::SimConfig,
) -> (arbdesk::keepa::sim::Simulator, std::net::SocketAddr) {
    let sim = arbdesk::keepa::sim::Simulator::new(config);
    let addr = sim
        .clone()
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (sim, addr)
}
