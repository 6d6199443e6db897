//! Happy paths: each endpoint's exact JSON shape over the seeded store.

use arbdesk::domain::Market;
use arbdesk::pipeline::Source;
use chrono::DateTime;

use super::fixture::{KETTLE, LAMP, VERSION, get, keys, seeded_api, set};

const COMPONENT: &[&str] = &["status", "kind", "detail", "latency_ms"];

#[tokio::test]
async fn health_reports_each_component_and_the_data_source() {
    let (_dir, store, api) = seeded_api().await;
    let r = get(&api.app, "/health").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let h = r.json();
    assert_eq!(
        keys(&h),
        set(&["status", "source", "version", "components"])
    );
    assert_eq!(h["source"], "demo");
    assert_eq!(h["version"], VERSION);
    assert_eq!(
        keys(&h["components"]),
        set(&["keepa", "queue", "store", "pipeline", "fx"])
    );
    for c in ["keepa", "queue", "store", "pipeline", "fx"] {
        assert_eq!(keys(&h["components"][c]), set(COMPONENT), "{c}");
    }
    assert_eq!(h["components"]["store"]["status"], "ok");
    assert_eq!(h["components"]["store"]["kind"], "sqlite");
    assert!(h["components"]["store"]["latency_ms"].as_f64().is_some());
    assert_eq!(h["components"]["keepa"]["kind"], "keepa-simulator");
    assert!(
        h["components"]["keepa"]["detail"]
            .as_str()
            .unwrap()
            .contains("1,180 tokens left")
    );
    assert_eq!(
        h["components"]["queue"]["detail"],
        "bounded in-process channels; depth 12, 2 dead letters"
    );
    assert_eq!(h["status"], "ok");
    assert_eq!(
        h["components"]["fx"]["detail"],
        "1 GBP = 1.1700 EUR, rate of 2026-11-19"
    );

    // A stale rate is degraded (GBP routes are not ranked); on demo data the detail says
    // how to give it a current one.
    api.status
        .send_modify(|s| s.fx.as_mut().unwrap().stale = true);
    let h = get(&api.app, "/health").await.json();
    assert_eq!(h["components"]["fx"]["status"], "degraded");
    let detail = h["components"]["fx"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("stale") && detail.contains("[fx] override"),
        "{detail}"
    );
    assert_eq!(h["status"], "degraded");
    api.status.send_modify(|s| s.source = Source::Live);
    let h = get(&api.app, "/health").await.json();
    assert_eq!(h["components"]["fx"]["status"], "degraded");
    assert_eq!(h["status"], "degraded");
    api.status.send_modify(|s| {
        s.source = Source::Demo;
        s.fx.as_mut().unwrap().stale = false;
    });

    // Live data with Keepa stopped: still serving (200), but degraded, and it says why.
    api.status.send_modify(|s| {
        s.source = Source::Live;
        s.keepa.stopped = Some("the API key was rejected (HTTP 401)".into());
    });
    let h = get(&api.app, "/health").await.json();
    assert_eq!(h["source"], "live");
    assert_eq!(h["status"], "degraded");
    assert_eq!(h["components"]["keepa"]["status"], "down");
    assert!(
        h["components"]["keepa"]["detail"]
            .as_str()
            .unwrap()
            .contains("rejected")
    );

    // With an ingest stage in the process, Keepa's token bucket as the console's health
    // view judges it: what a full refresh of the watchlist costs, and whether the refill
    // keeps up with the refresh interval.
    api.status.send_modify(|s| {
        s.keepa.stopped = None;
        s.markets = vec![Market::DE, Market::IT];
        s.refresh = Some(arbdesk::pipeline::RefreshPlan {
            tokens_per_product: 1,
            buybox_by_route: None,
            interval_secs: 3600,
            discovery: false,
        });
    });
    let asins = [KETTLE, LAMP].map(|a| a.parse().unwrap()).to_vec();
    arbdesk::store::Store::watch_add(store.as_ref(), asins, arbdesk::store::WatchSource::User)
        .await
        .unwrap();
    let watched = 2;
    let h = get(&api.app, "/health").await.json();
    assert_eq!(keys(&h["components"]["tokens"]), set(COMPONENT));
    let detail = h["components"]["tokens"]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!(
            "a full refresh costs {} ({watched} ASINs × 2 markets × 1)",
            2 * watched
        )),
        "{detail}"
    );
    assert_eq!(h["components"]["tokens"]["status"], "ok", "{detail}");
    // A refresh of them every minute at 1 token a minute, with no balance to cover the
    // difference: degraded.
    api.status.send_modify(|s| {
        s.keepa.tokens_left = Some(0);
        s.keepa.refill_rate = Some(1);
        if let Some(plan) = s.refresh.as_mut() {
            plan.interval_secs = 60;
        }
    });
    let h = get(&api.app, "/health").await.json();
    assert_eq!(h["components"]["tokens"]["status"], "degraded", "{h}");
    assert_eq!(h["status"], "degraded");

    // A process without the ingest role has no Keepa client, and says so (and has no
    // token bucket).
    api.status.send_modify(|s| s.keepa_client = false);
    let h = get(&api.app, "/health").await.json();
    assert_eq!(h["components"]["keepa"]["status"], "ok");
    assert_eq!(h["components"]["keepa"]["kind"], "none");
    assert!(
        h["components"]["keepa"]["detail"]
            .as_str()
            .unwrap()
            .contains("no ingest role")
    );
    assert!(h["components"].get("tokens").is_none(), "{h}");
}

#[tokio::test]
async fn products_list_prices_in_each_markets_currency() {
    let (_dir, _store, api) = seeded_api().await;
    let r = get(&api.app, "/products").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let page = r.json();
    assert_eq!(
        keys(&page),
        set(&["source", "total", "limit", "offset", "items"])
    );
    // A page says whose prices it holds, as /health does.
    assert_eq!(page["source"], "demo");
    assert_eq!(
        (page["total"].as_u64(), page["limit"].as_u64()),
        (Some(2), Some(50))
    );
    let kettle = &page["items"][0];
    assert_eq!(
        keys(kettle),
        set(&[
            "asin",
            "title",
            "brand",
            "image_url",
            "markets",
            "not_listed",
            "updated_at"
        ])
    );
    assert_eq!(kettle["asin"], KETTLE);
    assert_eq!(kettle["brand"], "Brewmaster");
    assert_eq!(keys(&kettle["markets"]), set(&["UK", "DE", "IT"]));
    assert_eq!(
        keys(&kettle["markets"]["UK"]),
        set(&["amazon", "new", "buy_box", "observed_at"])
    );
    assert_eq!(
        kettle["markets"]["UK"]["amazon"],
        serde_json::json!({"amount": 1749, "currency": "GBP"})
    );
    assert_eq!(
        kettle["markets"]["DE"]["amazon"],
        serde_json::json!({"amount": 2099, "currency": "EUR"})
    );

    let fr = get(&api.app, "/products?market=fr").await.json();
    assert_eq!(fr["total"], 1);
    assert_eq!(fr["items"][0]["asin"], LAMP);
    let either = get(&api.app, "/products?market=fr,de").await.json();
    assert_eq!(either["total"], 2, "listed in FR or DE: {either}");
    let q = get(&api.app, "/products?q=KETTLE").await.json();
    assert_eq!(
        (q["total"].as_u64(), q["items"][0]["asin"].as_str()),
        (Some(1), Some(KETTLE))
    );
    let second = get(&api.app, "/products?limit=1&offset=1").await.json();
    assert_eq!(second["total"], 2);
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["items"][0]["asin"], LAMP);
    assert_eq!(
        (second["limit"].as_u64(), second["offset"].as_u64()),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn one_product_has_prices_stats_urls_and_history_on_request() {
    let (_dir, _store, api) = seeded_api().await;
    let r = get(&api.app, &format!("/products/{}", KETTLE.to_lowercase())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let p = r.json();
    assert_eq!(
        keys(&p),
        set(&[
            "asin",
            "title",
            "brand",
            "image_url",
            "eans",
            "package_quantity",
            "updated_at",
            "urls",
            "markets",
            "not_listed"
        ])
    );
    assert_eq!(p["asin"], KETTLE);
    assert_eq!(
        p["urls"]["DE"],
        format!("https://www.amazon.de/dp/{KETTLE}")
    );
    assert_eq!(
        p["urls"]["UK"],
        format!("https://www.amazon.co.uk/dp/{KETTLE}")
    );
    let uk = &p["markets"]["UK"];
    assert_eq!(
        keys(uk),
        set(&[
            "title",
            "url",
            "currency",
            "in_stock",
            "prices",
            "avg90",
            "stats",
            "product_group",
            "eans",
            "package_quantity",
            "package",
            "is_adult",
            "is_hazmat",
            "observed_at"
        ])
    );
    assert_eq!(uk["currency"], "GBP");
    // The identity facts as this market lists them (the IDENTITY flag compares them).
    assert_eq!(uk["eans"], serde_json::json!(["4006381333931"]));
    assert_eq!(uk["package_quantity"], 1);
    assert_eq!(
        uk["package"],
        serde_json::json!({"length_mm": null, "width_mm": null, "height_mm": null, "weight_g": null})
    );
    assert_eq!(
        uk["prices"]["buy_box"],
        serde_json::json!({"amount": 1849, "currency": "GBP"})
    );
    assert_eq!(uk["avg90"]["new"], serde_json::Value::Null);
    assert_eq!(uk["stats"]["sales_rank"], 1234);
    assert_eq!(
        uk["stats"]["fba_fee"],
        serde_json::json!({"amount": 350, "currency": "GBP"})
    );
    assert!(DateTime::parse_from_rfc3339(uk["observed_at"].as_str().unwrap()).is_ok());

    let h = get(&api.app, &format!("/products/{KETTLE}?history=true"))
        .await
        .json();
    let series = h["history"].as_array().unwrap();
    assert_eq!(series.len(), 3, "one New series per market");
    let it = series.iter().find(|s| s["market"] == "IT").unwrap();
    assert_eq!(keys(it), set(&["market", "kind", "unit", "points"]));
    assert_eq!(
        (it["kind"].as_str(), it["unit"].as_str()),
        (Some("new"), Some("EUR"))
    );
    assert_eq!(it["points"][1]["value"], 1499);
    assert!(keys(&it["points"][0]) == set(&["at", "value"]));
}

#[tokio::test]
async fn opportunities_carry_gross_and_net_figures_and_links() {
    let (_dir, _store, api) = seeded_api().await;
    let r = get(&api.app, "/opportunities?min_margin=10").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.json();
    assert_eq!(page["source"], "demo", "a page says whose prices it holds");
    assert_eq!(
        page["total"], 2,
        "the 5.26 % lamp route is below min_margin=10"
    );
    let first = &page["items"][0];
    assert_eq!(
        keys(first),
        set(&[
            "asin",
            "title",
            "buy_market",
            "sell_market",
            "buy_price",
            "sell_price",
            "gross_margin",
            "gross_margin_pct",
            "net_profit",
            "net_margin_pct",
            "roi_pct",
            "expected_monthly_profit",
            "max_buy_price",
            "target_sell_price",
            "break_even_sell_price",
            "ranked",
            "flags",
            "buy_url",
            "sell_url",
            "updated_at",
            "first_seen",
            "brand",
            "sales_rank",
            "monthly_sold",
            "rank_drops30",
        ])
    );
    // Default order: ranked first, by expected monthly profit.
    assert_eq!(
        (first["buy_market"].as_str(), first["sell_market"].as_str()),
        (Some("IT"), Some("DE"))
    );
    assert_eq!(first["gross_margin_pct"], 33.36);
    assert_eq!(
        first["net_profit"],
        serde_json::json!({"amount": 412, "currency": "EUR"})
    );
    assert_eq!(first["ranked"], true);
    assert_eq!(
        first["buy_url"],
        format!("https://www.amazon.it/dp/{KETTLE}")
    );
    assert_eq!(
        first["sell_url"],
        format!("https://www.amazon.de/dp/{KETTLE}")
    );
    let time = |f: &str| DateTime::parse_from_rfc3339(first[f].as_str().unwrap()).unwrap();
    assert!(time("first_seen") <= time("updated_at"));
    let uk = &page["items"][1];
    assert_eq!(
        uk["buy_price"],
        serde_json::json!({"amount": 1499, "currency": "GBP"}),
        "native currency"
    );
    assert_eq!(uk["gross_margin"]["currency"], "EUR");
    assert_eq!(uk["flags"], serde_json::json!(["PROFIT"]));

    let with = get(&api.app, "/opportunities?breakdown=true&limit=1")
        .await
        .json();
    let b = &with["items"][0]["breakdown"];
    assert_eq!(
        keys(b),
        set(&[
            "lines",
            "fx_eur_per_gbp",
            "fx_date",
            "fx_rate",
            "vat_table",
            "fee_table",
            "buy_observed_at",
            "sell_observed_at"
        ])
    );
    assert_eq!(
        keys(&b["lines"][0]),
        set(&["id", "label", "amount", "source"])
    );
}

#[tokio::test]
async fn opportunity_filters_sorts_and_pages() {
    let (_dir, _store, api) = seeded_api().await;
    let routes = |v: &serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                format!(
                    "{}>{}",
                    o["buy_market"].as_str().unwrap(),
                    o["sell_market"].as_str().unwrap()
                )
            })
            .collect()
    };
    let all = get(&api.app, "/opportunities").await.json();
    assert_eq!(all["total"], 3);
    let uk = get(&api.app, "/opportunities?buy=uk").await.json();
    assert_eq!(routes(&uk), ["UK>DE"]);
    let two = get(&api.app, "/opportunities?buy=FR&buy=it").await.json();
    assert_eq!(two["total"], 2);
    assert_eq!(
        get(&api.app, "/opportunities?sell=FR").await.json()["total"],
        0
    );
    let profit = get(&api.app, "/opportunities?min_profit=1.8").await.json();
    assert_eq!(
        routes(&profit),
        ["IT>DE", "UK>DE"],
        "180 cents is 1.8 euros exactly"
    );
    assert_eq!(
        get(&api.app, "/opportunities?min_profit=1.81").await.json()["total"],
        1
    );
    let asc = get(&api.app, "/opportunities?sort=gross_margin_pct&order=asc")
        .await
        .json();
    assert_eq!(routes(&asc), ["FR>DE", "UK>DE", "IT>DE"]);
    let roi = get(&api.app, "/opportunities?min_roi=6").await.json();
    assert_eq!(routes(&roi), ["IT>DE", "UK>DE"]);
    let net = get(&api.app, "/opportunities?min_net_margin=5")
        .await
        .json();
    assert_eq!(routes(&net), ["IT>DE"]);
    let ranked = get(&api.app, "/opportunities?ranked=true").await.json();
    assert_eq!(routes(&ranked), ["IT>DE"]);
    let unranked = get(&api.app, "/opportunities?ranked=false").await.json();
    assert_eq!(
        routes(&unranked),
        ["UK>DE", "FR>DE"],
        "ranked=false: the rest"
    );
    let q = get(&api.app, "/opportunities?q=lamp").await.json();
    assert_eq!(routes(&q), ["FR>DE"]);
    let paged = get(&api.app, "/opportunities?limit=1&offset=2&sort=net_profit")
        .await
        .json();
    assert_eq!(
        (paged["total"].as_u64(), routes(&paged)),
        (Some(3), vec!["FR>DE".to_string()])
    );
    // `q` is the console's `/` filter: field terms and negation, totals and pages exact.
    let grammar = |q: &str| {
        let uri = format!("/opportunities?q={}", urlencode(q));
        let app = api.app.clone();
        async move { get(&app, &uri).await.json() }
    };
    assert_eq!(routes(&grammar("roi>=6 !src=uk").await), ["IT>DE"]);
    assert_eq!(
        routes(&grammar("route=fr>de,uk>de").await),
        ["UK>DE", "FR>DE"]
    );
    assert_eq!(routes(&grammar("lamp margin>0").await), ["FR>DE"]);
    let page = get(
        &api.app,
        "/opportunities?q=dst%3Dde%20!route%3Dit%3Ede&limit=1&offset=1",
    )
    .await
    .json();
    assert_eq!(
        (page["total"].as_u64(), routes(&page)),
        (Some(2), vec!["FR>DE".to_string()])
    );
    let empty_values = get(&api.app, "/opportunities?q=&min_margin=&buy=")
        .await
        .json();
    assert_eq!(empty_values["total"], 3, "empty values mean not given");
    // So an empty value beside a real one is not a second value.
    let page = get(&api.app, "/opportunities?limit=&limit=1&min_margin=")
        .await
        .json();
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
}

#[tokio::test]
async fn stats_combine_store_totals_and_pipeline_state() {
    let (_dir, _store, api) = seeded_api().await;
    let r = get(&api.app, "/stats").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let s = r.json();
    assert_eq!(
        keys(&s),
        set(&[
            "total_products",
            "opportunities",
            "ranked_opportunities",
            "markets",
            "best_gross_margin_pct",
            "avg_gross_margin_pct",
            "products_per_market",
            "watchlist",
            "last_update",
            "source",
            "pipeline",
            "keepa",
            "jobs",
            "fx",
        ])
    );
    assert_eq!(s["total_products"], 2);
    assert_eq!(s["opportunities"], 3);
    assert_eq!(
        s["markets"],
        serde_json::json!(["UK", "DE", "FR", "IT", "ES"])
    );
    // The markets the process tracks (`--markets DE,FR`), when it says.
    api.status
        .send_modify(|st| st.markets = vec![Market::DE, Market::FR]);
    let tracked = get(&api.app, "/stats").await.json();
    assert_eq!(tracked["markets"], serde_json::json!(["DE", "FR"]));
    assert_eq!(s["best_gross_margin_pct"], 33.36);
    assert_eq!(
        s["products_per_market"],
        serde_json::json!({"UK": 1, "DE": 2, "FR": 1, "IT": 1, "ES": 0})
    );
    assert!(DateTime::parse_from_rfc3339(s["last_update"].as_str().unwrap()).is_ok());
    assert_eq!(
        keys(&s["pipeline"]),
        set(&[
            "roles",
            "running",
            "started_at",
            "stages",
            "queue_depth",
            "dead_letters",
            "reported_by"
        ])
    );
    // The fixture's pipeline has a Keepa client and no detector: ingest, and the API.
    assert_eq!(s["pipeline"]["roles"], serde_json::json!(["ingest", "api"]));
    assert_eq!(s["pipeline"]["reported_by"], serde_json::json!([]));
    // Figures shown from other processes' reports (`--role api` beside the workers) are
    // theirs: this process's role is the API alone, and the reports are named.
    api.status.send_modify(|st| {
        st.peers = vec![arbdesk::pipeline::peers::Peer {
            id: "worker-1:7".into(),
            roles: "ingest,process".into(),
            updated_at: chrono::Utc::now(),
            pipeline: arbdesk::component::ComponentHealth::ok("pipeline", "busy"),
        }]
    });
    let shown = get(&api.app, "/stats").await.json();
    assert_eq!(shown["pipeline"]["roles"], serde_json::json!(["api"]));
    assert_eq!(shown["pipeline"]["reported_by"][0]["id"], "worker-1:7");
    assert_eq!(
        shown["pipeline"]["reported_by"][0]["roles"],
        "ingest,process"
    );
    api.status.send_modify(|st| st.peers.clear());
    assert_eq!(s["pipeline"]["stages"]["enrich"]["rate_per_s"], 14.5);
    assert_eq!(s["keepa"]["tokens_left"], 1180);
    assert_eq!(s["fx"]["eur_per_gbp"], 1.17);
    let jobs: Vec<&str> = s["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        jobs,
        ["discovery", "refresh"],
        "live jobs merged with the store's last runs"
    );
    assert_eq!(
        s["jobs"][0]["last_run"]["detail"],
        "found 412 ASINs, 37 new"
    );
    assert_eq!(s["jobs"][1]["running"], true);
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_every_family() {
    let (_dir, _store, api) = seeded_api().await;
    get(&api.app, "/opportunities?min_margin=10").await;
    get(&api.app, "/opportunities?limit=0").await;
    get(&api.app, "/nowhere").await;
    let r = get(&api.app, "/metrics").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.text();
    for needle in [
        "arbdesk_http_requests_total{route=\"/opportunities\",status=\"200\"} 1\n",
        "arbdesk_http_requests_total{route=\"/opportunities\",status=\"400\"} 1\n",
        "arbdesk_http_requests_total{route=\"other\",status=\"404\"} 1\n",
        "arbdesk_http_request_duration_seconds_bucket{route=\"/opportunities\",le=\"+Inf\"} 2\n",
        "arbdesk_store_up 1\n",
        "arbdesk_store_products 2\n",
        "arbdesk_store_opportunities 3\n",
        "arbdesk_store_market_products{market=\"DE\"} 2\n",
        "arbdesk_pipeline_processed_total{stage=\"enrich\"} 900\n",
        "arbdesk_pipeline_errors_total{stage=\"enrich\"} 2\n",
        "arbdesk_pipeline_stage_stopped{stage=\"enrich\"} 0\n",
        "arbdesk_queue_depth 12\n",
        "arbdesk_reporting_processes 0\n",
        "arbdesk_dead_letters_total 2\n",
        "arbdesk_keepa_tokens_left 1180\n",
        "arbdesk_keepa_requests_total 31\n",
        "arbdesk_keepa_rate_limited_total 1\n",
        "arbdesk_keepa_errors_total 0\n",
        "arbdesk_api_cache_requests_total{result=\"miss\"}",
        "arbdesk_build_info{version=\"9.9.9-test\",source=\"demo\"} 1\n",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    // Every sample line is `name{labels} value` with a known TYPE before it.
    let mut typed = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.insert(rest.split(' ').next().unwrap().to_string());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name_labels, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok() || value == "+Inf", "{line}");
        let name = name_labels.split('{').next().unwrap();
        assert!(name.starts_with("arbdesk_"), "{line}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(typed.contains(family), "no TYPE for {line}");
    }
}

/// A row computed with no VAT, referral or storage table in force (`NO_TABLE`) has gross
/// figures only: its net figures are unknown, and every output says so rather than show
/// the zeros it carries — `null` in the API, empty in a CSV line and a copied row, `–` in
/// the table, and no `/` filter on a net field matches it.
#[tokio::test]
async fn a_row_without_net_figures_says_unknown_everywhere() {
    use arbdesk::domain::{Flag, Money};
    use arbdesk::filter::Filter;
    use arbdesk::store::Store;
    use arbdesk::tui::action::Column;
    use arbdesk::tui::model::Row;

    let (_dir, store, api) = seeded_api().await;
    let mut gross_only = super::fixture::opportunity(KETTLE, Market::IT, Market::DE, 33.36, 0);
    gross_only.net_profit = Money::eur(0);
    gross_only.net_margin_pct = 0.0;
    gross_only.roi_pct = 0.0;
    gross_only.expected_monthly_profit = Money::eur(0);
    gross_only.max_buy_price = None;
    gross_only.target_sell_price = None;
    gross_only.break_even_sell_price = None;
    gross_only.ranked = false;
    gross_only.flags = [Flag::NoTable].into_iter().collect();
    store
        .replace_opportunities(vec![(
            super::fixture::asin(KETTLE),
            vec![gross_only.clone()],
        )])
        .await
        .unwrap();
    api.generation.send_modify(|g| *g += 1);

    let body = get(&api.app, "/opportunities?buy=IT").await.json();
    let item = &body["items"][0];
    assert_eq!(item["flags"], serde_json::json!(["NO_TABLE"]), "{item}");
    for k in [
        "net_profit",
        "net_margin_pct",
        "roi_pct",
        "expected_monthly_profit",
    ] {
        assert!(item[k].is_null(), "{k}: {item}");
    }
    assert_eq!(item["gross_margin_pct"], 33.36);
    // A row with figures keeps them.
    let lamp = get(&api.app, "/opportunities?buy=FR").await.json();
    assert_eq!(lamp["items"][0]["net_profit"]["amount"], 95);

    let csv = arbdesk::commands::export::csv_row(&gross_only);
    let fields: Vec<&str> = csv.split(',').collect();
    assert_eq!(&fields[9..14], ["33.36", "", "", "", ""], "{csv}");

    let row = Row::from_opportunity(&gross_only);
    for c in [Column::Profit, Column::Net, Column::Roi, Column::Emp] {
        assert_eq!(row.cell(c), "–", "{c:?}");
    }
    assert_eq!(row.cell(Column::Margin), "33.36");
    let tsv = row.tsv();
    let cells: Vec<&str> = tsv.split('\t').collect();
    assert_eq!(&cells[9..14], ["33.36", "", "", "", ""], "{tsv}");
    for f in ["profit<1", "profit>=0", "roi<5", "net>-100", "emp<=0"] {
        assert!(
            !Filter::parse(f)
                .unwrap()
                .matches(&row, arbdesk::tui::fixtures::now()),
            "{f}"
        );
    }
    assert!(
        Filter::parse("margin>30")
            .unwrap()
            .matches(&row, arbdesk::tui::fixtures::now())
    );
    // The API's `q` is the same filter over the stored row.
    for (q, total) in [("src=it profit>=0", 0), ("src=it margin>30", 1)] {
        let uri = format!("/opportunities?q={}", urlencode(q));
        assert_eq!(get(&api.app, &uri).await.json()["total"], total, "{q}");
    }
}

/// `s` with every byte outside unreserved characters percent-encoded.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_filter_scan_pages_the_same_whatever_the_chunk() {
    let (_dir, store, _api) = seeded_api().await;
    let filter = arbdesk::filter::Filter::parse("dst=de !route=uk>de").unwrap();
    let now = chrono::Utc::now();
    for chunk in [1, 2, 3, 10_000] {
        for (offset, want) in [(0, vec!["IT>DE", "FR>DE"]), (1, vec!["FR>DE"]), (2, vec![])] {
            let query = arbdesk::store::OpportunityFilter {
                offset,
                ..Default::default()
            };
            let page =
                arbdesk::filter::select_in_chunks(store.as_ref(), query, &filter, now, chunk)
                    .await
                    .unwrap();
            let got: Vec<String> = page
                .items
                .iter()
                .map(|o| format!("{}>{}", o.buy_market.code(), o.sell_market.code()))
                .collect();
            assert_eq!(
                (page.total, got),
                (2, want.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
                "chunk {chunk}, offset {offset}"
            );
        }
    }
}

#[tokio::test]
async fn the_watchlist_pages_with_sources_and_what_is_not_fetched_yet() {
    use arbdesk::store::{Store, WatchSource};
    let (_dir, store, api) = seeded_api().await;
    let empty = get(&api.app, "/watchlist").await;
    assert_eq!(empty.status, 200, "{}", empty.text());
    assert_eq!(empty.header("cache-control"), Some("no-cache"));
    let e = empty.json();
    assert_eq!(
        keys(&e),
        set(&["source", "markets", "total", "limit", "offset", "items"])
    );
    assert_eq!(e["total"], 0);
    assert_eq!(e["items"], serde_json::json!([]));

    let never = "B0DEMO0009";
    let a = |s: &str| s.parse().unwrap();
    store
        .watch_add(vec![a(KETTLE), a(LAMP)], WatchSource::Discovery)
        .await
        .unwrap();
    store
        .watch_add(vec![a(never)], WatchSource::User)
        .await
        .unwrap();
    // Watching a product copies the markets it was fetched in (the kettle: UK, DE, IT).
    let never_before = get(&api.app, "/watchlist?source=user").await.json();
    assert_eq!(never_before["items"][0]["fetched"], serde_json::json!([]));
    // The new one fetched in FR: it moves from `not_fetched` to `fetched`.
    let fetched_at = super::fixture::at() + chrono::Duration::hours(2);
    store
        .upsert_listings(
            vec![super::fixture::listing(
                never,
                Market::FR,
                "Tea Cup",
                "Brewmaster",
                999,
            )],
            fetched_at,
            None,
        )
        .await
        .unwrap();

    let all = get(&api.app, "/watchlist").await.json();
    assert_eq!(all["total"], 3, "{all}");
    assert_eq!(all["limit"], 50);
    assert_eq!(
        all["markets"],
        serde_json::json!(["UK", "DE", "FR", "IT", "ES"])
    );
    let items = all["items"].as_array().unwrap();
    let kettle = items.iter().find(|i| i["asin"] == KETTLE).unwrap();
    assert_eq!(
        keys(kettle),
        set(&[
            "asin",
            "source",
            "added_at",
            "oldest_fetch",
            "fetched",
            "not_fetched"
        ])
    );
    assert_eq!(kettle["source"], "discovery");
    assert_eq!(kettle["fetched"], serde_json::json!(["UK", "DE", "IT"]));
    assert_eq!(kettle["not_fetched"], serde_json::json!(["FR", "ES"]));
    assert!(DateTime::parse_from_rfc3339(kettle["added_at"].as_str().unwrap()).is_ok());
    assert!(DateTime::parse_from_rfc3339(kettle["oldest_fetch"].as_str().unwrap()).is_ok());
    assert_eq!(
        kettle["oldest_fetch"]
            .as_str()
            .map(|t| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap()),
        Some(super::fixture::at())
    );
    let new = items.iter().find(|i| i["asin"] == never).unwrap();
    assert_eq!(new["source"], "user");
    assert_eq!(new["fetched"], serde_json::json!(["FR"]));
    assert_eq!(
        new["not_fetched"],
        serde_json::json!(["UK", "DE", "IT", "ES"])
    );
    assert_eq!(
        new["oldest_fetch"]
            .as_str()
            .map(|t| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap()),
        Some(fetched_at)
    );

    // Filters and pages.
    let users = get(&api.app, "/watchlist?source=USER").await.json();
    assert_eq!(users["total"], 1);
    assert_eq!(users["items"][0]["asin"], never);
    let page = get(&api.app, "/watchlist?limit=1&offset=1").await.json();
    assert_eq!(
        (page["total"].clone(), page["limit"].clone()),
        (3.into(), 1.into())
    );
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["items"][0]["asin"], items[1]["asin"]);
    let past = get(&api.app, "/watchlist?offset=5").await.json();
    assert_eq!(
        (past["total"].clone(), past["items"].clone()),
        (3.into(), serde_json::json!([]))
    );
    // Counted against the markets the process tracks: with DE and IT only, the kettle is done.
    api.status
        .send_modify(|st| st.markets = vec![Market::DE, Market::IT]);
    let done = get(&api.app, "/watchlist?pending=false").await.json();
    assert_eq!(done["total"], 1, "{done}");
    assert_eq!(done["items"][0]["asin"], KETTLE);
    assert_eq!(done["items"][0]["not_fetched"], serde_json::json!([]));
    let waiting = get(&api.app, "/watchlist?pending=true").await.json();
    assert_eq!(waiting["total"], 2, "{waiting}");
    assert_eq!(waiting["markets"], serde_json::json!(["DE", "IT"]));

    // Bad parameters name themselves and what they accept.
    let p = get(&api.app, "/watchlist?source=robot").await.problem(400);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("user, discovery, import"),
        "{p}"
    );
    get(&api.app, "/watchlist?limit=0").await.problem(400);
    get(&api.app, "/watchlist?pending=maybe").await.problem(400);
    let p = get(&api.app, "/watchlist?sort=asin").await.problem(400);
    assert!(p["detail"].as_str().unwrap().contains("pending"), "{p}");
}
