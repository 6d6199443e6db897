//! The Keepa simulator: determinism, Keepa's shape over a real socket, tokens, realism.

use std::time::Duration;

use arbdesk::domain::{Asin, Currency, Market};
use arbdesk::keepa::sim::{Catalog, Faults, Options, SimConfig, Simulator, asin_from};
use arbdesk::keepa::{KeepaClient, ProductQuery, decode_product};
use serde_json::Value;

use super::util::{config, spawn_sim};

const T0: i64 = 1_795_586_400_000; // 2026-11-25T06:00:00Z

fn opts() -> Options {
    Options::new().with_history(90).with_stats(90).with_buybox()
}

fn asins(n: usize) -> Vec<Asin> {
    (0..n as u64)
        .map(|i| asin_from(i * 7919 + 13).parse().unwrap())
        .collect()
}

#[test]
fn the_catalogue_is_deterministic_for_a_seed() {
    let a = Catalog::new(7);
    let b = Catalog::new(7);
    let c = Catalog::new(8);
    let asin: Asin = "B0D1XD1ZV3".parse().unwrap();
    for m in Market::ALL {
        let pa = serde_json::to_string(&a.product(&asin, m, T0, opts())).unwrap();
        let pb = serde_json::to_string(&b.product(&asin, m, T0, opts())).unwrap();
        assert_eq!(pa, pb);
    }
    let pa = serde_json::to_string(&a.product(&asin, Market::DE, T0, opts())).unwrap();
    let pc = serde_json::to_string(&c.product(&asin, Market::DE, T0, opts())).unwrap();
    assert_ne!(pa, pc, "another seed gives another product");
    assert_eq!(
        a.bestsellers(Market::DE, "64187031", 50),
        b.bestsellers(Market::DE, "64187031", 50)
    );
    assert_ne!(
        a.bestsellers(Market::DE, "64187031", 50),
        a.bestsellers(Market::DE, "3167641", 50)
    );
    assert_ne!(
        a.bestsellers(Market::DE, "64187031", 50),
        a.bestsellers(Market::IT, "64187031", 50)
    );
}

/// A best-seller list holds the category's products listed in the market, best sales rank
/// first, as Keepa's: a root node, a child node or a product group.
#[test]
fn a_best_seller_list_is_the_categorys_listed_products_best_first() {
    let cat = Catalog::new(42);
    for (category, root) in [("64187031", 64_187_031), ("31676412", 3_167_641)] {
        let list = cat.bestsellers(Market::DE, category, 40);
        assert_eq!(list.len(), 40, "{category}");
        let ranks: Vec<i64> = list
            .iter()
            .map(|a| {
                let p = cat.product(&a.parse().unwrap(), Market::DE, T0, opts());
                assert_eq!(p.product.product_type, Some(0), "{a} is listed in DE");
                assert_eq!(p.product.root_category, Some(root), "{a} is in {category}");
                if category.len() > 8 {
                    assert_eq!(p.product.categories.as_deref(), Some(&[31_676_412][..]));
                }
                p.product
                    .stats
                    .and_then(|s| s.current)
                    .and_then(|c| c.get(3).copied())
                    .unwrap_or(0)
            })
            .collect();
        // Ranks drift around each product's base: the list is in the order of the bases,
        // so the current ranks run upwards overall.
        let (first, last) = (&ranks[..10], &ranks[30..]);
        assert!(
            first.iter().sum::<i64>() < last.iter().sum::<i64>(),
            "{category}: {ranks:?}"
        );
    }
    let group = cat.bestsellers(Market::DE, "Health and Beauty", 20);
    assert_eq!(group.len(), 20);
}

#[test]
fn prices_are_plausible_in_the_right_currency_and_a_few_percent_are_arbitrage() {
    let cat = Catalog::new(42);
    let mut gaps = 0;
    let n = 600;
    for asin in asins(n) {
        let mut eur_prices = Vec::new();
        for m in Market::ALL {
            let l =
                decode_product(&serde_json::to_string(&cat.product(&asin, m, T0, opts())).unwrap())
                    .unwrap();
            for p in [l.snapshot.amazon, l.snapshot.new, l.snapshot.buy_box]
                .into_iter()
                .flatten()
            {
                assert_eq!(p.currency, m.currency());
                let eur = match p.currency {
                    Currency::EUR => p.minor as f64,
                    Currency::GBP => p.minor as f64 / 0.86,
                };
                assert!((99.0..=60_000.0).contains(&eur), "{asin} {m}: {p}");
            }
            if let Some(p) = l.snapshot.buy_box {
                eur_prices.push(if p.currency == Currency::GBP {
                    p.minor as f64 / 0.86
                } else {
                    p.minor as f64
                });
            }
        }
        if eur_prices.len() >= 2 {
            let lo = eur_prices.iter().cloned().fold(f64::MAX, f64::min);
            let hi = eur_prices.iter().cloned().fold(0.0, f64::max);
            if hi / lo > 1.3 {
                gaps += 1;
            }
        }
    }
    let share = gaps as f64 / n as f64;
    assert!(
        (0.01..=0.12).contains(&share),
        "{gaps} of {n} products have a >30 % gap"
    );
}

#[test]
fn some_markets_are_missing_or_out_of_stock() {
    let cat = Catalog::new(42);
    let (mut missing, mut oos, mut total) = (0, 0, 0);
    for asin in asins(300) {
        for m in Market::ALL {
            let p = cat.product(&asin, m, T0, opts());
            total += 1;
            let l = decode_product(&serde_json::to_string(&p).unwrap()).unwrap();
            if l.title.is_none() {
                missing += 1;
            } else if !l.snapshot.in_stock() {
                oos += 1;
            }
        }
    }
    assert!(
        missing > total / 50 && missing < total / 4,
        "{missing} of {total} missing"
    );
    assert!(oos > 0 && oos < total / 5, "{oos} of {total} out of stock");
}

#[test]
fn prices_move_over_time_and_history_covers_ninety_days() {
    let cat = Catalog::new(42);
    let mut moved = 0;
    for asin in asins(100) {
        let later = T0 + 3 * 24 * 3_600_000;
        let a = decode_product(
            &serde_json::to_string(&cat.product(&asin, Market::DE, T0, opts())).unwrap(),
        )
        .unwrap();
        let b = decode_product(
            &serde_json::to_string(&cat.product(&asin, Market::DE, later, opts())).unwrap(),
        )
        .unwrap();
        if a.snapshot.new != b.snapshot.new {
            moved += 1;
        }
        if let Some(series) = a.history.first() {
            let first = series.points.first().unwrap().at.timestamp_millis();
            let age_days = (T0 - first) as f64 / 86_400_000.0;
            assert!(
                (89.9..=90.1).contains(&age_days),
                "history starts {age_days} days back"
            );
        }
    }
    assert!(moved > 30, "only {moved} of 100 prices moved in three days");
}

async fn get_json(url: &str, gzip: bool) -> (u16, Option<String>, Value) {
    let client = reqwest::Client::builder().gzip(false).build().unwrap();
    let mut req = client.get(url);
    if gzip {
        req = req.header("accept-encoding", "gzip");
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let enc = resp
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = resp.bytes().await.unwrap();
    let text = if enc.as_deref() == Some("gzip") {
        use std::io::Read;
        let mut s = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    } else {
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    (status, enc, serde_json::from_str(&text).unwrap())
}

/// Every field of the token envelope (keepa-api.md §4) is in `body`.
fn assert_envelope(body: &Value) {
    for f in [
        "timestamp",
        "tokensLeft",
        "refillIn",
        "refillRate",
        "tokenFlowReduction",
        "tokensConsumed",
        "processingTimeInMs",
    ] {
        assert!(
            body.get(f).is_some(),
            "envelope field {f} missing from {body}"
        );
    }
}

#[tokio::test]
async fn over_a_socket_it_answers_like_keepa_and_429s_when_empty() {
    let (_sim, addr) = spawn_sim(SimConfig {
        refill_rate: 1,
        ..SimConfig::default()
    })
    .await;
    let url = format!("http://{addr}/product?key=k&domain=3&asin=B0D1XD1ZV3&stats=90");
    let (status, enc, body) = get_json(&url, true).await;
    assert_eq!(status, 200);
    assert_eq!(enc.as_deref(), Some("gzip"));
    assert_envelope(&body);
    let p = &body["products"][0];
    assert_eq!(p["domainId"], 3);
    assert_eq!(p["asin"], "B0D1XD1ZV3");
    let csv = p["csv"].as_array().unwrap();
    assert_eq!(csv.len(), 36, "the Python client indexes csv 0..35");
    assert!(csv.iter().any(|c| c.is_array()));
    assert_eq!(body["tokensConsumed"], 1);

    // The trailing-slash form of the Python client works too.
    let (status, _, _) = get_json(&format!("http://{addr}/token/?key=k"), false).await;
    assert_eq!(status, 200);

    // 60 tokens; 100 ASINs runs while positive and goes negative; the next is refused.
    let many = (0..100).map(asin_from).collect::<Vec<_>>().join(",");
    let (status, _, body) = get_json(
        &format!("http://{addr}/product?key=k&domain=3&asin={many}"),
        false,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["tokensLeft"].as_i64().unwrap(), 59 - 100);
    let (status, _, body) = get_json(&url, false).await;
    assert_eq!(status, 429);
    assert_eq!(body["tokensLeft"].as_i64().unwrap(), -41);
    assert!(body["refillIn"].as_i64().unwrap() > 0);
    assert_eq!(body["refillRate"], 1);
    // /token costs nothing and answers even now.
    let (status, _, _) = get_json(&format!("http://{addr}/token?key=k"), false).await;
    assert_eq!(status, 200);
}

/// Every body is JSON, errors included: no endpoint at a path, a method other than GET.
#[tokio::test]
async fn paths_and_methods_it_does_not_serve_answer_in_json() {
    let (_sim, addr) = spawn_sim(SimConfig::default()).await;
    let client = reqwest::Client::new();
    for (req, status, kind) in [
        (client.get(format!("http://{addr}/")), 404, "notFound"),
        (client.get(format!("http://{addr}/a/b")), 404, "notFound"),
        (
            client.post(format!("http://{addr}/product")),
            405,
            "methodNotAllowed",
        ),
    ] {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["type"], kind, "{body}");
        // With the envelope, as every Keepa answer (keepa-api.md §13.4).
        assert_envelope(&body);
    }
}

#[tokio::test]
async fn bad_parameters_are_keepa_style_400s() {
    let (_sim, addr) = spawn_sim(SimConfig {
        accepted_keys: Some(vec!["good".into()]),
        ..SimConfig::default()
    })
    .await;
    for (q, needle) in [
        ("product?key=good&domain=de&asin=B0D1XD1ZV3", "domain"),
        ("product?key=good&domain=7&asin=B0D1XD1ZV3", "domain"),
        ("product?key=good&domain=3&asin=NOTANASIN!", "asin"),
        ("product?key=good&domain=3", "asin"),
        (
            "product?key=good&domain=3&asin=B0D1XD1ZV3&buybox=2",
            "buybox",
        ),
        ("bestsellers?key=good&domain=3&category=1&range=7", "range"),
        (
            "bestsellers?key=good&domain=3&category=340843031&range=30&month=10&year=2026",
            "month",
        ),
        (
            "bestsellers?key=good&domain=3&category=340843031&month=10&year=2026",
            "past lists",
        ),
        (
            "product?key=good&domain=3&asin=B0D1XD1ZV3&stats=1795000000000,1796500000000",
            "stats",
        ),
        ("product?key=bad&domain=3&asin=B0D1XD1ZV3", "access key"),
        (
            "product?key=good&domain=3&asin=B0D1XD1ZV3&stats=-5",
            "stats",
        ),
        ("product?key=good&domain=3&asin=B0D1XD1ZV3&stats=0", "stats"),
        (
            "product?key=good&domain=3&asin=B0D1XD1ZV3&rating=yes",
            "rating",
        ),
        (
            "product?key=good&domain=3&asin=B0D1XD1ZV3&history=2",
            "history",
        ),
        ("category?key=good&domain=3&category=0&parents=2", "parents"),
    ] {
        let (status, _, body) = get_json(&format!("http://{addr}/{q}"), false).await;
        assert_eq!(status, 400, "{q}");
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{q}: {msg}");
        // Errors carry the envelope too.
        assert_envelope(&body);
    }
    let (status, _, _) = get_json(&format!("http://{addr}/nothing?key=good"), false).await;
    assert_eq!(status, 404);
    // Keepa's Java client sends days=0: no trimming, not an error.
    let (status, _, _) = get_json(&format!("http://{addr}/product?key=good&domain=3&asin=B0D1XD1ZV3&days=0&only-live-offers=0&update=1"), false).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn faults_are_injected_and_the_client_survives_them() {
    let sim = Simulator::new(SimConfig::default());
    sim.set_faults(Faults {
        error_rate: 0.3,
        malformed_product_rate: 0.2,
        malformed_body_rate: 0.1,
        ..Faults::default()
    });
    let mut cfg = config("http://sim.invalid/");
    cfg.retry = super::util::fast_retry();
    cfg.retry.max_attempts = 10;
    let client = KeepaClient::with_transport(cfg, sim.transport());
    let mut decoded = Vec::new();
    for m in Market::ALL {
        let batch = client
            .products(&ProductQuery::new(m, asins(40)))
            .await
            .unwrap();
        assert_eq!(batch.products.len(), 40);
        decoded.extend(batch.products.iter().map(|p| decode_product(p)));
    }
    let bad = decoded.iter().filter(|r| r.is_err()).count();
    assert!(bad > 0 && bad < 100, "{bad} malformed of 200");
    for e in decoded.iter().filter_map(|r| r.as_ref().err()) {
        assert!(e.asin.starts_with("B0"), "{e}");
    }
    assert!(client.status().errors > 0);
}

#[tokio::test]
async fn payment_fault_and_latency() {
    let sim = Simulator::new(SimConfig::default());
    sim.set_faults(Faults {
        payment_required: true,
        latency: Duration::from_millis(30),
        ..Faults::default()
    });
    let client = KeepaClient::with_transport(config("http://sim.invalid/"), sim.transport());
    let started = std::time::Instant::now();
    let err = client.token().await.unwrap_err();
    assert_eq!(err, arbdesk::keepa::Error::Payment);
    assert!(started.elapsed() >= Duration::from_millis(30));
}

/// What a client reads of Keepa's answers beyond their shape (keepa-api.md §2.1, §2.3,
/// §10): a trimmed history still says each series' value at its start, `update=0` fetches
/// now, a category without a list costs nothing, and the Buy Box stats agree with the
/// Buy Box.
#[tokio::test]
async fn answers_hold_what_keepa_says_they_hold() {
    let (_sim, addr) = spawn_sim(SimConfig::default()).await;
    let keepa_minute = |unix_ms: i64| unix_ms / 60_000 - 21_564_000;
    let list = asins(40)
        .iter()
        .map(Asin::to_string)
        .collect::<Vec<_>>()
        .join(",");

    // One day of history: every series starts with its value at the window's start.
    let url = format!("http://{addr}/product?key=k&domain=3&asin={list}&days=1&stats=1&buybox=1");
    let (status, _, body) = get_json(&url, false).await;
    assert_eq!(status, 200);
    let window_start = keepa_minute(body["timestamp"].as_i64().unwrap()) - 24 * 60;
    let mut listed = 0;
    for p in body["products"].as_array().unwrap() {
        if p["productType"] != 0 {
            continue;
        }
        listed += 1;
        for i in [1, 3, 11, 18, 34, 35] {
            let series = p["csv"][i].as_array().unwrap_or_else(|| {
                panic!("{}: csv[{i}] is empty with days=1", p["asin"]);
            });
            let first = series[0].as_i64().unwrap();
            assert!(
                first <= window_start + 60,
                "{}: csv[{i}] starts at {first}",
                p["asin"]
            );
            let stride = if i == 18 { 3 } else { 2 };
            let last = series[series.len() - stride + 1].as_i64().unwrap();
            let current = p["stats"]["current"][i].as_i64().unwrap();
            if i == 18 {
                let ship = series[series.len() - 1].as_i64().unwrap().max(0);
                assert_eq!(
                    if last < 0 { -1 } else { last + ship },
                    current,
                    "{}",
                    p["asin"]
                );
            } else {
                assert_eq!(last, current, "{}: csv[{i}]", p["asin"]);
            }
        }
        // The Buy Box stats agree with the Buy Box.
        let stats = &p["stats"];
        if let Some(holder) = stats["buyBoxSellerId"].as_str() {
            let held = &stats["buyBoxStats"][holder];
            assert_eq!(held["isFBA"], stats["buyBoxIsFBA"], "{}", p["asin"]);
        }
        for (seller, s) in stats["buyBoxStats"].as_object().unwrap() {
            assert!(
                s["avgPrice"].as_i64().unwrap() > 0,
                "{}: {seller}",
                p["asin"]
            );
            assert!(
                s["lastSeen"].as_i64().unwrap() > window_start,
                "{}: {seller}",
                p["asin"]
            );
        }
    }
    assert!(listed > 20, "only {listed} of 40 listed in DE");

    // `update=0` fetches the product now (and costs one more token).
    let url = format!("http://{addr}/product?key=k&domain=3&asin=B0D1XD1ZV3&update=0");
    let (_, _, body) = get_json(&url, false).await;
    let now = keepa_minute(body["timestamp"].as_i64().unwrap());
    assert_eq!(body["products"][0]["lastUpdate"].as_i64(), Some(now));
    assert_eq!(body["tokensConsumed"], 2);

    // A category with a list costs 50; one without answers with none, at no cost.
    for (category, list, cost, id) in [
        ("340843031", true, 50, 340_843_031),
        ("Consumer Electronics", true, 50, 0),
        ("562066", false, 0, 0),
        ("no such group", false, 0, 0),
    ] {
        let url = format!("http://{addr}/bestsellers?key=k&domain=3&category={category}");
        let (status, _, body) = get_json(&url, false).await;
        assert_eq!(status, 200, "{category}");
        assert_eq!(body["tokensConsumed"], cost, "{category}");
        assert_eq!(body.get("bestSellersList").is_some(), list, "{category}");
        if list {
            assert_eq!(body["bestSellersList"]["categoryId"], id, "{category}");
        }
    }
}

/// A product carries the fields Keepa sends beside the ones arbdesk reads (keepa-api.md §7,
/// §10): its category tree and sales ranks, the Buy Box sellers' history with `buybox=1`,
/// the rating histories with `rating=1` (one token more), and every `stats` field.
#[tokio::test]
async fn products_carry_the_fields_keepa_sends() {
    let (_sim, addr) = spawn_sim(SimConfig::default()).await;
    let list = asins(30)
        .iter()
        .map(Asin::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let url = format!(
        "http://{addr}/product?key=k&domain=4&asin={list}&days=30&stats=30&buybox=1&rating=1"
    );
    let (status, _, body) = get_json(&url, false).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["tokensConsumed"],
        30 * 4,
        "1 + 2 for the Buy Box + 1 for the rating"
    );
    let mut listed = 0;
    for p in body["products"].as_array().unwrap() {
        if p["productType"] != 0 {
            continue;
        }
        listed += 1;
        let asin = &p["asin"];
        let root = p["rootCategory"].as_i64().unwrap();
        let tree = p["categoryTree"].as_array().unwrap();
        assert_eq!(tree[0]["catId"].as_i64(), Some(root), "{asin}");
        assert_eq!(tree[1]["catId"], p["categories"][0], "{asin}");
        assert_eq!(p["salesRankReference"].as_i64(), Some(root), "{asin}");
        assert_eq!(p["salesRanks"][root.to_string()], p["csv"][3], "{asin}");
        assert!(
            p["listedSince"].as_i64() <= p["trackingSince"].as_i64(),
            "{asin}"
        );

        // Times and seller ids alternate, all strings; the last holder is the current one.
        let sellers: Vec<&str> = p["buyBoxSellerIdHistory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            sellers.len() >= 2 && sellers.len().is_multiple_of(2),
            "{asin}"
        );
        for pair in sellers.chunks(2) {
            assert!(pair[0].parse::<i64>().is_ok(), "{asin}: {pair:?}");
        }
        let stats = &p["stats"];
        let holder = stats["buyBoxSellerId"].as_str().unwrap_or("-1");
        assert_eq!(sellers[sellers.len() - 1], holder, "{asin}");

        // Rating 0–50 and a review count that never falls, both current in `stats`.
        for (i, range) in [(16, 0..=50), (17, 0..=i64::MAX)] {
            let series: Vec<i64> = p["csv"][i]
                .as_array()
                .unwrap_or_else(|| panic!("{asin}: csv[{i}] is empty with rating=1"))
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect();
            let values: Vec<i64> = series.iter().skip(1).step_by(2).copied().collect();
            assert!(
                values.iter().all(|v| range.contains(v)),
                "{asin}: {values:?}"
            );
            assert_eq!(Some(values[values.len() - 1]), stats["current"][i].as_i64());
            if i == 17 {
                assert!(
                    values.windows(2).all(|w| w[0] <= w[1]),
                    "{asin}: {values:?}"
                );
            }
        }

        for field in [
            "current",
            "avg",
            "avg30",
            "avg90",
            "avg180",
            "avg365",
            "atIntervalStart",
            "min",
            "max",
            "minInInterval",
            "maxInInterval",
            "isLowest",
            "isLowest90",
            "outOfStockPercentageInInterval",
            "outOfStockPercentage30",
            "outOfStockPercentage90",
        ] {
            assert_eq!(
                stats[field].as_array().map(Vec::len),
                Some(36),
                "{asin}: {field}"
            );
        }
        for field in [
            "outOfStockCountAmazon30",
            "outOfStockCountAmazon90",
            "salesRankDrops30",
            "salesRankDrops90",
            "salesRankDrops180",
            "salesRankDrops365",
            "lastBuyBoxUpdate",
            "totalOfferCount",
            "offerCountFBA",
            "offerCountFBM",
            "lastOffersUpdate",
        ] {
            assert!(stats[field].is_i64(), "{asin}: {field} = {}", stats[field]);
        }
        // Every series with a history has its figures: offer counts, the rating and the
        // review count as well as prices and the rank.
        for i in [0, 1, 3, 11, 16, 17, 18, 34, 35] {
            // Values at 1, 3, … of pairs; 1, 4, … of the Buy Box's triples.
            let stride = if i == 18 { 3 } else { 2 };
            let has_data = p["csv"][i].as_array().is_some_and(|a| {
                a.iter()
                    .skip(1)
                    .step_by(stride)
                    .any(|v| v.as_i64() >= Some(0))
            });
            if !has_data {
                continue;
            }
            // (A price may be out of stock, −1, at the interval's start.)
            let start = !matches!(i, 0 | 1 | 18);
            for field in ["avg", "avg30", "avg90", "atIntervalStart"]
                .into_iter()
                .filter(|f| start || *f != "atIntervalStart")
            {
                assert!(
                    stats[field][i].as_i64() >= Some(0),
                    "{asin}: {field}[{i}] = {}",
                    stats[field][i]
                );
            }
            for field in ["min", "max", "minInInterval", "maxInInterval"] {
                assert!(stats[field][i].is_array(), "{asin}: {field}[{i}]");
            }
        }
        // Out-of-stock shares are of prices only.
        for i in [3, 11, 16, 17, 34, 35] {
            assert_eq!(stats["outOfStockPercentage90"][i], -1, "{asin}: [{i}]");
        }
        // A value is the lowest exactly when it equals the all-time minimum.
        for i in [0, 1, 18] {
            let current = stats["current"][i].as_i64().unwrap();
            let lowest = stats["min"][i].get(1).and_then(Value::as_i64);
            assert_eq!(
                stats["isLowest"][i].as_bool(),
                Some(current >= 0 && Some(current) <= lowest),
                "{asin}: csv[{i}]"
            );
        }
        let drops = |f: &str| stats[f].as_i64().unwrap();
        assert!(
            drops("salesRankDrops30") <= drops("salesRankDrops90"),
            "{asin}"
        );
        assert!(
            drops("outOfStockCountAmazon30") <= drops("outOfStockCountAmazon90"),
            "{asin}"
        );
    }
    assert!(listed > 15, "only {listed} of 30 listed in FR");

    // Without `history`, no sales ranks either; without `buybox`, no sellers' history.
    let url = format!("http://{addr}/product?key=k&domain=4&asin={list}&history=0");
    let (_, _, body) = get_json(&url, false).await;
    for p in body["products"].as_array().unwrap() {
        assert!(
            p["csv"].is_null() && p["salesRanks"].is_null(),
            "{}",
            p["asin"]
        );
        assert!(p.get("buyBoxSellerIdHistory").is_none(), "{}", p["asin"]);
    }
}

/// `/category` with `parents=1` adds every node above the asked ones (`categoryParents`).
#[tokio::test]
async fn category_parents_are_listed_on_request() {
    let (_sim, addr) = spawn_sim(SimConfig::default()).await;
    let (root, name) = arbdesk::keepa::sim::ROOTS[1];
    let child = root * 10 + 3;
    let url = format!("http://{addr}/category?key=k&domain=3&category={child},{root}&parents=1");
    let (status, _, body) = get_json(&url, false).await;
    assert_eq!(status, 200);
    assert_eq!(body["tokensConsumed"], 1);
    let categories = body["categories"].as_object().unwrap();
    assert_eq!(categories.len(), 2, "{body}");
    assert_eq!(
        categories[&child.to_string()]["parent"].as_i64(),
        Some(root)
    );
    let parents = body["categoryParents"].as_object().unwrap();
    assert_eq!(parents.keys().collect::<Vec<_>>(), [&root.to_string()]);
    assert_eq!(parents[&root.to_string()]["name"], name);
    let url = format!("http://{addr}/category?key=k&domain=3&category={child}");
    let (_, _, body) = get_json(&url, false).await;
    assert!(body.get("categoryParents").is_none(), "{body}");
}

/// Keepa's own server errors are JSON with the envelope (keepa-api.md §4); a proxy's 502 is
/// not.
#[tokio::test]
async fn server_errors_carry_the_envelope() {
    let (sim, addr) = spawn_sim(SimConfig::default()).await;
    sim.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let resp = client
            .get(format!("http://{addr}/token?key=k"))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        if status == 502 {
            assert!(text.contains("Bad Gateway"), "{text}");
        } else {
            let body: Value = serde_json::from_str(&text).unwrap();
            assert!(body["error"]["type"].is_string(), "{body}");
            assert_envelope(&body);
        }
        seen.push(status);
    }
    seen.sort_unstable();
    assert_eq!(seen, [500, 502, 503]);
}
