//! A small catalogue in a temp-dir SQLite store, an API over it, and a store double that
//! can be down, slow or counted.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use arbdesk::api::{ApiSettings, ApiState, router};
use arbdesk::component::{BoxFuture, ComponentHealth};
use arbdesk::domain::{
    Asin, Breakdown, BreakdownLine, Listing, Market, Money, Opportunity, PricePoint, PriceSeries,
    PriceSnapshot, Product, SeriesKind,
};
use arbdesk::pipeline::{PipelineStatus, Source};
use arbdesk::store::sqlite::SqliteStore;
use arbdesk::store::{
    Checkpoint, JobRun, OpportunityFilter, Page, ProductFilter, Store, StoreError, StoreResult,
    StoreStats, WatchEntry, WatchSource,
};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use bytes::Bytes;
use chrono::{DateTime, Duration as Days, TimeZone, Utc};
use serde_json::Value;
use tokio::sync::watch;
use tower::ServiceExt;

pub const VERSION: &str = "9.9.9-test";
pub const KETTLE: &str = "B0DEMO0001";
pub const LAMP: &str = "B0DEMO0002";

pub fn asin(s: &str) -> Asin {
    s.parse().unwrap()
}

pub fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 8, 30, 0).unwrap()
}

fn snapshot(market: Market, title: &str, price: i64) -> PriceSnapshot {
    let m = |v: i64| Some(Money::new(v, market.currency()));
    PriceSnapshot {
        market,
        title: Some(title.into()),
        amazon: m(price),
        new: m(price - 50),
        buy_box: m(price + 100),
        amazon_avg90: m(price + 10),
        new_avg90: None,
        buy_box_avg90: m(price + 90),
        sales_rank: Some(1234),
        rank_drops30: Some(41),
        monthly_sold: Some(200),
        offers_new: Some(7),
        offers_new_fba: Some(3),
        offers_new_fbm: Some(4),
        buy_box_is_amazon: Some(true),
        amazon_buy_box_share_pct: Some(62.5),
        referral_fee_pct: Some(15.0),
        fba_fee: m(350),
        out_of_stock_pct90: Some(2),
        eans: vec!["4006381333931".into()],
        package_quantity: Some(1),
        package: Default::default(),
        product_group: Some("Kitchen".into()),
        is_adult: false,
        is_hazmat: false,
        observed_at: at(),
    }
}

pub fn listing(a: &str, market: Market, title: &str, brand: &str, price: i64) -> Listing {
    let points = vec![
        PricePoint {
            at: at() - Days::days(3),
            value: Some(price + 200),
        },
        PricePoint {
            at: at() - Days::days(1),
            value: Some(price),
        },
    ];
    Listing {
        asin: asin(a),
        market,
        product_type: 0,
        title: Some(title.into()),
        brand: Some(brand.into()),
        image_url: Some(format!("https://m.media-amazon.com/images/I/{a}.jpg")),
        eans: vec!["4006381333931".into()],
        package_quantity: Some(1),
        root_category: Some(3167641),
        is_adult: false,
        is_hazmat: false,
        snapshot: snapshot(market, title, price),
        history: vec![PriceSeries {
            market,
            kind: SeriesKind::New,
            points,
        }],
    }
}

/// An opportunity with the given gross margin percent and net profit (EUR cents).
pub fn opportunity(a: &str, buy: Market, sell: Market, gross_pct: f64, profit: i64) -> Opportunity {
    Opportunity {
        sell_facts: Default::default(),
        asin: asin(a),
        title: Some(
            if a == KETTLE {
                "Steel Kettle 1.7L"
            } else {
                "Desk Lamp"
            }
            .into(),
        ),
        buy_market: buy,
        sell_market: sell,
        buy_price: Money::new(1499, buy.currency()),
        sell_price: Money::new(2099, sell.currency()),
        gross_margin: Money::eur(500),
        gross_margin_pct: gross_pct,
        net_profit: Money::eur(profit),
        net_margin_pct: gross_pct / 3.0,
        roi_pct: gross_pct / 2.0,
        expected_monthly_profit: Money::eur(profit * 20),
        max_buy_price: Some(Money::new(1700, buy.currency())),
        target_sell_price: Some(Money::new(2300, sell.currency())),
        break_even_sell_price: Some(Money::new(1800, sell.currency())),
        ranked: profit >= 300,
        flags: if profit >= 300 {
            arbdesk::domain::FlagSet::default()
        } else {
            [arbdesk::domain::Flag::Profit].into_iter().collect()
        },
        breakdown: Breakdown {
            lines: vec![BreakdownLine {
                id: "referral_fee".into(),
                label: "Referral fee 15 % of 20.99 gross".into(),
                amount: Money::new(-315, sell.currency()),
                source: "config:referral 2025-02-01".into(),
            }],
            fx_eur_per_gbp: (buy == Market::UK || sell == Market::UK).then_some(1.17),
            fx_date: Some("2026-11-19".into()),
            fx_rate: Some("ecb 2026-11-19: 1 EUR = 0.8653 GBP".into()),
            vat_table: Some("2025-01-01".into()),
            fee_table: Some("2025-02-01".into()),
            buy_observed_at: Some(at()),
            sell_observed_at: Some(at()),
            unexplained: None,
        },
        updated_at: at() + Days::minutes(5),
        first_seen: Some(at()),
    }
}

/// Two products (kettle in UK/DE/IT, lamp in DE/FR) and three routes.
pub async fn seeded_store(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    let store = Arc::new(SqliteStore::open(&dir.path().join("api.sqlite")).unwrap());
    let listings = vec![
        listing(KETTLE, Market::UK, "Steel Kettle 1.7L", "Brewmaster", 1749),
        listing(
            KETTLE,
            Market::DE,
            "Edelstahl Wasserkocher 1,7 l",
            "Brewmaster",
            2099,
        ),
        listing(
            KETTLE,
            Market::IT,
            "Bollitore in acciaio 1,7 l",
            "Brewmaster",
            1499,
        ),
        listing(LAMP, Market::DE, "Desk Lamp", "Lumo", 3999),
        listing(LAMP, Market::FR, "Lampe de bureau", "Lumo", 3799),
    ];
    store.upsert_listings(listings, at(), None).await.unwrap();
    store
        .replace_opportunities(vec![
            (
                asin(KETTLE),
                vec![
                    opportunity(KETTLE, Market::IT, Market::DE, 33.36, 412),
                    opportunity(KETTLE, Market::UK, Market::DE, 12.5, 180),
                ],
            ),
            (
                asin(LAMP),
                vec![opportunity(LAMP, Market::FR, Market::DE, 5.26, 95)],
            ),
        ])
        .await
        .unwrap();
    store
        .record_job(JobRun {
            job: "discovery".into(),
            started_at: at(),
            finished_at: at() + Days::seconds(40),
            result: "ok".into(),
            detail: "found 412 ASINs, 37 new".into(),
        })
        .await
        .unwrap();
    store
}

/// A pipeline status with a bit of everything.
pub fn status() -> PipelineStatus {
    let mut s = PipelineStatus {
        source: Source::Demo,
        started_at: Some(at()),
        running: true,
        queue_depth: 12,
        queue: Some(ComponentHealth::ok("memory", "bounded in-process channels")),
        dead_letters: 2,
        keepa_client: true,
        ..PipelineStatus::default()
    };
    s.stages.insert(
        "enrich".into(),
        arbdesk::pipeline::StageStatus {
            processed: 900,
            errors: 2,
            rate_per_s: 14.5,
            last_error: Some("malformed csv".into()),
            last_error_at: Some(at()),
            last_at: Some(at()),
            stopped: None,
            failing: 0,
        },
    );
    s.keepa.tokens_left = Some(1180);
    s.keepa.refill_rate = Some(20);
    s.keepa.requests = 31;
    s.keepa.rate_limited = 1;
    s.keepa.last_success = Some(Utc::now());
    s.jobs.push(arbdesk::pipeline::JobStatus {
        name: "refresh".into(),
        running: true,
        last_run: None,
        next_run: Some(at() + Days::minutes(1)),
    });
    s.fx = Some(arbdesk::pipeline::FxStatus {
        eur_per_gbp: 1.17,
        date: "2026-11-19".into(),
        source: "ecb".into(),
        stale: false,
        record: "ecb 2026-11-19: 1 GBP = 1.17 EUR".into(),
    });
    s
}

/// The API over a store, with the senders that drive it.
pub struct Api {
    pub app: Router,
    pub state: ApiState,
    pub status: watch::Sender<PipelineStatus>,
    pub generation: watch::Sender<u64>,
}

pub fn api_over(store: Arc<dyn Store>, settings: ApiSettings) -> Api {
    let (status, status_rx) = watch::channel(status());
    let (generation, gen_rx) = watch::channel(1u64);
    let state = ApiState::new(store, status_rx, gen_rx, settings, VERSION);
    Api {
        app: router(state.clone()),
        state,
        status,
        generation,
    }
}

/// A seeded store and an API over it with default settings.
pub async fn seeded_api() -> (tempfile::TempDir, Arc<SqliteStore>, Api) {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(&dir).await;
    let api = api_over(store.clone(), ApiSettings::default());
    (dir, store, api)
}

/// One answered request.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a problem+json answer with `status`; returns the problem.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        // What the client sent comes back in `detail`: never to be sniffed as a page.
        assert_eq!(self.header("x-content-type-options"), Some("nosniff"));
        let p = self.json();
        for k in ["type", "title", "status", "detail"] {
            assert!(p.get(k).is_some(), "problem without {k}: {p}");
        }
        assert_eq!(p["status"], status);
        assert!(p["type"].as_str().unwrap().starts_with("/docs#problem-"));
        p
    }
}

pub async fn send(app: &Router, req: Request<Body>) -> Resp {
    let res = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    Resp {
        status: parts.status,
        headers: parts.headers,
        body: to_bytes(body, usize::MAX).await.unwrap(),
    }
}

pub async fn get(app: &Router, uri: &str) -> Resp {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

/// The keys of a JSON object, sorted.
pub fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

pub fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// A store that forwards to another one, and can be down, slow, or counted.
pub struct Double {
    pub inner: Arc<dyn Store>,
    pub down: AtomicBool,
    /// Only the health probe fails (a damaged file whose other pages still read).
    pub probe_fails: AtomicBool,
    pub delay: Duration,
    pub opportunity_queries: AtomicUsize,
    /// Health probes asked.
    pub probes: AtomicUsize,
    /// Products listed for refreshing as if they had a route in every market: after those
    /// never fetched in the market and before the others, as the SQLite store lists them.
    pub routed: std::sync::Mutex<Vec<Asin>>,
}

impl Double {
    pub fn new(inner: Arc<dyn Store>, delay: Duration) -> Self {
        Double {
            inner,
            down: AtomicBool::new(false),
            probe_fails: AtomicBool::new(false),
            delay,
            opportunity_queries: AtomicUsize::new(0),
            probes: AtomicUsize::new(0),
            routed: Default::default(),
        }
    }

    async fn gate(&self) -> StoreResult<()> {
        tokio::time::sleep(self.delay).await;
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable(
                "disk on fire at /secret/path/arbdesk.sqlite".into(),
            ))
        } else {
            Ok(())
        }
    }
}

impl Store for Double {
    fn health(&self) -> BoxFuture<'_, ComponentHealth> {
        Box::pin(async move {
            self.probes.fetch_add(1, Ordering::SeqCst);
            match self.gate().await {
                Ok(()) if self.probe_fails.load(Ordering::SeqCst) => {
                    ComponentHealth::down("double", "database disk image is malformed")
                }
                Ok(()) => self.inner.health().await,
                Err(e) => ComponentHealth::down("double", e.to_string()),
            }
        })
    }
    fn watch_add(&self, a: Vec<Asin>, s: WatchSource) -> BoxFuture<'_, StoreResult<Vec<Asin>>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.watch_add(a, s).await
        })
    }
    fn watch_remove(&self, a: Vec<Asin>) -> BoxFuture<'_, StoreResult<Vec<Asin>>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.watch_remove(a).await
        })
    }
    fn watchlist(&self) -> BoxFuture<'_, StoreResult<Vec<WatchEntry>>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.watchlist().await
        })
    }
    fn refresh_candidates(&self, m: Market, n: usize) -> BoxFuture<'_, StoreResult<Vec<Asin>>> {
        Box::pin(async move {
            self.gate().await?;
            let routed = self.routed.lock().unwrap().clone();
            if routed.is_empty() {
                return self.inner.refresh_candidates(m, n).await;
            }
            let all = self.inner.refresh_candidates(m, n + routed.len()).await?;
            let fetched: std::collections::HashSet<Asin> = self
                .inner
                .watchlist()
                .await?
                .into_iter()
                .filter(|e| e.fetched.contains(&m))
                .map(|e| e.asin)
                .collect();
            let tier = |a: &Asin| match (fetched.contains(a), routed.contains(a)) {
                (false, _) => 0,
                (true, true) => 1,
                (true, false) => 2,
            };
            let mut listed = all;
            listed.sort_by_key(tier);
            listed.truncate(n);
            Ok(listed)
        })
    }
    fn routes_in(
        &self,
        m: Market,
        asins: Vec<Asin>,
    ) -> BoxFuture<'_, StoreResult<Vec<(Asin, bool)>>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.routes_in(m, asins).await
        })
    }
    fn upsert_listings(
        &self,
        l: Vec<Listing>,
        at: DateTime<Utc>,
        c: Option<Checkpoint>,
    ) -> BoxFuture<'_, StoreResult<Vec<Product>>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.upsert_listings(l, at, c).await
        })
    }
    fn replace_opportunities(
        &self,
        sets: Vec<(Asin, Vec<Opportunity>)>,
    ) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.replace_opportunities(sets).await
        })
    }
    fn checkpoint(&self, key: String) -> BoxFuture<'_, StoreResult<Option<u64>>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.checkpoint(key).await
        })
    }
    fn products(&self, f: ProductFilter) -> BoxFuture<'_, StoreResult<Page<Product>>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.products(f).await
        })
    }
    fn product(&self, a: Asin) -> BoxFuture<'_, StoreResult<Option<Product>>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.product(a).await
        })
    }
    fn products_by_asin(&self, a: Vec<Asin>) -> BoxFuture<'_, StoreResult<Vec<Option<Product>>>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.products_by_asin(a).await
        })
    }
    fn history(&self, a: Asin) -> BoxFuture<'_, StoreResult<Vec<PriceSeries>>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.history(a).await
        })
    }
    fn opportunities(&self, f: OpportunityFilter) -> BoxFuture<'_, StoreResult<Page<Opportunity>>> {
        self.opportunity_queries.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            self.gate().await?;
            self.inner.opportunities(f).await
        })
    }
    fn stats(&self) -> BoxFuture<'_, StoreResult<StoreStats>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.stats().await
        })
    }
    fn freshness(
        &self,
        stale_before: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'_, StoreResult<Vec<arbdesk::store::MarketFreshness>>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.freshness(stale_before).await
        })
    }
    fn record_job(&self, run: JobRun) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.record_job(run).await
        })
    }
    fn jobs(&self) -> BoxFuture<'_, StoreResult<Vec<JobRun>>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.jobs().await
        })
    }
    fn report_process(&self, r: arbdesk::store::ProcessReport) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.report_process(r).await
        })
    }
    fn process_reports(
        &self,
        since: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<Vec<arbdesk::store::ProcessReport>>> {
        Box::pin(async move {
            self.gate().await?;
            self.inner.process_reports(since).await
        })
    }
}

/// A store that is down, over an empty temp-dir store.
pub fn down_store(dir: &tempfile::TempDir) -> Arc<Double> {
    let inner = Arc::new(SqliteStore::open(&dir.path().join("down.sqlite")).unwrap());
    let d = Double::new(inner, Duration::ZERO);
    d.down.store(true, Ordering::SeqCst);
    Arc::new(d)
}
