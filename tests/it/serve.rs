//! End to end: the real binary with `--serve` on the built-in simulator, a temp data dir and
//! an ephemeral port; every endpoint over a real socket; a clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

struct Server {
    child: Child,
    base: String,
    /// Its log (stderr) so far.
    log: std::sync::Arc<std::sync::Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `arbdesk --serve` and waits for the API address in its log.
fn start(extra: &[&str]) -> Server {
    start_in(tempfile::tempdir().unwrap(), extra)
}

/// Like [`start`], on the data dir `dir`.
fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args([
            "--serve",
            "--api-addr",
            "127.0.0.1:0",
            "--log",
            "info",
            "--data-dir",
        ])
        .arg(dir.path())
        .args(extra)
        .env_remove("KEEPA_API_KEY")
        .env_remove("ARBDESK_KEEPA_URL")
        .env_remove("ARBDESK_CONFIG")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut all = kept.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
            drop(all);
            if let Some(i) = line.find("http://") {
                let url: String = line[i..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '"')
                    .collect();
                let _ = tx.send(url);
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the API address was logged");
    Server {
        child,
        base: base.trim_end_matches('/').to_string(),
        log,
        _dir: dir,
    }
}

async fn get(base: &str, path: &str) -> (u16, String, Value) {
    let resp = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, ctype, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_the_simulator_answers_every_endpoint_and_stops_cleanly() {
    let server = start(&[]);
    let base = server.base.clone();

    // Opportunities appear once discovery and the first refresh have gone through.
    let deadline = Instant::now() + Duration::from_secs(120);
    let opps = loop {
        let (status, _, body) = get(&base, "/opportunities?limit=5").await;
        assert_eq!(status, 200, "{body}");
        if body["total"].as_u64().unwrap_or(0) > 0 {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "no opportunities after two minutes"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // `watch add` beside it names the process that fetches what it added (once that
    // process has reported, every few seconds).
    let deadline = Instant::now() + Duration::from_secs(30);
    let said = loop {
        let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
            .args(["watch", "add", "B0D1XD1ZV9", "--data-dir"])
            .arg(server._dir.path())
            .env_remove("ARBDESK_CONFIG")
            .output()
            .unwrap();
        assert!(out.status.success());
        let said = String::from_utf8_lossy(&out.stdout).to_string();
        let _ = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
            .args(["watch", "rm", "B0D1XD1ZV9", "--data-dir"])
            .arg(server._dir.path())
            .env_remove("ARBDESK_CONFIG")
            .output();
        if said.contains("fetching for this store") || Instant::now() > deadline {
            break said;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        said.contains(&format!(":{}) fetches them next", server.child.id())),
        "{said}"
    );
    let first = &opps["items"][0];
    for f in [
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
        "buy_url",
        "sell_url",
        "updated_at",
        "first_seen",
        "flags",
    ] {
        assert!(
            first.get(f).is_some(),
            "opportunity field {f} missing: {first}"
        );
    }
    assert!(first["buy_price"]["amount"].is_i64());
    assert_eq!(first["gross_margin"]["currency"], "EUR");
    let asin = first["asin"].as_str().unwrap().to_string();
    assert!(first.get("breakdown").is_none(), "only on request: {first}");

    // Breakdowns are rebuilt from the stored products on request, and add up to the row.
    let (status, _, explained) = get(&base, "/opportunities?limit=5&breakdown=true").await;
    assert_eq!(status, 200, "{explained}");
    for o in explained["items"].as_array().unwrap() {
        let b = &o["breakdown"];
        assert!(
            b["fx_rate"]
                .as_str()
                .is_some_and(|r| r.contains("1 EUR = ")),
            "{b}"
        );
        let lines = b["lines"].as_array().unwrap();
        let amount = |id: &str| {
            lines
                .iter()
                .find(|l| l["id"] == id)
                .unwrap_or_else(|| panic!("no {id} line in {b}"))["amount"]
                .clone()
        };
        assert_eq!(amount("profit"), o["net_profit"], "{o}");
        assert_eq!(amount("sell_price"), o["sell_price"], "{o}");
        // Explaining a row keeps when the store first recorded it.
        assert!(o["first_seen"].is_string(), "{o}");
    }

    let (status, _, health) = get(&base, "/health").await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["source"], "demo");
    for c in ["keepa", "queue", "store", "pipeline"] {
        assert!(
            health["components"].get(c).is_some(),
            "component {c}: {health}"
        );
    }

    let (status, _, products) = get(&base, "/products?limit=3").await;
    assert_eq!(status, 200);
    assert!(products["total"].as_u64().unwrap() > 0);
    assert_eq!(products["items"].as_array().unwrap().len(), 3);

    let (status, _, product) = get(&base, &format!("/products/{asin}?history=true")).await;
    assert_eq!(status, 200, "{product}");
    assert!(product.get("history").is_some(), "{product}");
    assert!(product["urls"].to_string().contains("https://www.amazon."));

    let (status, ctype, _) = get(&base, "/products/B0NOTHERE0").await;
    assert_eq!(status, 404);
    assert!(ctype.starts_with("application/problem+json"), "{ctype}");
    let (status, ctype, body) = get(&base, "/products/not-an-asin").await;
    assert_eq!(status, 400);
    assert!(ctype.starts_with("application/problem+json"), "{ctype}");
    assert!(body.to_string().contains("ASIN"), "{body}");

    let (status, _, filtered) = get(
        &base,
        "/opportunities?min_margin=10&sort=roi_pct&order=desc&limit=50&buy=de,it",
    )
    .await;
    assert_eq!(status, 200);
    for o in filtered["items"].as_array().unwrap() {
        assert!(o["gross_margin_pct"].as_f64().unwrap() >= 10.0);
        assert!(["DE", "IT"].contains(&o["buy_market"].as_str().unwrap()));
    }
    let (status, _, bad) = get(&base, "/opportunities?sort=profit").await;
    assert_eq!(status, 400, "{bad}");
    assert!(bad.to_string().contains("sort"), "{bad}");

    let (status, _, stats) = get(&base, "/stats").await;
    assert_eq!(status, 200);
    assert!(stats["total_products"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(
        stats["pipeline"]["roles"],
        serde_json::json!(["ingest", "process", "api"]),
        "{stats}"
    );

    // Demo data watches what it shows: each entry's markets are fetched or still to come.
    let (status, _, watched) = get(&base, "/watchlist?limit=5").await;
    assert_eq!(status, 200, "{watched}");
    assert!(watched["total"].as_u64().unwrap() > 0, "{watched}");
    for w in watched["items"].as_array().unwrap() {
        let n = |k: &str| w[k].as_array().unwrap().len();
        assert_eq!(n("fetched") + n("not_fetched"), 5, "{w}");
        assert_eq!(w["source"], "discovery", "{w}");
    }
    let (status, _, bad) = get(&base, "/watchlist?source=someone").await;
    assert_eq!(status, 400, "{bad}");

    let (status, _, metrics) = get(&base, "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.as_str().unwrap().contains("arbdesk_"), "{metrics}");
    let (status, _, openapi) = get(&base, "/openapi.json").await;
    assert_eq!(status, 200);
    assert!(openapi["paths"].get("/opportunities").is_some());
    let (status, _, docs) = get(&base, "/docs").await;
    assert_eq!(status, 200);
    assert!(
        docs.as_str().unwrap().contains("<html") || docs.as_str().unwrap().contains("<!DOCTYPE")
    );

    // Discovery can be run by hand.
    let client = reqwest::Client::new();
    let resp = client
        .post(format!("{base}/jobs/discovery"))
        .send()
        .await
        .unwrap();
    // Queued, or answered by the start-up run if it is in progress or just finished.
    let code = resp.status().as_u16();
    let answer: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    match code {
        202 => assert_eq!(answer["status"], "queued", "{answer}"),
        200 => assert!(
            answer["status"] == "running" || answer["status"] == "done",
            "{answer}"
        ),
        _ => panic!("{code}: {answer}"),
    }
    let resp = client
        .post(format!("{base}/jobs/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert!(
        resp.text().await.unwrap().contains("discovery"),
        "the error lists the jobs"
    );

    // The console's actions: listed, and a refresh of one product queued over the socket.
    let (status, _, actions) = get(&base, "/actions").await;
    assert_eq!(status, 200);
    assert!(
        actions["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == "refresh" && a["runs_over_rest"] == true),
        "{actions}"
    );
    let resp = client
        .post(format!("{base}/actions/refresh"))
        .header("content-type", "application/json")
        .body(r#"{"args": ["B0D1XD1ZV3"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let queued: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(queued["status"], "queued", "{queued}");

    // SIGTERM: drains and exits successfully.
    let mut server = server;
    let status = terminate(&mut server, "after SIGTERM");
    assert!(status.success(), "exit status {status}");
}

/// Sends SIGTERM and waits for the process to end (generous: a test fails only if it never
/// does, `when` saying in what situation).
fn terminate(server: &mut Server, when: &str) -> std::process::ExitStatus {
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "arbdesk did not stop {when}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_public_address_without_a_token_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(["--serve", "--api-addr", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("ARBDESK_API_TOKEN")
        .env_remove("KEEPA_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a bad value exits with 2");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("0.0.0.0") && err.contains("--insecure-no-auth"),
        "{err}"
    );
}

#[test]
fn a_bad_config_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[api]\naddr = \"nowhere\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(["config", "show", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("api.addr") && err.contains("nowhere") && err.contains("IP:PORT"),
        "{err}"
    );

    std::fs::write(&cfg, "[api]\nadress = \"127.0.0.1:1\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(["config", "show", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("adress"), "an unknown key is named: {err}");

    // An empty data directory would put the store in whatever directory the command runs
    // from; it is refused as the flag and the variable refuse it.
    std::fs::write(&cfg, "data_dir = \"\"\n").unwrap();
    let out = config_show(&cfg);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("data_dir") && err.contains("a directory path"),
        "{err}"
    );

    // A file named that does not exist: what creates it.
    let missing = dir.path().join("missing.toml");
    let out = config_show(&missing);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "`arbdesk config init --config {}`",
            missing.display()
        )),
        "{err}"
    );
}

fn config_show(cfg: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(["config", "show", "--config"])
        .arg(cfg)
        .env_remove("ARBDESK_CONFIG")
        .output()
        .unwrap()
}

/// Every economics section of the file reaches the model: a typo in any of them is refused
/// by every command (exit 2, the key named), and a valid value shows in the model.
#[test]
fn every_economics_section_is_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    for (section, typo) in [
        ("[economics]\nreturn_rat = 0.02", "return_rat"),
        ("[fx]\nfalback_rate = 0.85", "falback_rate"),
        ("[route_defaults]\nprepp = 0.5", "prepp"),
        (
            "[[storage]]\neffective_from = \"2026-01-01\"\nper_m3_montth = { DE = 3 }",
            "per_m3_montth",
        ),
        ("[product_groups]\nToy = { referal = \"toys\" }", "referal"),
        (
            "[[fba]]\neffective_from = \"2026-01-01\"\ntierz = {}",
            "tierz",
        ),
    ] {
        std::fs::write(&cfg, section).unwrap();
        let out = config_show(&cfg);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{section}: {err}");
        assert!(err.contains(typo), "{section}: {err}");
        assert!(err.contains("config.toml"), "the file is named: {err}");
    }
    // A valid override is used, not ignored.
    std::fs::write(&cfg, "[route_defaults]\nprep = 0.75\n").unwrap();
    let out = config_show(&cfg);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let settings = arbdesk::config::load(&arbdesk::cli::GlobalArgs {
        config: Some(cfg.clone()),
        ..Default::default()
    })
    .unwrap();
    let model = settings.model.clone();
    assert_eq!(model.config().route_defaults.prep.to_string(), "0.75");

    std::fs::write(&cfg, "[api]\ncors_origins = [\"not a url\"]\n").unwrap();
    let out = config_show(&cfg);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("api.cors_origins") && err.contains("not a url"),
        "{err}"
    );
}

/// `config show` prints no secret (a password inside a URL, Kafka credentials, …), nests
/// Kafka options under `[queue.options]`, shows the economics tables in force, and what it
/// prints is a config file that loads to the same settings.
#[test]
fn config_show_hides_secrets_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        r#"
[keepa]
url = "https://user:KEEPAPASS@proxy.example/keepa?token=QTOKEN&region=eu"
[api]
token = "APITOKEN"
[queue]
type = "kafka"
brokers = "localhost:9092"
options = { "sasl.password" = "SASLPASS", "sasl.oauthbearer.config" = "clientSecret=OAUTHSECRET", "client.id" = "desk-7" }
[store]
type = "elasticsearch"
url = "https://admin:ESPASS@es.example:9200"
api_key = "ESKEY"
[economics.gates]
min_profit = 4.5
"#,
    )
    .unwrap();
    let shown = |path: &std::path::Path| {
        let out = config_show(path);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = shown(&cfg);
    for secret in [
        "KEEPAPASS",
        "QTOKEN",
        "APITOKEN",
        "SASLPASS",
        "OAUTHSECRET",
        "ESPASS",
        "ESKEY",
    ] {
        assert!(!first.contains(secret), "{secret} is shown:\n{first}");
    }
    for shown_value in [
        "region=eu",
        "[queue.options]",
        "desk-7",
        "user:***@proxy.example",
        "min_profit = 4.5",
        "[fx]",
        "[[vat]]",
        "[[referral]]",
        // On demo data both intervals keep their own names: saved and given a Keepa key,
        // the file must not refresh live data at the demo's pace.
        "refresh_interval_secs = 1800\n",
        "demo_refresh_interval_secs = 150\n",
    ] {
        assert!(
            first.contains(shown_value),
            "{shown_value} missing:\n{first}"
        );
    }
    let copy = dir.path().join("copy.toml");
    std::fs::write(&copy, &first).unwrap();
    let second = shown(&copy);
    // The first line names the file read; the rest is the same configuration.
    assert_eq!(
        first.lines().skip(1).collect::<Vec<_>>(),
        second.lines().skip(1).collect::<Vec<_>>()
    );
    let load = |path: &std::path::Path| {
        arbdesk::config::load(&arbdesk::cli::GlobalArgs {
            config: Some(path.to_path_buf()),
            ..Default::default()
        })
        .unwrap()
    };
    assert_eq!(load(&cfg).model.config(), load(&copy).model.config());
}

/// `config path` and `config init` work on a file that does not exist yet.
#[test]
fn config_init_creates_the_named_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("new/config.toml");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_arbdesk"))
            .args(args)
            .arg("--config")
            .arg(&cfg)
            .env_remove("ARBDESK_CONFIG")
            .output()
            .unwrap()
    };
    let out = run(&["config", "path"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("does not exist yet"));
    let out = run(&["config", "init"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(cfg.is_file());
    // Where the Keepa key and the API token go: readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&cfg).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let out = run(&["config", "show"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["config", "init"]);
    assert_eq!(out.status.code(), Some(2), "a bad value, as elsewhere");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
}

/// A client that sends half a request head, or nothing at all, is disconnected (after the
/// 10 s header-read timeout) instead of holding its connection for ever; a normal request
/// on another connection is answered meanwhile.
#[test]
fn a_client_that_never_finishes_its_request_head_is_disconnected() {
    use std::io::{Read, Write};
    let server = start(&[]);
    let addr = server.base.trim_start_matches("http://").to_string();
    let probes: Vec<_> = [
        &b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"[..],
        &b""[..],
    ]
    .into_iter()
    .map(|sent| {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.write_all(sent).unwrap();
            // Generous: the server closes after 10 s; the test fails only if it never does.
            s.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
            let mut buf = [0u8; 256];
            s.read(&mut buf)
        })
    })
    .collect();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    for p in probes {
        let read = p.join().unwrap();
        assert!(
            matches!(read, Ok(0)),
            "the connection was closed, not left open: {read:?}"
        );
    }
}

/// A client that asks for large answers and stops reading them does not hold a stopping
/// process for ever: the listener closes at the signal, and open connections get the
/// request timeout to finish.
#[test]
fn a_client_that_stops_reading_does_not_hold_the_stop() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[api]\nrequest_timeout_secs = 1\n").unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let mut server = start_in(dir, &["--config", &cfg]);
    let addr = server.base.trim_start_matches("http://").to_string();
    // Wait for enough rows that the answers below fill every buffer between the two.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (_, _, body) = rt.block_on(get(&server.base, "/opportunities?limit=1"));
        if body["total"].as_u64().unwrap_or(0) >= 1_000 {
            break;
        }
        assert!(Instant::now() < deadline, "no opportunities: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // 40 pipelined requests for ~3 MB each, never read.
    let mut client = std::net::TcpStream::connect(&addr).unwrap();
    let request =
        "GET /opportunities?limit=1000&breakdown=true HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    client.write_all(request.repeat(40).as_bytes()).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    // The process stops ~1 s after the signal.
    let status = terminate(&mut server, "while a client held an unread answer");
    assert!(status.success(), "exit status {status}");
    drop(client);
}

/// A process that only serves says whose prices the store holds, from the store's mark:
/// not from its own key, with which it fetches nothing (unless the store has no mark).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_only_process_takes_its_source_from_the_store() {
    use arbdesk::commands::data_source::claim;
    use arbdesk::pipeline::Source;
    // A store with no mark (only ever imported into) cannot say: its own key decides.
    for (mark, key, held) in [
        (Some(Source::Demo), Some("k"), Source::Demo),
        (Some(Source::Live), None, Source::Live),
        (None, Some("k"), Source::Live),
        (None, None, Source::Demo),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store =
            arbdesk::store::sqlite::SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap();
        if let Some(mark) = mark {
            claim(&store, mark, "here", None).await.unwrap();
        }
        drop(store);
        let mut args = vec!["--role", "api"];
        args.extend(key.map(|k| ["--keepa-key", k]).into_iter().flatten());
        let server = start_in(dir, &args);
        let word = match held {
            Source::Demo => "demo",
            Source::Live => "live",
        };
        for path in ["/health", "/opportunities", "/products"] {
            let (status, _, body) = get(&server.base, path).await;
            assert!(status == 200 || status == 503, "{path}: {status} {body}");
            assert_eq!(body["source"], word, "{path} with key {key:?}: {body}");
        }
    }
}

/// A store found damaged while serving (here its header overwritten in place) is down in
/// `/health` and said in the log as an error with why, once, not only in `/health`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_found_down_is_said_in_the_log_with_why() {
    use std::io::{Seek, Write};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("arbdesk.sqlite");
    let server = start_in(dir, &[]);
    let (status, _, _) = get(&server.base, "/health").await;
    assert!(status == 200, "healthy at first: {status}");
    let mut f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    f.seek(std::io::SeekFrom::Start(0)).unwrap();
    f.write_all(b"not a database!!").unwrap();
    drop(f);
    let (status, _, body) = get(&server.base, "/health").await;
    assert_eq!(status, 503, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let said = loop {
        let log = server.log.lock().unwrap().clone();
        if let Some(line) = log.lines().find(|l| l.contains("The store is down")) {
            break line.to_string();
        }
        assert!(Instant::now() < deadline, "not in the log:\n{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        said.contains("ERROR") && said.contains("header is no longer SQLite's"),
        "{said}"
    );
    // Said once, however often it is probed.
    for _ in 0..3 {
        get(&server.base, "/health").await;
    }
    let log = server.log.lock().unwrap().clone();
    assert_eq!(log.matches("The store is down").count(), 1, "{log}");
}

/// A start refused for its API address (taken) has fetched nothing, and leaves the data dir
/// unclaimed: `import` (or a live process) may still fill it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_refused_for_a_taken_port_leaves_the_store_unclaimed() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_arbdesk"))
        .args(["--serve", "--api-addr", &addr, "--data-dir"])
        .arg(dir.path())
        .env_remove("KEEPA_API_KEY")
        .env_remove("ARBDESK_KEEPA_URL")
        .env_remove("ARBDESK_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("Could not listen on {addr}")),
        "{stderr}"
    );
    let store =
        arbdesk::store::sqlite::SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap();
    assert_eq!(
        arbdesk::commands::data_source::of(&store).await.unwrap(),
        None,
        "the store is left as no source's"
    );
    drop(taken);
}
