//! Chapters of the story about opportunities: replacing sets, every filter, sort key,
//! tie-break and page, refresh priority, refused requests, when a route was first seen,
//! and retiring vanished rows.

use arbdesk::domain::{Asin, Market, Money, Opportunity, OpportunityKey};
use arbdesk::store::{
    MAX_FILTER_KEYS, OpportunityFilter, OpportunitySort, Page, Store, StoreError, WatchSource,
};

use super::fixtures::{Figures, a, asin, b, c, d, e, keys, opp, t};
use super::{strings, tick};
use Market::{DE, ES, FR, IT, UK};

/// The opportunity rows of the story, by number (see `opportunities`).
pub struct Rows {
    all: Vec<Opportunity>,
}

impl Rows {
    fn get(&self, key: &str) -> &Opportunity {
        self.all
            .iter()
            .find(|o| keys(std::slice::from_ref(o))[0] == key)
            .unwrap()
    }
}

pub async fn query(s: &dyn Store) -> Rows {
    tick().await;
    assert_eq!(
        s.watch_add(vec![d(), e()], WatchSource::Discovery)
            .await
            .unwrap(),
        [d(), e()]
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
            "D:IT:UK", "A:FR:DE", "A:FR:UK", "D:IT:DE", "E:ES:DE", "B:DE:FR", "A:DE:UK",
        ],
        "ranked rows first by expected monthly profit, equal profits by ROI"
    );
    // Stored rows come back as written, first seen when they were first written.
    let rows: Vec<Opportunity> = rows
        .into_iter()
        .map(|mut r| {
            r.first_seen = Some(r.updated_at);
            r
        })
        .collect();
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
                "A:DE:UK", "B:DE:FR", "E:ES:DE", "D:IT:DE", "A:FR:UK", "A:FR:DE", "D:IT:UK",
            ],
        ),
        (
            sorted(GrossMarginPct, true),
            vec![
                "D:IT:UK", "A:FR:DE", "A:FR:UK", "D:IT:DE", "B:DE:FR", "E:ES:DE", "A:DE:UK",
            ],
        ),
        (
            sorted(GrossMarginPct, false),
            vec![
                "A:DE:UK", "E:ES:DE", "B:DE:FR", "A:FR:UK", "D:IT:DE", "A:FR:DE", "D:IT:UK",
            ],
        ),
        (
            sorted(NetMarginPct, true),
            vec![
                "D:IT:UK", "A:FR:DE", "D:IT:DE", "A:FR:UK", "B:DE:FR", "E:ES:DE", "A:DE:UK",
            ],
        ),
        (
            sorted(NetProfit, true),
            vec![
                "D:IT:UK", "D:IT:DE", "A:FR:DE", "A:FR:UK", "B:DE:FR", "E:ES:DE", "A:DE:UK",
            ],
        ),
        (
            sorted(RoiPct, true),
            vec![
                "D:IT:UK", "B:DE:FR", "A:FR:DE", "A:FR:UK", "D:IT:DE", "E:ES:DE", "A:DE:UK",
            ],
        ),
        // Equal times: ASIN, then buy and sell market in display order (UK before DE).
        (
            sorted(UpdatedAt, true),
            vec![
                "E:ES:DE", "A:DE:UK", "A:FR:UK", "A:FR:DE", "B:DE:FR", "D:IT:UK", "D:IT:DE",
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
            vec!["D:IT:UK", "A:FR:DE", "A:FR:UK", "D:IT:DE"],
        ),
        (
            OpportunityFilter {
                min_gross_margin_pct: Some(10.0),
                ..f()
            },
            vec!["D:IT:UK", "A:FR:DE", "A:FR:UK", "D:IT:DE", "B:DE:FR"],
        ),
        (
            OpportunityFilter {
                min_net_margin_pct: Some(9.5),
                ..f()
            },
            vec!["D:IT:UK", "A:FR:DE", "D:IT:DE"],
        ),
        (
            OpportunityFilter {
                min_profit_cents: Some(310),
                ..f()
            },
            vec!["D:IT:UK", "A:FR:DE", "A:FR:UK", "D:IT:DE"],
        ),
        (
            OpportunityFilter {
                min_roi_pct: Some(22.0),
                ..f()
            },
            vec!["D:IT:UK", "A:FR:DE", "B:DE:FR"],
        ),
        (
            OpportunityFilter {
                buy: vec![FR],
                ..f()
            },
            vec!["A:FR:DE", "A:FR:UK"],
        ),
        (
            OpportunityFilter {
                sell: vec![DE, UK, DE],
                ..f()
            },
            vec![
                "D:IT:UK", "A:FR:DE", "A:FR:UK", "D:IT:DE", "E:ES:DE", "A:DE:UK",
            ],
        ),
        (
            OpportunityFilter {
                buy: vec![IT, ES],
                sell: vec![DE],
                ..f()
            },
            vec!["D:IT:DE", "E:ES:DE"],
        ),
        (
            OpportunityFilter {
                text: Some("KETTLE".into()),
                ..f()
            },
            vec!["A:FR:DE", "A:FR:UK", "A:DE:UK"],
        ),
        (
            OpportunityFilter {
                text: Some(" desk ".into()),
                ..f()
            },
            vec!["E:ES:DE", "B:DE:FR"],
        ),
        (
            OpportunityFilter {
                text: Some("b0story0d".into()),
                ..f()
            },
            vec!["D:IT:UK", "D:IT:DE"],
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
                "D:IT:UK", "A:FR:DE", "A:FR:UK", "D:IT:DE", "E:ES:DE", "B:DE:FR", "A:DE:UK",
            ],
        ),
        (
            OpportunityFilter {
                ranked: Some(true),
                ..f()
            },
            vec!["D:IT:UK", "A:FR:DE", "A:FR:UK", "D:IT:DE"],
        ),
        (
            OpportunityFilter {
                ranked: Some(false),
                ..f()
            },
            vec!["E:ES:DE", "B:DE:FR", "A:DE:UK"],
        ),
        (
            OpportunityFilter {
                min_gross_margin_pct: Some(10.0),
                sell: vec![UK],
                ranked: Some(true),
                sort: GrossMarginPct,
                ..f()
            },
            vec!["D:IT:UK", "A:FR:UK"],
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
        ["A", "B", "C", "D", "E"],
        "D sells in IT and beats E, which was fetched earlier but has no IT route"
    );
    assert_eq!(
        strings(s.refresh_candidates(DE, 10).await.unwrap()),
        ["C", "D", "E", "B", "A"]
    );
    assert_eq!(
        strings(s.refresh_candidates(DE, 2).await.unwrap()),
        ["C", "D"]
    );
    // What the Buy Box is asked by, by route: the products with a route buying or selling
    // in the market, in the order asked, and whether one is at a net profit; a product
    // never stored has none.
    let stranger = asin("B0NOTSTORD");
    let routes = |m, asins: Vec<Asin>| async move { s.routes_in(m, asins).await.unwrap() };
    let open = |m, asins: Vec<Asin>| async move {
        let routes = routes(m, asins).await;
        strings(routes.into_iter().filter(|r| r.1).map(|r| r.0).collect())
    };
    assert_eq!(open(IT, vec![a(), b(), c(), d(), e()]).await, ["D"]);
    assert_eq!(
        open(DE, vec![stranger, e(), d(), c(), b(), a()]).await,
        ["E", "D", "B", "A"]
    );
    assert_eq!(open(UK, vec![b(), d(), a()]).await, ["D", "A"]);
    assert_eq!(open(ES, vec![c(), stranger, e()]).await, ["E"]);
    assert!(open(FR, Vec::new()).await.is_empty());
    // A route at a loss is not worth the Buy Box's tokens.
    let loss = opp(
        c(),
        ES,
        FR,
        "Loss",
        Figures(5.0, -1.0, -50, -2.0, 0, false, 60),
    );
    s.replace_opportunities(vec![(c(), vec![loss])])
        .await
        .unwrap();
    assert!(open(FR, vec![c()]).await.is_empty());
    assert_eq!(open(FR, vec![c(), b()]).await, ["B"]);
    // It is a route there all the same (the Buy Box's price may be what closed it).
    assert_eq!(
        routes(FR, vec![c(), stranger, b()]).await,
        [(c(), false), (b(), true)]
    );
    s.replace_opportunities(vec![(c(), Vec::new())])
        .await
        .unwrap();

    // Invalid requests are refused and change nothing.
    let mut raised = rows[3].clone();
    raised.expected_monthly_profit = Money::eur(99_999);
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

    // Only the named routes, with every other filter still applied: A:DE:UK is below the
    // minimum and B:DE:UK is not stored.
    let key = |asin, buy, sell| OpportunityKey { asin, buy, sell };
    let named = OpportunityFilter {
        keys: vec![
            key(a(), FR, DE),
            key(d(), IT, UK),
            key(a(), DE, UK),
            key(b(), DE, UK),
        ],
        min_gross_margin_pct: Some(10.0),
        ..f()
    };
    let page = q(named.clone()).await;
    assert_eq!(keys(&page.items), ["D:IT:UK", "A:FR:DE"]);
    assert_eq!(page.total, 2);
    let counted = q(OpportunityFilter { limit: 0, ..named }).await;
    assert_eq!((counted.total, counted.items.len()), (2, 0));
    let err = s
        .opportunities(OpportunityFilter {
            keys: vec![key(a(), FR, DE); MAX_FILTER_KEYS + 1],
            ..f()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("at most 500")),
        "{err}"
    );
    Rows { all: rows }
}

/// Equal expected monthly profits: ROI first, then profit, then ASIN and route
/// (economics.md §4.1); `order=asc` is the mirror, but for ASIN and route. The rows come
/// and go within this chapter.
pub async fn ties(s: &dyn Store) {
    let (f, g, h) = (asin("B0STORY0F6"), asin("B0STORY0G7"), asin("B0STORY0H8"));
    let row = |a, buy, roi, profit| {
        opp(
            a,
            buy,
            FR,
            "Tiebreak Widget",
            Figures(20.0, 10.0, profit, roi, 5_000, true, 200),
        )
    };
    let sets = vec![
        (f, vec![row(f, DE, 20.0, 500), row(f, IT, 20.0, 500)]),
        (g, vec![row(g, DE, 25.0, 400)]),
        (h, vec![row(h, DE, 20.0, 600)]),
    ];
    s.replace_opportunities(sets).await.unwrap();
    let q = |descending| OpportunityFilter {
        text: Some("tiebreak".into()),
        descending,
        ..OpportunityFilter::default()
    };
    let desc = s.opportunities(q(true)).await.unwrap();
    assert_eq!(
        keys(&desc.items),
        ["G:DE:FR", "H:DE:FR", "F:DE:FR", "F:IT:FR"],
        "ROI 25 first, then at ROI 20 the larger profit, then ASIN and buy market"
    );
    let asc = s.opportunities(q(false)).await.unwrap();
    assert_eq!(
        keys(&asc.items),
        ["F:DE:FR", "F:IT:FR", "H:DE:FR", "G:DE:FR"]
    );
    s.replace_opportunities(vec![(f, vec![]), (g, vec![]), (h, vec![])])
        .await
        .unwrap();
    let all = s.opportunities(OpportunityFilter::default()).await.unwrap();
    assert_eq!(all.total, 7);
}

/// `first_seen`: set when a route is first stored, kept by later writes of the route
/// (which carry none, as detection's rows do), and set again for a route that was retired
/// and comes back. The rows come and go within this chapter.
pub async fn first_seen(s: &dyn Store) {
    let g = asin("B0STORY0G7");
    let row = |buy, updated| {
        opp(
            g,
            buy,
            FR,
            "Firstseen Gadget",
            Figures(20.0, 10.0, 500, 20.0, 5_000, true, updated),
        )
    };
    let seen = || async {
        let page = s
            .opportunities(OpportunityFilter {
                text: Some("firstseen".into()),
                ..OpportunityFilter::default()
            })
            .await
            .unwrap();
        let mut out: Vec<_> = page
            .items
            .iter()
            .map(|o| (keys(std::slice::from_ref(o))[0].clone(), o.first_seen))
            .collect();
        out.sort();
        out
    };
    let at = |v| Some(t(v));
    s.replace_opportunities(vec![(g, vec![row(DE, 300)])])
        .await
        .unwrap();
    assert_eq!(seen().await, [("G:DE:FR".to_string(), at(300))]);
    // Two sets of one ASIN in one call: the last is the set, and DE was never retired.
    s.replace_opportunities(vec![(g, vec![row(IT, 305)]), (g, vec![row(DE, 305)])])
        .await
        .unwrap();
    assert_eq!(seen().await, [("G:DE:FR".to_string(), at(300))]);
    s.replace_opportunities(vec![(g, vec![row(DE, 310), row(IT, 310)])])
        .await
        .unwrap();
    assert_eq!(
        seen().await,
        [
            ("G:DE:FR".to_string(), at(300)),
            ("G:IT:FR".to_string(), at(310))
        ],
        "a stored route keeps its first time"
    );
    // Written again with the same figures and a later time (a refresh where nothing moved):
    // the time is the new one, in the row and in what the time sort reads.
    s.replace_opportunities(vec![(g, vec![row(DE, 310), row(IT, 315)])])
        .await
        .unwrap();
    let by_time = s
        .opportunities(OpportunityFilter {
            text: Some("firstseen".into()),
            sort: OpportunitySort::UpdatedAt,
            ..OpportunityFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(keys(&by_time.items), ["G:IT:FR", "G:DE:FR"]);
    assert_eq!(
        by_time.items[0],
        Opportunity {
            first_seen: at(310),
            ..row(IT, 315)
        }
    );
    s.replace_opportunities(vec![(g, vec![row(IT, 320)])])
        .await
        .unwrap();
    s.replace_opportunities(vec![(g, vec![row(DE, 330), row(IT, 330)])])
        .await
        .unwrap();
    assert_eq!(
        seen().await,
        [
            ("G:DE:FR".to_string(), at(330)),
            ("G:IT:FR".to_string(), at(310))
        ],
        "a retired route that comes back is first seen again"
    );
    s.replace_opportunities(vec![(g, vec![])]).await.unwrap();
    let all = s.opportunities(OpportunityFilter::default()).await.unwrap();
    assert_eq!(all.total, 7);
}

pub async fn retire(s: &dyn Store, rows: &Rows) {
    let mut raised = rows.get("A:FR:DE").clone();
    raised.expected_monthly_profit = Money::eur(20_000);
    raised.updated_at = t(190);
    // Written as detection writes it: the store keeps the first time of the route.
    let first = raised.first_seen.take();
    let new_route = opp(
        a(),
        UK,
        FR,
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
        ["A:FR:DE", "D:IT:UK", "D:IT:DE", "B:DE:FR", "A:UK:FR",],
        "A:FR:UK, A:DE:UK and every E row are retired; B and D are untouched"
    );
    raised.first_seen = first;
    assert_eq!(all.items[0], raised);
    assert_eq!(all.items[4].first_seen, Some(t(190)));
    assert_eq!(
        all.items[4],
        Opportunity {
            first_seen: Some(t(190)),
            ..new_route
        }
    );
    assert_eq!(all.items[1], *rows.get("D:IT:UK"));
    // Equal times: the buy market breaks the tie before the sell market.
    let by_time = s
        .opportunities(OpportunityFilter {
            sort: OpportunitySort::UpdatedAt,
            ..OpportunityFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        keys(&by_time.items),
        ["A:UK:FR", "A:FR:DE", "B:DE:FR", "D:IT:UK", "D:IT:DE",]
    );
}

/// A row without net figures (`NO_TABLE`: no fee or VAT table in force) keeps its gross
/// figures: gross filters find it, no net filter does (its zeros mean "unknown"), and a
/// descending net sort lists it after every row with figures.
pub async fn gross_only(s: &dyn Store) {
    let g = asin("B0STORY0N1");
    let mut unknown = opp(
        g,
        IT,
        FR,
        "Grossonly Gadget",
        Figures(40.0, 0.0, 0, 0.0, 0, false, 400),
    );
    unknown.flags = [arbdesk::domain::Flag::NoTable].into_iter().collect();
    let known = opp(
        g,
        DE,
        FR,
        "Grossonly Gadget",
        Figures(30.0, -20.0, -500, -25.0, -1_000, false, 400),
    );
    s.replace_opportunities(vec![(g, vec![unknown, known])])
        .await
        .unwrap();
    let routes = |f: OpportunityFilter| async move {
        let page = s
            .opportunities(OpportunityFilter {
                text: Some("grossonly".into()),
                ..f
            })
            .await
            .unwrap();
        keys(&page.items)
    };
    assert_eq!(
        routes(OpportunityFilter {
            min_gross_margin_pct: Some(35.0),
            ..OpportunityFilter::default()
        })
        .await,
        ["N:IT:FR"]
    );
    for f in [
        OpportunityFilter {
            min_net_margin_pct: Some(-100.0),
            ..OpportunityFilter::default()
        },
        OpportunityFilter {
            min_profit_cents: Some(-10_000),
            ..OpportunityFilter::default()
        },
        OpportunityFilter {
            min_roi_pct: Some(-100.0),
            ..OpportunityFilter::default()
        },
    ] {
        assert_eq!(routes(f.clone()).await, ["N:DE:FR"], "{f:?}");
    }
    for sort in [
        OpportunitySort::NetMarginPct,
        OpportunitySort::NetProfit,
        OpportunitySort::RoiPct,
        OpportunitySort::ExpectedMonthlyProfit,
    ] {
        // Unknown net figures sort last whichever way the sort runs.
        for descending in [true, false] {
            let f = OpportunityFilter {
                sort,
                descending,
                ..OpportunityFilter::default()
            };
            assert_eq!(
                routes(f).await,
                ["N:DE:FR", "N:IT:FR"],
                "{sort:?} descending: {descending}"
            );
        }
    }
    // Read back, the row is the row written: zeros and NO_TABLE.
    let page = s
        .opportunities(OpportunityFilter {
            text: Some("grossonly".into()),
            buy: vec![IT],
            ..OpportunityFilter::default()
        })
        .await
        .unwrap();
    assert!(!page.items[0].has_net());
    s.replace_opportunities(vec![(g, vec![])]).await.unwrap();
}
