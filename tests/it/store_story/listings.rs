//! Chapters of the story about listings: batches of fetches (redelivered, stale, invalid)
//! merging into products and history, refresh order, and browsing products.

use arbdesk::domain::{Asin, Listing, Market, SeriesKind};
use arbdesk::store::{Checkpoint, ProductFilter, Store, StoreError, StoreStats};

use super::fixtures::{self, a, asins, b, c, d, e, listed, series, snapshot, t, unlisted};
use super::{per_market, product_of, strings};
use Market::{DE, ES, FR, IT, UK};

/// Listings in batches; returns the first batch.
pub async fn ingest(s: &dyn Store) -> Vec<Listing> {
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
    let b_fr = unlisted(b(), FR, 4, None, 58);
    let d_it = listed(d(), IT, "Orbit Headphones", "Orbit", &[], 8999, 57, vec![]);
    let d_uk = unlisted(d(), UK, 0, Some("WRONG"), 58);
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
        product_of(a(), &[&a_de, &a_uk], &[]),
        product_of(b(), &[&b_de], &[FR]),
        product_of(d(), &[&d_it], &[UK]),
        product_of(e(), &[&e_it], &[]),
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
        s.products_by_asin(vec![c(), a(), e()]).await.unwrap(),
        vec![None, Some(want[0].clone()), Some(want[3].clone())],
        "several at once, in the order asked"
    );
    assert!(s.products_by_asin(Vec::new()).await.unwrap().is_empty());
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
        ["C", "A", "B"]
    );
    assert_eq!(
        strings(s.refresh_candidates(FR, 10).await.unwrap()),
        ["A", "C", "B"],
        "an unlisted record still counts as fetched"
    );
    assert_eq!(
        strings(s.refresh_candidates(UK, 10).await.unwrap()),
        ["B", "C", "A"]
    );
    let w = s.watchlist().await.unwrap();
    let oldest: Vec<_> = w.iter().map(|x| x.oldest_fetch).collect();
    assert_eq!(oldest, [Some(t(60)), Some(t(60)), None]);
    let fetched: Vec<_> = w.iter().map(|x| x.fetched.clone()).collect();
    assert_eq!(
        fetched,
        [vec![UK, DE], vec![DE, FR], vec![]],
        "an unlisted record counts as fetched; display order"
    );

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
    let a2 = product_of(a(), &[&a_uk, &a_de2, &a_fr], &[]);
    assert_eq!(got, vec![a2.clone(), product_of(d(), &[&d_it2], &[UK])]);
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
    // Nor does an older observation fetched later (an old dump imported after newer
    // fetches, or a message redelivered after the next fetch).
    let got = s
        .upsert_listings(vec![a_de.clone()], t(150), None)
        .await
        .unwrap();
    assert_eq!(got, vec![a2.clone()]);
    assert_eq!(s.history(a()).await.unwrap(), history2);
    // Nor does one of unknown time (a line without `lastUpdate`), fetched later still:
    // it cannot be shown newer than what is stored.
    let mut undated = a_de.clone();
    undated.snapshot.observed_at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    undated.snapshot.buy_box = None;
    let got = s
        .upsert_listings(vec![undated], t(160), None)
        .await
        .unwrap();
    assert_eq!(got, vec![a2.clone()]);
    assert_eq!(s.history(a()).await.unwrap(), history2);

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
        Some(product_of(e(), &[&e_it], &[]))
    );
    assert_eq!(
        s.checkpoint("story-import".into()).await.unwrap(),
        Some(250)
    );
    batch1
}

pub async fn products(s: &dyn Store, batch1: &[Listing]) {
    // B is delisted in Germany, its only market: it stays known but lists nowhere.
    let got = s
        .upsert_listings(vec![unlisted(b(), DE, 4, None, 178)], t(180), None)
        .await
        .unwrap();
    let gone = product_of(b(), &[], &[DE, FR]);
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
    assert_eq!(e_now, product_of(e(), &[&batch1[6]], &[]));

    let q = |text: Option<&str>, market: Option<Market>, offset, limit| {
        let filter = ProductFilter {
            text: text.map(str::to_string),
            markets: market.into_iter().collect(),
            before: None,
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
        (None, Some(DE), vec!["A"]),
        (None, Some(IT), vec!["D", "E"]),
        (None, Some(ES), vec![]),
        (Some("ORBIT"), None, vec!["D"]),
        (Some("breeze"), None, vec!["E"]),
        (Some("acme"), None, vec!["A", "E"]),
        (Some("acme"), Some(IT), vec!["E"]),
        (Some("b0story0e"), None, vec!["E"]),
        (Some("headphonesorbit"), None, vec![]),
        (Some("%"), None, vec![]),
        // Words, each anywhere, as the opportunities' `q` takes them; a phrase in quotes.
        (Some("fan acme"), None, vec!["E"]),
        (Some("\"desk fan\""), None, vec!["E"]),
        (Some("\"fan desk\""), None, vec![]),
        (Some("acme orbit"), None, vec![]),
    ];
    for (text, market, want) in cases {
        let p = q(text, market, 0, 10).await;
        assert_eq!(asins(&p.items, |x| x.asin), want, "{text:?} {market:?}");
        assert_eq!(p.total, want.len() as u64, "{text:?} {market:?}");
    }
    let p = q(None, None, 0, 2).await;
    assert_eq!(
        (p.total, asins(&p.items, |x| x.asin)),
        (3, vec!["A".into(), "D".into()])
    );
    let p = q(None, None, 2, 2).await;
    assert_eq!(
        (p.total, asins(&p.items, |x| x.asin)),
        (3, vec!["E".into()])
    );
    for (offset, limit) in [(0, 0), (5, 2)] {
        let p = q(None, None, offset, limit).await;
        assert_eq!((p.total, p.items.len()), (3, 0));
    }
    // A product's position in a list by ASIN: how many of those listed sort before it,
    // with the search in force (B, listed nowhere, counts in no list).
    let position = |text: Option<&str>, before: Asin| {
        let filter = ProductFilter {
            text: text.map(str::to_string),
            before: Some(before),
            ..ProductFilter::default()
        };
        async move { s.products(filter).await.unwrap() }
    };
    for (text, before, at) in [
        (None, a(), 0),
        (None, d(), 1),
        (None, e(), 2),
        (None, c(), 1),
        (Some("acme"), e(), 1),
        (Some("orbit"), e(), 1),
        (Some("orbit"), d(), 0),
    ] {
        let p = position(text, before).await;
        assert_eq!(
            (p.total, p.items.len()),
            (at, 0),
            "{text:?} before {before}"
        );
    }

    let stats = s.stats().await.unwrap();
    let avg = stats.avg_gross_margin_pct.unwrap();
    assert!((avg - 110.8 / 5.0).abs() < 1e-6, "{avg}");
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

    // Freshness per market agrees with the snapshots the products carry: listed count,
    // oldest Keepa update, and how many were updated before a cut-off between them.
    let all = q(None, None, 0, 10).await.items;
    let observed: Vec<(Market, chrono::DateTime<chrono::Utc>)> = all
        .iter()
        .flat_map(|p| p.markets.iter().map(|(m, s)| (*m, s.observed_at)))
        .collect();
    let mut times: Vec<_> = observed.iter().map(|(_, t)| *t).collect();
    times.sort();
    let cut = times[times.len() / 2];
    let fresh = s.freshness(cut).await.unwrap();
    assert_eq!(
        fresh.iter().map(|f| f.market).collect::<Vec<_>>(),
        Market::ALL.to_vec()
    );
    for f in &fresh {
        let here: Vec<_> = observed
            .iter()
            .filter(|(m, _)| *m == f.market)
            .map(|(_, t)| *t)
            .collect();
        assert_eq!(f.listed, here.len() as u64, "{f:?}");
        assert_eq!(f.oldest, here.iter().min().copied(), "{f:?}");
        assert_eq!(
            f.stale,
            here.iter().filter(|t| **t < cut).count() as u64,
            "{f:?}"
        );
    }
    assert!(fresh.iter().any(|f| f.stale > 0), "the cut-off splits them");
}
