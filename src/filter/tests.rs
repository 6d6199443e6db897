//! The `/` filter's grammar, field by field.

use super::*;
use crate::tui::fixtures::row;
use crate::tui::model::Row;

fn headphones() -> Row {
    row(
        "B0D1XD1ZV3",
        "Sony Kopfhörer WH-1000",
        Market::IT,
        Market::DE,
        25.0,
        900,
    )
}

#[test]
fn words_fields_and_negation() {
    let r = headphones();
    let ok = |q: &str| {
        Filter::parse(q)
            .unwrap()
            .matches(&r, crate::tui::fixtures::now())
    };
    assert!(ok("kopfhörer"));
    assert!(ok("\"sony kopf\""));
    assert!(ok("b0d1x"));
    assert!(!ok("!sony"));
    assert!(ok("margin>=25 profit>5"));
    assert!(!ok("profit>10"));
    assert!(ok("route=it>de,es>de"));
    assert!(ok("src=it dst!=uk"));
    assert!(!ok("src=uk"));
    assert!(ok("margin>20%"));
    assert!(ok("flags=fx_stale"));
    // Word boundaries and classes are Unicode's: ö is a word character.
    assert!(ok(r"title~\bkopfhörer\b"));
    assert!(!ok(r"title~\bkopf\b"));
    assert!(ok(r"title~wh-\d+"));
    assert!(ok("!flags~hazmat"));
    // `flags` is a set: `!=` is "has not", as `!flags=` is.
    assert!(!ok("flags!=fx_stale") && ok("flags!=roi") && ok("!flags=roi"));
}

#[test]
fn demand_brand_price_age_and_amazon() {
    let mut r = headphones();
    let now = crate::tui::fixtures::now();
    let ok = |r: &Row, q: &str| Filter::parse(q).unwrap().matches(r, now);
    // Without Keepa's figures no comparison matches, either way.
    assert!(!ok(&r, "bsr<100000") && !ok(&r, "bsr>=100000") && !ok(&r, "sold>0"));
    (r.fig.bsr, r.fig.sold, r.fig.drops30) = (Some(12_000), Some(80), Some(45));
    r.brand = Some("sony".into());
    assert!(ok(&r, "bsr<20000 sold>=50 drops30>40 rank<=12000 drops=45"));
    assert!(!ok(&r, "sold>=100"));
    assert!(ok(&r, "brand=Sony") && ok(&r, "brand~^so") && !ok(&r, "brand!=sony"));
    // The fixture buys at €100.00.
    assert!(ok(&r, "price=100€") && ok(&r, "price<150") && !ok(&r, "price>100"));
    // Computed at `now`: younger than a minute, not older than an hour.
    assert!(ok(&r, "age<1m") && ok(&r, "age<=2h") && !ok(&r, "age>60") && !ok(&r, "age>1d"));
    r.fig.updated_at = now - chrono::Duration::hours(3);
    assert!(ok(&r, "age>2h") && ok(&r, "age<1d") && ok(&r, "age>=180"));
    // `amz` is the AMAZON flag, applied as soon as it is typed.
    assert!(ok(&r, "!amz") && !ok(&r, "amz"));
    assert_eq!(
        (settled("src=de amz"), settled("!amz"), settled("am")),
        ("src=de amz", "!amz", "")
    );
    r.flags = "AMAZON".into();
    assert!(ok(&r, "amz"));
    // `ranked`: passes every gate; applied as soon as it is typed, not while it could
    // still become `rank`.
    r.ranked = true;
    assert!(ok(&r, "ranked") && !ok(&r, "!ranked"));
    r.ranked = false;
    assert!(!ok(&r, "ranked") && ok(&r, "!ranked dst=de"));
    assert_eq!(
        (settled("src=de ranked"), settled("src=de ranke")),
        ("src=de ranked", "src=de ")
    );
    let err = |q: &str| Filter::parse(q).unwrap_err();
    assert_eq!(
        err("bsr<5%"),
        "'bsr<5%': bsr is a plain number, without % or €"
    );
    assert_eq!(
        err("age<soon"),
        "'age<soon': 'soon' is not a duration: write 90s, 30m, 2h or 1d"
    );
}

#[test]
fn a_value_in_the_other_unit_is_refused_with_the_field_that_takes_it() {
    let r = headphones();
    let ok = |q: &str| {
        Filter::parse(q)
            .unwrap()
            .matches(&r, crate::tui::fixtures::now())
    };
    assert!(ok("margin>20%") && ok("profit>5€") && ok("roi>=0%") && ok("emp>-1€"));
    let err = |q: &str| Filter::parse(q).unwrap_err();
    assert_eq!(
        err("gross>19%"),
        "'gross>19%': gross is gross margin in €; for % write margin"
    );
    assert_eq!(
        err("margin>80€"),
        "'margin>80€': margin is gross margin in %; for € write gross"
    );
    assert_eq!(
        err("!net<5€"),
        "'!net<5€': net is net margin in %; for € write profit"
    );
    assert_eq!(err("roi>5€"), "'roi>5€': roi is ROI in %");
    // One unit, once.
    assert!(Filter::parse("roi>=25%%").is_err());
    assert!(Filter::parse("profit>5€€").is_err());
}

#[test]
fn tilde_is_a_regular_expression_in_any_case() {
    let r = headphones();
    let ok = |q: &str| {
        Filter::parse(q)
            .unwrap()
            .matches(&r, crate::tui::fixtures::now())
    };
    assert!(ok("title~^sony"));
    assert!(!ok("title~^kopf"));
    assert!(ok("title~KOPFHÖRER"));
    assert!(ok("title~1000$"));
    assert!(ok("title~(bose|sony)"));
    assert!(ok("asin~^b0d1"));
    assert!(!ok("asin~^B0MC"));
    assert!(ok("flags~stale"));
    let e = Filter::parse("title~(").unwrap_err();
    assert!(
        e.contains("'title~('") && e.contains("not a regular expression"),
        "{e}"
    );
    assert!(Filter::parse("roi~5").unwrap_err().contains("roi takes"));
}

#[test]
fn errors_name_the_term() {
    assert!(Filter::parse("colour=red").unwrap_err().contains("colour"));
    assert!(Filter::parse("roi>lots").unwrap_err().contains("lots"));
    assert!(Filter::parse("src>uk").unwrap_err().contains("src"));
    assert!(Filter::parse("src=xx").unwrap_err().contains("xx"));
    assert!(Filter::parse("\"open").is_err());
    // A field with nothing after its operator would match nothing, silently.
    for q in ["src=", "brand=", "roi>=", "!title="] {
        let e = Filter::parse(q).unwrap_err();
        assert!(e.contains(q) && e.contains("has no value"), "{q}: {e}");
    }
    let e = Filter::parse("kettle ROI!").unwrap_err();
    assert!(
        e.contains("'ROI!' is half a term") && e.contains("roi!="),
        "{e}"
    );
    assert!(Filter::parse("wow!").is_ok(), "a word with ! is a word");
    // Terms that would match nothing, silently, are refused.
    for (q, says) in [
        ("profit>nan", "'nan' is not a number"),
        ("roi>1e400", "'1e400' is not a number"),
        ("age<infm", "not a duration"),
        ("flags=nope", "no flag 'nope'; flags are"),
        (
            "flags=prfit",
            "no flag 'prfit' (did you mean profit?); flags are",
        ),
        // A mistyped field name is not a word to search for.
        ("net_profit>5", "unknown field 'net_profit'"),
        ("!sales-rank<100", "unknown field 'sales-rank'"),
        // Compared with a number: what each number field means.
        (
            "netmargin>15",
            "unknown field 'netmargin'; the number fields are profit = net profit €, net = net margin %",
        ),
        (
            "!!roi>10",
            "a second would undo it: write roi>10 or !roi>10",
        ),
    ] {
        let e = Filter::parse(q).unwrap_err();
        assert!(e.contains(says), "{q}: {e}");
    }
    assert!(Filter::parse("flags=FX_STALE !flag=roi flags~stal").is_ok());
    let e = Filter::parse("roi >= 25").unwrap_err();
    assert!(
        e.contains("'>=' stands alone") && e.contains("without spaces"),
        "{e}"
    );
}

#[test]
fn a_word_on_its_way_to_a_field_name_waits() {
    assert_eq!(settled("r"), "");
    assert_eq!(settled("kettle ro"), "kettle ");
    assert_eq!(settled("kettle !Fla"), "kettle ");
    assert_eq!(settled("kettle !"), "kettle ");
    assert_eq!(settled("kettle roi!"), "kettle ");
    assert_eq!(settled("ROI"), "");
    assert_eq!(settled("kettle wow!"), "kettle wow!");
    assert_eq!(settled("roi"), "");
    // A word no field begins with, a finished word, a term: all apply.
    assert_eq!(settled("kettle row"), "kettle row");
    assert_eq!(settled("roi "), "roi ");
    assert_eq!(settled("roi>5"), "roi>5");
    assert_eq!(settled("\"net"), "\"net");
    assert_eq!(settled(""), "");
    assert_eq!(settled("kopfhörer\u{3000}ne"), "kopfhörer\u{3000}");
}

#[test]
fn the_first_plain_word_goes_to_the_store() {
    let f = Filter::parse("roi>5 !cable sony tv").unwrap();
    assert_eq!(f.store_text().as_deref(), Some("sony"));
    assert_eq!(Filter::parse("roi>5").unwrap().store_text(), None);
}
