//! The Keepa client against scripted answers (paused clock) and raw HTTP servers.

use std::io::Write;
use std::time::Duration;

use arbdesk::domain::{Asin, Market};
use arbdesk::keepa::transport::TransportError;
use arbdesk::keepa::{Error, KeepaClient, ProductQuery};

use super::util::*;

fn query(n: usize) -> ProductQuery {
    let asins: Vec<Asin> = (0..n)
        .map(|i| format!("B0TEST{i:04}").parse().unwrap())
        .collect();
    ProductQuery::new(Market::DE, asins)
}

fn assert_no_key(text: &str) {
    assert!(
        !text.contains(SECRET_KEY),
        "the API key leaked into: {text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_waits_the_refill_from_its_body_then_succeeds() {
    let (client, t) = scripted_client(vec![
        Step::Http(200, envelope(100, 1_000, 20, "")),
        Step::Http(429, envelope(0, 38_205, 20, "")),
        Step::Http(
            200,
            envelope(19, 60_000, 20, &product_payload("B0TEST0000")),
        ),
    ]);
    let batch = client.products(&query(1)).await.unwrap();
    assert_eq!(batch.products.len(), 1);
    assert_eq!(t.paths(), ["/token", "/product", "/product"]);
    let times = t.times();
    // One token is needed: the first refill, 38.205 s away, plus a second of margin.
    assert_eq!(times[2] - times[1], Duration::from_millis(39_205));
    let st = client.status();
    assert_eq!((st.rate_limited, st.errors), (1, 0));
    assert_eq!(st.tokens_left, Some(19));
}

#[tokio::test(start_paused = true)]
async fn payment_required_is_final_typed_and_stops_traffic() {
    let (client, t) = scripted_client(vec![
        Step::Http(200, envelope(100, 1_000, 20, "")),
        Step::Http(
            402,
            envelope(
                100,
                1_000,
                20,
                r#""error":{"type":"paymentRequired","message":"No subscription"}"#,
            ),
        ),
    ]);
    let err = client.products(&query(3)).await.unwrap_err();
    assert_eq!(err, Error::Payment);
    assert_eq!(t.paths().len(), 2, "402 is not retried");
    assert_no_key(&err.to_string());
    // Every later call fails at once, without traffic.
    let again = client.products(&query(1)).await.unwrap_err();
    assert!(matches!(again, Error::Stopped { .. }), "{again:?}");
    assert_eq!(t.paths().len(), 2);
    assert!(client.status().stopped.is_some());
}

#[tokio::test(start_paused = true)]
async fn an_invalid_key_is_an_auth_error_without_the_key() {
    let body = format!(
        r#"{{"timestamp":1,"tokensLeft":0,"refillIn":0,"refillRate":0,"error":{{"type":"invalidKey","message":"Invalid access key {SECRET_KEY}"}}}}"#
    );
    let (client, t) = scripted_client(vec![Step::Http(400, body)]);
    let err = client.token().await.unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    assert_eq!(t.paths().len(), 1, "400 is not retried");
    assert_no_key(&err.to_string());
    assert_no_key(&format!("{err:?}"));
    assert_no_key(&format!("{client:?}"));
    assert_no_key(&format!("{:?}", client.status()));
    assert!(
        err.to_string().contains("KEEPA_API_KEY"),
        "the message says what to do: {err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_bad_parameter_is_a_bad_request_not_retried() {
    let (client, t) = scripted_client(vec![
        Step::Http(200, envelope(100, 1_000, 20, "")),
        Step::Http(
            400,
            envelope(
                100,
                1_000,
                20,
                r#""error":{"type":"invalidParameter","message":"You used an invalid parameter"}"#,
            ),
        ),
    ]);
    let err = client.products(&query(1)).await.unwrap_err();
    assert!(
        matches!(err, Error::BadRequest { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(t.paths().len(), 2);
    assert!(
        client.status().stopped.is_none(),
        "a bad parameter does not stop traffic"
    );
}

#[tokio::test(start_paused = true)]
async fn server_errors_retry_with_backoff_then_succeed() {
    let (client, t) = scripted_client(vec![
        Step::Http(200, envelope(100, 1_000, 20, "")),
        Step::Http(500, "oops".into()),
        Step::Http(503, "<html>busy</html>".into()),
        Step::Http(200, envelope(97, 1_000, 20, &product_payload("B0TEST0000"))),
    ]);
    client.products(&query(1)).await.unwrap();
    let times = t.times();
    let first = times[2] - times[1];
    let second = times[3] - times[2];
    // 1 s then 2 s, each ±20 %.
    assert!(
        first >= Duration::from_millis(800) && first <= Duration::from_millis(1200),
        "{first:?}"
    );
    assert!(
        second >= Duration::from_millis(1600) && second <= Duration::from_millis(2400),
        "{second:?}"
    );
    assert_eq!(client.status().errors, 2);
}

#[tokio::test(start_paused = true)]
async fn retries_are_capped_at_five_attempts() {
    let mut steps = vec![Step::Http(200, envelope(100, 1_000, 20, ""))];
    steps.extend(
        (0..5).map(|_| Step::Fail(TransportError::Connect("connection reset by peer".into()))),
    );
    let (client, t) = scripted_client(steps);
    let err = client.products(&query(1)).await.unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { attempts: 5, .. }),
        "{err:?}"
    );
    assert_eq!(t.paths().len(), 6);
    assert!(err.to_string().contains("connection reset"), "{err}");
}

/// A request that never reached Keepa (no connection) cost nothing: its reserved tokens
/// go back, so a small plan does not wait for tokens it still has.
#[tokio::test(start_paused = true)]
async fn a_request_never_sent_gives_its_tokens_back() {
    let (client, t) = scripted_client(vec![
        Step::Http(200, envelope(100, 60_000, 20, "")),
        Step::Fail(TransportError::Connect("connection refused".into())),
        Step::Fail(TransportError::Connect("connection refused".into())),
        Step::Http(
            200,
            envelope(60, 60_000, 20, &product_payload("B0TEST0000")),
        ),
    ]);
    let before = client.status();
    client.products(&query(40)).await.unwrap();
    assert_eq!(t.paths().len(), 4);
    // 100 tokens, 40 a request: three reservations of 40 would have waited for a refill
    // (a minute away) before the third attempt.
    let times = t.times();
    assert!(
        times[3] - times[1] < Duration::from_secs(10),
        "no wait for tokens: {:?}",
        times[3] - times[1]
    );
    let st = client.status();
    assert_eq!((before.errors, st.errors), (0, 2));
    assert!(st.failing_since.is_none(), "a success ends the failing");
}

/// A fetch keeps what arrived when a market's request fails for good, and names the market.
#[tokio::test(start_paused = true)]
async fn a_failed_market_keeps_the_listings_of_the_others() {
    use arbdesk::commands::keepa::fetch_listings;
    let mut steps = vec![
        Step::Http(200, envelope(100, 1_000, 20, "")),
        Step::Http(200, envelope(99, 1_000, 20, &product_payload("B0TEST0000"))),
    ];
    steps.extend((0..5).map(|_| Step::Http(503, "busy".into())));
    let (client, _t) = scripted_client(steps);
    let asins: Vec<Asin> = vec!["B0TEST0000".parse().unwrap()];
    let got = fetch_listings(&client, &asins, &[Market::DE, Market::FR], false).await;
    assert_eq!(got.listings.len(), 1);
    assert_eq!(got.listings[0].asin, asins[0]);
    assert_eq!(got.failed.len(), 1);
    assert_eq!(got.failed[0].0, Market::FR);
    assert!(
        format!("{:#}", got.failed[0].1).contains("in FR failed"),
        "{:#}",
        got.failed[0].1
    );
}

/// A request Keepa refuses (a 4xx) is an error in the counts `/health` reads, not only
/// the last error's text.
#[tokio::test(start_paused = true)]
async fn a_refused_request_counts_as_an_error() {
    let (client, _t) = scripted_client(vec![
        Step::Http(200, envelope(100, 1_000, 20, "")),
        Step::Http(404, "<html>not found</html>".into()),
    ]);
    let err = client.products(&query(1)).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("https://api.keepa.com/product answered HTTP 404"),
        "the URL asked, without the key: {err}"
    );
    assert_no_key(&err.to_string());
    let st = client.status();
    assert_eq!(st.errors, 1);
    assert!(st.failing_since.is_some());
    assert!(st.last_success.is_some(), "the /token answer succeeded");
}

/// A base URL with a path (a proxy's prefix) keeps it, with or without its trailing slash.
#[tokio::test(start_paused = true)]
async fn a_base_url_path_is_kept() {
    for base in [
        "https://proxy.example/keepa",
        "https://proxy.example/keepa/",
    ] {
        let t = Scripted::new(vec![Step::Http(200, envelope(100, 1_000, 20, ""))]);
        let client = KeepaClient::with_transport(config(base), std::sync::Arc::new(t.clone()));
        client.token().await.unwrap();
        assert_eq!(t.paths(), ["/keepa/token"], "{base}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_truncated_body_is_retried_and_never_updates_the_token_state() {
    let good = envelope(42, 1_000, 20, &product_payload("B0TEST0000"));
    let truncated = good[..good.len() / 2].to_string();
    let (client, t) = scripted_client(vec![
        Step::Http(200, envelope(100, 1_000, 20, "")),
        Step::Http(200, truncated),
        Step::Http(200, good),
    ]);
    let before = client.status().tokens_left;
    assert_eq!(before, None);
    client.products(&query(1)).await.unwrap();
    assert_eq!(t.paths().len(), 3);
    assert_eq!(client.status().errors, 1);
    assert_eq!(client.status().tokens_left, Some(42));
}

#[tokio::test(start_paused = true)]
async fn a_negative_balance_is_waited_out_before_the_next_request() {
    let (client, t) = scripted_client(vec![
        Step::Http(200, envelope(5, 10_000, 20, "")),
        // 5 tokens left, the request costs 20 (buybox): it runs, Keepa reports -15... and
        // then another -50 from some other consumer of the key.
        Step::Http(
            200,
            envelope(-50, 10_000, 20, &product_payload("B0TEST0000")),
        ),
        Step::Http(200, envelope(0, 60_000, 20, &product_payload("B0TEST0001"))),
    ]);
    let mut q = query(1);
    q.buybox = true;
    client.products(&q).await.unwrap();
    client.products(&query(1)).await.unwrap();
    let times = t.times();
    // From -50, one token needs ceil(51 / 20) = 3 refills: 10 s, +60 s, +60 s, +1 s.
    assert_eq!(times[2] - times[1], Duration::from_secs(131));
    assert_eq!(client.status().tokens_left, Some(0));
}

#[tokio::test(start_paused = true)]
async fn larger_requests_are_split_into_batches_of_one_hundred() {
    let (client, t) = scripted_client(vec![
        Step::Http(200, envelope(1000, 1_000, 20, "")),
        Step::Http(200, envelope(900, 1_000, 20, r#""products":[]"#)),
        Step::Http(200, envelope(800, 1_000, 20, r#""products":[]"#)),
        Step::Http(200, envelope(750, 1_000, 20, r#""products":[]"#)),
    ]);
    let results = client.products_chunked(&query(250)).await;
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(t.paths().len(), 4);
    let err = client.products(&query(101)).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)));
}

// ---- Over real sockets, through reqwest ----

fn real_client(addr: std::net::SocketAddr) -> KeepaClient {
    let mut cfg = config(&format!("http://{addr}/"));
    cfg.retry = fast_retry();
    cfg.timeout = Duration::from_secs(5);
    KeepaClient::new(cfg).unwrap()
}

#[tokio::test]
async fn a_gzip_body_is_decoded() {
    let body = envelope(77, 5_000, 20, "");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let resp = http_response(
        "200 OK",
        &[
            ("content-type", "application/json".into()),
            ("content-encoding", "gzip".into()),
            ("content-length", gz.len().to_string()),
        ],
        &gz,
    );
    let addr = raw_server(vec![resp]).await;
    let env = real_client(addr).token().await.unwrap();
    assert_eq!(env.tokens_left, 77);
}

#[tokio::test]
async fn a_body_cut_short_on_the_wire_is_retried() {
    let good = envelope(12, 5_000, 20, "");
    let cut = http_response(
        "200 OK",
        &[("content-length", "4000".into())],
        &good.as_bytes()[..20],
    );
    let ok = http_response(
        "200 OK",
        &[("content-length", good.len().to_string())],
        good.as_bytes(),
    );
    let addr = raw_server(vec![cut, ok]).await;
    let client = real_client(addr);
    let env = client.token().await.unwrap();
    assert_eq!(env.tokens_left, 12);
    assert_eq!(client.status().errors, 1);
}

#[tokio::test]
async fn a_dead_server_gives_a_typed_error_without_the_key() {
    // Bind and drop to get a port nobody listens on.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let client = real_client(addr);
    let err = client.token().await.unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { attempts: 5, .. }),
        "{err:?}"
    );
    assert_no_key(&err.to_string());
    assert_no_key(&format!("{err:?}"));
    assert_no_key(client.status().last_error.as_deref().unwrap_or(""));
}

#[tokio::test]
async fn the_client_is_shareable_across_tasks() {
    let sim = arbdesk::keepa::sim::Simulator::new(Default::default());
    let client = KeepaClient::with_transport(config("http://sim.invalid/"), sim.transport());
    let tasks: Vec<_> = Market::ALL
        .into_iter()
        .map(|m| {
            let c = client.clone();
            tokio::spawn(async move {
                let q = ProductQuery::new(m, vec!["B0D1XD1ZV3".parse().unwrap()]);
                c.products(&q).await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().products.len(), 1);
    }
}

/// A 429 is a spent balance whatever its body says (keepa-api.md §5): one that reports
/// tokens left is waited out like any other, not asked again at once.
#[tokio::test(start_paused = true)]
async fn a_429_that_reports_tokens_left_still_waits_for_the_refill() {
    let (client, t) = scripted_client(vec![
        Step::Http(200, envelope(100, 1_000, 20, "")),
        Step::Http(429, envelope(500, 20_000, 20, "")),
        Step::Http(
            200,
            envelope(19, 60_000, 20, &product_payload("B0TEST0000")),
        ),
    ]);
    let batch = client.products(&query(1)).await.unwrap();
    assert_eq!(batch.products.len(), 1);
    let times = t.times();
    assert_eq!(t.paths().len(), 3);
    // The balance taken as 0, one token comes at the next refill: 20 s away.
    assert!(
        times[2] - times[1] >= Duration::from_secs(20),
        "asked again after {:?}",
        times[2] - times[1]
    );
}

/// A 200 whose token fields are missing (or not numbers) keeps its products: the answer
/// is used, the token balance stays the client's own estimate.
#[tokio::test(start_paused = true)]
async fn an_answer_without_token_fields_keeps_its_products() {
    let products = product_payload("B0TEST0000");
    let (client, t) = scripted_client(vec![
        Step::Http(200, envelope(100, 1_000, 20, "")),
        Step::Http(
            200,
            format!(r#"{{"timestamp":1795586403000,"refillRate":"20",{products}}}"#),
        ),
    ]);
    let batch = client.products(&query(1)).await.unwrap();
    assert_eq!(batch.products.len(), 1);
    assert_eq!(t.paths().len(), 2, "not retried");
    let st = client.status();
    assert_eq!(st.errors, 0);
    assert_eq!(
        st.tokens_left,
        Some(99),
        "the estimate after spending one token"
    );
    assert_eq!(st.refill_rate, Some(20));
    // Not JSON at all is still a failure, and says where it broke.
    let (client, _) = scripted_client(vec![
        Step::Http(200, envelope(100, 1_000, 20, "")),
        Step::Http(200, "<html>proxy error</html>".into()),
        Step::Http(200, "<html>proxy error</html>".into()),
        Step::Http(200, "<html>proxy error</html>".into()),
        Step::Http(200, "<html>proxy error</html>".into()),
        Step::Http(200, "<html>proxy error</html>".into()),
    ]);
    let err = client.products(&query(1)).await.unwrap_err().to_string();
    assert!(
        err.contains("unparseable response body") && err.contains("line 1"),
        "{err}"
    );
}

/// 401 and 403 refuse the key: not retried, traffic stops, and the message says what to
/// do (Keepa's own message, not its JSON).
#[tokio::test(start_paused = true)]
async fn a_forbidden_answer_stops_traffic_with_keepas_message() {
    let (client, t) = scripted_client(vec![
        Step::Http(200, envelope(100, 1_000, 20, "")),
        Step::Http(
            403,
            envelope(
                100,
                1_000,
                20,
                r#""error":{"type":"forbidden","message":"Access denied for this key"}"#,
            ),
        ),
    ]);
    let err = client.products(&query(1)).await.unwrap_err();
    assert!(matches!(err, Error::Auth { status: 403, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("Access denied for this key"), "{text}");
    assert!(!text.contains("tokensLeft"), "{text}");
    assert!(text.contains("start arbdesk again"), "{text}");
    assert_eq!(t.paths().len(), 2, "not retried");
    assert!(client.status().stopped.is_some());
}

/// A `null` among the best sellers costs that entry, not the list the request paid for.
#[tokio::test(start_paused = true)]
async fn a_null_in_a_best_seller_list_is_left_out() {
    let list = r#""bestSellersList":{"domainId":3,"lastUpdate":8362380,"categoryId":562066,"asinList":["B0TEST0001",null,"B0TEST0002",7]}"#;
    let (client, _) = scripted_client(vec![
        Step::Http(200, envelope(100, 1_000, 20, "")),
        Step::Http(200, envelope(50, 1_000, 20, list)),
    ]);
    let found = client.bestsellers(Market::DE, "562066", 0).await.unwrap();
    let asins: Vec<String> = found.asins.iter().map(ToString::to_string).collect();
    assert_eq!(asins, ["B0TEST0001", "B0TEST0002"]);
}

/// A category without a best-seller list answers with none, at no cost (keepa-api.md
/// §2.3): an empty list, and not counted as a token estimate that was off.
#[tokio::test(start_paused = true)]
async fn a_category_without_a_list_costs_nothing_and_is_no_misestimate() {
    let none = r#"{"timestamp":1795586403000,"tokensLeft":100,"refillIn":1000,"refillRate":20,"tokenFlowReduction":0.0,"tokensConsumed":0,"processingTimeInMs":5}"#;
    let (client, _) = scripted_client(vec![
        Step::Http(200, envelope(100, 1_000, 20, "")),
        Step::Http(200, none.to_string()),
    ]);
    client.token().await.unwrap();
    let drift = client.status().estimator_drift;
    let found = client.bestsellers(Market::DE, "562066", 0).await.unwrap();
    assert!(found.asins.is_empty() && !found.listed);
    assert_eq!(client.status().estimator_drift, drift);
    assert_eq!(client.status().tokens_left, Some(100));
}

/// A server error's body, when it is an envelope, still says what the balance is.
#[tokio::test(start_paused = true)]
async fn a_server_errors_envelope_updates_the_token_state() {
    let mut steps = vec![Step::Http(200, envelope(100, 1_000, 20, ""))];
    steps.extend((0..5).map(|_| Step::Http(503, envelope(859, 1_000, 20, ""))));
    let (client, t) = scripted_client(steps);
    let q = query(1);
    assert!(client.products(&q).await.is_err());
    assert_eq!(t.paths().len(), 6, "five attempts");
    assert_eq!(
        client.status().tokens_left,
        Some(859),
        "the server's count, not 95"
    );
}

/// `/token` is asked for the token state only: an answer without it is a failure that
/// names what is missing, not a plan that refills nothing.
#[tokio::test(start_paused = true)]
async fn a_token_answer_without_token_fields_is_a_failure() {
    let steps = (0..5)
        .map(|_| Step::Http(200, r#"{"timestamp":1795586403000}"#.into()))
        .collect();
    let (client, t) = scripted_client(steps);
    let err = client.token().await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("tokensLeft"), "{err}");
    assert_eq!(t.paths().len(), 5, "retried as an unparseable answer");
}

/// A 429 announcing a refill "now" (or in the past) waits a minute, Keepa's refill period,
/// rather than asking again at once against a spent balance.
#[tokio::test(start_paused = true)]
async fn a_429_without_a_future_refill_waits_a_minute() {
    let (client, t) = scripted_client(vec![
        Step::Http(200, envelope(100, 1_000, 20, "")),
        Step::Http(429, envelope(0, 0, 20, "")),
        Step::Http(
            200,
            envelope(19, 60_000, 20, &product_payload("B0TEST0000")),
        ),
    ]);
    client.products(&query(1)).await.unwrap();
    let times = t.times();
    assert!(
        times[2] - times[1] >= Duration::from_secs(60),
        "asked again after {:?}",
        times[2] - times[1]
    );
}

/// A 429 whose envelope leaves no refill (a rate of 0, or all of it held back) is the
/// plan's end, said as such: not `/token` and the request again, at once, dozens of times.
#[tokio::test(start_paused = true)]
async fn a_429_that_leaves_no_refill_is_no_refill_not_a_loop() {
    let held_back = envelope(-500, 30_000, 20, "")
        .replace("\"tokenFlowReduction\":0.0", "\"tokenFlowReduction\":19.5");
    for (answer, said) in [
        (
            envelope(-500, 30_000, 0, ""),
            "refills 0 tokens per minute;",
        ),
        (
            held_back,
            "refills 20 tokens per minute, less 19.5 a minute Keepa holds back (tokenFlowReduction), which leaves less than one",
        ),
    ] {
        let (client, t) = scripted_client(vec![
            Step::Http(200, envelope(1_000, 1_000, 20, "")),
            Step::Http(429, answer),
            Step::Http(200, envelope(1_000, 1_000, 20, "")),
            Step::Http(
                200,
                envelope(19, 60_000, 20, &product_payload("B0TEST0000")),
            ),
        ]);
        let err = client.products(&query(1)).await.unwrap_err();
        assert!(matches!(err, Error::NoRefill { .. }), "{err:?}");
        assert!(err.to_string().contains(said), "{err}");
        assert_eq!(
            t.paths(),
            ["/token", "/product"],
            "asked once, then stopped"
        );
    }
}

/// A transport that answers a tenth of a second late, so that requests overlap.
struct Slow(Scripted);

impl arbdesk::keepa::transport::Transport for Slow {
    fn get<'a>(&'a self, url: &'a url::Url) -> arbdesk::keepa::transport::TransportFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            self.0.get(url).await
        })
    }
}

/// The start-up check and the first refresh both need the token balance: asked at the same
/// time, they share one `/token` request.
#[tokio::test(start_paused = true)]
async fn the_token_balance_asked_twice_at_once_is_one_request() {
    let t = Scripted::new(vec![
        Step::Http(200, envelope(100, 1_000, 20, "")),
        Step::Http(
            200,
            envelope(99, 60_000, 20, &product_payload("B0TEST0000")),
        ),
    ]);
    let client = KeepaClient::with_transport(
        config("https://api.keepa.com"),
        std::sync::Arc::new(Slow(t.clone())),
    );
    let q = query(1);
    let (seeded, batch) = tokio::join!(client.seed(), client.products(&q));
    seeded.unwrap();
    assert_eq!(batch.unwrap().products.len(), 1);
    assert_eq!(t.paths(), ["/token", "/product"]);
    // Seeded already: asking again sends nothing.
    client.seed().await.unwrap();
    assert_eq!(t.paths().len(), 2);
}
