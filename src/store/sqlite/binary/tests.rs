use chrono::DateTime;

use super::*;
use crate::domain::{Currency, Market, Money};

fn row() -> Opportunity {
    let t = |s: i64, n: u32| DateTime::from_timestamp(s, n).unwrap();
    let mut flags = FlagSet::default();
    flags.insert(Flag::Profit);
    flags.insert(Flag::FxStale);
    Opportunity {
        asin: "B0DEMO1234".parse().unwrap(),
        title: Some("Zentro Cast Iron Skillet 28 cm — Ø, «Silver»".into()),
        buy_market: Market::UK,
        sell_market: Market::DE,
        buy_price: Money::new(3749, Currency::GBP),
        sell_price: Money::eur(5999),
        gross_margin: Money::eur(1_666),
        gross_margin_pct: 38.517_3,
        net_profit: Money::eur(-1889),
        net_margin_pct: -58.9,
        roi_pct: f64::MIN_POSITIVE,
        expected_monthly_profit: Money::eur(i64::MIN),
        max_buy_price: Some(Money::new(1144, Currency::GBP)),
        target_sell_price: None,
        break_even_sell_price: Some(Money::eur(i64::MAX)),
        ranked: true,
        flags,
        breakdown: Breakdown {
            lines: vec![BreakdownLine {
                id: "fba_fee".into(),
                label: "FBA fee".into(),
                amount: Money::eur(-343),
                source: "keepa".into(),
            }],
            fx_eur_per_gbp: Some(1.1556),
            fx_date: Some("2026-06-09".into()),
            fx_rate: Some("ecb 2026-06-09: 1 EUR = 0.8653 GBP".into()),
            vat_table: None,
            fee_table: Some("2025-02-01".into()),
            buy_observed_at: Some(t(1_795_586_400, 0)),
            sell_observed_at: None,
            unexplained: None,
        },
        updated_at: t(1_795_586_400, 762_402_123),
        first_seen: Some(t(-5, 1)),
        sell_facts: SellFacts {
            brand: Some("Zentro".into()),
            sales_rank: Some(14_387),
            monthly_sold: None,
            rank_drops30: Some(-1),
        },
    }
}

#[test]
fn a_row_round_trips_exactly_in_a_quarter_of_its_json() {
    let o = row();
    let b = encode_opportunity(&o);
    assert_eq!(decode_opportunity(&b).unwrap(), o);
    let json = serde_json::to_string(&o).unwrap();
    assert!(
        b.len() * 4 < json.len(),
        "{} bytes against {}",
        b.len(),
        json.len()
    );
    // The same row, the same bytes: an unchanged row is found unchanged.
    assert_eq!(encode_opportunity(&o.clone()), b);
    // Every field absent.
    let bare = Opportunity {
        title: None,
        max_buy_price: None,
        break_even_sell_price: None,
        flags: FlagSet::default(),
        breakdown: Breakdown::default(),
        first_seen: None,
        sell_facts: SellFacts::default(),
        ..o
    };
    assert_eq!(
        decode_opportunity(&encode_opportunity(&bare)).unwrap(),
        bare
    );
}

fn snapshot() -> PriceSnapshot {
    let m = |v| Some(Money::new(v, Currency::GBP));
    PriceSnapshot {
        market: Market::UK,
        title: Some("Maribel Smart Plug, 4-Pack".into()),
        amazon: m(5999),
        new: m(5999),
        buy_box: None,
        amazon_avg90: m(5942),
        new_avg90: m(-1),
        buy_box_avg90: None,
        sales_rank: Some(944),
        rank_drops30: Some(0),
        monthly_sold: Some(6684),
        offers_new: Some(9),
        offers_new_fba: None,
        offers_new_fbm: Some(3),
        buy_box_is_amazon: Some(false),
        amazon_buy_box_share_pct: Some(37.5),
        referral_fee_pct: Some(7.0),
        fba_fee: m(343),
        out_of_stock_pct90: None,
        eans: vec!["4026863157817".into(), "0123456789012".into()],
        package_quantity: Some(1),
        package: PackageDims {
            length_mm: Some(171),
            width_mm: None,
            height_mm: Some(47),
            weight_g: Some(i64::MAX),
        },
        product_group: Some("Consumer Electronics".into()),
        is_adult: false,
        is_hazmat: true,
        observed_at: DateTime::from_timestamp(1_795_586_460, 0).unwrap(),
    }
}

#[test]
fn a_snapshot_round_trips_exactly_in_a_quarter_of_its_json() {
    let s = snapshot();
    let b = encode_snapshot(&s);
    let what = || "listing B0DEMO1234:UK".to_string();
    assert_eq!(decode_bytes::<PriceSnapshot>(&b, &what).unwrap(), s);
    let json = serde_json::to_string(&s).unwrap();
    assert!(
        b.len() * 4 < json.len(),
        "{} bytes against {}",
        b.len(),
        json.len()
    );
    assert_eq!(
        decode_bytes::<PriceSnapshot>(json.as_bytes(), &what).unwrap(),
        s
    );
    let bare = PriceSnapshot {
        title: None,
        eans: Vec::new(),
        package: PackageDims::default(),
        product_group: None,
        buy_box_is_amazon: None,
        ..s
    };
    assert_eq!(decode_snapshot(&encode_snapshot(&bare)).unwrap(), bare);
    for end in 0..b.len() {
        let e = decode_bytes::<PriceSnapshot>(&b[..end], &what).unwrap_err();
        assert!(
            matches!(&e, Fail::Corrupt(m) if m.starts_with("listing B0DEMO1234:UK: stored document")),
            "{e:?}"
        );
    }
}

#[test]
fn json_documents_written_before_are_read() {
    let o = row();
    let json = serde_json::to_string(&o).unwrap();
    let what = || "opportunity row 7".to_string();
    assert_eq!(
        decode_doc::<Opportunity>(ValueRef::Text(json.as_bytes()), &what).unwrap(),
        o
    );
    let b = encode_opportunity(&o);
    assert_eq!(
        decode_doc::<Opportunity>(ValueRef::Blob(&b), &what).unwrap(),
        o
    );
}

#[test]
fn a_damaged_document_is_an_error_naming_the_row_never_a_panic() {
    let b = encode_opportunity(&row());
    let what = || "opportunity row 7".to_string();
    // Cut anywhere, or with any byte changed: an error or another valid row.
    for end in 0..b.len() {
        let e = decode_doc::<Opportunity>(ValueRef::Blob(&b[..end]), &what).unwrap_err();
        assert!(
            matches!(&e, Fail::Corrupt(m) if m.starts_with("opportunity row 7: stored document")),
            "{e:?}"
        );
    }
    for i in 0..b.len() {
        for v in [0u8, 1, 0x7F, 0x80, 0xFF] {
            let mut d = b.clone();
            d[i] = v;
            let _ = decode_opportunity(&d);
        }
    }
    let mut newer = b.clone();
    newer[0] = VERSION + 1;
    let e = decode_opportunity(&newer).unwrap_err();
    assert!(e.contains("format version 2"), "{e}");
    let mut longer = b;
    longer.push(0);
    assert_eq!(
        decode_opportunity(&longer).unwrap_err(),
        "goes on past its end (1 bytes more)"
    );
    assert!(matches!(
        decode_doc::<Opportunity>(ValueRef::Integer(3), &what),
        Err(Fail::Corrupt(m)) if m.contains("Integer")
    ));
}
