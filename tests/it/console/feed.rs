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
