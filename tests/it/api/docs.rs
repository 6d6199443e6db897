//! The contract and its documentation: `/openapi.json` generated from the code, `/docs`
//! usable with no network.

use super::fixture::{VERSION, get, seeded_api, send};
use axum::body::Body;
use axum::http::Request;

#[tokio::test]
async fn openapi_lists_every_endpoint_and_its_parameters() {
    let (_dir, _store, api) = seeded_api().await;
    let r = get(&api.app, "/openapi.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = r.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["version"], VERSION);
    // Every field of a row is described where documentation viewers look: at the field,
    // optional ones (`oneOf` a schema or null) too.
    let item = &doc["components"]["schemas"]["OpportunityItem"]["properties"];
    for (name, field) in item.as_object().unwrap() {
        assert!(
            field["description"].as_str().is_some_and(|d| !d.is_empty()),
            "OpportunityItem.{name} has no description: {field}"
        );
    }
    assert!(
        item["max_buy_price"]["description"]
            .as_str()
            .unwrap()
            .contains("buy market's currency"),
        "{}",
        item["max_buy_price"]
    );
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for p in [
        "/health",
        "/products",
        "/products/{asin}",
        "/opportunities",
        "/stats",
        "/watchlist",
        "/metrics",
        "/openapi.json",
        "/docs",
    ] {
        assert!(paths.iter().any(|k| *k == p), "{p} missing from {paths:?}");
    }
    // Client generators name methods after operation ids: each must be unique.
    let mut ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|ops| ops.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate operationId among {ids:?}");
    assert!(n >= 9, "{ids:?}");
    // A wrong token is a 401 and, repeated, a 429 on every path: open ones check a token
    // sent to them too.
    for path in ["/health", "/docs", "/opportunities"] {
        let responses = &doc["paths"][path]["get"]["responses"];
        for code in ["401", "429"] {
            assert!(
                responses[code].is_object(),
                "{path} lacks {code}: {responses}"
            );
        }
    }
    let params: Vec<&str> = doc["paths"]["/opportunities"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "min_margin",
        "min_net_margin",
        "min_profit",
        "min_roi",
        "buy",
        "sell",
        "q",
        "ranked",
        "sort",
        "order",
        "limit",
        "offset",
        "breakdown",
    ] {
        assert!(params.contains(&name), "{name} not documented: {params:?}");
        // Every documented parameter is accepted (no 400 "unknown parameter").
        let r = get(&api.app, &format!("/opportunities?{name}=")).await;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in [
        "OpportunityItem",
        "OpportunityPage",
        "Money",
        "Market",
        "Problem",
        "Health",
        "Stats",
        "ProductDetail",
    ] {
        assert!(schemas.contains_key(s), "schema {s} missing");
    }
    let sort = &schemas["OpportunitySort"]["enum"];
    assert_eq!(sort.as_array().unwrap().len(), 6);
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let item = &schemas["OpportunityItem"]["properties"];
    assert_eq!(item["buy_price"]["$ref"], "#/components/schemas/Money");

    // What the request layer answers on any path is declared on every operation, and the
    // token is optional where it guards (a server without one takes calls without it).
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let statuses = op["responses"].as_object().unwrap();
            for code in ["400", "403", "413", "415", "500", "503"] {
                assert!(statuses.contains_key(code), "{method} {path} lacks {code}");
            }
            // Every path refuses two Host headers, and without a token a Host it does not
            // serve, whatever else its own 400 and 403 say.
            let said = |code: &str| statuses[code]["description"].as_str().unwrap_or("");
            assert!(said("400").contains("Host header"), "{method} {path}");
            assert!(said("403").contains("api.allowed_hosts"), "{method} {path}");
            assert!(
                op["responses"]["401"]["headers"]["WWW-Authenticate"].is_object(),
                "{method} {path}"
            );
            // Cached answers say how to ask again cheaply.
            if method == "get"
                && [
                    "/opportunities",
                    "/products",
                    "/products/{asin}",
                    "/openapi.json",
                    "/docs",
                ]
                .contains(&path.as_str())
            {
                assert!(statuses.contains_key("304"), "{method} {path} lacks 304");
                assert!(
                    op["responses"]["304"]["headers"]["ETag"].is_object(),
                    "{path}: a 304 carries the tag"
                );
                assert!(
                    op["responses"]["200"]["headers"]["ETag"].is_object(),
                    "{path}"
                );
                let params = op["parameters"].as_array().unwrap();
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == "If-None-Match" && p["in"] == "header"),
                    "{path}"
                );
            }
            if let Some(security) = op.get("security") {
                let alternatives = security.as_array().unwrap();
                assert!(
                    alternatives
                        .iter()
                        .any(|a| a.as_object().unwrap().is_empty()),
                    "{method} {path}: {security}"
                );
            }
        }
    }
}

/// The ASIN the spec offers as an example (`/docs` fills it in for "Try it out") is one
/// the demo watches: its discovery lists, from the simulator's catalogue, hold it, so trying
/// it against `arbdesk --serve` with no key finds a product rather than a 404.
#[tokio::test]
async fn the_example_asin_is_one_the_demo_watches() {
    use arbdesk::keepa::sim::{Catalog, SimConfig};

    let (dir, _store, api) = seeded_api().await;
    let doc = get(&api.app, "/openapi.json").await.json();
    fn asins(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s)
                if s.len() == 10
                    && s.starts_with("B0")
                    && s.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
            {
                out.push(s.clone())
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| asins(v, out)),
            serde_json::Value::Object(o) => o.values().for_each(|v| asins(v, out)),
            _ => {}
        }
    }
    let mut examples = Vec::new();
    asins(&doc, &mut examples);
    assert!(!examples.is_empty(), "the spec gives no example ASIN");

    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let demo = arbdesk::config::load(&arbdesk::cli::GlobalArgs {
        config: Some(empty),
        demo: true,
        ..Default::default()
    })
    .unwrap();
    let catalog = Catalog::new(demo.keepa.demo_seed);
    let watched: Vec<String> = demo
        .pipeline
        .discovery
        .iter()
        .flat_map(|c| {
            let mut list =
                catalog.bestsellers(c.market, &c.category, SimConfig::default().bestseller_len);
            list.truncate(demo.pipeline.discovery_take);
            list
        })
        .collect();
    for asin in &examples {
        assert!(
            watched.contains(asin),
            "{asin} is not on the demo's watchlist; one that is: {}",
            watched[0]
        );
    }
}

#[tokio::test]
async fn docs_page_is_self_contained() {
    let (_dir, _store, api) = seeded_api().await;
    let r = get(&api.app, "/docs").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    let html = r.text();
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("openapi.json"), "renders the spec");
    for external in [
        "http://",
        "https://",
        "src=\"//",
        "href=\"//",
        "url(",
        "@import",
        "cdn",
    ] {
        assert!(
            !html.to_lowercase().contains(external),
            "references {external}"
        );
    }
    // Every problem type the API can send has its anchor on the page.
    for slug in [
        "invalid-parameter",
        "unknown-parameter",
        "invalid-path",
        "not-found",
        "unauthorized",
        "method-not-allowed",
        "payload-too-large",
        "unsupported-media-type",
        "not-acceptable",
        "conflict",
        "store-unavailable",
        "unavailable",
        "request-timeout",
        "internal",
    ] {
        assert!(html.contains(&format!("id=\"problem-{slug}\"")), "{slug}");
    }
}

/// The contract and its page change with the binary only: each carries an `ETag`, and a
/// client that sends it back gets a 304 without a body (the page keeps its CSP), gzip on
/// request as any answer.
#[tokio::test]
async fn docs_and_contract_revalidate() {
    let (_dir, _store, api) = seeded_api().await;
    for (path, kind) in [
        ("/openapi.json", "application/json"),
        ("/docs", "text/html; charset=utf-8"),
    ] {
        let first = get(&api.app, path).await;
        assert_eq!(first.status, 200, "{path}");
        assert_eq!(first.header("content-type"), Some(kind), "{path}");
        let tag = first.header("etag").expect("an ETag").to_string();
        assert_eq!(get(&api.app, path).await.header("etag"), Some(tag.as_str()));
        let again = |tag: &str, encoding: &str| {
            Request::get(path)
                .header("if-none-match", tag)
                .header("accept-encoding", encoding)
                .body(Body::empty())
                .unwrap()
        };
        let r = send(&api.app, again(&tag, "identity")).await;
        assert_eq!(r.status, 304, "{path}");
        assert!(r.body.is_empty(), "{path}");
        if path == "/docs" {
            assert!(r.header("content-security-policy").is_some());
        }
        let r = send(&api.app, again("W/\"0-0\"", "gzip")).await;
        assert_eq!(r.status, 200, "{path}: another tag gets the body");
        assert_eq!(r.header("content-encoding"), Some("gzip"), "{path}");
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&r.body[..]), &mut body)
            .unwrap();
        assert_eq!(body, first.body, "{path}: the same bytes, gzipped");
    }
}
