//! Asking wrongly: every bad parameter is a 400 problem naming it and what is accepted;
//! unknown things are 404; a dead store is 503 without its internals.

use axum::body::Body;
use axum::http::Request;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::fixture::{Double, KETTLE, api_over, down_store, get, keys, seeded_api, send, set};
use arbdesk::api::ApiSettings;
use arbdesk::store::sqlite::SqliteStore;

#[tokio::test]
async fn every_bad_parameter_is_a_400_naming_it() {
    let (_dir, _store, api) = seeded_api().await;
    let long_q = "x".repeat(201);
    let cases: Vec<(String, &str, &str)> = vec![
        (
            "/opportunities?sort=profit".into(),
            "sort",
            "sort 'profit' is not one of gross_margin_pct, net_margin_pct, net_profit, roi_pct, updated_at, expected_monthly_profit",
        ),
        (
            "/opportunities?limit=5000".into(),
            "limit",
            "limit 5000 is above the maximum 1000",
        ),
        (
            "/opportunities?limit=0".into(),
            "limit",
            "limit 0 is below the minimum 1",
        ),
        (
            "/opportunities?limit=ten".into(),
            "limit",
            "limit 'ten' is not a whole number",
        ),
        (
            "/opportunities?offset=-1".into(),
            "offset",
            "offset -1 is below the minimum 0",
        ),
        (
            "/opportunities?buy=XX".into(),
            "buy",
            "buy 'XX': expected one of UK, DE, FR, IT, ES",
        ),
        (
            "/opportunities?sell=DE,NL".into(),
            "sell",
            "sell 'NL': expected one of UK, DE, FR, IT, ES",
        ),
        (
            "/opportunities?order=up".into(),
            "order",
            "order 'up' is not one of asc, desc",
        ),
        (
            "/opportunities?min_margin=ten".into(),
            "min_margin",
            "min_margin 'ten' is not a number",
        ),
        (
            "/opportunities?min_net_margin=NaN".into(),
            "min_net_margin",
            "min_net_margin 'NaN' is not a number",
        ),
        (
            "/opportunities?min_roi=inf".into(),
            "min_roi",
            "min_roi 'inf' is not a number",
        ),
        (
            "/opportunities?min_profit=3.555".into(),
            "min_profit",
            "min_profit '3.555' has more than 2 decimals",
        ),
        (
            "/opportunities?min_profit=-1e3".into(),
            "min_profit",
            "min_profit '-1e3' has an exponent: write the amount in digits",
        ),
        (
            "/opportunities?min_profit=3,5".into(),
            "min_profit",
            "min_profit '3,5' is not an amount of euros",
        ),
        (
            "/opportunities?ranked=maybe".into(),
            "ranked",
            "ranked 'maybe' is not a yes/no value: use true or false",
        ),
        (
            "/opportunities?breakdown=2".into(),
            "breakdown",
            "breakdown '2' is not a yes/no value: use true or false",
        ),
        (
            "/opportunities?limit=10&limit=20".into(),
            "limit",
            "limit is given more than once",
        ),
        (
            format!("/opportunities?q={long_q}"),
            "q",
            "q is 201 characters long; the maximum is 200",
        ),
        (
            "/opportunities?q=%1B%5B31m".into(),
            "q",
            "q contains control characters",
        ),
        ("/products?q=caf%E9".into(), "q", "q is not UTF-8 text"),
        (
            "/opportunities?q=rio%3E5".into(),
            "q",
            "q: 'rio>5': unknown field 'rio'",
        ),
        (
            "/opportunities?q=gross%3E19%25".into(),
            "q",
            "q: 'gross>19%': gross is gross margin in €; for % write margin",
        ),
        (
            "/opportunities?min_roi=%FF".into(),
            "min_roi",
            "min_roi is not UTF-8 text",
        ),
        (
            "/products?market=XX".into(),
            "market",
            "market 'XX': expected one of UK, DE, FR, IT, ES",
        ),
        (
            "/products?market=DE,,FR".into(),
            "market",
            "market 'DE,,FR': an empty market between commas",
        ),
        (
            "/products?limit=1001".into(),
            "limit",
            "limit 1001 is above the maximum 1000",
        ),
        (
            "/products?offset=99999999999999999999999".into(),
            "offset",
            "is above the maximum",
        ),
        (
            format!("/products/{KETTLE}?history=yes please"),
            "history",
            "history 'yes please' is not a yes/no value: use true or false",
        ),
    ];
    let p = get(&api.app, "/opportunities?limit=10&limit=20")
        .await
        .problem(400);
    assert_eq!(p["value"], "10, 20", "{p}");
    assert_eq!(p["accepted"][0], "one value: limit=10 or limit=20", "{p}");
    for (uri, parameter, detail) in cases {
        let r = get(&api.app, &uri.replace(' ', "%20")).await;
        let p = r.problem(400);
        assert_eq!(p["parameter"], parameter, "{uri}: {p}");
        let d = p["detail"].as_str().unwrap();
        assert!(d.contains(detail), "{uri}: {d:?} lacks {detail:?}");
        assert!(!p["accepted"].as_array().unwrap().is_empty(), "{uri}: {p}");
        assert_eq!(p["type"], "/docs#problem-invalid-parameter");
    }
}

#[tokio::test]
async fn unknown_parameters_are_refused_not_ignored() {
    let (_dir, _store, api) = seeded_api().await;
    let p = get(&api.app, "/opportunities?min_marign=10&foo=1")
        .await
        .problem(400);
    assert_eq!(p["type"], "/docs#problem-unknown-parameter");
    assert_eq!(p["parameter"], "min_marign");
    let d = p["detail"].as_str().unwrap();
    assert!(d.contains("'min_marign', 'foo'"), "{d}");
    assert!(d.contains("did you mean 'min_margin'?"), "{d}");
    assert!(
        p["accepted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "min_net_margin")
    );
    let p = get(&api.app, "/products?page=2").await.problem(400);
    assert_eq!(p["parameter"], "page");
    let p = get(&api.app, "/stats?verbose=1").await.problem(400);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("takes no query parameters")
    );
    let p = get(&api.app, &format!("/products/{KETTLE}?histroy=true"))
        .await
        .problem(400);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("did you mean 'history'?")
    );
}

#[tokio::test]
async fn asins_malformed_are_400_and_unknown_are_404() {
    let (_dir, store, api) = seeded_api().await;
    let p = get(&api.app, "/products/B0-BAD").await.problem(400);
    assert_eq!(p["parameter"], "asin");
    assert_eq!(p["value"], "B0-BAD");
    assert_eq!(
        p["detail"],
        "invalid ASIN 'B0-BAD': expected 10 letters or digits, such as B0DEMO1234"
    );
    // A space around an ASIN is part of the path, not trimmed away.
    let p = get(&api.app, "/products/B0NOTKNOWN%20").await.problem(400);
    assert_eq!(p["value"], "B0NOTKNOWN ");
    assert!(p["detail"].as_str().unwrap().contains("no spaces"), "{p}");
    let p = get(&api.app, "/products/B0NOTKNOWN").await.problem(404);
    assert!(p["detail"].as_str().unwrap().contains("'B0NOTKNOWN'"));
    // Fetched but listed nowhere (Keepa's productType 4, an invalid ASIN): `/products`
    // leaves it out, and so does its own path, saying why.
    let mut gone = super::fixture::listing(
        "B0TYPE4001",
        arbdesk::domain::Market::DE,
        "Gone",
        "None",
        999,
    );
    gone.product_type = 4;
    use arbdesk::store::Store as _;
    store
        .upsert_listings(vec![gone], chrono::Utc::now(), None)
        .await
        .unwrap();
    let p = get(&api.app, "/products/B0TYPE4001").await.problem(404);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("none of the covered markets"),
        "{p}"
    );
    assert_eq!(
        keys(&p),
        set(&["type", "title", "status", "detail"]),
        "no parameter fields on a 404"
    );
    // Listed in one market and not in another: the product says which market Keepa has
    // no listing in, so that one in neither list reads as not fetched yet.
    let listed = super::fixture::listing(
        "B0TYPE4001",
        arbdesk::domain::Market::UK,
        "Back",
        "Acme",
        999,
    );
    store
        .upsert_listings(vec![listed], chrono::Utc::now(), None)
        .await
        .unwrap();
    let body = get(&api.app, "/products/B0TYPE4001").await.json();
    assert_eq!(body["not_listed"], serde_json::json!(["DE"]), "{body}");
    assert!(body["markets"]["UK"].is_object(), "{body}");
}

#[tokio::test]
async fn unknown_paths_and_methods_are_problems_too() {
    let (_dir, _store, api) = seeded_api().await;
    let p = get(&api.app, "/opportunites").await.problem(404);
    assert!(
        p["detail"].as_str().unwrap().contains("/opportunities"),
        "lists the endpoints"
    );
    for path in ["/opportunities/", "/products/B0D1XD1ZV3/"] {
        let p = get(&api.app, path).await.problem(404);
        let detail = p["detail"].as_str().unwrap();
        assert!(
            detail.contains(&format!("did you mean '{}'", path.trim_end_matches('/')))
                && detail.contains("without the trailing slash"),
            "{path}: {detail}"
        );
    }
    // Not a route with its slash taken off: no such hint.
    let p = get(&api.app, "/products/B0D1XD1ZV3/history/")
        .await
        .problem(404);
    assert!(!p["detail"].as_str().unwrap().contains("trailing slash"));
    let r = send(
        &api.app,
        Request::post("/opportunities").body(Body::empty()).unwrap(),
    )
    .await;
    let p = r.problem(405);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("method POST is not allowed")
    );
    assert!(r.header("allow").unwrap().contains("GET"));
    // A browser's preflight to a server with no CORS origins: says where they are set.
    let r = send(
        &api.app,
        Request::options("/opportunities")
            .header("origin", "https://dash.example.com")
            .header("access-control-request-method", "GET")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let detail = r.problem(405)["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("api.cors_origins"), "{detail}");
    let r = send(
        &api.app,
        Request::get("/opportunities")
            .header("content-length", "10000000")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let p = r.problem(413);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("above the limit of 65536 bytes")
    );
}

#[tokio::test]
async fn a_dead_store_is_503_without_internals() {
    let dir = tempfile::tempdir().unwrap();
    let api = api_over(down_store(&dir), ApiSettings::default());
    let h = get(&api.app, "/health").await;
    assert_eq!(h.status, 503);
    assert_eq!(h.header("content-type"), Some("application/json"));
    let body = h.json();
    assert_eq!(body["status"], "down");
    assert_eq!(body["components"]["store"]["status"], "down");
    for uri in [
        "/opportunities?min_margin=10",
        "/products",
        &format!("/products/{KETTLE}"),
        "/stats",
    ] {
        let r = get(&api.app, uri).await;
        let p = r.problem(503);
        assert_eq!(p["type"], "/docs#problem-store-unavailable", "{uri}");
        assert_eq!(r.header("retry-after"), Some("5"));
        assert!(
            !r.text().contains("disk on fire"),
            "internal error leaked: {}",
            r.text()
        );
        assert!(!r.text().contains("/secret/path"), "internal path leaked");
    }
    // Bad input is still a 400, not a store error.
    get(&api.app, "/opportunities?limit=0").await.problem(400);
    // The scrape survives a dead store.
    let m = get(&api.app, "/metrics").await;
    assert_eq!(m.status, 200);
    assert!(m.text().contains("arbdesk_store_up 0\n"));
}

/// A store whose health probe fails while its totals still read (a damaged file whose
/// other pages are intact) is down for `/stats` and `/metrics` too, as `/health` says.
#[tokio::test]
async fn stats_and_metrics_agree_with_health_about_a_damaged_store() {
    let dir = tempfile::tempdir().unwrap();
    let inner = Arc::new(SqliteStore::open(&dir.path().join("damaged.sqlite")).unwrap());
    let store = Arc::new(Double::new(inner, Duration::ZERO));
    let api = api_over(store.clone(), ApiSettings::default());
    get(&api.app, "/stats").await.json();
    assert!(
        get(&api.app, "/metrics")
            .await
            .text()
            .contains("arbdesk_store_up 1\n")
    );
    store.probe_fails.store(true, Ordering::SeqCst);
    get(&api.app, "/health").await.json();
    let r = get(&api.app, "/stats").await;
    assert_eq!(r.problem(503)["type"], "/docs#problem-store-unavailable");
    assert!(!r.text().contains("malformed"), "{}", r.text());
    let m = get(&api.app, "/metrics").await;
    assert_eq!(m.status, 200);
    assert!(m.text().contains("arbdesk_store_up 0\n"), "{}", m.text());
}

/// A store slow to answer its health probe (busy with a large write) is `degraded`, not
/// down: a 503 would take the instance out of a load balancer for nothing. A second slow
/// probe in a row is a store that hangs: down, 503 — to `/health`; the data endpoints
/// still serve what the store answers.
#[tokio::test(start_paused = true)]
async fn a_slow_health_probe_is_degraded_and_two_in_a_row_are_down() {
    let dir = tempfile::tempdir().unwrap();
    let inner = Arc::new(SqliteStore::open(&dir.path().join("slow.sqlite")).unwrap());
    let store = Arc::new(Double::new(inner, Duration::from_secs(3)));
    let api = api_over(store, ApiSettings::default());
    let first = get(&api.app, "/health").await;
    assert_eq!(first.status, 200, "{}", first.text());
    let h = first.json();
    assert_eq!(h["components"]["store"]["status"], "degraded", "{h}");
    assert!(
        h["components"]["store"]["detail"]
            .as_str()
            .unwrap()
            .contains("within 2 s"),
        "{h}"
    );
    let second = get(&api.app, "/health").await;
    assert_eq!(second.status, 503, "{}", second.text());
    assert_eq!(second.json()["components"]["store"]["status"], "down");
    // The data endpoints still ask a store that is only slow, and serve what it answers.
    let stats = get(&api.app, "/stats").await;
    assert_eq!(stats.status, 200, "{}", stats.text());
    let page = get(&api.app, "/opportunities").await;
    assert_eq!(page.status, 200, "{}", page.text());
}

/// Health checks at the same moment share one store probe: a flood of them does not queue
/// probes on the store's connections past their deadline and report a store that serves
/// every query as down.
#[tokio::test(start_paused = true)]
async fn health_checks_at_once_share_one_probe() {
    let dir = tempfile::tempdir().unwrap();
    let inner = Arc::new(SqliteStore::open(&dir.path().join("busy.sqlite")).unwrap());
    let store = Arc::new(Double::new(inner, Duration::from_millis(500)));
    let api = api_over(store.clone(), ApiSettings::default());
    let mut asked = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let app = api.app.clone();
        asked.spawn(async move { get(&app, "/health").await });
    }
    let answers = asked.join_all().await;
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(a.json()["components"]["store"]["status"], "ok");
    }
    assert_eq!(store.probes.load(Ordering::SeqCst), 1);
    // A check that comes after that probe ended gets a fresh one.
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(get(&api.app, "/health").await.status, 200);
    assert_eq!(store.probes.load(Ordering::SeqCst), 2);
}

/// A client that cannot take JSON is told so (406), not sent it; browsers and `*/*` are
/// served, and `/metrics` answers Prometheus in text.
#[tokio::test]
async fn an_accept_header_that_refuses_json_is_a_406() {
    let (_dir, _store, api) = seeded_api().await;
    let with = |uri: &str, accept: &str| {
        Request::get(uri)
            .header("accept", accept)
            .body(Body::empty())
            .unwrap()
    };
    let p = send(&api.app, with("/opportunities", "text/csv"))
        .await
        .problem(406);
    assert_eq!(p["title"], "Not acceptable");
    assert_eq!(p["type"], "/docs#problem-not-acceptable");
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("application/json") && detail.contains("text/csv"),
        "{detail}"
    );
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    assert_eq!(
        send(&api.app, with("/opportunities", browser)).await.status,
        200
    );
    let prometheus = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    assert_eq!(
        send(&api.app, with("/metrics", prometheus)).await.status,
        200
    );
    assert_eq!(send(&api.app, with("/docs", "text/html")).await.status, 200);
    send(&api.app, with("/docs", "application/json"))
        .await
        .problem(406);
}
