//! Roles across OS processes on Kafka: one `--role ingest` on the simulator, two
//! `--role process` workers sharing the partitions, one `--role api`, all on one store
//! (SQLite, or Elasticsearch when `ARBDESK_TEST_ES_URL` names one). A worker is killed with
//! SIGKILL mid-run; every product still arrives exactly once, with the opportunities
//! detection gives for its stored prices; a worker on another store (a mistyped data dir)
//! takes none of them.
//!
//! The kill runs on rdkafka's mock cluster, whose brokers listen on loopback so other
//! processes can use them. On the external broker (`ARBDESK_TEST_KAFKA`, the noida-db test
//! server in CI) the same topology runs without the kill: that server never expires a
//! SIGKILLed member from the group, so its partitions would never be handed on; the queue
//! story covers a clean handover there.
#![cfg(feature = "kafka")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbdesk::store::{OpportunityFilter, ProductFilter, StoreConfig};

use super::procs::{api_base, get, spawn, watch};

const ASINS: usize = 300;

#[test]
fn roles_across_processes_share_the_work_and_survive_a_kill() {
    let cluster = crate::it::util::mock_cluster(1, "e2e");
    let dir = tempfile::tempdir().unwrap();
    scenario(
        dir.path(),
        &mock_queue(&cluster.bootstrap_servers(), "e2e"),
        "",
        true,
    );
}

#[cfg(feature = "elasticsearch")]
#[test]
fn roles_on_elasticsearch_survive_a_kill() {
    let Some(url) = super::store_es::es_url() else {
        return;
    };
    let cluster = crate::it::util::mock_cluster(1, "e2e-es");
    let dir = tempfile::tempdir().unwrap();
    let store = es_store(&url);
    scenario(
        dir.path(),
        &mock_queue(&cluster.bootstrap_servers(), "e2e-es"),
        &store,
        true,
    );
}

#[cfg(feature = "elasticsearch")]
#[test]
fn roles_on_the_external_broker_and_elasticsearch() {
    let Some(url) = super::store_es::es_url() else {
        return;
    };
    let Ok(brokers) = std::env::var("ARBDESK_TEST_KAFKA") else {
        eprintln!("skipped: set ARBDESK_TEST_KAFKA=HOST:PORT to run the roles on a broker");
        return;
    };
    let prefix = format!("roles{}", std::process::id());
    let queue = format!(
        r#"
[queue]
type = "kafka"
brokers = "{brokers}"
topic_prefix = "{prefix}."
group = "{prefix}-workers"
"#
    );
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path(), &queue, &es_store(&url), false);
}

/// `[queue]` on rdkafka's mock cluster (topics made by `mock_cluster`, short sessions so the
/// killed worker's partitions move on quickly).
fn mock_queue(brokers: &str, prefix: &str) -> String {
    format!(
        r#"
[queue]
type = "kafka"
brokers = "{brokers}"
topic_prefix = "{prefix}."
group = "{prefix}-workers"
create_topics = false
options = {{ "session.timeout.ms" = "6000", "heartbeat.interval.ms" = "500" }}
"#
    )
}

/// `[store]` on the Elasticsearch test server, with indices of its own.
#[cfg(feature = "elasticsearch")]
fn es_store(url: &str) -> String {
    let s = super::store_es::fresh_settings(url);
    format!(
        "\n[store]\ntype = \"elasticsearch\"\nurl = \"{}\"\nindex_prefix = \"{}\"\n",
        s.url, s.index_prefix
    )
}

/// On Elasticsearch (shared across machines, where no file lock reaches) one process fetches
/// into the store: a second that would fetch is refused with exit code 2 while the first
/// holds its lease, and starts once the first has stopped (a clean stop gives it back).
#[cfg(feature = "elasticsearch")]
#[test]
fn a_second_process_fetching_into_one_elasticsearch_store_is_refused() {
    let Some(url) = super::store_es::es_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let body = format!("{}\n[discovery]\ncategories = []\n", es_store(&url));
    std::fs::write(&config, body).unwrap();
    let running = |log: &std::sync::mpsc::Receiver<String>| loop {
        let line = log
            .recv_timeout(Duration::from_secs(60))
            .expect("the process says it runs");
        if line.contains("arbdesk is running") {
            return;
        }
    };
    let (first, log) = spawn(dir.path(), &config, &["--serve", "--api-addr", "off"]);
    running(&log);
    // Its first report (a second after start) names it in the refusal.
    std::thread::sleep(Duration::from_secs(3));
    let out = super::procs::arbdesk(dir.path(), &config, &["--serve", "--api-addr", "off"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("Another arbdesk process (")
            && err.contains(&format!(
                ":{}) is fetching into the Elasticsearch store",
                first.0.id()
            )),
        "{err}"
    );
    // A clean stop (SIGTERM) gives the lease back: the next one starts at once.
    let _ = std::process::Command::new("kill")
        .arg(first.0.id().to_string())
        .status();
    let mut first = first;
    first.0.wait().unwrap();
    let (_second, log) = spawn(dir.path(), &config, &["--serve", "--api-addr", "off"]);
    running(&log);
}

/// A process that only serves refuses an index prefix under which nothing was stored (a
/// typo would serve an empty catalogue as healthy), and creates no index there.
#[cfg(feature = "elasticsearch")]
#[test]
fn an_api_process_refuses_an_elasticsearch_prefix_with_no_store() {
    let Some(url) = super::store_es::es_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let store = es_store(&url);
    std::fs::write(&config, &store).unwrap();
    let out = super::procs::arbdesk(
        dir.path(),
        &config,
        &["--serve", "--role", "api", "--api-addr", "127.0.0.1:0"],
    )
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a bad value: {err}");
    assert!(
        err.contains("No arbdesk store on Elasticsearch at") && err.contains("index_prefix"),
        "{err}"
    );
    let prefix = store
        .lines()
        .find_map(|l| l.strip_prefix("index_prefix = "))
        .unwrap()
        .trim_matches('"');
    let status = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let index = format!("{}/{prefix}products", url.trim_end_matches('/'));
        reqwest::Client::new()
            .head(index)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status.as_u16(), 404, "no index was created");
}

/// Watches 300 ASINs, runs ingest, two workers and an API as separate processes on the
/// given `[queue]` and `[store]` (SQLite in `dir` when `store` is empty), optionally kills
/// one worker once products arrive, and checks what the store holds.
fn scenario(dir: &Path, queue: &str, store: &str, kill: bool) {
    let config = dir.join("config.toml");
    // A current rate, so health settles to ok (the shipped one is stale).
    let fx = format!(
        "[fx]\noverride = {{ GBP = {{ eur_per_unit = 1.1500, date = \"{}\" }} }}\n",
        chrono::Utc::now().date_naive()
    );
    std::fs::write(
        &config,
        format!(
            r#"{queue}{store}
[pipeline]
demo_refresh_interval_secs = 3600

{fx}
[discovery]
categories = []
"#,
        ),
    )
    .unwrap();
    let asins: Vec<String> = (0..ASINS).map(|i| format!("B0E2E{i:05}")).collect();
    watch(dir, &config, &asins);

    let (api, api_log) = spawn(
        dir,
        &config,
        &["--serve", "--role", "api", "--api-addr", "127.0.0.1:0"],
    );
    let base = api_base(&api_log);
    let (worker_a, _la) = spawn(
        dir,
        &config,
        &["--serve", "--role", "process", "--api-addr", "off"],
    );
    let (worker_b, _lb) = spawn(
        dir,
        &config,
        &["--serve", "--role", "process", "--api-addr", "off"],
    );
    // A worker on another store than the ingest's (SQLite: another data dir) takes none of
    // the updates: it waits for an ingest process to claim its store, and says so.
    let stray = store.is_empty().then(|| {
        let other = dir.join("other");
        std::fs::create_dir_all(&other).unwrap();
        spawn(
            &other,
            &config,
            &["--serve", "--role", "process", "--api-addr", "off"],
        )
    });
    let (ingest, _li) = spawn(
        dir,
        &config,
        &["--serve", "--role", "ingest", "--api-addr", "off"],
    );

    // Kill one worker once products are arriving; then wait until every product is in and
    // the totals have stayed put for longer than the group's session timeout (the killed
    // worker's uncommitted messages go to the other one after it).
    let start = Instant::now();
    let mut worker_a = Some(worker_a);

    let mut stable_since = Instant::now();
    let mut previous = serde_json::Value::Null;
    loop {
        let stats = get(&base, "/stats");
        // The API process serves and does nothing else. (A request that timed out on a
        // loaded machine answers nothing: asked again on the next round.)
        if !stats.is_null() {
            assert_eq!(
                stats["pipeline"]["roles"],
                serde_json::json!(["api"]),
                "{stats}"
            );
        }
        let products = stats["total_products"].as_u64().unwrap_or(0);
        if kill
            && products > 0
            && let Some(mut w) = worker_a.take()
        {
            w.0.kill().unwrap(); // SIGKILL
            let _ = w.0.wait();
            // The survivor takes the dead worker's partitions when its session times out.
        }
        let marker = serde_json::json!([stats["products_per_market"], stats["opportunities"]]);
        if marker != previous {
            previous = marker;
            stable_since = Instant::now();
        }
        if products == ASINS as u64 && stable_since.elapsed() > Duration::from_secs(12) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "not every product arrived; last /stats: {stats}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Settled: health turns ok (a busy test server may answer a probe late for a while),
    // and the API process shows the pipeline as the processes that run it report it: it
    // runs no stage and opens no queue of its own.
    let settled = Instant::now();
    loop {
        let health = get(&base, "/health");
        let stats = get(&base, "/stats");
        let pipeline = &stats["pipeline"];
        let reporters = pipeline["reported_by"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let roles: BTreeSet<&str> = reporters
            .iter()
            .filter_map(|r| r["roles"].as_str())
            .collect();
        // Reports come every 10 s: the first ones, a second after start, count nothing yet.
        // (A killed worker's counts leave the sums once its report is stale.)
        let counted = ["ingest", "enrich", "store"]
            .iter()
            .all(|stage| pipeline["stages"][stage]["processed"].as_u64() > Some(0));
        if health["status"] == "ok"
            && roles.contains("ingest")
            && roles.contains("process")
            && counted
        {
            assert_eq!(pipeline["roles"], serde_json::json!(["api"]), "{stats}");
            assert_eq!(pipeline["running"], true, "{stats}");
            assert!(stats["keepa"]["requests"].as_u64() > Some(0), "{stats}");
            let detail = health["components"]["pipeline"]["detail"].as_str().unwrap();
            assert!(detail.contains("as reported by"), "{health}");
            assert_eq!(health["components"]["queue"]["kind"], "kafka", "{health}");
            assert!(
                health["components"]["queue"]["detail"]
                    .as_str()
                    .unwrap()
                    .contains("reports it"),
                "{health}"
            );
            break;
        }
        assert!(
            settled.elapsed() < Duration::from_secs(90),
            "health did not turn ok with the processes' reports: {health} {stats}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // The processes that run the pipeline stop (SIGTERM): the API process says so, rather
    // than "not running in this process" as if none had ever run.
    for p in [Some(&ingest), Some(&worker_b), worker_a.as_ref()]
        .into_iter()
        .flatten()
    {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &p.0.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }
    let stopping = Instant::now();
    loop {
        let health = get(&base, "/health");
        let pipeline = &health["components"]["pipeline"];
        if pipeline["status"] == "down" {
            assert!(
                pipeline["detail"]
                    .as_str()
                    .unwrap()
                    .starts_with("no process runs the pipeline: the last report, from "),
                "{health}"
            );
            break;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(90),
            "the pipeline's processes stopped, its health did not say so: {health}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    drop((ingest, worker_b, api, worker_a));
    if let Some((stray, log)) = stray {
        drop(stray);
        let said: Vec<String> = log.try_iter().collect();
        assert!(
            said.iter()
                .any(|l| l.contains("No ingest process has fetched into this store")),
            "{said:?}"
        );
    }

    // Check the store: every product once, and exactly the opportunities detection gives.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let text = std::fs::read_to_string(&config).unwrap();
        let file: toml::Value = toml::from_str(&text).unwrap();
        let store_config: StoreConfig = match file.get("store") {
            Some(s) => s.clone().try_into().unwrap(),
            None => StoreConfig::default(),
        };
        let store = arbdesk::store::build(&store_config, dir).unwrap();
        let products = store
            .products(ProductFilter {
                limit: 10_000,
                ..ProductFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(products.total, ASINS as u64);
        let ids: BTreeSet<String> = products.items.iter().map(|p| p.asin.to_string()).collect();
        assert_eq!(ids, asins.iter().cloned().collect());
        let stored = store
            .opportunities(OpportunityFilter {
                limit: 100_000,
                ..OpportunityFilter::default()
            })
            .await
            .unwrap();
        let mut by_key: BTreeMap<String, i64> = BTreeMap::new();
        for o in &stored.items {
            assert!(
                by_key
                    .insert(o.key().to_string(), o.gross_margin.minor)
                    .is_none(),
                "{} stored twice",
                o.key()
            );
        }
        let overlay: arbdesk::economics::EconomicsOverlay = toml::from_str(&fx).unwrap();
        let economics = arbdesk::economics::Economics::new(
            arbdesk::economics::EconomicsConfig::with_overlay(overlay).unwrap(),
        )
        .unwrap();
        let detect: Arc<dyn arbdesk::pipeline::Detect> =
            Arc::new(arbdesk::economics::LiveDetector::new(Arc::new(economics)));
        let mut expected: BTreeMap<String, i64> = BTreeMap::new();
        for p in &products.items {
            for o in detect.detect(p, chrono::Utc::now()) {
                expected.insert(o.key().to_string(), o.gross_margin.minor);
            }
        }
        assert!(!expected.is_empty());
        assert_eq!(
            by_key, expected,
            "stored opportunities differ from detection"
        );
    });
}

/// A poison message on the raw topic (not JSON, or JSON that is no Keepa product) goes to
/// the dead-letter topic with the reason and its original bytes, is committed, and does not
/// hold up the partition: the watched products behind it are all processed.
#[test]
fn poison_messages_go_to_the_dead_letter_topic_with_their_reason() {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Headers, Message as _};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    let cluster = crate::it::util::mock_cluster(1, "poison");
    let brokers = cluster.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[pipeline]\ndemo_refresh_interval_secs = 3600\n\n[discovery]\ncategories = []\n",
            mock_queue(&brokers, "poison")
        ),
    )
    .unwrap();
    let asins: Vec<String> = (0..20).map(|i| format!("B0PSN{i:05}")).collect();
    watch(dir.path(), &config, &asins);

    let poison: [&[u8]; 2] = [
        b"\xff\xfe not json",
        br#"{"asin":"B0PSN00001","surprise":true}"#,
    ];
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    for p in poison {
        producer
            .send(
                BaseRecord::to("poison.raw.keepa_updates")
                    .key("B0PSN00001")
                    .payload(p),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();

    let (_arbdesk, log) = spawn(
        dir.path(),
        &config,
        &["--serve", "--api-addr", "127.0.0.1:0"],
    );
    let base = api_base(&log);
    let start = Instant::now();
    loop {
        let stats = get(&base, "/stats");
        if stats["total_products"] == 20 && stats["pipeline"]["dead_letters"] == 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the poison held up the pipeline: {stats}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    let dlq: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "poison-dlq-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    dlq.subscribe(&["poison.raw.keepa_updates.dlq"]).unwrap();
    let mut letters = Vec::new();
    while letters.len() < 2 {
        if let Some(Ok(m)) = dlq.poll(Duration::from_millis(200)) {
            let reason = m
                .headers()
                .and_then(|h| h.iter().find(|x| x.key == "error"))
                .and_then(|x| x.value)
                .map(|v| String::from_utf8_lossy(v).to_string())
                .unwrap_or_default();
            letters.push((m.payload().unwrap_or_default().to_vec(), reason));
        }
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "dead letters: {letters:?}"
        );
    }
    letters.sort();
    let mut want: Vec<Vec<u8>> = poison.iter().map(|p| p.to_vec()).collect();
    want.sort();
    assert_eq!(
        letters.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        want,
        "the original bytes are kept"
    );
    for (payload, reason) in &letters {
        assert!(
            reason.contains("not a raw Keepa update"),
            "{:?}: {reason}",
            String::from_utf8_lossy(payload)
        );
    }
}
