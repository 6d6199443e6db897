//! The client's own edges: URLs with paths, credentials in URLs.

use super::{Es, url_paths};
use crate::store::EsSettings;

/// A password given in the URL is never shown: not in the health, not in messages.
#[tokio::test]
async fn a_password_in_the_url_is_not_shown() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut s = EsSettings::new(format!(
        "http://esuser:S3CRETPASS@{closed},http://other:PASS2@{closed}/"
    ));
    s.timeout_secs = 2;
    let es = Es::connect(&s).unwrap();
    let health = es.health().await;
    assert!(health.detail.contains("esuser:***@"), "{}", health.detail);
    for shown in [
        &health.detail,
        &es.url,
        &format!("{:?}", es.nodes.iter().map(|n| &n.url).collect::<Vec<_>>()),
    ] {
        assert!(
            !shown.contains("S3CRETPASS") && !shown.contains("PASS2"),
            "{shown}"
        );
    }
}

#[test]
fn node_urls_with_a_path_are_named() {
    assert_eq!(url_paths("http://es:9200"), None);
    assert_eq!(url_paths("http://a:9200/, http://b:9200"), None);
    assert_eq!(
        url_paths("http://a:9200/es, http://b:9200/es/"),
        Some("/es, /es".to_string())
    );
}
