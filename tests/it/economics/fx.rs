//! The GBP rate: the ECB daily file as published, what malformed files produce, conversion in
//! the direction the rate was written, staleness, and one fetch over a loopback socket.

use arbdesk::domain::Currency;
use arbdesk::economics::{FxError, FxRate, FxSource, GbpQuote, fetch_ecb, parse_ecb_daily};
use chrono::NaiveDate;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::d;

fn fixture() -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ecb/eurofxref-daily.xml");
    std::fs::read_to_string(p).unwrap()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[test]
fn the_daily_file_yields_the_gbp_rate_exactly_as_published() {
    let rate = parse_ecb_daily(&fixture()).unwrap();
    assert_eq!(rate.gbp, GbpQuote::GbpPerEur(d("0.8653").into()));
    assert_eq!(rate.date, day("2026-11-24"));
    assert_eq!(rate.source, FxSource::Ecb);
}

#[test]
fn double_quotes_and_a_namespace_prefix_are_read_too() {
    let xml = r#"<e:Cube><e:Cube time="2026-11-23"><e:Cube rate="0.8700" currency="GBP" /></e:Cube></e:Cube>"#;
    let rate = parse_ecb_daily(xml).unwrap();
    assert_eq!(rate.gbp, GbpQuote::GbpPerEur(d("0.87").into()));
    assert_eq!(rate.date, day("2026-11-23"));
}

#[test]
fn malformed_files_give_typed_errors() {
    let good = fixture();
    let cases: Vec<(String, FxError)> = vec![
        (String::new(), FxError::NoDate),
        (
            "<html><body>Service unavailable</body></html>".into(),
            FxError::NoDate,
        ),
        (
            good.replace("2026-11-24", "2026-13-24"),
            FxError::BadDate("2026-13-24".into()),
        ),
        (
            good.replace("'GBP'", "'XXX'"),
            FxError::NoGbp(day("2026-11-24")),
        ),
        (
            good.replace("0.8653", "0,8653"),
            FxError::BadRate("0,8653".into()),
        ),
        (
            good.replace("0.8653", "-0.8653"),
            FxError::BadRate("-0.8653".into()),
        ),
        (good.replace("0.8653", "0"), FxError::BadRate("0".into())),
        (
            "<Cube time='2026-11-24'><Cube currency='GBP' rate='0.8653'".into(),
            FxError::Unterminated { at: 24 },
        ),
        (
            "<Cube currency='GBP' rate='0.8653'/>".into(),
            FxError::NoDate,
        ),
    ];
    for (xml, want) in cases {
        assert_eq!(parse_ecb_daily(&xml), Err(want.clone()), "for {want}");
    }
    // Truncated anywhere, the file never panics the parser.
    for cut in 0..good.len() {
        if good.is_char_boundary(cut) {
            let _ = parse_ecb_daily(&good[..cut]);
        }
    }
}

#[test]
fn gbp_converts_by_dividing_by_the_published_rate() {
    let rate = FxRate::ecb(d("0.8653"), day("2026-11-24"));
    // £86.53 is exactly €100 at 1 EUR = 0.8653 GBP: no rounded 1/x anywhere.
    assert_eq!(rate.to_eur(d("86.53"), Currency::GBP), d("100"));
    assert_eq!(rate.from_eur(d("100"), Currency::GBP), d("86.53"));
    assert_eq!(rate.to_eur(d("86.53"), Currency::EUR), d("86.53"));
    // An override is "EUR per GBP", used as written.
    let manual = FxRate {
        gbp: GbpQuote::EurPerGbp(d("1.15").into()),
        date: day("2026-11-24"),
        source: FxSource::Override,
    };
    assert_eq!(manual.to_eur(d("10"), Currency::GBP), d("11.50"));
    assert_eq!(manual.status(day("2026-11-24"), 4).source, "config");
}

#[test]
fn a_rate_recorded_on_a_row_reads_back_exactly() {
    // Rows record the rate they used so their breakdown can be rebuilt with it later.
    let rates = [
        FxRate::ecb(d("0.8653"), day("2026-06-09")),
        FxRate {
            gbp: GbpQuote::EurPerGbp(d("1.1500").into()),
            date: day("2026-11-24"),
            source: FxSource::Override,
        },
        FxRate {
            gbp: GbpQuote::GbpPerEur(d("0.88").into()),
            date: day("2025-11-21"),
            source: FxSource::Shipped,
        },
    ];
    for rate in rates {
        let record = rate.record();
        assert_eq!(FxRate::from_record(&record), Some(rate.clone()), "{record}");
    }
    assert_eq!(
        FxRate::ecb(d("0.8653"), day("2026-06-09")).record(),
        "ecb 2026-06-09: 1 EUR = 0.8653 GBP"
    );
    for junk in [
        "",
        "ecb",
        "ecb 2026-06-09",
        "ecb 2026-06-09: 1 EUR = x GBP",
        "ecb 2026-13-01: 1 EUR = 0.8653 GBP",
        "bank 2026-06-09: 1 EUR = 0.8653 GBP",
        "ecb 2026-06-09: 1 USD = 0.8653 GBP",
        "ecb 2026-06-09: 1 EUR = 0.8653 USD",
    ] {
        assert_eq!(FxRate::from_record(junk), None, "{junk:?}");
    }
}

#[test]
fn rows_record_the_rate_as_written_whichever_rate_came_before() {
    // 0.8653 and 0.86530 are one number but two records; detection keeps its rate labels
    // per thread, and each row must still carry the record of the rate it was given, as
    // must a row computed after a change of day or rate.
    use arbdesk::domain::Market;
    use arbdesk::economics::Detector;
    let det = Detector::new(super::econ(""));
    let p = super::product(vec![
        super::snap(Market::IT, 4000),
        super::snap(Market::DE, 5990),
    ]);
    let at = super::now();
    let written = ["0.8653", "0.86530", "0.8653", "0.87"];
    for (i, x) in written.into_iter().enumerate() {
        let fx = FxRate::ecb(d(x), day("2026-06-09"));
        let rows = det.detect(&p, &fx, at + chrono::Duration::days(i as i64 / 3));
        assert!(!rows.is_empty());
        for o in rows {
            assert_eq!(
                o.breakdown.fx_rate.as_deref(),
                Some(format!("ecb 2026-06-09: 1 EUR = {x} GBP").as_str())
            );
            assert_eq!(o.breakdown.fx_date.as_deref(), Some("2026-06-09"));
        }
    }
}

#[test]
fn a_rate_older_than_the_limit_is_stale() {
    let rate = FxRate::ecb(d("0.8653"), day("2026-11-20"));
    assert!(!rate.is_stale(day("2026-11-24"), 4));
    assert!(rate.is_stale(day("2026-11-25"), 4));
    let status = rate.status(day("2026-11-25"), 4);
    assert!(status.stale);
    assert_eq!(status.date, "2026-11-20");
    assert_eq!(status.source, "ecb");
    assert!((status.eur_per_gbp - 1.155669).abs() < 1e-6);
}

#[tokio::test]
async fn fetch_reads_the_file_over_http() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = fixture();
    let server = tokio::spawn(async move {
        for status in ["200 OK", "503 Service Unavailable"] {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 2048];
            let _ = sock.read(&mut buf).await.unwrap();
            let reply = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            sock.write_all(reply.as_bytes()).await.unwrap();
        }
    });
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/stats/eurofxref/eurofxref-daily.xml");
    let rate = fetch_ecb(&client, &url).await.unwrap();
    assert_eq!(rate.gbp, GbpQuote::GbpPerEur(d("0.8653").into()));
    let err = fetch_ecb(&client, &url).await.unwrap_err();
    assert!(matches!(err, FxError::Http { .. }), "{err}");
    assert!(err.to_string().contains("503"), "{err}");
    server.await.unwrap();
}

#[test]
fn a_gbp_gap_below_half_a_cent_is_no_route() {
    // £40.00 at 0.8653 GBP per EUR is €46.2267…: selling at €46.23 gains €0.0033, which the
    // row would show as a gross margin of 0.00 — no margin, so no row; €46.24 is one cent.
    use arbdesk::domain::Market;
    use arbdesk::economics::Detector;
    let det = Detector::new(super::econ(""));
    let fx = FxRate::ecb(d("0.8653"), day("2026-06-09"));
    let routes = |sell_cents: i64| {
        let p = super::product(vec![
            super::snap(Market::UK, 4000),
            super::snap(Market::DE, sell_cents),
        ]);
        det.detect(&p, &fx, super::now())
    };
    assert!(routes(4623).is_empty(), "{:?}", routes(4623));
    let rows = routes(4624);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].buy_market, rows[0].sell_market),
        (Market::UK, Market::DE)
    );
    assert_eq!(rows[0].gross_margin.minor, 1);
}

/// What a detector takes back from a recorded rate: only an ECB rate that is plausible,
/// not from the future, not older than the shipped one and newer than the one it has;
/// and nothing when rates are not fetched at all.
#[test]
fn a_recorded_ecb_rate_is_taken_back_only_when_it_is_newer_and_sound() {
    use arbdesk::economics::{Economics, EconomicsConfig, LiveDetector};
    use arbdesk::pipeline::Detect;
    let detector = |toml: &str| {
        let econ = Economics::new(EconomicsConfig::from_toml_str(toml).unwrap()).unwrap();
        LiveDetector::new(std::sync::Arc::new(econ))
    };
    let today = chrono::Utc::now().date_naive();
    let ago = |days: i64| today - chrono::Duration::days(days);
    let record = |date: NaiveDate, rate: &str| format!("ecb {date}: 1 EUR = {rate} GBP");
    let shown = |d: &LiveDetector| {
        let fx = d.fx().unwrap();
        (fx.source, fx.date)
    };

    let d = detector("");
    assert_eq!(shown(&d).0, "default");
    for refused in [
        record(ago(1), "0"),                               // not a rate
        record(ago(1), "250"),                             // implausible
        record(today + chrono::Duration::days(1), "0.85"), // from the future
        "ecb 2020-01-02: 1 EUR = 0.85 GBP".to_string(),    // older than the shipped rate
        format!("config {}: 1 GBP = 1.15 EUR", ago(1)),    // not fetched
        "kept the last rate".to_string(),                  // no rate at all
    ] {
        assert!(!d.restore_fx(&refused), "{refused}");
        assert_eq!(shown(&d).0, "default", "{refused}");
    }
    assert!(d.restore_fx(&record(ago(3), "0.8500")));
    assert_eq!(shown(&d), ("ecb".to_string(), ago(3).to_string()));
    // Newer replaces, the same or older does not.
    assert!(d.restore_fx(&record(ago(1), "0.8600")));
    assert!(!d.restore_fx(&record(ago(1), "0.9000")));
    assert!(!d.restore_fx(&record(ago(2), "0.8550")));
    assert_eq!(d.fx().unwrap().record, record(ago(1), "0.8600"));

    // Rates not fetched (shipped only, or a configured override): nothing is taken.
    for toml in [
        "[fx]\nsource = \"shipped\"\n",
        "[fx]\noverride = { GBP = { eur_per_unit = 1.15, date = \"2026-11-24\" } }\n",
    ] {
        let d = detector(toml);
        let before = shown(&d);
        assert!(!d.restore_fx(&record(ago(1), "0.8600")), "{toml}");
        assert_eq!(shown(&d), before, "{toml}");
    }
}
