//! Configuration: the shipped defaults validate, a user's file overlays them, every invalid
//! value is rejected with a message naming it, and dated tables are picked by date.

use arbdesk::domain::Market;
use arbdesk::economics::{Detector, Economics, EconomicsConfig, EconomicsError, FxSource};
use chrono::NaiveDate;

use super::{d, detect_explained, ecb_fx, econ, now, product, row, snap};

#[test]
fn the_shipped_defaults_validate_and_reproduce_section_5() {
    let econ = Economics::shipped().unwrap();
    let p = econ.params();
    assert_eq!(p.min_roi.dec(), d("0.20"));
    assert_eq!(p.min_profit.dec(), d("3.00"));
    assert_eq!(p.returns_reserve.dec(), d("0.60"));
    assert_eq!(p.purchase_spread.dec(), d("0.015"));
    assert_eq!(p.payout_fee.dec(), d("0.0075"));
    assert!(p.recoverable);
    let tab = econ
        .tables()
        .at(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())
        .unwrap();
    assert_eq!(tab.vat.table.rate(Market::IT, None), d("0.22").into());
    assert_eq!(
        tab.vat.table.rate(Market::FR, Some("books")),
        d("0.055").into()
    );
    assert_eq!(
        tab.referral
            .table
            .category("consumer_electronics")
            .flat_rate(),
        Some(d("0.07").into())
    );
    assert_eq!(tab.referral.table.category("no such id").id, "default");
    // UK↔EU stays disabled until customs are configured; EU↔EU uses the defaults.
    assert!(econ.tables().route(Market::UK, Market::DE).disabled);
    assert!(econ.tables().route(Market::ES, Market::UK).disabled);
    assert!(!econ.tables().route(Market::FR, Market::ES).disabled);
    assert_eq!(
        econ.tables().route(Market::FR, Market::ES).prep,
        d("0.50").into()
    );
    assert_eq!(
        econ.tables().group(Some("Personal Computer")).0,
        "consumer_electronics"
    );
    assert_eq!(econ.tables().group(Some("Garden")).0, "default");
    // Offline, the shipped rate is used and shown as such; an override wins over everything.
    assert_eq!(econ.fx_rate(None).source, FxSource::Shipped);
    assert_eq!(econ.fx_rate(Some(&ecb_fx())).source, FxSource::Ecb);
    assert!(econ.fx_fetch_enabled());
}

#[test]
fn a_user_file_overlays_key_by_key_and_replaces_lists_whole() {
    let cfg = EconomicsConfig::from_toml_str(
        r#"
        [keepa]                    # other sections of config.toml are not ours
        key_file = "keepa.key"

        [economics]
        vat_scheme = "not_registered"
        fee_vat_rate = 0.19
        gates = { min_roi = 0.30 }

        [fx]
        override = { GBP = { eur_per_unit = 1.1500, date = "2026-11-24" } }

        [[route]]
        from = "UK"
        to = "DE"
        prep = 0.40
        inbound = 0.90
        customs = { duty_rate = 0.04, import_vat_recoverable = false, broker_per_shipment = 35.00, units_per_shipment = 50 }
        "#,
    )
    .unwrap();
    let econ = Economics::new(cfg).unwrap();
    let p = econ.params();
    assert_eq!(p.min_roi.dec(), d("0.30"));
    assert_eq!(
        p.min_profit.dec(),
        d("3.00"),
        "gates not named keep their defaults"
    );
    assert_eq!(p.fee_vat.dec(), d("0.19"));
    assert!(!p.recoverable, "not registered: input VAT is cost");
    let uk_de = econ.tables().route(Market::UK, Market::DE);
    assert!(!uk_de.disabled);
    assert_eq!(
        uk_de.customs.as_ref().unwrap().broker_per_unit,
        d("0.70").into()
    );
    // The user's [[route]] list replaced the shipped one: IT→DE falls back to the defaults.
    assert_eq!(
        econ.tables().route(Market::IT, Market::DE).source,
        "config:route_defaults"
    );
    let fx = econ.fx_rate(Some(&ecb_fx()));
    assert_eq!(fx.source, FxSource::Override);
    assert!(!econ.fx_fetch_enabled());
}

fn rejected(toml: &str) -> String {
    let err = EconomicsConfig::from_toml_str(toml)
        .and_then(Economics::new)
        .expect_err(toml);
    err.to_string()
}

#[test]
fn invalid_values_are_rejected_naming_the_value() {
    let cases: &[(&str, &str)] = &[
        (
            "[[vat]]\neffective_from = \"2025-13-01\"\nrates = { UK = 0.2, DE = 0.19, FR = 0.2, IT = 0.22, ES = 0.21 }",
            "[[vat]] effective_from '2025-13-01' is not a date (YYYY-MM-DD)",
        ),
        (
            "[[vat]]\neffective_from = \"2025-01-01\"\nrates = { UK = 0.2, DE = 19, FR = 0.2, IT = 0.22, ES = 0.21 }",
            "[[vat]] 2025-01-01 rates.DE '19' is not a rate in [0, 1) (0.19 means 19 %)",
        ),
        (
            "[[vat]]\neffective_from = \"2025-01-01\"\nrates = { UK = 0.2, DE = 0.19, FR = 0.2, IT = 0.22 }",
            "[[vat]] 2025-01-01 rates 'ES' is missing: every market UK, DE, FR, IT, ES needs a value",
        ),
        (
            "[economics]\nreturn_rate = 1.5",
            "[economics] return_rate '1.5' is not a rate in [0, 1)",
        ),
        (
            "[economics]\npurchase_fx_spread = -0.01",
            "[economics] purchase_fx_spread '-0.01' is not a rate",
        ),
        (
            "[economics]\nbase_currency = \"GBP\"",
            "[economics] base_currency 'GBP' is not supported",
        ),
        (
            "[economics]\nmax_units_per_month = 0",
            "[economics] max_units_per_month '0' must be between 1",
        ),
        (
            "[economics.gates]\nmin_profit = 3.999999",
            "[economics.gates] min_profit '3.999999' has more than 2 decimals",
        ),
        (
            "[economics.gates]\nblock = [\"meltable\"]",
            "[economics.gates] block 'meltable' is not a flag",
        ),
        (
            "[[referral]]\neffective_from = \"2025-02-01\"\nmin_fee = { EUR = 0.30, GBP = 0.25 }\ncategories = [{ id = \"books\", mode = \"flat\", tiers = [{ rate = 0.15 }] }]",
            "[[referral]] 2025-02-01 categories 'default' is missing",
        ),
        (
            "[[referral]]\neffective_from = \"2025-02-01\"\nmin_fee = { EUR = 0.30, GBP = 0.25 }\ncategories = [{ id = \"default\", mode = \"marginal\", tiers = [{ upto = 50.0, rate = 0.15 }, { upto = 20.0, rate = 0.10 }, { rate = 0.05 }] }]",
            "[[referral]] 2025-02-01 category 'default' tiers[1].upto '20' must be positive and above the previous tier's",
        ),
        (
            "[[referral]]\neffective_from = \"2025-02-01\"\nmin_fee = { EUR = 0.30 }\ncategories = [{ id = \"default\", mode = \"flat\", tiers = [{ rate = 0.15 }] }]",
            "[[referral]] 2025-02-01 min_fee 'GBP' is missing",
        ),
        (
            "[[route]]\nfrom = \"IT\"\nto = \"DE\"\ncustoms = { duty_rate = 0.04, import_vat_recoverable = true, broker_per_shipment = 35.0, units_per_shipment = 50 }",
            "[[route]] IT→DE customs 'IT→DE' is set on an EU-internal route",
        ),
        (
            "[[route]]\nfrom = \"IT\"\nto = \"IT\"",
            "[[route]] to 'IT' equals `from`",
        ),
        (
            "[[route]]\nfrom = \"NL\"\nto = \"DE\"",
            "invalid market 'NL'",
        ),
        (
            "[[route]]\nfrom = \"UK\"\nto = \"FR\"\ncustoms = { duty_rate = 0.04, import_vat_recoverable = false, broker_per_shipment = 35.0, units_per_shipment = 0 }",
            "[[route]] UK→FR customs.units_per_shipment '0' must be at least 1",
        ),
        (
            // Import VAT is recovered on a VAT return: not without a VAT number.
            "[economics]\nvat_scheme = \"not_registered\"\nfee_vat_rate = 0.19\n[[route]]\nfrom = \"DE\"\nto = \"UK\"\ncustoms = { duty_rate = 0.0, import_vat_recoverable = true, broker_per_shipment = 0.0, units_per_shipment = 1 }",
            "[[route]] DE→UK customs.import_vat_recoverable 'true' with vat_scheme = \"not_registered\": import VAT is recovered only on a VAT return",
        ),
        (
            "[economics]\nvat_scheme = \"not_registered\"",
            "[economics] fee_vat_rate '0' is 0 with vat_scheme = \"not_registered\"",
        ),
        (
            // The shipped routes inherit it, but it is the defaults' value that is wrong.
            "[route_defaults]\nprep = -0.5",
            "[route_defaults] prep '-0.5'",
        ),
        (
            "[fx]\nurl = \"not a url\"",
            "[fx] url 'not a url' is not an http:// or https:// URL",
        ),
        (
            "[fx]\nurl = \"file:///etc/passwd\"",
            "[fx] url 'file:///etc/passwd' is not an http:// or https:// URL",
        ),
        (
            "[fx]\nfetch_after = \"4pm Europe/Berlin\"",
            "[fx] fetch_after '4pm Europe/Berlin' is not 'HH:MM Zone'",
        ),
        (
            "[fx]\nshipped = { gbp_per_eur = 0, date = \"2025-11-21\" }",
            "[fx] shipped.gbp_per_eur '0' is not a plausible rate",
        ),
        (
            "[fx]\noverride = { USD = { eur_per_unit = 0.9, date = \"2026-11-24\" } }",
            "[fx] override 'USD' is not overridable",
        ),
        (
            "[fx]\noverride = { GBP = { eur_per_unit = 1.15, date = \"24.11.2026\" } }",
            "[fx] override.GBP.date '24.11.2026' is not a date",
        ),
        (
            "[fx]\noverride = { GBP = { eur_per_unit = 1.15, date = \"2999-06-01\" } }",
            "[fx] override.GBP.date '2999-06-01' is in the future",
        ),
        (
            "[product_groups]\n\"Kitchen\" = { referral = \"kitchenware\" }",
            "[product_groups] \"Kitchen\" referral 'kitchenware' is not a category of [[referral]] 2025-02-01",
        ),
        (
            "[[storage]]\neffective_from = \"2025-01-01\"\nper_m3_month = { UK = 22, DE = 26, FR = 26, IT = 26, ES = 26 }\npeak_months = [13]",
            "[[storage]] 2025-01-01 peak_months '13' is not a month (1–12)",
        ),
        (
            "[[fba]]\neffective_from = \"2025-10-15\"\ntiers = { UK = [{ fee = 2.0 }], DE = [{ upto_g = 500, fee = 3.0 }, { upto_g = 100, fee = 2.5 }], FR = [{ fee = 3.0 }], IT = [{ fee = 3.0 }], ES = [{ fee = 3.0 }] }",
            "[[fba]] 2025-10-15 tiers.DE[1].upto_g '100' must be above the previous tier's",
        ),
        (
            "[economics]\nvat_scheme = \"flat_rate\"",
            "unknown variant `flat_rate`",
        ),
        ("[economics]\nfee_vat = 0.19", "unknown field `fee_vat`"),
    ];
    for (toml, want) in cases {
        let got = rejected(toml);
        assert!(
            got.contains(want),
            "config:\n{toml}\nwanted: {want}\ngot:    {got}"
        );
    }
}

#[test]
fn two_tables_on_one_date_are_rejected() {
    let t = "[[vat]]\neffective_from = \"2025-01-01\"\nrates = { UK = 0.2, DE = 0.19, FR = 0.2, IT = 0.22, ES = 0.21 }\n";
    let err = EconomicsConfig::from_toml_str(&format!("{t}\n{t}\n[product_groups]"))
        .and_then(Economics::new)
        .unwrap_err();
    assert!(matches!(err, EconomicsError::Invalid { .. }));
    assert!(
        err.to_string()
            .contains("[[vat]] effective_from '2025-01-01' appears twice"),
        "{err}"
    );
}

#[test]
fn an_empty_list_of_a_table_every_net_figure_needs_is_refused() {
    for key in ["vat", "referral", "storage"] {
        let err = EconomicsConfig::from_toml_str(&format!("{key} = []\n"))
            .and_then(Economics::new)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("{key} '[]' leaves no"))
                && err.contains(&format!("leave `{key}` out to use the shipped tables")),
            "{err}"
        );
    }
    // Routes and FBA tables may be none: every route is then the defaults', and every fee
    // Keepa's.
    for key in ["route", "fba"] {
        EconomicsConfig::from_toml_str(&format!("{key} = []\n"))
            .and_then(Economics::new)
            .unwrap();
    }
}

#[test]
fn nameless_classes_and_groups_are_refused_and_unknown_categories_list_the_known() {
    let vat = "[[vat]]\neffective_from = \"2025-01-01\"\nrates = { UK = 0.2, DE = 0.19, FR = 0.2, IT = 0.22, ES = 0.21 }\nreduced = { \"\" = { UK = 0.0, DE = 0.07, FR = 0.055, IT = 0.04, ES = 0.04 } }\n";
    let err = EconomicsConfig::from_toml_str(vat)
        .and_then(Economics::new)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is a class without a name"), "{err}");
    let err = EconomicsConfig::from_toml_str("[product_groups.\"\"]\nreferral = \"default\"\n")
        .and_then(Economics::new)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is a group without a name"), "{err}");
    let err = EconomicsConfig::from_toml_str("[product_groups.Foo]\nreferral = \"nope\"\n")
        .and_then(Economics::new)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'nope' is not a category of [[referral]]")
            && err.contains("(its categories: ")
            && err.contains("default"),
        "{err}"
    );
}

#[test]
fn a_market_given_twice_in_another_case_is_refused_not_replaced() {
    // Market codes are read without regard to case, so `Uk` is the UK a second time: taking
    // the last would price every UK route at a rate nobody meant.
    let cases = [
        (
            "[[vat]]\neffective_from = \"2025-01-01\"\nrates = { UK = 0.2, DE = 0.19, FR = 0.2, IT = 0.22, ES = 0.21, Uk = 0.1 }\n",
            ("UK", ["'UK'", "'Uk'"]),
        ),
        (
            "[[vat]]\neffective_from = \"2025-01-01\"\nrates = { UK = 0.2, DE = 0.19, FR = 0.2, IT = 0.22, ES = 0.21 }\nreduced = { books = { UK = 0.0, DE = 0.07, de = 0.19, FR = 0.055, IT = 0.04, ES = 0.04 } }\n",
            ("DE", ["'DE'", "'de'"]),
        ),
        (
            "[[storage]]\neffective_from = \"2025-01-01\"\nper_m3_month = { es = 10, ES = 20 }\n",
            ("ES", ["'es'", "'ES'"]),
        ),
    ];
    for (toml, (market, spellings)) in cases {
        let err = EconomicsConfig::from_toml_str(toml)
            .and_then(Economics::new)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("{market} is given twice")),
            "{toml}: {err}"
        );
        for spelling in spellings {
            assert!(err.contains(spelling), "{toml}: {err}");
        }
    }
    // One spelling each, in any case, is fine.
    let ok = "[[vat]]\neffective_from = \"2025-01-01\"\nrates = { uk = 0.2, De = 0.19, FR = 0.2, IT = 0.22, ES = 0.21 }\nreduced = { books = { UK = 0.0, DE = 0.07, FR = 0.055, IT = 0.04, ES = 0.04 } }\n";
    let cfg = EconomicsConfig::from_toml_str(ok).unwrap();
    assert_eq!(
        cfg.vat[0].rates[&arbdesk::domain::Market::UK].to_string(),
        "0.2"
    );
}

#[test]
fn the_latest_table_on_or_before_the_date_applies_and_none_means_no_ranking() {
    // DE's VAT goes to 21 % on 2026-07-01 in this story.
    let econ = super::econ(
        r#"
        [[vat]]
        effective_from = "2025-01-01"
        rates = { UK = 0.20, DE = 0.19, FR = 0.20, IT = 0.22, ES = 0.21 }
        reduced = { books = { UK = 0.0, DE = 0.07, FR = 0.055, IT = 0.04, ES = 0.04 } }
        [[vat]]
        effective_from = "2026-07-01"
        rates = { UK = 0.20, DE = 0.21, FR = 0.20, IT = 0.22, ES = 0.21 }
        reduced = { books = { UK = 0.0, DE = 0.07, FR = 0.055, IT = 0.04, ES = 0.04 } }
        "#,
    );
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let t = econ.tables();
    assert_eq!(
        t.at(day("2026-06-30"))
            .unwrap()
            .vat
            .table
            .rate(Market::DE, None),
        d("0.19").into()
    );
    assert_eq!(
        t.at(day("2026-07-01"))
            .unwrap()
            .vat
            .table
            .rate(Market::DE, None),
        d("0.21").into()
    );
    assert!(t.at(day("2024-12-31")).is_err(), "before every table");

    // A product computed in 2024: the row exists with its gross gap, but nothing net is
    // invented and it is not ranked.
    let det = Detector::new(econ.clone());
    let mut uk = snap(Market::UK, 9000);
    uk.amazon = Some(arbdesk::domain::Money::gbp(9000));
    let p = product(vec![snap(Market::IT, 4000), snap(Market::DE, 5990), uk]);
    let then = now() - chrono::Duration::days(600);
    let mut fresh = p.clone();
    for s in fresh.markets.values_mut() {
        s.observed_at = then;
    }
    let rows = detect_explained(&det, &fresh, &ecb_fx(), then);
    let o = super::row(&rows, Market::IT, Market::DE);
    assert_eq!(o.gross_margin, arbdesk::domain::Money::eur(1990));
    assert!(o.flags.contains_name("NO_TABLE"), "{:?}", o.flags);
    assert!(!o.ranked);
    assert!(o.breakdown.lines.is_empty());
    assert_eq!(o.max_buy_price, None);
    // The gates that need no table still say what they know: a UK↔EU route without
    // customs, Amazon selling in the sell market, demand.
    let de_uk = super::row(&rows, Market::DE, Market::UK);
    for name in ["NO_TABLE", "ROUTE_DISABLED", "AMAZON"] {
        assert!(de_uk.flags.contains_name(name), "{name}: {:?}", de_uk.flags);
    }
    let mut slow = fresh.clone();
    for s in slow.markets.values_mut() {
        (s.monthly_sold, s.rank_drops30) = (Some(0), Some(0));
    }
    let rows = detect_explained(&det, &slow, &ecb_fx(), then);
    let o = super::row(&rows, Market::IT, Market::DE);
    assert!(o.flags.contains_name("DEMAND"), "{:?}", o.flags);
}

#[test]
fn the_config_serializes_to_toml_and_reads_back_unchanged() {
    let shipped = EconomicsConfig::default();
    let text = toml::to_string(&shipped).unwrap();
    assert_eq!(EconomicsConfig::from_toml_str(&text).unwrap(), shipped);
}

/// A `[[route]]` entry gives what differs from `[route_defaults]`; what it leaves out, the
/// defaults say, so a change there reaches every route (the shipped UK→DE entry too).
#[test]
fn route_entries_take_what_they_leave_out_from_the_defaults() {
    let shipped = Economics::new(EconomicsConfig::from_toml_str("").unwrap()).unwrap();
    let prep = |e: &Economics, s, t| e.tables().route(s, t).prep.dec();
    assert_eq!(prep(&shipped, Market::UK, Market::DE), d("0.50"));
    let changed =
        Economics::new(EconomicsConfig::from_toml_str("[route_defaults]\nprep = 1.50\n").unwrap())
            .unwrap();
    for (s, t) in [
        (Market::UK, Market::DE),
        (Market::IT, Market::DE),
        (Market::FR, Market::ES),
    ] {
        assert_eq!(prep(&changed, s, t), d("1.50"), "{s}→{t}");
    }
    let own = Economics::new(
        EconomicsConfig::from_toml_str(
            "[route_defaults]\nprep = 1.50\n[[route]]\nfrom = \"IT\"\nto = \"DE\"\nprep = 0.20\n",
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(prep(&own, Market::IT, Market::DE), d("0.20"));
    assert_eq!(
        own.tables().route(Market::IT, Market::DE).inbound.dec(),
        d("0.60")
    );
}

/// Breakdown lines are given only for the figures they add up to. A row explained by a
/// process whose economics settings differ from those it was computed with (another config
/// file, another version, a `--role api` process configured apart from the detecting one)
/// keeps its stored figures and says why it has no lines; so does a route the product's
/// data stored now no longer has.
#[test]
fn a_row_computed_under_other_settings_is_shown_as_stored_without_lines() {
    use arbdesk::economics::LiveDetector;
    use arbdesk::pipeline::Detect;
    let p = product(vec![snap(Market::DE, 2999), snap(Market::FR, 5999)]);
    let computing = LiveDetector::new(econ(""));
    let stored = row(&computing.detect(&p, now()), Market::DE, Market::FR).clone();

    let same = computing.explain(&p, &stored).unwrap();
    assert!(!same.breakdown.lines.is_empty(), "explained where computed");
    assert_eq!(same.breakdown.unexplained, None);

    let other = LiveDetector::new(econ("[[route]]\nfrom = \"DE\"\nto = \"FR\"\nprep = 1.5\n"));
    let kept = other.explain(&p, &stored).unwrap();
    assert!(kept.breakdown.lines.is_empty());
    let why = kept.breakdown.unexplained.clone().unwrap();
    assert!(
        why.contains("its net profit is") && why.contains(&stored.net_profit.to_string()),
        "{why}"
    );
    let mut bare = kept;
    bare.breakdown.unexplained = None;
    assert_eq!(bare, stored, "the row's own figures are shown");

    let reversed = product(vec![snap(Market::DE, 5999), snap(Market::FR, 2999)]);
    let gone = computing.explain(&reversed, &stored).unwrap();
    let why = gone.breakdown.unexplained.unwrap();
    assert!(why.contains("no positive gross margin"), "{why}");
}
