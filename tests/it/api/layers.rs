//! The layers around the handlers: bearer auth, CORS, gzip, timeouts, the bind rule.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use arbdesk::api::{ApiSettings, BearerToken, check_bind, serve};
use axum::body::Body;
use axum::http::Request;

use super::fixture::{Double, api_over, get, seeded_store, send};

fn with_token(uri: &str, token: &str) -> Request<Body> {
    Request::get(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn a_configured_token_is_required_except_on_health_and_docs() {
    let dir = tempfile::tempdir().unwrap();
    let settings = ApiSettings {
        bearer_token: Some(BearerToken::new("s3cret-token").unwrap()),
        ..ApiSettings::default()
    };
    assert!(
        !format!("{settings:?}").contains("s3cret"),
        "Debug redacts the token"
    );
    let api = api_over(seeded_store(&dir).await, settings);

    let r = get(&api.app, "/opportunities").await;
    let p = r.problem(401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"arbdesk\"")
    );
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer")
    );
    let r = send(&api.app, with_token("/opportunities", "s3cret-tokem")).await;
    r.problem(401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"arbdesk\", error=\"invalid_token\"")
    );
    let r = send(
        &api.app,
        Request::get("/stats")
            .header("authorization", "Basic czNjcmV0LXRva2Vu")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    r.problem(401);
    for uri in ["/opportunities", "/products", "/stats", "/metrics"] {
        let r = send(&api.app, with_token(uri, "s3cret-token")).await;
        assert_eq!(r.status, 200, "{uri}: {}", r.text());
    }
    get(&api.app, "/metrics").await.problem(401);
    for open in ["/health", "/docs", "/openapi.json"] {
        assert_eq!(get(&api.app, open).await.status, 200, "{open}");
    }
    // Health tells a probe the status; its details (paths, token balance) need the token.
    let open = get(&api.app, "/health").await.json();
    assert_eq!(open["status"], "ok", "{open}");
    assert_eq!(open["components"]["store"]["status"], "ok", "{open}");
    assert_eq!(
        open["components"]["store"]["detail"], "details need the API token",
        "{open}"
    );
    assert!(
        open["components"]["store"]["latency_ms"].is_null(),
        "{open}"
    );
    let full = send(&api.app, with_token("/health", "s3cret-token"))
        .await
        .json();
    assert_eq!(full["components"]["store"]["status"], "ok", "{full}");
    // The contract says which operations need the token.
    let doc = get(&api.app, "/openapi.json").await.json();
    for (path, method) in [
        ("/opportunities", "get"),
        ("/stats", "get"),
        ("/metrics", "get"),
        ("/jobs/{name}", "post"),
    ] {
        let op = &doc["paths"][path][method];
        assert_eq!(op["security"][0]["bearer"], serde_json::json!([]), "{path}");
        assert!(op["responses"]["401"].is_object(), "{path}");
    }
    for path in ["/health", "/docs", "/openapi.json"] {
        assert!(
            doc["paths"][path]["get"].get("security").is_none(),
            "{path}"
        );
    }
    // What the middleware answers anywhere is in the contract too: 403 for a Host it does
    // not serve, 406 for an Accept it cannot meet (the docs page's HTML included).
    for (path, item) in doc["paths"].as_object().unwrap() {
        for op in item.as_object().unwrap().values() {
            assert!(op["responses"]["403"].is_object(), "{path}");
            assert!(op["responses"]["406"].is_object(), "{path}");
        }
    }
    // Failed logins are counted like any answer.
    let m = send(&api.app, with_token("/metrics", "s3cret-token"))
        .await
        .text();
    assert!(
        m.contains("arbdesk_http_requests_total{route=\"/opportunities\",status=\"401\"} 2"),
        "{m}"
    );
}

/// Without a token, a request naming another host (a DNS-rebinding page) is refused; the
/// server's own addresses, localhost and `api.allowed_hosts` are answered.
#[tokio::test]
async fn without_a_token_other_host_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let settings = ApiSettings {
        allowed_hosts: vec!["arbdesk.lan".into()],
        ..ApiSettings::default()
    };
    let api = api_over(seeded_store(&dir).await, settings);
    let with_host = |host: &str| {
        Request::get("/opportunities?limit=1")
            .header("host", host)
            .body(Body::empty())
            .unwrap()
    };
    let r = send(&api.app, with_host("rebind.evil.example")).await;
    let p = r.problem(403);
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("'rebind.evil.example'") && detail.contains("api.allowed_hosts"),
        "{detail}"
    );
    for host in ["127.0.0.1:8000", "localhost:8000", "arbdesk.lan:8000"] {
        assert_eq!(send(&api.app, with_host(host)).await.status, 200, "{host}");
    }
    // Two Host headers, an allowed one first: no one host, a 400 (RFC 9112 §3.2).
    let two = Request::get("/opportunities?limit=1")
        .header("host", "localhost:8000")
        .header("host", "rebind.evil.example")
        .body(Body::empty())
        .unwrap();
    let p = send(&api.app, two).await.problem(400);
    assert!(
        p["detail"].as_str().unwrap().contains("more than one Host"),
        "{p}"
    );
    // Two Authorization headers: no one credential either (whatever the server's token).
    let two = Request::get("/opportunities?limit=1")
        .header("authorization", "Bearer right")
        .header("authorization", "Bearer wrong")
        .body(Body::empty())
        .unwrap();
    let p = send(&api.app, two).await.problem(400);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("more than one Authorization header"),
        "{p}"
    );
}

#[tokio::test]
async fn cors_follows_the_allow_list() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(&dir).await;
    let origin = |o: &str| {
        Request::get("/opportunities")
            .header("origin", o)
            .body(Body::empty())
            .unwrap()
    };

    // No origins configured: no CORS headers at all.
    let none = api_over(store.clone(), ApiSettings::default());
    let r = send(&none.app, origin("https://dash.example.com")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);

    let settings = ApiSettings {
        cors_origins: vec!["https://dash.example.com".into()],
        bearer_token: Some(BearerToken::new("tok").unwrap()),
        ..ApiSettings::default()
    };
    let api = api_over(store, settings);
    let r = send(
        &api.app,
        Request::get("/opportunities")
            .header("origin", "https://dash.example.com")
            .header("authorization", "Bearer tok")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://dash.example.com")
    );
    let r = send(&api.app, origin("https://evil.example.com")).await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    // A 401 still carries CORS headers, so the browser app can read why.
    let r = send(&api.app, origin("https://dash.example.com")).await;
    r.problem(401);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://dash.example.com")
    );
    // A preflight needs no token.
    let r = send(
        &api.app,
        Request::options("/opportunities")
            .header("origin", "https://dash.example.com")
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("access-control-allow-methods")
            .unwrap()
            .contains("GET")
    );
    assert!(
        r.header("access-control-allow-headers")
            .unwrap()
            .contains("authorization")
    );
}

/// `POST /jobs/{name}` starts a job for the command line, other programs, the server's own
/// pages and the configured origins, and refuses a web page from anywhere else (browsers
/// send a form's POST to a loopback server without asking, but always say where it came
/// from). Preflights allow POST for the configured origins; a wrong method names POST.
#[tokio::test]
async fn jobs_start_from_allowed_origins_only() {
    let dir = tempfile::tempdir().unwrap();
    let settings = ApiSettings {
        cors_origins: vec!["https://dash.example.com".into()],
        ..ApiSettings::default()
    };
    let api = api_over(seeded_store(&dir).await, settings);
    // A process without the ingest role runs no jobs, now or later: a conflict, not a
    // 503 to retry.
    let r = send(
        &api.app,
        Request::post("/jobs/discovery")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let p = r.problem(409);
    assert_eq!(r.header("retry-after"), None);
    assert_eq!(p["type"], "/docs#problem-conflict");
    assert!(p["detail"].as_str().unwrap().contains("ingest"), "{p}");
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let app = arbdesk::api::router(api.state.clone().with_commands(tx.clone()));
    let post = |origin: Option<&str>| {
        let mut r = Request::post("/jobs/discovery").header("host", "127.0.0.1:8000");
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.body(Body::empty()).unwrap()
    };
    for (i, origin) in [
        None,
        Some("https://dash.example.com"),
        Some("http://127.0.0.1:8000"),
    ]
    .into_iter()
    .enumerate()
    {
        let r = send(&app, post(origin)).await;
        assert_eq!(r.status, 202, "{origin:?}: {}", r.text());
        assert_eq!(r.json()["status"], "queued");
        if i > 0 {
            // The run queued first is still waiting to be taken: a request joins it, and
            // says so.
            let detail = r.json()["detail"].as_str().unwrap_or_default().to_string();
            assert!(detail.ends_with("this request joins it"), "{detail}");
        }
    }
    assert_eq!(rx.try_recv().unwrap(), arbdesk::pipeline::Command::Discover);
    assert!(rx.try_recv().is_err(), "queued once");
    let r = send(&app, post(Some("https://evil.example"))).await;
    let p = r.problem(403);
    assert!(
        p["detail"].as_str().unwrap().contains("api.cors_origins"),
        "{p}"
    );
    assert!(rx.try_recv().is_err(), "a refused job is not queued");
    // A read-only server starts no job.
    let ro_dir = tempfile::tempdir().unwrap();
    let ro = api_over(
        seeded_store(&ro_dir).await,
        ApiSettings {
            read_only: true,
            ..ApiSettings::default()
        },
    );
    let ro = arbdesk::api::router(ro.state.clone().with_commands(tx.clone()));
    let p = send(&ro, post(None)).await.problem(403);
    assert!(p["detail"].as_str().unwrap().contains("read-only"), "{p}");
    assert!(rx.try_recv().is_err(), "a refused job is not queued");

    let r = send(
        &app,
        Request::options("/jobs/discovery")
            .header("origin", "https://dash.example.com")
            .header("access-control-request-method", "POST")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(
        r.header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    let r = send(
        &app,
        Request::put("/jobs/discovery").body(Body::empty()).unwrap(),
    )
    .await;
    let p = r.problem(405);
    assert!(p["detail"].as_str().unwrap().ends_with("use POST"), "{p}");
}

#[tokio::test]
async fn bodies_are_gzipped_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let api = api_over(seeded_store(&dir).await, ApiSettings::default());
    let plain = get(&api.app, "/opportunities?breakdown=true").await;
    let gz = |uri: &str| {
        Request::get(uri)
            .header("accept-encoding", "gzip, br")
            .body(Body::empty())
            .unwrap()
    };
    for uri in ["/opportunities?breakdown=true", "/stats", "/openapi.json"] {
        let r = send(&api.app, gz(uri)).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), Some("gzip"), "{uri}");
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&r.body[..])
            .read_to_end(&mut out)
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        if uri.starts_with("/opportunities") {
            assert_eq!(out, plain.body.to_vec(), "same bytes, compressed");
            assert_eq!(v["total"], 3);
        }
    }
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("accept-encoding"));
}

/// A body that stops arriving is the client's doing: 408, not the server's 503.
#[tokio::test]
async fn a_body_that_never_arrives_is_a_request_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let settings = ApiSettings {
        request_timeout: Duration::from_millis(100),
        ..ApiSettings::default()
    };
    let api = api_over(seeded_store(&dir).await, settings);
    let (tx, _rx) = tokio::sync::mpsc::channel(8);
    let app = arbdesk::api::router(api.state.clone().with_commands(tx));
    // Part of a body, then nothing (the sender is kept, so the stream never ends).
    let (chunks, body) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
    chunks
        .send(Ok(axum::body::Bytes::from_static(b"{\"args\":")))
        .await
        .unwrap();
    let stream = futures_util::stream::unfold(body, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let r = send(
        &app,
        Request::post("/actions/watch")
            .header("content-type", "application/json")
            .header("content-length", "100")
            .body(Body::from_stream(stream))
            .unwrap(),
    )
    .await;
    let p = r.problem(408);
    assert_eq!(p["type"], "/docs#problem-request-timeout", "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("request body did not arrive"),
        "{p}"
    );
    drop(chunks);
}

#[tokio::test]
async fn a_slow_store_is_cut_off_by_the_request_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let slow = Arc::new(Double::new(
        seeded_store(&dir).await,
        Duration::from_secs(5),
    ));
    let settings = ApiSettings {
        request_timeout: Duration::from_millis(100),
        ..ApiSettings::default()
    };
    let api = api_over(slow, settings);
    let started = std::time::Instant::now();
    let p = get(&api.app, "/opportunities").await.problem(503);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("did not finish within 0.1 s"),
        "{p}"
    );
}

#[tokio::test]
async fn binding_beyond_loopback_needs_a_token() {
    let mut s = ApiSettings::default();
    assert_eq!(s.addr.to_string(), "127.0.0.1:8000");
    assert!(check_bind(&s).is_ok());
    // Loopback written as IPv6 is loopback; IPv4 mapped beyond it is not.
    s.addr = "[::ffff:127.0.0.1]:8000".parse().unwrap();
    assert!(check_bind(&s).is_ok());
    s.addr = "[::ffff:10.0.0.1]:8000".parse().unwrap();
    assert!(check_bind(&s).is_err());
    s.addr = "0.0.0.0:8000".parse().unwrap();
    let msg = check_bind(&s).unwrap_err();
    for part in [
        "0.0.0.0:8000",
        "api.token",
        "ARBDESK_API_TOKEN",
        "--insecure-no-auth",
    ] {
        assert!(msg.contains(part), "{msg:?} lacks {part}");
    }
    s.bearer_token = Some(BearerToken::new("tok").unwrap());
    let msg = check_bind(&s).unwrap_err();
    assert!(
        msg.contains("a token of 3 characters") && msg.contains("at least 16"),
        "{msg}"
    );
    s.bearer_token = Some(BearerToken::new("0123456789abcdef").unwrap());
    assert!(check_bind(&s).is_ok());
    s.bearer_token = None;
    s.insecure_no_auth = true;
    assert!(check_bind(&s).is_ok());

    // `serve` applies the same rule to the socket it is given.
    let dir = tempfile::tempdir().unwrap();
    let api = api_over(seeded_store(&dir).await, ApiSettings::default());
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let err = serve(api.state, listener, std::future::pending())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("--insecure-no-auth"));
}

/// A discovery in progress, or one just finished, answers a request to run it: another
/// run would spend the same tokens on the same lists; with no lists configured, none runs.
#[tokio::test]
async fn a_job_running_or_just_run_is_not_queued_again() {
    let dir = tempfile::tempdir().unwrap();
    let api = api_over(seeded_store(&dir).await, ApiSettings::default());
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let app = arbdesk::api::router(api.state.clone().with_commands(tx));
    let post = || {
        Request::post("/jobs/discovery")
            .body(Body::empty())
            .unwrap()
    };
    let set = |running: bool, finished_secs_ago: Option<i64>| {
        api.status.send_modify(|s| {
            s.jobs.retain(|j| j.name != "discovery");
            s.jobs.push(arbdesk::pipeline::JobStatus {
                name: "discovery".into(),
                running,
                last_run: finished_secs_ago.map(|ago| {
                    let end = chrono::Utc::now() - chrono::Duration::seconds(ago);
                    arbdesk::store::JobRun {
                        job: "discovery".into(),
                        started_at: end - chrono::Duration::seconds(3),
                        finished_at: end,
                        result: "ok".into(),
                        detail: "found 10 ASINs, 2 new".into(),
                    }
                }),
                next_run: None,
            });
        });
    };
    set(true, Some(3_600));
    let r = send(&app, post()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "running");
    set(false, Some(5));
    let r = send(&app, post()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let done = r.json();
    assert_eq!(done["status"], "done");
    assert!(
        done["detail"]
            .as_str()
            .unwrap()
            .contains("not run again within 30s"),
        "{done}"
    );
    assert!(rx.try_recv().is_err(), "nothing queued");
    set(false, Some(31));
    let r = send(&app, post()).await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json()["status"], "queued");
    assert_eq!(rx.try_recv().unwrap(), arbdesk::pipeline::Command::Discover);
    // With no best-seller list configured, the ingest stage would drop the request unseen:
    // it is refused, saying what to configure.
    api.status.send_modify(|s| {
        s.refresh = Some(arbdesk::pipeline::RefreshPlan {
            discovery: false,
            ..Default::default()
        });
    });
    let p = send(&app, post()).await.problem(409);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("[discovery] categories is empty"),
        "{p}"
    );
    assert!(rx.try_recv().is_err(), "nothing queued");
}

/// What a request carries that the server would not read is refused, not ignored: a
/// compressed body, a job's parameters or body, a path segment that is not text.
#[tokio::test]
async fn what_the_server_would_not_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let api = api_over(seeded_store(&dir).await, ApiSettings::default());
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let app = arbdesk::api::router(api.state.clone().with_commands(tx));
    let r = send(
        &app,
        Request::post("/actions/watch")
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(Body::from(r#"{"args":["add","B0D1XD1ZV3"]}"#))
            .unwrap(),
    )
    .await;
    let p = r.problem(415);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("Content-Encoding: gzip"),
        "{p}"
    );
    let p = send(
        &app,
        Request::post("/jobs/discovery?x=1")
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .problem(400);
    assert_eq!(p["parameter"], "x", "{p}");
    let p = send(
        &app,
        Request::post("/jobs/discovery")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"x":1}"#))
            .unwrap(),
    )
    .await
    .problem(400);
    assert!(
        p["detail"].as_str().unwrap().contains("takes no body"),
        "{p}"
    );
    // A body past the limit with no length said (chunked) is a body all the same.
    let chunks = (0..40).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 4096]));
    let r = send(
        &app,
        Request::post("/jobs/discovery")
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .unwrap(),
    )
    .await
    .problem(400);
    assert!(
        r["detail"].as_str().unwrap().contains("takes no body"),
        "{r}"
    );
    assert!(rx.try_recv().is_err(), "nothing queued");
    for (path, name) in [("/products/%FF", "asin"), ("/jobs/%FF", "name")] {
        let r = if path.starts_with("/jobs") {
            send(&app, Request::post(path).body(Body::empty()).unwrap()).await
        } else {
            get(&app, path).await
        };
        let p = r.problem(400);
        assert_eq!(p["parameter"], name, "{path}: {p}");
        assert!(p["detail"].as_str().unwrap().contains("not UTF-8"), "{p}");
    }
}
