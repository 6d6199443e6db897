//! Query plans and running totals against brute force: sorted pages from either plan equal
//! a reference sort, and `stats` equals a recount after any mix of writes.

use arbdesk::domain::{Asin, Market, Opportunity};
use arbdesk::keepa::sim::asin_from;
use arbdesk::store::sqlite::SqliteStore;
use arbdesk::store::{BulkLoad, OpportunityFilter, OpportunitySort, Store};
use rusqlite::Connection;

use crate::it::store_story::fixtures::{Figures, listed, opp, t, unlisted};

/// The sort key of a row as the store orders it (before the ASIN, buy, sell tie-break).
fn sort_key(o: &Opportunity, sort: OpportunitySort) -> [f64; 4] {
    match sort {
        OpportunitySort::GrossMarginPct => [o.gross_margin_pct, 0.0, 0.0, 0.0],
        OpportunitySort::NetMarginPct => [o.net_margin_pct, 0.0, 0.0, 0.0],
        OpportunitySort::NetProfit => [o.net_profit.minor as f64, 0.0, 0.0, 0.0],
        OpportunitySort::RoiPct => [o.roi_pct, 0.0, 0.0, 0.0],
        OpportunitySort::UpdatedAt => [o.updated_at.timestamp_micros() as f64, 0.0, 0.0, 0.0],
        // Ranked first, equal profits by ROI, then profit (economics.md §4.1).
        OpportunitySort::ExpectedMonthlyProfit => [
            f64::from(u8::from(o.ranked)),
            o.expected_monthly_profit.minor as f64,
            o.roi_pct,
            o.net_profit.minor as f64,
        ],
    }
}

/// How many of the opportunity sort indexes exist in the file.
fn sort_indexes(path: &std::path::Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_schema
             WHERE type = 'index' AND name IN ('opp_emp', 'opp_gross', 'opp_net')",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// Pages are read by walking a sort index when many rows match and by sorting the matches
/// when few do; both must give the reference order, ties included, and so must a bulk
/// load, which has no sort indexes until it ends (or until the store is opened again).
#[tokio::test]
async fn both_query_plans_agree_with_a_reference_sort() {
    use Market::{DE, ES, FR, IT, UK};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut rows = Vec::new();
    let mut sets = Vec::new();
    for i in 0..100 {
        let asin: Asin = asin_from(50_000 + i).parse().unwrap();
        let mut set = Vec::new();
        for (buy, sell) in [(IT, DE), (FR, UK), (UK, DE), (ES, FR)] {
            // Few distinct values, so ties are everywhere.
            let f = Figures(
                next(5) as f64 * 5.0,
                next(4) as f64 - 1.0,
                next(3) as i64 * 100,
                next(6) as f64,
                next(4) as i64 * 1_000,
                next(2) == 0,
                next(3) as i64,
            );
            set.push(opp(asin, buy, sell, "Row", f));
        }
        rows.extend(set.clone());
        sets.push((asin, set));
    }
    store.replace_opportunities(sets).await.unwrap();
    let sorts = [
        OpportunitySort::GrossMarginPct,
        OpportunitySort::NetMarginPct,
        OpportunitySort::NetProfit,
        OpportunitySort::RoiPct,
        OpportunitySort::UpdatedAt,
        OpportunitySort::ExpectedMonthlyProfit,
    ];
    for phase in ["indexed", "bulk load"] {
        if phase == "bulk load" {
            store.bulk_load(BulkLoad::Begin).await.unwrap();
            assert_eq!(sort_indexes(&path), 0);
        }
        for sort in sorts {
            for descending in [true, false] {
                for min_gross in [None, Some(10.0)] {
                    let mut want: Vec<&Opportunity> = rows
                        .iter()
                        .filter(|o| min_gross.is_none_or(|m| o.gross_margin_pct >= m))
                        .collect();
                    want.sort_by(|a, b| {
                        let by_key = sort_key(a, sort).partial_cmp(&sort_key(b, sort)).unwrap();
                        let by_key = if descending { by_key.reverse() } else { by_key };
                        by_key.then(a.key().cmp(&b.key()))
                    });
                    let want: Vec<_> = want.iter().map(|o| o.key()).collect();
                    for (offset, limit) in [(0, 1000), (0, 1), (1, 2), (3, 1), (7, 3)] {
                        let filter = OpportunityFilter {
                            min_gross_margin_pct: min_gross,
                            sort,
                            descending,
                            offset,
                            limit,
                            ..OpportunityFilter::default()
                        };
                        let page = store.opportunities(filter.clone()).await.unwrap();
                        let got: Vec<_> = page.items.iter().map(|o| o.key()).collect();
                        let end = (offset + limit).min(want.len());
                        assert_eq!(got, want[offset..end], "{phase}: {filter:?}");
                        assert_eq!(page.total, want.len() as u64);
                    }
                }
            }
        }
    }
    // A store opened by another process while the bulk load runs (a console, `export`)
    // leaves the indexes to it, and reads the same pages without them.
    let other = SqliteStore::open(&path).unwrap();
    assert_eq!(sort_indexes(&path), 0, "opened during a bulk load");
    let first = OpportunityFilter {
        limit: 5,
        ..OpportunityFilter::default()
    };
    let during = other.opportunities(first.clone()).await.unwrap();
    store.bulk_load(BulkLoad::End).await.unwrap();
    assert_eq!(sort_indexes(&path), 3);
    let after = other.opportunities(first).await.unwrap();
    let keys = |p: &arbdesk::store::Page<Opportunity>| -> Vec<_> {
        p.items.iter().map(|o| o.key()).collect()
    };
    assert_eq!(keys(&during), keys(&after));
    drop(other);
    // A bulk load that never ended is ended when the store is opened.
    store.bulk_load(BulkLoad::Begin).await.unwrap();
    drop(store);
    assert_eq!(sort_indexes(&path), 0);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(sort_indexes(&path), 3);
    assert_eq!(
        store.stats().await.unwrap().opportunities,
        rows.len() as u64
    );
}

/// `stats` reads running totals kept by the writes; after any mix of writes they must equal
/// a recount of the rows.
#[tokio::test]
async fn running_totals_match_a_recount() {
    use Market::{DE, ES, FR, IT, UK};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let asins: Vec<Asin> = (0..30)
        .map(|i| asin_from(70_000 + i).parse().unwrap())
        .collect();
    let routes = [(IT, DE), (FR, UK), (UK, DE), (ES, FR), (DE, IT)];
    let c = Connection::open(&path).unwrap();
    for round in 0..12 {
        let mut batch = Vec::new();
        for a in &asins {
            for m in Market::ALL {
                match next(4) {
                    0 => {}
                    1 => batch.push(unlisted(*a, m, 4, None, round)),
                    _ => batch.push(listed(*a, m, "Thing", "Acme", &[], 999, round, vec![])),
                }
            }
        }
        let products = store
            .upsert_listings(batch, t(round * 10), None)
            .await
            .unwrap();
        let mut sets = Vec::new();
        for p in &products {
            let mut rows = Vec::new();
            for (b, s) in routes {
                if next(3) == 0 {
                    continue;
                }
                let gross = next(4_000) as f64 / 100.0;
                let f = Figures(gross, 1.0, 100, 5.0, 1_000, next(2) == 0, round);
                rows.push(opp(p.asin, b, s, "Thing", f));
            }
            sets.push((p.asin, rows));
        }
        store.replace_opportunities(sets).await.unwrap();

        let stats = store.stats().await.unwrap();
        let one = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            stats.total_products as i64,
            one("SELECT count(*) FROM products WHERE markets != 0")
        );
        assert_eq!(
            stats.opportunities as i64,
            one("SELECT count(*) FROM opportunities")
        );
        assert_eq!(
            stats.ranked_opportunities as i64,
            one("SELECT count(*) FROM opportunities WHERE ranked = 1")
        );
        let avg: Option<f64> = c
            .query_row("SELECT avg(gross_margin_pct) FROM opportunities", [], |r| {
                r.get(0)
            })
            .unwrap();
        match (stats.avg_gross_margin_pct, avg) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-6, "{a} vs {b}"),
            (a, b) => assert_eq!(a, b),
        }
        for m in Market::ALL {
            let id = i64::from(m.keepa_domain());
            let n: i64 = c
                .query_row(
                    "SELECT count(*) FROM listings WHERE listed = 1 AND market = ?1",
                    [id],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(stats.products_per_market[&m] as i64, n, "round {round} {m}");
        }
    }
}
