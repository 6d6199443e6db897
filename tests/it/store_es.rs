//! The Elasticsearch store: the conformance story on the Elasticsearch-compatible test
//! server named by `ARBDESK_TEST_ES_URL`, plus what only a remote cluster can show — a
//! cluster that is down at start-up and comes back, per-item bulk failures, redelivered
//! batches, and deep pages past the `from + size` window. Without the variable these
//! tests say they are skipped and pass.

#![cfg(feature = "elasticsearch")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use arbdesk::component::HealthStatus;
use arbdesk::store::elasticsearch::EsStore;
use arbdesk::store::{EsSettings, Store, StoreError};

/// The test server's URL, or `None` (and a note) when it is not configured.
pub fn es_url() -> Option<String> {
    let url = std::env::var("ARBDESK_TEST_ES_URL").ok();
    if url.is_none() {
        eprintln!(
            "skipped: set ARBDESK_TEST_ES_URL=http://HOST:PORT to run the Elasticsearch tests"
        );
    }
    url
}

/// Settings with an index prefix no other test (or earlier run) uses.
pub fn fresh_settings(url: &str) -> EsSettings {
    static N: AtomicU32 = AtomicU32::new(0);
    let mut s = EsSettings::new(url);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    s.index_prefix = format!(
        "t{}-{nanos}-{}-",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    s
}

#[tokio::test]
async fn the_story_holds_for_elasticsearch() {
    let Some(url) = es_url() else { return };
    let store = EsStore::connect(&fresh_settings(&url)).unwrap();
    super::store_story::story(Arc::new(store)).await;
}

#[tokio::test]
async fn a_cluster_that_is_not_there_is_down_and_requests_say_so() {
    // Nothing listens on port 1: the store opens, reports down, and every call fails with
    // an error that names the URL and what to check.
    let mut s = EsSettings::new("http://127.0.0.1:1");
    s.timeout_secs = 2;
    let store = EsStore::connect(&s).unwrap();
    let h = store.health().await;
    assert_eq!(h.status, HealthStatus::Down, "{h:?}");
    assert!(h.detail.contains("127.0.0.1:1"), "{h:?}");
    let err = store.stats().await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable(m) if m.contains("127.0.0.1:1") && m.contains("running")),
        "{err:?}"
    );
}

/// An `https://` URL at a node that speaks plain HTTP: the error says the TLS handshake
/// failed and that such a node takes an `http://` URL, not that nothing answered.
#[tokio::test]
async fn an_https_url_at_a_plain_http_node_says_so() {
    // As a plain HTTP server answers a TLS greeting: a 400, then closed.
    let port = super::util::answer_every(
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    );
    let mut s = EsSettings::new(format!("https://127.0.0.1:{port}"));
    s.timeout_secs = 2;
    let store = EsStore::connect(&s).unwrap();
    let err = store.stats().await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable(m)
            if m.contains("did not complete the TLS handshake") && m.contains("http:// url")),
        "{err:?}"
    );
}

#[test]
fn bad_settings_are_refused_before_connecting() {
    let mut s = EsSettings::new("localhost:9200");
    let err = EsStore::connect(&s).unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("http(s)://")),
        "{err:?}"
    );
    s.url = "http://localhost:9200".into();
    s.ca_cert = Some("/nonexistent/ca.pem".into());
    let err = EsStore::connect(&s).unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("/nonexistent/ca.pem")),
        "{err:?}"
    );
}

/// With several nodes given, one that does not answer is passed over: after one failed
/// request, which names the node and says so, requests go to the node that answers, and
/// the health names the node passed over.
#[tokio::test]
async fn a_node_that_does_not_answer_is_passed_over() {
    let Some(url) = es_url() else { return };
    let dead = "http://127.0.0.1:9";
    let store = EsStore::connect(&fresh_settings(&format!("{dead},{url}"))).unwrap();
    let asin: arbdesk::domain::Asin = "B0NODE0001".parse().unwrap();
    let mut failures = Vec::new();
    for _ in 0..6 {
        if let Err(e) = store
            .watch_add(vec![asin], arbdesk::store::WatchSource::User)
            .await
        {
            failures.push(e.to_string());
        }
    }
    assert!(failures.len() <= 1, "{failures:?}");
    for e in &failures {
        assert!(
            e.contains("at http://127.0.0.1:9 did not answer")
                && e.contains("requests go to the other nodes for 30 s"),
            "{e}"
        );
    }
    assert_eq!(store.watchlist().await.unwrap().len(), 1);
    let h = store.health().await;
    assert_eq!(h.status, HealthStatus::Ok, "{}", h.detail);
    if !failures.is_empty() {
        assert!(
            h.detail.contains("passed over: http://127.0.0.1:9"),
            "{}",
            h.detail
        );
    }
}
