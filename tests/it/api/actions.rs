//! `GET /actions` and `POST /actions/{id}`: the console's action vocabulary over REST.

use arbdesk::api::{ApiSettings, router};
use arbdesk::pipeline::Command;
use arbdesk::store::Store;
use axum::body::Body;
use axum::http::Request;

use super::fixture::{api_over, asin, get, seeded_store, send};

fn post(id: &str, body: &str) -> Request<Body> {
    Request::post(format!("/actions/{id}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// The list is the console's registry: every id, its default keys, whether it changes
/// stored data and whether the API runs it.
#[tokio::test]
async fn the_list_is_the_consoles_registry_with_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let api = api_over(seeded_store(&dir).await, ApiSettings::default());
    let r = get(&api.app, "/actions").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let items = r.json()["items"].as_array().unwrap().clone();
    let ids: Vec<&str> = items.iter().map(|a| a["id"].as_str().unwrap()).collect();
    let registry: Vec<&str> = arbdesk::tui::action::REGISTRY
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, registry);
    let find = |id: &str| items.iter().find(|a| a["id"] == id).unwrap().clone();
    let refresh = find("refresh");
    assert_eq!(refresh["runs_over_rest"], true);
    assert_eq!(refresh["dangerous"], false);
    assert!(
        refresh["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["keys"] == "r" && k["run"] == "refresh selected" && k["context"] == "table"),
        "{refresh}"
    );
    assert_eq!(find("watch")["dangerous"], true);
    assert_eq!(find("sort")["runs_over_rest"], false);
    assert_eq!(find("sort")["contexts"], serde_json::json!(["table"]));
}

/// With the store down, a refresh or a discovery run is refused before anything is sent
/// to Keepa: what it fetched would have nowhere to go.
#[tokio::test]
async fn nothing_is_fetched_while_the_store_is_down() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let store = super::fixture::down_store(&dir);
    let api = api_over(store.clone(), ApiSettings::default());
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let app = router(api.state.clone().with_commands(tx));
    for (req, what) in [
        (post("refresh", r#"{"args":["all"]}"#), "refresh all"),
        (post("refresh", r#"{"args":["B0D1XD1ZV3"]}"#), "refresh"),
        (
            Request::post("/jobs/discovery")
                .body(Body::empty())
                .unwrap(),
            "discovery",
        ),
    ] {
        let p = send(&app, req).await.problem(503);
        let detail = p["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("the store is down") && detail.contains("no Keepa tokens"),
            "{what}: {p}"
        );
    }
    assert!(rx.try_recv().is_err(), "nothing queued");
    // Back up, the same request is queued.
    store.down.store(false, Ordering::SeqCst);
    let r = send(&app, post("refresh", r#"{"args":["B0D1XD1ZV3"]}"#)).await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert!(rx.try_recv().is_ok());
}

/// `refresh` queues the named ASINs (or the whole watchlist) with the ingest stage and says
/// what it costs; without arguments, or on a process that does not ingest, it says what to
/// do instead.
#[tokio::test]
async fn refresh_queues_the_named_products_or_the_watchlist() {
    let dir = tempfile::tempdir().unwrap();
    let api = api_over(seeded_store(&dir).await, ApiSettings::default());
    // No ingest role here.
    let p = send(&api.app, post("refresh", r#"{"args":["all"]}"#))
        .await
        .problem(409);
    assert!(p["detail"].as_str().unwrap().contains("ingest"), "{p}");

    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let app = router(api.state.clone().with_commands(tx));
    let r = send(
        &app,
        post("refresh", r#"{"args":["B0D1XD1ZV3,B0D1XD1ZV4"]}"#),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let body = r.json();
    assert_eq!(body["status"], "queued");
    assert_eq!(body["action"], "refresh B0D1XD1ZV3, B0D1XD1ZV4");
    assert!(
        body["detail"].as_str().unwrap().contains("Keepa tokens"),
        "{body}"
    );
    match rx.try_recv().unwrap() {
        Command::Refresh { asins, .. } => {
            assert_eq!(asins, vec![asin("B0D1XD1ZV3"), asin("B0D1XD1ZV4")]);
        }
        other => panic!("not a refresh: {other:?}"),
    }
    // Asked again within 30 s, the ingest stage would skip them: the answer says so, spends
    // nothing and queues nothing; only the products not asked for are queued.
    let r = send(&app, post("refresh", r#"{"args":["B0D1XD1ZV3"]}"#)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "done");
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("a refresh of B0D1XD1ZV3 was asked for moments ago"),
        "{}",
        r.text()
    );
    assert!(rx.try_recv().is_err(), "a repeat is not queued");
    let r = send(
        &app,
        post("refresh", r#"{"args":["B0D1XD1ZV4","B0D1XD1ZV6"]}"#),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert!(
        r.json()["detail"].as_str().unwrap().starts_with(
            "1 product in 0 markets (1 product asked for moments ago left out: B0D1XD1ZV4)"
        ),
        "{}",
        r.text()
    );
    match rx.try_recv().unwrap() {
        Command::Refresh { asins, .. } => assert_eq!(asins, vec![asin("B0D1XD1ZV6")]),
        other => panic!("not a refresh: {other:?}"),
    }

    // No selection over the API: the arguments are required, and bad ones are named.
    for (body, says) in [
        ("", "there is no selected row"),
        (r#"{"args":[]}"#, "there is no selected row"),
        (r#"{"args":["B0BAD"]}"#, "B0BAD"),
        (
            r#"{"args":["selectd"]}"#,
            "or 'all' for the whole watchlist",
        ),
        (r#"{"args":"all"}"#, "not an action request"),
        (r#"{"argz":["all"]}"#, "unknown field `argz`"),
        ("not json", "not an action request"),
        (r#"{"args":["all","B0D1XD1ZV3"]}"#, "name ASINs without it"),
    ] {
        let p = send(&app, post("refresh", body)).await.problem(400);
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{body}: {p}");
        assert!(!detail.contains("'selected'"), "{body}: {p}");
    }
    // A JSON `null` body, as the document allows, is no arguments, like no body at all.
    let p = send(&app, post("watch", "null")).await.problem(400);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("watch: say add or remove"),
        "{p}"
    );
    // The arguments go in the body; a query parameter is refused, not ignored.
    let r = send(
        &app,
        Request::post("/actions/refresh?dry_run=1")
            .body(Body::from(r#"{"args":["all"]}"#))
            .unwrap(),
    )
    .await;
    let p = r.problem(400);
    assert_eq!(p["parameter"], "dry_run", "{p}");
    // One product named twice is one product: one refresh, and its cost counted once.
    let r = send(
        &app,
        post("refresh", r#"{"args":["B0D1XD1ZV5","b0d1xd1zv5"]}"#),
    )
    .await;
    assert_eq!(r.json()["action"], "refresh B0D1XD1ZV5", "{}", r.text());
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("1 product in"),
        "{}",
        r.text()
    );
    match rx.try_recv().unwrap() {
        Command::Refresh { asins, .. } => assert_eq!(asins, vec![asin("B0D1XD1ZV5")]),
        other => panic!("not a refresh: {other:?}"),
    }
    assert!(rx.try_recv().is_err(), "nothing refused was queued");
    // The whole watchlist, then again: a repeat. A product named next is sent: it counts
    // as covered only once the ingest stage has read the watchlist (none runs here), and
    // one that is not watched is never covered.
    let r = send(&app, post("refresh", r#"{"args":["all"]}"#)).await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert!(matches!(rx.try_recv().unwrap(), Command::RefreshAll { .. }));
    let r = send(&app, post("refresh", r#"{"args":["all"]}"#)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("no tokens spent")
    );
    assert!(rx.try_recv().is_err(), "repeats are not queued");
    let r = send(&app, post("refresh", r#"{"args":["B0D1XD1ZV7"]}"#)).await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert!(matches!(rx.try_recv().unwrap(), Command::Refresh { .. }));
    // Keepa requests stopped (a refused key): nothing would be fetched, so nothing is queued.
    api.status
        .send_modify(|s| s.keepa.stopped = Some("Keepa rejected the API key".into()));
    let p = send(&app, post("refresh", r#"{"args":["B0D1XD1ZV8"]}"#))
        .await
        .problem(409);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("Keepa requests are stopped"),
        "{p}"
    );
    assert!(rx.try_recv().is_err());
}

/// `watch add|remove` changes the watchlist (not on a read-only server); actions that act
/// on a console's view are a conflict, unknown ids a 404 with the nearest id.
#[tokio::test]
async fn watch_changes_the_watchlist_and_view_actions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(&dir).await;
    let api = api_over(store.clone(), ApiSettings::default());
    let before = store.watchlist().await.unwrap().len();
    let r = send(
        &api.app,
        post("watch", r#"{"args":["add","B0NEWNEW01","B0NEWNEW02"]}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "done");
    assert_eq!(r.json()["detail"], "2 added to the watchlist");
    assert_eq!(store.watchlist().await.unwrap().len(), before + 2);
    // A process that does not fetch says who will: the ingest process that reports, or
    // none yet.
    let add = |asin: &str| post("watch", &format!(r#"{{"args":["add","{asin}"]}}"#));
    api.status.send_modify(|s| s.keepa_client = false);
    let r = send(&api.app, add("B0NEWNEW04")).await;
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    assert!(
        detail.starts_with("1 added to the watchlist; no process reports fetching"),
        "{detail}"
    );
    api.status.send_modify(|s| {
        // Merged from a worker's report: its Keepa client is the one shown.
        s.keepa_client = true;
        s.peers = vec![arbdesk::pipeline::peers::Peer {
            id: "host:42".into(),
            roles: "ingest,process".into(),
            updated_at: chrono::Utc::now(),
            pipeline: arbdesk::component::ComponentHealth::ok("pipeline", "busy"),
        }];
    });
    let r = send(&api.app, add("B0NEWNEW05")).await;
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    assert!(
        detail.starts_with("1 added to the watchlist; the process that runs ingest"),
        "{detail}"
    );
    api.status.send_modify(|s| s.peers.clear());
    store
        .watch_remove(vec![
            "B0NEWNEW04".parse().unwrap(),
            "B0NEWNEW05".parse().unwrap(),
        ])
        .await
        .unwrap();
    let r = send(
        &api.app,
        post("watch", r#"{"args":["remove","B0NEWNEW01","B0NEWNEW09"]}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["detail"],
        "1 of 2 removed from the watchlist (B0NEWNEW09 was not on it)"
    );
    assert_eq!(store.watchlist().await.unwrap().len(), before + 1);
    let r = send(
        &api.app,
        post("watch", r#"{"args":["remove","B0NEWNEW09"]}"#),
    )
    .await;
    assert_eq!(
        r.json()["detail"],
        "B0NEWNEW09 was not on the watchlist: the watchlist is unchanged"
    );
    for body in ["", r#"{"args":[]}"#] {
        let p = send(&api.app, post("watch", body)).await.problem(400);
        assert!(
            p["detail"].as_str().unwrap().contains("add or remove"),
            "{p}"
        );
    }
    let p = send(&api.app, post("watch", r#"{"args":["add"]}"#))
        .await
        .problem(400);
    assert!(
        p["detail"].as_str().unwrap().contains("name the products"),
        "{p}"
    );

    // A body declared as anything but JSON is a 415 that says what to send; JSON with
    // parameters, a `+json` type and no declared type are read.
    let declared = |ct: Option<&str>| {
        let mut req = Request::post("/actions/watch");
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        req.body(Body::from(r#"{"args":["add","B0NEWNEW04"]}"#))
            .unwrap()
    };
    for ct in ["application/x-www-form-urlencoded", "text/plain"] {
        let p = send(&api.app, declared(Some(ct))).await.problem(415);
        let detail = p["detail"].as_str().unwrap();
        assert!(
            detail.contains(ct) && detail.contains("application/json"),
            "{p}"
        );
        assert!(
            p["type"]
                .as_str()
                .unwrap()
                .ends_with("unsupported-media-type"),
            "{p}"
        );
    }
    for ct in [
        Some("application/json; charset=utf-8"),
        Some("application/merge-patch+json"),
        None,
    ] {
        let r = send(&api.app, declared(ct)).await;
        assert_eq!(r.status, 200, "{ct:?}: {}", r.text());
    }

    // A web page from an origin not allowed is refused, as for jobs.
    let mut req = post("watch", r#"{"args":["add","B0NEWNEW03"]}"#);
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let p = send(&api.app, req).await.problem(403);
    assert!(
        p["detail"].as_str().unwrap().contains("api.cors_origins"),
        "{p}"
    );

    // A view action is a conflict whatever its arguments.
    for body in [r#"{"args":["roi"]}"#, "", r#"{"args":["nonsense"]}"#] {
        let p = send(&api.app, post("sort", body)).await.problem(409);
        assert!(p["detail"].as_str().unwrap().contains("console"), "{p}");
    }
    // The console's `discover` is a job here, and says where it is.
    let p = send(&api.app, post("discover", "")).await.problem(409);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("POST /jobs/discovery"),
        "{p}"
    );
    let p = send(&api.app, post("refersh", "")).await.problem(404);
    assert_eq!(
        p["detail"],
        "unknown action 'refersh'; did you mean 'refresh'? GET /actions lists them"
    );

    // Read-only: the watchlist stays as it is.
    let ro_dir = tempfile::tempdir().unwrap();
    let ro_store = seeded_store(&ro_dir).await;
    let ro = api_over(
        ro_store.clone(),
        ApiSettings {
            read_only: true,
            ..ApiSettings::default()
        },
    );
    let before = ro_store.watchlist().await.unwrap().len();
    let p = send(&ro.app, post("watch", r#"{"args":["add","B0NEWNEW01"]}"#))
        .await
        .problem(403);
    assert!(p["detail"].as_str().unwrap().contains("read-only"), "{p}");
    assert_eq!(ro_store.watchlist().await.unwrap().len(), before);
}

/// A body sent without a length: too long is 413, broken off or malformed is 400, both
/// saying what to do.
#[tokio::test]
async fn a_streamed_body_too_long_or_broken_gets_the_right_status() {
    let dir = tempfile::tempdir().unwrap();
    let api = api_over(seeded_store(&dir).await, ApiSettings::default());
    let streamed = |chunks: Vec<Result<&'static [u8], std::io::Error>>| {
        Request::post("/actions/watch")
            .header("content-type", "application/json")
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .unwrap()
    };
    let big: &'static [u8] = Box::leak(vec![b' '; 70 * 1024].into_boxed_slice());
    let r = send(
        &api.app,
        streamed(vec![Ok(b"{\"args\":[\"add\","), Ok(big)]),
    )
    .await;
    let p = r.problem(413);
    assert!(p["detail"].as_str().unwrap().contains("over 64 KB"), "{p}");
    let broken = std::io::Error::new(std::io::ErrorKind::InvalidData, "invalid chunk size");
    let r = send(&api.app, streamed(vec![Ok(b"{\"args\":"), Err(broken)])).await;
    let p = r.problem(400);
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("could not be read") && detail.contains("invalid chunk size"),
        "{p}"
    );
}
