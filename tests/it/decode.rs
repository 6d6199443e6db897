//! Decoding Keepa products: hand-checked fixtures, malformed batches, arbitrary JSON.

use arbdesk::domain::{Market, Money, SeriesKind};
use arbdesk::keepa::decode::product_list;
use arbdesk::keepa::decode_product;
use arbdesk::keepa::wire::Envelope;
use proptest::prelude::*;

use super::util::fixture;

/// The raw products of a fixture's `/product` body, read as the client reads them.
fn products(name: &str) -> Vec<String> {
    product_list(fixture(name).as_bytes()).unwrap()
}

#[test]
fn de_product_of_the_reference_decodes_to_the_hand_checked_values() {
    let body = fixture("product_de.json");
    let envelope: Envelope = serde_json::from_str(&body).unwrap();
    assert_eq!(envelope.tokens_left, 1183);
    assert_eq!(envelope.refill_in, 42_817);
    assert_eq!(envelope.tokens_consumed, 3);
    let l = decode_product(&products("product_de.json")[0]).unwrap();
    assert_eq!(l.asin.as_str(), "B0DEMO1234");
    assert_eq!(l.market, Market::DE);
    assert_eq!(
        l.title.as_deref(),
        Some("Beispiel Bluetooth-Kopfhörer, Over-Ear, ANC, Schwarz")
    );
    assert_eq!(
        l.image_url.as_deref(),
        Some("https://m.media-amazon.com/images/I/71AbCdEfGhL.jpg")
    );
    assert_eq!(l.product_url(), "https://www.amazon.de/dp/B0DEMO1234");
    assert_eq!(l.eans, vec!["4012345678901"]);
    let s = &l.snapshot;
    assert_eq!(s.amazon, Some(Money::eur(7499)));
    assert_eq!(s.new, Some(Money::eur(7299)));
    assert_eq!(s.buy_box, Some(Money::eur(7499)));
    assert_eq!(s.amazon_avg90, Some(Money::eur(7393)));
    assert_eq!(s.new_avg90, Some(Money::eur(7201)));
    assert_eq!(s.buy_box_avg90, Some(Money::eur(7396)));
    assert_eq!(s.sales_rank, Some(1012));
    assert_eq!(s.offers_new, Some(15));
    assert_eq!(s.rank_drops30, Some(21));
    assert_eq!(s.monthly_sold, Some(300));
    assert_eq!(s.buy_box_is_amazon, Some(true));
    assert_eq!(s.amazon_buy_box_share_pct, Some(96.0));
    assert_eq!(s.referral_fee_pct, Some(7.0));
    assert_eq!(s.fba_fee, Some(Money::eur(412)));
    assert_eq!(s.out_of_stock_pct90, Some(0));
    assert_eq!(s.observed_at.to_rfc3339(), "2026-11-25T05:41:00+00:00");

    // Buy Box triples: landed = price + shipping; the FBM seller's 71.99 + 2.99.
    let bb = l
        .history
        .iter()
        .find(|h| h.kind == SeriesKind::BuyBox)
        .unwrap();
    let values: Vec<_> = bb.points.iter().map(|p| p.value).collect();
    assert_eq!(values, [Some(7999), Some(6999), Some(7498), Some(7499)]);
    assert_eq!(bb.points[2].at.to_rfc3339(), "2026-10-30T21:48:00+00:00");
    // Amazon was out of stock from 8325948: a gap, not a zero.
    let amz = l
        .history
        .iter()
        .find(|h| h.kind == SeriesKind::Amazon)
        .unwrap();
    assert_eq!(amz.points[2].value, None);
}

#[test]
fn uk_product_is_in_pence_and_never_mixed_with_euros() {
    let l = decode_product(&products("product_uk_pence.json")[0]).unwrap();
    assert_eq!(l.market, Market::UK);
    let s = &l.snapshot;
    assert_eq!(
        s.amazon, None,
        "Amazon has no offer (-1), which is not a price of zero"
    );
    assert_eq!(s.new, Some(Money::gbp(2749)));
    assert_eq!(s.buy_box, Some(Money::gbp(2999)));
    assert_eq!(s.buy_box_avg90, Some(Money::gbp(2870)));
    assert_eq!(s.fba_fee, Some(Money::gbp(298)));
    assert_eq!(
        (s.offers_new, s.offers_new_fba, s.offers_new_fbm),
        (Some(7), Some(4), Some(3))
    );
    assert_eq!(s.buy_box_is_amazon, Some(false));
    assert_eq!(l.product_url(), "https://www.amazon.co.uk/dp/B0UKPENCE1");
    // The Buy Box history's last landed price agrees with stats.current: 27.49 + 2.50.
    let bb = l
        .history
        .iter()
        .find(|h| h.kind == SeriesKind::BuyBox)
        .unwrap();
    assert_eq!(bb.points.last().unwrap().value, Some(2999));
    assert_eq!(bb.points[1].value, Some(2649 + 399));
}

#[test]
fn out_of_stock_listing_has_no_prices_and_history_falls_back_to_csv() {
    let ps = products("out_of_stock_it.json");
    let oos = decode_product(&ps[0]).unwrap();
    assert!(!oos.snapshot.in_stock());
    assert_eq!(oos.snapshot.sales_rank, Some(15000));
    // Without stats, the current price is the last csv value.
    let ok = decode_product(&ps[1]).unwrap();
    assert_eq!(ok.snapshot.new, Some(Money::eur(2399)));
    assert!(ok.snapshot.in_stock());
}

#[test]
fn malformed_products_are_errors_naming_asin_and_field_and_do_not_poison_the_batch() {
    let results: Vec<_> = products("malformed_batch.json")
        .iter()
        .map(|p| decode_product(p))
        .collect();
    assert_eq!(results.len(), 7);
    let err = |i: usize| results[i].as_ref().unwrap_err().clone();

    let e = err(0);
    assert_eq!(
        (e.asin.as_str(), e.field.as_str()),
        ("B0ODDLEN01", "csv[0]")
    );
    assert!(e.reason.contains("length 3 is not a multiple of 2"), "{e}");

    let e = err(1);
    assert_eq!(
        (e.asin.as_str(), e.field.as_str()),
        ("B0WRONGTY1", "csv[1][1]")
    );

    let e = err(2);
    assert_eq!(
        (e.asin.as_str(), e.field.as_str()),
        ("B0ABSURD01", "csv[0]")
    );
    assert!(e.reason.contains("is outside -2 to"), "{e}");

    assert_eq!(
        results[3].as_ref().unwrap().snapshot.amazon,
        Some(Money::eur(1999))
    );

    let e = err(4);
    assert_eq!(e.asin, "?");
    assert!(e.to_string().contains("asin"), "{e}");

    let e = err(5);
    assert_eq!(
        (e.asin.as_str(), e.field.as_str()),
        ("B0BADDOMN1", "domainId")
    );
    assert!(e.reason.contains("expected 2 (UK), 3 (DE)"), "{e}");

    let e = err(6);
    assert!(
        e.reason
            .contains("is before the time at the previous point"),
        "{e}"
    );
}

/// A line that is not a product object at all (an array, a string, text, a truncated
/// object) says so in words, not in serde's terms.
#[test]
fn lines_that_are_not_product_objects_say_what_they_are() {
    for (line, says) in [
        ("[1,2,3]", "a JSON array, not a JSON object"),
        ("\"just a string\"", "a JSON string, not a JSON object"),
        ("42", "a JSON number, not a JSON object"),
        ("hello", "not JSON: expected one Keepa product object"),
        (
            &"[".repeat(100_000),
            "JSON nested too deeply (over 128 levels), not a JSON object",
        ),
        (
            "{\"asin\": \"B0D1XD1ZV3\", \"domainId\": 3, \"csv\": [",
            "ends early",
        ),
        // The two objects put in such a file by mistake: a whole answer, and the CLI's
        // own listings.
        (
            r#"{"timestamp":1,"tokensLeft":5,"products":[{"asin":"B0D1XD1ZV3","domainId":3}]}"#,
            "a whole Keepa answer, not one product: put each object of its `products` array on a line of its own",
        ),
        (
            r#"{"asin":"B0D1XD1ZV3","market":"DE","snapshot":{"buy_box":null}}"#,
            "arbdesk's own listing (what `arbdesk fetch --json` prints), not a Keepa product",
        ),
        // Broken JSON says so, at a column of the line (the caller names the line).
        (
            "{a:1}",
            "not a Keepa product: not valid JSON: key must be a string at column 2",
        ),
    ] {
        let e = decode_product(line).unwrap_err();
        assert!(e.to_string().contains(says), "{line}: {e}");
    }
}

/// A product object that lacks a field names the field once, and a product without an ASIN
/// says so rather than leaving a gap.
#[test]
fn missing_fields_and_empty_asins_read_plainly() {
    let e = decode_product(r#"{"asin":"B0D1XD1ZV3","csv":null}"#).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("malformed Keepa product B0D1XD1ZV3 (domain ?): missing field `domainId`"),
        "{text}"
    );
    assert!(!text.contains("(product)"), "{text}");
    let e = decode_product(r#"{"asin":"","domainId":3,"csv":null}"#).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("malformed Keepa product (empty ASIN) (domain 3): field `asin`"),
        "{text}"
    );
}

/// Only GTINs (8 to 14 digits) are kept of `eanList`, and a handful of them: anything
/// else could match no other market's code and would be stored and served as it came.
#[test]
fn only_gtins_are_kept_of_the_ean_list() {
    let huge = "7".repeat(100_000);
    let many: Vec<String> = (0..100).map(|i| format!("40063813{i:05}")).collect();
    let raw = serde_json::json!({
        "asin": "B0EANCHECK", "domainId": 3, "csv": null,
        "eanList": [" 4006381333931 ", huge, "x", "12345", "abcdefghijklm", "0012345678905",
                    "12345678", "123456789012345"],
    })
    .to_string();
    let l = decode_product(&raw).unwrap();
    assert_eq!(
        l.eans,
        ["4006381333931", "0012345678905", "12345678"].map(String::from)
    );
    let raw = serde_json::json!({
        "asin": "B0EANCHECK", "domainId": 3, "csv": null, "eanList": many,
    })
    .to_string();
    assert_eq!(decode_product(&raw).unwrap().eans.len(), 32);
}

/// A title of any length is kept to 1,000 characters, marked as cut.
#[test]
fn an_endless_title_is_cut() {
    let long = "Kettle ".repeat(100_000);
    let raw = format!(r#"{{"asin":"B0LONGTITL","domainId":3,"title":"{long}","csv":null}}"#);
    let title = decode_product(&raw).unwrap().title.unwrap();
    assert_eq!(title.chars().count(), 1001);
    assert!(
        title.starts_with("Kettle Kettle") && title.ends_with('…'),
        "{title}"
    );
}

#[test]
fn titles_with_escape_sequences_are_made_inert() {
    let raw = r#"{"asin":"B0EVILTITL","domainId":3,"title":"\u001b]52;c;cm0gLXJmIC8=\u0007Kettle \u001b[31mRED\u001b[0m","brand":"\u001b[2JBrand","csv":null}"#;
    let l = decode_product(raw).unwrap();
    assert_eq!(l.title.as_deref(), Some("Kettle RED"));
    assert_eq!(l.brand.as_deref(), Some("Brand"));
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-zA-Z0-9 \u{1b}\\[\\]]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("asin".to_string()),
                        Just("domainId".to_string()),
                        Just("csv".to_string()),
                        Just("stats".to_string()),
                        Just("current".to_string()),
                        Just("title".to_string()),
                        Just("lastUpdate".to_string()),
                        "[a-z]{1,8}",
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Decoding reads `stats.current`, `avg90`, `outOfStockPercentage90`, `salesRankDrops30`
/// and the Buy Box fields; the other arrays are skipped unread, so a shape Keepa may change
/// there does not cost the listing, while a bad value in a field that is read still does.
#[test]
fn stats_fields_decoding_does_not_read_are_skipped_but_read_ones_are_checked() {
    let mut p: serde_json::Value = serde_json::from_str(&products("product_de.json")[0]).unwrap();
    let stats = p["stats"].as_object_mut().unwrap();
    stats.insert("minInInterval".into(), serde_json::json!("not an array"));
    stats.insert("avg30".into(), serde_json::json!({"odd": [1, "x"]}));
    let l = decode_product(&p.to_string()).unwrap();
    assert_eq!(l.snapshot.buy_box_avg90, Some(Money::eur(7396)));

    p["stats"]["avg90"] = serde_json::json!("not an array");
    let e = decode_product(&p.to_string()).unwrap_err();
    assert_eq!(e.field, "stats.avg90");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_json_never_panics_the_decoder(v in arb_json()) {
        let text = v.to_string();
        let _ = decode_product(&text);
        let _ = product_list(text.as_bytes());
    }

    #[test]
    fn mutated_real_products_never_panic(path in 0usize..64, v in arb_json()) {
        let mut p: serde_json::Value = serde_json::from_str(&products("product_de.json")[0]).unwrap();
        // Replace one field of the real product (or of its stats) with arbitrary JSON.
        let obj = if path % 2 == 0 { p.as_object_mut() } else { p.get_mut("stats").and_then(|s| s.as_object_mut()) };
        // The ASIN replaced by another well-formed one is that one.
        let mut asin = "B0DEMO1234".to_string();
        if let Some(obj) = obj {
            let keys: Vec<String> = obj.keys().cloned().collect();
            let k = &keys[path % keys.len()];
            if path % 2 == 0 && k == "asin" {
                asin = v.as_str().unwrap_or_default().trim().to_ascii_uppercase();
            }
            obj.insert(k.clone(), v);
        }
        match decode_product(&p.to_string()) {
            Ok(l) => prop_assert_eq!(l.asin.as_str(), asin),
            Err(e) => prop_assert!(!e.field.is_empty()),
        }
    }

    #[test]
    fn arbitrary_csv_arrays_never_panic(idx in 0usize..40, raw in prop::collection::vec(any::<i64>(), 0..40)) {
        let _ = arbdesk::keepa::csv::decode(idx, &raw);
    }
}

/// An integer too large for 64 bits, or one with a fraction, reads as what it is, not as
/// serde's "invalid type: floating point".
#[test]
fn integers_out_of_range_read_plainly() {
    for (line, value) in [
        (
            r#"{"asin":"B0D1XD1ZV3","domainId":3,"lastUpdate":99999999999999999999,"csv":null}"#,
            "1e+20",
        ),
        (
            r#"{"asin":"B0D1XD1ZV3","domainId":3,"lastUpdate":7.5,"csv":null}"#,
            "7.5",
        ),
    ] {
        let text = decode_product(line).unwrap_err().to_string();
        assert!(
            text.contains(&format!(
                "field `lastUpdate`: {value} is not a whole number that fits here (Keepa sends integers) at column"
            )),
            "{text}"
        );
        assert!(!text.contains("floating point"), "{text}");
    }
}

#[test]
fn amazon_buy_box_share_is_zero_when_the_stats_name_only_other_sellers() {
    // economics.md §4.1: the share is Amazon's `percentageWon` in `buyBoxStats`; only
    // without `buyBoxStats` does `buyBoxIsAmazon` stand in for it.
    let body = &products("product_de.json")[0];
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(body).unwrap();
        edit(&mut v["stats"]);
        decode_product(&v.to_string()).unwrap().snapshot
    };
    let amazon = "A3JWKAKR8XB7XF";
    let others_only = with(&|stats| {
        stats["buyBoxStats"].as_object_mut().unwrap().remove(amazon);
    });
    assert_eq!(others_only.buy_box_is_amazon, Some(true));
    assert_eq!(others_only.amazon_buy_box_share_pct, Some(0.0));
    let no_stats = with(&|stats| {
        stats.as_object_mut().unwrap().remove("buyBoxStats");
    });
    assert_eq!(no_stats.amazon_buy_box_share_pct, None);
    let empty = with(&|stats| stats["buyBoxStats"] = serde_json::json!({}));
    assert_eq!(empty.amazon_buy_box_share_pct, None);
}

#[test]
fn amazon_holding_the_buy_box_names_its_own_seller_id() {
    // Amazon's seller ids are a convention (keepa-api.md §10): where Keepa says Amazon
    // holds the Buy Box, the holder's id is Amazon's, whatever the convention says.
    let body = &products("product_de.json")[0];
    let mut v: serde_json::Value = serde_json::from_str(body).unwrap();
    let stats = &mut v["stats"];
    let sellers = stats["buyBoxStats"].as_object_mut().unwrap();
    let amazon = sellers.remove("A3JWKAKR8XB7XF").unwrap();
    sellers.insert("AMAZONOTHERID".into(), amazon);
    stats["buyBoxSellerId"] = "AMAZONOTHERID".into();
    stats["buyBoxIsAmazon"] = true.into();
    let s = decode_product(&v.to_string()).unwrap().snapshot;
    assert_eq!(s.amazon_buy_box_share_pct, Some(96.0));
    // A third-party holder's id is not Amazon's: the convention's id is looked up.
    v["stats"]["buyBoxIsAmazon"] = false.into();
    let s = decode_product(&v.to_string()).unwrap().snapshot;
    assert_eq!(s.amazon_buy_box_share_pct, Some(0.0));
}
