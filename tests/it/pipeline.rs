//! What the process stage publishes besides the store: every stored product on
//! `enriched.products`, and on `alerts` every route that crossed into the ranking.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use arbdesk::config::{PipelineSettings, RefreshIntervals};
use arbdesk::domain::{Asin, Market, Opportunity, OpportunityKey};
use arbdesk::economics::live::LiveDetector;
use arbdesk::economics::{Economics, EconomicsConfig};
use arbdesk::keepa::sim::{Catalog, Options, asin_from};
use arbdesk::pipeline::{Detect, Pipeline, PipelineDeps, Source};
use arbdesk::queue::memory::MemoryQueue;
use arbdesk::queue::{Message, Queue, RawUpdate, Topic};
use arbdesk::store::sqlite::SqliteStore;
use arbdesk::store::{OpportunityFilter, Store};
use chrono::Utc;
use serde_json::value::RawValue;
use tokio::sync::broadcast;

const PRODUCTS: u64 = 400;

/// Every simulated product in every market, fetched now, as raw updates (made once: the
/// simulator's prices move with time).
fn updates() -> Vec<Message> {
    let cat = Catalog::new(7);
    let now = Utc::now();
    let opts = Options::new().with_history(7).with_stats(90).with_buybox();
    (0..PRODUCTS)
        .flat_map(|i| Market::ALL.map(move |m| (i, m)))
        .map(|(i, market)| {
            let asin = asin_from(i).parse().unwrap();
            let p = cat.product(&asin, market, now.timestamp_millis(), opts);
            RawUpdate {
                asin,
                market,
                fetched_at: now,
                product: RawValue::from_string(serde_json::to_string(&p).unwrap()).unwrap(),
                source: None,
            }
            .to_message()
            .unwrap()
        })
        .collect()
}

/// Hourly refreshes and no discovery: nothing fetches while a test runs.
fn settings() -> PipelineSettings {
    PipelineSettings {
        refresh_interval: Duration::from_secs(3600),
        intervals: RefreshIntervals {
            live: Duration::from_secs(3600),
            demo: Duration::from_secs(3600),
        },
        fetch_batch: 100,
        process_batch: 250,
        discovery: Vec::new(),
        discovery_interval: Duration::from_secs(7200),
        discovery_take: 10,
    }
}

/// What every pipeline here starts with: all markets, hourly settings, Buy Box data, no
/// Keepa client; each test sets what it is about. With `detect` the process stage runs with
/// it; without, the shipped economics only explain and show the FX rate.
fn deps(
    store: Arc<dyn Store>,
    queue: Option<Arc<dyn Queue>>,
    detect: Option<Arc<dyn Detect>>,
) -> PipelineDeps {
    PipelineDeps {
        client: None,
        source: Source::Demo,
        queue,
        store,
        processes: detect.is_some(),
        detector: detect.unwrap_or_else(|| {
            Arc::new(LiveDetector::new(Arc::new(
                Economics::new(EconomicsConfig::default()).unwrap(),
            )))
        }),
        markets: Market::ALL.to_vec(),
        settings: settings(),
        buybox: arbdesk::config::BuyBox::All,
        ingest_gate: None,
    }
}

/// What one run of the process stage over `updates()` published: the ASINs of the enriched
/// products and the alerted rows.
async fn run(
    store: Arc<dyn Store>,
    updates: Vec<Message>,
    economics: &str,
) -> (BTreeSet<String>, Vec<Opportunity>) {
    let queue = Arc::new(MemoryQueue::new(20_000));
    let mut alerts = queue.subscribe_alerts();
    let mut enriched = queue.subscribe_enriched();
    // Enriched products outnumber the broadcast buffer: read them as they come.
    let reader = tokio::spawn(async move {
        let mut asins = BTreeSet::new();
        loop {
            match enriched.recv().await {
                Ok(m) => {
                    let p: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                    assert_eq!(p["asin"].as_str(), Some(m.key.as_str()));
                    assert!(p["markets"].is_object(), "an enriched product: {p}");
                    asins.insert(m.key);
                }
                Err(broadcast::error::RecvError::Closed) => return asins,
                Err(e) => panic!("enriched products were lost: {e}"),
            }
        }
    });
    let economics =
        Arc::new(Economics::new(EconomicsConfig::from_toml_str(economics).unwrap()).unwrap());
    let detect: Arc<dyn Detect> = Arc::new(LiveDetector::new(economics));
    let q: Arc<dyn Queue> = queue.clone();
    let pipeline = Pipeline::start(deps(store, Some(q.clone()), Some(detect)));
    q.publish(Topic::RawUpdates, updates).await.unwrap();
    // Shutting down drains everything published.
    pipeline.shutdown().await;
    drop(q);
    drop(queue);
    let mut alerted = Vec::new();
    while let Ok(m) = alerts.try_recv() {
        let o: Opportunity = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(o.asin.as_str(), m.key);
        alerted.push(o);
    }
    (reader.await.unwrap(), alerted)
}

/// Ingest on `sim` (no process stage) with discovery of one best-seller list, DE's first
/// root category (what `category` in the first discovery test is).
fn discovering(store: Arc<dyn Store>, sim: &arbdesk::keepa::sim::Simulator) -> PipelineDeps {
    PipelineDeps {
        client: Some(sim_client(sim)),
        settings: PipelineSettings {
            discovery: vec![arbdesk::config::DiscoveryCategory {
                market: Market::DE,
                category: arbdesk::keepa::sim::ROOTS[0].0.to_string(),
            }],
            ..settings()
        },
        ..deps(store, Some(Arc::new(MemoryQueue::new(1_000))), None)
    }
}

/// A Keepa client answered in process by `sim`.
fn sim_client(sim: &arbdesk::keepa::sim::Simulator) -> arbdesk::keepa::KeepaClient {
    use arbdesk::keepa::client::ClientConfig;
    arbdesk::keepa::KeepaClient::with_transport(
        ClientConfig::new(
            url::Url::parse("http://keepa-sim.invalid/").unwrap(),
            arbdesk::keepa::ApiKey::new("demo"),
        ),
        sim.transport(),
    )
}

async fn stored_ranked(store: &dyn Store) -> HashSet<OpportunityKey> {
    let page = store
        .opportunities(OpportunityFilter {
            ranked: Some(true),
            limit: 10_000,
            ..OpportunityFilter::default()
        })
        .await
        .unwrap();
    page.items.iter().map(Opportunity::key).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enriched_products_are_published_and_routes_crossing_into_the_ranking_are_alerted_once() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    let all: BTreeSet<String> = (0..PRODUCTS).map(asin_from).collect();
    let updates = updates();

    // An ROI floor of 1,000 %: nothing is ranked, so nothing is alerted.
    let (asins, alerted) = run(
        store.clone(),
        updates.clone(),
        "[economics.gates]\nmin_roi = 10\n",
    )
    .await;
    assert_eq!(asins, all, "every stored product is published enriched");
    let keys = |rows: &[Opportunity]| rows.iter().map(|o| o.key().to_string()).collect::<Vec<_>>();
    assert!(
        alerted.is_empty(),
        "nothing passes the gates: {:?}",
        keys(&alerted)
    );
    assert!(stored_ranked(&*store).await.is_empty());

    // No money floor: the same prices now rank some routes, and exactly those cross. (Not
    // the shipped floors: at those, only a few of the simulator's products rank, and on
    // some days none of them is in stock where it would sell.)
    let (_, alerted) = run(
        store.clone(),
        updates.clone(),
        "[economics.gates]\nmin_roi = 0\nmin_profit = 0\n",
    )
    .await;
    let ranked = stored_ranked(&*store).await;
    assert!(
        !ranked.is_empty(),
        "the simulator has routes that pass every gate"
    );
    let crossed: Vec<OpportunityKey> = alerted.iter().map(Opportunity::key).collect();
    assert_eq!(crossed.iter().copied().collect::<HashSet<_>>(), ranked);
    assert_eq!(crossed.len(), ranked.len(), "each crossing is alerted once");
    assert!(alerted.iter().all(|o| o.ranked));
    // These routes were stored, unranked, by the first run: they keep its first sighting.
    let stored = store
        .opportunities(OpportunityFilter {
            keys: crossed.clone(),
            limit: crossed.len(),
            ..OpportunityFilter::default()
        })
        .await
        .unwrap();
    for o in &alerted {
        let s = stored.items.iter().find(|s| s.key() == o.key()).unwrap();
        assert!(s.first_seen.is_some());
        assert_eq!(o.first_seen, s.first_seen, "{}", o.key());
        assert!(o.first_seen < Some(o.updated_at), "{}", o.key());
    }

    // The same updates again: the ranked routes stay ranked, so no new alerts.
    let (_, alerted) = run(store.clone(), updates.clone(), "").await;
    assert!(alerted.is_empty(), "already ranked: {:?}", keys(&alerted));

    // On a fresh store every ranked route is new: first seen when it was detected.
    let fresh = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&fresh.path().join("arbdesk.sqlite")).unwrap());
    let (_, alerted) = run(store.clone(), updates, "").await;
    assert_eq!(alerted.len(), stored_ranked(&*store).await.len());
    assert!(alerted.iter().all(|o| o.first_seen == Some(o.updated_at)));
}

/// A live start whose ECB fetch fails computes with the rate the last successful fetch
/// recorded, not the older shipped one; the failed fetch is recorded and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_start_takes_back_the_last_ecb_rate_fetched() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    // Fetched days ago (after the shipped rate's date), all finished before this run's.
    let day = |ago: i64| (Utc::now().date_naive() - chrono::Duration::days(ago)).to_string();
    let fetched = |day: String, rate: &str, result: &str| arbdesk::store::JobRun {
        job: "fx".into(),
        started_at: format!("{day}T16:05:00Z").parse().unwrap(),
        finished_at: format!("{day}T16:05:01Z").parse().unwrap(),
        result: result.into(),
        detail: format!("ecb {day}: 1 EUR = {rate} GBP"),
    };
    // The last run failed and kept the rate of the one before: that rate is taken back.
    for run in [
        fetched(day(3), "0.8100", "ok"),
        fetched(day(2), "0.8400", "ok"),
        arbdesk::store::JobRun {
            detail: format!("kept ecb {}: 1 EUR = 0.8400 GBP", day(2)),
            ..fetched(day(1), "0.9900", "error: timed out")
        },
    ] {
        store.record_job(run).await.unwrap();
    }
    // Port 9 on loopback: nothing listens, the fetch fails at once.
    let economics = Economics::new(
        EconomicsConfig::from_toml_str("[fx]\nurl = \"http://127.0.0.1:9/eurofxref-daily.xml\"\n")
            .unwrap(),
    )
    .unwrap();
    let detect: Arc<dyn Detect> = Arc::new(LiveDetector::new(Arc::new(economics)));
    let q: Arc<dyn Queue> = Arc::new(MemoryQueue::new(100));
    let pipeline = Pipeline::start(PipelineDeps {
        source: Source::Live,
        ..deps(store.clone(), Some(q), Some(detect))
    });
    let mut status = pipeline.status();
    let started = Utc::now() - chrono::Duration::seconds(1);
    let fx = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            // This run's failed fetch.
            let failed = status.borrow().jobs.iter().any(|j| {
                j.name == "fx"
                    && j.last_run
                        .as_ref()
                        .is_some_and(|r| r.finished_at >= started && r.result != "ok")
            });
            if failed && let Some(fx) = status.borrow().fx.clone() {
                return fx;
            }
            status.changed().await.unwrap();
        }
    })
    .await
    .expect("the failed fetch is reported within 30 s");
    let kept = store.jobs().await.unwrap();
    pipeline.shutdown().await;
    let kept = kept.iter().find(|r| r.job == "fx").unwrap();
    assert_eq!(
        kept.detail,
        format!("kept ecb {}: 1 EUR = 0.8400 GBP", day(2)),
        "the failed run records the rate it kept, for the next start"
    );
    assert_eq!(fx.source, "ecb");
    assert_eq!(fx.date, day(2));
    assert!((fx.eur_per_gbp - 1.0 / 0.84).abs() < 1e-4, "{fx:?}");
}

/// A process that does not detect (`--role api`) shows the FX rate the detecting process
/// recorded in the store, not its own shipped one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_only_process_shows_the_rate_the_detecting_process_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    let day = (Utc::now().date_naive() - chrono::Duration::days(1)).to_string();
    store
        .record_job(arbdesk::store::JobRun {
            job: "fx".into(),
            started_at: Utc::now() - chrono::Duration::hours(2),
            finished_at: Utc::now() - chrono::Duration::hours(2),
            result: "ok".into(),
            detail: format!("ecb {day}: 1 EUR = 0.8500 GBP"),
        })
        .await
        .unwrap();
    let explain = shipped_detect();
    let pipeline = Pipeline::start(PipelineDeps {
        source: Source::Live,
        detector: explain,
        ..deps(store, None, None)
    });
    let mut status = pipeline.status();
    let fx = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let fx = status.borrow().fx.clone();
            if let Some(fx) = fx.filter(|f| f.source == "ecb") {
                return fx;
            }
            status.changed().await.unwrap();
        }
    })
    .await
    .expect("the recorded rate is shown within 30 s");
    pipeline.shutdown().await;
    assert_eq!(fx.date, day);
    assert_eq!(fx.record, format!("ecb {day}: 1 EUR = 0.8500 GBP"));
}

/// A refresh asked for again before the first one finished (`r` pressed twice) is not
/// fetched twice: Keepa tokens are spent once. The simulator counts the requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_on_command_spend_tokens_once() {
    use arbdesk::keepa::sim::{SimConfig, Simulator};
    use arbdesk::pipeline::Command;

    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    let sim = Simulator::new(SimConfig::default());
    let client = sim_client(&sim);
    let detect = shipped_detect();
    let q: Arc<dyn Queue> = Arc::new(MemoryQueue::new(1_000));
    // The watchlist is empty: only the commands fetch.
    let pipeline = Pipeline::start(PipelineDeps {
        client: Some(client),
        ..deps(store.clone(), Some(q), Some(detect))
    });
    let commands = pipeline.commands();
    // Sends refreshes asked for at `asked`, then one of `marker`, and waits until the
    // marker's product is stored: commands run in order, so the others have run too.
    let run = |refreshes: Vec<Vec<Asin>>, asked: tokio::time::Instant, marker: Asin| {
        let (commands, store) = (commands.clone(), store.clone());
        async move {
            for asins in refreshes.into_iter().chain([vec![marker]]) {
                commands
                    .send(Command::Refresh { asins, asked })
                    .await
                    .unwrap();
            }
            tokio::time::timeout(Duration::from_secs(60), async {
                loop {
                    let stored = store.product(marker).await.unwrap();
                    if stored.is_some_and(|p| p.markets.len() == Market::ALL.len()) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await
            .expect("the refreshed product is stored within 60 s");
        }
    };
    let markets = Market::ALL.len() as u64;
    // Products the simulator lists in every market, so "stored in every market" is the
    // sign that a refresh has run.
    let everywhere = (0..)
        .map(|i| asin_from(i).parse::<Asin>().unwrap())
        .filter(|asin| {
            Market::ALL.iter().all(|&m| {
                let opts = Options::new();
                sim.catalog()
                    .product(asin, m, sim.now_ms(), opts)
                    .product
                    .product_type
                    == Some(0)
            })
        });
    // A is refreshed; B to E mark the end of each step (a marker is a product never
    // refreshed before, so its arrival in the store says the commands before it have run).
    let [a, b, c, d, e]: [Asin; 5] = everywhere.take(5).collect::<Vec<_>>().try_into().unwrap();
    let now = tokio::time::Instant::now;
    let again = arbdesk::pipeline::REFRESH_AGAIN_AFTER;
    // A, then A again (listed twice) asked at the same moment, before A's refresh finished:
    // one request a market for A and one for B; the repeat costs nothing. (The client asks
    // `/token` once, to seed its token bucket.)
    run(vec![vec![a], vec![a, a]], now(), b).await;
    assert_eq!(sim.requests(), 1 + 2 * markets);
    // Asked again just after it finished: nothing for A.
    run(vec![vec![a]], now(), c).await;
    assert_eq!(sim.requests(), 1 + 3 * markets);
    // Asked once the refresh is older than REFRESH_AGAIN_AFTER (a request stamped that
    // much later), A is fetched again.
    run(vec![vec![a]], now() + again, d).await;
    assert_eq!(sim.requests(), 1 + 5 * markets);
    // `:refresh all` fetches the watched products (A and B, refreshed on command, so not
    // due on schedule) together, in one request a market.
    store
        .watch_add(vec![a, b], arbdesk::store::WatchSource::User)
        .await
        .unwrap();
    let asked = now() + 2 * again;
    commands.send(Command::RefreshAll { asked }).await.unwrap();
    run(vec![], asked, e).await;
    assert_eq!(sim.requests(), 1 + 7 * markets);
    // Having read the watchlist, the ingest stage entered its products in the ledger the
    // console and the API share: naming a watched one now is answered as a repeat, while
    // one that is not watched (C) is sent.
    assert_eq!(
        commands.refresh(vec![a, c]).unwrap(),
        arbdesk::pipeline::Refresh::Queued {
            sent: vec![c],
            repeats: vec![a]
        }
    );
    pipeline.shutdown().await;
}

/// A refresh of the whole watchlist accepted while the store does not answer waits for it
/// (the API said it was queued), rather than being dropped: once the store answers, the
/// watched product is fetched again in every market.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_of_all_waits_for_the_store() {
    use arbdesk::keepa::sim::{SimConfig, Simulator};
    use arbdesk::pipeline::Command;
    use std::sync::atomic::Ordering::SeqCst;

    let dir = tempfile::tempdir().unwrap();
    let (sqlite, store) = sqlite_behind_a_double(&dir);
    let sim = Simulator::new(SimConfig::default());
    let asin: Asin = (0..)
        .map(|i| asin_from(i).parse::<Asin>().unwrap())
        .find(|a| {
            Market::ALL.iter().all(|&m| {
                let p = sim.catalog().product(a, m, sim.now_ms(), Options::new());
                p.product.product_type == Some(0)
            })
        })
        .unwrap();
    sqlite
        .watch_add(vec![asin], arbdesk::store::WatchSource::User)
        .await
        .unwrap();
    let q: Arc<dyn Queue> = Arc::new(MemoryQueue::new(1_000));
    let detect = shipped_detect();
    let pipeline = Pipeline::start(PipelineDeps {
        client: Some(sim_client(&sim)),
        ..deps(store.clone(), Some(q), Some(detect))
    });
    // The scheduled fetch first: the product in every market.
    tokio::time::timeout(Duration::from_secs(60), async {
        while sqlite
            .product(asin)
            .await
            .unwrap()
            .is_none_or(|p| p.markets.len() < Market::ALL.len())
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the watched product is fetched");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = sim.requests();
    store.down.store(true, SeqCst);
    let asked = tokio::time::Instant::now() + 2 * arbdesk::pipeline::REFRESH_AGAIN_AFTER;
    pipeline
        .commands()
        .send(Command::RefreshAll { asked })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        sim.requests(),
        before,
        "nothing fetched while the store is down"
    );
    store.down.store(false, SeqCst);
    let markets = Market::ALL.len() as u64;
    tokio::time::timeout(Duration::from_secs(30), async {
        while sim.requests() < before + markets {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the refresh runs once the store answers");
    pipeline.shutdown().await;
}

/// Ingest alone (no processing) over 60 watched ASINs in one market, five a request (the
/// candidate window is 20 of them), fetching from a simulator; the store's directory, the
/// simulator, the queue and the pipeline's parts.
async fn watching_60() -> (
    tempfile::TempDir,
    arbdesk::keepa::sim::Simulator,
    Arc<dyn Queue>,
    PipelineDeps,
) {
    watching(60).await
}

/// `n` watched products, DE only, five to a request, a memory queue nothing consumes.
async fn watching(
    n: u64,
) -> (
    tempfile::TempDir,
    arbdesk::keepa::sim::Simulator,
    Arc<dyn Queue>,
    PipelineDeps,
) {
    use arbdesk::keepa::sim::{SimConfig, Simulator};

    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    let watched: Vec<Asin> = (0..n).map(|i| asin_from(i).parse().unwrap()).collect();
    store
        .watch_add(watched, arbdesk::store::WatchSource::User)
        .await
        .unwrap();
    let sim = Simulator::new(SimConfig::default());
    let q: Arc<dyn Queue> = Arc::new(MemoryQueue::new(10_000));
    let mut d = deps(store, Some(q.clone()), None);
    d.client = Some(sim_client(&sim));
    d.markets = vec![Market::DE];
    d.settings.fetch_batch = 5;
    (dir, sim, q, d)
}

/// The shipped economics as the pipeline detects with them.
fn shipped_detect() -> Arc<dyn Detect> {
    let economics = Economics::new(EconomicsConfig::from_toml_str("").unwrap()).unwrap();
    Arc::new(LiveDetector::new(Arc::new(economics)))
}

/// A SQLite store in `dir`, and a double in front of it that a test can take down or
/// have list routed products first.
fn sqlite_behind_a_double(
    dir: &tempfile::TempDir,
) -> (Arc<dyn Store>, Arc<super::api::fixture::Double>) {
    let sqlite: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    let store = Arc::new(super::api::fixture::Double::new(
        sqlite.clone(),
        Duration::ZERO,
    ));
    (sqlite, store)
}

/// Waits up to `limit` for `done`, checking every 50 ms; fails naming `what` otherwise.
async fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    tokio::time::timeout(limit, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting: {what}"));
}

/// A process started on a store another one fetched into takes up its schedule: products
/// fetched within the refresh interval wait for it to pass, rather than all being fetched
/// again at once (which spent a whole round of tokens at every restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_fetches_only_what_is_due() {
    let (_dir, sim, q, pipeline) = started_with_20_due().await;
    // Idle now: what was fetched 10 minutes ago is not due for another 50.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(q.depth(), 20, "only the due products");
    assert_eq!(
        sim.requests(),
        1 + 4,
        "the token, then four requests of five"
    );
    pipeline.shutdown().await;
}

/// Of 60 watched products (hourly refreshes, DE), 0–39 fetched 10 minutes ago, 40–49 two
/// hours ago (due), 50–59 never: a pipeline started on them, once it has fetched the 20 due.
async fn started_with_20_due() -> (
    tempfile::TempDir,
    arbdesk::keepa::sim::Simulator,
    Arc<dyn Queue>,
    Pipeline,
) {
    let (dir, sim, q, d) = watching_60().await;
    fetched_in_de(d.store.as_ref(), [(0..40, 10), (40..50, 120)]).await;
    let pipeline = Pipeline::start(d);
    wait_for_depth(&q, 20).await;
    (dir, sim, q, pipeline)
}

/// Stores the DE listings of the simulated products in each range as fetched that many
/// minutes ago.
async fn fetched_in_de<const N: usize>(
    store: &dyn Store,
    ranges: [(std::ops::Range<u64>, i64); N],
) {
    let opts = Options::new().with_stats(90);
    let cat = Catalog::new(7);
    let listing = |i: u64| {
        let asin = asin_from(i).parse().unwrap();
        let p = cat.product(&asin, Market::DE, 1_795_586_400_000, opts);
        arbdesk::keepa::decode_product(&serde_json::to_string(&p).unwrap()).unwrap()
    };
    let now = Utc::now();
    for (range, ago) in ranges {
        store
            .upsert_listings(
                range.map(listing).collect(),
                now - chrono::Duration::minutes(ago),
                None,
            )
            .await
            .unwrap();
    }
}

/// With the Buy Box by route, a refresh asks it (2 tokens more a product) only for the
/// products with a profitable route in the market fetched, and the refresh plan counts
/// them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buy_box_is_asked_for_products_with_a_profitable_route() {
    use crate::it::store_story::fixtures::{Figures, opp};
    use arbdesk::config::BuyBox;
    use arbdesk::pipeline::BuyBoxShare;

    let (_dir, sim, q, mut d) = watching_60().await;
    d.buybox = BuyBox::Routes;
    // 0–4 fetched two hours ago (due), the rest within the hour.
    fetched_in_de(d.store.as_ref(), [(0..5, 120), (5..60, 10)]).await;
    // 0 sells in DE, 1 buys there, 2 has a route elsewhere only, 3 one in DE at a loss; 4
    // has none.
    let asin = |i: u64| -> Asin { asin_from(i).parse().unwrap() };
    let f = || Figures(20.0, 8.0, 300, 15.0, 3_000, true, 60);
    let loss = Figures(4.0, -2.0, -80, -5.0, 0, false, 60);
    d.store
        .replace_opportunities(vec![
            (
                asin(0),
                vec![opp(asin(0), Market::IT, Market::DE, "Zero", f())],
            ),
            (
                asin(1),
                vec![opp(asin(1), Market::DE, Market::FR, "One", f())],
            ),
            (
                asin(2),
                vec![opp(asin(2), Market::IT, Market::UK, "Two", f())],
            ),
            (
                asin(3),
                vec![opp(asin(3), Market::IT, Market::DE, "Three", loss)],
            ),
        ])
        .await
        .unwrap();
    let pipeline = Pipeline::start(d);
    wait_for_depth(&q, 5).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(q.depth(), 5, "only the due products");
    let mut with_buybox = BTreeSet::new();
    for delivery in q.consume(5, Duration::from_secs(1)).await.unwrap() {
        let update: serde_json::Value = serde_json::from_slice(&delivery.message.payload).unwrap();
        if update["product"]["buyBoxSellerIdHistory"].is_array() {
            with_buybox.insert(update["asin"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        with_buybox,
        BTreeSet::from([asin(0).to_string(), asin(1).to_string()])
    );
    // One request with the Buy Box, one without, after the client's `/token`.
    assert_eq!(sim.requests(), 1 + 2);
    let plan = pipeline.status().borrow().refresh.unwrap();
    assert_eq!(
        plan.buybox_by_route,
        Some(BuyBoxShare {
            asked: 5,
            with_buybox: 2
        })
    );
    assert_eq!(plan.tokens_per_product, 1);
    assert_eq!(plan.cost(100), (180, 180), "1 token, and 2 more for 40 %");
    pipeline.shutdown().await;
}

/// Waits (a minute at most) until `q` holds `n` messages.
async fn wait_for_depth(q: &Arc<dyn Queue>, n: u64) {
    tokio::time::timeout(Duration::from_secs(60), async {
        while q.depth() < n {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{n} fetched; {} published", q.depth()));
}

/// The console's `:set refresh`: a shorter interval set while running makes due what it
/// reaches at once (fetched 10 minutes ago, due under 5), and what was just fetched moves to
/// the new interval rather than waiting out the hour; the status shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_interval_set_while_running_moves_the_schedule() {
    let (_dir, sim, q, pipeline) = started_with_20_due().await;
    pipeline
        .commands()
        .try_send(arbdesk::pipeline::Command::SetRefresh {
            interval: Duration::from_secs(300),
        })
        .unwrap();
    wait_for_depth(&q, 60).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(q.depth(), 60, "the 40 fetched 10 minutes ago, once");
    assert_eq!(sim.requests(), 1 + 4 + 8);
    let plan = pipeline.status().borrow().refresh.unwrap();
    assert_eq!(plan.interval_secs, 300);
    pipeline.shutdown().await;
}

/// Ingest with no worker storing what it fetches (the store never catches up): it goes on
/// through the watchlist, instead of fetching the same first products again each time they
/// fall due while the rest are never fetched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_goes_through_the_watchlist_while_the_store_lags() {
    let (_dir, sim, q, d) = watching_60().await;
    let pipeline = Pipeline::start(d);
    // Every product published once: one request per five products (twelve), after the
    // client's one `/token`.
    tokio::time::timeout(Duration::from_secs(60), async {
        while q.depth() < 60 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "all 60 watched products are fetched; {} published in {} requests",
            q.depth(),
            sim.requests()
        )
    });
    assert_eq!(q.depth(), 60, "each fetched once");
    assert_eq!(sim.requests(), 1 + 12);
    pipeline.shutdown().await;
}

/// What the ingest stage says it stopped (or waits) for, once the status says it (within
/// 30 s).
async fn ingest_stopped_said(
    status: &mut tokio::sync::watch::Receiver<arbdesk::pipeline::PipelineStatus>,
) -> String {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let said = status
                .borrow_and_update()
                .stages
                .get("ingest")
                .and_then(|s| s.stopped.clone());
            if let Some(said) = said {
                return said;
            }
            status.changed().await.unwrap();
        }
    })
    .await
    .expect("the status says why ingest stopped or waits")
}

/// A queue whose publishing fails as a broker that is away does, while `away` is set.
struct Away {
    inner: Arc<dyn Queue>,
    away: std::sync::atomic::AtomicBool,
    refused: std::sync::atomic::AtomicU64,
    /// The keys (ASINs) of the raw updates it took, in order.
    keys: std::sync::Mutex<Vec<String>>,
}

impl Queue for Away {
    fn publish(
        &self,
        topic: Topic,
        batch: Vec<Message>,
    ) -> futures_util::future::BoxFuture<'_, Result<(), arbdesk::queue::QueueError>> {
        use std::sync::atomic::Ordering::SeqCst;
        if self.away.load(SeqCst) {
            self.refused.fetch_add(1, SeqCst);
            return Box::pin(async {
                Err(arbdesk::queue::QueueError::Unavailable(
                    "Message production error: MessageTimedOut (Local: Message timed out)".into(),
                ))
            });
        }
        if topic == Topic::RawUpdates {
            self.keys
                .lock()
                .unwrap()
                .extend(batch.iter().map(|m| m.key.clone()));
        }
        self.inner.publish(topic, batch)
    }
    fn consume(
        &self,
        max: usize,
        wait: Duration,
    ) -> futures_util::future::BoxFuture<
        '_,
        Result<Vec<arbdesk::queue::Delivery>, arbdesk::queue::QueueError>,
    > {
        self.inner.consume(max, wait)
    }
    fn ack(
        &self,
        tags: Vec<arbdesk::queue::DeliveryTag>,
    ) -> futures_util::future::BoxFuture<'_, Result<(), arbdesk::queue::QueueError>> {
        self.inner.ack(tags)
    }
    fn dead_letter(
        &self,
        delivery: arbdesk::queue::Delivery,
        reason: String,
    ) -> futures_util::future::BoxFuture<'_, Result<(), arbdesk::queue::QueueError>> {
        self.inner.dead_letter(delivery, reason)
    }
    fn depth(&self) -> u64 {
        self.inner.depth()
    }
    fn dead_lettered(&self) -> u64 {
        self.inner.dead_lettered()
    }
    fn close(&self) {
        self.inner.close()
    }
    fn health(&self) -> futures_util::future::BoxFuture<'_, arbdesk::component::ComponentHealth> {
        self.inner.health()
    }
}

/// A queue that cannot take what ingest fetched (a broker away): the products are held and
/// published once it can, fetching waits meanwhile (no tokens on products that could not be
/// published), and the ingest stage says what it holds; nothing is fetched twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_holds_what_it_fetched_while_the_queue_is_away() {
    use std::sync::atomic::Ordering::SeqCst;
    let (_dir, sim, q, mut d) = watching_60().await;
    let away = Arc::new(Away {
        inner: q.clone(),
        away: true.into(),
        refused: 0.into(),
        keys: Default::default(),
    });
    d.queue = Some(away.clone());
    let pipeline = Pipeline::start(d);
    let mut status = pipeline.status();
    let said = ingest_stopped_said(&mut status).await;
    assert!(
        said.starts_with("holding 5 fetched product(s) until the queue takes them"),
        "{said}"
    );
    // Tried again, and no more fetched meanwhile: the token and the first request.
    until("publishing is tried again", Duration::from_secs(10), || {
        away.refused.load(SeqCst) >= 3
    })
    .await;
    assert_eq!(sim.requests(), 1 + 1, "fetching waits for the queue");
    away.away.store(false, SeqCst);
    until(
        "every watched product is published once the queue is back",
        Duration::from_secs(60),
        || q.depth() >= 60,
    )
    .await;
    assert_eq!(q.depth(), 60, "each once");
    assert_eq!(sim.requests(), 1 + 12, "none fetched twice");
    // The status is a snapshot a second old at most.
    tokio::time::timeout(Duration::from_secs(10), async {
        while status.borrow_and_update().stages["ingest"]
            .stopped
            .is_some()
        {
            status.changed().await.unwrap();
        }
    })
    .await
    .expect("the hold is over");
    pipeline.shutdown().await;
}

/// A refresh of the whole watchlist publishes what each Keepa request returns before it
/// makes the next: the store gets a large watchlist's updates as its tokens allow, and a
/// queue gone away meanwhile costs one request's tokens, the rest being asked once it is
/// back (each product published once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_of_all_publishes_each_request_before_the_next() {
    use arbdesk::pipeline::Command;
    use std::sync::atomic::Ordering::SeqCst;
    let (_dir, sim, q, mut d) = watching(250).await;
    d.settings.fetch_batch = 100;
    let away = Arc::new(Away {
        inner: q.clone(),
        away: false.into(),
        refused: 0.into(),
        keys: Default::default(),
    });
    d.queue = Some(away.clone());
    let pipeline = Pipeline::start(d);
    // The scheduled pass first: the token, then three requests (100, 100, 50).
    until(
        "the scheduled pass fetches every watched product",
        Duration::from_secs(60),
        || q.depth() >= 250,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = sim.requests();
    assert_eq!(before, 1 + 3);
    away.away.store(true, SeqCst);
    let asked = tokio::time::Instant::now() + 2 * arbdesk::pipeline::REFRESH_AGAIN_AFTER;
    pipeline
        .commands()
        .send(Command::RefreshAll { asked })
        .await
        .unwrap();
    until("publishing is tried again", Duration::from_secs(10), || {
        away.refused.load(SeqCst) >= 3
    })
    .await;
    assert_eq!(
        sim.requests(),
        before + 1,
        "the next request waits for the queue to take the first one's products"
    );
    away.away.store(false, SeqCst);
    until(
        "the refresh goes on once the queue is back",
        Duration::from_secs(60),
        || q.depth() >= 500,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(q.depth(), 500, "each product published once more");
    assert_eq!(sim.requests(), before + 3, "none asked twice");
    pipeline.shutdown().await;
}

/// Products with a route in a market are listed first for refreshing there. One without a
/// route that falls due while every routed one was fetched moments ago, and nothing waits in
/// the queue, is fetched then: it used to wait behind the routed ones' next round, a whole
/// refresh interval late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_without_a_route_is_refreshed_when_due() {
    use arbdesk::keepa::sim::{SimConfig, Simulator};
    let dir = tempfile::tempdir().unwrap();
    let (sqlite, store) = sqlite_behind_a_double(&dir);
    // More routed products than the first window of candidates (4 requests of 5).
    let routed: Vec<Asin> = (0..30).map(|i| asin_from(i).parse().unwrap()).collect();
    let lone: Asin = asin_from(100).parse().unwrap();
    *store.routed.lock().unwrap() = routed.clone();
    sqlite
        .watch_add(routed.clone(), arbdesk::store::WatchSource::User)
        .await
        .unwrap();
    let sim = Simulator::new(SimConfig::default());
    let q: Arc<dyn Queue> = Arc::new(MemoryQueue::new(10_000));
    let taken = Arc::new(Away {
        inner: q,
        away: false.into(),
        refused: 0.into(),
        keys: Default::default(),
    });
    let detect = shipped_detect();
    let mut d = PipelineDeps {
        client: Some(sim_client(&sim)),
        ..deps(store.clone(), Some(taken.clone()), Some(detect))
    };
    d.markets = vec![Market::DE];
    d.settings.fetch_batch = 5;
    d.settings.refresh_interval = Duration::from_secs(8);
    let pipeline = Pipeline::start(d);
    let times = |a: &Asin| {
        let key = a.to_string();
        taken
            .keys
            .lock()
            .unwrap()
            .iter()
            .filter(|k| **k == key)
            .count()
    };
    until(
        "the routed products' first round",
        Duration::from_secs(60),
        || times(&routed[29]) >= 1,
    )
    .await;
    // Added a moment later, so it falls due after the routed ones' next round.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sqlite
        .watch_add(vec![lone], arbdesk::store::WatchSource::User)
        .await
        .unwrap();
    until(
        "the routed products' third round",
        Duration::from_secs(90),
        || times(&routed[0]) >= 3,
    )
    .await;
    let keys = taken.keys.lock().unwrap().clone();
    let first = routed[0].to_string();
    let third = keys
        .iter()
        .enumerate()
        .filter(|(_, k)| **k == first)
        .nth(2)
        .map(|(i, _)| i)
        .unwrap();
    let lone_key = lone.to_string();
    assert_eq!(
        keys[..third].iter().filter(|k| **k == lone_key).count(),
        2,
        "the lone product is refreshed when due, before the routed ones' next round: {keys:?}"
    );
    pipeline.shutdown().await;
}

/// A process that lost the lease on fetching (the console goes on without it): ingest
/// stops, its status says why, and nothing more is fetched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_told_to_stop_fetching_stops_and_says_why() {
    let (_dir, sim, q, mut d) = watching_60().await;
    // Ingest waits for the lost lease before its first fetch, so what it fetches after it
    // is all it fetches.
    let (lost_tx, lost_rx) = tokio::sync::oneshot::channel::<String>();
    let (gate_tx, gate_rx) = tokio::sync::oneshot::channel::<()>();
    let (_say, waiting_for) = tokio::sync::watch::channel("waiting for the test".to_string());
    d.ingest_gate = Some(arbdesk::pipeline::IngestGate {
        open: Box::pin(async move {
            let _ = gate_rx.await;
            Ok(())
        }),
        waiting_for,
    });
    let mut pipeline = Pipeline::start(d);
    pipeline.stop_ingest_when(Box::pin(async move { lost_rx.await.unwrap() }));
    lost_tx
        .send("another process holds the lease".into())
        .unwrap();
    let said = ingest_stopped_said(&mut pipeline.status()).await;
    assert!(said.contains("another process holds the lease"), "{said}");
    // The gate opens: a stage still running would now fetch all 60 (see the test above).
    let _ = gate_tx.send(());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(q.depth(), 0, "nothing fetched after the stop");
    assert!(
        sim.requests() <= 1,
        "no product request: {}",
        sim.requests()
    );
    pipeline.shutdown().await;
}

/// Discovery adds the top of each best-seller list, but not a product already stored: one
/// taken off the watchlist stays off it (the next discovery run put it back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_leaves_out_products_taken_off_the_watchlist() {
    use arbdesk::keepa::sim::{ROOTS, SimConfig, Simulator};
    use arbdesk::pipeline::Command;
    use arbdesk::store::WatchSource;

    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    let sim = Simulator::new(SimConfig::default());
    let client = || sim_client(&sim);
    let category = ROOTS[0].0.to_string();
    let top: Vec<Asin> = client()
        .bestsellers(Market::DE, &category, 0)
        .await
        .unwrap()
        .asins
        .into_iter()
        .take(10)
        .collect();
    assert_eq!(top.len(), 10);
    // The first of the list was stored (fetched once), then taken off the watchlist.
    let removed = top[0];
    let listing = arbdesk::keepa::decode_product(
        &serde_json::to_string(&arbdesk::keepa::sim::Catalog::new(42).product(
            &removed,
            Market::DE,
            1_795_586_400_000,
            Options::new().with_buybox(),
        ))
        .unwrap(),
    )
    .unwrap();
    store
        .upsert_listings(vec![listing], chrono::Utc::now(), None)
        .await
        .unwrap();
    store
        .watch_add(vec![removed], WatchSource::User)
        .await
        .unwrap();
    store.watch_remove(vec![removed]).await.unwrap();

    let pipeline = Pipeline::start(discovering(store.clone(), &sim));
    pipeline.commands().send(Command::Discover).await.unwrap();
    let watched = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let list = store.watchlist().await.unwrap();
            if list.len() >= 9 {
                return list;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("discovery adds the list within 60 s");
    let watched: Vec<Asin> = watched.into_iter().map(|w| w.asin).collect();
    assert!(!watched.contains(&removed), "{watched:?}");
    assert!(top[1..].iter().all(|a| watched.contains(a)), "{watched:?}");
    pipeline.shutdown().await;
}

/// The first discovery run recorded in `store`, waited for up to 60 s.
async fn first_discovery_run(store: &dyn Store) -> arbdesk::store::JobRun {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let jobs = store.jobs().await.unwrap();
            if let Some(j) = jobs.into_iter().find(|j| j.job == "discovery") {
                return j;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("discovery runs at start-up")
}

/// A category Keepa has no best-seller list for (most likely a wrong id in the config) is
/// a fault of the discovery run that names it, not a list that found nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_category_without_a_list_is_named_in_the_discovery_run() {
    use arbdesk::keepa::sim::{SimConfig, Simulator};

    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    let sim = Simulator::new(SimConfig::default());
    let mut deps = discovering(store.clone(), &sim);
    deps.settings
        .discovery
        .push(arbdesk::config::DiscoveryCategory {
            market: Market::FR,
            category: "562066".into(),
        });
    let pipeline = Pipeline::start(deps);
    let run = first_discovery_run(store.as_ref()).await;
    pipeline.shutdown().await;
    assert_eq!(
        run.result,
        "error: FR 562066: Keepa has no best-seller list for it (check its id in [discovery] categories)"
    );
    assert_eq!(run.detail, "2 lists, 10 ASINs, 10 new");
}

/// A discovery asked for just after one finished joins that run, however the request got
/// through: the API decides from a status published once a second, so two requests made
/// as a run ends can both be queued. Only one run may spend the tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovery_asked_for_just_after_one_ran_joins_it() {
    use arbdesk::keepa::sim::{SimConfig, Simulator};
    use arbdesk::pipeline::Command;

    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    let sim = Simulator::new(SimConfig::default());
    let pipeline = Pipeline::start(discovering(store.clone(), &sim));
    // When the latest discovery run started.
    let latest = || async {
        let jobs = store.jobs().await.unwrap();
        jobs.into_iter()
            .find(|j| j.job == "discovery")
            .map(|j| j.started_at)
    };
    let first = first_discovery_run(store.as_ref()).await.started_at;
    let commands = pipeline.commands();
    commands.send(Command::Discover).await.unwrap();
    commands.send(Command::Discover).await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), async {
        while commands.pending() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("ingest takes the commands");
    // A run asked for starts as soon as the command is taken, and takes milliseconds
    // against the simulator: half a second is long enough for one to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(latest().await, Some(first), "the lists were fetched again");
    pipeline.shutdown().await;
}

/// A product whose stored data the store cannot read refuses every write that merges into
/// it: its update goes to the dead-letter topic with the store's reason, and the rest of
/// the batch is stored and acknowledged, instead of the batch being retried for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_the_store_refuses_is_dead_lettered_and_the_rest_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arbdesk.sqlite");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let few: Vec<Message> = updates().into_iter().take(20 * 5).collect();
    let (asins, _) = run(store.clone(), few.clone(), "").await;
    assert_eq!(asins.len(), 20);
    // Damage one product's stored UK listing; then only its other markets are updated.
    let damaged = asin_from(3);
    let c = rusqlite::Connection::open(&path).unwrap();
    let n = c
        .execute(
            "UPDATE listings SET snapshot = '{not json' WHERE asin = ?1 AND market = 2",
            [&damaged],
        )
        .unwrap();
    assert_eq!(n, 1);
    let not_uk: Vec<Message> = few
        .into_iter()
        .filter(|m| {
            let u: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            u["market"] != "UK"
        })
        .collect();
    assert_eq!(not_uk.len(), 20 * 4);

    let queue = Arc::new(MemoryQueue::new(1_000));
    let q: Arc<dyn Queue> = queue.clone();
    let economics = Arc::new(Economics::shipped().unwrap());
    let detect: Arc<dyn Detect> = Arc::new(LiveDetector::new(economics));
    let pipeline = Pipeline::start(deps(store.clone(), Some(q.clone()), Some(detect)));
    q.publish(Topic::RawUpdates, not_uk).await.unwrap();
    pipeline.shutdown().await;
    let dead = queue.dead_letters();
    assert_eq!(dead.len(), 4, "the damaged product's four updates");
    for d in &dead {
        assert_eq!(d.message.key, damaged);
        assert!(
            d.reason.contains(&damaged) && d.reason.contains("the store refused"),
            "{}",
            d.reason
        );
    }
    // The other products took their updates.
    let other = store
        .product(asin_from(4).parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.markets.len(), 5);
}

/// A worker whose store does not answer takes nothing from the queue until it does (on
/// Kafka its share of the partitions goes to the other workers meanwhile); then it takes
/// and stores everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_takes_no_updates_until_its_store_answers() {
    use crate::it::api::fixture::Double;
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let inner: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    let double = Arc::new(Double::new(inner.clone(), Duration::ZERO));
    double.down.store(true, Ordering::SeqCst);
    let queue = Arc::new(MemoryQueue::new(1_000));
    let q: Arc<dyn Queue> = queue.clone();
    let economics = Arc::new(Economics::shipped().unwrap());
    let detect: Arc<dyn Detect> = Arc::new(LiveDetector::new(economics));
    let pipeline = Pipeline::start(deps(double.clone(), Some(q.clone()), Some(detect)));
    // Two products in every market.
    let two: Vec<Message> = updates().into_iter().take(10).collect();
    q.publish(Topic::RawUpdates, two).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        q.depth(),
        10,
        "nothing taken while the store does not answer"
    );
    double.down.store(false, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(30), async {
        while inner.stats().await.unwrap().total_products < 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("both products stored once the store answers");
    pipeline.shutdown().await;
    assert!(queue.dead_letters().is_empty());
}

/// An update fetched from another source than the store holds (an ingest process with a
/// store of its own, publishing to a shared topic) is dead-lettered, saying why; updates
/// from its own source, or that do not say, are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_from_another_source_than_the_store_holds_is_dead_lettered() {
    use arbdesk::pipeline::Source;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    store
        .set_checkpoint(arbdesk::store::Checkpoint {
            key: Source::MARK_KEY.to_string(),
            offset: Source::Demo.mark(),
        })
        .await
        .unwrap();
    // Products 0, 1 and 2 in DE: sent as live, as demo, and without a source.
    let sent = [Some(Source::Live), Some(Source::Demo), None];
    let messages: Vec<Message> = updates()
        .into_iter()
        .filter(|m| {
            let u: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            u["market"] == "DE"
        })
        .take(3)
        .zip(sent)
        .map(|(m, source)| {
            let mut u: RawUpdate = serde_json::from_slice(&m.payload).unwrap();
            u.source = source;
            u.to_message().unwrap()
        })
        .collect();
    let queue = Arc::new(MemoryQueue::new(1_000));
    let q: Arc<dyn Queue> = queue.clone();
    let economics = Arc::new(Economics::shipped().unwrap());
    let detect: Arc<dyn Detect> = Arc::new(LiveDetector::new(economics));
    let pipeline = Pipeline::start(deps(store.clone(), Some(q.clone()), Some(detect)));
    q.publish(Topic::RawUpdates, messages).await.unwrap();
    pipeline.shutdown().await;
    let dead = queue.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message.key, asin_from(0));
    assert!(
        dead[0].reason.starts_with(
            "fetched as live (Keepa) prices, and this store holds demo (simulated) ones"
        ),
        "{}",
        dead[0].reason
    );
    for (i, stored) in [(0, false), (1, true), (2, true)] {
        let p = store.product(asin_from(i).parse().unwrap()).await.unwrap();
        assert_eq!(p.is_some(), stored, "product {i}");
    }
}

/// Routes ranked on Keepa data that has since gone stale leave the ranking when the sweep
/// computes their products again; routes computed within the hour are not read, and a
/// product whose ranking holds is not written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_takes_routes_on_data_gone_stale_out_of_the_ranking() {
    use arbdesk::pipeline::sweep::sweep;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    let economics = "[economics.gates]\nmin_roi = 0\nmin_profit = 0\n";
    run(store.clone(), updates(), economics).await;
    let ranked = stored_ranked(&*store).await;
    assert!(!ranked.is_empty(), "the simulator has ranked routes");
    let detect: Arc<dyn Detect> = Arc::new(LiveDetector::new(Arc::new(
        Economics::new(EconomicsConfig::from_toml_str(economics).unwrap()).unwrap(),
    )));
    let now = Utc::now();
    let later = |d: chrono::TimeDelta| now + d;

    // Computed half an hour before: being refreshed, so not read at all.
    let n = sweep(
        &*store,
        detect.clone(),
        later(chrono::TimeDelta::minutes(30)),
    );
    assert_eq!(n.await.unwrap(), 0);
    // Two hours on, the data is still fresh enough: computed again, nothing written.
    let n = sweep(&*store, detect.clone(), later(chrono::TimeDelta::hours(2)));
    assert_eq!(n.await.unwrap(), 0);
    assert_eq!(stored_ranked(&*store).await, ranked);

    // Three days on, Keepa's data is older than the freshness gate allows.
    let n = sweep(&*store, detect.clone(), later(chrono::TimeDelta::days(3)));
    assert!(n.await.unwrap() > 0);
    assert!(stored_ranked(&*store).await.is_empty());
    let rows = store
        .opportunities(OpportunityFilter {
            keys: ranked.iter().copied().collect(),
            limit: ranked.len(),
            ..OpportunityFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.items.len(), ranked.len(), "the routes stay, unranked");
    for o in &rows.items {
        assert!(!o.ranked, "{}", o.key());
        assert!(o.flags.contains_name("STALE"), "{}: {:?}", o.key(), o.flags);
    }
    // Nothing ranked is left to check.
    let n = sweep(&*store, detect, later(chrono::TimeDelta::days(3)));
    assert_eq!(n.await.unwrap(), 0);
}

/// Rows computed under other economics settings (an edited config) are computed again
/// when the process stage starts, once: the settings are recorded with the store's jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_economics_settings_compute_the_stored_products_again() {
    use arbdesk::pipeline::sweep::{RECOMPUTE_JOB, recompute_if_settings_changed};
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    let open = "[economics.gates]\nmin_roi = 0\nmin_profit = 0\n";
    run(store.clone(), updates(), open).await;
    let ranked = stored_ranked(&*store).await;
    assert!(!ranked.is_empty());
    let detector = |toml: &str| -> Arc<dyn Detect> {
        Arc::new(LiveDetector::new(Arc::new(
            Economics::new(EconomicsConfig::from_toml_str(toml).unwrap()).unwrap(),
        )))
    };
    // The pipeline's start-up check recorded these settings if it finished before the
    // pipeline stopped; if not, the products are computed again once, under the same
    // settings, and nothing changes.
    let now = Utc::now();
    let first = recompute_if_settings_changed(&*store, detector(open), now);
    let first = first.await.unwrap();
    assert!(matches!(first, None | Some(400)), "{first:?}");
    assert_eq!(stored_ranked(&*store).await, ranked);
    let same = recompute_if_settings_changed(&*store, detector(open), now);
    assert_eq!(same.await.unwrap(), None, "nothing to do");

    // An ROI floor of 1,000 %: nothing passes any more.
    let strict = "[economics.gates]\nmin_roi = 10\n";
    let done = recompute_if_settings_changed(&*store, detector(strict), now);
    assert_eq!(done.await.unwrap(), Some(PRODUCTS as usize));
    assert!(stored_ranked(&*store).await.is_empty());
    let jobs = store.jobs().await.unwrap();
    let run = jobs.iter().find(|j| j.job == RECOMPUTE_JOB).unwrap();
    assert_eq!(run.result, "ok");
    assert!(
        run.detail.starts_with(&format!(
            "settings {}: 400 products computed again",
            detector(strict).settings_id()
        )),
        "{}",
        run.detail
    );
    let again = recompute_if_settings_changed(&*store, detector(strict), now);
    assert_eq!(again.await.unwrap(), None);

    // Back to the first settings: the same routes rank again.
    let back = recompute_if_settings_changed(&*store, detector(open), now);
    assert_eq!(back.await.unwrap(), Some(PRODUCTS as usize));
    assert_eq!(stored_ranked(&*store).await, ranked);
}

/// A process that detects notices what others write to its store (an `import`, a process
/// of another role on the same file) as a process that only serves does: the data
/// generation moves, and the API's cached answers built before are dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detecting_process_notices_what_others_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arbdesk.sqlite");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let detect: Arc<dyn Detect> = Arc::new(LiveDetector::new(Arc::new(
        Economics::new(EconomicsConfig::from_toml_str("").unwrap()).unwrap(),
    )));
    let queue: Arc<dyn Queue> = Arc::new(MemoryQueue::new(100));
    let pipeline = Pipeline::start(deps(store.clone(), Some(queue), Some(detect)));
    // Its start-up settings check (on an empty store) is done before the other writes.
    tokio::time::timeout(Duration::from_secs(60), async {
        while !store
            .jobs()
            .await
            .unwrap()
            .iter()
            .any(|j| j.job == arbdesk::pipeline::sweep::RECOMPUTE_JOB)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the start-up settings check finishes");
    let mut generation = pipeline.generation();
    generation.borrow_and_update();

    let other: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    run(other, updates(), "").await;
    tokio::time::timeout(Duration::from_secs(60), generation.changed())
        .await
        .expect("the other process's writes are noticed")
        .unwrap();
    pipeline.shutdown().await;
}

/// A restart does not run discovery again before it is due: the last run the store
/// recorded sets the schedule (a crash loop would otherwise spend the lists' tokens each
/// time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_discovery_schedule() {
    use arbdesk::keepa::sim::{SimConfig, Simulator};
    use arbdesk::store::{JobRun, WatchSource};

    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    let sim = Simulator::new(SimConfig::default());
    let ran = Utc::now() - chrono::Duration::minutes(10);
    store
        .record_job(JobRun {
            job: "discovery".into(),
            started_at: ran,
            finished_at: ran,
            result: "ok".into(),
            detail: "1 lists, 10 ASINs, 10 new".into(),
        })
        .await
        .unwrap();
    store
        .watch_add(vec![asin_from(1).parse().unwrap()], WatchSource::User)
        .await
        .unwrap();
    let pipeline = Pipeline::start(discovering(store.clone(), &sim));
    // The watched product is fetched: ingest went past the point where a discovery due
    // now would have run.
    let mut status = pipeline.status();
    tokio::time::timeout(Duration::from_secs(60), async {
        while status
            .borrow()
            .stages
            .get("ingest")
            .is_none_or(|s| s.processed == 0)
        {
            status.changed().await.unwrap();
        }
    })
    .await
    .expect("ingest fetches the watchlist");
    let due = status
        .borrow()
        .jobs
        .iter()
        .find(|j| j.name == "discovery")
        .and_then(|j| j.next_run);
    pipeline.shutdown().await;
    let runs: Vec<JobRun> = store
        .jobs()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.job == "discovery")
        .collect();
    assert_eq!(runs.len(), 1, "no discovery at start: {runs:?}");
    assert_eq!(store.watchlist().await.unwrap().len(), 1);
    let due = due.expect("the next run is scheduled");
    let interval = chrono::Duration::from_std(settings().discovery_interval).unwrap();
    assert!((due - (ran + interval)).num_seconds().abs() <= 5, "{due}");
}

/// Updates published in bursts a moment apart, one market's at a time as ingest publishes a
/// Keepa request's products, are written as one batch: each product is stored, and
/// published, once with all its markets, not once a market (each burst a transaction that
/// rewrote the same pages of the store). On tokio's paused clock the bursts come 10 ms
/// apart, well inside the stage's wait for more.
#[tokio::test(start_paused = true)]
async fn updates_arriving_in_bursts_are_written_together() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    let queue = Arc::new(MemoryQueue::new(1_000));
    let mut enriched = queue.subscribe_enriched();
    let q: Arc<dyn Queue> = queue.clone();
    let detect: Arc<dyn Detect> =
        Arc::new(LiveDetector::new(Arc::new(Economics::shipped().unwrap())));
    let pipeline = Pipeline::start(deps(store, Some(q.clone()), Some(detect)));
    let few: Vec<Message> = updates().into_iter().take(20 * 5).collect();
    for market in Market::ALL {
        let burst: Vec<Message> = few
            .iter()
            .filter(|m| {
                let u: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                u["market"] == market.code()
            })
            .cloned()
            .collect();
        assert_eq!(burst.len(), 20);
        q.publish(Topic::RawUpdates, burst).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pipeline.shutdown().await;
    let mut published: std::collections::BTreeMap<String, usize> = Default::default();
    while let Ok(m) = enriched.try_recv() {
        *published.entry(m.key).or_default() += 1;
    }
    assert_eq!(published.len(), 20);
    assert!(published.values().all(|n| *n == 1), "{published:?}");
}

/// A run killed between storing a batch's products and their routes left the mark it
/// writes with the products: the next start computes every stored product's routes again
/// before it takes updates (no refresh is due to: the products were just fetched), and
/// clears the mark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_after_a_run_killed_between_its_two_writes_computes_the_routes() {
    use arbdesk::pipeline::DETECT_PENDING;
    use arbdesk::pipeline::sweep::recompute_if_settings_changed;
    use arbdesk::store::Checkpoint;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    run(store.clone(), updates(), "").await;
    // The settings are recorded, so a start computes nothing again for them.
    recompute_if_settings_changed(&*store, shipped_detect(), Utc::now())
        .await
        .unwrap();
    let routes = store.stats().await.unwrap().opportunities;
    assert!(routes > 0);
    assert_eq!(
        store.checkpoint(DETECT_PENDING.into()).await.unwrap(),
        Some(0),
        "cleared after each batch"
    );
    // As a kill between the two writes leaves it: products without their routes, and the
    // mark set.
    let asins: Vec<_> = store
        .products(arbdesk::store::ProductFilter {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| (p.asin, Vec::new()))
        .collect();
    store.replace_opportunities(asins).await.unwrap();
    store
        .set_checkpoint(Checkpoint {
            key: DETECT_PENDING.into(),
            offset: 1,
        })
        .await
        .unwrap();
    assert_eq!(store.stats().await.unwrap().opportunities, 0);

    let queue: Arc<dyn Queue> = Arc::new(MemoryQueue::new(100));
    let pipeline = Pipeline::start(deps(store.clone(), Some(queue), Some(shipped_detect())));
    tokio::time::timeout(Duration::from_secs(60), async {
        while store.checkpoint(DETECT_PENDING.into()).await.unwrap() != Some(0) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the routes are computed again and the mark cleared within 60 s");
    pipeline.shutdown().await;
    assert_eq!(store.stats().await.unwrap().opportunities, routes);
}
