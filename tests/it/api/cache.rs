//! The response cache: fast answers from memory, never a stale one after a store write.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use arbdesk::api::ApiSettings;
use arbdesk::domain::Market;
use arbdesk::store::Store;
use axum::body::Body;
use axum::http::Request;

use super::fixture::{Double, KETTLE, api_over, asin, get, opportunity, seeded_store, send};

#[tokio::test]
async fn a_generation_bump_invalidates_every_cached_body() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(&dir).await;
    let counted = Arc::new(Double::new(store.clone(), Duration::ZERO));
    let api = api_over(counted.clone(), ApiSettings::default());
    let uri = "/opportunities?min_margin=10";

    let first = get(&api.app, uri).await;
    assert_eq!(first.json()["total"], 2);
    let etag = first.header("etag").unwrap().to_string();
    // The same query, spelt differently, is the same cache entry.
    let again = get(
        &api.app,
        "/opportunities?min_margin=10.0&order=desc&limit=50",
    )
    .await;
    assert_eq!(again.body, first.body);
    assert_eq!(
        counted.opportunity_queries.load(Ordering::SeqCst),
        1,
        "served from the cache"
    );

    // The pipeline writes a new route; until it bumps the generation the cache may answer.
    store
        .replace_opportunities(vec![(
            asin(KETTLE),
            vec![
                opportunity(KETTLE, Market::IT, Market::DE, 33.36, 412),
                opportunity(KETTLE, Market::UK, Market::DE, 12.5, 180),
                opportunity(KETTLE, Market::ES, Market::DE, 20.0, 300),
            ],
        )])
        .await
        .unwrap();
    api.generation.send_modify(|g| *g += 1);

    let fresh = get(&api.app, uri).await;
    assert_eq!(fresh.json()["total"], 3, "no stale body after the bump");
    assert_ne!(fresh.header("etag").unwrap(), etag);
    assert_eq!(counted.opportunity_queries.load(Ordering::SeqCst), 2);

    // Revalidation: the current ETag gets a 304 with no body, an old one the full body.
    let cond = |tag: &str| {
        Request::get(uri)
            .header("if-none-match", tag)
            .body(Body::empty())
            .unwrap()
    };
    let current = fresh.header("etag").unwrap().to_string();
    let r = send(&api.app, cond(&current)).await;
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    let r = send(&api.app, cond(&etag)).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["total"].as_u64()),
        (200, Some(3))
    );

    let stats = api.state.cache_stats();
    assert!(stats.hits >= 3 && stats.misses == 2, "{stats:?}");
}

#[tokio::test]
async fn product_bodies_follow_the_generation_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(&dir).await;
    let api = api_over(store.clone(), ApiSettings::default());
    let before = get(&api.app, "/products?market=ES").await.json();
    assert_eq!(before["total"], 0);
    let mut kettle = store.product(asin(KETTLE)).await.unwrap().unwrap();
    let mut snap = kettle.markets.remove(&Market::IT).unwrap();
    snap.market = Market::ES;
    let l = arbdesk::domain::Listing {
        asin: asin(KETTLE),
        market: Market::ES,
        product_type: 0,
        title: Some("Hervidor".into()),
        brand: None,
        image_url: None,
        eans: vec![],
        package_quantity: None,
        root_category: None,
        is_adult: false,
        is_hazmat: false,
        snapshot: snap,
        history: vec![],
    };
    store
        .upsert_listings(vec![l], super::fixture::at(), None)
        .await
        .unwrap();
    assert_eq!(
        get(&api.app, "/products?market=ES").await.json()["total"],
        0,
        "cached until the bump"
    );
    api.generation.send_replace(2);
    assert_eq!(
        get(&api.app, "/products?market=ES").await.json()["total"],
        1
    );
}

#[tokio::test]
async fn identical_concurrent_misses_query_the_store_once() {
    let dir = tempfile::tempdir().unwrap();
    let slow = Arc::new(Double::new(
        seeded_store(&dir).await,
        Duration::from_millis(150),
    ));
    let api = api_over(slow.clone(), ApiSettings::default());
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let app = api.app.clone();
        tasks.push(tokio::spawn(async move {
            get(&app, "/opportunities?min_margin=10").await.json()["total"].as_u64()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Some(2));
    }
    assert_eq!(slow.opportunity_queries.load(Ordering::SeqCst), 1);
}
