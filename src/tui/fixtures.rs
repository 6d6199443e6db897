//! Deterministic console states for snapshot tests, the render benchmark and
//! `arbdesk bench-render`: a fixed clock, generated rows, a loaded detail.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::model::{Detail, Feed, Row};
use super::state::{MarketCell, ProductLine, ProductsPage, ProductsQuery, Session, UiState};
use crate::component::ComponentHealth;
use crate::domain::{
    Asin, Breakdown, BreakdownLine, Flag, Market, Money, Opportunity, PackageDims, PricePoint,
    PriceSeries, PriceSnapshot, Product, SeriesKind,
};
use crate::keepa::ClientStatus;
use crate::pipeline::{
    FxStatus, JobStatus, PipelineStatus, RefreshPlan, Source, StageStatus, TablesStatus,
};
use crate::store::{JobRun, StoreStats, WatchEntry, WatchSource};

/// The fixed "now" of every fixture.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 14, 30, 0)
        .single()
        .unwrap_or_default()
}

const TITLES: [&str; 8] = [
    "Sony WH-1000XM5 Kopfhörer kabellos, schwarz",
    "LEGO Technic 42151 Bugatti Bolide",
    "Philips Sonicare DiamondClean 9000",
    "Nintendo Switch Pro Controller",
    "Bosch Professional GSR 12V-15 Akkuschrauber",
    "Tefal Ingenio Pfannenset 13-teilig",
    "Kindle Paperwhite 16 GB",
    "De'Longhi Magnifica S ECAM 22.110.B",
];

/// The fixtures' ASIN number `i` (`B000000007`): they sort as their numbers do.
pub fn asin(i: usize) -> Asin {
    format!("B0{:08}", i)
        .parse()
        .unwrap_or_else(|_| "B000000000".parse().unwrap_or_else(|_| unreachable!()))
}

/// An opportunity with round numbers: buy at 100 €, sell so that the gross margin is
/// `gross_pct`, net profit `net_cents`.
pub fn opportunity(
    a: Asin,
    title: &str,
    buy: Market,
    sell: Market,
    gross_pct: f64,
    net_cents: i64,
    updated_at: DateTime<Utc>,
) -> Opportunity {
    let buy_cents = 10_000;
    let gross_cents = (buy_cents as f64 * gross_pct / 100.0).round() as i64;
    let native = |m: Market, eur_cents: i64| match m.currency() {
        crate::domain::Currency::GBP => Money::gbp((eur_cents as f64 / 1.17).round() as i64),
        crate::domain::Currency::EUR => Money::eur(eur_cents),
    };
    let net = Money::eur(net_cents);
    Opportunity {
        sell_facts: Default::default(),
        asin: a,
        title: Some(title.into()),
        buy_market: buy,
        sell_market: sell,
        buy_price: native(buy, buy_cents),
        sell_price: native(sell, buy_cents + gross_cents),
        gross_margin: Money::eur(gross_cents),
        gross_margin_pct: gross_pct,
        net_profit: net,
        net_margin_pct: net_cents as f64 / (buy_cents + gross_cents) as f64 * 100.0,
        roi_pct: net_cents as f64 / buy_cents as f64 * 100.0,
        expected_monthly_profit: Money::eur(net_cents * 12),
        max_buy_price: None,
        target_sell_price: None,
        break_even_sell_price: None,
        ranked: net_cents > 0,
        flags: if net_cents > 0 {
            [Flag::FxStale].into_iter().collect()
        } else {
            [Flag::Profit, Flag::FxStale].into_iter().collect()
        },
        breakdown: Breakdown {
            lines: vec![
                line(
                    "sell_gross",
                    "Sell price incl. VAT",
                    buy_cents + gross_cents,
                ),
                line(
                    "output_vat",
                    "Output VAT 19 %",
                    -(buy_cents + gross_cents) * 19 / 119,
                ),
                line(
                    "referral_fee",
                    "Referral fee 15 %",
                    -(buy_cents + gross_cents) * 15 / 100,
                ),
                line("fba_fee", "FBA fee", -420),
                line(
                    "landed_cost",
                    "Landed cost (net of reclaimable VAT)",
                    -buy_cents * 100 / 119,
                ),
            ],
            fx_eur_per_gbp: Some(1.17),
            fx_date: Some("2026-02-27".into()),
            fx_rate: Some("ecb 2026-02-27: 1 EUR = 0.8653 GBP".into()),
            vat_table: Some("2025-01-01".into()),
            fee_table: Some("2025-02-01".into()),
            buy_observed_at: Some(updated_at),
            sell_observed_at: Some(updated_at),
            unexplained: None,
        },
        updated_at,
        first_seen: Some(updated_at),
    }
}

fn line(id: &str, label: &str, cents: i64) -> BreakdownLine {
    BreakdownLine {
        id: id.into(),
        label: label.into(),
        amount: Money::eur(cents),
        source: "fixture".into(),
    }
}

/// A table row (see [`opportunity`]).
pub fn row(a: &str, title: &str, buy: Market, sell: Market, gross_pct: f64, net_cents: i64) -> Row {
    let a: Asin = a.parse().unwrap_or_else(|_| asin(0));
    Row::from_opportunity(&opportunity(
        a,
        title,
        buy,
        sell,
        gross_pct,
        net_cents,
        now(),
    ))
}

/// `n` generated rows over every route.
pub fn rows(n: usize) -> Vec<Row> {
    let routes: Vec<(Market, Market)> = Market::ALL
        .iter()
        .flat_map(|b| Market::ALL.iter().map(move |s| (*b, *s)))
        .filter(|(b, s)| b != s)
        .collect();
    (0..n)
        .map(|i| {
            let (b, s) = routes[i % routes.len()];
            let gross = 5.0 + ((i * 37) % 600) as f64 / 10.0;
            let net = ((i * 53) % 3000) as i64 - 600;
            let o = opportunity(
                asin(i / 3),
                TITLES[i % TITLES.len()],
                b,
                s,
                gross,
                net,
                now() - Duration::seconds(((i * 97) % 7200) as i64),
            );
            Row::from_opportunity(&o)
        })
        .collect()
}

fn snapshot(m: Market, new_eur_cents: i64) -> PriceSnapshot {
    let native = match m.currency() {
        crate::domain::Currency::GBP => Money::gbp((new_eur_cents as f64 / 1.17).round() as i64),
        crate::domain::Currency::EUR => Money::eur(new_eur_cents),
    };
    PriceSnapshot {
        market: m,
        title: Some(TITLES[0].into()),
        amazon: None,
        new: Some(native),
        buy_box: Some(native),
        amazon_avg90: None,
        new_avg90: Some(native),
        buy_box_avg90: None,
        sales_rank: Some(1200 + i64::from(m.keepa_domain()) * 100),
        rank_drops30: Some(40),
        monthly_sold: Some(300),
        offers_new: Some(12),
        offers_new_fba: Some(5),
        offers_new_fbm: Some(7),
        buy_box_is_amazon: Some(false),
        amazon_buy_box_share_pct: None,
        referral_fee_pct: Some(15.0),
        fba_fee: Some(Money::new(420, m.currency())),
        out_of_stock_pct90: Some(0),
        eans: vec!["4548736132610".into()],
        package_quantity: Some(1),
        package: PackageDims::default(),
        product_group: Some("Electronics".into()),
        is_adult: false,
        is_hazmat: false,
        observed_at: now(),
    }
}

/// The detail of a row: product in every market, a 90-day history, the breakdown.
pub fn detail(r: &Row) -> Detail {
    let markets: BTreeMap<Market, PriceSnapshot> = Market::ALL
        .iter()
        .enumerate()
        .map(|(i, m)| (*m, snapshot(*m, 10_000 + i as i64 * 900)))
        .collect();
    let history = Market::ALL
        .iter()
        .enumerate()
        .map(|(i, m)| PriceSeries {
            market: *m,
            kind: SeriesKind::New,
            points: (0..12)
                .map(|d| PricePoint {
                    at: now() - Duration::days(90 - d * 8),
                    value: Some(9_000 + (i as i64) * 700 + ((d * 37 + i as i64 * 11) % 9) * 150),
                })
                .collect(),
        })
        .collect();
    Detail {
        key: r.key,
        product: Some(Product {
            asin: r.key.asin,
            title: Some(r.title().to_string()),
            brand: Some("Sony".into()),
            image_url: Some(format!(
                "https://m.media-amazon.com/images/I/{}.jpg",
                r.key.asin
            )),
            eans: vec!["4548736132610".into()],
            package_quantity: Some(1),
            // Keepa answered for the markets it is missing from.
            not_listed: Some(
                Market::ALL
                    .into_iter()
                    .filter(|m| !markets.contains_key(m))
                    .collect(),
            ),
            markets,
        }),
        history,
        opportunity: Some(opportunity(
            r.key.asin,
            r.title(),
            r.key.buy,
            r.key.sell,
            r.fig.gross_pct,
            r.fig.net.minor,
            r.fig.updated_at,
        )),
        error: None,
    }
}

/// A pipeline that has been running for an hour.
pub fn status() -> PipelineStatus {
    let t = now();
    let mut stages = BTreeMap::new();
    for (name, n, rate) in [
        ("ingest", 1500, 4.2),
        ("enrich", 1500, 4.2),
        ("detect", 1500, 4.1),
        ("store", 1500, 4.2),
    ] {
        stages.insert(
            name.to_string(),
            StageStatus {
                processed: n,
                errors: 0,
                rate_per_s: rate,
                last_error: None,
                last_error_at: None,
                stopped: None,
                failing: 0,
                last_at: Some(t - Duration::seconds(2)),
            },
        );
    }
    PipelineStatus {
        source: Source::Demo,
        markets: crate::domain::Market::ALL.to_vec(),
        started_at: Some(t - Duration::hours(1)),
        running: true,
        stages,
        queue_depth: 3,
        queue: Some(ComponentHealth::ok("memory", "bounded in-process channel")),
        queue_route: None,
        dead_letters: 0,
        keepa_client: true,
        processing: true,
        keepa: ClientStatus {
            tokens_left: Some(187),
            refill_rate: Some(20),
            token_flow_reduction: None,
            refill_in_ms: Some(12_000),
            tokens_seen_at: Some(t),
            requests: 310,
            errors: 0,
            rate_limited: 0,
            tokens_consumed: 1550,
            estimator_drift: 0,
            last_success: Some(t - Duration::seconds(3)),
            last_error: None,
            recent_attempts: 0,
            recent_errors: 0,
            failing_since: None,
            waiting_until: None,
            stopped: None,
        },
        jobs: vec![
            JobStatus {
                name: "discovery".into(),
                running: false,
                last_run: Some(JobRun {
                    job: "discovery".into(),
                    started_at: t - Duration::minutes(50),
                    finished_at: t - Duration::minutes(49),
                    result: "ok".into(),
                    detail: "42 new ASINs".into(),
                }),
                next_run: Some(t + Duration::minutes(70)),
            },
            JobStatus {
                name: "refresh".into(),
                running: true,
                last_run: None,
                next_run: None,
            },
        ],
        fx: Some(FxStatus {
            eur_per_gbp: 1.17,
            date: "2026-02-27".into(),
            source: "default".into(),
            stale: true,
            record: "default 2026-02-27: 1 GBP = 1.17 EUR".into(),
        }),
        tables: Some(TablesStatus {
            date: "2026-03-02".into(),
            vat: Some("2025-01-01".into()),
            referral: Some("2025-02-01".into()),
            fba: Some("2025-02-01".into()),
            storage: Some("2025-03-01".into()),
        }),
        refresh: Some(RefreshPlan {
            tokens_per_product: 1,
            buybox_by_route: None,
            interval_secs: 1800,
            discovery: true,
        }),
        peers: Vec::new(),
        shown_from: Default::default(),
    }
}

/// A console with `n` rows loaded, the first selected and its detail shown.
pub fn loaded(n: usize, size: (u16, u16)) -> UiState {
    let mut s = UiState::new(
        Session {
            source: Source::Demo,
            markets: Market::ALL.to_vec(),
            api_addr: Some("127.0.0.1:8000".into()),
            alert_margin_pct: 30.0,
            hyperlinks: false,
            read_only: false,
            stale_after_hours: 24,
            fetches: true,
        },
        now(),
    );
    s.status = status();
    s.store_health = Some(ComponentHealth {
        latency_ms: Some(0.4),
        ..ComponentHealth::ok("sqlite", "WAL, 1 writer, 4 readers")
    });
    let requests = |n| crate::api::ApiActivity {
        requests: n,
        ..Default::default()
    };
    s.api.observe(requests(1174), now() - Duration::seconds(60));
    s.api.observe(requests(1234), now());
    let rows = rows(n);
    let mut per_market = BTreeMap::new();
    for m in Market::ALL {
        per_market.insert(m, (n as u64 / 3).max(1));
    }
    let mut feed = Feed {
        total: rows.len() as u64,
        best_gross: rows.iter().map(|r| r.fig.gross_pct).reduce(f64::max),
        ranked: Some(rows.iter().filter(|r| r.ranked).count() as u64),
        stats: StoreStats {
            total_products: (n as u64).div_ceil(3),
            opportunities: rows.len() as u64,
            ranked_opportunities: rows.iter().filter(|r| r.ranked).count() as u64,
            best_gross_margin_pct: rows.iter().map(|r| r.fig.gross_pct).reduce(f64::max),
            avg_gross_margin_pct: None,
            products_per_market: per_market,
            last_update: Some(now()),
            watchlist: (n as u64).div_ceil(3),
        },
        rows,
        query: None,
        error: None,
        at: Some(now()),
        left: None,
        left_of: None,
        title_rank: Vec::new(),
    };
    feed.rank_titles();
    s.limit = 4; // all
    s.min_margin = 0.0;
    s.on_resize(size.0, size.1);
    s.on_feed(feed);
    if let Some(r) = s.selected_row().cloned() {
        s.on_detail(detail(&r));
    }
    s
}

/// A console before any data arrived (its pipeline, with a Keepa client, just started).
pub fn empty(size: (u16, u16)) -> UiState {
    let mut s = UiState::new(Session::default(), now());
    s.status.keepa_client = true;
    s.on_resize(size.0, size.1);
    s
}

/// Product `i` as the products view lists it: a price in every market but ES (not
/// listed), out of stock in FR for every third product, Keepa's data `i` minutes old.
pub fn product_line(i: usize) -> ProductLine {
    let markets = Market::ALL.map(|m| match m {
        Market::ES => MarketCell::NotListed,
        Market::FR if i.is_multiple_of(3) => MarketCell::OutOfStock,
        m => MarketCell::Price(Money::new(2_000 + (i as i64 % 50) * 137, m.currency())),
    });
    ProductLine {
        asin: asin(i),
        title: TITLES[i % TITLES.len()].to_string(),
        markets,
        updated: Some(now() - Duration::minutes(i as i64)),
    }
}

/// The page of `total` products from `offset` that the products view asks for.
pub fn products_page(total: usize, q: ProductsQuery) -> ProductsPage {
    // Products are `asin(i)` in order: one sought is at its own index.
    let mut q = q;
    let found = q.seek.and_then(|a| (0..total).find(|i| asin(*i) == a));
    if let Some(at) = found {
        q.offset = crate::tui::state::seek_page_offset(at);
    }
    ProductsPage {
        total: total as u64,
        lines: (q.offset..(q.offset + q.limit).min(total))
            .map(product_line)
            .collect(),
        query: Some(q),
        error: None,
        found,
    }
}

/// The products view with `total` products stored, every other one watched (by the
/// operator or discovery), its first page loaded.
pub fn products(total: usize, size: (u16, u16)) -> UiState {
    let mut s = loaded(30, size);
    let _ = s.apply(crate::tui::action::Action::Goto(
        crate::tui::action::View::Products,
    ));
    let entries: Vec<WatchEntry> = (0..total)
        .step_by(2)
        .map(|i| WatchEntry {
            asin: asin(i),
            source: if i % 4 == 0 {
                WatchSource::User
            } else {
                WatchSource::Discovery
            },
            added_at: now(),
            oldest_fetch: (i > 0).then(now),
            fetched: if i > 0 {
                Market::ALL.to_vec()
            } else {
                Vec::new()
            },
        })
        .collect();
    let at = s.now;
    s.on_watchlist(&entries, at);
    if let Some(q) = s.wanted_products() {
        s.on_products(products_page(total, q));
    }
    s
}
