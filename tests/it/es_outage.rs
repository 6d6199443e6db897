//! Elasticsearch goes away for 20 s under a running arbdesk and comes back: while it is
//! gone `/health` says the store is down and queries answer 503 problem+json; the pipeline
//! holds its batches (nothing acknowledged, ingest held back by the bounded queue); when it
//! returns, processing resumes and every update fetched is stored — nothing lost.
//!
//! Needs its own Elasticsearch-compatible server to stop and start, so it runs when
//! `ARBDESK_TEST_NOIDA` names the noida-db test server's executable (`.ci/run` sets it).

#![cfg(feature = "elasticsearch")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::procs::{answer, api_base, get, poll, spawn, watch};

const ASINS: usize = 300;
const OUTAGE: Duration = Duration::from_secs(20);

/// A noida-db server with Elasticsearch only, in its own data dir; `down` when dropped.
struct Server {
    exe: PathBuf,
    data: tempfile::TempDir,
    url: String,
}

impl Server {
    /// A server of the noida-db named by `ARBDESK_TEST_NOIDA`, or `None` (and a note that the
    /// test is skipped) without it.
    fn start_if_configured() -> Option<Server> {
        let Ok(exe) = std::env::var("ARBDESK_TEST_NOIDA") else {
            eprintln!(
                "skipped: set ARBDESK_TEST_NOIDA to the noida-db executable to run this test"
            );
            return None;
        };
        Some(Server::start(Path::new(&exe)))
    }

    fn start(exe: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let data = tempfile::tempdir().unwrap();
        let s = Server {
            exe: exe.to_path_buf(),
            data,
            url: format!("http://127.0.0.1:{port}"),
        };
        s.run(&[
            "up",
            "--only",
            "elasticsearch",
            "--elasticsearch-port",
            &port.to_string(),
        ]);
        s.wait_until(true);
        s
    }

    fn run(&self, args: &[&str]) {
        let status = Command::new(&self.exe)
            .args(args)
            .arg("--data-dir")
            .arg(self.data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "noida-db {args:?} failed");
    }

    fn answers(&self) -> bool {
        answer(&self.url, "/").0 == 200
    }

    fn wait_until(&self, up: bool) {
        let start = Instant::now();
        while self.answers() != up {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the server did not go {}",
                if up { "up" } else { "down" }
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new(&self.exe)
            .arg("down")
            .arg("--data-dir")
            .arg(self.data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Messages each stage has handled, from `/stats`.
fn processed(stats: &serde_json::Value, stage: &str) -> u64 {
    stats["pipeline"]["stages"][stage]["processed"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn elasticsearch_stopped_for_20_seconds_loses_nothing() {
    let Some(es) = Server::start_if_configured() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[store]
type = "elasticsearch"
url = "{}"
timeout_secs = 3

[pipeline]
demo_refresh_interval_secs = 3600
# Small batches: the refresh's writes spread over seconds, so the outage meets some.
process_batch = 20

[discovery]
categories = []
"#,
            es.url
        ),
    )
    .unwrap();
    let asins: Vec<String> = (0..ASINS).map(|i| format!("B0OUT{i:05}")).collect();
    watch(dir.path(), &config, &asins);

    let (_arbdesk, log) = spawn(
        dir.path(),
        &config,
        &["--serve", "--api-addr", "127.0.0.1:0"],
    );
    let base = api_base(&log);
    // The outage starts as soon as the first products are stored, so the refresh is still
    // under way (a whole refresh can finish between two polls on an idle machine).
    let start = Instant::now();
    while get(&base, "/stats")["total_products"].as_u64().unwrap_or(0) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "products did not arrive"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A query answered (and cached) before the outage.
    let (code, _, _) = answer(&base, "/opportunities?limit=5");
    assert_eq!(code, 200);

    es.run(&["stop", "elasticsearch"]);
    es.wait_until(false);
    let stopped = Instant::now();
    let mut saw_down = false;
    let mut saw_503 = false;
    while stopped.elapsed() < OUTAGE {
        let (code, _, health) = answer(&base, "/health");
        if code == 503 && health["components"]["store"]["status"] == "down" {
            assert_eq!(health["status"], "down", "{health}");
            saw_down = true;
        }
        let (code, ctype, problem) = answer(&base, "/opportunities?limit=5");
        if code == 503 {
            assert_eq!(ctype, "application/problem+json");
            assert_eq!(problem["status"], 503, "{problem}");
            saw_503 = true;
        } else if saw_down {
            assert_ne!(code, 200, "a query was answered while the store was down");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(saw_down, "/health never said the store was down");
    assert!(
        saw_503,
        "queries never answered 503 while the store was down"
    );

    es.run(&["start", "elasticsearch"]);
    es.wait_until(true);
    // Every message ingested is stored, those held through the outage included.
    let back = Instant::now();
    let stats = loop {
        let stats = get(&base, "/stats");
        let (ingested, stored) = (processed(&stats, "ingest"), processed(&stats, "store"));
        let health = get(&base, "/health");
        if health["components"]["store"]["status"] == "ok"
            && ingested >= (ASINS * 5) as u64
            && ingested == stored
        {
            break stats;
        }
        // The store reports a failed write for a minute after it (`store/write_error.rs`):
        // the last ones may come just after the cluster answers again.
        assert!(
            back.elapsed() < Duration::from_secs(180),
            "processing did not catch up: ingested {ingested}, stored {stored}; store {}; {stats}",
            health["components"]["store"]
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        stats["pipeline"]["stages"]["store"]["errors"].as_u64() > Some(0),
        "the store's failures were counted: {stats}"
    );
    assert_eq!(stats["total_products"].as_u64(), Some(ASINS as u64));
}

#[test]
fn a_cluster_down_at_start_up_stops_nothing_and_fetching_waits_for_it() {
    const WATCHED: usize = 40;
    let Some(es) = Server::start_if_configured() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\ntype = \"elasticsearch\"\nurl = \"{}\"\ntimeout_secs = 3\n\n[discovery]\ncategories = []\n",
            es.url
        ),
    )
    .unwrap();
    let asins: Vec<String> = (0..WATCHED).map(|i| format!("B0LATE{i:04}")).collect();
    watch(dir.path(), &config, &asins);
    es.run(&["stop", "elasticsearch"]);
    es.wait_until(false);

    // The cluster is down: arbdesk starts anyway, serves the API and says the store is down.
    let (_arbdesk, log) = spawn(
        dir.path(),
        &config,
        &["--serve", "--api-addr", "127.0.0.1:0"],
    );
    let base = api_base(&log);
    poll(
        Duration::from_secs(20),
        "/health did not say the store is down",
        || match answer(&base, "/health") {
            (503, _, h) if h["components"]["store"]["status"] == "down" => Ok(()),
            (code, _, h) => Err(format!("{code} {h}")),
        },
    );
    let (code, ctype, _) = answer(&base, "/opportunities?limit=5");
    assert_eq!((code, ctype.as_str()), (503, "application/problem+json"));

    // When it comes up, the store is claimed and every watched product is fetched into it.
    es.run(&["start", "elasticsearch"]);
    es.wait_until(true);
    poll(
        Duration::from_secs(90),
        "the watched products did not arrive once the store answered",
        || match answer(&base, "/stats") {
            (200, _, stats) if stats["total_products"].as_u64() == Some(WATCHED as u64) => Ok(()),
            (code, _, stats) => Err(format!("{code} {stats}")),
        },
    );
    let (_, _, health) = answer(&base, "/health");
    assert_eq!(health["source"], "demo", "{health}");
    assert_eq!(health["components"]["store"]["status"], "ok", "{health}");
}
