//! End to end over a real socket: `serve` on an ephemeral loopback port, a real HTTP client,
//! graceful shutdown.

use arbdesk::api::{ApiSettings, BearerToken, serve};
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

/// Someone guessing the token from one address is stopped after ten wrong tokens in a
/// minute: every request of theirs that carries a token, the right one included, is 429
/// with `Retry-After` for a minute. Open paths stay open to requests without a token; a
/// token sent to one is checked and counted.
/// A server over the seeded store that requires the token `s3cret-token`, on an ephemeral
/// loopback port: its base URL and its task.
async fn guarded(dir: &tempfile::TempDir) -> (String, tokio::task::JoinHandle<()>) {
    let settings = ApiSettings {
        bearer_token: Some(BearerToken::new("s3cret-token").unwrap()),
        ..ApiSettings::default()
    };
    let api = api_over(seeded_store(dir).await, settings);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = serve(api.state, listener, std::future::pending()).await;
    });
    (base, server)
}

#[tokio::test]
async fn ten_wrong_tokens_from_one_address_lock_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let (base, server) = guarded(&dir).await;
    let client = reqwest::Client::new();
    let get = |path: &str, token: &str| {
        client
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
    };

    assert_eq!(get("/stats", "s3cret-token").await.unwrap().status(), 200);
    for i in 0..10 {
        let r = get("/stats", &format!("guess-{i}")).await.unwrap();
        assert_eq!(r.status(), 401, "guess {i}");
    }
    let r = get("/stats", "s3cret-token").await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((59..=60).contains(&retry), "Retry-After: {retry}");
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let p: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(p["type"], "/docs#problem-too-many-attempts");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("10 wrong bearer tokens"),
        "{p}"
    );
    let health = client.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    // `/health` says more with the right token, so a token sent there is checked and
    // counted as anywhere: locked out, even the right one is 429 there too.
    assert_eq!(get("/health", "s3cret-token").await.unwrap().status(), 429);
    server.abort();

    // A fresh server: wrong tokens sent to `/health` alone lock the address out.
    let dir = tempfile::tempdir().unwrap();
    let (base, server) = guarded(&dir).await;
    let health = |token: &str| {
        client
            .get(format!("{base}/health"))
            .bearer_auth(token)
            .send()
    };
    let ok = health("s3cret-token").await.unwrap();
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&ok.bytes().await.unwrap()).unwrap();
    assert!(body["components"].is_object(), "{body}");
    for i in 0..10 {
        let r = health(&format!("guess-{i}")).await.unwrap();
        assert_eq!(r.status(), 401, "guess {i} at /health");
    }
    assert_eq!(health("s3cret-token").await.unwrap().status(), 429);
    let plain = client.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(plain.status(), 200, "without a token it stays open");
    server.abort();
}
