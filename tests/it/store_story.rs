//! The store conformance story: the whole `Store` contract as one narrative, run against
//! every implementation (`story(store)`), with exact expected results.
//!
//! It starts from an empty store and tells what the pipeline, the console and the API do:
//! watch some ASINs, fetch listings in batches (a redelivered batch, a stale one, an invalid
//! one), detect opportunities, query them every way the API can, retire vanished ones,
//! delist a product, browse products, record jobs and checkpoints. Nothing here knows which
//! backend it talks to; backend-specific checks live next to the backend's own tests.
//!
//! Contract points this story fixes, beyond the trait's signatures: timestamps round-trip to
//! the microsecond; a listing only counts as "listed" when Keepa type is 0 and it has a
//! title; the newest fetch wins per (ASIN, market) while history is always merged; product
//! identity comes from the listed markets in display order; ties sort by ASIN, then buy and
//! sell market in display order (UK, DE, FR, IT, ES); `products_per_market` names all five
//! markets; text filters are literal substrings and never match across two fields.

pub mod fixtures;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arbdesk::component::HealthStatus;
use arbdesk::domain::{Asin, Listing, Market, Opportunity, Product, SeriesKind};
use arbdesk::store::{
    Checkpoint, JobRun, OpportunityFilter, OpportunitySort, Page, ProductFilter, Store, StoreError,
    StoreStats, WatchSource,
};

use Market::{DE, ES, FR, IT, UK};
use fixtures::{Figures, a, asins, b, c, d, e, keys, listed, opp, series, snapshot, t, unlisted};

/// Runs the story against `store`, which must be empty.
pub async fn story(store: Arc<dyn Store>) {
    let s = store.as_ref();
    empty_store(s).await;
    watchlist(s).await;
    let batch1 = ingest(s).await;
    let rows = opportunities(s).await;
    retire_opportunities(s, &rows).await;
    products(s, &batch1).await;
    bookkeeping(s).await;
    let h = s.health().await;
    assert_eq!(h.status, HealthStatus::Ok, "{h:?}");
}

fn per_market(counts: [u64; 5]) -> BTreeMap<Market, u64> {
    Market::ALL.into_iter().zip(counts).collect()
}

/// The expected product of listings in one ASIN: identity from the first listed market in
/// display order, EANs merged in that order.
fn product_of(asin: Asin, listings: &[&Listing]) -> Product {
    let mut sorted: Vec<&Listing> = listings.to_vec();
    sorted.sort_by_key(|l| l.market);
    let mut eans: Vec<String> = Vec::new();
    for e in sorted.iter().flat_map(|l| l.eans.iter()) {
        if !eans.contains(e) {
            eans.push(e.clone());
        }
    }
    let first = sorted.first();
    Product {
        asin,
        title: first.and_then(|l| l.title.clone()),
        brand: first.and_then(|l| l.brand.clone()),
        image_url: first.and_then(|l| l.image_url.clone()),
        eans,
        package_quantity: first.and_then(|l| l.package_quantity),
        markets: sorted
            .iter()
            .map(|l| (l.market, l.snapshot.clone()))
            .collect(),
    }
}

async fn empty_store(s: &dyn Store) {
    let h = s.health().await;
    assert_eq!(h.status, HealthStatus::Ok, "{h:?}");
    assert!(!h.kind.is_empty());
    assert!(h.latency_ms.is_some(), "the probe is timed");
    let stats = s.stats().await.unwrap();
    assert_eq!(
        stats,
        StoreStats {
            products_per_market: per_market([0; 5]),
            ..StoreStats::default()
        }
    );
    assert!(s.watchlist().await.unwrap().is_empty());
    assert!(s.jobs().await.unwrap().is_empty());
    assert_eq!(s.product(a()).await.unwrap(), None);
    assert!(s.history(a()).await.unwrap().is_empty());
    assert_eq!(s.checkpoint("story-import".into()).await.unwrap(), None);
    let page = s.opportunities(OpportunityFilter::default()).await.unwrap();
    assert_eq!((page.total, page.items.len()), (0, 0));
    let page = s
        .products(ProductFilter {
            limit: 10,
            ..ProductFilter::default()
        })
        .await
        .unwrap();
    assert_eq!((page.total, page.items.len()), (0, 0));
    assert!(s.refresh_candidates(DE, 10).await.unwrap().is_empty());
}

/// Waits long enough for the next watchlist addition to get a later timestamp.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

async fn watchlist(s: &dyn Store) {
    assert_eq!(
        s.watch_add(vec![a(), b(), a()], WatchSource::User)
            .await
            .unwrap(),
        2,
        "a duplicate in one call counts once"
    );
    tick().await;
    assert_eq!(
        s.watch_add(vec![b(), c()], WatchSource::Discovery)
            .await
            .unwrap(),
        1,
        "an ASIN already watched is not new"
    );
    let w = s.watchlist().await.unwrap();
    assert_eq!(
        asins(&w, |x| x.asin),
        ["B0STORY0A1", "B0STORY0B2", "B0STORY0C3"]
    );
    let sources: Vec<WatchSource> = w.iter().map(|x| x.source).collect();
    assert_eq!(
        sources,
        [WatchSource::User, WatchSource::User, WatchSource::Discovery],
        "re-adding keeps the first source"
    );
    assert_eq!(w[0].added_at, w[1].added_at);
    assert!(w[2].added_at > w[0].added_at);
    assert!(w.iter().all(|x| x.oldest_fetch.is_none()));

    assert_eq!(s.watch_remove(vec![c(), d()]).await.unwrap(), 1);
    let w = s.watchlist().await.unwrap();
    assert_eq!(asins(&w, |x| x.asin), ["B0STORY0A1", "B0STORY0B2"]);
    tick().await;
    assert_eq!(
        s.watch_add(vec![c()], WatchSource::Import).await.unwrap(),
        1
    );
    let w = s.watchlist().await.unwrap();
    assert_eq!(w[2].asin, c());
    assert_eq!(w[2].source, WatchSource::Import);

    // Nothing fetched yet: oldest addition first, ties by ASIN.
    let ids = |v: Vec<Asin>| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ids(s.refresh_candidates(DE, 10).await.unwrap()),
        ["B0STORY0A1", "B0STORY0B2", "B0STORY0C3"]
    );
    assert_eq!(
        ids(s.refresh_candidates(DE, 2).await.unwrap()),
        ["B0STORY0A1", "B0STORY0B2"]
    );
    assert!(s.refresh_candidates(DE, 0).await.unwrap().is_empty());
}

fn strings(v: Vec<Asin>) -> Vec<String> {
    v.iter().map(|a| a.to_string()).collect()
}

/// Listings in batches; returns the first batch.
async fn ingest(s: &dyn Store) -> Vec<Listing> {
    use SeriesKind::{BuyBox, New, SalesRank};
    let kettle = ["5000000000011", "4000000000022"];
    let a_de = listed(
        a(),
        DE,
        "Acme Wasserkocher 1,7 L",
        "Acme",
        &kettle,
        2999,
        55,
        vec![series(
            DE,
            BuyBox,
            &[(0, Some(3099)), (20, None), (40, Some(2999))],
        )],
    );
    let a_uk = listed(
        a(),
        UK,
        "Acme Kettle 1.7L",
        "Acme",
        &kettle[..1],
        2499,
        58,
        vec![
            series(UK, BuyBox, &[(0, Some(2599)), (30, Some(2499))]),
            series(UK, SalesRank, &[(0, Some(1500))]),
        ],
    );
    let b_de = listed(
        b(),
        DE,
        "Zenith Desk Lamp",
        "Zenith",
        &["4000000000039"],
        4999,
        50,
        vec![series(DE, New, &[(10, Some(4999))])],
    );
    let b_fr = unlisted(b(), FR, 4, None);
    let d_it = listed(d(), IT, "Orbit Headphones", "Orbit", &[], 8999, 57, vec![]);
    let d_uk = unlisted(d(), UK, 0, Some("WRONG"));
    let e_it = listed(e(), IT, "Acme Desk Fan", "Breeze", &[], 1999, 40, vec![]);
    // The German listing comes first, yet the UK title wins: display order, not batch order.
    let batch1 = vec![
        a_de.clone(),
        a_uk.clone(),
        b_de.clone(),
        b_fr,
        d_it.clone(),
        d_uk,
        e_it.clone(),
    ];
    let cp = |offset| {
        Some(Checkpoint {
            key: "story-import".into(),
            offset,
        })
    };
    let got = s
        .upsert_listings(batch1.clone(), t(60), cp(100))
        .await
        .unwrap();
    let want = vec![
        product_of(a(), &[&a_de, &a_uk]),
        product_of(b(), &[&b_de]),
        product_of(d(), &[&d_it]),
        product_of(e(), &[&e_it]),
    ];
    assert_eq!(got, want);
    assert_eq!(want[0].title.as_deref(), Some("Acme Kettle 1.7L"));
    assert_eq!(
        want[2].brand.as_deref(),
        Some("Orbit"),
        "unlisted rows add no identity"
    );
    assert_eq!(s.product(a()).await.unwrap().as_ref(), Some(&want[0]));
    assert_eq!(
        s.product(c()).await.unwrap(),
        None,
        "watched, never fetched"
    );
    assert_eq!(
        s.checkpoint("story-import".into()).await.unwrap(),
        Some(100)
    );
    let history1 = s.history(a()).await.unwrap();
    assert_eq!(
        history1,
        vec![
            series(UK, SalesRank, &[(0, Some(1500))]),
            series(UK, BuyBox, &[(0, Some(2599)), (30, Some(2499))]),
            series(DE, BuyBox, &[(0, Some(3099)), (20, None), (40, Some(2999))]),
        ]
    );

    // Redelivery of the same batch changes nothing.
    let again = s
        .upsert_listings(batch1.clone(), t(60), cp(100))
        .await
        .unwrap();
    assert_eq!(again, want);
    assert_eq!(s.history(a()).await.unwrap(), history1);
    let stats = s.stats().await.unwrap();
    assert_eq!(
        stats,
        StoreStats {
            total_products: 4,
            products_per_market: per_market([1, 2, 0, 2, 0]),
            last_update: Some(t(60)),
            watchlist: 3,
            ..StoreStats::default()
        }
    );

    // Never fetched in the market first (oldest addition first), then the stalest.
    assert_eq!(
        strings(s.refresh_candidates(DE, 10).await.unwrap()),
        ["B0STORY0C3", "B0STORY0A1", "B0STORY0B2"]
    );
    assert_eq!(
        strings(s.refresh_candidates(FR, 10).await.unwrap()),
        ["B0STORY0A1", "B0STORY0C3", "B0STORY0B2"],
        "an unlisted record still counts as fetched"
    );
    assert_eq!(
        strings(s.refresh_candidates(UK, 10).await.unwrap()),
        ["B0STORY0B2", "B0STORY0C3", "B0STORY0A1"]
    );
    let w = s.watchlist().await.unwrap();
    let oldest: Vec<_> = w.iter().map(|x| x.oldest_fetch).collect();
    assert_eq!(oldest, [Some(t(60)), Some(t(60)), None]);

    // A second fetch: France appears, Germany moves, history merges without duplicates.
    let a_fr = listed(
        a(),
        FR,
        "Bouilloire Acme 1,7 L",
        "Acme",
        &kettle[..1],
        2199,
        110,
        vec![series(FR, BuyBox, &[(60, Some(2199))])],
    );
    let a_de2 = listed(
        a(),
        DE,
        "Acme Wasserkocher 1,7 L",
        "Acme",
        &kettle,
        2899,
        115,
        vec![series(DE, BuyBox, &[(40, Some(2999)), (100, Some(2899))])],
    );
    let d_it2 = listed(
        d(),
        IT,
        "Orbit Headphones",
        "Orbit",
        &[],
        8499,
        118,
        vec![series(IT, BuyBox, &[(118, Some(8499))])],
    );
    let got = s
        .upsert_listings(
            vec![a_fr.clone(), a_de2.clone(), d_it2.clone()],
            t(120),
            cp(250),
        )
        .await
        .unwrap();
    let a2 = product_of(a(), &[&a_uk, &a_de2, &a_fr]);
    assert_eq!(got, vec![a2.clone(), product_of(d(), &[&d_it2])]);
    let history2 = vec![
        series(UK, SalesRank, &[(0, Some(1500))]),
        series(UK, BuyBox, &[(0, Some(2599)), (30, Some(2499))]),
        series(
            DE,
            BuyBox,
            &[
                (0, Some(3099)),
                (20, None),
                (40, Some(2999)),
                (100, Some(2899)),
            ],
        ),
        series(FR, BuyBox, &[(60, Some(2199))]),
    ];
    assert_eq!(s.history(a()).await.unwrap(), history2);

    // A stale redelivery of the first German listing does not roll prices back.
    let got = s
        .upsert_listings(vec![a_de.clone()], t(60), None)
        .await
        .unwrap();
    assert_eq!(got, vec![a2.clone()]);
    assert_eq!(got[0].markets[&DE].buy_box, a_de2.snapshot.buy_box);
    assert_eq!(s.history(a()).await.unwrap(), history2);
    assert_eq!(s.stats().await.unwrap().last_update, Some(t(120)));

    // An invalid listing fails the whole batch, checkpoint included.
    let mut e_it2 = e_it.clone();
    e_it2.snapshot.buy_box = Some(fixtures::money(IT, 1499));
    let mut bad = a_uk.clone();
    bad.snapshot = snapshot(DE, Some("Acme Kettle 1.7L"), Some(2499), 58);
    let err = s
        .upsert_listings(vec![e_it2, bad], t(130), cp(999))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("B0STORY0A1:UK")),
        "{err}"
    );
    assert_eq!(
        s.product(e()).await.unwrap(),
        Some(product_of(e(), &[&e_it]))
    );
    assert_eq!(
        s.checkpoint("story-import".into()).await.unwrap(),
        Some(250)
    );
    batch1
}

/// The opportunity rows of the story, by number (see `opportunities`).
struct Rows {
    all: Vec<Opportunity>,
}

impl Rows {
    fn get(&self, key: &str) -> &Opportunity {
        self.all
            .iter()
            .find(|o| o.key().to_string() == key)
            .unwrap()
    }
}

async fn opportunities(s: &dyn Store) -> Rows {
    tick().await;
    assert_eq!(
        s.watch_add(vec![d(), e()], WatchSource::Discovery)
            .await
            .unwrap(),
        2
    );
    let kettle = "Acme Kettle 1.7L";
    let rows = vec![
        opp(
            a(),
            FR,
            DE,
            kettle,
            Figures(31.8, 12.5, 520, 22.0, 15_600, true, 120),
        ),
        opp(
            a(),
            FR,
            UK,
            kettle,
            Figures(25.0, 8.0, 310, 14.0, 9_300, true, 120),
        ),
        opp(
            a(),
            DE,
            UK,
            kettle,
            Figures(4.0, -3.0, -90, -4.0, 0, false, 120),
        ),
        opp(
            b(),
            DE,
            FR,
            "Zenith Desk Lamp",
            Figures(12.0, 2.5, 120, 25.0, 2_400, false, 60),
        ),
        opp(
            d(),
            IT,
            UK,
            "Orbit Headphones",
            Figures(40.0, 15.0, 1_450, 30.0, 15_600, true, 60),
        ),
        opp(
            d(),
            IT,
            DE,
            "Orbit Headphones",
            Figures(25.0, 9.5, 800, 11.0, 8_000, true, 60),
        ),
        opp(
            e(),
            ES,
            DE,
            "Acme Desk Fan",
            Figures(9.99, 1.0, 40, 2.0, 40_000, false, 180),
        ),
    ];
    let sets = vec![
        (a(), rows[0..3].to_vec()),
        (b(), rows[3..4].to_vec()),
        (d(), rows[4..6].to_vec()),
        (e(), rows[6..7].to_vec()),
    ];
    s.replace_opportunities(sets.clone()).await.unwrap();
    s.replace_opportunities(sets).await.unwrap();

    let q = |f: OpportunityFilter| async move { s.opportunities(f).await.unwrap() };
    let all = q(OpportunityFilter::default()).await;
    assert_eq!(all.total, 7);
    assert_eq!(
        keys(&all.items),
        [
            "B0STORY0A1:FR:DE",
            "B0STORY0D4:IT:UK",
            "B0STORY0A1:FR:UK",
            "B0STORY0D4:IT:DE",
            "B0STORY0E5:ES:DE",
            "B0STORY0B2:DE:FR",
            "B0STORY0A1:DE:UK",
        ],
        "ranked rows first by expected monthly profit, equal profits by ASIN"
    );
    for o in &all.items {
        assert_eq!(o, rows.iter().find(|r| r.key() == o.key()).unwrap());
    }

    let sorted = |sort, descending| OpportunityFilter {
        sort,
        descending,
        ..OpportunityFilter::default()
    };
    use OpportunitySort::*;
    let cases: Vec<(OpportunityFilter, Vec<&str>)> = vec![
        (
            sorted(ExpectedMonthlyProfit, false),
            vec![
                "B0STORY0A1:DE:UK",
                "B0STORY0B2:DE:FR",
                "B0STORY0E5:ES:DE",
                "B0STORY0D4:IT:DE",
                "B0STORY0A1:FR:UK",
                "B0STORY0A1:FR:DE",
                "B0STORY0D4:IT:UK",
            ],
        ),
        (
            sorted(GrossMarginPct, true),
            vec![
                "B0STORY0D4:IT:UK",
                "B0STORY0A1:FR:DE",
                "B0STORY0A1:FR:UK",
                "B0STORY0D4:IT:DE",
                "B0STORY0B2:DE:FR",
                "B0STORY0E5:ES:DE",
                "B0STORY0A1:DE:UK",
            ],
        ),
        (
            sorted(GrossMarginPct, false),
            vec![
                "B0STORY0A1:DE:UK",
                "B0STORY0E5:ES:DE",
                "B0STORY0B2:DE:FR",
                "B0STORY0A1:FR:UK",
                "B0STORY0D4:IT:DE",
                "B0STORY0A1:FR:DE",
                "B0STORY0D4:IT:UK",
            ],
        ),
        (
            sorted(NetMarginPct, true),
            vec![
                "B0STORY0D4:IT:UK",
                "B0STORY0A1:FR:DE",
                "B0STORY0D4:IT:DE",
                "B0STORY0A1:FR:UK",
                "B0STORY0B2:DE:FR",
                "B0STORY0E5:ES:DE",
                "B0STORY0A1:DE:UK",
            ],
        ),
        (
            sorted(NetProfit, true),
            vec![
                "B0STORY0D4:IT:UK",
                "B0STORY0D4:IT:DE",
                "B0STORY0A1:FR:DE",
                "B0STORY0A1:FR:UK",
                "B0STORY0B2:DE:FR",
                "B0STORY0E5:ES:DE",
                "B0STORY0A1:DE:UK",
            ],
        ),
        (
            sorted(RoiPct, true),
            vec![
                "B0STORY0D4:IT:UK",
                "B0STORY0B2:DE:FR",
                "B0STORY0A1:FR:DE",
                "B0STORY0A1:FR:UK",
                "B0STORY0D4:IT:DE",
                "B0STORY0E5:ES:DE",
                "B0STORY0A1:DE:UK",
            ],
        ),
        // Equal times: ASIN, then buy and sell market in display order (UK before DE).
        (
            sorted(UpdatedAt, true),
            vec![
                "B0STORY0E5:ES:DE",
                "B0STORY0A1:DE:UK",
                "B0STORY0A1:FR:UK",
                "B0STORY0A1:FR:DE",
                "B0STORY0B2:DE:FR",
                "B0STORY0D4:IT:UK",
                "B0STORY0D4:IT:DE",
            ],
        ),
    ];
    let f = OpportunityFilter::default;
    let filters: Vec<(OpportunityFilter, Vec<&str>)> = vec![
        (
            OpportunityFilter {
                min_gross_margin_pct: Some(25.0),
                ..f()
            },
            vec![
                "B0STORY0A1:FR:DE",
                "B0STORY0D4:IT:UK",
                "B0STORY0A1:FR:UK",
                "B0STORY0D4:IT:DE",
            ],
        ),
        (
            OpportunityFilter {
                min_gross_margin_pct: Some(10.0),
                ..f()
            },
            vec![
                "B0STORY0A1:FR:DE",
                "B0STORY0D4:IT:UK",
                "B0STORY0A1:FR:UK",
                "B0STORY0D4:IT:DE",
                "B0STORY0B2:DE:FR",
            ],
        ),
        (
            OpportunityFilter {
                min_net_margin_pct: Some(9.5),
                ..f()
            },
            vec!["B0STORY0A1:FR:DE", "B0STORY0D4:IT:UK", "B0STORY0D4:IT:DE"],
        ),
        (
            OpportunityFilter {
                min_profit_cents: Some(310),
                ..f()
            },
            vec![
                "B0STORY0A1:FR:DE",
                "B0STORY0D4:IT:UK",
                "B0STORY0A1:FR:UK",
                "B0STORY0D4:IT:DE",
            ],
        ),
        (
            OpportunityFilter {
                min_roi_pct: Some(22.0),
                ..f()
            },
            vec!["B0STORY0A1:FR:DE", "B0STORY0D4:IT:UK", "B0STORY0B2:DE:FR"],
        ),
        (
            OpportunityFilter {
                buy: vec![FR],
                ..f()
            },
            vec!["B0STORY0A1:FR:DE", "B0STORY0A1:FR:UK"],
        ),
        (
            OpportunityFilter {
                sell: vec![DE, UK, DE],
                ..f()
            },
            vec![
                "B0STORY0A1:FR:DE",
                "B0STORY0D4:IT:UK",
                "B0STORY0A1:FR:UK",
                "B0STORY0D4:IT:DE",
                "B0STORY0E5:ES:DE",
                "B0STORY0A1:DE:UK",
            ],
        ),
        (
            OpportunityFilter {
                buy: vec![IT, ES],
                sell: vec![DE],
                ..f()
            },
            vec!["B0STORY0D4:IT:DE", "B0STORY0E5:ES:DE"],
        ),
        (
            OpportunityFilter {
                text: Some("KETTLE".into()),
                ..f()
            },
            vec!["B0STORY0A1:FR:DE", "B0STORY0A1:FR:UK", "B0STORY0A1:DE:UK"],
        ),
        (
            OpportunityFilter {
                text: Some(" desk ".into()),
                ..f()
            },
            vec!["B0STORY0E5:ES:DE", "B0STORY0B2:DE:FR"],
        ),
        (
            OpportunityFilter {
                text: Some("b0story0d".into()),
                ..f()
            },
            vec!["B0STORY0D4:IT:UK", "B0STORY0D4:IT:DE"],
        ),
        (
            OpportunityFilter {
                text: Some("%".into()),
                ..f()
            },
            vec![],
        ),
        (
            OpportunityFilter {
                text: Some("lampb0story".into()),
                ..f()
            },
            vec![],
        ),
        (
            OpportunityFilter {
                text: Some("".into()),
                ..f()
            },
            vec![
                "B0STORY0A1:FR:DE",
                "B0STORY0D4:IT:UK",
                "B0STORY0A1:FR:UK",
                "B0STORY0D4:IT:DE",
                "B0STORY0E5:ES:DE",
                "B0STORY0B2:DE:FR",
                "B0STORY0A1:DE:UK",
            ],
        ),
        (
            OpportunityFilter {
                ranked_only: true,
                ..f()
            },
            vec![
                "B0STORY0A1:FR:DE",
                "B0STORY0D4:IT:UK",
                "B0STORY0A1:FR:UK",
                "B0STORY0D4:IT:DE",
            ],
        ),
        (
            OpportunityFilter {
                min_gross_margin_pct: Some(10.0),
                sell: vec![UK],
                ranked_only: true,
                sort: GrossMarginPct,
                ..f()
            },
            vec!["B0STORY0D4:IT:UK", "B0STORY0A1:FR:UK"],
        ),
    ];
    for (filter, want) in cases.into_iter().chain(filters) {
        let page = q(filter.clone()).await;
        assert_eq!(keys(&page.items), want, "{filter:?}");
        assert_eq!(page.total, want.len() as u64, "{filter:?}");
    }

    // Paging: `total` counts every match, pages are slices of one order.
    let page = |offset, limit| OpportunityFilter {
        offset,
        limit,
        ..f()
    };
    let mut pages = Vec::new();
    for offset in [0, 3, 6] {
        let p = q(page(offset, 3)).await;
        assert_eq!(p.total, 7);
        pages.extend(keys(&p.items));
    }
    assert_eq!(pages, keys(&all.items));
    for (offset, limit) in [(7, 3), (100, 3), (0, 0)] {
        let p: Page<Opportunity> = q(page(offset, limit)).await;
        assert_eq!((p.total, p.items.len()), (7, 0));
    }

    // Refresh priority: never fetched here, then an open opportunity here, then the rest;
    // the stalest first within a tier.
    assert_eq!(
        strings(s.refresh_candidates(IT, 10).await.unwrap()),
        [
            "B0STORY0A1",
            "B0STORY0B2",
            "B0STORY0C3",
            "B0STORY0D4",
            "B0STORY0E5"
        ],
        "D sells in IT and beats E, which was fetched earlier but has no IT route"
    );
    assert_eq!(
        strings(s.refresh_candidates(DE, 10).await.unwrap()),
        [
            "B0STORY0C3",
            "B0STORY0D4",
            "B0STORY0E5",
            "B0STORY0B2",
            "B0STORY0A1"
        ]
    );
    assert_eq!(
        strings(s.refresh_candidates(DE, 2).await.unwrap()),
        ["B0STORY0C3", "B0STORY0D4"]
    );

    // Invalid requests are refused and change nothing.
    let mut raised = rows[3].clone();
    raised.expected_monthly_profit = arbdesk::domain::Money::eur(99_999);
    let mut nan = rows[0].clone();
    nan.roi_pct = f64::NAN;
    let err = s
        .replace_opportunities(vec![(b(), vec![raised]), (a(), vec![nan])])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("B0STORY0A1:FR:DE")),
        "{err}"
    );
    let err = s
        .replace_opportunities(vec![(b(), vec![rows[0].clone()])])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(_)),
        "a row filed under another ASIN"
    );
    let zenith = q(OpportunityFilter {
        text: Some("zenith".into()),
        ..f()
    })
    .await;
    assert_eq!(zenith.items, vec![rows[3].clone()]);
    let err = s
        .opportunities(OpportunityFilter {
            min_gross_margin_pct: Some(f64::NAN),
            ..f()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)));
    Rows { all: rows }
}

async fn retire_opportunities(s: &dyn Store, rows: &Rows) {
    let mut raised = rows.get("B0STORY0A1:FR:DE").clone();
    raised.expected_monthly_profit = arbdesk::domain::Money::eur(20_000);
    raised.updated_at = t(190);
    let new_route = opp(
        a(),
        UK,
        DE,
        "Acme Kettle 1.7L",
        Figures(2.0, -6.0, -150, -7.0, 100, false, 190),
    );
    s.replace_opportunities(vec![
        (a(), vec![raised.clone(), new_route.clone()]),
        (e(), vec![]),
    ])
    .await
    .unwrap();
    let all = s.opportunities(OpportunityFilter::default()).await.unwrap();
    assert_eq!(all.total, 5);
    assert_eq!(
        keys(&all.items),
        [
            "B0STORY0A1:FR:DE",
            "B0STORY0D4:IT:UK",
            "B0STORY0D4:IT:DE",
            "B0STORY0B2:DE:FR",
            "B0STORY0A1:UK:DE",
        ],
        "A:FR:UK, A:DE:UK and every E row are retired; B and D are untouched"
    );
    assert_eq!(all.items[0], raised);
    assert_eq!(all.items[4], new_route);
    assert_eq!(all.items[1], *rows.get("B0STORY0D4:IT:UK"));
}

async fn products(s: &dyn Store, batch1: &[Listing]) {
    // B is delisted in Germany, its only market: it stays known but lists nowhere.
    let got = s
        .upsert_listings(vec![unlisted(b(), DE, 4, None)], t(180), None)
        .await
        .unwrap();
    let gone = product_of(b(), &[]);
    assert_eq!(got, vec![gone.clone()]);
    assert!(gone.markets.is_empty() && gone.title.is_none());
    assert_eq!(s.product(b()).await.unwrap(), Some(gone));

    let a_now = s.product(a()).await.unwrap().unwrap();
    assert_eq!(
        a_now.markets.keys().copied().collect::<Vec<_>>(),
        [UK, DE, FR]
    );
    let d_now = s.product(d()).await.unwrap().unwrap();
    let e_now = s.product(e()).await.unwrap().unwrap();
    assert_eq!(e_now, product_of(e(), &[&batch1[6]]));

    let q = |text: Option<&str>, market, offset, limit| {
        let filter = ProductFilter {
            text: text.map(str::to_string),
            market,
            limit,
            offset,
        };
        async move { s.products(filter).await.unwrap() }
    };
    let page = q(None, None, 0, 10).await;
    assert_eq!(page.total, 3, "B lists nowhere and is not browsed");
    assert_eq!(
        page.items,
        vec![a_now.clone(), d_now.clone(), e_now.clone()]
    );
    let cases: Vec<(Option<&str>, Option<Market>, Vec<&str>)> = vec![
        (None, Some(DE), vec!["B0STORY0A1"]),
        (None, Some(IT), vec!["B0STORY0D4", "B0STORY0E5"]),
        (None, Some(ES), vec![]),
        (Some("ORBIT"), None, vec!["B0STORY0D4"]),
        (Some("breeze"), None, vec!["B0STORY0E5"]),
        (Some("acme"), None, vec!["B0STORY0A1", "B0STORY0E5"]),
        (Some("acme"), Some(IT), vec!["B0STORY0E5"]),
        (Some("b0story0e"), None, vec!["B0STORY0E5"]),
        (Some("headphonesorbit"), None, vec![]),
        (Some("%"), None, vec![]),
    ];
    for (text, market, want) in cases {
        let p = q(text, market, 0, 10).await;
        assert_eq!(asins(&p.items, |x| x.asin), want, "{text:?} {market:?}");
        assert_eq!(p.total, want.len() as u64, "{text:?} {market:?}");
    }
    let p = q(None, None, 0, 2).await;
    assert_eq!(
        (p.total, asins(&p.items, |x| x.asin)),
        (3, vec!["B0STORY0A1".into(), "B0STORY0D4".into()])
    );
    let p = q(None, None, 2, 2).await;
    assert_eq!(
        (p.total, asins(&p.items, |x| x.asin)),
        (3, vec!["B0STORY0E5".into()])
    );
    for (offset, limit) in [(0, 0), (5, 2)] {
        let p = q(None, None, offset, limit).await;
        assert_eq!((p.total, p.items.len()), (3, 0));
    }

    let stats = s.stats().await.unwrap();
    let avg = stats.avg_gross_margin_pct.unwrap();
    assert!((avg - 110.8 / 5.0).abs() < 1e-9, "{avg}");
    assert_eq!(
        stats,
        StoreStats {
            total_products: 3,
            opportunities: 5,
            ranked_opportunities: 3,
            best_gross_margin_pct: Some(40.0),
            avg_gross_margin_pct: Some(avg),
            products_per_market: per_market([1, 1, 1, 2, 0]),
            last_update: Some(t(180)),
            watchlist: 5,
        }
    );
}

async fn bookkeeping(s: &dyn Store) {
    let run = |job: &str, start, end, result: &str, detail: &str| JobRun {
        job: job.into(),
        started_at: t(start),
        finished_at: t(end),
        result: result.into(),
        detail: detail.into(),
    };
    let latest_refresh = run(
        "refresh",
        120,
        122,
        "error: Keepa answered 429",
        "retrying in 60 s",
    );
    let discovery = run("discovery", 62, 63, "ok", "found 2 ASINs, 2 new");
    for r in [
        run("refresh", 60, 61, "ok", "refreshed 3 ASINs"),
        discovery.clone(),
        latest_refresh.clone(),
        run("refresh", 0, 1, "ok", "a late report of an older run"),
    ] {
        s.record_job(r).await.unwrap();
    }
    assert_eq!(s.jobs().await.unwrap(), vec![discovery, latest_refresh]);

    // A checkpoint can be committed alone, and only its key moves.
    assert_eq!(
        s.checkpoint("story-import".into()).await.unwrap(),
        Some(250)
    );
    assert_eq!(s.checkpoint("another-file".into()).await.unwrap(), None);
    let cp = Checkpoint {
        key: "story-import".into(),
        offset: 300,
    };
    assert!(
        s.upsert_listings(vec![], t(200), Some(cp))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.checkpoint("story-import".into()).await.unwrap(),
        Some(300)
    );
    assert_eq!(s.stats().await.unwrap().last_update, Some(t(180)));

    // Unwatching keeps the data.
    assert_eq!(s.watch_remove(vec![a(), c(), c()]).await.unwrap(), 2);
    assert!(s.product(a()).await.unwrap().is_some());
    let w = s.watchlist().await.unwrap();
    assert_eq!(
        asins(&w, |x| x.asin),
        ["B0STORY0B2", "B0STORY0D4", "B0STORY0E5"]
    );
    let oldest: Vec<_> = w.iter().map(|x| x.oldest_fetch).collect();
    assert_eq!(oldest, [Some(t(60)), Some(t(60)), Some(t(60))]);
    assert_eq!(s.stats().await.unwrap().watchlist, 3);
}
