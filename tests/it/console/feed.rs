//! What the console loads from a real store: the rows of a page, and which rows of the
//! previous page left the answer rather than only moving out of the page.

use arbdesk::domain::{Asin, Market};
use arbdesk::store::sqlite::SqliteStore;
use arbdesk::store::{OpportunitySort, Store};
use arbdesk::tui::action::Basis;
use arbdesk::tui::app::load_feed;
use arbdesk::tui::model::{Feed, Query};

use crate::it::store_story::fixtures::{Figures, asin, opp};

fn keys(feed: &Feed) -> Vec<String> {
    feed.rows.iter().map(|r| r.key.asin.to_string()).collect()
}

#[tokio::test]
async fn rows_that_only_move_out_of_the_page_have_not_left() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap();
    let row_at = |a: Asin, gross: f64, emp: i64| {
        opp(
            a,
            Market::IT,
            Market::DE,
            "Feed Widget",
            Figures(gross, 10.0, 500, 20.0, emp, true, 100),
        )
    };
    let row = |a: Asin, emp: i64| row_at(a, 20.0, emp);
    let [a, b, c, d] = ["B0FEED00A1", "B0FEED00B2", "B0FEED00C3", "B0FEED00D4"].map(asin);
    let sets = |rows: &[(Asin, i64)]| -> Vec<_> {
        rows.iter()
            .map(|(x, emp)| (*x, vec![row(*x, *emp)]))
            .collect()
    };
    store
        .replace_opportunities(sets(&[(a, 500), (b, 400), (c, 300), (d, 200)]))
        .await
        .unwrap();
    let q = Query {
        min_margin: 10.0,
        basis: Basis::Gross,
        buy: vec![],
        sell: vec![],
        limit: 2,
        sort: OpportunitySort::ExpectedMonthlyProfit,
        descending: true,
        text: None,
        bounds: Default::default(),
    };
    let first = load_feed(&store, q.clone(), &[], None).await;
    assert_eq!(keys(&first), ["B0FEED00A1", "B0FEED00B2"]);
    assert_eq!(first.left, None, "nothing to compare with");
    let previous: Vec<_> = first.rows.iter().map(|r| r.key).collect();

    // C rises above B: B leaves the page but is still there.
    store
        .replace_opportunities(sets(&[(c, 600)]))
        .await
        .unwrap();
    let moved = load_feed(&store, q.clone(), &previous, first.at).await;
    assert_eq!(keys(&moved), ["B0FEED00C3", "B0FEED00A1"]);
    assert_eq!(moved.left, Some(0));

    // Now A is gone from the store, and C no longer matches (gross margin below 10 %).
    let previous: Vec<_> = moved.rows.iter().map(|r| r.key).collect();
    store
        .replace_opportunities(vec![(a, vec![])])
        .await
        .unwrap();
    store
        .replace_opportunities(vec![(c, vec![row_at(c, 5.0, 600)])])
        .await
        .unwrap();
    let left = load_feed(&store, q, &previous, moved.at).await;
    assert_eq!(keys(&left), ["B0FEED00B2", "B0FEED00D4"]);
    assert_eq!(left.left, Some(2), "A left the store, C the answer");
}

/// The best gross margin the tile shows is the best of every row the table's query
/// matches, loaded or not: a market filter leaves out the store's best route; so is the
/// count of ranked rows the table's title gives.
#[tokio::test]
async fn the_best_gross_margin_is_of_the_rows_the_query_matches() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap();
    let route = |a: &str, buy: Market, gross: f64, emp: i64, ranked: bool| {
        let a = asin(a);
        (
            a,
            vec![opp(
                a,
                buy,
                Market::FR,
                "Tile Widget",
                Figures(gross, 10.0, 500, 20.0, emp, ranked, 100),
            )],
        )
    };
    store
        .replace_opportunities(vec![
            route("B0TILE00A1", Market::IT, 85.0, 100, true),
            route("B0TILE00B2", Market::DE, 30.0, 900, true),
            route("B0TILE00C3", Market::DE, 40.0, 50, false),
            route("B0TILE00D4", Market::DE, 20.0, 800, true),
        ])
        .await
        .unwrap();
    let q = |buy: Vec<Market>, limit: usize| Query {
        min_margin: 10.0,
        basis: Basis::Gross,
        buy,
        sell: vec![],
        limit,
        sort: OpportunitySort::ExpectedMonthlyProfit,
        descending: true,
        text: None,
        bounds: Default::default(),
    };
    // Every row loaded: the best of them, and the ranked among them.
    let all = load_feed(&store, q(vec![], 10), &[], None).await;
    assert_eq!((all.best_gross, all.ranked), (Some(85.0), Some(3)));
    // Buying in DE only, two rows loaded by expected monthly profit (B, D): the best of
    // the three DE routes is C's, which is not loaded, and not IT's 85 %.
    let de = load_feed(&store, q(vec![Market::DE], 2), &[], None).await;
    assert_eq!(keys(&de), ["B0TILE00B2", "B0TILE00D4"]);
    assert_eq!(de.best_gross, Some(40.0));
    assert_eq!(de.ranked, Some(2), "B and D");
    // By gross margin, C (not ranked) and B are loaded: the ranked of the three are B and
    // D, one of them not loaded.
    let by_gross = Query {
        sort: OpportunitySort::GrossMarginPct,
        ..q(vec![Market::DE], 2)
    };
    let de = load_feed(&store, by_gross, &[], None).await;
    assert_eq!(keys(&de), ["B0TILE00C3", "B0TILE00B2"]);
    assert_eq!(de.ranked, Some(2));
    assert_eq!(
        de.stats.best_gross_margin_pct,
        Some(85.0),
        "the store's best"
    );
    let none = load_feed(&store, q(vec![Market::ES], 2), &[], None).await;
    assert_eq!(none.best_gross, None);
}

/// ASINs just added are followed to their first stored fetch, which the console then
/// describes: where the product is listed and its best route; an ASIN Keepa never
/// delivers is named once the console stops waiting.
#[tokio::test]
async fn added_asins_are_followed_to_their_first_fetch() {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use crate::it::store_story::fixtures::{listed, t};
    use arbdesk::tui::app::watched::{follow_added, worth_following};

    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap());
    let (kettle, ghost) = (asin("B0FOLLOW01"), asin("B0NEVERCOM"));
    let said = Arc::new(Mutex::new(Vec::new()));
    let heard = said.clone();
    let asked = vec![kettle, ghost];
    assert_eq!(worth_following(&*store, &asked).await, Some(asked.clone()));
    let follow = tokio::spawn(follow_added(
        store.clone(),
        asked,
        Market::ALL.to_vec(),
        Duration::from_millis(20),
        Duration::from_millis(1_500),
        move |m, bad| heard.lock().unwrap().push((m, bad)),
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(said.lock().unwrap().is_empty(), "nothing fetched yet");
    let listings = [Market::DE, Market::IT].map(|m| {
        listed(
            kettle,
            m,
            "Kettle",
            "Acme",
            &["4006381333931"],
            2_999,
            10,
            Vec::new(),
        )
    });
    store
        .upsert_listings(listings.to_vec(), t(10), None)
        .await
        .unwrap();
    let route = opp(
        kettle,
        Market::IT,
        Market::DE,
        "Kettle",
        Figures(20.0, 10.0, 412, 20.0, 5_000, true, 10),
    );
    store
        .replace_opportunities(vec![(kettle, vec![route])])
        .await
        .unwrap();
    follow.await.unwrap();
    let said = said.lock().unwrap().clone();
    assert_eq!(said.len(), 2, "{said:?}");
    assert_eq!(
        said[0],
        (
            "B0FOLLOW01 fetched: listed in DE IT; 1 route, best net €4.12 IT→DE; nothing \
             usable from UK FR ES yet (the log, g l, says why)"
                .to_string(),
            false
        )
    );
    assert!(
        said[1].1
            && said[1]
                .0
                .starts_with("B0NEVERCOM not fetched yet after 1 s"),
        "{said:?}"
    );
    // A loss is not called the best net; a product listed nowhere says so.
    use arbdesk::tui::app::watched::found;
    let loss = opp(
        kettle,
        Market::IT,
        Market::ES,
        "Kettle",
        Figures(5.0, -3.0, -1_768, -9.0, 0, false, 10),
    );
    assert_eq!(
        found(
            kettle,
            &Market::ALL,
            &Market::ALL,
            Some(&[loss.clone(), loss])
        ),
        "B0FOLLOW01 fetched: listed in UK DE FR IT ES; 2 routes, none with a net profit \
         (best -€17.68 IT→ES)"
    );
    assert_eq!(
        found(ghost, &[], &[Market::DE, Market::FR], Some(&[])),
        "B0NEVERCOM fetched: Keepa lists it in none of DE FR; it stays watched"
    );
    // Known already: nothing to follow; too many: a bulk add.
    assert_eq!(worth_following(&*store, &[kettle]).await, Some(Vec::new()));
    let many: Vec<Asin> = (0..6).map(|i| asin(&format!("B0MANY000{i}"))).collect();
    assert_eq!(worth_following(&*store, &many).await, None);
}

/// The products view reads a store's products a page at a time, by ASIN, with each
/// market's price (or why there is none), and searches titles, brands and ASINs.
#[tokio::test]
async fn the_products_view_reads_pages_of_a_real_store() {
    use crate::it::store_story::fixtures::{listed, t, unlisted};
    use arbdesk::tui::app::load_products;
    use arbdesk::tui::state::{MarketCell, ProductsQuery};

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("arbdesk.sqlite")).unwrap();
    let mut listings = Vec::new();
    for i in 0..5 {
        let a = asin(&format!("B0PRODV00{i}"));
        let title = if i == 3 { "Glass Kettle" } else { "Desk Lamp" };
        listings.push(listed(
            a,
            Market::DE,
            title,
            "Acme",
            &[],
            1_000 + i,
            i,
            Vec::new(),
        ));
        let mut uk = listed(a, Market::UK, title, "Acme", &[], 900, i, Vec::new());
        if i == 1 {
            // Listed, no offer at all: out of stock.
            uk.snapshot.buy_box = None;
            uk.snapshot.new = None;
            uk.snapshot.amazon = None;
        }
        if i == 2 {
            // No Buy Box: the lower of Amazon's offer and the lowest New one.
            uk.snapshot.buy_box = None;
            uk.snapshot.new = Some(arbdesk::domain::Money::gbp(850));
            uk.snapshot.amazon = Some(arbdesk::domain::Money::gbp(899));
        }
        listings.push(uk);
        listings.push(unlisted(a, Market::FR, 4, Some("Acme"), i));
    }
    store.upsert_listings(listings, t(10), None).await.unwrap();

    let page = |text: Option<&str>, offset, limit| ProductsQuery {
        text: text.map(str::to_string),
        offset,
        limit,
        seek: None,
    };
    let p = load_products(&store, page(None, 1, 2)).await;
    assert_eq!(p.error, None);
    assert_eq!(p.total, 5);
    let asins: Vec<String> = p.lines.iter().map(|l| l.asin.to_string()).collect();
    assert_eq!(asins, ["B0PRODV001", "B0PRODV002"]);
    let [uk, de, fr, ..] = p.lines[0].markets;
    assert_eq!(uk, MarketCell::OutOfStock);
    assert_eq!(de, MarketCell::Price(arbdesk::domain::Money::eur(1_001)));
    assert_eq!(
        fr,
        MarketCell::NotListed,
        "a type-4 record is not a listing"
    );
    assert_eq!(
        p.lines[0].markets[3],
        MarketCell::NotFetched,
        "Italy was never asked about"
    );
    assert_eq!(p.lines[0].title, "Desk Lamp");
    assert_eq!(p.lines[1].updated, Some(t(2)));
    assert_eq!(
        p.lines[1].markets[0],
        MarketCell::Price(arbdesk::domain::Money::gbp(850))
    );

    let found = load_products(&store, page(Some("kettle"), 0, 200)).await;
    assert_eq!(found.total, 1);
    assert_eq!(found.lines[0].asin.to_string(), "B0PRODV003");
    let none = load_products(&store, page(Some("kettle lamp"), 0, 200)).await;
    assert_eq!(
        (none.total, none.lines.len()),
        (0, 0),
        "every word must match"
    );
    // Sought: the page that holds the product, and its place.
    let sought = ProductsQuery {
        seek: Some("B0PRODV003".parse().unwrap()),
        ..page(None, 0, 200)
    };
    let p = load_products(&store, sought).await;
    assert_eq!(p.found, Some(3));
    assert_eq!(p.query.unwrap().offset, 0, "a page's margin above it");
    assert_eq!(p.lines[3].asin.to_string(), "B0PRODV003");
}
