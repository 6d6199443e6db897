//! End to end over a real socket: `serve` on an ephemeral loopback port, a real HTTP client,
//! graceful shutdown.

use arbdesk::api::{ApiSettings, serve};
use tokio::net::TcpListener;

use super::fixture::{api_over, seeded_store};

#[tokio::test]
async fn serves_over_tcp_and_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let api = api_over(seeded_store(&dir).await, ApiSettings::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(api.state, listener, async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let health = client.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let h: serde_json::Value = serde_json::from_slice(&health.bytes().await.unwrap()).unwrap();
    assert_eq!(h["components"]["store"]["kind"], "sqlite");

    // reqwest asks for gzip and decodes it transparently.
    let r = client
        .get(format!("{base}/opportunities?min_margin=10&buy=IT"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(page["total"], 1);
    assert_eq!(
        page["items"][0]["sell_url"],
        "https://www.amazon.de/dp/B0DEMO0001"
    );

    let bad = client
        .get(format!("{base}/opportunities?limit=5000"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );

    stop.send(()).unwrap();
    let done = tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("the server stops after the shutdown signal");
    done.unwrap().unwrap();
}
